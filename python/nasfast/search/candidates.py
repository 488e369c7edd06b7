"""Candidate-subset strategies: which cells a predictor scores in one round.

Every strategy returns raw candidates; the searcher then removes isomorphic duplicates, cells
already evaluated or pending, and cells outside its universe, and records the size of what is
left in ``history_.candidate_set_size``. When nothing is left, the searcher falls back to
uniform random new cells (recorded with candidate-set size 0).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from .._core import CellBatch, SpaceTooLargeError

if TYPE_CHECKING:  # pragma: no cover
    from ._base import Searcher

__all__ = ["CandidateStrategy", "FullSpace", "RandomSubset", "Neighbourhood", "Evolution", "Union", "strategy_from_config"]

_PRESETS = ("nb101", "bananas", "naslib")


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} = {value!r}: must be a positive int")
    return int(value)


class CandidateStrategy:
    """Base of the candidate-subset strategies."""

    def _config(self) -> dict[str, Any]:
        """The strategy as JSON (for journals)."""
        raise NotImplementedError

    def _reset(self) -> None:
        """Forget state from a previous search."""

    def _check(self, search: "Searcher") -> None:
        """Refuse a searcher this strategy cannot serve."""

    def candidates(self, search: "Searcher") -> CellBatch:
        """The raw candidate cells of this round for ``search``."""
        raise NotImplementedError

    def __repr__(self) -> str:
        cfg = self._config()
        name = cfg.pop("strategy")
        return f"{name}({', '.join(f'{k}={v!r}' for k, v in cfg.items())})"


class FullSpace(CandidateStrategy):
    """Every cell of the universe: all unique cells of an enumerable space (423,624 for
    NAS-Bench-101) or all cells of the searcher's ``universe``.

    The features of the whole universe are computed once and cached (see
    :class:`~nasfast.search.PredictorSearch`). A space too large to enumerate without a
    universe is refused with ``SpaceTooLargeError``.
    """

    def _config(self) -> dict[str, Any]:
        return {"strategy": "FullSpace"}

    def _check(self, search: "Searcher") -> None:
        if search.universe is None and not search.space.is_enumerable():
            raise SpaceTooLargeError(
                f"FullSpace needs an enumerable space or a universe; {search.space!r} is too large to "
                "enumerate: use RandomSubset, Neighbourhood or Evolution candidates"
            )

    def candidates(self, search: "Searcher") -> CellBatch:
        pool = search._pool()
        assert pool is not None
        return pool.cells[np.flatnonzero(~search._pool_taken_mask())]


class RandomSubset(CandidateStrategy):
    """A uniform random subset of ``size`` distinct cells of the universe (or of the space).

    Parameters
    ----------
    size : int
        Cells drawn (before the evaluated ones are removed).
    refresh : bool
        ``False``: drawn once, at the first round, and kept (minus evaluated cells).
        ``True``: redrawn every round.
    """

    def __init__(self, size: int = 10_000, refresh: bool = False) -> None:
        self.size = _positive_int("size", size)
        self.refresh = bool(refresh)
        self._fixed: Optional[CellBatch] = None

    def _config(self) -> dict[str, Any]:
        return {"strategy": "RandomSubset", "size": self.size, "refresh": self.refresh}

    def _reset(self) -> None:
        self._fixed = None

    def _draw(self, search: "Searcher") -> CellBatch:
        pool = search._pool()
        if pool is not None:
            n = min(self.size, len(pool))
            return pool.cells[np.sort(search._rng.choice(len(pool), size=n, replace=False))]
        return search.space.sample(self.size, random_state=search._rng, replace=False, n_jobs=search.n_jobs)

    def candidates(self, search: "Searcher") -> CellBatch:
        if self.refresh or self._fixed is None:
            self._fixed = self._draw(search)
        return self._fixed


class Neighbourhood(CandidateStrategy):
    """Every cell within ``radius`` edits of the ``top_k`` best evaluated cells (the edit rule
    of ``SearchSpace.neighbours``).

    Parameters
    ----------
    radius : int
        Edits (1 or 2 are practical: radius 2 gives thousands of cells per parent).
    top_k : int
        Number of best evaluated cells whose neighbourhoods are taken.
    """

    def __init__(self, radius: int = 1, top_k: int = 10) -> None:
        self.radius = _positive_int("radius", radius)
        self.top_k = _positive_int("top_k", top_k)

    def _config(self) -> dict[str, Any]:
        return {"strategy": "Neighbourhood", "radius": self.radius, "top_k": self.top_k}

    def candidates(self, search: "Searcher") -> CellBatch:
        top = search._top_cells(self.top_k)
        if len(top) == 0:
            return search._empty()
        cells, _ = search.space.neighbours(top, radius=self.radius, n_jobs=search.n_jobs)
        return cells


class Evolution(CandidateStrategy):
    """Mutants of the best evaluated cells: ``n_children`` children, each of a parent drawn
    uniformly from the ``top_k`` best evaluated cells, mutated with ``preset`` (never
    isomorphic to its parent).

    Parameters
    ----------
    n_children : int
        Children per round (before duplicates and evaluated cells are removed).
    top_k : int
        Number of best evaluated cells used as parents.
    preset : {"nb101", "bananas", "naslib"}
        Mutation operator (``SearchSpace.mutate``).
    """

    def __init__(self, n_children: int = 100, top_k: int = 10, preset: str = "nb101") -> None:
        self.n_children = _positive_int("n_children", n_children)
        self.top_k = _positive_int("top_k", top_k)
        if preset not in _PRESETS:
            raise ValueError(f"preset = {preset!r}: expected one of {_PRESETS}")
        self.preset = preset

    def _config(self) -> dict[str, Any]:
        return {"strategy": "Evolution", "n_children": self.n_children, "top_k": self.top_k, "preset": self.preset}

    def candidates(self, search: "Searcher") -> CellBatch:
        top = search._top_cells(self.top_k)
        if len(top) == 0:
            return search._empty()
        parents = top[search._rng.integers(0, len(top), size=self.n_children)]
        return search.space.mutate(
            parents, random_state=search._rng, preset=self.preset, non_isomorphic=True, n_jobs=search.n_jobs  # type: ignore[arg-type]
        )


class Union(CandidateStrategy):
    """The union of several strategies (their candidates one after the other; duplicates are
    removed by the searcher).

    Parameters
    ----------
    *strategies : CandidateStrategy
        At least two strategies (``FullSpace`` is refused: it already holds every cell).
    """

    def __init__(self, *strategies: CandidateStrategy) -> None:
        if len(strategies) < 2:
            raise ValueError(f"Union needs at least two strategies, got {len(strategies)}")
        for i, s in enumerate(strategies):
            if not isinstance(s, CandidateStrategy):
                raise TypeError(f"Union: argument {i} is not a candidate strategy: {s!r}")
            if isinstance(s, FullSpace):
                raise ValueError("Union: FullSpace already holds every cell; use it alone")
        self.strategies = tuple(strategies)

    def _config(self) -> dict[str, Any]:
        return {"strategy": "Union", "strategies": [s._config() for s in self.strategies]}

    def __repr__(self) -> str:
        return f"Union({', '.join(repr(s) for s in self.strategies)})"

    def _reset(self) -> None:
        for s in self.strategies:
            s._reset()

    def _check(self, search: "Searcher") -> None:
        for s in self.strategies:
            s._check(search)

    def candidates(self, search: "Searcher") -> CellBatch:
        parts = [s.candidates(search) for s in self.strategies]
        parts = [p for p in parts if len(p)]
        return CellBatch.concat(parts) if parts else search._empty()


def strategy_from_config(config: dict[str, Any]) -> CandidateStrategy:
    """The strategy whose ``_config()`` is ``config`` (as stored in a journal header)."""
    cfg = dict(config)
    name = cfg.pop("strategy", None)
    if name == "Union":
        return Union(*(strategy_from_config(c) for c in cfg["strategies"]))
    classes = {c.__name__: c for c in (FullSpace, RandomSubset, Neighbourhood, Evolution)}
    if name not in classes:
        raise ValueError(f"unknown candidate strategy {name!r} in {config!r}")
    return classes[name](**cfg)  # type: ignore[no-any-return]
