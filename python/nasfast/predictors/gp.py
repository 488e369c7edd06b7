"""``GPRegressor``: a Gaussian process (scikit-learn) that scores a whole cell space quickly.

Fitting is scikit-learn's :class:`~sklearn.gaussian_process.GaussianProcessRegressor` (kernel
hyperparameters by maximum marginal likelihood). Predicting is done here, in blocks: for the
default kind of kernel (a constant times an isotropic RBF or Matern kernel, plus white noise)
the squared distances between the rows and the training cells are one matrix product. On
integer features (every encoding of ``CellBatch.encode``: 0/1 bits and path counts) that
product is computed in float32, which is exact there (every partial sum is an integer below
2^24), so the kernel values are the float64 ones; other features use float64. Any other
kernel is evaluated by scikit-learn, block by block.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any, Optional

import numpy as np
import numpy.typing as npt
from scipy.linalg import solve_triangular
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, Kernel, Matern, Product, Sum, WhiteKernel
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted, check_X_y

__all__ = ["GPRegressor", "default_kernel"]

#: Largest number of rows ``sample_y`` draws jointly (their covariance matrix is dense).
MAX_JOINT_ROWS = 4096
#: Kernel entries per prediction block (rows x training cells), about 32 MB of float64.
_BLOCK_ENTRIES = 1 << 22


def default_kernel() -> Kernel:
    """``ConstantKernel(1.0) * RBF(10.0) + WhiteKernel(1.0)``: one length scale for all features.

    On 0/1 features the squared Euclidean distance is the Hamming distance, so the RBF kernel
    is a similarity that decays with the number of differing bits (path counts add the count
    differences). With a few dozen to a few hundred rows there is not enough data to fit one
    length scale per feature; a single one, an amplitude and a noise level (all fitted by
    marginal likelihood from these starting values, within scikit-learn's default bounds) rank
    held-out cells as well as the per-encoding length scales, Matern kernels and added linear
    terms tried (``nb101-real20k``, 100 cells, adjacency + path-count: Kendall tau within 0.005).
    """
    return ConstantKernel(1.0) * RBF(10.0) + WhiteKernel(1.0)


def _stationary_parts(kernel: Kernel) -> Optional[tuple[float, float, float, float]]:
    """``(amplitude, length_scale, nu, noise)`` when ``kernel`` is ``[C *] S [+ White]`` with
    ``S`` an isotropic RBF (``nu = inf``) or Matern kernel of nu 0.5, 1.5, 2.5 or inf; else None."""
    noise = 0.0
    if isinstance(kernel, Sum) and isinstance(kernel.k2, WhiteKernel):
        noise, kernel = float(kernel.k2.noise_level), kernel.k1
    amplitude = 1.0
    if isinstance(kernel, Product) and isinstance(kernel.k1, ConstantKernel):
        amplitude, kernel = float(kernel.k1.constant_value), kernel.k2
    if isinstance(kernel, Matern):  # a subclass of RBF: test it first
        nu = float(kernel.nu)
        if nu not in (0.5, 1.5, 2.5, math.inf):
            return None
    elif isinstance(kernel, RBF):
        nu = math.inf
    else:
        return None
    ls = np.asarray(kernel.length_scale, dtype=np.float64)
    if ls.size != 1:
        return None
    return amplitude, float(ls.reshape(-1)[0]), nu, noise


def _from_sq_distances(d2: npt.NDArray[np.float64], parts: tuple[float, float, float, float]) -> npt.NDArray[np.float64]:
    """The stationary kernel ``parts`` (see :func:`_stationary_parts`) of squared distances."""
    amplitude, ls, nu, _ = parts
    np.maximum(d2, 0.0, out=d2)
    if nu == math.inf:  # in place: the blocks are large
        d2 *= -0.5 / (ls * ls)
        np.exp(d2, out=d2)
        d2 *= amplitude
        return d2
    r = np.sqrt(d2, out=d2)
    r *= (1.0 if nu == 0.5 else math.sqrt(3.0) if nu == 1.5 else math.sqrt(5.0)) / ls
    e = np.exp(-r)
    if nu == 0.5:
        return amplitude * e
    if nu == 1.5:
        r += 1.0
        r *= e
        r *= amplitude
        return r
    return amplitude * (1.0 + r + r * r / 3.0) * e


def _integer_bound(a: npt.NDArray[Any]) -> Optional[float]:
    """The largest absolute value of ``a`` if all its values are integers, else None."""
    if a.size == 0:
        return 0.0
    if not np.array_equal(a, np.round(a)):
        return None
    return float(np.max(np.abs(a)))


def _exact_in_float32(bound_a: Optional[float], bound_b: Optional[float], d: int) -> bool:
    """Whether float32 matrix products of integer rows of ``d`` features bounded by ``bound_a``
    and ``bound_b`` are exact: every partial sum is an integer below 2^24."""
    if bound_a is None or bound_b is None:
        return False
    return max(bound_a, bound_b) ** 2 * d < 2.0**22


class GPRegressor(RegressorMixin, BaseEstimator):
    """Gaussian-process regression for cell encodings, with chunked fast prediction.

    The targets are standardised, the kernel hyperparameters fitted by scikit-learn (marginal
    likelihood, L-BFGS-B from the kernel's starting values and ``n_restarts_optimizer`` random
    restarts). The predictive mean and standard deviation are scikit-learn's (the standard
    deviation includes the fitted white noise), computed block by block.

    Parameters
    ----------
    kernel : scikit-learn kernel, optional
        ``None``: :func:`default_kernel`. Kernels of the form ``[C *] RBF|Matern [+ White]``
        with one length scale are predicted by the fast path; others by scikit-learn.
    alpha : float
        Added to the diagonal of the training kernel matrix (numerical jitter).
    n_restarts_optimizer : int
        Extra optimiser runs from random hyperparameters.
    optimizer : "fmin_l_bfgs_b", callable or None
        scikit-learn's ``optimizer``; ``None`` keeps the kernel's starting hyperparameters.
    random_state : None, int or RandomState
        Seed of the restarts (and the default seed of :meth:`sample_y`).

    Attributes
    ----------
    gp_ : GaussianProcessRegressor
        The fitted scikit-learn model (on the standardised targets).
    kernel_ : Kernel
        The fitted kernel.
    n_features_in_ : int

    Notes
    -----
    scikit-learn warns (``ConvergenceWarning``) when a hyperparameter ends at a bound, which
    happens routinely for the noise level on noise-free-looking data; the warning is silenced in
    ``fit`` (the fitted kernel is in ``kernel_``).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).integers(0, 2, size=(60, 12)).astype(np.float32)
    >>> model = GPRegressor(random_state=0).fit(X, X[:, :3].sum(axis=1))
    >>> mean, std = model.predict_mean_std(X[:2])
    >>> model.sample_y(X[:4], n_samples=3).shape
    (4, 3)
    """

    def __init__(
        self,
        kernel: Optional[Kernel] = None,
        *,
        alpha: float = 1e-10,
        n_restarts_optimizer: int = 0,
        optimizer: Any = "fmin_l_bfgs_b",
        random_state: Any = None,
    ) -> None:
        self.kernel = kernel
        self.alpha = alpha
        self.n_restarts_optimizer = n_restarts_optimizer
        self.optimizer = optimizer
        self.random_state = random_state

    def fit(self, X: npt.ArrayLike, y: npt.ArrayLike) -> GPRegressor:
        """Fits the kernel hyperparameters and the posterior on ``X`` (n, d) and ``y`` (n,)."""
        rows: npt.NDArray[np.float64]
        rows, y_checked = check_X_y(X, y, dtype=np.float64, y_numeric=True)
        if isinstance(self.kernel, Kernel) or self.kernel is None:
            kernel = default_kernel() if self.kernel is None else clone(self.kernel)
        else:
            raise TypeError(f"kernel = {self.kernel!r}: expected a scikit-learn kernel or None")
        # the user's values are checked as objects: for mypy an int is no numbers.Integral (nor a
        # float a numbers.Real), so with the declared types the rest of fit would be unreachable
        restarts: object = self.n_restarts_optimizer
        if isinstance(restarts, (bool, np.bool_)) or not isinstance(restarts, numbers.Integral) or restarts < 0:
            raise ValueError(f"n_restarts_optimizer = {restarts!r}: must be an int >= 0")
        alpha = math.nan
        given: object = self.alpha
        if isinstance(given, numbers.Real):
            try:  # float() then math.isfinite: np.isfinite raises TypeError for an int beyond the float range
                alpha = float(given)
            except OverflowError:
                pass
        if not (math.isfinite(alpha) and alpha >= 0):
            raise ValueError(f"alpha = {self.alpha!r}: must be a finite number >= 0")
        y64 = np.asarray(y_checked, dtype=np.float64)
        self.y_mean_ = float(y64.mean())
        scale = float(y64.std())
        self.y_scale_ = scale if scale > 0 else 1.0
        gp = GaussianProcessRegressor(
            kernel=kernel,
            alpha=alpha,
            normalize_y=False,
            n_restarts_optimizer=int(restarts),
            optimizer=self.optimizer,
            random_state=self.random_state,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            gp.fit(rows, (y64 - self.y_mean_) / self.y_scale_)
        self.gp_ = gp
        self.kernel_ = gp.kernel_
        self.n_features_in_ = rows.shape[1]
        self._parts = _stationary_parts(gp.kernel_)
        self._X32 = np.ascontiguousarray(rows, dtype=np.float32)
        self._bound = _integer_bound(rows)
        self._sq = np.einsum("ij,ij->i", rows, rows)
        return self

    # ------------------------------------------------------------------ kernel blocks
    def _rows(self, X: npt.ArrayLike) -> npt.NDArray[Any]:
        check_is_fitted(self, "gp_")
        rows: npt.NDArray[Any] = check_array(X, dtype=(np.float32, np.float64))
        if rows.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {rows.shape[1]} features, but GPRegressor is expecting {self.n_features_in_} features as input"
            )
        return rows

    def _cross(self, Xc: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
        """k(Xc, X_train) without the white noise (it is zero between distinct inputs)."""
        if self._parts is None:
            return np.asarray(self.gp_.kernel_(np.asarray(Xc, dtype=np.float64), self.gp_.X_train_), dtype=np.float64)
        if _exact_in_float32(self._bound, _integer_bound(Xc), Xc.shape[1]):
            Xf = np.ascontiguousarray(Xc, dtype=np.float32)
            dot = (Xf @ self._X32.T).astype(np.float64)
            sq = np.einsum("ij,ij->i", Xf, Xf, dtype=np.float64)
        else:
            Xd = np.asarray(Xc, dtype=np.float64)
            dot = Xd @ self.gp_.X_train_.T
            sq = np.einsum("ij,ij->i", Xd, Xd)
        dot *= -2.0
        dot += sq[:, None]
        dot += self._sq[None, :]
        return _from_sq_distances(dot, self._parts)

    def _prior_var(self, Xc: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
        if self._parts is None:
            return np.asarray(self.gp_.kernel_.diag(np.asarray(Xc, dtype=np.float64)), dtype=np.float64)
        amplitude, _, _, noise = self._parts
        return np.full(len(Xc), amplitude + noise)

    def _block_rows(self) -> int:
        return max(256, _BLOCK_ENTRIES // max(1, len(self.gp_.X_train_)))

    # ------------------------------------------------------------------ predictions
    def predict_mean_std(self, X: npt.ArrayLike) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """The posterior mean and standard deviation of every row of ``X``."""
        return self._predict(self._rows(X), with_std=True)  # type: ignore[return-value]

    def predict(self, X: npt.ArrayLike, return_std: bool = False) -> Any:
        """The posterior mean of every row of ``X``; with ``return_std``, also its standard
        deviation (as scikit-learn's ``GaussianProcessRegressor.predict``)."""
        out = self._predict(self._rows(X), with_std=bool(return_std))
        return out if return_std else out[0]

    def _predict(self, X: npt.NDArray[Any], with_std: bool) -> tuple[npt.NDArray[np.float64], Optional[npt.NDArray[np.float64]]]:
        mean = np.empty(len(X))
        std = np.empty(len(X)) if with_std else None
        alpha = self.gp_.alpha_.reshape(-1)
        rows = self._block_rows()
        for a in range(0, len(X), rows):
            Xc = X[a : a + rows]
            K = self._cross(Xc)
            mean[a : a + len(Xc)] = K @ alpha
            if std is not None:
                V = solve_triangular(self.gp_.L_, K.T, lower=True, check_finite=False)
                var = self._prior_var(Xc) - np.einsum("ij,ij->j", V, V)
                std[a : a + len(Xc)] = np.sqrt(np.maximum(var, 0.0))
        mean = mean * self.y_scale_ + self.y_mean_
        if std is not None:
            std *= self.y_scale_
        return mean, std

    def sample_y(self, X: npt.ArrayLike, n_samples: int = 1, random_state: Any = None) -> npt.NDArray[np.float64]:
        """Joint draws from the posterior over the rows of ``X`` (for Thompson sampling).

        Unlike independent draws per row (``mean + std * N(0, 1)``), the draws respect the
        correlations between the rows, so similar cells get similar values in one draw. As in
        scikit-learn, the draws are of the targets (the fitted white noise included).

        Parameters
        ----------
        X : array-like of shape (m, d)
            At most ``MAX_JOINT_ROWS`` (4,096) rows: their covariance matrix is dense.
        n_samples : int
            Draws.
        random_state : None, int or RandomState
            ``None``: the model's ``random_state``.

        Returns
        -------
        ndarray of shape (m, n_samples)

        Raises
        ------
        ValueError
            If ``X`` has more than 4,096 rows or ``n_samples`` is not a positive int.
        """
        X = self._rows(X)
        if len(X) > MAX_JOINT_ROWS:
            raise ValueError(
                f"sample_y: X has {len(X):,} rows, at most {MAX_JOINT_ROWS:,} can be drawn jointly "
                "(score a subset, or use predict_mean_std for independent draws)"
            )
        count: object = n_samples  # checked as an object: for mypy an int is no numbers.Integral
        if isinstance(count, (bool, np.bool_)) or not isinstance(count, numbers.Integral) or count < 1:
            raise ValueError(f"n_samples = {n_samples!r}: must be an int >= 1")
        rng = check_random_state(self.random_state if random_state is None else random_state)
        exact32 = _exact_in_float32(self._bound, _integer_bound(X), X.shape[1])
        K = self._cross(X)
        mean = K @ self.gp_.alpha_.reshape(-1)
        V = solve_triangular(self.gp_.L_, K.T, lower=True, check_finite=False)
        if self._parts is None:
            prior = np.asarray(self.gp_.kernel_(np.asarray(X, dtype=np.float64)), dtype=np.float64)
        else:
            Xw = np.ascontiguousarray(X, dtype=np.float32 if exact32 else np.float64)
            dot = (Xw @ Xw.T).astype(np.float64)
            sq = np.diag(dot).copy()
            prior = _from_sq_distances(sq[:, None] + sq[None, :] - 2.0 * dot, self._parts)
            prior += self._parts[3] * np.eye(len(X))
        cov = prior - V.T @ V
        cov = 0.5 * (cov + cov.T)
        factor = _cholesky_with_jitter(cov)
        draws = mean[:, None] + factor @ rng.standard_normal((len(X), int(n_samples)))
        return draws * self.y_scale_ + self.y_mean_


def _cholesky_with_jitter(cov: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """A lower Cholesky factor of ``cov`` (positive semi-definite up to rounding), adding the
    smallest jitter ``10^k * mean(diag)`` (k = -10, -9, ...) that makes it positive definite."""
    scale = float(np.mean(np.diag(cov))) if len(cov) else 1.0
    scale = scale if scale > 0 else 1.0
    eye = np.eye(len(cov))
    for k in range(-12, 0):
        try:
            # asarray: no copy, only the dtype numpy's stubs leave open (floating)
            return np.asarray(np.linalg.cholesky(cov + (10.0**k) * scale * eye), dtype=np.float64)
        except np.linalg.LinAlgError:
            continue
    raise ValueError("sample_y: the posterior covariance is not positive semi-definite (non-finite kernel values?)")
