"""Evaluators: callables that take a ``CellBatch`` and return values (and costs)."""

from __future__ import annotations

import functools
from typing import Any, Optional, Union

import numpy as np
import numpy.typing as npt

from .._core import CellBatch

__all__ = ["BenchmarkEvaluator"]


@functools.lru_cache(maxsize=4)
def _load(name: str) -> Any:
    from ..benchmarks import load

    return load(name)


class BenchmarkEvaluator:
    """Looks cells up in a tabular benchmark.

    Parameters
    ----------
    benchmark : TabularBenchmark or str
        The benchmark, or the name of a built-in one (``nasfast.benchmarks.load``). An evaluator
        made from a name pickles as that name (cheap to send to worker processes, which load
        the benchmark once); one made from an object pickles the whole table.
    metric : str, optional
        The metric to maximise (default: the benchmark's default metric).

    Returns
    -------
    When called with a ``CellBatch``: ``(values, costs)``, two float64 arrays; ``costs`` is the
    benchmark's cost (training seconds) or NaN when it has no cost metric. A cell that is not in
    the table raises the benchmark's ``MissingCellError``.

    Examples
    --------
    >>> from nasfast.search import BenchmarkEvaluator
    >>> evaluate = BenchmarkEvaluator("nb101-real20k")
    >>> values, costs = evaluate(evaluate.benchmark.top(3))
    >>> values.round(4)
    array([0.9491, 0.949 , 0.949 ])
    >>> costs.round(1)  # training seconds
    array([4100.6, 1784.4, 3455.3])
    """

    def __init__(self, benchmark: Union[str, Any], metric: Optional[str] = None) -> None:
        self._name: Optional[str] = None
        if isinstance(benchmark, str):
            self._name = benchmark
            benchmark = _load(benchmark)
        for attr in ("query", "space"):
            if not hasattr(benchmark, attr):
                raise TypeError(f"benchmark must be a TabularBenchmark or a benchmark name, got {type(benchmark).__name__}")
        if metric is not None and metric not in getattr(benchmark, "metrics", [metric]):
            raise ValueError(f"metric {metric!r} is not a metric of {getattr(benchmark, 'name', benchmark)!r}: {benchmark.metrics}")
        self.benchmark = benchmark
        self.metric = metric

    def __call__(self, cells: CellBatch) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        values = np.asarray(self.benchmark.query(cells, self.metric), dtype=np.float64)
        if getattr(self.benchmark, "cost_metric", None) is None:
            costs = np.full(len(values), np.nan)
        else:
            costs = np.asarray(self.benchmark.cost(cells), dtype=np.float64)
        return values, costs

    def __repr__(self) -> str:
        return f"BenchmarkEvaluator({getattr(self.benchmark, 'name', '?')!r}, metric={self.metric!r})"

    def __getstate__(self) -> dict[str, Any]:
        if self._name is not None:
            return {"name": self._name, "metric": self.metric}
        return {"benchmark": self.benchmark, "metric": self.metric}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._name = state.get("name")
        self.benchmark = _load(self._name) if self._name is not None else state["benchmark"]
        self.metric = state["metric"]
