"""The worker side of a study: one run, from its task to its record on disk.

:func:`execute_run` is what a worker process executes for each :class:`~nasfast.experiment.task.RunTask`
(and what the study runs in its own process with ``jobs=1``): it loads the benchmark (once per
process), builds the arm's searcher, runs the search and writes the run's record
atomically (:mod:`nasfast.experiment.storage`). Everything here is picklable by reference, as
``spawn``-started workers need.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Union

import numpy as np
import numpy.typing as npt

from nasfast.experiment.config import PREDICTORS, Arm
from nasfast.experiment.storage import write_sealed_atomic
from nasfast.experiment.task import RunTask
from nasfast.metrics import first_occurrences, hitting_time, target_indices

__all__ = ["BenchmarkLoader", "build_searcher", "default_components", "execute_run"]

#: A function from a benchmark name to the benchmark.
BenchmarkLoader = Callable[[str], Any]


@dataclass
class _Prepared:
    bench: Any
    metric: str
    universe: Any
    n_cells: int
    optimum: float
    optimum_keys: npt.NDArray[np.uint64]
    targets: dict[str, npt.NDArray[np.uint64]]


#: Benchmarks and their targets, loaded once per process.
_PREPARED: dict[tuple[Any, ...], _Prepared] = {}


def _prepare(load: BenchmarkLoader, name: str, metric: Optional[str], targets: tuple[str, ...]) -> _Prepared:
    key = (load, name, metric, targets)
    if key not in _PREPARED:
        bench = load(name)
        used = metric if metric is not None else bench.default_metric
        values = np.asarray(bench.values(used), dtype=np.float64)
        keys = np.asarray(bench.cells.fingerprints())
        if values.shape != keys.shape:
            raise ValueError(f"benchmark {name!r}: {values.size} values for {keys.size} cells")
        _PREPARED[key] = _Prepared(
            bench=bench,
            metric=used,
            universe=_universe(bench),
            n_cells=int(values.size),
            optimum=float(np.nanmax(values)),
            optimum_keys=keys[target_indices(values, "optimum")],
            targets={t: keys[target_indices(values, t)] for t in targets},
        )
    return _PREPARED[key]


def _universe(bench: Any) -> Any:
    """``bench.cells`` when the benchmark covers only part of its space, else None."""
    try:
        whole = int(bench.space.count())
    except ValueError:  # SpaceTooLargeError: the benchmark cannot be the whole space
        return bench.cells
    return None if len(bench) == whole else bench.cells


class _StopAtTargets:
    """Stop callable: true once the history holds one of the given cells."""

    def __init__(self, keys: npt.NDArray[np.uint64]) -> None:
        self._keys = keys
        self._checked = 0

    def __call__(self, history: Any) -> bool:
        cells = history.cells
        n = len(cells)
        if n <= self._checked:
            return False
        new = cells[self._checked : n].fingerprints()
        self._checked = n
        return bool(np.isin(new, self._keys).any())


def default_components() -> dict[str, Any]:
    """The registered searchers and candidate sets by name (:mod:`nasfast.search.registry`,
    earlier names included) and ``BenchmarkEvaluator``: the components of a study unless it is
    given others. A study passes this to its worker processes, so that classes registered in
    the main process are found there too (they are sent by reference)."""
    from nasfast.search import BenchmarkEvaluator
    from nasfast.search.registry import registered_components

    return {**registered_components(), "BenchmarkEvaluator": BenchmarkEvaluator}


def _default_loader() -> BenchmarkLoader:
    from nasfast.benchmarks import load

    return load


def _adopt(components: Mapping[str, Any]) -> None:
    """Registers the searcher and candidate-set classes of ``components`` that the registry of
    this process does not know, under their names in ``components``: a worker process adopts
    the classes registered in the study's process (a ``Combined`` candidate set, or a resumed
    journal, finds them by name)."""
    from nasfast.search import CandidateSet, Searcher, registry

    for name, c in components.items():
        if not isinstance(c, type) or registry.registered_name(c) is not None:
            continue
        known = set(registry.searcher_names()) | set(registry.candidate_set_names()) | {"Union"}
        if name in known:
            continue
        if issubclass(c, Searcher):
            registry.register_searcher(c, name=name)
        elif issubclass(c, CandidateSet):
            registry.register_candidates(c, name=name)


def _build_candidates(spec: Mapping[str, Any], components: Mapping[str, Any]) -> Any:
    """A candidate set from its configuration: a registered class reads its own configuration
    (``from_config``: a ``Combined`` builds its ``sets``), any other component is called with
    the arguments."""
    from nasfast.search import CandidateSet

    make = components[spec["type"]]
    args = {k: v for k, v in spec.items() if k != "type"}
    if isinstance(make, type) and issubclass(make, CandidateSet):
        return make.from_config(args)
    return make(**args)


def build_searcher(
    arm: Arm, space: Any, seed: int, universe: Any, components: Mapping[str, Any], n_jobs: Optional[int] = None
) -> Any:
    """Instantiate the searcher of an arm.

    Parameters
    ----------
    arm : Arm
    space : SearchSpace
    seed : int
        ``random_state`` of the searcher.
    universe : CellBatch or None
        The searchable cells when the benchmark covers only part of the space.
    components : mapping
        Names to classes (e.g. :func:`default_components`).
    n_jobs : int, optional
        Threads of the searcher (passed only when given; results do not depend on it).
    """
    params = dict(arm.params)
    if "candidates" in params:
        params["candidates"] = _build_candidates(params["candidates"], components)
    if "predictor" in params:
        spec = dict(params["predictor"])
        cls = getattr(importlib.import_module(PREDICTORS[spec["type"]]), spec.pop("type"))
        params["predictor"] = cls(**spec)
    if n_jobs is not None:
        params["n_jobs"] = n_jobs
    return components[arm.searcher](space, random_state=seed, universe=universe, **params)


def execute_run(
    task: RunTask,
    runs_dir: Union[str, Path],
    load_benchmark: Optional[BenchmarkLoader] = None,
    components: Optional[Mapping[str, Any]] = None,
    n_jobs: Optional[int] = None,
) -> str:
    """Run one search and write its record atomically.

    Parameters
    ----------
    task : RunTask
    runs_dir : path
        Directory of the per-run records.
    load_benchmark : callable, optional
        Benchmark name to benchmark (default ``nasfast.benchmarks.load``).
    components : mapping, optional
        Searcher, candidate-set and ``BenchmarkEvaluator`` classes by name (default
        :func:`default_components`).
    n_jobs : int, optional
        Threads of the searcher (default: the searcher's own default, all cores).

    Returns
    -------
    str
        The record's file name.
    """
    load = load_benchmark if load_benchmark is not None else _default_loader()
    comps = components if components is not None else default_components()
    _adopt(comps)
    prep = _prepare(load, task.benchmark, task.metric, task.targets)
    searcher = build_searcher(task.arm, prep.bench.space, task.seed, prep.universe, comps, n_jobs)
    evaluator = comps["BenchmarkEvaluator"](prep.bench, prep.metric)
    stop = _StopAtTargets(prep.optimum_keys) if task.stop_at_optimum else None
    start = time.perf_counter()
    searcher.run(evaluator, task.budget, stop=stop)
    elapsed = time.perf_counter() - start
    history = searcher.history_
    keys = np.asarray(history.cells.fingerprints(), dtype=np.uint64)
    distinct = keys[first_occurrences(keys)]
    record = {
        "task": task.identity(),
        "metric": prep.metric,
        "space_size": prep.n_cells,
        "optimum": prep.optimum,
        "samples": int(distinct.size),
        "found_optimum": hitting_time(distinct, prep.optimum_keys) is not None,
        "targets": {
            t: {"size": int(prep.targets[t].size), "hit": hitting_time(distinct, prep.targets[t])} for t in task.targets
        },
        "run_time_s": elapsed,
        "fingerprints": [f"{int(k):016x}" for k in keys],
        "history": history.to_dict(),
    }
    write_sealed_atomic(Path(runs_dir) / task.filename, record)
    return task.filename
