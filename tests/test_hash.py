"""The NAS-Bench-101 module hash of the core against the pure-Python reference (reference §3)."""

from __future__ import annotations

from typing import Callable

import numpy as np
import pytest

import reference as ref
from nasfast import CellBatch, CellSpec, SearchSpace

NB101_CODES = {"input": ref.OP_INPUT, "output": ref.OP_OUTPUT, **{n: i for i, n in enumerate(ref.NB101_OPS)}}


def test_reference_hash_reproduces_the_published_test_vector() -> None:
    adj = ref.matrix_from_edges(7, ref.TEST_VECTOR_EDGES)
    assert ref.nb101_hash(adj, ref.TEST_VECTOR_OPS) == ref.TEST_VECTOR_HASH


def test_core_hash_reproduces_the_published_test_vector(nb101: SearchSpace) -> None:
    adj = ref.matrix_from_edges(7, ref.TEST_VECTOR_EDGES)
    names = ["input", "conv3x3-bn-relu", "maxpool3x3", "conv3x3-bn-relu", "conv3x3-bn-relu",
             "conv1x1-bn-relu", "output"]
    spec = CellSpec(adj, names)
    assert spec.nb101_hash() == ref.TEST_VECTOR_HASH
    batch = CellBatch.from_specs([spec], nb101)
    hashes = batch.nb101_hashes()
    assert hashes.dtype == np.dtype("<U32")
    assert hashes.tolist() == [ref.TEST_VECTOR_HASH]


def test_batch_hashes_of_random_unpruned_cells_match_the_reference(
    nb101: SearchSpace, rng: np.random.Generator
) -> None:
    # random 7 x 7 matrices of several densities: the core prunes them, the reference too
    cells: list[ref.Cell] = []
    while len(cells) < 2500:
        cell = ref.random_unpruned(rng, 7, 3, float(rng.uniform(0.15, 0.6)))
        if ref.is_valid(*cell, 7, 9, 3):
            cells.append(cell)
    batch = CellBatch.from_arrays(*ref.to_arrays(cells, 7), nb101)
    expected = [ref.nb101_hash(*ref.prune(a, o)) for a, o in cells]  # type: ignore[misc]
    assert batch.nb101_hashes().tolist() == expected
    sizes = np.bincount(batch.num_vertices, minlength=8)
    assert (sizes[2:] > 0).all() and sizes[2:6].sum() > 1000, f"too few cells of some sizes: {sizes}"


def test_batch_hashes_of_complete_cells_match_the_reference(
    nb101: SearchSpace, rng: np.random.Generator, make_batch: Callable[..., CellBatch]
) -> None:
    cells = ref.random_complete_cells(rng, 1500, 7, 9, 3) + ref.random_complete_cells(rng, 500, 6, 9, 3)
    batch = make_batch(cells, nb101)
    assert batch.nb101_hashes().tolist() == [ref.nb101_hash(*c) for c in cells]


@pytest.mark.parametrize("method", ["rejection", "uniform"])
def test_batch_hashes_of_sampled_cells_match_the_reference(nb101: SearchSpace, method: str) -> None:
    batch = nb101.sample(1500, random_state=11, method=method)  # type: ignore[arg-type]
    expected = [ref.nb101_hash(*c) for c in ref.batch_cells(batch)]
    assert batch.nb101_hashes().tolist() == expected


def test_spec_hash_matches_the_reference(rng: np.random.Generator) -> None:
    cells = ref.random_cells(rng, 300, 7, 9, 3, min_vertices=3)
    for adj, ops in cells:
        assert CellSpec(adj, ops).nb101_hash() == ref.nb101_hash(adj, ops), (adj, ops)


def test_hash_is_invariant_under_relabelling(
    nb101: SearchSpace, rng: np.random.Generator, make_batch: Callable[..., CellBatch]
) -> None:
    cells = ref.random_complete_cells(rng, 600, 7, 9, 3) + ref.random_cells(rng, 400, 7, 9, 3, min_vertices=4)
    relabelled = [ref.random_relabelling(c, rng) for c in cells]
    moved = sum(not np.array_equal(a[0], b[0]) or a[1] != b[1] for a, b in zip(cells, relabelled))
    assert moved > 300, "the relabellings hardly changed anything: the test would be vacuous"
    original = make_batch(cells, nb101).nb101_hashes()
    copies = make_batch(relabelled, nb101).nb101_hashes()
    np.testing.assert_array_equal(original, copies)
    assert copies.tolist() == [ref.nb101_hash(*c) for c in relabelled]


def read_real_data(rows: list[dict[str, str]]) -> tuple[list[str], list[ref.Cell]]:
    """The published hashes and the cells of the rows of ``nb101_real20k.csv``."""
    hashes, cells = [], []
    for row in rows:
        n = int(row["num_vertices"])
        ops = [NB101_CODES[name] for name in row["ops"].split("|")]
        bits = np.frombuffer(row["adjacency"].encode("ascii"), dtype=np.uint8) - ord("0")
        assert len(ops) == n and bits.size == n * n, row
        hashes.append(row["hash"])
        cells.append((bits.reshape(n, n).astype(np.uint8), ops))
    return hashes, cells


def test_real_data_hashes_are_reproduced(nb101: SearchSpace, real20k_rows: list[dict[str, str]]) -> None:
    published, cells = read_real_data(real20k_rows)
    assert len(published) == 20001
    adj, ops = ref.to_arrays(cells, 7)
    batch = CellBatch.from_arrays(adj, ops, nb101)
    computed = batch.nb101_hashes()
    mismatches = [i for i in range(len(published)) if computed[i] != published[i]]
    assert not mismatches, f"{len(mismatches)} hashes differ, first rows {mismatches[:5]}"
    # the reference agrees with the published column too, so both sides are pinned
    reference_mismatches = [i for i, c in enumerate(cells) if ref.nb101_hash(*c) != published[i]]
    assert not reference_mismatches, reference_mismatches[:5]
