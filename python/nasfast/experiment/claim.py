"""The claim under test and its verdicts: parts 0, 1 and 2, thresholds, verdict sentences.

The generic results of a study (:mod:`nasfast.experiment.report`) know nothing of the claim;
this module judges it from them, with the arms that the study's ``[claim]`` table names
(:class:`nasfast.experiment.config.Claim`):

- part 0 (precondition): the full-space arm beats random search, its SEG interval lies above 1;
- part 1, per random-subset arm: it keeps less than :data:`GAIN_SHARE_THRESHOLD` of the
  full-space arm's gain, ``share = SEG / SEG_full = ERT_full / ERT``, interval entirely below;
- part 2, per smart-subset arm: it keeps more than the threshold, interval entirely above.

An interval on the wrong side means the part *did not hold*; one that contains the threshold is
*inconclusive*; fewer than :data:`MIN_RUNS_FOR_VERDICT` runs give no verdict. A study without
a claim has no verdicts.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Optional

from nasfast.experiment.config import derive_seed
from nasfast.experiment.tables import interval, markdown_table, text_table
from nasfast.metrics import ert_ratio

if TYPE_CHECKING:
    from nasfast.experiment.report import ExperimentResults

__all__ = ["CLAIM", "GAIN_SHARE_THRESHOLD", "MIN_RUNS_FOR_VERDICT", "VERDICT_FIELDS", "judge", "verdicts",
           "verdict_table", "claim_markdown", "every_target_markdown", "summary_json"]

#: "Most of the gain": an arm keeps less than this share of the full-space gain
#: (``SEG / SEG_full = ERT_full / ERT``) when a random subset "destroys most of it", and more than
#: this share when a smart subset "recovers" it.
GAIN_SHARE_THRESHOLD = 0.5

#: Fewer runs per arm than this give no verdict: with a handful of runs the percentile
#: bootstrap is overconfident (an arm without any success has the interval [0, 0]).
MIN_RUNS_FOR_VERDICT = 10

#: The claim the default study tests.
CLAIM = (
    "Computing the proxy only on a random subset of the space destroys most of the gain of "
    "predictor-based search over random search; a smart subset (mutation neighbourhoods of the "
    "best cells so far) recovers the gain of scoring the full space."
)

VERDICT_FIELDS = (
    "benchmark", "target", "part", "arm", "reference", "share", "share_low", "share_high", "hits",
    "reference_hits", "verdict",
)

_PART_NAMES = {
    0: "0: full space beats random search (SEG)",
    1: "1: random subset destroys most of the gain (share)",
    2: "2: smart subset recovers the gain (share)",
}


def judge(low: float, high: float, threshold: float, *, below: bool, runs: int) -> str:
    """Verdict of a claim "the value lies below (or above) the threshold" from its interval."""
    if runs < MIN_RUNS_FOR_VERDICT:
        return f"no verdict ({runs} runs, {MIN_RUNS_FOR_VERDICT} needed)"
    if math.isnan(low) or math.isnan(high):
        return "no verdict (neither arm hit the target)"
    if (high < threshold) if below else (low > threshold):
        return "held"
    if (low > threshold) if below else (high < threshold):
        return "did not hold"
    return "inconclusive"


def verdicts(results: ExperimentResults) -> list[dict[str, Any]]:
    """Whether each part of the claim held, per benchmark, target and arm.

    Rows with the fields :data:`VERDICT_FIELDS`, for the arms of the study's claim (none
    without a claim), in the study's order of arms; see the module doc for the rule. The share
    intervals are seeded with ``derive_seed(seed, benchmark, arm, full_space_arm, target)``.
    """
    c = results.config
    if c.claim is None:
        return []
    out: list[dict[str, Any]] = []
    full = c.claim.full_space
    for b in c.benchmarks:
        arms = results.arms(b)
        if full not in {a.name for a in arms}:
            continue
        for t in c.targets:
            row = results.row(b, full, t)
            ref_h, ref_s = results.hitting_times(b, full, t)
            ref_hits = f"{row['successes']}/{row['runs']}"
            out.append(dict(
                benchmark=b, target=t, part=0, arm=full, reference="random search",
                share=row["seg"], share_low=row["seg_low"], share_high=row["seg_high"],
                hits=ref_hits, reference_hits="-",
                verdict=judge(row["seg_low"], row["seg_high"], 1.0, below=False, runs=row["runs"]),
            ))
            for s in arms:
                part = c.claim.part(s.name)
                if part not in (1, 2):
                    continue
                h, sp = results.hitting_times(b, s.name, t)
                share, lo, hi = ert_ratio(h, sp, ref_h, ref_s, n_boot=c.n_boot, confidence=c.confidence,
                                          random_state=derive_seed(c.seed, b, s.name, full, t))
                out.append(dict(
                    benchmark=b, target=t, part=part, arm=s.name, reference=full,
                    share=share, share_low=lo, share_high=hi,
                    hits=f"{sum(x is not None for x in h)}/{len(h)}", reference_hits=ref_hits,
                    verdict=judge(lo, hi, GAIN_SHARE_THRESHOLD, below=part == 1, runs=min(len(h), len(ref_h))),
                ))
    return out


def verdict_table(rows: list[dict[str, Any]], target: Optional[str] = None, markdown: bool = True) -> str:
    """The verdicts (all targets, or one) as a table."""
    rows = [v for v in rows if target is None or v["target"] == target]
    header = ["benchmark", "target", "part", "arm", "SEG or share [95% CI]", "hits (reference)", "verdict"]
    body = [[v["benchmark"], v["target"], _PART_NAMES[v["part"]], v["arm"],
             interval(v["share"], v["share_low"], v["share_high"]),
             f"{v['hits']} ({v['reference_hits']})", v["verdict"]] for v in rows]
    return markdown_table(header, body) if markdown else text_table(header, body)


def _verdict_block(rows: list[dict[str, Any]]) -> str:
    header = ["part", "arm", "SEG or share [95% CI]", "hits (full space)", "verdict"]
    body = [[str(v["part"]), v["arm"], interval(v["share"], v["share_low"], v["share_high"]),
             f"{v['hits']} ({v['reference_hits']})", v["verdict"]] for v in rows]
    return markdown_table(header, body)


def _verdict_sentence(vs: list[dict[str, Any]]) -> str:
    def summarise(part: int, label: str) -> str:
        ps = [v for v in vs if v["part"] == part]
        if not ps:
            return f"{label}: not tested (no such arm)."
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


def claim_markdown(results: ExperimentResults) -> list[str]:
    """The lines of the report's section on the claim: the claim, its arms, its rule and, per
    benchmark, the verdicts on the headline target (no lines for a study without a claim)."""
    claim = results.config.claim
    if claim is None:
        return []
    head = results.config.headline_target
    random_arms = ", ".join(f"`{n}`" for n in claim.random_subsets) or "none"
    smart_arms = ", ".join(f"`{n}`" for n in claim.smart_subsets) or "none"
    lines = [
        "## The claim",
        "",
        f"> {CLAIM}",
        "",
        "It is tested in three parts, on every benchmark and target; the headline target is "
        f"**{head}**. The *share* of the full-space gain that an arm keeps is "
        "`SEG / SEG_full = ERT_full / ERT` (1 = as good as scoring the full space, 0 = never hits), "
        "with a bootstrap interval that resamples the runs of both arms independently.",
        f"The arms of the claim (the study's `[claim]` table): full space `{claim.full_space}`; "
        f"random subsets {random_arms}; smart subsets {smart_arms}.",
        "",
        "- Part 0 (precondition): the full-space predictor search beats random search: its SEG interval lies above 1.",
        f"- Part 1: a random subset destroys most of the gain: its share interval lies below {GAIN_SHARE_THRESHOLD}.",
        f"- Part 2: a smart subset recovers the gain: its share interval lies above {GAIN_SHARE_THRESHOLD}.",
        "",
        "An interval on the other side of the threshold means the part *did not hold*; one that "
        f"contains the threshold is *inconclusive*; with fewer than {MIN_RUNS_FOR_VERDICT} runs per "
        "arm there is no verdict. The successful runs (hits) of the arm and of the "
        "full-space reference are shown beside every share.",
        "",
    ]
    all_rows = results.verdicts()
    for b in results.config.benchmarks:
        vs = [v for v in all_rows if v["benchmark"] == b and v["target"] == head]
        if not vs:
            lines += [f"**{b}**: no verdict (the full-space arm `{claim.full_space}` has no runs on it).", ""]
            continue
        lines += [f"### Verdicts on {b}, target {head}", "", _verdict_sentence(vs), "",
                  _verdict_block(vs), ""]
    return lines


def every_target_markdown(results: ExperimentResults) -> list[str]:
    """The lines of the report's table of the verdicts on every target (none without a claim)."""
    if results.config.claim is None:
        return []
    return ["## Verdicts on every target", "", results.verdict_table(markdown=True), ""]


def summary_json(results: ExperimentResults) -> dict[str, Any]:
    """The claim's entries of ``summary.json``: its text (None without a claim), the threshold
    and the verdicts."""
    return {"claim": CLAIM if results.config.claim is not None else None,
            "gain_share_threshold": GAIN_SHARE_THRESHOLD, "verdicts": results.verdicts()}
