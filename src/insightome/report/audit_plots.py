"""Figures of the report's audit section (data URIs, like :mod:`.plots`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

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

VERDICT_COLOURS = {"flag": VERMILLION, "reference": REFERENCE}
#: The verdict also as a marker and a word on the axis, so it reads without colour.
VERDICT_MARKERS = {"flag": "D", "reference": "s"}
VERDICT_SUFFIX = {"flag": " [flag]", "reference": " [ref]"}


def group_forest_plot(
    rows: Sequence[Mapping[str, Any]], overall: Mapping[str, Any], metric: str
) -> str:
    """Point + 95% CI per attribute × group; flagged groups as vermillion diamonds marked
    "[flag]" on the axis, the reference as a square, small groups hollow."""
    rows = [r for r in rows if r.get("value") is not None] or list(rows)
    n = len(rows)
    fig = new_figure((5.8, max(2.4, 0.32 * n + 1.2)))
    ax = fig.add_subplot()
    y = np.arange(n)[::-1]
    for yi, r in zip(y, rows, strict=True):
        value = r.get("value")
        verdict = str(r.get("verdict") or "")
        colour = VERDICT_COLOURS.get(verdict, BLUE)
        if value is None:
            ax.text(0.5, yi, "insufficient evidence", transform=ax.get_yaxis_transform(),
                    ha="center", va="center", fontsize=7, color=GREY)  # fmt: skip
            continue
        lo, hi = r.get("ci95") or (value, value)
        ax.plot([lo, hi], [yi, yi], color=colour, lw=1.4)
        hollow = verdict == "insufficient evidence"
        marker = VERDICT_MARKERS.get(verdict, "o")
        ax.plot([value], [yi], marker, color=colour, mfc="white" if hollow else colour, ms=6)
    if overall.get("value") is not None:
        ax.axvline(float(overall["value"]), color=REFERENCE, ls="--", lw=1)
    labels = [f"{r.get('attribute')} = {r.get('group')}" for r in rows]
    labels = [s if len(s) <= 32 else s[:31] + "…" for s in labels]
    suffixes = [VERDICT_SUFFIX.get(str(r.get("verdict") or ""), "") for r in rows]
    ax.set_yticks(y, [s + x for s, x in zip(labels, suffixes, strict=True)], fontsize=8)
    ax.set_xlabel(f"{metric} (out-of-fold, 95% CI)")
    style_axes(ax)
    return to_data_uri(fig)
