"""A predictor fitted inside a search, with its uncertainty: :class:`FittedPredictor`.

The search fits a clone of its predictor on the cells told so far every round and scores the
candidates with it. Where the spread of its predictions comes from follows the protocol of
:mod:`nasfast.predictors`: the trees of a forest, ``predict_members``, ``predict_mean_std`` or
``predict(return_std=True)``, or else a bootstrap ensemble of clones. Candidates that are cells
of the universe are scored in place from its feature cache (:class:`~nasfast.search.universe.UniverseRows`),
from packed bits by the core forest when every feature is 0 or 1.
"""

from __future__ import annotations

import inspect
import math
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Optional

import numpy as np
import numpy.typing as npt
from scipy.special import ndtr
from sklearn.base import clone
from sklearn.ensemble import ExtraTreesRegressor, RandomForestRegressor

from .._core import Forest
from ..predictors.forest import ForestRegressor
from .universe import UniverseRows

__all__ = ["FittedPredictor", "expected_improvement"]

#: Rows scored at once (bounds the float32 copy of the cached uint8 features and the per-member
#: prediction buffer).
_CHUNK = 32_768
#: Rows a joint posterior sample (Thompson sampling with a Gaussian process) is drawn over.
_THOMPSON_SHORTLIST = 1_000
#: A forest scores the distinct rows over the features its trees use when there are at least
#: this many rows.
_REDUCE_MIN_ROWS = 4_096


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
    except Exception:  # noqa: BLE001 - a user's estimator without get_params has no such parameter
        return False


def _supports_return_std(est: Any) -> bool:
    try:
        return "return_std" in inspect.signature(est.predict).parameters
    except (TypeError, ValueError):
        return False


class FittedPredictor:
    """A clone of a predictor (or a bootstrap ensemble of clones) fitted on the cells told, with
    an uncertainty: the members of a forest, ``predict_members``, ``predict_mean_std`` or
    ``return_std``, or the spread of the clones."""

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
        ``X`` from packed bits (cached universe rows of 0/1 features), else None."""
        if self.core is not None and isinstance(X, UniverseRows) and X.features.bits is not None:
            return self.core, X.features.bits, X.index
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
        if isinstance(X, UniverseRows):
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
        if isinstance(X, UniverseRows):
            X = X.dense()
        Xr, inverse = self._prepare(X)
        out = np.empty(len(Xr))
        for a in range(0, len(Xr), _CHUNK):
            out[a : a + _CHUNK] = self._member_predict(m, np.asarray(Xr[a : a + _CHUNK], dtype=np.float32))
        return out if inverse is None else out[inverse]


def expected_improvement(mu: npt.NDArray[np.float64], sd: npt.NDArray[np.float64], best: float) -> npt.NDArray[np.float64]:
    """Expected improvement over ``best`` of normal predictions with means ``mu`` and standard
    deviations ``sd`` (the improvement itself where ``sd`` is 0)."""
    imp = mu - best
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(sd > 0, imp / sd, 0.0)
    ei = imp * ndtr(z) + sd * np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    return np.where(sd > 0, ei, np.maximum(imp, 0.0))
