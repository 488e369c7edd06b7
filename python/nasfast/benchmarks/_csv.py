"""Import a benchmark table from a CSV file (one cell per row)."""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Optional, Union

import numpy as np
import numpy.typing as npt

from .._core import OP_INPUT, OP_OUTPUT, OP_PAD, CellBatch, CellSpec, InvalidCellError, SearchSpace
from ._table import TabularBenchmark, shared_space

__all__ = ["from_csv", "nb101_hash_index"]

#: Columns that describe the cell rather than a metric.
CELL_COLUMNS = ("hash", "num_vertices", "ops", "adjacency")
_AUTO = "auto"
_HASH = re.compile(r"[0-9a-fA-F]{32}")
_BOM = b"\xef\xbb\xbf"
_HASH_INDEX: dict[SearchSpace, tuple[npt.NDArray[np.bytes_], npt.NDArray[np.int64]]] = {}


def nb101_hash_index(space: SearchSpace) -> tuple[npt.NDArray[np.bytes_], npt.NDArray[np.int64]]:
    """Sorted NB101 hashes of every cell of ``space.enumerate()`` and their enumeration indices.

    Hashing the 423,624 cells of NAS-Bench-101 takes a few seconds; the result is kept for the
    life of the process.
    """
    if space not in _HASH_INDEX:
        hashes = np.array(space.enumerate().nb101_hashes(), dtype="S32")
        order = np.argsort(hashes, kind="stable")
        _HASH_INDEX[space] = (hashes[order], order.astype(np.int64))
    return _HASH_INDEX[space]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _parse_float(text: str, path: Path, line: int, column: str, missing: str, hint: str) -> float:
    text = text.strip()
    try:
        value = float(text) if text else math.nan
    except ValueError:
        raise ValueError(f"{path}, line {line}: column {column!r} has the non-numeric value {text!r}{hint}") from None
    if not math.isfinite(value):
        if missing == "raise":
            raise ValueError(
                f"{path}, line {line}: column {column!r} has the {'non-finite' if text else 'empty'} value {text!r}; "
                "pass missing='nan' to read empty, NaN and infinite values as missing"
            )
        return math.nan
    return value


def _read_rows(path: Path) -> tuple[list[str], list[list[str]], list[int]]:
    """Header, data rows (blank rows left out) and their line numbers; every malformed input is
    a ValueError naming the line."""
    raw = path.read_bytes()
    if raw.startswith(_BOM):  # as spreadsheet programs write UTF-8
        raw = raw[len(_BOM):]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ValueError(f"{path}, line {line}: byte 0x{raw[exc.start]:02x} is not UTF-8 (the file must be UTF-8 text)") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise ValueError(f"{path}: empty file, expected a header row") from None
        for row in reader:
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != len(header):
                raise ValueError(f"{path}, line {reader.line_num}: {len(row)} fields, the header has {len(header)}")
            rows.append(row)
            lines.append(reader.line_num)
    except csv.Error as exc:
        raise ValueError(f"{path}, line {max(reader.line_num, 1)}: not valid CSV: {exc}") from None
    for i, h in enumerate(header):
        if not h:
            raise ValueError(f"{path}, line 1: column {i + 1} of the header has no name")
        if header.count(h) > 1:
            raise ValueError(f"{path}, line 1: column {h!r} appears {header.count(h)} times in the header")
    return header, rows, lines


def _hashes(rows: list[list[str]], j: int, path: Path, lines: list[int]) -> list[str]:
    """The hash column, checked to be 32 hexadecimal digits per row, lowercased."""
    out = [r[j].strip() for r in rows]
    for h, line in zip(out, lines):
        if not _HASH.fullmatch(h):
            raise ValueError(f"{path}, line {line}: hash {h!r} is not 32 hexadecimal digits")
    return [h.lower() for h in out]


def from_csv(
    path: Union[str, Path],
    space: Optional[SearchSpace] = None,
    *,
    name: Optional[str] = None,
    metrics: Optional[Sequence[str]] = None,
    default_metric: Optional[str] = None,
    cost_metric: Optional[str] = _AUTO,
    missing: str = "raise",
    citation: str = "",
    description: str = "",
) -> TabularBenchmark:
    """Read a table with one cell per row and numeric metric columns.

    A row names its cell either by ``adjacency`` and ``ops`` columns in the format of
    ``nb101_real20k.csv`` (``ops``: op names joined by ``|``, first ``input``, last ``output``;
    ``adjacency``: the V x V upper-triangular matrix row-major as V*V ``0``/``1`` characters), or
    by a ``hash`` column alone (an NB101 hash, resolved through ``space.enumerate()``). When
    both are present for the NAS-Bench-101 space, the hash is checked against the matrix.

    Parameters
    ----------
    path : str or Path
        The CSV file: UTF-8 (a leading byte-order mark is allowed), header row first, column
        names distinct.
    space : SearchSpace, optional
        The space of the cells; default NAS-Bench-101.
    name : str, optional
        Name of the benchmark; default the file name without extension.
    metrics : sequence of str, optional
        Metric columns to read. Default: every column besides ``hash``, ``num_vertices``,
        ``ops``, ``adjacency`` that holds a number, plus the default and cost metric columns.
        Columns without any number (labels, notes) are left out; a column with numbers and
        another value is an error naming the line, never silently dropped.
    default_metric : str, optional
        The metric searches maximise. Default ``"val_acc_108"`` when it is a column, else the
        only metric; with several metrics and no ``val_acc_108`` it must be given.
    cost_metric : str or None, default "auto"
        Column of training seconds; ``"auto"`` takes ``"train_time_108_s"`` when it is a column.
    missing : {"raise", "nan"}, default "raise"
        What an empty, ``nan`` or infinite metric value gives: an error naming the line and the
        column, or NaN (a missing value).
    citation, description : str
        Stored with the benchmark.

    Returns
    -------
    TabularBenchmark
        Cells are pruned; isomorphic duplicates with equal values are merged.

    Raises
    ------
    ValueError
        Naming the line: a file that is not UTF-8 CSV, a duplicated or empty column name, a bad
        matrix, an unknown op, an invalid cell, a hash that is not 32 hexadecimal digits or not
        in the space, a non-numeric metric value, a missing or non-finite one (unless
        ``missing="nan"``), or an isomorphic duplicate with different values.
    TypeError
        If ``metrics`` is not a sequence of column names.
    """
    path = Path(path)
    if missing not in ("raise", "nan"):
        raise ValueError(f"missing must be 'raise' or 'nan', got {missing!r}")
    if metrics is not None and (isinstance(metrics, str) or not all(isinstance(m, str) for m in metrics)):
        raise TypeError(f"metrics must be a sequence of column names, got {metrics!r}")
    space = SearchSpace.nb101() if space is None else shared_space(space.max_vertices, space.max_edges, space.ops)
    codes = {op: i for i, op in enumerate(space.ops)}
    codes.update({"input": OP_INPUT, "output": OP_OUTPUT})
    header, rows, lines = _read_rows(path)
    col = {h: i for i, h in enumerate(header)}
    by_matrix = "adjacency" in col and "ops" in col
    if not by_matrix and "hash" not in col:
        raise ValueError(f"{path}: needs 'adjacency' and 'ops' columns, or a 'hash' column; header: {header}")
    if not rows:
        raise ValueError(f"{path}: no data rows")

    # Metric columns: those named (metrics, default and cost metric) are read whatever they
    # hold; in auto mode, so is every other column that holds a number.
    named = [m for m in (default_metric, cost_metric) if m is not None and m != _AUTO]
    if default_metric is None and "val_acc_108" in col:
        named.append("val_acc_108")
    if cost_metric == _AUTO and "train_time_108_s" in col:
        named.append("train_time_108_s")
    if metrics is not None:
        metric_names = list(dict.fromkeys(metrics))
        named = metric_names
    else:
        metric_names = [
            h for h in header
            if h not in CELL_COLUMNS and (h in named or any(_is_number(r[col[h]].strip()) for r in rows))
        ]
    for h in [*metric_names, *named]:
        if h not in col:
            raise ValueError(f"{path}: no column {h!r}; header: {header}")
    if not metric_names:
        raise ValueError(f"{path}: no numeric metric column; header: {header}")
    values = np.array(
        [
            [
                _parse_float(
                    r[col[h]], path, line, h, missing,
                    "" if h in named else " (a column with numbers is read as a metric: pass metrics=[...] to choose the metric columns)",
                )
                for h in metric_names
            ]
            for r, line in zip(rows, lines)
        ],
        dtype=np.float64,
    ).reshape(len(rows), len(metric_names))

    # Cells.
    n, v_max = len(rows), space.max_vertices
    if by_matrix:
        adjacency = np.zeros((n, v_max, v_max), dtype=np.uint8)
        ops = np.full((n, v_max), OP_PAD, dtype=np.int8)
        for i, (r, line) in enumerate(zip(rows, lines)):
            names = [o.strip() for o in r[col["ops"]].strip().split("|")]
            v = len(names)
            if not 2 <= v <= v_max:
                raise ValueError(f"{path}, line {line}: {v} ops, expected 2 to {v_max}")
            for o in names:
                if o not in codes:
                    raise ValueError(f"{path}, line {line}: unknown op {o!r}; the space has {space.ops}")
            if names[0] != "input" or names[-1] != "output":
                raise ValueError(f"{path}, line {line}: ops must start with 'input' and end with 'output', got {names}")
            if "input" in names[1:] or "output" in names[:-1]:
                raise ValueError(f"{path}, line {line}: 'input'/'output' may only be the first/last op, got {names}")
            text = r[col["adjacency"]].strip()
            if len(text) != v * v or set(text) - {"0", "1"}:
                raise ValueError(
                    f"{path}, line {line}: adjacency {text!r} is not {v * v} characters 0/1 (a {v} x {v} matrix)"
                )
            adjacency[i, :v, :v] = np.frombuffer(text.encode(), dtype=np.uint8).reshape(v, v) - ord("0")
            ops[i, :v] = [codes[o] for o in names]
            if "num_vertices" in col and r[col["num_vertices"]].strip() not in ("", str(v)):
                raise ValueError(f"{path}, line {line}: num_vertices {r[col['num_vertices']]!r} but {v} ops")
        try:
            cells = CellBatch.from_arrays(adjacency, ops, space)
        except InvalidCellError:
            for i, line in enumerate(lines):  # name the first bad line
                v = int((ops[i] != OP_PAD).sum())
                try:
                    CellSpec(adjacency[i, :v, :v], ops[i, :v].tolist(), space).validate(space)
                except (InvalidCellError, ValueError) as exc:
                    raise ValueError(f"{path}, line {line}: invalid cell: {exc}") from None
            raise
        if "hash" in col and space == SearchSpace.nb101():
            given = np.array(_hashes(rows, col["hash"], path, lines))
            bad = np.flatnonzero(cells.nb101_hashes() != given)
            if len(bad):
                i = int(bad[0])
                raise ValueError(
                    f"{path}, line {lines[i]}: hash {given[i]!r} does not match the cell, whose hash is "
                    f"{cells[i].nb101_hash()}"
                )
    else:
        given = np.array(_hashes(rows, col["hash"], path, lines), dtype="S32")
        sorted_hashes, order = nb101_hash_index(space)
        at = np.minimum(np.searchsorted(sorted_hashes, given), len(sorted_hashes) - 1)
        found = sorted_hashes[at] == given
        if not found.all():
            i = int(np.flatnonzero(~found)[0])
            raise ValueError(f"{path}, line {lines[i]}: hash {rows[i][col['hash']].strip()!r} is not a cell of the space")
        cells = space.cell_at(order[at])

    # Isomorphic duplicates: merge when the values agree, else name both lines.
    unique, inverse = cells.unique()
    if len(unique) < n:
        first = np.full(len(unique), -1, dtype=np.int64)
        keep = np.zeros(n, dtype=bool)
        for i, u in enumerate(inverse):
            if first[u] < 0:
                first[u] = i
                keep[i] = True
            else:
                a, b = values[first[u]], values[i]
                if not np.array_equal(a, b, equal_nan=True):
                    raise ValueError(
                        f"{path}, line {lines[i]}: the cell of line {lines[first[u]]} again (isomorphic) with different values"
                    )
        cells, values = cells[np.flatnonzero(keep)], values[keep]

    if default_metric is None:
        if "val_acc_108" in metric_names:
            default_metric = "val_acc_108"
        elif len(metric_names) == 1:
            default_metric = metric_names[0]
        else:
            raise ValueError(
                f"{path}: several metric columns {metric_names} and none is 'val_acc_108': pass default_metric=..., "
                "the metric a search maximises"
            )
    if cost_metric == _AUTO:
        cost_metric = "train_time_108_s" if "train_time_108_s" in metric_names else None
    return TabularBenchmark(
        name if name is not None else path.stem,
        space,
        cells,
        {h: values[:, j] for j, h in enumerate(metric_names)},
        cost_metric=cost_metric,
        default_metric=default_metric,
        citation=citation,
        description=description,
    )
