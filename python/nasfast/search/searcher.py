"""The ask/tell base of every searcher: :class:`Searcher`.

A searcher proposes cells (:meth:`Searcher.propose`, a hook of its subclass) and records their
results; the bookkeeping (which cells are taken, what was told, the random generator) lives in
its :class:`~nasfast.search.SearchState`. :meth:`Searcher.run` hands the evaluation loop
(executors, retries, timeouts, the journal) to :mod:`nasfast.search.loop`, which drives the
searcher through ``ask`` and ``tell`` only.

A new searcher takes a few lines: subclass :class:`Searcher`, store the constructor's
arguments under their own names, implement ``propose(state, n)`` (up to ``n`` distinct cells
that are not taken, and the size of the candidate set they came from) and register the class
(:func:`~nasfast.search.register_searcher`) so that journals and study files can name it; the
README's "Architecture" section has a complete example.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Callable, Optional, Union

import numpy as np
import numpy.typing as npt

from .._core import CellBatch, NasfastError, SearchSpace
from .._typing import RandomState
from ._history import History, space_from_json
from .journal import JournalMismatchError, read_header
from .registry import CONTEXT_ARGUMENTS, candidates_from_config, check_arguments, config_of, constructor_arguments, searcher_class
from .state import SearchState
from .universe import Universe

if TYPE_CHECKING:  # pragma: no cover
    from .loop import Evaluator

__all__ = ["Searcher", "EvaluationError", "resolve_seed"]


class EvaluationError(NasfastError, RuntimeError):
    """The evaluator failed on too many cells in a row: the run stops. With a journal, the run
    can be resumed once the evaluator is fixed (the recorded failures stay in the history)."""


def resolve_seed(random_state: RandomState) -> int:
    """One int seed from a scikit-learn style ``random_state`` (a generator is advanced)."""
    if random_state is None:
        return int(np.random.SeedSequence().generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))
    if isinstance(random_state, (bool, np.bool_)):
        raise TypeError("random_state must be None, an int, a numpy Generator or RandomState, got a bool")
    if isinstance(random_state, (int, np.integer)):
        if random_state < 0:
            raise ValueError(f"random_state = {random_state}: an int seed must be non-negative")
        return int(random_state)
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**63))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**31)) << 31 | int(random_state.randint(0, 2**31))
    raise TypeError(
        f"random_state must be None, an int, a numpy Generator or RandomState, got {type(random_state).__name__}"
    )


def _non_finite(value: float, cost: float) -> Optional[str]:
    """What is wrong with a result holding an infinite value or cost (``None`` if nothing).

    Such a result is a failed evaluation: an infinity is not a score a predictor can fit, nor a
    number a journal (JSON) can hold. NaN is not reported: a NaN value marks a failure already
    and a NaN cost means unknown.
    """
    if math.isinf(value):
        return f"a non-finite value {value!r}"
    if math.isinf(cost):
        return f"a non-finite cost {cost!r}"
    return None


class Searcher:
    """Base of every searcher: the ask/tell protocol, the history, and :meth:`run`.

    Subclasses implement :meth:`propose` and may override the other hooks (:meth:`on_reset`,
    :meth:`on_ask`, :meth:`on_tell`, :meth:`check_budget`, :meth:`get_config`); they store each
    constructor argument under its own name (the configuration is read from those attributes)
    and are registered (:func:`~nasfast.search.register_searcher`) to be named in journals and
    study files. Hooks are called by the searcher; call ``ask``, ``tell`` and ``run``.

    Parameters
    ----------
    space : SearchSpace
        The cell space.
    random_state : None, int, Generator or RandomState
        Seed of the search. Same seed, same history, whatever ``n_jobs`` or executor.
    universe : CellBatch, optional
        The searchable cells (e.g. the cells of a tabular benchmark). ``None``: the whole space.
    batch_size : int
        Cells asked per round in :meth:`run`, and evaluations in flight at once.
    n_jobs : int, optional
        Threads for the core and the predictor (``None``: all cores). Results do not depend on it.
    """

    #: whether ``ask`` may return cells evaluated before (regularised evolution without dedupe)
    _allow_repeats = False

    def __init__(
        self,
        space: SearchSpace,
        *,
        random_state: RandomState = None,
        universe: Optional[CellBatch] = None,
        batch_size: int = 1,
        n_jobs: Optional[int] = None,
    ) -> None:
        if not isinstance(space, SearchSpace):
            raise TypeError(f"space must be a SearchSpace, got {type(space).__name__}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size = {batch_size!r}: must be a positive int")
        if n_jobs is not None and (not isinstance(n_jobs, (int, np.integer)) or (n_jobs < 1 and n_jobs != -1)):
            raise ValueError(f"n_jobs = {n_jobs!r}: must be None, -1 or a positive int")
        if universe is not None:
            if not isinstance(universe, CellBatch):
                raise TypeError(f"universe must be a CellBatch or None, got {type(universe).__name__}")
            if universe.space != space:
                raise ValueError(f"universe cells belong to {universe.space!r}, the searcher to {space!r}")
        self.space = space
        self.random_state = random_state
        self.universe = universe
        self.batch_size = int(batch_size)
        self.n_jobs = n_jobs
        self._state: Optional[SearchState] = None

    # ------------------------------------------------------------------ state
    def reset(self, seed: Optional[int] = None) -> SearchState:
        """Forgets everything and starts a new search with a new :class:`SearchState`.

        ``ask``, ``tell`` and ``run`` call it when needed (``run`` at every call).

        Parameters
        ----------
        seed : int, optional
            The seed of the new search (default: drawn from ``random_state``; a generator is
            advanced).

        Returns
        -------
        SearchState
        """
        seed_ = resolve_seed(self.random_state) if seed is None else int(seed)
        given = None if self.universe is None else Universe(self.universe, self.n_jobs)
        state = SearchState(self.space, seed_, given, self.n_jobs)
        self._state = state
        self.on_reset(state)
        return state

    @property
    def state_(self) -> SearchState:
        """The state of the current search (a new search is started if there is none)."""
        if self._state is None:
            return self.reset()
        return self._state

    @property
    def seed_(self) -> int:
        """The int seed of the current search."""
        return self.state_.seed

    # ------------------------------------------------------------------ hooks
    def propose(self, state: SearchState, n: int) -> tuple[CellBatch, int]:
        """Hook: up to ``n`` new cells to evaluate, and the size of the candidate set they came
        from (0 for random cells). The cells must be distinct and not taken (see
        ``state.new_only``); fewer than ``n`` means the universe has no more cells."""
        raise NotImplementedError(f"{type(self).__name__} must implement propose(state, n)")

    def on_reset(self, state: SearchState) -> None:
        """Hook: a search starts (reset the searcher's own state here)."""

    def on_ask(self, state: SearchState, cells: CellBatch, fps: npt.NDArray[np.uint64]) -> None:
        """Hook: ``cells`` (with fingerprints ``fps``) were asked."""

    def on_tell(
        self, state: SearchState, cells: CellBatch, fps: npt.NDArray[np.uint64], values: npt.NDArray[np.float64]
    ) -> None:
        """Hook: results were told (``values`` NaN for failed evaluations)."""

    def check_budget(self, budget: int) -> None:
        """Hook: refuses a budget of :meth:`run` that makes no sense for this searcher."""

    def get_config(self) -> dict[str, Any]:
        """The arguments that build this searcher again, without its ``type`` and the context of
        a run (:data:`~nasfast.search.registry.CONTEXT_ARGUMENTS`; see
        :mod:`nasfast.search.registry`): by default every other constructor argument, read from
        the attribute of the same name, a candidate set as its configuration."""
        return config_of(self, CONTEXT_ARGUMENTS)

    @classmethod
    def from_config(
        cls,
        space: SearchSpace,
        config: Mapping[str, Any],
        *,
        random_state: RandomState = None,
        universe: Optional[CellBatch] = None,
        n_jobs: Optional[int] = None,
        **objects: Any,
    ) -> Searcher:
        """The searcher of a configuration (:meth:`get_config`'s arguments, without ``type``).

        Parameters
        ----------
        space, random_state, universe, n_jobs
            The context of the run.
        config : mapping
            Constructor arguments; a ``candidates`` table is built with
            :func:`~nasfast.search.registry.candidates_from_config`.
        **objects
            Arguments a configuration cannot hold (e.g. ``predictor``); ``None`` values are
            ignored, others must be constructor arguments.

        Raises
        ------
        ValueError
            On an unknown argument or a value of the wrong type (named).
        TypeError
            If an object is given that the searcher does not take.
        """
        params = dict(config)
        if isinstance(params.get("candidates"), Mapping):
            params["candidates"] = candidates_from_config(params["candidates"])
        given = {k: v for k, v in objects.items() if v is not None}
        refused = sorted(set(given) - set(constructor_arguments(cls)))
        if refused:
            raise TypeError(f"{cls.__name__} takes no {', '.join(refused)}")
        check_arguments(cls, params, fixed=CONTEXT_ARGUMENTS, separate=("candidates",))
        return cls(space, random_state=random_state, universe=universe, n_jobs=n_jobs, **params, **given)

    # ------------------------------------------------------------------ ask / tell
    def ask(self, n: Optional[int] = None) -> CellBatch:
        """Cells to evaluate next.

        Parameters
        ----------
        n : int, optional
            How many (default ``batch_size``). Fewer are returned only when the universe has
            no cells left.

        Returns
        -------
        CellBatch
            Distinct cells, none isomorphic to a cell evaluated before or still pending (asked
            and not told), except for regularised evolution with ``dedupe=False``.
        """
        state = self.state_
        n = self.batch_size if n is None else n
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n = {n!r}: must be a positive int")
        before = set(state._taken)
        proposed = self.propose(state, int(n))
        name = type(self).__name__
        if not (isinstance(proposed, tuple) and len(proposed) == 2 and isinstance(proposed[0], CellBatch)):
            raise TypeError(f"{name}.propose must return (cells, candidate_set_size), got {proposed!r}")
        cells, size = proposed
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 0:
            raise TypeError(f"{name}.propose returned a candidate-set size of {size!r}: expected a non-negative int")
        if cells.space != self.space:
            raise ValueError(f"{name}.propose returned cells of {cells.space!r}, the searcher searches {self.space!r}")
        if len(cells) > n:
            raise ValueError(f"{name}.propose returned {len(cells)} cells for n = {n}")
        fps = cells.fingerprints(n_jobs=self.n_jobs)
        if not self._allow_repeats and (len(np.unique(fps)) != len(fps) or any(int(f) in before for f in fps.tolist())):
            raise ValueError(
                f"{name}.propose returned a cell twice, or a cell evaluated or pending: it must return new cells "
                "(see SearchState.new_only)"
            )
        state._record_ask(fps, int(size))
        self.on_ask(state, cells, fps)
        return cells

    def tell(
        self,
        cells: CellBatch,
        values: npt.ArrayLike,
        costs: Optional[npt.ArrayLike] = None,
        errors: Optional[Sequence[Optional[str]]] = None,
        *,
        wall_time: Optional[float] = None,
    ) -> None:
        """Record evaluations.

        Parameters
        ----------
        cells : CellBatch
            The evaluated cells (usually from :meth:`ask`, in any order; other cells are
            accepted too and recorded with ``iteration = -1``).
        values : array-like of float
            Their values (maximised); NaN marks a failed evaluation. An infinite value (or
            cost) is recorded as a failed evaluation too: value NaN, with the reason as its
            error text.
        costs : array-like of float, optional
            Their costs (NaN when unknown).
        errors : sequence of str or None, optional
            Error text of failed evaluations (``None`` for successes).
        wall_time : float, optional
            The time to record for these results, in seconds since the search started
            (default: the search's clock, ``state_.wall_time()``); the clock continues from it,
            so that a search resumed from a journal keeps its recorded times.
        """
        state = self.state_
        if not isinstance(cells, CellBatch):
            raise TypeError(f"cells must be a CellBatch, got {type(cells).__name__}")
        if cells.space != self.space:
            raise ValueError(f"cells belong to {cells.space!r}, the searcher to {self.space!r}")
        n = len(cells)
        v = np.asarray(values, dtype=np.float64).reshape(-1)
        if v.shape != (n,):
            raise ValueError(f"values has {v.size} entries for {n} cells")
        c = np.full(n, np.nan) if costs is None else np.asarray(costs, dtype=np.float64).reshape(-1)
        if c.shape != (n,):
            raise ValueError(f"costs has {c.size} entries for {n} cells")
        err: list[Optional[str]] = [None] * n if errors is None else list(errors)
        if len(err) != n:
            raise ValueError(f"errors has {len(err)} entries for {n} cells")
        if wall_time is not None and not (isinstance(wall_time, (int, float)) and math.isfinite(wall_time) and wall_time >= 0):
            raise ValueError(f"wall_time = {wall_time!r}: must be a non-negative number of seconds")
        if n == 0:
            return
        infinite = np.flatnonzero(np.isinf(v) | np.isinf(c))
        if len(infinite):  # failed evaluations (copies: the caller's arrays are left alone)
            v, c = v.copy(), c.copy()
            for i in infinite.tolist():
                if err[i] is None:
                    err[i] = f"ValueError: the evaluator returned {_non_finite(float(v[i]), float(c[i]))}"
                v[i] = math.nan
                if math.isinf(c[i]):
                    c[i] = math.nan
        fps = cells.fingerprints(n_jobs=self.n_jobs)
        state._record_tell(cells, fps, v, c, err, wall_time)
        self.on_tell(state, cells, fps, v)

    # ------------------------------------------------------------------ learned state
    @property
    def history_(self) -> History:
        """Every evaluation so far (:class:`History`)."""
        return self.state_.history

    @property
    def best_cell_(self) -> Optional[Any]:
        """The best evaluated cell (``CellSpec``), ``None`` before any successful evaluation."""
        h = self.history_
        i = h.best_index()
        return None if i is None else h.cells[i]

    @property
    def best_value_(self) -> Optional[float]:
        """The best value told so far."""
        return self.history_.best_value()

    @property
    def n_evaluated_(self) -> int:
        """Number of evaluations told (failed ones included)."""
        return self.state_.n_told

    # ------------------------------------------------------------------ run and resume
    def run(
        self,
        evaluator: Evaluator,
        budget: int,
        executor: Optional[Any] = None,
        journal: Optional[Union[str, os.PathLike[str]]] = None,
        resume: bool = False,
        stop: Optional[Callable[[History], bool]] = None,
        *,
        timeout: Optional[float] = None,
        max_retries: int = 0,
        max_consecutive_failures: int = 10,
    ) -> Searcher:
        """Search until ``budget`` cells are evaluated (a new search: :meth:`reset` is called).

        Cells are asked ``batch_size`` at a time at first, then one by one as results come in,
        so that up to ``batch_size`` evaluations are in flight. Results are told in the order
        the cells were asked: the history is the same inline, in a process pool or on a Dask
        cluster (for the same seed and a deterministic evaluator). This calls
        :func:`nasfast.search.loop.run_search`, which documents every argument in full.

        Parameters
        ----------
        evaluator : callable
            ``evaluator(cells)`` for a ``CellBatch`` of one cell returns its value, or
            ``(values, costs)`` (picklable for a process pool or Dask).
        budget : int
            Number of evaluations (failed ones included).
        executor : concurrent.futures.Executor or distributed.Client, optional
            Where evaluations run (``None``: inline).
        journal : str or Path, optional
            The crash-safe journal of the search (the class must be registered).
        resume : bool
            Continue the search recorded in ``journal``.
        stop : callable, optional
            ``stop(history)`` after each result; ``True`` ends the run.
        timeout : float, optional
            Seconds an evaluation may take; a slower one is a failure.
        max_retries : int
            Extra attempts for a failed evaluation.
        max_consecutive_failures : int
            Failures in a row (of this run) that stop it with :class:`EvaluationError`.

        Returns
        -------
        self

        Raises
        ------
        EvaluationError
            After ``max_consecutive_failures`` failed evaluations in a row.
        JournalMismatchError
            If ``journal`` belongs to another search, or the replay diverges from it;
            :class:`~nasfast.search.journal.JournalCorruptError` if a line of it is damaged.
        """
        from .loop import run_search

        run_search(
            self, evaluator, budget, executor=executor, journal=journal, resume=resume, stop=stop, timeout=timeout,
            max_retries=max_retries, max_consecutive_failures=max_consecutive_failures,
        )
        return self

    @classmethod
    def resume(
        cls,
        journal: Union[str, os.PathLike[str]],
        evaluator: Evaluator,
        budget: int,
        *,
        universe: Optional[CellBatch] = None,
        n_jobs: Optional[int] = None,
        predictor: Any = None,
        **run_kwargs: Any,
    ) -> Searcher:
        """Continues the search recorded in ``journal`` (written by :meth:`run`).

        The searcher is rebuilt from the journal's header: the class registered under the
        header's searcher ``type`` (:mod:`nasfast.search.registry`; a class of yours must be
        registered in this process too), its configuration, space and seed; then
        ``run(evaluator, budget, journal=journal, resume=True, **run_kwargs)`` replays the
        recorded results and continues. What a journal cannot hold must be passed again: the
        ``universe`` of a search restricted to one, and the ``predictor`` of a
        :class:`PredictorSearch` that did not use the default one (both are checked against the
        journal). ``Searcher.resume`` rebuilds any searcher; ``PredictorSearch.resume`` refuses
        a journal of another searcher.

        Returns
        -------
        Searcher
            The searcher, after the run.
        """
        head = read_header(journal)
        config = dict(head["searcher"])
        name = config.pop("type")
        try:
            target = searcher_class(name)
        except ValueError:
            raise JournalMismatchError(
                f"journal {str(journal)!r} was written by the searcher {name!r}, which is not registered here: import the "
                "module that registers it (nasfast.search.register_searcher) before resuming"
            ) from None
        if not issubclass(target, cls):
            raise JournalMismatchError(
                f"journal {str(journal)!r} was written by {name}, not by {cls.__name__} ({target.__module__}."
                f"{target.__qualname__} is not a {cls.__module__}.{cls.__qualname__})"
            )
        if head.get("universe") is not None and universe is None:
            raise ValueError(
                f"journal {str(journal)!r} records a search over a universe of cells (digest {head['universe']}): "
                "pass the same universe=..."
            )
        searcher = target.from_config(
            space_from_json(head["space"]), config, random_state=head["seed"], universe=universe, n_jobs=n_jobs,
            predictor=predictor,
        )
        return searcher.run(evaluator, budget, journal=journal, resume=True, **run_kwargs)
