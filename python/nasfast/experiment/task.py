"""The task model of a study: one run is one search of one arm on one benchmark.

A :class:`RunTask` holds everything a worker needs for one run (it is picklable) and the run's
identity, the description stored in its record: a record is reused by a re-run only if it
describes the same run. Each run's seed is derived from the base seed, the benchmark, the
arm and the run index only (:func:`run_seed`), so the numbers do not depend on the number
of processes or on the order in which runs finish.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Optional

from nasfast.experiment.config import Arm, ExperimentConfig, derive_seed

__all__ = ["RunTask", "run_seed", "study_tasks"]


def run_seed(base_seed: int, benchmark: str, arm: str, run: int) -> int:
    """Seed of one run: ``derive_seed(base_seed, benchmark, arm, run)``.

    It depends on the run's identity only, never on the number of processes or the order in
    which runs finish.
    """
    return derive_seed(base_seed, benchmark, arm, run)


@dataclass(frozen=True)
class RunTask:
    """Everything one run needs (picklable), and the identity of its record."""

    benchmark: str
    arm: Arm
    run: int
    seed: int
    budget: int
    metric: Optional[str]
    targets: tuple[str, ...]
    stop_at_optimum: bool

    @property
    def filename(self) -> str:
        """Name of the run's record file."""
        return f"{self.benchmark}__{self.arm.name}__{self.run:04d}.json"

    def identity(self) -> dict[str, Any]:
        """The run description stored in its record; a record is reused only if it matches."""
        return {
            "benchmark": self.benchmark,
            "arm": self.arm.to_dict(),
            "run": self.run,
            "seed": self.seed,
            "budget": self.budget,
            "metric": self.metric,
            "targets": list(self.targets),
            "stop_at_optimum": self.stop_at_optimum,
        }

    def stored_identity(self) -> Any:
        """:meth:`identity` as it reads back from a record's JSON (tuples become lists)."""
        return json.loads(json.dumps(self.identity()))

    def describe(self) -> str:
        """Short human-readable name of the run."""
        return f"{self.benchmark} / {self.arm.name} / run {self.run} (seed {self.seed})"


def study_tasks(config: ExperimentConfig) -> list[RunTask]:
    """Every run of a study, in a fixed order (benchmark, arm, run index)."""
    c = config
    return [
        RunTask(
            benchmark=b,
            arm=s,
            run=i,
            seed=run_seed(c.seed, b, s.name, i),
            budget=c.budget,
            metric=c.metric,
            targets=c.targets,
            stop_at_optimum=c.stop_at_optimum,
        )
        for b in c.benchmarks
        for s in c.arms
        for i in range(c.seeds)
    ]
