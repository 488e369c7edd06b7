"""Threads of the numpy predictors (the MLP ensemble and the graph network).

Their matrix products are small (a batch of 32 cells, layers of 20 to 32 units): a
multi-threaded BLAS spends more time waking its threads than multiplying, and on a busy machine
much more (measured: the MLP ensemble's prediction of 423,624 cells took 5 times longer with 2
BLAS threads than with one). So BLAS runs on one thread inside them, and prediction shares the
blocks of rows among ``n_jobs`` Python threads instead (numpy releases the GIL in its kernels).
Every block is computed the same way whatever the number of threads, so the result does not
depend on it.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Optional

from threadpoolctl import threadpool_limits

__all__ = ["for_blocks", "one_blas_thread"]


def one_blas_thread() -> Any:
    """A context in which BLAS (numpy's matrix products) runs on one thread."""
    return threadpool_limits(limits=1, user_api="blas")


def for_blocks(work: Callable[[int, int], None], n_rows: int, block: int, n_jobs: Optional[int]) -> None:
    """Calls ``work(start, stop)`` for the blocks ``[start, stop)`` of ``block`` rows, on
    ``n_jobs`` threads (``None`` or -1: all cores), with BLAS on one thread."""
    starts = list(range(0, n_rows, block))
    if n_jobs is None or n_jobs == -1:
        threads = os.cpu_count() or 1
    else:
        threads = max(1, int(n_jobs))
    threads = min(threads, len(starts))
    with one_blas_thread():
        if threads <= 1:
            for a in starts:
                work(a, min(a + block, n_rows))
            return
        with ThreadPoolExecutor(threads) as pool:
            for future in [pool.submit(work, a, min(a + block, n_rows)) for a in starts]:
                future.result()
