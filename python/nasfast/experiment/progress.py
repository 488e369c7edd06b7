"""The progress line of a study: runs done, elapsed time and the time left."""

from __future__ import annotations

import math
import sys
import time
from typing import Optional, TextIO

__all__ = ["Progress"]


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class Progress:
    """A progress bar on a text stream: runs done, elapsed time and estimated time left.

    On a terminal the line is redrawn in place; otherwise a line is printed at every 10% step
    and at least every 30 seconds.

    Parameters
    ----------
    total : int
        Runs in the study.
    done : int
        Runs already complete (resumed); they do not count towards the time estimate.
    stream : text stream, default sys.stderr
    enabled : bool, default True
    """

    def __init__(self, total: int, done: int = 0, stream: Optional[TextIO] = None, enabled: bool = True) -> None:
        self.total = total
        self.resumed = done
        self.done = done
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.start = time.perf_counter()
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last_decile = -1
        self._last_write = -math.inf

    def line(self) -> str:
        """The current progress line."""
        elapsed = time.perf_counter() - self.start
        width = 30
        frac = self.done / self.total if self.total else 1.0
        bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
        fresh = self.done - self.resumed
        if self.done >= self.total:
            eta = "done"
        elif fresh > 0:
            eta = "ETA " + _clock(elapsed / fresh * (self.total - self.done))
        else:
            eta = "ETA ?"
        resumed = f" ({self.resumed} resumed)" if self.resumed else ""
        return f"runs {self.done}/{self.total}{resumed} [{bar}] {100 * frac:5.1f}%  elapsed {_clock(elapsed)}  {eta}"

    def update(self, n: int = 1) -> None:
        """Count ``n`` more finished runs and redraw."""
        self.done += n
        self.draw()

    def draw(self) -> None:
        """Show the current line."""
        if not self.enabled:
            return
        if self._tty:
            end = "\n" if self.done >= self.total else ""
            self.stream.write("\r" + self.line() + end)
        else:
            decile = int(10 * self.done / self.total) if self.total else 10
            now = time.perf_counter()
            if decile == self._last_decile and now - self._last_write < 30.0:
                return
            self._last_decile = decile
            self._last_write = now
            self.stream.write(self.line() + "\n")
        self.stream.flush()
