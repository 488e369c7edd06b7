"""Numbers and tables as the study's report and console output show them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Optional

__all__ = ["fmt", "interval", "markdown_table", "text_table"]


def fmt(x: Optional[float]) -> str:
    """A number for tables: 3 significant figures, thousands separators, ``inf``, ``-`` for NaN."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if math.isinf(x):
        return "inf"
    a = abs(x)
    if a >= 100:
        return f"{x:,.0f}"
    if a >= 10:
        return f"{x:.1f}"
    if a >= 0.01 or a == 0:
        return f"{x:.2f}"
    return f"{x:.2g}"


def interval(value: float, low: float, high: float) -> str:
    """``value [low, high]``, each formatted by :func:`fmt`."""
    return f"{fmt(value)} [{fmt(low)}, {fmt(high)}]"


def markdown_table(header: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in body])


def text_table(header: Sequence[str], body: Sequence[Sequence[str]], *, numbers_right: bool = False) -> str:
    """An aligned text table; with ``numbers_right``, every column but the first is right-aligned."""
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        cells = [x.rjust(w) if numbers_right and i > 0 else x.ljust(w) for i, (x, w) in enumerate(zip(row, widths))]
        return "  ".join(cells)

    rule = ["  ".join("-" * w for w in widths)] if numbers_right else []
    return "\n".join([line(header), *rule, *(line(row) for row in body)])
