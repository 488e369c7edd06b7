"""``nasfast experiment``: run the sample-efficiency study from the command line.

``nasfast experiment`` runs the default study (``example.toml`` shipped with the package);
``--quick`` a smaller one, ``--full`` a longer one (the study's presets ``[preset.quick]`` and
``[preset.full]``; ``--preset NAME`` any ``[preset.NAME]``); ``--config FILE`` a study of your
own. Flags override the study:
``--seeds N``, ``--budget N``, ``--benchmark NAME`` (repeatable), ``--arm NAME``
(repeatable). ``--out DIR`` (default ``./nasfast-results/<UTC timestamp>``) receives
``runs.jsonl``, ``summary.csv``, ``summary.json``, the PNG plots and ``report.md``; running again
with the same ``--out`` resumes an interrupted study. ``--jobs N`` sets the worker processes
(default: all cores).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from nasfast.experiment.runner import Experiment

__all__ = ["add_subparsers", "run_command"]


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


class _Renamed(argparse.Action):
    """An option of earlier versions: refused with a message naming the option that replaced it."""

    def __init__(self, option_strings: Any, dest: str, *, new: str, why: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, **kwargs)
        self.new, self.why = new, why

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: Any = None) -> None:
        parser.error(f"{option_string} is now {self.new} ({self.why})")


def add_subparsers(subparsers: argparse._SubParsersAction[Any]) -> argparse.ArgumentParser:
    """Register the ``experiment`` subcommand on the ``nasfast`` parser's subparsers.

    Parameters
    ----------
    subparsers
        The object returned by ``parser.add_subparsers(...)``.

    Returns
    -------
    argparse.ArgumentParser
        The subcommand's parser (its ``func`` default is :func:`run_command`).
    """
    p: argparse.ArgumentParser = subparsers.add_parser(
        "experiment",
        help="run the sample-efficiency study (SEG of every arm, plots, report.md)",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    which = p.add_mutually_exclusive_group()
    which.add_argument("--quick", action="store_true", help="the study's [preset.quick]: a smoke run (fewer seeds and arms)")
    which.add_argument("--full", action="store_true", help="the study's [preset.full]: a longer run (more seeds, larger budget)")
    which.add_argument("--preset", metavar="NAME", help="the study's [preset.NAME]")
    p.add_argument("--config", metavar="FILE", help="TOML file of the study (default: the built-in study)")
    p.add_argument("--out", metavar="DIR", help="output directory; an existing one is resumed (default: ./nasfast-results/<timestamp>)")
    p.add_argument("--jobs", type=_positive, metavar="N", help="worker processes (default: all cores)")
    p.add_argument("--seeds", type=_positive, metavar="N", help="runs per benchmark and arm")
    p.add_argument("--budget", type=_positive, metavar="N", help="samples per run")
    p.add_argument("--benchmark", action="append", metavar="NAME", help="benchmark to run (repeatable; default: those of the study)")
    p.add_argument("--arm", action="append", metavar="NAME", help="arm of the study to run (repeatable; default: all)")
    p.add_argument("--strategy", action=_Renamed, new="--arm", why="a study's named entries are arms", help=argparse.SUPPRESS)
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(func=run_command)
    return p


def run_command(args: argparse.Namespace) -> int:
    """Run the study described by the parsed arguments; print the summary; return the exit code."""
    overrides: dict[str, Any] = dict(
        benchmarks=args.benchmark, arms=args.arm, seeds=args.seeds, budget=args.budget,
        out=args.out, jobs=args.jobs, progress=not args.no_progress,
    )
    preset = "quick" if args.quick else "full" if args.full else args.preset
    if args.config:
        exp = Experiment.from_toml(args.config, preset=preset, **overrides)
    else:
        exp = Experiment(preset=preset, **overrides)
    c = exp.config
    print(
        f"nasfast experiment{f' (preset {preset})' if preset else ''}: {len(exp.tasks())} runs "
        f"({', '.join(c.benchmarks)}; {len(c.arms)} arms; {c.seeds} seeds; budget {c.budget}) in {exp.jobs} "
        f"processes -> {exp.out}",
        file=sys.stderr,
    )
    start = time.perf_counter()
    try:
        results = exp.run()
    except KeyboardInterrupt:
        return 130
    except (RuntimeError, ValueError) as exc:  # a failed run, or an output folder of another study
        print(f"nasfast experiment: error: {exc}", file=sys.stderr)
        return 1
    print(results.table())
    print()
    for sec in c.sections:
        if sec.pairs:
            print(f"{sec.title}: share SEG_arm / SEG_reference, target {c.headline_target}:")
            print(results.comparison_table(sec.name, target=c.headline_target))
            print()
    if c.claim is not None:
        print(f"Verdicts on the claim, target {c.headline_target} (see report.md for every target):")
        print(results.verdict_table(target=c.headline_target, markdown=False))
        print()
    print(f"wall time {time.perf_counter() - start:.1f} s; results in {exp.out} (report.md, summary.csv, plots)")
    return 0
