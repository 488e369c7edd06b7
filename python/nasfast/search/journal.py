"""Crash-safe journal of a search: JSON lines, flushed and fsynced one by one.

Line format (version 1); every line is one JSON object with ``"v": 1`` and a ``"type"``:

* ``header`` (first line): ``searcher`` (class name), ``config`` (the searcher's parameters),
  ``space`` (``max_vertices``, ``max_edges``, ``ops``), ``universe`` (SHA-256 of the sorted
  fingerprints of the universe, or ``null``), ``seed`` (the int seed of the run).
* ``ask``: ``iteration``, ``candidate_set_size`` and ``cells`` (a list of ``[adjacency, ops]``
  pairs: the n x n matrix as n*n ``0``/``1`` characters and the n op codes).
* ``tell``: one result: ``cell`` (as above), ``fingerprint`` (hex), ``value`` and ``cost``
  (``null`` for NaN), ``error`` (``null`` or the error text), ``attempts`` and ``wall_time``.

Resuming replays the search with the journal's seed: every ask is recomputed and checked
against the journal, and every recorded result is told again instead of being evaluated; the
first ask or result missing from the journal continues the search for real. A last line cut
short by a crash is reported (``JournalWarning``) and removed; a journal of another space,
searcher, configuration or universe is refused (``JournalMismatchError``).
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any, Optional, Union

JOURNAL_VERSION = 1

__all__ = ["JOURNAL_VERSION", "Journal", "JournalMismatchError", "JournalWarning", "read_header"]


class JournalMismatchError(ValueError):
    """The journal was written by a different search (space, searcher, configuration, seed or
    universe), or the replay of the search diverged from it."""


class JournalWarning(UserWarning):
    """A recoverable problem with a journal (a truncated last line)."""


def read_header(path: Union[str, "os.PathLike[str]"]) -> dict[str, Any]:
    """The header line of the journal at ``path`` (checked for its type and version)."""
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        raise FileNotFoundError(f"journal {str(path)!r} does not exist or is empty: there is no search to resume")
    with open(path, "rb") as f:
        first = f.readline()
    try:
        head = json.loads(first.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise JournalMismatchError(f"journal {str(path)!r}: the first line is not a JSON header") from None
    if not isinstance(head, dict) or head.get("type") != "header":
        raise JournalMismatchError(f"journal {str(path)!r}: the first line is not a header")
    if head.get("v") != JOURNAL_VERSION:
        raise JournalMismatchError(
            f"journal {str(path)!r} has version {head.get('v')!r}; this nasfast reads version {JOURNAL_VERSION}"
        )
    return head


class Journal:
    """An append-only JSON-lines journal (see the module docs for the format).

    Parameters
    ----------
    path : str or Path
        The journal file.
    header : dict
        The header of this search (without ``v`` and ``type``).
    resume : bool
        ``False``: start a new journal (an existing non-empty file is refused). ``True``: read
        the existing journal (if any), check its header, and continue it.

    Attributes
    ----------
    asks, tells : list of dict
        The ``ask`` and ``tell`` records read from an existing journal (empty for a new one).
    truncated : bool
        Whether a cut-short last line was found and removed.
    """

    def __init__(self, path: Union[str, "os.PathLike[str]"], header: dict[str, Any], resume: bool) -> None:
        self.path = Path(path)
        self.asks: list[dict[str, Any]] = []
        self.tells: list[dict[str, Any]] = []
        self.truncated = False
        self.header = {"v": JOURNAL_VERSION, "type": "header", **header}
        existing = self.path.exists() and self.path.stat().st_size > 0
        if existing and not resume:
            raise FileExistsError(
                f"journal {str(self.path)!r} already exists: pass resume=True to continue it, "
                "or remove it to start a new search"
            )
        if existing:
            self._read()
        self._file = open(self.path, "a", encoding="utf-8")
        if not existing:
            self.write(self.header)

    def _read(self) -> None:
        with open(self.path, "rb") as f:
            data = f.read()
        lines = data.split(b"\n")
        good_end = 0
        records: list[dict[str, Any]] = []
        pos = 0
        for k, line in enumerate(lines):
            end = pos + len(line) + 1
            last = k == len(lines) - 1
            if not line.strip():
                pos = end
                if not last:
                    good_end = end
                continue
            try:
                rec = json.loads(line.decode("utf-8"))
                if last:  # no newline after it: the write was cut short
                    raise ValueError("no end of line")
            except (ValueError, UnicodeDecodeError):
                if not last:
                    raise JournalMismatchError(f"journal {str(self.path)!r}: line {k + 1} is not valid JSON")
                self.truncated = True
                break
            records.append(rec)
            good_end = end
            pos = end
        if self.truncated:
            warnings.warn(
                f"journal {str(self.path)!r}: its last line was cut short (a crash while writing); "
                "it is ignored and removed",
                JournalWarning,
                stacklevel=3,
            )
            with open(self.path, "r+b") as f:
                f.truncate(good_end)
                f.flush()
                os.fsync(f.fileno())
        if not records:
            raise JournalMismatchError(f"journal {str(self.path)!r} has no header line")
        head = records[0]
        if head.get("type") != "header":
            raise JournalMismatchError(f"journal {str(self.path)!r}: the first line is not a header")
        if head.get("v") != JOURNAL_VERSION:
            raise JournalMismatchError(
                f"journal {str(self.path)!r} has version {head.get('v')!r}; this nasfast reads version {JOURNAL_VERSION}"
            )
        for key in ("searcher", "space", "config", "universe"):
            if head.get(key) != self.header.get(key):
                raise JournalMismatchError(
                    f"journal {str(self.path)!r} was written for a different {key}: "
                    f"{head.get(key)!r}, this search has {self.header.get(key)!r}"
                )
        self.header["seed"] = head.get("seed")
        for k, rec in enumerate(records[1:], start=2):
            kind = rec.get("type")
            if kind == "ask":
                self.asks.append(rec)
            elif kind == "tell":
                self.tells.append(rec)
            else:
                raise JournalMismatchError(f"journal {str(self.path)!r}: line {k} has unknown type {kind!r}")

    @property
    def seed(self) -> Optional[int]:
        """The seed of the journal's search."""
        s = self.header.get("seed")
        return None if s is None else int(s)

    def write(self, record: dict[str, Any]) -> None:
        """Append one record as a line, then flush and fsync."""
        if "v" not in record:
            record = {"v": JOURNAL_VERSION, **record}
        self._file.write(json.dumps(record, separators=(",", ":"), allow_nan=False) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        """Close the file."""
        self._file.close()

    def __enter__(self) -> "Journal":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
