"""pytest plugin: a skip is a failure unless its reason names an optional extra of nasfast.

A skipped test proves nothing, so the suite allows one kind of skip only: a test of an optional
feature whose dependencies are not installed, and the reason must say which extra installs them,
as ``pip install 'nasfast[dask]'`` (the extras are those of the installed package's metadata,
except ``test``, which the suite itself needs). Missing data, a missing part of the package, a
tool that could not run or a timeout are failures. Skips at collection time (a module-level
``pytest.skip`` or ``importorskip``) are held to the same rule; expected failures (``xfail``)
are not skips.

The docstring examples (``scripts/test.sh`` runs them with ``-p skip_policy``) are held to it
too: an example marked ``# doctest: +SKIP`` is a failure, since a skipped example proves
nothing; an example that cannot run here (a download, a long study) is shown as plain text.

Loaded by ``tests/conftest.py`` and ``benches/conftest.py`` (``pytest_plugins``).
"""

from __future__ import annotations

import doctest
import functools
import re
from collections.abc import Generator
from importlib import metadata
from typing import Any, Union

import pytest

_EXTRA = re.compile(r"nasfast\[([A-Za-z0-9_.-]+)\]")


@functools.cache
def optional_extras() -> frozenset[str]:
    """The extras a skip may name: nasfast's ``Provides-Extra`` without ``test``."""
    extras = metadata.metadata("nasfast").get_all("Provides-Extra") or []
    return frozenset(e for e in extras if e != "test")


def names_optional_extra(reason: str) -> bool:
    """Whether ``reason`` names an optional extra as ``nasfast[<extra>]``."""
    return any(extra in optional_extras() for extra in _EXTRA.findall(reason))


def _reason(report: Union[pytest.TestReport, pytest.CollectReport]) -> str:
    longrepr: Any = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


def enforce(report: Union[pytest.TestReport, pytest.CollectReport]) -> None:
    """Turns ``report`` into a failure if it is a skip whose reason names no optional extra."""
    if not report.skipped or hasattr(report, "wasxfail"):
        return
    reason = _reason(report)
    if not names_optional_extra(reason):
        report.outcome = "failed"
        report.longrepr = (
            "skipped without naming an optional extra, which counts as a failure (a skip may only "
            f"say which extra installs what it needs, e.g. pip install 'nasfast[dask]'): {reason}"
        )


# Old-style wrappers (``outcome.get_result()``) work with every pytest the test extra allows.
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    enforce(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None, Any, None]:
    outcome = yield
    enforce(outcome.get_result())


def skipped_examples(item: pytest.Item) -> list[int]:
    """Line numbers (1-based, in the file) of the examples of a doctest item marked ``+SKIP``."""
    test = getattr(item, "dtest", None)
    if not isinstance(test, doctest.DocTest):
        return []
    return [(test.lineno or 0) + ex.lineno + 1 for ex in test.examples if ex.options.get(doctest.SKIP)]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    lines = skipped_examples(item)
    if lines:
        pytest.fail(
            f"{item.name}: the example(s) at line(s) {lines} of {item.path} are marked '# doctest: +SKIP', which counts "
            "as a failure: make them run (a temporary file, a small input) or show them as plain text",
            pytrace=False,
        )
