"""The core never crashes, never hangs and refuses what it cannot do with an error that names
the value: regression tests for the sampler at the limits of every parameter, huge requests,
requests that cannot be met, Ctrl-C, ``n_jobs``, tiny spaces and argument conversion.

Calls that could abort the interpreter or never return run in a child process with a time limit
and an address-space cap (:mod:`isolation`)."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from typing import Any, Callable

import numpy as np
import pytest

import nasfast
import reference as ref
from isolation import TESTS_DIR, child_env, limit_memory, run_cases
from nasfast import CellBatch, CellSpec, InvalidCellError, SearchSpace, SpaceTooLargeError

OPS32 = [f"o{i}" for i in range(nasfast.MAX_OPS)]


def chi_square_ok(counts: np.ndarray, expected: float) -> tuple[bool, float, int]:
    """Whether the counts of m equally likely categories pass a chi-square test (5 standard
    deviations of the statistic above its mean m - 1)."""
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    df = len(counts) - 1
    return chi2 < df + 5 * np.sqrt(2 * df), chi2, df


# --------------------------------------------------------------------------------------------
# the orbit sampler at the limits of every parameter


def test_32_ops_give_valid_cells_with_uniform_ops() -> None:
    # 32 op slots overflowed a 32-bit mask in the proposal: invalid ops, overwritten outputs
    space = SearchSpace(8, 12, OPS32)
    batch = space.sample(2000, random_state=1)
    assert CellBatch.from_arrays(batch.adjacency, batch.ops, space) == batch
    for cell in ref.batch_cells(batch):
        assert ref.is_pruned_valid(cell, 8, 12, 32), cell
    assert batch.encode("path-trunc").shape == (2000, 1 + 32 + 32**2 + 32**3)
    interior = batch.ops[batch.ops >= 0]
    ok, chi2, df = chi_square_ok(np.bincount(interior, minlength=32), len(interior) / 32)
    assert ok, f"op frequencies: chi2 {chi2:.1f} with {df} degrees of freedom"


# spaces whose parameters sit at their limits and that are small enough to enumerate:
# MAX_OPS ops, MAX_VERTICES vertices with few edges, one edge, no edge limit at all
LIMIT_SPACES = [
    (3, 2, nasfast.MAX_OPS),
    (4, 3, nasfast.MAX_OPS),
    (nasfast.MAX_VERTICES, 1, 1),
    (nasfast.MAX_VERTICES, 3, 2),
    (nasfast.MAX_VERTICES, 5, 1),
    (5, 10**6, 2),
    (2, 1, nasfast.MAX_OPS),
]


@pytest.mark.parametrize("args", LIMIT_SPACES, ids=[f"{v}v-{e}e-{k}ops" for v, e, k in LIMIT_SPACES])
def test_orbit_sampler_is_uniform_and_valid_at_the_limits(args: tuple[int, int, int]) -> None:
    v, e, k = args
    space = SearchSpace(v, e, OPS32[:k])
    cells = space.enumerate()
    m = len(cells)
    draws = max(200, 60 * m)
    batch = space.sample(draws, random_state=7, method="orbit")
    positions = space.index_of(batch)
    assert (positions >= 0).all(), "a sampled cell is not in the space"
    # the reference agrees that every cell is valid and pruned
    for cell in ref.batch_cells(batch[:: max(1, draws // 500)]):
        assert ref.is_pruned_valid(cell, v, e, k), cell
    if m > 1:
        ok, chi2, df = chi_square_ok(np.bincount(positions, minlength=m), draws / m)
        assert ok, f"chi2 {chi2:.1f} with {df} degrees of freedom"


def test_predictor_search_in_a_32_op_space() -> None:
    # the corrupted cells of the 32-op sampler made searches in such spaces panic
    from nasfast.search import PredictorSearch, RandomSubset

    space = SearchSpace(8, 12, OPS32)
    for seed in range(1):
        search = PredictorSearch(space, candidates=RandomSubset(200, refresh=True), n_initial=4, random_state=seed,
                                 encoding="path-trunc")
        search.run(lambda cells: float(cells.num_edges[0]), 8)
        assert search.n_evaluated_ == 8
        for cell in ref.batch_cells(search.history_.cells):
            assert ref.is_pruned_valid(cell, 8, 12, 32), cell


def test_sampler_at_the_vertex_and_edge_limits_gives_valid_large_cells() -> None:
    # too large to enumerate: every cell must still be valid, and large cells must appear
    for max_edges, k in [(16, 1), (30, 2), (120, 32)]:
        space = SearchSpace(16, max_edges, OPS32[:k])
        batch = space.sample(40, random_state=3, method="orbit")
        for cell in ref.batch_cells(batch):
            assert ref.is_pruned_valid(cell, 16, max_edges, k), cell
        assert batch.num_vertices.max() >= 10
        assert CellBatch.from_arrays(batch.adjacency, batch.ops, space) == batch


# --------------------------------------------------------------------------------------------
# tiny spaces are enumerated whatever their vertex limit


@pytest.mark.parametrize("max_edges, count", [(1, 1), (2, 2), (3, 4)])
def test_tiny_spaces_with_many_vertices_are_enumerable(max_edges: int, count: int) -> None:
    space = SearchSpace(16, max_edges, ["a"])
    assert space.is_enumerable()
    cells = space.enumerate()
    assert len(cells) == space.count() == count
    np.testing.assert_array_equal(space.index_of(cells), np.arange(count))
    # the reference brute force over every 16-vertex matrix is impossible; over the chains and
    # chains with shortcuts that fit the edge limit it is exact
    expected = {ref.iso_key(*c) for c in ref.brute_force_space(max_edges + 1, max_edges, 1).values()}
    assert {ref.iso_key(*c) for c in ref.batch_cells(cells)} == expected


# --------------------------------------------------------------------------------------------
# huge requests, requests that cannot be met, n_jobs: in a capped child

X5 = "np.zeros((5, 2), dtype=np.float32)"

# (id, code, exception, patterns the message must contain); "ok" means a result is expected
RISKY_CASES: list[tuple[str, str, Any, tuple[str, ...]]] = [
    ("sample 10**12", "SearchSpace.nb101().sample(10**12)", ValueError, ("1000000000000", "1073741824")),
    ("sample 10**12 without replacement", "SearchSpace.nb101().sample(10**12, replace=False)", ValueError,
     ("1000000000000", "1073741824")),
    ("orbit sample above the limit", "SearchSpace(9, 12, ['a']).sample(2**30 + 1, method='orbit')", ValueError,
     ("1073741825",)),
    ("sample at the limit, beyond memory", "SearchSpace(9, 12, ['a']).sample(2**30, method='orbit')", MemoryError,
     ("bytes",)),
    ("estimate_count 10**12", "SearchSpace.nb101().estimate_count(10**12)", ValueError, ("1000000000000",)),
    ("forest of 10**12 trees", f"Forest.fit({X5}, np.zeros(5), n_estimators=10**12)", ValueError,
     ("1000000000000", "100000")),
    ("radius-4 neighbourhood of a large space",
     "s = SearchSpace(12, 20, list('abcde')); s.neighbours(s.sample(1, random_state=0), radius=4)",
     SpaceTooLargeError, ("radius-4", str(nasfast.MAX_NEIGHBOURS))),
    ("encoding beyond memory",
     "s = SearchSpace(12, 16, list('abcde')); s.sample(100, random_state=0).encode('path')", MemoryError, ("bytes",)),
    ("two distinct cells of a one-cell space", "SearchSpace(16, 1, ['a']).sample(2, replace=False)", ValueError,
     (r"\b1\b", r"\b2\b")),
    ("two distinct orbit cells of a one-cell space", "SearchSpace(16, 1, ['a']).sample(2, replace=False, method='orbit')",
     ValueError, (r"\b1\b", r"\b2\b")),
    ("two distinct rejection cells of a one-cell space",
     "SearchSpace(16, 1, ['a']).sample(2, replace=False, method='rejection')", ValueError, (r"\b1\b", r"\b2\b")),
    ("endless radius",
     "s = SearchSpace(5, 6, ['a', 'b']); c, o = s.neighbours(s.sample(3, random_state=1), radius=2**62)\n"
     "result = (np.diff(o).tolist(), len(s.enumerate()))", "ok", ()),
    ("n_jobs 10**6", "result = len(SearchSpace.nb101().sample(3000, n_jobs=10**6, random_state=0))", "ok", ()),
    ("n_jobs 2**70", "result = len(SearchSpace.nb101().sample(3000, n_jobs=2**70, random_state=0))", "ok", ()),
    ("threads stay bounded",
     "import os\ns = SearchSpace.nb101(); s.enumerate()\n"
     "for j in range(1, 41):\n    s.sample(3000, n_jobs=j)\n"
     "result = len(os.listdir('/proc/self/task'))", "ok", ()),
    ("predictor search with random subsets of a tiny space",
     "from nasfast.search import PredictorSearch, RandomSubset\n"
     "s = SearchSpace(16, 3, ['a', 'b'])\n"
     "search = PredictorSearch(s, candidates=RandomSubset(50), n_initial=2, random_state=0)\n"
     "search.run(lambda cells: float(cells.num_edges[0]), len(s.enumerate()))\n"
     "result = (search.n_evaluated_, len(s.enumerate()))", "ok", ()),
]


def test_risky_requests_fail_cleanly_in_a_capped_child() -> None:
    outcomes = run_cases([(i, code) for i, code, _, _ in RISKY_CASES], timeout=240)
    for case_id, _, expected, patterns in RISKY_CASES:
        out = outcomes.get(case_id)
        assert out is not None, f"{case_id}: not run (an earlier case crashed: {outcomes})"
        assert "PanicException" not in out.mro, f"{case_id}: panic {out.message}"
        if expected == "ok":
            assert out.status == "ok", f"{case_id}: {out}"
        else:
            assert out.raised(expected), f"{case_id}: expected {expected.__name__}, got {out}"
            for pattern in patterns:
                assert re.search(pattern, out.message), f"{case_id}: {pattern!r} not in {out.message!r}"
        # refused requests are refused at once, not after the work
        assert out.seconds < 30, f"{case_id} took {out.seconds:.1f} s"
    diffs, count = eval(outcomes["endless radius"].value)
    assert diffs == [count - 1] * 3, "the unbounded neighbourhood is the whole (connected) space"
    threads = int(outcomes["threads stay bounded"].value)
    cores = os.cpu_count() or 1
    # the main thread, rayon's global pool and at most 4 pools of at most `cores` threads
    assert threads <= 2 + 5 * cores, f"{threads} threads"
    evaluated, count = eval(outcomes["predictor search with random subsets of a tiny space"].value)
    assert evaluated == count == 9


# --------------------------------------------------------------------------------------------
# Ctrl-C stops long calls

# Each call must run for seconds even on a fast machine, or it finishes before the signal arrives
# (100,000 rejection samples took 0.3 s on an idle 2-core machine: too close to the 0.4 s wait).
LONG_CALLS = {
    "estimate": "SearchSpace(12, 16, list('abcde')).estimate_count(10**9)",
    "orbit sampling": "SearchSpace(16, 20, ['a']).sample(10**6, method='orbit')",
    "rejection sampling": "SearchSpace(16, 15, ['a']).sample(2 * 10**6, method='rejection')",
    "neighbourhoods": "s = SearchSpace(12, 20, list('abcde')); s.neighbours(s.sample(40, random_state=0), radius=3)",
    "distinct cells": "SearchSpace(16, 20, ['a']).sample(10**5, replace=False)",
}

_INTERRUPT_CHILD = r"""
import signal, sys, time
# a child started from a background job inherits SIGINT ignored (as a shell does for "&" without
# job control); Ctrl-C must raise KeyboardInterrupt here whatever the parent did
signal.signal(signal.SIGINT, signal.default_int_handler)
from nasfast import *
for name, code in CALLS.items():
    compiled = compile(code, name, "exec")
    print("ready", name, flush=True)
    t = time.perf_counter()
    try:
        exec(compiled)
        print("finished", name, flush=True)
    except KeyboardInterrupt:
        print("interrupted", name, round(time.perf_counter() - t, 3), flush=True)
"""


def _interrupt(name: str, code: str) -> str | None:
    """Runs one long call in a capped child, sends it Ctrl-C 0.4 s after it starts; None when
    the call stopped with KeyboardInterrupt within 5 s, else what went wrong."""
    child = f"CALLS = {{{name!r}: {code!r}}}\n" + _INTERRUPT_CHILD
    proc = subprocess.Popen(
        [sys.executable, "-c", child], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=limit_memory, env=child_env(), cwd=str(TESTS_DIR),
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line.strip()) for line in proc.stdout or []], daemon=True).start()
    try:
        try:
            line = lines.get(timeout=60)
        except queue.Empty:
            return "the child did not start within 60 s"
        if line != f"ready {name}":
            return f"unexpected line {line!r}"
        time.sleep(0.4)
        proc.send_signal(signal.SIGINT)
        sent = time.perf_counter()
        try:
            line = lines.get(timeout=20)
        except queue.Empty:
            return "no answer to Ctrl-C within 20 s"
        took = time.perf_counter() - sent
        if not line.startswith(f"interrupted {name} "):
            return f"answered {line!r}"
        if took >= 5:
            return f"Ctrl-C took {took:.1f} s"
        return None if proc.wait(30) == 0 else f"exit code {proc.returncode}"
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.parametrize("name", list(LONG_CALLS))
def test_ctrl_c_stops_long_calls(name: str) -> None:
    # one retry in a fresh child: on a machine loaded by other jobs a child can be starved for
    # seconds; a call that ignores Ctrl-C fails both times
    first = _interrupt(name, LONG_CALLS[name])
    if first is not None:
        second = _interrupt(name, LONG_CALLS[name])
        assert second is None, f"{name}: {first}; again: {second}"


# --------------------------------------------------------------------------------------------
# argument conversion: every refusal names the value

NB101 = SearchSpace.nb101()
BATCH = NB101.sample(5, random_state=0)
BIG = 2**70

CLEAR_ERRORS: list[tuple[str, Callable[[], object], type, tuple[str, ...]]] = [
    ("negative n", lambda: NB101.sample(-1), ValueError, ("n = -1",)),
    ("float n", lambda: NB101.sample(2.0), TypeError, ("2.0",)),
    ("bool n", lambda: NB101.sample(True), TypeError, ("True",)),
    ("huge n", lambda: NB101.sample(BIG), ValueError, (str(BIG),)),
    ("negative max_edges", lambda: SearchSpace(7, -1, ["a"]), ValueError, ("max_edges = -1",)),
    ("negative max_vertices", lambda: SearchSpace(-7, 9, ["a"]), ValueError, ("max_vertices = -7",)),
    ("huge max_vertices", lambda: SearchSpace(BIG, 9, ["a"]), ValueError, (str(BIG),)),
    ("17 vertices", lambda: SearchSpace(17, 9, ["a"]), ValueError, ("17",)),
    ("33 ops", lambda: SearchSpace(7, 9, [f"o{i}" for i in range(33)]), ValueError, ("33",)),
    ("negative radius", lambda: NB101.neighbours(BATCH, radius=-1), ValueError, ("radius = -1",)),
    ("zero radius", lambda: NB101.neighbours(BATCH, radius=0), ValueError, ("radius = 0",)),
    ("negative n_samples", lambda: NB101.estimate_count(-5), ValueError, ("n_samples = -5",)),
    ("one sample", lambda: NB101.estimate_count(1), ValueError, ("n_samples = 1",)),
    ("huge index", lambda: BATCH[BIG], IndexError, (str(BIG),)),
    ("huge negative index", lambda: BATCH[-BIG], IndexError, (str(-BIG),)),
    ("numpy uint64 index", lambda: BATCH[np.uint64(2**63)], IndexError, ("9223372036854775808",)),
    ("huge index in a list", lambda: BATCH[[0, BIG]], IndexError, (str(BIG),)),
    ("None index", lambda: BATCH[None], TypeError, ("None",)),
    ("str index", lambda: BATCH["a"], TypeError, ("'a'",)),
    ("float index", lambda: BATCH[1.5], TypeError, ("1.5",)),
    ("2-d index", lambda: BATCH[np.zeros((1, 1), dtype=np.int64)], TypeError, ("index",)),
    ("cell_at 2**63", lambda: NB101.cell_at(2**63), IndexError, ("9223372036854775808",)),
    ("cell_at huge", lambda: NB101.cell_at([0, BIG]), IndexError, (str(BIG),)),
    ("cell_at -1", lambda: NB101.cell_at(-1), IndexError, ("-1",)),
    ("cell_at str", lambda: NB101.cell_at("a"), TypeError, ("'a'",)),
    ("adjacency 2**64 - 1", lambda: CellSpec(np.array([[0, 2**64 - 1], [0, 0]], dtype=np.uint64), [-1, -2]),
     InvalidCellError, ("18446744073709551615",)),
    ("adjacency 2**70", lambda: CellSpec([[0, BIG], [0, 0]], [-1, -2]), InvalidCellError, (str(BIG),)),
    ("ragged adjacency", lambda: CellSpec([[0, 1], [0]], [-1, -2]), InvalidCellError, (r"\[\[0, 1\], \[0\]\]",)),
    ("n_jobs 0", lambda: NB101.sample(5, n_jobs=0), ValueError, ("n_jobs = 0",)),
    ("n_jobs -2", lambda: NB101.sample(5, n_jobs=-2), ValueError, ("n_jobs = -2",)),
    ("n_jobs -2**70", lambda: NB101.sample(5, n_jobs=-BIG), ValueError, (str(-BIG),)),
    ("float n_jobs", lambda: NB101.sample(5, n_jobs=1.5), TypeError, ("1.5",)),
    ("bool n_jobs", lambda: NB101.sample(5, n_jobs=True), TypeError, ("True",)),
    ("negative seed", lambda: NB101.sample(5, random_state=-1), ValueError, ("-1",)),
    ("seed 2**64", lambda: NB101.sample(5, random_state=2**64), ValueError, ("18446744073709551616",)),
    ("float seed", lambda: NB101.sample(5, random_state=1.5), TypeError, ("1.5",)),
    ("str seed", lambda: NB101.sample(5, random_state="a"), TypeError, ("'a'",)),
    ("bool seed", lambda: NB101.sample(5, random_state=True), TypeError, ("True",)),
    ("forest with 0 trees", lambda: nasfast.Forest.fit(np.zeros((5, 2), np.float32), np.zeros(5), n_estimators=0),
     ValueError, ("n_estimators = 0",)),
    *[
        (f"forest {name} 2**70", lambda name=name: nasfast.Forest.fit(np.zeros((5, 2), np.float32), np.zeros(5), **{name: BIG}),
         ValueError, (name, str(BIG)))
        for name in ("n_estimators", "max_features", "min_samples_split", "min_samples_leaf", "max_depth")
    ],
    ("forest float trees", lambda: nasfast.Forest.fit(np.zeros((5, 2), np.float32), np.zeros(5), n_estimators=2.5),
     TypeError, ("n_estimators", "2.5")),
    ("forest min_samples_split 1", lambda: nasfast.Forest.fit(np.zeros((5, 2), np.float32), np.zeros(5), min_samples_split=1),
     ValueError, ("min_samples_split = 1",)),
]


@pytest.mark.parametrize("name, call, error, patterns", CLEAR_ERRORS, ids=[c[0] for c in CLEAR_ERRORS])
def test_bad_arguments_raise_clear_errors(name: str, call: Callable[[], object], error: type,
                                         patterns: tuple[str, ...]) -> None:
    with pytest.raises(error) as excinfo:
        call()
    for pattern in patterns:
        assert re.search(pattern, str(excinfo.value)), f"{pattern!r} not in {str(excinfo.value)!r}"


@pytest.mark.parametrize(
    "kwargs",
    [{"n_jobs": 2**70}, {"n_jobs": np.int64(2)}, {"random_state": np.uint64(2**64 - 1)}, {"random_state": np.int8(3)},
     {"random_state": np.random.default_rng(0)}, {"random_state": np.random.RandomState(0)}],
    ids=["huge n_jobs", "numpy n_jobs", "uint64 seed", "int8 seed", "Generator", "RandomState"],
)
def test_unusual_but_valid_arguments_are_accepted(kwargs: dict[str, Any]) -> None:
    assert len(NB101.sample(np.int32(7), **kwargs)) == 7
    assert len(BATCH[np.int64(-1):]) == 1 and BATCH[np.uint8(4)] == BATCH[4]


def test_numpy_ints_index_like_python_ints() -> None:
    assert BATCH[np.int16(-2)] == BATCH[3]
    assert BATCH[np.array(2)] == BATCH[2]
    assert BATCH[np.array([4, 0], dtype=np.uint64)] == BATCH[[4, 0]]
    assert NB101.cell_at(np.array([3], dtype=np.uint64)) == NB101.cell_at([3])
