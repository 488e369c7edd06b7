"""Search: predictor-based search with swappable candidate sets, baselines, evaluation in
executors, and crash-safe journals.

Every searcher has the ask/tell interface (``ask(n)``, ``tell(cells, values, costs=None)``)
and ``run(evaluator, budget, ...)``; learned state is ``history_``, ``best_cell_``,
``best_value_`` and ``n_evaluated_``. Values are maximised. A *sample* is one true evaluation of
a distinct cell: searchers never ask for a cell isomorphic to one evaluated or pending (except
``RegularizedEvolution(dedupe=False)``, the published algorithm).

The plug-in API: a candidate set (:class:`CandidateSet`) or a searcher (:class:`Searcher`) of
your own is written against the public view of a search, :class:`SearchState`, and registered
(:func:`register_candidates`, :func:`register_searcher`) so that journals, ``resume`` and study
files can name it (:mod:`nasfast.search.registry`). The modules: :mod:`~nasfast.search.state`
(the state), :mod:`~nasfast.search.universe` (universes and their feature cache),
:mod:`~nasfast.search.searcher` (ask/tell), :mod:`~nasfast.search.loop` (executors, retries,
timeouts, the journal), :mod:`~nasfast.search.journal`, :mod:`~nasfast.search.registry`,
:mod:`~nasfast.search.candidates`, :mod:`~nasfast.search.predictor` and
:mod:`~nasfast.search.baselines`.
"""

from .._typing import RandomState
from ..predictors.forest import ForestRegressor
from ._history import History
from .baselines import LocalSearch, RandomSearch, RegularizedEvolution
from .candidates import (
    CandidateSet,
    CandidateStrategy,
    Combined,
    Evolution,
    FullSpace,
    Neighbourhood,
    RandomSubset,
    Union,
)
from .evaluators import BenchmarkEvaluator
from .journal import JOURNAL_VERSION, JournalCorruptError, JournalMismatchError, JournalWarning
from .loop import run_search
from .predictor import PredictorSearch, default_candidates, default_encoding, default_predictor
from .registry import register_candidates, register_searcher
from .searcher import EvaluationError, Searcher
from .state import SearchState
from .universe import Universe

__all__ = [
    "BenchmarkEvaluator",
    "CandidateSet",
    "CandidateStrategy",
    "Combined",
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
    "RandomState",
    "RandomSubset",
    "RegularizedEvolution",
    "SearchState",
    "Searcher",
    "Union",
    "Universe",
    "default_candidates",
    "default_encoding",
    "default_predictor",
    "register_candidates",
    "register_searcher",
    "run_search",
]
