"""The ask/tell base of every searcher, the candidate universe, and the evaluation loop."""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import math
import os
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np
import numpy.typing as npt

from .._core import CellBatch, SearchSpace
from ._history import History, cells_from_json, cells_to_json, space_from_json, space_to_json
from .journal import Journal, JournalCorruptError, JournalMismatchError, read_header

__all__ = ["Searcher", "Universe", "EvaluationError", "resolve_seed"]

RandomState = Union[None, int, np.integer, np.random.Generator, np.random.RandomState]
Evaluator = Callable[[CellBatch], Any]


class EvaluationError(RuntimeError):
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


def fingerprint_digest(fps: npt.NDArray[np.uint64]) -> str:
    """SHA-256 of a set of fingerprints (order-free)."""
    return hashlib.sha256(np.sort(fps).astype("<u8").tobytes()).hexdigest()


class Universe:
    """The searchable cells: the unique cells of a ``CellBatch`` with a fingerprint index.

    Parameters
    ----------
    cells : CellBatch
        The cells (isomorphic duplicates are dropped, first occurrences kept in order).
    n_jobs : int, optional
        Threads for the core.
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

    def positions(self, fps: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
        """Positions of the fingerprints in :attr:`cells` (-1 for a cell outside the universe)."""
        fps = np.asarray(fps, dtype=np.uint64)
        at = np.searchsorted(self._sorted, fps)
        at_c = np.minimum(at, len(self._sorted) - 1)
        found = self._sorted[at_c] == fps
        return np.where(found, self._order[at_c], -1).astype(np.int64)


@dataclass
class _Slot:
    """One cell in flight in :meth:`Searcher.run`."""

    cells: CellBatch
    fingerprint: int
    future: Any = None
    submitted: float = 0.0
    attempts: int = 0
    replay: Optional[dict[str, Any]] = None
    line: int = 0
    result: Optional[tuple[float, float, Optional[str]]] = field(default=None)


class _InlineExecutor:
    """Runs a call at submission and returns a finished future (the ``executor=None`` path)."""

    def submit(self, fn: Callable[..., Any], *args: Any) -> "cf.Future[Any]":
        fut: cf.Future[Any] = cf.Future()
        t0 = time.perf_counter()
        try:
            fut.set_result(fn(*args))
        except BaseException as e:  # noqa: BLE001 - an evaluator failure is recorded, not raised
            if isinstance(e, (KeyboardInterrupt, SystemExit)):
                raise
            fut.set_exception(e)
        fut.elapsed = time.perf_counter() - t0  # type: ignore[attr-defined]
        return fut


def _parse_result(out: Any) -> tuple[float, float]:
    """(value, cost) of an evaluator's answer for one cell."""
    if isinstance(out, tuple) and len(out) == 2:
        values, costs = out
    else:
        values, costs = out, None
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if v.shape != (1,):
        raise ValueError(f"the evaluator returned {v.size} values for 1 cell")
    c = math.nan
    if costs is not None:
        ca = np.asarray(costs, dtype=np.float64).reshape(-1)
        if ca.shape != (1,):
            raise ValueError(f"the evaluator returned {ca.size} costs for 1 cell")
        c = float(ca[0])
    bad = _non_finite(float(v[0]), c)
    if bad is not None:
        raise ValueError(f"the evaluator returned {bad}")
    return float(v[0]), c


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


def _error_text(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}"


class Searcher:
    """Base of every searcher: the ask/tell protocol, the history, and :meth:`run`.

    Subclasses implement ``_propose(n)``, returning up to ``n`` new cells and the size of the
    candidate set they came from, and ``_config()``, their parameters as JSON.

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
        self._started = False

    # ------------------------------------------------------------------ state
    def _reset(self, seed: Optional[int] = None) -> None:
        """Forget everything and start a new search (seed drawn from ``random_state``)."""
        self.seed_ = resolve_seed(self.random_state) if seed is None else int(seed)
        self._rng = np.random.default_rng(self.seed_)
        self._pool_cache: Optional[Universe] = None
        self._given_universe = None if self.universe is None else Universe(self.universe, self.n_jobs)
        self._taken: set[int] = set()  # fingerprints evaluated or pending
        self._taken_arr: Optional[npt.NDArray[np.uint64]] = None
        self._pool_taken: Optional[npt.NDArray[np.bool_]] = None
        self._pending: dict[int, list[tuple[int, int]]] = {}
        self._n_asked = 0
        self._iteration = 0
        self._t0 = time.perf_counter()
        self._wall_offset = 0.0
        self._h_cells: list[CellBatch] = []
        self._h_fps: list[int] = []
        self._h_values: list[float] = []
        self._h_costs: list[float] = []
        self._h_iter: list[int] = []
        self._h_wall: list[float] = []
        self._h_size: list[int] = []
        self._h_err: list[Optional[str]] = []
        self._history: Optional[History] = None
        self._started = True
        self._on_reset()

    def _on_reset(self) -> None:
        """Hook: subclasses reset their own state here."""

    def _ensure_started(self) -> None:
        if not self._started:
            self._reset()

    def _pool(self) -> Optional[Universe]:
        """The universe, or the enumerated space when no universe is given (``None`` if the
        space cannot be enumerated)."""
        if self._given_universe is not None:
            return self._given_universe
        if self._pool_cache is None and self.space.is_enumerable():
            self._pool_cache = _space_universe(self.space, self.n_jobs)
        return self._pool_cache

    def _pool_taken_mask(self) -> npt.NDArray[np.bool_]:
        """Boolean mask over the pool: cells evaluated or pending."""
        pool = self._pool()
        assert pool is not None
        if self._pool_taken is None:
            mask = np.zeros(len(pool), dtype=bool)
            if self._taken:
                pos = pool.positions(np.fromiter(self._taken, dtype=np.uint64, count=len(self._taken)))
                mask[pos[pos >= 0]] = True
            self._pool_taken = mask
        return self._pool_taken

    def _mark_taken(self, fps: npt.NDArray[np.uint64]) -> None:
        self._taken.update(int(f) for f in fps)
        self._taken_arr = None
        if self._pool_taken is not None:
            pos = self._pool().positions(fps)  # type: ignore[union-attr]
            self._pool_taken[pos[pos >= 0]] = True

    def _taken_array(self) -> npt.NDArray[np.uint64]:
        if self._taken_arr is None:
            self._taken_arr = np.fromiter(self._taken, dtype=np.uint64, count=len(self._taken))
        return self._taken_arr

    # ------------------------------------------------------------------ helpers for subclasses
    def _new_only(self, cells: CellBatch, fps: Optional[npt.NDArray[np.uint64]] = None) -> tuple[CellBatch, npt.NDArray[np.uint64]]:
        """The cells that are new: first of their isomorphism class, not evaluated, not pending,
        and inside the universe. Returns the cells and their fingerprints."""
        if len(cells) == 0:
            return cells, np.zeros(0, dtype=np.uint64)
        if fps is None:
            fps = cells.fingerprints(n_jobs=self.n_jobs)
        _, first = np.unique(fps, return_index=True)
        keep = np.zeros(len(fps), dtype=bool)
        keep[first] = True
        if self._taken:
            keep &= ~np.isin(fps, self._taken_array())
        if self._given_universe is not None:
            keep &= self._given_universe.positions(fps) >= 0
        idx = np.flatnonzero(keep)
        return cells[idx], fps[idx]

    def _in_universe(self, fps: npt.NDArray[np.uint64]) -> npt.NDArray[np.bool_]:
        if self._given_universe is None:
            return np.ones(len(fps), dtype=bool)
        return self._given_universe.positions(fps) >= 0

    def _random_new(self, n: int, method: str = "uniform") -> CellBatch:
        """Up to ``n`` distinct new cells: uniform over the untaken cells of the universe (or of
        the space), or drawn with the conventional rejection sampler (``method="rejection"``)."""
        if n <= 0:
            return self._empty()
        pool = self._pool() if method == "uniform" else None
        if pool is not None:
            taken = self._pool_taken_mask()
            free = len(pool) - int(taken.sum())
            n = min(n, free)
            if n == 0:
                return self._empty()
            if free > 4 * n and free > len(pool) // 2:
                chosen: list[int] = []
                chosen_set: set[int] = set()
                while len(chosen) < n:
                    draw = self._rng.integers(0, len(pool), size=2 * (n - len(chosen)))
                    for p in draw.tolist():
                        if not taken[p] and p not in chosen_set:
                            chosen.append(p)
                            chosen_set.add(p)
                            if len(chosen) == n:
                                break
                idx = np.asarray(chosen, dtype=np.int64)
            else:
                idx = self._rng.choice(np.flatnonzero(~taken), size=n, replace=False)
            return pool.cells[idx]
        out: list[CellBatch] = []
        got = 0
        seen: set[int] = set()
        sampler = "orbit" if method == "uniform" else method
        for _ in range(1000):
            batch = self.space.sample(max(2 * (n - got), 16), random_state=self._rng, method=sampler, n_jobs=self.n_jobs)  # type: ignore[arg-type]
            cells, fps = self._new_only(batch)
            keep = [i for i, f in enumerate(fps.tolist()) if f not in seen][: n - got]
            seen.update(int(fps[i]) for i in keep)
            if keep:
                out.append(cells[np.asarray(keep, dtype=np.int64)])
                got += len(keep)
            if got >= n:
                break
        return CellBatch.concat(out) if out else self._empty()

    def _top_cells(self, k: int) -> CellBatch:
        """The ``k`` best evaluated cells (distinct, best first, earlier first on ties)."""
        v = np.asarray(self._h_values, dtype=np.float64)
        ok = np.flatnonzero(~np.isnan(v))
        if len(ok) == 0:
            return self._empty()
        order = ok[np.argsort(-v[ok], kind="stable")]
        fps = np.asarray(self._h_fps, dtype=np.uint64)[order]
        _, first = np.unique(fps, return_index=True)
        keep = order[np.sort(first)][:k]
        return self.history_.cells[keep]

    def _empty(self) -> CellBatch:
        v = self.space.max_vertices
        return CellBatch.from_arrays(np.zeros((0, v, v), np.uint8), np.zeros((0, v), np.int8), self.space)

    # ------------------------------------------------------------------ ask / tell
    def _propose(self, n: int) -> tuple[CellBatch, int]:
        raise NotImplementedError

    def _config(self) -> dict[str, Any]:
        raise NotImplementedError

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
        self._ensure_started()
        n = self.batch_size if n is None else n
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n = {n!r}: must be a positive int")
        before = self._taken_array()
        cells, size = self._propose(int(n))
        fps = cells.fingerprints(n_jobs=self.n_jobs)
        if not self._allow_repeats:
            if len(np.unique(fps)) != len(fps) or (len(before) and np.isin(fps, before).any()):
                raise AssertionError("internal error: a searcher proposed a cell evaluated or pending")
        for f in fps.tolist():
            self._pending.setdefault(int(f), []).append((self._iteration, int(size)))
        self._mark_taken(fps)
        self._on_ask(cells, fps)
        self._n_asked += len(cells)
        self._iteration += 1
        return cells

    def _on_ask(self, cells: CellBatch, fps: npt.NDArray[np.uint64]) -> None:
        """Hook: subclasses see every asked batch."""

    def tell(
        self,
        cells: CellBatch,
        values: npt.ArrayLike,
        costs: Optional[npt.ArrayLike] = None,
        errors: Optional[Sequence[Optional[str]]] = None,
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
        """
        self._ensure_started()
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
        wall = self._wall_offset + time.perf_counter() - self._t0
        new = [int(f) for f in fps.tolist() if int(f) not in self._taken]
        if new:
            self._mark_taken(np.asarray(new, dtype=np.uint64))
        for i, f in enumerate(fps.tolist()):
            queue = self._pending.get(int(f))
            if queue:
                it, size = queue.pop(0)
                if not queue:
                    del self._pending[int(f)]
            else:
                it, size = -1, 0
            self._h_fps.append(int(f))
            self._h_values.append(float(v[i]))
            self._h_costs.append(float(c[i]))
            self._h_iter.append(it)
            self._h_wall.append(wall)
            self._h_size.append(size)
            self._h_err.append(err[i] if (err[i] is not None or not math.isnan(v[i])) else "no value")
        self._h_cells.append(cells)
        self._history = None
        self._on_tell(cells, fps, v)

    def _on_tell(self, cells: CellBatch, fps: npt.NDArray[np.uint64], values: npt.NDArray[np.float64]) -> None:
        """Hook: subclasses see every told batch."""

    # ------------------------------------------------------------------ learned state
    @property
    def history_(self) -> History:
        """Every evaluation so far (:class:`History`)."""
        self._ensure_started()
        if self._history is None:
            cells = CellBatch.concat(self._h_cells) if self._h_cells else self._empty()
            self._history = History(
                cells, self._h_values, self._h_costs, self._h_iter, self._h_wall, self._h_size, self._h_err
            )
        return self._history

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
        self._ensure_started()
        return len(self._h_values)

    # ------------------------------------------------------------------ run
    def _header(self) -> dict[str, Any]:
        uni = None if self._given_universe is None else self._given_universe.digest
        return {
            "searcher": type(self).__name__,
            "space": space_to_json(self.space),
            "config": self._config(),
            "universe": uni,
            "seed": self.seed_,
        }

    @classmethod
    def _kwargs_from_config(cls, config: dict[str, Any], **given: Any) -> dict[str, Any]:
        """Constructor arguments from the ``config`` of a journal header (``_config`` is the
        inverse); ``given`` holds objects a journal cannot store, passed by the caller."""
        if given.get("predictor") is not None:
            raise TypeError(f"{cls.__name__} takes no predictor")
        return dict(config)

    @classmethod
    def resume(
        cls,
        journal: Union[str, "os.PathLike[str]"],
        evaluator: Evaluator,
        budget: int,
        *,
        universe: Optional[CellBatch] = None,
        n_jobs: Optional[int] = None,
        predictor: Any = None,
        **run_kwargs: Any,
    ) -> "Searcher":
        """Continues the search recorded in ``journal`` (written by :meth:`run`).

        The searcher is rebuilt from the journal's header (its class, space, configuration and
        seed), then ``run(evaluator, budget, journal=journal, resume=True, **run_kwargs)``
        replays the recorded results and continues. What a journal cannot hold must be passed
        again: the ``universe`` of a search restricted to one, and the ``predictor`` of a
        :class:`PredictorSearch` that did not use the default one (both are checked against
        the journal). ``Searcher.resume`` rebuilds any searcher; ``PredictorSearch.resume``
        refuses a journal of another searcher.

        Returns
        -------
        Searcher
            The searcher, after the run.
        """
        from . import baselines, predictor as predictor_module  # noqa: F401  (registers the classes)

        head = read_header(journal)
        classes = {c.__name__: c for c in _subclasses(Searcher)}
        name = head.get("searcher")
        target = classes.get(str(name))
        if target is None or not issubclass(target, cls):
            raise JournalMismatchError(f"journal {str(journal)!r} was written by {name}, not by {cls.__name__}")
        if head.get("universe") is not None and universe is None:
            raise ValueError(
                f"journal {str(journal)!r} records a search over a universe of cells (digest {head['universe']}): "
                "pass the same universe=..."
            )
        kwargs = target._kwargs_from_config(dict(head["config"]), predictor=predictor)
        searcher = target(
            space_from_json(head["space"]), random_state=head.get("seed"), universe=universe, n_jobs=n_jobs, **kwargs
        )
        return searcher.run(evaluator, budget, journal=journal, resume=True, **run_kwargs)

    def run(
        self,
        evaluator: Evaluator,
        budget: int,
        executor: Optional[Any] = None,
        journal: Optional[Union[str, "os.PathLike[str]"]] = None,
        resume: bool = False,
        stop: Optional[Callable[[History], bool]] = None,
        *,
        timeout: Optional[float] = None,
        max_retries: int = 0,
        max_consecutive_failures: int = 10,
    ) -> "Searcher":
        """Search until ``budget`` cells are evaluated.

        Cells are asked ``batch_size`` at a time at first, then one by one as results come in,
        so that up to ``batch_size`` evaluations are in flight. Results are told in the order
        the cells were asked, each as soon as it and every earlier one have arrived: the history
        is therefore the same inline, in a process pool or on a Dask cluster (for the same seed
        and a deterministic evaluator).

        Parameters
        ----------
        evaluator : callable
            ``evaluator(cells)`` for a ``CellBatch`` of one cell returns its value, or
            ``(values, costs)``. It must be picklable for a process pool or Dask.
        budget : int
            Number of evaluations (failed ones included).
        executor : concurrent.futures.Executor or distributed.Client, optional
            Where evaluations run (``None``: inline, one after the other).
        journal : str or Path, optional
            JSON-lines journal of every ask and result (see :mod:`nasfast.search.journal`).
        resume : bool
            Continue the search recorded in ``journal``: recorded results are replayed, not
            evaluated again. Without a journal file the search starts afresh. The journal's
            seed is the search's: ``random_state=None`` adopts it, an int must equal it.
        stop : callable, optional
            ``stop(history)`` is called after each result; ``True`` ends the run.
        timeout : float, optional
            Seconds an evaluation may take from its submission; a slower one is recorded as
            failed (inline evaluations cannot be interrupted: they are judged when they end).
        max_retries : int
            Extra attempts for a failed evaluation before it is recorded as failed.
        max_consecutive_failures : int
            The run stops with :class:`EvaluationError` after this many failed cells in a row.
            Only results evaluated by this run count: the failures a resumed run replays from
            its journal do not, so a run stopped by :class:`EvaluationError` can be resumed
            (with a fixed evaluator) and starts a fresh count.

        Returns
        -------
        self

        Raises
        ------
        EvaluationError
            After ``max_consecutive_failures`` failed evaluations in a row (an exception, a
            timeout, an infinite value or cost: each is recorded with its reason).
        JournalMismatchError
            If ``journal`` belongs to another search, or the replay diverges from it;
            :class:`~nasfast.search.journal.JournalCorruptError` if a line of it is damaged.
        """
        if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 1:
            raise ValueError(f"budget = {budget!r}: must be a positive int")
        if not callable(evaluator):
            raise TypeError(f"evaluator must be callable, got {type(evaluator).__name__}")
        if isinstance(max_retries, bool) or not isinstance(max_retries, (int, np.integer)) or max_retries < 0:
            raise ValueError(f"max_retries = {max_retries!r}: must be a non-negative int")
        if max_consecutive_failures < 1:
            raise ValueError(f"max_consecutive_failures = {max_consecutive_failures!r}: must be positive")
        if timeout is not None and not timeout > 0:
            raise ValueError(f"timeout = {timeout!r}: must be positive seconds or None")
        if executor is not None and not hasattr(executor, "submit"):
            raise TypeError(f"executor must have a submit() method, got {type(executor).__name__}")
        self._check_budget(int(budget))
        if resume and journal is None:
            raise ValueError("resume=True needs the journal of the search to resume")
        self._reset()
        jr: Optional[Journal] = None
        if journal is not None:
            header = self._header()
            jr = Journal(journal, header, resume=resume)
            # The seed of an existing journal (even one holding only its header) is the seed of
            # the search; random_state=None adopts it, any other random_state must be that seed.
            if jr.resumed:
                if not isinstance(self.random_state, (type(None), int, np.integer)) or (
                    self.random_state is not None and int(self.random_state) != jr.seed
                ):
                    jr.close()
                    raise JournalMismatchError(
                        f"journal {str(journal)!r} was written with seed {jr.seed}, this search has "
                        f"random_state={self.random_state!r}"
                    )
                self._reset(jr.seed)
        try:
            self._loop(evaluator, int(budget), executor, jr, stop, timeout, int(max_retries), int(max_consecutive_failures))
        finally:
            if jr is not None:
                jr.close()
        return self

    def _check_budget(self, budget: int) -> None:
        """Hook: subclasses refuse budgets that make no sense for them."""

    def _loop(
        self,
        evaluator: Evaluator,
        budget: int,
        executor: Optional[Any],
        jr: Optional[Journal],
        stop: Optional[Callable[[History], bool]],
        timeout: Optional[float],
        max_retries: int,
        max_failures: int,
    ) -> None:
        ex: Any = _InlineExecutor() if executor is None else executor
        dask = type(ex).__module__.split(".")[0] == "distributed"
        n_ask_rec = 0
        n_tell_rec = 0
        failures = 0  # in a row, among the results evaluated by this run (replayed ones do not count)
        inflight: deque[_Slot] = deque()
        exhausted = False

        def submit(slot: _Slot) -> None:
            slot.attempts += 1
            slot.submitted = time.perf_counter()
            slot.future = ex.submit(evaluator, slot.cells, pure=False) if dask else ex.submit(evaluator, slot.cells)

        while True:
            while not exhausted and len(inflight) < self.batch_size and self._n_asked < budget:
                k = min(self.batch_size - len(inflight), budget - self._n_asked)
                it = self._iteration
                cells = self.ask(k)
                if len(cells) == 0:
                    exhausted = True
                    break
                fps = cells.fingerprints(n_jobs=self.n_jobs)
                size = self._pending[int(fps[0])][-1][1]
                if jr is not None:
                    if n_ask_rec < len(jr.asks):
                        where = f"journal {str(jr.path)!r}, line {jr.ask_lines[n_ask_rec]}"
                        try:
                            old = cells_from_json(jr.asks[n_ask_rec]["cells"], self.space).fingerprints()
                        except ValueError as e:
                            raise JournalCorruptError(f"{where}: {e}") from None
                        if not np.array_equal(old, fps):
                            raise JournalMismatchError(
                                f"{where}: ask {n_ask_rec} of the replay proposes different cells "
                                "than the journal (was the evaluator or the code changed?)"
                            )
                    else:
                        jr.write({"type": "ask", "iteration": it, "candidate_set_size": size, "cells": cells_to_json(cells)})
                    n_ask_rec += 1
                for i in range(len(cells)):
                    slot = _Slot(cells=cells[i : i + 1], fingerprint=int(fps[i]))
                    if jr is not None and n_tell_rec + len(inflight) < len(jr.tells):
                        slot.replay = jr.tells[n_tell_rec + len(inflight)]
                        slot.line = jr.tell_lines[n_tell_rec + len(inflight)]
                    else:
                        submit(slot)
                    inflight.append(slot)
                if len(cells) < k:
                    exhausted = True
            if not inflight:
                break
            slot = inflight.popleft()
            if slot.replay is not None:
                rec = slot.replay
                if int(rec["fingerprint"], 16) != slot.fingerprint:
                    raise JournalMismatchError(
                        f"journal {str(jr.path)!r}, line {slot.line}: result {n_tell_rec} is for another cell "  # type: ignore[union-attr]
                        "than the replay asked"
                    )
                value = math.nan if rec["value"] is None else float(rec["value"])
                cost = math.nan if rec["cost"] is None else float(rec["cost"])
                error = rec["error"]
                self._wall_offset = float(rec["wall_time"])
                self._t0 = time.perf_counter()
            else:
                value, cost, error = self._wait(slot, submit, timeout, max_retries)
            self.tell(slot.cells, [value], [cost], [error])
            if jr is not None and n_tell_rec >= len(jr.tells):
                jr.write(
                    {
                        "type": "tell",
                        "cell": cells_to_json(slot.cells)[0],
                        "fingerprint": format(slot.fingerprint, "x"),
                        "value": None if math.isnan(value) else value,
                        "cost": None if math.isnan(cost) else cost,
                        "error": error,
                        "attempts": slot.attempts,
                        "wall_time": self._h_wall[-1],
                    }
                )
            n_tell_rec += 1
            if slot.replay is None:
                failures = failures + 1 if error is not None else 0
            if failures >= max_failures:
                for s in inflight:
                    if s.future is not None:
                        s.future.cancel()
                raise EvaluationError(
                    f"the evaluator failed on {failures} cells in a row; the last error: {error}"
                )
            if stop is not None and stop(self.history_):
                for s in inflight:
                    if s.future is not None:
                        s.future.cancel()
                break

    def _wait(
        self,
        slot: _Slot,
        submit: Callable[[_Slot], None],
        timeout: Optional[float],
        max_retries: int,
    ) -> tuple[float, float, Optional[str]]:
        """Wait for a slot's result, retrying failures; returns (value, cost, error)."""
        while True:
            error: Optional[str]
            try:
                if timeout is None:
                    out = slot.future.result()
                else:
                    left = max(timeout - (time.perf_counter() - slot.submitted), 0.0)
                    out = slot.future.result(timeout=left)
                    if getattr(slot.future, "elapsed", 0.0) > timeout:
                        raise TimeoutError(f"evaluation took {slot.future.elapsed:.3f} s")
                value, cost = _parse_result(out)
                return value, cost, None
            except (cf.TimeoutError, TimeoutError) as e:
                slot.future.cancel()
                error = f"timeout after {timeout} s" + (f" ({e})" if str(e) else "")
            except Exception as e:  # noqa: BLE001 - recorded as a failed evaluation
                error = _error_text(e)
            if slot.attempts > max_retries:
                return math.nan, math.nan, error
            submit(slot)


_SPACE_UNIVERSES: dict[SearchSpace, Universe] = {}


def _space_universe(space: SearchSpace, n_jobs: Optional[int]) -> Universe:
    """The enumerated space as a :class:`Universe` (cached per space, at most two spaces)."""
    u = _SPACE_UNIVERSES.get(space)
    if u is None:
        u = Universe(space.enumerate(n_jobs=n_jobs), n_jobs)
        if len(_SPACE_UNIVERSES) >= 2:
            _SPACE_UNIVERSES.pop(next(iter(_SPACE_UNIVERSES)))
        _SPACE_UNIVERSES[space] = u
    return u


def _subclasses(cls: type) -> list[type]:
    out = [cls]
    for sub in cls.__subclasses__():
        out.extend(_subclasses(sub))
    return out
