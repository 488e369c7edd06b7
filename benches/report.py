"""Turns a pytest-benchmark JSON of ``benches/`` into the Markdown table of the README.

Usage: ``python benches/report.py bench.json``. Each benchmark group gives one row,
``operation | nasfast | baseline | speed-up | target | met?``, from the figures the tests store
in ``extra_info`` (see ``bench_core.py``); times are the median of the rounds.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Optional

Bench = dict[str, Any]


def si(x: float) -> str:
    """``x`` with three significant digits and a k / M / G suffix."""
    for factor, suffix in ((1e9, " G"), (1e6, " M"), (1e3, " k")):
        if abs(x) >= factor:
            return f"{x / factor:.3g}{suffix}"
    return f"{x:.3g} "


def value(bench: Bench) -> float:
    """The figure of a benchmark: items/s, seconds (extrapolated) or bytes."""
    info = bench["extra_info"]
    median = bench["stats"]["median"]
    if info["kind"] == "rate":
        return info["items"] / median
    if info["kind"] == "time":
        return median * info.get("scale", 1.0)
    if info["kind"] == "memory":
        return float(info["value"])
    raise ValueError(f"unknown kind {info['kind']!r} in benchmark {bench['name']!r}")


def show(x: float, info: dict[str, Any]) -> str:
    """A figure with its unit."""
    if info["kind"] == "rate":
        return f"{si(x)}{info['unit']}"
    if info["kind"] == "time":
        return f"{x:.3g} s"
    return f"{x / 1e6:.1f} MB"


def speed_up(ours: float, theirs: float, kind: str) -> float:
    """How many times better nasfast is (faster, or smaller for memory)."""
    return ours / theirs if kind == "rate" else theirs / ours


def table(benchmarks: list[Bench]) -> tuple[list[str], list[str]]:
    """The Markdown table rows and its footnotes."""
    groups: dict[str, dict[str, Bench]] = {}
    for bench in benchmarks:
        info = bench.get("extra_info", {})
        if "side" in info:
            groups.setdefault(bench["group"], {})[info["side"]] = bench
    rows = ["| operation | nasfast | baseline (pure Python) | speed-up | target | met? |", "|---|---|---|---|---|---|"]
    notes: list[str] = []
    for group, sides in groups.items():
        if set(sides) != {"nasfast", "baseline"}:
            raise ValueError(f"group {group!r} needs one nasfast and one baseline benchmark, found {sorted(sides)}")
        ours_info, theirs_info = sides["nasfast"]["extra_info"], sides["baseline"]["extra_info"]
        ours, theirs = value(sides["nasfast"]), value(sides["baseline"])
        cells = []
        for x, info in ((ours, ours_info), (theirs, theirs_info)):
            text = show(x, info)
            if info.get("detail"):
                text += f" ({info['detail']})"
            if info.get("note"):
                notes.append(info["note"])
                text += f" [{len(notes)}]"
            cells.append(text)
        target = ours_info["target"]
        met = ours >= target if ours_info["target_op"] == ">=" else ours <= target
        gap = ours / target - 1
        verdict = "yes" if met else f"no ({gap:+.0%})"
        op = ours_info["operation"]
        if ours_info.get("threads", 1) != 1:
            op += f" ({ours_info['threads']} threads)"
        rows.append(
            f"| {op} | {cells[0]} | {cells[1]} | {speed_up(ours, theirs, ours_info['kind']):,.0f}x "
            f"| {ours_info['target_op'].replace('>=', '≥').replace('<=', '≤')} {show(target, ours_info)} | {verdict} |"
        )
    return rows, notes


def md5_note(benchmarks: list[Bench]) -> Optional[str]:
    """The per-cell MD5 cost of the NB101 hash against this machine's raw MD5 rate."""
    found: dict[str, Bench] = {b["extra_info"].get("side", ""): b for b in benchmarks if b["group"] == "nb101-hash"}
    if "baseline" not in found or "md5_blocks_per_cell" not in found["baseline"]["extra_info"]:
        return None
    info = found["baseline"]["extra_info"]
    blocks, rate = info["md5_blocks_per_cell"], info["md5_blocks_per_s"]
    text = (
        f"The NB101 hash of an average cell (uniform over the space) compresses {blocks:.1f} MD5 blocks of 64 bytes "
        f"({info['md5_calls_per_cell']:.1f} MD5 messages). This machine's raw MD5 (hashlib, one thread, one long "
        f"message) runs at {si(rate)}blocks/s, which bounds any exact implementation at {si(rate / blocks)}cells/s "
        "per thread"
    )
    if "nasfast" in found:
        ours = value(found["nasfast"])
        text += f"; nasfast reaches {si(ours)}cells/s, {ours * blocks / rate:.0%} of that bound"
    return text + "."


def report(path: Path) -> str:
    """The Markdown report of a pytest-benchmark JSON file."""
    data = json.loads(path.read_text())
    benchmarks = data["benchmarks"]
    rows, notes = table(benchmarks)
    machine = data.get("machine_info", {})
    cpu = machine.get("cpu", {}).get("brand_raw") or machine.get("processor") or "unknown CPU"
    lines = [
        f"Median of the rounds, one thread unless stated; {cpu}, Python {machine.get('python_version', '?')}, "
        f"{data.get('datetime', '')[:10]}.",
        "",
        *rows,
        "",
    ]
    lines += [f"[{i}] {note}." for i, note in enumerate(notes, start=1)]
    note = md5_note(benchmarks)
    if note:
        lines += ["", note]
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> None:
    """Prints the report of the JSON file given on the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", type=Path, help="output of pytest --benchmark-json")
    args = parser.parse_args(argv)
    print(report(args.json))


if __name__ == "__main__":
    main()
