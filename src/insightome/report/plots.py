"""The task's figures for the HTML report (classification, regression, survival), each
returned as a ``data:image/png;base64,…`` URI (:mod:`~insightome.report.figure_style`).

The figures of the estimate common to every task (candidates, permutation null) are in
:mod:`~insightome.report.estimate_plots`; this module re-exports them and the figure style,
so ``from insightome.report.plots import …`` keeps working.

Only aggregated pictures are drawn (curves, bins, histograms); the one exception allowed
by the report's privacy rule is the regression predicted-vs-observed scatter.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.ticker import MaxNLocator
from sklearn.metrics import confusion_matrix, roc_auc_score, roc_curve

from insightome.evaluate.intervals import wilson_interval
from insightome.number_format import fmt_number
from insightome.report.estimate_plots import CandidatePoint, candidates_plot, permutation_null_plot
from insightome.report.figure_style import (
    BLUE,
    DPI,
    FIGSIZE,
    GREEN,
    GREY,
    LINESTYLES,
    OKABE_ITO,
    ORANGE,
    PURPLE,
    REFERENCE,
    SKY,
    VERMILLION,
    new_figure,
    p_phrase,
    short_label,
    style_axes,
    to_data_uri,
)

__all__ = [
    "BLUE", "DPI", "FIGSIZE", "GREEN", "GREY", "OKABE_ITO", "ORANGE", "PURPLE", "REFERENCE",
    "SKY", "VERMILLION", "CandidatePoint", "calibration_plot", "candidates_plot",
    "confusion_matrix_plot", "kaplan_meier_plot", "multiclass_roc_plot", "new_figure",
    "permutation_null_plot", "residual_histogram_plot", "roc_plot", "scatter_plot",
    "style_axes", "to_data_uri",
]  # fmt: skip


# -- classification -------------------------------------------------------------------


def roc_plot(
    y_true: Sequence[int] | np.ndarray, score: Sequence[float] | np.ndarray, positive_label: str
) -> str:
    """ROC curve of out-of-fold scores for the binary outcome ``y_true`` (1 = positive)."""
    y = np.asarray(y_true, dtype=int)
    s = np.asarray(score, dtype=float)
    fpr, tpr, _ = roc_curve(y, s)
    auc = roc_auc_score(y, s)
    fig = new_figure()
    ax = fig.add_subplot()
    ax.plot(
        [0, 1], [0, 1], linestyle="--", color=REFERENCE, linewidth=1, label="chance (AUC = 0.5)"
    )
    ax.plot(fpr, tpr, color=BLUE, linewidth=2, label=f"out-of-fold (AUC = {auc:.3f})")
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1.01),
        xlabel="False positive rate (1 − specificity)",
        ylabel="True positive rate (sensitivity)",
        title=f"ROC curve, positive class '{positive_label}'",
    )
    ax.set_aspect("equal")
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    style_axes(ax)
    return to_data_uri(fig)


def calibration_plot(
    y_true: Sequence[int] | np.ndarray,
    prob: Sequence[float] | np.ndarray,
    positive_label: str,
    n_bins: int = 10,
) -> str:
    """Reliability diagram with ``n_bins`` quantile bins and a histogram of the probabilities.

    Each point is the mean predicted probability and the observed fraction of positives in
    one bin (with a 95% Wilson interval); the lower panel counts samples per probability
    range.
    """
    y = np.asarray(y_true, dtype=float)
    p = np.asarray(prob, dtype=float)
    edges = np.unique(np.quantile(p, np.linspace(0, 1, n_bins + 1)))
    bin_of = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, max(len(edges) - 2, 0))
    mean_p, frac, lo, hi, counts = [], [], [], [], []
    for b in np.unique(bin_of):
        in_bin = bin_of == b
        n = int(in_bin.sum())
        k = float(y[in_bin].sum())
        mean_p.append(float(p[in_bin].mean()))
        frac.append(k / n)
        w_lo, w_hi = wilson_interval(k, n)
        lo.append(k / n - w_lo)
        hi.append(w_hi - k / n)
        counts.append(n)
    fig = new_figure((5.0, 4.6))
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 1))
    top.plot(
        [0, 1], [0, 1], linestyle="--", color=REFERENCE, linewidth=1, label="perfect calibration"
    )
    top.errorbar(
        mean_p,
        frac,
        yerr=[lo, hi],
        color=VERMILLION,
        marker="o",
        markersize=5,
        linewidth=1.5,
        capsize=2,
        label=f"{len(counts)} quantile bins (n = {min(counts)}–{max(counts)} each)",
    )
    top.set(
        xlim=(0, 1),
        ylim=(-0.02, 1.02),
        ylabel=f"Observed fraction '{positive_label}'",
        title="Calibration (reliability diagram)",
    )
    top.legend(loc="upper left", fontsize=8, frameon=False)
    style_axes(top)
    bottom.hist(p, bins=np.linspace(0, 1, 21), color=BLUE, edgecolor="white")
    bottom.set(xlabel=f"Predicted probability of '{positive_label}'", ylabel="Samples")
    bottom.yaxis.set_major_locator(MaxNLocator(3, integer=True))
    style_axes(bottom)
    return to_data_uri(fig)


def multiclass_roc_plot(
    y_true: Sequence[str] | np.ndarray, probs: np.ndarray, classes: Sequence[str]
) -> str:
    """One-vs-rest ROC curves, one per class; ``probs`` has one column per class."""
    y = np.asarray(y_true, dtype=str)
    many = len(classes) > 6
    fig = new_figure((5.0, 4.0 + 0.16 * ((len(classes) + 2) // 2)) if many else FIGSIZE)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], linestyle="--", color=REFERENCE, linewidth=1, label="chance")
    for i, cls in enumerate(classes):
        positive = (y == str(cls)).astype(int)
        if positive.min() == positive.max():
            continue  # class absent (or the only one): no curve
        fpr, tpr, _ = roc_curve(positive, probs[:, i])
        auc = roc_auc_score(positive, probs[:, i])
        ax.plot(
            fpr,
            tpr,
            linewidth=1.8,
            color=OKABE_ITO[i % len(OKABE_ITO)],
            linestyle=LINESTYLES[(i // len(OKABE_ITO)) % len(LINESTYLES)],
            label=f"{short_label(str(cls), 18 if many else 22)} (AUC = {auc:.3f})",
        )
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1.01),
        xlabel="False positive rate (1 − specificity)",
        ylabel="True positive rate (sensitivity)",
        title="One-vs-rest ROC curves (class vs rest)",
    )
    ax.set_aspect("equal")
    if many:
        fig.legend(loc="outside lower center", ncol=2, fontsize=7, frameon=False)
    else:
        ax.legend(loc="lower right", fontsize=8, frameon=False)
    style_axes(ax)
    return to_data_uri(fig)


def confusion_matrix_plot(
    y_true: Sequence[str] | np.ndarray, y_pred: Sequence[str] | np.ndarray, classes: Sequence[str]
) -> str:
    """Heatmap of the confusion matrix counts (rows observed, columns predicted)."""
    labels = [str(c) for c in classes]
    cm = confusion_matrix(
        np.asarray(y_true, dtype=str), np.asarray(y_pred, dtype=str), labels=labels
    )
    k = len(labels)
    side = float(np.clip(3.2 + 0.35 * k, 4.0, 8.0))
    fig = new_figure((side + 1.0, side))
    ax = fig.add_subplot()
    image = ax.imshow(cm, cmap="Blues", vmin=0)
    fig.colorbar(image, ax=ax, shrink=0.8, label="Samples")
    threshold = cm.max() / 2 if cm.max() > 0 else 1
    fontsize = 9 if k <= 8 else 7
    for i in range(k):
        for j in range(k):
            ax.text(
                j,
                i,
                str(cm[i, j]),
                ha="center",
                va="center",
                fontsize=fontsize,
                color="white" if cm[i, j] > threshold else "black",
            )
    ticks = [short_label(lab, 16) for lab in labels]
    ax.set_xticks(range(k), ticks, rotation=45 if k > 3 else 0, ha="right" if k > 3 else "center")
    ax.set_yticks(range(k), ticks)
    ax.set(
        xlabel="Predicted class (out-of-fold)",
        ylabel="Observed class",
        title="Confusion matrix (counts)",
    )
    return to_data_uri(fig)


# -- regression -----------------------------------------------------------------------


def scatter_plot(
    observed: Sequence[float] | np.ndarray, predicted: Sequence[float] | np.ndarray, target: str
) -> str:
    """Out-of-fold predicted against observed values, with the identity line."""
    y = np.asarray(observed, dtype=float)
    p = np.asarray(predicted, dtype=float)
    ss_res = float(np.sum((y - p) ** 2))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1 - ss_res / ss_tot if ss_tot > 0 else float("nan")
    fig = new_figure()
    ax = fig.add_subplot()
    lo = float(min(y.min(), p.min()))
    hi = float(max(y.max(), p.max()))
    pad = 0.04 * (hi - lo or 1.0)
    alpha = float(np.clip(60 / max(len(y), 1), 0.25, 0.8))
    ax.scatter(
        y,
        p,
        s=14,
        color=BLUE,
        alpha=alpha,
        edgecolors="none",
        label=f"samples (pooled R² = {fmt_number(r2)})",
    )
    ax.plot(
        [lo - pad, hi + pad],
        [lo - pad, hi + pad],
        linestyle="--",
        color=REFERENCE,
        linewidth=1,
        label="identity (perfect prediction)",
    )
    ax.set(
        xlim=(lo - pad, hi + pad),
        ylim=(lo - pad, hi + pad),
        xlabel=f"Observed {short_label(target, 30)}",
        ylabel=f"Predicted {short_label(target, 30)}",
        title="Out-of-fold predicted vs observed",
    )
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    style_axes(ax)
    return to_data_uri(fig)


def residual_histogram_plot(
    observed: Sequence[float] | np.ndarray, predicted: Sequence[float] | np.ndarray, target: str
) -> str:
    """Histogram of out-of-fold residuals (observed − predicted)."""
    resid = np.asarray(observed, dtype=float) - np.asarray(predicted, dtype=float)
    fig = new_figure()
    ax = fig.add_subplot()
    ax.hist(resid, bins="auto", color=BLUE, edgecolor="white")
    ax.axvline(0, color=REFERENCE, linestyle="--", linewidth=1, label="zero error")
    ax.axvline(
        float(resid.mean()),
        color=VERMILLION,
        linewidth=1.5,
        label=f"mean = {fmt_number(float(resid.mean()))}, "
        f"sd = {fmt_number(float(resid.std(ddof=1)))}",
    )
    ax.set(
        xlabel=f"Residual: observed − predicted {short_label(target, 24)}",
        ylabel="Samples",
        title="Out-of-fold residuals",
    )
    ax.set_ylim(top=ax.get_ylim()[1] * 1.2)  # headroom for the legend
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    style_axes(ax)
    return to_data_uri(fig)


# -- survival -------------------------------------------------------------------------


def kaplan_meier_plot(
    time: Sequence[float] | np.ndarray,
    event: Sequence[int] | np.ndarray,
    risk: Sequence[float] | np.ndarray,
    time_name: str = "",
) -> tuple[str, float]:
    """Kaplan–Meier curves of the low- and high-risk halves (split at the median risk).

    Returns the data URI and the log-rank p-value of the two groups. Samples at exactly
    the median go to the low-risk group. The number at risk is printed under the axis.
    """
    from lifelines import KaplanMeierFitter  # imported lazily: lifelines is slow to import
    from lifelines.statistics import logrank_test

    t = np.asarray(time, dtype=float)
    e = np.asarray(event, dtype=int)
    r = np.asarray(risk, dtype=float)
    high = r > np.median(r)
    groups = [
        ("low risk (≤ median)", ~high, BLUE, "-"),
        ("high risk (> median)", high, VERMILLION, "--"),
    ]
    if high.all() or not high.any():
        raise ValueError("the risk score does not split the samples at its median")
    p_value = float(logrank_test(t[~high], t[high], e[~high], e[high]).p_value)

    fig = new_figure((5.0, 4.6))
    ax = fig.add_subplot()
    t_max = float(t.max())
    ticks = [x for x in MaxNLocator(nbins=6).tick_values(0, t_max) if 0 <= x <= t_max]
    for label, mask, colour, style in groups:
        kmf = KaplanMeierFitter(label=label).fit(t[mask], e[mask])
        sf = kmf.survival_function_.iloc[:, 0]
        ci = kmf.confidence_interval_survival_function_
        ax.step(
            sf.index,
            sf.to_numpy(),
            where="post",
            color=colour,
            linestyle=style,
            linewidth=2,
            label=f"{label}, n = {int(mask.sum())}, events = {int(e[mask].sum())}",
        )
        ax.fill_between(
            ci.index,
            ci.iloc[:, 0],
            ci.iloc[:, 1],
            step="post",
            color=colour,
            alpha=0.15,
            linewidth=0,
        )
    xlabel = f"Time ({short_label(time_name, 30)})" if time_name else "Time"
    ax.set(
        xlim=(0, t_max),
        ylim=(0, 1.02),
        xlabel=xlabel,
        ylabel="Survival probability",
        title=f"Kaplan–Meier by out-of-fold risk (log-rank p {p_phrase(p_value)})",
    )
    ax.set_xticks(ticks)
    ax.legend(loc="lower left", fontsize=8, frameon=False)
    style_axes(ax)
    # number-at-risk table under the x axis, one coloured row per group
    transform = ax.get_xaxis_transform()
    ax.text(
        -0.05,
        -0.19,
        "At risk",
        transform=ax.transAxes,
        ha="right",
        va="top",
        fontsize=7,
        color=REFERENCE,
        fontweight="bold",
    )
    for row, (label, mask, colour, _) in enumerate(groups):
        y_text = -0.25 - 0.06 * row
        ax.text(
            -0.05,
            y_text,
            label.split(" ")[0],
            transform=ax.transAxes,
            ha="right",
            va="top",
            fontsize=7,
            color=colour,
        )
        for tick in ticks:
            ax.text(
                tick,
                y_text,
                str(int((t[mask] >= tick).sum())),
                transform=transform,
                ha="center",
                va="top",
                fontsize=7,
                color=colour,
            )
    return to_data_uri(fig), p_value
