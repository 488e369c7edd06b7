"""Predictors: scikit-learn regressors that score cells from their feature matrices
(``CellBatch.encode``), and the target transform the search fits them on.

- :class:`ForestRegressor`: a random forest fitted and evaluated in the core.
- :func:`normal_scores`: the rank-based normal-score transform of the targets.
"""

from ._target import normal_scores
from .forest import ForestRegressor

__all__ = ["ForestRegressor", "normal_scores"]
