"""The study file's claim, presets and sections, and what the results make of them.

* ``[claim]`` names the arms of each part of the claim: the verdicts use exactly those arms (not
  the order or the kinds of the arms), and a study without a claim has generic results only.
  Claims naming unknown arms or arms of the wrong kind are refused before anything runs.
* ``[preset.<name>]`` overrides values and selects arms (``--quick``, ``--full``, ``--preset``);
  the claim and the sections follow the selection.
* ``[[section]]`` groups arms in the report and compares pairs of arms.

Shares and ERTs are recomputed here from the records by a slow reference; the runs use the
stand-in benchmark and searchers of ``test_experiment``.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any, Optional

import pytest

from nasfast import cli as nasfast_cli
from nasfast.experiment import Arm, Experiment, ExperimentConfig, ExperimentResults
from nasfast.experiment import cli as experiment_cli
from nasfast.experiment.config import Claim, Section, derive_seed
from nasfast.metrics import ert_ratio
from test_experiment import TOY_COMPONENTS, TOY_STUDY, _record, load_toy

# ---------------------------------------------------------------------------------------------
# Slow references


def slow_ert(hits: list[Optional[int]], spent: list[int]) -> float:
    """ERT by its definition: samples of all runs (unsuccessful ones up to the budget) over
    successful runs."""
    successes = sum(h is not None for h in hits)
    total = sum(h if h is not None else s for h, s in zip(hits, spent))
    return total / successes if successes else float("inf")


def hits_of(records: list[dict[str, Any]], benchmark: str, arm: str, target: str) -> tuple[list[Optional[int]], list[int]]:
    """Hitting times and samples of one arm's runs, read from the records in run order."""
    runs = sorted((r for r in records if r["task"]["benchmark"] == benchmark and r["task"]["arm"]["name"] == arm),
                  key=lambda r: r["task"]["run"])
    return [r["targets"][target]["hit"] for r in runs], [r["samples"] for r in runs]


def predictor(name: str, candidates: str, **params: Any) -> Arm:
    return Arm(name, "PredictorSearch", {"candidates": {"type": candidates, **params}})


# Five arms on synthetic records (target "optimum", 20 runs each); two full-space arms, so the
# claim's reference cannot be guessed from the kinds or the order of the arms.
FULL_A = predictor("full-a", "FullSpace")
SUB = predictor("sub", "RandomSubset", size=10)
FULL_B = Arm("full-b", "PredictorSearch", {"candidates": {"type": "FullSpace"}, "n_initial": 5})
SMART = predictor("smart", "Neighbourhood")
UNCLAIMED = predictor("sub-unclaimed", "RandomSubset", size=100)
ARMS = (FULL_A, SUB, FULL_B, SMART, UNCLAIMED)
HITS = {  # hitting time per run (None: no hit within the budget of 100)
    "full-a": [30] * 20,
    "sub": [None if i % 4 else 40 for i in range(20)],
    "full-b": [8 + i % 5 for i in range(20)],
    "smart": [11 if i % 2 else 13 for i in range(20)],
    "sub-unclaimed": [60 if i % 3 else None for i in range(20)],
}


def synthetic_records() -> list[dict[str, Any]]:
    return [_record(arm, i, HITS[arm.name][i], HITS[arm.name][i] or 100) for arm in ARMS for i in range(20)]


def synthetic_config(**kwargs: Any) -> ExperimentConfig:
    return ExperimentConfig(benchmarks=("b",), arms=ARMS, seeds=20, budget=100, targets=("optimum",),
                            headline_target="optimum", n_boot=400, **kwargs)


# ---------------------------------------------------------------------------------------------
# The claim


def test_the_claim_uses_the_arms_it_names() -> None:
    config = synthetic_config(claim=Claim("full-b", ("sub",), ("smart",)))
    records = synthetic_records()
    results = ExperimentResults(config, records)
    rows = results.verdicts()
    assert [(v["part"], v["arm"], v["reference"]) for v in rows] == [
        (0, "full-b", "random search"), (1, "sub", "full-b"), (2, "smart", "full-b")]
    ref_h, ref_s = hits_of(records, "b", "full-b", "optimum")
    for v in rows[1:]:
        h, s = hits_of(records, "b", v["arm"], "optimum")
        assert v["share"] == pytest.approx(slow_ert(ref_h, ref_s) / slow_ert(h, s))
        expected = ert_ratio(h, s, ref_h, ref_s, n_boot=400, random_state=derive_seed(0, "b", v["arm"], "full-b", "optimum"))
        assert (v["share"], v["share_low"], v["share_high"]) == expected
    # part 0: SEG of full-b = E[N_RS] / ERT, E[N_RS] = (M + 1) / (m + 1) with M = 9999, m = 1
    assert rows[0]["share"] == pytest.approx((9999 + 1) / 2 / slow_ert(ref_h, ref_s))
    assert rows[1]["share"] == pytest.approx(10 / (5 * 40 + 15 * 100) * 5)  # ERT_sub = 340
    assert rows[2]["share"] == pytest.approx(10 / 12)
    assert rows[0]["verdict"] == rows[1]["verdict"] == rows[2]["verdict"] == "held"
    # with full-a as the reference (ERT 30), the same smart arm would keep 30 / 12: the reference matters
    other = ExperimentResults(synthetic_config(claim=Claim("full-a", ("sub",), ("smart",))), records).verdicts()
    assert other[2]["share"] == pytest.approx(30 / 12) and other[1]["share"] == pytest.approx(30 / 340)
    text = results.report_markdown(Path("."))
    assert "full space `full-b`; random subsets `sub`; smart subsets `smart`" in text


def test_a_study_without_a_claim_has_generic_results_only(tmp_path: Path) -> None:
    results = ExperimentResults(synthetic_config(), synthetic_records())
    assert results.verdicts() == []
    paths = results.write(tmp_path)
    report = (tmp_path / "report.md").read_text()
    assert "## The claim" not in report and "Verdicts" not in report and "names no claim" in report
    for arm in ARMS:
        assert f"| {arm.name} | " in report
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["claim"] is None and summary["verdicts"] == [] and len(summary["summary"]) == 5
    assert not (tmp_path / "subsets_b.png").exists() and tmp_path / "seg_b.png" in paths


CLAIMS = [
    ('full_space = "predictor-ful"', "claim: full_space names 'predictor-ful', which is not an arm of the study"),
    ('full_space = "random-uniform"',
     "claim: full_space names 'random-uniform', a RandomSearch arm; full_space takes PredictorSearch arms with FullSpace candidates"),
    ('full_space = "predictor-full"\nrandom_subsets = ["predictor-neighbourhood"]',
     "claim: random_subsets names 'predictor-neighbourhood', an arm with Neighbourhood candidates; random_subsets takes "
     "PredictorSearch arms with RandomSubset candidates"),
    ('full_space = "predictor-full"\nsmart_subsets = ["predictor-random-10"]',
     "claim: smart_subsets names 'predictor-random-10', an arm with RandomSubset candidates; smart_subsets takes "
     "PredictorSearch arms with Neighbourhood or Evolution or Combined candidates"),
    ('full_space = "predictor-full"\nsmart_subsets = ["predictor-full"]',
     "claim: arm 'predictor-full' has two roles (full_space and smart_subsets)"),
    ('full_space = "predictor-full"\nrandom_subsets = "predictor-random-10"',
     "claim: random_subsets must be a list of arm names, got 'predictor-random-10'"),
    ('full_space = "predictor-full"\nrandom_subsets = ["predictor-random-10", "predictor-random-10"]',
     "claim: random_subsets names ['predictor-random-10'] twice"),
    ('random_subsets = ["predictor-random-10"]', "[claim] needs full_space"),
    ('full_space = "predictor-full"\nreference = "predictor-full"', "unknown keys in [claim]: ['reference']"),
]


@pytest.mark.parametrize("claim, message", CLAIMS, ids=[m.split(":")[-1][:40] for _, m in CLAIMS])
def test_a_bad_claim_is_refused_before_anything_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     claim: str, message: str) -> None:
    study = tmp_path / "study.toml"
    study.write_text(re.sub(r"\[claim\]\n(.+\n)+", f"[claim]\n{claim}\n", TOY_STUDY))
    with pytest.raises(ValueError, match=re.escape(message)):
        ExperimentConfig.from_toml(study)
    out = tmp_path / "out"
    assert nasfast_cli.main(["experiment", "--config", str(study), "--out", str(out), "--jobs", "1", "--no-progress"]) == 1
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_the_default_study_names_the_claim_that_its_arms_were_read_as() -> None:
    """The [claim] of example.toml is what the kinds of its arms used to imply: the first
    full-space arm, every random-subset arm, every neighbourhood/evolution/union arm."""
    config = ExperimentConfig.default()
    kinds = {a.name: (a.searcher, a.params.get("candidates", {}).get("type")) for a in config.arms}
    assert config.claim == Claim(
        next(n for n, k in kinds.items() if k == ("PredictorSearch", "FullSpace")),
        tuple(n for n, k in kinds.items() if k == ("PredictorSearch", "RandomSubset")),
        tuple(n for n, k in kinds.items() if k[1] in ("Neighbourhood", "Evolution", "Union", "Combined")),
    )
    quick = ExperimentConfig.default(quick=True)
    assert (quick.seeds, quick.budget) == (5, 50)
    assert quick.claim == Claim("predictor-full", ("predictor-random-1000",), ("predictor-neighbourhood",))
    assert {s.name for s in config.sections} == {"baselines", "candidate-sets"}
    assert [a.name for a in config.arms] == [n for s in config.sections for n in s.arms]  # every arm shown once
    full = ExperimentConfig.default(preset="full")
    assert {a.name for a in full.arms} <= {a.name for a in config.arms} and full.seeds > config.seeds and full.budget > config.budget
    assert full.claim is not None and full.claim.full_space == "predictor-full"


def test_the_default_study_runs_its_default_preset_and_compares_predictors_in_another() -> None:
    """``nasfast experiment`` runs [preset.default]: every arm but the GCN ones, each predictor
    arm with PredictorSearch's own defaults; [preset.predictor-choice] runs the same candidate
    sets with the forest and with the GCN, compared in pairs."""
    config = ExperimentConfig.default()
    assert config == ExperimentConfig.default(preset="default")
    assert all("predictor" not in a.params for a in config.arms)  # the default predictor search
    choice = ExperimentConfig.default(preset="predictor-choice")
    gcn = {a.name for a in choice.arms if a.params.get("predictor", {}).get("type") == "GCNRegressor"}
    assert gcn == {"predictor-full-gcn", "predictor-random-1000-refresh-gcn"}
    assert not gcn & {a.name for a in config.arms}
    section = next(s for s in choice.sections if s.name == "predictor-choice")
    assert section.pairs == (("predictor-full", "predictor-full-gcn"),
                             ("predictor-random-1000-refresh", "predictor-random-1000-refresh-gcn"))
    # a section whose every pair lost an arm is not shown
    assert all(s.name != "predictor-choice" for s in config.sections)


def test_a_study_without_a_default_preset_runs_every_arm(tmp_path: Path) -> None:
    study = tmp_path / "study.toml"
    study.write_text(PRESETS)
    assert ExperimentConfig.from_toml(study).arms == ExperimentConfig.from_toml(study, preset=None).arms
    assert len(ExperimentConfig.from_toml(study).arms) == PRESETS.count("[[arm]]")
    study.write_text(PRESETS + '\n[preset.default]\narms = ["predictor-full"]\n')
    assert [a.name for a in ExperimentConfig.from_toml(study).arms] == ["predictor-full"]


def test_a_study_arm_may_use_nasfast_predictors() -> None:
    from nasfast import SearchSpace
    from nasfast.experiment.worker import build_searcher, default_components
    from nasfast.predictors import GCNRegressor

    arm = Arm("gcn", "PredictorSearch", {"predictor": {"type": "GCNRegressor", "epochs": 5}, "candidates": {"type": "FullSpace"}})
    s = build_searcher(arm, SearchSpace(5, 9, ["a", "b"]), 0, None, default_components())
    assert isinstance(s.predictor, GCNRegressor) and s.predictor.epochs == 5 and s.encoding_ == "adjacency"
    with pytest.raises(ValueError, match="epoch"):
        Arm("gcn", "PredictorSearch", {"predictor": {"type": "GCNRegressor", "epoch": 5}})


# ---------------------------------------------------------------------------------------------
# Presets

PRESETS = TOY_STUDY + """
[preset.small]
seeds = 3
budget = 12
targets = ["top-3"]
headline_target = "top-3"
arms = ["predictor-random-10", "predictor-full"]

[preset.full]
seeds = 9

[[section]]
name = "all-predictors"
arms = ["predictor-full", "predictor-random-10", "predictor-neighbourhood"]
pairs = [["predictor-full", "predictor-neighbourhood"]]
"""


def test_presets_override_values_and_select_arms(tmp_path: Path) -> None:
    study = tmp_path / "study.toml"
    study.write_text(PRESETS)
    base = ExperimentConfig.from_toml(study)
    small = ExperimentConfig.from_toml(study, preset="small")
    assert (small.seeds, small.budget, small.targets, small.headline_target) == (3, 12, ("top-3",), "top-3")
    assert [a.name for a in small.arms] == ["predictor-random-10", "predictor-full"]
    assert small.arms[1] == base.arms[1] and small.n_boot == base.n_boot and small.seed == base.seed
    # the claim and the sections keep the selected arms
    assert small.claim == Claim("predictor-full", ("predictor-random-10",), ())
    assert small.sections == (Section("all-predictors", "all-predictors", ("predictor-full", "predictor-random-10")),)
    assert ExperimentConfig.from_toml(study, preset="full").seeds == 9
    assert ExperimentConfig.from_toml(study, quick=True) == ExperimentConfig.from_toml(study, preset="quick")
    quick = ExperimentConfig.from_toml(study, quick=True)
    assert quick.claim is None and quick.sections == ()  # its only arm is random-uniform
    exp = Experiment.from_toml(study, preset="small", out=tmp_path / "o", seeds=4)
    assert exp.config == small.with_overrides(seeds=4) and len(exp.tasks()) == 2 * 2 * 4
    # the applied study is what experiment.json holds: it reads back without its presets
    assert ExperimentConfig.from_dict(json.loads(json.dumps(small.to_dict()))) == small
    assert ExperimentConfig.from_dict(json.loads(json.dumps(base.to_dict()))) == base


@pytest.mark.parametrize(
    "edit, kwargs, message",
    [
        (None, dict(preset="large"), "no preset 'large'; the study defines ['full', 'quick', 'small']"),
        (None, dict(preset="full", quick=True), "quick=True and preset='full' contradict each other"),
        (("[preset.full]\nseeds = 9", "[preset.full]\nseeds = 0"), {}, "[preset.full]: seeds must be an integer >= 1, got 0"),
        (("[preset.full]\nseeds = 9", "[preset.full]\nsedes = 9"), {}, "[preset.full]: unknown keys ['sedes']"),
        (("[preset.full]\nseeds = 9", '[preset.full]\narms = ["nope"]'), {}, "[preset.full]: unknown arms ['nope']"),
        (("[preset.full]\nseeds = 9", '[preset.full]\ntargets = ["top-1%"]'), {},
         "[preset.full]: headline_target 'top-5%' is not one of the targets ['top-1%']"),
        (("[preset.quick]", "[quick]"), {}, "the [quick] table is now [preset.quick]"),
    ],
    ids=["unknown preset", "quick and another", "bad value", "bad key", "unknown arm", "bad targets", "old [quick]"],
)
def test_preset_errors_name_the_preset_and_the_value(tmp_path: Path, edit: Optional[tuple[str, str]], kwargs: dict[str, Any],
                                                     message: str) -> None:
    study = tmp_path / "study.toml"
    study.write_text(PRESETS.replace(*edit) if edit else PRESETS)
    with pytest.raises(ValueError, match=re.escape(message)):
        ExperimentConfig.from_toml(study, **kwargs)  # every preset is checked, not only the one applied


def test_cli_quick_full_and_preset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="nasfast")
    experiment_cli.add_subparsers(parser.add_subparsers(dest="command"))
    for flags, preset in ((["--quick"], "quick"), (["--full"], "full"), (["--preset", "small"], "small"), ([], None)):
        args = parser.parse_args(["experiment", *flags])
        assert ("quick" if args.quick else "full" if args.full else args.preset) == preset
    with pytest.raises(SystemExit):
        parser.parse_args(["experiment", "--quick", "--full"])
    capsys.readouterr()

    study = tmp_path / "study.toml"
    study.write_text(PRESETS.replace("[preset.full]\nseeds = 9", "[preset.full]\nseeds = 2\nbudget = 10"))
    from_toml = Experiment.from_toml

    def toy_from_toml(path: Any, **kw: Any) -> Experiment:
        return from_toml(path, **{**kw, "load_benchmark": load_toy, "components": TOY_COMPONENTS})

    monkeypatch.setattr(experiment_cli.Experiment, "from_toml", staticmethod(toy_from_toml))
    out = tmp_path / "out"
    args = parser.parse_args(["experiment", "--config", str(study), "--full", "--benchmark", "toy", "--out", str(out),
                              "--jobs", "1", "--no-progress"])
    assert args.func(args) == 0
    captured = capsys.readouterr()
    assert "nasfast experiment (preset full): 8 runs (toy; 4 arms; 2 seeds; budget 10)" in captured.err
    assert "all-predictors: share SEG_arm / SEG_reference, target top-5%" in captured.out
    assert "predictor-full -> predictor-neighbourhood" in captured.out
    assert "Verdicts on the claim" in captured.out and "no verdict (2 runs, 10 needed)" in captured.out
    loaded = ExperimentResults.load(out)
    assert loaded.config.seeds == 2 and loaded.config.sections[0].pairs == (("predictor-full", "predictor-neighbourhood"),)


# ---------------------------------------------------------------------------------------------
# Sections


def test_sections_group_the_arms_and_compare_their_pairs() -> None:
    sections = (
        Section("fulls", "Two full-space arms", ("full-b", "full-a", "sub"), (("full-a", "full-b"), ("full-a", "sub"))),
        Section("pairs-only", pairs=(("full-b", "smart"),)),
    )
    config = synthetic_config(sections=sections, claim=Claim("full-b", (), ("smart",)))
    records = synthetic_records()
    results = ExperimentResults(config, records)
    assert sections[1].arms == ("full-b", "smart") and sections[1].title == "pairs-only"
    rows = results.comparisons()
    assert [(v["section"], v["reference"], v["arm"]) for v in rows] == [
        ("fulls", "full-a", "full-b"), ("fulls", "full-a", "sub"), ("pairs-only", "full-b", "smart")]
    for v in rows:
        h, s = hits_of(records, "b", v["arm"], "optimum")
        ref_h, ref_s = hits_of(records, "b", v["reference"], "optimum")
        assert v["share"] == pytest.approx(slow_ert(ref_h, ref_s) / slow_ert(h, s))
        assert (v["hits"], v["reference_hits"]) == (f"{sum(x is not None for x in h)}/20", f"{sum(x is not None for x in ref_h)}/20")
    assert rows[0]["share"] == pytest.approx(30 / 10)  # full-b hits after 10 samples on average, full-a after 30
    # a pair that is also part of the claim gets the claim's interval
    verdict = next(v for v in results.verdicts() if v["arm"] == "smart")
    assert (rows[2]["share"], rows[2]["share_low"], rows[2]["share_high"]) == (
        verdict["share"], verdict["share_low"], verdict["share_high"])
    # tables: a section's arms in its order; the report shows every section, then the other arms
    assert [line.split()[0] for line in results.table(section="fulls").splitlines()[3:]] == ["full-b", "full-a", "sub"]
    text = results.report_markdown(Path("."))
    for needle in ("### Two full-space arms", "### pairs-only", "| full-a -> full-b | 3.00 [", "| full-b -> smart | ",
                   "### Other arms", "| sub-unclaimed | "):
        assert needle in text, needle
    assert text.index("### Two full-space arms") < text.index("### pairs-only") < text.index("### Other arms")
    with pytest.raises(KeyError, match="no section 'nope'"):
        results.table(section="nope")


@pytest.mark.parametrize(
    "section, message",
    [
        ('name = "s"\narms = ["predictor-full", "nope"]', "section 's' names ['nope'], which are not arms of the study"),
        ('name = "s"\narms = ["predictor-full"]\npairs = [["predictor-full", "random-uniform"]]',
         "section 's': the pairs name ['random-uniform'], which are not among its arms ['predictor-full']"),
        ('name = "s"\npairs = [["predictor-full", "predictor-full"]]', "pair ['predictor-full', 'predictor-full'] compares an arm with itself"),
        ('name = "s"\npairs = [["predictor-full"]]', "a pair must be two arm names [reference, arm], got ['predictor-full']"),
        ('name = "s"', "section 's': needs arms or pairs"),
        ('name = "s"\narms = ["predictor-full"]\ncolour = "red"', "unknown keys in [[section]] 's': ['colour']"),
        ('name = "a b"\narms = ["predictor-full"]', "section name 'a b' is not allowed"),
        ('arms = ["predictor-full"]', "a [[section]] needs a name"),
        ('name = "s"\narms = ["random-uniform"]\n\n[[section]]\nname = "s"\narms = ["predictor-full"]',
         "section names must be unique, repeated: ['s']"),
    ],
    ids=["unknown arm", "pair outside", "self pair", "one arm pair", "empty", "unknown key", "bad name", "no name", "twice"],
)
def test_a_bad_section_is_refused(section: str, message: str, tmp_path: Path) -> None:
    study = tmp_path / "study.toml"
    study.write_text(TOY_STUDY + f"\n[[section]]\n{section}\n")
    with pytest.raises(ValueError, match=re.escape(message)):
        ExperimentConfig.from_toml(study)


def test_claim_and_sections_follow_an_arm_selection(tmp_path: Path) -> None:
    study = tmp_path / "study.toml"
    study.write_text(PRESETS)
    c = ExperimentConfig.from_toml(study)
    assert c.with_overrides(arms=["random-uniform", "predictor-random-10"]).claim is None  # no reference left
    kept = c.with_overrides(arms=["predictor-neighbourhood", "predictor-full"])
    assert kept.claim == Claim("predictor-full", (), ("predictor-neighbourhood",))
    assert kept.sections[0].pairs == (("predictor-full", "predictor-neighbourhood"),)
    assert c.with_overrides(arms=["random-uniform"]).sections == ()
    # an arm given anew under a claimed name is checked against its role
    with pytest.raises(ValueError, match="claim: full_space names 'predictor-full', a RandomSearch arm"):
        c.with_overrides(arms=[{"name": "predictor-full", "searcher": "RandomSearch"}])
