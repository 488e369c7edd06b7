"""Tabular benchmarks: a table of cells with their measured (or predicted) metrics."""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO, Callable, Optional, Union

import numpy as np
import numpy.typing as npt

from .._atomic import atomic_write
from .._core import CellBatch, CellSpec, NasfastError, SearchSpace

__all__ = [
    "MissingCellError",
    "TableFormatError",
    "TabularBenchmark",
    "save_table",
    "read_table",
    "read_table_meta",
    "shared_space",
]

#: Version of the ``.npz`` layout written by :func:`save_table` (2: CRC-32 of every array in
#: the metadata; 1, without them, is refused).
FORMAT_VERSION = 2
#: Number of cells whose NB101 hash is stored to check the enumeration order on first use.
_CHECK_CELLS = 64


class MissingCellError(NasfastError, KeyError):
    """A queried cell is not in the table; the message names it by its NB101 hash."""

    def __str__(self) -> str:  # KeyError would print the message with quotes
        return str(self.args[0]) if self.args else ""


class TableFormatError(NasfastError, ValueError):
    """A file is not a valid nasfast benchmark table: truncated, corrupt, inconsistent, or of
    another format version. The message names the file and what is wrong with it."""


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
    if np.issubdtype(arr.dtype, np.floating):
        infinite = np.flatnonzero(np.isinf(arr))
        if len(infinite):
            row = int(infinite[0])
            raise ValueError(f"metric {name!r} has the value {arr[row]} at row {row}: values must be finite (NaN marks a missing one)")
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
    >>> len(bench), bench.default_metric
    (20001, 'val_acc_108')
    >>> cell, value = bench.optimum()
    >>> print(f"{value:.4f}")
    0.9491
    >>> bench.query(bench.top(3)).round(4)
    array([0.9491, 0.949 , 0.949 ])
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
    ) -> TabularBenchmark:
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


def _npy(array: np.ndarray) -> bytes:
    """``array`` in the ``.npy`` format (what ``np.save`` writes; never a pickle)."""
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asarray(array), allow_pickle=False)
    return buf.getvalue()


def _write_zip(fh: BinaryIO, members: Mapping[str, bytes], compress: bool) -> None:
    """A ``.npz`` archive of ``.npy`` members with fixed timestamps (the same arrays give the
    same bytes)."""
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(fh, "w", compression=method) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = method
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)


def save_table(bench: TabularBenchmark, path: Union[str, Path], *, compress: bool = True) -> Path:
    """Write ``bench`` as an ``.npz`` of numpy arrays (no pickle), cells keyed by enumeration index.

    Layout (format version 2): ``index`` (int32 enumeration index of each row, strictly
    increasing), ``metric:<name>`` (one array per metric, aligned with ``index``),
    ``check_index``/``check_hash`` (NB101 hashes of a few rows, compared with the enumeration
    when the cells are first built), and ``meta`` (a JSON string: format version, name, space,
    default and cost metric, citation, description, metric names, size, and the CRC-32 of every
    other member, which :func:`read_table` compares with the archive). The file is written to a
    temporary file in the same folder, fsynced and renamed over ``path``, so an interrupted save
    leaves the previous file intact.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    index = bench.space.index_of(bench.cells)
    if (index < 0).any():
        row = int(np.flatnonzero(index < 0)[0])
        raise ValueError(f"cell {row} of {bench.name!r} is not in the enumeration of its space")
    order = np.argsort(index, kind="stable")
    index = index[order]
    check = np.unique(np.linspace(0, len(index) - 1, min(_CHECK_CELLS, len(index))).astype(np.int64))
    members = {
        "index": _npy(index.astype(np.int32)),
        "check_index": _npy(check.astype(np.int32)),
        "check_hash": _npy(np.array(bench.cells[order[check]].nb101_hashes(), dtype="S32")),
    }
    for metric in bench.metrics:
        members[f"metric:{metric}"] = _npy(np.asarray(bench._arrays[metric])[order])
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
        "crc32": {name: zlib.crc32(data) for name, data in members.items()},
    }
    with atomic_write(path) as fh:
        _write_zip(fh, {"meta": _npy(np.array(json.dumps(meta))), **members}, compress)
    return path


#: What reading a damaged archive or ``.npy`` member can raise.
_READ_ERRORS = (
    zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError, ValueError, KeyError, TypeError,
    IndexError, OverflowError, MemoryError, NotImplementedError, RuntimeError, struct.error, UnicodeDecodeError,
)


def _member(zf: zipfile.ZipFile, name: str, crc: Optional[int]) -> np.ndarray:
    """The array of member ``name``; the archive's CRC-32 must equal ``crc`` (the one recorded in
    the metadata), and ``zf.read`` checks the data against the archive's CRC-32."""
    info = zf.getinfo(f"{name}.npy")
    if crc is not None and info.CRC != crc:
        raise ValueError(f"member {name!r} has CRC-32 {info.CRC:08x}, the metadata records {crc:08x}")
    data = zf.read(info)
    buf = io.BytesIO(data)
    array = np.lib.format.read_array(buf, allow_pickle=False)
    if buf.tell() != len(data):
        raise ValueError(f"member {name!r} has {len(data) - buf.tell()} bytes after its array")
    return array


_META_FIELDS: dict[str, Any] = {
    "format": int, "name": str, "space": dict, "default_metric": str, "cost_metric": (str, type(None)),
    "citation": str, "description": str, "metrics": list, "size": int, "crc32": dict,
}


def _check_meta(meta: Any) -> dict[str, Any]:
    if not isinstance(meta, dict):
        raise ValueError(f"the metadata is a {type(meta).__name__}, not a JSON object")
    version = meta.get("format")
    if version != FORMAT_VERSION:
        hint = " (written by an older nasfast, without checksums)" if version == 1 else ""
        raise ValueError(f"format version {version!r}, this nasfast reads version {FORMAT_VERSION}{hint}")
    for key, kind in _META_FIELDS.items():
        if key not in meta:
            raise ValueError(f"the metadata has no {key!r}")
        if not isinstance(meta[key], kind) or isinstance(meta[key], bool):
            raise ValueError(f"metadata {key!r} = {meta[key]!r} has the wrong type")
    sp = meta["space"]
    if not (
        isinstance(sp.get("max_vertices"), int) and isinstance(sp.get("max_edges"), int)
        and isinstance(sp.get("ops"), list) and all(isinstance(o, str) for o in sp["ops"])
    ):
        raise ValueError(f"metadata 'space' = {sp!r} is not a space")
    metrics = meta["metrics"]
    if not all(isinstance(m, str) for m in metrics) or len(set(metrics)) != len(metrics):
        raise ValueError(f"metadata 'metrics' = {metrics!r} is not a list of distinct names")
    expected = {"index", "check_index", "check_hash", *(f"metric:{m}" for m in metrics)}
    crcs = meta["crc32"]
    if set(crcs) != expected or not all(isinstance(c, int) and not isinstance(c, bool) for c in crcs.values()):
        raise ValueError(f"metadata 'crc32' names {sorted(crcs)}, expected {sorted(expected)}")
    if meta["size"] < 0:
        raise ValueError(f"metadata 'size' = {meta['size']}")
    return meta


def _read_meta(zf: zipfile.ZipFile) -> dict[str, Any]:
    names = set(zf.namelist())
    raw = _member(zf, "meta", None)
    if raw.shape != () or raw.dtype.kind != "U":
        raise ValueError(f"member 'meta' is a {raw.dtype} array of shape {raw.shape}, not a string")
    meta = _check_meta(json.loads(str(raw)))
    extra = names - {"meta.npy", *(f"{n}.npy" for n in meta["crc32"])}
    if extra:
        raise ValueError(f"unexpected members {sorted(extra)}")
    return meta


def _corrupt(path: Path, exc: BaseException) -> TableFormatError:
    reason = str(exc) or type(exc).__name__
    if isinstance(exc, KeyError):
        reason = f"missing member {exc}"
    elif isinstance(exc, (zipfile.BadZipFile, zlib.error, EOFError)):
        reason = f"not a readable archive ({type(exc).__name__}: {reason})"
    return TableFormatError(
        f"{path} is not a valid nasfast benchmark table: {reason}; delete it, or import or save the table again"
    )


def read_table_meta(path: Union[str, Path]) -> dict[str, Any]:
    """The metadata of a table file (name, space, metrics, size, description...), checked.

    Reads the small ``meta`` member only, so it is fast on large tables; :func:`read_table`
    checks the rest.

    Raises
    ------
    TableFormatError
        If the file is not a table of the current format (the message names the file).
    OSError
        If the file cannot be opened.
    """
    path = Path(path)
    with open(path, "rb") as fh:
        try:
            with zipfile.ZipFile(fh) as zf:
                return _read_meta(zf)
        except _READ_ERRORS as exc:
            raise _corrupt(path, exc) from exc


def _check_arrays(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """The arrays fit the metadata and each other: the index is strictly increasing and
    non-negative (so no row is mapped to another row's cell), the check rows exist."""
    n = meta["size"]
    index = arrays["index"]
    if index.shape != (n,) or index.dtype != np.int32:
        raise ValueError(f"'index' is a {index.dtype} array of shape {index.shape}, expected {n} int32")
    if n and int(index[0]) < 0:
        raise ValueError(f"'index' starts with {int(index[0])}, a negative enumeration index")
    steps = np.diff(index.astype(np.int64))
    if (steps <= 0).any():
        row = int(np.flatnonzero(steps <= 0)[0]) + 1
        raise ValueError(f"'index' is not strictly increasing at row {row} ({int(index[row - 1])} then {int(index[row])})")
    check_index, check_hash = arrays["check_index"], arrays["check_hash"]
    if check_index.ndim != 1 or check_index.dtype != np.int32 or (n and len(check_index) == 0):
        raise ValueError(f"'check_index' is a {check_index.dtype} array of shape {check_index.shape}")
    if len(check_index) and (check_index.min() < 0 or check_index.max() >= n):
        raise ValueError(f"'check_index' has rows outside 0..{n - 1}")
    if check_hash.shape != check_index.shape or check_hash.dtype != np.dtype("S32"):
        raise ValueError(f"'check_hash' is a {check_hash.dtype} array of shape {check_hash.shape}")


def read_table(path: Union[str, Path]) -> TabularBenchmark:
    """Read a benchmark written by :func:`save_table`; its cells are built lazily on first use.

    Every array is checked against the CRC-32 recorded in the metadata (and the archive's own),
    the index must be strictly increasing and non-negative, and when the cells are first built,
    the index must lie in the enumeration and the stored NB101 hashes of a few rows must match
    the enumeration. So a damaged file raises instead of mapping a value to the wrong cell.

    Raises
    ------
    TableFormatError
        If the file is not a benchmark table of the current format version, or is truncated,
        corrupt or inconsistent (the message names the file).
    OSError
        If the file cannot be opened.
    """
    path = Path(path)
    with open(path, "rb") as fh:
        try:
            with zipfile.ZipFile(fh) as zf:
                meta = _read_meta(zf)
                arrays = {name: _member(zf, name, crc) for name, crc in meta["crc32"].items()}
            _check_arrays(meta, arrays)
            sp = meta["space"]
            space = shared_space(sp["max_vertices"], sp["max_edges"], sp["ops"])
        except _READ_ERRORS as exc:
            raise _corrupt(path, exc) from exc
    index = arrays["index"].astype(np.int64)
    check_index = arrays["check_index"].astype(np.int64)
    check_hash = arrays["check_hash"]
    name = meta["name"]

    def make_cells() -> CellBatch:
        everything = space.enumerate()
        if len(index) and index[-1] >= len(everything):
            raise TableFormatError(
                f"{path}: enumeration index {int(index[-1])} is outside the {len(everything)} cells of the space"
            )
        if len(index) == len(everything):  # strictly increasing from 0: every cell in order
            cells = everything
        else:
            cells = everything[index]
        hashes = np.array(cells[check_index].nb101_hashes(), dtype="S32")
        if not (hashes == check_hash).all():
            raise TableFormatError(
                f"{path}: the enumeration of the space does not match the one this table was built with "
                f"(row {int(check_index[np.flatnonzero(hashes != check_hash)[0]])}); rebuild the table"
            )
        return cells

    try:
        return TabularBenchmark._lazy(
            name,
            space,
            len(index),
            make_cells,
            {m: arrays[f"metric:{m}"] for m in meta["metrics"]},
            cost_metric=meta["cost_metric"],
            default_metric=meta["default_metric"],
            citation=meta["citation"],
            description=meta["description"],
        )
    except (ValueError, TypeError) as exc:
        raise _corrupt(path, exc) from exc
