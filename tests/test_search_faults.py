"""Searches never crash on bad evaluations, never replay a wrong history, never lose finished work.

* Non-finite results (``inf``, ``-inf``, in the value or the cost) are failed evaluations.
* A run stopped by ``EvaluationError`` resumes with a fresh failure count.
* The seed of a journal holding only its header is the seed of the search.
* Fault injection on journals: every byte flipped (two ways), every truncation, a crash inside
  the writer at every write (five ways), SIGKILL at random points (twice in a row). The next run
  refuses clearly (naming the file and the line) or recovers the history of the uninterrupted
  run; it never replays a wrong history. Each campaign counts its cases by outcome and checks
  the counts (so a campaign that tried nothing, or found every case harmless, fails); ``-s``
  prints them.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import warnings
import zlib
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import pytest
from sklearn.ensemble import RandomForestRegressor

from nasfast import CellBatch, SearchSpace
from nasfast.search import (
    JOURNAL_VERSION,
    BenchmarkEvaluator,
    EvaluationError,
    History,
    JournalCorruptError,
    JournalMismatchError,
    JournalWarning,
    Neighbourhood,
    PredictorSearch,
    RandomSearch,
    RegularizedEvolution,
)
from nasfast.search.journal import Journal, read_header
from test_search import Table

TESTS_DIR = Path(__file__).resolve().parent


def sealed(records: list[dict[str, Any]]) -> bytes:
    """Records as journal lines with valid checksums, written here from the documented format
    (CRC-32 of the bytes before ``,"crc":``, continued from the line before), not by nasfast."""
    out, crc = [], 0
    for rec in records:
        body = json.dumps(rec, separators=(",", ":"))[:-1]
        crc = zlib.crc32(body.encode(), crc)
        out.append(f'{body},"crc":"{crc:08x}"}}\n'.encode())
    return b"".join(out)


def unsealed(data: bytes) -> list[dict[str, Any]]:
    """The records of journal lines (the checksum key dropped), without any checking."""
    recs = [json.loads(line) for line in data.split(b"\n") if line.strip()]
    return [{k: v for k, v in r.items() if k != "crc"} for r in recs]


def residue(f: int, m: int) -> int:
    """A well-mixed residue of a fingerprint (whose low bits are alike for small cells)."""
    return zlib.crc32(int(f).to_bytes(8, "little")) % m


class CellRule:
    """A deterministic evaluator over the synthetic table whose result depends on the cell only
    (so a replayed run and an uninterrupted run see the same results): with ``fail = m``, cells
    whose residue mod m is 0 raise, 1 return ``inf``, 2 ``-inf``, 3 an infinite cost; cells in
    ``broken`` raise "evaluator down"; ``calls`` counts the evaluations."""

    def __init__(self, table: Table, fail: int = 0, broken: Optional[set[int]] = None, sleep: float = 0.0) -> None:
        self.inner = BenchmarkEvaluator(table)
        self.fail = fail
        self.broken = broken or set()
        self.sleep = sleep
        self.calls = 0

    def __call__(self, cells: CellBatch) -> Any:
        self.calls += 1
        if self.sleep:
            time.sleep(self.sleep)
        f = int(cells.fingerprints()[0])
        if f in self.broken:
            raise RuntimeError("evaluator down")
        values, costs = self.inner(cells)
        if self.fail:
            r = residue(f, self.fail)
            if r == 0:
                raise RuntimeError("planned failure")
            if r == 1:
                return np.array([np.inf]), costs
            if r == 2:
                return np.array([-np.inf]), costs
            if r == 3:
                return values, np.array([np.inf])
        return values, costs


# ---------------------------------------------------------------------------------- non-finite results


def test_infinite_results_are_failed_evaluations(tmp_path: Path, space5: SearchSpace, table: Table) -> None:
    def search() -> PredictorSearch:
        return PredictorSearch(space5, predictor=RandomForestRegressor(n_estimators=5), candidates=Neighbourhood(top_k=3),
                               n_initial=4, random_state=2)

    journal = tmp_path / "j.jsonl"
    s = search().run(CellRule(table, fail=8), 30, journal=journal)  # a predictor fitted among failures
    h = s.history_
    fps = h.cells.fingerprints()
    expected = {0: "planned failure", 1: "non-finite value inf", 2: "non-finite value -inf", 3: "non-finite cost inf"}
    seen: Counter[int] = Counter()
    for i, f in enumerate(fps.tolist()):
        r = residue(f, 8)
        if r in expected:
            assert math.isnan(h.values[i]) and expected[r] in h.errors[i], (r, h.errors[i])
            seen[r] += 1
        else:
            assert h.errors[i] is None and np.isfinite(h.values[i])
    assert all(seen[r] > 0 for r in expected), seen  # every kind of failure happened
    assert np.isfinite(h.values[~np.isnan(h.values)]).all() and not np.isinf(h.costs).any()
    # the journal holds them as failures, and a resumed run replays them
    ev = CellRule(table, fail=8)
    resumed = search().run(ev, 34, journal=journal, resume=True)
    assert ev.calls == 4
    assert resumed.history_.equals(search().run(CellRule(table, fail=8), 34).history_)


def test_tell_records_infinite_values_as_failures_and_leaves_the_input_alone(space5: SearchSpace) -> None:
    s = RandomSearch(space5, random_state=0)
    cells = s.ask(4)
    values = np.array([0.5, np.inf, -np.inf, 0.25])
    costs = np.array([1.0, 2.0, 3.0, np.inf])
    s.tell(cells, values, costs, [None, None, "my reason", None])
    h = s.history_
    assert list(values) == [0.5, np.inf, -np.inf, 0.25] and costs[3] == np.inf  # not mutated
    assert h.values[0] == 0.5 and np.isnan(h.values[1:]).all()
    assert list(h.costs[:3]) == [1.0, 2.0, 3.0] and np.isnan(h.costs[3])
    assert h.errors[0] is None
    assert h.errors[1] == "ValueError: the evaluator returned a non-finite value inf"
    assert h.errors[2] == "my reason"  # a given reason is kept
    assert h.errors[3] == "ValueError: the evaluator returned a non-finite cost inf"
    assert s.best_value_ == 0.5


# ---------------------------------------------------------------------------------- EvaluationError, seeds


class Breaks(CellRule):
    """Works for ``works`` calls, then fails on every call; remembers the cells it failed on."""

    def __init__(self, table: Table, works: int) -> None:
        super().__init__(table)
        self.works = works
        self.failed: list[int] = []

    def __call__(self, cells: CellBatch) -> Any:
        if self.calls >= self.works:
            self.calls += 1
            self.failed.append(int(cells.fingerprints()[0]))
            raise RuntimeError("evaluator down")
        return super().__call__(cells)


def test_a_run_stopped_by_evaluation_error_resumes_with_a_fresh_count(tmp_path: Path, space5: SearchSpace, table: Table) -> None:
    def search() -> RegularizedEvolution:
        return RegularizedEvolution(space5, population=6, sample_size=3, random_state=4)

    journal = tmp_path / "j.jsonl"
    first = Breaks(table, works=5)
    with pytest.raises(EvaluationError, match="failed on 3 cells in a row"):
        search().run(first, 20, journal=journal, max_consecutive_failures=3)
    assert first.calls == 8 and len(first.failed) == 3
    # still down: the 3 recorded failures are replayed, not counted; 3 fresh ones stop it again
    still = Breaks(table, works=0)
    with pytest.raises(EvaluationError, match="failed on 3 cells in a row"):
        search().run(still, 20, journal=journal, resume=True, max_consecutive_failures=3)
    assert still.calls == 3
    # fixed: continues to the budget; the history is that of an uninterrupted run with the same failures
    fixed = CellRule(table)
    resumed = search().run(fixed, 20, journal=journal, resume=True, max_consecutive_failures=3)
    assert fixed.calls == 20 - 11
    down = set(first.failed + still.failed)
    reference = search().run(CellRule(table, broken=down), 20, max_consecutive_failures=100)
    assert resumed.history_.equals(reference.history_)
    assert [e for e in resumed.history_.errors if e is not None] == ["RuntimeError: evaluator down"] * 6


@pytest.mark.parametrize("given, outcome", [(1, "refused"), (0, "runs seed 0"), (None, "runs seed 0")])
def test_a_header_only_journal_fixes_the_seed(tmp_path: Path, space5: SearchSpace, table: Table, given: Optional[int], outcome: str) -> None:
    journal = tmp_path / "j.jsonl"
    RandomSearch(space5, random_state=0).run(CellRule(table), 3, journal=journal)
    lines = journal.read_bytes().split(b"\n")
    journal.write_bytes(lines[0] + b"\n")  # a crash before the first ask
    if outcome == "refused":
        with pytest.raises(JournalMismatchError, match="written with seed 0, this search has random_state=1"):
            RandomSearch(space5, random_state=given).run(CellRule(table), 3, journal=journal, resume=True)
        assert journal.read_bytes() == lines[0] + b"\n"  # left alone
    else:
        s = RandomSearch(space5, random_state=given).run(CellRule(table), 3, journal=journal, resume=True)
        assert s.seed_ == 0
        assert s.history_.equals(RandomSearch(space5, random_state=0).run(CellRule(table), 3).history_)


# ---------------------------------------------------------------------------------- clear errors


def _journal_records(space5: SearchSpace, table: Table, tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "base.jsonl"
    path.unlink(missing_ok=True)
    RandomSearch(space5, random_state=1).run(CellRule(table), 3, journal=path)
    return unsealed(path.read_bytes())


BAD_LINES: list[tuple[str, Callable[[dict[str, Any]], Any], str]] = [
    ("a list", lambda r: [1, 2], "line 3 is damaged: it does not end with a checksum"),
    ("null", lambda r: None, "line 3 is damaged: it does not end with a checksum"),
    ("no fingerprint", lambda r: {k: v for k, v in r.items() if k != "fingerprint"}, "line 3: the tell record has no 'fingerprint'"),
    ("bad hex", lambda r: {**r, "fingerprint": "xyz"}, "line 3: fingerprint = 'xyz' is not a hex fingerprint"),
    ("no value", lambda r: {k: v for k, v in r.items() if k != "value"}, "line 3: the tell record has no 'value'"),
    ("text value", lambda r: {**r, "value": "0.5"}, "line 3: value = '0.5' is not null or a finite number"),
    ("bool attempts", lambda r: {**r, "attempts": True}, "line 3: attempts = True is not a non-negative int"),
    ("unknown type", lambda r: {**r, "type": "tel"}, "line 3 has an unknown type 'tel'"),
    ("second header", lambda r: {**r, "type": "header"}, "line 3 is a second header"),
    ("bad cell", lambda r: {**r, "cell": ["01", [-1]]}, None),  # a tell's cell is not replayed: fine
]


@pytest.mark.parametrize("name, edit, message", BAD_LINES, ids=[b[0] for b in BAD_LINES])
def test_bad_journal_lines_are_refused_naming_the_line(
    tmp_path: Path, space5: SearchSpace, table: Table, name: str, edit: Callable[[dict[str, Any]], Any], message: Optional[str]
) -> None:
    recs = _journal_records(space5, table, tmp_path)
    assert [r["type"] for r in recs[:3]] == ["header", "ask", "tell"]
    recs[2] = edit(recs[2])
    path = tmp_path / "j.jsonl"
    if isinstance(recs[2], dict):
        path.write_bytes(sealed(recs))  # valid checksums: the content itself is checked
    else:  # not an object: written as plain JSON, as an editor would
        data = sealed(recs[:2]) + (json.dumps(recs[2]) + "\n").encode() + sealed(recs[3:])
        path.write_bytes(data)
    if message is None:
        RandomSearch(space5, random_state=1).run(CellRule(table), 4, journal=path, resume=True)
        return
    with pytest.raises(JournalCorruptError, match=re.escape(f"journal {str(path)!r}, {message}")) as info:
        RandomSearch(space5, random_state=1).run(CellRule(table), 4, journal=path, resume=True)
    assert isinstance(info.value, ValueError)


def test_bad_cells_in_an_ask_and_old_versions_are_refused(tmp_path: Path, space5: SearchSpace, table: Table) -> None:
    recs = _journal_records(space5, table, tmp_path)
    path = tmp_path / "j.jsonl"
    recs[1]["cells"][0][0] = "0" * 25  # a cell with no edges: sealed, well-typed, but not a cell
    path.write_bytes(sealed(recs))
    with pytest.raises(JournalCorruptError, match=re.escape(f"journal {str(path)!r}, line 2: ")):
        RandomSearch(space5, random_state=1).run(CellRule(table), 4, journal=path, resume=True)
    # version 1: no checksums; refused with a message that says so, by run and by resume()
    old = [{**r, "v": 1} for r in _journal_records(space5, table, tmp_path)]
    path.write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in old))
    with pytest.raises(JournalMismatchError, match="has version 1 \\(lines without checksums\\).*reads version 3"):
        RandomSearch(space5, random_state=1).run(CellRule(table), 4, journal=path, resume=True)
    with pytest.raises(JournalMismatchError, match="has version 1"):
        RandomSearch.resume(path, CellRule(table), 4)
    # version 2: checksums, but the header of the earlier schema (class name and config apart)
    v2 = [{**r, "v": 2} for r in _journal_records(space5, table, tmp_path)]
    searcher = v2[0].pop("searcher")
    v2[0] = {**v2[0], "searcher": searcher.pop("type"), "config": searcher}
    path.write_bytes(sealed(v2))
    for attempt in (lambda: RandomSearch(space5, random_state=1).run(CellRule(table), 4, journal=path, resume=True),
                    lambda: RandomSearch.resume(path, CellRule(table), 4)):
        with pytest.raises(JournalMismatchError, match="has version 2 \\(the searcher's class name and config.*reads version 3"):
            attempt()
    # a header cut short: no search to resume from it; a run over it starts afresh
    path.write_bytes(sealed(recs)[:40])
    with pytest.raises(FileNotFoundError, match="no complete header line"):
        RandomSearch.resume(path, CellRule(table), 4)
    with pytest.warns(JournalWarning, match="cut short"):
        s = RandomSearch(space5, random_state=1).run(CellRule(table), 3, journal=path, resume=True)
    assert read_header(path)["seed"] == 1 and s.history_.equals(RandomSearch(space5, random_state=1).run(CellRule(table), 3).history_)


# ---------------------------------------------------------------------------------- fault injection

BUDGET, MORE = 8, 10


def _search(space: SearchSpace) -> RegularizedEvolution:
    # values steer the asks (tournaments), batches of 2 keep two evaluations in flight
    return RegularizedEvolution(space, population=4, sample_size=2, batch_size=2, random_state=3)


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory, space5: SearchSpace, table: Table) -> tuple[bytes, History]:
    """A journal of BUDGET results (with failures and an infinite value) and the history of the
    uninterrupted run to MORE results."""
    path = tmp_path_factory.mktemp("faulty") / "j.jsonl"
    _search(space5).run(CellRule(table, fail=6), BUDGET, journal=path)
    data = path.read_bytes()
    reference = _search(space5).run(CellRule(table, fail=6), MORE).history_
    errors = [e for e in reference.errors[:BUDGET] if e is not None]
    assert any("planned" in e for e in errors) and any("non-finite" in e for e in errors), errors
    return data, reference


@pytest.fixture
def no_fsync(monkeypatch: pytest.MonkeyPatch) -> None:
    """fsync as a no-op: these campaigns simulate process crashes, which keep what was written
    to the page cache (fsync matters for a power loss only, which no test can simulate), and
    thousands of fsyncs would take minutes."""
    monkeypatch.setattr(os, "fsync", lambda fd: None)


def put(path: Path, data: bytes) -> None:
    """Replace a file's content in place (opening an existing file with O_TRUNC is slow on
    ext4, which flushes such files on close)."""
    with open(path, "r+b" if path.exists() else "wb") as f:
        f.write(data)
        f.truncate()


def test_journal_lines_follow_the_documented_format(faulty: tuple[bytes, History]) -> None:
    data, _ = faulty
    crc = 0
    lines = data.split(b"\n")
    assert lines[-1] == b"" and len(lines) > 10
    for line in lines[:-1]:
        body, sep, tail = line.rpartition(b',"crc":"')
        assert sep and tail.endswith(b'"}') and len(tail) == 10
        crc = zlib.crc32(body, crc)  # chained: continued from the line before
        assert tail[:8] == f"{crc:08x}".encode()
        assert json.loads(line)["v"] == JOURNAL_VERSION == 3


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _resume(space: SearchSpace, table: Table, path: Path) -> RegularizedEvolution:
    return _search(space).run(CellRule(table, fail=6), MORE, journal=path, resume=True)  # type: ignore[return-value]


def test_every_byte_flip_of_a_journal_is_refused_naming_its_line(
    tmp_path: Path, space5: SearchSpace, table: Table, faulty: tuple[bytes, History]
, no_fsync: None) -> None:
    data, reference = faulty
    path = tmp_path / "j.jsonl"
    rng = np.random.default_rng(11)
    outcome: Counter[str] = Counter()
    for offset in range(len(data)):
        # the lowest bit (a digit becomes its neighbour: the most plausible edit) and a random byte
        for new in (data[offset] ^ 1, (data[offset] + int(rng.integers(1, 256))) % 256):
            put(path, data[:offset] + bytes([new]) + data[offset + 1 :])
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    s = _resume(space5, table, path)
            except JournalCorruptError as e:
                assert f"journal {str(path)!r}, line {_line_of(data, offset)} is damaged" in str(e), (offset, str(e))
                outcome["refused"] += 1
                continue
            # only the newline at the very end can go without refusal: the last line is then
            # "cut short", dropped and evaluated again
            assert offset == len(data) - 1, (offset, new)
            assert any(issubclass(w.category, JournalWarning) for w in caught)
            assert s.history_.equals(reference)
            outcome["recovered"] += 1
    assert outcome == {"refused": 2 * len(data) - 2, "recovered": 2}, outcome
    print(f"byte flips: {dict(outcome)} over {len(data)} offsets")


def test_every_truncation_of_a_journal_recovers_the_history(
    tmp_path: Path, space5: SearchSpace, table: Table, faulty: tuple[bytes, History]
, no_fsync: None) -> None:
    data, reference = faulty
    path = tmp_path / "j.jsonl"
    header = {k: v for k, v in unsealed(data)[0].items() if k not in ("v", "type")}
    records = unsealed(data)
    ends = [i + 1 for i, b in enumerate(data) if b == ord("\n")]
    outcome: Counter[str] = Counter()
    # every offset, at the journal level: what is read is exactly the complete lines before the cut
    for cut in range(len(data) + 1):
        put(path, data[:cut])
        complete = max([e for e in ends if e <= cut], default=0)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            jr = Journal(path, header, resume=True)
            jr.close()
        warned = any(issubclass(w.category, JournalWarning) for w in caught)
        assert warned == (cut != complete), cut
        n = data.count(b"\n", 0, complete)
        if n == 0:  # not even a header: a new journal with this search's header
            assert not jr.resumed and path.read_bytes() == data[: ends[0]]
        else:
            assert jr.resumed and path.read_bytes() == data[:complete]
            assert jr.asks == [r for r in records[1:n] if r["type"] == "ask"]
            assert jr.tells == [r for r in records[1:n] if r["type"] == "tell"]
        outcome["cut mid-line" if warned else "cut at a line end"] += 1
    # the whole search from a cut in the middle of every line and at every line end
    starts = [0] + ends[:-1]
    cuts = sorted({(a + b) // 2 for a, b in zip(starts, ends)} | set(ends[:-1]) | {0, 1})
    for cut in cuts:
        put(path, data[:cut])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", JournalWarning)
            s = _resume(space5, table, path)
        assert s.history_.equals(reference), cut
        outcome["resumed"] += 1
    assert outcome["cut at a line end"] == len(ends) + 1 and outcome["cut mid-line"] == len(data) - len(ends)
    assert outcome["resumed"] == len(cuts) >= 2 * len(ends)
    print(f"truncations: {dict(outcome)}")


class Crash(BaseException):
    """A crash inside the journal writer (a BaseException: nothing in the loop catches it)."""


def test_a_crash_inside_every_journal_write_recovers_the_history(
    tmp_path: Path, space5: SearchSpace, table: Table, faulty: tuple[bytes, History], monkeypatch: pytest.MonkeyPatch
, no_fsync: None) -> None:
    data, reference = faulty
    n_writes = data.count(b"\n")
    write = Journal.write
    outcome: Counter[str] = Counter()
    for k in range(1, n_writes + 1):
        for part in ("nothing", "one byte", "half", "all but the newline", "all, not synced"):
            path = tmp_path / f"j{k}-{part.replace(' ', '-')}.jsonl"
            count = [0]

            def crashing(self: Journal, record: dict[str, Any], k: int = k, part: str = part, count: list[int] = count) -> None:
                count[0] += 1
                if count[0] != k:
                    return write(self, record)
                real = self._file

                class Cut:
                    def write(self_, text: str) -> int:
                        keep = {"nothing": 0, "one byte": 1, "half": len(text) // 2, "all but the newline": len(text) - 1,
                                "all, not synced": len(text)}[part]
                        real.write(text[:keep])
                        real.flush()
                        raise Crash(part)

                self._file = Cut()  # type: ignore[assignment]
                try:
                    write(self, record)
                finally:
                    self._file = real

            monkeypatch.setattr(Journal, "write", crashing)
            with pytest.raises(Crash):
                _search(space5).run(CellRule(table, fail=6), BUDGET, journal=path)
            monkeypatch.setattr(Journal, "write", write)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                s = _resume(space5, table, path)
            assert s.history_.equals(reference), (k, part)
            outcome["warned" if any(issubclass(w.category, JournalWarning) for w in caught) else "clean"] += 1
    # a cut line (one byte, half, all but the newline) is reported; nothing or a whole line is not
    assert outcome == {"warned": 3 * n_writes, "clean": 2 * n_writes}, outcome
    print(f"crashes in the writer: {5 * n_writes} ({dict(outcome)})")


KILLED = textwrap.dedent(
    """
    import sys, warnings
    sys.path.insert(0, {tests!r})
    warnings.simplefilter("ignore")
    from nasfast import SearchSpace
    from test_search import Table
    from test_search_faults import CellRule, _search
    space = SearchSpace(5, 9, ["a", "b"])
    print("ready", flush=True)
    _search(space).run(CellRule(Table(space), fail=20, sleep=0.003), {budget}, journal={journal!r}, resume=True)
    """
)


def test_sigkill_at_random_points_then_resume(tmp_path: Path, space5: SearchSpace, table: Table, monkeypatch: pytest.MonkeyPatch) -> None:
    budget = 120
    journal = tmp_path / "j.jsonl"
    script = tmp_path / "child.py"
    script.write_text(KILLED.format(tests=str(TESTS_DIR), budget=budget, journal=str(journal)))
    rng = np.random.default_rng(5)
    sizes, codes = [], []
    for _ in range(2):
        proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
            time.sleep(float(rng.uniform(0.05, 0.4)))
            os.kill(proc.pid, signal.SIGKILL)
            codes.append(proc.wait(timeout=30))
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        sizes.append(journal.stat().st_size if journal.exists() else 0)
    assert set(codes) <= {0, -signal.SIGKILL} and codes[0] == -signal.SIGKILL, codes
    monkeypatch.setattr(os, "fsync", lambda fd: None)  # the children's journals were synced; these runs need not be
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", JournalWarning)
        s = _search(space5).run(CellRule(table, fail=20), budget, journal=journal, resume=True)
    assert s.history_.equals(_search(space5).run(CellRule(table, fail=20), budget).history_)
    print(f"SIGKILL: exit codes {codes}, journal sizes after each kill {sizes} bytes")


def test_a_newline_over_the_first_byte_of_a_line_is_refused_naming_that_line(
    tmp_path: Path, space5: SearchSpace, table: Table, faulty: tuple[bytes, History]
) -> None:
    """A newline written over a line's first byte leaves an empty line and a line without its
    opening brace: the empty line is the damage, named by its own number (an empty line used to
    be skipped, so the error named the next line)."""
    data, _ = faulty
    path = tmp_path / "j.jsonl"
    starts = [i + 1 for i, b in enumerate(data[:-1]) if b == ord("\n")]
    for start in starts[1:4]:
        put(path, data[:start] + b"\n" + data[start + 1 :])
        with pytest.raises(JournalCorruptError, match=f"line {_line_of(data, start)} is damaged"):
            _resume(space5, table, path)
