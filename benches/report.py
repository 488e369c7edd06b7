"""Turns a pytest-benchmark JSON of ``benches/`` into the Markdown table of the README.

Usage: ``python benches/report.py bench.json``. Each benchmark group gives one row,
``operation | nasfast | baseline | speed-up | target | met?``, from the figures the tests store
in ``extra_info`` (see ``bench_core.py``). Times are the best of the rounds by default (the
machine may be shared; ``--stat median`` gives the median instead).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Optional

Bench = dict[str, Any]
#: How the target comparisons are printed.
SYMBOLS = {">=": "≥", "<=": "≤"}
#: The statistics of the round times a report may use.
STAT_NAMES = {"min": "Best", "median": "Median"}


def si(x: float) -> str:
    """``x`` with three significant digits and a k / M / G suffix."""
    for factor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= factor:
            return f"{x / factor:.3g}{suffix}"
    return f"{x:.3g}"


def value(bench: Bench, stat: str) -> float:
    """The figure of a benchmark: items/s, seconds (extrapolated) or bytes.

    ``stat`` names the pytest-benchmark statistic of the round times used (``"min"``, ``"median"``).
    """
    info = bench["extra_info"]
    seconds = float(bench["stats"][stat])
    if info["kind"] == "rate":
        return float(info["items"]) / seconds
    if info["kind"] == "time":
        return seconds * float(info.get("scale", 1.0))
    if info["kind"] == "memory":
        return float(info["value"])
    raise ValueError(f"unknown kind {info['kind']!r} in benchmark {bench['name']!r}")


def show(x: float, info: dict[str, Any]) -> str:
    """A figure with its unit."""
    if info["kind"] == "rate":
        return f"{si(x)} {info['unit']}"
    if info["kind"] == "time":
        return f"{x:.3g} s"
    return f"{x / 1e6:.3g} MB"


def speed_up(ours: float, theirs: float, kind: str) -> str:
    """How many times faster (or, for memory, smaller) nasfast is."""
    ratio = ours / theirs if kind == "rate" else theirs / ours
    return f"{ratio:,.0f}x" + (" smaller" if kind == "memory" else "")


def table(benchmarks: list[Bench], stat: str) -> tuple[list[str], list[str]]:
    """The Markdown table rows and its footnotes."""
    groups: dict[str, dict[str, Bench]] = {}
    for bench in benchmarks:
        info = bench.get("extra_info", {})
        if "side" in info:
            groups.setdefault(bench["group"], {})[info["side"]] = bench
    rows = ["| operation | nasfast | baseline | speed-up | target | met? |", "|---|---|---|---|---|---|"]
    notes: list[str] = []
    for group, sides in groups.items():
        if set(sides) != {"nasfast", "baseline"}:
            raise ValueError(f"group {group!r} needs one nasfast and one baseline benchmark, found {sorted(sides)}")
        ours_info, theirs_info = sides["nasfast"]["extra_info"], sides["baseline"]["extra_info"]
        ours, theirs = value(sides["nasfast"], stat), value(sides["baseline"], stat)
        cells = []
        for x, info in ((ours, ours_info), (theirs, theirs_info)):
            text = show(x, info)
            if info.get("detail"):
                text += f" ({info['detail']})"
            if info.get("note"):
                if info["note"] not in notes:
                    notes.append(info["note"])
                text += f" [{notes.index(info['note']) + 1}]"
            cells.append(text)
        target = ours_info.get("target")
        if target is None:  # a comparison without a target of its own
            target_text, verdict = "—", "—"
        else:
            met = ours >= target if ours_info["target_op"] == ">=" else ours <= target
            gap = ours / target - 1
            verdict = "yes" if met else f"no ({gap:+.0%})"
            target_text = f"{SYMBOLS[ours_info['target_op']]} {show(target, ours_info)}"
        op = ours_info["operation"]
        if ours_info.get("threads", 1) != 1:
            op += f" ({ours_info['threads']} threads)"
        rows.append(
            f"| {op} | {cells[0]} | {cells[1]} | {speed_up(ours, theirs, ours_info['kind'])} "
            f"| {target_text} | {verdict} |"
        )
    return rows, notes


def md5_note(benchmarks: list[Bench], stat: str) -> Optional[str]:
    """The per-cell MD5 cost of the NB101 hash against this machine's raw MD5 rate."""
    found: dict[str, Bench] = {b["extra_info"].get("side", ""): b for b in benchmarks if b["group"] == "nb101-hash"}
    if "baseline" not in found or "md5_blocks_per_cell" not in found["baseline"]["extra_info"]:
        return None
    info = found["baseline"]["extra_info"]
    blocks, rate = info["md5_blocks_per_cell"], info["md5_blocks_per_s"]
    text = (
        f"The NB101 hash of an average cell (uniform over the space) takes {info['md5_calls_per_cell']:.1f} MD5 "
        f"messages, {blocks:.1f} MD5 blocks of 64 bytes. This machine's raw MD5 (hashlib, one thread, one long "
        f"message, same timer) compresses {si(rate)} blocks/s, so at that rate the MD5 work alone allows at most "
        f"{si(rate / blocks)} cells/s per thread"
    )
    if "nasfast" in found:
        ours = value(found["nasfast"], stat)
        text += f"; nasfast hashes {si(ours)} cells/s, {ours * blocks / rate:.0%} of that bound"
    return text + "."


#: The parts of a search run's time split (``extra_info["split"]`` of the run benchmarks), in order.
SPLIT_PARTS = ("predict", "fit", "select", "encode", "evaluate", "bookkeeping")


def split_note(benchmarks: list[Bench]) -> Optional[str]:
    """Where the time of each timed search run went (``PredictorSearch.timings_``, the
    evaluator's time and the rest of the loop), as recorded by the run benchmarks."""
    parts = []
    for bench in benchmarks:
        info = bench.get("extra_info", {})
        split = info.get("split")
        if info.get("side") != "nasfast" or not split:
            continue
        shares = ", ".join(f"{k} {split[k]:.3g} s" for k in SPLIT_PARTS if k in split)
        parts.append(f"{info['operation']}: {shares} ({split['total']:.3g} s in all)")
    if not parts:
        return None
    return "Where the time of a search goes (`PredictorSearch.timings_`, one run each): " + "; ".join(parts) + "."


def report(path: Path, stat: str = "min") -> str:
    """The Markdown report of a pytest-benchmark JSON file."""
    data = json.loads(path.read_text())
    benchmarks = data["benchmarks"]
    rows, notes = table(benchmarks, stat)
    machine = data.get("machine_info", {})
    cpu = machine.get("cpu", {}).get("brand_raw") or machine.get("processor") or "unknown CPU"
    timer = benchmarks[0]["options"]["timer"] if benchmarks else "?"
    clock = "CPU time" if "process_time" in timer else "wall-clock time"
    python = machine.get("python_version", "?")
    lines = [
        f"{STAT_NAMES[stat]} of the rounds ({clock}, timer {timer}), one thread unless stated; {cpu}, "
        f"Python {python}, {data.get('datetime', '')[:10]}.",
        "",
        *rows,
    ]
    if notes:
        lines += ["", *(f"[{i}] {note}." for i, note in enumerate(notes, start=1))]
    for note in (md5_note(benchmarks, stat), split_note(benchmarks)):
        if note:
            lines += ["", note]
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> None:
    """Prints the report of the JSON file given on the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", type=Path, help="output of pytest --benchmark-json")
    parser.add_argument("--stat", choices=sorted(STAT_NAMES), default="min", help="statistic of the round times")
    args = parser.parse_args(argv)
    print(report(args.json, args.stat))


if __name__ == "__main__":
    main()
