"""Named benchmarks: the tables shipped with nasfast and the ones imported into the data directory."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Union

from ._table import TableFormatError, TabularBenchmark, read_table, read_table_meta

__all__ = ["BUILTIN", "available", "check_name", "data_dir", "load"]

#: Directory of the shipped tables (inside the package).
PACKAGE_DATA = Path(__file__).resolve().parent.parent / "data"
#: Built-in benchmarks: name -> (file in the package data, one-line description).
BUILTIN: dict[str, tuple[str, str]] = {
    "nb101-real20k": (
        "nb101-real20k.npz",
        "20,001 real NAS-Bench-101 cells (one training run each): val_acc_4/12/36/108, train_time_108_s, params",
    ),
    "nb101-surrogate": (
        "nb101-surrogate.npz",
        "all 423,624 NAS-Bench-101 cells: val_acc_108 and train_time_108_s predicted by a surrogate fit on nb101-real20k",
    ),
}
#: Name under which ``nasfast bench import nb101`` saves the official data set.
FULL_NAME = "nb101-full"
_CACHE: dict[tuple[str, int, int], TabularBenchmark] = {}


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def check_name(name: str) -> str:
    """A name a table can be saved under in :func:`data_dir` (``<name>.npz``): letters, digits,
    ``.``, ``_`` and ``-``, not the name of a built-in benchmark (which would hide it)."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or name.endswith(".npz"):
        raise ValueError(f"benchmark name {name!r} is not allowed: use letters, digits, '.', '_' and '-' (no '.npz')")
    if name in BUILTIN:
        raise ValueError(f"benchmark name {name!r} is the name of a built-in benchmark: choose another")
    return name


def data_dir() -> Path:
    """Directory of imported benchmarks: ``$NASFAST_DATA_DIR``, default ``~/.cache/nasfast``."""
    return Path(os.environ.get("NASFAST_DATA_DIR") or "~/.cache/nasfast").expanduser()


def _imported() -> dict[str, Path]:
    """Tables in :func:`data_dir` by name (``*.npz`` files; an interrupted save's temporary file
    is named ``.<name>.npz.<pid>.<random>.tmp`` and never listed)."""
    folder = data_dir()
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.glob("*.npz")) if not p.name.startswith(".") and p.is_file()}


def available() -> dict[str, str]:
    """Names of the benchmarks :func:`load` accepts, each with a one-line description.

    Returns
    -------
    dict of str to str
        The built-in benchmarks, then those imported into :func:`data_dir` (e.g. ``nb101-full``
        after ``nasfast bench import nb101 PATH``). A file there that is not a valid table is
        listed as unreadable, with the reason; it does not stop the others from being listed
        or loaded.
    """
    out = {name: desc for name, (_, desc) in BUILTIN.items()}
    for name, path in _imported().items():
        if name in out:
            continue
        try:
            meta = read_table_meta(path)
            out[name] = f"{meta['description'] or 'imported table'} ({meta['size']:,} cells, {path})"
        except (OSError, TableFormatError) as exc:
            out[name] = f"unreadable: {exc}"
    return out


def load(name: Union[str, Path]) -> TabularBenchmark:
    """Load a benchmark by name (see :func:`available`) or from a ``.npz`` file it saved.

    Loading reads the compact table only: the cells are built from the enumeration of the space
    on first use of ``.cells``, ``query`` or ``cost``. A file is read once per process.

    Parameters
    ----------
    name : str or Path
        ``"nb101-real20k"``, ``"nb101-surrogate"``, the name of a table imported into
        :func:`data_dir` (``"nb101-full"``), or a path to a ``.npz`` table.

    Returns
    -------
    TabularBenchmark

    Raises
    ------
    KeyError
        If the name is unknown (the message lists the available names and, for ``nb101-full``,
        how to import it).
    TableFormatError
        If the file is not a valid table: truncated, corrupt, inconsistent or of another format
        version (a ``ValueError``; the message names the file).
    """
    key = str(name)
    if key in BUILTIN:
        path = PACKAGE_DATA / BUILTIN[key][0]
    elif key in _imported():
        path = _imported()[key]
    elif key.endswith(".npz") and Path(key).is_file():
        path = Path(key)
    else:
        hint = ""
        if key == FULL_NAME:
            hint = (
                f" Import the official file first: `nasfast bench import nb101 path/to/nasbench_only108.tfrecord` "
                f"(saves to {data_dir()}, set NASFAST_DATA_DIR to change it)."
            )
        raise KeyError(f"unknown benchmark {key!r}; available: {sorted(available())}.{hint}")
    stat = path.stat()
    cache_key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    if cache_key not in _CACHE:
        _CACHE[cache_key] = read_table(path)
    return _CACHE[cache_key]
