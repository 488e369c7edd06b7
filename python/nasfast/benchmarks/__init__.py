"""Tabular benchmarks: the oracle a search queries for the accuracy of a cell.

Built in (shipped with the package, see :func:`available`):

- ``nb101-real20k``: 20,001 real NAS-Bench-101 cells (CIFAR-10, one training run each) with
  ``val_acc_4``, ``val_acc_12``, ``val_acc_36``, ``val_acc_108``, ``train_time_108_s`` and
  ``params``. Its searchable space is those cells.
- ``nb101-surrogate``: a value for every one of the 423,624 cells of the NAS-Bench-101 space,
  predicted by a gradient-boosting model fit on the real cells (``val_acc_108`` and
  ``train_time_108_s``). It returns the model's prediction for every cell, including the 20,001
  cells with a real value, so that it is one smooth function of the cell.

Importers: :func:`from_csv` (any table, any space) and :func:`from_nb101_tfrecord` (the official
NAS-Bench-101 files, saved to :func:`data_dir` as ``nb101-full`` for :func:`load`).

Tables are saved atomically (a temporary file in the same folder, fsynced, renamed) and checked
when loaded (CRC-32 of every array, a strictly increasing index, NB101 hashes of sample rows);
a damaged file raises :class:`TableFormatError`, a ``ValueError`` naming the file.

Data: Ying et al., "NAS-Bench-101: Towards Reproducible Neural Architecture Search", ICML 2019
(data set released under the Apache-2.0 licence).
"""

from ._csv import from_csv
from ._registry import available, data_dir, load
from ._table import MissingCellError, TableFormatError, TabularBenchmark
from ._tfrecord import TFRecordError, from_nb101_tfrecord

__all__ = [
    "MissingCellError",
    "TFRecordError",
    "TableFormatError",
    "TabularBenchmark",
    "available",
    "data_dir",
    "from_csv",
    "from_nb101_tfrecord",
    "load",
]
