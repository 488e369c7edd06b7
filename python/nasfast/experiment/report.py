"""Results of a study: summary tables, verdicts on the claim, CSV/JSON files and ``report.md``.

Everything here is computed from the run records alone (``runs.jsonl``), so a finished study
can be summarised again with :meth:`ExperimentResults.load`.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import numpy as np

from nasfast.experiment.config import ExperimentConfig, Strategy, derive_seed
from nasfast.metrics import ert_ratio, first_occurrences, random_search_expectation, regret_curve, sample_efficiency_gain

__all__ = ["ExperimentResults", "GAIN_SHARE_THRESHOLD", "MIN_RUNS_FOR_VERDICT", "CLAIM"]

#: "Most of the gain": a strategy keeps less than this share of the full-space gain
#: (``SEG / SEG_full = ERT_full / ERT``) when a random subset "destroys most of it", and more than
#: this share when a smart subset "recovers" it.
GAIN_SHARE_THRESHOLD = 0.5

#: The claim the default study tests.
CLAIM = (
    "Computing the proxy only on a random subset of the space destroys most of the gain of "
    "predictor-based search over random search; a smart subset (mutation neighbourhoods of the "
    "best cells so far) recovers the gain of scoring the full space."
)

SUMMARY_FIELDS = (
    "benchmark", "strategy", "target", "space_size", "target_size", "expected_random", "runs",
    "successes", "ert", "seg", "seg_low", "seg_high", "median_final_regret", "mean_samples",
    "mean_run_time_s",
)
VERDICT_FIELDS = (
    "benchmark", "target", "part", "strategy", "reference", "share", "share_low", "share_high", "hits",
    "reference_hits", "verdict",
)

#: Fewer runs per strategy than this give no verdict: with a handful of runs the percentile
#: bootstrap is overconfident (a strategy without any success has the interval [0, 0]).
MIN_RUNS_FOR_VERDICT = 10


def _judge(low: float, high: float, threshold: float, *, below: bool, runs: int) -> str:
    """Verdict of a claim "the value lies below (or above) the threshold" from its interval."""
    if runs < MIN_RUNS_FOR_VERDICT:
        return f"no verdict ({runs} runs, {MIN_RUNS_FOR_VERDICT} needed)"
    if math.isnan(low) or math.isnan(high):
        return "no verdict (neither strategy hit the target)"
    if (high < threshold) if below else (low > threshold):
        return "held"
    if (low > threshold) if below else (high < threshold):
        return "did not hold"
    return "inconclusive"


def fmt(x: Optional[float]) -> str:
    """A number for tables: 3 significant figures, thousands separators, ``inf``, ``-`` for NaN."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if math.isinf(x):
        return "inf"
    a = abs(x)
    if a >= 100:
        return f"{x:,.0f}"
    if a >= 10:
        return f"{x:.1f}"
    if a >= 0.01 or a == 0:
        return f"{x:.2f}"
    return f"{x:.2g}"


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

    @classmethod
    def load(cls, out: Union[str, Path]) -> "ExperimentResults":
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
        from nasfast.experiment.runner import Experiment, read_sealed

        out = Path(out)
        hint = "; run the study again with the same output directory to rebuild it"
        try:
            doc, _ = read_sealed(out / "experiment.json")
            config = ExperimentConfig.from_dict(doc, source=str(out / "experiment.json"))
        except ValueError as e:
            raise ValueError(f"{e}{hint}") from None
        path = out / "runs.jsonl"
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
        expected = [json.loads(json.dumps(t.identity())) for t in Experiment(config=config, out=out).tasks()]
        found = [r.get("task") for r in records]
        if found != expected:
            bad = next((k for k, (a, b) in enumerate(zip(found, expected), start=1) if a != b), min(len(found), len(expected)) + 1)
            raise ValueError(
                f"{path} does not hold the runs of the study in {out / 'experiment.json'}: {len(found)} records "
                f"for {len(expected)} runs, first difference at line {bad}{hint}"
            )
        return cls(config, records)

    # -- access ----------------------------------------------------------------------------------

    def runs(self, benchmark: str, strategy: str) -> list[dict[str, Any]]:
        """The records of one benchmark and strategy, by run index."""
        rs = [r for r in self.records if r["task"]["benchmark"] == benchmark and r["task"]["strategy"]["name"] == strategy]
        return sorted(rs, key=lambda r: r["task"]["run"])

    def strategies(self, benchmark: Optional[str] = None) -> list[Strategy]:
        """Strategies of the study that have runs (on ``benchmark`` if given), in config order."""
        return [s for s in self.config.strategies if any(self.runs(b, s.name) for b in self._benchmarks(benchmark))]

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

    def regret_matrix(self, benchmark: str, strategy: str) -> np.ndarray:
        """Best-so-far regret of every run (rows) after 1..budget samples (padded with the last)."""
        return np.array(
            [regret_curve(self.distinct_values_costs(r)[0], r["optimum"], self.config.budget) for r in self.runs(benchmark, strategy)]
        ).reshape(-1, self.config.budget)

    # -- summary ---------------------------------------------------------------------------------

    def _hits(self, runs: list[dict[str, Any]], target: str) -> tuple[list[Optional[int]], list[int]]:
        return [r["targets"][target]["hit"] for r in runs], [r["samples"] for r in runs]

    def summary(self) -> list[dict[str, Any]]:
        """One row per benchmark, strategy and target (fields: :data:`SUMMARY_FIELDS`).

        ``seg_low``/``seg_high`` are a percentile bootstrap interval over runs, seeded with
        ``derive_seed(seed, benchmark, strategy, target)``.
        """
        if self._summary is not None:
            return self._summary
        rows = []
        c = self.config
        for b in c.benchmarks:
            for s in c.strategies:
                runs = self.runs(b, s.name)
                if not runs:
                    continue
                final = self.regret_matrix(b, s.name)[:, -1]
                for t in c.targets:
                    m = runs[0]["targets"][t]["size"]
                    expected = random_search_expectation(runs[0]["space_size"], m)
                    hits, spent = self._hits(runs, t)
                    est = sample_efficiency_gain(
                        expected, hits, spent, n_boot=c.n_boot, confidence=c.confidence,
                        random_state=derive_seed(c.seed, b, s.name, t),
                    )
                    rows.append({
                        "benchmark": b,
                        "strategy": s.name,
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

    def row(self, benchmark: str, strategy: str, target: str) -> dict[str, Any]:
        """The summary row of one benchmark, strategy and target.

        Raises
        ------
        KeyError
            If the study has no runs of that benchmark and strategy, or no such target.
        """
        for r in self.summary():
            if (r["benchmark"], r["strategy"], r["target"]) == (benchmark, strategy, target):
                return r
        raise KeyError(f"no results for benchmark {benchmark!r}, strategy {strategy!r}, target {target!r}")

    def verdicts(self) -> list[dict[str, Any]]:
        """Whether each part of the claim held, per benchmark, target and strategy.

        Part 0 (precondition): the full-space predictor search beats random search (SEG CI above
        1). Part 1, per random-subset strategy: it keeps less than :data:`GAIN_SHARE_THRESHOLD` of
        the full-space gain, ``share = SEG / SEG_full``, CI entirely below the threshold. Part 2,
        per smart-subset strategy (``Neighbourhood``, ``Evolution`` or ``Union`` candidates): it
        keeps more than the threshold, CI entirely above. A CI that straddles the threshold is
        ``inconclusive``; one on the wrong side is ``did not hold``; fewer than
        :data:`MIN_RUNS_FOR_VERDICT` runs give no verdict. The reference is the first
        ``PredictorSearch`` strategy with ``FullSpace`` candidates.
        """
        if self._verdicts is not None:
            return self._verdicts
        out: list[dict[str, Any]] = []
        c = self.config
        for b in c.benchmarks:
            strategies = self.strategies(b)
            full = next((s for s in strategies if s.candidates_type == "FullSpace"), None)
            if full is None:
                continue
            for t in c.targets:
                row = self.row(b, full.name, t)
                ref_h, ref_s = self._hits(self.runs(b, full.name), t)
                ref_hits = f"{row['successes']}/{row['runs']}"
                out.append(dict(
                    benchmark=b, target=t, part=0, strategy=full.name, reference="random search",
                    share=row["seg"], share_low=row["seg_low"], share_high=row["seg_high"],
                    hits=ref_hits, reference_hits="-",
                    verdict=_judge(row["seg_low"], row["seg_high"], 1.0, below=False, runs=row["runs"]),
                ))
                for s in strategies:
                    part = {"RandomSubset": 1, "Neighbourhood": 2, "Evolution": 2, "Union": 2}.get(s.candidates_type or "")
                    if part is None:
                        continue
                    h, sp = self._hits(self.runs(b, s.name), t)
                    share, lo, hi = ert_ratio(h, sp, ref_h, ref_s, n_boot=c.n_boot, confidence=c.confidence,
                                              random_state=derive_seed(c.seed, b, s.name, full.name, t))
                    out.append(dict(
                        benchmark=b, target=t, part=part, strategy=s.name, reference=full.name,
                        share=share, share_low=lo, share_high=hi,
                        hits=f"{sum(x is not None for x in h)}/{len(h)}", reference_hits=ref_hits,
                        verdict=_judge(lo, hi, GAIN_SHARE_THRESHOLD, below=part == 1, runs=min(len(h), len(ref_h))),
                    ))
        self._verdicts = out
        return out

    # -- tables ----------------------------------------------------------------------------------

    def _table_rows(self, benchmark: str) -> tuple[list[str], list[list[str]]]:
        header = ["strategy"] + [f"{t}: SEG [95% CI] (hits)" for t in self.config.targets]
        body = []
        for s in self.strategies(benchmark):
            cells = [s.name]
            for t in self.config.targets:
                r = self.row(benchmark, s.name, t)
                cells.append(f"{fmt(r['seg'])} [{fmt(r['seg_low'])}, {fmt(r['seg_high'])}] ({r['successes']}/{r['runs']})")
            body.append(cells)
        return header, body

    def table(self, markdown: bool = False) -> str:
        """The SEG of every strategy and target, one table per benchmark.

        Parameters
        ----------
        markdown : bool, default False
            A Markdown table instead of aligned text.
        """
        parts = []
        for b in self._benchmarks():
            if not self.strategies(b):
                continue
            header, body = self._table_rows(b)
            r0 = self.runs(b, self.strategies(b)[0].name)[0]
            sizes = ", ".join(f"{t}: m={r0['targets'][t]['size']:,}" for t in self.config.targets)
            title = (f"{b} (M={r0['space_size']:,} cells, metric {r0['metric']}, {sizes}; "
                     f"{self.config.seeds} runs x {self.config.budget} samples)")
            if markdown:
                lines = [f"**{title}**", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
                lines += ["| " + " | ".join(row) + " |" for row in body]
            else:
                widths = [max(len(row[i]) for row in [header] + body) for i in range(len(header))]

                def fmt_row(row: list[str]) -> str:
                    return "  ".join(x.ljust(w) if i == 0 else x.rjust(w) for i, (x, w) in enumerate(zip(row, widths)))

                lines = [title, fmt_row(header), "  ".join("-" * w for w in widths)] + [fmt_row(row) for row in body]
            parts.append("\n".join(lines))
        return "\n\n".join(parts)

    def verdict_table(self, target: Optional[str] = None, markdown: bool = True) -> str:
        """The verdicts (all targets, or one) as a table."""
        names = {0: "0: full space beats random search (SEG)", 1: "1: random subset destroys most of the gain (share)",
                 2: "2: smart subset recovers the gain (share)"}
        rows = [v for v in self.verdicts() if target is None or v["target"] == target]
        header = ["benchmark", "target", "part", "strategy", "SEG or share [95% CI]", "hits (reference)", "verdict"]
        body = [[v["benchmark"], v["target"], names[v["part"]], v["strategy"],
                 f"{fmt(v['share'])} [{fmt(v['share_low'])}, {fmt(v['share_high'])}]",
                 f"{v['hits']} ({v['reference_hits']})", v["verdict"]] for v in rows]
        if markdown:
            return "\n".join(["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in body])
        widths = [max(len(r[i]) for r in [header] + body) for i in range(len(header))]
        return "\n".join("  ".join(x.ljust(w) for x, w in zip(r, widths)) for r in [header] + body)

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
        doc = {"config": self.config.to_dict(), "claim": CLAIM, "gain_share_threshold": GAIN_SHARE_THRESHOLD,
               "summary": self.summary(), "verdicts": self.verdicts()}
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
        head = c.headline_target
        total_time = sum(r["run_time_s"] for r in self.records)
        lines = [
            "# nasfast sample-efficiency study",
            "",
            f"{len(self.records)} runs: benchmarks {', '.join(c.benchmarks)}; {len(c.strategies)} strategies; "
            f"{c.seeds} runs per benchmark and strategy; budget {c.budget} samples per run; base seed {c.seed}; "
            f"{100 * c.confidence:g}% bootstrap intervals from {c.n_boot} resamples. "
            f"Search time summed over runs: {total_time / 60:.1f} min. The exact study is in `experiment.json`.",
            "",
            "## The claim",
            "",
            f"> {CLAIM}",
            "",
            "It is tested in three parts, on every benchmark and target; the headline target is "
            f"**{head}**. The *share* of the full-space gain that a strategy keeps is "
            "`SEG / SEG_full = ERT_full / ERT` (1 = as good as scoring the full space, 0 = never hits), "
            "with a bootstrap interval that resamples the runs of both strategies independently.",
            "",
            "- Part 0 (precondition): the full-space predictor search beats random search: its SEG interval lies above 1.",
            f"- Part 1: a random subset destroys most of the gain: its share interval lies below {GAIN_SHARE_THRESHOLD}.",
            f"- Part 2: a smart subset recovers the gain: its share interval lies above {GAIN_SHARE_THRESHOLD}.",
            "",
            "An interval on the other side of the threshold means the part *did not hold*; one that "
            f"contains the threshold is *inconclusive*; with fewer than {MIN_RUNS_FOR_VERDICT} runs per "
            "strategy there is no verdict. The successful runs (hits) of the strategy and of the "
            "full-space reference are shown beside every share.",
            "",
        ]
        for b in self._benchmarks():
            vs = [v for v in self.verdicts() if v["benchmark"] == b and v["target"] == head]
            if not vs:
                lines += [f"**{b}**: no verdict (no full-space predictor strategy was run).", ""]
                continue
            lines += [f"### Verdicts on {b}, target {head}", "", self._verdict_sentence(vs), "",
                      self._verdict_block(b, head), ""]
        lines += [
            "## Results",
            "",
            "SEG per strategy and target, with the 95% interval and the successful runs out of all runs "
            "(`hits`). SEG > 1: fewer samples than uniform random search; SEG = 0: no run hit the target "
            "within the budget.",
            "",
            self.table(markdown=True),
            "",
        ]
        if plot_note:
            lines += [plot_note, ""]
        for p in plots:
            lines += [f"![{p.stem}]({os.path.relpath(p, out)})", ""]
        lines += [
            "## Verdicts on every target",
            "",
            self.verdict_table(markdown=True),
            "",
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
            f"({c.n_boot} resamples, seeded from the base seed, the benchmark, the strategy and the target).",
            "- Regret: best value of the searchable space minus the best value found so far; curves show the "
            "median and the interquartile band over runs, against samples and against the simulated "
            "training cost of the evaluated cells.",
            "",
        ]
        return "\n".join(lines)

    def _verdict_block(self, benchmark: str, target: str) -> str:
        rows = [v for v in self.verdicts() if v["benchmark"] == benchmark and v["target"] == target]
        header = ["part", "strategy", "SEG or share [95% CI]", "hits (full space)", "verdict"]
        body = [[str(v["part"]), v["strategy"], f"{fmt(v['share'])} [{fmt(v['share_low'])}, {fmt(v['share_high'])}]",
                 f"{v['hits']} ({v['reference_hits']})", v["verdict"]] for v in rows]
        return "\n".join(["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in body])

    @staticmethod
    def _verdict_sentence(vs: list[dict[str, Any]]) -> str:
        def summarise(part: int, label: str) -> str:
            ps = [v for v in vs if v["part"] == part]
            if not ps:
                return f"{label}: not tested (no such strategy)."
            counts: dict[str, int] = {}
            for v in ps:
                counts[v["verdict"]] = counts.get(v["verdict"], 0) + 1
            detail = "; ".join(f"{k} for {n} of {len(ps)}" for k, n in counts.items())
            return f"{label}: {detail}."
        text = [
            summarise(0, "Part 0, full space beats random search"),
            summarise(1, "Part 1, random subsets destroy most of the gain"),
            summarise(2, "Part 2, smart subsets recover the gain"),
        ]
        if any(v["part"] == 0 and v["verdict"] in ("did not hold", "inconclusive") for v in vs):
            text.append("The full-space search did not clearly beat random search here, so parts 1 and 2 "
                        "measure shares of a gain that is not established.")
        return " ".join(text)


def _write_text(path: Path, text: str) -> Path:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path
