"""The ranking metrics, the predictor evaluation and the ``nasfast predictors`` command, against
independent references (pair-counting Kendall tau, hand-computed precisions, a perfect predictor)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.base import BaseEstimator, RegressorMixin

import reference as ref
from nasfast import SearchSpace
from nasfast.benchmarks import TabularBenchmark
from nasfast.cli import main
from nasfast.predictors import Entry, GCNRegressor, evaluate_predictors, normal_scores, ranking_metrics, top_precision

# ------------------------------------------------------------------------------ metrics


def test_top_precision_hand_computed() -> None:
    y = np.arange(1.0, 21.0)  # 20 cells; top 10% = the 2 best (19, 20)
    pred = np.array([20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 19, 18], dtype=float)
    # predicted top 2 = cells 0 (y=1) and 18 (y=19): one hit
    assert top_precision(y, pred, fraction=0.1) == 0.5
    assert top_precision(y, y, fraction=0.1) == 1.0
    assert top_precision(y, -y, fraction=0.1) == 0.0
    # ties at the cut share the remaining place: cells 18 and 19 (y = 19, 20) and cell 0 (y=1)
    # tie for the 2 places behind nobody -> expected hits 2 * 2/3
    tied = np.zeros(20)
    tied[[0, 18, 19]] = 5.0
    assert top_precision(y, tied, fraction=0.1) == pytest.approx(2 * (2 / 3) / 2)
    # one clear winner (a hit), then a 4-way tie for the last place holding one hit
    pred2 = np.zeros(20)
    pred2[19] = 9.0
    pred2[[0, 1, 2, 18]] = 3.0
    assert top_precision(y, pred2, fraction=0.1) == pytest.approx((1 + 1 / 4) / 2)
    # true ties at the threshold are all targets: values 1,1,2,2,2 -> k = 1, threshold 2
    assert top_precision([1, 1, 2, 2, 2], [5, 4, 3, 2, 1], fraction=0.2) == 0.0
    assert top_precision([1, 1, 2, 2, 2], [1, 2, 3, 4, 5], fraction=0.2) == 1.0


def test_ranking_metrics_match_pair_counting_references(rng: np.random.Generator) -> None:
    y = rng.integers(0, 6, 40).astype(float)  # ties in both
    pred = y + rng.integers(-3, 4, 40)
    m = ranking_metrics(y, pred)
    assert m["kendall_tau"] == pytest.approx(ref.kendall_tau_b(y, pred), abs=1e-12)
    ry, rp = ref.average_ranks(y), ref.average_ranks(pred)
    assert m["spearman"] == pytest.approx(np.corrcoef(ry, rp)[0, 1], abs=1e-12)
    assert np.isnan(ranking_metrics(y, np.ones(40))["kendall_tau"])


@pytest.mark.parametrize(
    "args, match",
    [(([1, 2], [1]), "must match"), (([], []), "empty"), (([1, np.nan], [1, 2]), "finite")],
)
def test_metric_errors(args: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ranking_metrics(*args)


def test_top_precision_refuses_a_bad_fraction() -> None:
    with pytest.raises(ValueError, match="fraction = 0"):
        top_precision([1, 2], [1, 2], fraction=0)


# ------------------------------------------------------------------------------ evaluation


class Lookup(RegressorMixin, BaseEstimator):
    """A perfect predictor on a synthetic table: the value is a fixed function of the features."""

    def __init__(self, weights: Any = None) -> None:
        self.weights = weights

    def fit(self, X: Any, y: Any) -> Lookup:
        Lookup.fitted.append(np.asarray(X).copy())
        self.n_features_in_ = np.asarray(X).shape[1]
        return self

    def predict(self, X: Any) -> Any:
        return np.asarray(X, dtype=np.float64) @ np.asarray(self.weights)

    fitted: list[np.ndarray] = []


@pytest.fixture(scope="module")
def synthetic_bench() -> tuple[TabularBenchmark, np.ndarray]:
    space = SearchSpace(6, 9, ["a", "b"])
    all_cells = space.enumerate()[:900]
    # integer weights: the values are exact, so the lookup's predictions tie exactly where they do
    w = np.random.default_rng(3).integers(-50, 51, size=space.encoding_dim("path-count")).astype(np.float64)
    values = all_cells.encode("path-count").astype(np.float64) @ w
    bench = TabularBenchmark("toy", space, all_cells, {"val_acc_108": values})
    return bench, w


def test_evaluation_with_a_perfect_and_a_real_predictor(synthetic_bench: Any, tmp_path: Path) -> None:
    bench, w = synthetic_bench
    Lookup.fitted.clear()
    predictors = {"lookup": Lookup(w), "gcn": GCNRegressor(max_vertices=6, n_ops=2, epochs=10)}
    ev = evaluate_predictors(
        bench, entries=[("lookup", "path-count"), Entry("lookup", "path-count", "none"), ("gcn", "adjacency")],
        predictors=predictors, sizes=[20, 50], seeds=2, out=tmp_path / "ev",
    )
    assert len(ev.records) == 2 * 2 * 3
    for r in ev.records:
        assert r["n_test"] == 900 - r["n_train"]
        if r["predictor"] == "lookup":
            assert r["kendall_tau"] == pytest.approx(1.0) and r["top_precision"] == 1.0
    # the training cells of one seed are nested across sizes and the same for every entry
    pc = bench.cells.encode("path-count")
    first = Lookup.fitted[0]
    assert len(first) == 20 and np.array_equal(Lookup.fitted[2][:20], first)  # seed 0: n = 20, then n = 50
    assert np.array_equal(Lookup.fitted[1], first)  # the raw-target entry saw the same cells
    rows = {row.tobytes() for row in pc.astype(np.float32)}
    assert all(r.tobytes() in rows for r in first)
    assert not np.array_equal(Lookup.fitted[4][:20], first)  # seed 1 draws other cells
    summary = ev.summary()
    assert {(s["predictor"], s["target_transform"], s["n_train"]) for s in summary} >= {("lookup", "none", 50), ("gcn", "normal-scores", 20)}
    assert ev.best(50)["predictor"] == "lookup"
    for name in ("records.csv", "summary.csv", "summary.json", "report.md", "tau.png"):
        assert (tmp_path / "ev" / name).stat().st_size > 0
    assert "| lookup | path-count | none | 1.000 ± 0.000 | 1.000 ± 0.000 |" in ev.table()


def test_evaluation_fixed_test_subset_and_errors(synthetic_bench: Any) -> None:
    bench, w = synthetic_bench
    ev = evaluate_predictors(bench, entries=[("lookup", "path-count")], predictors={"lookup": Lookup(w)},
                             sizes=[30], seeds=2, max_test=200)
    assert [r["n_test"] for r in ev.records] == [200, 200]
    with pytest.raises(ValueError, match="unknown predictor 'nope'"):
        evaluate_predictors(bench, entries=[("nope", "path")], predictors={"lookup": Lookup(w)})
    with pytest.raises(ValueError, match="size 900"):
        evaluate_predictors(bench, entries=[("lookup", "path-count")], predictors={"lookup": Lookup(w)}, sizes=[900])
    with pytest.raises(ValueError, match="target_transform = 'log'"):
        evaluate_predictors(bench, entries=[("lookup", "path-count")], predictors={"lookup": Lookup(w)}, target_transform="log")
    with pytest.raises(ValueError, match="'paths' is not an encoding"):
        evaluate_predictors(bench, entries=[("lookup", "paths")], predictors={"lookup": Lookup(w)})


def test_normal_scores_keep_the_ranking_of_a_rank_based_predictor() -> None:
    y = np.array([0.93, 0.10, 0.94, 0.91, 0.92])
    np.testing.assert_array_equal(np.argsort(normal_scores(y)), np.argsort(y))


def test_cli_writes_the_tables(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli"
    code = main([
        "predictors", "--benchmark", "nb101-real20k", "--predictor", "forest", "--encoding", "path",
        "--sizes", "20,40", "--seeds", "1", "--max-test", "500", "--out", str(out), "--no-progress", "--jobs", "1",
    ])
    assert code == 0
    text = capsys.readouterr().out
    assert "| forest | path | none |" in text and "| forest | path | normal-scores |" in text
    assert (out / "report.md").is_file() and (out / "tau.png").is_file()
    assert main(["predictors", "--predictor", "nope", "--out", str(out)]) == 2
