"""``GCNRegressor``: a graph convolutional network on the cells' graphs, in numpy.

The proxy of the "Neural Predictor" (Wen et al., "Neural Predictor for Neural Architecture
Search", ECCV 2020): a few graph-convolution layers over the cell's adjacency in both edge
directions, one-hot ops as the vertex features, mean pooling over the vertices and a linear head,
trained with Adam on the squared error.

It is written in numpy, not PyTorch, so that nasfast keeps numpy and scikit-learn as its only
numerical dependencies: the network is small (NAS-Bench-101 cells have at most 7 vertices), the
whole forward and backward pass is a handful of batched matrix products per layer, and the
gradients are written out by hand (and checked against finite differences in the tests). A few
hundred cells train in about a second on one CPU core, and the 423,624 cells of NAS-Bench-101
are scored in a few seconds.

The network reads the ``"adjacency"`` encoding of ``CellBatch.encode`` (the layout is in the
README: edge x -> y at bit ``x + y(y-1)/2`` with the output at position V-1, then one one-hot op
block per interior position; empty positions have no op and no edge), so it fits any feature
matrix workflow, including :class:`~nasfast.search.PredictorSearch` with ``encoding="adjacency"``.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted, check_X_y

from ._params import float_param, int_param
from ._threads import for_blocks, one_blas_thread

__all__ = ["GCNRegressor", "decode_adjacency_features"]

#: Graphs scored per block in ``predict`` (bounds the activations to a few MB per thread).
_PREDICT_CHUNK = 8_192

Graphs = tuple[npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[Any]]


def _edge_positions(max_vertices: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Source and target positions of every edge bit (bit ``x + y(y-1)/2`` is the edge x -> y)."""
    xs, ys = [], []
    for y in range(1, max_vertices):
        for x in range(y):
            xs.append(x)
            ys.append(y)
    return np.asarray(xs, dtype=np.intp), np.asarray(ys, dtype=np.intp)


def decode_adjacency_features(
    X: npt.ArrayLike, max_vertices: int, n_ops: int, dtype: Any = np.float32
) -> Graphs:
    """The graphs encoded in rows of the ``"adjacency"`` encoding.

    Parameters
    ----------
    X : array-like of shape (n, V(V-1)/2 + (V-2) * n_ops)
        Rows of ``CellBatch.encode("adjacency")`` for a space of ``V = max_vertices`` vertices and
        ``n_ops`` ops.
    max_vertices, n_ops : int
        V and the number of interior ops of the space.
    dtype : numpy float dtype
        Of the returned arrays.

    Returns
    -------
    features : ndarray (n, V, n_ops + 2)
        One-hot vertex labels: input, output, then the ops.
    forward : ndarray (n, V, V)
        ``A^T + I`` with rows normalised to sum 1: row v averages v and its predecessors.
    backward : ndarray (n, V, V)
        ``A + I`` with rows normalised: row v averages v and its successors.
    mask : ndarray (n, V)
        1 for the vertices of the cell, 0 for empty positions.

    Raises
    ------
    ValueError
        If ``X`` does not have the encoding's number of columns, holds values other than 0 and
        1, has more than one op at a position, or an edge at an empty position.
    """
    V, k = int(max_vertices), int(n_ops)
    X = np.asarray(X)
    n_edges = V * (V - 1) // 2
    dim = n_edges + (V - 2) * k
    if X.ndim != 2 or X.shape[1] != dim:
        raise ValueError(
            f"X has shape {X.shape}: the adjacency encoding of a space of {V} vertices and {k} ops has {dim} columns"
        )
    if X.size and not np.all((X == 0) | (X == 1)):
        row, col = (int(i[0]) for i in np.nonzero((X != 0) & (X != 1)))
        raise ValueError(f"row {row}, column {col} of X holds {float(X[row, col]):g}: the adjacency encoding is 0/1")
    n = X.shape[0]
    xs, ys = _edge_positions(V)
    A = np.zeros((n, V, V), dtype=dtype)
    A[:, xs, ys] = X[:, :n_edges]
    ops = X[:, n_edges:].reshape(n, V - 2, k).astype(dtype)
    per_position = ops.sum(axis=2)
    if np.any(per_position > 1):
        row = int(np.flatnonzero((per_position > 1).any(axis=1))[0])
        raise ValueError(f"row {row} of X has several ops at one position")
    mask = np.ones((n, V), dtype=dtype)
    mask[:, 1 : V - 1] = per_position
    touched = (A.sum(axis=1) + A.sum(axis=2)) > 0
    if np.any(touched & (mask == 0)):
        row = int(np.flatnonzero((touched & (mask == 0)).any(axis=1))[0])
        raise ValueError(f"row {row} of X has an edge at a position without an op")
    features = np.zeros((n, V, k + 2), dtype=dtype)
    features[:, 0, 0] = 1
    features[:, V - 1, 1] = 1
    features[:, 1 : V - 1, 2:] = ops
    eye = np.eye(V, dtype=dtype)
    fwd = np.swapaxes(A, 1, 2) + eye
    bwd = A + eye
    fwd /= fwd.sum(axis=2, keepdims=True)
    bwd /= bwd.sum(axis=2, keepdims=True)
    return features, fwd, bwd, mask


def _init_params(rng: np.random.RandomState, in_dim: int, hidden: int, n_layers: int, dtype: Any) -> list[npt.NDArray[Any]]:
    """Glorot-uniform weights ``[Wf_1, Wb_1, ..., Wf_L, Wb_L, w_head, b_head]``."""
    params = []
    d = in_dim
    for _ in range(n_layers):
        bound = np.sqrt(6.0 / (d + hidden))
        params.append(rng.uniform(-bound, bound, size=(d, hidden)).astype(dtype))
        params.append(rng.uniform(-bound, bound, size=(d, hidden)).astype(dtype))
        d = hidden
    bound = np.sqrt(6.0 / (hidden + 1))
    params.append(rng.uniform(-bound, bound, size=hidden).astype(dtype))
    params.append(np.zeros(1, dtype=dtype))
    return params


def _forward(params: list[npt.NDArray[Any]], graphs: Graphs, keep: bool = False) -> tuple[npt.NDArray[Any], list[Any]]:
    """The network's output for every graph and, with ``keep``, what the backward pass needs.

    Layer l: ``H_l = (relu(F H_{l-1} Wf_l) + relu(B H_{l-1} Wb_l)) / 2`` with ``F``/``B`` the
    forward/backward propagation matrices; then the mean of ``H_L`` over the cell's vertices and
    the linear head. Empty positions stay zero in every layer (no bias, no edges).
    """
    feats, fwd, bwd, mask = graphs
    H = feats
    cache: list[Any] = []
    n_layers = (len(params) - 2) // 2
    for layer in range(n_layers):
        Wf, Wb = params[2 * layer], params[2 * layer + 1]
        Rf = np.maximum(fwd @ (H @ Wf), 0)
        Rb = np.maximum(bwd @ (H @ Wb), 0)
        if keep:
            cache.append((H, Rf, Rb))
        H = Rf + Rb
        H *= 0.5
    counts = mask.sum(axis=1, keepdims=True)
    pooled = np.einsum("bvd,bv->bd", H, mask) / counts
    out = pooled @ params[-2] + params[-1][0]
    if keep:
        cache.append((pooled, counts))
    return out, cache


def _loss_and_grad(
    params: list[npt.NDArray[Any]], graphs: Graphs, y: npt.NDArray[Any], l2: float
) -> tuple[float, list[npt.NDArray[Any]]]:
    """Mean squared error plus ``l2/2 * sum ||W||^2`` over the weight matrices and the head
    weights (not its bias), and its gradient with respect to every parameter."""
    feats, fwd, bwd, mask = graphs
    out, cache = _forward(params, graphs, keep=True)
    n = len(y)
    resid = out - y
    weights = params[:-1]
    loss = float(np.mean(resid * resid)) + 0.5 * l2 * float(sum(np.sum(w * w) for w in weights))
    grads: list[npt.NDArray[Any]] = [np.empty(0)] * len(params)
    d_out = (2.0 / n) * resid
    pooled, counts = cache[-1]
    grads[-2] = pooled.T @ d_out + l2 * params[-2]
    grads[-1] = np.asarray([d_out.sum()], dtype=params[-1].dtype)
    d_pooled = d_out[:, None] * params[-2][None, :]
    dH = (mask / counts)[:, :, None] * d_pooled[:, None, :]
    n_layers = (len(params) - 2) // 2
    fwd_t = np.swapaxes(fwd, 1, 2)
    bwd_t = np.swapaxes(bwd, 1, 2)
    for layer in reversed(range(n_layers)):
        H, Rf, Rb = cache[layer]
        Wf, Wb = params[2 * layer], params[2 * layer + 1]
        dH *= 0.5
        dHWf = fwd_t @ np.where(Rf > 0, dH, 0)
        dHWb = bwd_t @ np.where(Rb > 0, dH, 0)
        H2 = H.reshape(-1, H.shape[-1])
        grads[2 * layer] = H2.T @ dHWf.reshape(-1, dHWf.shape[-1]) + l2 * Wf
        grads[2 * layer + 1] = H2.T @ dHWb.reshape(-1, dHWb.shape[-1]) + l2 * Wb
        if layer:
            dH = dHWf @ Wf.T
            dH += dHWb @ Wb.T
    return loss, grads


def _subset(graphs: Graphs, idx: npt.NDArray[np.intp]) -> Graphs:
    return graphs[0][idx], graphs[1][idx], graphs[2][idx], graphs[3][idx]


class GCNRegressor(RegressorMixin, BaseEstimator):
    """A graph convolutional network on the ``"adjacency"`` encoding (numpy; no PyTorch).

    Every vertex starts from its one-hot label (input, output or op). Each of the ``n_layers``
    layers averages, for every vertex, its predecessors and itself through one weight matrix and
    its successors and itself through another, applies a ReLU to each and takes their mean:
    ``H' = (relu(F H Wf) + relu(B H Wb)) / 2`` with ``F`` the row-normalised ``A^T + I`` and
    ``B`` the row-normalised ``A + I``. The last layer is averaged over the cell's vertices and a
    linear head gives the prediction. The targets are standardised for training; the loss is the
    mean squared error plus ``weight_decay / 2`` times the squared weights, minimised by Adam on
    mini-batches. Mean pooling makes the prediction invariant under relabelling the vertices
    of a cell (isomorphic cells get the same prediction up to float rounding).

    Parameters
    ----------
    max_vertices : int
        V of the space whose adjacency encoding ``X`` holds (7 for NAS-Bench-101).
    n_ops : int
        Interior ops of the space (3 for NAS-Bench-101). ``X`` must have
        ``V(V-1)/2 + (V-2) * n_ops`` columns; for another space pass
        ``max_vertices=space.max_vertices, n_ops=space.num_ops``.
    hidden : int
        Width of every layer.
    n_layers : int
        Graph-convolution layers.
    epochs : int
        Passes over the training cells.
    batch_size : int
        Cells per Adam step (the last batch of an epoch may be smaller).
    learning_rate : float
        Adam's step size.
    weight_decay : float
        L2 penalty on the weights.
    random_state : None, int or RandomState
        Seed of the initial weights and the batch order; the same seed gives the same model.
    n_jobs : int, optional
        Threads of ``predict`` (``None`` or -1: all cores), each scoring blocks of cells; the
        result does not depend on it. Training is sequential (one BLAS thread: its products are
        too small to share).

    Attributes
    ----------
    params_ : list of ndarray
        ``[Wf_1, Wb_1, ..., Wf_L, Wb_L, w_head, b_head]`` (float32).
    loss_curve_ : ndarray
        The mean training loss of every epoch (on the standardised targets).
    n_features_in_ : int

    Notes
    -----
    scikit-learn's ``check_estimator`` does not apply: its checks fit on random continuous
    matrices, which are not adjacency encodings and are refused with a ``ValueError``. The
    estimator conventions (``get_params``, ``clone``, pickling, determinism) are tested
    directly.

    Examples
    --------
    >>> from nasfast import SearchSpace
    >>> cells = SearchSpace.nb101().sample(100, random_state=0)
    >>> X = cells.encode("adjacency")
    >>> y = cells.num_edges.astype(float)
    >>> model = GCNRegressor(epochs=20, random_state=0).fit(X, y)
    >>> model.predict(X[:2]).shape
    (2,)
    """

    #: The encoding whose column layout the network reads: a search must pass it every column
    #: of ``CellBatch.encode("adjacency")`` in order (no column left out, e.g. for being
    #: constant over the training cells).
    feature_layout = "adjacency"

    def __init__(
        self,
        max_vertices: int = 7,
        n_ops: int = 3,
        *,
        hidden: int = 32,
        n_layers: int = 4,
        epochs: int = 100,
        batch_size: int = 32,
        learning_rate: float = 3e-3,
        weight_decay: float = 1e-4,
        random_state: Any = None,
        n_jobs: Optional[int] = None,
    ) -> None:
        self.max_vertices = max_vertices
        self.n_ops = n_ops
        self.hidden = hidden
        self.n_layers = n_layers
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.random_state = random_state
        self.n_jobs = n_jobs



    def _graphs(self, X: npt.NDArray[Any]) -> Graphs:
        V = int_param("max_vertices", self.max_vertices, 2)
        k = int_param("n_ops", self.n_ops, 1)
        return decode_adjacency_features(X, V, k, dtype=np.float32)

    def fit(self, X: npt.ArrayLike, y: npt.ArrayLike) -> GCNRegressor:
        """Trains the network on the adjacency encodings ``X`` (n, d) and targets ``y`` (n,).

        Raises
        ------
        ValueError
            If ``X`` is not an adjacency encoding for ``max_vertices`` and ``n_ops`` (see
            :func:`decode_adjacency_features`) or a parameter is out of range.
        """
        rows: npt.NDArray[np.float32]
        rows, y_checked = check_X_y(X, y, dtype=np.float32, y_numeric=True)
        hidden = int_param("hidden", self.hidden, 1)
        n_layers = int_param("n_layers", self.n_layers, 1)
        epochs = int_param("epochs", self.epochs, 1)
        batch = int_param("batch_size", self.batch_size, 1)
        lr = float_param("learning_rate", self.learning_rate, positive=True)
        l2 = float_param("weight_decay", self.weight_decay, positive=False)
        graphs = self._graphs(rows)
        y64 = np.asarray(y_checked, dtype=np.float64)
        self.y_mean_ = float(y64.mean())
        scale = float(y64.std())
        self.y_scale_ = scale if scale > 0 else 1.0
        target = ((y64 - self.y_mean_) / self.y_scale_).astype(np.float32)
        rng = check_random_state(self.random_state)
        params = _init_params(rng, self.n_ops + 2, hidden, n_layers, np.float32)
        m = [np.zeros_like(p) for p in params]
        v = [np.zeros_like(p) for p in params]
        b1, b2, eps = 0.9, 0.999, 1e-8
        n = len(target)
        step = 0
        curve = np.empty(epochs)
        with one_blas_thread():  # products of a batch of 32 cells: threads only cost
            for epoch in range(epochs):
                order = rng.permutation(n)
                total = 0.0
                for a in range(0, n, batch):
                    idx = order[a : a + batch]
                    loss, grads = _loss_and_grad(params, _subset(graphs, idx), target[idx], l2)
                    total += loss * len(idx)
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

    def predict(self, X: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """The predicted target of every row of ``X`` (blocks of 8,192 cells on ``n_jobs`` threads)."""
        check_is_fitted(self, "params_")
        rows: npt.NDArray[np.float32] = check_array(X, dtype=np.float32)
        if rows.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {rows.shape[1]} features, but GCNRegressor is expecting {self.n_features_in_} features as input"
            )
        out = np.empty(len(rows), dtype=np.float64)

        def work(a: int, b: int) -> None:
            out[a:b] = _forward(self.params_, self._graphs(rows[a:b]))[0]

        for_blocks(work, len(rows), _PREDICT_CHUNK, self.n_jobs)
        return out * self.y_scale_ + self.y_mean_
