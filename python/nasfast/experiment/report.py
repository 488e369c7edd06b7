"""Results of a study: summary tables, SEG per target, CSV/JSON files and ``report.md``.

Everything here is computed from the run records alone (``runs.jsonl``), so a finished study
can be summarised again with :meth:`ExperimentResults.load`. The results are generic: the SEG of
every arm per benchmark and target, grouped by the study's sections, and the comparison of the
pairs of arms that a section names (the *share* ``SEG_arm / SEG_reference = ERT_reference /
ERT_arm``). The claim the default study tests, its parts and verdicts are judged from them in
:mod:`nasfast.experiment.claim`.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

from nasfast.experiment import claim
from nasfast.experiment.claim import CLAIM, GAIN_SHARE_THRESHOLD, MIN_RUNS_FOR_VERDICT
from nasfast.experiment.config import Arm, ExperimentConfig, Section, derive_seed
from nasfast.experiment.storage import RUNS_FILE, STUDY_FILE, read_sealed
from nasfast.experiment.tables import fmt, interval, markdown_table, text_table
from nasfast.experiment.task import study_tasks
from nasfast.metrics import (
    ert_ratio,
    first_occurrences,
    random_search_expectation,
    regret_curve,
    sample_efficiency_gain,
)

# The claim's constants stay importable from here.
__all__ = ["ExperimentResults", "SUMMARY_FIELDS", "COMPARISON_FIELDS", "GAIN_SHARE_THRESHOLD", "MIN_RUNS_FOR_VERDICT",
           "CLAIM", "fmt"]

SUMMARY_FIELDS = (
    "benchmark", "arm", "target", "space_size", "target_size", "expected_random", "runs",
    "successes", "ert", "seg", "seg_low", "seg_high", "median_final_regret", "mean_samples",
    "mean_run_time_s",
)
COMPARISON_FIELDS = (
    "section", "benchmark", "target", "reference", "arm", "share", "share_low", "share_high", "hits",
    "reference_hits",
)


def _json_safe(x: Any) -> Any:
    if isinstance(x, float) and (math.isinf(x) or math.isnan(x)):
        return None
    if isinstance(x, dict):
        return {k: _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    return x


class ExperimentResults:
    """The records of a study and everything computed from them.

    Parameters
    ----------
    config : ExperimentConfig
    records : list of dict
        One record per run, as written by the runner.
    """

    def __init__(self, config: ExperimentConfig, records: Sequence[dict[str, Any]]) -> None:
        self.config = config
        self.records = list(records)
        self._summary: Optional[list[dict[str, Any]]] = None
        self._verdicts: Optional[list[dict[str, Any]]] = None
        self._comparisons: Optional[list[dict[str, Any]]] = None

    @classmethod
    def load(cls, out: Union[str, Path]) -> ExperimentResults:
        """Read ``experiment.json`` and ``runs.jsonl`` of a finished study.

        Every line is checked against its checksum, and the records against the study: one
        record for each of its runs, with the run's description.

        Raises
        ------
        ValueError
            If a file is damaged or the records do not match the study (the message names the
            file and line). Running the study again with the same output directory rebuilds
            both files from the per-run records (re-running damaged ones).
        """
        from nasfast._jsonline import SealError, unseal

        out = Path(out)
        hint = "; run the study again with the same output directory to rebuild it"
        try:
            doc, _ = read_sealed(out / STUDY_FILE)
            config = ExperimentConfig.from_dict(doc, source=str(out / STUDY_FILE))
        except ValueError as e:
            raise ValueError(f"{e}{hint}") from None
        path = out / RUNS_FILE
        data = path.read_bytes()
        if data and not data.endswith(b"\n"):
            raise ValueError(f"{path} is damaged: its last line is cut short{hint}")
        records = []
        for k, line in enumerate(data.split(b"\n")[:-1], start=1):
            try:
                rec, _ = unseal(line)
            except SealError as e:
                raise ValueError(f"{path}, line {k} is damaged: {e}{hint}") from None
            records.append(rec)
        expected = [t.stored_identity() for t in study_tasks(config)]
        found = [r.get("task") for r in records]
        if found != expected:
            bad = next((k for k, (a, b) in enumerate(zip(found, expected), start=1) if a != b), min(len(found), len(expected)) + 1)
            raise ValueError(
                f"{path} does not hold the runs of the study in {out / STUDY_FILE}: {len(found)} records "
                f"for {len(expected)} runs, first difference at line {bad}{hint}"
            )
        return cls(config, records)

    # -- access ----------------------------------------------------------------------------------

    def runs(self, benchmark: str, arm: str) -> list[dict[str, Any]]:
        """The records of one benchmark and arm, by run index."""
        rs = [r for r in self.records if r["task"]["benchmark"] == benchmark and r["task"]["arm"]["name"] == arm]
        return sorted(rs, key=lambda r: r["task"]["run"])

    def arms(self, benchmark: Optional[str] = None) -> list[Arm]:
        """Arms of the study that have runs (on ``benchmark`` if given), in config order."""
        return [s for s in self.config.arms if any(self.runs(b, s.name) for b in self._benchmarks(benchmark))]

    def _benchmarks(self, benchmark: Optional[str] = None) -> list[str]:
        return [b for b in self.config.benchmarks if benchmark is None or b == benchmark]

    @staticmethod
    def distinct_values_costs(record: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """Values and costs of the distinct samples of a run, in evaluation order."""
        keys = np.array([int(k, 16) for k in record["fingerprints"]], dtype=np.uint64)
        first = first_occurrences(keys)
        nan = float("nan")
        h = record["history"]
        values = np.array([nan if v is None else v for v in h["values"]], dtype=np.float64)[first]
        costs = np.array([nan if v is None else v for v in h["costs"]], dtype=np.float64)[first]
        return values, costs

    def regret_matrix(self, benchmark: str, arm: str) -> np.ndarray:
        """Best-so-far regret of every run (rows) after 1..budget samples (padded with the last)."""
        return np.array(
            [regret_curve(self.distinct_values_costs(r)[0], r["optimum"], self.config.budget) for r in self.runs(benchmark, arm)]
        ).reshape(-1, self.config.budget)

    # -- summary ---------------------------------------------------------------------------------

    def hitting_times(self, benchmark: str, arm: str, target: str) -> tuple[list[Optional[int]], list[int]]:
        """Hitting time of the target (None: not hit) and samples spent, of every run of one
        benchmark and arm, by run index."""
        runs = self.runs(benchmark, arm)
        return [r["targets"][target]["hit"] for r in runs], [r["samples"] for r in runs]

    def summary(self) -> list[dict[str, Any]]:
        """One row per benchmark, arm and target (fields: :data:`SUMMARY_FIELDS`).

        ``seg_low``/``seg_high`` are a percentile bootstrap interval over runs, seeded with
        ``derive_seed(seed, benchmark, arm, target)``.
        """
        if self._summary is not None:
            return self._summary
        rows = []
        c = self.config
        for b in c.benchmarks:
            for s in c.arms:
                runs = self.runs(b, s.name)
                if not runs:
                    continue
                final = self.regret_matrix(b, s.name)[:, -1]
                for t in c.targets:
                    m = runs[0]["targets"][t]["size"]
                    expected = random_search_expectation(runs[0]["space_size"], m)
                    hits, spent = self.hitting_times(b, s.name, t)
                    est = sample_efficiency_gain(
                        expected, hits, spent, n_boot=c.n_boot, confidence=c.confidence,
                        random_state=derive_seed(c.seed, b, s.name, t),
                    )
                    rows.append({
                        "benchmark": b,
                        "arm": s.name,
                        "target": t,
                        "space_size": runs[0]["space_size"],
                        "target_size": m,
                        "expected_random": expected,
                        "runs": est.runs,
                        "successes": est.successes,
                        "ert": est.ert,
                        "seg": est.seg,
                        "seg_low": est.seg_low,
                        "seg_high": est.seg_high,
                        "median_final_regret": float(np.nanmedian(final)) if not np.isnan(final).all() else math.nan,
                        "mean_samples": float(np.mean(spent)),
                        "mean_run_time_s": float(np.mean([r["run_time_s"] for r in runs])),
                    })
        self._summary = rows
        return rows

    def row(self, benchmark: str, arm: str, target: str) -> dict[str, Any]:
        """The summary row of one benchmark, arm and target.

        Raises
        ------
        KeyError
            If the study has no runs of that benchmark and arm, or no such target.
        """
        for r in self.summary():
            if (r["benchmark"], r["arm"], r["target"]) == (benchmark, arm, target):
                return r
        raise KeyError(f"no results for benchmark {benchmark!r}, arm {arm!r}, target {target!r}")

    def verdicts(self) -> list[dict[str, Any]]:
        """Whether each part of the claim held, per benchmark, target and arm (see
        :func:`nasfast.experiment.claim.verdicts`)."""
        if self._verdicts is None:
            self._verdicts = claim.verdicts(self)
        return self._verdicts

    def comparisons(self) -> list[dict[str, Any]]:
        """The pairs of arms of every section, per benchmark and target (fields:
        :data:`COMPARISON_FIELDS`).

        ``share = SEG_arm / SEG_reference = ERT_reference / ERT_arm`` (see
        :func:`nasfast.metrics.ert_ratio`) with a percentile bootstrap interval that resamples the
        runs of both arms, seeded with ``derive_seed(seed, benchmark, arm, reference, target)``
        (the seed of the claim's shares, so one pair gets one interval wherever it is shown).
        """
        if self._comparisons is not None:
            return self._comparisons
        c = self.config
        out = []
        for sec in c.sections:
            for b in c.benchmarks:
                for ref, arm in sec.pairs:
                    if not (self.runs(b, ref) and self.runs(b, arm)):
                        continue
                    for t in c.targets:
                        h, sp = self.hitting_times(b, arm, t)
                        ref_h, ref_s = self.hitting_times(b, ref, t)
                        share, lo, hi = ert_ratio(h, sp, ref_h, ref_s, n_boot=c.n_boot, confidence=c.confidence,
                                                  random_state=derive_seed(c.seed, b, arm, ref, t))
                        out.append(dict(
                            section=sec.name, benchmark=b, target=t, reference=ref, arm=arm,
                            share=share, share_low=lo, share_high=hi,
                            hits=f"{sum(x is not None for x in h)}/{len(h)}",
                            reference_hits=f"{sum(x is not None for x in ref_h)}/{len(ref_h)}",
                        ))
        self._comparisons = out
        return out

    def section(self, name: str) -> Section:
        """The study's section of that name.

        Raises
        ------
        KeyError
            If the study has no such section.
        """
        for sec in self.config.sections:
            if sec.name == name:
                return sec
        raise KeyError(f"no section {name!r}; the study's sections: {[s.name for s in self.config.sections]}")

    # -- tables ----------------------------------------------------------------------------------

    def _table_rows(self, benchmark: str, arms: Sequence[str]) -> tuple[list[str], list[list[str]]]:
        header = ["arm"] + [f"{t}: SEG [95% CI] (hits)" for t in self.config.targets]
        body = []
        for name in arms:
            s = next(a for a in self.arms(benchmark) if a.name == name)
            cells = [s.name]
            for t in self.config.targets:
                r = self.row(benchmark, s.name, t)
                cells.append(f"{interval(r['seg'], r['seg_low'], r['seg_high'])} ({r['successes']}/{r['runs']})")
            body.append(cells)
        return header, body

    def _benchmark_title(self, benchmark: str) -> str:
        r0 = self.runs(benchmark, self.arms(benchmark)[0].name)[0]
        sizes = ", ".join(f"{t}: m={r0['targets'][t]['size']:,}" for t in self.config.targets)
        return (f"{benchmark} (M={r0['space_size']:,} cells, metric {r0['metric']}, {sizes}; "
                f"{self.config.seeds} runs x {self.config.budget} samples)")

    def table(self, markdown: bool = False, section: Optional[str] = None) -> str:
        """The SEG of every arm and target, one table per benchmark.

        Parameters
        ----------
        markdown : bool, default False
            A Markdown table instead of aligned text.
        section : str, optional
            Only the arms of this section (see :class:`~nasfast.experiment.config.Section`), in
            its order.
        """
        return self._table(markdown, None if section is None else self.section(section).arms)

    def _table(self, markdown: bool, arms: Optional[Sequence[str]]) -> str:
        """:meth:`table` of these arms, in this order (None: every arm)."""
        parts = []
        for b in self._benchmarks():
            have = [a.name for a in self.arms(b)]
            names = have if arms is None else [n for n in arms if n in have]
            if not names:
                continue
            header, body = self._table_rows(b, names)
            title = self._benchmark_title(b)
            if markdown:
                parts.append(f"**{title}**\n\n" + markdown_table(header, body))
            else:
                parts.append(f"{title}\n" + text_table(header, body, numbers_right=True))
        return "\n\n".join(parts)

    def comparison_table(self, section: str, markdown: bool = False, target: Optional[str] = None) -> str:
        """The pairs of a section: per pair and target, the share ``SEG_arm / SEG_reference``
        with its interval and the hits of both arms; one table per benchmark (empty when the
        section has no pairs).

        Parameters
        ----------
        section : str
            Name of the section.
        markdown : bool, default False
            A Markdown table instead of aligned text.
        target : str, optional
            Only this target (default: every target of the study).
        """
        sec = self.section(section)
        targets = [t for t in self.config.targets if target is None or t == target]
        rows = {(v["benchmark"], v["reference"], v["arm"], v["target"]): v for v in self.comparisons() if v["section"] == sec.name}
        header = ["reference -> arm"] + [f"{t}: share [95% CI] (hits arm, reference)" for t in targets]
        parts = []
        for b in self._benchmarks():
            body = []
            for ref, arm in sec.pairs:
                if (b, ref, arm, targets[0]) not in rows:
                    continue
                cells = [f"{ref} -> {arm}"]
                for t in targets:
                    v = rows[(b, ref, arm, t)]
                    cells.append(f"{interval(v['share'], v['share_low'], v['share_high'])} ({v['hits']}, {v['reference_hits']})")
                body.append(cells)
            if not body:
                continue
            if markdown:
                parts.append(f"**{b}**\n\n" + markdown_table(header, body))
            else:
                parts.append(f"{b}\n" + text_table(header, body, numbers_right=True))
        return "\n\n".join(parts)

    def verdict_table(self, target: Optional[str] = None, markdown: bool = True) -> str:
        """The verdicts (all targets, or one) as a table."""
        return claim.verdict_table(self.verdicts(), target=target, markdown=markdown)

    # -- files -----------------------------------------------------------------------------------

    def plot(self, out_dir: Union[str, Path]) -> list[Path]:
        """Write the PNG plots (see :mod:`nasfast.experiment.plots`) and return their paths."""
        from nasfast.experiment.plots import plot_all

        return plot_all(self, Path(out_dir))

    def write(self, out_dir: Union[str, Path]) -> list[Path]:
        """Write ``summary.csv``, ``summary.json``, the plots and ``report.md``; return the paths."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=SUMMARY_FIELDS, lineterminator="\n")
        w.writeheader()
        for r in self.summary():
            w.writerow({k: r[k] for k in SUMMARY_FIELDS})
        paths = [_write_text(out / "summary.csv", buf.getvalue())]
        doc = {"config": self.config.to_dict(), "summary": self.summary(), "comparisons": self.comparisons(),
               **claim.summary_json(self)}
        paths.append(_write_text(out / "summary.json", json.dumps(_json_safe(doc), indent=1) + "\n"))
        try:
            plots = self.plot(out)
            plot_note = ""
        except ImportError as exc:
            plots, plot_note = [], f"Plots were not drawn: {exc}."
        paths += plots
        paths.append(_write_text(out / "report.md", self.report_markdown(out, plots, plot_note)))
        return paths

    def report_markdown(self, out: Path, plots: Sequence[Path] = (), plot_note: str = "") -> str:
        """The text of ``report.md``."""
        c = self.config
        total_time = sum(r["run_time_s"] for r in self.records)
        lines = [
            "# nasfast sample-efficiency study",
            "",
            f"{len(self.records)} runs: benchmarks {', '.join(c.benchmarks)}; {len(c.arms)} arms; "
            f"{c.seeds} runs per benchmark and arm; budget {c.budget} samples per run; base seed {c.seed}; "
            f"{100 * c.confidence:g}% bootstrap intervals from {c.n_boot} resamples. "
            f"Search time summed over runs: {total_time / 60:.1f} min. The exact study is in `experiment.json`.",
            "",
        ]
        if c.claim is None:
            lines += ["The study names no claim (no `[claim]` table, or its full-space arm was not run): "
                      "it reports the results below, without verdicts.", ""]
        lines += claim.claim_markdown(self)
        lines += [
            "## Results",
            "",
            "SEG per arm and target, with the 95% interval and the successful runs out of all runs "
            "(`hits`). SEG > 1: fewer samples than uniform random search; SEG = 0: no run hit the target "
            "within the budget.",
            "",
        ]
        lines += self._sections_markdown()
        if plot_note:
            lines += [plot_note, ""]
        for p in plots:
            lines += [f"![{p.stem}]({os.path.relpath(p, out)})", ""]
        lines += claim.every_target_markdown(self)
        lines += [
            "## Definitions (nasfast's own)",
            "",
            "- **Sample**: one true evaluation of a distinct cell (isomorphic duplicates count once; "
            "scoring with the predictor is free).",
            "- **Target**: the cells whose metric is at least a threshold: `optimum` (the best value), "
            "`top-K` (the K-th best value) or `top-P%` (the ceil(P/100 x M)-th best), ties included; "
            "m is the target's size, M the number of cells of the searchable space.",
            "- **Hitting time** N_A: samples a run spent until it first evaluated a target cell.",
            "- **ERT** (COCO convention, budget cap): (sum of the hitting times of the successful runs "
            "+ samples spent by the unsuccessful runs) / (number of successful runs).",
            "- **Random-search baseline**: uniform sampling without replacement: E[N_RS] = (M + 1) / (m + 1), exactly.",
            "- **SEG** = E[N_RS] / ERT, with a percentile bootstrap interval over runs "
            f"({c.n_boot} resamples, seeded from the base seed, the benchmark, the arm and the target).",
            "- **Share** of a reference arm's gain that an arm keeps: SEG_arm / SEG_reference = "
            "ERT_reference / ERT_arm, with a bootstrap interval that resamples the runs of both arms.",
            "- Regret: best value of the searchable space minus the best value found so far; curves show the "
            "median and the interquartile band over runs, against samples and against the simulated "
            "training cost of the evaluated cells.",
            "",
        ]
        return "\n".join(lines)

    def _sections_markdown(self) -> list[str]:
        """The results, section by section (one table of every arm without sections)."""
        c = self.config
        if not c.sections:
            return [self.table(markdown=True), ""]
        lines: list[str] = []
        for sec in c.sections:
            table = self.table(markdown=True, section=sec.name)
            if not table:
                continue
            lines += [f"### {sec.title}", "", table, ""]
            pairs = self.comparison_table(sec.name, markdown=True)
            if pairs:
                lines += ["Pairs: the share of the reference's gain that the arm keeps, "
                          "`SEG_arm / SEG_reference`, with its 95% interval and the hits of both arms.", "",
                          pairs, ""]
        shown = {n for sec in c.sections for n in sec.arms}
        rest = [a.name for a in self.arms() if a.name not in shown]
        if rest:
            lines += ["### Other arms", "", self._table(True, rest), ""]
        return lines


def _write_text(path: Path, text: str) -> Path:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path
