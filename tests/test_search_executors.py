"""Evaluation in executors: the history is the same inline, in a process pool and on Dask."""

from __future__ import annotations

import multiprocessing
import site
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.ensemble import RandomForestRegressor

from nasfast import CellBatch, SearchSpace
from nasfast.search import BenchmarkEvaluator, Neighbourhood, PredictorSearch, RegularizedEvolution
from test_search import Table

TESTS_DIR = str(Path(__file__).resolve().parent)


class JitteryEvaluator:
    """Looks cells up in a synthetic table after a pseudo-random delay, so that results arrive
    out of order (picklable by reference: workers import this module)."""

    def __init__(self, table: Table) -> None:
        self.inner = BenchmarkEvaluator(table)

    def __call__(self, cells: CellBatch) -> Any:
        time.sleep(0.002 * (int(cells.fingerprints()[0]) % 17))
        return self.inner(cells)


def searchers(space: SearchSpace) -> list[Any]:
    return [
        PredictorSearch(
            space,
            predictor=RandomForestRegressor(n_estimators=10, min_samples_leaf=2),
            candidates=Neighbourhood(top_k=3),
            n_initial=6,
            batch_size=4,
            random_state=3,
        ),
        RegularizedEvolution(space, population=8, sample_size=3, batch_size=4, random_state=3),
    ]


def test_process_pool_gives_the_inline_history(space5: SearchSpace, table: Table) -> None:
    ev = JitteryEvaluator(table)
    inline = [s.run(ev, 24).history_ for s in searchers(space5)]
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2, mp_context=ctx, initializer=site.addsitedir, initargs=(TESTS_DIR,)) as pool:
        pooled = [s.run(ev, 24, executor=pool).history_ for s in searchers(space5)]
    for a, b in zip(inline, pooled):
        assert a.equals(b)
        np.testing.assert_array_equal(b.values, table.query(b.cells))


def test_dask_local_cluster_gives_the_inline_history(space5: SearchSpace, table: Table) -> None:
    distributed = pytest.importorskip("distributed", reason="Dask is an optional extra: pip install 'nasfast[dask]'")
    ev = JitteryEvaluator(table)
    inline = [s.run(ev, 24).history_ for s in searchers(space5)]
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            client.run(site.addsitedir, TESTS_DIR)
            on_dask = [s.run(ev, 24, executor=client).history_ for s in searchers(space5)]
    for a, b in zip(inline, on_dask):
        assert a.equals(b)
