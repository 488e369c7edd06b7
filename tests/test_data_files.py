"""The test data in ``tests/data`` and the suite's skip rule.

The real NAS-Bench-101 files ship compressed with the tests, so nothing skips for want of data;
the skip rule (``skip_policy``) turns any other skip into a failure. Both are checked here.
"""

from __future__ import annotations

import pytest

import nb101_data

REAL20K_COLUMNS = [
    "hash", "num_vertices", "ops", "adjacency", "val_acc_4", "val_acc_12", "val_acc_36", "val_acc_108",
    "train_time_108_s", "params", "spec_source",
]


def test_data_files_are_the_published_extract() -> None:
    assert nb101_data.check_digests() == nb101_data.SHA256
    rows = nb101_data.real20k_rows()
    assert len(rows) == 20001 and list(rows[0]) == REAL20K_COLUMNS
    assert rows[0]["hash"] == "00005c142e6f48ac74fdcf73e3439874"
    records = nb101_data.dummy30()
    assert len(records) == 30 and all(len(r["runs_108"]) == 3 for r in records.values())


SKIPS = '''
import pytest

def test_passes():
    pass

def test_bare_skip():
    pytest.skip("data folder absent")

def test_skip_naming_an_extra():
    pytest.skip("Dask is an optional extra: pip install 'nasfast[dask]'")

def test_skip_naming_the_test_extra():
    pytest.skip("mypy is missing: pip install 'nasfast[test]'")

def test_skip_naming_an_unknown_extra():
    pytest.skip("pip install 'nasfast[everything]'")

@pytest.mark.skip(reason="later")
def test_skip_marker():
    pass

@pytest.mark.skipif(True, reason="never on this machine")
def test_skipif_marker():
    pass

def test_importorskip():
    pytest.importorskip("nasfast_no_such_module")

@pytest.mark.xfail(reason="a known bug", strict=True)
def test_expected_failure():
    assert False
'''


@pytest.fixture
def pytester(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """``pytester`` without the installed plugins (hypothesis, benchmark...): faster, same rule."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    return pytester


def test_skip_rule_fails_every_skip_that_names_no_optional_extra(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("pytest_plugins = ('skip_policy',)")
    pytester.makepyfile(test_skips=SKIPS)
    result = pytester.runpytest("-p", "no:cacheprovider", "-rfs")
    # skip markers act in the setup phase, so pytest reports those two as errors
    result.assert_outcomes(passed=1, skipped=1, failed=4, errors=2, xfailed=1)
    result.stdout.fnmatch_lines(["*test_bare_skip*", "skipped without naming an optional extra*: Skipped: data folder absent"])
    assert "nasfast_no_such_module" in result.stdout.str()
    assert result.ret != 0


def test_skip_rule_fails_a_module_skipped_at_collection(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("pytest_plugins = ('skip_policy',)")
    pytester.makepyfile(
        test_module_skip="import pytest\npytest.skip('no data here', allow_module_level=True)\n",
        test_optional="import pytest\npytest.importorskip('nasfast_no_such_module', reason=\"pip install 'nasfast[dask]'\")\n",
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1, skipped=1)
    assert "no data here" in result.stdout.str() and result.ret != 0


def test_without_the_rule_the_same_file_passes(pytester: pytest.Pytester) -> None:
    """The control: plain pytest reports these skips as skips and exits 0."""
    pytester.makepyfile(test_skips=SKIPS)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=7, xfailed=1)
    assert result.ret == 0


DOCTESTS = '''
def runs():
    """
    >>> 1 + 1
    2
    """


def skips_one():
    """
    >>> 1 + 1
    2
    >>> open("a download").read()  # doctest: +SKIP
    """


def skips_all():
    """
    >>> open("a download").read()  # doctest: +SKIP
    """


def plain_text():
    """Not run::

        open("a download").read()
    """
'''


def test_skip_rule_fails_a_doctest_example_marked_skip(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(examples=DOCTESTS)
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "skip_policy", "--doctest-modules", "examples.py")
    # the two doctests with +SKIP fail in setup, wholly or partly skipped; the example shown as
    # plain text is no doctest
    result.assert_outcomes(passed=1, errors=2)
    out = result.stdout.str()
    assert "examples.skips_one: the example(s) at line(s) [12] of " in out
    assert "examples.skips_all: the example(s) at line(s) [18] of " in out
    assert result.ret != 0
    # the control: without the rule the partly skipped doctest passes, the other is a mere skip
    plain = pytester.runpytest("-p", "no:cacheprovider", "--doctest-modules", "examples.py")
    plain.assert_outcomes(passed=2, skipped=1)
