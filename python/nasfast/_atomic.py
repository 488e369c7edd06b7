"""Atomic file replacement: a reader sees the old file or the new one, never a part of either."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Union

__all__ = ["atomic_write"]


@contextlib.contextmanager
def atomic_write(path: Union[str, Path]) -> Iterator[BinaryIO]:
    """Write ``path`` through a temporary file in the same folder, fsync it, then rename it over.

    Yields a binary file open for writing. When the block ends without an exception the data are
    flushed and fsynced, the temporary file is renamed to ``path`` (``os.replace``, atomic on
    POSIX and Windows) and the folder is fsynced, so that the rename survives a crash. When the
    block raises, the temporary file is removed and ``path`` is left as it was. A process killed
    in the middle leaves ``path`` untouched and a ``.<name>.<pid>.<random>.tmp`` file beside it
    (a name no reader of ``*.npz`` or ``*.json`` picks up).

    Parameters
    ----------
    path : str or Path
        The file to create or replace; its folder is created if needed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    # os.open with 0o666 applies the umask, as open(path, "wb") would (mkstemp would give 0o600).
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    """Makes a rename in ``folder`` durable (POSIX; a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
