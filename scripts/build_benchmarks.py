"""Rebuild the benchmark tables shipped in ``python/nasfast/data`` from ``nb101_real20k.csv``.

Usage (from the repository root)::

    python scripts/build_benchmarks.py [--csv tests/data/nb101_real20k.csv.xz] [--out python/nasfast/data]

The CSV (plain or xz-compressed) defaults to the copy in ``tests/data``. Writes
``nb101-real20k.npz`` (the 20,001 real cells of ``nb101_real20k.csv``) and
``nb101-surrogate.npz`` (predictions for all 423,624 cells), and prints the surrogate's fidelity
on a held-out random 20% of the real cells (Kendall tau, Spearman, top-1% recall), which is also
stored in the description of the surrogate table. Everything is seeded: the same inputs give
the same files.
"""

from __future__ import annotations

import argparse
import json
import lzma
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau, spearmanr  # type: ignore[import-untyped]

from nasfast import SearchSpace
from nasfast.benchmarks import TabularBenchmark, from_csv
from nasfast.benchmarks._surrogate import AccuracyModel, CostModel, holdout_split, surrogate_features
from nasfast.benchmarks._table import save_table
from nasfast.benchmarks._tfrecord import NB101_CITATION

ROOT = Path(__file__).resolve().parents[1]
REAL_METRICS = ["val_acc_4", "val_acc_12", "val_acc_36", "val_acc_108", "train_time_108_s", "params"]


def compact(values: np.ndarray) -> np.ndarray:
    """The smallest of int32 / float32 / float64 that holds ``values`` exactly."""
    finite = values[~np.isnan(values)]
    if len(finite) == len(values) and (finite == np.round(finite)).all() and np.abs(finite).max() < 2**31:
        return values.astype(np.int32)
    as32 = values.astype(np.float32)
    return as32 if np.array_equal(as32.astype(np.float64), values, equal_nan=True) else values


def build_real(csv_path: Path, out: Path) -> TabularBenchmark:
    """Writes ``nb101-real20k.npz`` from ``nb101_real20k.csv`` (``.csv`` or ``.csv.xz``)."""
    if csv_path.suffix == ".xz":
        with tempfile.TemporaryDirectory() as tmp:
            plain = Path(tmp) / csv_path.stem
            plain.write_bytes(lzma.decompress(csv_path.read_bytes()))
            return build_real(plain, out)
    bench = from_csv(
        csv_path,
        name="nb101-real20k",
        metrics=REAL_METRICS,
        citation=NB101_CITATION,
        description="20,001 real NAS-Bench-101 cells (CIFAR-10, one training run each; the 20,001 smallest hashes)",
    )
    real = TabularBenchmark(
        bench.name,
        bench.space,
        bench.cells,
        {m: compact(bench.values(m)) for m in bench.metrics},
        cost_metric="train_time_108_s",
        default_metric="val_acc_108",
        citation=bench.citation,
        description=bench.description,
    )
    save_table(real, out / "nb101-real20k.npz")
    return real


def top_recall(pred: np.ndarray, true: np.ndarray, fraction: float = 0.01) -> float:
    k = max(1, int(np.ceil(fraction * len(true))))
    return len(set(np.argsort(-true, kind="stable")[:k]) & set(np.argsort(-pred, kind="stable")[:k])) / k


def fidelity(real: TabularBenchmark, features: np.ndarray) -> dict[str, float]:
    train, test = holdout_split(len(real))
    y, t = real.values("val_acc_108"), real.values("train_time_108_s")
    acc = AccuracyModel().fit(features[train], y[train]).predict(features[test])
    cost = CostModel().fit(features[train], t[train]).predict(features[test])
    return {
        "held_out_cells": int(len(test)),
        "kendall_tau": float(kendalltau(acc, y[test])[0]),
        "spearman": float(spearmanr(acc, y[test])[0]),
        "top1pct_recall": top_recall(acc, y[test]),
        "cost_spearman": float(spearmanr(cost, t[test])[0]),
        "cost_median_abs_rel_error": float(np.median(np.abs(cost - t[test]) / t[test])),
    }


def build_surrogate(real: TabularBenchmark, features: np.ndarray, fid: dict[str, float], out: Path) -> TabularBenchmark:
    acc = AccuracyModel().fit(features, real.values("val_acc_108"))
    cost = CostModel().fit(features, real.values("train_time_108_s"))
    cells = SearchSpace.nb101().enumerate()
    everything = surrogate_features(cells)
    description = (
        "HistGradientBoosting surrogate of val_acc_108 and train_time_108_s for all 423,624 NAS-Bench-101 cells, "
        f"fit on nb101-real20k; held-out 20%: Kendall tau {fid['kendall_tau']:.3f}, Spearman {fid['spearman']:.3f}, "
        f"top-1% recall {fid['top1pct_recall']:.2f}"
    )
    bench = TabularBenchmark(
        "nb101-surrogate",
        cells.space,
        cells,
        {
            "val_acc_108": acc.predict(everything).astype(np.float32),
            "train_time_108_s": cost.predict(everything).astype(np.float32),
        },
        cost_metric="train_time_108_s",
        default_metric="val_acc_108",
        citation="Surrogate fit on data of " + NB101_CITATION,
        description=description,
    )
    save_table(bench, out / "nb101-surrogate.npz")
    return bench


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--csv", type=Path, default=ROOT / "tests" / "data" / "nb101_real20k.csv.xz",
        help="nb101_real20k.csv, plain or xz-compressed (default: the copy in tests/data)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "python" / "nasfast" / "data")
    args = parser.parse_args()
    start = time.perf_counter()
    real = build_real(args.csv, args.out)
    features = surrogate_features(real.cells)
    fid = fidelity(real, features)
    print(json.dumps(fid, indent=2))
    surrogate = build_surrogate(real, features, fid, args.out)
    values = surrogate.values()
    top = np.sort(values)[::-1]
    print(f"surrogate: max {top[0]:.6f}, cells at the max {int((values == top[0]).sum())}, 100th {top[99]:.6f}")
    for f in ("nb101-real20k.npz", "nb101-surrogate.npz"):
        print(f"{f}: {(args.out / f).stat().st_size / 1e6:.2f} MB")
    print(f"done in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
