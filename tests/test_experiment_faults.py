"""A study folder is never damaged by a re-run and never loads wrong values.

* A re-run that does not fit the folder (another budget, fewer seeds, an arm or benchmark
  left out) is refused before anything is written; one that adds runs only runs those.
* Fault injection on a finished folder: every byte of a run record, of ``runs.jsonl`` and of
  ``experiment.json`` flipped, every truncation of a record and of ``runs.jsonl``, a crash inside
  every file write, SIGKILL at random points. Reading refuses clearly (naming the file and the
  line) and the next run recovers the records of the uninterrupted study. Each campaign counts
  its cases by outcome and checks the counts; ``-s`` prints them.

The runner is driven by the stand-in benchmark and searchers of ``test_experiment``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import warnings
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nasfast.experiment import Experiment, ExperimentResults, storage
from nasfast.experiment import cli as experiment_cli
from nasfast.experiment.storage import read_record
from test_experiment import TOY_COMPONENTS, TOY_STUDY, ToyRandom, _strip_times, load_toy, toy_experiment

TESTS_DIR = Path(__file__).resolve().parent
SMALL = dict(arms=["random-uniform", "predictor-full"], benchmarks=["toy"], seeds=2, budget=10)


@pytest.fixture
def no_fsync(monkeypatch: pytest.MonkeyPatch) -> None:
    """fsync as a no-op: the campaigns simulate process crashes, which keep what was written to
    the page cache (fsync matters for a power loss only), and thousands of fsyncs take minutes."""
    monkeypatch.setattr(os, "fsync", lambda fd: None)


def put(path: Path, data: bytes) -> None:
    """Replace a file's content in place (an O_TRUNC open is slow on ext4)."""
    with open(path, "r+b" if path.exists() else "wb") as f:
        f.write(data)
        f.truncate()


def snapshot(out: Path) -> dict[str, tuple[int, bytes]]:
    return {str(p.relative_to(out)): (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted(out.rglob("*")) if p.is_file()}


def stripped(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [_strip_times(r) for r in records]


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[dict[str, Any]]]:
    """A finished small study folder (summary, report and plots included), its study file and
    its records."""
    base = tmp_path_factory.mktemp("finished")
    study = base / "study.toml"
    study.write_text(TOY_STUDY)
    out = base / "out"
    results = toy_experiment(study, out, **SMALL).run()
    assert len(results.records) == 4
    return study, out, results.records


@pytest.fixture
def folder(finished: tuple[Path, Path, list[dict[str, Any]]], tmp_path: Path) -> tuple[Path, Path, list[dict[str, Any]]]:
    """A private copy of the finished folder."""
    study, out, records = finished
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    return study, copy, records


def test_study_files_follow_the_documented_format(finished: tuple[Path, Path, list[dict[str, Any]]]) -> None:
    _, out, records = finished
    files = sorted((out / "runs").glob("*.json")) + [out / "experiment.json"]
    lines = [p.read_bytes() for p in files]
    assert all(x.count(b"\n") == 1 and x.endswith(b"\n") for x in lines)
    jsonl = (out / "runs.jsonl").read_bytes()
    assert sorted(jsonl.splitlines(keepends=True)) == sorted(lines[:-1])  # the same lines as the records
    for line in lines:
        body, sep, tail = line.rpartition(b',"crc":"')
        assert sep and tail == f"{zlib.crc32(body):08x}".encode() + b'"}\n'  # independent CRC-32 of the line
    assert [json.loads(x) for x in jsonl.splitlines()] == [{**r, "crc": json.loads(x)["crc"]} for r, x in zip(records, jsonl.splitlines())]


# ---------------------------------------------------------------------------------- re-runs


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(budget=12), "describes a different run than toy / random-uniform / run 0"),
        (dict(seeds=1), "holds 2 finished run(s) that this study does not include (toy / predictor-full / run 1, toy / random-uniform / run 1)"),
        (dict(arms=["random-uniform"]), "holds 2 finished run(s) that this study does not include (toy / predictor-full / run 0, toy / predictor-full / run 1)"),
        (dict(benchmarks=["toy-half"]), "holds 4 finished run(s) that this study does not include"),
        (dict(seed=8), "describes a different run"),
    ],
    ids=["budget", "fewer seeds", "fewer arms", "other benchmark", "base seed"],
)
def test_a_rerun_that_does_not_fit_is_refused_before_writing(
    folder: tuple[Path, Path, list[dict[str, Any]]], change: dict[str, Any], message: str
) -> None:
    study, out, _ = folder
    before = snapshot(out)
    with pytest.raises(ValueError, match=re.escape(message)):
        toy_experiment(study, out, **{**SMALL, **change}).run()
    assert snapshot(out) == before  # nothing written, not even experiment.json


def test_a_rerun_may_add_seeds_arms_and_benchmarks(folder: tuple[Path, Path, list[dict[str, Any]]]) -> None:
    study, out, records = folder
    before = snapshot(out)
    bigger = dict(SMALL, seeds=3, arms=["random-uniform", "predictor-full", "predictor-neighbourhood"], benchmarks=["toy", "toy-half"])
    results = toy_experiment(study, out, **bigger).run(write=False)
    assert len(results.records) == 2 * 3 * 3
    after = snapshot(out)
    for name, (mtime, content) in before.items():
        if name.startswith("runs/"):
            assert after[name] == (mtime, content), name  # finished runs were not run again
    # the new study: every old record, and the same records as a fresh study of that size
    loaded = ExperimentResults.load(out)
    old = [r for r in loaded.records if r["task"]["benchmark"] == "toy" and r["task"]["run"] < 2
           and r["task"]["arm"]["name"] != "predictor-neighbourhood"]
    assert old == records
    fresh = toy_experiment(study, out.parent / "fresh", **bigger).run(write=False)
    assert stripped(loaded.records) == stripped(fresh.records)


def test_the_cli_reports_a_refused_rerun(folder: tuple[Path, Path, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    study, out, _ = folder
    before = snapshot(out)

    from_toml = Experiment.from_toml

    def toy_from_toml(path: Any, quick: bool = False, **kw: Any) -> Experiment:
        return from_toml(path, quick=quick, **{**kw, "load_benchmark": load_toy, "components": TOY_COMPONENTS})

    monkeypatch.setattr(experiment_cli.Experiment, "from_toml", staticmethod(toy_from_toml))
    parser = argparse.ArgumentParser(prog="nasfast")
    experiment_cli.add_subparsers(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["experiment", "--config", str(study), "--out", str(out), "--jobs", "1", "--no-progress",
                              "--benchmark", "toy", "--arm", "random-uniform", "--arm", "predictor-full",
                              "--seeds", "1", "--budget", "10"])
    assert args.func(args) == 1
    err = capsys.readouterr().err
    assert "nasfast experiment: error: " in err and "does not include" in err and "larger --seeds" in err
    assert snapshot(out) == before


# ---------------------------------------------------------------------------------- fault injection


def test_every_byte_flip_and_truncation_of_a_record_is_caught_and_run_again(
    folder: tuple[Path, Path, list[dict[str, Any]]], no_fsync: None
) -> None:
    study, out, records = folder
    path = out / "runs" / "toy__random-uniform__0001.json"
    data = path.read_bytes()
    rng = np.random.default_rng(3)
    outcome: Counter[str] = Counter()
    for offset in range(len(data)):
        for new in (data[offset] ^ 1, (data[offset] + int(rng.integers(1, 256))) % 256):
            put(path, data[:offset] + bytes([new]) + data[offset + 1 :])
            rec, _, problem = read_record(path)
            assert rec is None and problem.startswith(f"{path} is damaged: "), (offset, problem)
            outcome["flip caught"] += 1
    for cut in range(len(data)):
        put(path, data[:cut])
        rec, _, problem = read_record(path)
        assert rec is None and problem.startswith(f"{path} is damaged: "), (cut, problem)
        outcome["truncation caught"] += 1
    # the whole re-run, for a sample of the faults: a warning, the run is run again, same records
    exp = toy_experiment(study, out, **SMALL)
    for k, offset in enumerate(range(0, len(data), 97)):
        faulty = data[:offset] + bytes([data[offset] ^ 1]) + data[offset + 1 :] if k % 2 else data[:offset]
        put(path, faulty)
        with pytest.warns(UserWarning, match=re.escape(f"{path} is damaged: ") + ".*the run is run again"):
            results = exp.run(write=False)
        assert stripped(results.records) == stripped(records)
        assert stripped([ExperimentResults.load(out).records[3]]) == stripped([records[3]])
        outcome["re-run"] += 1
    assert outcome == {"flip caught": 2 * len(data), "truncation caught": len(data), "re-run": len(range(0, len(data), 97))}
    print(f"record {path.name} ({len(data)} bytes): {dict(outcome)}")


def test_every_byte_flip_and_truncation_of_the_study_files_is_refused_by_load(
    folder: tuple[Path, Path, list[dict[str, Any]]], no_fsync: None
) -> None:
    study, out, records = folder
    rng = np.random.default_rng(4)
    outcome: Counter[str] = Counter()
    for name in ("runs.jsonl", "experiment.json"):
        path = out / name
        data = path.read_bytes()
        for offset in range(len(data)):
            new = data[offset] ^ 1 if offset % 2 else (data[offset] + int(rng.integers(1, 256))) % 256
            put(path, data[:offset] + bytes([new]) + data[offset + 1 :])
            with pytest.raises(ValueError) as info:
                ExperimentResults.load(out)
            msg = str(info.value)
            line = data.count(b"\n", 0, offset) + 1
            where = f"{path}, line {line} is damaged" if name == "runs.jsonl" and offset < len(data) - 1 else f"{path}"
            assert where in msg and "run the study again with the same output directory" in msg, (name, offset, msg)
            outcome[f"{name}: flip refused"] += 1
        for cut in range(len(data)):
            put(path, data[:cut])
            with pytest.raises(ValueError, match=re.escape(str(path))):
                ExperimentResults.load(out)
            outcome[f"{name}: truncation refused"] += 1
        # what the message advises: a re-run rebuilds the file, with the same records
        put(path, data[: len(data) // 2])
        results = toy_experiment(study, out, **SMALL).run(write=False)
        assert results.records == records and ExperimentResults.load(out).records == records
        assert path.read_bytes() == data
        outcome[f"{name}: rebuilt"] += 1
    sizes = {n: (out / n).stat().st_size for n in ("runs.jsonl", "experiment.json")}
    assert outcome == {f"{n}: {k}": (1 if k == "rebuilt" else s) for n, s in sizes.items() for k in ("flip refused", "truncation refused", "rebuilt")}
    print(f"study files {sizes} bytes: {dict(outcome)}")


class Crash(BaseException):
    """A crash inside a file write (a BaseException: nothing in the runner catches it)."""


def test_a_crash_inside_every_file_write_of_a_study_recovers(
    finished: tuple[Path, Path, list[dict[str, Any]]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_fsync: None
) -> None:
    study, _, records = finished
    write = storage.write_atomic
    n_writes = 1 + len(records) + 1  # experiment.json, every record, runs.jsonl
    outcome: Counter[str] = Counter()
    for k in range(1, n_writes + 1):
        for part in ("nothing", "half", "all"):
            out = tmp_path / f"out-{k}-{part}"
            count = [0]

            def crashing(path: Path, text: str, k: int = k, part: str = part, count: list[int] = count) -> None:
                count[0] += 1
                if count[0] != k:
                    return write(path, text)
                tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # where the writer puts it
                tmp.write_text(text[: {"nothing": 0, "half": len(text) // 2, "all": len(text)}[part]])
                raise Crash(path.name)

            monkeypatch.setattr(storage, "write_atomic", crashing)
            with pytest.raises(Crash):
                toy_experiment(study, out, **SMALL).run(write=False)
            monkeypatch.setattr(storage, "write_atomic", write)
            if (out / "runs.jsonl").exists():  # pragma: no cover - it is the last write
                pytest.fail("runs.jsonl written before the crash")
            with pytest.raises((ValueError, FileNotFoundError)):
                ExperimentResults.load(out)  # an unfinished study is not loaded
            results = toy_experiment(study, out, **SMALL).run(write=False)
            assert stripped(results.records) == stripped(records) and ExperimentResults.load(out).records == results.records
            outcome["recovered"] += 1
    assert outcome == {"recovered": 3 * n_writes}
    print(f"crashes inside a study's file writes: {dict(outcome)}")


class SlowToy(ToyRandom):
    """A toy searcher that takes 20 ms per run, so that a kill lands in the middle of a study."""

    def run(self, evaluator: Any, budget: int, stop: Any = None) -> SlowToy:
        time.sleep(0.02)
        return super().run(evaluator, budget, stop)  # type: ignore[return-value]


SLOW_COMPONENTS = {**TOY_COMPONENTS, "RandomSearch": SlowToy, "PredictorSearch": SlowToy}

KILLED = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from pathlib import Path
    from nasfast.experiment import Experiment
    from test_experiment import load_toy
    from test_experiment_faults import SLOW_COMPONENTS, SMALL
    exp = Experiment.from_toml({study!r}, out={out!r}, progress=False, load_benchmark=load_toy,
                               components=SLOW_COMPONENTS, jobs=1, **dict(SMALL, seeds=30))
    print("ready", flush=True)
    exp.run()
    """
)


def test_sigkill_of_a_study_at_random_points_then_rerun(finished: tuple[Path, Path, list[dict[str, Any]]], tmp_path: Path) -> None:
    study, _, _ = finished
    out = tmp_path / "out"
    script = tmp_path / "child.py"
    script.write_text(KILLED.format(tests=str(TESTS_DIR), study=str(study), out=str(out)))
    rng = np.random.default_rng(6)
    codes, done = [], []
    for _ in range(2):
        proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
            time.sleep(float(rng.uniform(0.1, 0.8)))
            os.kill(proc.pid, signal.SIGKILL)
            codes.append(proc.wait(timeout=30))
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        done.append(len(list((out / "runs").glob("*.json"))) if (out / "runs").is_dir() else 0)
    assert set(codes) <= {0, -signal.SIGKILL} and codes[0] == -signal.SIGKILL, codes
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        again = Experiment.from_toml(study, out=out, progress=False, load_benchmark=load_toy, components=TOY_COMPONENTS,
                                     jobs=1, **dict(SMALL, seeds=30)).run(write=False)
    fresh = toy_experiment(study, tmp_path / "fresh", **dict(SMALL, seeds=30)).run(write=False)
    assert stripped(again.records) == stripped(fresh.records)
    assert ExperimentResults.load(out).records == again.records
    print(f"SIGKILL of a study: exit codes {codes}, records on disk after each kill {done} of 60")
