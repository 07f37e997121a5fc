"""Figures of the report's discovery section (data URIs, like :mod:`.plots`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from insightome.report.figure_style import (
    BLUE,
    GREY,
    REFERENCE,
    VERMILLION,
    new_figure,
    style_axes,
    to_data_uri,
)


def signature_size_plot(
    sizes: Sequence[int],
    cv_values: Sequence[float | None],
    full_value: float,
    tolerance: float,
    chosen: int,
    metric: str,
) -> str:
    """CV metric against signature size, with the full model and the tolerance band."""
    fig = new_figure((5.6, 3.6))
    ax = fig.add_subplot()
    x = np.arange(len(sizes))
    v = np.array([np.nan if c is None else c for c in cv_values], dtype=float)
    ax.axhspan(full_value - tolerance, full_value, color=GREY, alpha=0.25, lw=0)
    ax.axhline(full_value, color=REFERENCE, lw=1, ls="--", label="full model (all features)")
    ax.plot(x, v, marker="o", color=BLUE, label="signature of this size")
    if chosen in sizes:
        i = list(sizes).index(chosen)
        ax.plot([x[i]], [v[i]], marker="o", ms=11, mfc="none", mec=VERMILLION, mew=2,
                label=f"chosen: {chosen} feature(s)")  # fmt: skip
    ax.set_xticks(x, [str(s) for s in sizes])
    ax.set_xlabel("signature size (features, ranked by stability in each training fold)")
    ax.set_ylabel(f"cross-validated {metric}")
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    style_axes(ax)
    return to_data_uri(fig)


def stability_plot(names: Sequence[str], frequency: Sequence[float], threshold: float) -> str:
    """Horizontal bars: selection frequency of the most stable features."""
    n = len(names)
    fig = new_figure((5.6, max(2.2, 0.26 * n + 1.0)))
    ax = fig.add_subplot()
    y = np.arange(n)[::-1]
    freq = np.asarray(frequency, dtype=float)
    colors = [BLUE if f >= threshold else GREY for f in freq]
    ax.barh(y, freq, color=colors)
    ax.axvline(threshold, color=VERMILLION, lw=1, ls="--")
    ax.set_yticks(y, [s if len(s) <= 28 else s[:27] + "…" for s in names], fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_xlabel(f"selection frequency over half-samples (stable ≥ {threshold:g})")
    style_axes(ax)
    return to_data_uri(fig)
