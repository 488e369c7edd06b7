"""The predictor evaluation: every predictor and encoding, fitted on n cells of a benchmark drawn
uniformly, ranks the cells it was not fitted on.

``evaluate_predictors("nb101-real20k")`` (or ``nasfast predictors --benchmark nb101-real20k``)
fits each entry (a predictor and an encoding) on n = 20, 50, 100, 200 and 500 cells per seed and
scores the held-out cells: Kendall tau, Spearman's rho, the precision of the predicted top 1%
(:mod:`nasfast.predictors._metrics`), and the fit and predict times. The training cells of one
seed are nested (the first n of one random permutation), so that the sizes are compared on the
same draws, and every entry sees the same cells.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Union

import numpy as np
import numpy.typing as npt
from sklearn.base import clone
from threadpoolctl import threadpool_limits

from .._core import CellBatch, SearchSpace
from ._encoding import encode, encoding_parts
from ._metrics import ranking_metrics
from ._target import normal_scores
from .forest import ForestRegressor
from .gbm import GBMRegressor
from .gcn import GCNRegressor
from .gp import GPRegressor
from .mlp import MLPEnsembleRegressor

__all__ = [
    "DEFAULT_ENTRIES",
    "DEFAULT_SIZES",
    "TARGET_TRANSFORMS",
    "Entry",
    "PredictorEvaluation",
    "default_predictors",
    "evaluate_predictors",
]

#: Training-set sizes of the evaluation.
DEFAULT_SIZES = (20, 50, 100, 200, 500)
#: Target transforms: the name and the function applied to the training targets.
TARGET_TRANSFORMS: dict[str, Optional[Callable[[npt.ArrayLike], npt.NDArray[np.float64]]]] = {
    "normal-scores": normal_scores,
    "none": None,
}
#: Rows converted to float32 and predicted at once.
_CHUNK = 65_536
#: Columns of the per-run records, in order.
RECORD_FIELDS = (
    "predictor", "encoding", "target_transform", "n_train", "seed", "n_test",
    "kendall_tau", "spearman", "top_precision", "fit_seconds", "predict_seconds",
)
#: The statistics of a summary row.
METRICS = ("kendall_tau", "spearman", "top_precision", "fit_seconds", "predict_seconds")


@dataclass(frozen=True)
class Entry:
    """One row of the evaluation: a predictor (by name) on an encoding, with a target transform.

    ``target_transform=None`` uses the evaluation's ``target_transform``.
    """

    predictor: str
    encoding: str
    target_transform: Optional[str] = None

    @property
    def label(self) -> str:
        """``predictor / encoding`` (and the transform when it is set)."""
        text = f"{self.predictor} / {self.encoding}"
        return text if self.target_transform is None else f"{text} (targets: {self.target_transform})"


#: The entries of the evaluation: every predictor on its natural encodings, including the
#: combined one, and the forest and the GP also on raw targets (the effect of the normal scores).
DEFAULT_ENTRIES = (
    Entry("forest", "path", "none"),
    Entry("forest", "path"),
    Entry("forest", "adjacency"),
    Entry("forest", "adjacency+path-count"),
    Entry("gbm", "path"),
    Entry("gbm", "adjacency+path-count"),
    Entry("gp", "path"),
    Entry("gp", "adjacency"),
    Entry("gp", "adjacency+path-count"),
    Entry("gp", "adjacency+path-count", "none"),
    Entry("mlp-ensemble", "path"),
    Entry("mlp-ensemble", "adjacency+path-count"),
    Entry("gcn", "adjacency"),
)


def default_predictors(space: SearchSpace, n_jobs: Optional[int] = None) -> dict[str, Any]:
    """The predictors of the evaluation, by name (unfitted; cloned and seeded per run).

    - ``"forest"``: :class:`ForestRegressor` with the search's default settings (100 trees,
      leaves of at least 2 cells, half the features per split);
    - ``"gbm"``: :class:`GBMRegressor` (histogram gradient boosting, small-data defaults);
    - ``"gp"``: :class:`GPRegressor` (constant x RBF + white noise);
    - ``"mlp-ensemble"``: :class:`MLPEnsembleRegressor` (BANANAS: 5 networks of 10 x 20);
    - ``"gcn"``: :class:`GCNRegressor` for ``space`` (reads the adjacency encoding).
    """
    return {
        "forest": ForestRegressor(n_estimators=100, min_samples_leaf=2, max_features=0.5, n_jobs=n_jobs),
        "gbm": GBMRegressor(),
        "gp": GPRegressor(),
        "mlp-ensemble": MLPEnsembleRegressor(),
        "gcn": GCNRegressor(max_vertices=space.max_vertices, n_ops=space.num_ops),
    }


def _as_entry(item: Any) -> Entry:
    if isinstance(item, Entry):
        return item
    if isinstance(item, (tuple, list)) and len(item) in (2, 3) and all(isinstance(x, str) or x is None for x in item):
        return Entry(*item)
    raise TypeError(f"entry {item!r}: expected an Entry or a tuple (predictor, encoding[, target_transform])")


def _check_transform(name: Optional[str]) -> str:
    key = "none" if name is None else name
    if key not in TARGET_TRANSFORMS:
        raise ValueError(f"target_transform = {name!r}: expected one of {sorted(TARGET_TRANSFORMS)} (or None)")
    return key


def _summary_stats(values: Sequence[float]) -> tuple[float, float]:
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return math.nan, math.nan
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0


@dataclass
class PredictorEvaluation:
    """The records of an evaluation (one per entry, training size and seed) and their summaries.

    Attributes
    ----------
    benchmark : str
    n_cells : int
        Cells of the benchmark.
    test : str
        Which cells were scored: ``"the rest of the table"`` or the fixed held-out subset.
    sizes : tuple of int
    seeds : int
    target_transform : str
        The default transform of the entries.
    entries : list of Entry
    records : list of dict
        Fields ``RECORD_FIELDS``.
    """

    benchmark: str
    n_cells: int
    test: str
    sizes: tuple[int, ...]
    seeds: int
    target_transform: str
    entries: list[Entry]
    records: list[dict[str, Any]] = field(default_factory=list)

    def _key(self, e: Entry) -> tuple[str, str, str]:
        return (e.predictor, e.encoding, e.target_transform or self.target_transform)

    def summary(self) -> list[dict[str, Any]]:
        """One row per entry and training size: the mean and standard deviation (over seeds)
        of every metric, and the number of seeds."""
        rows = []
        for e in self.entries:
            pred, enc, tt = self._key(e)
            for n in self.sizes:
                rs = [r for r in self.records if (r["predictor"], r["encoding"], r["target_transform"], r["n_train"]) == (pred, enc, tt, n)]
                if not rs:
                    continue
                row: dict[str, Any] = {"predictor": pred, "encoding": enc, "target_transform": tt, "n_train": n, "seeds": len(rs)}
                for m in METRICS:
                    row[f"{m}_mean"], row[f"{m}_std"] = _summary_stats([r[m] for r in rs])
                row["n_test"] = int(np.mean([r["n_test"] for r in rs]))
                rows.append(row)
        return rows

    def best(self, n_train: int, metric: str = "kendall_tau") -> dict[str, Any]:
        """The summary row with the largest mean ``metric`` at ``n_train`` cells."""
        rows = [r for r in self.summary() if r["n_train"] == n_train and np.isfinite(r[f"{metric}_mean"])]
        if not rows:
            raise ValueError(f"n_train = {n_train}: not evaluated (sizes: {self.sizes})")
        return max(rows, key=lambda r: r[f"{metric}_mean"])

    def table(self, metric: str = "kendall_tau", digits: int = 3) -> str:
        """A Markdown table of ``metric`` (mean ± standard deviation over seeds): one row per
        entry, one column per training size."""
        if metric not in METRICS:
            raise ValueError(f"metric = {metric!r}: expected one of {METRICS}")
        summary = {(r["predictor"], r["encoding"], r["target_transform"], r["n_train"]): r for r in self.summary()}
        head = "| predictor | encoding | targets | " + " | ".join(f"n = {n}" for n in self.sizes) + " |"
        lines = [head, "|---|---|---|" + "---|" * len(self.sizes)]
        for e in self.entries:
            key = self._key(e)
            cells = []
            for n in self.sizes:
                r = summary.get((*key, n))
                if r is None or not np.isfinite(r[f"{metric}_mean"]):
                    cells.append("—")
                else:
                    cells.append(f"{r[f'{metric}_mean']:.{digits}f} ± {r[f'{metric}_std']:.{digits}f}")
            lines.append(f"| {key[0]} | {key[1]} | {key[2]} | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def details_table(self, n_train: int) -> str:
        """A Markdown table of every metric at one training size (means over seeds)."""
        rows = [r for r in self.summary() if r["n_train"] == n_train]
        lines = [
            "| predictor | encoding | targets | Kendall tau | Spearman | top-1% precision | fit (s) | predict (s) |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in rows:
            lines.append(
                f"| {r['predictor']} | {r['encoding']} | {r['target_transform']} | {r['kendall_tau_mean']:.3f} | "
                f"{r['spearman_mean']:.3f} | {r['top_precision_mean']:.3f} | {r['fit_seconds_mean']:.3g} | "
                f"{r['predict_seconds_mean']:.3g} |"
            )
        return "\n".join(lines)

    def report(self) -> str:
        """The Markdown report: set-up, Kendall tau and top-1% precision per size, every
        metric at each size."""
        parts = [
            f"# Predictor evaluation: {self.benchmark}",
            "",
            f"{self.n_cells:,} cells; training cells drawn uniformly ({self.seeds} seeds, nested sizes); "
            f"scored on {self.test}; targets: {self.target_transform} unless stated.",
            "",
            "## Kendall tau (mean ± standard deviation over seeds)",
            "",
            self.table("kendall_tau"),
            "",
            "## Precision of the predicted top 1%",
            "",
            self.table("top_precision"),
            "",
            "## Spearman's rho",
            "",
            self.table("spearman"),
        ]
        for n in self.sizes:
            parts += ["", f"## Every metric at n = {n} (means; fit and predict in seconds, wall clock)", "", self.details_table(n)]
        return "\n".join(parts) + "\n"

    def plot(self, path: Union[str, Path]) -> Path:
        """A PNG of Kendall tau and top-1% precision against the training size, one line per
        entry (mean over seeds, with the standard deviation as error bars; colour: predictor,
        marker: encoding, dashed: another target transform than the evaluation's)."""
        import matplotlib
        import matplotlib.ticker

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        path = Path(path)
        fig, axes = plt.subplots(1, 2, figsize=(13, 5.5))
        summary = self.summary()
        cmap = plt.get_cmap("tab10")
        names = list(dict.fromkeys(e.predictor for e in self.entries))
        markers = {"path": "o", "adjacency": "s", "adjacency+path-count": "^", "path-count": "v", "path-trunc": "x"}
        for e in self.entries:
            key = self._key(e)
            rows = [r for r in summary if (r["predictor"], r["encoding"], r["target_transform"]) == key]
            if not rows:
                continue
            x = [r["n_train"] for r in rows]
            raw = key[2] != self.target_transform
            label = f"{key[0]} / {key[1]}" + (f" (targets: {key[2]})" if raw else "")
            for ax, m in zip(axes, ("kendall_tau", "top_precision")):
                ax.errorbar(
                    x, [r[f"{m}_mean"] for r in rows], yerr=[r[f"{m}_std"] for r in rows], label=label,
                    color=cmap(names.index(key[0]) % 10), ls="--" if raw else "-", marker=markers.get(key[1], "D"),
                    ms=4, capsize=2, lw=1.2,
                )
        for ax, title in zip(axes, ("Kendall tau on the held-out cells", "precision of the predicted top 1%")):
            ax.set_xscale("log")
            ax.set_xticks(list(self.sizes))
            ax.set_xticklabels([str(n) for n in self.sizes])
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
            ax.set_xlabel("training cells")
            ax.set_title(title)
            ax.grid(alpha=0.3)
        axes[0].axhline(0.6, color="grey", lw=0.8, ls=":")
        axes[1].legend(fontsize=7, loc="upper left")
        fig.suptitle(f"{self.benchmark}: {self.seeds} seeds, scored on {self.test}")
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)
        plt.close(fig)
        return path

    def save(self, out: Union[str, Path]) -> Path:
        """Writes ``records.csv``, ``summary.csv``, ``summary.json``, ``report.md`` and
        ``tau.png`` to the folder ``out`` (created); returns it."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        with (out / "records.csv").open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(RECORD_FIELDS))
            w.writeheader()
            w.writerows(self.records)
        summary = self.summary()
        if summary:
            with (out / "summary.csv").open("w", newline="") as f:
                w = csv.DictWriter(f, fieldnames=list(summary[0]))
                w.writeheader()
                w.writerows(summary)
        meta = {
            "benchmark": self.benchmark, "n_cells": self.n_cells, "test": self.test, "sizes": list(self.sizes),
            "seeds": self.seeds, "target_transform": self.target_transform,
        }
        (out / "summary.json").write_text(json.dumps({**meta, "summary": summary}, indent=1, allow_nan=True))
        (out / "report.md").write_text(self.report())
        self.plot(out / "tau.png")
        return out


def _progress_line(done: int, total: int, start: float, text: str) -> str:
    elapsed = time.perf_counter() - start
    eta = f"{elapsed / done * (total - done):.0f} s left" if done else "? s left"
    return f"[{done}/{total}] {text}  ({elapsed:.0f} s, {eta})"


def _predict_rows(model: Any, X: npt.NDArray[np.uint8], rows: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    out = np.empty(len(rows))
    for a in range(0, len(rows), _CHUNK):
        idx = rows[a : a + _CHUNK]
        out[a : a + len(idx)] = np.asarray(model.predict(X[idx].astype(np.float32)), dtype=np.float64).reshape(-1)
    return out


def evaluate_predictors(
    benchmark: Any = "nb101-real20k",
    *,
    entries: Optional[Sequence[Any]] = None,
    predictors: Optional[Mapping[str, Any]] = None,
    sizes: Sequence[int] = DEFAULT_SIZES,
    seeds: int = 5,
    target_transform: Optional[str] = "normal-scores",
    max_test: Optional[int] = None,
    metric: Optional[str] = None,
    random_state: int = 0,
    n_jobs: Optional[int] = None,
    progress: bool = False,
    out: Optional[Union[str, Path]] = None,
) -> PredictorEvaluation:
    """Fits every entry on n cells of a benchmark per seed and scores the held-out cells.

    For every seed, the cells that may be trained on are shuffled once and the first n are the
    training cells for every n in ``sizes`` and every entry; the entry's predictor (a clone,
    seeded from the seed when it has a ``random_state``) is fitted on their encodings and the
    transformed targets, then predicts the held-out cells, which are compared with their true
    values (:func:`ranking_metrics`: Kendall tau, Spearman's rho, top-1% precision).

    Parameters
    ----------
    benchmark : str or TabularBenchmark
        A name for :func:`nasfast.benchmarks.load` (e.g. ``"nb101-real20k"``,
        ``"nb101-surrogate"``) or a loaded benchmark.
    entries : sequence of Entry or (predictor, encoding[, target_transform]) tuples, optional
        ``None``: :data:`DEFAULT_ENTRIES`.
    predictors : mapping of name to scikit-learn regressor, optional
        The predictors the entries name. ``None``: :func:`default_predictors`.
    sizes : sequence of int
        Training-set sizes.
    seeds : int
        Repetitions (independent draws of the training cells).
    target_transform : {"normal-scores", "none", None}
        Applied to the training targets of every entry that does not set its own.
    max_test : int, optional
        Score a fixed random subset of this many cells (drawn once from ``random_state``; the
        training cells are drawn from the other cells) instead of all the cells not trained
        on. ``None``: all of them.
    metric : str, optional
        The benchmark's metric (default: its default metric).
    random_state : int
        Base seed: seed s draws its training cells from ``(random_state, s)``.
    n_jobs : int, optional
        Threads of the core forest and the encoders; when set, also the limit of the BLAS and
        OpenMP thread pools (numpy, scikit-learn) during the evaluation. ``None``: all cores.
    progress : bool
        Print a line per fitted model to stderr (redrawn in place on a terminal).
    out : path, optional
        Save the results there (:meth:`PredictorEvaluation.save`).

    Returns
    -------
    PredictorEvaluation

    Raises
    ------
    ValueError
        If a size is not a positive int smaller than the cells that can be trained on, an
        entry names an unknown predictor, encoding or transform, or ``seeds`` < 1.

    Examples
    --------
    >>> from nasfast.predictors import evaluate_predictors
    >>> ev = evaluate_predictors("nb101-real20k", entries=[("forest", "path")], sizes=[20], seeds=1, max_test=2000)
    >>> len(ev.records)
    1
    """
    from ..benchmarks import load

    bench = load(benchmark) if isinstance(benchmark, str) else benchmark
    name = bench.name
    cells: CellBatch = bench.cells
    y_all = np.asarray(bench.values(metric), dtype=np.float64)
    n_cells = len(y_all)
    default_tt = _check_transform(target_transform)
    entry_list = [_as_entry(e) for e in (DEFAULT_ENTRIES if entries is None else entries)]
    if not entry_list:
        raise ValueError("entries is empty")
    models = dict(default_predictors(cells.space, n_jobs=n_jobs) if predictors is None else predictors)
    for e in entry_list:
        if e.predictor not in models:
            raise ValueError(f"entry {e.label!r}: unknown predictor {e.predictor!r}; known: {sorted(models)}")
        encoding_parts(e.encoding)
        if e.target_transform is not None:
            _check_transform(e.target_transform)
    if isinstance(seeds, bool) or not isinstance(seeds, (int, np.integer)) or seeds < 1:
        raise ValueError(f"seeds = {seeds!r}: must be an int >= 1")
    base = np.random.default_rng(random_state)
    if max_test is None:
        test_fixed: Optional[npt.NDArray[np.int64]] = None
        pool = np.arange(n_cells)
        test_text = "the rest of the table"
    else:
        if isinstance(max_test, bool) or not isinstance(max_test, (int, np.integer)) or not 1 <= max_test < n_cells:
            raise ValueError(f"max_test = {max_test!r}: must be an int between 1 and {n_cells - 1:,}")
        test_fixed = np.sort(base.choice(n_cells, int(max_test), replace=False))
        pool = np.setdiff1d(np.arange(n_cells), test_fixed)
        test_text = f"a fixed random subset of {int(max_test):,} cells (not trained on)"
    size_list = []
    for n in sizes:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 2 <= n < len(pool):
            raise ValueError(f"size {n!r}: must be an int between 2 and {len(pool) - 1:,} (cells that can be trained on)")
        size_list.append(int(n))
    size_tuple = tuple(sorted(set(size_list)))

    # encodings once, stored compactly (the encodings are small integers)
    features: dict[str, npt.NDArray[Any]] = {}
    for kind in dict.fromkeys(e.encoding for e in entry_list):
        X = encode(cells, kind, n_jobs=n_jobs)
        small = X.size == 0 or (X.min() >= 0 and X.max() <= 255 and np.array_equal(X, np.round(X)))
        features[kind] = X.astype(np.uint8) if small else X
        del X

    result = PredictorEvaluation(
        benchmark=str(name), n_cells=n_cells, test=test_text, sizes=size_tuple, seeds=int(seeds),
        target_transform=default_tt, entries=entry_list,
    )
    limits = threadpool_limits(limits=int(n_jobs)) if n_jobs not in (None, -1) else contextlib.nullcontext()
    with limits:
        _run(result, features, y_all, pool, test_fixed, models, default_tt, int(random_state), progress)
    if out is not None:
        result.save(out)
    return result


def _run(
    result: PredictorEvaluation,
    features: dict[str, npt.NDArray[Any]],
    y_all: npt.NDArray[np.float64],
    pool: npt.NDArray[np.int64],
    test_fixed: Optional[npt.NDArray[np.int64]],
    models: Mapping[str, Any],
    default_tt: str,
    random_state: int,
    progress: bool,
) -> None:
    """The loop of :func:`evaluate_predictors`: appends one record per fitted model."""
    entry_list, size_tuple, seeds, n_cells = result.entries, result.sizes, result.seeds, result.n_cells
    total = int(seeds) * len(size_tuple) * len(entry_list)
    start = time.perf_counter()
    tty = bool(getattr(sys.stderr, "isatty", lambda: False)())
    done = 0
    for seed in range(int(seeds)):
        rng = np.random.default_rng([int(random_state), seed])
        order = rng.permutation(pool)
        model_seed = int(rng.integers(0, 2**31 - 1))
        for n in size_tuple:
            train = order[:n]
            if test_fixed is None:
                mask = np.ones(n_cells, dtype=bool)
                mask[train] = False
                test = np.flatnonzero(mask)
            else:
                test = test_fixed
            for e in entry_list:
                tt = e.target_transform or default_tt
                transform = TARGET_TRANSFORMS[tt]
                y_train = y_all[train] if transform is None else transform(y_all[train])
                model = clone(models[e.predictor])
                params = model.get_params(deep=False)
                if "random_state" in params and params["random_state"] is None:
                    model.set_params(random_state=model_seed)
                X = features[e.encoding]
                t0 = time.perf_counter()
                model.fit(X[train].astype(np.float32), y_train)
                t1 = time.perf_counter()
                pred = _predict_rows(model, X, test)
                t2 = time.perf_counter()
                scores = ranking_metrics(y_all[test], pred, fraction=0.01) if np.all(np.isfinite(pred)) else {
                    "kendall_tau": math.nan, "spearman": math.nan, "top_precision": math.nan,
                }
                result.records.append({
                    "predictor": e.predictor, "encoding": e.encoding, "target_transform": tt, "n_train": n,
                    "seed": seed, "n_test": int(len(test)), **scores, "fit_seconds": t1 - t0, "predict_seconds": t2 - t1,
                })
                done += 1
                if progress:
                    text = f"{e.label} n={n} seed {seed}: tau {scores['kendall_tau']:.3f}"
                    line = _progress_line(done, total, start, text)
                    sys.stderr.write(("\r\x1b[2K" + line) if tty else line + "\n")
                    sys.stderr.flush()
    if progress and tty:
        sys.stderr.write("\n")
