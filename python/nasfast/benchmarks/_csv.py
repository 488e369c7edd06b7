"""Import a benchmark table from a CSV file (one cell per row)."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import numpy.typing as npt

from .._core import OP_INPUT, OP_OUTPUT, OP_PAD, CellBatch, CellSpec, InvalidCellError, SearchSpace
from ._table import TabularBenchmark, shared_space

__all__ = ["from_csv", "nb101_hash_index"]

#: Columns that describe the cell rather than a metric.
CELL_COLUMNS = ("hash", "num_vertices", "ops", "adjacency")
_AUTO = "auto"
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


def _parse_float(text: str, line: int, column: str) -> float:
    text = text.strip()
    if text == "" or text.lower() == "nan":
        return math.nan
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"line {line}: column {column!r} has the non-numeric value {text!r}") from None


def from_csv(
    path: Union[str, Path],
    space: Optional[SearchSpace] = None,
    *,
    name: Optional[str] = None,
    metrics: Optional[Sequence[str]] = None,
    default_metric: Optional[str] = None,
    cost_metric: Optional[str] = _AUTO,
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
        The CSV file (header row first).
    space : SearchSpace, optional
        The space of the cells; default NAS-Bench-101.
    name : str, optional
        Name of the benchmark; default the file name without extension.
    metrics : sequence of str, optional
        Metric columns to read; default every column besides ``hash``, ``num_vertices``, ``ops``,
        ``adjacency`` whose values are all numeric (empty or ``nan`` means missing).
    default_metric : str, optional
        Default ``"val_acc_108"`` when present, else the first metric.
    cost_metric : str or None, default "auto"
        Column of training seconds; ``"auto"`` takes ``"train_time_108_s"`` when present.
    citation, description : str
        Stored with the benchmark.

    Returns
    -------
    TabularBenchmark
        Cells are pruned; isomorphic duplicates with equal values are merged.

    Raises
    ------
    ValueError
        Naming the line: a bad matrix, an unknown op, an invalid cell, an unknown hash, a
        non-numeric metric value, or an isomorphic duplicate with different values.
    """
    path = Path(path)
    space = SearchSpace.nb101() if space is None else shared_space(space.max_vertices, space.max_edges, space.ops)
    codes = {op: i for i, op in enumerate(space.ops)}
    codes.update({"input": OP_INPUT, "output": OP_OUTPUT})
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise ValueError(f"{path}: empty file, expected a header row") from None
        rows: list[list[str]] = []
        lines: list[int] = []
        for row in reader:
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != len(header):
                raise ValueError(f"{path}, line {reader.line_num}: {len(row)} fields, the header has {len(header)}")
            rows.append(row)
            lines.append(reader.line_num)
    col = {h: i for i, h in enumerate(header)}
    by_matrix = "adjacency" in col and "ops" in col
    if not by_matrix and "hash" not in col:
        raise ValueError(f"{path}: needs 'adjacency' and 'ops' columns, or a 'hash' column; header: {header}")
    if not rows:
        raise ValueError(f"{path}: no data rows")

    # Metric columns.
    if metrics is None:
        metric_names = [h for h in header if h not in CELL_COLUMNS]
        numeric = []
        for h in metric_names:
            j = col[h]
            try:
                for r in rows:
                    t = r[j].strip()
                    if t and t.lower() != "nan":
                        float(t)
                numeric.append(h)
            except ValueError:
                continue
        metric_names = numeric
    else:
        metric_names = list(metrics)
        for h in metric_names:
            if h not in col:
                raise ValueError(f"{path}: no column {h!r}; header: {header}")
    if not metric_names:
        raise ValueError(f"{path}: no numeric metric column; header: {header}")
    values = np.array(
        [[_parse_float(r[col[h]], line, h) for h in metric_names] for r, line in zip(rows, lines)], dtype=np.float64
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
            given = np.array([r[col["hash"]].strip() for r in rows])
            bad = np.flatnonzero(cells.nb101_hashes() != given)
            if len(bad):
                i = int(bad[0])
                raise ValueError(
                    f"{path}, line {lines[i]}: hash {given[i]!r} does not match the cell, whose hash is "
                    f"{cells[i].nb101_hash()}"
                )
    else:
        given = np.array([r[col["hash"]].strip() for r in rows], dtype="S32")
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
        default_metric = "val_acc_108" if "val_acc_108" in metric_names else metric_names[0]
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
