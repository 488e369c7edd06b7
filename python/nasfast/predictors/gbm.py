"""``GBMRegressor``: scikit-learn's histogram gradient boosting with defaults for a few dozen to a
few hundred rows, predicting with the core's tree evaluator.

scikit-learn walks all the rows once per tree; with 300 trees, scoring the 423,624 cells of
NAS-Bench-101 takes about 10 s on one core. The fitted trees are ordinary binary trees
(``x <= threshold`` goes left), so they are copied into a core :class:`nasfast.Forest` and
evaluated there, every row through every tree at once and on all cores: the prediction is the
model's baseline plus the sum of the trees' leaf values (the mean over the trees times their
number).
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.utils.validation import check_array, check_is_fitted, check_X_y
from threadpoolctl import threadpool_limits

from .._core import Forest

__all__ = ["GBMRegressor"]

#: Rows predicted per block when scikit-learn predicts (trees it cannot hand to the core): it
#: walks the rows once per tree, and blocks that stay in the cache while all trees visit them
#: predict about 3 times faster than one pass over a large matrix.
_PREDICT_CHUNK = 512


def _core_trees(model: HistGradientBoostingRegressor, n_features: int) -> Optional[tuple[Forest, float]]:
    """The trees of a fitted model as a core forest, and the model's baseline prediction; None
    when the model has splits the core does not have (categorical features) or its layout is not
    the expected one (it is read from scikit-learn's private ``_predictors``)."""
    try:
        trees = [p[0] for p in model._predictors]
        baseline = float(np.asarray(model._baseline_prediction).reshape(-1)[0])
        if any(len(p) != 1 for p in model._predictors):
            return None
        starts, feature, threshold, left, right, value = [0], [], [], [], [], []
        for tree in trees:
            nodes = tree.nodes
            if "is_categorical" in nodes.dtype.names and np.any(nodes["is_categorical"]):
                return None
            leaf = nodes["is_leaf"].astype(bool)
            feature.extend(np.where(leaf, -1, nodes["feature_idx"]).tolist())
            threshold.extend(np.where(leaf, 0.0, nodes["num_threshold"]).tolist())
            left.extend(np.where(leaf, 0, nodes["left"]).tolist())
            right.extend(np.where(leaf, 0, nodes["right"]).tolist())
            value.extend(nodes["value"].tolist())
            starts.append(starts[-1] + len(nodes))
        forest = Forest.from_arrays(n_features, starts, feature, threshold, left, right, value)
    except (AttributeError, KeyError, IndexError, TypeError, ValueError):
        return None
    return forest, baseline


class GBMRegressor(RegressorMixin, BaseEstimator):
    """Gradient-boosted regression trees (:class:`sklearn.ensemble.HistGradientBoostingRegressor`)
    with defaults for small training sets.

    scikit-learn's defaults are tuned for thousands of rows: leaves of at least 20 rows cannot
    split 20 to 100 cells at all (the model predicts a constant) and a learning rate of 0.1 with
    31 leaves per tree overfits a hundred. Here the trees are small (8 leaves of at least 3
    rows), the learning rate 0.05 and the number of trees 300, without early stopping (no rows
    are held out). Chosen on ``nb101-real20k`` (100 cells, path and adjacency + path-count
    encodings, seeds not used in the README's tables).

    Parameters
    ----------
    max_iter : int
        Boosting rounds (trees).
    learning_rate : float
        Shrinkage of every tree.
    max_leaf_nodes : int
        Leaves per tree.
    max_depth : int, optional
        Depth limit of the trees (``None``: none besides ``max_leaf_nodes``).
    min_samples_leaf : int
        Rows per leaf, at least.
    l2_regularization : float
        L2 penalty on the leaf values.
    random_state : None, int or RandomState
        Seed (only used by scikit-learn when it subsamples; the fit is deterministic).
    n_jobs : int, optional
        Threads of ``predict`` (``None`` or -1: all cores); the result does not depend on it.
        ``fit`` always runs on one thread: on a few hundred rows every boosting round is far too
        small to share, and the threads' synchronisation made fitting many times slower on a
        busy 2-core machine.

    Attributes
    ----------
    model_ : HistGradientBoostingRegressor
        The fitted model.
    trees_ : nasfast.Forest or None
        Its trees, evaluated by ``predict`` (None: scikit-learn predicts).
    n_iter_ : int
        Boosting rounds done (``max_iter``).
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).integers(0, 2, size=(100, 20)).astype(np.float32)
    >>> model = GBMRegressor(random_state=0).fit(X, X[:, 0] + X[:, 1])
    >>> model.predict(X[:2]).shape
    (2,)
    """

    def __init__(
        self,
        max_iter: int = 300,
        *,
        learning_rate: float = 0.05,
        max_leaf_nodes: int = 8,
        max_depth: Optional[int] = None,
        min_samples_leaf: int = 3,
        l2_regularization: float = 0.0,
        random_state: Any = None,
        n_jobs: Optional[int] = None,
    ) -> None:
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(self, X: npt.ArrayLike, y: npt.ArrayLike) -> GBMRegressor:
        """Fits the boosted trees on ``X`` (n, d) and ``y`` (n,)."""
        rows: npt.NDArray[np.float32]
        target: npt.NDArray[Any]
        rows, target = check_X_y(X, y, dtype=np.float32, y_numeric=True)
        model = HistGradientBoostingRegressor(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            max_depth=self.max_depth,
            min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization,
            early_stopping=False,
            random_state=self.random_state,
        )
        with threadpool_limits(limits=1, user_api="openmp"):
            self.model_ = model.fit(rows, target)
        self.n_iter_ = int(self.model_.n_iter_)
        self.n_features_in_ = rows.shape[1]
        core = _core_trees(self.model_, rows.shape[1])
        self.trees_ = None if core is None else core[0]
        self._baseline = 0.0 if core is None else core[1]
        return self

    def predict(self, X: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """The prediction for every row of ``X`` (compared as float32, the precision the model
        was fitted in)."""
        check_is_fitted(self, "model_")
        rows: npt.NDArray[np.float32] = check_array(X, dtype=np.float32)
        if rows.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {rows.shape[1]} features, but GBMRegressor is expecting {self.n_features_in_} features as input"
            )
        if self.trees_ is not None:
            mean = self.trees_.predict_mean_std(np.ascontiguousarray(rows), n_jobs=self.n_jobs)[0]
            return self._baseline + self.trees_.n_estimators * mean
        out = np.empty(len(rows), dtype=np.float64)
        threads = None if self.n_jobs in (None, -1) else int(self.n_jobs)
        with threadpool_limits(limits=threads, user_api="openmp"):
            for a in range(0, len(rows), _PREDICT_CHUNK):
                out[a : a + _PREDICT_CHUNK] = self.model_.predict(np.asarray(rows[a : a + _PREDICT_CHUNK], dtype=np.float64))
        return out
