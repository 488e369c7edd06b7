"""Configuration of a sample-efficiency study: benchmarks, strategies, seeds, budget, targets.

A study is described by a TOML file (the default study is ``example.toml`` beside this module)::

    [experiment]
    benchmarks = ["nb101-surrogate", "nb101-real20k"]
    seeds = 20                 # runs per benchmark and strategy
    budget = 150               # samples per run
    seed = 0                   # base seed of every run seed and bootstrap
    targets = ["optimum", "top-10", "top-0.1%", "top-1%"]
    headline_target = "top-0.1%"

    [quick]                    # overrides applied by ``--quick``
    seeds = 5
    strategies = ["random-uniform", "predictor-full"]

    [defaults.PredictorSearch] # arguments of every PredictorSearch strategy
    predictor = { type = "RandomForestRegressor", n_estimators = 20 }

    [[strategy]]
    name = "predictor-full"    # letters, digits, '.', '_' and '-'
    searcher = "PredictorSearch"
    candidates = { type = "FullSpace" }

Every key of a ``[[strategy]]`` table other than ``name`` and ``searcher`` is passed to the
searcher's constructor; a ``candidates`` table is built into the candidate-set class named by its
``type`` with its other keys as arguments (``Union`` takes a list ``sets`` of such tables); a
``predictor`` table likewise into a scikit-learn regressor (one of :data:`PREDICTORS`), e.g.
``predictor = { type = "RandomForestRegressor", n_estimators = 30 }``.

Everything is checked when the study is read, before any run starts: unknown keys (in every
table, including the arguments of searchers, candidate sets and predictors), the type of every
value (a list where a list is expected, ``true``/``false`` where a boolean is, a number where a
number is: ``stop_at_optimum = "no"`` or ``benchmarks = "nb101-real20k"`` are errors, not
``True`` or a list of letters) and its range; each strategy's searcher is built once on a tiny
space so that its own checks run too. Every error is a ``ValueError`` naming the key and the
value.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import math
import re
import sys
import typing
from dataclasses import dataclass, field, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Mapping, Optional, Sequence, Union

from nasfast.metrics import parse_target

__all__ = ["Strategy", "ExperimentConfig", "load_toml", "derive_seed", "SEARCHERS", "CANDIDATE_SETS", "PREDICTORS"]

#: Searcher classes of :mod:`nasfast.search` a strategy may name.
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
    ``derive_seed(0, "nb101-real20k", "predictor-full", 3)`` for run 3 of a strategy.
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


def _table(where: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{where} must be a table, got {value!r}")
    return value


def _names(key: str, value: Any) -> tuple[str, ...]:
    """A list of strings (a single string is refused: it is not a list of its letters)."""
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{key} must be a list of strings, got {value!r}")
    return tuple(value)


def _describe(hint: Any) -> str:
    words = {bool: "a boolean (true or false)", int: "an integer", float: "a number", str: "a string"}
    if hint in words:
        return words[hint]
    if typing.get_origin(hint) is Union:
        return " or ".join(_describe(a) for a in typing.get_args(hint) if a is not type(None))
    if typing.get_origin(hint) is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(hint))
    return getattr(hint, "__name__", str(hint))


def _matches(value: Any, hint: Any) -> bool:
    """Whether a TOML value fits a constructor's type annotation (bool is not an int, an int
    is a float)."""
    if hint is Any or isinstance(hint, typing.TypeVar):
        return True
    origin = typing.get_origin(hint)
    if origin is Union:
        return any(_matches(value, a) for a in typing.get_args(hint))
    if origin is Literal:
        return value in typing.get_args(hint)
    if origin is not None:
        hint = origin
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True


def _check_kwargs(
    where: str, cls: Any, kwargs: Mapping[str, Any], fixed: Sequence[str] = (), separate: Sequence[str] = ()
) -> None:
    """Names and types of ``kwargs`` against the constructor of ``cls``; ``fixed`` arguments are
    set by the study (not allowed here), ``separate`` ones are checked by the caller."""
    params = inspect.signature(cls).parameters
    accepted = [n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and n not in fixed]
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise ValueError(f"{where}: unknown key{'s' if len(unknown) > 1 else ''} {unknown} for {cls.__name__} (allowed: {accepted})")
    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:  # annotations that cannot be resolved: the constructor checks the values
        hints = {}
    for key, value in kwargs.items():
        if key in hints and key not in separate and not _matches(value, hints[key]):
            raise ValueError(f"{where}: {key} = {value!r} is not {_describe(hints[key])}")


def _search_class(name: str) -> Any:
    return getattr(importlib.import_module("nasfast.search"), name)


def _check_candidates(spec: Any, where: str) -> None:
    if not isinstance(spec, Mapping) or "type" not in spec:
        raise ValueError(f"{where}: 'candidates' must be a table with a 'type' key, got {spec!r}")
    if spec["type"] not in CANDIDATE_SETS:
        raise ValueError(f"{where}: unknown candidate set {spec['type']!r}, expected one of {CANDIDATE_SETS}")
    args = {k: v for k, v in spec.items() if k != "type"}
    if spec["type"] == "Union":
        if set(args) != {"sets"}:
            raise ValueError(f"{where}: a 'Union' candidate set takes the key 'sets' only, got {sorted(args)}")
        sets = args["sets"]
        if not isinstance(sets, list) or not sets:
            raise ValueError(f"{where}: a 'Union' candidate set needs a non-empty list 'sets'")
        for s in sets:
            _check_candidates(s, where)
    else:
        _check_kwargs(f"{where}, candidates {spec['type']}", _search_class(spec["type"]), args)


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


#: Searcher arguments the study sets itself (a strategy may not).
_FIXED = ("space", "random_state", "universe", "n_jobs")
#: The space every strategy's searcher is built on once, to run its constructor's checks.
_TRIAL_SPACE = (4, 5, ("a", "b"))


@dataclass(frozen=True)
class Strategy:
    """One search strategy of a study.

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
        _check_name("strategy", self.name)
        where = f"strategy {self.name!r}"
        if self.searcher not in SEARCHERS:
            raise ValueError(f"{where}: unknown searcher {self.searcher!r}, expected one of {SEARCHERS}")
        _table(f"{where}: the parameters", self.params)
        for reserved in _FIXED:
            if reserved in self.params:
                raise ValueError(f"{where}: {reserved!r} is set by the experiment, not the config")
        for key in ("candidates", "predictor"):
            if key in self.params and self.searcher != "PredictorSearch":
                raise ValueError(f"{where}: only PredictorSearch takes {key!r}")
        if "candidates" in self.params:
            _check_candidates(self.params["candidates"], where)
        if "predictor" in self.params:
            _check_predictor(self.params["predictor"], where)
        _check_kwargs(where, _search_class(self.searcher), self.params, fixed=_FIXED, separate=("candidates", "predictor"))
        self._trial_build()

    def _trial_build(self) -> None:
        """Builds the searcher once on a tiny space, so that its constructor checks the values
        (ranges, choices) before any run starts."""
        from nasfast import SearchSpace
        from nasfast.experiment.runner import _default_components, build_searcher

        v, e, ops = _TRIAL_SPACE
        try:
            build_searcher(self, SearchSpace(v, e, list(ops)), 0, None, _default_components())
        except (ValueError, TypeError) as exc:
            raise ValueError(f"strategy {self.name!r}: {exc}") from None

    @classmethod
    def from_dict(cls, table: Mapping[str, Any]) -> "Strategy":
        """Build from a ``[[strategy]]`` table (``name``, ``searcher`` and searcher arguments)."""
        if not isinstance(table, Mapping):
            raise ValueError(f"a [[strategy]] must be a table, got {table!r}")
        missing = [k for k in ("name", "searcher") if k not in table]
        if missing:
            raise ValueError(f"strategy {dict(table)!r} lacks {missing}")
        params = {k: v for k, v in table.items() if k not in ("name", "searcher")}
        return cls(name=table["name"], searcher=table["searcher"], params=params)

    def to_dict(self) -> dict[str, Any]:
        """The ``[[strategy]]`` table of this strategy."""
        return {"name": self.name, "searcher": self.searcher, **dict(self.params)}

    @property
    def candidates_type(self) -> Optional[str]:
        """Type of the candidate set of a ``PredictorSearch`` strategy (``FullSpace`` by default)."""
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
    strategies : tuple of Strategy
    seeds : int
        Independent runs per benchmark and strategy.
    budget : int
        Samples (true evaluations) per run.
    seed : int
        Base seed; each run's seed is derived from ``(seed, benchmark, strategy, run)``.
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
    strategies: tuple[Strategy, ...]
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
        object.__setattr__(self, "benchmarks", _names("benchmarks", self.benchmarks))
        object.__setattr__(self, "targets", _names("targets", self.targets))
        if not isinstance(self.strategies, (list, tuple)) or not all(isinstance(s, Strategy) for s in self.strategies):
            raise ValueError(f"strategies must be a list of Strategy objects, got {self.strategies!r}")
        object.__setattr__(self, "strategies", tuple(self.strategies))
        if not self.benchmarks:
            raise ValueError("a study needs at least one benchmark")
        for b in self.benchmarks:
            _check_name("benchmark", b)
        if len(set(self.benchmarks)) != len(self.benchmarks):
            raise ValueError(f"benchmarks listed twice: {list(self.benchmarks)}")
        if not self.strategies:
            raise ValueError("a study needs at least one strategy")
        names = [s.name for s in self.strategies]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"strategy names must be unique, repeated: {dupes}")
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

    # -- construction ----------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, quick: bool = False, source: str = "config") -> "ExperimentConfig":
        """Build from the parsed TOML of a study.

        Parameters
        ----------
        data : mapping
            With an ``[experiment]`` table, ``[[strategy]]`` tables and optionally ``[quick]``
            and ``[defaults.<Searcher>]`` tables (arguments given to every strategy of that
            searcher unless the strategy sets them itself).
        quick : bool, default False
            Apply the ``[quick]`` overrides (fewer seeds, smaller budget, a subset of the
            strategies given by name in ``strategies``).
        source : str
            Named in error messages.

        Raises
        ------
        ValueError
            On unknown keys, missing tables or invalid values.
        """
        _table(source, data)
        unknown = sorted(set(data) - {"experiment", "strategy", "quick", "defaults"})
        if unknown:
            raise ValueError(f"{source}: unknown top-level keys {unknown}")
        exp = dict(_table(f"{source}: [experiment]", data.get("experiment", {})))
        allowed = {f.name for f in fields(cls)} - {"strategies"}
        bad = sorted(set(exp) - allowed)
        if bad:
            raise ValueError(f"{source}: unknown keys in [experiment]: {bad} (allowed: {sorted(allowed)})")
        if "strategy" not in data:
            raise ValueError(f"{source}: no [[strategy]] tables")
        tables = data["strategy"]
        if not isinstance(tables, list):
            raise ValueError(f"{source}: 'strategy' must be a list of [[strategy]] tables, got {tables!r}")
        defaults = _table(f"{source}: [defaults]", data.get("defaults", {}))
        bad = sorted(set(defaults) - set(SEARCHERS))
        if bad or not all(isinstance(v, Mapping) for v in defaults.values()):
            raise ValueError(f"{source}: [defaults] must hold one table per searcher in {SEARCHERS}, got {sorted(defaults)}")
        strategies = [
            Strategy.from_dict({**defaults.get(t.get("searcher"), {}), **t}) if isinstance(t, Mapping) else Strategy.from_dict(t)
            for t in tables
        ]
        if quick:
            if "quick" not in data:
                raise ValueError(f"{source}: --quick needs a [quick] table")
            q = dict(_table(f"{source}: [quick]", data["quick"]))
            bad = sorted(set(q) - allowed - {"strategies"})
            if bad:
                raise ValueError(f"{source}: unknown keys in [quick]: {bad}")
            keep = q.pop("strategies", None)
            if keep is not None:
                strategies = _select(strategies, _names("[quick] strategies", keep), source)
            exp.update(q)
        elif "quick" in data:
            _table(f"{source}: [quick]", data["quick"])
        if "metric" in exp and exp["metric"] == "":
            exp["metric"] = None
        try:
            return cls(strategies=tuple(strategies), **exp)
        except ValueError as exc:
            raise ValueError(f"{source}: {exc}") from None

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
        strategies: Optional[Sequence[Union[str, Strategy, Mapping[str, Any]]]] = None,
        **values: Any,
    ) -> "ExperimentConfig":
        """A copy with some fields replaced; None values are ignored.

        ``strategies`` may mix names of this study's strategies, :class:`Strategy` objects and
        ``[[strategy]]``-style dictionaries.
        """
        changes = {k: v for k, v in values.items() if v is not None}
        if benchmarks is not None:
            changes["benchmarks"] = tuple(benchmarks)
        if strategies is not None:
            changes["strategies"] = tuple(self._resolve(s) for s in strategies)
        return replace(self, **changes)

    def _resolve(self, s: Union[str, Strategy, Mapping[str, Any]]) -> Strategy:
        if isinstance(s, Strategy):
            return s
        if isinstance(s, str):
            return _select(list(self.strategies), [s], "the study")[0]
        return Strategy.from_dict(s)

    def to_dict(self) -> dict[str, Any]:
        """The TOML-shaped dictionary of this study (``metric`` omitted when None)."""
        exp = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "strategies"}
        exp["benchmarks"] = list(self.benchmarks)
        exp["targets"] = list(self.targets)
        if exp["metric"] is None:
            del exp["metric"]
        return {"experiment": exp, "strategy": [s.to_dict() for s in self.strategies]}


def _select(strategies: list[Strategy], names: Sequence[str], source: str) -> list[Strategy]:
    by_name = {s.name: s for s in strategies}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise ValueError(f"{source}: unknown strategies {missing}; known: {list(by_name)}")
    return [by_name[n] for n in names]
