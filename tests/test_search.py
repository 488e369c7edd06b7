"""Tests of the search layer: searchers, candidate sets, acquisitions, universes,
determinism, failures and bad configurations."""

from __future__ import annotations

import json
import math
from typing import Any, Callable, Optional

import numpy as np
import numpy.typing as npt
import pytest
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor
from sklearn.gaussian_process import GaussianProcessRegressor

import reference as ref
from nasfast import CellBatch, SearchSpace, SpaceTooLargeError
from nasfast.search import (
    BenchmarkEvaluator,
    Combined,
    EvaluationError,
    Evolution,
    ForestRegressor,
    FullSpace,
    History,
    LocalSearch,
    Neighbourhood,
    PredictorSearch,
    RandomSearch,
    RandomSubset,
    RegularizedEvolution,
    Union,
    default_predictor,
)

#: the encoding PredictorSearch documents as its default (README, "How the defaults were chosen")
DEFAULT_ENCODING = "adjacency+path"  # "adjacency" in spaces with more than 4,096 path features

# ---------------------------------------------------------------------------------- helpers


class Table:
    """A minimal tabular benchmark (the ``TabularBenchmark`` contract) over every cell of a
    small space, with synthetic values: a fixed random linear function of the path counts,
    rescaled to [0, 1], and costs 10 * vertices. Lookups use pure-Python isomorphism keys."""

    def __init__(self, space: SearchSpace, seed: int = 0, counts: bool = True) -> None:
        self.name = f"synthetic-{seed}"
        self.space = space
        self.cells = space.enumerate()
        cells = ref.batch_cells(self.cells)
        X = np.array([ref.path_encoding(c, space.max_vertices, space.num_ops, counts=counts) for c in cells])
        w = np.random.default_rng(seed).normal(size=X.shape[1])
        v = X @ w
        v = (v - v.min()) / (v.max() - v.min())
        self.metrics = ["acc", "cost"]
        self.default_metric = "acc"
        self.cost_metric = "cost"
        self._values = {"acc": v, "cost": 10.0 * np.array([len(c[1]) for c in cells], dtype=np.float64)}
        self._index = {ref.iso_key(*c): i for i, c in enumerate(cells)}

    def __len__(self) -> int:
        return len(self.cells)

    def values(self, metric: Optional[str] = None) -> npt.NDArray[np.float64]:
        return self._values[metric or self.default_metric]

    def keys(self, cells: CellBatch) -> list[bytes]:
        return [ref.iso_key(*c) for c in ref.batch_cells(cells)]

    def query(self, cells: CellBatch, metric: Optional[str] = None, missing: str = "raise") -> npt.NDArray[np.float64]:
        pos = [self._index[k] for k in self.keys(cells)]
        return self.values(metric)[pos]

    def cost(self, cells: CellBatch) -> npt.NDArray[np.float64]:
        return self.query(cells, "cost")

    def optimum_key(self) -> bytes:
        return ref.iso_key(*ref.batch_cells(self.cells)[int(np.argmax(self.values()))])


def hist_keys(h: History) -> list[bytes]:
    return [ref.iso_key(*c) for c in ref.batch_cells(h.cells)]


def small_rf() -> RandomForestRegressor:
    return RandomForestRegressor(n_estimators=20, min_samples_leaf=2, max_features=0.5)


SEARCHERS: dict[str, Callable[..., Any]] = {
    "random-uniform": lambda sp, **kw: RandomSearch(sp, **kw),
    "random-rejection": lambda sp, **kw: RandomSearch(sp, method="rejection", **kw),
    "evolution": lambda sp, **kw: RegularizedEvolution(sp, population=10, sample_size=3, **kw),
    "local": lambda sp, **kw: LocalSearch(sp, **kw),
    "pred-full": lambda sp, **kw: PredictorSearch(sp, predictor=small_rf(), n_initial=5, **kw),
    "pred-default": lambda sp, **kw: PredictorSearch(sp, n_initial=5, **kw),
    "pred-subset": lambda sp, **kw: PredictorSearch(sp, predictor=small_rf(), candidates=RandomSubset(60), n_initial=5, **kw),
    "pred-subset-refresh": lambda sp, **kw: PredictorSearch(
        sp, predictor=small_rf(), candidates=RandomSubset(60, refresh=True), n_initial=5, **kw
    ),
    "pred-nbhd": lambda sp, **kw: PredictorSearch(sp, predictor=small_rf(), candidates=Neighbourhood(), n_initial=5, **kw),
    "pred-evo": lambda sp, **kw: PredictorSearch(sp, predictor=small_rf(), candidates=Evolution(50, 5), n_initial=5, **kw),
    "pred-union": lambda sp, **kw: PredictorSearch(
        sp, predictor=small_rf(), candidates=Union(Neighbourhood(top_k=3), RandomSubset(30, refresh=True)), n_initial=5, **kw
    ),
}


# ---------------------------------------------------------------------------------- basic behaviour


@pytest.mark.parametrize("name", sorted(SEARCHERS))
def test_never_asks_an_evaluated_cell_and_records_everything(name: str, space5: SearchSpace, table: Table) -> None:
    s = SEARCHERS[name](space5, random_state=3, batch_size=2)
    s.run(BenchmarkEvaluator(table), 40)
    h = s.history_
    keys = hist_keys(h)
    assert len(h) == s.n_evaluated_ == 40
    assert len(set(keys)) == 40, "an isomorphic duplicate was evaluated"
    expected = table.query(h.cells)
    np.testing.assert_array_equal(h.values, expected)
    np.testing.assert_array_equal(h.costs, table.cost(h.cells))
    best = int(np.argmax(expected))
    assert s.best_value_ == expected[best]
    assert ref.iso_key(*ref.spec_cell(s.best_cell_)) == keys[best]
    for arr in (h.values, h.costs, h.iteration, h.wall_time, h.candidate_set_size, h.errors):
        assert len(arr) == 40
    assert np.all(np.diff(h.wall_time) >= 0)
    assert all(e is None for e in h.errors)


def test_ask_tell_by_hand(space5: SearchSpace, table: Table) -> None:
    s = PredictorSearch(space5, predictor=small_rf(), n_initial=4, random_state=0)
    asked_keys: set[bytes] = set()
    for _ in range(8):
        cells = s.ask(3)
        assert len(cells) == 3
        keys = set(table.keys(cells))
        assert len(keys) == 3 and not keys & asked_keys
        asked_keys |= keys
        s.tell(cells, table.query(cells))
    assert s.n_evaluated_ == 24
    assert list(s.history_.iteration) == [i // 3 for i in range(24)]
    # a pending cell (asked, not told) is never asked again
    pending = s.ask(2)
    later = s.ask(5)
    assert not set(table.keys(pending)) & set(table.keys(later))


def test_full_space_candidate_set_sizes(space5: SearchSpace, table: Table) -> None:
    s = PredictorSearch(space5, predictor=small_rf(), n_initial=6, random_state=1).run(BenchmarkEvaluator(table), 25)
    h = s.history_
    # FullSpace scores every cell not asked yet: M - i for the i-th cell (batch_size 1)
    np.testing.assert_array_equal(h.candidate_set_size[6:], len(table) - np.arange(6, 25))
    assert np.all(h.candidate_set_size[:6] == 0)
    assert list(h.iteration) == list(range(25))


def test_neighbourhood_picks_are_neighbours_of_the_best(space5: SearchSpace, table: Table) -> None:
    top_k = 3
    s = PredictorSearch(space5, predictor=small_rf(), candidates=Neighbourhood(top_k=top_k), n_initial=5, random_state=2)
    s.run(BenchmarkEvaluator(table), 30)
    h = s.history_
    all_cells = ref.batch_cells(h.cells)
    checked = 0
    for i in range(5, 30):
        if h.candidate_set_size[i] == 0:
            continue  # random fall-back
        prior = np.argsort(-h.values[:i], kind="stable")[:top_k]
        nbrs = set()
        for j in prior:
            for c in ref.single_edits(all_cells[j], 5, 9, 2):
                nbrs.add(ref.iso_key(*c))
        assert ref.iso_key(*all_cells[i]) in nbrs
        checked += 1
    assert checked >= 20


def test_random_subset_fixed_is_drawn_once(space5: SearchSpace, table: Table) -> None:
    s = PredictorSearch(space5, predictor=small_rf(), candidates=RandomSubset(50), n_initial=5, random_state=4)
    s.run(BenchmarkEvaluator(table), 30)
    sizes = s.history_.candidate_set_size[5:]
    assert sizes.max() <= 50 and np.all(np.diff(sizes) <= 0)
    # each model pick comes from the subset, so the size drops by one per pick (or more when a
    # random initial cell was also in it)
    assert np.all(np.diff(sizes) <= -1)


@pytest.mark.parametrize("acquisition", ["greedy", "ucb", "ei", "thompson"])
@pytest.mark.parametrize("predictor", ["forest", "core-forest", "gp", "boosting"])
# a Gaussian process fitted on a handful of cells may run its length scale into a bound
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_every_acquisition_and_uncertainty(acquisition: str, predictor: str, space5: SearchSpace, table: Table) -> None:
    model = {
        "forest": small_rf(),
        "core-forest": ForestRegressor(n_estimators=10, min_samples_leaf=2),
        "gp": GaussianProcessRegressor(),
        "boosting": GradientBoostingRegressor(n_estimators=10),
    }[predictor]
    s = PredictorSearch(space5, predictor=model, acquisition=acquisition, n_initial=5, batch_size=3, random_state=5)
    s.run(BenchmarkEvaluator(table), 20)
    keys = hist_keys(s.history_)
    assert len(set(keys)) == 20
    assert np.all(s.history_.candidate_set_size[5:] > 0)
    assert model.get_params() == type(model)(**model.get_params()).get_params()  # not mutated
    assert not hasattr(model, "estimators_") and not hasattr(model, "X_train_") and not hasattr(model, "forest_")


def test_batch_rule_avoids_identical_features(space5: SearchSpace, table: Table) -> None:
    s = PredictorSearch(space5, predictor=small_rf(), encoding="path", acquisition="greedy", n_initial=8, random_state=0)
    s.run(BenchmarkEvaluator(table), 8)
    batch = s.ask(6)
    feats = [ref.path_encoding(c, 5, 2) for c in ref.batch_cells(batch)]
    for i in range(len(feats)):
        for j in range(i):
            assert np.abs(feats[i] - feats[j]).sum() >= 1


def random_search_hitting_times(M: int, m: int, size: int, rng: np.random.Generator) -> npt.NDArray[np.int64]:
    """Exact draws of the hitting time of uniform sampling without replacement over M cells of
    which m are targets: P(H > k) = prod_{i<m} (M - k - i) / (M - i)."""
    k = np.arange(0, M + 1)
    survival = np.ones(M + 1)
    for i in range(m):
        survival *= np.clip(M - k - i, 0, None) / (M - i)
    cdf = 1.0 - survival
    return np.searchsorted(cdf, rng.random(size), side="right").astype(np.int64)


def test_predictor_beats_random_search_statistically(space5: SearchSpace) -> None:
    """Expected running time (COCO: samples of all runs / successful runs, budget cap 150) to
    evaluate an optimal cell, over 10 fixed seeds, against the exact distribution of random
    search without replacement; the predictor must need less than half of E[N_RS] = (M+1)/(m+1)
    and random search must reach the predictor's ERT with probability below 1e-3."""
    table = Table(space5, counts=False)  # values: a linear function of the path-encoding bits
    v = table.values()
    cells = ref.batch_cells(table.cells)
    targets = {ref.iso_key(*cells[i]) for i in np.flatnonzero(v == v.max())}
    M, m, cap, runs = len(table), len(targets), 150, 10
    spent, successes = 0, 0
    for seed in range(runs):
        s = PredictorSearch(space5, predictor=small_rf(), n_initial=10, random_state=seed)
        s.run(BenchmarkEvaluator(table), cap, stop=lambda h: ref.iso_key(*ref.batch_cells(h.cells[-1:])[0]) in targets)
        keys = hist_keys(s.history_)
        hit = [i + 1 for i, k in enumerate(keys) if k in targets]
        spent += hit[0] if hit else cap
        successes += bool(hit)
    assert successes >= 5
    ert = spent / successes
    expected_rs = (M + 1) / (m + 1)
    assert ert < expected_rs / 2, f"ERT {ert:.1f} vs random search {expected_rs:.1f}"
    h = random_search_hitting_times(M, m, (20_000, runs), np.random.default_rng(0))
    rs_spent = np.minimum(h, cap).sum(axis=1)
    rs_succ = (h <= cap).sum(axis=1)
    rs_ert = np.where(rs_succ > 0, rs_spent / np.maximum(rs_succ, 1), np.inf)
    assert abs(np.minimum(h, M).mean() - expected_rs) < 2  # the reference sampler is right
    assert (rs_ert <= ert).mean() < 1e-3


# ---------------------------------------------------------------------------------- universe


@pytest.mark.parametrize("name", sorted(SEARCHERS))
def test_universe_restricts_every_searcher(name: str, space5: SearchSpace, table: Table) -> None:
    rng = np.random.default_rng(0)
    universe = table.cells[np.sort(rng.choice(len(table), 120, replace=False))]
    allowed = set(table.keys(universe))
    s = SEARCHERS[name](space5, random_state=0, universe=universe)
    s.run(BenchmarkEvaluator(table), 30)
    keys = hist_keys(s.history_)
    assert set(keys) <= allowed and len(set(keys)) == 30


def test_random_search_exhausts_the_universe(space5: SearchSpace, table: Table) -> None:
    universe = table.cells[:50]
    s = RandomSearch(space5, random_state=0, universe=universe, batch_size=4).run(BenchmarkEvaluator(table), 80)
    assert sorted(hist_keys(s.history_)) == sorted(table.keys(universe))
    assert len(s.ask(3)) == 0


def test_full_space_over_a_universe_uses_only_its_cells(space5: SearchSpace, table: Table) -> None:
    universe = table.cells[100:300]
    s = PredictorSearch(space5, predictor=small_rf(), universe=universe, n_initial=5, random_state=0)
    s.run(BenchmarkEvaluator(table), 20)
    assert set(hist_keys(s.history_)) <= set(table.keys(universe))
    np.testing.assert_array_equal(s.history_.candidate_set_size[5:], 200 - np.arange(5, 20))


# ---------------------------------------------------------------------------------- baselines


def test_regularized_evolution_without_dedupe_repeats_cells(small_space: SearchSpace) -> None:
    t = Table(small_space)
    s = RegularizedEvolution(small_space, population=10, sample_size=5, dedupe=False, random_state=0)
    s.run(BenchmarkEvaluator(t), 120)
    keys = hist_keys(s.history_)
    assert s.n_evaluated_ == 120 and len(set(keys)) < 120  # the published algorithm repeats cells
    s2 = RegularizedEvolution(small_space, population=10, sample_size=5, dedupe=True, random_state=0)
    s2.run(BenchmarkEvaluator(t), 120)
    assert len(set(hist_keys(s2.history_))) == 120


def test_local_search_climbs(space5: SearchSpace, table: Table) -> None:
    s = LocalSearch(space5, random_state=0).run(BenchmarkEvaluator(table), 120)
    h = s.history_
    cells = ref.batch_cells(h.cells)
    keys = hist_keys(h)
    # the cells after the first are neighbours of an earlier cell or restarts
    first_nbrs = {ref.iso_key(*c) for c in ref.single_edits(cells[0], 5, 9, 2)} - {keys[0]}
    second_step = set(keys[1 : 1 + len(first_nbrs)])
    assert second_step <= first_nbrs
    assert s.best_value_ > np.quantile(table.values(), 0.9)


# ---------------------------------------------------------------------------------- determinism


@pytest.mark.parametrize("name", ["pred-full", "pred-nbhd", "pred-evo", "evolution", "local", "random-rejection"])
def test_same_seed_same_history(name: str, space5: SearchSpace, table: Table) -> None:
    ev = BenchmarkEvaluator(table)
    a = SEARCHERS[name](space5, random_state=11, n_jobs=1, batch_size=2).run(ev, 25).history_
    b = SEARCHERS[name](space5, random_state=11, n_jobs=2, batch_size=2).run(ev, 25).history_
    c = SEARCHERS[name](space5, random_state=12, n_jobs=2, batch_size=2).run(ev, 25).history_
    assert a.equals(b)
    assert not a.equals(c)


def test_generator_random_state_is_advanced(space5: SearchSpace, table: Table) -> None:
    g = np.random.default_rng(0)
    a = RandomSearch(space5, random_state=g).run(BenchmarkEvaluator(table), 10).history_
    b = RandomSearch(space5, random_state=g).run(BenchmarkEvaluator(table), 10).history_
    assert not a.equals(b)


# ---------------------------------------------------------------------------------- history


def test_history_round_trips_through_json(space5: SearchSpace, table: Table) -> None:
    s = RandomSearch(space5, random_state=0).run(BenchmarkEvaluator(table), 12)
    s.tell(table.cells[:1], [math.nan], errors=["boom"])
    h = s.history_
    text = json.dumps(h.to_dict(), allow_nan=False)
    back = History.from_dict(json.loads(text))
    assert back.equals(h, wall_time=True)
    assert back.errors[-1] == "boom" and math.isnan(back.values[-1])
    assert back.iteration[-1] == -1


# ---------------------------------------------------------------------------------- failures


class Flaky:
    """Fails on the cells whose fingerprint is 0, 1 or 2 modulo 7, the first ``fail_times``
    times each."""

    def __init__(self, table: Table, fail_times: int) -> None:
        self.table = table
        self.fail_times = fail_times
        self.calls: dict[int, int] = {}

    def __call__(self, cells: CellBatch) -> Any:
        f = int(cells.fingerprints()[0])
        self.calls[f] = self.calls.get(f, 0) + 1
        if f % 7 < 3 and self.calls[f] <= self.fail_times:
            raise RuntimeError(f"flaky failure {self.calls[f]}")
        return self.table.query(cells)


def test_failures_are_recorded_and_retried(space5: SearchSpace, table: Table) -> None:
    ev = Flaky(table, fail_times=5)
    s = RandomSearch(space5, random_state=0).run(ev, 30, max_retries=2, max_consecutive_failures=30)
    h = s.history_
    even = h.cells.fingerprints() % 7 < 3
    assert even.any() and (~even).any()
    assert np.all(np.isnan(h.values[even])) and np.all(~np.isnan(h.values[~even]))
    assert all(e == "RuntimeError: flaky failure 3" for e in h.errors[even])
    assert all(ev.calls[int(f)] == 3 for f in h.cells.fingerprints()[even])  # 1 try + 2 retries
    assert s.best_value_ == np.nanmax(h.values)
    # with enough retries every evaluation succeeds
    ev2 = Flaky(table, fail_times=1)
    h2 = RandomSearch(space5, random_state=0).run(ev2, 30, max_retries=1).history_
    assert not np.isnan(h2.values).any()
    h3 = RandomSearch(space5, random_state=0).run(BenchmarkEvaluator(table), 30).history_
    assert h2.cells == h3.cells
    np.testing.assert_array_equal(h2.values, h3.values)


def test_an_always_failing_evaluator_ends_the_run(space5: SearchSpace) -> None:
    def broken(cells: CellBatch) -> Any:
        raise ValueError("no GPU")

    s = PredictorSearch(space5, predictor=small_rf(), n_initial=5, random_state=0)
    with pytest.raises(EvaluationError, match="failed on 4 cells in a row.*no GPU"):
        s.run(broken, 50, max_consecutive_failures=4, max_retries=1)
    assert s.n_evaluated_ == 4


def test_timeout_in_a_thread_pool(space5: SearchSpace, table: Table) -> None:
    import time
    from concurrent.futures import ThreadPoolExecutor

    slow_key = table.keys(table.cells[:1])[0]

    def ev(cells: CellBatch) -> Any:
        if table.keys(cells)[0] == slow_key:
            time.sleep(1.0)
        return table.query(cells)

    universe = table.cells[:6]
    with ThreadPoolExecutor(2) as pool:
        s = RandomSearch(space5, random_state=0, universe=universe, batch_size=2).run(ev, 6, executor=pool, timeout=0.3)
    h = s.history_
    errors = dict(zip(hist_keys(h), h.errors))
    assert errors[slow_key] is not None and errors[slow_key].startswith("timeout")
    assert sum(e is None for e in h.errors) == 5


# ---------------------------------------------------------------------------------- large spaces


def test_large_spaces_work_except_full_space(big_space: SearchSpace) -> None:
    def f(cells: CellBatch) -> Any:
        return cells.encode("path-trunc").sum(axis=1) / 10.0

    with pytest.raises(SpaceTooLargeError, match="FullSpace"):
        PredictorSearch(big_space, encoding="path-trunc", candidates=FullSpace())
    with pytest.raises(ValueError, match="'path' has 12,207,031 features"):
        PredictorSearch(big_space, encoding="path", candidates=Neighbourhood())
    # with no arguments but the space, a search runs: an encoding it can afford, and candidates
    # it can score (neighbourhoods of the best cells and fresh random cells, not the full space)
    default = PredictorSearch(big_space, random_state=0)
    assert default.encoding is None and default.encoding_ == "adjacency"  # 12.2 million path features
    assert isinstance(default.candidates, Combined)
    assert [type(c) for c in default.candidates.sets] == [Neighbourhood, RandomSubset]
    assert default.candidates.sets[1].refresh
    default.run(f, 14)
    assert len(np.unique(default.history_.cells.fingerprints())) == 14
    assert np.all(default.history_.candidate_set_size[10:] > 1000)  # neighbourhoods and 1,000 random cells
    nb101 = PredictorSearch(SearchSpace.nb101())
    assert nb101.encoding_ == DEFAULT_ENCODING and isinstance(nb101.candidates, FullSpace)
    enc = "path-trunc"
    searchers = [
        RandomSearch(big_space, random_state=0),
        RandomSearch(big_space, method="rejection", random_state=0),
        RegularizedEvolution(big_space, population=5, sample_size=2, random_state=0),
        LocalSearch(big_space, random_state=0),
        PredictorSearch(big_space, small_rf(), enc, candidates=Neighbourhood(top_k=2), n_initial=4, random_state=0),
        PredictorSearch(big_space, small_rf(), enc, candidates=RandomSubset(200), n_initial=4, random_state=0),
        PredictorSearch(big_space, small_rf(), enc, candidates=Evolution(50, 3), n_initial=4, random_state=0),
    ]
    for s in searchers:
        s.run(f, 8)
        fps = s.history_.cells.fingerprints()
        assert len(np.unique(fps)) == 8, type(s).__name__


# ---------------------------------------------------------------------------------- configuration errors


def test_bad_configuration_is_refused(space5: SearchSpace, table: Table) -> None:
    with pytest.raises(ValueError, match="acquisition = 'pi'"):
        PredictorSearch(space5, acquisition="pi")
    with pytest.raises(ValueError, match="encoding = 'graph'"):
        PredictorSearch(space5, encoding="graph")
    with pytest.raises(TypeError, match="has no fit"):
        PredictorSearch(space5, predictor=object())
    with pytest.raises(TypeError, match="candidate set"):
        PredictorSearch(space5, candidates="full")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="budget = 5 is below n_initial = 10"):
        PredictorSearch(space5, random_state=0).run(BenchmarkEvaluator(table), 5)
    with pytest.raises(ValueError, match="n_initial = 0"):
        PredictorSearch(space5, n_initial=0)
    with pytest.raises(ValueError, match="batch_size = 0"):
        RandomSearch(space5, batch_size=0)
    with pytest.raises(ValueError, match="method = 'sobol'"):
        RandomSearch(space5, method="sobol")
    with pytest.raises(ValueError, match="sample_size = 20 exceeds population = 10"):
        RegularizedEvolution(space5, population=10, sample_size=20)
    with pytest.raises(ValueError, match="preset = 'x'"):
        Evolution(preset="x")
    with pytest.raises(ValueError, match="at least two"):
        Union(Neighbourhood())
    with pytest.raises(TypeError, match="argument 1 is not a candidate set"):
        Combined(Neighbourhood(), "full")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="size = 0"):
        RandomSubset(0)
    with pytest.raises(ValueError, match="universe cells belong to"):
        RandomSearch(space5, universe=SearchSpace(4, 5, ["a"]).enumerate())
    with pytest.raises(TypeError, match="random_state"):
        RandomSearch(space5, random_state="seed").ask()  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="budget = 0"):
        RandomSearch(space5).run(BenchmarkEvaluator(table), 0)
    with pytest.raises(ValueError, match="values has 2 entries for 1 cells"):
        RandomSearch(space5).tell(table.cells[:1], [0.1, 0.2])
    with pytest.raises(ValueError, match="metric 'x'"):
        BenchmarkEvaluator(table, "x")


# ---------------------------------------------------------------------------------- built-in benchmarks


def _load(name: str) -> Any:
    from nasfast.benchmarks import load

    return load(name)


def test_end_to_end_on_real20k() -> None:
    bench = _load("nb101-real20k")
    allowed = bench.cells.fingerprints()
    ev = BenchmarkEvaluator(bench)
    for s in [
        RandomSearch(bench.space, random_state=0, universe=bench.cells),
        RegularizedEvolution(bench.space, random_state=0, universe=bench.cells),
        LocalSearch(bench.space, random_state=0, universe=bench.cells),
        PredictorSearch(bench.space, random_state=0, universe=bench.cells, n_initial=10),
        PredictorSearch(bench.space, candidates=Neighbourhood(), random_state=0, universe=bench.cells),
    ]:
        s.run(ev, 20)
        fps = s.history_.cells.fingerprints()
        assert np.isin(fps, allowed).all() and len(np.unique(fps)) == 20
        np.testing.assert_array_equal(s.history_.values, bench.query(s.history_.cells))


@pytest.mark.slow
def test_end_to_end_on_surrogate() -> None:
    bench = _load("nb101-surrogate")
    ev = BenchmarkEvaluator(bench)
    for s in [
        PredictorSearch(bench.space, random_state=0, n_initial=10),
        PredictorSearch(bench.space, candidates=Neighbourhood(), random_state=0),
        RegularizedEvolution(bench.space, random_state=0),
    ]:
        s.run(ev, 20)
        assert len(np.unique(s.history_.cells.fingerprints())) == 20
        assert s.best_value_ == bench.query(s.history_.cells).max()


# ---------------------------------------------------------------------------------- scoring shortcuts


@pytest.mark.parametrize("forest", ["scikit-learn", "core"])
def test_forest_scoring_of_many_rows_matches_its_trees(forest: str) -> None:
    """A forest scores the distinct rows over the features its trees use; mean, spread and a
    Thompson draw must equal those of its trees on every row (and, for scikit-learn's forest,
    its own prediction)."""
    from nasfast.search._fitted import _REDUCE_MIN_ROWS, FittedPredictor

    rng = np.random.default_rng(0)
    X = (rng.random((3 * _REDUCE_MIN_ROWS, 60)) < 0.2).astype(np.uint8)
    train = np.flatnonzero(rng.random(len(X)) < 0.02)
    y = X[train, :10].sum(axis=1) + rng.normal(size=len(train))
    model = FittedPredictor(small_rf() if forest == "scikit-learn" else default_predictor(), None, seed=3, n_jobs=2)
    model.fit(X[train].astype(np.float32), y)
    assert (model.core is not None) == (forest == "core")
    mu, sd = model.mean_std(X)
    assert model._prepared is not None and model._prepared[2] is not None  # rows were reduced
    est = model.models[0]
    Xf = X[:, model.columns].astype(np.float32)  # the model is fitted on the varying columns
    assert np.array_equal(model.columns, np.flatnonzero(X[train].min(axis=0) != X[train].max(axis=0)))
    if forest == "scikit-learn":
        per_tree = np.array([t.predict(Xf) for t in est.estimators_])
        np.testing.assert_allclose(mu, est.predict(Xf), rtol=0, atol=1e-12)
        sd_atol = 1e-12
    else:
        per_tree = est.predict_members(Xf).T
        sd_atol = 1e-9  # the core sums the spread in another order than numpy
    np.testing.assert_allclose(mu, per_tree.mean(axis=0), rtol=0, atol=1e-12)
    np.testing.assert_allclose(sd, per_tree.std(axis=0), rtol=0, atol=sd_atol)
    draw = model.draw(X, np.random.default_rng(1))
    assert any(np.array_equal(draw, p) for p in per_tree)


def test_full_space_picks_the_best_acquisition(space5: SearchSpace, table: Table) -> None:
    """Greedy FullSpace picks a cell whose predicted mean is the largest over every cell not
    evaluated yet (recomputed here with sklearn on the reference path encoding)."""
    s = PredictorSearch(space5, predictor=small_rf(), encoding="path", acquisition="greedy", n_initial=15, random_state=0)
    s.run(BenchmarkEvaluator(table), 15)
    model_seed_state = s.state_.rng.bit_generator.state
    pick = s.ask(1)
    s.state_.rng.bit_generator.state = model_seed_state
    model, _ = s._fit(s.state_)
    forest = model.models[0]
    all_cells = ref.batch_cells(table.cells)
    X = np.array([ref.path_encoding(c, 5, 2) for c in all_cells], dtype=np.float32)[:, model.columns]
    pred = forest.predict(X)
    told = set(hist_keys(s.history_))
    free = np.array([ref.iso_key(*c) not in told for c in all_cells])
    best = pred[free].max()
    pick_x = ref.path_encoding(ref.batch_cells(pick)[0], 5, 2).astype(np.float32)[None, model.columns]
    # equal up to the order in which the trees' predictions are summed (batch vs single row)
    assert forest.predict(pick_x)[0] == pytest.approx(best, rel=1e-12, abs=1e-15)


def _search_history(space: SearchSpace, evaluate: Any, budget: int, packed: bool, monkeypatch: pytest.MonkeyPatch, **kw: Any) -> History:
    """A search with the core forest's packed scoring of FullSpace candidates, or (``packed``
    False) with the float32 scorer it replaced."""
    from nasfast.search._fitted import FittedPredictor

    with monkeypatch.context() as m:
        if not packed:
            m.setattr(FittedPredictor, "_packed", lambda self, X: None)
        s = PredictorSearch(space, **kw)
        s.run(evaluate, budget)
    return s.history_


@pytest.mark.parametrize("acquisition", ["greedy", "ucb", "ei", "thompson"])
@pytest.mark.parametrize("encoding", ["path", "adjacency", "path-count"])
def test_packed_scoring_keeps_the_history(acquisition: str, encoding: str, space5: SearchSpace, table: Table, monkeypatch: pytest.MonkeyPatch) -> None:
    """Same seed, same history, whether FullSpace candidates are scored from packed bits or
    from float32 rows (``"path-count"`` is not 0/1, so both runs take the float path); a batch
    of 3 exercises ``min_distance`` against pending cells and several Thompson draws."""
    kw = dict(acquisition=acquisition, encoding=encoding, n_initial=5, batch_size=3, random_state=8)
    fast, slow = (_search_history(space5, BenchmarkEvaluator(table), 36, p, monkeypatch, **kw) for p in (True, False))
    np.testing.assert_array_equal(fast.cells.fingerprints(), slow.cells.fingerprints())
    np.testing.assert_array_equal(fast.candidate_set_size, slow.candidate_set_size)


def test_universe_scoring_takes_the_packed_path_only_for_0_1_features(space5: SearchSpace) -> None:
    """The cached features of a universe are packed for 0/1 encodings, not for path counts; the
    fitted predictor's scores of universe rows equal the core forest on those rows as float32 either way."""
    from nasfast.search import Universe
    from nasfast.search._fitted import FittedPredictor
    from nasfast.search.universe import UniverseRows, universe_features

    universe = Universe(space5.enumerate())
    rng = np.random.default_rng(0)
    for encoding in ("path", "path-count"):
        feats = universe_features(universe, encoding, None)
        assert (feats.bits is None) == (encoding == "path-count")
        assert (feats.rows.max() > 1) == (encoding == "path-count")
        train = rng.choice(len(feats.rows), 40, replace=False)
        model = FittedPredictor(default_predictor(), None, seed=1, n_jobs=None)
        model.fit(feats.rows[train].astype(np.float32), feats.rows[train, :5].sum(axis=1) + rng.random(40))
        index = np.flatnonzero(rng.random(len(feats.rows)) < 0.7)
        dense = np.ascontiguousarray(feats.rows[index][:, model.columns], dtype=np.float32)
        mean, std = model.core.predict_mean_std(dense)
        got = model.mean_std(UniverseRows(feats, index))
        np.testing.assert_array_equal(got[0], mean)
        np.testing.assert_array_equal(got[1], std)
        np.testing.assert_array_equal(model.mean(UniverseRows(feats, index)), mean)
        draw = model.draw(UniverseRows(feats, index), np.random.default_rng(2))
        assert any(np.array_equal(draw, model.core.predict_member(dense, t)) for t in range(model.n_members))


@pytest.mark.slow
def test_packed_scoring_keeps_the_history_on_the_whole_nb101_space(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same on all 423,624 NAS-Bench-101 cells with the default predictor (the case the
    packed scoring is for), every acquisition, a batch of 2."""
    bench = _load("nb101-surrogate")
    for acquisition in ("greedy", "ucb", "ei", "thompson"):
        kw = dict(acquisition=acquisition, n_initial=10, batch_size=2, random_state=3)
        fast, slow = (_search_history(bench.space, bench.query, 18, p, monkeypatch, **kw) for p in (True, False))
        np.testing.assert_array_equal(fast.cells.fingerprints(), slow.cells.fingerprints())


def _previous_ranking(score: npt.NDArray[np.float64], X: npt.NDArray[np.float32], n: int, avoid: npt.NDArray[np.float32], min_distance: float) -> list[int]:
    """The batch rule by full ranking (argpartition of every score), as the search did it
    before taking a unique best score directly."""
    picked: list[int] = []
    ref = avoid.reshape(-1, X.shape[1])
    window = max(1000, 2 * n)
    for _ in range(min(n, len(X))):
        s = score.copy()
        s[picked] = -np.inf
        top = np.argpartition(-s, window)[:window] if len(s) > window else np.arange(len(s))
        order = [r for r in top[np.argsort(-s[top], kind="stable")].tolist() if np.isfinite(s[r])]
        if not order:
            break
        choice = order[0]
        for r in order:
            if len(ref) == 0 or np.abs(ref - X[r]).sum(axis=1).min() >= min_distance:
                choice = r
                break
        picked.append(choice)
        ref = np.vstack([ref, X[choice : choice + 1]])
    return picked


def test_batch_rule_takes_a_unique_best_directly_and_ranks_ties_as_before(space5: SearchSpace) -> None:
    class Scores:
        def __init__(self, score: npt.NDArray[np.float64]) -> None:
            self.score = score

        def mean(self, X: Any) -> npt.NDArray[np.float64]:
            return self.score

    rng = np.random.default_rng(0)
    X = rng.integers(0, 2, (5000, 6)).astype(np.float32)  # many rows with equal features
    cases = {
        "distinct": rng.random(5000),
        "tied best": np.round(rng.random(5000), 2),  # about 50 rows share each value
        "infinite": np.where(rng.random(5000) < 0.01, np.inf, rng.random(5000)),
        "one infinite": np.where(np.arange(5000) == 17, np.inf, rng.random(5000)),
        "nan": np.where(rng.random(5000) < 0.01, np.nan, rng.random(5000)),
        "few finite": np.where(np.arange(5000) < 3, 1.0, -np.inf),
    }
    for name, score in cases.items():
        for n, avoid in [(1, X[:0]), (4, X[:0]), (4, X[np.argsort(-np.nan_to_num(score, nan=-9, posinf=-9))[:2]])]:
            for min_distance in (0.0, 1.0, 3.0):
                s = PredictorSearch(space5, acquisition="greedy", min_distance=min_distance, random_state=0)
                state = s.reset()
                got = s._select(state, Scores(score), X, n, 0.0, avoid)  # type: ignore[arg-type]
                assert got == _previous_ranking(score, X, n, avoid, min_distance), (name, n, len(avoid), min_distance)


# ---------------------------------------------------------------------------------- predictor protocol


class _Members(RegressorMixin, BaseEstimator):
    """Three least-squares fits on shifted targets: members with a known spread."""

    def __init__(self, shift: float = 1.0) -> None:
        self.shift = shift

    def fit(self, X: Any, y: Any) -> _Members:
        X1 = np.hstack([np.asarray(X, dtype=np.float64), np.ones((len(X), 1))])
        self.coef_ = [np.linalg.lstsq(X1, np.asarray(y) + k * self.shift, rcond=None)[0] for k in (-1, 0, 1)]
        return self

    def predict_members(self, X: Any) -> npt.NDArray[np.float64]:
        X1 = np.hstack([np.asarray(X, dtype=np.float64), np.ones((len(X), 1))])
        return np.stack([X1 @ c for c in self.coef_], axis=1)

    def predict(self, X: Any) -> npt.NDArray[np.float64]:
        return self.predict_members(X).mean(axis=1)


class _MeanStd(_Members):
    """Only ``predict_mean_std`` (no members exposed)."""

    def predict_mean_std(self, X: Any) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        P = _Members.predict_members(self, X)
        return P.mean(axis=1), np.full(len(X), 0.25)

    predict_members = None  # type: ignore[assignment]


def test_predictor_protocol_members_and_mean_std() -> None:
    """A predictor with ``predict_members`` gives its members' mean and spread and Thompson
    draws one member; one with ``predict_mean_std`` gives its own mean and std; neither is
    wrapped in bootstrap clones."""
    from nasfast.search._fitted import FittedPredictor

    rng = np.random.default_rng(5)
    X = rng.random((40, 3)).astype(np.float32)
    y = X @ np.array([1.0, -2.0, 0.5])
    members = FittedPredictor(_Members(0.5), None, seed=0, n_jobs=1)
    members.fit(X, y)
    assert members.kind == "members" and len(members.models) == 1 and members.n_members == 3
    P = members.models[0].predict_members(X)
    mu, sd = members.mean_std(X)
    np.testing.assert_allclose(mu, P.mean(axis=1), atol=1e-12)
    np.testing.assert_allclose(sd, np.full(len(X), np.sqrt(2 / 3) * 0.5), atol=1e-9)
    draw = members.draw(X, np.random.default_rng(1))
    assert any(np.allclose(draw, P[:, k], atol=1e-12) for k in range(3))
    ms = FittedPredictor(_MeanStd(0.5), None, seed=0, n_jobs=1)
    ms.fit(X, y)
    assert ms.kind == "std" and len(ms.models) == 1
    mu2, sd2 = ms.mean_std(X)
    np.testing.assert_allclose(mu2, P.mean(axis=1), atol=1e-9)
    assert np.all(sd2 == 0.25)


def test_thompson_with_a_gaussian_process_is_a_joint_posterior_sample() -> None:
    """Thompson sampling with a GP draws one function from the joint posterior over the rows
    of largest mean + 2 std (recomputed here with scikit-learn's ``sample_y``), not independent
    normals per row; the other rows get -inf."""
    from nasfast.search._fitted import _THOMPSON_SHORTLIST, FittedPredictor

    rng = np.random.default_rng(3)
    X = (rng.random((_THOMPSON_SHORTLIST + 300, 12)) < 0.4).astype(np.float32)
    train = np.arange(60)
    y = X[train, :4].sum(axis=1) + 0.1 * rng.standard_normal(len(train))
    model = FittedPredictor(GaussianProcessRegressor(alpha=1e-2, optimizer=None), None, seed=0, n_jobs=1)
    model.fit(X[train], y)
    assert model.kind == "std"
    draw = model.draw(X, np.random.default_rng(11))
    mu, sd = model.mean_std(X)
    short = np.argsort(-(mu + 2 * sd), kind="stable")[:_THOMPSON_SHORTLIST]
    assert np.isinf(draw).sum() == len(X) - _THOMPSON_SHORTLIST
    assert set(np.flatnonzero(np.isfinite(draw))) == set(short.tolist())
    seed = int(np.random.default_rng(11).integers(0, 2**31 - 1))
    rows = np.flatnonzero(np.isfinite(draw))
    expected = model.models[0].sample_y(X[rows][:, model.columns], n_samples=1, random_state=seed).reshape(-1)
    np.testing.assert_allclose(draw[rows], expected, rtol=1e-6, atol=1e-6)


def test_forest_ensemble_scores_every_clone() -> None:
    """``n_ensemble`` with a core forest averages the clones (not only the first one's trees)."""
    from nasfast.search._fitted import FittedPredictor

    rng = np.random.default_rng(2)
    X = (rng.random((80, 10)) < 0.5).astype(np.float32)
    y = X[:, 0] * 2 + X[:, 1] + rng.standard_normal(80) * 0.1
    model = FittedPredictor(ForestRegressor(10, random_state=None), 3, seed=4, n_jobs=1)
    model.fit(X, y)
    assert model.kind == "ensemble" and model.core is None and len(model.members) == 3
    mu, sd = model.mean_std(X)
    P = np.array([m.predict(X[:, model.columns]) for m in model.models])
    np.testing.assert_allclose(mu, P.mean(axis=0), atol=1e-12)
    np.testing.assert_allclose(sd, P.std(axis=0), atol=1e-12)


class _Recorder(RegressorMixin, BaseEstimator):
    """A predictor that records the targets it was fitted on (a class attribute: clones share it)."""

    seen: list[npt.NDArray[np.float64]] = []

    def fit(self, X: Any, y: Any) -> _Recorder:
        _Recorder.seen.append(np.asarray(y, dtype=np.float64).copy())
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X: Any) -> npt.NDArray[np.float64]:
        return np.asarray(X, dtype=np.float64).sum(axis=1)


@pytest.mark.parametrize("transform", ["normal-scores", None])
def test_target_transform_is_what_the_predictor_is_fitted_on(space5: SearchSpace, table: Table, transform: Optional[str]) -> None:
    """The predictor is fitted on the normal scores of the values told (or on the values), and
    expected improvement's incumbent is the best fitted target."""
    from scipy.special import ndtri
    from scipy.stats import rankdata

    _Recorder.seen = []
    s = PredictorSearch(space5, _Recorder(), acquisition="greedy", n_initial=5, n_ensemble=2, target_transform=transform, random_state=0)
    s.run(BenchmarkEvaluator(table), 9)
    values = np.asarray(s.history_.values)
    last = _Recorder.seen[-1]
    told = values[:8]  # the last fit saw the first 8 results
    expected = ndtri((rankdata(told) - 0.5) / len(told)) if transform else told
    # the bootstrap clones see resamples of the targets: every fitted target is one of them
    assert np.isin(np.round(last, 12), np.round(expected, 12)).all()
    model, best = s._fit(s.state_)
    # the incumbent of EI is the best fitted target of all 9 values told
    assert best == pytest.approx(values.max() if transform is None else ndtri((len(values) - 0.5) / len(values)))


def test_combined_encodings_are_the_parts_side_by_side(space5: SearchSpace) -> None:
    from nasfast.predictors import encode, encoding_dim

    cells = space5.sample(20, random_state=1)
    X = encode(cells, "adjacency+path-count")
    np.testing.assert_array_equal(X, np.hstack([ref_encode(cells, "adjacency"), ref_encode(cells, "path-count")]))
    assert encoding_dim(space5, "adjacency+path-count") == X.shape[1]
    for bad in ("adjacency+adjacency", "adjacency+paths", "", "+path"):
        with pytest.raises(ValueError, match="encoding"):
            encode(cells, bad)
    with pytest.raises(TypeError, match="expected a string"):
        PredictorSearch(space5, encoding=5)  # type: ignore[arg-type]


def ref_encode(cells: CellBatch, kind: str) -> npt.NDArray[np.float32]:
    """The reference encodings of ``tests/reference.py``."""
    space = cells.space
    rows = ref.batch_cells(cells)
    if kind == "adjacency":
        return np.array([ref.adjacency_encoding(c, space.max_vertices, len(space.ops)) for c in rows], dtype=np.float32)
    return np.array([ref.path_encoding(c, space.max_vertices, len(space.ops), counts=True) for c in rows], dtype=np.float32)


def test_a_predictor_reading_the_adjacency_layout_gets_whole_rows_of_its_space(space5: SearchSpace, table: Table) -> None:
    """The GCN reads the adjacency encoding of its space: the search gives it that encoding,
    every column (none dropped as constant) and the space's dimensions, and refuses another
    encoding."""
    from nasfast.predictors import GCNRegressor

    gcn = GCNRegressor(hidden=8, n_layers=2, epochs=5, random_state=0)
    s = PredictorSearch(space5, gcn, acquisition="greedy", n_initial=6, random_state=0)
    assert s.encoding_ == "adjacency"
    s.run(BenchmarkEvaluator(table), 9)
    model, _ = s._fit(s.state_)
    fitted = model.models[0]
    assert (fitted.max_vertices, fitted.n_ops) == (5, 2)
    assert np.array_equal(model.columns, np.arange(space5.encoding_dim("adjacency")))
    assert gcn.max_vertices == 7  # the user's object is never changed
    with pytest.raises(ValueError, match="reads the 'adjacency' encoding"):
        PredictorSearch(space5, gcn, encoding="path")
