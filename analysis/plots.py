"""Figures of the study report (matplotlib, Agg backend); each saved as PNG and SVG."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from analysis.cox import CoxTerm  # noqa: E402
from analysis.roc import RocResult  # noqa: E402
from analysis.survival import KmResult  # noqa: E402

COLOURS = ("#1f4e79", "#c0392b", "#2e8b57", "#8e44ad")
STEP_LABELS = {
    "screened": "ILD patients screened",
    "pattern_not_nsip_op": "HRCT pattern not NSIP/OP",
    "iim_muscle_involvement": "IIM with muscle involvement",
    "malignancy": "Malignancy at diagnosis",
    "multiple_ctd": "Two or more CTDs",
    "prior_treatment": "Treated before data collection",
    "drug_induced": "Drug-induced cutaneous features",
}


def _save(fig: plt.Figure, stem: Path) -> tuple[Path, Path]:
    stem.parent.mkdir(parents=True, exist_ok=True)
    png, svg = stem.with_suffix(".png"), stem.with_suffix(".svg")
    fig.savefig(png, dpi=110, bbox_inches="tight")
    fig.savefig(svg, bbox_inches="tight")
    plt.close(fig)
    return png, svg


def roc_plot(
    curves: dict[str, RocResult], stem: Path, title: str = "ROC curves"
) -> tuple[Path, Path]:
    """ROC curves (sensitivity against 1 - specificity) with AUC and DeLong CI in the legend."""
    fig, ax = plt.subplots(figsize=(5.2, 5.0))
    for (label, r), colour in zip(curves.items(), COLOURS, strict=False):
        ax.step(
            r.fpr,
            r.tpr,
            where="post",
            color=colour,
            lw=1.8,
            label=f"{label}: AUC {r.auc:.3f} ({r.auc_ci[0]:.3f}-{r.auc_ci[1]:.3f})",
        )
        if r.cutoff is not None and r.sensitivity.estimate is not None:
            ax.plot(1 - r.specificity.estimate, r.sensitivity.estimate, "o", color=colour)
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=0.8)
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="1 - specificity", ylabel="Sensitivity", title=title)
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, stem)


def km_plot(
    km: KmResult,
    stem: Path,
    title: str,
    max_time: float = 72.0,
    step: float = 12.0,
    xlabel: str = "Months since diagnosis",
) -> tuple[Path, Path]:
    """Kaplan-Meier curves with CI bands, censor ticks and a numbers-at-risk table under the axis."""
    ticks = np.arange(0, max_time + step / 2, step)
    n_groups = len(km.groups)
    fig = plt.figure(figsize=(7.0, 4.6 + 0.3 * n_groups))
    ax = fig.add_axes([0.16, 0.12 + 0.07 * n_groups + 0.08, 0.8, 0.62])
    tab = fig.add_axes([0.16, 0.04, 0.8, 0.07 * n_groups + 0.02], sharex=ax)
    for i, (g, colour) in enumerate(zip(km.groups, COLOURS, strict=False)):
        t = np.array(g.timeline)
        ax.step(t, g.estimate, where="post", color=colour, lw=1.8, label=f"{g.group} (n={g.n})")
        ax.fill_between(t, g.ci_lower, g.ci_upper, step="post", color=colour, alpha=0.12)
        y = n_groups - 1 - i
        tab.text(-0.05 * max_time, y, g.group, ha="right", va="center", fontsize=8, color=colour)
        dur = np.array(g.durations)
        for tt in ticks:
            tab.text(tt, y, str(int((dur >= tt).sum())), ha="center", va="center", fontsize=8)
    if km.logrank is not None:
        ax.text(
            0.02, 0.04, f"log-rank p = {km.logrank.p_value:.3f}", transform=ax.transAxes, fontsize=9
        )
    ax.set(ylim=(0, 1.02), xlim=(0, max_time), ylabel="Overall survival", title=title)
    ax.set_xticks(ticks)
    ax.tick_params(labelbottom=True)
    ax.set_xlabel(xlabel)
    ax.legend(loc="lower right", fontsize=8)
    tab.set_ylim(-0.6, n_groups - 0.4)
    tab.set_yticks([])
    tab.tick_params(labelbottom=False, bottom=False)
    for side in ("top", "right", "bottom", "left"):
        tab.spines[side].set_visible(False)
    tab.set_title("Number at risk", fontsize=8, loc="left")
    return _save(fig, stem)


def forest_plot(terms: list[tuple[str, CoxTerm]], stem: Path, title: str) -> tuple[Path, Path]:
    """Forest plot of hazard ratios with 95% CIs on a log axis; p values to the right.

    Terms with an infinite or zero CI bound (a diverging fit) are left out of the plot.
    """
    terms = [
        (lab, t)
        for lab, t in terms
        if np.isfinite([t.hr, t.hr_ci[0], t.hr_ci[1]]).all() and t.hr_ci[0] > 0
    ]
    n = max(len(terms), 1)
    fig, ax = plt.subplots(figsize=(7.5, 0.42 * n + 1.3))
    if not terms:
        ax.text(0.5, 0.5, "no model could be estimated", ha="center", transform=ax.transAxes)
    for i, (_label, t) in enumerate(terms):
        y = n - 1 - i
        ax.plot([t.hr_ci[0], t.hr_ci[1]], [y, y], color=COLOURS[0], lw=1.5)
        ax.plot(t.hr, y, "s", color=COLOURS[1] if t.p_value < 0.05 else COLOURS[0])
        ax.text(
            1.02,
            y,
            f"{t.hr:.2f} ({t.hr_ci[0]:.2f}-{t.hr_ci[1]:.2f})  p={t.p_value:.3f}",
            transform=ax.get_yaxis_transform(),
            va="center",
            fontsize=8,
        )
    ax.axvline(1.0, color="grey", ls="--", lw=0.8)
    ax.set_xscale("log")
    lo = min([t.hr_ci[0] for _, t in terms] + [0.5])
    hi = max([t.hr_ci[1] for _, t in terms] + [2.0])
    ticks = [
        v
        for v in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100)
        if lo / 1.5 <= v <= hi * 1.5
    ]
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{v:g}" for v in ticks])
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_yticks(range(n))
    ax.set_yticklabels([lab for lab, _ in reversed(terms)], fontsize=8)
    ax.set(xlabel="Hazard ratio (95% CI, log scale)", title=title, ylim=(-0.7, n - 0.3))
    return _save(fig, stem)


def attrition_plot(attrition: pd.DataFrame, stem: Path) -> tuple[Path, Path]:
    """Flow diagram: screened -> each exclusion -> analysed -> the four groups."""
    att = attrition.sort_values("step_order")
    steps = att[att["step"].isin(STEP_LABELS)]
    groups = att[~att["step"].isin(STEP_LABELS)]
    fig, ax = plt.subplots(figsize=(8.0, 0.75 * len(steps) + 1.6))
    ax.set_axis_off()
    height = len(steps) + 2
    ax.set_xlim(0, 10)
    ax.set_ylim(height - len(steps) - 1.2, height)
    box = dict(boxstyle="round,pad=0.4", fc="#eef3f8", ec="#1f4e79")
    exbox = dict(boxstyle="round,pad=0.3", fc="#fdf0ee", ec="#c0392b")
    y = height - 0.5
    first = True
    for _, r in steps.iterrows():
        if first:
            ax.text(
                3,
                y,
                f"{STEP_LABELS['screened']}\nn = {r['n_remaining']}",
                ha="center",
                va="center",
                bbox=box,
                fontsize=9,
            )
            first = False
        else:
            ax.annotate(
                "", xy=(3, y + 0.25), xytext=(3, y + 0.75), arrowprops=dict(arrowstyle="->")
            )
            ax.text(
                7.2,
                y + 0.5,
                f"Excluded: {STEP_LABELS.get(r['step'], r['step'])}\nn = {r['n_excluded']}",
                ha="center",
                va="center",
                bbox=exbox,
                fontsize=8,
            )
            ax.text(3, y, f"n = {r['n_remaining']}", ha="center", va="center", bbox=box, fontsize=9)
        y -= 1
    xs = np.linspace(1.2, 8.8, max(len(groups), 1))
    for x, (_, r) in zip(xs, groups.iterrows(), strict=False):
        ax.annotate("", xy=(x, y + 0.25), xytext=(3, y + 0.75), arrowprops=dict(arrowstyle="->"))
        ax.text(
            x,
            y,
            f"{r['step']}\nn = {r['n_remaining']}",
            ha="center",
            va="center",
            bbox=box,
            fontsize=9,
        )
    ax.set_title("Patient flow", fontsize=11)
    return _save(fig, stem)
