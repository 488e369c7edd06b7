"""Type stubs of the compiled core of nasfast (``nasfast._core``).

Every class here is re-exported by :mod:`nasfast`; users import them from there.
"""

from collections.abc import Iterator, Sequence
from typing import Any, Literal, Optional, Union, final, overload

import numpy as np
import numpy.typing as npt

from nasfast._typing import RandomState as _RandomState

__version__: str
__all__ = [
    "BUILD_PROFILE",
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
    "TFRecordError",
    "__version__",
    "read_nb101_tfrecord",
]
#: "release" or "debug": how the compiled module was built.
BUILD_PROFILE: str

#: Op code of the input vertex.
OP_INPUT: int
#: Op code of the output vertex.
OP_OUTPUT: int
#: Op code of a padding slot in a zero-padded batch row.
OP_PAD: int
#: Largest number of vertices a cell may have.
MAX_VERTICES: int
#: Largest number of interior ops a space may have.
MAX_OPS: int
#: Enumeration is refused when a space has more labelled cells than this.
MAX_LABELLED_CELLS: int
#: The largest number of cells (or Monte-Carlo proposals) one call may draw or return.
MAX_BATCH_CELLS: int
#: The largest number of cells one ``neighbours`` call may return for all its parents.
MAX_NEIGHBOURS: int

_EncodingKind = Literal["adjacency", "path", "path-trunc", "path-count"]

class NasfastError(Exception):
    """Base of every exception nasfast defines; each one also subclasses the builtin exception it refines (ValueError, KeyError or RuntimeError)."""

class InvalidCellError(NasfastError, ValueError):
    """A cell, or a row of a batch, is not valid: the message names the value and the row."""

class SpaceTooLargeError(NasfastError, ValueError):
    """The space is too large for the requested operation (the message gives its size)."""

class TFRecordError(NasfastError, ValueError):
    """Corrupt, truncated or malformed TFRecord input; the message names the byte offset."""

def read_nb101_tfrecord(data: bytes, space: SearchSpace, n_jobs: Optional[int] = None) -> dict[str, npt.NDArray[Any]]:
    """Decode a whole NAS-Bench-101 TFRecord file (its bytes) into numpy arrays.

    Per record: ``offsets`` (int64), ``epochs`` (int64), ``metrics`` (float64, (n, 5): the final
    evaluation's current_epoch, training_time, train_accuracy, validation_accuracy,
    test_accuracy; NaN when absent), ``params`` (int64, -1 when absent), ``cell_index`` (int64)
    and ``run_index`` (int64: how many records of the same cell and budget come before it).
    Per distinct hash, sorted: ``hashes`` ('<U32'), ``first_record`` (int64), ``adjacency``
    (uint8, (m, V, V)) and ``ops`` (int8, (m, V)), V the space's ``max_vertices``: the cell as
    its first record gives it, not pruned. Raises ``TFRecordError`` naming the byte offset of the
    first bad record.
    """

@final
class SearchSpace:
    def __new__(cls, max_vertices: int, max_edges: int, ops: Sequence[str]) -> SearchSpace: ...
    @staticmethod
    def nb101() -> SearchSpace: ...
    @property
    def max_vertices(self) -> int: ...
    @property
    def max_edges(self) -> int: ...
    @property
    def ops(self) -> list[str]: ...
    @property
    def num_ops(self) -> int: ...
    def op_code(self, name: str) -> int: ...
    def is_enumerable(self) -> bool: ...
    def enumerate(self, n_jobs: Optional[int] = None) -> CellBatch: ...
    def count(self, n_jobs: Optional[int] = None) -> int: ...
    def counts_by_vertices(self, n_jobs: Optional[int] = None) -> npt.NDArray[np.int64]: ...
    def estimate_count(
        self, n_samples: int = 100_000, random_state: _RandomState = None, n_jobs: Optional[int] = None
    ) -> tuple[float, float]: ...
    def index_of(self, cells: CellBatch, n_jobs: Optional[int] = None) -> npt.NDArray[np.int64]: ...
    def cell_at(self, indices: npt.ArrayLike) -> CellBatch: ...
    def sample(
        self,
        n: int,
        random_state: _RandomState = None,
        method: Literal["uniform", "orbit", "rejection"] = "uniform",
        replace: bool = True,
        n_jobs: Optional[int] = None,
    ) -> CellBatch: ...
    def mutate(
        self,
        cells: CellBatch,
        random_state: _RandomState = None,
        preset: Literal["nb101", "bananas", "naslib"] = "nb101",
        non_isomorphic: bool = False,
        n_jobs: Optional[int] = None,
    ) -> CellBatch: ...
    def neighbours(
        self, cells: CellBatch, radius: int = 1, n_jobs: Optional[int] = None
    ) -> tuple[CellBatch, npt.NDArray[np.int64]]: ...
    def encoding_dim(self, kind: _EncodingKind) -> int: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...
    def __reduce__(self) -> tuple[object, ...]: ...

@final
class CellSpec:
    def __new__(
        cls,
        adjacency: npt.ArrayLike,
        ops: Sequence[Union[str, int]],
        space: Optional[SearchSpace] = None,
    ) -> CellSpec: ...
    @property
    def adjacency(self) -> npt.NDArray[np.uint8]: ...
    @property
    def ops(self) -> list[Union[int, str]]: ...
    @property
    def num_vertices(self) -> int: ...
    @property
    def num_edges(self) -> int: ...
    def op_names(self, space: Optional[SearchSpace] = None) -> list[str]: ...
    def pruned(self) -> CellSpec: ...
    def is_valid(self, space: Optional[SearchSpace] = None) -> bool: ...
    def validate(self, space: Optional[SearchSpace] = None) -> CellSpec: ...
    def nb101_hash(self) -> str: ...
    def canonical(self) -> CellSpec: ...
    def fingerprint(self) -> int: ...
    def is_isomorphic(self, other: CellSpec) -> bool: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...
    def __reduce__(self) -> tuple[object, ...]: ...

@final
class CellBatch:
    @staticmethod
    def from_arrays(
        adjacency: npt.NDArray[np.uint8],
        ops: npt.NDArray[np.int8],
        space: SearchSpace,
        n_jobs: Optional[int] = None,
    ) -> CellBatch: ...
    @staticmethod
    def from_specs(specs: Sequence[CellSpec], space: SearchSpace) -> CellBatch: ...
    @staticmethod
    def concat(batches: Sequence[CellBatch]) -> CellBatch: ...
    @property
    def space(self) -> SearchSpace: ...
    @property
    def adjacency(self) -> npt.NDArray[np.uint8]: ...
    @property
    def ops(self) -> npt.NDArray[np.int8]: ...
    @property
    def num_vertices(self) -> npt.NDArray[np.uint8]: ...
    @property
    def num_edges(self) -> npt.NDArray[np.uint8]: ...
    @property
    def nbytes(self) -> int: ...
    def __len__(self) -> int: ...
    # the index types do not overlap: numpy 1.x's ArrayLike includes int, which made the two
    # overloads unsafely overlapping for mypy (their return types differ)
    @overload
    def __getitem__(self, index: Union[int, np.integer], /) -> CellSpec: ...
    @overload
    def __getitem__(
        self, index: Union[slice, Sequence[Union[int, np.integer]], npt.NDArray[Union[np.integer, np.bool_]]], /
    ) -> CellBatch: ...
    def __iter__(self) -> Iterator[CellSpec]: ...
    def to_specs(self) -> list[CellSpec]: ...
    def nb101_hashes(self, n_jobs: Optional[int] = None) -> npt.NDArray[np.str_]: ...
    def fingerprints(self, n_jobs: Optional[int] = None) -> npt.NDArray[np.uint64]: ...
    def canonical(self, n_jobs: Optional[int] = None) -> CellBatch: ...
    def unique(self, n_jobs: Optional[int] = None) -> tuple[CellBatch, npt.NDArray[np.int64]]: ...
    def encode(self, kind: _EncodingKind = "path", n_jobs: Optional[int] = None) -> npt.NDArray[np.float32]: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __reduce__(self) -> tuple[object, ...]: ...


@final
class Forest:
    """A fitted random forest of regression trees (squared error). Fit it with :meth:`fit`; the
    scikit-learn estimator is :class:`nasfast.search.ForestRegressor`. Deterministic for a
    ``random_state`` whatever ``n_jobs``; picklable."""

    @staticmethod
    def fit(
        x: npt.NDArray[np.float32],
        y: npt.NDArray[np.float64],
        *,
        n_estimators: int = 100,
        max_features: Optional[int] = None,
        min_samples_split: int = 2,
        min_samples_leaf: int = 1,
        max_depth: Optional[int] = None,
        bootstrap: bool = True,
        random_state: _RandomState = None,
        n_jobs: Optional[int] = None,
    ) -> Forest:
        """Fits a forest on ``x`` (float32, C-contiguous, shape (n, d)) and ``y`` (float64,
        shape (n,)). ``max_features``: non-constant features tried per split (``None``: all)."""
    @staticmethod
    def from_arrays(
        n_features: int,
        tree_start: Sequence[int],
        feature: Sequence[int],
        threshold: Sequence[float],
        left: Sequence[int],
        right: Sequence[int],
        value: Sequence[float],
    ) -> Forest:
        """Rebuilds a forest from the arrays of :attr:`arrays` (validated)."""
    @property
    def n_estimators(self) -> int:
        """Number of trees."""
    @property
    def n_features(self) -> int:
        """Number of features of the rows it was fitted on."""
    @property
    def n_nodes(self) -> int:
        """Number of nodes of all trees."""
    @property
    def arrays(
        self,
    ) -> tuple[
        npt.NDArray[np.uint32],
        npt.NDArray[np.int32],
        npt.NDArray[np.float64],
        npt.NDArray[np.uint32],
        npt.NDArray[np.uint32],
        npt.NDArray[np.float64],
    ]:
        """``(tree_start, feature, threshold, left, right, value)``: node ``k`` of tree ``t`` is
        entry ``tree_start[t] + k``; a leaf has ``feature == -1``; ``left``/``right`` are node
        indices inside the tree; ``x[feature] <= threshold`` goes left."""
    def used_features(self) -> npt.NDArray[np.int64]:
        """The features some node splits on, ascending."""
    def predict_mean_std(
        self, x: npt.NDArray[np.float32], n_jobs: Optional[int] = None
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Mean prediction over the trees and its standard deviation over the trees, per row."""
    def predict_member(self, x: npt.NDArray[np.float32], tree: int, n_jobs: Optional[int] = None) -> npt.NDArray[np.float64]:
        """The prediction of tree ``tree`` for every row."""
    def predict_members(self, x: npt.NDArray[np.float32], n_jobs: Optional[int] = None) -> npt.NDArray[np.float64]:
        """The prediction of every tree for every row, shape (rows, n_estimators)."""
    @staticmethod
    def pack_rows(x: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint64]:
        """Packs rows of 0/1 values (uint8, shape (n, d)) 64 to a word: uint64 of shape
        (n, ceil(d / 64)), feature ``c`` of row ``i`` at bit ``c % 64`` of word ``[i, c // 64]``.
        A value above 1 raises ``ValueError`` naming it."""
    def predict_mean_std_packed(
        self,
        bits: npt.NDArray[np.uint64],
        columns: Optional[npt.ArrayLike] = None,
        rows: Optional[npt.ArrayLike] = None,
        n_jobs: Optional[int] = None,
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """:meth:`predict_mean_std` of packed 0/1 rows (:meth:`pack_rows`): feature ``f`` of the
        forest is column ``columns[f]`` of ``bits`` (default: column ``f``); ``rows`` selects the
        rows to score (default: all). Equal bit for bit to ``predict_mean_std`` on the same rows
        as float32; each distinct row over the features the trees use is scored once."""
    def predict_mean_packed(
        self,
        bits: npt.NDArray[np.uint64],
        columns: Optional[npt.ArrayLike] = None,
        rows: Optional[npt.ArrayLike] = None,
        n_jobs: Optional[int] = None,
    ) -> npt.NDArray[np.float64]:
        """The mean of :meth:`predict_mean_std_packed` alone (the spread is not computed)."""
    def predict_member_packed(
        self,
        bits: npt.NDArray[np.uint64],
        tree: int,
        columns: Optional[npt.ArrayLike] = None,
        rows: Optional[npt.ArrayLike] = None,
        n_jobs: Optional[int] = None,
    ) -> npt.NDArray[np.float64]:
        """:meth:`predict_member` of packed 0/1 rows (``columns`` and ``rows`` as in
        :meth:`predict_mean_std_packed`)."""
    def __eq__(self, other: object, /) -> bool: ...
    def __reduce__(self) -> tuple[object, ...]: ...
