"""Pinned histories: for fixed seeds, every searcher and candidate set asks exactly the cells it
asked before the search loop was reorganised around its public plug-in API.

``search_histories_pinned.json`` was recorded with the code of that time (the fingerprints of the
evaluated cells, in order, with their candidate-set sizes, ask rounds and failures), by running
this module as a script (``python tests/test_search_pinned.py --record``). A refactor of the
search must leave every history unchanged; re-record only for an intended change of behaviour,
and say so. The cases cover every searcher, every candidate set, every acquisition, the
uncertainty kinds of the search's own code (core forest, scikit-learn forest, bootstrap
ensemble), batches, universes, failed evaluations and a space too large to enumerate.
"""

from __future__ import annotations

import json
import sys
import zlib
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
from sklearn.ensemble import RandomForestRegressor

from nasfast import CellBatch, SearchSpace
from nasfast.search import (
    BenchmarkEvaluator,
    Evolution,
    ForestRegressor,
    LocalSearch,
    Neighbourhood,
    PredictorSearch,
    RandomSearch,
    RandomSubset,
    RegularizedEvolution,
    Union,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_search import Table

PINNED = Path(__file__).resolve().parent / "search_histories_pinned.json"


def _forest() -> ForestRegressor:
    return ForestRegressor(n_estimators=20, min_samples_leaf=2)


def _pinned(space: SearchSpace, *args: Any, **kwargs: Any) -> PredictorSearch:
    """``PredictorSearch`` with the defaults it had when these histories were recorded (expected
    improvement; the path encoding when a space has at most 4,096 path features, else the
    adjacency encoding), so that a change of the defaults does not change these pins;
    ``pred-default`` alone follows the defaults (re-recorded when they changed)."""
    kwargs.setdefault("acquisition", "ei")
    if len(args) < 2 and "encoding" not in kwargs:
        kwargs["encoding"] = "path" if space.encoding_dim("path") <= 4096 else "adjacency"
    return PredictorSearch(space, *args, **kwargs)


class _SomeFail:
    """The synthetic table, except that every cell whose fingerprint's CRC-32 is 0 modulo 4 has
    no value (NaN: a failed evaluation)."""

    def __init__(self, table: Table) -> None:
        self.inner = BenchmarkEvaluator(table)

    def __call__(self, cells: CellBatch) -> Any:
        values, costs = self.inner(cells)
        fails = [zlib.crc32(int(f).to_bytes(8, "little")) % 4 == 0 for f in cells.fingerprints()]
        return np.where(fails, np.nan, values), costs


def _big_objective(cells: CellBatch) -> Any:
    return cells.encode("path-trunc").sum(axis=1) / 10.0


#: name -> (space key, searcher factory(space, universe), budget)
Case = tuple[str, Callable[[SearchSpace, Any], Any], int]
CASES: dict[str, Case] = {
    "random-uniform": ("space5", lambda sp, u: RandomSearch(sp, random_state=1), 25),
    "random-rejection-batch2": ("space5", lambda sp, u: RandomSearch(sp, method="rejection", batch_size=2, random_state=2), 25),
    "random-universe": ("space5", lambda sp, u: RandomSearch(sp, universe=u, random_state=3), 25),
    "evolution-batch2": ("space5", lambda sp, u: RegularizedEvolution(sp, population=10, sample_size=3, batch_size=2, random_state=4), 40),
    "evolution-no-dedupe": ("space5", lambda sp, u: RegularizedEvolution(sp, population=8, sample_size=4, dedupe=False, random_state=5), 40),
    "evolution-rejection-init-universe": (
        "space5",
        lambda sp, u: RegularizedEvolution(sp, population=8, sample_size=3, init_method="rejection", universe=u, random_state=6),
        30,
    ),
    "local": ("space5", lambda sp, u: LocalSearch(sp, random_state=7), 60),
    "local-batch3-universe": ("space5", lambda sp, u: LocalSearch(sp, batch_size=3, universe=u, random_state=8), 40),
    "pred-default": ("space5", lambda sp, u: PredictorSearch(sp, n_initial=5, random_state=9), 25),
    "pred-full-greedy-batch3": (
        "space5", lambda sp, u: _pinned(sp, _forest(), acquisition="greedy", n_initial=5, batch_size=3, random_state=10), 30
    ),
    "pred-full-ucb": ("space5", lambda sp, u: _pinned(sp, _forest(), acquisition="ucb", n_initial=5, random_state=11), 25),
    "pred-full-thompson-batch2": (
        "space5", lambda sp, u: _pinned(sp, _forest(), acquisition="thompson", n_initial=5, batch_size=2, random_state=12), 25
    ),
    "pred-full-universe": ("space5", lambda sp, u: _pinned(sp, _forest(), n_initial=5, universe=u, random_state=13), 25),
    "pred-full-adjacency": ("space5", lambda sp, u: _pinned(sp, _forest(), "adjacency", n_initial=5, random_state=14), 25),
    "pred-full-path-count": ("space5", lambda sp, u: _pinned(sp, _forest(), "path-count", n_initial=5, random_state=15), 25),
    "pred-full-failures": ("space5", lambda sp, u: _pinned(sp, _forest(), n_initial=5, random_state=16), 30),
    "pred-sklearn-forest-nbhd": (
        "space5",
        lambda sp, u: _pinned(
            sp, RandomForestRegressor(n_estimators=10, min_samples_leaf=2), candidates=Neighbourhood(top_k=3), n_initial=5,
            batch_size=2, random_state=17,
        ),
        25,
    ),
    "pred-ensemble-subset": (
        "space5",
        lambda sp, u: _pinned(sp, ForestRegressor(5), candidates=RandomSubset(60), n_initial=5, n_ensemble=3, random_state=18),
        25,
    ),
    "pred-subset-refresh-universe": (
        "space5",
        lambda sp, u: _pinned(sp, _forest(), candidates=RandomSubset(40, refresh=True), n_initial=5, universe=u, random_state=19),
        25,
    ),
    "pred-nbhd-radius2": (
        "space5", lambda sp, u: _pinned(sp, _forest(), candidates=Neighbourhood(radius=2, top_k=2), n_initial=5, random_state=20), 25
    ),
    "pred-evolution-thompson": (
        "space5",
        lambda sp, u: _pinned(sp, _forest(), acquisition="thompson", candidates=Evolution(40, 4, "bananas"), n_initial=5,
                                      random_state=21),
        25,
    ),
    "pred-union-batch2": (
        "space5",
        lambda sp, u: _pinned(
            sp, _forest(), candidates=Union(Neighbourhood(top_k=3), RandomSubset(30, refresh=True)), n_initial=5, batch_size=2,
            random_state=22,
        ),
        25,
    ),
    "pred-union-universe": (
        "space5",
        lambda sp, u: _pinned(sp, _forest(), candidates=Union(Evolution(30, 3), Neighbourhood(top_k=2)), n_initial=5,
                                      universe=u, random_state=23),
        25,
    ),
    "big-random": ("big", lambda sp, u: RandomSearch(sp, random_state=24), 8),
    "big-evolution": ("big", lambda sp, u: RegularizedEvolution(sp, population=4, sample_size=2, random_state=25), 8),
    "big-pred-nbhd": ("big", lambda sp, u: _pinned(sp, _forest(), candidates=Neighbourhood(top_k=2), n_initial=4, random_state=26), 8),
    "big-pred-subset": (
        "big", lambda sp, u: _pinned(sp, _forest(), "path-trunc", candidates=RandomSubset(200), n_initial=4, random_state=27), 8
    ),
}


def _spaces() -> dict[str, SearchSpace]:
    return {"space5": SearchSpace(5, 9, ["a", "b"]), "big": SearchSpace(12, 16, ["a", "b", "c", "d", "e"])}


def _history(name: str, spaces: dict[str, SearchSpace], table: Table) -> dict[str, Any]:
    key, make, budget = CASES[name]
    space = spaces[key]
    universe = table.cells[np.arange(100, 700, 2)] if key == "space5" else None
    if key == "big":
        evaluator: Any = _big_objective
    elif name == "pred-full-failures":
        evaluator = _SomeFail(table)
    else:
        evaluator = BenchmarkEvaluator(table)
    h = make(space, universe).run(evaluator, budget).history_
    return {
        "fingerprints": [format(int(f), "x") for f in h.cells.fingerprints()],
        "candidate_set_size": [int(x) for x in h.candidate_set_size],
        "iteration": [int(x) for x in h.iteration],
        "failed": [i for i, e in enumerate(h.errors) if e is not None],
    }


@pytest.fixture(scope="module")
def pinned() -> dict[str, Any]:
    return json.loads(PINNED.read_text())  # type: ignore[no-any-return]


def test_every_case_is_pinned(pinned: dict[str, Any]) -> None:
    assert sorted(pinned) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_history_is_the_pinned_one(name: str, pinned: dict[str, Any], space5: SearchSpace, big_space: SearchSpace, table: Table) -> None:
    got = _history(name, {"space5": space5, "big": big_space}, table)
    want = pinned[name]
    for field in ("fingerprints", "candidate_set_size", "iteration", "failed"):
        diverged = next((i for i, (a, b) in enumerate(zip(got[field], want[field])) if a != b), None)
        assert got[field] == want[field], f"{name}: {field} differs from the pinned history (first at entry {diverged})"
    if name == "pred-full-failures":
        assert want["failed"], "the failing evaluator must fail on some cells"


def _record() -> None:
    spaces = _spaces()
    table = Table(spaces["space5"])
    out = {name: _history(name, spaces, table) for name in sorted(CASES)}
    PINNED.write_text(json.dumps(out, indent=0, sort_keys=True) + "\n")
    print(f"recorded {len(out)} histories in {PINNED}")


if __name__ == "__main__":
    if sys.argv[1:] != ["--record"]:
        sys.exit("usage: python tests/test_search_pinned.py --record  (re-records the pinned histories)")
    _record()
