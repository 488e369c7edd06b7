"""Search: predictor-based search with candidate-subset strategies, baselines, evaluation in
executors, and crash-safe journals.

Every searcher has the ask/tell interface (``ask(n)``, ``tell(cells, values, costs=None)``)
and ``run(evaluator, budget, ...)``; learned state is ``history_``, ``best_cell_``,
``best_value_`` and ``n_evaluated_``. Values are maximised. A *sample* is one true evaluation of
a distinct cell: searchers never ask for a cell isomorphic to one evaluated or pending (except
``RegularizedEvolution(dedupe=False)``, the published algorithm).
"""

from ._base import EvaluationError, Searcher, Universe
from ._history import History
from .baselines import LocalSearch, RandomSearch, RegularizedEvolution
from .candidates import CandidateStrategy, Evolution, FullSpace, Neighbourhood, RandomSubset, Union
from .evaluators import BenchmarkEvaluator
from ..predictors.forest import ForestRegressor
from .journal import JOURNAL_VERSION, JournalCorruptError, JournalMismatchError, JournalWarning
from .predictor import PredictorSearch, default_predictor

__all__ = [
    "BenchmarkEvaluator",
    "CandidateStrategy",
    "EvaluationError",
    "Evolution",
    "ForestRegressor",
    "FullSpace",
    "History",
    "JOURNAL_VERSION",
    "JournalCorruptError",
    "JournalMismatchError",
    "JournalWarning",
    "LocalSearch",
    "Neighbourhood",
    "PredictorSearch",
    "RandomSearch",
    "RandomSubset",
    "RegularizedEvolution",
    "Searcher",
    "Union",
    "Universe",
    "default_predictor",
]
