"""The real NAS-Bench-101 data of the tests and benches: compressed copies in ``tests/data``.

Every test and bench reads the real cells from here (never from a folder outside the
repository), so a fresh clone runs all of them. ``tests/data/README.md`` gives the source, the
licence and the SHA-256 of each decompressed file, which :func:`check_digests` verifies.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import json
import lzma
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent / "data"
#: The 20,001 real cells (``nb101_real20k.csv``, xz-compressed).
REAL20K = DATA_DIR / "nb101_real20k.csv.xz"
#: Full records of 30 cells (``nb101_naslib_dummy30.json``, xz-compressed).
DUMMY30 = DATA_DIR / "nb101_naslib_dummy30.json.xz"
#: SHA-256 of the decompressed files (as in ``tests/data/README.md``).
SHA256 = {
    REAL20K.name: "3d6a94705825f80da5b33b7a3e24e02d481abfcb74d54f75cf0fdf120d18a976",
    DUMMY30.name: "7f63a7f698a37aa816a72ff4fa3d6a84f03005947991f1dffc04123384659936",
}


@functools.cache
def _decompressed(path: Path) -> bytes:
    return lzma.decompress(path.read_bytes())


def check_digests() -> dict[str, str]:
    """The SHA-256 of every decompressed data file, by file name (compare with :data:`SHA256`)."""
    return {p.name: hashlib.sha256(_decompressed(p)).hexdigest() for p in (REAL20K, DUMMY30)}


def real20k_rows() -> list[dict[str, str]]:
    """The rows of ``nb101_real20k.csv`` as ``csv.DictReader`` gives them (a new list each call)."""
    text = _decompressed(REAL20K).decode("utf-8")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def real20k_csv(folder: Path) -> Path:
    """Writes the decompressed ``nb101_real20k.csv`` into ``folder`` and returns its path."""
    path = Path(folder) / "nb101_real20k.csv"
    path.write_bytes(_decompressed(REAL20K))
    return path


def dummy30() -> dict[str, Any]:
    """The records of ``nb101_naslib_dummy30.json``: ``{hash: record}``."""
    return json.loads(_decompressed(DUMMY30))
