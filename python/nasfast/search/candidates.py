"""Candidate sets: which cells a predictor scores in one round.

A candidate set is a :class:`CandidateSet` whose :meth:`~CandidateSet.candidates` receives the
:class:`~nasfast.search.SearchState` of the search and returns the raw candidates of the round:
a ``CellBatch``, or, for candidates that are cells of the universe, a boolean mask over
``state.universe.cells`` (what :class:`FullSpace` returns: the searcher then scores them from
the state's feature cache, each distinct feature row once). The searcher removes isomorphic
duplicates, cells already evaluated or pending and cells outside its universe, and records the
size of what is left in ``history_.candidate_set_size``; when nothing is left, it falls back to
uniform random new cells (recorded with candidate-set size 0).

A new candidate set takes a few lines (see the README, "Architecture")::

    @register_candidates
    class MutantsAndRandom(CandidateSet):
        def __init__(self, top_k: int = 5, n_random: int = 500) -> None:
            self.top_k, self.n_random = top_k, n_random

        def candidates(self, state: SearchState) -> CellBatch:
            top = state.top_cells(self.top_k)
            kids = state.space.mutate(top, random_state=state.rng) if len(top) else state.empty()
            return CellBatch.concat([kids, state.random_new(self.n_random)])

Registering it (:func:`~nasfast.search.register_candidates`) lets journals and study files name
it; its configuration is read from the attributes named like its constructor's arguments.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Optional

import numpy as np
import numpy.typing as npt

from .._core import CellBatch, SearchSpace, SpaceTooLargeError
from .registry import candidates_config, candidates_from_config, check_arguments, config_of, register_candidates

if TYPE_CHECKING:  # pragma: no cover
    from .state import SearchState

__all__ = ["CandidateSet", "Candidates", "FullSpace", "RandomSubset", "Neighbourhood", "Evolution", "Combined", "Union",
           "CandidateStrategy"]

_PRESETS = ("nb101", "bananas", "naslib")

#: What :meth:`CandidateSet.candidates` returns: cells, or a boolean mask over the universe.
Candidates = typing.Union[CellBatch, npt.NDArray[np.bool_]]


def checked_candidates(candidates: CandidateSet, found: Any, state: SearchState) -> Candidates:
    """What ``candidates.candidates(state)`` returned, checked: a ``CellBatch`` of the search's
    space, or a boolean mask over ``state.universe.cells``.

    Raises
    ------
    TypeError
        For anything else.
    ValueError
        For cells of another space, a mask without a universe or of the wrong length.
    """
    if isinstance(found, CellBatch):
        if found.space != state.space:
            raise ValueError(f"{candidates!r} returned cells of {found.space!r}, the search searches {state.space!r}")
        return found
    if not (isinstance(found, np.ndarray) and found.dtype == np.bool_):
        raise TypeError(
            f"{candidates!r} returned {type(found).__name__}: expected a CellBatch or a boolean mask over the universe"
        )
    universe = state.universe
    if universe is None:
        raise ValueError(f"{candidates!r} returned a mask, but {state.space!r} has no universe (too large to enumerate)")
    if found.shape != (len(universe),):
        raise ValueError(f"{candidates!r} returned a mask of shape {found.shape} for a universe of {len(universe)} cells")
    return found


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} = {value!r}: must be a positive int")
    return int(value)


class CandidateSet:
    """Base of the candidate sets: the rule that gives the cells a predictor scores in a round.

    Subclasses implement :meth:`candidates`; :meth:`reset`, :meth:`check` and
    :meth:`get_config` have defaults. Draw every random number from ``state.rng``.
    """

    def candidates(self, state: SearchState) -> Candidates:
        """The raw candidates of this round: a ``CellBatch`` (duplicates, taken cells and cells
        outside the universe are removed by the searcher), or a boolean mask over
        ``state.universe.cells``."""
        raise NotImplementedError(f"{type(self).__name__} must implement candidates(state)")

    def reset(self) -> None:
        """Forgets what a previous search left (called when a search starts)."""

    def check(self, space: SearchSpace, universe: Optional[CellBatch]) -> None:
        """Refuses a search this candidate set cannot serve (called by the searcher's
        constructor with its space and universe)."""

    def get_config(self) -> dict[str, Any]:
        """The arguments that build this candidate set again (without its ``type``; see
        :mod:`nasfast.search.registry`): by default every constructor argument, read from the
        attribute of the same name."""
        return config_of(self)

    @classmethod
    def from_config(cls, params: Mapping[str, Any]) -> CandidateSet:
        """The candidate set of :meth:`get_config`'s arguments (names and types checked
        against the constructor first)."""
        check_arguments(cls, params)
        return cls(**params)

    def __repr__(self) -> str:
        try:
            cfg = self.get_config()
        except TypeError:
            return f"{type(self).__name__}(...)"
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in cfg.items())})"


@register_candidates
class FullSpace(CandidateSet):
    """Every cell of the universe: all unique cells of an enumerable space (423,624 for
    NAS-Bench-101) or all cells of the searcher's ``universe``.

    Its candidates are a mask over the universe, so a predictor search scores them from the
    universe's feature cache, computed once (see :class:`~nasfast.search.PredictorSearch`). A
    space too large to enumerate without a universe is refused with ``SpaceTooLargeError``.
    """

    def check(self, space: SearchSpace, universe: Optional[CellBatch]) -> None:
        if universe is None and not space.is_enumerable():
            raise SpaceTooLargeError(
                f"FullSpace needs an enumerable space or a universe; {space!r} is too large to "
                "enumerate: use RandomSubset, Neighbourhood or Evolution candidates"
            )

    def candidates(self, state: SearchState) -> Candidates:
        return ~state.taken_mask()


@register_candidates
class RandomSubset(CandidateSet):
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

    def reset(self) -> None:
        self._fixed = None

    def _draw(self, state: SearchState) -> CellBatch:
        universe = state.universe
        if universe is not None:
            n = min(self.size, len(universe))
            return universe.cells[np.sort(state.rng.choice(len(universe), size=n, replace=False))]
        return state.space.sample(self.size, random_state=state.rng, replace=False, n_jobs=state.n_jobs)

    def candidates(self, state: SearchState) -> Candidates:
        if self.refresh or self._fixed is None:
            self._fixed = self._draw(state)
        return self._fixed


@register_candidates
class Neighbourhood(CandidateSet):
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

    def candidates(self, state: SearchState) -> Candidates:
        top = state.top_cells(self.top_k)
        if len(top) == 0:
            return state.empty()
        cells, _ = state.space.neighbours(top, radius=self.radius, n_jobs=state.n_jobs)
        return cells


@register_candidates
class Evolution(CandidateSet):
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

    def candidates(self, state: SearchState) -> Candidates:
        top = state.top_cells(self.top_k)
        if len(top) == 0:
            return state.empty()
        parents = top[state.rng.integers(0, len(top), size=self.n_children)]
        return state.space.mutate(
            parents, random_state=state.rng, preset=self.preset, non_isomorphic=True, n_jobs=state.n_jobs  # type: ignore[arg-type]
        )


@register_candidates
class Combined(CandidateSet):
    """The union of several candidate sets: their candidates one after the other (duplicates
    are removed by the searcher). ``Union`` is its earlier name, still accepted.

    When one of them gives a mask over the universe (:class:`FullSpace`), the candidates of the
    others are mapped into the universe too and the union is a mask (cells outside the universe
    could not be asked anyway), so that ``Combined(FullSpace(), ...)`` is scored from the
    feature cache like ``FullSpace()``.

    Parameters
    ----------
    *sets : CandidateSet
        At least two candidate sets.
    """

    def __init__(self, *sets: CandidateSet) -> None:
        if len(sets) < 2:
            raise ValueError(f"{type(self).__name__} needs at least two candidate sets, got {len(sets)}")
        for i, s in enumerate(sets):
            if not isinstance(s, CandidateSet):
                raise TypeError(f"{type(self).__name__}: argument {i} is not a candidate set: {s!r}")
        self.sets = tuple(sets)

    def get_config(self) -> dict[str, Any]:
        return {"sets": [candidates_config(s) for s in self.sets]}

    @classmethod
    def from_config(cls, params: Mapping[str, Any]) -> CandidateSet:
        if set(params) != {"sets"}:
            raise ValueError(f"a {cls.__name__} candidate set takes the key 'sets' only, got {sorted(params)}")
        sets = params["sets"]
        if not isinstance(sets, list) or not sets:
            raise ValueError(f"a {cls.__name__} candidate set needs a non-empty list 'sets', got {sets!r}")
        return cls(*(candidates_from_config(c, "sets") for c in sets))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(repr(s) for s in self.sets)})"

    def reset(self) -> None:
        for s in self.sets:
            s.reset()

    def check(self, space: SearchSpace, universe: Optional[CellBatch]) -> None:
        for s in self.sets:
            s.check(space, universe)

    def candidates(self, state: SearchState) -> Candidates:
        parts = [checked_candidates(s, s.candidates(state), state) for s in self.sets]
        if all(isinstance(p, CellBatch) for p in parts):
            cells = [p for p in parts if len(p)]
            return CellBatch.concat(cells) if cells else state.empty()  # type: ignore[arg-type]
        universe = state.universe
        assert universe is not None  # checked_candidates: a mask implies a universe
        mask = np.zeros(len(universe), dtype=bool)
        for p in parts:
            if isinstance(p, CellBatch):
                if len(p):
                    pos = universe.positions(p.fingerprints(n_jobs=state.n_jobs))
                    mask[pos[pos >= 0]] = True
            else:
                mask |= p
        return mask


#: The earlier name of :class:`Combined` (it shadowed ``typing.Union`` for code that imports both).
Union = Combined
#: The earlier name of :class:`CandidateSet`.
CandidateStrategy = CandidateSet
