"""Figures of the estimate, for every task: the candidates against the BBC-CV estimate,
and the permutation null. Each is returned as a PNG data URI
(:mod:`~insightome.report.figure_style`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.ticker import MaxNLocator

from insightome.number_format import fmt_number
from insightome.report.figure_style import (
    BLUE,
    GREY,
    REFERENCE,
    SKY,
    VERMILLION,
    new_figure,
    p_phrase,
    short_label,
    style_axes,
    to_data_uri,
)

__all__ = ["CandidatePoint", "candidates_plot", "permutation_null_plot"]


@dataclass(frozen=True)
class CandidatePoint:
    """One configuration in the candidates plot."""

    name: str
    value: float
    sd: float
    winner: bool


def candidates_plot(
    points: Sequence[CandidatePoint], estimate: float, ci: tuple[float, float], metric_label: str
) -> str:
    """Dot plot of each configuration's CV score ± sd against the BBC-CV estimate.

    The winner's own score is the maximum over the candidates; the gap between it and the
    BBC-CV line is the optimism of selecting the best of many.
    """
    pts = sorted((p for p in points if np.isfinite(p.value)), key=lambda p: p.value)
    n = len(pts)
    height = float(np.clip(1.8 + 0.22 * n, 4.0, 14.0))
    fig = new_figure((6.5, height))
    ax = fig.add_subplot()
    if np.isfinite(ci[0]) and np.isfinite(ci[1]):
        ax.axvspan(
            ci[0],
            ci[1],
            color=SKY,
            alpha=0.25,
            linewidth=0,
            label=f"BBC-CV 95% CI ({fmt_number(ci[0])}–{fmt_number(ci[1])})",
        )
    if np.isfinite(estimate):
        ax.axvline(
            estimate, color=BLUE, linewidth=2, label=f"BBC-CV estimate ({fmt_number(estimate)})"
        )
    for i, p in enumerate(pts):
        sd = p.sd if np.isfinite(p.sd) else 0.0
        ax.errorbar(
            p.value,
            i,
            xerr=sd,
            fmt="o",
            capsize=2,
            color=VERMILLION if p.winner else GREY,
            markersize=8 if p.winner else 5,
            zorder=3,
            label=f"winner's own CV score ({fmt_number(p.value)})" if p.winner else None,
        )
    ax.set_yticks(range(n), [short_label(p.name, 40) for p in pts], fontsize=7 if n > 20 else 8)
    for tick, p in zip(ax.get_yticklabels(), pts, strict=True):
        if p.winner:
            tick.set_color(VERMILLION)
            tick.set_fontweight("bold")
    winners = [i for i, p in enumerate(pts) if p.winner]
    top = n - 0.3
    if winners and np.isfinite(estimate):
        # the optimism: an arrow from the BBC-CV estimate to the winner's own score
        top = n + 0.9
        best = pts[winners[0]].value
        ax.annotate(
            "",
            xy=(best, n + 0.1),
            xytext=(estimate, n + 0.1),
            arrowprops={"arrowstyle": "<->", "color": REFERENCE, "linewidth": 1.2},
        )
        ax.text(
            (best + estimate) / 2,
            n + 0.3,
            f"optimism {fmt_number(best - estimate)}",
            ha="center",
            va="bottom",
            fontsize=8,
            color=REFERENCE,
            bbox={"facecolor": "white", "edgecolor": "none", "pad": 1},
        )
    ax.set_ylim(-0.7, top)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
    ax.set_xlabel(f"Cross-validated {metric_label}\n(mean ± sd over repeats)")
    fig.suptitle(f"Candidates: best of {n} vs the BBC-CV estimate")
    fig.legend(loc="outside lower center", ncol=1, fontsize=8, frameon=False)
    style_axes(ax)
    ax.grid(False, axis="y")
    return to_data_uri(fig)


def permutation_null_plot(
    null: Sequence[float] | np.ndarray, observed: float, metric_label: str, p_value: float | None
) -> str:
    """Histogram of the permutation null distribution with the observed value marked."""
    values = np.asarray(null, dtype=float)
    values = values[np.isfinite(values)]
    fig = new_figure()
    ax = fig.add_subplot()
    ax.hist(
        values,
        bins=min(30, max(5, len(values) // 5)),
        color=GREY,
        edgecolor="white",
        label=f"shuffled outcomes (n = {len(values)})",
    )
    if observed is not None and np.isfinite(observed):
        ax.axvline(
            observed, color=VERMILLION, linewidth=2, label=f"observed ({fmt_number(observed)})"
        )
        lo = float(min(values.min(initial=observed), observed))
        hi = float(max(values.max(initial=observed), observed))
        pad = 0.05 * (hi - lo or 1.0)
        ax.set_xlim(lo - pad, hi + pad)
    title = "Permutation test"
    if p_value is not None and np.isfinite(p_value):
        title += f" (p {p_phrase(p_value)})"
    ax.set_ylim(top=ax.get_ylim()[1] * 1.2)  # headroom for the legend
    ax.set(
        xlabel=f"{metric_label} of the whole selection procedure",
        ylabel="Permutations",
        title=title,
    )
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    style_axes(ax)
    return to_data_uri(fig)
