"""The evaluation loop of a search: executors, retries, timeouts, the journal and its replay.

:func:`run_search` (what :meth:`Searcher.run` calls) drives any searcher through its public
interface only: ``reset``, ``ask``, ``tell`` (with the recorded ``wall_time`` of a replayed
result), ``check_budget``, ``state_`` and ``history_``. It knows nothing of how a searcher
proposes cells, so that a searcher of your own gets executors, journals and resume for free.
"""

from __future__ import annotations

import concurrent.futures as cf
import math
import os
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Optional, Union

import numpy as np

from .._core import CellBatch
from ._history import History, cells_from_json, cells_to_json, space_to_json
from .journal import Journal, JournalCorruptError, JournalMismatchError
from .registry import searcher_config
from .searcher import EvaluationError, _non_finite

if TYPE_CHECKING:  # pragma: no cover
    from .searcher import Searcher

__all__ = ["Evaluator", "run_search", "journal_header"]

#: ``evaluator(cells)`` for a ``CellBatch`` of one cell returns its value, or ``(values, costs)``.
Evaluator = Callable[[CellBatch], Any]


@dataclass
class _Slot:
    """One cell in flight in :func:`run_search`."""

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

    def submit(self, fn: Callable[..., Any], *args: Any) -> cf.Future[Any]:
        fut: cf.Future[Any] = cf.Future()
        t0 = time.perf_counter()
        try:
            fut.set_result(fn(*args))
        except BaseException as e:
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


def _error_text(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}"


def journal_header(searcher: Searcher) -> dict[str, Any]:
    """The header of a searcher's journal: its configuration (:func:`~nasfast.search.registry.searcher_config`),
    space, universe digest (``None`` for the whole space) and the seed of its current search.

    Raises
    ------
    TypeError
        If the searcher's class is not registered (a journal must name it to be resumed).
    """
    state = searcher.state_
    return {
        "searcher": searcher_config(searcher),
        "space": space_to_json(searcher.space),
        "universe": None if state.given_universe is None else state.given_universe.digest,
        "seed": state.seed,
    }


def run_search(
    searcher: Searcher,
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
) -> None:
    """Runs a new search of ``searcher`` until ``budget`` cells are evaluated.

    Cells are asked ``batch_size`` at a time at first, then one by one as results come in,
    so that up to ``batch_size`` evaluations are in flight. Results are told in the order
    the cells were asked, each as soon as it and every earlier one have arrived: the history
    is therefore the same inline, in a process pool or on a Dask cluster (for the same seed
    and a deterministic evaluator).

    Parameters
    ----------
    searcher : Searcher
        The searcher (``searcher.reset()`` starts the new search).
    evaluator : callable
        ``evaluator(cells)`` for a ``CellBatch`` of one cell returns its value, or
        ``(values, costs)``. It must be picklable for a process pool or Dask.
    budget : int
        Number of evaluations (failed ones included).
    executor : concurrent.futures.Executor or distributed.Client, optional
        Where evaluations run (``None``: inline, one after the other).
    journal : str or Path, optional
        JSON-lines journal of every ask and result (see :mod:`nasfast.search.journal`); the
        searcher's class must be registered (:func:`~nasfast.search.register_searcher`).
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
    searcher.check_budget(int(budget))
    if resume and journal is None:
        raise ValueError("resume=True needs the journal of the search to resume")
    searcher.reset()
    jr: Optional[Journal] = None
    if journal is not None:
        jr = Journal(journal, journal_header(searcher), resume=resume)
        # The seed of an existing journal (even one holding only its header) is the seed of
        # the search; random_state=None adopts it, any other random_state must be that seed.
        if jr.resumed:
            rs = searcher.random_state
            if not isinstance(rs, (type(None), int, np.integer)) or (rs is not None and int(rs) != jr.seed):
                jr.close()
                raise JournalMismatchError(
                    f"journal {str(journal)!r} was written with seed {jr.seed}, this search has random_state={rs!r}"
                )
            searcher.reset(jr.seed)
    try:
        _loop(searcher, evaluator, int(budget), executor, jr, stop, timeout, int(max_retries), int(max_consecutive_failures))
    finally:
        if jr is not None:
            jr.close()


def _loop(
    searcher: Searcher,
    evaluator: Evaluator,
    budget: int,
    executor: Optional[Any],
    jr: Optional[Journal],
    stop: Optional[Callable[[History], bool]],
    timeout: Optional[float],
    max_retries: int,
    max_failures: int,
) -> None:
    state = searcher.state_
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
        while not exhausted and len(inflight) < searcher.batch_size and state.n_asked < budget:
            k = min(searcher.batch_size - len(inflight), budget - state.n_asked)
            it = state.iteration
            cells = searcher.ask(k)
            if len(cells) == 0:
                exhausted = True
                break
            fps = cells.fingerprints(n_jobs=searcher.n_jobs)
            if jr is not None:
                if n_ask_rec < len(jr.asks):
                    where = f"journal {str(jr.path)!r}, line {jr.ask_lines[n_ask_rec]}"
                    try:
                        old = cells_from_json(jr.asks[n_ask_rec]["cells"], searcher.space).fingerprints()
                    except ValueError as e:
                        raise JournalCorruptError(f"{where}: {e}") from None
                    if not np.array_equal(old, fps):
                        raise JournalMismatchError(
                            f"{where}: ask {n_ask_rec} of the replay proposes different cells "
                            "than the journal (was the evaluator or the code changed?)"
                        )
                else:
                    jr.write(
                        {"type": "ask", "iteration": it, "candidate_set_size": state.last_candidate_set_size,
                         "cells": cells_to_json(cells)}
                    )
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
            wall = float(rec["wall_time"])
        else:
            value, cost, error = _wait(slot, submit, timeout, max_retries)
            wall = state.wall_time()
        searcher.tell(slot.cells, [value], [cost], [error], wall_time=wall)
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
                    "wall_time": wall,
                }
            )
        n_tell_rec += 1
        if slot.replay is None:
            failures = failures + 1 if error is not None else 0
        if failures >= max_failures:
            for s in inflight:
                if s.future is not None:
                    s.future.cancel()
            raise EvaluationError(f"the evaluator failed on {failures} cells in a row; the last error: {error}")
        if stop is not None and stop(searcher.history_):
            for s in inflight:
                if s.future is not None:
                    s.future.cancel()
            break


def _wait(
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
