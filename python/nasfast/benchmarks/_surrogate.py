"""The model behind ``nb101-surrogate``: features, settings, fitting and prediction.

The model is scikit-learn's ``HistGradientBoostingRegressor`` (histogram gradient boosting),
deliberately not the family of the search loop's default predictor. Its features are identical
for isomorphic cells:

- counts of input-to-output paths per sequence of interior ops, for paths of at most 3 interior
  ops (the first 40 columns of the ``"path-count"`` encoding; longer paths are summarised by the
  longest-path feature below, and leaving them out makes the fit several times faster);
- number of vertices, number of edges, and the number of interior vertices of each op;
- in-degree of the output, out-degree of the input, whether input and output are directly
  connected, the length of the longest input-output path, and the number of vertices of each op
  that feed the output.

Accuracy target: the model is fit on the normal scores of the accuracy ranks (``Phi^-1`` of the
mid-rank quantile), which keeps the few failed trainings (accuracy ~0.1) from dominating the
squared loss; predictions are mapped back to accuracies through the empirical quantiles of the
training accuracies (a monotone map, so the ranking is the model's). Cost target: the logarithm of
the training time, mapped back with ``exp``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from .._core import CellBatch

__all__ = ["SURROGATE_SETTINGS", "HOLDOUT_FRACTION", "SPLIT_SEED", "holdout_split", "surrogate_features", "AccuracyModel", "CostModel"]

#: Hyper-parameters of both models (``HistGradientBoostingRegressor``).
SURROGATE_SETTINGS: dict[str, Any] = {
    "max_iter": 300,
    "learning_rate": 0.1,
    "max_leaf_nodes": 31,
    "early_stopping": False,
    "random_state": 0,
}
#: Fraction of the real cells held out for the fidelity check, and the seed of that split.
HOLDOUT_FRACTION = 0.2
SPLIT_SEED = 0
#: Path-count columns used: paths with at most 3 interior ops (1 + 3 + 9 + 27 for 3 ops).
_PATH_COLUMNS = 40


def surrogate_features(cells: CellBatch, chunk: int = 65536) -> npt.NDArray[np.float32]:
    """Isomorphism-invariant features of ``cells`` for the surrogate (see the module docstring).

    Parameters
    ----------
    cells : CellBatch
        Cells of the NAS-Bench-101 space (3 interior ops).
    chunk : int, default 65536
        Cells encoded at a time (bounds the memory of the 364-column path-count encoding).

    Returns
    -------
    numpy.ndarray of float32, shape (len(cells), 40 + 5 + 4 + 3)
    """
    if cells.space.num_ops != 3:
        raise ValueError(f"the surrogate features are defined for 3 interior ops, got {cells.space.num_ops}")
    n = len(cells)
    num_ops = cells.space.num_ops
    out = np.empty((n, _PATH_COLUMNS + 2 + num_ops + 4 + num_ops), dtype=np.float32)
    for start in range(0, n, chunk):
        part = cells[start : start + chunk]
        m = len(part)
        adj = part.adjacency.astype(np.int64)
        ops = part.ops
        nv = part.num_vertices.astype(np.int64)
        rows = np.arange(m)
        last = nv - 1
        into_output = adj[rows, :, last]  # [m, V]: which vertices feed the output
        longest = np.full(adj.shape[:2], -(10**6), dtype=np.int64)
        longest[:, 0] = 0
        for j in range(1, adj.shape[1]):
            longest[:, j] = np.max(np.where(adj[:, :j, j] == 1, longest[:, :j] + 1, -(10**6)), axis=1)
        cols = [
            part.encode("path-count")[:, :_PATH_COLUMNS],
            nv[:, None],
            part.num_edges.astype(np.int64)[:, None],
            np.stack([(ops == k).sum(axis=1) for k in range(num_ops)], axis=1),
            into_output.sum(axis=1)[:, None],
            adj[:, 0, :].sum(axis=1)[:, None],
            adj[rows, 0, last][:, None],
            longest[rows, last][:, None],
            np.stack([(into_output * (ops == k)).sum(axis=1) for k in range(num_ops)], axis=1),
        ]
        out[start : start + m] = np.hstack(cols)
    return out


def holdout_split(n: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The seeded fidelity split of ``n`` real cells: (training rows, held-out rows), both sorted."""
    perm = np.random.default_rng(SPLIT_SEED).permutation(n)
    held = int(round(HOLDOUT_FRACTION * n))
    return np.sort(perm[held:]), np.sort(perm[:held])


def _normal_scores(y: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Normal scores of the mid-ranks of ``y`` (ties get the mean rank)."""
    from scipy.special import ndtri  # scipy ships with scikit-learn

    order = np.argsort(y, kind="stable")
    ranks = np.empty(len(y), dtype=np.float64)
    ranks[order] = np.arange(len(y), dtype=np.float64)
    sorted_y = y[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_y)) + 1]
    ends = np.r_[starts[1:], len(y)]
    mean_rank = (starts + ends - 1) / 2.0
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return ndtri((ranks + 0.5) / len(y))


def _regressor() -> Any:
    """A fresh model with the committed settings (scikit-learn is imported only to fit)."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    return HistGradientBoostingRegressor(**SURROGATE_SETTINGS)


class AccuracyModel:
    """Predicts an accuracy from :func:`surrogate_features` (rank-normal target, see module doc)."""

    def fit(self, features: npt.NDArray[np.float32], y: npt.ArrayLike) -> AccuracyModel:
        y = np.asarray(y, dtype=np.float64)
        if np.isnan(y).any():
            raise ValueError("accuracy targets contain NaN")
        z = _normal_scores(y)
        self.model_ = _regressor().fit(features, z)
        order = np.argsort(z, kind="stable")
        self.z_sorted_, self.y_sorted_ = z[order], y[order]
        return self

    def predict(self, features: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        z = self.model_.predict(features)
        return np.interp(z, self.z_sorted_, self.y_sorted_)


class CostModel:
    """Predicts training seconds from :func:`surrogate_features` (fit on the log of the time)."""

    def fit(self, features: npt.NDArray[np.float32], seconds: npt.ArrayLike) -> CostModel:
        seconds = np.asarray(seconds, dtype=np.float64)
        if not (seconds > 0).all():
            raise ValueError("training times must be positive")
        self.model_ = _regressor().fit(features, np.log(seconds))
        return self

    def predict(self, features: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        return np.exp(self.model_.predict(features))
