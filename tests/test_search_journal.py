"""Crash-safe journals: a search killed with SIGKILL resumes to the same history."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import zlib
from pathlib import Path
from typing import Any

import pytest
from sklearn.ensemble import RandomForestRegressor

from nasfast import CellBatch, SearchSpace
from nasfast.search import (
    JOURNAL_VERSION,
    BenchmarkEvaluator,
    JournalCorruptError,
    JournalMismatchError,
    JournalWarning,
    Neighbourhood,
    PredictorSearch,
    RandomSubset,
    RegularizedEvolution,
    Searcher,
    Union,
)
from test_search import Table

TESTS_DIR = Path(__file__).resolve().parent


class Counting:
    """An evaluator that counts its calls (optionally sleeping per call)."""

    def __init__(self, table: Table, sleep: float = 0.0) -> None:
        self.inner = BenchmarkEvaluator(table)
        self.sleep = sleep
        self.calls = 0

    def __call__(self, cells: CellBatch) -> Any:
        self.calls += 1
        if self.sleep:
            time.sleep(self.sleep)
        return self.inner(cells)


def make_searcher(space: SearchSpace, **kw: Any) -> PredictorSearch:
    params: dict[str, Any] = dict(
        predictor=RandomForestRegressor(n_estimators=10, min_samples_leaf=2),
        candidates=Neighbourhood(top_k=3),
        n_initial=5,
        batch_size=2,
        random_state=7,
    )
    params.update(kw)
    return PredictorSearch(space, **params)


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def write_lines(path: Path, records: list[dict[str, Any]]) -> None:
    """Write records as a journal with valid checksums (each line's CRC-32 continues the last)."""
    text, crc = [], 0
    for rec in records:
        body = json.dumps({k: v for k, v in rec.items() if k != "crc"}, separators=(",", ":"))[:-1]
        crc = zlib.crc32(body.encode(), crc)
        text.append(f'{body},"crc":"{crc:08x}"}}\n')
    path.write_text("".join(text))


CHILD = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from nasfast import SearchSpace
    from test_search import Table
    from test_search_journal import Counting, make_searcher
    space = SearchSpace(5, 9, ["a", "b"])
    make_searcher(space).run(Counting(Table(space), sleep=0.1), {budget}, journal={journal!r})
    """
)


def test_sigkill_then_resume_gives_the_uninterrupted_history(tmp_path: Path, space5: SearchSpace, table: Table) -> None:
    budget = 30
    journal = tmp_path / "search.jsonl"
    script = tmp_path / "child.py"
    script.write_text(CHILD.format(tests=str(TESTS_DIR), budget=budget, journal=str(journal)))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if journal.exists() and journal.read_text().count('"type":"tell"') >= 12:
                break
            if proc.poll() is not None:
                pytest.fail(f"the child ended early: {proc.stderr.read().decode()}")  # type: ignore[union-attr]
            time.sleep(0.02)
        else:
            pytest.fail("the child did not write 12 results in time")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    recorded = [r for r in read_lines(journal) if r["type"] == "tell"]
    assert 12 <= len(recorded) < budget

    ev = Counting(table)
    resumed = make_searcher(space5).run(ev, budget, journal=journal, resume=True)
    assert ev.calls == budget - len(recorded)  # recorded results are replayed, not evaluated

    reference = make_searcher(space5).run(Counting(table), budget)
    assert resumed.history_.equals(reference.history_)
    lines = read_lines(journal)
    assert lines[0]["type"] == "header" and lines[0]["v"] == JOURNAL_VERSION
    assert all(r["v"] == JOURNAL_VERSION for r in lines)
    tells = [r for r in lines if r["type"] == "tell"]
    assert len(tells) == budget
    fps = resumed.history_.cells.fingerprints()
    assert [int(r["fingerprint"], 16) for r in tells] == [int(f) for f in fps]


def test_truncated_last_line_is_reported_and_dropped(tmp_path: Path, space5: SearchSpace, table: Table) -> None:
    journal = tmp_path / "j.jsonl"
    make_searcher(space5).run(Counting(table), 10, journal=journal)
    with open(journal, "a") as f:
        f.write('{"v":1,"type":"tell","cell":[["01')  # a write cut short by a crash
    with pytest.warns(JournalWarning, match="cut short"):
        resumed = make_searcher(space5).run(Counting(table), 16, journal=journal, resume=True)
    reference = make_searcher(space5).run(Counting(table), 16)
    assert resumed.history_.equals(reference.history_)
    assert all(line.startswith("{") and line.endswith("}") for line in journal.read_text().splitlines())


def test_a_foreign_journal_is_refused(tmp_path: Path, space5: SearchSpace, table: Table) -> None:
    journal = tmp_path / "j.jsonl"
    make_searcher(space5).run(Counting(table), 8, journal=journal)
    with pytest.raises(FileExistsError, match="resume=True"):
        make_searcher(space5).run(Counting(table), 8, journal=journal)
    with pytest.raises(JournalMismatchError, match="different config"):
        make_searcher(space5, acquisition="greedy").run(Counting(table), 8, journal=journal, resume=True)
    with pytest.raises(JournalMismatchError, match="different searcher"):
        RegularizedEvolution(space5, random_state=7).run(Counting(table), 8, journal=journal, resume=True)
    other = SearchSpace(5, 8, ["a", "b"])
    with pytest.raises(JournalMismatchError, match="different space"):
        make_searcher(other).run(Counting(Table(other)), 8, journal=journal, resume=True)
    with pytest.raises(JournalMismatchError, match="seed 7"):
        make_searcher(space5, random_state=8).run(Counting(table), 8, journal=journal, resume=True)
    with pytest.raises(JournalMismatchError, match="different universe"):
        make_searcher(space5, universe=table.cells[:100]).run(Counting(table), 8, journal=journal, resume=True)
    lines = journal.read_text().splitlines()
    lines[2] = lines[2][:20]  # damage a line in the middle
    journal.write_text("\n".join(lines) + "\n")
    with pytest.raises(JournalCorruptError, match="line 3 is damaged"):
        make_searcher(space5).run(Counting(table), 8, journal=journal, resume=True)


def test_resume_adopts_the_journal_seed(tmp_path: Path, space5: SearchSpace, table: Table) -> None:
    journal = tmp_path / "j.jsonl"
    first = make_searcher(space5, random_state=None).run(Counting(table), 8, journal=journal)
    ev = Counting(table)
    again = make_searcher(space5, random_state=None).run(ev, 12, journal=journal, resume=True)
    assert ev.calls == 4
    assert again.seed_ == first.seed_
    assert again.history_.cells[:8] == first.history_.cells


def test_resume_detects_a_changed_evaluator(tmp_path: Path, space5: SearchSpace, table: Table) -> None:
    journal = tmp_path / "j.jsonl"
    make_searcher(space5).run(Counting(table), 12, journal=journal)
    lines = read_lines(journal)
    tells = [i for i, r in enumerate(lines) if r["type"] == "tell"]
    for i in tells:
        lines[i]["value"] = 1.0 - (lines[i]["value"] or 0.0)  # other results: other asks
    write_lines(journal, lines)  # a consistent journal (checksums recomputed) of other results
    with pytest.raises(JournalMismatchError, match="replay"):
        make_searcher(space5).run(Counting(table), 12, journal=journal, resume=True)


def test_resume_classmethod_rebuilds_the_search_from_its_journal(tmp_path: Path, space5: SearchSpace, table: Table) -> None:
    journal = tmp_path / "j.jsonl"
    make_searcher(space5, candidates=Union(Neighbourhood(top_k=3), RandomSubset(20))).run(Counting(table), 10, journal=journal)
    ev = Counting(table)
    predictor = RandomForestRegressor(n_estimators=10, min_samples_leaf=2)
    resumed = PredictorSearch.resume(journal, ev, 16, predictor=predictor)
    assert ev.calls == 6
    reference = make_searcher(space5, candidates=Union(Neighbourhood(top_k=3), RandomSubset(20))).run(Counting(table), 16)
    assert isinstance(resumed, PredictorSearch) and resumed.batch_size == 2 and resumed.seed_ == 7
    assert resumed.history_.equals(reference.history_)


def test_resume_classmethod_with_the_default_predictor_and_any_searcher(tmp_path: Path, space5: SearchSpace, table: Table) -> None:
    journal = tmp_path / "p.jsonl"
    PredictorSearch(space5, n_initial=5, candidates=Neighbourhood(), random_state=3).run(Counting(table), 9, journal=journal)
    resumed = Searcher.resume(journal, Counting(table), 14)
    reference = PredictorSearch(space5, n_initial=5, candidates=Neighbourhood(), random_state=3).run(Counting(table), 14)
    assert resumed.history_.equals(reference.history_)

    journal = tmp_path / "r.jsonl"
    RegularizedEvolution(space5, population=6, sample_size=3, random_state=5).run(Counting(table), 8, journal=journal)
    with pytest.raises(TypeError, match="RegularizedEvolution takes no predictor"):
        RegularizedEvolution.resume(journal, Counting(table), 12, predictor=RandomForestRegressor())
    resumed = RegularizedEvolution.resume(journal, Counting(table), 12)
    reference = RegularizedEvolution(space5, population=6, sample_size=3, random_state=5).run(Counting(table), 12)
    assert isinstance(resumed, RegularizedEvolution) and resumed.history_.equals(reference.history_)


def test_resume_classmethod_asks_for_what_a_journal_cannot_hold(tmp_path: Path, space5: SearchSpace, table: Table) -> None:
    journal = tmp_path / "j.jsonl"
    make_searcher(space5).run(Counting(table), 8, journal=journal)
    with pytest.raises(ValueError, match="pass it again as predictor="):
        PredictorSearch.resume(journal, Counting(table), 10)
    with pytest.raises(JournalMismatchError, match="different config"):
        PredictorSearch.resume(journal, Counting(table), 10, predictor=RandomForestRegressor(n_estimators=11))
    with pytest.raises(JournalMismatchError, match="written by PredictorSearch, not by RegularizedEvolution"):
        RegularizedEvolution.resume(journal, Counting(table), 10)
    with pytest.raises(FileNotFoundError, match="no search to resume"):
        PredictorSearch.resume(tmp_path / "absent.jsonl", Counting(table), 10)
    uni = tmp_path / "u.jsonl"
    make_searcher(space5, universe=table.cells[:200]).run(Counting(table), 8, journal=uni)
    with pytest.raises(ValueError, match="pass the same universe"):
        PredictorSearch.resume(uni, Counting(table), 10, predictor=RandomForestRegressor(n_estimators=10, min_samples_leaf=2))
    resumed = PredictorSearch.resume(
        uni, Counting(table), 10, universe=table.cells[:200], predictor=RandomForestRegressor(n_estimators=10, min_samples_leaf=2)
    )
    assert resumed.n_evaluated_ == 10
