"""SearchSpace: enumeration, counting, indexing, sampling, mutation, neighbourhoods and
encodings, against the reference text and pure-Python references."""

from __future__ import annotations

import re
import time
from typing import Callable

import numpy as np
import pytest
from scipy import stats

import reference as ref
from nasfast import CellBatch, SearchSpace, SpaceTooLargeError

NB101_COUNTS = np.array([0, 0] + [ref.NB101_UNIQUE_BY_VERTICES[v] for v in range(2, 8)], dtype=np.int64)


def keys_of(batch: CellBatch) -> list[bytes]:
    return [ref.iso_key(*c) for c in ref.batch_cells(batch)]


def space_args(space: SearchSpace) -> tuple[int, int, int]:
    return space.max_vertices, space.max_edges, space.num_ops


# --------------------------------------------------------------------------------------------
# enumeration and counting


@pytest.mark.slow
def test_nb101_enumeration_matches_the_reference(nb101: SearchSpace, nb101_cells: CellBatch) -> None:
    assert len(nb101_cells) == ref.NB101_NUM_CELLS == NB101_COUNTS.sum()
    np.testing.assert_array_equal(np.bincount(nb101_cells.num_vertices, minlength=8), NB101_COUNTS)
    np.testing.assert_array_equal(nb101.counts_by_vertices(), NB101_COUNTS)
    assert nb101.count() == ref.NB101_NUM_CELLS
    assert nb101.is_enumerable()
    enumerated = np.unique(nb101_cells.nb101_hashes())
    assert len(enumerated) == ref.NB101_NUM_CELLS, "two enumerated cells share a module hash"
    # §4: every labelled complete matrix, hashed; first cell per hash kept
    check = np.random.default_rng(4)
    per_vertices = []
    for v in range(2, 8):
        adj, ops = ref.labelled_cells(v, 9, 3, pad_to=7)
        assert len(adj) == ref.NB101_LABELLED_BY_VERTICES[v]
        hashes = [
            np.unique(CellBatch.from_arrays(adj[s : s + 300_000], ops[s : s + 300_000], nb101).nb101_hashes())
            for s in range(0, len(adj), 300_000)
        ]
        unique = np.unique(np.concatenate(hashes))
        assert len(unique) == ref.NB101_UNIQUE_BY_VERTICES[v], v
        rows = check.integers(0, len(adj), 40)
        sample = CellBatch.from_arrays(adj[rows], ops[rows], nb101).nb101_hashes().tolist()
        assert sample == [ref.nb101_hash(adj[r, :v, :v], ops[r, :v].tolist()) for r in rows]
        per_vertices.append(unique)
    np.testing.assert_array_equal(np.unique(np.concatenate(per_vertices)), enumerated)


@pytest.mark.slow
def test_nb101_enumeration_is_canonical_and_ordered(nb101_cells: CellBatch) -> None:
    assert nb101_cells.canonical() == nb101_cells
    nv = nb101_cells.num_vertices.astype(np.int64)
    assert (np.diff(nv) >= 0).all()
    fp = nb101_cells.fingerprints()
    same_size = np.diff(nv) == 0
    assert (fp[1:][same_size] > fp[:-1][same_size]).all(), "not sorted by fingerprint within a size"


@pytest.mark.parametrize("args", [(5, 6, 2), (4, 4, 3), (5, 10, 1)])
def test_small_space_enumeration_matches_brute_force(args: tuple[int, int, int]) -> None:
    space = SearchSpace(args[0], args[1], [f"op{i}" for i in range(args[2])])
    brute = ref.brute_force_space(*args)
    cells = space.enumerate()
    keys = keys_of(cells)
    assert len(set(keys)) == len(keys), "the enumeration holds isomorphic duplicates"
    assert set(keys) == set(brute)
    assert space.count() == len(brute) and space.is_enumerable()
    sizes = np.bincount([len(c[1]) for c in brute.values()], minlength=args[0] + 1)
    np.testing.assert_array_equal(space.counts_by_vertices(), sizes)
    assert cells.canonical() == cells
    assert all(ref.is_pruned_valid(c, *args) for c in ref.batch_cells(cells))


def test_index_of_inverts_cell_at(nb101: SearchSpace, nb101_cells: CellBatch, rng: np.random.Generator,
                                  make_batch: Callable[..., CellBatch]) -> None:
    indices = rng.integers(0, ref.NB101_NUM_CELLS, 500)
    cells = nb101.cell_at(indices)
    assert cells == nb101_cells[indices]
    found = nb101.index_of(cells)
    assert found.dtype == np.int64
    np.testing.assert_array_equal(found, indices)
    # relabelled (non-canonical) copies are found too
    copies = [ref.random_relabelling(c, rng) for c in ref.batch_cells(cells)]
    np.testing.assert_array_equal(nb101.index_of(make_batch(copies, nb101)), indices)
    np.testing.assert_array_equal(nb101.index_of(nb101_cells), np.arange(ref.NB101_NUM_CELLS))


@pytest.mark.parametrize("index", [ref.NB101_NUM_CELLS, 10**12])
def test_cell_at_out_of_range_raises_index_error(nb101: SearchSpace, index: int) -> None:
    with pytest.raises(IndexError, match=str(index)):
        nb101.cell_at(np.array([0, index]))


def test_index_of_cells_outside_the_space(nb101: SearchSpace) -> None:
    six = SearchSpace(6, 9, ref.NB101_OPS)
    batch = nb101.sample(400, random_state=5)
    found = six.index_of(batch)
    seven = batch.num_vertices == 7
    assert seven.sum() > 100 and (~seven).sum() > 10
    assert (found[seven] == -1).all()
    assert (found[~seven] >= 0).all()
    smaller = batch[np.flatnonzero(~seven)]
    assert keys_of(six.cell_at(found[~seven])) == keys_of(smaller)


def test_too_large_space_is_refused_quickly(big_space: SearchSpace) -> None:
    assert not big_space.is_enumerable()
    start = time.perf_counter()
    with pytest.raises(SpaceTooLargeError) as excinfo:
        big_space.enumerate()
    assert time.perf_counter() - start < 10.0
    assert isinstance(excinfo.value, ValueError)
    assert re.search(r"\d(\.\d+)?e\+?\d+", str(excinfo.value)), f"no estimate in {excinfo.value}"


@pytest.mark.parametrize("which", ["nb101", "small"])
def test_estimate_count_agrees_with_the_exact_count(which: str, small_space: SearchSpace) -> None:
    space = SearchSpace.nb101() if which == "nb101" else small_space
    exact = ref.NB101_NUM_CELLS if which == "nb101" else len(ref.brute_force_space(5, 6, 2))
    estimate, se = space.estimate_count(n_samples=100_000, random_state=1)
    assert 0 < se < 0.05 * estimate
    assert abs(estimate - exact) < 4 * se, (estimate, se, exact)


# --------------------------------------------------------------------------------------------
# sampling


@pytest.mark.parametrize("method", ["uniform", "orbit", "rejection"])
def test_sampling_is_deterministic(nb101: SearchSpace, method: str) -> None:
    def sample(random_state: object, n: int = 3000, n_jobs: int | None = None) -> CellBatch:
        return nb101.sample(n, random_state=random_state, method=method, n_jobs=n_jobs)  # type: ignore[arg-type]

    first = sample(42)
    assert len(first) == 3000
    assert all(ref.is_pruned_valid(c, 7, 9, 3) for c in ref.batch_cells(first[:300]))
    assert sample(42) == first
    assert sample(np.int64(42)) == first
    assert sample(42, n_jobs=1) == sample(42, n_jobs=2) == first
    assert sample(43) != first
    gen_a, gen_b = np.random.default_rng(9), np.random.default_rng(9)
    a1, b1 = sample(gen_a, 50), sample(gen_b, 50)
    assert a1 == b1
    assert sample(gen_a, 50) != a1, "a Generator must be advanced"
    assert sample(np.random.RandomState(3), 50) == sample(np.random.RandomState(3), 50)
    assert len(sample(None, 20)) == 20


def test_uniform_sampler_matches_the_size_distribution(nb101: SearchSpace) -> None:
    nv = nb101.sample(20000, random_state=0).num_vertices
    observed = np.array([(nv <= 5).sum(), (nv == 6).sum(), (nv == 7).sum()])
    expected = np.array([NB101_COUNTS[:6].sum(), NB101_COUNTS[6], NB101_COUNTS[7]]) / ref.NB101_NUM_CELLS
    assert stats.chisquare(observed, expected * len(nv)).pvalue > 1e-3, observed


def test_rejection_sampler_is_far_from_uniform(nb101: SearchSpace) -> None:
    nv = nb101.sample(20000, random_state=0, method="rejection").num_vertices
    observed = np.array([(nv <= 5).sum(), (nv == 6).sum(), (nv == 7).sum()])
    expected = np.array([NB101_COUNTS[:6].sum(), NB101_COUNTS[6], NB101_COUNTS[7]]) / ref.NB101_NUM_CELLS
    # reference §5: about 0.3% of accepted draws have 7 vertices, against 84.8% of unique cells
    assert (nv == 7).mean() < 0.02
    assert stats.chisquare(observed, expected * len(nv)).pvalue < 1e-12


@pytest.mark.parametrize("method, uniform", [("uniform", True), ("orbit", True), ("rejection", False)])
def test_per_cell_uniformity_on_a_small_space(small_space: SearchSpace, method: str, uniform: bool) -> None:
    m = small_space.count()
    draws = small_space.sample(40 * m, random_state=8, method=method)  # type: ignore[arg-type]
    index = small_space.index_of(draws)
    assert (index >= 0).all()
    counts = np.bincount(index, minlength=m)
    pvalue = stats.chisquare(counts).pvalue
    if uniform:
        assert pvalue > 1e-3, (method, pvalue)
    else:
        assert pvalue < 1e-6, "the test cannot tell the rejection sampler from a uniform one"


def test_sampling_without_replacement(small_space: SearchSpace, nb101: SearchSpace) -> None:
    m = small_space.count()
    everything = small_space.index_of(small_space.sample(m, random_state=2, replace=False))
    np.testing.assert_array_equal(np.sort(everything), np.arange(m))
    with pytest.raises(ValueError, match=str(m)):
        small_space.sample(m + 1, random_state=2, replace=False)
    some = nb101.index_of(nb101.sample(5000, random_state=2, replace=False))
    assert len(np.unique(some)) == 5000


# --------------------------------------------------------------------------------------------
# mutation


@pytest.mark.parametrize("preset", ["nb101", "bananas", "naslib"])
def test_mutation_children_are_valid_and_deterministic(nb101: SearchSpace, preset: str) -> None:
    parents = nb101.sample(3000, random_state=1)
    children = nb101.mutate(parents, random_state=7, preset=preset)  # type: ignore[arg-type]
    assert len(children) == len(parents)
    assert all(ref.is_pruned_valid(c, 7, 9, 3) for c in ref.batch_cells(children[:400]))
    assert nb101.mutate(parents, random_state=7, preset=preset) == children  # type: ignore[arg-type]
    assert nb101.mutate(parents, random_state=7, preset=preset, n_jobs=1) == nb101.mutate(  # type: ignore[arg-type]
        parents, random_state=7, preset=preset, n_jobs=2  # type: ignore[arg-type]
    )
    assert nb101.mutate(parents, random_state=8, preset=preset) != children  # type: ignore[arg-type]
    distinct = nb101.mutate(parents[:400], random_state=7, preset=preset, non_isomorphic=True)  # type: ignore[arg-type]
    parent_keys, child_keys = keys_of(parents[:400]), keys_of(distinct)
    assert all(ref.is_pruned_valid(c, 7, 9, 3) for c in ref.batch_cells(distinct))
    assert not [i for i in range(400) if parent_keys[i] == child_keys[i]]


def test_unknown_preset_is_named(nb101: SearchSpace) -> None:
    with pytest.raises(ValueError, match="evolution"):
        nb101.mutate(nb101.sample(3, random_state=0), random_state=0, preset="evolution")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# neighbourhoods


def neighbour_rows(space: SearchSpace, parents: CellBatch, radius: int = 1) -> list[list[ref.Cell]]:
    found, offsets = space.neighbours(parents, radius=radius)
    assert offsets.dtype == np.int64 and len(offsets) == len(parents) + 1
    assert offsets[0] == 0 and offsets[-1] == len(found) and (np.diff(offsets) >= 0).all()
    cells = ref.batch_cells(found)
    return [cells[offsets[i] : offsets[i + 1]] for i in range(len(parents))]


def expected_neighbour_keys(parent: ref.Cell, args: tuple[int, int, int]) -> set[bytes]:
    keys = {ref.iso_key(*c) for c in ref.single_edits(parent, *args)}
    keys.discard(ref.iso_key(*parent))
    return keys


def check_neighbours(space: SearchSpace, parents: CellBatch, complete: bool) -> None:
    """Every neighbour is valid, distinct, not the parent's class and one edit away; with
    ``complete``, every single edit is among the neighbours."""
    args = space_args(space)
    for parent, rows in zip(ref.batch_cells(parents), neighbour_rows(space, parents)):
        keys = [ref.iso_key(*c) for c in rows]
        assert all(ref.is_pruned_valid(c, *args) for c in rows)
        assert len(set(keys)) == len(keys), "isomorphic duplicates among the neighbours"
        assert ref.iso_key(*parent) not in keys, "a neighbour is isomorphic to its parent"
        expected = expected_neighbour_keys(parent, args)
        assert not set(keys) - expected, "a neighbour is not one edit away"
        if complete:
            missing = expected - set(keys)
            assert not missing, f"{len(missing)} of {len(expected)} single edits are missing for {parent}"


def nb101_parents(nb101: SearchSpace, rng: np.random.Generator, make_batch: Callable[..., CellBatch]) -> CellBatch:
    return CellBatch.concat([
        nb101.sample(24, random_state=6),
        nb101.sample(6, random_state=6, method="rejection"),
        make_batch(ref.random_cells(rng, 12, 6, 9, 3), nb101),
        make_batch([(ref.matrix_from_edges(7, ref.TEST_VECTOR_EDGES), ref.TEST_VECTOR_OPS)], nb101),
    ])


def test_neighbours_are_single_edits(nb101: SearchSpace, rng: np.random.Generator,
                                     make_batch: Callable[..., CellBatch]) -> None:
    check_neighbours(nb101, nb101_parents(nb101, rng, make_batch), complete=False)


def test_neighbours_include_every_single_edit(nb101: SearchSpace, rng: np.random.Generator,
                                              make_batch: Callable[..., CellBatch]) -> None:
    check_neighbours(nb101, nb101_parents(nb101, rng, make_batch), complete=True)


@pytest.mark.parametrize("complete", [False, True])
def test_neighbours_of_every_cell_of_a_small_space(small_space: SearchSpace, complete: bool) -> None:
    check_neighbours(small_space, small_space.enumerate(), complete=complete)


def test_neighbours_depend_only_on_the_isomorphism_class(
    nb101: SearchSpace, rng: np.random.Generator, make_batch: Callable[..., CellBatch]
) -> None:
    parents = nb101_parents(nb101, rng, make_batch)
    copies = make_batch([ref.random_relabelling(c, rng) for c in ref.batch_cells(parents)], nb101)
    for i, (a, b) in enumerate(zip(neighbour_rows(nb101, parents), neighbour_rows(nb101, copies))):
        keys_a, keys_b = {ref.iso_key(*c) for c in a}, {ref.iso_key(*c) for c in b}
        assert keys_a == keys_b, f"parent {i}: {len(keys_a ^ keys_b)} neighbours differ between relabelled copies"


def test_neighbours_at_radius_two(nb101: SearchSpace, rng: np.random.Generator,
                                  make_batch: Callable[..., CellBatch]) -> None:
    parents = make_batch(ref.random_cells(rng, 2, 5, 9, 3, min_vertices=4), nb101)
    args = space_args(nb101)
    for parent, rows in zip(ref.batch_cells(parents), neighbour_rows(nb101, parents, radius=2)):
        keys = [ref.iso_key(*c) for c in rows]
        assert len(set(keys)) == len(keys)
        assert all(ref.is_pruned_valid(c, *args) for c in rows)
        first = {ref.iso_key(*c): c for c in ref.single_edits(parent, *args)}
        expected = set(first)
        for cell in first.values():
            expected |= expected_neighbour_keys(cell, args)
        expected.discard(ref.iso_key(*parent))
        assert not set(keys) - expected, "a radius-2 neighbour is more than two edits away"
        assert set(keys) == expected, f"{len(expected - set(keys))} cells two edits away are missing"


def test_neighbours_do_not_depend_on_n_jobs(nb101: SearchSpace) -> None:
    parents = nb101.sample(2100, random_state=12)
    (a, off_a), (b, off_b) = nb101.neighbours(parents, n_jobs=1), nb101.neighbours(parents, n_jobs=2)
    assert a == b
    np.testing.assert_array_equal(off_a, off_b)
    assert nb101.neighbours(parents[:50])[0] == nb101.neighbours(parents[:50])[0]


# --------------------------------------------------------------------------------------------
# a space too large to enumerate


def bucket_by_hash(cells: list[ref.Cell]) -> dict[str, list[ref.Cell]]:
    buckets: dict[str, list[ref.Cell]] = {}
    for c in cells:
        buckets.setdefault(ref.nb101_hash(*c), []).append(c)
    return buckets


def contains_isomorphic(buckets: dict[str, list[ref.Cell]], cell: ref.Cell) -> bool:
    return any(ref.is_isomorphic(cell, other) for other in buckets.get(ref.nb101_hash(*cell), []))


@pytest.fixture(scope="module")
def big_cells(big_space: SearchSpace) -> CellBatch:
    """Uniform cells of the 12-vertex space (the exact sampler is slow there: keep it small)."""
    return big_space.sample(16, random_state=4, method="orbit")


@pytest.mark.parametrize("method, n", [("uniform", 6), ("orbit", 6), ("rejection", 40)])
def test_big_space_sampling(big_space: SearchSpace, method: str, n: int) -> None:
    batch = big_space.sample(n, random_state=3, method=method)  # type: ignore[arg-type]
    assert len(batch) == n
    assert all(ref.is_pruned_valid(c, 12, 16, 5) for c in ref.batch_cells(batch))
    assert big_space.sample(n, random_state=3, method=method) == batch  # type: ignore[arg-type]


def test_big_space_uniform_cells_are_mostly_large(big_cells: CellBatch) -> None:
    assert np.mean(big_cells.num_vertices) > 9, big_cells.num_vertices


def test_big_space_cell_operations(big_space: SearchSpace, big_cells: CellBatch, rng: np.random.Generator,
                                   make_batch: Callable[..., CellBatch]) -> None:
    batch = big_cells
    cells = ref.batch_cells(batch)
    copies = [ref.random_relabelling(c, rng) for c in cells]
    copy_batch = make_batch(copies, big_space)
    # module hash
    assert batch.nb101_hashes().tolist() == [ref.nb101_hash(*c) for c in cells]
    assert copy_batch.nb101_hashes().tolist() == batch.nb101_hashes().tolist()
    # canonical forms and fingerprints: equal for copies, isomorphic to the cell, equal iff isomorphic
    canon = batch.canonical()
    assert copy_batch.canonical() == canon
    np.testing.assert_array_equal(copy_batch.fingerprints(), batch.fingerprints())
    for c, cc in zip(cells, ref.batch_cells(canon)):
        assert ref.is_isomorphic(c, cc)
    both = cells + copies
    fp = np.concatenate([batch.fingerprints(), copy_batch.fingerprints()])
    for i in range(len(both)):
        for j in range(i + 1, len(both)):
            assert (fp[i] == fp[j]) == ref.is_isomorphic(both[i], both[j])
    # truncated path encoding
    assert big_space.encoding_dim("path-trunc") == 1 + 5 + 25 + 125
    expected = np.array([ref.path_encoding(c, 12, 5, max_ops=3) for c in cells])
    np.testing.assert_array_equal(batch.encode("path-trunc"), expected)
    np.testing.assert_array_equal(copy_batch.encode("path-trunc"), expected)


def test_big_space_mutation(big_space: SearchSpace, big_cells: CellBatch) -> None:
    children = big_space.mutate(big_cells, random_state=1, non_isomorphic=True)
    for parent, child in zip(ref.batch_cells(big_cells), ref.batch_cells(children)):
        assert ref.is_pruned_valid(child, 12, 16, 5)
        assert not ref.is_isomorphic(parent, child)


def big_neighbourhoods(big_space: SearchSpace, big_cells: CellBatch) -> list[tuple[ref.Cell, list[ref.Cell]]]:
    parents = big_cells[:3]
    return list(zip(ref.batch_cells(parents), neighbour_rows(big_space, parents)))


def test_big_space_neighbours_are_single_edits(big_space: SearchSpace, big_cells: CellBatch) -> None:
    args = space_args(big_space)
    for parent, rows in big_neighbourhoods(big_space, big_cells):
        assert all(ref.is_pruned_valid(c, *args) for c in rows)
        found = bucket_by_hash(rows)
        for same_hash in found.values():
            for i in range(len(same_hash)):
                for j in range(i + 1, len(same_hash)):
                    assert not ref.is_isomorphic(same_hash[i], same_hash[j]), "duplicate neighbours"
        assert not contains_isomorphic(found, parent)
        edit_buckets = bucket_by_hash(list(ref.single_edits(parent, *args)))
        assert all(contains_isomorphic(edit_buckets, c) for c in rows), "a neighbour is not one edit away"


def test_big_space_neighbours_include_every_single_edit(big_space: SearchSpace, big_cells: CellBatch) -> None:
    args = space_args(big_space)
    for parent, rows in big_neighbourhoods(big_space, big_cells):
        found = bucket_by_hash(rows)
        edits = [c for c in ref.single_edits(parent, *args) if not ref.is_isomorphic(c, parent)]
        missing = [c for c in edits if not contains_isomorphic(found, c)]
        assert not missing, f"{len(missing)} single edits are missing"


# --------------------------------------------------------------------------------------------
# encodings


def test_encoding_dimensions(nb101: SearchSpace, small_space: SearchSpace) -> None:
    batch = nb101.sample(10, random_state=0)
    for kind, dim in [("adjacency", 36), ("path", 364), ("path-trunc", 40), ("path-count", 364)]:
        assert nb101.encoding_dim(kind) == dim  # type: ignore[arg-type]
        features = batch.encode(kind)  # type: ignore[arg-type]
        assert features.shape == (10, dim) and features.dtype == np.float32
    # 5 vertices, 2 ops: 10 edge bits + 3 x 2 one-hot; paths 1 + 2 + 4 + 8
    assert small_space.encoding_dim("adjacency") == 16
    assert small_space.encoding_dim("path") == 15
    with pytest.raises(ValueError, match="paths"):
        batch.encode("paths")  # type: ignore[arg-type]


@pytest.mark.parametrize("which", ["nb101", "small"])
def test_encodings_match_the_reference(which: str, small_space: SearchSpace, rng: np.random.Generator,
                                       make_batch: Callable[..., CellBatch]) -> None:
    space = SearchSpace.nb101() if which == "nb101" else small_space
    v, e, k = space_args(space)
    cells = ref.random_cells(rng, 300, v, e, k)
    if which == "nb101":
        cells += ref.random_complete_cells(rng, 200, 7, 9, 3)
    batch = make_batch(cells, space)
    path = batch.encode("path")
    np.testing.assert_array_equal(path, [ref.path_encoding(c, v, k) for c in cells])
    np.testing.assert_array_equal(batch.encode("path-count"), [ref.path_encoding(c, v, k, counts=True) for c in cells])
    np.testing.assert_array_equal(batch.encode("path-trunc"), path[:, : space.encoding_dim("path-trunc")])
    if which == "nb101":
        assert space.encoding_dim("path-trunc") == 40
    np.testing.assert_array_equal(batch.encode("adjacency"), [ref.adjacency_encoding(c, v, k) for c in cells])
    counts = batch.encode("path-count")
    assert counts.max() > 1, "no cell with two paths of the same op sequence: weak test"


def test_path_encodings_are_isomorphism_invariant(nb101: SearchSpace, rng: np.random.Generator,
                                                  make_batch: Callable[..., CellBatch]) -> None:
    cells = ref.random_complete_cells(rng, 300, 7, 9, 3)
    copies = [ref.random_relabelling(c, rng) for c in cells]
    a, b = make_batch(cells, nb101), make_batch(copies, nb101)
    for kind in ["path", "path-count", "path-trunc"]:
        np.testing.assert_array_equal(a.encode(kind), b.encode(kind))  # type: ignore[arg-type]
    assert not np.array_equal(a.encode("adjacency"), b.encode("adjacency"))
