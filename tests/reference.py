"""Independent pure-Python references for the tests of the core bindings.

Everything here is written from ``docs/nb101-reference.md`` and the documented API, without
calling nasfast: the NAS-Bench-101 module hash (§3), pruning and validity (§2), brute-force
isomorphism, the reference enumeration of a space (§4), single edits (the neighbourhood rule)
and the feature encodings. A cell is a pair ``(adjacency, ops)``: a square 0/1 numpy array and a
list of op codes (input -1, output -2, interior ops their index into the space's op list).
"""

from __future__ import annotations

import functools
import hashlib
import itertools
from collections.abc import Iterator
from typing import Any, Optional

import numpy as np
import numpy.typing as npt

Cell = tuple[npt.NDArray[np.uint8], list[int]]

OP_INPUT = -1
OP_OUTPUT = -2
OP_PAD = -3
NB101_OPS = ["conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3"]
NB101_MAX_VERTICES = 7
NB101_MAX_EDGES = 9

#: Unique NAS-Bench-101 cells with exactly V vertices (reference §4).
NB101_UNIQUE_BY_VERTICES = {2: 1, 3: 6, 4: 84, 5: 2441, 6: 62010, 7: 359082}
#: Labelled cells per vertex count before de-duplication (reference §4).
NB101_LABELLED_BY_VERTICES = {2: 1, 3: 6, 4: 90, 5: 3267, 6: 125145, 7: 1164699}
NB101_NUM_CELLS = 423624

#: The first row of the published data set and its hash (reference §3).
TEST_VECTOR_OPS = [OP_INPUT, 0, 2, 0, 0, 1, OP_OUTPUT]
TEST_VECTOR_EDGES = [(0, 1), (0, 4), (0, 5), (1, 2), (2, 3), (2, 6), (3, 5), (4, 5), (5, 6)]
TEST_VECTOR_HASH = "00005c142e6f48ac74fdcf73e3439874"


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def matrix_from_edges(n: int, edges: list[tuple[int, int]]) -> npt.NDArray[np.uint8]:
    """The n x n 0/1 matrix with the given edges."""
    adj = np.zeros((n, n), dtype=np.uint8)
    for x, y in edges:
        adj[x, y] = 1
    return adj


# --------------------------------------------------------------------------------------------
# §3: the module hash


def nb101_hash(adjacency: npt.ArrayLike, ops: list[int]) -> str:
    """The NAS-Bench-101 module hash of a (pruned) cell, as 32 lowercase hex digits."""
    adj = [[int(x) for x in row] for row in np.asarray(adjacency)]
    labels = [int(o) for o in ops]
    n = len(labels)
    out_degree = [sum(adj[v]) for v in range(n)]
    in_degree = [sum(adj[u][v] for u in range(n)) for v in range(n)]
    hashes = [_md5(str((out_degree[v], in_degree[v], labels[v]))) for v in range(n)]
    for _ in range(n):
        new = []
        for v in range(n):
            ins = "".join(sorted(hashes[u] for u in range(n) if adj[u][v]))
            outs = "".join(sorted(hashes[w] for w in range(n) if adj[v][w]))
            new.append(_md5(ins + "|" + outs + "|" + hashes[v]))
        hashes = new
    return _md5(str(sorted(hashes)))


# --------------------------------------------------------------------------------------------
# §2: pruning and validity


def prune(adjacency: npt.ArrayLike, ops: list[int]) -> Optional[Cell]:
    """The cell restricted to the vertices on an input -> output path, or None if the input
    cannot reach the output."""
    adj = np.asarray(adjacency, dtype=np.uint8)
    n = adj.shape[0]
    forward = {0}
    for v in range(n):
        if v in forward:
            forward.update(int(w) for w in np.flatnonzero(adj[v]))
    backward = {n - 1}
    for v in range(n - 1, -1, -1):
        if any(int(w) in backward for w in np.flatnonzero(adj[v])):
            backward.add(v)
    keep = sorted(forward & backward)
    if 0 not in keep or n - 1 not in keep:
        return None
    return adj[np.ix_(keep, keep)].copy(), [int(ops[v]) for v in keep]


def is_valid(
    adjacency: npt.ArrayLike, ops: list[int], max_vertices: int, max_edges: int, num_ops: int
) -> bool:
    """Whether the cell is valid in the space (§2), judged on its pruned form."""
    pruned = prune(adjacency, ops)
    if pruned is None:
        return False
    adj, pops = pruned
    n = len(pops)
    return (
        n <= max_vertices
        and int(adj.sum()) <= max_edges
        and pops[0] == OP_INPUT
        and pops[-1] == OP_OUTPUT
        and all(0 <= o < num_ops for o in pops[1:-1])
        and not np.tril(adj).any()
    )


def official_validity(
    adjacency: npt.ArrayLike, labels: list[str], max_vertices: int, max_edges: int, op_names: list[str]
) -> Optional[bool]:
    """How the official API judges a cell given as a square matrix and op names (§2): ``None``
    when its model-spec constructor refuses it (a matrix that is not square, a number of ops
    other than its side, an edge on or below the diagonal), otherwise whether the cell is valid:
    pruned first, then at most ``max_vertices`` vertices and ``max_edges`` edges, the first op
    ``input``, the last ``output`` and every other op one of ``op_names``. Entries count as
    edges when they are non-zero, as in the official code."""
    adj = np.asarray(adjacency)
    if adj.ndim != 2 or adj.shape[0] != adj.shape[1] or len(labels) != adj.shape[0]:
        return None
    edges = adj != 0
    if np.tril(edges).any():
        return None
    if len(labels) < 2:
        return False
    pruned = prune(edges.astype(np.uint8), list(range(len(labels))))
    if pruned is None:
        return False
    padj, kept = pruned
    names = [labels[v] for v in kept]
    return (
        len(names) <= max_vertices
        and int(padj.sum()) <= max_edges
        and names[0] == "input"
        and names[-1] == "output"
        and all(o in op_names for o in names[1:-1])
    )


def is_pruned_valid(cell: Cell, max_vertices: int, max_edges: int, num_ops: int) -> bool:
    """Whether the cell is valid and already equal to its pruned form."""
    adj, ops = cell
    pruned = prune(adj, ops)
    return (
        pruned is not None
        and len(pruned[1]) == len(ops)
        and is_valid(adj, ops, max_vertices, max_edges, num_ops)
    )


# --------------------------------------------------------------------------------------------
# isomorphism by brute force


def _interior_permutations(n: int) -> npt.NDArray[np.intp]:
    products = list(itertools.permutations(range(1, n - 1)))
    perms = np.array(products, dtype=np.intp).reshape(len(products), n - 2)
    first = np.zeros((len(perms), 1), dtype=np.intp)
    last = np.full((len(perms), 1), n - 1, dtype=np.intp)
    return np.hstack([first, perms, last])


_PERMS: dict[int, npt.NDArray[np.intp]] = {}


def iso_key(adjacency: npt.ArrayLike, ops: list[int]) -> bytes:
    """A key equal for two cells exactly when they are isomorphic: the smallest encoding of the
    cell over every permutation of its interior vertices (input and output fixed). Exhaustive,
    so only for cells with at most 9 vertices."""
    adj = np.asarray(adjacency, dtype=np.uint8)
    n = adj.shape[0]
    if n > 9:
        raise ValueError(f"iso_key tries every permutation; {n} vertices is too many")
    if n not in _PERMS:
        _PERMS[n] = _interior_permutations(n)
    p = _PERMS[n]
    op_arr = np.asarray(ops, dtype=np.int16) + 8
    rows = np.concatenate(
        [op_arr[p].astype(np.uint8), adj[p[:, :, None], p[:, None, :]].reshape(len(p), -1)], axis=1
    )
    best = rows[np.lexsort(rows.T[::-1])[0]]
    return bytes([n]) + best.tobytes()


def is_isomorphic(a: Cell, b: Cell) -> bool:
    """Whether two cells are isomorphic: an exhaustive search over the vertex bijections that
    fix input and output, preserve ops and map edges to edges (branches are cut as soon as a
    partial map contradicts an edge or a degree). Works for any size."""
    adj_a, ops_a = np.asarray(a[0], dtype=np.uint8), [int(o) for o in a[1]]
    adj_b, ops_b = np.asarray(b[0], dtype=np.uint8), [int(o) for o in b[1]]
    n = len(ops_a)
    if n != len(ops_b) or int(adj_a.sum()) != int(adj_b.sum()):
        return False

    def signature(adj: npt.NDArray[np.uint8], ops: list[int], v: int) -> tuple[int, int, int]:
        return ops[v], int(adj[v].sum()), int(adj[:, v].sum())

    sig_a = [signature(adj_a, ops_a, v) for v in range(n)]
    sig_b = [signature(adj_b, ops_b, v) for v in range(n)]
    if sorted(sig_a) != sorted(sig_b) or sig_a[0] != sig_b[0] or sig_a[-1] != sig_b[-1]:
        return False
    mapping = [-1] * n
    used = [False] * n
    mapping[0], mapping[n - 1] = 0, n - 1
    used[0] = used[n - 1] = True
    if adj_a[0, n - 1] != adj_b[0, n - 1]:
        return False
    interior = list(range(1, n - 1))

    def consistent(v: int, w: int) -> bool:
        for u in range(n):
            m = mapping[u]
            if m < 0:
                continue
            if adj_a[u, v] != adj_b[m, w] or adj_a[v, u] != adj_b[w, m]:
                return False
        return True

    def extend(i: int) -> bool:
        if i == len(interior):
            return True
        v = interior[i]
        for w in interior:
            if used[w] or sig_a[v] != sig_b[w] or not consistent(v, w):
                continue
            mapping[v], used[w] = w, True
            if extend(i + 1):
                return True
            mapping[v], used[w] = -1, False
        return False

    return extend(0)


def random_topological_order(adjacency: npt.ArrayLike, rng: np.random.Generator) -> list[int]:
    """A uniformly chosen next vertex among the ready ones at each step, input first and output
    last (a pruned cell's only source and sink)."""
    adj = np.asarray(adjacency)
    n = adj.shape[0]
    indegree = adj.sum(axis=0).astype(int)
    order = [0]
    ready = [int(w) for w in np.flatnonzero(adj[0]) if indegree[w] == 1]
    indegree[adj[0] == 1] -= 1
    while ready:
        interior = [v for v in ready if v != n - 1] or ready
        v = interior[int(rng.integers(len(interior)))]
        ready.remove(v)
        order.append(v)
        for w in np.flatnonzero(adj[v]):
            indegree[w] -= 1
            if indegree[w] == 0:
                ready.append(int(w))
    if len(order) != n or order[-1] != n - 1:
        raise ValueError("not a pruned DAG")
    return order


def relabel(cell: Cell, order: list[int]) -> Cell:
    """The cell with vertex ``order[p]`` moved to position ``p``."""
    adj, ops = cell
    idx = np.asarray(order, dtype=np.intp)
    return np.asarray(adj)[np.ix_(idx, idx)].copy(), [int(ops[v]) for v in order]


def random_relabelling(cell: Cell, rng: np.random.Generator) -> Cell:
    """A random isomorphic copy with edges still pointing forward."""
    return relabel(cell, random_topological_order(cell[0], rng))


# --------------------------------------------------------------------------------------------
# random cells and conversion to / from padded batch arrays


def random_unpruned(
    rng: np.random.Generator, n: int, num_ops: int, p_edge: float
) -> tuple[npt.NDArray[np.uint8], list[int]]:
    """A random upper-triangular n x n matrix and random interior ops (not pruned)."""
    adj = np.triu(rng.random((n, n)) < p_edge, k=1).astype(np.uint8)
    ops = [OP_INPUT] + [int(o) for o in rng.integers(0, num_ops, n - 2)] + [OP_OUTPUT]
    return adj, ops


def random_cells(
    rng: np.random.Generator,
    count: int,
    max_vertices: int,
    max_edges: int,
    num_ops: int,
    min_vertices: int = 2,
) -> list[Cell]:
    """``count`` pruned valid cells, drawn by pruning random matrices of random size and
    density (any vertex count from ``min_vertices`` to ``max_vertices`` occurs)."""
    cells: list[Cell] = []
    while len(cells) < count:
        n = int(rng.integers(min_vertices, max_vertices + 1))
        adj, ops = random_unpruned(rng, n, num_ops, float(rng.uniform(0.2, 0.7)))
        pruned = prune(adj, ops)
        if pruned is None or len(pruned[1]) < min_vertices:
            continue
        if is_valid(pruned[0], pruned[1], max_vertices, max_edges, num_ops):
            cells.append(pruned)
    return cells


def random_complete_cells(
    rng: np.random.Generator, count: int, n: int, max_edges: int, num_ops: int
) -> list[Cell]:
    """``count`` labelled cells with exactly ``n`` vertices drawn uniformly from the labelled
    cells of §4 (complete matrices with random interior ops); ``n`` at most 7."""
    mats = complete_matrices(n, max_edges)
    picks = rng.integers(0, len(mats), count)
    labels = rng.integers(0, num_ops, (count, n - 2))
    return [
        (mats[p].copy(), [OP_INPUT, *(int(o) for o in lab), OP_OUTPUT]) for p, lab in zip(picks, labels)
    ]


def to_arrays(cells: list[Cell], max_vertices: int) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int8]]:
    """Zero-padded batch arrays: the top-left block holds the cell, ops beyond it are padding."""
    adj = np.zeros((len(cells), max_vertices, max_vertices), dtype=np.uint8)
    ops = np.full((len(cells), max_vertices), OP_PAD, dtype=np.int8)
    for i, (a, o) in enumerate(cells):
        n = len(o)
        adj[i, :n, :n] = a
        ops[i, :n] = o
    return adj, ops


def from_arrays(
    adjacency: npt.NDArray[np.uint8], ops: npt.NDArray[np.int8], num_vertices: npt.ArrayLike
) -> list[Cell]:
    """The cells of padded batch arrays, each trimmed to its vertex count."""
    cells = []
    for a, o, n in zip(adjacency, ops, np.asarray(num_vertices)):
        n = int(n)
        cells.append((a[:n, :n].copy(), [int(x) for x in o[:n]]))
    return cells


# --------------------------------------------------------------------------------------------
# single edits (the neighbourhood rule, on isomorphism classes)


def reachability(adjacency: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """``reach[x, y]``: there is a path of at least one edge from x to y."""
    adj = np.asarray(adjacency, dtype=bool)
    n = adj.shape[0]
    reach = adj.copy()
    for v in range(n - 1, -1, -1):
        for w in np.flatnonzero(adj[v]):
            reach[v] |= reach[w]
    return reach


def topologically_relabelled(adjacency: npt.ArrayLike, ops: list[int]) -> Cell:
    """A DAG whose input is its only source and output its only sink, relabelled so that edges
    point forward (Kahn's algorithm, smallest index first)."""
    adj = np.asarray(adjacency, dtype=np.uint8)
    n = adj.shape[0]
    indegree = adj.sum(axis=0).astype(int)
    ready = [v for v in range(n) if indegree[v] == 0]
    order = []
    while ready:
        v = min(ready)
        ready.remove(v)
        order.append(v)
        for w in np.flatnonzero(adj[v]):
            indegree[w] -= 1
            if indegree[w] == 0:
                ready.append(int(w))
    if len(order) != n:
        raise ValueError("the graph has a cycle")
    return relabel((adj, ops), order)


def single_edits(cell: Cell, max_vertices: int, max_edges: int, num_ops: int) -> Iterator[Cell]:
    """Every valid pruned cell one edit away from the isomorphism class of ``cell``: change an
    interior op; remove an edge (the result pruned); add an edge x -> y that keeps the graph
    acyclic (x not the output, y not the input); insert a new vertex with any op on a new path
    a -> new -> b that keeps the graph acyclic. The edits do not depend on the vertex order of
    ``cell``. The parent's own class may occur; callers remove it."""
    adj, ops = np.asarray(cell[0], dtype=np.uint8), [int(o) for o in cell[1]]
    n = len(ops)
    reach = reachability(adj)
    for v in range(1, n - 1):
        for o in range(num_ops):
            if o != ops[v]:
                yield adj.copy(), [o if u == v else ops[u] for u in range(n)]
    for x, y in zip(*np.nonzero(adj)):
        removed = adj.copy()
        removed[x, y] = 0
        pruned = prune(removed, ops)
        if pruned is not None and is_valid(pruned[0], pruned[1], max_vertices, max_edges, num_ops):
            yield pruned
    for x in range(n - 1):
        for y in range(1, n):
            if x != y and not adj[x, y] and not reach[y, x]:
                added = adj.copy()
                added[x, y] = 1
                grown = topologically_relabelled(added, ops)
                if is_valid(grown[0], grown[1], max_vertices, max_edges, num_ops):
                    yield grown
    for a in range(n - 1):
        for b in range(1, n):
            if a == b or reach[b, a]:
                continue
            for o in range(num_ops):
                bigger = np.zeros((n + 1, n + 1), dtype=np.uint8)
                bigger[:n, :n] = adj
                bigger[a, n] = bigger[n, b] = 1
                grown = topologically_relabelled(bigger, ops + [o])
                if is_valid(grown[0], grown[1], max_vertices, max_edges, num_ops):
                    yield grown


# --------------------------------------------------------------------------------------------
# encodings


def path_encoding(
    cell: Cell, max_vertices: int, num_ops: int, counts: bool = False, max_ops: Optional[int] = None
) -> npt.NDArray[np.float64]:
    """BANANAS path encoding by depth-first search: the path with interior ops (o1, ..., ol)
    sets feature (k^l - 1) / (k - 1) + (o1 o2 ... ol in base k, o1 most significant); with
    ``counts`` the feature counts the paths instead."""
    adj, ops = cell
    n = len(ops)
    k = num_ops
    longest = max_vertices - 2 if max_ops is None else max_ops
    offsets = [sum(k**i for i in range(length)) for length in range(longest + 2)]
    row = np.zeros(offsets[longest + 1], dtype=np.float64)

    def visit(v: int, seq: list[int]) -> None:
        for w in map(int, np.flatnonzero(adj[v])):
            if w == n - 1:
                code = 0
                for o in seq:
                    code = code * k + o
                index = offsets[len(seq)] + code
                row[index] = row[index] + 1 if counts else 1
            elif len(seq) < longest:
                visit(w, seq + [int(ops[w])])

    visit(0, [])
    return row


def adjacency_encoding(cell: Cell, max_vertices: int, num_ops: int) -> npt.NDArray[np.float64]:
    """Edge bits (edge x -> y at x + y(y-1)/2, the output moved to position V-1) followed by a
    one-hot block of ``num_ops`` features for each interior position 1..V-2."""
    adj, ops = cell
    n = len(ops)
    v = max_vertices
    edge_bits = v * (v - 1) // 2
    row = np.zeros(edge_bits + (v - 2) * num_ops, dtype=np.float64)

    def pos(u: int) -> int:
        return v - 1 if u == n - 1 else u

    for x, y in zip(*np.nonzero(adj)):
        px, py = pos(int(x)), pos(int(y))
        row[px + py * (py - 1) // 2] = 1
    for u in range(1, n - 1):
        row[edge_bits + (u - 1) * num_ops + int(ops[u])] = 1
    return row


# --------------------------------------------------------------------------------------------
# enumeration


def _edge_pairs(n: int) -> list[tuple[int, int]]:
    """Edge x -> y of bit x + y(y-1)/2, in bit order."""
    return [(x, y) for y in range(1, n) for x in range(y)]


def _popcount(a: npt.NDArray[Any]) -> npt.NDArray[Any]:
    a = a - ((a >> 1) & 0x55555555)
    a = (a & 0x33333333) + ((a >> 2) & 0x33333333)
    a = (a + (a >> 4)) & 0x0F0F0F0F
    return (a * 0x01010101) >> 24


@functools.cache
def complete_matrices(n: int, max_edges: int) -> npt.NDArray[np.uint8]:
    """§4: every n x n edge mask with at most ``max_edges`` edges in which every vertex but the
    output has an out-edge and every vertex but the input an in-edge, as matrices in mask order
    (cached: do not modify the result)."""
    pairs = _edge_pairs(n)
    bits = len(pairs)
    masks = np.arange(1 << bits, dtype=np.uint32)
    masks = masks[_popcount(masks) <= max_edges]
    set_bits = ((masks[:, None] >> np.arange(bits, dtype=np.uint32)) & 1).astype(np.int32)
    source = np.zeros((bits, n), dtype=np.int32)
    target = np.zeros((bits, n), dtype=np.int32)
    for b, (x, y) in enumerate(pairs):
        source[b, x] = 1
        target[b, y] = 1
    out_degree = set_bits @ source
    in_degree = set_bits @ target
    keep = (out_degree[:, : n - 1] > 0).all(axis=1) & (in_degree[:, 1:] > 0).all(axis=1)
    kept = set_bits[keep]
    adj = np.zeros((len(kept), n, n), dtype=np.uint8)
    for b, (x, y) in enumerate(pairs):
        adj[:, x, y] = kept[:, b]
    return adj


def labelled_cells(
    n: int, max_edges: int, num_ops: int, pad_to: int
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int8]]:
    """§4: every complete n-vertex matrix with every interior labelling, as padded arrays of
    width ``pad_to`` (matrix-major, labellings in lexicographic order)."""
    mats = complete_matrices(n, max_edges)
    products = list(itertools.product(range(num_ops), repeat=n - 2))
    labellings = np.array(products, dtype=np.int8).reshape(len(products), n - 2)
    count = len(mats) * len(labellings)
    adj = np.zeros((count, pad_to, pad_to), dtype=np.uint8)
    adj[:, :n, :n] = np.repeat(mats, len(labellings), axis=0)
    ops = np.full((count, pad_to), OP_PAD, dtype=np.int8)
    ops[:, 0] = OP_INPUT
    ops[:, n - 1] = OP_OUTPUT
    ops[:, 1 : n - 1] = np.tile(labellings, (len(mats), 1))
    return adj, ops


def brute_force_space(max_vertices: int, max_edges: int, num_ops: int) -> dict[bytes, Cell]:
    """Every unique valid cell of a small space, by pruning every labelled upper-triangular
    ``max_vertices`` x ``max_vertices`` matrix (smaller cells appear with dormant vertices) and
    de-duplicating by brute-force isomorphism: iso key -> first representative."""
    n = max_vertices
    pairs = _edge_pairs(n)
    found: dict[bytes, Cell] = {}
    labellings = list(itertools.product(range(num_ops), repeat=n - 2))
    for mask in range(1 << len(pairs)):
        adj = np.zeros((n, n), dtype=np.uint8)
        for b, (x, y) in enumerate(pairs):
            if mask >> b & 1:
                adj[x, y] = 1
        seen_pruned: set[bytes] = set()
        for lab in labellings:
            ops = [OP_INPUT, *lab, OP_OUTPUT]
            pruned = prune(adj, ops)
            if pruned is None or not is_valid(pruned[0], pruned[1], max_vertices, max_edges, num_ops):
                continue
            raw = pruned[0].tobytes() + bytes(o + 8 for o in pruned[1])
            if raw in seen_pruned:
                continue
            seen_pruned.add(raw)
            found.setdefault(iso_key(*pruned), pruned)
    return found


def group_by(keys: list[bytes]) -> dict[bytes, list[int]]:
    """Positions of each key, keys in order of first occurrence."""
    groups: dict[bytes, list[int]] = {}
    for i, key in enumerate(keys):
        groups.setdefault(key, []).append(i)
    return groups


def batch_cells(batch: object) -> list[Cell]:
    """The rows of a batch (anything with ``adjacency``, ``ops``, ``num_vertices`` arrays) as
    cells."""
    return from_arrays(batch.adjacency, batch.ops, batch.num_vertices)  # type: ignore[attr-defined]


def spec_cell(spec: object) -> Cell:
    """A single cell object (``adjacency`` matrix, ``ops`` codes) as a cell."""
    adj = np.asarray(spec.adjacency, dtype=np.uint8)  # type: ignore[attr-defined]
    return adj, [int(o) for o in spec.ops]  # type: ignore[attr-defined]


# --------------------------------------------------------------------------------------------
# predictors


def gcn_forward(cell: Cell, params: list[npt.NDArray[Any]]) -> float:
    """The output of the graph network of ``nasfast.predictors.GCNRegressor`` for one cell, from
    its documented definition, on the cell itself (no padding, no encoding): vertex features are
    one-hot labels (input, output, then the ops); each layer is
    ``(relu(F H Wf) + relu(B H Wb)) / 2`` with ``F`` the row-normalised ``A^T + I`` (a vertex and
    its predecessors) and ``B`` the row-normalised ``A + I`` (a vertex and its successors); then
    the mean over the vertices and ``w . h + b``. ``params`` is ``[Wf_1, Wb_1, ..., w, [b]]``
    (the standardised output, before the target scale is undone)."""
    adj, ops = cell
    a = np.asarray(adj, dtype=np.float64)
    n = len(ops)
    num_labels = params[0].shape[0]
    h = np.zeros((n, num_labels))
    for v, o in enumerate(ops):
        h[v, 0 if o == OP_INPUT else 1 if o == OP_OUTPUT else 2 + o] = 1.0
    fwd = a.T + np.eye(n)
    bwd = a + np.eye(n)
    fwd /= fwd.sum(axis=1, keepdims=True)
    bwd /= bwd.sum(axis=1, keepdims=True)
    layers = (len(params) - 2) // 2
    for layer in range(layers):
        wf = np.asarray(params[2 * layer], dtype=np.float64)
        wb = np.asarray(params[2 * layer + 1], dtype=np.float64)
        h = 0.5 * (np.maximum(fwd @ h @ wf, 0.0) + np.maximum(bwd @ h @ wb, 0.0))
    return float(h.mean(axis=0) @ np.asarray(params[-2], dtype=np.float64) + float(params[-1][0]))


def kendall_tau_b(x: npt.ArrayLike, y: npt.ArrayLike) -> float:
    """Kendall's tau-b by counting every pair: (concordant - discordant) / sqrt((n0 - ties in x)
    * (n0 - ties in y)), n0 the number of pairs."""
    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    conc = disc = tx = ty = 0
    n = len(a)
    for i in range(n):
        for j in range(i + 1, n):
            dx, dy = np.sign(a[i] - a[j]), np.sign(b[i] - b[j])
            if dx == 0:
                tx += 1
            if dy == 0:
                ty += 1
            if dx * dy > 0:
                conc += 1
            elif dx * dy < 0:
                disc += 1
    n0 = n * (n - 1) // 2
    return (conc - disc) / float(np.sqrt((n0 - tx) * (n0 - ty)))


def average_ranks(x: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Ranks 1..n, tied values sharing the mean of their ranks."""
    a = np.asarray(x, dtype=np.float64)
    ranks = np.empty(len(a))
    for i, v in enumerate(a):
        below = float(np.sum(a < v))
        equal = float(np.sum(a == v))
        ranks[i] = below + (equal + 1.0) / 2.0
    return ranks
