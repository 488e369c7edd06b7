"""Tests of the study runner, its configuration, summaries, verdicts, report and CLI.

The runner is driven by small stand-in benchmarks and searchers defined here (a 307-cell space),
so these tests check the runner itself: seeds, parallel determinism, atomic records, resume,
and numbers recomputed independently from the records.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import os
from dataclasses import replace
from pathlib import Path
from typing import Any, Optional

import numpy as np
import pytest

from nasfast import CellBatch, SearchSpace
from nasfast.experiment import Arm, Experiment, ExperimentConfig, ExperimentResults, run_seed
from nasfast.experiment.cli import add_subparsers
from nasfast.experiment.config import Claim
from nasfast.experiment.progress import Progress
from nasfast.experiment.report import GAIN_SHARE_THRESHOLD

# ---------------------------------------------------------------------------------------------
# Stand-ins (module level: worker processes import them by name)

TOY_SPACE = SearchSpace(5, 6, ["a", "b"])


class ToyBench:
    """307 cells with seeded random values and costs; ``toy-half`` keeps the first 150 cells."""

    default_metric = "acc"

    def __init__(self, name: str) -> None:
        cells = TOY_SPACE.enumerate()
        rng = np.random.default_rng(123)
        values = rng.random(len(cells))
        costs = 100.0 + 1000.0 * rng.random(len(cells))
        if name == "toy-half":
            cells, values, costs = cells[np.arange(150)], values[:150], costs[:150]
        self.space = TOY_SPACE
        self.cells = cells
        self._values, self._costs = values, costs
        self._index = {int(f): i for i, f in enumerate(cells.fingerprints())}

    def __len__(self) -> int:
        return len(self.cells)

    def values(self, metric: Optional[str] = None) -> np.ndarray:
        assert metric in (None, "acc")
        return self._values.copy()

    def _rows(self, cells: CellBatch) -> np.ndarray:
        return np.array([self._index[int(f)] for f in cells.fingerprints()])

    def query(self, cells: CellBatch, metric: Optional[str] = None) -> np.ndarray:
        return self._values[self._rows(cells)]

    def cost(self, cells: CellBatch) -> np.ndarray:
        return self._costs[self._rows(cells)]


def load_toy(name: str) -> ToyBench:
    if name not in ("toy", "toy-half"):
        raise KeyError(f"no benchmark {name!r}")
    return ToyBench(name)


class ToyEvaluator:
    def __init__(self, bench: ToyBench, metric: Optional[str] = None) -> None:
        self.bench, self.metric = bench, metric

    def __call__(self, cells: CellBatch) -> tuple[np.ndarray, np.ndarray]:
        return self.bench.query(cells, self.metric), self.bench.cost(cells)


class ToyHistory:
    def __init__(self, cells: CellBatch, values: list[float], costs: list[float]) -> None:
        self.cells = cells
        self.values = np.array(values, dtype=float)
        self.costs = np.array(costs, dtype=float)

    def to_dict(self) -> dict[str, Any]:
        return {"values": self.values.tolist(), "costs": self.costs.tolist()}


class ToyCandidates:
    """Candidate-set stand-in: how noisy the oracle is and how many cells it sees."""

    def __init__(self, noise: float, size: Optional[int] = None, **kwargs: Any) -> None:
        self.noise, self.size, self.kwargs = noise, size, kwargs


def toy_full() -> ToyCandidates:
    return ToyCandidates(0.05)


def toy_subset(size: int, refresh: bool = False) -> ToyCandidates:
    return ToyCandidates(0.05, size=size, refresh=refresh)


def toy_neighbourhood(radius: int = 1, top_k: int = 10) -> ToyCandidates:
    return ToyCandidates(0.1, radius=radius, top_k=top_k)


class ToyRandom:
    """Uniform random order over the pool; ``candidates`` turns it into a noisy-oracle greedy."""

    def __init__(self, space: SearchSpace, random_state: int, universe: Optional[CellBatch] = None,
                 method: str = "uniform", candidates: Optional[ToyCandidates] = None, n_jobs: Optional[int] = None) -> None:
        self.pool = universe if universe is not None else space.enumerate()
        self.seed = random_state
        self.candidates = candidates

    def run(self, evaluator: ToyEvaluator, budget: int, stop: Any = None) -> ToyRandom:
        if os.environ.get("NASFAST_TEST_FAIL_SEED") == str(self.seed):
            raise RuntimeError("planned failure")
        rng = np.random.default_rng(self.seed)
        n = len(self.pool)
        if self.candidates is None:
            order = rng.permutation(n)
        else:
            truth = evaluator(self.pool)[0]
            score = truth + self.candidates.noise * rng.standard_normal(n)
            if self.candidates.size is not None:  # only a random subset is scored
                seen = rng.permutation(n)[: self.candidates.size]
                score[np.setdiff1d(np.arange(n), seen)] -= 10.0
            order = np.argsort(-score, kind="stable")
        values: list[float] = []
        costs: list[float] = []
        for i in order[:budget]:
            v, c = evaluator(self.pool[np.array([i])])
            values.append(float(v[0]))
            costs.append(float(c[0]))
            self.history_ = ToyHistory(self.pool[order[: len(values)]], values, costs)
            if stop is not None and stop(self.history_):
                break
        return self


TOY_COMPONENTS = {
    "RandomSearch": ToyRandom,
    "PredictorSearch": ToyRandom,
    "FullSpace": toy_full,
    "RandomSubset": toy_subset,
    "Neighbourhood": toy_neighbourhood,
    "BenchmarkEvaluator": ToyEvaluator,
}

TOY_STUDY = """
[experiment]
benchmarks = ["toy", "toy-half"]
seeds = 6
budget = 40
seed = 7
targets = ["optimum", "top-3", "top-5%"]
headline_target = "top-5%"
n_boot = 300

[preset.quick]
seeds = 2
arms = ["random-uniform"]

[claim]
full_space = "predictor-full"
random_subsets = ["predictor-random-10"]
smart_subsets = ["predictor-neighbourhood"]

[[arm]]
name = "random-uniform"
searcher = "RandomSearch"
method = "uniform"

[[arm]]
name = "predictor-full"
searcher = "PredictorSearch"
candidates = { type = "FullSpace" }

[[arm]]
name = "predictor-random-10"
searcher = "PredictorSearch"
candidates = { type = "RandomSubset", size = 10, refresh = false }

[[arm]]
name = "predictor-neighbourhood"
searcher = "PredictorSearch"
candidates = { type = "Neighbourhood", radius = 1, top_k = 5 }
"""


@pytest.fixture
def study_file(tmp_path: Path) -> Path:
    p = tmp_path / "study.toml"
    p.write_text(TOY_STUDY)
    return p


def toy_experiment(study_file: Path, out: Path, **kwargs: Any) -> Experiment:
    kwargs.setdefault("jobs", 1)
    return Experiment.from_toml(study_file, out=out, progress=False, load_benchmark=load_toy,
                                components=TOY_COMPONENTS, **kwargs)


# ---------------------------------------------------------------------------------------------
# Seeds and configuration


def test_run_seed_is_sha256_of_the_run_identity() -> None:
    expected = int.from_bytes(hashlib.sha256(b"0/nb101-real20k/predictor-full/3").digest()[:4], "big")
    assert run_seed(0, "nb101-real20k", "predictor-full", 3) == expected
    seeds = {run_seed(b, bench, s, i) for b in (0, 1) for bench in ("x", "y") for s in ("p", "q") for i in range(5)}
    assert len(seeds) == 40


def test_default_study_is_valid_and_quick_is_a_subset() -> None:
    full = ExperimentConfig.default()
    quick = ExperimentConfig.default(quick=True)
    assert set(full.benchmarks) == {"nb101-surrogate", "nb101-real20k"}
    assert {s.name for s in quick.arms} < {s.name for s in full.arms}
    assert quick.seeds < full.seeds
    kinds = {s.candidates_type for s in full.arms}
    assert {"FullSpace", "RandomSubset", "Neighbourhood", "Evolution", None} <= kinds


def test_config_roundtrip_and_quick(study_file: Path) -> None:
    c = ExperimentConfig.from_toml(study_file)
    assert c.seeds == 6 and c.budget == 40 and c.targets == ("optimum", "top-3", "top-5%")
    assert ExperimentConfig.from_dict(json.loads(json.dumps(c.to_dict()))) == c
    q = ExperimentConfig.from_toml(study_file, quick=True)
    assert q.seeds == 2 and [s.name for s in q.arms] == ["random-uniform"] and q.budget == 40


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d["experiment"].update(sedes=3), "sedes"),
        (lambda d: d["experiment"].update(seeds=0), "seeds must be an integer >= 1, got 0"),
        (lambda d: d["experiment"].update(targets=["top-0%"]), "top-0%"),
        (lambda d: d["experiment"].update(headline_target="top-9"), "headline_target 'top-9'"),
        (lambda d: d["arm"][0].update(searcher="Oracle"), "Oracle"),
        (lambda d: d["arm"][1].update(name="random-uniform"), "repeated: \\['random-uniform'\\]"),
        (lambda d: d["arm"][1].update(name="a/b"), "'a/b'"),
        (lambda d: d["arm"][1].update(candidates={"type": "Everything"}), "Everything"),
        (lambda d: d["arm"][0].update(random_state=3), "random_state"),
        (lambda d: d["experiment"].update(benchmarks=[]), "at least one benchmark"),
        (lambda d: d.update(extra={}), "extra"),
        (lambda d: d.update(strategy=d.pop("arm")), "\\[\\[strategy\\]\\] tables are now \\[\\[arm\\]\\] tables"),
    ],
)
def test_config_errors_name_the_bad_value(study_file: Path, edit: Any, message: str) -> None:
    from nasfast.experiment.config import load_toml

    d = load_toml(study_file)
    edit(d)
    with pytest.raises(ValueError, match=message):
        ExperimentConfig.from_dict(d)


def test_old_names_of_arms_are_refused_or_deprecated(capsys: pytest.CaptureFixture[str]) -> None:
    import nasfast.experiment

    with pytest.warns(DeprecationWarning, match="nasfast.experiment.Strategy is now nasfast.experiment.Arm"):
        old = nasfast.experiment.Strategy
    assert old is Arm
    parser = argparse.ArgumentParser(prog="nasfast")
    add_subparsers(parser.add_subparsers(dest="command"))
    with pytest.raises(SystemExit):
        parser.parse_args(["experiment", "--strategy", "x"])
    assert "--strategy is now --arm" in capsys.readouterr().err


def test_experiment_overrides(study_file: Path, tmp_path: Path) -> None:
    exp = toy_experiment(study_file, tmp_path, seeds=3, budget=9, arms=["predictor-full"], targets=["top-3"])
    c = exp.config
    assert (c.seeds, c.budget, c.headline_target) == (3, 9, "top-3")
    assert [s.name for s in c.arms] == ["predictor-full"]
    assert len(exp.tasks()) == 2 * 3
    with pytest.raises(ValueError, match="unknown arms \\['nope'\\]"):
        toy_experiment(study_file, tmp_path, arms=["nope"])
    with pytest.raises(ValueError, match="jobs"):
        toy_experiment(study_file, tmp_path, jobs=0)


# ---------------------------------------------------------------------------------------------
# Running, determinism, records


def _strip_times(rec: dict[str, Any]) -> dict[str, Any]:
    """A record without its run time (nor the checksum of the line, which covers the time)."""
    rec = dict(rec)
    rec.pop("run_time_s")
    rec.pop("crc", None)
    return rec


def _slow_targets(values: np.ndarray, name: str) -> set[int]:
    order = sorted(range(len(values)), key=lambda i: -values[i])
    k = {"optimum": 1, "top-3": 3, "top-5%": math.ceil(0.05 * len(values))}[name]
    tau = values[order[k - 1]]
    return {i for i in range(len(values)) if values[i] >= tau}


@pytest.fixture(scope="module")
def toy_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, ExperimentResults]:
    """The toy study run twice: in this process and in 2 worker processes."""
    base = tmp_path_factory.mktemp("study")
    study = base / "study.toml"
    study.write_text(TOY_STUDY)
    serial = toy_experiment(study, base / "serial", jobs=1).run()
    toy_experiment(study, base / "parallel", jobs=2).run()
    return base / "serial", base / "parallel", serial


def test_outputs_written(toy_runs: tuple[Path, Path, ExperimentResults]) -> None:
    serial, _, results = toy_runs
    for name in ("runs.jsonl", "summary.csv", "summary.json", "report.md", "experiment.json",
                 "regret_toy.png", "seg_toy.png", "subsets_toy.png", "regret_toy-half.png"):
        assert (serial / name).stat().st_size > 0, name
    lines = (serial / "runs.jsonl").read_text().splitlines()
    assert len(lines) == 2 * 4 * 6 == len(list((serial / "runs").glob("*.json")))
    assert not list((serial / "runs").glob(".*tmp"))
    summary = json.loads((serial / "summary.json").read_text())
    assert len(summary["summary"]) == 2 * 4 * 3
    report = (serial / "report.md").read_text()
    assert "![seg_toy](seg_toy.png)" in report and "destroys most of the gain" in report
    assert "Part 1" in report and "top-5%" in report


def test_parallel_runs_equal_serial_runs(toy_runs: tuple[Path, Path, ExperimentResults]) -> None:
    serial, parallel, _ = toy_runs
    a = [_strip_times(json.loads(x)) for x in (serial / "runs.jsonl").read_text().splitlines()]
    b = [_strip_times(json.loads(x)) for x in (parallel / "runs.jsonl").read_text().splitlines()]
    assert a == b
    assert (serial / "summary.csv").read_text() != ""
    sa = json.loads((serial / "summary.json").read_text())["summary"]
    sb = json.loads((parallel / "summary.json").read_text())["summary"]
    for ra, rb in zip(sa, sb):
        ra.pop("mean_run_time_s"), rb.pop("mean_run_time_s")
        assert ra == rb


def test_records_hit_times_match_independent_computation(toy_runs: tuple[Path, Path, ExperimentResults]) -> None:
    serial, _, results = toy_runs
    for name in ("toy", "toy-half"):
        bench = ToyBench(name)
        values = bench.values()
        fps = [int(f) for f in bench.cells.fingerprints()]
        for t in ("optimum", "top-3", "top-5%"):
            target_fps = {fps[i] for i in _slow_targets(values, t)}
            for r in results.records:
                if r["task"]["benchmark"] != name:
                    continue
                seen: list[int] = []
                hit = None
                for k in r["fingerprints"]:
                    if int(k, 16) not in seen:
                        seen.append(int(k, 16))
                        if int(k, 16) in target_fps:
                            hit = len(seen)
                            break
                assert r["targets"][t] == {"size": len(target_fps), "hit": hit}
                assert r["space_size"] == len(bench)
                assert r["optimum"] == max(values)
        # runs stop at the optimum and never exceed the budget
        for r in results.records:
            assert r["samples"] <= 40
            assert r["found_optimum"] == (r["targets"]["optimum"]["hit"] is not None)
            if r["found_optimum"]:
                assert r["samples"] == r["targets"]["optimum"]["hit"]


def test_seeds_differ_between_runs_and_arms(toy_runs: tuple[Path, Path, ExperimentResults]) -> None:
    _, _, results = toy_runs
    seeds = [r["task"]["seed"] for r in results.records]
    assert len(set(seeds)) == len(seeds)
    first = [tuple(r["fingerprints"][:5]) for r in results.runs("toy", "random-uniform")]
    assert len(set(first)) == len(first)


def test_summary_matches_slow_ert(toy_runs: tuple[Path, Path, ExperimentResults]) -> None:
    _, _, results = toy_runs
    for row in results.summary():
        runs = results.runs(row["benchmark"], row["arm"])
        hits = [r["targets"][row["target"]]["hit"] for r in runs]
        total = sum(h if h is not None else r["samples"] for h, r in zip(hits, runs))
        succ = sum(h is not None for h in hits)
        M, m = row["space_size"], row["target_size"]
        assert row["successes"] == succ and row["runs"] == 6
        assert row["expected_random"] == pytest.approx((M + 1) / (m + 1))
        if succ:
            assert row["ert"] == pytest.approx(total / succ)
            assert row["seg"] == pytest.approx((M + 1) / (m + 1) / (total / succ))
            assert row["seg_low"] <= row["seg"] * (1 + 1e-12) or row["seg_low"] <= row["seg_high"]
        else:
            assert row["seg"] == 0.0 and math.isinf(row["ert"])
    # the noisy oracle searchers beat random search by far on the optimum of the full toy space
    assert results.row("toy", "predictor-full", "optimum")["seg"] > 5 * results.row("toy", "random-uniform", "optimum")["seg"]


def test_regret_matrix_is_best_so_far(toy_runs: tuple[Path, Path, ExperimentResults]) -> None:
    _, _, results = toy_runs
    r = results.runs("toy", "random-uniform")[0]
    mat = results.regret_matrix("toy", "random-uniform")
    assert mat.shape == (6, 40)
    vals = r["history"]["values"]
    best = -math.inf
    for i in range(40):
        if i < len(vals):
            best = max(best, vals[i])
        assert mat[0, i] == pytest.approx(r["optimum"] - best)


# ---------------------------------------------------------------------------------------------
# Resume


def test_resume_runs_only_missing_records(study_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    exp = toy_experiment(study_file, out, arms=["random-uniform", "predictor-full"], benchmarks=["toy"])
    exp.run(write=False)
    runs = sorted((out / "runs").glob("*.json"))
    assert len(runs) == 12
    stamps = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in runs}
    removed = [runs[1], runs[7]]
    for p in removed:
        p.unlink()
    (out / "runs" / runs[3].name).write_text('{"task": ')  # a torn file is not a record: run again
    with pytest.warns(UserWarning, match=f"{runs[3].name} is damaged: it is not one complete line.*run again"):
        exp.run(write=False)
    for p in sorted((out / "runs").glob("*.json")):
        mtime, content = stamps[p.name]
        if p in removed or p.name == runs[3].name:
            assert _strip_times(json.loads(p.read_bytes())) == _strip_times(json.loads(content))
        else:
            assert p.stat().st_mtime_ns == mtime, p.name
    assert len((out / "runs.jsonl").read_text().splitlines()) == 12


def test_resume_after_a_failed_run(study_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    exp = toy_experiment(study_file, out, arms=["random-uniform"], benchmarks=["toy"])
    victim = exp.tasks()[2]
    monkeypatch.setenv("NASFAST_TEST_FAIL_SEED", str(victim.seed))
    with pytest.raises(RuntimeError, match=f"toy / random-uniform / run 2 \\(seed {victim.seed}\\) failed: planned failure"):
        exp.run()
    assert len(list((out / "runs").glob("*.json"))) == 2  # runs 0 and 1 were kept
    monkeypatch.delenv("NASFAST_TEST_FAIL_SEED")
    results = exp.run()
    assert len(results.records) == 6


def test_resume_refuses_records_of_another_study(study_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    toy_experiment(study_file, out, arms=["random-uniform"], benchmarks=["toy"], seeds=1).run(write=False)
    with pytest.raises(ValueError, match="describes a different run.*another --out"):
        toy_experiment(study_file, out, arms=["random-uniform"], benchmarks=["toy"], seeds=1, budget=12).run()


# ---------------------------------------------------------------------------------------------
# Verdicts on synthetic records


def _record(arm: Arm, run: int, hit: Optional[int], samples: int) -> dict[str, Any]:
    return {
        "task": {"benchmark": "b", "arm": arm.to_dict(), "run": run, "seed": run, "budget": 100,
                 "metric": None, "targets": ["optimum"], "stop_at_optimum": True},
        "metric": "acc", "space_size": 9999, "optimum": 1.0, "samples": samples, "found_optimum": hit is not None,
        "targets": {"optimum": {"size": 1, "hit": hit}}, "run_time_s": 0.1,
        "fingerprints": [f"{i:016x}" for i in range(samples)],
        "history": {"values": [0.5] * samples, "costs": [1.0] * samples},
    }


def test_verdicts_follow_the_stated_rule() -> None:
    full = Arm("full", "PredictorSearch", {"candidates": {"type": "FullSpace"}})
    bad = Arm("rand-bad", "PredictorSearch", {"candidates": {"type": "RandomSubset", "size": 10}})
    ok = Arm("rand-ok", "PredictorSearch", {"candidates": {"type": "RandomSubset", "size": 1000}})
    smart = Arm("smart", "PredictorSearch", {"candidates": {"type": "Neighbourhood"}})
    mixed = Arm("smart-mixed", "PredictorSearch", {"candidates": {"type": "Evolution"}})
    config = ExperimentConfig(benchmarks=("b",), arms=(full, bad, ok, smart, mixed), seeds=20, budget=100,
                              claim=Claim("full", ("rand-bad", "rand-ok"), ("smart", "smart-mixed")),
                              targets=("optimum",), headline_target="optimum", n_boot=500)
    records = []
    for i in range(20):
        records.append(_record(full, i, 10, 10))  # ERT 10
        records.append(_record(bad, i, None, 100) if i % 4 else _record(bad, i, 50, 50))  # ERT (5*50+15*100)/5 = 350
        records.append(_record(ok, i, 12, 12))  # share 10/12
        records.append(_record(smart, i, 11, 11))
        records.append(_record(mixed, i, 5 if i % 2 else 100, 5 if i % 2 else 100))  # ERT 52.5
    results = ExperimentResults(config, records)
    v = {x["arm"]: x for x in results.verdicts()}
    assert v["full"]["part"] == 0 and v["full"]["verdict"] == "held"  # SEG = 5000 / 10
    assert v["full"]["share"] == pytest.approx(5000 / 10)
    assert v["rand-bad"]["part"] == 1 and v["rand-bad"]["share"] == pytest.approx(10 / 350)
    assert v["rand-bad"]["verdict"] == "held"
    assert v["rand-ok"]["share"] == pytest.approx(10 / 12) and v["rand-ok"]["verdict"] == "did not hold"
    assert v["smart"]["part"] == 2 and v["smart"]["verdict"] == "held"
    assert v["smart-mixed"]["share"] == pytest.approx(10 / 52.5)
    assert v["smart-mixed"]["share_high"] < GAIN_SHARE_THRESHOLD and v["smart-mixed"]["verdict"] == "did not hold"
    text = results.report_markdown(Path("."))
    assert "did not hold" in text and "rand-ok" in text


def test_verdict_inconclusive_when_interval_straddles_threshold() -> None:
    full = Arm("full", "PredictorSearch", {"candidates": {"type": "FullSpace"}})
    sub = Arm("sub", "PredictorSearch", {"candidates": {"type": "RandomSubset", "size": 10}})
    config = ExperimentConfig(benchmarks=("b",), arms=(full, sub), seeds=12, budget=100, claim=Claim("full", ("sub",)),
                              targets=("optimum",), headline_target="optimum", n_boot=500)
    hits_full = [10, 30, 5, 60] * 3
    hits_sub = [20, 90, 8, None] * 3
    records = [_record(full, i, h, h) for i, h in enumerate(hits_full)]
    records += [_record(sub, i, h, h if h else 100) for i, h in enumerate(hits_sub)]
    v = {x["arm"]: x for x in ExperimentResults(config, records).verdicts()}
    assert v["sub"]["share_low"] < GAIN_SHARE_THRESHOLD < v["sub"]["share_high"]
    assert v["sub"]["verdict"] == "inconclusive"
    assert (v["sub"]["hits"], v["sub"]["reference_hits"]) == ("9/12", "12/12")
    # the same numbers from 4 runs only: no verdict
    few = ExperimentResults(replace(config, seeds=4), records[:4] + records[12:16])
    assert {x["verdict"] for x in few.verdicts()} == {"no verdict (4 runs, 10 needed)"}


# ---------------------------------------------------------------------------------------------
# Progress bar and CLI


def test_progress_lines() -> None:
    stream = io.StringIO()
    p = Progress(total=20, done=5, stream=stream)
    p.draw()
    for _ in range(15):
        p.update()
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("runs 5/20 (5 resumed)") and "ETA ?" in lines[0]
    assert lines[-1].startswith("runs 20/20") and lines[-1].endswith("done") and "100.0%" in lines[-1]
    assert "ETA " in lines[1] and "ETA ?" not in lines[1]
    assert len(lines) <= 11  # one line per 10% step when not on a terminal


def test_cli_parses_every_flag() -> None:
    parser = argparse.ArgumentParser(prog="nasfast")
    add_subparsers(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["experiment", "--quick", "--config", "s.toml", "--out", "d", "--jobs", "3", "--seeds",
                              "4", "--budget", "50", "--benchmark", "a", "--benchmark", "b", "--arm", "x"])
    assert (args.quick, args.config, args.out, args.jobs, args.seeds, args.budget) == (True, "s.toml", "d", 3, 4, 50)
    assert args.benchmark == ["a", "b"] and args.arm == ["x"] and callable(args.func)
    with pytest.raises(SystemExit):
        parser.parse_args(["experiment", "--seeds", "0"])


def test_predictor_table_builds_a_regressor() -> None:
    from sklearn.ensemble import RandomForestRegressor

    from nasfast.experiment.worker import build_searcher

    captured: dict[str, Any] = {}

    def fake(space: SearchSpace, **kwargs: Any) -> None:
        captured.update(kwargs)

    s = Arm("p", "PredictorSearch", {"predictor": {"type": "RandomForestRegressor", "n_estimators": 7},
                                          "candidates": {"type": "RandomSubset", "size": 5}})
    build_searcher(s, TOY_SPACE, 3, None, {"PredictorSearch": fake, "RandomSubset": toy_subset})
    assert isinstance(captured["predictor"], RandomForestRegressor) and captured["predictor"].n_estimators == 7
    assert captured["candidates"].size == 5 and captured["random_state"] == 3 and captured["universe"] is None
    with pytest.raises(ValueError, match="'predictor' must be a table whose 'type' is one of"):
        Arm("p", "PredictorSearch", {"predictor": {"type": "os.system"}})
    with pytest.raises(ValueError, match="only PredictorSearch takes 'predictor'"):
        Arm("p", "RandomSearch", {"predictor": {"type": "RandomForestRegressor"}})


def test_real_uniform_random_search_matches_exact_expectation(tmp_path: Path) -> None:
    """Monte-Carlo check with the real RandomSearch: its SEG interval on the optimum contains 1."""
    exp = Experiment(
        benchmarks=["toy-half"], arms=[{"name": "random-uniform", "searcher": "RandomSearch", "method": "uniform"}],
        seeds=120, budget=150, targets=["optimum"], config=ExperimentConfig.from_toml(_write_study(tmp_path)),
        out=tmp_path / "out", jobs=1, progress=False, load_benchmark=load_toy,
    )
    results = exp.run(write=False)
    row = results.row("toy-half", "random-uniform", "optimum")
    assert row["successes"] == 120  # budget = M: every run finds the optimum
    assert row["expected_random"] == (150 + 1) / 2
    assert row["seg_low"] <= 1.0 <= row["seg_high"], row
    # every run evaluates distinct cells of the universe only
    allowed = {f"{int(f):016x}" for f in ToyBench("toy-half").cells.fingerprints()}
    for r in results.records:
        assert len(set(r["fingerprints"])) == len(r["fingerprints"]) and set(r["fingerprints"]) <= allowed


def _write_study(tmp_path: Path) -> Path:
    p = tmp_path / "study.toml"
    p.write_text(TOY_STUDY)
    return p


def test_defaults_table_applies_to_its_searcher_only(study_file: Path) -> None:
    from nasfast.experiment.config import load_toml

    d = load_toml(study_file)
    d["defaults"] = {"PredictorSearch": {"n_initial": 4, "encoding": "adjacency"}}
    d["arm"][2]["n_initial"] = 7
    c = ExperimentConfig.from_dict(d)
    params = {s.name: dict(s.params) for s in c.arms}
    assert params["random-uniform"] == {"method": "uniform"}
    assert params["predictor-full"] == {"n_initial": 4, "encoding": "adjacency", "candidates": {"type": "FullSpace"}}
    assert params["predictor-random-10"]["n_initial"] == 7
    d["defaults"] = {"Oracle": {}}
    with pytest.raises(ValueError, match="Oracle"):
        ExperimentConfig.from_dict(d)


REAL_STUDY = """
[experiment]
benchmarks = ["toy"]
seeds = 2
budget = 14
targets = ["optimum", "top-5%"]
headline_target = "top-5%"
n_boot = 200

[defaults.PredictorSearch]
predictor = { type = "RandomForestRegressor", n_estimators = 5 }
n_initial = 5

[[arm]]
name = "evolution"
searcher = "RegularizedEvolution"
population = 6
sample_size = 3

[[arm]]
name = "predictor-full"
searcher = "PredictorSearch"
candidates = { type = "FullSpace" }

[[arm]]
name = "predictor-union"
searcher = "PredictorSearch"
candidates = { type = "Union", sets = [{ type = "RandomSubset", size = 20, refresh = true }, { type = "Neighbourhood", top_k = 2 }] }
"""


def test_real_searchers_same_records_in_one_or_two_processes(tmp_path: Path) -> None:
    study = tmp_path / "real.toml"
    study.write_text(REAL_STUDY)
    recs = []
    for jobs in (1, 2):
        exp = Experiment.from_toml(study, out=tmp_path / f"j{jobs}", jobs=jobs, progress=False,
                                   load_benchmark=load_toy)
        recs.append([_strip_times(r) for r in exp.run(write=False).records])
    for a, b in zip(*recs):
        for rec in (a, b):
            rec["history"].pop("wall_time", None)
        assert a == b
    assert len(recs[0]) == 6 and all(r["samples"] >= 1 for r in recs[0])


def test_cli_end_to_end_on_the_real_benchmark(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A small study through the command line, with the real searchers and nb101-real20k."""
    study = tmp_path / "small.toml"
    study.write_text("""
[experiment]
benchmarks = ["nb101-real20k"]
seeds = 2
budget = 12
targets = ["top-1%"]
headline_target = "top-1%"
n_boot = 100

[[arm]]
name = "random-uniform"
searcher = "RandomSearch"

[[arm]]
name = "predictor-random-1000"
searcher = "PredictorSearch"
n_initial = 5
predictor = { type = "RandomForestRegressor", n_estimators = 5 }
candidates = { type = "RandomSubset", size = 1000 }
""")
    parser = argparse.ArgumentParser(prog="nasfast")
    add_subparsers(parser.add_subparsers(dest="command"))
    out = tmp_path / "out"
    args = parser.parse_args(["experiment", "--config", str(study), "--out", str(out), "--jobs", "2", "--no-progress"])
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    assert "nb101-real20k (M=20,001 cells" in printed and "predictor-random-1000" in printed
    lines = (out / "runs.jsonl").read_text().splitlines()
    assert len(lines) == 4
    for line in lines:
        rec = json.loads(line)
        assert rec["samples"] == 12 and rec["space_size"] == 20001 and rec["targets"]["top-1%"]["size"] >= 201
    for name in ("summary.csv", "summary.json", "report.md", "seg_nb101-real20k.png", "regret_nb101-real20k.png"):
        assert (out / name).exists(), name
