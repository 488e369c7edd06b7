"""Benchmarks of the nasfast core, each against a pure-Python baseline measured in the same run.

Every group holds two tests, ``..._nasfast`` and ``..._baseline`` (the baselines are in
``baselines.py``), and every test checks that its result is correct, mostly by comparing
nasfast and the baseline on a subset. nasfast runs on one thread (``n_jobs=1``), like the
baselines, except enumerate + hashes, whose target is for the whole 2-core machine. Each test
records what ``report.py`` needs in ``benchmark.extra_info``:

* ``side``: ``"nasfast"`` or ``"baseline"``; ``kind``: ``"rate"`` (``items`` per round, shown as
  ``unit``), ``"time"`` (seconds per round times ``scale``, the extrapolation factor of a
  baseline timed on a fraction of the work) or ``"memory"`` (``value`` bytes);
* nasfast only: ``operation`` (the row label), ``target`` and ``target_op`` (``">="``/``"<="``);
* optional ``detail`` (shown in the cell) and ``note`` (a footnote).
"""

from __future__ import annotations

import importlib
import json
import math
import random
import subprocess
import sys
from collections.abc import Hashable, Sequence
from typing import Any, Callable

import numpy as np
import pytest

import baselines as ref
import nb101_data
from nasfast import OP_PAD, CellBatch, SearchSpace

#: Seed of every random input of the benchmarks.
SEED = 20190601
#: Threads nasfast uses in every benchmark (the baselines run on one).
N_JOBS = 1
#: Rounds of the benchmarks that take well under a second.
FAST_ROUNDS: dict[str, int] = {"rounds": 10, "warmup_rounds": 1, "iterations": 1}
#: Unique NAS-Bench-101 cells by number of vertices (reference section 4).
NB101_COUNTS = {2: 1, 3: 6, 4: 84, 5: 2441, 6: 62010, 7: 359082}
#: Unique NAS-Bench-101 cells.
NB101_SIZE = 423_624
#: Labelled cells the reference enumeration hashes (reference section 4).
NB101_LABELLED = 1_293_208
#: The reference enumeration is timed on every ENUMERATION_STRIDE-th edge mask (odd, so that
#: the sampled masks do not all miss the low edge bits).
ENUMERATION_STRIDE = 199
#: The path-encoding baseline encodes every ENCODING_STRIDE-th cell of the space.
ENCODING_STRIDE = 200
#: The memory baseline builds every MEMORY_STRIDE-th cell of the space.
MEMORY_STRIDE = 10
#: Largest memory the enumerated space may take (bytes).
MEMORY_TARGET = 60 * 10**6
#: The first row of the published data set and its hash (reference section 3).
TEST_VECTOR = (
    np.array(
        [
            [0, 1, 0, 0, 1, 1, 0],
            [0, 0, 1, 0, 0, 0, 0],
            [0, 0, 0, 1, 0, 0, 1],
            [0, 0, 0, 0, 0, 1, 0],
            [0, 0, 0, 0, 0, 1, 0],
            [0, 0, 0, 0, 0, 0, 1],
            [0, 0, 0, 0, 0, 0, 0],
        ],
        dtype=np.int64,
    ),
    [-1, 0, 2, 0, 0, 1, -2],
)
TEST_VECTOR_HASH = "00005c142e6f48ac74fdcf73e3439874"


# ---------------------------------------------------------------------------------- helpers


def record(benchmark: Any, side: str, kind: str, **info: Any) -> None:
    """Stores the figures of one benchmark for ``report.py``."""
    benchmark.extra_info.update(side=side, kind=kind, threads=N_JOBS if side == "nasfast" else 1, **info)


def benchmark_timer(config: pytest.Config) -> Callable[[], float]:
    """The clock of the benchmarks (``--benchmark-timer``, a dotted name such as ``time.process_time``)."""
    module, _, name = str(config.getoption("benchmark_timer")).rpartition(".")
    clock: Callable[[], float] = getattr(importlib.import_module("time" if module == "pep418" else module), name)
    return clock


def to_reference(batch: CellBatch) -> list[ref.Cell]:
    """The cells of a batch as baseline cells ``(matrix, labels)``."""
    adjacency = batch.adjacency.astype(np.int64)
    ops = batch.ops
    return [(adjacency[i, :m, :m].copy(), ops[i, :m].tolist()) for i, m in enumerate(batch.num_vertices.tolist())]


def from_reference(cells: Sequence[ref.Cell], space: SearchSpace) -> CellBatch:
    """A batch of baseline cells (``from_arrays`` validates every row)."""
    v = space.max_vertices
    adjacency = np.zeros((len(cells), v, v), dtype=np.uint8)
    ops = np.full((len(cells), v), OP_PAD, dtype=np.int8)
    for i, (matrix, labels) in enumerate(cells):
        n = len(labels)
        adjacency[i, :n, :n] = matrix
        ops[i, :n] = labels
    return CellBatch.from_arrays(adjacency, ops, space)


def random_relabel(batch: CellBatch, rng: np.random.Generator) -> CellBatch:
    """Each cell under a random topological order of its interior vertices (isomorphic copies)."""
    adjacency = batch.adjacency.astype(bool)
    n, v, _ = adjacency.shape
    rows = np.arange(n)
    fixed = np.arange(v)[None, :] >= (batch.num_vertices.astype(np.int64)[:, None] - 1)  # output, padding
    placed = np.zeros((n, v), dtype=bool)
    placed[:, 0] = True
    order = np.tile(np.arange(v), (n, 1))  # order[r, k]: old vertex at new position k
    for k in range(1, v - 1):
        waiting = (adjacency & ~placed[:, :, None]).any(axis=1)  # has an in-neighbour not yet placed
        free = ~placed & ~fixed & ~waiting
        active = free.any(axis=1)
        pick = np.where(free, rng.random((n, v)), -1.0).argmax(axis=1)
        order[active, k] = pick[active]
        placed[rows[active], pick[active]] = True
    new_adjacency = batch.adjacency[rows[:, None, None], order[:, :, None], order[:, None, :]]
    new_ops = batch.ops[rows[:, None], order]
    return CellBatch.from_arrays(new_adjacency, new_ops, batch.space)


def same_partition(a: Sequence[Hashable], b: Sequence[Hashable]) -> bool:
    """Whether ``a[i] == a[j]`` exactly when ``b[i] == b[j]``."""
    return len(set(zip(a, b))) == len(set(a)) == len(set(b))


def z_score(x: np.ndarray, y: np.ndarray) -> float:
    """Two-sample z statistic of the difference of the means of ``x`` and ``y``."""
    se = math.sqrt(x.var() / len(x) + y.var() / len(y))
    diff = float(x.mean() - y.mean())
    return 0.0 if diff == 0 else diff / max(se, 1e-12)


def published_hashes() -> list[str]:
    """The hashes of the 20,001 real NAS-Bench-101 cells (``tests/data``)."""
    return [row["hash"] for row in nb101_data.real20k_rows()]


# ----------------------------------------------------------------------------------- inputs


@pytest.fixture(scope="module")
def cells(space: SearchSpace) -> CellBatch:
    """10^4 cells drawn uniformly from the unique cells of NAS-Bench-101."""
    return space.sample(10_000, random_state=SEED)


# ------------------------------------------------------------------------------- NB101 hash


@pytest.mark.benchmark(group="nb101-hash")
def test_nb101_hash_nasfast(benchmark: Any, cells: CellBatch) -> None:
    hashes = benchmark.pedantic(cells.nb101_hashes, kwargs={"n_jobs": N_JOBS}, **FAST_ROUNDS)
    record(
        benchmark, "nasfast", "rate", operation="NB101 hash, 10^4 cells", items=len(cells), unit="cells/s",
        target=60_000, target_op=">=",
    )
    assert hashes[:200].tolist() == [ref.nb101_hash(m, labels) for m, labels in to_reference(cells[:200])]


@pytest.mark.benchmark(group="nb101-hash")
def test_nb101_hash_baseline(benchmark: Any, cells: CellBatch, request: pytest.FixtureRequest) -> None:
    subset = to_reference(cells[:1000])
    hashes = benchmark.pedantic(lambda: [ref.nb101_hash(m, labels) for m, labels in subset], rounds=3, iterations=1)
    counter = ref.CountingMD5()
    for m, labels in subset:
        ref.nb101_hash(m, labels, counter)
    record(
        benchmark, "baseline", "rate", items=len(subset), unit="cells/s", detail="hashlib, 10^3 cells",
        md5_blocks_per_cell=counter.blocks / len(subset), md5_calls_per_cell=counter.calls / len(subset),
        md5_blocks_per_s=ref.md5_block_rate(benchmark_timer(request.config)),
    )
    assert ref.nb101_hash(*TEST_VECTOR) == TEST_VECTOR_HASH
    assert hashes == cells[:1000].nb101_hashes().tolist()


# ------------------------------------------------------------------ fingerprint / canonical


@pytest.fixture(scope="module")
def isomorphic_pairs(space: SearchSpace) -> CellBatch:
    """10^5 cells: 5 x 10^4 uniform cells, each twice under random vertex orders (rows 2i, 2i+1)."""
    base = space.sample(50_000, random_state=SEED + 1)
    pairs = random_relabel(base[np.repeat(np.arange(len(base)), 2)], np.random.default_rng(SEED))
    moved = (pairs.adjacency[0::2] != pairs.adjacency[1::2]).any(axis=(1, 2))
    assert moved.mean() > 0.3, "the random vertex orders should change most matrices"
    return pairs


@pytest.mark.benchmark(group="fingerprint")
def test_fingerprint_nasfast(benchmark: Any, isomorphic_pairs: CellBatch) -> None:
    fingerprints = benchmark.pedantic(isomorphic_pairs.fingerprints, kwargs={"n_jobs": N_JOBS}, **FAST_ROUNDS)
    record(
        benchmark, "nasfast", "rate", operation="fingerprint (exact canonical form), 10^5 cells",
        items=len(isomorphic_pairs), unit="cells/s", target=1_000_000, target_op=">=",
    )
    assert (fingerprints[0::2] == fingerprints[1::2]).all()
    # the NB101 hash has no collisions on the space, so it must split the cells the same way
    assert same_partition(fingerprints.tolist(), isomorphic_pairs.nb101_hashes(n_jobs=None).tolist())
    forms = [ref.canonical_form(m, labels) for m, labels in to_reference(isomorphic_pairs[:200])]
    assert same_partition(fingerprints[:200].tolist(), forms)


@pytest.mark.benchmark(group="fingerprint")
def test_fingerprint_baseline(benchmark: Any, isomorphic_pairs: CellBatch) -> None:
    subset = to_reference(isomorphic_pairs[:1000])
    forms = benchmark.pedantic(lambda: [ref.canonical_form(m, labels) for m, labels in subset], rounds=3, iterations=1)
    record(benchmark, "baseline", "rate", items=len(subset), unit="cells/s", detail="permutations, 10^3 cells")
    assert forms[0::2] == forms[1::2]
    assert same_partition(forms, isomorphic_pairs[:1000].fingerprints().tolist())


# ------------------------------------------------------------------------------ enumeration


def fresh_space() -> tuple[tuple[SearchSpace], dict[str, Any]]:
    """A new NB101 space per round, so that no enumeration cache helps."""
    return (SearchSpace.nb101(),), {}


def enumeration_baseline(benchmark: Any, space: SearchSpace) -> tuple[dict[str, ref.Cell], CellBatch]:
    """Times the reference enumeration on a fraction; checks its cells against nasfast's space."""
    unique, labelled = benchmark.pedantic(
        ref.enumerate_reference, kwargs={"stride": ENUMERATION_STRIDE}, rounds=2, iterations=1
    )
    record(
        benchmark, "baseline", "time", scale=NB101_LABELLED / labelled, detail="extrapolated",
        note=(
            f"reference enumeration timed on every {ENUMERATION_STRIDE}th edge mask ({labelled:,} of the "
            f"{NB101_LABELLED:,} labelled cells) and scaled by {NB101_LABELLED:,} / {labelled:,}"
        ),
    )
    representatives = from_reference(list(unique.values()), space)
    assert (space.index_of(representatives) >= 0).all()
    assert len(np.unique(representatives.fingerprints())) == len(unique)  # de-duplication by hash is exact here
    return unique, representatives


@pytest.mark.benchmark(group="enumerate-fingerprint")
def test_enumerate_fingerprint_nasfast(benchmark: Any) -> None:
    batch = benchmark.pedantic(lambda s: s.enumerate(n_jobs=N_JOBS), setup=fresh_space, rounds=3, iterations=1)
    record(
        benchmark, "nasfast", "time", operation="enumerate NB101 (fingerprints)", target=1.0, target_op="<=",
        detail=f"{len(batch):,} cells",
    )
    counts = np.bincount(batch.num_vertices, minlength=8)
    assert {n: int(counts[n]) for n in NB101_COUNTS} == NB101_COUNTS
    assert len(np.unique(batch.fingerprints())) == NB101_SIZE


@pytest.mark.benchmark(group="enumerate-fingerprint")
def test_enumerate_fingerprint_baseline(benchmark: Any, space: SearchSpace) -> None:
    enumeration_baseline(benchmark, space)


@pytest.mark.benchmark(group="enumerate-hash")
def test_enumerate_hash_nasfast(benchmark: Any) -> None:
    hashes = benchmark.pedantic(
        # the target is for the whole machine (2 cores), so this one uses every core
        lambda s: s.enumerate(n_jobs=None).nb101_hashes(n_jobs=None), setup=fresh_space, rounds=2, iterations=1
    )
    record(benchmark, "nasfast", "time", operation="enumerate NB101 + NB101 hashes (all cores)", target=5.0, target_op="<=")
    assert len(np.unique(hashes)) == NB101_SIZE
    assert np.isin([TEST_VECTOR_HASH, *published_hashes()], hashes).all()


@pytest.mark.benchmark(group="enumerate-hash")
def test_enumerate_hash_baseline(benchmark: Any, space: SearchSpace) -> None:
    unique, representatives = enumeration_baseline(benchmark, space)
    assert list(unique) == representatives.nb101_hashes().tolist()


# ---------------------------------------------------------------------------- neighbourhood


def fingerprint_set(cells: Sequence[ref.Cell], space: SearchSpace) -> set[int]:
    """The fingerprints of baseline cells."""
    return set(from_reference(cells, space).fingerprints().tolist())


def neighbour_sets(neighbours: CellBatch, offsets: np.ndarray, count: int) -> list[set[int]]:
    """The fingerprints of the neighbours of each of the first ``count`` parents."""
    fingerprints = neighbours[: int(offsets[count])].fingerprints().tolist()
    return [set(fingerprints[offsets[i] : offsets[i + 1]]) for i in range(count)]


@pytest.mark.benchmark(group="neighbours")
def test_neighbours_nasfast(benchmark: Any, space: SearchSpace, cells: CellBatch) -> None:
    neighbours, offsets = benchmark.pedantic(space.neighbours, args=(cells,), kwargs={"n_jobs": N_JOBS}, **FAST_ROUNDS)
    record(
        benchmark, "nasfast", "rate", operation="radius-1 neighbourhoods, 10^4 parents", items=len(cells),
        unit="parents/s", target=100_000, target_op=">=",
        detail=f"{len(neighbours) / len(cells):.1f} neighbours/parent",
    )
    count = 20
    expected = [ref.neighbours_reference(m, labels) for m, labels in to_reference(cells[:count])]
    assert neighbour_sets(neighbours, offsets, count) == [fingerprint_set(c, space) for c in expected]
    assert [len(c) for c in expected] == np.diff(offsets[: count + 1]).tolist()


@pytest.mark.benchmark(group="neighbours")
def test_neighbours_baseline(benchmark: Any, space: SearchSpace, cells: CellBatch) -> None:
    parents = to_reference(cells[:150])
    found = benchmark.pedantic(
        lambda: [ref.neighbours_reference(m, labels) for m, labels in parents], rounds=3, iterations=1
    )
    record(benchmark, "baseline", "rate", items=len(parents), unit="parents/s", detail="naszilla style, 150 parents")
    neighbours, offsets = space.neighbours(cells[: len(parents)])
    assert [fingerprint_set(c, space) for c in found] == neighbour_sets(neighbours, offsets, len(parents))
    assert [len(c) for c in found] == np.diff(offsets).tolist()


# --------------------------------------------------------------------- mutation and sampling


@pytest.fixture(scope="module")
def parents(space: SearchSpace) -> CellBatch:
    """10^6 parents drawn uniformly from the unique cells."""
    return space.sample(1_000_000, random_state=SEED + 2)


def child_statistics(parents: CellBatch, children: CellBatch) -> dict[str, np.ndarray]:
    """Per child: isomorphic to its parent (0/1), vertices, edges."""
    return {
        "same class as parent": (children.fingerprints() == parents.fingerprints()).astype(float),
        "vertices": children.num_vertices.astype(float),
        "edges": children.num_edges.astype(float),
    }


@pytest.mark.benchmark(group="mutate")
def test_mutate_nasfast(benchmark: Any, space: SearchSpace, parents: CellBatch) -> None:
    children = benchmark.pedantic(
        space.mutate, args=(parents,), kwargs={"random_state": SEED, "preset": "nb101", "n_jobs": N_JOBS},
        rounds=3, iterations=1,
    )
    record(
        benchmark, "nasfast", "rate", operation="mutate (NB101 notebook preset), 10^6 children", items=len(parents),
        unit="children/s", target=1_000_000, target_op=">=",
    )
    assert len(children) == len(parents)
    for m, labels in to_reference(children[:500]):
        cell = ref.validate(m, labels)
        assert cell is not None and cell[0].shape == m.shape  # valid and already pruned


@pytest.mark.benchmark(group="mutate")
def test_mutate_baseline(benchmark: Any, space: SearchSpace, parents: CellBatch) -> None:
    subset = parents[:5000]
    reference_parents = to_reference(subset)

    def mutate_all() -> list[ref.Cell]:
        rng = random.Random(SEED)
        return [ref.mutate_reference(m, labels, rng) for m, labels in reference_parents]

    children = benchmark.pedantic(mutate_all, rounds=3, iterations=1)
    record(
        benchmark, "baseline", "rate", items=len(reference_parents), unit="children/s",
        detail="notebook style, 5,000 children",
    )
    # same operator: the children of the same parent population agree in distribution
    ours = child_statistics(subset, from_reference(children, space))
    theirs = child_statistics(parents, space.mutate(parents, random_state=SEED + 3, preset="nb101", n_jobs=None))
    for name in ours:
        assert abs(z_score(ours[name], theirs[name])) < 5, name


@pytest.mark.benchmark(group="sample")
def test_sample_nasfast(benchmark: Any, space: SearchSpace) -> None:
    n = 1_000_000
    sample = benchmark.pedantic(
        space.sample, args=(n,), kwargs={"random_state": SEED, "n_jobs": N_JOBS}, rounds=5, iterations=1
    )
    record(
        benchmark, "nasfast", "rate", operation="sample 10^6 cells: uniform (nasfast), rejection (baseline)",
        items=n, unit="cells/s", target=1_000_000, target_op=">=",
    )
    counts = np.bincount(sample.num_vertices, minlength=8)
    for vertices, unique in NB101_COUNTS.items():
        p = unique / NB101_SIZE
        assert abs(counts[vertices] / n - p) < 5 * math.sqrt(p * (1 - p) / n) + 1e-9, vertices
    assert (space.index_of(sample[:10_000]) >= 0).all()


@pytest.mark.benchmark(group="sample")
def test_sample_baseline(benchmark: Any, space: SearchSpace) -> None:
    n = 5000

    def sample_all() -> list[tuple[ref.Cell, int]]:
        rng = np.random.default_rng(SEED)
        return [ref.sample_rejection_reference(rng) for _ in range(n)]

    drawn = benchmark.pedantic(sample_all, rounds=3, iterations=1)
    acceptance = n / sum(draws for _, draws in drawn)
    record(
        benchmark, "baseline", "rate", items=n, unit="cells/s", detail="rejection sampler, 5,000 cells",
        acceptance=acceptance,
    )
    sample = from_reference([cell for cell, _ in drawn], space)
    conventional = space.sample(100_000, random_state=SEED, method="rejection", n_jobs=None)
    for name in ("num_vertices", "num_edges"):
        x = getattr(sample, name).astype(float)
        y = getattr(conventional, name).astype(float)
        assert abs(z_score(x, y)) < 5, name


# -------------------------------------------------------------------------------- encoding


@pytest.mark.benchmark(group="encode-path")
def test_encode_path_nasfast(benchmark: Any, space: SearchSpace) -> None:
    batch = space.enumerate()
    features = benchmark.pedantic(batch.encode, args=("path",), kwargs={"n_jobs": N_JOBS}, rounds=3, iterations=1)
    record(
        benchmark, "nasfast", "time", operation="path encoding of all 423,624 cells", target=1.0, target_op="<=",
        detail="float32[423624, 364]",
    )
    assert features.shape == (NB101_SIZE, ref.PATH_DIM) and features.dtype == np.float32
    subset = to_reference(batch[::ENCODING_STRIDE])
    expected = np.stack([ref.path_encoding_reference(m, labels) for m, labels in subset])
    assert np.array_equal(features[::ENCODING_STRIDE], expected)


@pytest.mark.benchmark(group="encode-path")
def test_encode_path_baseline(benchmark: Any, space: SearchSpace) -> None:
    batch = space.enumerate()[::ENCODING_STRIDE]
    subset = to_reference(batch)
    features = benchmark.pedantic(
        lambda: np.stack([ref.path_encoding_reference(m, labels) for m, labels in subset]), rounds=3, iterations=1
    )
    record(
        benchmark, "baseline", "time", scale=NB101_SIZE / len(subset), detail="extrapolated",
        note=(
            f"path encoder timed on every {ENCODING_STRIDE}th cell ({len(subset):,} cells) and scaled by "
            f"{NB101_SIZE:,} / {len(subset):,}"
        ),
    )
    assert np.array_equal(features, batch.encode("path"))


# ---------------------------------------------------------------------------------- memory

#: Measures, in a fresh interpreter, the resident memory that holding the enumerated space takes:
#: as a nasfast CellBatch, or (baseline) as NAS-Bench-101 API style Python records
#: {hash: {"module_adjacency": int array, "module_operations": [names]}} for every STRIDE-th cell.
MEMORY_SCRIPT = """
import gc, json, os, resource, sys
import numpy as np
from nasfast import SearchSpace

side, stride = sys.argv[1], int(sys.argv[2])

def rss():
    # (current, peak) resident set in bytes: /proc on Linux, else the peak from resource
    try:
        with open("/proc/self/status") as f:
            fields = dict(line.split(":", 1) for line in f)
        return int(fields["VmRSS"].split()[0]) * 1024, int(fields["VmHWM"].split()[0]) * 1024
    except OSError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)
        return peak, peak

if side == "nasfast":
    gc.collect()
    before, _ = rss()
    batch = SearchSpace.nb101().enumerate(n_jobs=1)
    held, nbytes = len(batch), batch.nbytes
else:
    space = SearchSpace.nb101()
    batch = space.enumerate()[::stride]
    hashes = batch.nb101_hashes().tolist()
    adjacency, ops, sizes = batch.adjacency, batch.ops, batch.num_vertices.tolist()
    names = {-1: "input", -2: "output", **dict(enumerate(space.ops))}
    gc.collect()
    before, _ = rss()
    records = {}
    for i, m in enumerate(sizes):
        records[hashes[i]] = {
            "module_adjacency": adjacency[i, :m, :m].astype(np.int64),
            "module_operations": [names[c] for c in ops[i, :m].tolist()],
        }
    held, nbytes = len(records), 0
after, peak = rss()
print(json.dumps({"cells": held, "nbytes": nbytes, "rss_growth": after - before, "peak_growth": peak - before}))
"""


def measure_memory(side: str) -> dict[str, int]:
    """Runs MEMORY_SCRIPT in a new interpreter and returns its figures."""
    done = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, side, str(MEMORY_STRIDE)], capture_output=True, text=True, check=True
    )
    figures: dict[str, int] = json.loads(done.stdout)
    return figures


@pytest.mark.benchmark(group="memory")
def test_memory_nasfast(benchmark: Any) -> None:
    figures = benchmark.pedantic(measure_memory, args=("nasfast",), rounds=1, iterations=1)
    record(
        benchmark, "nasfast", "memory", operation="memory of the enumerated space", value=figures["rss_growth"],
        target=MEMORY_TARGET, target_op="<=", detail=(
            f"RSS growth; CellBatch.nbytes {figures['nbytes'] / 1e6:.1f} MB, "
            f"peak RSS growth while enumerating {figures['peak_growth'] / 1e6:.0f} MB"
        ),
        **figures,
    )
    assert figures["cells"] == NB101_SIZE
    assert figures["nbytes"] <= MEMORY_TARGET
    assert figures["rss_growth"] <= MEMORY_TARGET


@pytest.mark.benchmark(group="memory")
def test_memory_baseline(benchmark: Any) -> None:
    figures = benchmark.pedantic(measure_memory, args=("baseline",), rounds=1, iterations=1)
    record(
        benchmark, "baseline", "memory", value=figures["rss_growth"] * MEMORY_STRIDE,
        detail="Python records, extrapolated",
        note=(
            f"NAS-Bench-101 API style records {{hash: {{module_adjacency, module_operations}}}} built for every "
            f"{MEMORY_STRIDE}th cell ({figures['cells']:,} cells), RSS growth scaled by {MEMORY_STRIDE}"
        ),
        **figures,
    )
    assert figures["cells"] == len(range(0, NB101_SIZE, MEMORY_STRIDE))
    assert figures["rss_growth"] > 0
