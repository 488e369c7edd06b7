"""The sample-efficiency study behind ``nasfast experiment``.

How many true evaluations does a predictor-based search save over random search, and what
happens to that saving when the predictor scores only a subset of the space? A study runs each
of its *arms* (named searcher configurations, :class:`Arm`) many times on every benchmark, in
parallel processes, and reports the sample efficiency gain (SEG, see :mod:`nasfast.metrics`) per
target with bootstrap confidence intervals, regret curves, and whether the claim under test held.

Modules: :mod:`~nasfast.experiment.config` (the study and its TOML file),
:mod:`~nasfast.experiment.task` (one run), :mod:`~nasfast.experiment.worker` (executing a run),
:mod:`~nasfast.experiment.progress`, :mod:`~nasfast.experiment.storage` (the study folder's
files), :mod:`~nasfast.experiment.runner` (:class:`Experiment`),
:mod:`~nasfast.experiment.report` (generic results), :mod:`~nasfast.experiment.claim` (the
verdicts on the claim), :mod:`~nasfast.experiment.plots`, :mod:`~nasfast.experiment.cli`.

Examples
--------
The smoke run of ``nasfast experiment --quick``: its runs, before running them (``run()`` takes
about a minute on two cores; :class:`Experiment` shows a complete small study):

>>> import tempfile
>>> from nasfast.experiment import Experiment
>>> out = tempfile.TemporaryDirectory()
>>> study = Experiment(quick=True, out=out.name)
>>> study.config.benchmarks, study.config.seeds, study.config.budget
(('nb101-surrogate', 'nb101-real20k'), 5, 50)
>>> [arm.name for arm in study.config.arms]
['random-uniform', 'predictor-full', 'predictor-random-1000', 'predictor-neighbourhood']
>>> len(study.tasks())  # benchmarks x arms x seeds
40
>>> out.cleanup()
"""

import warnings
from typing import Any

from nasfast.experiment.config import Arm, ExperimentConfig
from nasfast.experiment.report import ExperimentResults
from nasfast.experiment.runner import Experiment, run_seed

__all__ = ["Experiment", "ExperimentConfig", "ExperimentResults", "Arm", "run_seed"]


def __getattr__(name: str) -> Any:
    # ``Strategy`` was the name of an arm; it stays importable, with a warning, so that code
    # written against it keeps working.
    if name == "Strategy":
        warnings.warn(
            "nasfast.experiment.Strategy is now nasfast.experiment.Arm (a study's named entries are arms)",
            DeprecationWarning,
            stacklevel=2,
        )
        return Arm
    raise AttributeError(f"module 'nasfast.experiment' has no attribute {name!r}")
