"""``ForestRegressor``: a scikit-learn random forest regressor fitted in the Rust core.

The search loop refits its predictor on every round, on a few hundred cells. A forest of 100
trees costs about 0.1 s to fit in scikit-learn whatever the number of threads (each tree pays
about a millisecond of per-tree overhead), which dominates a 150-evaluation search. The core
fits the same kind of forest in a few milliseconds (``benches/bench_search.py``, group
``search-forest-fit``).
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Optional, Union

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_array, check_is_fitted, check_X_y

from .._core import Forest
from ._params import int_param

__all__ = ["ForestRegressor"]

MaxFeatures = Union[int, float, str, None]


class ForestRegressor(RegressorMixin, BaseEstimator):
    """A random forest of regression trees (squared error), fitted and evaluated in the core.

    A drop-in for :class:`sklearn.ensemble.RandomForestRegressor` with the parameters below
    (same meaning and defaults), deterministic for a ``random_state`` whatever ``n_jobs``. The
    trees follow the usual CART rule (the split rule is in the core's ``forest`` module): at every
    node, ``max_features`` non-constant features are drawn and the split with the largest
    decrease of squared error is taken; ``x <= threshold`` goes left.

    Parameters
    ----------
    n_estimators : int
        Number of trees.
    max_features : int, float, "sqrt", "log2" or None
        Features tried per split: an int is a count, a float a fraction of the features
        (at least one), ``"sqrt"``/``"log2"`` of their number, ``None`` all of them.
    min_samples_split : int
        A node with fewer samples is a leaf.
    min_samples_leaf : int
        Every leaf keeps at least this many samples.
    max_depth : int, optional
        Depth limit (``None``: none).
    bootstrap : bool
        Grow every tree on a bootstrap sample of the rows.
    random_state : None, int, numpy Generator or RandomState
        Seed of the bootstrap samples and the feature draws.
    n_jobs : int, optional
        Threads (``None`` or -1: all cores); the result does not depend on it.

    Attributes
    ----------
    forest_ : nasfast.Forest
        The fitted trees.
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from nasfast.search import ForestRegressor
    >>> X = np.random.default_rng(0).random((50, 4))
    >>> model = ForestRegressor(n_estimators=20, random_state=0).fit(X, X[:, 0])
    >>> mean, std = model.predict_mean_std(X[:3])
    >>> mean.shape, std.shape
    ((3,), (3,))
    """

    def __init__(
        self,
        n_estimators: int = 100,
        *,
        max_features: MaxFeatures = 1.0,
        min_samples_split: int = 2,
        min_samples_leaf: int = 1,
        max_depth: Optional[int] = None,
        bootstrap: bool = True,
        random_state: Any = None,
        n_jobs: Optional[int] = None,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_features = max_features
        self.min_samples_split = min_samples_split
        self.min_samples_leaf = min_samples_leaf
        self.max_depth = max_depth
        self.bootstrap = bootstrap
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _features_per_split(self, n_features: int) -> int:
        # object, not the declared MaxFeatures: the value is the user's, checked here, and for
        # mypy an int is no numbers.Integral (it would skip the branches below as unreachable)
        mf: object = self.max_features
        if mf is None:
            return n_features
        if isinstance(mf, str):
            if mf == "sqrt":
                return max(1, int(math.sqrt(n_features)))
            if mf == "log2":
                return max(1, int(math.log2(n_features)))
            raise ValueError(f"max_features = {mf!r}: expected an int, a float in (0, 1], 'sqrt', 'log2' or None")
        if isinstance(mf, (bool, np.bool_)):
            raise ValueError(f"max_features = {mf!r}: expected an int, a float in (0, 1], 'sqrt', 'log2' or None")
        if isinstance(mf, numbers.Integral):
            count = int(mf)
            if not 1 <= count <= n_features:
                raise ValueError(f"max_features = {mf}: must be between 1 and the number of features ({n_features})")
            return count
        if isinstance(mf, numbers.Real) and 0.0 < float(mf) <= 1.0:
            return max(1, int(float(mf) * n_features))
        raise ValueError(f"max_features = {mf!r}: expected an int, a float in (0, 1], 'sqrt', 'log2' or None")


    def fit(self, X: npt.ArrayLike, y: npt.ArrayLike) -> ForestRegressor:
        """Fits the forest on ``X`` (n, d) and ``y`` (n,)."""
        rows: npt.NDArray[np.float32]
        target: npt.NDArray[Any]
        rows, target = check_X_y(X, y, dtype=np.float32, y_numeric=True, ensure_min_samples=1)
        depth = None if self.max_depth is None else int_param("max_depth", self.max_depth, 1)
        self.forest_ = Forest.fit(
            np.ascontiguousarray(rows, dtype=np.float32),
            np.ascontiguousarray(target, dtype=np.float64),
            n_estimators=int_param("n_estimators", self.n_estimators, 1),
            max_features=self._features_per_split(rows.shape[1]),
            min_samples_split=int_param("min_samples_split", self.min_samples_split, 2),
            min_samples_leaf=int_param("min_samples_leaf", self.min_samples_leaf, 1),
            max_depth=depth,
            bootstrap=bool(self.bootstrap),
            random_state=self.random_state,
            n_jobs=self.n_jobs,
        )
        self.n_features_in_ = rows.shape[1]
        return self

    def _rows(self, X: npt.ArrayLike) -> npt.NDArray[np.float32]:
        check_is_fitted(self, "forest_")
        rows: npt.NDArray[np.float32] = check_array(X, dtype=np.float32)
        if rows.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {rows.shape[1]} features, but ForestRegressor is expecting {self.n_features_in_} features as input"
            )
        return np.ascontiguousarray(rows, dtype=np.float32)

    def predict(self, X: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """The mean prediction of the trees for every row of ``X``."""
        rows = self._rows(X)
        return self.forest_.predict_mean_std(rows, n_jobs=self.n_jobs)[0]

    def predict_mean_std(self, X: npt.ArrayLike) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """The mean prediction of the trees and its standard deviation over the trees."""
        rows = self._rows(X)
        return self.forest_.predict_mean_std(rows, n_jobs=self.n_jobs)

    def predict_members(self, X: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """The prediction of every tree, shape (rows, n_estimators)."""
        rows = self._rows(X)
        return self.forest_.predict_members(rows, n_jobs=self.n_jobs)
