"""JSON objects sealed with a checksum, one per line: the files nasfast appends to or reads back
(search journals, the run records and ``runs.jsonl`` of a study) can tell a damaged line from a
good one.

A sealed line is a JSON object whose last key is ``"crc"``, eight lowercase hex digits::

    {"v":2,"type":"ask",...,"crc":"1c291ca3"}

The checksum is the CRC-32 of the line's bytes before ``,"crc":`` (the object without its
closing brace), continued from a *previous* CRC: ``zlib.crc32(body, previous)``. A file whose
lines must stay in order (a journal) passes the CRC of the line before, so that each checksum
covers every line up to its own and a removed, repeated or reordered line is caught as well as
an edited one; independent records pass 0.

Why CRC-32 (``zlib.crc32``, the standard library): it detects every error burst of up to 32
bits, so every edit of one byte (and of up to four adjacent bytes), and misses a random
corruption with probability 2^-32; that is what line integrity against crashes, disk faults and
stray edits needs. It is not a defence against deliberate tampering, which no checksum stored
beside the data can be. CRC-32C would detect exactly the same bursts; zlib's CRC-32 needs no
dependency and runs at memory speed.
"""

from __future__ import annotations

import json
import re
import zlib
from typing import Any

__all__ = ["seal", "unseal", "SealError"]

_SEALED = re.compile(rb'(\{.*),"crc":"([0-9a-f]{8})"\}')


class SealError(ValueError):
    """A line that is not a sealed JSON object, or whose checksum does not match."""


def seal(obj: dict[str, Any], previous: int = 0, *, allow_nan: bool = False) -> tuple[str, int]:
    """The sealed line of a JSON object (without a newline) and its CRC.

    Parameters
    ----------
    obj : dict
        A non-empty JSON object without a ``"crc"`` key.
    previous : int
        The CRC to continue from (0 for an independent line).
    allow_nan : bool
        Write NaN and infinities as ``NaN``/``Infinity`` (not JSON; Python reads them back).

    Returns
    -------
    line : str
        ASCII text: non-ASCII characters are escaped, so the line is its own byte string.
    crc : int
        Its checksum, the ``previous`` of the next line of a chained file.
    """
    if not isinstance(obj, dict) or not obj or "crc" in obj:
        raise ValueError(f"only a non-empty JSON object without a 'crc' key can be sealed, got {obj!r}")
    body = json.dumps(obj, separators=(",", ":"), allow_nan=allow_nan)[:-1]
    crc = zlib.crc32(body.encode("ascii"), previous)
    return f'{body},"crc":"{crc:08x}"}}', crc


def unseal(line: bytes, previous: int = 0) -> tuple[dict[str, Any], int]:
    """The JSON object of a sealed line (its ``"crc"`` key removed) and the line's CRC.

    Parameters
    ----------
    line : bytes
        One line, without its newline.
    previous : int
        The CRC the line's checksum continues from.

    Raises
    ------
    SealError
        If the line does not end with a checksum, the checksum does not match, or the checked
        text is not a JSON object; the message says which (the caller names the file and line).
    """
    m = _SEALED.fullmatch(line)
    if m is None:
        raise SealError("it does not end with a checksum")
    crc = int(m.group(2), 16)
    if zlib.crc32(m.group(1), previous) != crc:
        raise SealError("its checksum does not match")
    try:
        obj = json.loads(line.decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        raise SealError("its checksum matches but it is not JSON") from None
    if not isinstance(obj, dict):  # pragma: no cover - the pattern requires an object
        raise SealError("it is not a JSON object")
    obj.pop("crc", None)
    return obj, crc
