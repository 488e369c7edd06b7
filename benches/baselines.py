"""Pure-Python baselines for the benchmarks of the nasfast core.

Each function is written from ``docs/nb101-reference.md`` in the style of the published
NAS-Bench-101 Python code (numpy matrices indexed element by element, ``hashlib``, plain
loops, retry-until-valid samplers), so the benchmarks compare nasfast with what the same work
costs in the usual Python implementations. A cell here is a pair ``(matrix, labels)``: a square
upper-triangular 0/1 ``numpy`` integer matrix and a list of integer labels (input -1, output -2,
interior ops 0, 1, 2 for ``conv3x3-bn-relu``, ``conv1x1-bn-relu``, ``maxpool3x3``).

The functions depend on numpy and the standard library only, never on nasfast.
"""

from __future__ import annotations

import hashlib
import itertools
import random
import time
from typing import Callable, Optional

import numpy as np
import numpy.typing as npt

#: Label of the input vertex.
INPUT = -1
#: Label of the output vertex.
OUTPUT = -2
#: Number of interior ops of NAS-Bench-101.
NUM_OPS = 3
#: Largest number of vertices of a NAS-Bench-101 cell (after pruning).
MAX_VERTICES = 7
#: Largest number of edges of a NAS-Bench-101 cell (after pruning).
MAX_EDGES = 9
#: Number of features of the path encoding: 1 + 3 + 9 + 27 + 81 + 243.
PATH_DIM = sum(NUM_OPS**length for length in range(MAX_VERTICES - 1))

Matrix = npt.NDArray[np.int64]
Cell = tuple[Matrix, list[int]]
Digest = Callable[[str], str]


# --------------------------------------------------------------------------- MD5 and the hash


def md5_hex(text: str) -> str:
    """Lowercase hex MD5 of the UTF-8 bytes of ``text``."""
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def md5_blocks(num_bytes: int) -> int:
    """Number of 64-byte blocks MD5 compresses for a message of ``num_bytes`` bytes.

    MD5 appends one ``0x80`` byte and an 8-byte length, then pads to a multiple of 64 bytes.
    """
    return (num_bytes + 8) // 64 + 1


class CountingMD5:
    """A digest like :func:`md5_hex` that also counts the MD5 blocks it compresses."""

    def __init__(self) -> None:
        self.blocks = 0
        self.calls = 0

    def __call__(self, text: str) -> str:
        data = text.encode("utf-8")
        self.blocks += md5_blocks(len(data))
        self.calls += 1
        return hashlib.md5(data).hexdigest()


def md5_block_rate(
    timer: Callable[[], float] = time.perf_counter, total_bytes: int = 1 << 22, repeats: int = 5
) -> float:
    """Raw MD5 throughput of this machine in 64-byte blocks per second (``hashlib``, one thread).

    One MD5 object is fed a buffer of ``total_bytes`` bytes (a whole number of blocks), which
    measures the compression function without per-message overhead; best of ``repeats`` as
    measured by ``timer`` (use the benchmarks' timer).
    """
    buffer = bytes(range(256)) * (total_bytes // 256)
    best = float("inf")
    for _ in range(repeats):
        start = timer()
        hashlib.md5(buffer).digest()
        best = min(best, timer() - start)
    return len(buffer) / 64 / best


def nb101_hash(matrix: Matrix, labels: list[int], digest: Digest = md5_hex) -> str:
    """The NAS-Bench-101 module hash of a pruned cell (reference section 3)."""
    n = matrix.shape[0]
    in_degree = np.sum(matrix, axis=0).tolist()
    out_degree = np.sum(matrix, axis=1).tolist()
    hashes = [digest(str((out_degree[v], in_degree[v], labels[v]))) for v in range(n)]
    for _ in range(n):
        new_hashes = []
        for v in range(n):
            in_hashes = sorted(hashes[u] for u in range(n) if matrix[u, v])
            out_hashes = sorted(hashes[w] for w in range(n) if matrix[v, w])
            new_hashes.append(digest("".join(in_hashes) + "|" + "".join(out_hashes) + "|" + hashes[v]))
        hashes = new_hashes
    return digest(str(sorted(hashes)))


# ------------------------------------------------------------------------ pruning and validity


def prune(matrix: Matrix, labels: list[int]) -> Optional[Cell]:
    """Drops the vertices not on an input-output path; ``None`` if input cannot reach output."""
    n = matrix.shape[0]
    from_input = {0}
    frontier = [0]
    while frontier:
        u = frontier.pop()
        for v in range(u + 1, n):
            if matrix[u, v] and v not in from_input:
                from_input.add(v)
                frontier.append(v)
    if n - 1 not in from_input:
        return None
    to_output = {n - 1}
    frontier = [n - 1]
    while frontier:
        v = frontier.pop()
        for u in range(v):
            if matrix[u, v] and u not in to_output:
                to_output.add(u)
                frontier.append(u)
    keep = sorted(from_input & to_output)
    if len(keep) == n:
        return matrix, list(labels)
    return matrix[np.ix_(keep, keep)], [labels[v] for v in keep]


def validate(matrix: Matrix, labels: list[int]) -> Optional[Cell]:
    """The pruned cell if it is a valid NAS-Bench-101 cell (reference section 2), else ``None``."""
    pruned = prune(matrix, labels)
    if pruned is None:
        return None
    matrix, labels = pruned
    if matrix.shape[0] > MAX_VERTICES or int(np.sum(matrix)) > MAX_EDGES:
        return None
    if labels[0] != INPUT or labels[-1] != OUTPUT:
        return None
    if any(not 0 <= label < NUM_OPS for label in labels[1:-1]):
        return None
    return matrix, labels


# ------------------------------------------------------------------------------ canonical form


def canonical_form(matrix: Matrix, labels: list[int]) -> tuple[tuple[int, ...], tuple[tuple[int, int], ...]]:
    """An exact canonical form of a pruned cell by brute force over vertex orders.

    The smallest ``(labels, sorted edges)`` over every order of the interior vertices that keeps
    input first, output last and every edge pointing forward: equal for two cells exactly when
    they are isomorphic.
    """
    n = len(labels)
    edges = [(u, v) for u in range(n) for v in range(u + 1, n) if matrix[u, v]]
    best = None
    for interior in itertools.permutations(range(1, n - 1)):
        position = [0] * n
        for new, old in enumerate(interior, start=1):
            position[old] = new
        position[n - 1] = n - 1
        if any(position[u] > position[v] for u, v in edges):
            continue
        order = [0, *interior, n - 1]
        key = (tuple(labels[v] for v in order), tuple(sorted((position[u], position[v]) for u, v in edges)))
        if best is None or key < best:
            best = key
    assert best is not None  # the identity order keeps every edge forward
    return best


# -------------------------------------------------------------------------------- enumeration


def edge_pairs(n: int) -> list[tuple[int, int]]:
    """The edges ``x -> y`` of an ``n``-vertex matrix in reference bit order (bit ``x + y(y-1)/2``)."""
    return [(x, y) for y in range(1, n) for x in range(y)]


def enumerate_reference(stride: int = 1) -> tuple[dict[str, Cell], int]:
    """The reference enumeration of NAS-Bench-101 (reference section 4) on every ``stride``-th mask.

    For V = 2..7 and every ``stride``-th edge mask of V(V-1)/2 bits, keeps the matrices with at
    most 9 edges in which every vertex but the output has an outgoing edge and every vertex but
    the input an incoming one, hashes each of their 3^(V-2) labellings and keeps the first cell
    per hash. ``stride=1`` is the whole space. Returns ``({hash: cell}, labelled cells hashed)``.
    """
    unique: dict[str, Cell] = {}
    labelled = 0
    for n in range(2, MAX_VERTICES + 1):
        pairs = edge_pairs(n)
        for mask in range(0, 1 << len(pairs), stride):
            if bin(mask).count("1") > MAX_EDGES:
                continue
            matrix = np.zeros((n, n), dtype=np.int64)
            for bit, (x, y) in enumerate(pairs):
                if mask >> bit & 1:
                    matrix[x, y] = 1
            if not (np.all(matrix[:-1].sum(axis=1) > 0) and np.all(matrix[:, 1:].sum(axis=0) > 0)):
                continue
            for interior in itertools.product(range(NUM_OPS), repeat=n - 2):
                labels = [INPUT, *interior, OUTPUT]
                labelled += 1
                key = nb101_hash(matrix, labels)
                if key not in unique:
                    unique[key] = (matrix, labels)
    return unique, labelled


# ----------------------------------------------------------------------------- neighbourhood


def topological_sort(matrix: Matrix, labels: list[int]) -> Cell:
    """A DAG whose matrix may have edges pointing backwards, renumbered in topological order."""
    n = len(labels)
    in_degree = np.sum(matrix, axis=0).tolist()
    ready = [v for v in range(n) if in_degree[v] == 0]
    order = []
    while ready:
        u = min(ready)
        ready.remove(u)
        order.append(u)
        for w in range(n):
            if matrix[u, w]:
                in_degree[w] -= 1
                if in_degree[w] == 0:
                    ready.append(w)
    assert len(order) == n, "the graph has a cycle"
    return matrix[np.ix_(order, order)], [labels[v] for v in order]


def neighbours_reference(matrix: Matrix, labels: list[int]) -> list[Cell]:
    """Every cell one edit away from a pruned valid cell, de-duplicated by hash.

    The edits of the nasfast rule, applied naszilla-style to the matrix (edit, put in
    topological order, prune, validate, keep the first cell per hash, drop the parent's hash):
    change an interior op; remove an edge; add an edge ``x -> y`` (x not the output, y not the
    input) in either direction when y cannot reach x; or insert a new vertex with any op on a new
    path ``a -> new -> b`` (a not the output, b not the input) when b cannot reach a.
    """
    n = len(labels)
    reach = [{u} for u in range(n)]  # reach[u]: the vertices u can reach (u included)
    for u in reversed(range(n)):
        for w in range(u + 1, n):
            if matrix[u, w]:
                reach[u] |= reach[w]
    seen = {nb101_hash(matrix, labels)}
    found: list[Cell] = []

    def consider(new_matrix: Matrix, new_labels: list[int]) -> None:
        cell = validate(*topological_sort(new_matrix, new_labels))
        if cell is not None:
            key = nb101_hash(*cell)
            if key not in seen:
                seen.add(key)
                found.append(cell)

    for v in range(1, n - 1):
        for op in range(NUM_OPS):
            if op != labels[v]:
                consider(matrix, labels[:v] + [op] + labels[v + 1 :])
    for x, y in edge_pairs(n):
        if matrix[x, y]:
            new_matrix = matrix.copy()
            new_matrix[x, y] = 0
            consider(new_matrix, labels)
    for x in range(n - 1):
        for y in range(1, n):
            if x != y and not matrix[x, y] and x not in reach[y]:
                new_matrix = matrix.copy()
                new_matrix[x, y] = 1
                consider(new_matrix, labels)
    if n < MAX_VERTICES:
        for a in range(n - 1):
            for b in range(1, n):
                if a != b and a not in reach[b]:
                    for op in range(NUM_OPS):
                        # the new vertex is appended as vertex n, then the cell is renumbered
                        new_matrix = np.pad(matrix, ((0, 1), (0, 1)))
                        new_matrix[a, n] = 1
                        new_matrix[n, b] = 1
                        consider(new_matrix, [*labels, op])
    return found


# ------------------------------------------------------------------- mutation and sampling


def mutate_reference(
    matrix: Matrix, labels: list[int], rng: random.Random, edge_prob: float = 1 / 7, op_prob: float = 1 / 5
) -> Cell:
    """One child of a pruned valid cell, NAS-Bench-101 notebook style (reference section 6).

    The parent is embedded in a 7 x 7 matrix (output moved to vertex 6, the free vertices
    dormant with random ops); every upper-triangle bit is flipped with ``edge_prob``, every
    interior op changed to another op with ``op_prob``, and the draw repeated until valid.
    """
    n = len(labels)
    position = [*range(n - 1), MAX_VERTICES - 1]
    base = np.zeros((MAX_VERTICES, MAX_VERTICES), dtype=np.int64)
    base[np.ix_(position, position)] = matrix
    base_labels = [INPUT] + [rng.randrange(NUM_OPS) for _ in range(MAX_VERTICES - 2)] + [OUTPUT]
    for old, new in enumerate(position[1:-1], start=1):
        base_labels[new] = labels[old]
    while True:
        child = base.copy()
        child_labels = list(base_labels)
        for x in range(MAX_VERTICES - 1):
            for y in range(x + 1, MAX_VERTICES):
                if rng.random() < edge_prob:
                    child[x, y] = 1 - child[x, y]
        for v in range(1, MAX_VERTICES - 1):
            if rng.random() < op_prob:
                child_labels[v] = rng.choice([op for op in range(NUM_OPS) if op != child_labels[v]])
        cell = validate(child, child_labels)
        if cell is not None:
            return cell


def sample_rejection_reference(rng: np.random.Generator) -> tuple[Cell, int]:
    """One cell of the conventional sampler (reference section 5) and the number of draws it took.

    A random upper-triangular 7 x 7 matrix and random interior ops, redrawn until valid.
    """
    draws = 0
    while True:
        draws += 1
        matrix = np.triu(rng.integers(0, 2, size=(MAX_VERTICES, MAX_VERTICES)), 1)
        labels = [INPUT, *rng.integers(0, NUM_OPS, size=MAX_VERTICES - 2).tolist(), OUTPUT]
        cell = validate(matrix, labels)
        if cell is not None:
            return cell, draws


# ---------------------------------------------------------------------------------- encoding


def path_encoding_reference(matrix: Matrix, labels: list[int]) -> npt.NDArray[np.float32]:
    """The path encoding of a pruned cell (reference section 7) in nasfast's feature order.

    One bit per input-output path, a path being its sequence of interior ops; the paths with l
    interior ops occupy ``(3^l - 1) / 2 + code``, ``code`` reading the ops in base 3, first op
    most significant.
    """
    n = len(labels)
    paths: list[list[tuple[int, ...]]] = [[] for _ in range(n)]
    paths[0].append(())
    for u in range(n - 1):
        extended = paths[u] if u == 0 else [(*path, labels[u]) for path in paths[u]]
        for v in range(u + 1, n):
            if matrix[u, v]:
                paths[v].extend(extended)
    encoding = np.zeros(PATH_DIM, dtype=np.float32)
    for path in paths[n - 1]:
        code = 0
        for op in path:
            code = code * NUM_OPS + op
        encoding[(NUM_OPS ** len(path) - 1) // (NUM_OPS - 1) + code] = 1.0
    return encoding


# ------------------------------------------------------------------------ graph network (GCN)


Params = list[npt.NDArray[np.float32]]


def gcn_graph(matrix: Matrix, labels: list[int], num_ops: int = NUM_OPS) -> tuple[npt.NDArray[np.float32], ...]:
    """One cell's inputs to the graph network: one-hot labels (input, output, ops), the
    row-normalised ``A^T + I`` (each vertex and its predecessors) and ``A + I`` (its successors)."""
    n = len(labels)
    h = np.zeros((n, num_ops + 2), dtype=np.float32)
    for v, label in enumerate(labels):
        h[v, 0 if label == INPUT else 1 if label == OUTPUT else 2 + label] = 1.0
    a = np.asarray(matrix, dtype=np.float32)
    fwd = a.T + np.eye(n, dtype=np.float32)
    bwd = a + np.eye(n, dtype=np.float32)
    return h, fwd / fwd.sum(axis=1, keepdims=True), bwd / bwd.sum(axis=1, keepdims=True)


def gcn_forward_graph(graph: tuple[npt.NDArray[np.float32], ...], params: Params) -> tuple[float, list[tuple[npt.NDArray[np.float32], ...]], npt.NDArray[np.float32]]:
    """Output of the network for one cell (layers ``(relu(F H Wf) + relu(B H Wb)) / 2``, mean
    over the vertices, linear head), with what the backward pass needs."""
    h, fwd, bwd = graph
    cache = []
    for layer in range((len(params) - 2) // 2):
        zf = fwd @ h @ params[2 * layer]
        zb = bwd @ h @ params[2 * layer + 1]
        cache.append((h, zf, zb))
        h = 0.5 * (np.maximum(zf, 0) + np.maximum(zb, 0))
    pooled = h.mean(axis=0)
    return float(pooled @ params[-2] + params[-1][0]), cache, pooled


def gcn_fit_per_graph(
    cells: list[Cell], y: npt.NDArray[np.float32], params: Params, orders: list[npt.NDArray[np.int64]],
    batch_size: int, learning_rate: float, weight_decay: float,
) -> Params:
    """Adam on mini-batches (the cells of ``orders[epoch]`` in slices of ``batch_size``), one
    cell at a time: forward, backward and gradient sums in plain numpy per graph. The loss of a
    batch is the mean squared error plus ``weight_decay / 2`` times the squared weights."""
    graphs = [gcn_graph(m, labels) for m, labels in cells]
    params = [p.copy() for p in params]
    m1 = [np.zeros_like(p) for p in params]
    m2 = [np.zeros_like(p) for p in params]
    step = 0
    for order in orders:
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            grads = [np.zeros_like(p) for p in params]
            for i in batch:
                out, cache, pooled = gcn_forward_graph(graphs[i], params)
                d_out = 2.0 * (out - float(y[i])) / len(batch)
                grads[-2] += d_out * pooled
                grads[-1][0] += d_out
                h_last_grad = np.tile(d_out * params[-2] / len(cache[0][0]), (len(cache[0][0]), 1))
                _, fwd, bwd = graphs[i]
                dh = h_last_grad
                for layer in reversed(range(len(cache))):
                    h, zf, zb = cache[layer]
                    dzf = 0.5 * dh * (zf > 0)
                    dzb = 0.5 * dh * (zb > 0)
                    grads[2 * layer] += (fwd @ h).T @ dzf
                    grads[2 * layer + 1] += (bwd @ h).T @ dzb
                    dh = fwd.T @ dzf @ params[2 * layer].T + bwd.T @ dzb @ params[2 * layer + 1].T
            for k in range(len(params) - 1):
                grads[k] += weight_decay * params[k]
            step += 1
            for p, g, a, b in zip(params, grads, m1, m2):
                a[:] = 0.9 * a + 0.1 * g
                b[:] = 0.999 * b + 0.001 * g * g
                p -= learning_rate / (1 - 0.9**step) * a / (np.sqrt(b / (1 - 0.999**step)) + 1e-8)
    return params


def gcn_predict_per_graph(cells: list[Cell], params: Params) -> npt.NDArray[np.float64]:
    """The network's output for every cell, one cell at a time."""
    return np.array([gcn_forward_graph(gcn_graph(m, labels), params)[0] for m, labels in cells])
