"""Predictors: scikit-learn regressors that score cells from their feature matrices
(``CellBatch.encode``, or :func:`encode` for combined encodings), the target transform the
search fits them on, and the evaluation that compares them.

Predictors (each a scikit-learn regressor: ``fit(X, y)``, ``predict(X)``, ``get_params``):

- :class:`ForestRegressor`: a random forest fitted and evaluated in the core (the search's
  default predictor).
- :class:`GBMRegressor`: scikit-learn's histogram gradient boosting with small-data defaults.
- :class:`GPRegressor`: a Gaussian process (scikit-learn) with chunked fast prediction.
- :class:`MLPEnsembleRegressor`: the BANANAS ensemble of 5 small networks (numpy).
- :class:`GCNRegressor`: a graph convolutional network on the adjacency encoding, as in the
  Neural Predictor (numpy; it needs the space's ``max_vertices`` and ``n_ops``).

**Uncertainty protocol.** A predictor with a natural uncertainty offers it in one form that a
search can use without special cases:

- ``predict_mean_std(X) -> (mean, std)``, two arrays of shape (rows,): every predictor with an
  uncertainty (:class:`ForestRegressor`, :class:`MLPEnsembleRegressor`, :class:`GPRegressor`);
- ``predict_members(X) -> ndarray (rows, members)``: predictors made of members (the trees of
  :class:`ForestRegressor`, the networks of :class:`MLPEnsembleRegressor`); the mean and
  standard deviation over the members are ``predict_mean_std``; one member is a Thompson draw;
- ``sample_y(X, n_samples, random_state) -> ndarray (rows, n_samples)``: joint posterior draws
  over a set of rows (:class:`GPRegressor`, at most 4,096 rows), for Thompson sampling;
  ``predict(X, return_std=True)`` also works there, as in scikit-learn.

:class:`GBMRegressor` and :class:`GCNRegressor` are single models without one: a search gets
their uncertainty from a bootstrap ensemble of clones.

**Feature layout.** A predictor that reads the positions of an encoding (the graph of a cell)
names it in the class attribute ``feature_layout`` (:class:`GCNRegressor`: ``"adjacency"``):
it must be given every column of that encoding, in order. The others take any feature matrix
(constant columns may be left out).

**Targets.** Fit on :func:`normal_scores` of the accuracies rather than the raw values (a few
failed trainings sit far below the bulk). The GP gains most: on
``nb101-real20k`` with 100 training cells the GP ranks the other cells with Kendall tau 0.64
instead of 0.54; the forest gains nothing measurable (0.504 against 0.503).
:func:`evaluate_predictors` shows both.

**Evaluation.** :func:`evaluate_predictors` (``nasfast predictors --benchmark NAME``) fits
every predictor and encoding on n = 20 ... 500 cells of a benchmark and reports how well they
rank the held-out cells (:func:`ranking_metrics`).
"""

from ._encoding import CORE_ENCODINGS, encode, encoding_dim, encoding_parts
from ._metrics import ranking_metrics, top_precision
from ._target import normal_scores
from .evaluation import (
    DEFAULT_ENTRIES,
    DEFAULT_SIZES,
    Entry,
    PredictorEvaluation,
    default_predictors,
    evaluate_predictors,
)
from .forest import ForestRegressor
from .gbm import GBMRegressor
from .gcn import GCNRegressor
from .gp import GPRegressor
from .mlp import MLPEnsembleRegressor

__all__ = [
    "CORE_ENCODINGS",
    "DEFAULT_ENTRIES",
    "DEFAULT_SIZES",
    "Entry",
    "ForestRegressor",
    "GBMRegressor",
    "GCNRegressor",
    "GPRegressor",
    "MLPEnsembleRegressor",
    "PredictorEvaluation",
    "default_predictors",
    "encode",
    "encoding_dim",
    "encoding_parts",
    "evaluate_predictors",
    "normal_scores",
    "ranking_metrics",
    "top_precision",
]
