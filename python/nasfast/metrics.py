"""Sample-efficiency metrics: targets, hitting times, ERT, SEG and regret curves.

These are the project's own definitions (see the documentation of :mod:`nasfast` and
``docs/nb101-reference.md`` section 9):

- A **sample** is one true evaluation of a distinct cell. Isomorphic duplicates count once: the
  functions here take an identity key per evaluated cell (``CellBatch.fingerprints()``, exact for
  NAS-Bench-101) and count only the first occurrence of each key.
- A **target** is a set of cells of the searchable space: the global optimum (every cell with the
  best value), the top-``k`` cells or the top ``p`` percent, ties at the threshold included.
- The **hitting time** ``N_A`` of a run is the (1-based) number of samples it spent up to and
  including the first target cell it evaluated.
- The **expected running time** over ``R`` runs with a budget cap (the COCO convention) is
  ``ERT = (sum of hitting times of successful runs + samples spent by unsuccessful runs)
  / (number of successful runs)``; it is infinite when no run succeeded.
- Uniform sampling without replacement over ``M`` cells of which ``m`` are targets hits one
  after ``E[N_RS] = (M + 1) / (m + 1)`` samples on average, exactly.
- The **sample efficiency gain** is ``SEG = E[N_RS] / ERT`` (0 when no run succeeded). Its 95%
  confidence interval is a percentile bootstrap over runs: ``n_boot`` resamples of the ``R`` runs
  with replacement, drawn from ``np.random.default_rng(random_state)`` as one
  ``integers(0, R, size=(n_boot, R))`` array; the interval is given by the ``(1 - confidence) / 2``
  and ``(1 + confidence) / 2`` percentiles of the SEG of the resamples.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Optional

import numpy as np
import numpy.typing as npt

from ._typing import RandomState

__all__ = [
    "SEGEstimate",
    "parse_target",
    "target_indices",
    "random_search_expectation",
    "first_occurrences",
    "hitting_time",
    "expected_running_time",
    "sample_efficiency_gain",
    "ert_ratio",
    "regret_curve",
    "regret_at_costs",
    "quantile_band",
]

_TOP_K = re.compile(r"^top-(\d+)$")
_TOP_PERCENT = re.compile(r"^top-(\d+(?:\.\d+)?)%$")


def parse_target(name: str) -> tuple[str, float]:
    """Parse a target name.

    Parameters
    ----------
    name : str
        ``"optimum"``, ``"top-K"`` (the ``K`` best cells, ``K >= 1``) or ``"top-P%"`` (the best
        ``P`` percent of the cells, ``0 < P <= 100``), e.g. ``"top-10"``, ``"top-0.1%"``.

    Returns
    -------
    kind : str
        ``"optimum"``, ``"count"`` or ``"fraction"``.
    amount : float
        1 for the optimum, ``K`` for a count, ``P / 100`` for a fraction.

    Raises
    ------
    ValueError
        If the name is none of the above.
    """
    if not isinstance(name, str):
        raise ValueError(f"target name must be a string, got {name!r}")
    if name == "optimum":
        return "optimum", 1.0
    match = _TOP_K.match(name)
    if match:
        k = int(match.group(1))
        if k >= 1:
            return "count", float(k)
    match = _TOP_PERCENT.match(name)
    if match:
        p = float(match.group(1))
        if 0.0 < p <= 100.0:
            return "fraction", p / 100.0
    raise ValueError(
        f"unknown target {name!r}: expected 'optimum', 'top-K' (K >= 1) or 'top-P%' (0 < P <= 100)"
    )


def target_indices(values: npt.ArrayLike, target: str) -> npt.NDArray[np.int64]:
    """Indices of the cells that form a target, higher values being better.

    The target is every cell whose value is at least a threshold ``tau``: the best value for
    ``"optimum"``, the ``k``-th best value for ``"top-k"``, and the ``ceil(p * M)``-th best value
    for ``"top-P%"`` (``M`` cells, ``p = P / 100``). Cells tied with the threshold are included, so
    a target may hold more cells than its name says.

    Parameters
    ----------
    values : array_like of float, shape (M,)
        The metric of every cell of the searchable space. NaN (a missing value) is never part of a
        target, but counts in ``M``.
    target : str
        A target name, see :func:`parse_target`.

    Returns
    -------
    ndarray of int64
        Sorted indices into ``values``.

    Raises
    ------
    ValueError
        If ``values`` is empty or only NaN, if the name is unknown, or if the target asks for more
        cells than have a value.

    Examples
    --------
    >>> target_indices([0.1, 0.9, 0.5, 0.9], "optimum")
    array([1, 3])
    >>> target_indices([0.1, 0.9, 0.5, 0.7], "top-50%")
    array([1, 3])
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or v.size == 0:
        raise ValueError(f"values must be a non-empty 1-D array, got shape {v.shape}")
    known = v[~np.isnan(v)]
    kind, amount = parse_target(target)
    if kind == "optimum":
        k = 1
    elif kind == "count":
        k = int(amount)
    else:
        k = max(1, math.ceil(amount * v.size - 1e-9))
    if k > known.size:
        raise ValueError(f"target {target!r} asks for {k} cells, only {known.size} of the {v.size} have a value")
    tau = np.partition(known, known.size - k)[known.size - k]
    with np.errstate(invalid="ignore"):
        return np.flatnonzero(v >= tau).astype(np.int64)


def random_search_expectation(n_cells: int, n_targets: int) -> float:
    """Expected hitting time of uniform sampling without replacement.

    Parameters
    ----------
    n_cells : int
        ``M``, the number of distinct cells of the space.
    n_targets : int
        ``m``, how many of them are targets (``1 <= m <= M``).

    Returns
    -------
    float
        ``(M + 1) / (m + 1)``.

    Raises
    ------
    ValueError
        If ``m`` is not in ``[1, M]``.

    Examples
    --------
    >>> random_search_expectation(423624, 1)
    211812.5
    """
    if not (1 <= n_targets <= n_cells):
        raise ValueError(f"need 1 <= n_targets <= n_cells, got n_targets={n_targets}, n_cells={n_cells}")
    return (n_cells + 1) / (n_targets + 1)


def first_occurrences(keys: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Mask of the entries whose key has not appeared earlier in the sequence.

    Parameters
    ----------
    keys : array_like, shape (n,)
        Identity of each evaluated cell (e.g. fingerprints), in evaluation order.

    Returns
    -------
    ndarray of bool, shape (n,)
    """
    k = np.asarray(keys)
    if k.ndim != 1:
        raise ValueError(f"keys must be 1-D, got shape {k.shape}")
    mask = np.zeros(k.size, dtype=bool)
    if k.size:
        _, first = np.unique(k, return_index=True)
        mask[first] = True
    return mask


def hitting_time(keys: npt.ArrayLike, targets: npt.ArrayLike) -> Optional[int]:
    """Number of samples spent until the first target cell, or None if none was evaluated.

    Parameters
    ----------
    keys : array_like, shape (n,)
        Identity of each evaluated cell in evaluation order; repeated keys count once.
    targets : array_like
        Identities of the target cells.

    Returns
    -------
    int or None
        The 1-based sample index of the first target hit.

    Examples
    --------
    >>> hitting_time([5, 7, 5, 9, 2], targets=[9, 2])
    3
    """
    k = np.asarray(keys)
    distinct = k[first_occurrences(k)] if k.size else k
    hit = np.flatnonzero(np.isin(distinct, np.asarray(targets)))
    return int(hit[0]) + 1 if hit.size else None


def _as_runs(
    hitting_times: Sequence[Optional[float]] | npt.ArrayLike, spent: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    h = np.array([np.nan if x is None else x for x in np.asarray(hitting_times, dtype=object).ravel()], dtype=np.float64)
    s = np.asarray(spent, dtype=np.float64).ravel()
    if s.size == 1 and h.size != 1:
        s = np.full(h.size, s[0])
    if h.size != s.size:
        raise ValueError(f"hitting_times has {h.size} runs but spent has {s.size}")
    if h.size == 0:
        raise ValueError("no runs given")
    ok = ~np.isnan(h)
    if (h[ok] < 1).any():
        raise ValueError(f"hitting times must be >= 1, got {h[ok][h[ok] < 1][0]!r}")
    if (s < 0).any() or np.isnan(s).any():
        raise ValueError(f"samples spent must be >= 0, got {s[(s < 0) | np.isnan(s)][0]!r}")
    return h, s


def _ert_of_resamples(
    h: npt.NDArray[np.float64], s: npt.NDArray[np.float64], idx: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    success = ~np.isnan(h)
    cost = np.where(success, h, s)
    total = cost[idx].sum(axis=-1)
    n_success = success[idx].sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n_success > 0, total / np.maximum(n_success, 1), np.inf)


def expected_running_time(
    hitting_times: Sequence[Optional[float]] | npt.ArrayLike, spent: npt.ArrayLike
) -> float:
    """Expected running time over runs with a budget cap (COCO convention).

    Parameters
    ----------
    hitting_times : sequence of (float or None)
        Hitting time of each run; None or NaN for a run that never hit the target.
    spent : array_like of float
        Samples each run spent in total (its budget, unless it stopped earlier); a scalar applies
        to every run. Only used for unsuccessful runs.

    Returns
    -------
    float
        ``(sum of successful hitting times + sum of spent over failures) / successes``; ``inf``
        when no run succeeded.

    Examples
    --------
    >>> expected_running_time([3, None, 5], spent=10)
    9.0
    """
    h, s = _as_runs(hitting_times, spent)
    return float(_ert_of_resamples(h, s, np.arange(h.size)))


@dataclass(frozen=True)
class SEGEstimate:
    """Sample efficiency gain of one searcher on one target.

    Attributes
    ----------
    seg, seg_low, seg_high : float
        Point estimate and bootstrap confidence interval of ``E[N_RS] / ERT``.
    ert : float
        Expected running time (``inf`` without successes).
    successes, runs : int
        Successful runs and runs in total.
    expected_random : float
        ``E[N_RS]`` used as the numerator.
    confidence : float
        Level of the interval.
    """

    seg: float
    seg_low: float
    seg_high: float
    ert: float
    successes: int
    runs: int
    expected_random: float
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        """Plain dictionary (JSON-friendly except for ``inf``)."""
        return asdict(self)


def _bootstrap_indices(n_runs: int, n_boot: int, random_state: RandomState) -> npt.NDArray[np.int64]:
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    return _generator(random_state).integers(0, n_runs, size=(n_boot, n_runs))


def _generator(random_state: RandomState) -> np.random.Generator:
    """The generator of a ``random_state`` (itself, or seeded by it; a legacy ``RandomState``
    gives the seed)."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(int(random_state.randint(0, 2**31)))
    return np.random.default_rng(random_state)


def _check_confidence(confidence: float) -> tuple[float, float]:
    if not (0.0 < confidence < 1.0):
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    return 50.0 * (1.0 - confidence), 50.0 * (1.0 + confidence)


def sample_efficiency_gain(
    expected_random: float,
    hitting_times: Sequence[Optional[float]] | npt.ArrayLike,
    spent: npt.ArrayLike,
    *,
    n_boot: int = 2000,
    confidence: float = 0.95,
    random_state: RandomState = 0,
) -> SEGEstimate:
    """Sample efficiency gain ``E[N_RS] / ERT`` with a percentile bootstrap interval.

    Parameters
    ----------
    expected_random : float
        ``E[N_RS]``, see :func:`random_search_expectation`.
    hitting_times, spent
        As in :func:`expected_running_time`.
    n_boot : int, default 2000
        Bootstrap resamples of the runs.
    confidence : float, default 0.95
        Level of the interval.
    random_state : None, int, Generator or RandomState, default 0
        Seed of the resampling.

    Returns
    -------
    SEGEstimate

    Examples
    --------
    >>> est = sample_efficiency_gain(90.0, [3, None, 5], spent=10)
    >>> est.seg, est.successes, est.runs
    (10.0, 2, 3)
    """
    if not (expected_random > 0):
        raise ValueError(f"expected_random must be > 0, got {expected_random!r}")
    lo_q, hi_q = _check_confidence(confidence)
    h, s = _as_runs(hitting_times, spent)
    ert = float(_ert_of_resamples(h, s, np.arange(h.size)))
    boot = expected_random / _ert_of_resamples(h, s, _bootstrap_indices(h.size, n_boot, random_state))
    low, high = np.percentile(boot, [lo_q, hi_q])
    return SEGEstimate(
        seg=float(expected_random / ert),
        seg_low=float(low),
        seg_high=float(high),
        ert=ert,
        successes=int((~np.isnan(h)).sum()),
        runs=int(h.size),
        expected_random=float(expected_random),
        confidence=float(confidence),
    )


def ert_ratio(
    hitting_times: Sequence[Optional[float]] | npt.ArrayLike,
    spent: npt.ArrayLike,
    reference_hitting_times: Sequence[Optional[float]] | npt.ArrayLike,
    reference_spent: npt.ArrayLike,
    *,
    n_boot: int = 2000,
    confidence: float = 0.95,
    random_state: RandomState = 0,
) -> tuple[float, float, float]:
    """Share of a reference searcher's gain that a searcher keeps: ``ERT_ref / ERT``.

    This equals ``SEG / SEG_ref`` for the same target. Both groups of runs are resampled
    independently (the first ``n_boot`` resamples of the searcher, then those of the reference,
    from one generator); resamples where both ERTs are infinite are dropped, and the interval's
    ends are order statistics of the resampled ratios (``inverted_cdf`` percentiles, no
    interpolation, since a ratio may be infinite).

    Parameters
    ----------
    hitting_times, spent
        Runs of the searcher, as in :func:`expected_running_time`.
    reference_hitting_times, reference_spent
        Runs of the reference searcher.
    n_boot, confidence, random_state
        As in :func:`sample_efficiency_gain`.

    Returns
    -------
    ratio, low, high : float
        Point estimate (NaN if both ERTs are infinite) and percentile interval (NaN if every
        resample was dropped).

    Examples
    --------
    >>> ert_ratio([20, 20], 100, [5, 5], 100)[0]
    0.25
    """
    lo_q, hi_q = _check_confidence(confidence)
    h, s = _as_runs(hitting_times, spent)
    hr, sr = _as_runs(reference_hitting_times, reference_spent)
    rng = _generator(random_state)
    a = _ert_of_resamples(h, s, _bootstrap_indices(h.size, n_boot, rng))
    b = _ert_of_resamples(hr, sr, _bootstrap_indices(hr.size, n_boot, rng))
    ert_a = float(_ert_of_resamples(h, s, np.arange(h.size)))
    ert_b = float(_ert_of_resamples(hr, sr, np.arange(hr.size)))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = ert_b / ert_a if not (math.isinf(ert_a) and math.isinf(ert_b)) else math.nan
        boot = b / a
    boot = boot[~np.isnan(boot)]
    if boot.size == 0:
        return float(ratio), math.nan, math.nan
    # no interpolation between order statistics: resampled ratios may be infinite
    low, high = np.percentile(boot, [lo_q, hi_q], method="inverted_cdf")
    return float(ratio), float(low), float(high)


def regret_curve(
    values: npt.ArrayLike, optimum: float, length: Optional[int] = None
) -> npt.NDArray[np.float64]:
    """Best-so-far regret after each sample.

    Parameters
    ----------
    values : array_like of float, shape (n,)
        Values of the distinct samples, in evaluation order; NaN (a failed evaluation) is
        skipped by the running maximum.
    optimum : float
        Best value of the searchable space.
    length : int, optional
        Pad (with the last regret) or cut the curve to this many samples. Padding an empty run
        gives NaN.

    Returns
    -------
    ndarray of float64
        ``regret[i] = optimum - max(values[: i + 1])``.

    Examples
    --------
    >>> regret_curve([0.5, 0.7, 0.6], 1.0, length=4)
    array([0.5, 0.3, 0.3, 0.3])
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1:
        raise ValueError(f"values must be 1-D, got shape {v.shape}")
    curve = optimum - np.fmax.accumulate(v) if v.size else v.copy()
    if length is None:
        return curve
    if length < 0:
        raise ValueError(f"length must be >= 0, got {length}")
    if curve.size >= length:
        return curve[:length].copy()
    fill = curve[-1] if curve.size else np.nan
    return np.concatenate([curve, np.full(length - curve.size, fill)])


def regret_at_costs(
    values: npt.ArrayLike, costs: npt.ArrayLike, optimum: float, grid: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """Best-so-far regret against cumulative simulated training cost.

    Parameters
    ----------
    values, costs : array_like of float, shape (n,)
        Value and cost of each distinct sample, in evaluation order.
    optimum : float
        Best value of the searchable space.
    grid : array_like of float
        Cumulative costs at which to read the regret.

    Returns
    -------
    ndarray of float64, shape like ``grid``
        Regret of the best cell whose training had finished by each grid cost (cumulative cost
        ``<=`` the grid value); NaN before the first sample finished. A run that ended keeps its
        final regret.

    Examples
    --------
    >>> regret_at_costs([0.5, 0.8], [10.0, 10.0], 1.0, [5.0, 10.0, 25.0])
    array([nan, 0.5, 0.2])
    """
    v = np.asarray(values, dtype=np.float64)
    c = np.asarray(costs, dtype=np.float64)
    if v.shape != c.shape or v.ndim != 1:
        raise ValueError(f"values and costs must be 1-D of equal length, got {v.shape} and {c.shape}")
    if (c < 0).any():
        raise ValueError("costs must be >= 0")
    g = np.asarray(grid, dtype=np.float64)
    done = np.searchsorted(np.cumsum(c), g, side="right")
    curve = regret_curve(v, optimum)
    out = np.full(g.shape, np.nan)
    ok = done > 0
    out[ok] = curve[done[ok] - 1]
    return out


def quantile_band(
    curves: npt.ArrayLike,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Median and interquartile band of curves over runs, ignoring NaN.

    Parameters
    ----------
    curves : array_like of float, shape (runs, points)

    Returns
    -------
    median, q25, q75 : ndarray of float64, shape (points,)
        NaN where every run is NaN.
    """
    a = np.asarray(curves, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"curves must be 2-D (runs, points), got shape {a.shape}")
    out = np.full((3, a.shape[1]), np.nan)
    ok = ~np.isnan(a).all(axis=0)
    if ok.any():
        out[:, ok] = np.nanpercentile(a[:, ok], [50.0, 25.0, 75.0], axis=0)
    return out[0], out[1], out[2]
