"""The registry of searchers and candidate sets, and their one configuration schema.

Every searcher and candidate set that a journal, a study file or :meth:`Searcher.resume` can
name is registered here under a name (the class name for the built-in ones). A configuration
is a JSON (or TOML) object ``{"type": <registered name>, <argument>: <value>, ...}``: the
constructor's arguments, a candidate set given as such an object in turn::

    {"type": "PredictorSearch", "acquisition": "ei", "n_initial": 10,
     "candidates": {"type": "Combined", "sets": [{"type": "Neighbourhood", "radius": 1, "top_k": 10},
                                                 {"type": "RandomSubset", "size": 500, "refresh": true}]}}

A journal's header records its searcher this way, and a study's ``[[arm]]`` table is the same
object with the type under ``searcher`` (``searcher = "PredictorSearch"``, ``candidates = { type
= "Combined", sets = [...] }``). Arguments that are the context of a run, not its configuration
(:data:`CONTEXT_ARGUMENTS`), are never part of it. Reading a configuration refuses an unknown
type, an unknown argument or a value of the wrong type with a ``ValueError`` naming it (and the
closest known name, for a misspelt one), before anything is built.

Your own classes are registered with :func:`register_searcher` and :func:`register_candidates`
(as decorators, or called), under their class name or a name of your choice; a name belongs to
one class, so a class of yours that has the name of a built-in one is registered under another
name (``register_searcher(name="mylab.PredictorSearch")``) and the two never collide. A class
that is not registered works everywhere except where it must be found by name again: a journal
refuses it (:meth:`Searcher.resume` could not rebuild it), and so does a study.
"""

from __future__ import annotations

import difflib
import inspect
import re
import typing
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Callable, Literal, Optional, TypeVar, Union, overload

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from .candidates import CandidateSet
    from .searcher import Searcher

__all__ = [
    "CONTEXT_ARGUMENTS",
    "register_searcher",
    "register_candidates",
    "searcher_class",
    "candidates_class",
    "searcher_names",
    "candidate_set_names",
    "registered_name",
    "registered_components",
    "searcher_config",
    "candidates_config",
    "candidates_from_config",
    "check_arguments",
    "did_you_mean",
]

#: Constructor arguments of a searcher that are the context of a run, not its configuration: a
#: configuration never holds them (a journal records the space, seed and universe apart).
CONTEXT_ARGUMENTS = ("space", "random_state", "universe", "n_jobs")

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")

_SEARCHERS: dict[str, type] = {}
_CANDIDATE_SETS: dict[str, type] = {}
#: Other names that are read as a registered name (earlier names of renamed classes).
_ALIASES: dict[str, dict[str, str]] = {"searcher": {}, "candidate set": {"Union": "Combined"}}

T = TypeVar("T", bound=type)


def _table(kind: str) -> dict[str, type]:
    return _SEARCHERS if kind == "searcher" else _CANDIDATE_SETS


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _register(kind: str, cls: type, name: Optional[str]) -> None:
    base: type
    if kind == "searcher":
        from .searcher import Searcher as base
    else:
        from .candidates import CandidateSet as base
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise TypeError(f"only a subclass of {base.__name__} can be registered as a {kind}, got {cls!r}")
    name = cls.__name__ if name is None else name
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"{kind} name {name!r} is not allowed: use letters, digits, '_', '.' and '-'")
    table = _table(kind)
    other_kind = "candidate set" if kind == "searcher" else "searcher"
    if name in _ALIASES[kind] or name in _ALIASES[other_kind]:
        raise ValueError(f"{kind} name {name!r} is reserved (it is the earlier name of a built-in class)")
    if name in _table(other_kind):
        raise ValueError(f"{kind} name {name!r} is already registered for the {other_kind} {_qualname(_table(other_kind)[name])}")
    existing = table.get(name)
    # a class defined again (a module or a notebook cell run twice) takes its place
    if existing is not None and existing is not cls and _qualname(existing) != _qualname(cls):
        raise ValueError(
            f"{kind} name {name!r} is already registered for {_qualname(existing)}; register {_qualname(cls)} "
            f"under another name (name='...')"
        )
    for other, c in table.items():
        if c is cls and other != name:
            raise ValueError(f"{_qualname(cls)} is already registered as the {kind} {other!r}; a class has one name")
    table[name] = cls


@overload
def register_searcher(cls: T, *, name: Optional[str] = None) -> T: ...


@overload
def register_searcher(cls: None = None, *, name: Optional[str] = None) -> Callable[[T], T]: ...


def register_searcher(cls: Optional[T] = None, *, name: Optional[str] = None) -> Union[T, Callable[[T], T]]:
    """Registers a :class:`~nasfast.search.Searcher` subclass under ``name`` (default: its class
    name), so that journals, :meth:`Searcher.resume` and study files can name it.

    Use it as a decorator (``@register_searcher`` or ``@register_searcher(name="mylab.Greedy")``)
    or call it (``register_searcher(Greedy)``).

    Raises
    ------
    ValueError
        If the name belongs to another class, or the class is registered under another name.
    TypeError
        If ``cls`` is not a ``Searcher`` subclass.
    """

    def deco(c: T) -> T:
        _register("searcher", c, name)
        return c

    return deco if cls is None else deco(cls)


@overload
def register_candidates(cls: T, *, name: Optional[str] = None) -> T: ...


@overload
def register_candidates(cls: None = None, *, name: Optional[str] = None) -> Callable[[T], T]: ...


def register_candidates(cls: Optional[T] = None, *, name: Optional[str] = None) -> Union[T, Callable[[T], T]]:
    """Registers a :class:`~nasfast.search.CandidateSet` subclass under ``name`` (default: its
    class name), so that journals, :meth:`Searcher.resume` and study files can name it. Used
    like :func:`register_searcher`."""

    def deco(c: T) -> T:
        _register("candidate set", c, name)
        return c

    return deco if cls is None else deco(cls)


def _lookup(kind: str, name: Any) -> type:
    table = _table(kind)
    if isinstance(name, str):
        name = _ALIASES[kind].get(name, name)
        if name in table:
            return table[name]
    raise ValueError(f"unknown {kind} {name!r}, expected one of {sorted(table)}{did_you_mean(name, [*table, *_ALIASES[kind]])}")


def did_you_mean(given: Any, known: Sequence[str]) -> str:
    """``"; did you mean 'x'?"`` for a misspelt name ``given`` close to one of ``known``, else
    ``""`` (the end of an error message)."""
    if not isinstance(given, str):
        return ""
    close = difflib.get_close_matches(given, list(known), n=1, cutoff=0.75)
    return f"; did you mean {close[0]!r}?" if close else ""


def searcher_class(name: str) -> type[Searcher]:
    """The searcher class registered under ``name``.

    Raises
    ------
    ValueError
        Naming the unknown name and the registered ones.
    """
    return _lookup("searcher", name)


def candidates_class(name: str) -> type[CandidateSet]:
    """The candidate-set class registered under ``name`` (``"Union"`` reads as
    ``"Combined"``).

    Raises
    ------
    ValueError
        Naming the unknown name and the registered ones.
    """
    return _lookup("candidate set", name)


def searcher_names() -> tuple[str, ...]:
    """The names of the registered searchers, in order of registration."""
    return tuple(_SEARCHERS)


def candidate_set_names() -> tuple[str, ...]:
    """The names of the registered candidate sets, in order of registration."""
    return tuple(_CANDIDATE_SETS)


def registered_components() -> dict[str, type]:
    """Every registered searcher and candidate set by name, earlier names included."""
    out: dict[str, type] = {**_SEARCHERS, **_CANDIDATE_SETS}
    for kind, aliases in _ALIASES.items():
        for alias, name in aliases.items():
            if name in _table(kind):
                out[alias] = _table(kind)[name]
    return out


def canonical_candidates_name(name: str) -> str:
    """The registered name ``name`` reads as (``"Union"``: ``"Combined"``)."""
    return _ALIASES["candidate set"].get(name, name)


def registered_name(cls: type) -> Optional[str]:
    """The name ``cls`` is registered under (as a searcher or a candidate set), or ``None``."""
    for table in (_SEARCHERS, _CANDIDATE_SETS):
        for name, c in table.items():
            if c is cls:
                return name
    return None


def _name_of(obj: Any, kind: str, register: str) -> str:
    name = registered_name(type(obj))
    if name is None:
        raise TypeError(
            f"{_qualname(type(obj))} is not a registered {kind}: a configuration names its class, so that it can be "
            f"built again; register it with nasfast.search.{register}"
        )
    return name


def searcher_config(searcher: Searcher) -> dict[str, Any]:
    """The configuration of a searcher: ``{"type": <registered name>, **searcher.get_config()}``.

    Raises
    ------
    TypeError
        If its class is not registered.
    """
    return {"type": _name_of(searcher, "searcher", "register_searcher"), **searcher.get_config()}


def candidates_config(candidates: CandidateSet) -> dict[str, Any]:
    """The configuration of a candidate set: ``{"type": <registered name>, **candidates.get_config()}``.

    Raises
    ------
    TypeError
        If its class is not registered.
    """
    return {"type": _name_of(candidates, "candidate set", "register_candidates"), **candidates.get_config()}


def candidates_from_config(config: Any, where: str = "candidates") -> CandidateSet:
    """The candidate set of a configuration (see the module doc), its arguments checked first.

    Raises
    ------
    ValueError
        On an unknown type, an unknown argument or a bad value; the message starts with
        ``where`` and the type.
    """
    if not isinstance(config, Mapping) or "type" not in config:
        raise ValueError(f"{where} must be a table with a 'type' key, got {config!r}")
    try:
        cls = candidates_class(config["type"])
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from None
    params = {k: v for k, v in config.items() if k != "type"}
    try:
        return cls.from_config(params)
    except (ValueError, TypeError) as e:
        msg = str(e)
        prefix = f"{where} {config['type']}"
        raise ValueError(msg if msg.startswith(where) else f"{prefix}: {msg}") from None


# ------------------------------------------------------------------------------ argument checks


def describe_type(hint: Any) -> str:
    """A type annotation in words (for error messages)."""
    words = {bool: "a boolean (true or false)", int: "an integer", float: "a number", str: "a string"}
    if hint in words:
        return words[hint]
    if typing.get_origin(hint) is Union:
        return " or ".join(describe_type(a) for a in typing.get_args(hint) if a is not type(None))
    if typing.get_origin(hint) is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(hint))
    return getattr(hint, "__name__", str(hint))


def matches_type(value: Any, hint: Any) -> bool:
    """Whether a configuration value fits a constructor's type annotation (a bool is not an
    int, an int is a float; annotations it cannot judge accept anything)."""
    if hint is Any or isinstance(hint, TypeVar):
        return True
    origin = typing.get_origin(hint)
    if origin is Union:
        return any(matches_type(value, a) for a in typing.get_args(hint))
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


def check_arguments(cls: Any, kwargs: Mapping[str, Any], fixed: Sequence[str] = (), separate: Sequence[str] = ()) -> None:
    """Checks the names and types of constructor arguments against the constructor of ``cls``.

    Parameters
    ----------
    cls : class
    kwargs : mapping
        Argument names to values.
    fixed : sequence of str
        Arguments that may not be given here (set by the caller).
    separate : sequence of str
        Arguments whose type the caller checks itself.

    Raises
    ------
    ValueError
        ``unknown key ['x'] for Cls (allowed: [...])`` or ``x = 'a' is not an integer``.
    """
    params = inspect.signature(cls).parameters
    accepted = [n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and n not in fixed]
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        hint = did_you_mean(unknown[0], accepted) if len(unknown) == 1 else ""
        raise ValueError(f"unknown key{'s' if len(unknown) > 1 else ''} {unknown} for {cls.__name__} (allowed: {accepted}){hint}")
    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:  # noqa: BLE001 - annotations that cannot be resolved: the constructor checks the values
        hints = {}
    for key, value in kwargs.items():
        if key in hints and key not in separate and not matches_type(value, hints[key]):
            raise ValueError(f"{key} = {value!r} is not {describe_type(hints[key])}")


def constructor_arguments(cls: type, skip: Sequence[str] = ()) -> list[str]:
    """The named constructor arguments of ``cls`` (not ``*args``/``**kwargs``), in order."""
    params = inspect.signature(cls).parameters
    return [n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and n not in skip]


def config_of(obj: Any, skip: Sequence[str] = ()) -> dict[str, Any]:
    """The configuration of ``obj`` read from its attributes: every named constructor argument
    (but ``skip``) stored under its own name, as scikit-learn estimators do; a candidate set as
    its configuration.

    Raises
    ------
    TypeError
        If an argument is not stored under its name, or its value is not a JSON value.
    """
    from .candidates import CandidateSet

    out: dict[str, Any] = {}
    for name in constructor_arguments(type(obj), skip):
        if not hasattr(obj, name):
            raise TypeError(
                f"{type(obj).__name__}.get_config: the constructor argument {name!r} is not an attribute; store each "
                "argument under its own name, or override get_config()"
            )
        value = _plain(getattr(obj, name))
        if isinstance(value, CandidateSet):
            value = candidates_config(value)
        elif not _is_json(value):
            raise TypeError(
                f"{type(obj).__name__}.get_config: {name} = {value!r} is not a JSON value (None, a bool, a number, a "
                "string, or a list or dict of them); override get_config() to describe it"
            )
        out[name] = value
    return out


def _plain(value: Any) -> Any:
    """numpy scalars as Python numbers and tuples as lists (as they read back from JSON)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _is_json(value: Any) -> bool:
    if value is None or isinstance(value, (bool, int, float, str)):
        return not isinstance(value, float) or value == value and value not in (float("inf"), float("-inf"))
    if isinstance(value, (list, tuple)):
        return all(_is_json(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json(v) for k, v in value.items())
    return False
