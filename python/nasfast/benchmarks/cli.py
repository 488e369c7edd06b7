"""The ``nasfast bench`` commands: ``nasfast bench list`` and ``nasfast bench import nb101 PATH``.

Wire into the main parser with ``add_subparsers(sub)``, where ``sub`` is the object returned by
``parser.add_subparsers(...)``; each command sets ``func`` (taking the parsed namespace,
returning the exit code).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

__all__ = ["add_subparsers"]


def _list_command(args: argparse.Namespace) -> int:
    from . import available, data_dir

    for name, description in available().items():
        print(f"{name:<18} {description}")
    print(f"imported benchmarks live in {data_dir()} (set NASFAST_DATA_DIR to change it)")
    return 0


def _import_command(args: argparse.Namespace) -> int:
    from . import data_dir, from_nb101_tfrecord

    if args.format != "nb101":
        print(f"unknown format {args.format!r}: expected 'nb101'", file=sys.stderr)
        return 2
    start = time.perf_counter()
    target = data_dir() / f"{args.name}.npz"
    try:
        bench = from_nb101_tfrecord(args.path, save=True, name=args.name)
    except (OSError, ValueError) as exc:  # TFRecordError is a ValueError
        print(f"import failed: {exc}", file=sys.stderr)
        return 1
    print(bench.describe())
    print(f"saved to {target} in {time.perf_counter() - start:.1f} s; load it with nasfast.benchmarks.load({args.name!r})")
    return 0


def add_subparsers(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``bench`` command (with ``list`` and ``import``) to a ``subparsers`` object.

    Returns
    -------
    argparse.ArgumentParser
        The parser of the ``bench`` command.
    """
    bench = subparsers.add_parser("bench", help="list and import tabular benchmarks")
    sub = bench.add_subparsers(dest="bench_command", required=True)
    lst = sub.add_parser("list", help="show the available benchmarks")
    lst.set_defaults(func=_list_command)
    imp = sub.add_parser("import", help="import an official data set so that load(name) finds it")
    imp.add_argument("format", help="'nb101' for a NAS-Bench-101 TFRecord file")
    imp.add_argument("path", help="e.g. nasbench_only108.tfrecord or nasbench_full.tfrecord")
    imp.add_argument("--name", default="nb101-full", help="name to save it under (default nb101-full)")
    imp.set_defaults(func=_import_command)
    return bench
