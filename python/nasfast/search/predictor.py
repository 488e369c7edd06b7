"""Predictor-based search: a scikit-learn model trained on the evaluated cells scores a
candidate set, and the best-scored cells are evaluated."""

from __future__ import annotations

import inspect
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Optional, Sequence

import numpy as np
import numpy.typing as npt
from scipy.special import ndtr
from sklearn.base import clone
from sklearn.ensemble import ExtraTreesRegressor, RandomForestRegressor

from .._core import CellBatch, Forest, SearchSpace
from ..predictors import encode, encoding_dim, encoding_parts, normal_scores
from ..predictors._encoding import CORE_ENCODINGS
from ._base import RandomState, Searcher, Universe
from .candidates import CandidateStrategy, FullSpace, strategy_from_config
from ..predictors.forest import ForestRegressor

__all__ = ["PredictorSearch", "default_predictor", "default_encoding", "ACQUISITIONS", "ENCODINGS", "TARGET_TRANSFORMS"]

ACQUISITIONS = ("greedy", "ucb", "ei", "thompson")
ENCODINGS = CORE_ENCODINGS
#: Transforms of the evaluated values before the predictor is fitted (``None``: the raw values).
TARGET_TRANSFORMS = ("normal-scores", None)

#: Largest number of features per cell a predictor is trained on.
MAX_FEATURES = 65_536
#: Rows scored at once (bounds the float32 copy of the cached uint8 features and the per-member
#: prediction buffer).
_CHUNK = 32_768
#: Rows a joint posterior sample (Thompson sampling with a Gaussian process) is drawn over.
_THOMPSON_SHORTLIST = 1_000
#: A forest scores the distinct rows over the features its trees use when there are at least
#: this many rows.
_REDUCE_MIN_ROWS = 4_096


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


#: Largest number of path features for which :func:`default_encoding` keeps the full path
#: encoding (NAS-Bench-101: 364).
PATH_FEATURES_LIMIT = 4096


def default_encoding(space: SearchSpace) -> str:
    """The encoding a :class:`PredictorSearch` uses when none is given.

    ``"path"`` when the space has at most :data:`PATH_FEATURES_LIMIT` path features (every
    input-output op sequence; 364 for NAS-Bench-101), else ``"adjacency"``, whose size grows
    only quadratically with the vertices (12 vertices and 5 ops: 116 features, against 12.2
    million paths).
    """
    if space.encoding_dim("path") <= PATH_FEATURES_LIMIT:  # type: ignore[arg-type]
        return "path"
    return "adjacency"


def _uncertainty_kind(predictor: Any, n_ensemble: Optional[int]) -> str:
    """Where the spread of a predictor's predictions comes from (the protocol of
    :mod:`nasfast.predictors`): ``"forest"`` (the trees of a forest), ``"members"`` (a model
    with ``predict_members(X) -> (rows, members)``, e.g. an ensemble), ``"std"`` (a model with
    ``predict_mean_std(X)`` or ``predict(X, return_std=True)``, e.g. a Gaussian process), or
    ``"ensemble"`` (bootstrap clones of any regressor; always when ``n_ensemble`` is given)."""
    if n_ensemble is not None:
        return "ensemble"
    if isinstance(predictor, (ForestRegressor, RandomForestRegressor, ExtraTreesRegressor)):
        return "forest"
    if callable(getattr(predictor, "predict_members", None)):
        return "members"
    if callable(getattr(predictor, "predict_mean_std", None)) or _supports_return_std(predictor):
        return "std"
    return "ensemble"


def _has_param(est: Any, name: str) -> bool:
    try:
        return name in est.get_params(deep=False)
    except Exception:  # noqa: BLE001
        return False


def _supports_return_std(est: Any) -> bool:
    try:
        return "return_std" in inspect.signature(est.predict).parameters
    except (TypeError, ValueError):
        return False


class _Surrogate:
    """A fitted predictor with an uncertainty: the members of a forest, ``return_std`` of a
    Gaussian process, or a bootstrap ensemble of clones."""

    def __init__(
        self,
        predictor: Any,
        n_ensemble: Optional[int],
        seed: int,
        n_jobs: Optional[int],
        space_params: Optional[dict[str, int]] = None,
    ) -> None:
        self.n_jobs = n_jobs
        rng = np.random.default_rng(seed)
        self.kind = _uncertainty_kind(predictor, n_ensemble)
        #: a predictor that reads the layout of an encoding (``feature_layout``, e.g. the GCN)
        #: gets every column in order; others only the columns that vary
        self.whole_rows = getattr(predictor, "feature_layout", None) is not None
        size = 1 if self.kind != "ensemble" else (5 if n_ensemble is None else n_ensemble)
        self.models = []
        for _ in range(size):
            m = clone(predictor)
            if _has_param(m, "random_state") and m.get_params(deep=False)["random_state"] is None:
                m.set_params(random_state=int(rng.integers(0, 2**31 - 1)))
            if _has_param(m, "n_jobs") and m.get_params(deep=False)["n_jobs"] is None:
                m.set_params(n_jobs=-1 if n_jobs is None else n_jobs)
            for key, value in (space_params or {}).items():
                if _has_param(m, key):
                    m.set_params(**{key: value})
            self.models.append(m)
        self._boot_rng = rng
        self._prepared: Optional[tuple[Any, Any, Any]] = None
        self.columns = np.zeros(0, dtype=np.int64)

    def fit(self, X: npt.NDArray[np.float32], y: npt.NDArray[np.float64]) -> None:
        """Fit on the columns that vary in ``X`` (a constant column carries no information; leaving
        it out makes forests about twice as fast to fit on path encodings)."""
        varying = np.flatnonzero(X.min(axis=0) != X.max(axis=0))
        if self.whole_rows:
            self.columns = np.arange(X.shape[1])
        else:
            self.columns = varying if len(varying) else np.arange(min(1, X.shape[1]))
        X = np.ascontiguousarray(X[:, self.columns])
        if self.kind == "ensemble" and len(self.models) > 1:
            n = len(y)
            for m in self.models:
                idx = self._boot_rng.integers(0, n, size=n)
                m.fit(X[idx], y[idx])
        else:
            self.models[0].fit(X, y)
        #: the fitted core forest of a ForestRegressor (scored in one call), else None
        self.core = (
            getattr(self.models[0], "forest_", None)
            if self.kind == "forest" and isinstance(self.models[0], ForestRegressor)
            else None
        )
        if self.core is not None or self.kind == "members":
            self.members = []
        elif self.kind == "forest":
            self.members = list(self.models[0].estimators_)
        else:
            self.members = list(self.models)
        self._n_own_members = (
            int(np.asarray(self.models[0].predict_members(X[:1])).shape[1]) if self.kind == "members" else 0
        )
        self._prepared = None

    @property
    def n_members(self) -> int:
        if self.core is not None:
            return int(self.core.n_estimators)
        return self._n_own_members if self.kind == "members" else len(self.members)

    def _used_features(self) -> npt.NDArray[np.int64]:
        """The features some tree of the forest splits on."""
        if self.core is not None:
            return self.core.used_features()
        return np.unique(np.concatenate([t.tree_.feature[t.tree_.feature >= 0] for t in self.members]))

    def _member_predict(self, m: int, X: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        if self.kind == "members":
            return np.asarray(self.models[0].predict_members(X), dtype=np.float64)[:, m]
        if self.core is not None:
            return self.core.predict_member(np.ascontiguousarray(X, dtype=np.float32), m, n_jobs=self.n_jobs)
        est = self.members[m]
        if self.kind == "forest":
            return np.asarray(est.predict(X, check_input=False), dtype=np.float64).reshape(-1)
        return np.asarray(est.predict(X), dtype=np.float64).reshape(-1)

    def _all_members(self, X: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        """Predictions of every member, shape (members, rows); threads over members (the
        result does not depend on the number of threads)."""
        out = np.empty((self.n_members, len(X)), dtype=np.float64)
        threads = self.n_jobs if self.n_jobs not in (None, -1) else (os.cpu_count() or 1)

        def work(ms: Sequence[int]) -> None:
            for m in ms:
                out[m] = self._member_predict(m, X)

        if threads <= 1 or self.kind != "forest":
            work(range(self.n_members))
        else:
            parts = [range(i, self.n_members, threads) for i in range(threads)]
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(work, parts))
        return out

    def _prepare(self, X: npt.NDArray[Any]) -> tuple[npt.NDArray[Any], Optional[npt.NDArray[np.int64]]]:
        """The fitted columns of ``X`` and, for a forest and many rows, only the distinct rows
        over the features the trees split on, with the inverse index (rows equal on those
        features get equal predictions). The last answer is kept for repeated calls."""
        if self._prepared is not None and self._prepared[0] is X:
            return self._prepared[1], self._prepared[2]
        Xs = np.ascontiguousarray(X[:, self.columns])
        inverse = None
        if self.kind == "forest" and len(Xs) >= _REDUCE_MIN_ROWS:
            used = self._used_features()
            R = np.ascontiguousarray(Xs[:, used])
            if R.dtype == np.uint8 and R.size and R.max() <= 1:
                R = np.ascontiguousarray(np.packbits(R, axis=1))
            rows = R.view(np.dtype((np.void, R.shape[1] * R.dtype.itemsize))).ravel()
            _, first, inv = np.unique(rows, return_index=True, return_inverse=True)
            Xs, inverse = Xs[first], inv.reshape(-1)
        self._prepared = (X, Xs, inverse)
        return Xs, inverse

    def _packed(self, X: Any) -> Optional[tuple[Forest, npt.NDArray[np.uint64], npt.NDArray[np.int64]]]:
        """The core forest, the packed bits and the row indices if the core forest can score
        ``X`` from packed bits (cached pool rows of 0/1 features), else None."""
        if self.core is not None and isinstance(X, _PoolRows) and X.feats.bits is not None:
            return self.core, X.feats.bits, X.index
        return None

    def mean(self, X: Any) -> npt.NDArray[np.float64]:
        """Mean prediction for every row (equal to the mean of :meth:`mean_std`)."""
        packed = self._packed(X)
        if packed is not None:
            forest, bits, rows = packed
            return forest.predict_mean_packed(bits, self.columns, rows, n_jobs=self.n_jobs)
        return self.mean_std(X)[0]

    def mean_std(self, X: Any) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Mean and standard deviation of the prediction for every row."""
        packed = self._packed(X)
        if packed is not None:
            forest, bits, rows = packed
            return forest.predict_mean_std_packed(bits, self.columns, rows, n_jobs=self.n_jobs)
        if isinstance(X, _PoolRows):
            X = X.dense()
        Xr, inverse = self._prepare(X)
        mu, sd = self._mean_std(Xr)
        return (mu, sd) if inverse is None else (mu[inverse], sd[inverse])

    def _mean_std(self, X: npt.NDArray[Any]) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        mu = np.empty(len(X))
        sd = np.empty(len(X))
        for a in range(0, len(X), _CHUNK):
            Xc = np.asarray(X[a : a + _CHUNK], dtype=np.float32)
            if self.core is not None:
                m, s = self.core.predict_mean_std(np.ascontiguousarray(Xc), n_jobs=self.n_jobs)
                mu[a : a + len(Xc)] = m
                sd[a : a + len(Xc)] = s
            elif self.kind == "std":
                model = self.models[0]
                if callable(getattr(model, "predict_mean_std", None)):
                    m, s = model.predict_mean_std(Xc)
                else:
                    m, s = model.predict(Xc, return_std=True)
                mu[a : a + len(Xc)] = m
                sd[a : a + len(Xc)] = s
            elif self.kind == "members":
                P = np.asarray(self.models[0].predict_members(Xc), dtype=np.float64)
                mu[a : a + len(Xc)] = P.mean(axis=1)
                sd[a : a + len(Xc)] = P.std(axis=1)
            else:
                P = self._all_members(Xc)
                mu[a : a + len(Xc)] = P.mean(axis=0)
                sd[a : a + len(Xc)] = P.std(axis=0)
        return mu, sd

    def draw(self, X: npt.NDArray[Any], rng: np.random.Generator) -> npt.NDArray[np.float64]:
        """One Thompson draw, a function sampled jointly over the rows: the prediction of one
        random member (a forest or an ensemble), or for a model with ``return_std`` a joint
        sample of its posterior (``sample_y``) over the :data:`_THOMPSON_SHORTLIST` rows of
        largest mean + 2 std (the other rows get -inf: a draw cannot lift them above those),
        or, without ``sample_y``, mean + std * N(0, 1) per row."""
        if self.kind == "std":
            mu, sd = self.mean_std(X)
            sampler = getattr(self.models[0], "sample_y", None)
            if sampler is None:
                return mu + sd * rng.standard_normal(len(mu))
            k = min(len(mu), _THOMPSON_SHORTLIST)
            short = np.sort(np.argpartition(-(mu + 2 * sd), k - 1)[:k]) if k < len(mu) else np.arange(len(mu))
            Xs = np.ascontiguousarray(np.asarray(X[short], dtype=np.float32)[:, self.columns])
            sample = np.asarray(sampler(Xs, n_samples=1, random_state=int(rng.integers(0, 2**31 - 1))), dtype=np.float64)
            out = np.full(len(mu), -np.inf)
            out[short] = sample.reshape(-1)
            return out
        m = int(rng.integers(0, self.n_members))
        packed = self._packed(X)
        if packed is not None:
            forest, bits, rows = packed
            return forest.predict_member_packed(bits, m, self.columns, rows, n_jobs=self.n_jobs)
        if isinstance(X, _PoolRows):
            X = X.dense()
        Xr, inverse = self._prepare(X)
        out = np.empty(len(Xr))
        for a in range(0, len(Xr), _CHUNK):
            out[a : a + _CHUNK] = self._member_predict(m, np.asarray(Xr[a : a + _CHUNK], dtype=np.float32))
        return out if inverse is None else out[inverse]


def _expected_improvement(mu: npt.NDArray[np.float64], sd: npt.NDArray[np.float64], best: float) -> npt.NDArray[np.float64]:
    imp = mu - best
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(sd > 0, imp / sd, 0.0)
    ei = imp * ndtr(z) + sd * np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    return np.where(sd > 0, ei, np.maximum(imp, 0.0))


class _PoolFeatures:
    """The features of a whole universe, stored once: the distinct feature rows as uint8 and,
    for every cell, the index of its row (cells with equal features are scored once)."""

    def __init__(self, pool: Universe, kind: str, n_jobs: Optional[int]) -> None:
        n = len(pool)
        d = encoding_dim(pool.cells.space, kind)
        X = np.empty((n, d), dtype=np.uint8)
        for a in range(0, n, 65_536):
            block = encode(pool.cells[a : a + 65_536], kind, n_jobs)
            if block.size and (block.max() > 255 or block.min() < 0):
                raise ValueError(f"encoding {kind!r} does not fit the uint8 cache")
            X[a : a + len(block)] = block
        rows = np.ascontiguousarray(X).view(np.dtype((np.void, d))).ravel()
        _, first, inverse = np.unique(rows, return_index=True, return_inverse=True)
        self.rows = X[first]
        self.inverse = inverse.reshape(-1).astype(np.int64)
        # cells grouped by row, in pool order inside each group
        self.order = np.argsort(self.inverse, kind="stable")
        self.starts = np.searchsorted(self.inverse[self.order], np.arange(len(first) + 1))
        self.sizes = np.diff(self.starts)
        #: the rows packed as bits when every feature is 0 or 1 (``Forest.pack_rows``), for the
        #: core forest's fast scoring; None for counts (``"path-count"``)
        self.bits = Forest.pack_rows(self.rows) if self.rows.size and self.rows.max() <= 1 else None

    @property
    def nbytes(self) -> int:
        bits = 0 if self.bits is None else self.bits.nbytes
        return int(self.rows.nbytes + self.inverse.nbytes + self.order.nbytes + self.starts.nbytes + self.sizes.nbytes + bits)


class _PoolRows:
    """Rows ``index`` of the cached features of a universe, read in place: the FullSpace
    candidates of one round (``X[r]`` is row ``index[r]``)."""

    def __init__(self, feats: _PoolFeatures, index: npt.NDArray[np.int64]) -> None:
        self.feats = feats
        self.index = index
        self._dense: Optional[npt.NDArray[np.uint8]] = None

    def __len__(self) -> int:
        return len(self.index)

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.index), self.feats.rows.shape[1])

    def __getitem__(self, key: Any) -> npt.NDArray[np.uint8]:
        return self.feats.rows[self.index[key]]

    def dense(self) -> npt.NDArray[np.uint8]:
        """The rows as one array (copied once)."""
        if self._dense is None:
            self._dense = self.feats.rows[self.index]
        return self._dense


_POOL_FEATURES: dict[tuple[str, str], _PoolFeatures] = {}


def _pool_features(pool: Universe, kind: str, n_jobs: Optional[int]) -> _PoolFeatures:
    """The cached features of a universe (at most two universes x encodings kept)."""
    key = (pool.digest, kind)
    f = _POOL_FEATURES.get(key)
    if f is None:
        f = _PoolFeatures(pool, kind, n_jobs)
        if len(_POOL_FEATURES) >= 2:
            _POOL_FEATURES.pop(next(iter(_POOL_FEATURES)))
        _POOL_FEATURES[key] = f
    return f


def _l1_min(X: npt.NDArray[Any], row: npt.NDArray[Any]) -> float:
    if len(X) == 0:
        return math.inf
    return float(np.abs(X.astype(np.float32) - row.astype(np.float32)).sum(axis=1).min())


class PredictorSearch(Searcher):
    """Predictor-based search with an explicit candidate-set strategy.

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
    encoding : {"path", "path-trunc", "path-count", "adjacency"}
        Features of the cells (``CellBatch.encode``).
    acquisition : {"ei", "ucb", "greedy", "thompson"}
        ``"greedy"``: predicted mean; ``"ucb"``: mean + ``kappa`` * std; ``"ei"``: expected
        improvement over the best value told; ``"thompson"``: for every pick, the prediction of
        one random ensemble member (or a draw from the predictive normal of each cell).
    candidates : CandidateStrategy
        Which cells are scored (default :class:`FullSpace`).
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
    ``FullSpace`` candidates are encoded once per universe and encoding and cached as uint8
    (NAS-Bench-101 path encoding: 423,624 cells have 170,820 distinct rows, 62 MB instead of
    617 MB in float32); cells with equal features are scored once. When every feature is 0 or 1
    (all encodings but ``"path-count"``) the cache also holds the rows packed as bits, and the
    core forest (the default predictor, :class:`ForestRegressor`) scores them in place
    (``Forest.predict_mean_std_packed``; the mean alone for ``"greedy"``, one tree per
    ``"thompson"`` pick), with the same results as scoring the float32 rows. Other predictors,
    and path counts, are scored from float32 rows. Other candidate sets are encoded in the core
    at every round.

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
        acquisition: str = "ei",
        candidates: Optional[CandidateStrategy] = None,
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
        candidates = FullSpace() if candidates is None else candidates
        if not isinstance(candidates, CandidateStrategy):
            raise TypeError(f"candidates must be a candidate strategy (FullSpace(), Neighbourhood(), ...), got {candidates!r}")
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
        candidates._check(self)

    @staticmethod
    def _predictor_config(pred: Any) -> str:
        return f"{type(pred).__name__}({sorted((k, repr(v)) for k, v in pred.get_params(deep=False).items())})"

    @classmethod
    def _kwargs_from_config(cls, config: dict[str, Any], **given: Any) -> dict[str, Any]:
        kwargs = dict(config)
        kwargs["candidates"] = strategy_from_config(kwargs["candidates"])
        recorded = kwargs.pop("predictor")
        predictor = given.get("predictor")
        if predictor is None and recorded != cls._predictor_config(default_predictor()):
            raise ValueError(f"the journal's search used the predictor {recorded}: pass it again as predictor=...")
        kwargs["predictor"] = predictor
        return kwargs

    def _config(self) -> dict[str, Any]:
        pred = default_predictor() if self.predictor is None else self.predictor
        return {
            "predictor": self._predictor_config(pred),
            "encoding": self.encoding,
            "acquisition": self.acquisition,
            "candidates": self.candidates._config(),
            "n_initial": self.n_initial,
            "batch_size": self.batch_size,
            "kappa": self.kappa,
            "n_ensemble": self.n_ensemble,
            "min_distance": self.min_distance,
            "target_transform": self.target_transform,
        }

    def _check_budget(self, budget: int) -> None:
        if budget < self.n_initial:
            raise ValueError(f"budget = {budget} is below n_initial = {self.n_initial}: the predictor would never be used")

    def _on_reset(self) -> None:
        self.candidates._reset()
        self._X_told: list[npt.NDArray[np.float32]] = []
        self._y_told: list[float] = []
        self._pending_X: dict[int, npt.NDArray[np.float32]] = {}
        self.timings_: dict[str, float] = {"encode": 0.0, "fit": 0.0, "predict": 0.0, "select": 0.0}

    def _on_ask(self, cells: CellBatch, fps: npt.NDArray[np.uint64]) -> None:
        X = encode(cells, self.encoding_, self.n_jobs)
        for i, f in enumerate(fps.tolist()):
            self._pending_X[int(f)] = X[i]

    def _on_tell(self, cells: CellBatch, fps: npt.NDArray[np.uint64], values: npt.NDArray[np.float64]) -> None:
        X = encode(cells, self.encoding_, self.n_jobs)
        for i, f in enumerate(fps.tolist()):
            self._pending_X.pop(int(f), None)
            if not math.isnan(values[i]):
                self._X_told.append(X[i])
                self._y_told.append(float(values[i]))

    # ------------------------------------------------------------------ proposing
    def _propose(self, n: int) -> tuple[CellBatch, int]:
        k_random = max(0, min(n, self.n_initial - self._n_asked))
        if len(self._y_told) < 2:
            k_random = n
        parts: list[CellBatch] = []
        size = 0
        if k_random:
            parts.append(self._random_new(k_random))
        if n - k_random > 0:
            if k_random:  # the random cells are pending for the model's picks
                self._mark_taken_tmp(parts[0])
            cells, size = self._model_pick(n - k_random)
            parts.append(cells)
        parts = [p for p in parts if len(p)]
        return (CellBatch.concat(parts) if parts else self._empty()), size

    def _mark_taken_tmp(self, cells: CellBatch) -> None:
        fps = cells.fingerprints(n_jobs=self.n_jobs)
        self._mark_taken(fps)
        X = encode(cells, self.encoding_, self.n_jobs)
        for i, f in enumerate(fps.tolist()):
            self._pending_X[int(f)] = X[i]
        # ask() marks them again; taken is a set, so this is harmless

    def _targets(self) -> npt.NDArray[np.float64]:
        """The values told, as the predictor is fitted on them (``target_transform``)."""
        y = np.asarray(self._y_told, dtype=np.float64)
        return normal_scores(y) if self.target_transform == "normal-scores" else y

    def _fit(self) -> tuple[_Surrogate, float]:
        """The fitted predictor and the best target it was fitted on (the incumbent of EI)."""
        t = time.perf_counter()
        pred = default_predictor() if self.predictor is None else self.predictor
        model = _Surrogate(pred, self.n_ensemble, int(self._rng.integers(0, 2**31 - 1)), self.n_jobs, self._space_params)
        y = self._targets()
        model.fit(np.asarray(self._X_told, dtype=np.float32), y)
        self.timings_["fit"] += time.perf_counter() - t
        return model, float(y.max())

    def _model_pick(self, n: int) -> tuple[CellBatch, int]:
        model, best = self._fit()
        avoid = np.asarray(list(self._pending_X.values()), dtype=np.float32).reshape(-1, encoding_dim(self.space, self.encoding_))
        if isinstance(self.candidates, FullSpace):
            t = time.perf_counter()
            pool = self._pool()
            assert pool is not None
            feats = _pool_features(pool, self.encoding_, self.n_jobs)
            taken = self._pool_taken_mask()
            # a row is free while some cell of it is not taken (the taken cells are few)
            taken_pos = np.flatnonzero(taken)
            n_taken = np.bincount(feats.inverse[taken_pos], minlength=len(feats.rows))
            rows_idx = np.flatnonzero(n_taken < feats.sizes)
            self.timings_["encode"] += time.perf_counter() - t
            if len(rows_idx) == 0:
                return self._random_new(n), 0
            picks = self._select(model, _PoolRows(feats, rows_idx), n, best, avoid)
            t = time.perf_counter()
            chosen = []
            for r in rows_idx[picks].tolist():
                group = feats.order[feats.starts[r] : feats.starts[r + 1]]
                chosen.append(int(group[~taken[group]][0]))
            self.timings_["select"] += time.perf_counter() - t
            return pool.cells[np.asarray(chosen, dtype=np.int64)], len(pool) - len(taken_pos)
        raw = self.candidates.candidates(self)
        cand, _ = self._new_only(raw)
        if len(cand) == 0:
            return self._random_new(n), 0
        t = time.perf_counter()
        Xc = encode(cand, self.encoding_, self.n_jobs)
        self.timings_["encode"] += time.perf_counter() - t
        picks = self._select(model, Xc, n, best, avoid)
        cells = cand[np.asarray(picks, dtype=np.int64)]
        if len(cells) < n:  # a small candidate set: fill up at random
            self._mark_taken_tmp(cells)
            cells = CellBatch.concat([cells, self._random_new(n - len(cells))])
        return cells, len(cand)

    def _select(self, model: _Surrogate, X: Any, n: int, best: float, avoid: npt.NDArray[np.float32]) -> list[int]:
        """Rows of ``X`` (an array, or the pool rows of FullSpace candidates) to pick (see
        ``min_distance``)."""
        t = time.perf_counter()
        if self.acquisition == "greedy":
            score = model.mean(X)
        elif self.acquisition != "thompson":
            mu, sd = model.mean_std(X)
            if self.acquisition == "ucb":
                score = mu + self.kappa * sd
            else:
                score = _expected_improvement(mu, sd, best)
        self.timings_["predict"] += time.perf_counter() - t
        t_pred = 0.0
        t = time.perf_counter()
        picked: list[int] = []
        ref = np.asarray(avoid, dtype=np.float32).reshape(-1, X.shape[1])
        window = max(1000, 2 * n)
        for _ in range(min(n, len(X))):
            if self.acquisition == "thompson":
                t0 = time.perf_counter()
                score = model.draw(X, self._rng)
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
