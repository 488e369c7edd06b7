"""nasfast: Rust-accelerated predictor-based neural architecture search.

The cell model and every bulk operation on cells (validity and pruning, the NAS-Bench-101 hash,
exact canonical forms, enumeration, sampling, mutation, neighbourhoods, encodings) live in the
compiled core and are re-exported here.
"""

from nasfast._core import (
    MAX_LABELLED_CELLS,
    MAX_OPS,
    MAX_VERTICES,
    OP_INPUT,
    OP_OUTPUT,
    OP_PAD,
    CellBatch,
    CellSpec,
    InvalidCellError,
    SearchSpace,
    SpaceTooLargeError,
    __version__,
)

__all__ = [
    "MAX_LABELLED_CELLS",
    "MAX_OPS",
    "MAX_VERTICES",
    "OP_INPUT",
    "OP_OUTPUT",
    "OP_PAD",
    "CellBatch",
    "CellSpec",
    "InvalidCellError",
    "SearchSpace",
    "SpaceTooLargeError",
    "__version__",
]
