"""The files of a study folder and how they are written and read back.

A study folder ``OUT`` holds ``OUT/runs/<benchmark>__<arm>__<run>.json`` (one record per
run), ``OUT/runs.jsonl`` (the same lines, assembled at the end, in the study's run order) and
``OUT/experiment.json`` (the study). Each of them is a JSON object per line sealed with a CRC-32
checksum (:mod:`nasfast._jsonline`), so a damaged line is told from a good one; every file is
written atomically (temporary file, fsync, then ``os.replace``), so a crash leaves the old file
or the new one, never a mix.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

from nasfast._jsonline import SealError, seal, unseal

__all__ = ["RUNS_DIR", "RUNS_FILE", "STUDY_FILE", "write_atomic", "write_sealed_atomic", "read_sealed", "read_record"]

#: Folder of the per-run records, inside the study folder.
RUNS_DIR = "runs"
#: Every record of the study, one line each, in run order.
RUNS_FILE = "runs.jsonl"
#: The study (``ExperimentConfig.to_dict()``), one sealed line.
STUDY_FILE = "experiment.json"


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a fsynced temporary file and ``os.replace``: a crash
    leaves the old file or the new one, never a mix."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="ascii") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_sealed_atomic(path: Path, obj: dict[str, Any]) -> None:
    """Write a JSON object to ``path`` as one line sealed with its checksum
    (:func:`nasfast._jsonline.seal`), atomically."""
    write_atomic(path, seal(obj, allow_nan=True)[0] + "\n")


def read_sealed(path: Path) -> tuple[dict[str, Any], bytes]:
    """The object of a file written by :func:`write_sealed_atomic`, and its line.

    Raises
    ------
    FileNotFoundError
        If there is no file.
    ValueError
        If the file is damaged (cut short, or its checksum does not match); the message names
        the file and the problem.
    """
    data = path.read_bytes()
    if not data.endswith(b"\n") or data.count(b"\n") != 1:
        raise ValueError(f"{path} is damaged: it is not one complete line (cut short or edited)")
    line = data[:-1]
    try:
        obj, _ = unseal(line)
    except SealError as e:
        raise ValueError(f"{path} is damaged: {e}") from None
    return obj, line


def read_record(path: Path) -> tuple[Optional[dict[str, Any]], Optional[bytes], str]:
    """(record, its line, "") of a run record, or (None, None, what is wrong with it)."""
    try:
        rec, line = read_sealed(path)
    except FileNotFoundError:
        return None, None, "missing"
    except ValueError as e:
        return None, None, str(e)
    if not isinstance(rec.get("task"), dict):
        return None, None, f"{path} is damaged: it holds no run description"
    return rec, line, ""
