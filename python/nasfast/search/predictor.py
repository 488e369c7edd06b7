"""Predictor-based search: a scikit-learn model trained on the evaluated cells scores a
candidate set, and the best-scored cells are evaluated."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any, Optional

import numpy as np
import numpy.typing as npt

from .._core import CellBatch, SearchSpace
from .._typing import RandomState
from ..predictors import encode, encoding_dim, encoding_parts, normal_scores
from ..predictors._encoding import CORE_ENCODINGS
from ..predictors.forest import ForestRegressor
from ._fitted import FittedPredictor, expected_improvement
from .candidates import CandidateSet, Combined, FullSpace, Neighbourhood, RandomSubset, checked_candidates
from .registry import CONTEXT_ARGUMENTS, candidates_config, config_of, register_searcher
from .searcher import Searcher
from .state import SearchState
from .universe import UniverseRows

__all__ = ["PredictorSearch", "default_predictor", "default_encoding", "default_candidates", "ACQUISITIONS", "ENCODINGS", "TARGET_TRANSFORMS"]

ACQUISITIONS = ("greedy", "ucb", "ei", "thompson")
ENCODINGS = CORE_ENCODINGS
#: Transforms of the evaluated values before the predictor is fitted (``None``: the raw values).
TARGET_TRANSFORMS = ("normal-scores", None)

#: Largest number of features per cell a predictor is trained on.
MAX_FEATURES = 65_536

def default_predictor() -> ForestRegressor:
    """The default predictor: ``ForestRegressor(n_estimators=100, min_samples_leaf=2,
    max_features=0.5)``, a random forest fitted in the core.

    Trained on 100 random cells of ``nb101-real20k`` (path encoding) and scored on the other
    19,901, it ranks them as well as scikit-learn's ``RandomForestRegressor`` with the same
    settings (Kendall tau and top-1% precision within the seed-to-seed spread) and fits and
    predicts many times faster (``benches/bench_search.py``, groups
    ``search-default-predictor`` and ``search-forest-fit``; figures in the README). The
    settings were chosen against a fully grown forest: leaves of at least 2 cells and half the
    features per split rank as well and score about twice as fast. The spread of the trees gives
    the uncertainty.
    """
    return ForestRegressor(n_estimators=100, min_samples_leaf=2, max_features=0.5)


#: Largest number of path features for which :func:`default_encoding` adds the path encoding to
#: the adjacency encoding (NAS-Bench-101: 364).
PATH_FEATURES_LIMIT = 4096


def default_encoding(space: SearchSpace) -> str:
    """The encoding a :class:`PredictorSearch` uses when neither it nor its predictor's
    ``feature_layout`` names one.

    ``"adjacency+path"`` (the adjacency encoding and the path encoding side by side) when the
    space has at most :data:`PATH_FEATURES_LIMIT` path features (every input-output op
    sequence; 364 for NAS-Bench-101), else ``"adjacency"``, whose size grows only quadratically
    with the vertices (12 vertices and 5 ops: 116 features, against 12.2 million paths).

    Chosen by ``scripts/sweep_defaults.py`` (README, "How the defaults were chosen"). On the
    real cells the adjacency encoding, alone or with the paths, finds better cells than the
    paths alone at every budget from 50 to 300 evaluations (mean rank of the best of 20,001
    cells after 150 evaluations, 20 seeds: 2.5 alone and 3.0 with the paths, against 6.0 for the
    paths alone); on an objective made of path features (the test suite's synthetic table) the
    adjacency encoding alone needs four times more evaluations than with the paths. With both,
    the predictor can use either structure.
    """
    if space.encoding_dim("path") <= PATH_FEATURES_LIMIT:
        return "adjacency+path"
    return "adjacency"


#: Random cells added to the neighbourhoods by :func:`default_candidates` in a space too large
#: to score whole.
DEFAULT_RANDOM_CANDIDATES = 1000


def default_candidates(space: SearchSpace, universe: Optional[CellBatch] = None) -> CandidateSet:
    """The candidate set a :class:`PredictorSearch` scores when none is given.

    :class:`FullSpace` (every cell) when there is a ``universe`` or the space can be enumerated
    (NAS-Bench-101: 423,624 cells); otherwise, in a space too large to score whole, the cells one
    edit away from the 10 best so far plus 1,000 cells drawn afresh every round,
    ``Combined(Neighbourhood(radius=1, top_k=10), RandomSubset(1000, refresh=True))``. On the
    NAS-Bench-101 surrogate (where both can run) that set found a top-0.1% cell in 10 of 10
    runs of 100 evaluations, as the full space did, and better cells than the full space at
    150 and 300 evaluations (README, "How the defaults were chosen"); the neighbourhoods alone
    stall when the best cells' neighbours are exhausted, the random cells keep exploring.
    """
    if universe is not None or space.is_enumerable():
        return FullSpace()
    return Combined(Neighbourhood(radius=1, top_k=10), RandomSubset(DEFAULT_RANDOM_CANDIDATES, refresh=True))


def _l1_min(X: npt.NDArray[Any], row: npt.NDArray[Any]) -> float:
    if len(X) == 0:
        return math.inf
    return float(np.abs(X.astype(np.float32) - row.astype(np.float32)).sum(axis=1).min())


@register_searcher
class PredictorSearch(Searcher):
    """Predictor-based search with an explicit candidate set.

    Each round, a clone of ``predictor`` is fitted on the encodings of the cells evaluated so far,
    the cells of the candidate set are scored with the acquisition function, and the best
    ``n`` are asked. The first ``n_initial`` cells are uniform random.

    Parameters
    ----------
    space : SearchSpace
        The cell space.
    predictor : scikit-learn regressor, optional
        Cloned, never mutated. ``None``: :func:`default_predictor`. Its uncertainty is the
        spread of the trees of a forest (:class:`ForestRegressor`, scikit-learn's random
        forest or extra-trees), ``predict(return_std=True)``
        of a model that has it (e.g. a Gaussian process), or else the spread of a bootstrap
        ensemble of ``n_ensemble`` clones.
    encoding : str, optional
        Features of the cells: ``"adjacency"``, ``"path"``, ``"path-trunc"``, ``"path-count"``
        or a combination such as ``"adjacency+path"`` (``nasfast.predictors.encode``). Default:
        the predictor's ``feature_layout`` if it has one (the GCN), else
        :func:`default_encoding` (``"adjacency"``).
    acquisition : {"ucb", "ei", "greedy", "thompson"}
        ``"ucb"`` (default): mean + ``kappa`` * std; ``"greedy"``: predicted mean; ``"ei"``:
        expected improvement over the best value told; ``"thompson"``: for every pick, the
        prediction of one random ensemble member (a joint posterior draw for a Gaussian
        process). The default was chosen by ``scripts/sweep_defaults.py``: on the real cells it
        found the best cells at every budget from 50 to 300 evaluations (README, "How the
        defaults were chosen").
    candidates : CandidateSet, optional
        Which cells are scored; default :func:`default_candidates`: :class:`FullSpace` when
        the space can be enumerated or a ``universe`` is given, else the radius-1
        neighbourhoods of the 10 best cells plus 1,000 random cells drawn every round.
    n_initial : int
        Uniform random cells before the predictor is used.
    batch_size : int
        Cells asked per round in :meth:`run` (and evaluations in flight).
    random_state : None, int, Generator or RandomState
        Seed of the search.
    n_jobs : int, optional
        Threads for the core and the predictor; results do not depend on it.
    universe : CellBatch, optional
        The searchable cells (e.g. ``bench.cells`` of a benchmark covering part of the space);
        ``None``: the whole space.
    kappa : float
        Exploration weight of ``"ucb"``.
    n_ensemble : int, optional
        Force a bootstrap ensemble of this many clones (also for forests).
    min_distance : float
        Batch rule: cells picked in one round, and cells still pending, are at least this L1
        distance apart in feature space; a candidate closer than that to one of them is
        skipped (if too few candidates pass, the best remaining fill the batch). The default 1
        forbids two cells with the same features (the predictor cannot tell them apart).

    Attributes
    ----------
    history_ : History
    best_cell_ : CellSpec
    best_value_ : float
    n_evaluated_ : int

    Notes
    -----
    Candidates given as a mask over the universe (``FullSpace``, a ``Combined`` holding it, or a
    candidate set of your own) are scored from the universe's feature cache
    (``SearchState.universe_features``): encoded once per universe and encoding and cached as
    uint8 (NAS-Bench-101 path encoding: 423,624 cells have 170,820 distinct rows, 62 MB instead
    of 617 MB in float32); cells with equal features are scored once. When every feature is 0 or 1
    (all encodings but ``"path-count"``) the cache also holds the rows packed as bits, and the
    core forest (the default predictor, :class:`ForestRegressor`) scores them in place
    (``Forest.predict_mean_std_packed``; the mean alone for ``"greedy"``, one tree per
    ``"thompson"`` pick), with the same results as scoring the float32 rows. Other predictors,
    and path counts, are scored from float32 rows. Candidates given as cells are encoded in the
    core at every round.

    Examples
    --------
    >>> from nasfast import SearchSpace
    >>> from nasfast.search import PredictorSearch, Neighbourhood
    >>> space = SearchSpace(5, 9, ["a", "b"])
    >>> f = lambda cells: cells.encode("path-count").sum(axis=1)  # a toy objective
    >>> s = PredictorSearch(space, candidates=Neighbourhood(), random_state=0).run(f, 30)
    >>> s.n_evaluated_
    30
    """

    def __init__(
        self,
        space: SearchSpace,
        predictor: Any = None,
        encoding: Optional[str] = None,
        acquisition: str = "ucb",
        candidates: Optional[CandidateSet] = None,
        n_initial: int = 10,
        batch_size: int = 1,
        random_state: RandomState = None,
        n_jobs: Optional[int] = None,
        universe: Optional[CellBatch] = None,
        *,
        kappa: float = 1.0,
        n_ensemble: Optional[int] = None,
        min_distance: float = 1.0,
        target_transform: Optional[str] = "normal-scores",
    ) -> None:
        super().__init__(space, random_state=random_state, universe=universe, batch_size=batch_size, n_jobs=n_jobs)
        if predictor is not None:
            for method in ("fit", "predict"):
                if not callable(getattr(predictor, method, None)):
                    raise TypeError(f"predictor {predictor!r} has no {method}() method: pass a scikit-learn regressor")
            if not hasattr(predictor, "get_params"):
                raise TypeError(f"predictor {predictor!r} cannot be cloned (no get_params): pass a scikit-learn regressor")
        if encoding is not None:
            encoding_parts(encoding)
        if target_transform not in TARGET_TRANSFORMS:
            raise ValueError(f"target_transform = {target_transform!r}: expected one of {TARGET_TRANSFORMS}")
        if acquisition not in ACQUISITIONS:
            raise ValueError(f"acquisition = {acquisition!r}: expected one of {ACQUISITIONS}")
        candidates = default_candidates(space, universe) if candidates is None else candidates
        if not isinstance(candidates, CandidateSet):
            raise TypeError(f"candidates must be a candidate set (FullSpace(), Neighbourhood(), ...), got {candidates!r}")
        if isinstance(n_initial, bool) or not isinstance(n_initial, (int, np.integer)) or n_initial < 1:
            raise ValueError(f"n_initial = {n_initial!r}: must be a positive int")
        if not (isinstance(kappa, (int, float)) and kappa >= 0):
            raise ValueError(f"kappa = {kappa!r}: must be a non-negative number")
        if n_ensemble is not None and (isinstance(n_ensemble, bool) or not isinstance(n_ensemble, (int, np.integer)) or n_ensemble < 2):
            raise ValueError(f"n_ensemble = {n_ensemble!r}: must be None or an int >= 2")
        if not min_distance >= 0:
            raise ValueError(f"min_distance = {min_distance!r}: must be >= 0")
        self.predictor = predictor
        self.encoding = encoding
        self.acquisition = acquisition
        self.candidates = candidates
        self.n_initial = int(n_initial)
        self.kappa = float(kappa)
        self.n_ensemble = n_ensemble
        self.min_distance = float(min_distance)
        self.target_transform = target_transform
        layout = getattr(default_predictor() if predictor is None else predictor, "feature_layout", None)
        if layout is not None and encoding is not None and encoding != layout:
            raise ValueError(f"encoding = {encoding!r}: {type(predictor).__name__} reads the {layout!r} encoding")
        #: the encoding used: ``encoding``, else the one the predictor reads (``feature_layout``),
        #: else :func:`default_encoding` of the space
        self.encoding_ = encoding if encoding is not None else layout if layout is not None else default_encoding(space)
        #: the space's dimensions, given to a predictor that reads an encoding's layout
        self._space_params = (
            {"max_vertices": space.max_vertices, "n_ops": len(space.ops)} if layout is not None else None
        )
        dim = encoding_dim(space, self.encoding_)
        if dim > MAX_FEATURES:
            raise ValueError(
                f"encoding = {self.encoding_!r} has {dim:,} features in {space!r} (more than {MAX_FEATURES:,}): "
                "use 'path-trunc' or 'adjacency' in a space this large"
            )
        candidates.check(space, universe)

    # ------------------------------------------------------------------ configuration
    def get_config(self) -> dict[str, Any]:
        """The searcher's arguments (see :meth:`Searcher.get_config`); the predictor, which a
        configuration cannot hold, as a description of its class and parameters (the default
        predictor's when ``predictor`` is ``None``), so that a journal can tell it apart."""
        config = config_of(self, (*CONTEXT_ARGUMENTS, "predictor", "candidates"))
        pred = default_predictor() if self.predictor is None else self.predictor
        return {"predictor": _describe_predictor(pred), **config, "candidates": candidates_config(self.candidates)}

    @classmethod
    def from_config(
        cls,
        space: SearchSpace,
        config: Mapping[str, Any],
        *,
        random_state: RandomState = None,
        universe: Optional[CellBatch] = None,
        n_jobs: Optional[int] = None,
        predictor: Any = None,
        **objects: Any,
    ) -> Searcher:
        """The searcher of a configuration (see :meth:`Searcher.from_config`). A ``predictor``
        entry is the description :meth:`get_config` records: the search used the default
        predictor if it matches the default's, else ``predictor`` must be passed (and the
        journal's header, which holds the description, checks it)."""
        params = dict(config)
        recorded = params.pop("predictor", None)
        if recorded is not None and predictor is None and recorded != _describe_predictor(default_predictor()):
            raise ValueError(f"the journal's search used the predictor {recorded}: pass it again as predictor=...")
        return super().from_config(
            space, params, random_state=random_state, universe=universe, n_jobs=n_jobs, predictor=predictor, **objects
        )

    def check_budget(self, budget: int) -> None:
        if budget < self.n_initial:
            raise ValueError(f"budget = {budget} is below n_initial = {self.n_initial}: the predictor would never be used")

    # ------------------------------------------------------------------ hooks
    def on_reset(self, state: SearchState) -> None:
        self.candidates.reset()
        self._X_told: list[npt.NDArray[np.float32]] = []
        self._y_told: list[float] = []
        self._pending_X: dict[int, npt.NDArray[np.float32]] = {}
        self.timings_: dict[str, float] = {"encode": 0.0, "fit": 0.0, "predict": 0.0, "select": 0.0}

    def on_ask(self, state: SearchState, cells: CellBatch, fps: npt.NDArray[np.uint64]) -> None:
        X = encode(cells, self.encoding_, self.n_jobs)
        for i, f in enumerate(fps.tolist()):
            self._pending_X[int(f)] = X[i]

    def on_tell(self, state: SearchState, cells: CellBatch, fps: npt.NDArray[np.uint64], values: npt.NDArray[np.float64]) -> None:
        X = encode(cells, self.encoding_, self.n_jobs)
        for i, f in enumerate(fps.tolist()):
            self._pending_X.pop(int(f), None)
            if not math.isnan(values[i]):
                self._X_told.append(X[i])
                self._y_told.append(float(values[i]))

    # ------------------------------------------------------------------ proposing
    def propose(self, state: SearchState, n: int) -> tuple[CellBatch, int]:
        k_random = max(0, min(n, self.n_initial - state.n_asked))
        if len(self._y_told) < 2:
            k_random = n
        parts: list[CellBatch] = []
        size = 0
        if k_random:
            parts.append(state.random_new(k_random))
        if n - k_random > 0:
            if k_random:  # the random cells are pending for the model's picks
                self._mark_pending(state, parts[0])
            cells, size = self._model_pick(state, n - k_random)
            parts.append(cells)
        parts = [p for p in parts if len(p)]
        return (CellBatch.concat(parts) if parts else state.empty()), size

    def _mark_pending(self, state: SearchState, cells: CellBatch) -> None:
        """Cells picked earlier in this ask: taken, and avoided by the batch rule (``ask``
        marks them again; taking is idempotent)."""
        fps = cells.fingerprints(n_jobs=self.n_jobs)
        state.mark_taken(fps)
        X = encode(cells, self.encoding_, self.n_jobs)
        for i, f in enumerate(fps.tolist()):
            self._pending_X[int(f)] = X[i]

    def _targets(self) -> npt.NDArray[np.float64]:
        """The values told, as the predictor is fitted on them (``target_transform``)."""
        y = np.asarray(self._y_told, dtype=np.float64)
        return normal_scores(y) if self.target_transform == "normal-scores" else y

    def _fit(self, state: SearchState) -> tuple[FittedPredictor, float]:
        """The fitted predictor and the best target it was fitted on (the incumbent of EI)."""
        t = time.perf_counter()
        pred = default_predictor() if self.predictor is None else self.predictor
        model = FittedPredictor(pred, self.n_ensemble, int(state.rng.integers(0, 2**31 - 1)), self.n_jobs, self._space_params)
        y = self._targets()
        model.fit(np.asarray(self._X_told, dtype=np.float32), y)
        self.timings_["fit"] += time.perf_counter() - t
        return model, float(y.max())

    def _model_pick(self, state: SearchState, n: int) -> tuple[CellBatch, int]:
        model, best = self._fit(state)
        avoid = np.asarray(list(self._pending_X.values()), dtype=np.float32).reshape(-1, encoding_dim(self.space, self.encoding_))
        found = checked_candidates(self.candidates, self.candidates.candidates(state), state)
        if not isinstance(found, CellBatch):
            return self._universe_pick(state, model, found, n, best, avoid)
        cand, _ = state.new_only(found)
        if len(cand) == 0:
            return state.random_new(n), 0
        t = time.perf_counter()
        Xc = encode(cand, self.encoding_, self.n_jobs)
        self.timings_["encode"] += time.perf_counter() - t
        picks = self._select(state, model, Xc, n, best, avoid)
        cells = cand[np.asarray(picks, dtype=np.int64)]
        if len(cells) < n:  # a small candidate set: fill up at random
            self._mark_pending(state, cells)
            cells = CellBatch.concat([cells, state.random_new(n - len(cells))])
        return cells, len(cand)

    def _universe_pick(
        self, state: SearchState, model: FittedPredictor, mask: npt.NDArray[np.bool_], n: int, best: float,
        avoid: npt.NDArray[np.float32],
    ) -> tuple[CellBatch, int]:
        """Picks among candidates given as a mask over the universe, scored from its feature
        cache: each distinct feature row with a candidate once, the pick of a row being its
        first candidate in universe order."""
        t = time.perf_counter()
        universe = state.universe
        assert universe is not None  # checked_candidates: a mask implies a universe
        feats = state.universe_features(self.encoding_)
        mask = mask & ~state.taken_mask()
        # a row is a candidate while some cell of it is (the cells left out are usually few)
        out_pos = np.flatnonzero(~mask)
        n_out = np.bincount(feats.inverse[out_pos], minlength=len(feats.rows))
        rows_idx = np.flatnonzero(n_out < feats.sizes)
        self.timings_["encode"] += time.perf_counter() - t
        if len(rows_idx) == 0:
            return state.random_new(n), 0
        picks = self._select(state, model, UniverseRows(feats, rows_idx), n, best, avoid)
        t = time.perf_counter()
        chosen = []
        for r in rows_idx[picks].tolist():
            group = feats.order[feats.starts[r] : feats.starts[r + 1]]
            chosen.append(int(group[mask[group]][0]))
        self.timings_["select"] += time.perf_counter() - t
        return universe.cells[np.asarray(chosen, dtype=np.int64)], len(universe) - len(out_pos)

    def _select(
        self, state: SearchState, model: FittedPredictor, X: Any, n: int, best: float, avoid: npt.NDArray[np.float32]
    ) -> list[int]:
        """Rows of ``X`` (an array, or the universe rows of candidates given as a mask) to pick
        (see ``min_distance``)."""
        t = time.perf_counter()
        if self.acquisition == "greedy":
            score = model.mean(X)
        elif self.acquisition != "thompson":
            mu, sd = model.mean_std(X)
            if self.acquisition == "ucb":
                score = mu + self.kappa * sd
            else:
                score = expected_improvement(mu, sd, best)
        self.timings_["predict"] += time.perf_counter() - t
        t_pred = 0.0
        t = time.perf_counter()
        picked: list[int] = []
        ref = np.asarray(avoid, dtype=np.float32).reshape(-1, X.shape[1])
        window = max(1000, 2 * n)
        for _ in range(min(n, len(X))):
            if self.acquisition == "thompson":
                t0 = time.perf_counter()
                score = model.draw(X, state.rng)
                t_pred += time.perf_counter() - t0
            s = np.asarray(score, dtype=np.float64).copy()
            s[picked] = -np.inf
            # a unique finite best score comes first in the ranking below whatever the order of
            # ties, so it needs no partition of all the scores
            best_row = int(np.argmax(s)) if len(s) else 0
            if (
                len(s)
                and np.isfinite(s[best_row])
                and np.count_nonzero(s == s[best_row]) == 1
                and (self.min_distance <= 0 or _l1_min(ref, X[best_row]) >= self.min_distance)
            ):
                picked.append(best_row)
                ref = np.vstack([ref, np.asarray(X[best_row : best_row + 1], dtype=np.float32)])
                continue
            top = np.argpartition(-s, window)[:window] if len(s) > window else np.arange(len(s))
            ranked = top[np.argsort(-s[top], kind="stable")]
            order = ranked[np.isfinite(s[ranked])].tolist()
            if not order:
                break
            choice = order[0]
            if self.min_distance > 0:
                for r in order:
                    if _l1_min(ref, X[r]) >= self.min_distance:
                        choice = r
                        break
            picked.append(choice)
            ref = np.vstack([ref, np.asarray(X[choice : choice + 1], dtype=np.float32)])
        self.timings_["predict"] += t_pred
        self.timings_["select"] += time.perf_counter() - t - t_pred
        return picked


def _describe_predictor(pred: Any) -> str:
    """A predictor's class and parameters, as a journal records it."""
    return f"{type(pred).__name__}({sorted((k, repr(v)) for k, v in pred.get_params(deep=False).items())})"
