"""CellSpec and CellBatch: construction, pruning, validity, isomorphism, batch operations,
pickling and the mapping of bad input to exceptions, against the pure-Python references."""

from __future__ import annotations

import pickle
import re
from typing import Any, Callable, Optional

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import reference as ref
from nasfast import CellBatch, CellSpec, InvalidCellError, SearchSpace

NB101_NAMES = ["input", "conv3x3-bn-relu", "maxpool3x3", "conv3x3-bn-relu", "conv3x3-bn-relu",
               "conv1x1-bn-relu", "output"]


def vector_adjacency() -> np.ndarray:
    """The adjacency of the published test vector (a valid 7-vertex cell with 9 edges)."""
    return ref.matrix_from_edges(7, ref.TEST_VECTOR_EDGES)


# --------------------------------------------------------------------------------------------
# construction


def test_search_space_properties(nb101: SearchSpace) -> None:
    assert (nb101.max_vertices, nb101.max_edges, nb101.num_ops) == (7, 9, 3)
    assert nb101.ops == ref.NB101_OPS
    assert nb101 == SearchSpace(7, 9, ref.NB101_OPS)
    assert hash(nb101) == hash(SearchSpace(7, 9, ref.NB101_OPS))
    assert nb101 != SearchSpace(7, 8, ref.NB101_OPS)
    assert [nb101.op_code(n) for n in ["input", "output", *ref.NB101_OPS]] == [-1, -2, 0, 1, 2]
    with pytest.raises(ValueError, match="conv5x5"):
        nb101.op_code("conv5x5")


def test_spec_from_names_and_from_codes(nb101: SearchSpace) -> None:
    adj = vector_adjacency()
    by_name = CellSpec(adj, NB101_NAMES)
    by_code = CellSpec(adj, ref.TEST_VECTOR_OPS)
    assert by_name.ops == ref.TEST_VECTOR_OPS
    assert by_name == by_code
    assert hash(by_name) == hash(by_code)
    assert by_code.op_names() == NB101_NAMES
    assert by_code.op_names(nb101) == NB101_NAMES
    assert by_name.adjacency.dtype == np.uint8
    np.testing.assert_array_equal(by_name.adjacency, adj)
    assert (by_name.num_vertices, by_name.num_edges) == (7, 9)
    assert CellSpec(adj.tolist(), ref.TEST_VECTOR_OPS) == by_code
    other_ops = list(ref.TEST_VECTOR_OPS)
    other_ops[1] = 1
    assert CellSpec(adj, other_ops) != by_code


def test_spec_names_of_a_custom_space(small_space: SearchSpace) -> None:
    adj = ref.matrix_from_edges(4, [(0, 1), (0, 2), (1, 3), (2, 3)])
    spec = CellSpec(adj, ["input", "b", "a", "output"], space=small_space)
    assert spec.ops == [-1, 1, 0, -2]
    assert spec.op_names(small_space) == ["input", "b", "a", "output"]
    assert spec.is_valid(small_space)
    with pytest.raises(InvalidCellError, match="conv3x3"):
        CellSpec(adj, ["input", "conv3x3-bn-relu", "a", "output"], space=small_space)


# --------------------------------------------------------------------------------------------
# pruning and validity against the reference


def random_unpruned_cells(
    rng: np.random.Generator, count: int, sizes: tuple[int, int], num_ops: int = 3
) -> list[ref.Cell]:
    return [
        ref.random_unpruned(rng, int(rng.integers(sizes[0], sizes[1] + 1)), num_ops, float(rng.uniform(0.1, 0.7)))
        for _ in range(count)
    ]


def test_spec_pruning_matches_the_reference(rng: np.random.Generator) -> None:
    checked = disconnected = 0
    for adj, ops in random_unpruned_cells(rng, 1500, (2, 10)):
        expected = ref.prune(adj, ops)
        spec = CellSpec(adj, ops)
        if expected is None:
            disconnected += 1
            with pytest.raises(InvalidCellError):
                spec.pruned()
            continue
        pruned = spec.pruned()
        np.testing.assert_array_equal(pruned.adjacency, expected[0], err_msg=f"{adj}\n{ops}")
        assert pruned.ops == expected[1]
        checked += 1
    assert checked > 500 and disconnected > 100


def test_batch_pruning_matches_the_reference(nb101: SearchSpace, rng: np.random.Generator) -> None:
    cells = [c for c in random_unpruned_cells(rng, 3000, (7, 7)) if ref.is_valid(*c, 7, 9, 3)]
    adj, ops = ref.to_arrays(cells, 7)
    batch = CellBatch.from_arrays(adj, ops, nb101)
    pruned = [ref.prune(*c) for c in cells]
    exp_adj, exp_ops = ref.to_arrays(pruned, 7)  # type: ignore[arg-type]
    np.testing.assert_array_equal(batch.adjacency, exp_adj)
    np.testing.assert_array_equal(batch.ops, exp_ops)
    np.testing.assert_array_equal(batch.num_vertices, [len(p[1]) for p in pruned])  # type: ignore[index]
    np.testing.assert_array_equal(batch.num_edges, [int(p[0].sum()) for p in pruned])  # type: ignore[index]
    assert batch.adjacency.dtype == np.uint8 and batch.ops.dtype == np.int8
    assert batch.num_vertices.dtype == np.uint8 and batch.num_edges.dtype == np.uint8


@pytest.mark.parametrize("space_args", [(7, 9, 3), (5, 6, 2), (9, 12, 4)])
def test_is_valid_and_validate_match_the_reference(
    space_args: tuple[int, int, int], rng: np.random.Generator
) -> None:
    v, e, k = space_args
    space = SearchSpace(v, e, [f"op{i}" for i in range(k)])
    valid = 0
    # op code k is out of range: some cells are invalid because of it
    for adj, ops in random_unpruned_cells(rng, 1500, (2, v + 2), num_ops=k + 1):
        spec = CellSpec(adj, ops, space=space)
        expected = ref.is_valid(adj, ops, v, e, k)
        assert spec.is_valid(space) == expected, (adj, ops)
        if expected:
            valid += 1
            pruned = ref.prune(adj, ops)
            assert pruned is not None
            validated = spec.validate(space)
            np.testing.assert_array_equal(validated.adjacency, pruned[0])
            assert validated.ops == pruned[1]
        else:
            with pytest.raises(InvalidCellError):
                spec.validate(space)
    assert 100 < valid < 1400


def test_edges_are_counted_after_pruning(nb101: SearchSpace) -> None:
    # 9 live edges plus 2 edges of a dormant vertex 6 (no path to the output): 11 edges in total
    adj = np.zeros((8, 8), dtype=np.uint8)
    for x, y in ref.TEST_VECTOR_EDGES:
        adj[x, 7 if y == 6 else y] = 1
    adj[0, 6] = adj[1, 6] = 1
    spec = CellSpec(adj, [-1, 0, 2, 0, 0, 1, 1, -2])
    assert spec.num_edges == 11 and spec.num_vertices == 8
    assert spec.is_valid(nb101)
    assert spec.validate(nb101).nb101_hash() == ref.TEST_VECTOR_HASH


# --------------------------------------------------------------------------------------------
# isomorphism: canonical forms, fingerprints, is_isomorphic


ISO_SPACES = [(6, 8, 2), (7, 9, 1), (7, 9, 3)]


def cells_with_copies(
    rng: np.random.Generator, space_args: tuple[int, int, int], count: int
) -> list[ref.Cell]:
    v, e, k = space_args
    cells = ref.random_cells(rng, count, v, e, k, min_vertices=3)
    cells += ref.random_complete_cells(rng, count // 2, v, e, k)
    copies = [ref.random_relabelling(cells[int(i)], rng) for i in rng.integers(0, len(cells), count)]
    everything = cells + copies
    return [everything[int(i)] for i in rng.permutation(len(everything))]


def space_of(space_args: tuple[int, int, int]) -> SearchSpace:
    v, e, k = space_args
    return SearchSpace(v, e, [f"op{i}" for i in range(k)])


def assert_same_partition(labels_a: list[Any], labels_b: list[Any], what: str) -> None:
    """Two labellings of the same items define the same partition (equal iff equal)."""
    pairs = set(zip(labels_a, labels_b))
    assert len(pairs) == len(set(labels_a)) == len(set(labels_b)), (
        f"{what}: {len(set(labels_a))} classes vs {len(set(labels_b))} reference classes "
        f"({len(pairs)} combinations)"
    )


@pytest.mark.parametrize("space_args", ISO_SPACES)
def test_canonical_form_is_equal_iff_isomorphic(
    space_args: tuple[int, int, int], rng: np.random.Generator, make_batch: Callable[..., CellBatch]
) -> None:
    cells = cells_with_copies(rng, space_args, 400)
    keys = [ref.iso_key(*c) for c in cells]
    assert len(set(keys)) < len(keys) - 100, "too few isomorphic pairs for a meaningful test"
    batch = make_batch(cells, space_of(space_args))
    canon = batch.canonical()
    canon_cells = ref.batch_cells(canon)
    canon_labels = [a.tobytes() + bytes(o + 8 for o in ops) for a, ops in canon_cells]
    assert_same_partition(canon_labels, keys, "canonical forms")
    for c, cc in zip(cells, canon_cells):
        assert ref.iso_key(*cc) == ref.iso_key(*c), "canonical form not isomorphic to its cell"
        assert ref.is_pruned_valid(cc, *space_args)
    assert canon.canonical() == canon, "canonical form is not idempotent"
    # the CellSpec method agrees with the batch method
    for i in range(0, len(cells), 37):
        spec = CellSpec(cells[i][0], cells[i][1], space=space_of(space_args))
        assert spec.canonical() == canon[i]


@pytest.mark.parametrize("space_args", ISO_SPACES)
def test_fingerprint_is_equal_iff_isomorphic(
    space_args: tuple[int, int, int], rng: np.random.Generator, make_batch: Callable[..., CellBatch]
) -> None:
    cells = cells_with_copies(rng, space_args, 400)
    keys = [ref.iso_key(*c) for c in cells]
    fingerprints = make_batch(cells, space_of(space_args)).fingerprints()
    assert fingerprints.dtype == np.uint64
    assert_same_partition(fingerprints.tolist(), keys, "fingerprints")
    for i in range(0, len(cells), 41):
        assert CellSpec(*cells[i]).fingerprint() == int(fingerprints[i])


@pytest.mark.parametrize("space_args", ISO_SPACES)
def test_is_isomorphic_matches_brute_force(space_args: tuple[int, int, int], rng: np.random.Generator) -> None:
    cells = cells_with_copies(rng, space_args, 150)
    specs = [CellSpec(a, o) for a, o in cells]
    isomorphic_pairs = 0
    for i in range(len(cells)):
        j = int(rng.integers(len(cells)))
        expected = ref.is_isomorphic(cells[i], cells[j])
        assert expected == (ref.iso_key(*cells[i]) == ref.iso_key(*cells[j]))
        assert specs[i].is_isomorphic(specs[j]) == expected, (cells[i], cells[j])
        assert specs[i].is_isomorphic(CellSpec(*ref.random_relabelling(cells[i], rng)))
        isomorphic_pairs += expected and i != j
    assert isomorphic_pairs > 0


def test_unique_keeps_first_occurrences_and_inverts(
    rng: np.random.Generator, make_batch: Callable[..., CellBatch]
) -> None:
    space_args = (6, 8, 2)
    cells = cells_with_copies(rng, space_args, 500)
    batch = make_batch(cells, space_of(space_args))
    keys = [ref.iso_key(*c) for c in cells]
    groups = ref.group_by(keys)
    first = [positions[0] for positions in groups.values()]
    expected_inverse = np.empty(len(cells), dtype=np.int64)
    for j, positions in enumerate(groups.values()):
        expected_inverse[positions] = j
    unique, inverse = batch.unique()
    assert inverse.dtype == np.int64
    assert len(unique) == len(groups) < len(cells)
    np.testing.assert_array_equal(unique.adjacency, batch.adjacency[first])
    np.testing.assert_array_equal(unique.ops, batch.ops[first])
    np.testing.assert_array_equal(inverse, expected_inverse)
    rebuilt = ref.batch_cells(unique[inverse])
    assert [ref.iso_key(*c) for c in rebuilt] == keys


# --------------------------------------------------------------------------------------------
# batch protocol


def test_indexing_slicing_iteration_and_concat(
    nb101: SearchSpace, rng: np.random.Generator, make_batch: Callable[..., CellBatch]
) -> None:
    cells = ref.random_cells(rng, 60, 7, 9, 3)
    batch = make_batch(cells, nb101)
    assert len(batch) == 60 and batch.space == nb101
    for i in [0, 7, 59, -1, -60]:
        spec = batch[i]
        adj, ops = cells[i]
        assert isinstance(spec, CellSpec)
        np.testing.assert_array_equal(spec.adjacency, adj)
        assert spec.ops == ops
    for bad in [60, -61]:
        with pytest.raises(IndexError):
            batch[bad]
    indices: list[Any] = [slice(3, 20, 4), slice(None, None, -1), slice(5, 5), np.array([4, 4, 0, 59]), [2, 1]]
    for index in indices:
        part = batch[index]
        assert isinstance(part, CellBatch)
        np.testing.assert_array_equal(part.adjacency, batch.adjacency[index])
        np.testing.assert_array_equal(part.ops, batch.ops[index])
        np.testing.assert_array_equal(part.num_vertices, batch.num_vertices[index])
    with pytest.raises(IndexError):
        batch[np.array([0, 60])]
    specs = batch.to_specs()
    assert specs == list(batch) == [batch[i] for i in range(len(batch))]
    assert [ref.spec_cell(s)[1] for s in specs] == [c[1] for c in cells]
    assert CellBatch.from_specs(specs, nb101) == batch
    joined = CellBatch.concat([batch[:10], batch[10:], batch[:0]])
    assert joined == batch
    np.testing.assert_array_equal(
        CellBatch.concat([batch[5:9], batch[:3]]).adjacency,
        np.concatenate([batch.adjacency[5:9], batch.adjacency[:3]]),
    )
    assert batch != batch[::-1]
    assert 0 < batch[:30].nbytes < batch.nbytes


def test_pickle_round_trips(nb101: SearchSpace, small_space: SearchSpace, rng: np.random.Generator,
                            make_batch: Callable[..., CellBatch]) -> None:
    for space in [nb101, small_space]:
        copy = pickle.loads(pickle.dumps(space))
        assert copy == space and hash(copy) == hash(space) and copy.ops == space.ops
    batch = make_batch(ref.random_cells(rng, 50, 5, 6, 2), small_space)
    copy = pickle.loads(pickle.dumps(batch))
    assert copy == batch and copy.space == small_space
    np.testing.assert_array_equal(copy.adjacency, batch.adjacency)
    np.testing.assert_array_equal(copy.ops, batch.ops)
    spec = CellSpec(vector_adjacency(), ref.TEST_VECTOR_OPS)
    spec_copy = pickle.loads(pickle.dumps(spec))
    assert spec_copy == spec and spec_copy.nb101_hash() == ref.TEST_VECTOR_HASH


def test_batch_results_do_not_depend_on_n_jobs(nb101: SearchSpace) -> None:
    batch = nb101.sample(5000, random_state=3)
    for method in ["nb101_hashes", "fingerprints", "canonical"]:
        serial, parallel = getattr(batch, method)(n_jobs=1), getattr(batch, method)(n_jobs=2)
        if isinstance(serial, CellBatch):
            assert serial == parallel, method
        else:
            np.testing.assert_array_equal(serial, parallel, err_msg=method)
    for kind in ["adjacency", "path", "path-trunc", "path-count"]:
        np.testing.assert_array_equal(
            batch.encode(kind, n_jobs=1), batch.encode(kind, n_jobs=2)  # type: ignore[arg-type]
        )
    (u1, i1), (u2, i2) = batch.unique(n_jobs=1), batch.unique(n_jobs=2)
    assert u1 == u2
    np.testing.assert_array_equal(i1, i2)
    adj, ops = batch.adjacency, batch.ops
    assert CellBatch.from_arrays(adj, ops, nb101, n_jobs=1) == CellBatch.from_arrays(adj, ops, nb101, n_jobs=2)


# --------------------------------------------------------------------------------------------
# error mapping


def bad_message(excinfo: pytest.ExceptionInfo[BaseException]) -> str:
    return str(excinfo.value)


def assert_mentions(message: str, *patterns: str) -> None:
    for pattern in patterns:
        assert re.search(pattern, message, flags=re.IGNORECASE), f"{pattern!r} not in message {message!r}"


# (name, edit of a valid 7 x 7 adjacency and op list, patterns the message must contain)
def _non_binary(adj: np.ndarray, ops: list[int]) -> None:
    adj[0, 1] = 7


def _lower(adj: np.ndarray, ops: list[int]) -> None:
    adj[4, 2] = 1


def _diagonal(adj: np.ndarray, ops: list[int]) -> None:
    adj[3, 3] = 1


def _unknown_code(adj: np.ndarray, ops: list[int]) -> None:
    ops[2] = 5


def _negative_code(adj: np.ndarray, ops: list[int]) -> None:
    ops[2] = -7


def _too_many_edges(adj: np.ndarray, ops: list[int]) -> None:
    adj[1, 3] = 1  # 10 live edges


def _disconnected(adj: np.ndarray, ops: list[int]) -> None:
    adj[2, 6] = adj[5, 6] = 0  # nothing reaches the output


def _bad_input(adj: np.ndarray, ops: list[int]) -> None:
    ops[0] = 1


BAD_CELLS: list[tuple[str, Callable[[np.ndarray, list[int]], None], tuple[str, ...]]] = [
    ("non-binary entry", _non_binary, (r"\b7\b",)),
    ("lower-triangular entry", _lower, (r"\b4\b", r"\b2\b")),
    ("diagonal entry", _diagonal, (r"\b3\b",)),
    ("unknown op code", _unknown_code, (r"\b5\b",)),
    ("negative op code", _negative_code, (r"-7\b",)),
    ("too many edges after pruning", _too_many_edges, (r"\b10\b", r"\b9\b")),
    ("input cannot reach output", _disconnected, (r"reach|connect",)),
    ("first op not the input", _bad_input, (r"input",)),
]


@pytest.mark.parametrize("name, edit, patterns", BAD_CELLS, ids=[b[0] for b in BAD_CELLS])
def test_bad_spec_raises_invalid_cell_error(
    nb101: SearchSpace, name: str, edit: Callable[..., None], patterns: tuple[str, ...]
) -> None:
    adj, ops = vector_adjacency(), list(ref.TEST_VECTOR_OPS)
    edit(adj, ops)
    with pytest.raises(InvalidCellError) as excinfo:
        CellSpec(adj, ops, space=nb101).validate(nb101)
    assert isinstance(excinfo.value, ValueError)
    assert_mentions(bad_message(excinfo), *patterns)


@pytest.mark.parametrize("name, edit, patterns", BAD_CELLS, ids=[b[0] for b in BAD_CELLS])
def test_bad_batch_row_raises_invalid_cell_error_naming_the_row(
    nb101: SearchSpace, name: str, edit: Callable[..., None], patterns: tuple[str, ...]
) -> None:
    good_adj, good_ops = ref.to_arrays([(vector_adjacency(), list(ref.TEST_VECTOR_OPS))] * 5, 7)
    adj_row, ops_row = good_adj[3].copy(), [int(o) for o in good_ops[3]]
    edit(adj_row, ops_row)
    good_adj[3], good_ops[3] = adj_row, ops_row
    with pytest.raises(InvalidCellError) as excinfo:
        CellBatch.from_arrays(good_adj, good_ops, nb101)
    assert_mentions(bad_message(excinfo), r"\brow 3\b", *patterns)


def test_unknown_op_name_is_named(nb101: SearchSpace) -> None:
    names = list(NB101_NAMES)
    names[3] = "conv5x5-bn-relu"
    with pytest.raises(InvalidCellError, match="conv5x5-bn-relu"):
        CellSpec(vector_adjacency(), names)


def test_too_many_vertices_after_pruning(nb101: SearchSpace) -> None:
    chain = ref.matrix_from_edges(8, [(i, i + 1) for i in range(7)])
    spec = CellSpec(chain, [-1, 0, 0, 0, 0, 0, 0, -2])
    assert not spec.is_valid(nb101)
    with pytest.raises(InvalidCellError) as excinfo:
        spec.validate(nb101)
    assert_mentions(bad_message(excinfo), r"\b8\b", r"\b7\b")
    # the same cell with a shortcut prunes to fewer vertices: valid
    shortcut = chain.copy()
    shortcut[0, 7] = 1
    shortcut[0, 1] = 0
    assert CellSpec(shortcut, [-1, 0, 0, 0, 0, 0, 0, -2]).validate(nb101).num_vertices == 2


def padded_rows() -> tuple[np.ndarray, np.ndarray]:
    """Five valid rows of 4 vertices (output at position 3) in a 7-wide batch."""
    cell = (ref.matrix_from_edges(4, [(0, 1), (1, 2), (2, 3), (0, 3)]), [-1, 0, 1, -2])
    return ref.to_arrays([cell] * 5, 7)


def test_padded_rows_are_accepted(nb101: SearchSpace) -> None:
    adj, ops = padded_rows()
    batch = CellBatch.from_arrays(adj, ops, nb101)
    np.testing.assert_array_equal(batch.num_vertices, [4] * 5)


@pytest.mark.parametrize("where", ["edge beyond the output", "op after the output", "padding inside"])
def test_bad_padding_raises_invalid_cell_error(nb101: SearchSpace, where: str) -> None:
    adj, ops = padded_rows()
    if where == "edge beyond the output":
        adj[3, 2, 5] = 1
    elif where == "op after the output":
        ops[3, 5] = 1
    else:
        ops[3, 2] = ref.OP_PAD
    with pytest.raises(InvalidCellError) as excinfo:
        CellBatch.from_arrays(adj, ops, nb101)
    assert_mentions(bad_message(excinfo), r"\brow 3\b")
    if where != "padding inside":
        assert_mentions(bad_message(excinfo), "pad")


def good_arrays(n: int = 4) -> tuple[np.ndarray, np.ndarray]:
    return ref.to_arrays([(vector_adjacency(), list(ref.TEST_VECTOR_OPS))] * n, 7)


@pytest.mark.parametrize(
    "adj_dtype, ops_dtype, expected, got",
    [(np.int64, np.int8, "uint8", "int64"), (np.float32, np.int8, "uint8", "float32"),
     (np.uint8, np.int64, "int8", "int64"), (np.uint8, np.uint8, "int8", "uint8")],
)
def test_wrong_dtype_raises_type_error(
    nb101: SearchSpace, adj_dtype: type, ops_dtype: type, expected: str, got: str
) -> None:
    adj, ops = good_arrays()
    with pytest.raises(TypeError) as excinfo:
        CellBatch.from_arrays(adj.astype(adj_dtype), ops.astype(ops_dtype), nb101)
    assert_mentions(bad_message(excinfo), rf"\b{expected}\b", rf"\b{got}\b")


@pytest.mark.parametrize(
    "adj_shape, ops_shape, error",
    [((4, 7, 6), (4, 7), InvalidCellError), ((4, 6, 6), (4, 6), InvalidCellError),
     ((4, 7, 7), (3, 7), InvalidCellError), ((4, 7, 7), (4, 6), InvalidCellError),
     ((4, 8, 8), (4, 8), InvalidCellError), ((7, 7), (7,), TypeError), ((4, 7, 7), (4, 7, 1), TypeError)],
)
def test_wrong_shape_is_refused(
    nb101: SearchSpace, adj_shape: tuple[int, ...], ops_shape: tuple[int, ...], error: type
) -> None:
    adj = np.zeros(adj_shape, dtype=np.uint8)
    ops = np.full(ops_shape, ref.OP_PAD, dtype=np.int8)
    with pytest.raises(error) as excinfo:
        CellBatch.from_arrays(adj, ops, nb101)
    assert "row" not in str(excinfo.value)
    assert_mentions(bad_message(excinfo), "shape")


@pytest.mark.parametrize(
    "adjacency, ops, error, named",
    [
        (np.zeros((3, 4), dtype=np.uint8), [-1, 0, -2], InvalidCellError, r"shape|square"),
        (ref.matrix_from_edges(3, [(0, 1), (1, 2)]), [-1, 0, 1, -2], InvalidCellError, r"\b3\b.*\b4\b|\b4\b.*\b3\b"),
        (np.ones((1, 1), dtype=np.uint8), [-1], InvalidCellError, r"\b1\b"),
        (ref.matrix_from_edges(17, [(i, i + 1) for i in range(16)]), [-1] + [0] * 15 + [-2], InvalidCellError,
         r"\b17\b.*\b16\b"),
        ([[0, 0.5], [0, 0]], [-1, -2], TypeError, r"float64"),
        ([[0, 1], [0, 0]], [-1, 2**70], InvalidCellError, str(2**70)),
        ([[0, 1], [0, 0]], [-1, None], TypeError, "None"),
    ],
    ids=["not square", "ops length", "one vertex", "17 vertices", "fractional entry", "huge op code", "None op"],
)
def test_bad_spec_shapes_are_refused(adjacency: Any, ops: list[int], error: type, named: str) -> None:
    with pytest.raises(error) as excinfo:
        CellSpec(adjacency, ops)
    assert_mentions(bad_message(excinfo), named)


# --------------------------------------------------------------------------------------------
# garbage never escapes as anything but ValueError / TypeError


def call_must_not_escape(fn: Callable[[], object]) -> Optional[object]:
    """Calls ``fn``: ValueError and TypeError are expected; anything else (in particular a Rust
    panic, which is a BaseException) fails the test."""
    try:
        return fn()
    except (ValueError, TypeError):
        return None
    except BaseException as exc:  # noqa: BLE001 - a panic is not an Exception
        pytest.fail(f"{type(exc).__module__}.{type(exc).__name__}: {exc!r}")


DTYPES = [np.uint8, np.int8, np.int16, np.int64, np.uint64, np.float64, np.bool_]


@st.composite
def garbage_arrays(draw: st.DrawFn, min_dims: int = 0, max_dims: int = 4) -> np.ndarray:
    """Arrays of random shape and dtype; values mostly small (-4..3), some huge."""
    shape = tuple(draw(st.lists(st.integers(0, 9), min_size=min_dims, max_size=max_dims)))
    gen = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    values = gen.integers(-4, 4, size=shape)
    huge = gen.random(size=shape) < draw(st.sampled_from([0.0, 0.05, 0.5]))
    values = np.where(huge, gen.integers(-(2**40), 2**40, size=shape), values)
    dtype = draw(st.sampled_from(DTYPES))
    with np.errstate(all="ignore"):
        return np.asarray(values, dtype=np.int64).astype(dtype)


@st.composite
def nb101_shaped_arrays(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """Arrays of the right dtype and shape whose values are mostly almost valid."""
    n = draw(st.integers(0, 4))
    adj = draw(st.lists(st.sampled_from([0, 0, 0, 1, 1, 2]), min_size=n * 49, max_size=n * 49))
    ops = draw(st.lists(st.integers(-4, 4), min_size=n * 7, max_size=n * 7))
    adj_arr = np.array(adj, dtype=np.uint8).reshape(n, 7, 7)
    if draw(st.booleans()):
        adj_arr = np.triu(adj_arr, 1)
    return adj_arr, np.array(ops, dtype=np.int8).reshape(n, 7)


def check_accepted_batch(batch: object, n: int) -> None:
    assert isinstance(batch, CellBatch) and len(batch) == n
    for cell in ref.batch_cells(batch):
        assert ref.is_pruned_valid(cell, 7, 9, 3), cell


HYPOTHESIS = settings(max_examples=300, deadline=None, derandomize=True,
                      suppress_health_check=[HealthCheck.too_slow])


@HYPOTHESIS
@given(adj=garbage_arrays(), ops=garbage_arrays())
def test_garbage_arrays_only_raise_value_or_type_errors(adj: np.ndarray, ops: np.ndarray) -> None:
    nb101 = SearchSpace.nb101()
    result = call_must_not_escape(lambda: CellBatch.from_arrays(adj, ops, nb101))
    if result is not None:
        check_accepted_batch(result, adj.shape[0] if adj.ndim else -1)


@HYPOTHESIS
@given(arrays=nb101_shaped_arrays())
def test_almost_valid_arrays_only_raise_value_or_type_errors(arrays: tuple[np.ndarray, np.ndarray]) -> None:
    adj, ops = arrays
    result = call_must_not_escape(lambda: CellBatch.from_arrays(adj, ops, SearchSpace.nb101()))
    if result is not None:
        check_accepted_batch(result, adj.shape[0])
        expected = [ref.is_valid(a, [int(o) for o in os], 7, 9, 3) for a, os in zip(adj, ops)]
        assert all(expected), "an invalid row was accepted"


OP_ITEMS = st.one_of(
    st.integers(-4, 4), st.integers(-(2**70), 2**70), st.sampled_from(["input", "output", "maxpool3x3", "x", ""]),
    st.none(), st.floats(allow_nan=True),
)


@HYPOTHESIS
@given(adj=garbage_arrays(min_dims=0, max_dims=3), ops=st.lists(OP_ITEMS, max_size=18))
def test_garbage_specs_only_raise_value_or_type_errors(adj: np.ndarray, ops: list[Any]) -> None:
    nb101 = SearchSpace.nb101()
    spec = call_must_not_escape(lambda: CellSpec(adj, ops))
    if spec is None:
        return
    assert isinstance(spec, CellSpec)
    methods: list[Callable[[], object]] = [spec.pruned, spec.is_valid, lambda: spec.validate(nb101),
                                           spec.nb101_hash, spec.canonical, spec.fingerprint, spec.op_names]
    for method in methods:
        call_must_not_escape(method)


@HYPOTHESIS
@given(
    n=st.integers(2, 17),
    edges=st.lists(st.tuples(st.integers(0, 16), st.integers(0, 16)), max_size=40),
    ops=st.lists(st.integers(-4, 6), min_size=17, max_size=17),
)
def test_random_graphs_only_raise_value_or_type_errors(n: int, edges: list[tuple[int, int]], ops: list[int]) -> None:
    adj = np.zeros((n, n), dtype=np.uint8)
    for x, y in edges:
        if x < n and y < n:
            adj[x, y] = 1
    op_list = [-1] + ops[1 : n - 1] + [-2]
    spec = call_must_not_escape(lambda: CellSpec(adj, op_list))
    if spec is None:
        return
    assert isinstance(spec, CellSpec)
    methods: list[Callable[[], object]] = [spec.pruned, spec.is_valid, lambda: spec.validate(SearchSpace.nb101()),
                                           spec.nb101_hash, spec.canonical, spec.fingerprint]
    for method in methods:
        call_must_not_escape(method)
