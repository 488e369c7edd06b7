"""The previous FullSpace round of ``PredictorSearch``: the baseline of the FullSpace iteration
and run benchmarks (``bench_search.py``).

:class:`PreviousPredictorSearch` is ``PredictorSearch`` with ``_model_pick`` and ``_select`` as
they were before the core forest scored packed rows (kept verbatim): every round copies the
free distinct rows of the cached features out of the cache (62 MB for NAS-Bench-101 paths),
finds the distinct rows over the features the trees use with ``np.unique`` on packed bits, and
scores those with ``Forest.predict_mean_std`` (or one tree with ``Forest.predict_member``) on
float32 rows. It makes the same picks as ``PredictorSearch`` for the same seed, which the
benchmarks check.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import numpy.typing as npt

from nasfast import CellBatch
from nasfast.predictors import encoding_dim
from nasfast.search import FullSpace, PredictorSearch
from nasfast.search._fitted import FittedPredictor, expected_improvement
from nasfast.search.predictor import _l1_min
from nasfast.search.state import SearchState


class PreviousPredictorSearch(PredictorSearch):
    """``PredictorSearch`` with the previous FullSpace round (dense float32 scoring)."""

    def _model_pick(self, state: SearchState, n: int) -> tuple[CellBatch, int]:
        if not isinstance(self.candidates, FullSpace):
            return super()._model_pick(state, n)
        model, best = self._fit(state)
        avoid = np.asarray(list(self._pending_X.values()), dtype=np.float32).reshape(-1, encoding_dim(self.space, self.encoding_))
        t = time.perf_counter()
        universe = state.universe
        assert universe is not None
        feats = state.universe_features(self.encoding_)
        free = ~state.taken_mask()
        row_free = np.bincount(feats.inverse[free], minlength=len(feats.rows)) > 0
        rows_idx = np.flatnonzero(row_free)
        self.timings_["encode"] += time.perf_counter() - t
        if len(rows_idx) == 0:
            return state.random_new(n), 0
        X = feats.rows[rows_idx]
        picks = self._select(state, model, X, n, best, avoid)
        t = time.perf_counter()
        chosen = []
        for r in rows_idx[picks].tolist():
            group = feats.order[feats.starts[r] : feats.starts[r + 1]]
            chosen.append(int(group[free[group]][0]))
        self.timings_["select"] += time.perf_counter() - t
        return universe.cells[np.asarray(chosen, dtype=np.int64)], int(free.sum())

    def _select(
        self, state: SearchState, model: FittedPredictor, X: npt.NDArray[Any], n: int, best: float, avoid: npt.NDArray[np.float32]
    ) -> list[int]:
        t = time.perf_counter()
        if self.acquisition != "thompson":
            mu, sd = model.mean_std(X)
            if self.acquisition == "greedy":
                score = mu
            elif self.acquisition == "ucb":
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
            top = np.argpartition(-s, window)[:window] if len(s) > window else np.arange(len(s))
            order = [r for r in top[np.argsort(-s[top], kind="stable")].tolist() if np.isfinite(s[r])]
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
