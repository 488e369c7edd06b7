"""Import the official NAS-Bench-101 TFRecord files without TensorFlow.

The file is decoded by the compiled core (:func:`nasfast._core.read_nb101_tfrecord`): the
TFRecord framing and both CRC-32C of every record, the JSON record ``[module_hash, epochs,
adjacency, operations, metrics]``, the base64 protobuf ``ModelMetrics`` message of each training
run (the final evaluation: the one with the largest ``current_epoch``), and the grouping of the
runs by cell. This module checks the cells against the space and their hashes, and builds the
table: per epoch budget the mean over runs and every run's value.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

import numpy as np
import numpy.typing as npt

from .._core import CellBatch, InvalidCellError, SearchSpace, TFRecordError, read_nb101_tfrecord
from ._registry import FULL_NAME, check_name, data_dir
from ._table import TabularBenchmark, save_table

__all__ = ["TFRecordError", "from_nb101_tfrecord"]

NB101_CITATION = (
    "C. Ying, A. Klein, E. Real, E. Christiansen, K. Murphy, F. Hutter. NAS-Bench-101: Towards "
    "Reproducible Neural Architecture Search. ICML 2019. Data set released under the Apache-2.0 licence."
)
#: Columns of the decoded metrics (one row per record): the final evaluation of the run.
METRIC_COLUMNS = ("current_epoch", "training_time", "train_accuracy", "validation_accuracy", "test_accuracy")
#: How the imported metrics are named: {column: (prefix, suffix)} -> f"{prefix}_{epochs}{suffix}".
_NAMES = {
    "validation_accuracy": ("val_acc", ""),
    "test_accuracy": ("test_acc", ""),
    "train_accuracy": ("train_acc", ""),
    "training_time": ("train_time", "_s"),
}
#: Cells whose NB101 hash is recomputed and compared with the record (all, in files this small).
_HASH_CHECKS = 2000


def _fail(offsets: npt.NDArray[np.int64], i: int, what: str) -> TFRecordError:
    return TFRecordError(f"record {i} at byte offset {int(offsets[i])}: {what}")


def _cells_of(records: dict[str, np.ndarray], space: SearchSpace) -> CellBatch:
    """The cells of the decoded records (one per distinct hash), pruned, validated and hash-checked."""
    offsets, first, hashes = records["offsets"], records["first_record"], records["hashes"]
    adj, ops = records["adjacency"], records["ops"]
    try:
        cells = CellBatch.from_arrays(adj, ops, space)
    except InvalidCellError:
        for j in np.argsort(first, kind="stable").tolist():  # the first bad record in the file
            try:
                CellBatch.from_arrays(adj[j : j + 1], ops[j : j + 1], space)
            except InvalidCellError as exc:
                raise _fail(offsets, int(first[j]), f"invalid cell: {exc}") from None
        raise
    # The hash names the cell: check it (for every cell of a small file, a fixed sample otherwise).
    n = len(cells)
    check = np.arange(n) if n <= _HASH_CHECKS else np.sort(np.random.default_rng(0).choice(n, _HASH_CHECKS, replace=False))
    computed = cells[check].nb101_hashes()
    wrong = np.flatnonzero(computed != hashes[check])
    if len(wrong):
        k = int(wrong[np.argmin(first[check[wrong]])])  # the first such record in the file
        j = int(check[k])
        raise _fail(offsets, int(first[j]), f"module_hash {hashes[j]} does not match its cell (hash {computed[k]})")
    return cells


def from_nb101_tfrecord(
    path: Union[str, Path], save: Union[bool, str, Path] = False, *, name: str = FULL_NAME, n_jobs: Optional[int] = None
) -> TabularBenchmark:
    """Import an official NAS-Bench-101 file (``nasbench_only108.tfrecord`` or ``nasbench_full.tfrecord``).

    Every record is one training run of one cell at one epoch budget. For each budget ``e`` in
    the file the benchmark has the mean over runs of the final evaluation, as metrics
    ``val_acc_e``, ``test_acc_e``, ``train_acc_e`` and ``train_time_e_s`` (seconds), the value of
    each run as ``val_acc_e_run1``, ``val_acc_e_run2``, ... (NaN for a missing run), and
    ``params``. Per-run values are stored as float32 (the precision of the official data),
    means as float64.

    Parameters
    ----------
    path : str or Path
        The TFRecord file.
    save : bool or path, default False
        ``True``: also save the table to ``data_dir() / f"{name}.npz"``, where :func:`load`
        finds it by name; a path: save it there.
    name : str, default "nb101-full"
        Name of the benchmark.
    n_jobs : int, optional
        Threads that decode the records (default: all cores, or ``RAYON_NUM_THREADS``); the
        result does not depend on it.

    Returns
    -------
    TabularBenchmark
        Default metric ``val_acc_108`` (or of the largest budget), cost metric
        ``train_time_108_s`` (likewise).

    Raises
    ------
    TFRecordError
        For a truncated or corrupt file (CRC mismatch) or a malformed record (not the JSON
        record, an epoch budget that is not a positive integer, bad base64, not a
        ``ModelMetrics`` message, a cell that is not in the space or does not match its hash,
        runs of one hash with different cells), naming its byte offset; for a directory or a
        file without records. Nothing is returned or saved then.
    ValueError
        If ``save=True`` and ``name`` cannot be a file name in :func:`data_dir` (checked before
        the file is read).
    OSError
        If the file cannot be read (e.g. ``FileNotFoundError``).

    Examples
    --------
    The official file is a separate download (not shipped, about 500 MB), so this example is
    not run::

        from nasfast.benchmarks import from_nb101_tfrecord, load
        bench = from_nb101_tfrecord("nasbench_only108.tfrecord", save=True)
        bench.values("val_acc_108_run1")  # the first training run of every cell
        load("nb101-full")                # later, by name
    """
    path = Path(path)
    if save is True:
        check_name(name)
    if path.is_dir():
        raise TFRecordError(f"{path} is a directory, not a TFRecord file")
    bench = _table_of(path.read_bytes(), path.name, name, n_jobs)
    if save is not False:
        target = data_dir() / f"{name}.npz" if save is True else Path(save)
        save_table(bench, target, compress=False)
    return bench


def _table_of(data: bytes, source: str, name: str, n_jobs: Optional[int] = None) -> TabularBenchmark:
    """The benchmark of the TFRecord file ``data`` (``source`` names it in messages)."""
    space = SearchSpace.nb101()
    records = read_nb101_tfrecord(data, space, n_jobs)
    offsets = records["offsets"]
    if not len(offsets):
        raise TFRecordError(f"{source}: no records")
    cells = _cells_of(records, space)
    n_cells = len(cells)
    epochs, final, inverse = records["epochs"], records["metrics"], records["cell_index"]
    run_index, params, first = records["run_index"], records["params"], records["first_record"]

    budgets = np.unique(epochs)
    metrics: dict[str, npt.NDArray[np.floating]] = {}
    max_runs = 0
    for e in budgets.tolist():
        rows = np.flatnonzero(epochs == e)
        cell, run = inverse[rows], run_index[rows]  # run: earlier records of the cell at e
        runs = int(run.max()) + 1
        max_runs = max(max_runs, runs)
        for field, (prefix, suffix) in _NAMES.items():
            per_run = np.full((runs, n_cells), np.nan, dtype=np.float32)  # a row per run
            per_run[run, cell] = final[rows, METRIC_COLUMNS.index(field)]
            ok = ~np.isnan(per_run)
            count = ok.sum(axis=0)
            total = np.where(ok, per_run, 0).astype(np.float64).sum(axis=0)
            with np.errstate(invalid="ignore", divide="ignore"):
                metrics[f"{prefix}_{e}{suffix}"] = np.where(count > 0, total / np.maximum(count, 1), np.nan)
            for r in range(runs):
                metrics[f"{prefix}_{e}_run{r + 1}{suffix}"] = per_run[r]
    metrics["params"] = params[first].astype(np.float64)
    metrics["params"][params[first] < 0] = np.nan

    top = 108 if 108 in budgets else int(budgets.max())
    try:
        return TabularBenchmark(
            name,
            space,
            cells,
            metrics,
            cost_metric=f"train_time_{top}_s",
            default_metric=f"val_acc_{top}",
            citation=NB101_CITATION,
            description=(
                f"imported from {source}: {len(offsets):,} training runs of {n_cells:,} cells, "
                f"epoch budgets {budgets.tolist()}, up to {max_runs} runs per budget"
            ),
        )
    except ValueError:
        _check_distinct(records, cells)
        raise


def _check_distinct(records: dict[str, np.ndarray], cells: CellBatch) -> None:
    """Raise TFRecordError if two hashes name isomorphic cells (possible only when the hashes
    were checked on a sample), naming the later of the two records."""
    offsets, first, hashes = records["offsets"], records["first_record"], records["hashes"]
    fps = cells.fingerprints()
    order = np.lexsort((first, fps))  # by fingerprint, then file order
    same = np.flatnonzero(fps[order][1:] == fps[order][:-1])
    if len(same):
        pairs = [(int(first[order[k + 1]]), int(order[k]), int(order[k + 1])) for k in same.tolist()]
        _, i, j = min(pairs)
        raise _fail(
            offsets,
            int(first[j]),
            f"module_hash {hashes[j]} names a cell isomorphic to the cell of module_hash {hashes[i]} "
            f"(record at byte offset {int(offsets[first[i]])})",
        )
