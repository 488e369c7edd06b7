"""Run a sample-efficiency study: orchestration of its runs and its output folder.

An :class:`Experiment` turns a study (:class:`~nasfast.experiment.config.ExperimentConfig`) into
one task per (benchmark, arm, run) (:mod:`nasfast.experiment.task`), checks the output
folder, runs the missing tasks in parallel worker processes (:mod:`nasfast.experiment.worker`)
with a progress line (:mod:`nasfast.experiment.progress`), and assembles the records into
``runs.jsonl`` and the results (:mod:`nasfast.experiment.report`). The folder's files and how
they are sealed and written are described in :mod:`nasfast.experiment.storage`.

A study re-run with the same output directory checks the folder before it writes anything: it
keeps the records whose run description matches and only runs the missing ones; it re-runs a
record that is damaged (checksum, cut short) with a warning (runs are deterministic, so the
record comes back identical); it refuses a record of the same run file made with another
description (budget, seed, arm parameters...), and a finished record of a run the study
does not include (fewer ``--seeds``, a benchmark or arm left out): a re-run may add runs to
a folder, never drop finished ones.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
import warnings
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Union

from nasfast.experiment import storage
from nasfast.experiment.config import Arm, ExperimentConfig
from nasfast.experiment.progress import Progress
from nasfast.experiment.task import RunTask, run_seed, study_tasks
from nasfast.experiment.worker import BenchmarkLoader, default_components, execute_run

if TYPE_CHECKING:
    from nasfast.experiment.report import ExperimentResults

# RunTask, run_seed, execute_run and Progress are defined in the modules named above and stay
# importable from here.
__all__ = ["Experiment", "RunTask", "run_seed", "execute_run", "Progress"]


def _default_out() -> Path:
    return Path("nasfast-results") / datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")


@contextlib.contextmanager
def _threads_per_process(n: int) -> Iterator[None]:
    """Cap the threads of each worker process (set before the workers start, restored after)."""
    names = ("RAYON_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    saved = {k: os.environ.get(k) for k in names}
    for k in names:
        if saved[k] is None:
            os.environ[k] = str(n)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)


def _describe_file(name: str) -> str:
    """``benchmark / arm / run i`` from a record's file name."""
    parts = name[: -len(".json")].split("__")
    if len(parts) == 3 and parts[2].isdigit():
        return f"{parts[0]} / {parts[1]} / run {int(parts[2])}"
    return name


class Experiment:
    """A sample-efficiency study.

    Parameters
    ----------
    benchmarks : sequence of str, optional
        Benchmark names (default: those of the study).
    arms : sequence of (str, Arm or dict), optional
        Arms: names of the study's arms, :class:`Arm` objects or
        ``[[arm]]``-style dictionaries (default: all of the study's).
    seeds, budget, seed, metric, stop_at_optimum : optional
        Override the study's values (see :class:`ExperimentConfig`).
    targets : sequence of str, optional
        Target names. If the study's headline target is not among them, the first becomes the
        headline target.
    config : ExperimentConfig, optional
        The study to start from (default: the default study, see ``example.toml``).
    quick : bool, default False
        Start from the default study's ``[preset.quick]`` (ignored when ``config`` is given).
    preset : str, optional
        Start from this preset of the default study, e.g. ``"full"`` (ignored when ``config``
        is given; see :func:`nasfast.experiment.config.apply_preset`).
    out : path, optional
        Output directory (default ``./nasfast-results/<UTC timestamp>``). Re-using a directory
        resumes the study.
    jobs : int, optional
        Worker processes (default: the number of cores). 1 runs everything in this process.
    progress : bool, default True
        Show a progress bar on stderr.
    load_benchmark : callable, optional
        Name to benchmark (default ``nasfast.benchmarks.load``); must be picklable by reference.
    components : mapping, optional
        Searcher, candidate-set and ``BenchmarkEvaluator`` classes by name (default: the
        registered ones, :func:`~nasfast.experiment.worker.default_components`); must be
        picklable by reference.

    Examples
    --------
    A small study (2 runs of 20 evaluations per arm, a few seconds), written to a temporary
    folder:

    >>> import tempfile
    >>> from pathlib import Path
    >>> out = tempfile.TemporaryDirectory()
    >>> exp = Experiment(benchmarks=["nb101-real20k"], arms=["random-uniform", "predictor-neighbourhood"],
    ...                  seeds=2, budget=20, jobs=1, progress=False, out=out.name)
    >>> results = exp.run()
    >>> print(results.table().splitlines()[0])
    nb101-real20k (M=20,001 cells, metric val_acc_108, optimum: m=1, top-10: m=12, top-0.1%: m=22, top-1%: m=205; 2 runs x 20 samples)
    >>> sorted(p.name for p in Path(out.name).iterdir())  # doctest: +NORMALIZE_WHITESPACE
    ['experiment.json', 'regret_nb101-real20k.png', 'report.md', 'runs', 'runs.jsonl',
     'seg_nb101-real20k.png', 'summary.csv', 'summary.json']
    >>> out.cleanup()
    """

    def __init__(
        self,
        benchmarks: Optional[Sequence[str]] = None,
        arms: Optional[Sequence[Union[str, Arm, Mapping[str, Any]]]] = None,
        *,
        seeds: Optional[int] = None,
        budget: Optional[int] = None,
        seed: Optional[int] = None,
        targets: Optional[Sequence[str]] = None,
        metric: Optional[str] = None,
        stop_at_optimum: Optional[bool] = None,
        config: Optional[ExperimentConfig] = None,
        quick: bool = False,
        preset: Optional[str] = None,
        out: Optional[Union[str, Path]] = None,
        jobs: Optional[int] = None,
        progress: bool = True,
        load_benchmark: Optional[BenchmarkLoader] = None,
        components: Optional[Mapping[str, Any]] = None,
    ) -> None:
        base = config if config is not None else ExperimentConfig.default(quick=quick, preset=preset)
        headline = None
        if targets is not None and base.headline_target not in targets:
            headline = list(targets)[0] if targets else None
        self.config = base.with_overrides(
            benchmarks=benchmarks,
            arms=arms,
            seeds=seeds,
            budget=budget,
            seed=seed,
            targets=tuple(targets) if targets is not None else None,
            headline_target=headline,
            metric=metric,
            stop_at_optimum=stop_at_optimum,
        )
        if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
            raise ValueError(f"jobs must be an integer >= 1, got {jobs!r}")
        self.out = Path(out) if out is not None else _default_out()
        self.jobs = jobs if jobs is not None else (os.cpu_count() or 1)
        self.progress = progress
        self.load_benchmark = load_benchmark
        self.components = components

    @classmethod
    def from_toml(cls, path: Union[str, Path], *, quick: bool = False, preset: Optional[str] = None,
                  **kwargs: Any) -> Experiment:
        """A study read from a TOML file (see :mod:`nasfast.experiment.config`).

        Parameters
        ----------
        path : path
        quick : bool, default False
            Apply the file's ``[preset.quick]`` table.
        preset : str, optional
            Apply the file's ``[preset.<preset>]`` table.
        **kwargs
            Any other argument of :class:`Experiment` (overrides).
        """
        return cls(config=ExperimentConfig.from_toml(path, quick=quick, preset=preset), **kwargs)

    def tasks(self) -> list[RunTask]:
        """Every run of the study, in a fixed order (benchmark, arm, run index)."""
        return study_tasks(self.config)

    def run(self, write: bool = True) -> ExperimentResults:
        """Run the missing runs of the study and collect every record.

        Parameters
        ----------
        write : bool, default True
            Also write ``summary.csv``, ``summary.json``, the plots and ``report.md``.

        Returns
        -------
        ExperimentResults

        Notes
        -----
        Worker processes are started with the ``spawn`` method (a forked child would inherit the
        core's thread pool without its threads), which re-imports the main module: in a script,
        call ``run`` under ``if __name__ == "__main__":``. Each worker gets its share of the cores:
        its searchers get it as ``n_jobs``, and ``RAYON_NUM_THREADS``, ``OMP_NUM_THREADS``... are
        set to it unless they are set already.

        Raises
        ------
        ValueError
            If the output directory holds a record of the same run file made with a different
            description (budget, seed, arm parameters...), or a finished record of a run
            this study does not include (fewer seeds, a benchmark or arm left out): use
            another directory, or include those runs. Nothing is written then.
        RuntimeError
            If a run fails (the message names it; finished runs stay on disk).

        Warns
        -----
        UserWarning
            For each damaged record (cut short, checksum mismatch): the run is run again.
        """
        from nasfast.experiment.report import ExperimentResults

        runs_dir = self.out / storage.RUNS_DIR
        tasks = self.tasks()
        todo = self._check_folder(tasks, runs_dir)  # before anything is written
        runs_dir.mkdir(parents=True, exist_ok=True)
        storage.write_sealed_atomic(self.out / storage.STUDY_FILE, self.config.to_dict())
        progress = Progress(len(tasks), len(tasks) - len(todo), enabled=self.progress)
        progress.draw()
        if self.jobs == 1 or len(todo) <= 1:
            for t in todo:
                self._run_one_here(t, runs_dir)
                progress.update()
        else:
            self._run_pool(todo, runs_dir, progress)
        found = []
        lines = []
        for t in tasks:
            rec, line, problem = storage.read_record(runs_dir / t.filename)
            if rec is None or line is None:  # pragma: no cover - a worker always writes its record
                raise RuntimeError(f"the record of {t.describe()} is missing or damaged: {problem}")
            if rec["task"] != t.stored_identity():  # pragma: no cover - checked before, written by this run
                raise RuntimeError(f"{runs_dir / t.filename} does not describe {t.describe()}")
            found.append(rec)
            lines.append(line.decode("ascii") + "\n")
        storage.write_atomic(self.out / storage.RUNS_FILE, "".join(lines))
        results = ExperimentResults(self.config, found)
        if write:
            results.write(self.out)
        return results

    def _check_folder(self, tasks: list[RunTask], runs_dir: Path) -> list[RunTask]:
        """The runs still to do; refuses a folder this study would damage (see :meth:`run`)."""
        by_file = {t.filename: t for t in tasks}
        found = sorted(p.name for p in runs_dir.glob("*.json")) if runs_dir.is_dir() else []
        stray = [name for name in found if name not in by_file]
        if stray:
            shown = ", ".join(_describe_file(n) for n in stray[:3]) + (f" and {len(stray) - 3} more" if len(stray) > 3 else "")
            raise ValueError(
                f"{self.out} holds {len(stray)} finished run(s) that this study does not include ({shown}); "
                "a re-run may add benchmarks, arms or seeds to a study folder but never drops finished "
                "runs: include them (e.g. a larger --seeds), or use another --out directory"
            )
        todo = []
        damaged = []
        for t in tasks:
            if t.filename not in found:
                todo.append(t)
                continue
            rec, _, problem = storage.read_record(runs_dir / t.filename)
            if rec is None:
                damaged.append(problem)
                todo.append(t)
            elif rec["task"] != t.stored_identity():
                raise ValueError(
                    f"{runs_dir / t.filename} describes a different run than {t.describe()} "
                    f"(stored: {rec['task']!r}); use another --out directory"
                )
        for problem in damaged:
            warnings.warn(f"{problem}; the run is run again", UserWarning, stacklevel=3)
        return todo

    def _run_one_here(self, task: RunTask, runs_dir: Path) -> None:
        try:
            execute_run(task, runs_dir, self.load_benchmark, self.components)
        except Exception as exc:
            raise RuntimeError(f"run {task.describe()} failed: {exc}") from exc

    def _run_pool(self, todo: list[RunTask], runs_dir: Path, progress: Progress) -> None:
        # Interleave benchmarks and arms so that the time estimate is fair from the start.
        todo = sorted(todo, key=lambda t: t.run)
        workers = min(self.jobs, len(todo))
        threads = max(1, (os.cpu_count() or 1) // workers)
        # spawn: a forked child would inherit a thread pool of the parent without its threads.
        ctx = multiprocessing.get_context("spawn")
        with _threads_per_process(threads), ProcessPoolExecutor(workers, mp_context=ctx) as pool:
            # the registry as this process knows it: searchers registered here are found in the workers
            components = self.components if self.components is not None else default_components()
            futures: dict[Future[str], RunTask] = {
                pool.submit(execute_run, t, runs_dir, self.load_benchmark, components, threads): t for t in todo
            }
            pending = set(futures)
            try:
                while pending:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for f in finished:
                        exc = f.exception()
                        if isinstance(exc, BrokenProcessPool):
                            raise RuntimeError(
                                f"a worker process died during run {futures[f].describe()} (out of memory? "
                                "from a script, start the study under `if __name__ == \"__main__\":`, "
                                "worker processes are spawned)"
                            ) from exc
                        if exc is not None:
                            raise RuntimeError(f"run {futures[f].describe()} failed: {exc}") from exc
                        progress.update()
            except BaseException:
                for f in pending:
                    f.cancel()
                if progress.enabled:
                    sys.stderr.write(
                        f"\nstopped: {progress.done} of {progress.total} runs are saved in {self.out}; "
                        "run again with the same output directory to finish\n"
                    )
                raise

