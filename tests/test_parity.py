"""NAS-Bench-101 parity on the edge cases: nasfast prunes first and judges ops and size on the
pruned cell, as the official API does (reference §2), and refuses at construction only what is
malformed whatever pruning does. Cross-checked against ``reference.official_validity``."""

from __future__ import annotations

import pickle
import re
from typing import Any, Union

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nasfast
import reference as ref
from nasfast import CellBatch, CellSpec, InvalidCellError, SearchSpace

NB101 = SearchSpace.nb101()
CONV3, CONV1, POOL = ref.NB101_OPS

# 0 -> 1 -> 2 -> 3 (the output) is the live path; vertex 4 .. hang off it without a path to the
# output, so they are pruned whatever they carry
LIVE = [(0, 1), (1, 2), (2, 3)]


def with_dead(n: int, live_out: int = 3) -> np.ndarray:
    """An n x n matrix: the path 0 -> 1 -> 2 -> live_out plus edges into the dead vertices
    4..n-1 (and the output moved last when n > 4)."""
    adj = np.zeros((n, n), dtype=np.uint8)
    out = n - 1
    for x, y in LIVE:
        adj[x, out if y == live_out else y] = 1
    for d in range(3, n - 1):
        adj[1, d] = 1  # reachable from the input, no path to the output
    return adj


@pytest.mark.parametrize("dead_label", ["conv5x5-bn-relu", "input", "output", "", 7, -1, -2, -7, 99])
def test_a_pruned_vertex_may_carry_any_label(dead_label: Union[str, int]) -> None:
    adj = with_dead(5)
    labels: list[Any] = ["input", CONV3, POOL, dead_label, "output"]
    assert ref.official_validity(adj, [str(x) for x in labels], 7, 9, ref.NB101_OPS) is True
    spec = CellSpec(adj, labels)
    assert spec.is_valid(NB101)
    assert spec.num_vertices == 5 and spec.ops[3] == (dead_label if isinstance(dead_label, int) else
                                                       {"input": -1, "output": -2}.get(dead_label, dead_label))
    pruned = spec.validate(NB101)
    assert pruned.ops == [-1, 0, 2, -2]
    assert spec.nb101_hash() == CellSpec(ref.matrix_from_edges(4, LIVE), [-1, 0, 2, -2]).nb101_hash()
    assert CellBatch.from_specs([spec], NB101)[0] == pruned
    assert pickle.loads(pickle.dumps(spec)) == spec
    if dead_label not in ("input", "output"):
        assert repr(dead_label) in repr(spec)
    if isinstance(dead_label, str) and dead_label not in ("input", "output"):
        assert spec.op_names()[3] == dead_label


@pytest.mark.parametrize("label, patterns", [
    ("conv5x5-bn-relu", ["ops\\[2\\]", "conv5x5-bn-relu"]),
    ("input", ["ops\\[2\\]", "input", "first"]),
    ("output", ["ops\\[2\\]", "output", "last"]),
    (-1, ["ops\\[2\\] = -1", "input"]),
    (-7, ["ops\\[2\\] = -7"]),
])
def test_the_same_label_on_a_surviving_vertex_is_refused(label: Union[str, int], patterns: list[str]) -> None:
    labels: list[Any] = ["input", CONV3, label, "output"]
    assert ref.official_validity(ref.matrix_from_edges(4, LIVE), [str(x) for x in labels], 7, 9, ref.NB101_OPS) is False
    with pytest.raises(InvalidCellError) as excinfo:
        CellSpec(ref.matrix_from_edges(4, LIVE), labels)
    for pattern in patterns:
        assert re.search(pattern, str(excinfo.value)), str(excinfo.value)


@pytest.mark.parametrize("n", [17, 20, 40])
def test_a_large_matrix_that_prunes_small_is_valid(n: int) -> None:
    adj = with_dead(n)
    labels = ["input", CONV3, POOL] + ["zzz"] * (n - 4) + ["output"]
    assert ref.official_validity(adj, labels, 7, 9, ref.NB101_OPS) is True
    spec = CellSpec(adj, labels)
    assert (spec.num_vertices, spec.adjacency.shape) == (n, (n, n))
    assert spec.is_valid(NB101)
    assert spec.validate(NB101) == CellSpec(ref.matrix_from_edges(4, LIVE), [-1, 0, 2, -2])


def test_a_large_matrix_that_stays_large_is_refused() -> None:
    chain = ref.matrix_from_edges(17, [(i, i + 1) for i in range(16)])
    with pytest.raises(InvalidCellError, match=r"17 vertices after pruning, at most 16"):
        CellSpec(chain, ["input"] + [CONV3] * 15 + ["output"])
    # 8 vertices survive: a valid spec, too large for NAS-Bench-101
    spec = CellSpec(ref.matrix_from_edges(8, [(i, i + 1) for i in range(7)]), ["input"] + [CONV3] * 6 + ["output"])
    assert not spec.is_valid(NB101)
    with pytest.raises(InvalidCellError, match=r"8 vertices after pruning, at most 7"):
        spec.validate(NB101)


@pytest.mark.parametrize("edit, patterns", [
    ("entry 2 on a dead vertex", [r"adjacency\[1\]\[3\] = 2", "0 or 1"]),
    ("lower-triangular edge between dead vertices", [r"adjacency\[4\]\[3\]", "upper-triangular"]),
    ("not square", ["square", r"\(5, 6\)|\[5, 6\]"]),
    ("first vertex not the input", [r"ops\[0\]", "input"]),
    ("last vertex not the output", [r"ops\[5\]", "output"]),
    ("ops of another length", [r"\b6\b", r"\b5\b"]),
])
def test_malformed_input_is_refused_whatever_pruning_does(edit: str, patterns: list[str]) -> None:
    adj = with_dead(6)  # vertices 3 and 4 are dead
    labels: list[Any] = ["input", CONV3, POOL, "zzz", "zzz", "output"]
    if edit == "entry 2 on a dead vertex":
        adj[1, 3] = 2
    elif edit == "lower-triangular edge between dead vertices":
        adj[4, 3] = 1
    elif edit == "not square":
        adj = np.zeros((5, 6), dtype=np.uint8)
    elif edit == "first vertex not the input":
        labels[0] = CONV3
    elif edit == "last vertex not the output":
        labels[5] = POOL
    else:
        labels = labels[:5]
    with pytest.raises(InvalidCellError) as excinfo:
        CellSpec(adj, labels)
    for pattern in patterns:
        assert re.search(pattern, str(excinfo.value)), str(excinfo.value)


def test_batch_rows_are_judged_after_pruning() -> None:
    # row i: the live path 0 -> 1 -> 2 -> 6 and a dead vertex 3 with label dead[i]
    dead = [-1, -2, 9, -7, 2]
    adj = np.zeros((len(dead), 7, 7), dtype=np.uint8)
    ops = np.full((len(dead), 7), ref.OP_PAD, dtype=np.int8)
    for i, label in enumerate(dead):
        for x, y in [(0, 1), (1, 2), (2, 6), (1, 3)]:
            adj[i, x, y] = 1
        ops[i] = [-1, 0, 1, label, 0, 0, -2]
    batch = CellBatch.from_arrays(adj, ops, NB101)
    np.testing.assert_array_equal(batch.num_vertices, [4] * len(dead))
    # the same labels on a surviving vertex are refused, naming the row and the vertex
    for label in [-1, -2, 9, -7]:
        bad = ops.copy()
        bad[3, 2] = label
        with pytest.raises(InvalidCellError, match=rf"row 3: ops\[2\] = {label}\b"):
            CellBatch.from_arrays(adj, bad, NB101)
    # an op of another space on a surviving vertex names the vertex of the row as given
    bad = ops.copy()
    bad[1, 2] = 5
    with pytest.raises(InvalidCellError, match=r"row 1: ops\[2\] = 5 is not an interior op code: expected 0..3"):
        CellBatch.from_arrays(adj, bad, NB101)


# --------------------------------------------------------------------------------------------
# the cross-check: random cells of any size with any labels, against the reference

LABELS = ["input", "output", CONV3, CONV1, POOL, "conv5x5-bn-relu", "zzz", -1, -2, 0, 1, 2, 3, 31, 32, -7]


def nasfast_expectation(adj: np.ndarray, labels: list[Any]) -> Union[str, bool]:
    """What nasfast must do with a cell, derived from the reference: "refused" at construction
    or the validity in NAS-Bench-101."""
    n = adj.shape[0]
    names = [ref_name(x) for x in labels]
    official = ref.official_validity(adj, names, 7, 9, ref.NB101_OPS)
    if official is None or n < 2 or not np.isin(adj, [0, 1]).all():
        return "refused"  # malformed whatever pruning does
    if names[0] != "input" or names[-1] != "output":
        return "refused"
    pruned = ref.prune(adj, list(range(n)))
    if pruned is None:
        return False
    kept = pruned[1]
    if len(kept) > nasfast.MAX_VERTICES:
        return "refused"
    for v in kept[1:-1]:
        label = labels[v]
        acceptable = label in ref.NB101_OPS if isinstance(label, str) else 0 <= label < nasfast.MAX_OPS
        if not acceptable:
            return "refused"  # no space accepts it on a surviving vertex
    return bool(official)


def ref_name(label: Union[str, int]) -> str:
    """A label as the official API would see it: codes as names, unknown codes as text."""
    if isinstance(label, str):
        return label
    return {-1: "input", -2: "output"}.get(label, ref.NB101_OPS[label] if 0 <= label < 3 else f"code {label}")


@st.composite
def given_cells(draw: st.DrawFn) -> tuple[np.ndarray, list[Any]]:
    n = draw(st.integers(1, 20))
    gen = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    adj = np.triu(gen.random((n, n)) < draw(st.sampled_from([0.1, 0.25, 0.5])), 1).astype(np.int64)
    if draw(st.integers(0, 9)) == 0 and n > 1:
        i, j = sorted(gen.integers(0, n, 2))
        adj[j, i] = draw(st.sampled_from([1, 2]))  # a lower-triangular or diagonal entry
    if draw(st.integers(0, 9)) == 0:
        adj[gen.integers(0, n), gen.integers(0, n)] = 2
    # surviving vertices carry an interior op most of the time, so that valid cells are common
    labels = [draw(st.one_of(st.sampled_from([CONV3, CONV1, POOL, 0, 1, 2]), st.sampled_from(LABELS))) for _ in range(n)]
    if draw(st.integers(0, 4)):
        labels[0] = "input"
    if draw(st.integers(0, 4)):
        labels[-1] = draw(st.sampled_from(["output", -2]))
    return adj, labels


@settings(max_examples=800, deadline=None, derandomize=True, database=None)
@given(cell=given_cells())
def test_specs_agree_with_the_official_semantics(cell: tuple[np.ndarray, list[Any]]) -> None:
    adj, labels = cell
    expected = nasfast_expectation(adj, labels)
    if expected == "refused":
        with pytest.raises(InvalidCellError):
            CellSpec(adj, labels)
        return
    spec = CellSpec(adj, labels)
    assert spec.is_valid(NB101) == expected
    pruned = ref.prune(adj, list(range(len(labels))))
    if expected:
        # the pruned cell is the reference's, with the labels of the surviving vertices
        got = spec.validate(NB101)
        assert pruned is not None
        np.testing.assert_array_equal(got.adjacency, pruned[0])
        assert got.ops == [NB101.op_code(ref_name(labels[v])) for v in pruned[1]]
        assert got.nb101_hash() == ref.nb101_hash(pruned[0], got.ops)
    else:
        with pytest.raises(InvalidCellError):
            spec.validate(NB101)


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(rows=st.lists(given_cells(), min_size=1, max_size=4))
def test_rows_agree_with_specs(rows: list[tuple[np.ndarray, list[Any]]]) -> None:
    """A batch row is judged like the spec of the same cell (rows of at most 7 vertices with
    int8 codes; the row's padding rules aside)."""
    rows = [(a[:7, :7].astype(np.uint8), [c if isinstance(c, int) else NB101.op_code(c) if c in ("input", "output", *ref.NB101_OPS) else 9
                                           for c in labels[:7]]) for a, labels in rows]
    rows = [(a, labels) for a, labels in rows if len(labels) >= 2 and ref.OP_PAD not in labels]
    for adj, labels in rows:
        n = len(labels)
        batch_adj = np.zeros((1, 7, 7), dtype=np.uint8)
        batch_ops = np.full((1, 7), ref.OP_PAD, dtype=np.int8)
        batch_adj[0, :n, :n] = np.minimum(adj, 255)
        batch_ops[0, :n] = labels
        try:
            spec_ok = CellSpec(adj, labels).is_valid(NB101)
        except InvalidCellError:
            spec_ok = False
        try:
            row_ok = len(CellBatch.from_arrays(batch_adj, batch_ops, NB101)) == 1
        except InvalidCellError:
            row_ok = False
        assert row_ok == spec_ok, (adj, labels)
