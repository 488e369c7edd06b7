"""The record of a search (:class:`History`) and the JSON form of cells and spaces."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Optional

import numpy as np
import numpy.typing as npt

from .._core import CellBatch, SearchSpace

__all__ = ["History", "cells_to_json", "cells_from_json", "space_to_json", "space_from_json"]


def space_to_json(space: SearchSpace) -> dict[str, Any]:
    """The JSON form of a space: ``{"max_vertices", "max_edges", "ops"}``."""
    return {"max_vertices": space.max_vertices, "max_edges": space.max_edges, "ops": list(space.ops)}


def space_from_json(obj: Mapping[str, Any]) -> SearchSpace:
    """The space of :func:`space_to_json`."""
    return SearchSpace(int(obj["max_vertices"]), int(obj["max_edges"]), [str(o) for o in obj["ops"]])


def cells_to_json(cells: CellBatch) -> list[list[Any]]:
    """Cells as JSON: one ``[adjacency, ops]`` pair per cell.

    ``adjacency`` is the cell's n x n matrix (n = its vertex count) as a string of n*n ``0``/``1``
    characters, row-major; ``ops`` the n op codes (-1 input, -2 output).
    """
    adj = cells.adjacency
    ops = cells.ops
    nv = cells.num_vertices
    out: list[list[Any]] = []
    for i in range(len(cells)):
        n = int(nv[i])
        bits = "".join("1" if b else "0" for b in adj[i, :n, :n].ravel())
        out.append([bits, [int(o) for o in ops[i, :n]]])
    return out


def cells_from_json(obj: Sequence[Sequence[Any]], space: SearchSpace) -> CellBatch:
    """The cells of :func:`cells_to_json` (validated: a bad entry raises ``InvalidCellError``)."""
    v = space.max_vertices
    n = len(obj)
    adj = np.zeros((n, v, v), dtype=np.uint8)
    ops = np.full((n, v), -3, dtype=np.int8)
    for i, entry in enumerate(obj):
        if not (isinstance(entry, (list, tuple)) and len(entry) == 2):
            raise ValueError(f"cell {i}: expected [adjacency, ops], got {entry!r}")
        bits, codes = entry
        m = len(codes)
        if m > v or len(bits) != m * m or set(bits) - {"0", "1"}:
            raise ValueError(f"cell {i}: adjacency {bits!r} does not fit {m} ops in a space of {v} vertices")
        adj[i, :m, :m] = np.frombuffer(bits.encode("ascii"), dtype=np.uint8).reshape(m, m) - ord("0")
        ops[i, :m] = codes
    return CellBatch.from_arrays(adj, ops, space)


def _float_or_none(x: float) -> Optional[float]:
    return None if math.isnan(x) else float(x)


def _none_to_nan(x: Optional[float]) -> float:
    return math.nan if x is None else float(x)


class History:
    """Every evaluation of a search, in the order the results were told.

    All attributes are numpy arrays of one length (the number of evaluations).

    Attributes
    ----------
    cells : CellBatch
        The evaluated cells.
    values : ndarray of float64
        Their values (maximised); NaN for a failed evaluation.
    costs : ndarray of float64
        Their costs (seconds of training for a tabular benchmark); NaN when unknown.
    iteration : ndarray of int64
        The ask round (0, 1, ...) that proposed the cell; -1 for a cell told without an ask.
    wall_time : ndarray of float64
        Seconds since the start of the search when the result was told.
    candidate_set_size : ndarray of int64
        Size of the candidate set the cell was selected from (0: random initial design or
        baseline without a candidate set).
    errors : ndarray of object
        ``None`` for a successful evaluation, else the error text of the failure.
    """

    _FIELDS = ("values", "costs", "iteration", "wall_time", "candidate_set_size", "errors")

    def __init__(
        self,
        cells: CellBatch,
        values: npt.ArrayLike,
        costs: npt.ArrayLike,
        iteration: npt.ArrayLike,
        wall_time: npt.ArrayLike,
        candidate_set_size: npt.ArrayLike,
        errors: Optional[Sequence[Optional[str]]] = None,
    ) -> None:
        n = len(cells)
        self.cells = cells
        self.values = np.asarray(values, dtype=np.float64).reshape(-1)
        self.costs = np.asarray(costs, dtype=np.float64).reshape(-1)
        self.iteration = np.asarray(iteration, dtype=np.int64).reshape(-1)
        self.wall_time = np.asarray(wall_time, dtype=np.float64).reshape(-1)
        self.candidate_set_size = np.asarray(candidate_set_size, dtype=np.int64).reshape(-1)
        err = np.empty(n, dtype=object)
        if errors is not None:
            err[:] = list(errors)
        self.errors = err
        for name in self._FIELDS:
            if len(getattr(self, name)) != n:
                raise ValueError(f"History: {name} has {len(getattr(self, name))} entries for {n} cells")

    def __len__(self) -> int:
        return len(self.cells)

    def __repr__(self) -> str:
        return f"History(n={len(self)}, best={self.best_value()!r})"

    def best_index(self) -> Optional[int]:
        """Position of the best successful evaluation (first one on ties), or ``None``."""
        ok = ~np.isnan(self.values)
        if not ok.any():
            return None
        return int(np.flatnonzero(ok)[np.argmax(self.values[ok])])

    def best_value(self) -> Optional[float]:
        """The best value told so far (``None`` before any successful evaluation)."""
        i = self.best_index()
        return None if i is None else float(self.values[i])

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (NaN written as ``null``); inverse of :meth:`from_dict`."""
        return {
            "space": space_to_json(self.cells.space),
            "cells": cells_to_json(self.cells),
            "values": [_float_or_none(x) for x in self.values],
            "costs": [_float_or_none(x) for x in self.costs],
            "iteration": [int(x) for x in self.iteration],
            "wall_time": [float(x) for x in self.wall_time],
            "candidate_set_size": [int(x) for x in self.candidate_set_size],
            "errors": [None if e is None else str(e) for e in self.errors],
        }

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any]) -> History:
        """The history of :meth:`to_dict`."""
        space = space_from_json(obj["space"])
        return cls(
            cells_from_json(obj["cells"], space),
            [_none_to_nan(x) for x in obj["values"]],
            [_none_to_nan(x) for x in obj["costs"]],
            obj["iteration"],
            obj["wall_time"],
            obj["candidate_set_size"],
            obj.get("errors"),
        )

    def equals(self, other: History, wall_time: bool = False) -> bool:
        """Whether two histories record the same evaluations (wall times compared on request)."""
        if len(self) != len(other) or self.cells != other.cells:
            return False
        fields = [f for f in self._FIELDS if f != "wall_time" or wall_time]
        for f in fields:
            a, b = getattr(self, f), getattr(other, f)
            if f == "errors":
                if list(a) != list(b):
                    return False
            elif not np.array_equal(a, b, equal_nan=a.dtype.kind == "f"):
                return False
        return True
