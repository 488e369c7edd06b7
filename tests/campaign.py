"""The robustness campaign: property-based tests (hypothesis) over every public entry point of
the compiled core, with arrays of every shape (0 to 16 vertices and beyond) and dtype, extreme
values, spaces at the limits of every parameter, odd ``n_jobs`` and odd ``random_state``.

Every call must end in a valid result (checked against the pure-Python reference where there is
one) or in a documented exception; never in a panic (``PanicException`` is a ``BaseException``),
an abort or a hang. The bounded properties run in the test process (``test_campaign.py``); the
risky ones (huge requests, the largest spaces) run in a child process with a time limit and an
address-space cap: ``python campaign.py risky`` runs them and prints the cases tried per area
as JSON on its last line.

``COUNTS`` counts the cases tried per area; the test session prints the totals.
"""

from __future__ import annotations

import collections
import json
import pickle
import sys
import warnings
from typing import Any, Callable, Optional, TypeVar

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nasfast
import reference as ref
from nasfast import CellBatch, CellSpec, Forest, InvalidCellError, SearchSpace, SpaceTooLargeError

#: Cases tried per area.
COUNTS: collections.Counter[str] = collections.Counter()

#: The exceptions the API documents: bad values (``ValueError`` and its subclasses
#: ``InvalidCellError`` and ``SpaceTooLargeError``), bad types, indices out of range, memory the
#: system refuses, and a sampler or a mutation that gave up (``RuntimeError``).
DOCUMENTED = (ValueError, TypeError, IndexError, MemoryError, RuntimeError)

T = TypeVar("T")


class Undocumented(AssertionError):
    """A call ended in an exception the API does not document (a panic, an overflow...)."""


def attempt(area: str, fn: Callable[[], T]) -> Optional[T]:
    """Calls ``fn`` and counts the case: its result, or ``None`` after a documented exception."""
    COUNTS[area] += 1
    try:
        return fn()
    except KeyboardInterrupt:
        raise
    except DOCUMENTED as exc:
        if "PanicException" in {c.__name__ for c in type(exc).__mro__}:  # pragma: no cover
            raise Undocumented(f"{area}: panic {exc!r}") from exc
        return None
    except BaseException as exc:  # a panic is a BaseException
        raise Undocumented(f"{area}: {type(exc).__module__}.{type(exc).__name__}: {exc!r}") from exc


def settings_for(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))


# --------------------------------------------------------------------------------------------
# values

BIG_INTS = [0, 1, 2, 3, 2**31 - 1, 2**31, 2**32, 2**62, 2**63 - 1, 2**63, 2**64 - 1, 2**64, 10**12, 2**70,
            -1, -2, -(2**31), -(2**63), -(2**64), -(2**70)]
DTYPES = [np.bool_, np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64,
          np.float16, np.float32, np.float64, np.complex64, np.object_]

small_ints = st.integers(-3, 40)
odd_ints = st.one_of(small_ints, st.sampled_from(BIG_INTS), st.integers(-(2**80), 2**80))


@st.composite
def numpy_scalars(draw: st.DrawFn) -> Any:
    dtype = draw(st.sampled_from([np.int8, np.uint8, np.int32, np.int64, np.uint64, np.float64, np.bool_]))
    value = draw(st.integers(0, 200))
    return np.asarray(value).astype(dtype)[()]


odd_values = st.one_of(
    odd_ints, st.booleans(), st.none(), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=3),
    numpy_scalars(), st.just([1, 2]), st.just(np.array([3, 4])), st.just(np.array(5)), st.just(object()),
)


@st.composite
def random_states(draw: st.DrawFn) -> Any:
    kind = draw(st.sampled_from(["value", "generator", "legacy", "int"]))
    if kind == "generator":
        return np.random.default_rng(draw(st.integers(0, 2**32)))
    if kind == "legacy":
        return np.random.RandomState(draw(st.integers(0, 2**32 - 1)))
    if kind == "int":
        return draw(st.integers(0, 2**64 - 1))
    return draw(odd_values)


n_jobs_values = st.one_of(st.none(), st.sampled_from([-1, 1, 2, 3, 64, 10**6, 2**70, 0, -2, -(2**70)]), odd_values)


@st.composite
def garbage_arrays(draw: st.DrawFn, max_dims: int = 4, max_side: int = 18) -> np.ndarray:
    """Arrays of random shape (sides 0 to 18) and dtype; values mostly small, some huge."""
    shape = tuple(draw(st.lists(st.integers(0, max_side), min_size=0, max_size=max_dims)))
    if int(np.prod(shape)) > 20_000:
        shape = shape[:2]
    gen = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    values = gen.integers(-3, 3, size=shape)
    huge = gen.random(size=shape) < draw(st.sampled_from([0.0, 0.02, 0.5]))
    values = np.where(huge, gen.integers(-(2**62), 2**62, size=shape), values)
    dtype = draw(st.sampled_from(DTYPES))
    with np.errstate(all="ignore"):
        return np.asarray(values, dtype=np.int64).astype(dtype)


# --------------------------------------------------------------------------------------------
# spaces: a pool of shared objects (their enumerations and samplers are computed once)

#: (max_vertices, max_edges, ops): every parameter at its limits, each space cheap to use
SPACE_ARGS = [
    (2, 1, 1), (3, 1, nasfast.MAX_OPS), (3, 2, nasfast.MAX_OPS), (4, 3, nasfast.MAX_OPS), (5, 6, 2), (5, 10**6, 2),
    (7, 9, 3), (nasfast.MAX_VERTICES, 1, 1), (nasfast.MAX_VERTICES, 4, 2), (nasfast.MAX_VERTICES, 14, 3),
    (9, 12, 2), (12, 16, 5),
]
_POOL: dict[tuple[int, int, int], SearchSpace] = {}


def pooled(args: tuple[int, int, int]) -> SearchSpace:
    if args not in _POOL:
        v, e, k = args
        _POOL[args] = SearchSpace.nb101() if args == (7, 9, 3) else SearchSpace(v, e, [f"op{i}" for i in range(k)])
    return _POOL[args]


spaces = st.sampled_from(SPACE_ARGS).map(pooled)


def check_batch(batch: object, space: SearchSpace, n: Optional[int] = None) -> CellBatch:
    """A result that claims to be a batch of the space: valid pruned cells (checked by the
    reference on a few rows)."""
    assert isinstance(batch, CellBatch), batch
    assert batch.space == space
    if n is not None:
        assert len(batch) == n
    for cell in ref.batch_cells(batch[:: max(1, len(batch) // 7)]):
        assert ref.is_pruned_valid(cell, space.max_vertices, space.max_edges, space.num_ops), cell
    return batch


def sparse(space: SearchSpace) -> bool:
    """Whether valid cells are rare among random matrices of the space (random matrices have
    about half of their v (v - 1) / 2 possible edges)."""
    v = space.max_vertices
    return space.max_edges < v * (v - 1) / 4


def cells_of(space: SearchSpace, seed: int, n: int) -> CellBatch:
    return space.sample(n, random_state=seed, method="orbit" if not space.is_enumerable() else "uniform")


# --------------------------------------------------------------------------------------------
# bounded properties (run in the test process)


@settings_for(150)
@given(v=odd_values, e=odd_values, ops=st.one_of(
    st.lists(st.text(max_size=4), max_size=35), st.lists(st.sampled_from(["input", "output", "a", "a"]), max_size=4),
    odd_values))
def space_construction(v: Any, e: Any, ops: Any) -> None:
    space = attempt("space construction", lambda: SearchSpace(v, e, ops))
    if space is None:
        return
    assert isinstance(space, SearchSpace)
    assert 2 <= space.max_vertices <= nasfast.MAX_VERTICES and space.max_edges >= 1
    assert 1 <= space.num_ops <= nasfast.MAX_OPS and len(set(space.ops)) == space.num_ops
    assert pickle.loads(pickle.dumps(space)) == space and space.encoding_dim("adjacency") > 0


@settings_for(300)
@given(adj=garbage_arrays(max_dims=3), ops=st.lists(st.one_of(
    st.integers(-4, 34), odd_ints, st.sampled_from(["input", "output", "op0", "op1", "conv3x3-bn-relu", "x", ""]),
    st.none(), st.floats()), max_size=20), space=spaces)
def cell_specs(adj: np.ndarray, ops: list[Any], space: SearchSpace) -> None:
    spec = attempt("cell specs", lambda: CellSpec(adj, ops, space))
    if spec is None:
        return
    assert isinstance(spec, CellSpec)
    a = np.asarray(adj)
    assert spec.adjacency.shape == a.shape and spec.num_vertices == a.shape[0]
    expected_valid = ref.is_valid(np.asarray(spec.adjacency), [o if isinstance(o, int) else -9 for o in spec.ops],
                                  space.max_vertices, space.max_edges, space.num_ops)
    assert attempt("cell specs", lambda: spec.is_valid(space)) == expected_valid
    for method in [spec.pruned, spec.nb101_hash, spec.canonical, spec.fingerprint, spec.op_names,
                   lambda: spec.validate(space), lambda: spec.is_isomorphic(spec), lambda: hash(spec),
                   lambda: pickle.loads(pickle.dumps(spec)) == spec, lambda: repr(spec)]:
        attempt("cell specs", method)


@settings_for(300)
@given(adj=garbage_arrays(), ops=garbage_arrays(max_dims=3), space=spaces, n_jobs=n_jobs_values)
def batch_arrays(adj: np.ndarray, ops: np.ndarray, space: SearchSpace, n_jobs: Any) -> None:
    batch = attempt("batch arrays", lambda: CellBatch.from_arrays(adj, ops, space, n_jobs=n_jobs))
    if batch is not None:
        check_batch(batch, space, adj.shape[0])


@st.composite
def shaped_rows(draw: st.DrawFn) -> tuple[SearchSpace, np.ndarray, np.ndarray]:
    """Arrays of the right dtype and shape for a space whose values are mostly almost valid."""
    space = draw(spaces)
    v = space.max_vertices
    n = draw(st.integers(0, 5))
    gen = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    adj = (gen.random((n, v, v)) < draw(st.sampled_from([0.1, 0.3, 0.6]))).astype(np.uint8)
    if draw(st.booleans()):
        adj = np.triu(adj, 1)
    adj[gen.random((n, v, v)) < 0.01] = 2
    ops = gen.integers(-4, space.num_ops + 2, size=(n, v)).astype(np.int8)
    if n and draw(st.booleans()):
        ops[:, 0], ops[:, -1] = -1, -2
    return space, adj, ops


@settings_for(300)
@given(rows=shaped_rows())
def batch_rows(rows: tuple[SearchSpace, np.ndarray, np.ndarray]) -> None:
    space, adj, ops = rows
    batch = attempt("batch arrays", lambda: CellBatch.from_arrays(adj, ops, space))
    expected = [_row_ok(a, o, space) for a, o in zip(adj, ops)]
    assert (batch is not None) == all(expected), (expected, batch)
    if batch is not None:
        check_batch(batch, space, len(adj))


def _row_ok(adj: np.ndarray, ops: np.ndarray, space: SearchSpace) -> bool:
    """Whether a padded row is valid, by the official semantics (prune first, then judge the
    labels and the size of what survives) plus the padding rules of batch arrays."""
    n = _length(ops)
    if n < 2 or not _padding_ok(adj, ops) or not np.isin(adj[:n, :n], [0, 1]).all():
        return False
    names = [{-1: "input", -2: "output"}.get(int(o), space.ops[o] if 0 <= o < space.num_ops else f"code {o}")
             for o in ops[:n]]
    return ref.official_validity(adj[:n, :n], names, space.max_vertices, space.max_edges, space.ops) is True


def _length(ops: np.ndarray) -> int:
    pads = np.flatnonzero(ops == ref.OP_PAD)
    return int(pads[0]) if len(pads) else len(ops)


def _padding_ok(adj: np.ndarray, ops: np.ndarray) -> bool:
    n = _length(ops)
    return bool((ops[n:] == ref.OP_PAD).all() and not adj[n:, :].any() and not adj[:, n:].any())


@settings_for(300)
@given(space=spaces, seed=st.integers(0, 2**20), index=st.one_of(
    odd_values, st.slices(12), st.lists(odd_ints, max_size=4), garbage_arrays(max_dims=2, max_side=13)))
def batch_indexing(space: SearchSpace, seed: int, index: Any) -> None:
    batch = cells_of(space, seed, 12)
    got = attempt("batch indexing", lambda: batch[index])
    if got is None:
        return
    if isinstance(got, CellSpec):
        assert any(got == s for s in batch)
    else:
        ref_index = index
        if isinstance(index, list) or isinstance(index, np.ndarray):
            ref_index = np.asarray(index)
            if ref_index.dtype == object or ref_index.dtype.kind == "f":
                ref_index = ref_index.astype(np.int64)
        np.testing.assert_array_equal(got.adjacency, batch.adjacency[ref_index])
        np.testing.assert_array_equal(got.ops, batch.ops[ref_index])
    attempt("batch indexing", lambda: space.cell_at(index) if space.is_enumerable() else None)


@settings_for(200)
@given(space=spaces, n=st.one_of(st.integers(0, 60), odd_values), random_state=random_states(),
       method=st.sampled_from(["uniform", "orbit", "rejection", "other", ""]), replace=st.booleans(),
       n_jobs=n_jobs_values)
def sampling(space: SearchSpace, n: Any, random_state: Any, method: str, replace: bool, n_jobs: Any) -> None:
    if isinstance(n, (int, np.integer)) and not isinstance(n, (bool, np.bool_)) and int(n) > 2000:
        return  # huge requests are the risky campaign's
    if method == "rejection" and sparse(space):
        return  # valid cells are too rare for the conventional sampler there (it gives up after 10^6 draws)
    batch = attempt("sampling", lambda: space.sample(n, random_state=random_state, method=method, replace=replace,
                                                     n_jobs=n_jobs))
    if batch is not None:
        check_batch(batch, space, int(n))
        if not replace:
            assert len(np.unique(batch.fingerprints())) == len(batch)


@settings_for(150)
@given(space=spaces, seed=st.integers(0, 2**20), n=st.integers(0, 25), radius=st.one_of(st.integers(0, 2), odd_values),
       preset=st.sampled_from(["nb101", "bananas", "naslib", "x"]), non_isomorphic=st.booleans(),
       n_jobs=n_jobs_values, random_state=random_states())
def mutation_and_neighbourhoods(space: SearchSpace, seed: int, n: int, radius: Any, preset: str, non_isomorphic: bool,
                                n_jobs: Any, random_state: Any) -> None:
    parents = cells_of(space, seed, n)
    kids = attempt("mutation and neighbourhoods", lambda: space.mutate(
        parents, random_state=random_state, preset=preset, non_isomorphic=non_isomorphic, n_jobs=n_jobs))
    if kids is not None:
        check_batch(kids, space, n)
    if isinstance(radius, (int, np.integer)) and not isinstance(radius, (bool, np.bool_)):
        if int(radius) > 2:
            return  # large radii are the risky campaign's
        if space.max_vertices > 9 and int(radius) > 1:
            radius = 1  # radius 2 of a large cell: 10^5 neighbours and more
    if space.max_vertices > 9 and n > 3:
        parents = parents[:3]
    got = attempt("mutation and neighbourhoods", lambda: space.neighbours(parents, radius=radius, n_jobs=n_jobs))
    if got is not None:
        cells, offsets = got
        check_batch(cells, space)
        assert offsets[0] == 0 and offsets[-1] == len(cells) and len(offsets) == len(parents) + 1
        assert (np.diff(offsets) >= 0).all()


@settings_for(100)
@given(space=spaces, seed=st.integers(0, 2**20), n=st.integers(0, 30),
       kind=st.sampled_from(["adjacency", "path", "path-trunc", "path-count", "paths"]), n_jobs=n_jobs_values,
       n_samples=st.one_of(st.integers(0, 3000), odd_values), random_state=random_states())
def encodings_identities_and_counts(space: SearchSpace, seed: int, n: int, kind: str, n_jobs: Any, n_samples: Any,
                                    random_state: Any) -> None:
    batch = cells_of(space, seed, n)
    area = "encodings and identities"
    x = attempt(area, lambda: batch.encode(kind, n_jobs=n_jobs))  # type: ignore[arg-type]
    if x is not None:
        assert x.shape == (n, space.encoding_dim(kind)) and x.dtype == np.float32  # type: ignore[arg-type]
    for method in ["nb101_hashes", "fingerprints", "canonical", "unique"]:
        attempt(area, lambda method=method: getattr(batch, method)(n_jobs=n_jobs))
    attempt(area, lambda: CellBatch.concat([batch, batch[:1]]))
    attempt(area, lambda: CellBatch.from_specs(batch.to_specs(), space))
    attempt(area, lambda: pickle.loads(pickle.dumps(batch)) == batch)
    if isinstance(n_samples, (int, np.integer)) and not isinstance(n_samples, (bool, np.bool_)) and int(n_samples) > 5000:
        return
    est = attempt("enumeration and counting", lambda: space.estimate_count(n_samples, random_state=random_state,
                                                                           n_jobs=n_jobs))
    if est is not None:
        assert np.isfinite(est).all() and est[0] >= 0
    if space.is_enumerable():
        idx = attempt("enumeration and counting", lambda: space.index_of(batch, n_jobs=n_jobs))
        if idx is not None:
            assert (idx >= 0).all()
        attempt("enumeration and counting", lambda: space.counts_by_vertices(n_jobs=n_jobs))
        attempt("enumeration and counting", lambda: space.count(n_jobs=n_jobs))


@settings_for(120)
@given(x=garbage_arrays(max_dims=3, max_side=12), y=garbage_arrays(max_dims=2, max_side=12),
       n_estimators=st.one_of(st.integers(-2, 30), st.sampled_from([2**62, 10**12, 100_001])),
       max_features=st.one_of(st.none(), st.integers(-1, 14)), min_samples_split=st.integers(-1, 5),
       min_samples_leaf=st.integers(-1, 5), max_depth=st.one_of(st.none(), st.integers(-1, 6)),
       bootstrap=st.booleans(), random_state=random_states(), n_jobs=n_jobs_values, tree=st.integers(-3, 40))
def forests(x: np.ndarray, y: np.ndarray, n_estimators: int, max_features: Optional[int], min_samples_split: int,
            min_samples_leaf: int, max_depth: Optional[int], bootstrap: bool, random_state: Any, n_jobs: Any,
            tree: int) -> None:
    area = "forest"
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        xf = np.ascontiguousarray(x, dtype=np.float32) if x.dtype != object else x
        yf = np.ascontiguousarray(y, dtype=np.float64) if y.dtype != object else y
    forest = attempt(area, lambda: Forest.fit(xf, yf, n_estimators=n_estimators, max_features=max_features,
                                              min_samples_split=min_samples_split, min_samples_leaf=min_samples_leaf,
                                              max_depth=max_depth, bootstrap=bootstrap, random_state=random_state,
                                              n_jobs=n_jobs))
    if forest is None:
        return
    assert forest.n_estimators == n_estimators
    for call in [lambda: forest.predict_mean_std(xf, n_jobs=n_jobs), lambda: forest.predict_member(xf, tree),
                 lambda: forest.predict_members(xf), lambda: forest.used_features(),
                 lambda: Forest.from_arrays(forest.n_features, *forest.arrays) == forest,
                 lambda: pickle.loads(pickle.dumps(forest)) == forest]:
        attempt(area, call)


BOUNDED = [space_construction, cell_specs, batch_arrays, batch_rows, batch_indexing, sampling,
           mutation_and_neighbourhoods, encodings_identities_and_counts, forests]


# --------------------------------------------------------------------------------------------
# risky properties (run in a capped child)

#: the largest spaces: every parameter at its limit at once, and big edge limits
RISKY_SPACE_ARGS = [(16, 120, 32), (16, 15, 1), (16, 16, 32), (16, 10**9, 2), (15, 20, 7), (12, 16, 5), (2, 1, 32)]
huge_counts = st.sampled_from([2**30 + 1, 2**30, 10**12, 2**63, 2**64 - 1, 2**64, 2**70, -(2**70), -1])


@settings_for(100)
@given(args=st.sampled_from(RISKY_SPACE_ARGS), n=st.integers(0, 4), seed=st.integers(0, 2**32),
       method=st.sampled_from(["uniform", "orbit", "rejection"]), replace=st.booleans(), n_jobs=n_jobs_values)
def extreme_spaces(args: tuple[int, int, int], n: int, seed: int, method: str, replace: bool, n_jobs: Any) -> None:
    space = pooled(args)
    area = "extreme spaces"
    if method == "rejection" and sparse(space):
        return
    batch = attempt(area, lambda: space.sample(n, random_state=seed, method=method, replace=replace, n_jobs=n_jobs))
    if batch is None:
        return
    check_batch(batch, space, n)
    kids = attempt(area, lambda: space.mutate(batch, random_state=seed, preset="bananas"))
    if kids is not None:
        check_batch(kids, space, n)
    got = attempt(area, lambda: space.neighbours(batch[:1], radius=1))
    if got is not None:
        check_batch(got[0], space)
    for kind in ["adjacency", "path-trunc", "path-count"]:
        attempt(area, lambda kind=kind: batch.encode(kind))  # type: ignore[arg-type]
    attempt(area, lambda: space.estimate_count(2000, random_state=seed))


@settings_for(120)
@given(args=st.sampled_from(SPACE_ARGS + RISKY_SPACE_ARGS), n=huge_counts, which=st.sampled_from(
    ["sample", "sample without replacement", "orbit", "rejection", "estimate", "radius", "cell_at", "index", "forest"]))
def huge_requests(args: tuple[int, int, int], n: int, which: str) -> None:
    space = pooled(args)
    area = "huge requests"
    calls: dict[str, Callable[[], object]] = {
        "sample": lambda: space.sample(n),
        "sample without replacement": lambda: space.sample(n, replace=False),
        "orbit": lambda: space.sample(n, method="orbit"),
        "rejection": lambda: space.sample(n, method="rejection"),
        "estimate": lambda: space.estimate_count(n),
        "radius": lambda: space.neighbours(cells_of(space, 0, 2), radius=n),
        "cell_at": lambda: space.cell_at([0, n]),
        "index": lambda: cells_of(space, 0, 3)[n],
        "forest": lambda: Forest.fit(np.zeros((4, 2), np.float32), np.zeros(4), n_estimators=min(n, 2**63 - 1)),
    }
    if which == "cell_at" and not space.is_enumerable():
        return
    if which == "estimate" and 0 <= n <= nasfast.MAX_BATCH_CELLS:
        return  # a legitimate request of hours of work
    if which == "rejection" and sparse(space):
        return
    if which == "radius" and n > 0 and not (space.is_enumerable() and space.count() < 5000):
        n = 2  # the whole component, or the neighbourhood limit, takes seconds to reach
    result = attempt(area, calls[which])
    if isinstance(result, CellBatch):
        check_batch(result, space)


RISKY = [extreme_spaces, huge_requests]


def main(argv: list[str]) -> int:
    """``campaign.py risky``: runs the risky properties, prints the counts as JSON."""
    group = {"risky": RISKY, "bounded": BOUNDED}[argv[1] if len(argv) > 1 else "risky"]
    for prop in group:
        print(f"running {prop.__name__}", file=sys.stderr, flush=True)
        prop()
    print(json.dumps(dict(COUNTS)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))


__all__ = ["BOUNDED", "COUNTS", "RISKY", "InvalidCellError", "SpaceTooLargeError", "attempt"]
