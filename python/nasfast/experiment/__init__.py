"""The sample-efficiency study behind ``nasfast experiment``.

How many true evaluations does a predictor-based search save over random search, and what
happens to that saving when the predictor scores only a subset of the space? A study runs every
strategy many times on every benchmark, in parallel processes, and reports the sample
efficiency gain (SEG, see :mod:`nasfast.metrics`) per target with bootstrap confidence intervals,
regret curves, and whether the claim under test held.

Examples
--------
>>> from nasfast.experiment import Experiment
>>> results = Experiment(quick=True, out="results").run()  # doctest: +SKIP
>>> print(results.table())  # doctest: +SKIP
"""

from nasfast.experiment.config import ExperimentConfig, Strategy
from nasfast.experiment.report import ExperimentResults
from nasfast.experiment.runner import Experiment, run_seed

__all__ = ["Experiment", "ExperimentConfig", "ExperimentResults", "Strategy", "run_seed"]
