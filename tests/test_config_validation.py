"""Study configs: every key is checked for its name, type and range before any run starts.

Each mistake must be a ``ValueError`` naming the key and the bad value (so ``nasfast experiment``
prints one line instead of a traceback), never a silent reinterpretation (``"no"`` read as true,
a string read as a list of letters). Besides the reported cases, every key of ``[experiment]``
gets a value of every wrong TOML type, and every argument of every searcher and candidate set
(taken from the constructors' signatures) gets a value of a wrong type.
"""

from __future__ import annotations

import copy
import inspect
import typing
from pathlib import Path
from typing import Any, Callable

import pytest

from nasfast import cli
from nasfast.experiment import Arm, ExperimentConfig
from nasfast.experiment.config import CANDIDATE_SETS, SEARCHERS

STUDY = """
[experiment]
benchmarks = ["nb101-real20k"]
seeds = 3
budget = 20
targets = ["optimum", "top-1%"]
headline_target = "top-1%"
stop_at_optimum = true
n_boot = 100
confidence = 0.9

[preset.quick]
seeds = 2
arms = ["random"]

[[arm]]
name = "random"
searcher = "RandomSearch"
method = "uniform"

[[arm]]
name = "evolution"
searcher = "RegularizedEvolution"
population = 20
sample_size = 5
dedupe = true

[[arm]]
name = "predictor"
searcher = "PredictorSearch"
n_initial = 5
predictor = { type = "ForestRegressor", n_estimators = 10, bootstrap = true }
candidates = { type = "RandomSubset", size = 100, refresh = false }
"""


@pytest.fixture
def study() -> dict[str, Any]:
    from nasfast.experiment.config import _read_toml_text

    return _read_toml_text(STUDY, "study.toml")


def test_the_study_itself_is_valid(study: dict[str, Any]) -> None:
    c = ExperimentConfig.from_dict(study)
    assert c.benchmarks == ("nb101-real20k",) and c.stop_at_optimum is True and c.confidence == 0.9
    assert [s.name for s in ExperimentConfig.from_dict(study, quick=True).arms] == ["random"]


REPORTED: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("benchmarks = 5", lambda d: d["experiment"].update(benchmarks=5), "benchmarks must be a list of strings, got 5"),
    ("benchmarks a string", lambda d: d["experiment"].update(benchmarks="nb101-real20k"),
     "benchmarks must be a list of strings, got 'nb101-real20k'"),
    ('confidence = "high"', lambda d: d["experiment"].update(confidence="high"), "confidence must be a number in \\(0, 1\\), got 'high'"),
    ('stop_at_optimum = "no"', lambda d: d["experiment"].update(stop_at_optimum="no"), "stop_at_optimum must be true or false, got 'no'"),
]

SYSTEMATIC: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("targets a string", lambda d: d["experiment"].update(targets="top-1%"), "targets must be a list of strings, got 'top-1%'"),
    ("targets twice", lambda d: d["experiment"].update(targets=["top-1%", "top-1%"]), "targets listed twice"),
    ("confidence 1", lambda d: d["experiment"].update(confidence=1), "confidence must be a number in \\(0, 1\\), got 1"),
    ("confidence nan", lambda d: d["experiment"].update(confidence=float("nan")), "confidence must be a number in \\(0, 1\\), got nan"),
    ("metric a number", lambda d: d["experiment"].update(metric=3), "metric must be the name of a benchmark metric, got 3"),
    ("seed negative", lambda d: d["experiment"].update(seed=-1), "seed must be an integer >= 0, got -1"),
    ("n_boot a float", lambda d: d["experiment"].update(n_boot=100.0), "n_boot must be an integer >= 1, got 100.0"),
    ("experiment not a table", lambda d: d.update(experiment=[1]), "\\[experiment\\] must be a table, got \\[1\\]"),
    ("arm not a list", lambda d: d.update(arm=5), "'arm' must be a list of \\[\\[arm\\]\\] tables, got 5"),
    ("arm an int", lambda d: d["arm"].append(3), "an arm must be a table, got 3"),
    ("defaults not a table", lambda d: d.update(defaults=5), "\\[defaults\\] must be a table, got 5"),
    ("preset not a table", lambda d: d["preset"].update(quick="yes"), "presets must be tables \\[preset.<name>\\], got {.quick.: .yes.}"),
    ("dedupe a string", lambda d: d["arm"][1].update(dedupe="no"), "arm 'evolution': dedupe = 'no' is not a boolean"),
    ("population 0", lambda d: d["arm"][1].update(population=0), "arm 'evolution': population = 0"),
    ("sample_size too large", lambda d: d["arm"][1].update(sample_size=30), "sample_size = 30 exceeds population = 20"),
    ("preset unknown", lambda d: d["arm"][1].update(preset="darwin"), "preset = 'darwin'"),
    ("misspelt key", lambda d: d["arm"][1].update(populaton=20), "unknown key \\['populaton'\\] for RegularizedEvolution .*; did you mean 'population'\\?$"),
    ("experiment key misspelt", lambda d: d["experiment"].update(budjet=10),
     "unknown keys in \\[experiment\\]: \\['budjet'\\] .*; did you mean 'budget'\\?$"),
    ("method unknown", lambda d: d["arm"][0].update(method="sobol"), "method = 'sobol'"),
    ("n_initial a string", lambda d: d["arm"][2].update(n_initial="5"), "n_initial = '5' is not an integer"),
    ("kappa a string", lambda d: d["arm"][2].update(kappa="1"), "kappa = '1' is not a number"),
    ("encoding unknown", lambda d: d["arm"][2].update(encoding="paths"), "encoding = 'paths'"),
    ("refresh a string", lambda d: d["arm"][2]["candidates"].update(refresh="yes"), "RandomSubset: refresh = 'yes' is not a boolean"),
    ("size 0", lambda d: d["arm"][2]["candidates"].update(size=0), "size = 0"),
    ("candidate key misspelt", lambda d: d["arm"][2]["candidates"].update(sise=3), "unknown key \\['sise'\\] for RandomSubset .*; did you mean 'size'\\?$"),
    ("union extra key", lambda d: d["arm"][2].update(candidates={"type": "Union", "sets": [{"type": "RandomSubset"}, {"type": "Neighbourhood"}], "size": 3}),
     "candidates Union: a Combined candidate set takes the key 'sets' only, got \\['sets', 'size'\\]"),
    ("union of one", lambda d: d["arm"][2].update(candidates={"type": "Combined", "sets": [{"type": "RandomSubset"}]}),
     "candidates Combined: Combined needs at least two candidate sets, got 1"),
    ("union sets not a list", lambda d: d["arm"][2].update(candidates={"type": "Combined", "sets": {"type": "RandomSubset"}}),
     "a Combined candidate set needs a non-empty list 'sets', got {'type': 'RandomSubset'}"),
    ("union part misspelt", lambda d: d["arm"][2].update(candidates={"type": "Combined", "sets": [{"type": "RandomSubset", "sise": 3}, {"type": "FullSpace"}]}),
     "unknown key \\['sise'\\] for RandomSubset"),
    ("candidate set unknown", lambda d: d["arm"][2].update(candidates={"type": "Neighborhood"}),
     "arm 'predictor', candidates: unknown candidate set 'Neighborhood', expected one of \\['Combined', 'Evolution', 'FullSpace', 'Neighbourhood', 'RandomSubset'.*\\]; did you mean 'Neighbourhood'\\?$"),
    ("searcher unknown", lambda d: d["arm"][0].update(searcher="RandomSerch"),
     "arm 'random': unknown searcher 'RandomSerch', expected one of \\['LocalSearch', 'PredictorSearch', 'RandomSearch', 'RegularizedEvolution'.*\\]; did you mean 'RandomSearch'\\?$"),
    ("predictor key misspelt", lambda d: d["arm"][2]["predictor"].update(n_estimator=3), "unknown key \\['n_estimator'\\] for ForestRegressor"),
    ("predictor bool a string", lambda d: d["arm"][2]["predictor"].update(bootstrap="no"), "bootstrap = 'no' is not a boolean"),
    ("sklearn predictor range", lambda d: d["arm"][2].update(predictor={"type": "RandomForestRegressor", "n_estimators": -3}),
     "predictor RandomForestRegressor: .*n_estimators.*-3"),
    ("params set by the study", lambda d: d["arm"][0].update(n_jobs=2), "'n_jobs' is set by the experiment"),
]


@pytest.mark.parametrize("edit, message", [(e, m) for _, e, m in REPORTED + SYSTEMATIC], ids=[i for i, _, _ in REPORTED + SYSTEMATIC])
def test_config_mistakes_are_errors_naming_the_value(study: dict[str, Any], edit: Any, message: str) -> None:
    edit(study)
    with pytest.raises(ValueError, match=message):
        ExperimentConfig.from_dict(study)


#: One value of every TOML type (a date is a TOML type too).
TOML_VALUES: list[Any] = ["text", 3, 0.5, True, ["a", "b"], {"a": 1}, __import__("datetime").date(2026, 1, 1)]
#: The TOML types each [experiment] key accepts (a value of the right type may still be out of range).
EXPERIMENT_TYPES = {
    "benchmarks": (list,), "seeds": (int,), "budget": (int,), "seed": (int,), "targets": (list,),
    "headline_target": (str,), "metric": (str,), "stop_at_optimum": (bool,), "n_boot": (int,), "confidence": (float,),
}


def test_every_experiment_key_refuses_every_wrong_type(study: dict[str, Any]) -> None:
    from nasfast.experiment.config import _NOT_IN_EXPERIMENT_TABLE

    fields = {f for f in inspect.signature(ExperimentConfig).parameters} - set(_NOT_IN_EXPERIMENT_TABLE)
    assert fields == set(EXPERIMENT_TYPES), "a new [experiment] key: say which TOML types it accepts"
    for key, types in EXPERIMENT_TYPES.items():
        for value in TOML_VALUES:
            right = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
            if right:
                continue
            d = copy.deepcopy(study)
            d["experiment"][key] = value
            with pytest.raises(ValueError) as info:
                ExperimentConfig.from_dict(d)
            assert key in str(info.value) and repr(value) in str(info.value), (key, value, str(info.value))


def _wrong_values(hint: Any) -> list[Any]:
    """TOML values that do not fit a constructor annotation."""
    if typing.get_origin(hint) is typing.Union:
        arms = [a for a in typing.get_args(hint) if a is not type(None)]
        return [v for v in TOML_VALUES if not any(_wrong_fits(v, a) for a in arms)]
    return [v for v in TOML_VALUES if not _wrong_fits(v, hint)]


def _wrong_fits(value: Any, hint: Any) -> bool:
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, hint) if isinstance(hint, type) else True


@pytest.mark.parametrize("kind, name", [("searcher", s) for s in SEARCHERS] + [("candidates", c) for c in CANDIDATE_SETS if c not in ("FullSpace", "Combined")])
def test_every_argument_refuses_a_wrong_type(kind: str, name: str) -> None:
    import nasfast.search as search

    cls = getattr(search, name)
    hints = typing.get_type_hints(cls.__init__)
    skip = {"space", "random_state", "universe", "n_jobs", "candidates", "predictor", "return"}
    checked = 0
    for arg, hint in hints.items():
        if arg in skip:
            continue
        for value in _wrong_values(hint):
            params: dict[str, Any]
            if kind == "searcher":
                params = {arg: value}
                arm = ("s", name)
            else:
                params = {"candidates": {"type": name, arg: value}}
                arm = ("s", "PredictorSearch")
            with pytest.raises(ValueError, match=f"{arg} = {value!r}".replace("[", "\\[").replace("(", "\\(").replace(")", "\\)")):
                Arm(*arm, params)
            checked += 1
    assert checked >= 5 or name == "LocalSearch", (name, checked)


def test_cli_reports_a_bad_study_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(STUDY.replace('stop_at_optimum = true', 'stop_at_optimum = "no"'))
    assert cli.main(["experiment", "--config", str(path), "--out", str(tmp_path / "out"), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("nasfast: error: ") and "stop_at_optimum must be true or false, got 'no'" in err
    assert str(path) in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # refused before anything was written
