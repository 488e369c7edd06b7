"""Baseline searchers with the ask/tell interface: random search, regularised evolution and
local search."""

from __future__ import annotations

import math
from collections import deque
from typing import Any, Optional

import numpy as np
import numpy.typing as npt

from .._core import CellBatch, SearchSpace
from .._typing import RandomState
from .registry import register_searcher
from .searcher import Searcher
from .state import SearchState

__all__ = ["RandomSearch", "RegularizedEvolution", "LocalSearch"]

_METHODS = ("uniform", "rejection")
_PRESETS = ("nb101", "bananas", "naslib")


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} = {value!r}: must be a positive int")
    return int(value)


@register_searcher
class RandomSearch(Searcher):
    """Random search without repeats.

    Parameters
    ----------
    space : SearchSpace
        The cell space.
    method : {"uniform", "rejection"}
        ``"uniform"``: uniform over the cells not evaluated yet (of the universe, or of the
        space: by index when it is enumerable, else with the exact orbit sampler), i.e. uniform
        sampling without replacement over unique cells. ``"rejection"``: the conventional
        sampler (random matrix and ops, redrawn until valid), draws isomorphic to an evaluated
        cell or outside the universe discarded.
    random_state, universe, batch_size, n_jobs
        As for :class:`~nasfast.search.PredictorSearch`.
    """

    def __init__(
        self,
        space: SearchSpace,
        method: str = "uniform",
        random_state: RandomState = None,
        universe: Optional[CellBatch] = None,
        batch_size: int = 1,
        n_jobs: Optional[int] = None,
    ) -> None:
        super().__init__(space, random_state=random_state, universe=universe, batch_size=batch_size, n_jobs=n_jobs)
        if method not in _METHODS:
            raise ValueError(f"method = {method!r}: expected one of {_METHODS}")
        self.method = method

    def propose(self, state: SearchState, n: int) -> tuple[CellBatch, int]:
        return state.random_new(n, self.method), 0


@register_searcher
class RegularizedEvolution(Searcher):
    """Regularised (aging) evolution (Real et al. 2019, as in the NAS-Bench-101 notebook).

    The first ``population`` cells are random (``init_method``); then each child is a mutant
    (``preset``) of the best of ``sample_size`` members drawn from the population, which holds
    the ``population`` most recent successful evaluations.

    Parameters
    ----------
    space : SearchSpace
        The cell space.
    population : int
        Population size (50 in the notebook).
    sample_size : int
        Tournament size (10 in the notebook).
    preset : {"nb101", "bananas", "naslib"}
        Mutation operator (``SearchSpace.mutate``).
    dedupe : bool
        ``True``: a child isomorphic to an evaluated or pending cell is redrawn (up to 100 times,
        then a random new cell is taken), so every evaluation is a new cell. ``False``: the
        published algorithm: children are evaluated even when they repeat a cell, and every
        evaluation counts.
    init_method : {"uniform", "rejection"}
        Sampler of the initial population (the notebook uses the conventional ``"rejection"``).
    random_state, universe, batch_size, n_jobs
        As for :class:`~nasfast.search.PredictorSearch`. Children outside the universe are
        redrawn in either mode.
    """

    def __init__(
        self,
        space: SearchSpace,
        population: int = 50,
        sample_size: int = 10,
        preset: str = "nb101",
        dedupe: bool = True,
        random_state: RandomState = None,
        universe: Optional[CellBatch] = None,
        batch_size: int = 1,
        n_jobs: Optional[int] = None,
        init_method: str = "uniform",
    ) -> None:
        super().__init__(space, random_state=random_state, universe=universe, batch_size=batch_size, n_jobs=n_jobs)
        self.population = _positive_int("population", population)
        self.sample_size = _positive_int("sample_size", sample_size)
        if self.sample_size > self.population:
            raise ValueError(f"sample_size = {sample_size} exceeds population = {population}")
        if preset not in _PRESETS:
            raise ValueError(f"preset = {preset!r}: expected one of {_PRESETS}")
        if init_method not in _METHODS:
            raise ValueError(f"init_method = {init_method!r}: expected one of {_METHODS}")
        self.preset = preset
        self.dedupe = bool(dedupe)
        self.init_method = init_method
        self._allow_repeats = not self.dedupe

    def on_reset(self, state: SearchState) -> None:
        self._members: deque[tuple[CellBatch, float]] = deque()

    def on_tell(self, state: SearchState, cells: CellBatch, fps: npt.NDArray[np.uint64], values: npt.NDArray[np.float64]) -> None:
        for i in range(len(cells)):
            if not math.isnan(values[i]):
                self._members.append((cells[i : i + 1], float(values[i])))
                if len(self._members) > self.population:
                    self._members.popleft()

    def _child(self, state: SearchState) -> CellBatch:
        k = min(self.sample_size, len(self._members))
        idx = state.rng.choice(len(self._members), size=k, replace=False)
        vals = np.array([self._members[i][1] for i in idx])
        parent = self._members[int(idx[int(np.argmax(vals))])][0]
        for _ in range(100):
            child = self.space.mutate(parent, random_state=state.rng, preset=self.preset, n_jobs=self.n_jobs)  # type: ignore[arg-type]
            fps = child.fingerprints()
            if not state.in_universe(fps)[0]:
                continue
            if self.dedupe and state.is_taken(fps)[0]:
                continue
            return child
        return state.random_new(1)

    def propose(self, state: SearchState, n: int) -> tuple[CellBatch, int]:
        k_init = max(0, min(n, self.population - state.n_asked))
        if len(self._members) < 2:
            k_init = n
        parts = []
        if k_init:
            init = state.random_new(k_init, self.init_method)
            state.mark_taken(init.fingerprints())
            parts.append(init)
        for _ in range(n - k_init):
            child = self._child(state)
            if len(child):
                state.mark_taken(child.fingerprints())
                parts.append(child)
        parts = [p for p in parts if len(p)]
        return (CellBatch.concat(parts) if parts else state.empty()), 0


@register_searcher
class LocalSearch(Searcher):
    """Hill climbing over the full radius-1 neighbourhood with random restarts (as in naszilla
    and NASLib).

    From a uniform random start cell, every neighbour (``SearchSpace.neighbours``, radius 1, in
    random order; neighbours evaluated before count with their known value) is evaluated; the
    search moves to the best neighbour if it beats the current cell, and restarts from a new
    random cell at a local optimum. With ``batch_size > 1``, a cell asked while the current step
    still waits for results is a random new cell.

    Parameters
    ----------
    space : SearchSpace
        The cell space.
    random_state, universe, batch_size, n_jobs
        As for :class:`~nasfast.search.PredictorSearch`; neighbours outside the universe are
        dropped.
    """

    def __init__(
        self,
        space: SearchSpace,
        random_state: RandomState = None,
        universe: Optional[CellBatch] = None,
        batch_size: int = 1,
        n_jobs: Optional[int] = None,
    ) -> None:
        super().__init__(space, random_state=random_state, universe=universe, batch_size=batch_size, n_jobs=n_jobs)

    def on_reset(self, state: SearchState) -> None:
        self._known: dict[int, float] = {}
        self._current: Optional[tuple[CellBatch, float]] = None
        self._start: Optional[int] = None
        self._queue: list[CellBatch] = []
        self._nbrs: set[int] = set()
        self.restarts_ = 0

    def on_tell(self, state: SearchState, cells: CellBatch, fps: npt.NDArray[np.uint64], values: npt.NDArray[np.float64]) -> None:
        for i, f in enumerate(fps.tolist()):
            self._known[int(f)] = float(values[i])
            if int(f) == self._start:
                self._start = None
                if not math.isnan(values[i]):
                    self._move_to(state, cells[i : i + 1], float(values[i]))

    def _move_to(self, state: SearchState, cell: CellBatch, value: float) -> None:
        self._current = (cell, value)
        nb, _ = self.space.neighbours(cell, radius=1, n_jobs=self.n_jobs)
        fps = nb.fingerprints(n_jobs=self.n_jobs)
        keep = np.flatnonzero(state.in_universe(fps))
        perm = keep[state.rng.permutation(len(keep))]
        self._nbrs = {int(fps[i]) for i in perm}
        taken = state.is_taken(fps)
        self._queue = [nb[int(i) : int(i) + 1] for i in perm if not taken[i]]

    def _next(self, state: SearchState) -> CellBatch:
        while True:
            if self._current is None:
                if self._start is not None:  # waiting for the start cell's result
                    return state.random_new(1)
                cell = state.random_new(1)
                if len(cell):
                    self._start = int(cell.fingerprints()[0])
                    self.restarts_ += 1
                return cell
            while self._queue:
                cell = self._queue.pop(0)
                if not state.is_taken(cell.fingerprints())[0]:
                    return cell
            if any(f not in self._known for f in self._nbrs):  # results still to come
                return state.random_new(1)
            vals = [(self._known[f], f) for f in self._nbrs if not math.isnan(self._known[f])]
            cur_cell, cur_val = self._current
            if vals:
                best_val = max(v for v, _ in vals)
                if best_val > cur_val:
                    # the best neighbour, earliest evaluated on ties
                    best_fps = {f for v, f in vals if v == best_val}
                    h = state.history
                    hf = h.cells.fingerprints(n_jobs=self.n_jobs)
                    i = next(j for j, f in enumerate(hf.tolist()) if int(f) in best_fps)
                    self._move_to(state, h.cells[i : i + 1], best_val)
                    continue
            self._current = None

    def propose(self, state: SearchState, n: int) -> tuple[CellBatch, int]:
        parts = []
        for _ in range(n):
            cell = self._next(state)
            if len(cell) == 0:
                break
            state.mark_taken(cell.fingerprints())
            parts.append(cell)
        return (CellBatch.concat(parts) if parts else state.empty()), 0
