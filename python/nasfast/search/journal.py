"""Crash-safe journal of a search: JSON lines sealed with a checksum, flushed and fsynced one by one.

Line format (version 3); every line is one JSON object with ``"v": 3``, a ``"type"`` and, as
its last key, ``"crc"``: eight hex digits, the CRC-32 of the line's bytes before ``,"crc":``
continued from the CRC of the line before (see :mod:`nasfast._jsonline`), so that a changed,
removed, repeated or reordered line is detected, not replayed:

* ``header`` (first line): ``searcher`` (its configuration in the schema of
  :mod:`nasfast.search.registry`: ``{"type": <registered name>, <argument>: <value>, ...}``, a
  candidate set as ``{"type": ..., ...}`` in turn), ``space`` (``max_vertices``, ``max_edges``,
  ``ops``), ``universe`` (SHA-256 of the sorted fingerprints of the universe, or ``null``),
  ``seed`` (the int seed of the run).
* ``ask``: ``iteration``, ``candidate_set_size`` and ``cells`` (a list of ``[adjacency, ops]``
  pairs: the n x n matrix as n*n ``0``/``1`` characters and the n op codes).
* ``tell``: one result: ``cell`` (as above), ``fingerprint`` (hex), ``value`` and ``cost``
  (``null`` for NaN), ``error`` (``null`` or the error text), ``attempts`` and ``wall_time``.

Resuming replays the search with the journal's seed: every ask is recomputed and checked
against the journal, and every recorded result is told again instead of being evaluated; the
first ask or result missing from the journal continues the search for real. A last line cut
short by a crash (no newline at its end) is reported (``JournalWarning``) and removed; any other
damaged line (checksum, JSON, a missing or ill-typed field) is refused with
:class:`JournalCorruptError` naming the file and the line; a journal of another space,
searcher, configuration, universe or seed is refused (``JournalMismatchError``).

Journals of earlier versions are refused with a message that says so: version 1 (lines without
checksums) cannot be checked, version 2 recorded the searcher's class name and configuration
apart, with candidate sets as ``{"strategy": ..., "strategies": ...}``; appending version-3
lines to either would leave a file of two formats. Finish such a search with the nasfast that
started it.
"""

from __future__ import annotations

import json
import math
import os
import re
import warnings
from pathlib import Path
from typing import Any, Callable, Optional, Union

from .._core import NasfastError
from .._jsonline import SealError, seal, unseal

JOURNAL_VERSION = 3

__all__ = [
    "JOURNAL_VERSION",
    "Journal",
    "JournalCorruptError",
    "JournalMismatchError",
    "JournalWarning",
    "read_header",
]


class JournalMismatchError(NasfastError, ValueError):
    """The journal cannot be continued by this search: it was written by a different search
    (space, searcher, configuration, seed or universe), is damaged
    (:class:`JournalCorruptError`), or the replay of the search diverged from it."""


class JournalCorruptError(JournalMismatchError):
    """A line of the journal was changed after it was written (its checksum does not match, or
    a field is missing or of the wrong type). The message names the file and the line."""


class JournalWarning(UserWarning):
    """A recoverable problem with a journal (a truncated last line)."""


_HEX64 = re.compile(r"[0-9a-f]{1,16}")


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _is_cell(x: Any) -> bool:
    return (
        isinstance(x, list)
        and len(x) == 2
        and isinstance(x[0], str)
        and isinstance(x[1], list)
        and all(_is_int(o) for o in x[1])
    )


def _is_space(x: Any) -> bool:
    return (
        isinstance(x, dict)
        and _is_int(x.get("max_vertices"))
        and _is_int(x.get("max_edges"))
        and isinstance(x.get("ops"), list)
        and all(isinstance(o, str) for o in x["ops"])
    )


#: The fields of each record type: a check and what it expects (for the error message).
_FIELDS: dict[str, dict[str, tuple[Callable[[Any], bool], str]]] = {
    "header": {
        "searcher": (lambda x: isinstance(x, dict) and isinstance(x.get("type"), str), "a searcher configuration {type, ...}"),
        "space": (_is_space, "a space {max_vertices, max_edges, ops}"),
        "universe": (lambda x: x is None or isinstance(x, str), "null or a digest"),
        "seed": (lambda x: _is_int(x) and x >= 0, "a non-negative int"),
    },
    "ask": {
        "iteration": (lambda x: _is_int(x) and x >= 0, "a non-negative int"),
        "candidate_set_size": (lambda x: _is_int(x) and x >= 0, "a non-negative int"),
        "cells": (lambda x: isinstance(x, list) and len(x) > 0 and all(_is_cell(c) for c in x), "a list of [adjacency, ops] cells"),
    },
    "tell": {
        "cell": (_is_cell, "an [adjacency, ops] cell"),
        "fingerprint": (lambda x: isinstance(x, str) and _HEX64.fullmatch(x) is not None, "a hex fingerprint"),
        "value": (lambda x: x is None or _is_number(x), "null or a finite number"),
        "cost": (lambda x: x is None or _is_number(x), "null or a finite number"),
        "error": (lambda x: x is None or isinstance(x, str), "null or an error text"),
        "attempts": (lambda x: _is_int(x) and x >= 0, "a non-negative int"),
        "wall_time": (_is_number, "a finite number"),
    },
}


def _short(x: Any, n: int = 80) -> str:
    text = repr(x)
    return text if len(text) <= n else text[: n - 3] + "..."


def _where(path: Path, k: int) -> str:
    return f"journal {str(path)!r}, line {k}"


#: What the versions before :data:`JOURNAL_VERSION` were.
_EARLIER = {
    1: "lines without checksums",
    2: "the searcher's class name and configuration apart, candidate sets as {strategy, strategies}",
}


def _version_error(path: Path, v: Any) -> JournalMismatchError:
    if v in _EARLIER:
        return JournalMismatchError(
            f"journal {str(path)!r} has version {v} ({_EARLIER[v]}); this nasfast reads version "
            f"{JOURNAL_VERSION} only: finish that search with the nasfast that started it, or start a new journal"
        )
    return JournalMismatchError(f"journal {str(path)!r} has version {v!r}; this nasfast reads version {JOURNAL_VERSION}")


def _parse_line(path: Path, k: int, line: bytes, previous: int) -> tuple[dict[str, Any], int]:
    """The checked record of line ``k`` (1-based) and its CRC; refuses a damaged line."""
    try:
        rec, crc = unseal(line, previous)
    except SealError as e:
        if k == 1:  # the header of a version-1 journal has no checksum: say so
            try:
                old = json.loads(line.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                old = None
            if isinstance(old, dict) and "crc" not in old and old.get("type") == "header" and old.get("v") != JOURNAL_VERSION:
                raise _version_error(path, old.get("v")) from None
        raise JournalCorruptError(
            f"{_where(path, k)} is damaged: {e} (the line, or one before it, was changed, removed or "
            "reordered after it was written)"
        ) from None
    kind = rec.get("type")
    if k == 1:
        if kind != "header":
            raise JournalCorruptError(f"{_where(path, k)} is not a header (type {_short(kind)})")
        if rec.get("v") != JOURNAL_VERSION:
            raise _version_error(path, rec.get("v"))
    elif kind == "header":
        raise JournalCorruptError(f"{_where(path, k)} is a second header")
    if kind not in _FIELDS:
        raise JournalCorruptError(f"{_where(path, k)} has an unknown type {_short(kind)}")
    if rec.get("v") != JOURNAL_VERSION:
        raise JournalCorruptError(f"{_where(path, k)} has version {_short(rec.get('v'))}, the journal {JOURNAL_VERSION}")
    for key, (ok, expected) in _FIELDS[kind].items():
        if key not in rec:
            raise JournalCorruptError(f"{_where(path, k)}: the {kind} record has no {key!r}")
        if not ok(rec[key]):
            raise JournalCorruptError(f"{_where(path, k)}: {key} = {_short(rec[key])} is not {expected}")
    return rec, crc


def read_header(path: Union[str, os.PathLike[str]]) -> dict[str, Any]:
    """The header of the journal at ``path`` (its checksum, version and fields checked).

    Raises
    ------
    FileNotFoundError
        If there is no journal, or it holds no complete header line.
    JournalMismatchError
        If the header is of another version; :class:`JournalCorruptError` if it is damaged.
    """
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        raise FileNotFoundError(f"journal {str(path)!r} does not exist or is empty: there is no search to resume")
    with open(path, "rb") as f:
        first = f.readline()
    if not first.endswith(b"\n"):
        raise FileNotFoundError(
            f"journal {str(path)!r} holds no complete header line (a crash while writing it): there is no search to resume"
        )
    return _parse_line(path, 1, first[:-1], 0)[0]


class Journal:
    """An append-only journal of sealed JSON lines (see the module docs for the format).

    Parameters
    ----------
    path : str or Path
        The journal file.
    header : dict
        The header of this search (without ``v`` and ``type``).
    resume : bool
        ``False``: start a new journal (an existing non-empty file is refused). ``True``: read
        the existing journal (if any), check every line and the header, and continue it.

    Attributes
    ----------
    asks, tells : list of dict
        The ``ask`` and ``tell`` records read from an existing journal (empty for a new one).
    ask_lines, tell_lines : list of int
        Their line numbers (1-based), for error messages.
    resumed : bool
        Whether an existing journal (a header at least) was read; its seed is then :attr:`seed`.
    truncated : bool
        Whether a cut-short last line was found and removed.

    Raises
    ------
    JournalCorruptError
        If a line other than a cut-short last one is damaged (the message names the line).
    JournalMismatchError
        If the journal was written by another search or another version.
    """

    def __init__(self, path: Union[str, os.PathLike[str]], header: dict[str, Any], resume: bool) -> None:
        self.path = Path(path)
        self.asks: list[dict[str, Any]] = []
        self.tells: list[dict[str, Any]] = []
        self.ask_lines: list[int] = []
        self.tell_lines: list[int] = []
        self.truncated = False
        self.resumed = False
        self._crc = 0
        self.header = {"v": JOURNAL_VERSION, "type": "header", **header}
        existing = self.path.exists() and self.path.stat().st_size > 0
        if existing and not resume:
            raise FileExistsError(
                f"journal {str(self.path)!r} already exists: pass resume=True to continue it, "
                "or remove it to start a new search"
            )
        if existing:
            self._read()
        self._file = open(self.path, "a", encoding="ascii")
        if not self.resumed:
            self.write(self.header)

    def _read(self) -> None:
        with open(self.path, "rb") as f:
            data = f.read()
        lines = data.split(b"\n")
        records: list[tuple[int, dict[str, Any]]] = []
        crc = 0
        good_end = 0
        pos = 0
        cells_asked = 0
        results = 0
        for k, line in enumerate(lines, start=1):
            if k == len(lines):  # the text after the last newline: a write cut short
                self.truncated = bool(line)
                break
            pos += len(line) + 1
            # an empty line is damage too (the writer never writes one): a newline written over
            # a line's first byte must be refused, not skipped
            rec, crc = _parse_line(self.path, k, line, crc)
            if rec["type"] == "ask":
                cells_asked += len(rec["cells"])
            elif rec["type"] == "tell":
                results += 1
                if results > cells_asked:
                    raise JournalCorruptError(f"{_where(self.path, k)}: a result for a cell that was never asked")
            records.append((k, rec))
            good_end = pos
        if records:  # checked before the file is touched
            head = records[0][1]
            self._check_same_search(head)
        if self.truncated:
            warnings.warn(
                f"journal {str(self.path)!r}: its last line was cut short (a crash while writing); "
                "it is ignored and removed",
                JournalWarning,
                stacklevel=4,
            )
            with open(self.path, "r+b") as f:
                f.truncate(good_end)
                f.flush()
                os.fsync(f.fileno())
        if not records:  # nothing but a cut-short header: a new journal
            with open(self.path, "r+b") as f:
                f.truncate(0)
            return
        self.header["seed"] = head["seed"]
        self.resumed = True
        self._crc = crc
        for k, rec in records[1:]:
            if rec["type"] == "ask":
                self.asks.append(rec)
                self.ask_lines.append(k)
            else:
                self.tells.append(rec)
                self.tell_lines.append(k)

    def _check_same_search(self, head: dict[str, Any]) -> None:
        """Refuses a journal whose header describes another search than :attr:`header`."""
        old, new = head["searcher"], self.header["searcher"]
        if old.get("type") != new.get("type"):
            raise JournalMismatchError(
                f"journal {str(self.path)!r} was written by a different searcher: {old.get('type')!r}, this search is "
                f"{new.get('type')!r}"
            )
        if old != new:
            keys = sorted(k for k in set(old) | set(new) if old.get(k, "(absent)") != new.get(k, "(absent)"))
            diffs = "; ".join(f"{k} = {old.get(k, '(absent)')!r} in the journal, {new.get(k, '(absent)')!r} here" for k in keys)
            raise JournalMismatchError(f"journal {str(self.path)!r} was written for a different config of {new['type']}: {diffs}")
        for key in ("space", "universe"):
            if head.get(key) != self.header.get(key):
                raise JournalMismatchError(
                    f"journal {str(self.path)!r} was written for a different {key}: "
                    f"{head.get(key)!r}, this search has {self.header.get(key)!r}"
                )

    @property
    def seed(self) -> Optional[int]:
        """The seed of the journal's search."""
        s = self.header.get("seed")
        return None if s is None else int(s)

    def write(self, record: dict[str, Any]) -> None:
        """Append one record as a sealed line, then flush and fsync."""
        if "v" not in record:
            record = {"v": JOURNAL_VERSION, **record}
        line, crc = seal(record, self._crc)
        self._file.write(line + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())
        self._crc = crc

    def close(self) -> None:
        """Close the file."""
        self._file.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
