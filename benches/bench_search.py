"""Benchmarks of the search loop, each against a baseline measured in the same run.

Conventions of ``bench_core.py`` (``record`` fields read by ``report.py``). The search runs with
``n_jobs=None`` (all cores, 2 on the reference machine); the baselines are the same loop with
the usual, or the previous, implementation of the hot part:

* FullSpace iteration and run: the previous FullSpace round of nasfast
  (``baseline_search.PreviousPredictorSearch``: free rows copied out of the feature cache,
  reduced with ``np.unique``, scored by the core forest from float32 rows), against the core
  forest scoring the cached rows as packed bits. Both make the same picks (checked). The
  iteration is timed for every acquisition, with ``FULL_TOLD`` cells told.
* Neighbourhood iteration: neighbours of the 10 best cells by the pure-Python edit rule, path
  encodings per cell in Python, then scikit-learn's ``RandomForestRegressor`` with the settings
  of nasfast's default predictor (the usual choice), fitted on the same cells.
* Forest fit: the default predictor against scikit-learn's forest with the same settings, on
  the cells of a search.
* Whole runs: the same loops for ``FULL_BUDGET`` (FullSpace) and ``BUDGET`` (Neighbourhood)
  evaluations; the baselines are timed on 20 model rounds and scaled to the model rounds of a
  run.

The oracle is ``nb101-surrogate`` when ``nasfast.benchmarks`` provides it, else a synthetic
table over the whole NAS-Bench-101 space (a fixed linear function of the path counts), which
costs the search loop the same.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np
import numpy.typing as npt
import pytest
from scipy.stats import kendalltau
from sklearn.ensemble import RandomForestRegressor

import baselines as ref
import nb101_data
from baseline_search import PreviousPredictorSearch
from nasfast import CellBatch, SearchSpace
from nasfast.search import ForestRegressor, FullSpace, Neighbourhood, PredictorSearch, default_predictor
from nasfast.search._fitted import FittedPredictor, expected_improvement
from nasfast.search.predictor import ACQUISITIONS

SEED = 20190601
N_INITIAL_TOLD = 100
#: cells told before the timed FullSpace iteration
FULL_TOLD = 150
BUDGET = 150
FULL_BUDGET = 300
BASELINE_ROUNDS = 20


def record(benchmark: Any, side: str, kind: str, **info: Any) -> None:
    info.setdefault("threads", 2 if side == "nasfast" else 1)
    benchmark.extra_info.update(side=side, kind=kind, **info)


class Oracle:
    """``evaluator(cells) -> values`` over the whole NAS-Bench-101 space."""

    def __init__(self, space: SearchSpace) -> None:
        try:
            from nasfast.benchmarks import load

            bench = load("nb101-surrogate")
            self.name = "nb101-surrogate"
            self.query: Callable[[CellBatch], npt.NDArray[np.float64]] = bench.query
        except (ImportError, FileNotFoundError):
            cells = space.enumerate()
            x = cells.encode("path-count")
            w = np.random.default_rng(SEED).normal(size=x.shape[1])
            values = x @ w
            self._values = 0.9 + 0.05 * (values - values.mean()) / values.std()
            fps = cells.fingerprints()
            self._order = np.argsort(fps)
            self._sorted = fps[self._order]
            self.name = "synthetic whole-space table"
            self.query = self._lookup
        self.seconds = 0.0

    def _lookup(self, cells: CellBatch) -> npt.NDArray[np.float64]:
        pos = self._order[np.searchsorted(self._sorted, cells.fingerprints())]
        return self._values[pos]

    def __call__(self, cells: CellBatch) -> npt.NDArray[np.float64]:
        t = time.perf_counter()
        out = self.query(cells)
        self.seconds += time.perf_counter() - t
        return out


@pytest.fixture(scope="module")
def oracle(space: SearchSpace) -> Oracle:
    return Oracle(space)


#: The Neighbourhood benchmarks' baseline is the usual Python code: path encodings and expected
#: improvement from per-tree predictions. So that both sides compute the same thing, those
#: benchmarks run nasfast with that configuration (the FullSpace benchmarks use
#: PredictorSearch's defaults: adjacency + path encoding, UCB).
NEIGHBOURHOOD_CONFIG: dict[str, Any] = {"encoding": "path", "acquisition": "ei"}


def warm_searcher(
    space: SearchSpace, oracle: Oracle, candidates: Any, told: int = N_INITIAL_TOLD, cls: type = PredictorSearch, **kw: Any
) -> PredictorSearch:
    """A searcher that has been told ``told`` uniform random cells."""
    s = cls(space, candidates=candidates, n_initial=told, random_state=SEED, **kw)
    init = s.ask(told)
    s.tell(init, oracle(init))
    return s


def to_reference(batch: CellBatch) -> list[ref.Cell]:
    adjacency = batch.adjacency.astype(np.int64)
    return [(adjacency[i, :m, :m].copy(), batch.ops[i, :m].tolist()) for i, m in enumerate(batch.num_vertices.tolist())]


def sklearn_forest() -> RandomForestRegressor:
    """scikit-learn's forest with the settings of the default predictor."""
    params = default_predictor().get_params()
    return RandomForestRegressor(**{k: params[k] for k in ("n_estimators", "min_samples_leaf", "max_features")})


def baseline_fit(s: PredictorSearch) -> tuple[FittedPredictor, float]:
    """The baselines' model: scikit-learn's forest fitted on the searcher's cells and targets (on
    the columns that vary, as the searcher does), and the best target (the incumbent of EI)."""
    model = FittedPredictor(sklearn_forest(), None, SEED, s.n_jobs)
    y = s._targets()
    model.fit(np.asarray(s._X_told, dtype=np.float32), y)
    return model, float(y.max())


def naive_scores(model: FittedPredictor, X: npt.NDArray[np.float32], best: float) -> npt.NDArray[np.float64]:
    """Expected improvement of every row from per-tree predictions (the usual code); ``model``
    is a fitted predictor (a forest fitted on the columns that vary)."""
    X = np.ascontiguousarray(X[:, model.columns], dtype=np.float32)
    est = model.models[0]
    if isinstance(est, ForestRegressor):
        per_tree = est.predict_members(X).T
    else:
        per_tree = np.array([t.predict(X) for t in est.estimators_])
    return expected_improvement(per_tree.mean(axis=0), per_tree.std(axis=0), best)


# ----------------------------------------------------------------------------- one iteration


def universe_scores(
    model: FittedPredictor, rows: npt.NDArray[np.uint8], acquisition: str, best: float, tree: int
) -> npt.NDArray[np.float64]:
    """The acquisition of every row of the cached universe features from per-tree predictions on
    float32 rows (``Forest.predict_members``, in chunks), independently of the packed scoring."""
    est = model.models[0]
    out = np.empty(len(rows))
    for a in range(0, len(rows), 32_768):
        X = np.ascontiguousarray(rows[a : a + 32_768][:, model.columns], dtype=np.float32)
        per_tree = est.forest_.predict_members(X)
        mu, sd = per_tree.mean(axis=1), per_tree.std(axis=1)
        out[a : a + len(X)] = {
            "greedy": mu, "ucb": mu + 1.0 * sd, "ei": expected_improvement(mu, sd, best), "thompson": per_tree[:, tree]
        }[acquisition]
    return out


@pytest.mark.parametrize("acquisition", ACQUISITIONS)
@pytest.mark.benchmark(group="search-iteration-full")
def test_iteration_full_space_nasfast(benchmark: Any, space: SearchSpace, oracle: Oracle, acquisition: str) -> None:
    benchmark.group = f"search-iteration-full-{acquisition}"
    warm_searcher(space, oracle, FullSpace(), FULL_TOLD, acquisition=acquisition).ask(1)  # builds the feature cache once
    picks = benchmark.pedantic(
        lambda s: s.ask(1),
        setup=lambda: ((warm_searcher(space, oracle, FullSpace(), FULL_TOLD, acquisition=acquisition),), {}),
        rounds=5, iterations=1,
    )
    record(
        benchmark, "nasfast", "time", target=0.08, target_op="<=",
        operation=f"PredictorSearch iteration, FullSpace, {acquisition} (fit on {FULL_TOLD}, score 423,624 cells)",
    )
    # the pick has the best acquisition over every cell not evaluated (recomputed from the trees'
    # predictions on the distinct float32 rows of the cache)
    s = warm_searcher(space, oracle, FullSpace(), FULL_TOLD, acquisition=acquisition)
    rng = s.state_.rng
    state = rng.bit_generator.state
    model, best = s._fit(s.state_)
    tree = int(rng.integers(0, model.n_members))  # the member a Thompson pick follows
    rng.bit_generator.state = state
    pick = s.ask(1)
    universe = s.state_.universe
    assert universe is not None
    feats = s.state_.universe_features(s.encoding_)
    taken = np.isin(universe.fingerprints, s.history_.cells.fingerprints())
    free_rows = np.unique(feats.inverse[~taken])
    scores = universe_scores(model, feats.rows[free_rows], acquisition, best, tree)
    pick_row = feats.inverse[universe.positions(pick.fingerprints())]
    mine = universe_scores(model, feats.rows[pick_row], acquisition, best, tree)[0]
    assert mine == pytest.approx(scores.max(), rel=1e-9, abs=1e-15)
    assert len(picks) == 1


@pytest.mark.parametrize("acquisition", ACQUISITIONS)
@pytest.mark.benchmark(group="search-iteration-full")
def test_iteration_full_space_baseline(benchmark: Any, space: SearchSpace, oracle: Oracle, acquisition: str) -> None:
    benchmark.group = f"search-iteration-full-{acquisition}"

    def setup() -> tuple[tuple[PredictorSearch], dict[str, Any]]:
        return (warm_searcher(space, oracle, FullSpace(), FULL_TOLD, PreviousPredictorSearch, acquisition=acquisition),), {}

    picks = benchmark.pedantic(lambda s: s.ask(1), setup=setup, rounds=3, iterations=1)
    record(benchmark, "baseline", "time", threads=2, detail="previous path: np.unique of the free rows, float32 scoring")
    # the same pick as the packed scoring, from the same state
    ours = warm_searcher(space, oracle, FullSpace(), FULL_TOLD, acquisition=acquisition).ask(1)
    np.testing.assert_array_equal(picks.fingerprints(), ours.fingerprints())


@pytest.mark.benchmark(group="search-iteration-neighbourhood")
def test_iteration_neighbourhood_nasfast(benchmark: Any, space: SearchSpace, oracle: Oracle) -> None:
    picks = benchmark.pedantic(
        lambda s: s.ask(1), setup=lambda: ((warm_searcher(space, oracle, Neighbourhood(), **NEIGHBOURHOOD_CONFIG),), {}), rounds=5, iterations=1
    )
    record(
        benchmark, "nasfast", "time", target=0.1, target_op="<=",
        operation="PredictorSearch iteration, Neighbourhood (radius 1 of the 10 best)",
    )
    assert len(picks) == 1


@pytest.mark.benchmark(group="search-iteration-neighbourhood")
def test_iteration_neighbourhood_baseline(benchmark: Any, space: SearchSpace, oracle: Oracle) -> None:
    def iteration(s: PredictorSearch) -> npt.NDArray[np.float32]:
        model, best = baseline_fit(s)
        top = to_reference(s.state_.top_cells(10))
        seen = {ref.canonical_form(m, labels) for m, labels in to_reference(s.history_.cells)}
        cands: dict[Any, ref.Cell] = {}
        for m, labels in top:
            for cell in ref.neighbours_reference(m, labels):
                key = ref.canonical_form(*cell)
                if key not in seen and key not in cands:
                    cands[key] = cell
        X = np.stack([ref.path_encoding_reference(m, labels) for m, labels in cands.values()])
        scores = naive_scores(model, X, best)
        assert np.isfinite(scores.max())
        return X

    X = benchmark.pedantic(
        iteration, setup=lambda: ((warm_searcher(space, oracle, Neighbourhood(), **NEIGHBOURHOOD_CONFIG),), {}), rounds=2, iterations=1
    )
    record(benchmark, "baseline", "time", detail="Python edits, hashes and path encodings, scikit-learn forest")
    # from the same state, nasfast scores the same candidate set (the baseline's) and picks the
    # cell of the best score by its own model
    s = warm_searcher(space, oracle, Neighbourhood(), **NEIGHBOURHOOD_CONFIG)
    rng = s.state_.rng
    state = rng.bit_generator.state
    model, incumbent = s._fit(s.state_)
    rng.bit_generator.state = state
    pick = s.ask(1)
    assert s.state_.last_candidate_set_size == len(X)
    best = naive_scores(model, X, incumbent).max()
    assert naive_scores(model, pick.encode("path"), incumbent)[0] == pytest.approx(best, rel=1e-9, abs=1e-15)


# ----------------------------------------------------------------------------- whole runs


def baseline_note(budget: int) -> str:
    return (
        f"the baseline loops are timed on {BASELINE_ROUNDS} model rounds in the middle of a {budget}-evaluation run "
        f"(fitted on {(budget - BASELINE_ROUNDS) // 2} to {(budget + BASELINE_ROUNDS) // 2} cells) and scaled to the "
        f"{budget - 10} model rounds of a run"
    )


def middle_of_run(space: SearchSpace, oracle: Oracle, candidates: Any, budget: int = BUDGET) -> PredictorSearch:
    """A searcher told the first half of a run's cells (10 random, then its own picks)."""
    kw = NEIGHBOURHOOD_CONFIG if isinstance(candidates, Neighbourhood) else {}
    s = PredictorSearch(space, candidates=candidates, random_state=SEED, **kw)
    s.run(oracle, (budget - BASELINE_ROUNDS) // 2)
    return s


def check_run(s: PredictorSearch, oracle: Oracle, n: int) -> None:
    """The search evaluated ``n`` distinct cells and recorded the oracle's values."""
    cells = s.history_.cells
    assert s.n_evaluated_ == n == len(np.unique(cells.fingerprints()))
    np.testing.assert_array_equal(s.history_.values, oracle.query(cells))


def run_split(s: PredictorSearch, oracle: Oracle, budget: int) -> tuple[PredictorSearch, dict[str, float]]:
    """Runs a search; returns it and its time split (seconds)."""
    oracle.seconds = 0.0
    t = time.perf_counter()
    s.run(oracle, budget)
    total = time.perf_counter() - t
    split = dict(s.timings_)
    split["evaluate"] = oracle.seconds
    split["bookkeeping"] = total - sum(split.values())
    split["total"] = total
    return s, {k: round(v, 3) for k, v in split.items()}


#: histories of the timed FullSpace runs, by budget (the baseline checks its picks against them)
FULL_RUNS: dict[int, npt.NDArray[np.uint64]] = {}


def full_run(space: SearchSpace, oracle: Oracle, budget: int) -> tuple[PredictorSearch, dict[str, float]]:
    s, split = run_split(PredictorSearch(space, candidates=FullSpace(), random_state=SEED), oracle, budget)
    FULL_RUNS[budget] = s.history_.cells.fingerprints()
    return s, split


@pytest.mark.benchmark(group="search-run-full")
def test_run_full_space_nasfast(benchmark: Any, space: SearchSpace, oracle: Oracle) -> None:
    warm_searcher(space, oracle, FullSpace()).ask(1)  # the feature cache, built once per process
    searcher, split = benchmark.pedantic(lambda: full_run(space, oracle, FULL_BUDGET), rounds=1, iterations=1)
    record(
        benchmark, "nasfast", "time", target=30.0, target_op="<=", split=split,
        operation=f"PredictorSearch run, {FULL_BUDGET} evaluations, FullSpace",
    )
    assert all(v >= 0 for v in split.values())
    check_run(searcher, oracle, FULL_BUDGET)


@pytest.mark.benchmark(group="search-run-full")
def test_run_full_space_baseline(benchmark: Any, space: SearchSpace, oracle: Oracle) -> None:
    def setup() -> tuple[tuple[PredictorSearch], dict[str, Any]]:
        s = middle_of_run(space, oracle, FullSpace(), FULL_BUDGET)
        s.__class__ = PreviousPredictorSearch  # the same state, continued with the previous round
        return (s,), {}

    def loop(s: PredictorSearch) -> PredictorSearch:
        for _ in range(BASELINE_ROUNDS):
            pick = s.ask(1)
            s.tell(pick, oracle(pick))
        return s

    s = benchmark.pedantic(loop, setup=setup, rounds=1, iterations=1)
    record(
        benchmark, "baseline", "time", threads=2, scale=(FULL_BUDGET - 10) / BASELINE_ROUNDS,
        detail="previous path, extrapolated", note=baseline_note(FULL_BUDGET),
    )
    n = (FULL_BUDGET - BASELINE_ROUNDS) // 2 + BASELINE_ROUNDS
    check_run(s, oracle, n)
    # the previous round picks what the packed scoring picked in the timed run (same seed)
    if FULL_BUDGET not in FULL_RUNS:
        full_run(space, oracle, n)
    np.testing.assert_array_equal(s.history_.cells.fingerprints(), FULL_RUNS[FULL_BUDGET][:n])


@pytest.mark.benchmark(group="search-run-neighbourhood")
def test_run_neighbourhood_nasfast(benchmark: Any, space: SearchSpace, oracle: Oracle) -> None:
    searcher, split = benchmark.pedantic(
        lambda: run_split(PredictorSearch(space, candidates=Neighbourhood(), **NEIGHBOURHOOD_CONFIG, random_state=SEED), oracle, BUDGET),
        rounds=1, iterations=1,
    )
    record(
        benchmark, "nasfast", "time", target=10.0, target_op="<=", split=split,
        operation=f"PredictorSearch run, {BUDGET} evaluations, Neighbourhood",
    )
    assert all(v >= 0 for v in split.values())
    check_run(searcher, oracle, BUDGET)


@pytest.mark.benchmark(group="search-run-neighbourhood")
def test_run_neighbourhood_baseline(benchmark: Any, space: SearchSpace, oracle: Oracle) -> None:
    def loop(s: PredictorSearch) -> PredictorSearch:
        for _ in range(BASELINE_ROUNDS):
            model, incumbent = baseline_fit(s)
            seen = {ref.canonical_form(m, labels) for m, labels in to_reference(s.history_.cells)}
            cands: dict[Any, ref.Cell] = {}
            for m, labels in to_reference(s.state_.top_cells(10)):
                for cell in ref.neighbours_reference(m, labels):
                    key = ref.canonical_form(*cell)
                    if key not in seen and key not in cands:
                        cands[key] = cell
            cand_list = list(cands.values())
            X = np.stack([ref.path_encoding_reference(m, labels) for m, labels in cand_list])
            best = int(np.argmax(naive_scores(model, X, incumbent)))
            m, labels = cand_list[best]
            v = space.max_vertices
            adj = np.zeros((1, v, v), np.uint8)
            ops = np.full((1, v), -3, np.int8)
            adj[0, : len(labels), : len(labels)] = m
            ops[0, : len(labels)] = labels
            pick = CellBatch.from_arrays(adj, ops, space)
            s.tell(pick, oracle(pick))
        return s

    s = benchmark.pedantic(loop, setup=lambda: ((middle_of_run(space, oracle, Neighbourhood()),), {}), rounds=1, iterations=1)
    record(benchmark, "baseline", "time", scale=(BUDGET - 10) / BASELINE_ROUNDS, detail="extrapolated", note=baseline_note(BUDGET))
    check_run(s, oracle, (BUDGET - BASELINE_ROUNDS) // 2 + BASELINE_ROUNDS)


# ----------------------------------------------------------------------------- default predictor


def real20k(space: SearchSpace) -> tuple[CellBatch, npt.NDArray[np.float64]]:
    rows = nb101_data.real20k_rows()
    names = {"input": -1, "output": -2, **{o: i for i, o in enumerate(space.ops)}}
    adj = np.zeros((len(rows), 7, 7), np.uint8)
    ops = np.full((len(rows), 7), -3, np.int8)
    for i, r in enumerate(rows):
        m = int(r["num_vertices"])
        adj[i, :m, :m] = np.frombuffer(r["adjacency"].encode(), np.uint8).reshape(m, m) - ord("0")
        ops[i, :m] = [names[x] for x in r["ops"].split("|")]
    return CellBatch.from_arrays(adj, ops, space), np.array([float(r["val_acc_108"]) for r in rows])


def predictor_quality(make: Callable[[int], Any], X: npt.NDArray[np.float32], y: npt.NDArray[np.float64]) -> dict[str, float]:
    """Kendall tau and top-1% precision of the 20 best predictions, trained on 100 random cells
    (5 seeds), and the mean seconds of fit + predict."""
    top = y >= np.quantile(y, 0.99)
    taus, precs, secs = [], [], []
    for seed in range(5):
        rng = np.random.default_rng(seed)
        train = rng.choice(len(y), 100, replace=False)
        rest = np.setdiff1d(np.arange(len(y)), train)
        t = time.perf_counter()
        pred = make(seed).fit(X[train], y[train]).predict(X[rest])
        secs.append(time.perf_counter() - t)
        taus.append(kendalltau(pred, y[rest])[0])
        precs.append(top[rest][np.argsort(-pred)[:20]].mean())
    return {"tau": round(float(np.mean(taus)), 3), "top1%@20": round(float(np.mean(precs)), 3), "seconds": round(float(np.mean(secs)), 3)}


@pytest.mark.benchmark(group="search-default-predictor")
def test_predictor_choice_nasfast(benchmark: Any, space: SearchSpace) -> None:
    cells, y = real20k(space)
    X = cells.encode("path")

    def make(seed: int) -> Any:
        return default_predictor().set_params(random_state=seed)

    q = benchmark.pedantic(lambda: predictor_quality(make, X, y), rounds=1, iterations=1)
    # the settings against a fully grown forest (every feature tried, leaves of one cell)
    full = predictor_quality(lambda seed: ForestRegressor(n_estimators=100, random_state=seed), X, y)
    record(
        benchmark, "nasfast", "time", target=5.0, target_op="<=", quality=q, fully_grown=full,
        detail=(
            f"tau {q['tau']}, top-1% precision {q['top1%@20']}; a fully grown forest: tau {full['tau']}, "
            f"top-1% precision {full['top1%@20']}"
        ),
        operation="default predictor: 5 x (fit on 100 real cells, predict 19,901)",
    )
    assert q["tau"] > 0.4
    assert q["tau"] >= full["tau"] - 0.02


@pytest.mark.benchmark(group="search-default-predictor")
def test_predictor_choice_baseline(benchmark: Any, space: SearchSpace) -> None:
    cells, y = real20k(space)
    X = cells.encode("path")

    def make(seed: int) -> Any:
        return sklearn_forest().set_params(random_state=seed)

    q = benchmark.pedantic(lambda: predictor_quality(make, X, y), rounds=1, iterations=1)
    record(
        benchmark, "baseline", "time", quality=q,
        detail=f"scikit-learn forest, same settings: tau {q['tau']}, top-1% precision {q['top1%@20']}",
    )
    assert q["tau"] > 0.4


def search_cells(space: SearchSpace, oracle: Oracle) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float64]]:
    """The training set of the last round of a 150-evaluation search: 149 cells, path encoding
    restricted to the columns that vary (as the searcher fits it)."""
    cells = space.sample(BUDGET - 1, random_state=SEED)
    X = cells.encode("path")
    X = np.ascontiguousarray(X[:, X.min(axis=0) != X.max(axis=0)])
    return X, oracle(cells)


@pytest.mark.benchmark(group="search-forest-fit")
def test_forest_fit_nasfast(benchmark: Any, space: SearchSpace, oracle: Oracle) -> None:
    X, y = search_cells(space, oracle)
    model = benchmark.pedantic(lambda: default_predictor().set_params(random_state=0).fit(X, y), rounds=20, iterations=1)
    record(
        benchmark, "nasfast", "time",
        operation=f"fit the default predictor (100 trees) on {len(y)} cells x {X.shape[1]} features",
    )
    assert model.forest_.n_estimators == 100


@pytest.mark.benchmark(group="search-forest-fit")
def test_forest_fit_baseline(benchmark: Any, space: SearchSpace, oracle: Oracle) -> None:
    X, y = search_cells(space, oracle)
    model = benchmark.pedantic(lambda: sklearn_forest().set_params(random_state=0, n_jobs=-1).fit(X, y), rounds=5, iterations=1)
    record(benchmark, "baseline", "time", threads=2, detail="scikit-learn forest, same settings, n_jobs=-1")
    assert len(model.estimators_) == 100
