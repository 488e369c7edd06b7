"""The universe of a search, the cells it may ask, and the feature cache of a universe.

A :class:`Universe` is a set of unique cells with a fingerprint index: the ``universe`` a
searcher is restricted to (e.g. the cells of a tabular benchmark), or every cell of a space
small enough to enumerate. :class:`UniverseFeatures` holds the encoding of a whole universe,
computed once and kept (:func:`universe_features`), which is what makes scoring every cell of
NAS-Bench-101 in every round affordable.
"""

from __future__ import annotations

import hashlib
from typing import Any, Optional

import numpy as np
import numpy.typing as npt

from .._core import CellBatch, Forest, SearchSpace
from ..predictors import encode, encoding_dim

__all__ = ["Universe", "UniverseFeatures", "UniverseRows", "space_universe", "universe_features"]


def fingerprint_digest(fps: npt.NDArray[np.uint64]) -> str:
    """SHA-256 of a set of fingerprints (order-free)."""
    return hashlib.sha256(np.sort(fps).astype("<u8").tobytes()).hexdigest()


class Universe:
    """A set of unique cells with a fingerprint index.

    Parameters
    ----------
    cells : CellBatch
        The cells (isomorphic duplicates are dropped, first occurrences kept in order).
    n_jobs : int, optional
        Threads for the core.

    Attributes
    ----------
    cells : CellBatch
        The unique cells, in order.
    fingerprints : ndarray of uint64
        Their fingerprints.
    digest : str
        SHA-256 of the sorted fingerprints: equal for two universes of the same cells.
    """

    def __init__(self, cells: CellBatch, n_jobs: Optional[int] = None) -> None:
        if not isinstance(cells, CellBatch):
            raise TypeError(f"universe must be a CellBatch, got {type(cells).__name__}")
        if len(cells) == 0:
            raise ValueError("universe is empty")
        uniq, _ = cells.unique(n_jobs=n_jobs)
        self.cells = uniq
        self.fingerprints = uniq.fingerprints(n_jobs=n_jobs)
        self._order = np.argsort(self.fingerprints, kind="stable")
        self._sorted = self.fingerprints[self._order]
        self.digest = fingerprint_digest(self.fingerprints)

    def __len__(self) -> int:
        return len(self.cells)

    def __repr__(self) -> str:
        return f"Universe({len(self)} cells of {self.cells.space!r})"

    def positions(self, fps: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Positions of the fingerprints in :attr:`cells` (-1 for a cell outside the universe)."""
        fps = np.asarray(fps, dtype=np.uint64)
        at = np.searchsorted(self._sorted, fps)
        at_c = np.minimum(at, len(self._sorted) - 1)
        found = self._sorted[at_c] == fps
        return np.where(found, self._order[at_c], -1).astype(np.int64)


_SPACE_UNIVERSES: dict[SearchSpace, Universe] = {}


def space_universe(space: SearchSpace, n_jobs: Optional[int] = None) -> Universe:
    """Every cell of an enumerable space as a :class:`Universe` (built once; the universes of
    the last two spaces are kept)."""
    u = _SPACE_UNIVERSES.get(space)
    if u is None:
        u = Universe(space.enumerate(n_jobs=n_jobs), n_jobs)
        if len(_SPACE_UNIVERSES) >= 2:
            _SPACE_UNIVERSES.pop(next(iter(_SPACE_UNIVERSES)))
        _SPACE_UNIVERSES[space] = u
    return u


class UniverseFeatures:
    """The features of every cell of a universe, stored once: the distinct feature rows as
    uint8 and, for every cell, the index of its row (cells with equal features are scored
    once). Built by :func:`universe_features`.

    Attributes
    ----------
    rows : ndarray of uint8, shape (rows, features)
        The distinct feature rows.
    inverse : ndarray of int64
        For every cell of the universe, its row.
    order, starts, sizes : ndarray of int64
        The cells grouped by row, in universe order inside each group: the cells of row ``r``
        are ``order[starts[r]:starts[r + 1]]``, ``sizes[r]`` of them.
    bits : ndarray of uint64 or None
        The rows packed as bits (``Forest.pack_rows``) when every feature is 0 or 1, for the core
        forest's scoring in place; ``None`` for counts (``"path-count"``).
    """

    def __init__(self, universe: Universe, encoding: str, n_jobs: Optional[int] = None) -> None:
        n = len(universe)
        d = encoding_dim(universe.cells.space, encoding)
        X = np.empty((n, d), dtype=np.uint8)
        for a in range(0, n, 65_536):
            block = encode(universe.cells[a : a + 65_536], encoding, n_jobs)
            if block.size and (block.max() > 255 or block.min() < 0):
                raise ValueError(f"encoding {encoding!r} does not fit the uint8 feature cache")
            X[a : a + len(block)] = block
        rows = np.ascontiguousarray(X).view(np.dtype((np.void, d))).ravel()
        _, first, inverse = np.unique(rows, return_index=True, return_inverse=True)
        self.rows = X[first]
        self.inverse = inverse.reshape(-1).astype(np.int64)
        self.order = np.argsort(self.inverse, kind="stable")
        self.starts = np.searchsorted(self.inverse[self.order], np.arange(len(first) + 1))
        self.sizes = np.diff(self.starts)
        self.bits = Forest.pack_rows(self.rows) if self.rows.size and self.rows.max() <= 1 else None

    @property
    def nbytes(self) -> int:
        """Memory held, in bytes."""
        bits = 0 if self.bits is None else self.bits.nbytes
        return int(self.rows.nbytes + self.inverse.nbytes + self.order.nbytes + self.starts.nbytes + self.sizes.nbytes + bits)


class UniverseRows:
    """Rows ``index`` of the cached features of a universe, read in place (``X[r]`` is row
    ``index[r]``): the candidates of one round when they are cells of the universe."""

    def __init__(self, features: UniverseFeatures, index: npt.NDArray[np.int64]) -> None:
        self.features = features
        self.index = index
        self._dense: Optional[npt.NDArray[np.uint8]] = None

    def __len__(self) -> int:
        return len(self.index)

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, features)."""
        return (len(self.index), self.features.rows.shape[1])

    def __getitem__(self, key: Any) -> npt.NDArray[np.uint8]:
        return self.features.rows[self.index[key]]

    def dense(self) -> npt.NDArray[np.uint8]:
        """The rows as one array (copied once)."""
        if self._dense is None:
            self._dense = self.features.rows[self.index]
        return self._dense


_FEATURES: dict[tuple[str, str], UniverseFeatures] = {}


def universe_features(universe: Universe, encoding: str, n_jobs: Optional[int] = None) -> UniverseFeatures:
    """The cached features of a universe in an encoding (built once; the last two universe x
    encoding pairs are kept)."""
    key = (universe.digest, encoding)
    f = _FEATURES.get(key)
    if f is None:
        f = UniverseFeatures(universe, encoding, n_jobs)
        if len(_FEATURES) >= 2:
            _FEATURES.pop(next(iter(_FEATURES)))
        _FEATURES[key] = f
    return f
