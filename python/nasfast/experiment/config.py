"""Configuration of a sample-efficiency study: benchmarks, arms, seeds, budget, targets, the
claim's arms, the report's sections and presets.

A study is described by a TOML file (the default study is ``example.toml`` beside this module)::

    [experiment]
    benchmarks = ["nb101-surrogate", "nb101-real20k"]
    seeds = 20                 # runs per benchmark and arm
    budget = 150               # samples per run
    seed = 0                   # base seed of every run seed and bootstrap
    targets = ["optimum", "top-10", "top-0.1%", "top-1%"]
    headline_target = "top-0.1%"

    [defaults.PredictorSearch] # arguments of every PredictorSearch arm
    predictor = { type = "RandomForestRegressor", n_estimators = 20 }

    [[arm]]
    name = "predictor-full"    # letters, digits, '.', '_' and '-'
    searcher = "PredictorSearch"
    candidates = { type = "FullSpace" }

    [[arm]]
    name = "predictor-random-1000"
    searcher = "PredictorSearch"
    candidates = { type = "RandomSubset", size = 1000 }

    [claim]                    # optional: the arms that test the claim (see Claim)
    full_space = "predictor-full"
    random_subsets = ["predictor-random-1000"]

    [[section]]                # optional: how the report groups the arms (see Section)
    name = "candidate-sets"
    pairs = [["predictor-full", "predictor-random-1000"]]

    [preset.quick]             # optional: `--quick` (see apply_preset)
    seeds = 5
    arms = ["predictor-full"]

An *arm* is one named entry of a study: a searcher with its arguments, run ``seeds`` times on
every benchmark (the word of clinical trials for one treatment of a study). Study files of
earlier versions called arms ``[[strategy]]``; that name is refused with a message naming
``[[arm]]``, because the search once called its candidate sets "strategies" (which cells the
predictor scores: ``FullSpace``, ``RandomSubset``, ...), and one word must not mean both.
Likewise the ``[quick]`` table of earlier versions is refused with a message naming
``[preset.quick]``.

An ``[[arm]]`` table is a searcher's configuration in the schema of
:mod:`nasfast.search.registry` (the one a search journal records), with the searcher's
registered name under ``searcher`` instead of ``type``: every key other than ``name`` and
``searcher`` is an argument of the searcher's constructor; a ``candidates`` table is a candidate
set's configuration (``{ type = "RandomSubset", size = 1000 }``; ``Combined``, earlier ``Union``,
takes a list ``sets`` of such tables); a ``predictor`` table is built into a scikit-learn
regressor (one of :data:`PREDICTORS`), e.g. ``predictor = { type = "RandomForestRegressor",
n_estimators = 30 }``. Searchers and candidate sets are looked up in the registry of
:mod:`nasfast.search`: the built-in ones, and classes of your own registered with
``register_searcher`` or ``register_candidates`` before the study is read.

Everything is checked when the study is read, before any run starts: unknown keys (in every
table, including the arguments of searchers, candidate sets and predictors), the type of every
value (a list where a list is expected, ``true``/``false`` where a boolean is, a number where a
number is: ``stop_at_optimum = "no"`` or ``benchmarks = "nb101-real20k"`` are errors, not
``True`` or a list of letters) and its range; each arm's searcher is built once on a tiny
space so that its own checks run too. Every error is a ``ValueError`` naming the key and the
value.
"""

from __future__ import annotations

import hashlib
import importlib
import math
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any, Optional, Union

from nasfast.metrics import parse_target

__all__ = ["Arm", "ExperimentConfig", "Claim", "Section", "apply_preset", "load_toml", "derive_seed", "SEARCHERS", "CANDIDATE_SETS",
           "PREDICTORS", "CLAIM_ROLES"]

#: The built-in searchers of :mod:`nasfast.search` (an arm may name any registered searcher).
SEARCHERS = ("PredictorSearch", "RandomSearch", "RegularizedEvolution", "LocalSearch")
#: The built-in candidate sets of :mod:`nasfast.search` (a ``candidates`` table may name any
#: registered candidate set; ``Union`` reads as ``Combined``).
CANDIDATE_SETS = ("FullSpace", "RandomSubset", "Neighbourhood", "Evolution", "Combined")

#: Regressors a ``predictor`` table may name (nasfast's predictors and scikit-learn's), with their modules.
PREDICTORS = {
    "ForestRegressor": "nasfast.predictors",
    "GBMRegressor": "nasfast.predictors",
    "GPRegressor": "nasfast.predictors",
    "MLPEnsembleRegressor": "nasfast.predictors",
    "GCNRegressor": "nasfast.predictors",
    "RandomForestRegressor": "sklearn.ensemble",
    "ExtraTreesRegressor": "sklearn.ensemble",
    "GradientBoostingRegressor": "sklearn.ensemble",
    "MLPRegressor": "sklearn.neural_network",
    "GaussianProcessRegressor": "sklearn.gaussian_process",
}

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_EXAMPLE = "example.toml"


def derive_seed(*parts: Any) -> int:
    """A 32-bit seed derived from its parts only (the same on every platform and process).

    Returns the first 4 bytes (big-endian) of the SHA-256 of the parts joined by ``/``, e.g.
    ``derive_seed(0, "nb101-real20k", "predictor-full", 3)`` for run 3 of an arm.
    """
    text = "/".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:4], "big")


def _read_toml_text(text: str, source: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on older Pythons only
        try:
            import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]
        except ImportError as exc:
            raise ImportError(
                "reading TOML files on Python < 3.11 needs the 'tomli' package (pip install tomli)"
            ) from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{source}: invalid TOML: {exc}") from exc


def load_toml(path: Union[str, Path]) -> dict[str, Any]:
    """Read a TOML file into a dictionary.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    dict

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If it is not valid TOML.
    """
    p = Path(path)
    return _read_toml_text(p.read_text(encoding="utf-8"), str(p))


def _check_name(kind: str, name: Any) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(
            f"{kind} name {name!r} is not allowed: use letters, digits, '.', '_' and '-' only"
        )
    return name


def _table(where: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{where} must be a table, got {value!r}")
    return value


def _names(key: str, value: Any) -> tuple[str, ...]:
    """A list of strings (a single string is refused: it is not a list of its letters)."""
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{key} must be a list of strings, got {value!r}")
    return tuple(value)


def _registry() -> Any:
    """:mod:`nasfast.search.registry` (imported on first use: it imports the search layer)."""
    return importlib.import_module("nasfast.search.registry")


def _check_kwargs(
    where: str, cls: Any, kwargs: Mapping[str, Any], fixed: Sequence[str] = (), separate: Sequence[str] = ()
) -> None:
    """Names and types of ``kwargs`` against the constructor of ``cls``
    (:func:`nasfast.search.registry.check_arguments`); ``fixed`` arguments are set by the study
    (not allowed here), ``separate`` ones are checked by the caller."""
    try:
        _registry().check_arguments(cls, kwargs, fixed, separate)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


def _searcher_class(name: Any, where: str) -> Any:
    try:
        return _registry().searcher_class(name)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


def _check_candidates(spec: Any, where: str) -> None:
    """A ``candidates`` table: built with :func:`nasfast.search.registry.candidates_from_config`,
    which checks the type, every key and value, and the constructor's own checks."""
    _registry().candidates_from_config(spec, f"{where}, candidates")


def _check_predictor(spec: Any, where: str) -> None:
    if not isinstance(spec, Mapping) or spec.get("type") not in PREDICTORS:
        raise ValueError(
            f"{where}: 'predictor' must be a table whose 'type' is one of {sorted(PREDICTORS)}, got {spec!r}"
        )
    cls = getattr(importlib.import_module(PREDICTORS[spec["type"]]), spec["type"])
    args = {k: v for k, v in spec.items() if k != "type"}
    where = f"{where}, predictor {spec['type']}"
    _check_kwargs(where, cls, args)
    try:
        estimator = cls(**args)
        if hasattr(estimator, "_parameter_constraints"):  # scikit-learn >= 1.2 checks its own
            estimator._validate_params()
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{where}: {exc}") from None


#: Searcher arguments the study sets itself (an arm may not): the context of a run,
#: ``nasfast.search.registry.CONTEXT_ARGUMENTS``.
_FIXED = ("space", "random_state", "universe", "n_jobs")
#: The space every arm's searcher is built on once, to run its constructor's checks.
_TRIAL_SPACE = (4, 5, ("a", "b"))


@dataclass(frozen=True)
class Arm:
    """One arm of a study: a named searcher configuration, run ``seeds`` times per benchmark.

    Attributes
    ----------
    name : str
        Identifier used in file names, tables and plots.
    searcher : str
        Registered name of a searcher (:mod:`nasfast.search.registry`; the built-in ones are
        :data:`SEARCHERS`).
    params : dict
        Keyword arguments of the searcher (``candidates`` given as a table, see the module doc).
    """

    name: str
    searcher: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_name("arm", self.name)
        where = f"arm {self.name!r}"
        cls = _searcher_class(self.searcher, where)
        _table(f"{where}: the parameters", self.params)
        for reserved in _FIXED:
            if reserved in self.params:
                raise ValueError(f"{where}: {reserved!r} is set by the experiment, not the config")
        takes = _registry().constructor_arguments(cls)
        for key in ("candidates", "predictor"):
            if key in self.params and key not in takes:
                raise ValueError(
                    f"{where}: {self.searcher} takes no {key!r} (of the built-in searchers, only PredictorSearch takes {key!r})"
                )
        if "candidates" in self.params:
            _check_candidates(self.params["candidates"], where)
        if "predictor" in self.params:
            _check_predictor(self.params["predictor"], where)
        _check_kwargs(where, cls, self.params, fixed=_FIXED, separate=("candidates", "predictor"))
        self._trial_build()

    def _trial_build(self) -> None:
        """Builds the searcher once on a tiny space, so that its constructor checks the values
        (ranges, choices) before any run starts."""
        from nasfast import SearchSpace
        from nasfast.experiment.worker import build_searcher, default_components

        v, e, ops = _TRIAL_SPACE
        try:
            build_searcher(self, SearchSpace(v, e, list(ops)), 0, None, default_components())
        except (ValueError, TypeError) as exc:
            raise ValueError(f"arm {self.name!r}: {exc}") from None

    @classmethod
    def from_dict(cls, table: Mapping[str, Any]) -> Arm:
        """Build from a ``[[arm]]`` table (``name``, ``searcher`` and searcher arguments)."""
        if not isinstance(table, Mapping):
            raise ValueError(f"an arm must be a table, got {table!r}")
        missing = [k for k in ("name", "searcher") if k not in table]
        if missing:
            raise ValueError(f"arm {dict(table)!r} lacks {missing}")
        params = {k: v for k, v in table.items() if k not in ("name", "searcher")}
        return cls(name=table["name"], searcher=table["searcher"], params=params)

    def to_dict(self) -> dict[str, Any]:
        """The ``[[arm]]`` table of this arm."""
        return {"name": self.name, "searcher": self.searcher, **dict(self.params)}

    @property
    def candidates_type(self) -> Optional[str]:
        """Registered name of the candidate set of a ``PredictorSearch`` arm (``FullSpace`` by
        default; ``Union`` reads as ``Combined``)."""
        if self.searcher != "PredictorSearch":
            return None
        cand = self.params.get("candidates")
        return "FullSpace" if cand is None else str(_registry().canonical_candidates_name(cand["type"]))


@dataclass(frozen=True)
class ExperimentConfig:
    """Everything that defines a study's numbers (not where or how fast it runs).

    Attributes
    ----------
    benchmarks : tuple of str
        Names accepted by ``nasfast.benchmarks.load``.
    arms : tuple of Arm
    seeds : int
        Independent runs per benchmark and arm.
    budget : int
        Samples (true evaluations) per run.
    seed : int
        Base seed; each run's seed is derived from ``(seed, benchmark, arm, run)``.
    targets : tuple of str
        Target names (see :func:`nasfast.metrics.parse_target`).
    headline_target : str
        The target of the verdicts shown first in the report.
    metric : str or None
        Benchmark metric; None uses each benchmark's default metric.
    stop_at_optimum : bool
        End a run once it evaluates a global optimum (its regret is then 0 and every target is
        hit, so no number changes; it only saves time).
    n_boot : int
        Bootstrap resamples of every confidence interval.
    confidence : float
        Level of every confidence interval.
    claim : Claim or None
        The arms that test the claim (``[claim]``); None: generic results only, no verdicts.
    sections : tuple of Section
        Named groups of arms shown together in the report (``[[section]]``), optionally with
        paired comparisons.
    """

    benchmarks: tuple[str, ...]
    arms: tuple[Arm, ...]
    seeds: int = 20
    budget: int = 150
    seed: int = 0
    targets: tuple[str, ...] = ("optimum", "top-10", "top-0.1%", "top-1%")
    headline_target: str = "top-0.1%"
    metric: Optional[str] = None
    stop_at_optimum: bool = True
    n_boot: int = 2000
    confidence: float = 0.95
    claim: Optional[Claim] = None
    sections: tuple[Section, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "benchmarks", _names("benchmarks", self.benchmarks))
        object.__setattr__(self, "targets", _names("targets", self.targets))
        if not isinstance(self.arms, (list, tuple)) or not all(isinstance(s, Arm) for s in self.arms):
            raise ValueError(f"arms must be a list of Arm objects, got {self.arms!r}")
        object.__setattr__(self, "arms", tuple(self.arms))
        if not self.benchmarks:
            raise ValueError("a study needs at least one benchmark")
        for b in self.benchmarks:
            _check_name("benchmark", b)
        if len(set(self.benchmarks)) != len(self.benchmarks):
            raise ValueError(f"benchmarks listed twice: {list(self.benchmarks)}")
        if not self.arms:
            raise ValueError("a study needs at least one arm")
        names = [s.name for s in self.arms]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"arm names must be unique, repeated: {dupes}")
        for key in ("seeds", "budget", "n_boot"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{key} must be an integer >= 1, got {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {self.seed!r}")
        if not self.targets:
            raise ValueError("a study needs at least one target")
        for t in self.targets:
            parse_target(t)
        if len(set(self.targets)) != len(self.targets):
            raise ValueError(f"targets listed twice: {list(self.targets)}")
        if not isinstance(self.headline_target, str) or self.headline_target not in self.targets:
            raise ValueError(f"headline_target {self.headline_target!r} is not one of the targets {list(self.targets)}")
        if self.metric is not None and (not isinstance(self.metric, str) or not self.metric):
            raise ValueError(f"metric must be the name of a benchmark metric, got {self.metric!r}")
        if not isinstance(self.stop_at_optimum, bool):
            raise ValueError(f"stop_at_optimum must be true or false, got {self.stop_at_optimum!r}")
        c = self.confidence
        if isinstance(c, bool) or not isinstance(c, (int, float)) or not math.isfinite(c) or not 0.0 < c < 1.0:
            raise ValueError(f"confidence must be a number in (0, 1), got {c!r}")
        _check_claim_and_sections(self)

    # -- construction ----------------------------------------------------------------------------

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], *, quick: bool = False, preset: Optional[str] = None, source: str = "config"
    ) -> ExperimentConfig:
        """Build from the parsed TOML of a study.

        Parameters
        ----------
        data : mapping
            With an ``[experiment]`` table, ``[[arm]]`` tables and optionally
            ``[defaults.<Searcher>]`` tables (arguments given to every arm of that searcher
            unless the arm sets them itself), a ``[claim]`` table, ``[[section]]`` tables and
            ``[preset.<name>]`` tables (see :class:`Claim`, :class:`Section`, :func:`apply_preset`).
        quick : bool, default False
            Apply the ``[preset.quick]`` table (the same as ``preset="quick"``).
        preset : str, optional
            Apply the ``[preset.<preset>]`` table: its values replace those of ``[experiment]``
            and its ``arms`` list selects arms by name. ``None``: the study's
            ``[preset.default]`` if it has one (e.g. arms too slow for the default run, kept for
            a named preset), else every arm as in ``[experiment]``.
        source : str
            Named in error messages.

        Raises
        ------
        ValueError
            On unknown keys, missing tables, invalid values, a claim or section naming an
            unknown arm or an arm of the wrong kind, or an unknown preset. Every preset of the
            file is checked, not only the one applied.
        """
        _table(source, data)
        _refuse_renamed(data, source)
        preset = _preset_name(quick, preset)
        unknown = sorted(set(data) - {"experiment", "arm", "defaults", "claim", "section", "preset"})
        if unknown:
            raise ValueError(f"{source}: unknown top-level keys {unknown}")
        exp = dict(_table(f"{source}: [experiment]", data.get("experiment", {})))
        allowed = {f.name for f in fields(cls)} - set(_NOT_IN_EXPERIMENT_TABLE)
        bad = sorted(set(exp) - allowed)
        if bad:
            hint = _registry().did_you_mean(bad[0], sorted(allowed)) if len(bad) == 1 else ""
            raise ValueError(f"{source}: unknown keys in [experiment]: {bad} (allowed: {sorted(allowed)}){hint}")
        if "arm" not in data:
            raise ValueError(f"{source}: no [[arm]] tables")
        tables = data["arm"]
        if not isinstance(tables, list):
            raise ValueError(f"{source}: 'arm' must be a list of [[arm]] tables, got {tables!r}")
        defaults = _table(f"{source}: [defaults]", data.get("defaults", {}))
        names = _registry().searcher_names()
        bad = sorted(set(defaults) - set(names))
        if bad or not all(isinstance(v, Mapping) for v in defaults.values()):
            raise ValueError(f"{source}: [defaults] must hold one table per searcher in {names}, got {sorted(defaults)}")
        arms = [
            Arm.from_dict({**defaults.get(str(t.get("searcher")), {}), **t}) if isinstance(t, Mapping) else Arm.from_dict(t)
            for t in tables
        ]
        if "metric" in exp and exp["metric"] == "":
            exp["metric"] = None
        try:
            config = cls(arms=tuple(arms), claim=_claim_from_toml(data, source), sections=_sections_from_toml(data, source),
                         **exp)
        except ValueError as exc:
            msg = str(exc)
            raise ValueError(msg if msg.startswith(f"{source}:") else f"{source}: {msg}") from None
        presets = _presets_from_toml(data, source)
        if preset is not None and preset not in presets:
            raise ValueError(f"{source}: no preset {preset!r}; the study defines {sorted(presets)} ([preset.<name>] tables)")
        # every preset is checked, not only the one applied
        applied = {name: apply_preset(config, table, f"{source}: [preset.{name}]") for name, table in presets.items()}
        if preset is None and "default" in applied:
            preset = "default"  # what the study runs when no preset is named
        return config if preset is None else applied[preset]

    @classmethod
    def from_toml(cls, path: Union[str, Path], *, quick: bool = False, preset: Optional[str] = None) -> ExperimentConfig:
        """Read a study from a TOML file (see the module doc for the format and :meth:`from_dict`)."""
        return cls.from_dict(load_toml(path), quick=quick, preset=preset, source=str(path))

    @classmethod
    def default(cls, *, quick: bool = False, preset: Optional[str] = None) -> ExperimentConfig:
        """The default study (``example.toml`` shipped with the package), or one of its presets."""
        text = resources.files("nasfast.experiment").joinpath(_EXAMPLE).read_text(encoding="utf-8")
        return cls.from_dict(_read_toml_text(text, _EXAMPLE), quick=quick, preset=preset, source=_EXAMPLE)

    def with_overrides(
        self,
        *,
        benchmarks: Optional[Sequence[str]] = None,
        arms: Optional[Sequence[Union[str, Arm, Mapping[str, Any]]]] = None,
        **values: Any,
    ) -> ExperimentConfig:
        """A copy with some fields replaced; None values are ignored.

        ``arms`` may mix names of this study's arms, :class:`Arm` objects and
        ``[[arm]]``-style dictionaries. The claim and the sections follow the arms: they keep
        only the arms that remain (see :meth:`Claim.restricted_to`, :meth:`Section.restricted_to`).
        """
        changes = {k: v for k, v in values.items() if v is not None}
        if benchmarks is not None:
            changes["benchmarks"] = tuple(benchmarks)
        if arms is not None:
            changes["arms"] = tuple(self._resolve(s) for s in arms)
            changes.update(_restricted_claim_and_sections(self, [a.name for a in changes["arms"]], changes))
        return replace(self, **changes)

    def _resolve(self, s: Union[str, Arm, Mapping[str, Any]]) -> Arm:
        if isinstance(s, Arm):
            return s
        if isinstance(s, str):
            return _select(list(self.arms), [s], "the study")[0]
        return Arm.from_dict(s)

    def to_dict(self) -> dict[str, Any]:
        """The TOML-shaped dictionary of this study (``metric`` omitted when None; ``claim`` and
        ``section`` when there are none)."""
        exp = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _NOT_IN_EXPERIMENT_TABLE}
        exp["benchmarks"] = list(self.benchmarks)
        exp["targets"] = list(self.targets)
        if exp["metric"] is None:
            del exp["metric"]
        return {"experiment": exp, "arm": [s.to_dict() for s in self.arms], **_claim_and_sections_to_toml(self)}


def _select(arms: list[Arm], names: Sequence[str], source: str) -> list[Arm]:
    by_name = {s.name: s for s in arms}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise ValueError(f"{source}: unknown arms {missing}; known: {list(by_name)}")
    return [by_name[n] for n in names]


#: Top-level keys of earlier study files, and what replaced them.
_RENAMED = {
    "strategy": (
        "[[strategy]] tables are now [[arm]] tables: rename each [[strategy]] to [[arm]] (a study's "
        "named entries are arms)"
    ),
    "quick": (
        "the [quick] table is now [preset.quick] (a study may define several presets), and its "
        "'strategies' list is 'arms'"
    ),
}


def _refuse_renamed(data: Mapping[str, Any], source: str) -> None:
    for key, message in _RENAMED.items():
        if key in data:
            raise ValueError(f"{source}: {message}")


# ------------------------------------------------------------------------------------------------
# The claim's arms, sections of the report and presets


#: Fields of :class:`ExperimentConfig` that are not keys of the ``[experiment]`` table.
_NOT_IN_EXPERIMENT_TABLE = ("arms", "claim", "sections")

#: The roles of the claim's arms: the candidate sets an arm of each role must have (every such
#: arm is a ``PredictorSearch`` arm).
CLAIM_ROLES = {
    "full_space": ("FullSpace",),
    "random_subsets": ("RandomSubset",),
    "smart_subsets": ("Neighbourhood", "Evolution", "Combined"),
}


def _arm_names(value: Any, where: str) -> tuple[str, ...]:
    """A list of arm names from TOML (or a tuple from Python)."""
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not all(isinstance(n, str) for n in value):
        raise ValueError(f"{where} must be a list of arm names, got {value!r}")
    dupes = sorted({n for n in value if list(value).count(n) > 1})
    if dupes:
        raise ValueError(f"{where} names {dupes} twice")
    return tuple(value)


@dataclass(frozen=True)
class Claim:
    """The arms that test the claim, named in the study's ``[claim]`` table::

        [claim]
        full_space = "predictor-full"                              # reference of parts 1 and 2
        random_subsets = ["predictor-random-100", "predictor-random-1000"]   # part 1
        smart_subsets = ["predictor-neighbourhood"]                          # part 2

    Part 0 compares the full-space arm with random search; parts 1 and 2 compare each random- or
    smart-subset arm with the full-space arm (see :mod:`nasfast.experiment.claim`). Each role
    takes ``PredictorSearch`` arms with the candidate sets of :data:`CLAIM_ROLES`, and an arm
    has at most one role. A study without a claim reports generic results only.

    Attributes
    ----------
    full_space : str
        The arm that scores the full space (``FullSpace`` candidates).
    random_subsets : tuple of str
        The arms of part 1 (``RandomSubset`` candidates).
    smart_subsets : tuple of str
        The arms of part 2 (``Neighbourhood``, ``Evolution`` or ``Combined`` candidates).
    """

    full_space: str
    random_subsets: tuple[str, ...] = ()
    smart_subsets: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.full_space, str):
            raise ValueError(f"claim: full_space must be the name of an arm, got {self.full_space!r}")
        object.__setattr__(self, "random_subsets", _arm_names(self.random_subsets, "claim: random_subsets"))
        object.__setattr__(self, "smart_subsets", _arm_names(self.smart_subsets, "claim: smart_subsets"))
        roles = self.roles()
        for name in {n for n, _ in roles}:
            where = [role for n, role in roles if n == name]
            if len(where) > 1:
                raise ValueError(f"claim: arm {name!r} has two roles ({' and '.join(where)}); an arm has at most one")

    def roles(self) -> list[tuple[str, str]]:
        """(arm name, role) of every arm of the claim, role being a key of :data:`CLAIM_ROLES`."""
        return ([(self.full_space, "full_space")] + [(n, "random_subsets") for n in self.random_subsets]
                + [(n, "smart_subsets") for n in self.smart_subsets])

    def part(self, arm: str) -> Optional[int]:
        """The part of the claim an arm tests: 0 (full space), 1 (random subset), 2 (smart
        subset), or None."""
        if arm == self.full_space:
            return 0
        if arm in self.random_subsets:
            return 1
        if arm in self.smart_subsets:
            return 2
        return None

    def check(self, arms: Sequence[Arm]) -> None:
        """Refuse a claim naming an arm that is not among ``arms`` or that has the wrong kind.

        Raises
        ------
        ValueError
            Naming the arm, its role and what the role needs.
        """
        by_name = {a.name: a for a in arms}
        for name, role in self.roles():
            arm = by_name.get(name)
            if arm is None:
                raise ValueError(f"claim: {role} names {name!r}, which is not an arm of the study (arms: {list(by_name)})")
            kinds = CLAIM_ROLES[role]
            if arm.searcher != "PredictorSearch" or arm.candidates_type not in kinds:
                what = f"a {arm.searcher} arm" if arm.searcher != "PredictorSearch" else f"an arm with {arm.candidates_type} candidates"
                raise ValueError(
                    f"claim: {role} names {name!r}, {what}; {role} takes PredictorSearch arms with "
                    f"{' or '.join(kinds)} candidates"
                )

    def restricted_to(self, names: Sequence[str]) -> Optional[Claim]:
        """The claim on a selection of the arms: the subset arms that remain, or None when the
        full-space arm (the reference of every part) is not selected."""
        if self.full_space not in names:
            return None
        return Claim(self.full_space, tuple(n for n in self.random_subsets if n in names),
                     tuple(n for n in self.smart_subsets if n in names))

    @classmethod
    def from_dict(cls, table: Any, source: str = "config") -> Claim:
        """Build from a ``[claim]`` table."""
        if not isinstance(table, Mapping):
            raise ValueError(f"{source}: [claim] must be a table, got {table!r}")
        bad = sorted(set(table) - set(CLAIM_ROLES))
        if bad:
            raise ValueError(f"{source}: unknown keys in [claim]: {bad} (allowed: {sorted(CLAIM_ROLES)})")
        if "full_space" not in table:
            raise ValueError(f"{source}: [claim] needs full_space, the arm that scores the full space")
        try:
            return cls(table["full_space"], table.get("random_subsets", ()), table.get("smart_subsets", ()))
        except ValueError as e:
            raise ValueError(f"{source}: {e}") from None

    def to_dict(self) -> dict[str, Any]:
        """The ``[claim]`` table."""
        return {"full_space": self.full_space, "random_subsets": list(self.random_subsets),
                "smart_subsets": list(self.smart_subsets)}


@dataclass(frozen=True)
class Section:
    """A named group of arms that the report shows together, from a ``[[section]]`` table::

        [[section]]
        name = "predictor-choice"
        title = "Predictor choice: the same candidate sets with two predictors"
        pairs = [["predictor-full", "predictor-full-mlp"],
                 ["predictor-neighbourhood", "predictor-neighbourhood-mlp"]]

    The report shows the section's table (SEG per target, hits) and, for each pair
    ``[reference, arm]``, the share ``SEG_arm / SEG_reference`` with its bootstrap interval.
    Without sections the report shows one table of every arm.

    Attributes
    ----------
    name : str
        Identifier (letters, digits, '.', '_' and '-').
    title : str
        Heading in the report (default: the name).
    arms : tuple of str
        The arms shown, in this order (default: the arms of the pairs, in order of appearance).
    pairs : tuple of (str, str)
        Compared arms, ``(reference, arm)``; both must be arms of the section.
    """

    name: str
    title: str = ""
    arms: tuple[str, ...] = ()
    pairs: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        _check_name("section", self.name)
        where = f"section {self.name!r}"
        if not isinstance(self.title, str):
            raise ValueError(f"{where}: title must be a string, got {self.title!r}")
        if not isinstance(self.pairs, (list, tuple)):
            raise ValueError(f"{where}: pairs must be a list of [reference, arm] pairs, got {self.pairs!r}")
        pairs = []
        for p in self.pairs:
            if isinstance(p, str) or not isinstance(p, (list, tuple)) or len(p) != 2 or not all(isinstance(n, str) for n in p):
                raise ValueError(f"{where}: a pair must be two arm names [reference, arm], got {p!r}")
            if p[0] == p[1]:
                raise ValueError(f"{where}: pair {list(p)} compares an arm with itself")
            pairs.append((p[0], p[1]))
        if len(set(pairs)) != len(pairs):
            raise ValueError(f"{where}: a pair is listed twice: {[list(p) for p in pairs]}")
        object.__setattr__(self, "pairs", tuple(pairs))
        if self.arms:
            arms = _arm_names(self.arms, f"{where}: arms")
            outside = [n for p in pairs for n in p if n not in arms]
            if outside:
                raise ValueError(f"{where}: the pairs name {sorted(set(outside))}, which are not among its arms {list(arms)}")
        else:
            arms = tuple(dict.fromkeys(n for p in pairs for n in p))
        if not arms:
            raise ValueError(f"{where}: needs arms or pairs")
        object.__setattr__(self, "arms", arms)
        object.__setattr__(self, "title", self.title or self.name)

    def restricted_to(self, names: Sequence[str]) -> Optional[Section]:
        """The section on a selection of the arms (pairs whose both arms remain), or None when
        none of its arms is selected, or when it only compares pairs (its arms are those of its
        pairs) and no pair remains: a comparison without its other side is not shown."""
        arms = tuple(n for n in self.arms if n in names)
        pairs = tuple(p for p in self.pairs if p[0] in names and p[1] in names)
        comparison = bool(self.pairs) and set(self.arms) == {n for p in self.pairs for n in p}
        if not arms or (comparison and not pairs):
            return None
        return Section(self.name, self.title, arms, pairs)

    @classmethod
    def from_dict(cls, table: Any, source: str = "config") -> Section:
        """Build from a ``[[section]]`` table."""
        if not isinstance(table, Mapping):
            raise ValueError(f"{source}: a [[section]] must be a table, got {table!r}")
        allowed = {"name", "title", "arms", "pairs"}
        bad = sorted(set(table) - allowed)
        if bad:
            raise ValueError(f"{source}: unknown keys in [[section]] {table.get('name')!r}: {bad} (allowed: {sorted(allowed)})")
        if "name" not in table:
            raise ValueError(f"{source}: a [[section]] needs a name, got {dict(table)!r}")
        try:
            return cls(table["name"], table.get("title", ""), table.get("arms", ()), table.get("pairs", ()))
        except ValueError as e:
            raise ValueError(f"{source}: {e}") from None

    def to_dict(self) -> dict[str, Any]:
        """The ``[[section]]`` table."""
        return {"name": self.name, "title": self.title, "arms": list(self.arms), "pairs": [list(p) for p in self.pairs]}


def _check_claim_and_sections(config: ExperimentConfig) -> None:
    if config.claim is not None:
        if not isinstance(config.claim, Claim):
            raise ValueError(f"claim must be a Claim or None, got {config.claim!r}")
        config.claim.check(config.arms)
    object.__setattr__(config, "sections", tuple(config.sections))
    known = [a.name for a in config.arms]
    for s in config.sections:
        if not isinstance(s, Section):
            raise ValueError(f"sections must be Section objects, got {s!r}")
        unknown = [n for n in s.arms if n not in known]
        if unknown:
            raise ValueError(f"section {s.name!r} names {unknown}, which are not arms of the study (arms: {known})")
    names = [s.name for s in config.sections]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"section names must be unique, repeated: {dupes}")


def _restricted_claim_and_sections(config: ExperimentConfig, names: Sequence[str], changes: Mapping[str, Any]) -> dict[str, Any]:
    """The claim and sections of ``config`` on the arms ``names`` (unless ``changes`` sets them)."""
    out: dict[str, Any] = {}
    if "claim" not in changes and config.claim is not None:
        out["claim"] = config.claim.restricted_to(names)
    if "sections" not in changes:
        kept = (s.restricted_to(names) for s in config.sections)
        out["sections"] = tuple(s for s in kept if s is not None)
    return out


def _claim_from_toml(data: Mapping[str, Any], source: str) -> Optional[Claim]:
    return Claim.from_dict(data["claim"], source) if "claim" in data else None


def _sections_from_toml(data: Mapping[str, Any], source: str) -> tuple[Section, ...]:
    tables = data.get("section", [])
    if not isinstance(tables, list):
        raise ValueError(f"{source}: 'section' must be an array of tables ([[section]]), got {tables!r}")
    return tuple(Section.from_dict(t, source) for t in tables)


def _claim_and_sections_to_toml(config: ExperimentConfig) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if config.claim is not None:
        out["claim"] = config.claim.to_dict()
    if config.sections:
        out["section"] = [s.to_dict() for s in config.sections]
    return out


def _preset_name(quick: bool, preset: Optional[str]) -> Optional[str]:
    if quick and preset not in (None, "quick"):
        raise ValueError(f"quick=True and preset={preset!r} contradict each other: quick=True means preset='quick'")
    return "quick" if quick else preset


def _presets_from_toml(data: Mapping[str, Any], source: str) -> dict[str, Mapping[str, Any]]:
    presets = data.get("preset", {})
    if not isinstance(presets, Mapping) or not all(isinstance(v, Mapping) for v in presets.values()):
        raise ValueError(f"{source}: presets must be tables [preset.<name>], got {presets!r}")
    for name in presets:
        _check_name("preset", name)
    return dict(presets)


def apply_preset(config: ExperimentConfig, table: Mapping[str, Any], source: str = "preset") -> ExperimentConfig:
    """A study with a preset applied.

    A preset (a ``[preset.<name>]`` table, selected by ``nasfast experiment --preset NAME``,
    ``--quick`` or ``--full``) may set any key of the ``[experiment]`` table (``seeds``,
    ``budget``, ``targets``, ...), which replaces the study's value, and ``arms``, a list of arm
    names that selects those arms (the claim and the sections keep the selected arms only)::

        [preset.quick]
        seeds = 5
        budget = 50
        arms = ["random-uniform", "predictor-full"]

    Raises
    ------
    ValueError
        On an unknown key, an unknown arm or an invalid value (the message starts with
        ``source``).
    """
    allowed = {f.name for f in fields(ExperimentConfig)} - set(_NOT_IN_EXPERIMENT_TABLE)
    bad = sorted(set(table) - allowed - {"arms"})
    if bad:
        raise ValueError(f"{source}: unknown keys {bad} (allowed: 'arms' and the keys of [experiment]: {sorted(allowed)})")
    values = dict(table)
    keep = values.pop("arms", None)
    if keep is not None:
        keep = _select(list(config.arms), list(_arm_names(keep, f"{source}: arms")), source)
    if values.get("metric") == "":
        values["metric"] = None
    changes = {k: v for k, v in values.items() if k != "metric"}
    try:
        out = config.with_overrides(arms=keep, **changes)
        return replace(out, metric=values["metric"]) if "metric" in values else out
    except ValueError as e:
        raise ValueError(f"{source}: {e}") from None
