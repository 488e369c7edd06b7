"""Shared set-up of the nasfast benchmarks.

Run with ``pytest benches/ --benchmark-only --benchmark-json=bench.json`` and turn the JSON into
the README table with ``python benches/report.py bench.json``. The suite refuses to run unless
the compiled core is a release build. The benches read the real NAS-Bench-101 data from
``tests/data`` (through ``tests/nb101_data.py``) and follow the test suite's skip rule
(``tests/skip_policy.py``): a skip that names no optional extra is a failure.
"""

from __future__ import annotations

import fnmatch
import sys
from pathlib import Path
from typing import Optional

import pytest

from nasfast import SearchSpace

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

pytest_plugins = ("skip_policy",)


def pytest_configure(config: pytest.Config) -> None:
    """Stops the run unless ``nasfast._core`` is importable and built in release mode."""
    try:
        from nasfast import _core
    except ImportError as exc:
        pytest.exit(f"the benchmarks need the compiled module nasfast._core: {exc}", returncode=4)
    profile = getattr(_core, "BUILD_PROFILE", None)
    if profile is not None and profile != "release":
        pytest.exit(
            f"the benchmarks need a release build of nasfast._core, found BUILD_PROFILE={profile!r}; "
            "rebuild with `maturin develop --release`",
            returncode=4,
        )


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> Optional[pytest.Module]:
    """Collects ``bench_*.py`` files unless pytest already does (named on the command line, or
    matched by ``python_files``)."""
    if file_path.suffix != ".py" or not file_path.name.startswith("bench_"):
        return None
    if parent.session.isinitpath(file_path):
        return None
    if any(fnmatch.fnmatch(file_path.name, pattern) for pattern in parent.config.getini("python_files")):
        return None
    return pytest.Module.from_parent(parent, path=file_path)



@pytest.fixture(scope="module")
def space() -> SearchSpace:
    """The NAS-Bench-101 space, already enumerated (its enumeration cache is warm)."""
    nb101 = SearchSpace.nb101()
    nb101.enumerate()
    return nb101
