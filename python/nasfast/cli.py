"""The ``nasfast`` command line.

``nasfast space nb101`` enumerates the NAS-Bench-101 space and prints its size, the number of
unique cells per vertex count and the time taken; ``nasfast space --max-vertices 8 --ops a,b,c``
does the same for a custom space (or prints a size estimate when the space is too large to
enumerate); ``--out cells.npz`` saves the enumeration.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import Optional

import numpy as np

from nasfast import SearchSpace, SpaceTooLargeError


def _space_command(args: argparse.Namespace) -> int:
    if args.preset == "nb101":
        space = SearchSpace.nb101()
    elif args.preset is not None:
        print(f"unknown space preset {args.preset!r}: expected 'nb101' or the options --max-vertices/--ops", file=sys.stderr)
        return 2
    else:
        if args.max_vertices is None or args.ops is None:
            print("a custom space needs --max-vertices and --ops (or the preset 'nb101')", file=sys.stderr)
            return 2
        ops = [o.strip() for o in args.ops.split(",") if o.strip()]
        max_edges = args.max_edges if args.max_edges is not None else 9
        space = SearchSpace(args.max_vertices, max_edges, ops)
    print(repr(space))
    start = time.perf_counter()
    try:
        cells = space.enumerate(n_jobs=args.jobs)
    except SpaceTooLargeError as exc:
        estimate, se = space.estimate_count(n_samples=200_000, random_state=0, n_jobs=args.jobs)
        print(f"not enumerable: {exc}")
        print(f"estimated unique cells: {estimate:.4g} +- {se:.2g} (Monte-Carlo, 200,000 orbit-weighted proposals)")
        print(f"time: {time.perf_counter() - start:.2f} s")
        return 0
    elapsed = time.perf_counter() - start
    counts = space.counts_by_vertices()
    print(f"unique cells: {len(cells):,}")
    print("vertices  unique cells")
    for v in range(2, space.max_vertices + 1):
        print(f"{v:>8}  {int(counts[v]):>12,}")
    print(f"enumerated in {elapsed:.2f} s")
    if args.out:
        np.savez_compressed(
            args.out,
            adjacency=cells.adjacency,
            ops=cells.ops,
            num_vertices=cells.num_vertices,
            fingerprints=cells.fingerprints(),
            space_ops=np.array(space.ops),
            max_vertices=space.max_vertices,
            max_edges=space.max_edges,
        )
        print(f"saved to {args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``nasfast`` command."""
    parser = argparse.ArgumentParser(prog="nasfast", description="Predictor-based NAS on NAS-Bench-101-style cell spaces.")
    sub = parser.add_subparsers(dest="command", required=True)
    sp = sub.add_parser("space", help="enumerate a cell space and print its size")
    sp.add_argument("preset", nargs="?", help="'nb101' for the NAS-Bench-101 space")
    sp.add_argument("--max-vertices", type=int, help="vertices of a custom space")
    sp.add_argument("--max-edges", type=int, help="edges of a custom space (default 9)")
    sp.add_argument("--ops", help="comma-separated interior op names of a custom space")
    sp.add_argument("--out", help="save the enumeration to this .npz file")
    sp.add_argument("--jobs", type=int, default=None, help="threads (default: all cores)")
    sp.set_defaults(func=_space_command)
    from nasfast.benchmarks.cli import add_subparsers as add_bench
    from nasfast.experiment.cli import add_subparsers as add_experiment
    from nasfast.predictors.cli import add_subparsers as add_predictors

    add_bench(sub)
    add_experiment(sub)
    add_predictors(sub)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``nasfast`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (ValueError, KeyError, OSError) as exc:
        print(f"nasfast: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
