"""Tabular benchmarks: a table of cells with their measured (or predicted) metrics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Mapping, Optional, Sequence, Union

import numpy as np
import numpy.typing as npt

from .._core import CellBatch, CellSpec, SearchSpace

__all__ = ["MissingCellError", "TabularBenchmark", "save_table", "read_table", "shared_space"]

#: Version of the ``.npz`` layout written by :func:`save_table`.
FORMAT_VERSION = 1
#: Number of cells whose NB101 hash is stored to check the enumeration order on first use.
_CHECK_CELLS = 64


class MissingCellError(KeyError):
    """A queried cell is not in the table; the message names it by its NB101 hash."""

    def __str__(self) -> str:  # KeyError would print the message with quotes
        return str(self.args[0]) if self.args else ""


_SPACES: dict[tuple[int, int, tuple[str, ...]], SearchSpace] = {}


def shared_space(max_vertices: int, max_edges: int, ops: Sequence[str]) -> SearchSpace:
    """One ``SearchSpace`` object per definition, so that its cached enumeration is shared."""
    key = (int(max_vertices), int(max_edges), tuple(ops))
    if key not in _SPACES:
        nb101 = SearchSpace.nb101()
        _SPACES[key] = nb101 if key == (nb101.max_vertices, nb101.max_edges, tuple(nb101.ops)) else SearchSpace(*key[:2], list(key[2]))
    return _SPACES[key]


def _check_metric_array(name: str, values: npt.ArrayLike, n: int) -> npt.NDArray[np.floating]:
    arr = np.asarray(values)
    if arr.ndim != 1 or len(arr) != n:
        raise ValueError(f"metric {name!r} has shape {arr.shape}, expected ({n},) to align with the cells")
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"metric {name!r} has dtype {arr.dtype}, expected a real numeric dtype")
    return arr


class TabularBenchmark:
    """A table of cells of a search space with one value per cell and metric.

    Parameters
    ----------
    name : str
        Name of the benchmark (e.g. ``"nb101-real20k"``).
    space : SearchSpace
        The space the cells belong to.
    cells : CellBatch
        Every cell of the table, pairwise non-isomorphic, aligned with the metric arrays.
    metrics : Mapping[str, numpy.ndarray]
        One 1-d numeric array per metric, of length ``len(cells)``; NaN marks a missing value.
    cost_metric : str, optional
        Metric holding the cost of evaluating a cell (training seconds), used by :meth:`cost`.
    default_metric : str, default "val_acc_108"
        Metric used when a method is called with ``metric=None``.
    citation : str, default ""
        Source of the numbers.
    description : str, default ""
        One-line description.

    Raises
    ------
    ValueError
        If a metric array is not aligned with the cells, if ``default_metric`` or ``cost_metric``
        is not a metric, if the cells belong to another space, or if two cells are isomorphic.

    Notes
    -----
    Lookups (:meth:`query`, :meth:`cost`) match cells up to isomorphism through
    ``CellBatch.fingerprints()``, which is exact for cells of at most 8 vertices: a sorted index
    of the table's fingerprints is built on first use.

    Examples
    --------
    >>> from nasfast.benchmarks import load
    >>> bench = load("nb101-real20k")
    >>> cell, value = bench.optimum()
    >>> bench.query(bench.top(3))  # doctest: +SKIP
    """

    name: str
    space: SearchSpace
    metrics: list[str]
    default_metric: str
    cost_metric: Optional[str]
    citation: str
    description: str

    def __init__(
        self,
        name: str,
        space: SearchSpace,
        cells: CellBatch,
        metrics: Mapping[str, npt.ArrayLike],
        *,
        cost_metric: Optional[str] = None,
        default_metric: str = "val_acc_108",
        citation: str = "",
        description: str = "",
    ) -> None:
        if cells.space != space:
            raise ValueError(f"cells belong to another space than the benchmark {name!r}")
        self._init(name, space, len(cells), metrics, cost_metric, default_metric, citation, description)
        self._cells: Optional[CellBatch] = cells
        self._make_cells: Callable[[], CellBatch] = lambda: cells
        self._fingerprint_index()  # also rejects isomorphic duplicates

    @classmethod
    def _lazy(
        cls,
        name: str,
        space: SearchSpace,
        n: int,
        make_cells: Callable[[], CellBatch],
        metrics: Mapping[str, npt.ArrayLike],
        *,
        cost_metric: Optional[str],
        default_metric: str,
        citation: str,
        description: str,
    ) -> "TabularBenchmark":
        """A benchmark whose cells are built by ``make_cells()`` on first use (keeps loading fast)."""
        self = cls.__new__(cls)
        self._init(name, space, n, metrics, cost_metric, default_metric, citation, description)
        self._cells = None
        self._make_cells = make_cells
        return self

    def _init(
        self,
        name: str,
        space: SearchSpace,
        n: int,
        metrics: Mapping[str, npt.ArrayLike],
        cost_metric: Optional[str],
        default_metric: str,
        citation: str,
        description: str,
    ) -> None:
        self.name = str(name)
        self.space = space
        self._n = int(n)
        self._arrays = {str(k): _check_metric_array(str(k), v, self._n) for k, v in metrics.items()}
        self._float: dict[str, npt.NDArray[np.float64]] = {}
        self.metrics = list(self._arrays)
        if default_metric not in self._arrays:
            raise ValueError(f"default_metric {default_metric!r} is not a metric of {self.name!r}: {self.metrics}")
        if cost_metric is not None and cost_metric not in self._arrays:
            raise ValueError(f"cost_metric {cost_metric!r} is not a metric of {self.name!r}: {self.metrics}")
        self.default_metric = default_metric
        self.cost_metric = cost_metric
        self.citation = str(citation)
        self.description = str(description)
        self._fp_sorted: Optional[npt.NDArray[np.uint64]] = None
        self._fp_order: Optional[npt.NDArray[np.int64]] = None

    # ------------------------------------------------------------------ cells and lookups
    @property
    def cells(self) -> CellBatch:
        """Every cell of the table (a ``CellBatch``), aligned with :meth:`values`."""
        if self._cells is None:
            cells = self._make_cells()
            if len(cells) != self._n:
                raise ValueError(f"benchmark {self.name!r}: built {len(cells)} cells, expected {self._n}")
            self._cells = cells
        return self._cells

    def _fingerprint_index(self) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64]]:
        if self._fp_sorted is None or self._fp_order is None:
            fps = self.cells.fingerprints()
            order = np.argsort(fps, kind="stable")
            fp_sorted = fps[order]
            dup = np.flatnonzero(fp_sorted[1:] == fp_sorted[:-1])
            if len(dup):
                i, j = sorted((int(order[dup[0]]), int(order[dup[0] + 1])))
                raise ValueError(f"benchmark {self.name!r}: cells {i} and {j} are isomorphic (a cell must appear once)")
            self._fp_sorted, self._fp_order = fp_sorted, order
        return self._fp_sorted, self._fp_order

    def positions(self, cells: CellBatch, missing: str = "raise") -> npt.NDArray[np.int64]:
        """Rows of the table holding ``cells`` (matched up to isomorphism), -1 where absent.

        Parameters
        ----------
        cells : CellBatch
            Cells of the benchmark's space.
        missing : {"raise", "nan"}, default "raise"
            ``"raise"``: a cell not in the table raises :class:`MissingCellError`; ``"nan"``:
            its position is -1.

        Returns
        -------
        numpy.ndarray of int64

        Raises
        ------
        MissingCellError
            If ``missing="raise"`` and a cell is not in the table (the message gives its NB101
            hash and its row).
        ValueError
            If ``cells`` belong to another space, or ``missing`` is not a known choice.
        """
        if missing not in ("raise", "nan"):
            raise ValueError(f"missing must be 'raise' or 'nan', got {missing!r}")
        if not isinstance(cells, CellBatch):
            raise TypeError(f"cells must be a CellBatch, got {type(cells).__name__}")
        if cells.space != self.space:
            raise ValueError(f"cells belong to another space than the benchmark {self.name!r}")
        fp_sorted, order = self._fingerprint_index()
        fps = cells.fingerprints()
        at = np.minimum(np.searchsorted(fp_sorted, fps), max(len(fp_sorted) - 1, 0))
        found = fp_sorted[at] == fps if len(fp_sorted) else np.zeros(len(fps), dtype=bool)
        pos = np.where(found, order[at] if len(order) else 0, -1).astype(np.int64)
        if missing == "raise" and not found.all():
            bad = np.flatnonzero(~found)
            row = int(bad[0])
            raise MissingCellError(
                f"cell with NB101 hash {cells[row].nb101_hash()} (row {row} of the query"
                + (f", and {len(bad) - 1} more rows" if len(bad) > 1 else "")
                + f") is not in the benchmark {self.name!r}"
            )
        return pos

    def _metric(self, metric: Optional[str]) -> str:
        metric = self.default_metric if metric is None else metric
        if metric not in self._arrays:
            raise ValueError(f"unknown metric {metric!r} for benchmark {self.name!r}; metrics: {self.metrics}")
        return metric

    def values(self, metric: Optional[str] = None) -> npt.NDArray[np.float64]:
        """Values of ``metric`` (default: :attr:`default_metric`) for every cell, as float64.

        The array is aligned with :attr:`cells` and read-only (it is cached).
        """
        metric = self._metric(metric)
        if metric not in self._float:
            arr = self._arrays[metric].astype(np.float64)
            arr.setflags(write=False)
            self._float[metric] = arr
        return self._float[metric]

    def query(self, cells: CellBatch, metric: Optional[str] = None, missing: str = "raise") -> npt.NDArray[np.float64]:
        """Values of ``metric`` for ``cells``, matched up to isomorphism.

        Parameters
        ----------
        cells : CellBatch
            Cells of the benchmark's space, in any vertex order.
        metric : str, optional
            A metric of :attr:`metrics`; default :attr:`default_metric`.
        missing : {"raise", "nan"}, default "raise"
            What a cell that is not in the table gives: :class:`MissingCellError`, or NaN.

        Returns
        -------
        numpy.ndarray of float64, shape (len(cells),)

        Raises
        ------
        MissingCellError
            If ``missing="raise"`` and a cell is not in the table.
        ValueError
            For an unknown metric, a foreign space or a bad ``missing``.
        """
        values = self.values(metric)
        pos = self.positions(cells, missing)
        out = values[np.maximum(pos, 0)] if len(values) else np.full(len(pos), np.nan)
        out[pos < 0] = np.nan
        return out

    def cost(self, cells: CellBatch) -> npt.NDArray[np.float64]:
        """Cost of evaluating ``cells`` (training seconds, metric :attr:`cost_metric`).

        Raises
        ------
        ValueError
            If the benchmark has no cost metric.
        MissingCellError
            If a cell is not in the table.
        """
        if self.cost_metric is None:
            raise ValueError(f"benchmark {self.name!r} has no cost metric")
        return self.query(cells, self.cost_metric)

    def _ranking(self, metric: Optional[str]) -> npt.NDArray[np.int64]:
        values = self.values(metric)
        # Descending by value, NaN last, ties by table order.
        key = np.where(np.isnan(values), np.inf, -values)
        return np.argsort(key, kind="stable")

    def optimum(self, metric: Optional[str] = None) -> tuple[CellSpec, float]:
        """The best cell for ``metric`` (largest value; first in table order on ties) and its value."""
        values = self.values(metric)
        if len(values) == 0 or np.isnan(values).all():
            raise ValueError(f"benchmark {self.name!r} has no value for metric {self._metric(metric)!r}")
        best = int(self._ranking(metric)[0])
        return self.cells[best], float(values[best])

    def top(self, k: int, metric: Optional[str] = None) -> CellBatch:
        """The ``k`` best cells for ``metric``, best first (ties in table order, NaN never chosen)."""
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
            raise ValueError(f"k must be a non-negative integer, got {k!r}")
        values = self.values(metric)
        k = min(int(k), int(np.count_nonzero(~np.isnan(values))))
        return self.cells[self._ranking(metric)[:k]]

    def targets(self, threshold: float, metric: Optional[str] = None) -> CellBatch:
        """Every cell whose ``metric`` is at least ``threshold``, best first."""
        threshold = float(threshold)
        if np.isnan(threshold):
            raise ValueError("threshold must not be NaN")
        values = self.values(metric)
        order = self._ranking(metric)
        count = int(np.count_nonzero(values >= threshold))
        return self.cells[order[:count]]

    def __len__(self) -> int:
        return self._n

    def __getstate__(self) -> dict[str, object]:
        # Pickles the cells themselves (built if still lazy) and no caches.
        state = dict(self.__dict__)
        state["_cells"] = self.cells
        state.pop("_make_cells", None)
        state.update(_float={}, _fp_sorted=None, _fp_order=None)
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        cells = self._cells
        self._make_cells = lambda: cells  # type: ignore[assignment,return-value]

    def __repr__(self) -> str:
        return f"TabularBenchmark(name={self.name!r}, cells={self._n}, metrics={self.metrics})"

    def describe(self) -> str:
        """A multi-line summary: size, space, each metric's range, cost metric and citation."""
        space = self.space
        lines = [
            f"{self.name}: {self._n} cells" + (f" - {self.description}" if self.description else ""),
            f"space: {space.max_vertices} vertices, {space.max_edges} edges, ops {space.ops}",
            f"default metric: {self.default_metric}; cost metric: {self.cost_metric}",
        ]
        for metric in self.metrics:
            values = self.values(metric)
            ok = values[~np.isnan(values)]
            if len(ok):
                lines.append(
                    f"  {metric}: min {ok.min():.6g}, mean {ok.mean():.6g}, max {ok.max():.6g}"
                    + (f", {len(values) - len(ok)} missing" if len(ok) < len(values) else "")
                )
            else:
                lines.append(f"  {metric}: no values")
        if self.citation:
            lines.append(f"citation: {self.citation}")
        return "\n".join(lines)

    def save(self, path: Union[str, Path]) -> Path:
        """Write the benchmark to ``path`` in the compact ``.npz`` format read by :func:`load`.

        Cells are stored by their index in ``space.enumerate()``, so the space must be
        enumerable. Returns the path written.
        """
        return save_table(self, path)


def save_table(bench: TabularBenchmark, path: Union[str, Path], *, compress: bool = True) -> Path:
    """Write ``bench`` as an ``.npz`` of numpy arrays (no pickle), cells keyed by enumeration index.

    Layout: ``meta`` (a JSON string: format version, name, space, default and cost metric,
    citation, description, metric names), ``index`` (int32 enumeration index of each row, sorted
    ascending), ``metric:<name>`` (one array per metric, aligned with ``index``), and
    ``check_index``/``check_hash`` (NB101 hashes of a few rows, compared with the enumeration
    when the cells are first built, so a file never silently maps to the wrong cells).
    """
    path = Path(path)
    index = bench.space.index_of(bench.cells)
    if (index < 0).any():
        row = int(np.flatnonzero(index < 0)[0])
        raise ValueError(f"cell {row} of {bench.name!r} is not in the enumeration of its space")
    order = np.argsort(index, kind="stable")
    index = index[order]
    check = np.unique(np.linspace(0, len(index) - 1, min(_CHECK_CELLS, len(index))).astype(np.int64))
    meta = {
        "format": FORMAT_VERSION,
        "name": bench.name,
        "space": {"max_vertices": bench.space.max_vertices, "max_edges": bench.space.max_edges, "ops": bench.space.ops},
        "default_metric": bench.default_metric,
        "cost_metric": bench.cost_metric,
        "citation": bench.citation,
        "description": bench.description,
        "metrics": bench.metrics,
        "size": len(index),
    }
    arrays: dict[str, np.ndarray] = {
        "meta": np.array(json.dumps(meta)),
        "index": index.astype(np.int32),
        "check_index": check.astype(np.int32),
        "check_hash": np.array(bench.cells[order[check]].nb101_hashes(), dtype="S32"),
    }
    for metric in bench.metrics:
        arrays[f"metric:{metric}"] = np.asarray(bench._arrays[metric])[order]
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        (np.savez_compressed if compress else np.savez)(fh, **arrays)  # type: ignore[arg-type]
    return path


def read_table(path: Union[str, Path]) -> TabularBenchmark:
    """Read a benchmark written by :func:`save_table`; its cells are built lazily on first use.

    Raises
    ------
    ValueError
        If the file is not a benchmark table of a known format version.
    """
    path = Path(path)
    with np.load(path, allow_pickle=False) as data:
        try:
            meta = json.loads(str(data["meta"]))
            if meta.get("format") != FORMAT_VERSION:
                raise ValueError(f"format version {meta.get('format')!r}, expected {FORMAT_VERSION}")
            index = data["index"].astype(np.int64)
            check_index = data["check_index"].astype(np.int64)
            check_hash = data["check_hash"]
            metrics = {name: data[f"metric:{name}"] for name in meta["metrics"]}
        except (KeyError, ValueError, TypeError) as exc:
            raise ValueError(f"{path} is not a nasfast benchmark table: {exc}") from exc
    sp = meta["space"]
    space = shared_space(sp["max_vertices"], sp["max_edges"], sp["ops"])
    name = meta["name"]

    def make_cells() -> CellBatch:
        everything = space.enumerate()
        if len(index) == len(everything) and (index == np.arange(len(index))).all():
            cells = everything
        else:
            cells = everything[index]
        hashes = np.array(cells[check_index].nb101_hashes(), dtype="S32")
        if not (hashes == check_hash).all():
            raise ValueError(
                f"{path}: the enumeration of the space does not match the one this table was built with "
                f"(row {int(check_index[np.flatnonzero(hashes != check_hash)[0]])}); rebuild the table"
            )
        return cells

    return TabularBenchmark._lazy(
        name,
        space,
        len(index),
        make_cells,
        metrics,
        cost_metric=meta["cost_metric"],
        default_metric=meta["default_metric"],
        citation=meta["citation"],
        description=meta["description"],
    )
