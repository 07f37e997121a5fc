"""Figures for the HTML report, each returned as a ``data:image/png;base64,…`` URI.

Every function builds a :class:`matplotlib.figure.Figure` directly (no pyplot, so no
global state and no GUI backend is ever touched), renders it to PNG in memory and
returns a data URI that the template inlines. Colours come from the Okabe–Ito palette,
which stays distinguishable for the common forms of colour blindness.

Only aggregated pictures are drawn (curves, bins, histograms); the one exception allowed
by the report's privacy rule is the regression predicted-vs-observed scatter.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from sklearn.metrics import confusion_matrix, roc_auc_score, roc_curve

__all__ = [
    "OKABE_ITO",
    "CandidatePoint",
    "calibration_plot",
    "candidates_plot",
    "confusion_matrix_plot",
    "kaplan_meier_plot",
    "multiclass_roc_plot",
    "permutation_null_plot",
    "residual_histogram_plot",
    "roc_plot",
    "scatter_plot",
]

#: Okabe & Ito (2008) colour-blind-safe palette (black omitted: used for reference lines).
OKABE_ITO: tuple[str, ...] = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#CC79A7",  # reddish purple
    "#F0E442",  # yellow
    "#999999",  # grey
)
BLUE, VERMILLION, GREEN, ORANGE, SKY, PURPLE, _YELLOW, GREY = OKABE_ITO
REFERENCE = "#444444"
LINESTYLES: tuple[str, ...] = ("-", "--", "-.", ":")

FIGSIZE: tuple[float, float] = (5.0, 4.0)
DPI = 110


def new_figure(size: tuple[float, float] = FIGSIZE) -> Figure:
    return Figure(figsize=size, dpi=DPI, layout="constrained")


def to_data_uri(fig: Figure) -> str:
    """Render ``fig`` to PNG and return it as a base64 data URI."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def style_axes(ax: Axes) -> None:
    """Light grid behind the data, no top/right spines."""
    ax.grid(True, color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _f3(value: float) -> str:
    return "–" if value is None or not np.isfinite(value) else f"{value:.3f}"


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
        w_lo, w_hi = _wilson(k, n)
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


def _wilson(k: float, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95% Wilson score interval for ``k`` successes out of ``n``."""
    if n == 0:
        return (0.0, 1.0)
    phat = k / n
    denom = 1 + z * z / n
    centre = (phat + z * z / (2 * n)) / denom
    half = z * np.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


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
            label=f"{_short(str(cls), 18 if many else 22)} (AUC = {auc:.3f})",
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
    ticks = [_short(lab, 16) for lab in labels]
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
        label=f"samples (pooled R² = {_f3(r2)})",
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
        xlabel=f"Observed {_short(target, 30)}",
        ylabel=f"Predicted {_short(target, 30)}",
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
        label=f"mean = {_f3(float(resid.mean()))}, sd = {_f3(float(resid.std(ddof=1)))}",
    )
    ax.set(
        xlabel=f"Residual: observed − predicted {_short(target, 24)}",
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
    xlabel = f"Time ({_short(time_name, 30)})" if time_name else "Time"
    ax.set(
        xlim=(0, t_max),
        ylim=(0, 1.02),
        xlabel=xlabel,
        ylabel="Survival probability",
        title=f"Kaplan–Meier by out-of-fold risk (log-rank p {_p_text(p_value)})",
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


def _p_text(p: float) -> str:
    """``'= 0.012'`` or ``'< 0.001'``, to follow a ``p``."""
    return "< 0.001" if p < 0.001 else f"= {p:.3f}"


# -- all tasks ------------------------------------------------------------------------


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
            label=f"BBC-CV 95% CI ({_f3(ci[0])}–{_f3(ci[1])})",
        )
    if np.isfinite(estimate):
        ax.axvline(estimate, color=BLUE, linewidth=2, label=f"BBC-CV estimate ({_f3(estimate)})")
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
            label=f"winner's own CV score ({_f3(p.value)})" if p.winner else None,
        )
    ax.set_yticks(range(n), [_short(p.name, 40) for p in pts], fontsize=7 if n > 20 else 8)
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
            f"optimism {_f3(best - estimate)}",
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
        ax.axvline(observed, color=VERMILLION, linewidth=2, label=f"observed ({_f3(observed)})")
        lo = float(min(values.min(initial=observed), observed))
        hi = float(max(values.max(initial=observed), observed))
        pad = 0.05 * (hi - lo or 1.0)
        ax.set_xlim(lo - pad, hi + pad)
    title = "Permutation test"
    if p_value is not None and np.isfinite(p_value):
        title += f" (p {_p_text(p_value)})"
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


def _short(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters in the middle, so distinct endings survive."""
    if len(text) <= width:
        return text
    head = (width - 1) // 2 + (width - 1) % 2
    return text[:head] + "…" + text[len(text) - (width - 1 - head) :]
