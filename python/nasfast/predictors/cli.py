"""``nasfast predictors``: the predictor evaluation from the command line.

``nasfast predictors --benchmark nb101-real20k`` fits every predictor and encoding on n = 20, 50,
100, 200 and 500 cells drawn uniformly (5 seeds) and scores the rest of the table: Kendall tau,
Spearman's rho, precision of the predicted top 1%, fit and predict time. It prints the tau table
and writes ``records.csv`` (one line per fitted model), ``summary.csv``, ``summary.json``,
``report.md`` (every table) and ``tau.png`` to ``--out`` (default
``./nasfast-predictors/<benchmark>-<UTC timestamp>``). ``--quick`` is a smoke run (n = 20 and
100, 2 seeds, 2,000 held-out cells). ``--max-test N`` scores a fixed random subset of N cells
instead of the whole rest of the table.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Optional

__all__ = ["add_subparsers", "run_command"]


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _sizes(text: str) -> list[int]:
    return [_positive(t.strip()) for t in text.split(",") if t.strip()]


def add_subparsers(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``predictors`` command on the ``nasfast`` parser's subparsers.

    Returns
    -------
    argparse.ArgumentParser
        The command's parser (its ``func`` default is :func:`run_command`).
    """
    p: argparse.ArgumentParser = subparsers.add_parser(
        "predictors",
        help="evaluate the predictors: Kendall tau etc. of every predictor and encoding against training-set size",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--benchmark", default="nb101-real20k", metavar="NAME", help="benchmark (default nb101-real20k)")
    p.add_argument("--sizes", type=_sizes, metavar="N,N,...", help="training-set sizes (default 20,50,100,200,500)")
    p.add_argument("--seeds", type=_positive, metavar="N", help="draws of the training cells (default 5)")
    p.add_argument("--out", metavar="DIR", help="output folder (default ./nasfast-predictors/<benchmark>-<timestamp>)")
    p.add_argument("--quick", action="store_true", help="a smoke run: n = 20 and 100, 2 seeds, 2,000 held-out cells")
    p.add_argument("--predictor", action="append", metavar="NAME", help="only this predictor (repeatable): forest, gbm, gp, mlp-ensemble, gcn")
    p.add_argument("--encoding", action="append", metavar="NAME", help="only this encoding (repeatable), e.g. path or adjacency+path-count")
    p.add_argument("--target-transform", choices=["normal-scores", "none"], default="normal-scores", help="targets the predictors are fitted on (default normal-scores)")
    p.add_argument("--max-test", type=_positive, metavar="N", help="score a fixed random subset of N cells instead of the rest of the table")
    p.add_argument("--random-state", type=int, default=0, metavar="N", help="base seed (default 0)")
    p.add_argument("--jobs", type=_positive, metavar="N", help="threads of the core forest and encoders (default: all cores)")
    p.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    p.set_defaults(func=run_command)
    return p


def run_command(args: argparse.Namespace) -> int:
    """Run the evaluation described by the parsed arguments; print the table; return the exit code."""
    from .evaluation import DEFAULT_ENTRIES, DEFAULT_SIZES, evaluate_predictors

    entries = [
        e for e in DEFAULT_ENTRIES
        if (not args.predictor or e.predictor in args.predictor) and (not args.encoding or e.encoding in args.encoding)
    ]
    if not entries:
        known = sorted({(e.predictor, e.encoding) for e in DEFAULT_ENTRIES})
        print(f"nasfast predictors: no entry matches --predictor/--encoding; entries: {known}", file=sys.stderr)
        return 2
    sizes = args.sizes or ((20, 100) if args.quick else DEFAULT_SIZES)
    seeds = args.seeds or (2 if args.quick else 5)
    max_test: Optional[int] = args.max_test or (2000 if args.quick else None)
    out = Path(args.out) if args.out else Path("nasfast-predictors") / f"{args.benchmark}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
    print(
        f"nasfast predictors: {len(entries)} entries x {len(sizes)} sizes x {seeds} seeds on {args.benchmark} -> {out}",
        file=sys.stderr,
    )
    start = time.perf_counter()
    try:
        ev = evaluate_predictors(
            args.benchmark, entries=entries, sizes=sizes, seeds=seeds, target_transform=args.target_transform,
            max_test=max_test, random_state=args.random_state, n_jobs=args.jobs, progress=not args.no_progress, out=out,
        )
    except KeyboardInterrupt:
        return 130
    print(f"Kendall tau on {ev.test} ({ev.benchmark}, {ev.seeds} seeds; mean ± sd):")
    print(ev.table("kendall_tau"))
    print()
    print("Precision of the predicted top 1%:")
    print(ev.table("top_precision"))
    print()
    print(f"wall time {time.perf_counter() - start:.1f} s; results in {out} (report.md, records.csv, summary.csv, tau.png)")
    return 0
