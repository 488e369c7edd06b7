"""nasfast: Rust-accelerated predictor-based neural architecture search.

The cell model and every bulk operation on cells (validity and pruning, the NAS-Bench-101 hash,
exact canonical forms, enumeration, sampling, mutation, neighbourhoods, encodings) live in the
compiled core and are re-exported here. The Python layer lives in submodules, imported on first
use so that ``import nasfast`` stays light:

- :mod:`nasfast.benchmarks`: tabular benchmarks (the oracles) and their importers;
- :mod:`nasfast.search`: predictor-based search, candidate sets, baselines and their plug-in API;
- :mod:`nasfast.metrics`: hitting times, ERT and the sample efficiency gain;
- :mod:`nasfast.experiment`: the sample-efficiency study (also ``nasfast.Experiment``).
"""

import importlib
from typing import Any

from nasfast._core import (
    MAX_BATCH_CELLS,
    MAX_LABELLED_CELLS,
    MAX_NEIGHBOURS,
    MAX_OPS,
    MAX_VERTICES,
    OP_INPUT,
    OP_OUTPUT,
    OP_PAD,
    CellBatch,
    CellSpec,
    Forest,
    InvalidCellError,
    NasfastError,
    SearchSpace,
    SpaceTooLargeError,
    __version__,
)

__all__ = [
    "MAX_BATCH_CELLS",
    "MAX_LABELLED_CELLS",
    "MAX_NEIGHBOURS",
    "MAX_OPS",
    "MAX_VERTICES",
    "OP_INPUT",
    "OP_OUTPUT",
    "OP_PAD",
    "CellBatch",
    "CellSpec",
    "Forest",
    "InvalidCellError",
    "NasfastError",
    "SearchSpace",
    "SpaceTooLargeError",
    "__version__",
    "Experiment",
    "benchmarks",
    "experiment",
    "metrics",
    "search",
]

_SUBMODULES = {"benchmarks", "experiment", "metrics", "search"}


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"nasfast.{name}")
    if name == "Experiment":
        return importlib.import_module("nasfast.experiment").Experiment
    raise AttributeError(f"module 'nasfast' has no attribute {name!r}")
