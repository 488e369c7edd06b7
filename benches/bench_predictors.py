"""Benchmarks of the predictors: fit on 150 cells, score all 423,624 cells of NAS-Bench-101 (what
a search does every round with ``FullSpace`` candidates), each against a baseline measured in the
same run.

Conventions of ``bench_core.py`` (``record`` fields read by ``report.py``). The training cells
are 150 uniform cells of the space; the targets are the normal scores of ``nb101-surrogate``
(what the search fits); every model scores every cell. Both sides use all cores (numpy's BLAS,
scikit-learn's OpenMP, the core's threads).

* ``GBMRegressor`` (adjacency + path-count) against scikit-learn's plain
  ``GradientBoostingRegressor`` with the same trees (300 trees of at most 8 leaves of at least 3
  cells, learning rate 0.05), predicting with scikit-learn.
* ``GPRegressor`` (mean and standard deviation, adjacency + path-count) against scikit-learn's
  ``GaussianProcessRegressor`` with the same fitted kernel, ``predict(return_std=True)``; the two
  must agree.
* ``MLPEnsembleRegressor`` (BANANAS: 5 networks of 10 x 20, path encoding) against a loop of 5
  scikit-learn ``MLPRegressor`` fits with the same settings and their predictions.
* ``GCNRegressor`` (adjacency) against the same network written per graph in plain numpy
  (``baselines.gcn_*``), trained from the same initial weights in the same batch order (the
  weights must agree).

Baselines too slow to score every cell in a CI run predict every k-th cell; their fit is timed in
full and their prediction time scaled by k (the note says which).
"""

from __future__ import annotations

import os
import time
import warnings
from typing import Any, Callable

import numpy as np
import numpy.typing as npt
import pytest
from scipy.stats import kendalltau
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.neural_network import MLPRegressor

import baselines as ref
from nasfast import CellBatch, SearchSpace
from nasfast.predictors import GBMRegressor, GCNRegressor, GPRegressor, MLPEnsembleRegressor, encode, normal_scores
from nasfast.predictors import gcn as gcn_module

SEED = 20190601
N_TRAIN = 150
THREADS = os.cpu_count() or 1
SCALED_NOTE = "the baseline's fit is timed in full, its prediction on every {k}th cell and scaled by {k}"


def record(benchmark: Any, side: str, kind: str, **info: Any) -> None:
    info.setdefault("threads", THREADS)
    benchmark.extra_info.update(side=side, kind=kind, **info)


class Task:
    """The cells of the space, their surrogate values, the training cells and their targets;
    the features of the last encoding asked for (one at a time: each is up to 680 MB)."""

    def __init__(self, space: SearchSpace) -> None:
        from nasfast.benchmarks import load

        self.cells: CellBatch = space.enumerate()
        self.values = load("nb101-surrogate").query(self.cells)
        rng = np.random.default_rng(SEED)
        self.train = np.sort(rng.choice(len(self.cells), N_TRAIN, replace=False))
        self.test = np.setdiff1d(np.arange(len(self.cells)), self.train)
        self.y = normal_scores(self.values[self.train])
        self._kind = ""
        self._X: npt.NDArray[np.float32] = np.empty((0, 0), np.float32)

    def X(self, kind: str) -> npt.NDArray[np.float32]:
        if kind != self._kind:
            self._X = np.empty((0, 0), np.float32)
            self._X = encode(self.cells, kind)
            self._kind = kind
        return self._X

    def tau(self, pred: npt.NDArray[np.float64], rows: Any = None) -> float:
        """Kendall tau of predictions of ``rows`` (default: every cell) on the cells not trained on."""
        rows = np.arange(len(self.cells)) if rows is None else np.asarray(rows)
        keep = ~np.isin(rows, self.train)
        return float(kendalltau(np.asarray(pred)[keep], self.values[rows[keep]])[0])


@pytest.fixture(scope="module")
def task(space: SearchSpace) -> Task:
    return Task(space)


def scaled_baseline(benchmark: Any, fit: Callable[[], Any], predict: Callable[[Any], Any], k: int) -> tuple[Any, Any, float]:
    """Runs ``fit`` then ``predict`` once under the benchmark; returns the model, the predictions
    and the factor that turns the measured time into fit + k x predict."""
    parts: dict[str, float] = {}

    def work() -> tuple[Any, Any]:
        t0 = time.perf_counter()
        model = fit()
        t1 = time.perf_counter()
        pred = predict(model)
        parts.update(fit=t1 - t0, predict=time.perf_counter() - t1)
        return model, pred

    model, pred = benchmark.pedantic(work, rounds=1, iterations=1)
    scale = (parts["fit"] + k * parts["predict"]) / (parts["fit"] + parts["predict"])
    return model, pred, scale


# ----------------------------------------------------------------------------- gradient boosting

GBM_K = 8


@pytest.mark.benchmark(group="predictor-gbm")
def test_gbm_nasfast(benchmark: Any, task: Task) -> None:
    X = task.X("adjacency+path-count")
    pred = benchmark.pedantic(
        lambda: GBMRegressor(random_state=0).fit(X[task.train], task.y).predict(X), rounds=1, iterations=1
    )
    tau = task.tau(pred)
    record(
        benchmark, "nasfast", "time", tau=tau, detail=f"tau {tau:.3f} on the other cells",
        operation="GBMRegressor (300 trees): fit on 150 cells, predict 423,624 (adjacency + path-count)",
    )
    assert tau > 0.4


@pytest.mark.benchmark(group="predictor-gbm")
def test_gbm_baseline(benchmark: Any, task: Task) -> None:
    X = task.X("adjacency+path-count")
    rows = np.arange(0, len(X), GBM_K)
    model, pred, scale = scaled_baseline(
        benchmark,
        lambda: GradientBoostingRegressor(
            n_estimators=300, learning_rate=0.05, max_leaf_nodes=8, min_samples_leaf=3, random_state=0
        ).fit(X[task.train], task.y),
        lambda m: m.predict(X[rows]),
        GBM_K,
    )
    tau = task.tau(pred, rows)
    ours = GBMRegressor(random_state=0).fit(X[task.train], task.y).predict(X[rows])
    record(
        benchmark, "baseline", "time", scale=scale, tau=tau, note=SCALED_NOTE.format(k=GBM_K),
        detail=f"scikit-learn GradientBoostingRegressor, same trees: tau {tau:.3f}",
    )
    assert tau > 0.4
    assert np.corrcoef(ours, pred)[0, 1] > 0.9  # the same kind of model on the same cells


# ----------------------------------------------------------------------------- Gaussian process

GP_K = 8


@pytest.mark.benchmark(group="predictor-gp")
def test_gp_nasfast(benchmark: Any, task: Task) -> None:
    X = task.X("adjacency+path-count")

    def work() -> tuple[Any, Any]:
        model = GPRegressor(random_state=0).fit(X[task.train], task.y)
        return model, model.predict_mean_std(X)

    model, (mean, std) = benchmark.pedantic(work, rounds=1, iterations=1)
    tau = task.tau(mean)
    record(
        benchmark, "nasfast", "time", tau=tau, detail=f"mean and std; tau {tau:.3f}",
        operation="GPRegressor: fit on 150 cells, predict mean and std of 423,624 (adjacency + path-count)",
    )
    assert tau > 0.4
    assert np.all(std[task.test] > 0)


@pytest.mark.benchmark(group="predictor-gp")
def test_gp_baseline(benchmark: Any, task: Task) -> None:
    X = task.X("adjacency+path-count")
    rows = np.arange(0, len(X), GP_K)
    ours = GPRegressor(random_state=0).fit(X[task.train], task.y)
    _, (mean, std), scale = scaled_baseline(
        benchmark,
        lambda: GaussianProcessRegressor(kernel=ours.kernel_, normalize_y=True, random_state=0).fit(
            X[task.train].astype(np.float64), task.y
        ),
        lambda m: m.predict(X[rows].astype(np.float64), return_std=True),
        GP_K,
    )
    record(
        benchmark, "baseline", "time", scale=scale, note=SCALED_NOTE.format(k=GP_K),
        detail="scikit-learn GaussianProcessRegressor, same kernel, predict(return_std=True)",
    )
    # the same kernel from the same starting point: the same posterior
    our_mean, our_std = ours.predict_mean_std(X[rows])
    np.testing.assert_allclose(our_mean, mean, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(our_std, std, rtol=1e-6, atol=1e-6)


# ----------------------------------------------------------------------------- MLP ensemble


def sklearn_bananas(seed: int) -> MLPRegressor:
    """One BANANAS network in scikit-learn: 10 layers of 20, Adam (0.01), 200 epochs (no early
    stop: BANANAS trains a fixed number of epochs), batches of 32."""
    return MLPRegressor(
        hidden_layer_sizes=(20,) * 10, learning_rate_init=0.01, max_iter=200, n_iter_no_change=200,
        batch_size=32, random_state=seed,
    )


@pytest.mark.benchmark(group="predictor-mlp")
def test_mlp_nasfast(benchmark: Any, task: Task) -> None:
    X = task.X("path")

    def work() -> tuple[Any, Any]:
        model = MLPEnsembleRegressor(random_state=0).fit(X[task.train], task.y)
        return model, model.predict_mean_std(X)

    _, (mean, std) = benchmark.pedantic(work, rounds=1, iterations=1)
    tau = task.tau(mean)
    record(
        benchmark, "nasfast", "time", tau=tau, detail=f"mean and spread of 5 networks; tau {tau:.3f}",
        operation="MLPEnsembleRegressor (5 x 10 x 20): fit on 150 cells, predict 423,624 (path)",
    )
    assert tau > 0.3
    assert np.all(std >= 0) and np.mean(std) > 0


@pytest.mark.benchmark(group="predictor-mlp")
def test_mlp_baseline(benchmark: Any, task: Task) -> None:
    X = task.X("path")

    def work() -> npt.NDArray[np.float64]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # "max_iter reached": intended
            members = [sklearn_bananas(seed).fit(X[task.train], task.y) for seed in range(5)]
        return np.mean([m.predict(X) for m in members], axis=0)

    mean = benchmark.pedantic(work, rounds=1, iterations=1)
    tau = task.tau(mean)
    record(
        benchmark, "baseline", "time", tau=tau,
        detail=f"5 scikit-learn MLPRegressor fits and predictions, same settings: tau {tau:.3f}",
    )
    assert tau > 0.3


# ----------------------------------------------------------------------------- graph network

GCN_K = 20


@pytest.mark.benchmark(group="predictor-gcn")
def test_gcn_nasfast(benchmark: Any, task: Task) -> None:
    X = task.X("adjacency")
    pred = benchmark.pedantic(lambda: GCNRegressor(random_state=0).fit(X[task.train], task.y).predict(X), rounds=1, iterations=1)
    tau = task.tau(pred)
    record(
        benchmark, "nasfast", "time", tau=tau, detail=f"tau {tau:.3f}",
        operation="GCNRegressor (4 layers of 32, 100 epochs): fit on 150 cells, predict 423,624 (adjacency)",
    )
    assert tau > 0.4


@pytest.mark.benchmark(group="predictor-gcn")
def test_gcn_baseline(benchmark: Any, task: Task) -> None:
    X = task.X("adjacency")
    ours = GCNRegressor(random_state=0).fit(X[task.train], task.y)
    # the initial weights and batch orders GCNRegressor(random_state=0).fit draws, in its order
    rng = np.random.RandomState(0)
    init = gcn_module._init_params(rng, ours.n_ops + 2, ours.hidden, ours.n_layers, np.float32)
    orders = [rng.permutation(N_TRAIN) for _ in range(ours.epochs)]
    target = ((task.y - task.y.mean()) / task.y.std()).astype(np.float32)
    rows = np.arange(0, len(X), GCN_K)
    train_cells = ref_cells(task.cells[task.train])
    params, pred, scale = scaled_baseline(
        benchmark,
        lambda: ref.gcn_fit_per_graph(train_cells, target, init, orders, ours.batch_size, ours.learning_rate, ours.weight_decay),
        lambda p: ref.gcn_predict_per_graph(ref_cells(task.cells[rows]), p),
        GCN_K,
    )
    record(
        benchmark, "baseline", "time", scale=scale, note=SCALED_NOTE.format(k=GCN_K),
        detail="the same network and training, per graph in plain numpy",
    )
    # same initial weights, batches and arithmetic up to the order of float32 sums (which makes
    # 500 Adam steps drift apart a little)
    ours_pred = (ours.predict(X[rows]) - ours.y_mean_) / ours.y_scale_
    diff = np.abs(ours_pred - pred) / float(np.std(pred))
    assert kendalltau(ours_pred, pred)[0] > 0.95
    assert np.median(diff) < 0.01 and np.quantile(diff, 0.99) < 0.05 and diff.max() < 0.15, (
        np.median(diff), np.quantile(diff, 0.99), diff.max()
    )


def ref_cells(batch: CellBatch) -> list[ref.Cell]:
    adjacency = batch.adjacency.astype(np.int64)
    return [(adjacency[i, :m, :m].copy(), batch.ops[i, :m].tolist()) for i, m in enumerate(batch.num_vertices.tolist())]
