"""Combined encodings: the core's feature encodings of a batch of cells, side by side."""

from __future__ import annotations

from typing import Any, Optional, cast

import numpy as np
import numpy.typing as npt

from .._core import CellBatch, SearchSpace

__all__ = ["CORE_ENCODINGS", "encode", "encoding_dim", "encoding_parts"]

#: The encodings of the core (``CellBatch.encode``).
CORE_ENCODINGS = ("adjacency", "path", "path-trunc", "path-count")


def encoding_parts(kind: str) -> tuple[str, ...]:
    """The core encodings of a (possibly combined) encoding name, in order.

    Parameters
    ----------
    kind : str
        A core encoding (``"adjacency"``, ``"path"``, ``"path-trunc"``, ``"path-count"``) or
        several joined by ``"+"``, e.g. ``"adjacency+path-count"``.

    Returns
    -------
    tuple of str

    Raises
    ------
    TypeError
        If ``kind`` is not a string.
    ValueError
        If a part is not a core encoding or appears twice.

    Examples
    --------
    >>> encoding_parts("adjacency+path-count")
    ('adjacency', 'path-count')
    """
    if not isinstance(kind, str):
        raise TypeError(f"encoding = {kind!r}: expected a string such as 'path' or 'adjacency+path-count'")
    parts = tuple(kind.split("+"))
    for p in parts:
        if p not in CORE_ENCODINGS:
            raise ValueError(
                f"encoding = {kind!r}: {p!r} is not an encoding; expected one of {CORE_ENCODINGS} or several joined by '+'"
            )
    if len(set(parts)) != len(parts):
        raise ValueError(f"encoding = {kind!r}: an encoding appears twice")
    return parts


def encoding_dim(space: SearchSpace, kind: str) -> int:
    """The number of features of ``kind`` (a core or combined encoding) in ``space``.

    Examples
    --------
    >>> from nasfast import SearchSpace
    >>> encoding_dim(SearchSpace.nb101(), "adjacency+path-count")
    400
    """
    return int(sum(space.encoding_dim(cast(Any, p)) for p in encoding_parts(kind)))


def encode(cells: CellBatch, kind: str, n_jobs: Optional[int] = None) -> npt.NDArray[np.float32]:
    """The features of ``cells``: one core encoding, or several side by side.

    ``encode(cells, "adjacency+path-count")`` is
    ``np.hstack([cells.encode("adjacency"), cells.encode("path-count")])``: the columns of each
    part in the order given, float32.

    Parameters
    ----------
    cells : CellBatch
    kind : str
        See :func:`encoding_parts`.
    n_jobs : int, optional
        Threads of the core's encoders.

    Returns
    -------
    ndarray of shape (len(cells), encoding_dim(cells.space, kind)), float32

    Examples
    --------
    >>> from nasfast import SearchSpace
    >>> cells = SearchSpace.nb101().sample(3, random_state=0)
    >>> encode(cells, "adjacency+path-count").shape
    (3, 400)
    """
    parts = encoding_parts(kind)
    if not isinstance(cells, CellBatch):
        raise TypeError(f"cells must be a CellBatch, got {type(cells).__name__}")
    blocks = [cells.encode(cast(Any, p), n_jobs=n_jobs) for p in parts]
    if len(blocks) == 1:
        return blocks[0]
    return np.ascontiguousarray(np.hstack(blocks), dtype=np.float32)
