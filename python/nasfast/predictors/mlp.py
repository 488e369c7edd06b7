"""``MLPEnsembleRegressor``: the ensemble of small feed-forward networks of BANANAS, in numpy.

BANANAS (White et al., "BANANAS: Bayesian Optimization with Neural Architectures for Neural
Architecture Search", AAAI 2021) fits 5 fully connected networks of 10 layers of width 20 on
the path encoding, each from its own random initialisation, with Adam (learning rate 0.01,
200 epochs, batches of 32), and uses the mean of their predictions as the score and their spread
as the uncertainty. Here the members are trained together: their weights are stacked and every
Adam step is one batched matrix product per layer for all members, which costs about as much
as training one network with scikit-learn.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any, Optional

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted, check_X_y

from ._params import float_param, int_param
from ._threads import for_blocks, one_blas_thread

__all__ = ["MLPEnsembleRegressor"]

#: Rows scored per block in ``predict`` (bounds the activations of all members).
_PREDICT_CHUNK = 8_192


def _init_params(
    rng: np.random.RandomState, n_members: int, sizes: Sequence[int], dtype: Any
) -> list[npt.NDArray[Any]]:
    """Stacked weights and biases ``[W_1, b_1, ..., W_L, b_L]``: ``W_l`` of shape
    (members, in, out), Glorot-uniform; biases (members, 1, out), zero."""
    params = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        bound = np.sqrt(6.0 / (a + b))
        params.append(rng.uniform(-bound, bound, size=(n_members, a, b)).astype(dtype))
        params.append(np.zeros((n_members, 1, b), dtype=dtype))
    return params


def _forward(params: list[npt.NDArray[Any]], X: npt.NDArray[Any], keep: bool = False) -> tuple[npt.NDArray[Any], list[Any]]:
    """Outputs (members, rows) for inputs ``X`` of shape (members, rows, d) or (rows, d)
    (shared by all members); with ``keep`` the activations the backward pass needs."""
    H = X
    acts = []
    n_layers = len(params) // 2
    for layer in range(n_layers):
        W, b = params[2 * layer], params[2 * layer + 1]
        if keep:
            acts.append(H)
        Z = _first_layer(H, W) if layer == 0 and H.ndim == 2 else np.matmul(H, W)
        Z += b
        H = np.maximum(Z, 0, out=Z) if layer < n_layers - 1 else Z
    return H[:, :, 0], acts


def _first_layer(X: npt.NDArray[Any], W: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """``X @ W[m]`` for every member m, shape (members, rows, out), for rows ``X`` shared by all
    members: one matrix product with the members' weights side by side."""
    members, d, out = W.shape
    side_by_side = np.ascontiguousarray(np.transpose(W, (1, 0, 2)).reshape(d, members * out))
    Z = np.asarray(X @ side_by_side, dtype=W.dtype)
    return np.ascontiguousarray(np.transpose(Z.reshape(len(X), members, out), (1, 0, 2)))


def _loss_and_grad(
    params: list[npt.NDArray[Any]], X: npt.NDArray[Any], y: npt.NDArray[Any], l2: float
) -> tuple[npt.NDArray[Any], list[npt.NDArray[Any]]]:
    """Per-member mean squared error plus ``l2/2 * sum ||W||^2``, and the gradients (the members
    are independent: member m's gradient depends only on member m's loss).

    ``X`` has shape (members, rows, d), ``y`` (members, rows)."""
    out, acts = _forward(params, X, keep=True)
    n = y.shape[1]
    resid = out - y
    losses = np.mean(resid * resid, axis=1)
    for layer in range(len(params) // 2):
        W = params[2 * layer]
        losses = losses + 0.5 * l2 * np.sum(W * W, axis=(1, 2))
    grads: list[npt.NDArray[Any]] = [np.empty(0)] * len(params)
    dZ = ((2.0 / n) * resid)[:, :, None]
    for layer in reversed(range(len(params) // 2)):
        W = params[2 * layer]
        H = acts[layer]
        grads[2 * layer] = np.matmul(np.swapaxes(H, 1, 2), dZ) + l2 * W
        grads[2 * layer + 1] = dZ.sum(axis=1, keepdims=True)
        if layer:
            dH = np.matmul(dZ, np.swapaxes(W, 1, 2))
            dZ = dH * (H > 0)
    return losses, grads


class MLPEnsembleRegressor(RegressorMixin, BaseEstimator):
    """An ensemble of fully connected ReLU networks (BANANAS), trained in numpy.

    Every member has the same architecture and its own random initialisation and batch order,
    and is trained on all the rows (no bootstrap, as in BANANAS) with Adam on the mean squared
    error of the standardised targets plus ``weight_decay / 2`` times its squared weights. The
    prediction is the mean of the members; their standard deviation is the uncertainty.

    Parameters
    ----------
    n_members : int
        Networks in the ensemble.
    hidden_layer_sizes : sequence of int
        Widths of the hidden layers (BANANAS: 10 layers of 20).
    epochs : int
        Passes over the training rows.
    batch_size : int
        Rows per Adam step.
    learning_rate : float
        Adam's step size.
    weight_decay : float
        L2 penalty on the weights.
    random_state : None, int or RandomState
        Seed of the initial weights and the batch orders; the same seed gives the same model.
    n_jobs : int, optional
        Threads of ``predict`` (``None`` or -1: all cores), each scoring blocks of rows; the
        result does not depend on it. Training is sequential (one BLAS thread: its products are
        too small to share).

    Attributes
    ----------
    params_ : list of ndarray
        ``[W_1, b_1, ..., W_L, b_L]``, the weights of all members stacked on the first axis.
    loss_curve_ : ndarray of shape (epochs, n_members)
        Mean training loss of every member in every epoch (standardised targets).
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).integers(0, 2, size=(200, 30)).astype(np.float32)
    >>> y = X[:, :5].sum(axis=1)
    >>> model = MLPEnsembleRegressor(epochs=50, random_state=0).fit(X, y)
    >>> mean, std = model.predict_mean_std(X[:3])
    >>> model.predict_members(X[:3]).shape
    (3, 5)
    """

    def __init__(
        self,
        n_members: int = 5,
        *,
        hidden_layer_sizes: Sequence[int] = (20,) * 10,
        epochs: int = 200,
        batch_size: int = 32,
        learning_rate: float = 0.01,
        weight_decay: float = 0.0,
        random_state: Any = None,
        n_jobs: Optional[int] = None,
    ) -> None:
        self.n_members = n_members
        self.hidden_layer_sizes = hidden_layer_sizes
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.random_state = random_state
        self.n_jobs = n_jobs



    def _sizes(self) -> list[int]:
        hidden = self.hidden_layer_sizes
        if isinstance(hidden, (numbers.Integral, str)) or not isinstance(hidden, Sequence):
            raise ValueError(f"hidden_layer_sizes = {hidden!r}: must be a sequence of ints >= 1")
        return [int_param("hidden_layer_sizes", h, 1) for h in hidden]

    def fit(self, X: npt.ArrayLike, y: npt.ArrayLike) -> MLPEnsembleRegressor:
        """Trains every member on ``X`` (n, d) and ``y`` (n,)."""
        rows: npt.NDArray[np.float32]
        rows, y_checked = check_X_y(X, y, dtype=np.float32, y_numeric=True)
        members = int_param("n_members", self.n_members, 1)
        hidden = self._sizes()
        epochs = int_param("epochs", self.epochs, 1)
        batch = int_param("batch_size", self.batch_size, 1)
        lr = float_param("learning_rate", self.learning_rate, positive=True)
        l2 = float_param("weight_decay", self.weight_decay, positive=False)
        y64 = np.asarray(y_checked, dtype=np.float64)
        self.y_mean_ = float(y64.mean())
        scale = float(y64.std())
        self.y_scale_ = scale if scale > 0 else 1.0
        target = ((y64 - self.y_mean_) / self.y_scale_).astype(np.float32)
        rng = check_random_state(self.random_state)
        params = _init_params(rng, members, [rows.shape[1], *hidden, 1], np.float32)
        m = [np.zeros_like(p) for p in params]
        v = [np.zeros_like(p) for p in params]
        b1, b2, eps = 0.9, 0.999, 1e-8
        n = len(target)
        step = 0
        curve = np.empty((epochs, members))
        with one_blas_thread():  # products of a batch of 32 rows: threads only cost
            for epoch in range(epochs):
                orders = np.stack([rng.permutation(n) for _ in range(members)])
                total = np.zeros(members)
                for a in range(0, n, batch):
                    idx = orders[:, a : a + batch]
                    losses, grads = _loss_and_grad(params, rows[idx], target[idx], l2)
                    total += losses * idx.shape[1]
                    step += 1
                    c1, c2 = 1 - b1**step, 1 - b2**step
                    for p, g, mp, vp in zip(params, grads, m, v):
                        mp *= b1
                        mp += (1 - b1) * g
                        vp *= b2
                        vp += (1 - b2) * (g * g)
                        p -= (lr / c1) * mp / (np.sqrt(vp / c2) + eps)
                curve[epoch] = total / n
        self.params_ = params
        self.loss_curve_ = curve
        self.n_features_in_ = rows.shape[1]
        return self

    def predict_members(self, X: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """The prediction of every member, shape (rows, n_members)."""
        check_is_fitted(self, "params_")
        rows: npt.NDArray[np.float32] = check_array(X, dtype=np.float32)
        if rows.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {rows.shape[1]} features, but MLPEnsembleRegressor is expecting {self.n_features_in_} features as input"
            )
        out = np.empty((len(rows), self.params_[0].shape[0]), dtype=np.float64)

        def work(a: int, b: int) -> None:
            out[a:b] = _forward(self.params_, rows[a:b])[0].T

        for_blocks(work, len(rows), _PREDICT_CHUNK, self.n_jobs)
        return out * self.y_scale_ + self.y_mean_

    def predict_mean_std(self, X: npt.ArrayLike) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """The mean of the members' predictions and their standard deviation."""
        P = self.predict_members(X)
        return P.mean(axis=1), P.std(axis=1)

    def predict(self, X: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """The mean of the members' predictions for every row of ``X``."""
        return self.predict_members(X).mean(axis=1)
