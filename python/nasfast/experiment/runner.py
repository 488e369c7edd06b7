"""Run a sample-efficiency study: one independent search run per (benchmark, strategy, seed).

Runs execute in parallel processes. Each run's seed is derived from the base seed, the benchmark,
the strategy and the run index only (:func:`run_seed`), so the numbers do not depend on the number
of processes or on the order in which runs finish. Each run writes its record atomically to
``OUT/runs/<benchmark>__<strategy>__<run>.json`` (temporary file, then ``os.replace``), as one
JSON line sealed with a CRC-32 checksum (:mod:`nasfast._jsonline`); ``OUT/runs.jsonl`` is
assembled from the per-run files at the end (the same lines), ``OUT/experiment.json`` holds the
study, sealed the same way.

A study re-run with the same output directory checks the folder before it writes anything: it
keeps the records whose run description matches and only runs the missing ones; it re-runs a
record that is damaged (checksum, cut short) with a warning (runs are deterministic, so the
record comes back identical); it refuses a record of the same run file made with another
description (budget, seed, strategy parameters...), and a finished record of a run the study
does not include (fewer ``--seeds``, a benchmark or strategy left out): a re-run may add runs to
a folder, never drop finished ones.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import math
import multiprocessing
import os
import sys
import time
import warnings
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, Optional, Sequence, TextIO, Union

import numpy as np
import numpy.typing as npt

from nasfast._jsonline import SealError, seal, unseal
from nasfast.experiment.config import PREDICTORS, ExperimentConfig, Strategy, derive_seed
from nasfast.metrics import first_occurrences, hitting_time, target_indices

if TYPE_CHECKING:
    from nasfast.experiment.report import ExperimentResults

__all__ = ["Experiment", "RunTask", "run_seed", "execute_run", "Progress"]

BenchmarkLoader = Callable[[str], Any]


def run_seed(base_seed: int, benchmark: str, strategy: str, run: int) -> int:
    """Seed of one run: ``derive_seed(base_seed, benchmark, strategy, run)``.

    It depends on the run's identity only, never on the number of processes or the order in
    which runs finish.
    """
    return derive_seed(base_seed, benchmark, strategy, run)


@dataclass(frozen=True)
class RunTask:
    """Everything one run needs (picklable), and the identity of its record."""

    benchmark: str
    strategy: Strategy
    run: int
    seed: int
    budget: int
    metric: Optional[str]
    targets: tuple[str, ...]
    stop_at_optimum: bool

    @property
    def filename(self) -> str:
        """Name of the run's record file."""
        return f"{self.benchmark}__{self.strategy.name}__{self.run:04d}.json"

    def identity(self) -> dict[str, Any]:
        """The run description stored in its record; a record is reused only if it matches."""
        return {
            "benchmark": self.benchmark,
            "strategy": self.strategy.to_dict(),
            "run": self.run,
            "seed": self.seed,
            "budget": self.budget,
            "metric": self.metric,
            "targets": list(self.targets),
            "stop_at_optimum": self.stop_at_optimum,
        }

    def describe(self) -> str:
        """Short human-readable name of the run."""
        return f"{self.benchmark} / {self.strategy.name} / run {self.run} (seed {self.seed})"


# ------------------------------------------------------------------------------------------------
# Worker side


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


def _default_components() -> Mapping[str, Any]:
    import nasfast.search as search

    return vars(search)


def _default_loader() -> BenchmarkLoader:
    from nasfast.benchmarks import load

    return load


def _build_candidates(spec: Mapping[str, Any], components: Mapping[str, Any]) -> Any:
    args = {k: v for k, v in spec.items() if k != "type"}
    if spec["type"] == "Union":
        return components["Union"](*[_build_candidates(s, components) for s in args["sets"]])
    return components[spec["type"]](**args)


def build_searcher(
    strategy: Strategy, space: Any, seed: int, universe: Any, components: Mapping[str, Any], n_jobs: Optional[int] = None
) -> Any:
    """Instantiate the searcher of a strategy.

    Parameters
    ----------
    strategy : Strategy
    space : SearchSpace
    seed : int
        ``random_state`` of the searcher.
    universe : CellBatch or None
        The searchable cells when the benchmark covers only part of the space.
    components : mapping
        Class names to classes (default: the namespace of :mod:`nasfast.search`).
    n_jobs : int, optional
        Threads of the searcher (passed only when given; results do not depend on it).
    """
    params = dict(strategy.params)
    if "candidates" in params:
        params["candidates"] = _build_candidates(params["candidates"], components)
    if "predictor" in params:
        spec = dict(params["predictor"])
        cls = getattr(importlib.import_module(PREDICTORS[spec["type"]]), spec.pop("type"))
        params["predictor"] = cls(**spec)
    if n_jobs is not None:
        params["n_jobs"] = n_jobs
    return components[strategy.searcher](space, random_state=seed, universe=universe, **params)


def _write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a fsynced temporary file and ``os.replace``: a crash
    leaves the old file or the new one, never a mix."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="ascii") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_sealed_atomic(path: Path, obj: dict[str, Any]) -> None:
    """Write a JSON object to ``path`` as one line sealed with its checksum
    (:func:`nasfast._jsonline.seal`), atomically."""
    _write_atomic(path, seal(obj, allow_nan=True)[0] + "\n")


def read_sealed(path: Path) -> tuple[dict[str, Any], bytes]:
    """The object of a file written by :func:`write_sealed_atomic`, and its line.

    Raises
    ------
    FileNotFoundError
        If there is no file.
    ValueError
        If the file is damaged (cut short, or its checksum does not match); the message names
        the file and the problem.
    """
    data = path.read_bytes()
    if not data.endswith(b"\n") or data.count(b"\n") != 1:
        raise ValueError(f"{path} is damaged: it is not one complete line (cut short or edited)")
    line = data[:-1]
    try:
        obj, _ = unseal(line)
    except SealError as e:
        raise ValueError(f"{path} is damaged: {e}") from None
    return obj, line


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
        :mod:`nasfast.search`).
    n_jobs : int, optional
        Threads of the searcher (default: the searcher's own default, all cores).

    Returns
    -------
    str
        The record's file name.
    """
    load = load_benchmark if load_benchmark is not None else _default_loader()
    comps = components if components is not None else _default_components()
    prep = _prepare(load, task.benchmark, task.metric, task.targets)
    searcher = build_searcher(task.strategy, prep.bench.space, task.seed, prep.universe, comps, n_jobs)
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


# ------------------------------------------------------------------------------------------------
# Progress


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


# ------------------------------------------------------------------------------------------------
# The study


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


def _read_record(path: Path) -> tuple[Optional[dict[str, Any]], Optional[bytes], str]:
    """(record, its line, "") of a run record, or (None, None, what is wrong with it)."""
    try:
        rec, line = read_sealed(path)
    except FileNotFoundError:
        return None, None, "missing"
    except ValueError as e:
        return None, None, str(e)
    if not isinstance(rec.get("task"), dict):
        return None, None, f"{path} is damaged: it holds no run description"
    return rec, line, ""


def _identity(task: RunTask) -> Any:
    """The run description of a task as it reads back from JSON (tuples become lists)."""
    return json.loads(json.dumps(task.identity()))


def _describe_file(name: str) -> str:
    """``benchmark / strategy / run i`` from a record's file name."""
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
    strategies : sequence of (str, Strategy or dict), optional
        Strategies: names of the study's strategies, :class:`Strategy` objects or
        ``[[strategy]]``-style dictionaries (default: all of the study's).
    seeds, budget, seed, metric, stop_at_optimum : optional
        Override the study's values (see :class:`ExperimentConfig`).
    targets : sequence of str, optional
        Target names. If the study's headline target is not among them, the first becomes the
        headline target.
    config : ExperimentConfig, optional
        The study to start from (default: the default study, see ``example.toml``).
    quick : bool, default False
        Start from the quick version of the default study (ignored when ``config`` is given).
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
        Searcher, candidate-set and ``BenchmarkEvaluator`` classes by name (default
        :mod:`nasfast.search`); must be picklable by reference.

    Examples
    --------
    >>> exp = Experiment(benchmarks=["nb101-real20k"], strategies=["random-uniform", "predictor-full"],
    ...                  seeds=5, budget=50, out="results")  # doctest: +SKIP
    >>> results = exp.run()  # doctest: +SKIP
    >>> print(results.table())  # doctest: +SKIP
    """

    def __init__(
        self,
        benchmarks: Optional[Sequence[str]] = None,
        strategies: Optional[Sequence[Union[str, Strategy, Mapping[str, Any]]]] = None,
        *,
        seeds: Optional[int] = None,
        budget: Optional[int] = None,
        seed: Optional[int] = None,
        targets: Optional[Sequence[str]] = None,
        metric: Optional[str] = None,
        stop_at_optimum: Optional[bool] = None,
        config: Optional[ExperimentConfig] = None,
        quick: bool = False,
        out: Optional[Union[str, Path]] = None,
        jobs: Optional[int] = None,
        progress: bool = True,
        load_benchmark: Optional[BenchmarkLoader] = None,
        components: Optional[Mapping[str, Any]] = None,
    ) -> None:
        base = config if config is not None else ExperimentConfig.default(quick=quick)
        headline = None
        if targets is not None and base.headline_target not in targets:
            headline = list(targets)[0] if targets else None
        self.config = base.with_overrides(
            benchmarks=benchmarks,
            strategies=strategies,
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
    def from_toml(cls, path: Union[str, Path], *, quick: bool = False, **kwargs: Any) -> "Experiment":
        """A study read from a TOML file (see :mod:`nasfast.experiment.config`).

        Parameters
        ----------
        path : path
        quick : bool, default False
            Apply the file's ``[quick]`` table.
        **kwargs
            Any other argument of :class:`Experiment` (overrides).
        """
        return cls(config=ExperimentConfig.from_toml(path, quick=quick), **kwargs)

    def tasks(self) -> list[RunTask]:
        """Every run of the study, in a fixed order (benchmark, strategy, run index)."""
        c = self.config
        return [
            RunTask(
                benchmark=b,
                strategy=s,
                run=i,
                seed=run_seed(c.seed, b, s.name, i),
                budget=c.budget,
                metric=c.metric,
                targets=c.targets,
                stop_at_optimum=c.stop_at_optimum,
            )
            for b in c.benchmarks
            for s in c.strategies
            for i in range(c.seeds)
        ]

    def run(self, write: bool = True) -> "ExperimentResults":
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
            description (budget, seed, strategy parameters...), or a finished record of a run
            this study does not include (fewer seeds, a benchmark or strategy left out): use
            another directory, or include those runs. Nothing is written then.
        RuntimeError
            If a run fails (the message names it; finished runs stay on disk).

        Warns
        -----
        UserWarning
            For each damaged record (cut short, checksum mismatch): the run is run again.
        """
        from nasfast.experiment.report import ExperimentResults

        runs_dir = self.out / "runs"
        tasks = self.tasks()
        todo = self._check_folder(tasks, runs_dir)  # before anything is written
        runs_dir.mkdir(parents=True, exist_ok=True)
        write_sealed_atomic(self.out / "experiment.json", self.config.to_dict())
        progress = Progress(len(tasks), len(tasks) - len(todo), enabled=self.progress)
        progress.draw()
        if self.jobs == 1 or len(todo) <= 1:
            for t in todo:
                self._run_one_here(t, runs_dir)
                progress.update()
        else:
            self._run_pool(todo, runs_dir, progress)
        records = []
        lines = []
        for t in tasks:
            rec, line, problem = _read_record(runs_dir / t.filename)
            if rec is None or line is None:  # pragma: no cover - a worker always writes its record
                raise RuntimeError(f"the record of {t.describe()} is missing or damaged: {problem}")
            if rec["task"] != _identity(t):  # pragma: no cover - checked before, written by this run
                raise RuntimeError(f"{runs_dir / t.filename} does not describe {t.describe()}")
            records.append(rec)
            lines.append(line.decode("ascii") + "\n")
        _write_atomic(self.out / "runs.jsonl", "".join(lines))
        results = ExperimentResults(self.config, records)
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
                "a re-run may add benchmarks, strategies or seeds to a study folder but never drops finished "
                "runs: include them (e.g. a larger --seeds), or use another --out directory"
            )
        todo = []
        damaged = []
        for t in tasks:
            if t.filename not in found:
                todo.append(t)
                continue
            rec, _, problem = _read_record(runs_dir / t.filename)
            if rec is None:
                damaged.append(problem)
                todo.append(t)
            elif rec["task"] != _identity(t):
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
        # Interleave benchmarks and strategies so that the time estimate is fair from the start.
        todo = sorted(todo, key=lambda t: t.run)
        workers = min(self.jobs, len(todo))
        threads = max(1, (os.cpu_count() or 1) // workers)
        # spawn: a forked child would inherit a thread pool of the parent without its threads.
        ctx = multiprocessing.get_context("spawn")
        with _threads_per_process(threads), ProcessPoolExecutor(workers, mp_context=ctx) as pool:
            futures: dict[Future[str], RunTask] = {
                pool.submit(execute_run, t, runs_dir, self.load_benchmark, self.components, threads): t for t in todo
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

