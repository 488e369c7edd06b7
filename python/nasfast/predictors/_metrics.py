"""How well predictions rank cells: Kendall tau, Spearman's rho and the precision of the
predicted top fraction."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy.stats import kendalltau, spearmanr

__all__ = ["ranking_metrics", "top_precision"]


def _pair(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    t = np.asarray(y_true, dtype=np.float64).reshape(-1)
    p = np.asarray(y_pred, dtype=np.float64).reshape(-1)
    if t.shape != p.shape:
        raise ValueError(f"y_true has {t.size} values and y_pred {p.size}: they must match")
    if t.size == 0:
        raise ValueError("y_true is empty")
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(p))):
        raise ValueError("y_true and y_pred must be finite")
    return t, p


def top_precision(y_true: npt.ArrayLike, y_pred: npt.ArrayLike, fraction: float = 0.01) -> float:
    """The share of the predicted top ``fraction`` of the cells that is in the true top ``fraction``.

    With m cells, k = max(1, round(fraction * m)). The true top is every cell whose true value
    is at least the k-th largest (ties at the threshold included, as the targets of
    :mod:`nasfast.metrics`). The predicted top is the k cells with the largest predictions; when
    predictions tie at the cut (forests and boosted trees predict many equal values), the tied
    cells share the remaining places, so the result is the expected precision of a uniformly
    random tie break rather than one that depends on the order of the rows.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (m,)
        True values and predictions (finite).
    fraction : float
        In (0, 1].

    Returns
    -------
    float
        In [0, 1].

    Raises
    ------
    ValueError
        If the arrays differ in length, are empty or hold non-finite values, or ``fraction``
        is not in (0, 1].

    Examples
    --------
    >>> top_precision([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [10, 1, 2, 3, 4, 5, 6, 7, 8, 9], fraction=0.2)
    0.5
    """
    t, p = _pair(y_true, y_pred)
    if not (isinstance(fraction, (int, float)) and 0.0 < fraction <= 1.0):
        raise ValueError(f"fraction = {fraction!r}: must be in (0, 1]")
    m = t.size
    k = max(1, int(round(fraction * m)))
    threshold = np.sort(t)[m - k]
    good = t >= threshold
    cut = np.sort(p)[m - k]
    above = p > cut
    tied = p == cut
    places = k - int(above.sum())
    hits = float(good[above].sum()) + places * float(good[tied].sum()) / float(tied.sum())
    return hits / k


def ranking_metrics(y_true: npt.ArrayLike, y_pred: npt.ArrayLike, fraction: float = 0.01) -> dict[str, float]:
    """Kendall's tau-b, Spearman's rho and :func:`top_precision` of predictions.

    A constant prediction has no rank correlation: tau and rho are NaN then (as in scipy).

    Returns
    -------
    dict
        ``{"kendall_tau": ..., "spearman": ..., "top_precision": ...}``

    Examples
    --------
    >>> m = ranking_metrics([1, 2, 3, 4], [1, 3, 2, 4], fraction=0.25)
    >>> round(m["kendall_tau"], 3), round(m["spearman"], 3), m["top_precision"]
    (0.667, 0.8, 1.0)
    """
    t, p = _pair(y_true, y_pred)
    constant = bool(np.all(p == p[0])) or bool(np.all(t == t[0]))
    tau = math.nan if constant else float(kendalltau(t, p)[0])
    rho = math.nan if constant else float(spearmanr(t, p)[0])
    return {"kendall_tau": tau, "spearman": rho, "top_precision": top_precision(t, p, fraction)}
