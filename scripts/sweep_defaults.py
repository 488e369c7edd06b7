"""The sweep that chooses the defaults of ``PredictorSearch``, kept so that anyone can re-run it.

Every configuration below searches every benchmark below with the same seeds (paired runs), up
to the largest budget; since no searcher depends on its budget, the best cell found after 50, 100,
150 and 300 evaluations is read off one run of 300. For every benchmark, configuration and budget
the summary gives the mean and median rank of the best cell found (1 = the best cell of the
table; ties share the best rank), how many runs found a top-0.1% cell, and the seconds per run.

    python scripts/sweep_defaults.py --out sweep-results --seeds 20 --jobs 2
    python scripts/sweep_defaults.py --out sweep-results --configs default,regularized-evolution \\
        --seed-offset 1000 --seeds 20        # a fresh seed set, to confirm a choice

The runs behind the README's table (seeds 0-19 on the real cells, 0-9 on the surrogate, whose
full-space runs take about a minute each; then a confirmation on seeds 1000-1009):

    python scripts/sweep_defaults.py --out sweep --benchmarks nb101-real20k,nb101-real20k@val_acc_36 \
        --configs forest-path-ei-raw,forest-path-ei,forest-path-greedy,forest-path-thompson,forest-adjacency-greedy,forest-adjacency-ei,forest-adjacency-thompson,forest-adjacency-ucb,forest-adjpath-ei,regularized-evolution,local-search,random-search
    python scripts/sweep_defaults.py --out sweep --benchmarks nb101-surrogate --seeds 10 \
        --configs forest-path-ei,forest-adjacency-greedy,forest-adjacency-ei,forest-adjacency-ucb,forest-adjacency-ucb-nbhd,forest-adjacency-ei-nbhd,forest-adjacency-greedy-nbhd,forest-adjacency-ucb-nbhd+random,forest-adjacency-ei-nbhd+random,regularized-evolution,local-search,random-search
    python scripts/sweep_defaults.py --out confirm --seed-offset 1000 --seeds 10 \
        --configs forest-adjacency-ucb,forest-adjacency-ucb-nbhd+random,regularized-evolution,local-search,random-search

Runs are appended to ``<out>/runs.jsonl`` as they finish; a re-run with the same ``--out`` only
runs what is missing (an interrupted sweep loses nothing). ``<out>/summary.md`` and
``<out>/summary.csv`` are rewritten at the end.

Benchmarks (``--benchmarks``):

* ``nb101-real20k``: the 20,001 real cells (``universe=bench.cells``), ``val_acc_108``;
* ``nb101-real20k@val_acc_36`` and ``nb101-real20k@val_acc_12``: the same cells, ranked by the
  accuracy after 36 or 12 epochs (other landscapes over the same cells, used to check that a
  choice made on ``val_acc_108`` carries over);
* ``nb101-surrogate``: the whole space of 423,624 cells.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

import numpy as np

BUDGETS = (50, 100, 150, 300)

#: Named configurations: a searcher class of ``nasfast.search`` and its arguments. Predictors are
#: given as ``(class name, kwargs)`` and built in the worker.
CONFIGS: dict[str, tuple[str, dict[str, Any]]] = {
    # the defaults of PredictorSearch as they are (whatever they are at the time of the run)
    "default": ("PredictorSearch", {}),
    # the defaults before the sweep: path encoding, expected improvement, raw targets
    "forest-path-ei-raw": ("PredictorSearch", {"encoding": "path", "acquisition": "ei", "target_transform": None}),
    "forest-path-greedy-raw": ("PredictorSearch", {"encoding": "path", "acquisition": "greedy", "target_transform": None}),
    "forest-path-ucb-raw": ("PredictorSearch", {"encoding": "path", "acquisition": "ucb", "target_transform": None}),
    "forest-path-thompson-raw": ("PredictorSearch", {"encoding": "path", "acquisition": "thompson", "target_transform": None}),
    # normal-score targets
    "forest-path-ei": ("PredictorSearch", {"encoding": "path", "acquisition": "ei"}),
    "forest-path-greedy": ("PredictorSearch", {"encoding": "path", "acquisition": "greedy"}),
    "forest-path-ucb": ("PredictorSearch", {"encoding": "path", "acquisition": "ucb"}),
    "forest-path-thompson": ("PredictorSearch", {"encoding": "path", "acquisition": "thompson"}),
    # encodings
    "forest-adjacency-ei": ("PredictorSearch", {"encoding": "adjacency", "acquisition": "ei"}),
    "forest-adjacency-greedy": ("PredictorSearch", {"encoding": "adjacency", "acquisition": "greedy"}),
    "forest-pathcount-ei": ("PredictorSearch", {"encoding": "path-count", "acquisition": "ei"}),
    "forest-adjpc-ei": ("PredictorSearch", {"encoding": "adjacency+path-count", "acquisition": "ei"}),
    "forest-adjpc-greedy": ("PredictorSearch", {"encoding": "adjacency+path-count", "acquisition": "greedy"}),
    # initial design
    "forest-path-ei-init5": ("PredictorSearch", {"encoding": "path", "acquisition": "ei", "n_initial": 5}),
    "forest-path-ei-init20": ("PredictorSearch", {"encoding": "path", "acquisition": "ei", "n_initial": 20}),
    "forest-adjacency-thompson": ("PredictorSearch", {"encoding": "adjacency", "acquisition": "thompson"}),
    "forest-adjacency-ucb": ("PredictorSearch", {"encoding": "adjacency", "acquisition": "ucb"}),
    "forest-adjpc-thompson": ("PredictorSearch", {"encoding": "adjacency+path-count", "acquisition": "thompson"}),
    "forest-adjpath-ei": ("PredictorSearch", {"encoding": "adjacency+path", "acquisition": "ei"}),
    "forest-adjpath-greedy": ("PredictorSearch", {"encoding": "adjacency+path", "acquisition": "greedy"}),
    "forest-adjpath-ucb": ("PredictorSearch", {"encoding": "adjacency+path", "acquisition": "ucb"}),
    "forest-adjpath-ucb-nbhd+random": ("PredictorSearch", {"encoding": "adjacency+path", "acquisition": "ucb", "candidates": {"type": "Combined", "sets": [{"type": "Neighbourhood"}, {"type": "RandomSubset", "size": 1000, "refresh": True}]}}),
    "forest-adjpath-thompson": ("PredictorSearch", {"encoding": "adjacency+path", "acquisition": "thompson"}),
    "forest-adjacency-ei-init5": ("PredictorSearch", {"encoding": "adjacency", "acquisition": "ei", "n_initial": 5}),
    "forest-adjacency-ei-init20": ("PredictorSearch", {"encoding": "adjacency", "acquisition": "ei", "n_initial": 20}),
    # other predictor families (nasfast.predictors)
    "gp-adjpc-ei": ("PredictorSearch", {"predictor": ("GPRegressor", {}), "encoding": "adjacency+path-count", "acquisition": "ei"}),
    "gp-adjpc-thompson": ("PredictorSearch", {"predictor": ("GPRegressor", {}), "encoding": "adjacency+path-count", "acquisition": "thompson"}),
    "gp-adjpc-greedy": ("PredictorSearch", {"predictor": ("GPRegressor", {}), "encoding": "adjacency+path-count", "acquisition": "greedy"}),
    "mlp-adjpc-ei": ("PredictorSearch", {"predictor": ("MLPEnsembleRegressor", {}), "encoding": "adjacency+path-count", "acquisition": "ei"}),
    "mlp-adjpc-thompson": ("PredictorSearch", {"predictor": ("MLPEnsembleRegressor", {}), "encoding": "adjacency+path-count", "acquisition": "thompson"}),
    "gbm-adjpc-greedy": ("PredictorSearch", {"predictor": ("GBMRegressor", {}), "encoding": "adjacency+path-count", "acquisition": "greedy"}),
    "gcn-greedy": ("PredictorSearch", {"predictor": ("GCNRegressor", {}), "acquisition": "greedy"}),
    # baselines
    # candidate sets for spaces too large to score whole (tried on nb101-surrogate, whose full
    # space is the reference): neighbourhoods of the best cells, plus fresh random cells
    "forest-adjacency-ucb-nbhd": ("PredictorSearch", {"encoding": "adjacency", "acquisition": "ucb", "candidates": {"type": "Neighbourhood"}}),
    "forest-adjacency-ei-nbhd": ("PredictorSearch", {"encoding": "adjacency", "acquisition": "ei", "candidates": {"type": "Neighbourhood"}}),
    "forest-adjacency-greedy-nbhd": ("PredictorSearch", {"encoding": "adjacency", "acquisition": "greedy", "candidates": {"type": "Neighbourhood"}}),
    "forest-adjacency-ucb-nbhd+random": ("PredictorSearch", {"encoding": "adjacency", "acquisition": "ucb", "candidates": {"type": "Combined", "sets": [{"type": "Neighbourhood"}, {"type": "RandomSubset", "size": 1000, "refresh": True}]}}),
    "forest-adjacency-ei-nbhd+random": ("PredictorSearch", {"encoding": "adjacency", "acquisition": "ei", "candidates": {"type": "Combined", "sets": [{"type": "Neighbourhood"}, {"type": "RandomSubset", "size": 1000, "refresh": True}]}}),
    "forest-adjacency-ucb-random10k": ("PredictorSearch", {"encoding": "adjacency", "acquisition": "ucb", "candidates": {"type": "RandomSubset", "size": 10_000, "refresh": True}}),
    "regularized-evolution": ("RegularizedEvolution", {}),
    "local-search": ("LocalSearch", {}),
    "random-search": ("RandomSearch", {}),
}

DEFAULT_CONFIGS = list(CONFIGS)
DEFAULT_BENCHMARKS = ["nb101-real20k", "nb101-real20k@val_acc_36", "nb101-surrogate"]

_CACHE: dict[str, Any] = {}


def _bench(name: str) -> tuple[Any, Any, np.ndarray]:
    """(benchmark, metric, every value of the searchable cells sorted best first)."""
    if name not in _CACHE:
        from nasfast.benchmarks import load

        base, _, metric = name.partition("@")
        bench = load(base)
        metric = metric or None
        values = np.asarray(bench.query(bench.cells, metric), dtype=np.float64)
        _CACHE[name] = (bench, metric, np.sort(values[np.isfinite(values)])[::-1])
    return _CACHE[name]


def _searcher(config: str, bench_name: str, seed: int) -> Any:
    import nasfast.predictors as predictors
    import nasfast.search as search
    from nasfast.search.registry import candidates_from_config

    cls_name, kwargs = CONFIGS[config]
    kwargs = dict(kwargs)
    if "predictor" in kwargs:
        pname, pkw = kwargs["predictor"]
        cls = getattr(predictors, pname, None) or getattr(search, pname)
        kwargs["predictor"] = cls(**pkw)
    if "candidates" in kwargs:  # given in the configuration schema of journals and studies
        kwargs["candidates"] = candidates_from_config(kwargs["candidates"])
    bench, _, _ = _bench(bench_name)
    universe = None if bench.name == "nb101-surrogate" else bench.cells
    return getattr(search, cls_name)(bench.space, universe=universe, random_state=seed, **kwargs)


def run_one(config: str, bench_name: str, seed: int, budget: int) -> dict[str, Any]:
    """One search; returns its record (best value after every evaluation)."""
    from nasfast.search import BenchmarkEvaluator

    bench, metric, _ = _bench(bench_name)
    t0 = time.perf_counter()
    s = _searcher(config, bench_name, seed)
    s.run(BenchmarkEvaluator(bench, metric=metric), budget)
    v = np.asarray(s.history_.values, dtype=np.float64)
    best = np.fmax.accumulate(np.where(np.isfinite(v), v, -np.inf))
    return {
        "benchmark": bench_name,
        "config": config,
        "seed": seed,
        "budget": budget,
        "best_trace": [float(x) for x in best],
        "seconds": time.perf_counter() - t0,
    }


def _rank(sorted_desc: np.ndarray, value: float) -> int:
    """1 + the number of cells strictly better than ``value``."""
    return int(np.searchsorted(-sorted_desc, -value, side="left")) + 1


def summarise(records: list[dict[str, Any]], budgets: tuple[int, ...]) -> list[dict[str, Any]]:
    rows = []
    keys = sorted({(r["benchmark"], r["config"]) for r in records}, key=lambda k: (k[0], list(CONFIGS).index(k[1]) if k[1] in CONFIGS else 999))
    for bench_name, config in keys:
        runs = [r for r in records if r["benchmark"] == bench_name and r["config"] == config]
        _, _, values = _bench(bench_name)
        top = max(1, math.ceil(0.001 * len(values)))
        threshold = values[top - 1]
        for b in budgets:
            ok = [r for r in runs if len(r["best_trace"]) >= b]
            if not ok:
                continue
            ranks = np.array([_rank(values, r["best_trace"][b - 1]) for r in ok])
            hits = sum(r["best_trace"][b - 1] >= threshold for r in ok)
            rows.append(
                {
                    "benchmark": bench_name,
                    "config": config,
                    "budget": b,
                    "runs": len(ok),
                    "mean_rank": float(ranks.mean()),
                    "median_rank": float(np.median(ranks)),
                    "top_0.1%_hits": int(hits),
                    "optimum_hits": int((ranks == 1).sum()),
                    "seconds_per_run": float(np.mean([r["seconds"] for r in ok])),
                }
            )
    return rows


def write_summary(out: Path, rows: list[dict[str, Any]]) -> None:
    with open(out / "summary.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    lines = []
    for bench_name in sorted({r["benchmark"] for r in rows}):
        sub = [r for r in rows if r["benchmark"] == bench_name]
        budgets = sorted({r["budget"] for r in sub})
        lines.append(f"\n### {bench_name}\n")
        lines.append("mean rank of the best cell found (median) [runs with a top-0.1% cell / runs], by budget\n")
        lines.append("| config | " + " | ".join(str(b) for b in budgets) + " | s/run |")
        lines.append("|---|" + "---|" * (len(budgets) + 1))
        for config in dict.fromkeys(r["config"] for r in sub):
            cells = []
            secs = 0.0
            for b in budgets:
                r = next((r for r in sub if r["config"] == config and r["budget"] == b), None)
                if r is None:
                    cells.append("")
                    continue
                cells.append(f"{r['mean_rank']:.1f} ({r['median_rank']:.0f}) [{r['top_0.1%_hits']}/{r['runs']}]")
                secs = r["seconds_per_run"]
            lines.append(f"| {config} | " + " | ".join(cells) + f" | {secs:.1f} |")
    (out / "summary.md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="sweep-results")
    ap.add_argument("--configs", default=",".join(DEFAULT_CONFIGS))
    ap.add_argument("--benchmarks", default=",".join(DEFAULT_BENCHMARKS))
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--seed-offset", type=int, default=0)
    ap.add_argument("--budget", type=int, default=max(BUDGETS))
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args(argv)
    configs = [c for c in args.configs.split(",") if c]
    for c in configs:
        if c not in CONFIGS:
            ap.error(f"unknown config {c!r}; known: {', '.join(CONFIGS)}")
    benches = [b for b in args.benchmarks.split(",") if b]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "runs.jsonl"
    records: list[dict[str, Any]] = []
    if path.exists():
        with open(path) as f:
            for line in f:
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:
                    pass  # a line cut by an interruption: that run is run again
    done = {(r["benchmark"], r["config"], r["seed"]) for r in records if r["budget"] >= args.budget}
    todo = [
        (c, b, args.seed_offset + i)
        for b in benches
        for i in range(args.seeds)
        for c in configs
        if (b, c, args.seed_offset + i) not in done
    ]
    print(f"{len(todo)} runs to do ({len(done)} done) in {out}", flush=True)
    t0 = time.perf_counter()
    os.environ.setdefault("RAYON_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // max(1, args.jobs))))
    with ProcessPoolExecutor(args.jobs) as pool, open(path, "a") as f:
        pending = {pool.submit(run_one, c, b, s, args.budget) for c, b, s in todo}
        n = 0
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                rec = fut.result()
                f.write(json.dumps(rec) + "\n")
                f.flush()
                os.fsync(f.fileno())
                records.append(rec)
                n += 1
                el = time.perf_counter() - t0
                print(
                    f"[{n}/{len(todo)}] {rec['benchmark']} {rec['config']} seed {rec['seed']}: "
                    f"{rec['seconds']:.1f} s; {el:.0f} s elapsed, ~{el / n * (len(todo) - n):.0f} s left",
                    flush=True,
                )
    wanted = [r for r in records if r["config"] in configs and r["benchmark"] in benches
              and args.seed_offset <= r["seed"] < args.seed_offset + args.seeds]
    rows = summarise(wanted, tuple(b for b in BUDGETS if b <= args.budget))
    if rows:
        write_summary(out, rows)
        print((out / "summary.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
