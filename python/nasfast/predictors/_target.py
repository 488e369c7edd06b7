"""Target transforms applied to the evaluated values before a predictor is fitted."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.special import ndtri
from scipy.stats import rankdata

__all__ = ["normal_scores"]


def normal_scores(y: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """The rank-based normal scores of ``y``: ``Phi^-1((rank - 1/2) / n)``, ties averaged.

    Accuracies of trained networks are heavy-tailed (a few runs fail and land near chance, far
    below the bulk), and a regression on the raw values spends its fit on those outliers. The
    normal scores keep only the order of the values, on a scale where the outliers are a few
    standard deviations away instead of dozens. The transform is monotone, so the best value
    stays the best.

    Parameters
    ----------
    y : array-like of shape (n,)
        Finite values.

    Returns
    -------
    ndarray of shape (n,), float64

    Examples
    --------
    >>> normal_scores([0.93, 0.10, 0.94]).round(3).tolist()
    [0.0, -0.967, 0.967]
    """
    v = np.asarray(y, dtype=np.float64).reshape(-1)
    if v.size == 0:
        return v.copy()
    if not np.all(np.isfinite(v)):
        raise ValueError("normal_scores: the values must be finite")
    return np.asarray(ndtri((rankdata(v) - 0.5) / v.size), dtype=np.float64)
