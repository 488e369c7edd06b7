"""PNG plots of a study (matplotlib, Agg backend).

Per benchmark:

- ``regret_<benchmark>.png``: best-so-far regret, median and interquartile band over runs, against
  samples and against simulated training cost;
- ``seg_<benchmark>.png``: SEG of every arm per target with its confidence interval and the
  successful runs;
- ``subsets_<benchmark>.png``: SEG against the size of the random subset (fixed and refreshed),
  with the full-space and smart-subset levels as reference lines, for the arms of the study's
  claim (only when the claim has random-subset arms).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nasfast.metrics import quantile_band, regret_at_costs

if TYPE_CHECKING:
    from nasfast.experiment.report import ExperimentResults

__all__ = ["plot_all", "plot_regret", "plot_seg", "plot_subsets"]


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError("plots need matplotlib (pip install matplotlib)") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _colours(n: int) -> list[Any]:
    plt = _pyplot()
    cmap = plt.get_cmap("tab20" if n > 10 else "tab10")
    return [cmap(i % cmap.N) for i in range(n)]


def plot_regret(results: ExperimentResults, benchmark: str, path: Path) -> Path:
    """Regret against samples and against simulated cost, median and IQR band per arm."""
    plt = _pyplot()
    arms = results.arms(benchmark)
    fig, axes = plt.subplots(1, 2, figsize=(13, 5))
    budget = results.config.budget
    runs = {s.name: results.runs(benchmark, s.name) for s in arms}
    totals = [np.nansum(results.distinct_values_costs(r)[1]) for rs in runs.values() for r in rs]
    grid = np.linspace(0.0, max(totals) if totals else 1.0, 200)[1:]
    hours = grid / 3600.0
    floor = np.inf
    for colour, s in zip(_colours(len(arms)), arms):
        med, q25, q75 = quantile_band(results.regret_matrix(benchmark, s.name))
        x = np.arange(1, budget + 1)
        axes[0].plot(x, med, color=colour, label=s.name, lw=1.5)
        axes[0].fill_between(x, q25, q75, color=colour, alpha=0.15, lw=0)
        curves = []
        for r in runs[s.name]:
            v, c = results.distinct_values_costs(r)
            curves.append(regret_at_costs(v, np.nan_to_num(c), r["optimum"], grid))
        cm, c25, c75 = quantile_band(np.array(curves).reshape(-1, grid.size))
        axes[1].plot(hours, cm, color=colour, lw=1.5)
        axes[1].fill_between(hours, c25, c75, color=colour, alpha=0.15, lw=0)
        positive = med[med > 0]
        if positive.size:
            floor = min(floor, float(positive.min()))
    lin = 10 ** np.floor(np.log10(floor)) if np.isfinite(floor) else 1e-3
    for ax in axes:
        ax.set_yscale("symlog", linthresh=lin)
        ax.set_ylim(bottom=0)
        ax.grid(True, which="both", alpha=0.3)
        ax.set_ylabel("regret (optimum - best so far)")
    axes[0].set_xlabel("samples (distinct cells evaluated)")
    axes[1].set_xlabel("simulated training cost (hours)")
    if not totals or max(totals) == 0:
        axes[1].text(0.5, 0.5, "the benchmark has no training costs", ha="center", transform=axes[1].transAxes)
    axes[0].set_title(f"{benchmark}: regret vs samples (median, IQR)")
    axes[1].set_title(f"{benchmark}: regret vs simulated cost")
    fig.legend(loc="lower center", ncol=min(6, len(arms)), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_seg(results: ExperimentResults, benchmark: str, path: Path) -> Path:
    """SEG per arm and target, CI bars, successes written beside each point."""
    plt = _pyplot()
    arms = results.arms(benchmark)
    targets = results.config.targets
    fig, axes = plt.subplots(1, len(targets), figsize=(4.2 * len(targets), 0.42 * len(arms) + 1.6), sharey=True)
    axes = np.atleast_1d(axes)
    y = np.arange(len(arms))[::-1]
    for ax, t in zip(axes, targets):
        rows = [results.row(benchmark, s.name, t) for s in arms]
        seg = np.array([r["seg"] for r in rows])
        lo = np.array([r["seg_low"] for r in rows])
        hi = np.array([r["seg_high"] for r in rows])
        positive = np.concatenate([seg, lo, hi])
        positive = positive[positive > 0]
        floor = min(positive.min(), 1.0) / 3 if positive.size else 0.1  # SEG 1 (random search) stays in view
        ceil = max(positive.max(), 1.0) * 8 if positive.size else 10
        shown = np.maximum(seg, floor)
        hit = seg > 0
        ax.errorbar(shown[hit], y[hit], xerr=[shown[hit] - np.maximum(lo[hit], floor), np.maximum(hi[hit], floor) - shown[hit]],
                    fmt="o", color="tab:blue", ecolor="tab:gray", capsize=3)
        ax.plot(shown[~hit], y[~hit], "x", color="tab:red", ls="none")
        for yi, r, xi in zip(y, rows, shown):
            ax.annotate(f"{r['successes']}/{r['runs']}", (xi, yi), xytext=(4, 5), textcoords="offset points", fontsize=7)
        ax.axvline(1.0, color="black", lw=0.8, ls=":")
        ax.set_xscale("log")
        ax.set_xlim(floor / 1.5, ceil)
        ax.set_title(f"{t} (m={rows[0]['target_size']:,})", fontsize=10)
        ax.set_xlabel("SEG = E[N_RS] / ERT")
        ax.grid(True, axis="x", which="both", alpha=0.3)
    axes[0].set_yticks(y)
    axes[0].set_yticklabels([s.name for s in arms], fontsize=8)
    fig.suptitle(f"{benchmark}: sample efficiency gain, 95% CI, successful runs (x at the left edge: no run hit the target, SEG 0)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_subsets(results: ExperimentResults, benchmark: str, path: Path) -> Path:
    """SEG against random-subset size, with full-space and smart-subset reference levels (the
    arms of the study's claim)."""
    plt = _pyplot()
    claim = results.config.claim
    if claim is None:
        raise ValueError("the subsets plot shows the arms of the study's claim, and the study has none")
    arms = results.arms(benchmark)
    targets = results.config.targets
    fig, axes = plt.subplots(1, len(targets), figsize=(4.2 * len(targets) + 2.6, 4.2), sharey=False)
    axes = np.atleast_1d(axes)
    subsets = [s for s in arms if claim.part(s.name) == 1]
    refs = [s for s in arms if claim.part(s.name) in (0, 2)]
    ref_colours = _colours(len(refs) + 2)[2:]
    sizes = [float(s.params["candidates"]["size"]) for s in subsets]
    for ax, t in zip(axes, targets):
        values = []
        zeros = []
        for refresh, colour, label in ((False, "tab:blue", "random subset, fixed"), (True, "tab:orange", "random subset, refreshed")):
            group = sorted((s for s in subsets if bool(s.params["candidates"].get("refresh", False)) == refresh),
                           key=lambda s: s.params["candidates"]["size"])
            if not group:
                continue
            rows = [results.row(benchmark, s.name, t) for s in group]
            size = np.array([s.params["candidates"]["size"] for s in group], dtype=float)
            seg = np.array([r["seg"] for r in rows])
            lo = np.array([r["seg_low"] for r in rows])
            hi = np.array([r["seg_high"] for r in rows])
            values += [seg, lo, hi]
            x = size * (1.04 if refresh else 0.96)
            ax.errorbar(x, seg, yerr=[seg - lo, hi - seg], fmt="o-", color=colour, capsize=3, label=label)
            zeros += [(xi, colour) for xi, yi in zip(x, seg) if yi == 0]
            for xi, yi, r in zip(x, seg, rows):
                if yi > 0:
                    ax.annotate(f"{r['successes']}/{r['runs']}", (xi, yi), xytext=(3, 4), textcoords="offset points",
                                fontsize=7, color=colour)
        missing = []
        for s, colour in zip(refs, ref_colours):
            r = results.row(benchmark, s.name, t)
            if r["successes"] == 0:
                missing.append(s.name)
            ls = "-" if claim.part(s.name) == 0 else "--"
            ax.axhline(r["seg"], color=colour, ls=ls, lw=1.3, label=s.name)
            ax.annotate(f"{r['successes']}/{r['runs']}", xy=(1.0, r["seg"]), xycoords=("axes fraction", "data"),
                        xytext=(-22, 3), textcoords="offset points", fontsize=7, color=colour)
            ax.axhspan(r["seg_low"], r["seg_high"], color=colour, alpha=0.12, lw=0)
            values.append(np.array([r["seg"], r["seg_low"], r["seg_high"]]))
        ax.axhline(1.0, color="black", ls=":", lw=0.8, label="random search (SEG 1)")
        allv = np.concatenate(values) if values else np.array([1.0])
        pos = allv[allv > 0]
        bottom = min(pos.min(), 1.0) / 3 if pos.size else 0.1
        ax.set_yscale("log")
        ax.set_ylim(bottom, max(pos.max(), 1.0) * 2 if pos.size else 10.0)
        for xi, colour in zeros:  # SEG 0 (no run hit the target) cannot sit on a log axis
            ax.plot([xi], [bottom * 1.3], marker="v", color=colour, ls="none")
        if missing:
            ax.text(0.02, 0.02, "no hits: " + ", ".join(missing), transform=ax.transAxes, fontsize=7)
        ax.yaxis.set_minor_formatter(plt.NullFormatter())
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(plt.NullFormatter())
        if sizes:
            ax.set_xlim(min(sizes) / 2.5, max(sizes) * 2.5)
        ax.set_xlabel("random subset size (cells scored per iteration)")
        ax.set_ylabel("SEG")
        ax.set_title(t, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center right", fontsize=8, frameon=False)
    fig.suptitle(f"{benchmark}: SEG vs random-subset size (bars, bands: 95% CI; v: no run hit the target)", fontsize=10)
    fig.subplots_adjust(left=0.05, right=1 - 2.8 / fig.get_figwidth(), bottom=0.13, top=0.86, wspace=0.3)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_all(results: ExperimentResults, out: Path) -> list[Path]:
    """Every plot of every benchmark into ``out``; returns the paths written."""
    paths = []
    for b in results.config.benchmarks:
        arms = results.arms(b)
        if not arms:
            continue
        paths.append(plot_regret(results, b, out / f"regret_{b}.png"))
        paths.append(plot_seg(results, b, out / f"seg_{b}.png"))
        claim = results.config.claim
        if claim is not None and any(claim.part(s.name) == 1 for s in arms):
            paths.append(plot_subsets(results, b, out / f"subsets_{b}.png"))
    return paths
