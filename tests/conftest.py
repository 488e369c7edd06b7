"""Shared fixtures of the test suite: spaces, the real NAS-Bench-101 rows, seeded generators, the
synthetic table the search tests evaluate on; and the skip rule (``skip_policy``): a skip whose
reason does not name an optional extra is a failure."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import numpy as np
import pytest

import nb101_data
import reference as ref
from nasfast import CellBatch, SearchSpace

pytest_plugins = ("pytester", "skip_policy")

if TYPE_CHECKING:
    from test_search import Table


@pytest.fixture(scope="session")
def nb101() -> SearchSpace:
    """The NAS-Bench-101 space."""
    return SearchSpace.nb101()


@pytest.fixture(scope="session")
def small_space() -> SearchSpace:
    """A space small enough for brute force: 5 vertices, 6 edges, 2 ops."""
    return SearchSpace(5, 6, ["a", "b"])


@pytest.fixture(scope="session")
def big_space() -> SearchSpace:
    """A space far too large to enumerate: 12 vertices, 16 edges, 5 ops."""
    return SearchSpace(12, 16, ["a", "b", "c", "d", "e"])


@pytest.fixture(scope="session")
def space5() -> SearchSpace:
    """5 vertices, 9 edges, 2 ops: 779 unique cells (the search tests' space)."""
    return SearchSpace(5, 9, ["a", "b"])


@pytest.fixture(scope="session")
def table(space5: SearchSpace) -> Table:
    """The synthetic table over every cell of ``space5`` (read-only)."""
    from test_search import Table

    return Table(space5)


@pytest.fixture(scope="session")
def nb101_cells(nb101: SearchSpace) -> CellBatch:
    """Every unique NAS-Bench-101 cell (the enumeration, computed once)."""
    return nb101.enumerate()


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh seeded generator per test."""
    return np.random.default_rng(20261129)


@pytest.fixture(scope="session")
def real20k_rows() -> list[dict[str, str]]:
    """The 20,001 rows of ``nb101_real20k.csv`` (from ``tests/data``; read-only by convention)."""
    return nb101_data.real20k_rows()


@pytest.fixture(scope="session")
def make_batch() -> Callable[[list[ref.Cell], SearchSpace], CellBatch]:
    """Builds a batch from reference cells (row i is cell i)."""

    def make(cells: list[ref.Cell], space: SearchSpace) -> CellBatch:
        adj, ops = ref.to_arrays(cells, space.max_vertices)
        return CellBatch.from_arrays(adj, ops, space)

    return make


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Prints the cases the robustness campaign tried, per area."""
    import sys

    campaign = sys.modules.get("campaign")
    counts = getattr(campaign, "COUNTS", None)
    if counts:
        terminalreporter.section("robustness campaign: cases tried per area")
        for area, count in sorted(counts.items()):
            terminalreporter.write_line(f"{area:32s} {count:8d}")
        terminalreporter.write_line(f"{'total':32s} {sum(counts.values()):8d}")
