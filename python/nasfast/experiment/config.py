"""Configuration of a sample-efficiency study: benchmarks, arms, seeds, budget, targets.

A study is described by a TOML file (the default study is ``example.toml`` beside this module)::

    [experiment]
    benchmarks = ["nb101-surrogate", "nb101-real20k"]
    seeds = 20                 # runs per benchmark and arm
    budget = 150               # samples per run
    seed = 0                   # base seed of every run seed and bootstrap
    targets = ["optimum", "top-10", "top-0.1%", "top-1%"]
    headline_target = "top-0.1%"

    [quick]                    # overrides applied by ``--quick``
    seeds = 5
    arms = ["random-uniform", "predictor-full"]

    [defaults.PredictorSearch] # arguments of every PredictorSearch arm
    predictor = { type = "RandomForestRegressor", n_estimators = 20 }

    [[arm]]
    name = "predictor-full"    # letters, digits, '.', '_' and '-'
    searcher = "PredictorSearch"
    candidates = { type = "FullSpace" }

An *arm* is one named entry of a study: a searcher with its arguments, run ``seeds`` times on
every benchmark (the word of clinical trials for one treatment of a study). Study files of
earlier versions called arms ``[[strategy]]``; that name is refused with a message naming
``[[arm]]``, because "strategy" is what :mod:`nasfast.search` calls a candidate set (which cells
the predictor scores: ``FullSpace``, ``RandomSubset``, ...), and one word must not mean both.

Every key of a ``[[arm]]`` table other than ``name`` and ``searcher`` is passed to the
searcher's constructor; a ``candidates`` table is built into the candidate-set class named by its
``type`` with its other keys as arguments (``Union`` takes a list ``sets`` of such tables); a
``predictor`` table likewise into a scikit-learn regressor (one of :data:`PREDICTORS`), e.g.
``predictor = { type = "RandomForestRegressor", n_estimators = 30 }``.
"""

from __future__ import annotations

import hashlib
import re
import sys
from dataclasses import dataclass, field, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

from nasfast.metrics import parse_target

__all__ = ["Arm", "ExperimentConfig", "load_toml", "derive_seed", "SEARCHERS", "CANDIDATE_SETS", "PREDICTORS"]

#: Searcher classes of :mod:`nasfast.search` an arm may name.
SEARCHERS = ("PredictorSearch", "RandomSearch", "RegularizedEvolution", "LocalSearch")
#: Candidate-set classes of :mod:`nasfast.search` a ``candidates`` table may name.
CANDIDATE_SETS = ("FullSpace", "RandomSubset", "Neighbourhood", "Evolution", "Union")

#: scikit-learn regressors a ``predictor`` table may name, with their modules.
PREDICTORS = {
    "ForestRegressor": "nasfast.search",
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
            import tomli as tomllib
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


def _check_candidates(spec: Any, where: str) -> None:
    if not isinstance(spec, Mapping) or "type" not in spec:
        raise ValueError(f"{where}: 'candidates' must be a table with a 'type' key, got {spec!r}")
    if spec["type"] not in CANDIDATE_SETS:
        raise ValueError(f"{where}: unknown candidate set {spec['type']!r}, expected one of {CANDIDATE_SETS}")
    if spec["type"] == "Union":
        sets = spec.get("sets")
        if not isinstance(sets, list) or not sets:
            raise ValueError(f"{where}: a 'Union' candidate set needs a non-empty list 'sets'")
        for s in sets:
            _check_candidates(s, where)


@dataclass(frozen=True)
class Arm:
    """One arm of a study: a named searcher configuration, run ``seeds`` times per benchmark.

    Attributes
    ----------
    name : str
        Identifier used in file names, tables and plots.
    searcher : str
        Class name in :mod:`nasfast.search` (one of :data:`SEARCHERS`).
    params : dict
        Keyword arguments of the searcher (``candidates`` given as a table, see the module doc).
    """

    name: str
    searcher: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_name("arm", self.name)
        if self.searcher not in SEARCHERS:
            raise ValueError(f"arm {self.name!r}: unknown searcher {self.searcher!r}, expected one of {SEARCHERS}")
        for reserved in ("space", "random_state", "universe", "n_jobs"):
            if reserved in self.params:
                raise ValueError(f"arm {self.name!r}: {reserved!r} is set by the experiment, not the config")
        for key in ("candidates", "predictor"):
            if key in self.params and self.searcher != "PredictorSearch":
                raise ValueError(f"arm {self.name!r}: only PredictorSearch takes {key!r}")
        if "candidates" in self.params:
            _check_candidates(self.params["candidates"], f"arm {self.name!r}")
        if "predictor" in self.params:
            spec = self.params["predictor"]
            if not isinstance(spec, Mapping) or spec.get("type") not in PREDICTORS:
                raise ValueError(
                    f"arm {self.name!r}: 'predictor' must be a table whose 'type' is one of "
                    f"{sorted(PREDICTORS)}, got {spec!r}"
                )

    @classmethod
    def from_dict(cls, table: Mapping[str, Any]) -> "Arm":
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
        """Type of the candidate set of a ``PredictorSearch`` arm (``FullSpace`` by default)."""
        if self.searcher != "PredictorSearch":
            return None
        cand = self.params.get("candidates")
        return "FullSpace" if cand is None else str(cand["type"])


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

    def __post_init__(self) -> None:
        object.__setattr__(self, "benchmarks", tuple(self.benchmarks))
        object.__setattr__(self, "arms", tuple(self.arms))
        object.__setattr__(self, "targets", tuple(self.targets))
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
        if self.headline_target not in self.targets:
            raise ValueError(f"headline_target {self.headline_target!r} is not one of the targets {list(self.targets)}")
        if not (0.0 < self.confidence < 1.0):
            raise ValueError(f"confidence must be in (0, 1), got {self.confidence!r}")

    # -- construction ----------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, quick: bool = False, source: str = "config") -> "ExperimentConfig":
        """Build from the parsed TOML of a study.

        Parameters
        ----------
        data : mapping
            With an ``[experiment]`` table, ``[[arm]]`` tables and optionally ``[quick]``
            and ``[defaults.<Searcher>]`` tables (arguments given to every arm of that
            searcher unless the arm sets them itself).
        quick : bool, default False
            Apply the ``[quick]`` overrides (fewer seeds, smaller budget, a subset of the
            arms given by name in ``arms``).
        source : str
            Named in error messages.

        Raises
        ------
        ValueError
            On unknown keys, missing tables or invalid values.
        """
        _refuse_renamed(data, source)
        unknown = sorted(set(data) - {"experiment", "arm", "quick", "defaults"})
        if unknown:
            raise ValueError(f"{source}: unknown top-level keys {unknown}")
        exp = dict(data.get("experiment", {}))
        allowed = {f.name for f in fields(cls)} - {"arms"}
        bad = sorted(set(exp) - allowed)
        if bad:
            raise ValueError(f"{source}: unknown keys in [experiment]: {bad} (allowed: {sorted(allowed)})")
        if "arm" not in data:
            raise ValueError(f"{source}: no [[arm]] tables")
        defaults = data.get("defaults", {})
        bad = sorted(set(defaults) - set(SEARCHERS))
        if bad or not all(isinstance(v, Mapping) for v in defaults.values()):
            raise ValueError(f"{source}: [defaults] must hold one table per searcher in {SEARCHERS}, got {sorted(defaults)}")
        arms = [
            Arm.from_dict({**defaults.get(t.get("searcher"), {}), **t}) if isinstance(t, Mapping) else Arm.from_dict(t)
            for t in data["arm"]
        ]
        if quick:
            if "quick" not in data:
                raise ValueError(f"{source}: --quick needs a [quick] table")
            q = dict(data["quick"])
            bad = sorted(set(q) - allowed - {"arms"})
            if bad:
                raise ValueError(f"{source}: unknown keys in [quick]: {bad}")
            keep = q.pop("arms", None)
            if keep is not None:
                arms = _select(arms, keep, source)
            exp.update(q)
        if "metric" in exp and exp["metric"] == "":
            exp["metric"] = None
        return cls(arms=tuple(arms), **exp)

    @classmethod
    def from_toml(cls, path: Union[str, Path], *, quick: bool = False) -> "ExperimentConfig":
        """Read a study from a TOML file (see the module doc for the format)."""
        return cls.from_dict(load_toml(path), quick=quick, source=str(path))

    @classmethod
    def default(cls, *, quick: bool = False) -> "ExperimentConfig":
        """The default study (``example.toml`` shipped with the package)."""
        text = resources.files("nasfast.experiment").joinpath(_EXAMPLE).read_text(encoding="utf-8")
        return cls.from_dict(_read_toml_text(text, _EXAMPLE), quick=quick, source=_EXAMPLE)

    def with_overrides(
        self,
        *,
        benchmarks: Optional[Sequence[str]] = None,
        arms: Optional[Sequence[Union[str, Arm, Mapping[str, Any]]]] = None,
        **values: Any,
    ) -> "ExperimentConfig":
        """A copy with some fields replaced; None values are ignored.

        ``arms`` may mix names of this study's arms, :class:`Arm` objects and
        ``[[arm]]``-style dictionaries.
        """
        changes = {k: v for k, v in values.items() if v is not None}
        if benchmarks is not None:
            changes["benchmarks"] = tuple(benchmarks)
        if arms is not None:
            changes["arms"] = tuple(self._resolve(s) for s in arms)
        return replace(self, **changes)

    def _resolve(self, s: Union[str, Arm, Mapping[str, Any]]) -> Arm:
        if isinstance(s, Arm):
            return s
        if isinstance(s, str):
            return _select(list(self.arms), [s], "the study")[0]
        return Arm.from_dict(s)

    def to_dict(self) -> dict[str, Any]:
        """The TOML-shaped dictionary of this study (``metric`` omitted when None)."""
        exp = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "arms"}
        exp["benchmarks"] = list(self.benchmarks)
        exp["targets"] = list(self.targets)
        if exp["metric"] is None:
            del exp["metric"]
        return {"experiment": exp, "arm": [s.to_dict() for s in self.arms]}


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
        "named entries are arms; 'strategy' names the candidate sets of a search)"
    ),
}


def _refuse_renamed(data: Mapping[str, Any], source: str) -> None:
    for key, message in _RENAMED.items():
        if key in data:
            raise ValueError(f"{source}: {message}")
