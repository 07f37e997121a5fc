"""The report's "Learning curve" section, from ``results["learning_curve"]``
(``--learning-curve``): the winner's score against training size with the fitted inverse
power law and its band (dashed beyond the largest training size, up to 2N, twice the
cohort: the sizes the sentence compares, both marked), the one sentence on what doubling
the cohort is expected to buy — or why the curve cannot say — and, with discovery, the
signature's stability versus n. Absent without the option."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from insightome.audit.performance_figures import LABELS
from insightome.report.figure_style import (
    BLUE,
    GREY,
    REFERENCE,
    VERMILLION,
    new_figure,
    style_axes,
    to_data_uri,
)
from insightome.report.figures import FigureItem, attempt_figure
from insightome.report.formatting import as_float, as_mapping, fmt, metric_label

__all__ = ["build_learning_curve", "learning_curve_figure", "learning_curve_plot"]


def build_learning_curve(results: Mapping[str, Any]) -> dict[str, Any] | None:
    """Everything the section shows, or ``None`` for a run without a learning curve."""
    lc = as_mapping(results.get("learning_curve"))
    if not lc:
        return None
    metric = metric_label(lc.get("metric"))
    points = [as_mapping(p) for p in lc.get("points") or []]
    label, why = LABELS["learning_curve"]
    rows = [
        {
            "fraction": f"{as_float(p.get('fraction')):.0%}",
            "n_train": fmt(p.get("n_train"), 0),
            "n_groups": fmt(p.get("n_groups"), 0) if "n_groups" in p else None,
            "score": fmt(p.get("score")),
            "fold_sd": fmt(p.get("fold_sd")),
        }
        for p in points
    ]
    figure: FigureItem | None = None
    if points:
        figure = attempt_figure(
            "learning-curve",
            f"{metric} against training size",
            f"{label[:1].upper()}{label[1:]}: {why}. Points: the mean over repeats of the "
            "pooled out-of-fold score at each training size; bars: the per-fold range. The "
            "line is the fitted inverse power law a − b·n^(−c), the band its 95% bootstrap "
            "band; dashed beyond the largest training size, up to 2N, twice the cohort "
            f"(N = {fmt(lc.get('doubling_from'), 0)}, 2N = {fmt(lc.get('doubling_to'), 0)}: "
            "the doubling the sentence is about; never further).",
            f"Learning curve: {metric} against training samples with a fitted curve",
            lambda: learning_curve_plot(lc, metric),
        )
    stability = as_mapping(lc.get("signature_stability"))
    stability_rows = [
        {
            "n": fmt(p.get("n"), 0),
            "stability": fmt(p.get("stability"), 2),
            # runs made before the CI of the mean was computed kept the range in "ci95"
            "ci95": _interval(p.get("ci95")) if "range95" in p else "–",
            "range95": _interval(p.get("range95", p.get("ci95"))),
            "jaccard": fmt(p.get("jaccard"), 2),
        }
        for p in (as_mapping(x) for x in stability.get("points") or [])
    ]
    return {
        "sentence": str(lc.get("sentence", "")),
        "estimated": lc.get("verdict") == "estimated",
        "label": label,
        "method": _method(lc),
        "rows": rows,
        "grouped": any(r["n_groups"] is not None for r in rows),
        "dropped": [str(d) for d in lc.get("fractions_dropped") or []],
        "figure": figure,
        "notes": [str(n) for n in lc.get("notes") or []],
        "stability": (
            {
                "summary": str(stability.get("summary", "")),
                "q": stability.get("q"),
                "n_pairs": stability.get("n_pairs"),
                "rows": stability_rows,
                "skipped": [str(s) for s in stability.get("skipped") or []],
            }
            if stability
            else None
        ),
    }


def _interval(ci: Any) -> str:
    if isinstance(ci, Sequence) and not isinstance(ci, str) and len(ci) == 2:
        return f"{fmt(ci[0], 2)} to {fmt(ci[1], 2)}"
    return "—"


def _method(lc: Mapping[str, Any]) -> str:
    fit = as_mapping(lc.get("fit"))
    params = (
        f"Fitted: a = {fmt(fit.get('a'))}, b = {fmt(fit.get('b'), 3)}, c = {fmt(fit.get('c'), 3)}. "
        if fit
        else "No power law could be fitted to the observed curve. "
    )
    failed = int(as_float(lc.get("failed_bootstrap_fits")) or 0)
    plan = as_mapping(lc.get("resampling"))
    repeats = int(as_float(plan.get("repeats")) or 0)
    resampled = (
        "the repeats and the test samples resampled"
        if repeats > 1
        else "the test samples resampled; with 1 repeat the band and the interval are "
        "conditional on the one set of training subsamples drawn"
        if plan
        else "test samples resampled"
    )
    source = (
        "a fresh resampling plan "
        f"({fmt(plan.get('folds'), 0)} folds, {repeats} repeat(s), the run's groups and "
        "stratification, a new seed: the splits that chose the winner would flatter it at "
        "full size)"
        if plan
        else "the run's own resampling"  # a run made before the fresh plan
    )
    return (
        "The winning pipeline (its feature selection included) was refitted on nested, "
        f"stratified subsamples of every training fold of {source} and scored "
        "on the full test fold; nothing else was chosen again, so the "
        "curve is the winner's, not the whole selection's. "
        + params
        + f"The band and the gain's interval come from refitting the curve to "
        f"{fmt(lc.get('n_bootstrap'), 0)} bootstrap curves ({resampled}; the same draws at "
        f"every size); the fit failed on {failed} of them."
    )


def learning_curve_plot(lc: Mapping[str, Any], metric: str) -> str:
    """The figure of :func:`learning_curve_figure` as a data URI."""
    return to_data_uri(learning_curve_figure(lc, metric))


def learning_curve_figure(lc: Mapping[str, Any], metric: str) -> Figure:
    """Score against training size: points with their per-fold range, the fitted curve and
    its band, dashed from the largest training size to 2N; N and 2N marked."""
    points = [as_mapping(p) for p in lc.get("points") or []]
    n = np.array([as_float(p.get("n_train")) for p in points], dtype=float)
    score = np.array([as_float(p.get("score")) for p in points], dtype=float)
    ranges = [p.get("fold_range") or [np.nan, np.nan] for p in points]
    low = np.array([as_float(r[0]) for r in ranges], dtype=float)
    high = np.array([as_float(r[1]) for r in ranges], dtype=float)
    fig = new_figure((5.6, 3.8))
    ax = fig.add_subplot()
    curve = as_mapping(lc.get("curve"))
    grid = np.array([as_float(v) for v in curve.get("n") or []], dtype=float)
    n_full = as_float(lc.get("n_full"))
    if grid.size:
        fitted = np.array([as_float(v) for v in curve.get("fitted") or []], dtype=float)
        band_lo = np.array([as_float(v) for v in curve.get("low") or []], dtype=float)
        band_hi = np.array([as_float(v) for v in curve.get("high") or []], dtype=float)
        inside = grid <= n_full + 1e-9
        ax.fill_between(grid, band_lo, band_hi, color=GREY, alpha=0.3, lw=0,
                        label="95% bootstrap band")  # fmt: skip
        ax.plot(grid[inside], fitted[inside], color=VERMILLION, lw=1.5, label="power-law fit")
        beyond = ~inside | np.roll(~inside, -1)
        ax.plot(grid[beyond], fitted[beyond], color=VERMILLION, lw=1.5, ls="--",
                label="extrapolated (up to 2N)", gid="extrapolated")  # fmt: skip
        for x, text in ((lc.get("doubling_from"), "N"), (lc.get("doubling_to"), "2N")):
            if x is not None:
                ax.axvline(as_float(x), color=REFERENCE, lw=0.8, ls=":", gid=f"cohort-{text}")
                ax.annotate(f"{text} = {as_float(x):.0f}", (as_float(x), 1.0),
                            xycoords=("data", "axes fraction"), fontsize=7, ha="right",
                            va="top", rotation=90)  # fmt: skip
    ax.errorbar(n, score, yerr=[np.maximum(score - low, 0), np.maximum(high - score, 0)],
                fmt="o", color=BLUE, ecolor=BLUE, elinewidth=1, capsize=3,
                label="score (bars: per-fold range)")  # fmt: skip
    ax.set_xlabel("training samples (N: the cohort the final model is trained on)")
    ax.set_ylabel(f"{metric} (learning curve)")
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    style_axes(ax)
    return fig
