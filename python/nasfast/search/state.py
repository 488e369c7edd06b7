"""The state of a search as its plug-ins see it: :class:`SearchState`.

A searcher keeps its bookkeeping in one ``SearchState`` (``searcher.state_``): the space and the
universe, which cells are taken (evaluated or pending), the results told so far, the random
generator of the search and the feature cache of the universe. Candidate sets receive it in
``candidates(state)``, and searchers in their hooks (``propose(state, n)``, ...), so that a new
candidate set or searcher is written against this documented view, never against private names.
"""

from __future__ import annotations

import math
import time
from typing import Optional

import numpy as np
import numpy.typing as npt

from .._core import CellBatch, SearchSpace
from ._history import History
from .universe import Universe, UniverseFeatures, space_universe, universe_features

__all__ = ["SearchState"]

#: Fingerprint lists up to this long are looked up in the taken set one by one; longer ones
#: against a sorted array (the same answer either way).
_SMALL_LOOKUP = 64


class SearchState:
    """The state of one search: what a candidate set or a searcher's hooks may read and use.

    A searcher makes a new state when a search starts (``Searcher.reset``, called by ``ask``,
    ``tell`` and ``run``) and updates it in ``ask`` and ``tell``; plug-ins read it and draw
    their random numbers from :attr:`rng`, which keeps a search deterministic for its seed.

    Attributes
    ----------
    space : SearchSpace
        The cell space.
    seed : int
        The seed of the search (:attr:`rng` was made from it).
    rng : numpy.random.Generator
        The random generator of the search: every random choice of a plug-in must be drawn
        from it (same seed, same history).
    n_jobs : int or None
        Threads for the core (results never depend on it).
    given_universe : Universe or None
        The universe the searcher was restricted to, ``None`` for the whole space.
    n_asked : int
        Cells asked so far (pending and told).
    iteration : int
        Ask rounds so far (the ``iteration`` the next asked cells get in the history).
    last_candidate_set_size : int
        Size of the candidate set the cells of the last ask came from (0: random cells).
    """

    def __init__(
        self, space: SearchSpace, seed: int, given_universe: Optional[Universe] = None, n_jobs: Optional[int] = None
    ) -> None:
        self.space = space
        self.seed = int(seed)
        self.rng = np.random.default_rng(self.seed)
        self.n_jobs = n_jobs
        self.given_universe = given_universe
        self.n_asked = 0
        self.iteration = 0
        self.last_candidate_set_size = 0
        self._space_universe: Optional[Universe] = None
        self._taken: set[int] = set()  # fingerprints evaluated or pending
        self._taken_sorted: Optional[npt.NDArray[np.uint64]] = None
        self._taken_mask: Optional[npt.NDArray[np.bool_]] = None
        # for each pending fingerprint, the (iteration, candidate-set size) of its asks
        self._pending: dict[int, list[tuple[int, int]]] = {}
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

    def __repr__(self) -> str:
        return f"SearchState(space={self.space!r}, seed={self.seed}, asked={self.n_asked}, told={self.n_told})"

    # ------------------------------------------------------------------ the universe
    @property
    def universe(self) -> Optional[Universe]:
        """The searchable cells: :attr:`given_universe`, else every cell of the space when it
        can be enumerated (built on first use and shared by every search of the space), else
        ``None`` (a space too large to enumerate)."""
        if self.given_universe is not None:
            return self.given_universe
        if self._space_universe is None and self.space.is_enumerable():
            self._space_universe = space_universe(self.space, self.n_jobs)
        return self._space_universe

    def in_universe(self, fps: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """Whether each fingerprint is of a searchable cell (always true without a given
        universe: every valid cell of the space is searchable)."""
        fps = np.asarray(fps, dtype=np.uint64)
        if self.given_universe is None:
            return np.ones(len(fps), dtype=bool)
        return self.given_universe.positions(fps) >= 0

    def universe_features(self, encoding: str) -> UniverseFeatures:
        """The features of every cell of :attr:`universe` in ``encoding``, computed once and
        cached (the feature cache: the last two universe x encoding pairs are kept).

        Raises
        ------
        ValueError
            If the search has no universe (a space too large to enumerate).
        """
        universe = self.universe
        if universe is None:
            raise ValueError(f"{self.space!r} is too large to enumerate and the search has no universe: no feature cache")
        return universe_features(universe, encoding, self.n_jobs)

    # ------------------------------------------------------------------ taken cells
    @property
    def n_taken(self) -> int:
        """Number of distinct cells evaluated or pending."""
        return len(self._taken)

    def is_taken(self, fps: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """Whether each fingerprint is of a cell evaluated or pending (asked, not yet told)."""
        fps = np.asarray(fps, dtype=np.uint64).reshape(-1)
        if len(fps) <= _SMALL_LOOKUP:
            return np.fromiter((int(f) in self._taken for f in fps.tolist()), dtype=bool, count=len(fps))
        if self._taken_sorted is None:
            self._taken_sorted = np.sort(np.fromiter(self._taken, dtype=np.uint64, count=len(self._taken)))
        return np.isin(fps, self._taken_sorted)

    def taken_mask(self) -> npt.NDArray[np.bool_]:
        """Boolean mask over ``universe.cells``: the cells evaluated or pending.

        A live, read-only view (it follows later asks; copy it to keep a snapshot).

        Raises
        ------
        ValueError
            If the search has no universe.
        """
        universe = self.universe
        if universe is None:
            raise ValueError(f"{self.space!r} is too large to enumerate and the search has no universe: no taken mask")
        if self._taken_mask is None:
            mask = np.zeros(len(universe), dtype=bool)
            if self._taken:
                pos = universe.positions(np.fromiter(self._taken, dtype=np.uint64, count=len(self._taken)))
                mask[pos[pos >= 0]] = True
            self._taken_mask = mask
        view = self._taken_mask.view()
        view.flags.writeable = False
        return view

    def mark_taken(self, fps: npt.ArrayLike) -> None:
        """Mark cells as taken. ``ask`` marks the cells it returns; a searcher that proposes
        cells in several steps marks the cells of the earlier steps, so that the later ones
        avoid them."""
        fps = np.asarray(fps, dtype=np.uint64).reshape(-1)
        self._taken.update(int(f) for f in fps.tolist())
        self._taken_sorted = None
        if self._taken_mask is not None and self.universe is not None:
            pos = self.universe.positions(fps)
            self._taken_mask[pos[pos >= 0]] = True

    def new_only(
        self, cells: CellBatch, fps: Optional[npt.NDArray[np.uint64]] = None
    ) -> tuple[CellBatch, npt.NDArray[np.uint64]]:
        """The cells that are new: the first of their isomorphism class, not taken, and in the
        universe. Returns them, in order, with their fingerprints."""
        if len(cells) == 0:
            return cells, np.zeros(0, dtype=np.uint64)
        if fps is None:
            fps = cells.fingerprints(n_jobs=self.n_jobs)
        _, first = np.unique(fps, return_index=True)
        keep = np.zeros(len(fps), dtype=bool)
        keep[first] = True
        if self._taken:
            keep &= ~self.is_taken(fps)
        if self.given_universe is not None:
            keep &= self.given_universe.positions(fps) >= 0
        idx = np.flatnonzero(keep)
        return cells[idx], fps[idx]

    # ------------------------------------------------------------------ cells
    def empty(self) -> CellBatch:
        """An empty batch of the space."""
        v = self.space.max_vertices
        return CellBatch.from_arrays(np.zeros((0, v, v), np.uint8), np.zeros((0, v), np.int8), self.space)

    def random_new(self, n: int, method: str = "uniform") -> CellBatch:
        """Up to ``n`` distinct new cells (not taken, in the universe), drawn with :attr:`rng`.

        ``"uniform"``: uniform over the cells not taken (of the universe, or of an enumerable
        space; else with the exact orbit sampler). ``"rejection"``: the conventional sampler
        (random matrix and ops, redrawn until valid). Fewer than ``n`` only when the universe
        has no more cells. The cells are not marked taken.
        """
        if n <= 0:
            return self.empty()
        universe = self.universe if method == "uniform" else None
        if universe is not None:
            taken = self.taken_mask()
            free = len(universe) - int(taken.sum())
            n = min(n, free)
            if n == 0:
                return self.empty()
            if free > 4 * n and free > len(universe) // 2:
                chosen: list[int] = []
                chosen_set: set[int] = set()
                while len(chosen) < n:
                    draw = self.rng.integers(0, len(universe), size=2 * (n - len(chosen)))
                    for p in draw.tolist():
                        if not taken[p] and p not in chosen_set:
                            chosen.append(p)
                            chosen_set.add(p)
                            if len(chosen) == n:
                                break
                idx = np.asarray(chosen, dtype=np.int64)
            else:
                idx = self.rng.choice(np.flatnonzero(~taken), size=n, replace=False)
            return universe.cells[idx]
        out: list[CellBatch] = []
        got = 0
        seen: set[int] = set()
        sampler = "orbit" if method == "uniform" else method
        for _ in range(1000):
            batch = self.space.sample(max(2 * (n - got), 16), random_state=self.rng, method=sampler, n_jobs=self.n_jobs)  # type: ignore[arg-type]
            cells, fps = self.new_only(batch)
            keep = [i for i, f in enumerate(fps.tolist()) if f not in seen][: n - got]
            seen.update(int(fps[i]) for i in keep)
            if keep:
                out.append(cells[np.asarray(keep, dtype=np.int64)])
                got += len(keep)
            if got >= n:
                break
        return CellBatch.concat(out) if out else self.empty()

    # ------------------------------------------------------------------ results
    @property
    def n_told(self) -> int:
        """Number of results told (failed evaluations included)."""
        return len(self._h_values)

    @property
    def history(self) -> History:
        """Every result told so far (:class:`History`)."""
        if self._history is None:
            cells = CellBatch.concat(self._h_cells) if self._h_cells else self.empty()
            self._history = History(cells, self._h_values, self._h_costs, self._h_iter, self._h_wall, self._h_size, self._h_err)
        return self._history

    def top_cells(self, k: int) -> CellBatch:
        """The ``k`` best evaluated cells: distinct, best first, earlier first on ties (failed
        evaluations left out)."""
        v = np.asarray(self._h_values, dtype=np.float64)
        ok = np.flatnonzero(~np.isnan(v))
        if len(ok) == 0:
            return self.empty()
        order = ok[np.argsort(-v[ok], kind="stable")]
        fps = np.asarray(self._h_fps, dtype=np.uint64)[order]
        _, first = np.unique(fps, return_index=True)
        keep = order[np.sort(first)][:k]
        return self.history.cells[keep]

    def wall_time(self) -> float:
        """Seconds since the search started (a resumed search continues the clock of the
        results it replays)."""
        return self._wall_offset + time.perf_counter() - self._t0

    # ------------------------------------------------------------------ updates (by Searcher.ask and tell)
    def _record_ask(self, fps: npt.NDArray[np.uint64], size: int) -> None:
        for f in fps.tolist():
            self._pending.setdefault(int(f), []).append((self.iteration, int(size)))
        self.mark_taken(fps)
        self.last_candidate_set_size = int(size)
        self.n_asked += len(fps)
        self.iteration += 1

    def _record_tell(
        self,
        cells: CellBatch,
        fps: npt.NDArray[np.uint64],
        values: npt.NDArray[np.float64],
        costs: npt.NDArray[np.float64],
        errors: list[Optional[str]],
        wall_time: Optional[float],
    ) -> None:
        if wall_time is None:
            wall = self.wall_time()
        else:
            wall = float(wall_time)
            self._wall_offset = wall
            self._t0 = time.perf_counter()
        new = [int(f) for f in fps.tolist() if int(f) not in self._taken]
        if new:
            self.mark_taken(np.asarray(new, dtype=np.uint64))
        for i, f in enumerate(fps.tolist()):
            queue = self._pending.get(int(f))
            if queue:
                it, size = queue.pop(0)
                if not queue:
                    del self._pending[int(f)]
            else:
                it, size = -1, 0
            self._h_fps.append(int(f))
            self._h_values.append(float(values[i]))
            self._h_costs.append(float(costs[i]))
            self._h_iter.append(it)
            self._h_wall.append(wall)
            self._h_size.append(size)
            self._h_err.append(errors[i] if (errors[i] is not None or not math.isnan(values[i])) else "no value")
        self._h_cells.append(cells)
        self._history = None
