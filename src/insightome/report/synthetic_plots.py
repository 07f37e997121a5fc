"""Figures of a synthetic cohort's fidelity: each column's distribution, real against
synthetic, and the association matrices side by side with their difference. Each is
returned as a PNG data URI (:mod:`~insightome.report.figure_style`).

No bar of a real distribution stands for fewer than ``min_cell`` patients (the project's
small-cell rule, :mod:`insightome.groups.disclosure`):

* numeric columns are binned at quantiles of the real values, the cut points rounded to
  three significant digits, and neighbouring bins merged until each holds ``min_cell`` real
  values or more (a sliver narrower than 1/80 of the range, made by tied values, merged
  too); the outer edges are rounded outwards to a round number, so that no
  patient's extreme value is drawn (synthetic values beyond them count in the outer bins);
  an outer bin is drawn no wider than its neighbour, so a long tail does not squash the
  rest of the panel;
* categories with fewer than ``min_cell`` real rows are pooled into one "other" bar, and
  when the pool itself is small the smallest category shown (other than "missing") joins
  it, until it is not.

Missing values are a category of their own ("missing") in the bars, and the share of a
numeric column's missing values is written under its panel (when at least ``min_cell``
real rows are missing, or none).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle

from insightome.groups.disclosure import MIN_CELL, small_marker
from insightome.report.figure_style import (
    BLUE,
    VERMILLION,
    new_figure,
    short_label,
    style_axes,
    to_data_uri,
)

__all__ = [
    "associations_plot",
    "category_bars",
    "difference_marks",
    "marginals_plot",
    "numeric_bins",
]

MAX_BINS = 20
PANELS_PER_ROW = 4
MISSING, OTHER = "missing", "other"


def numeric_bins(values: np.ndarray, min_cell: int = MIN_CELL) -> np.ndarray | None:
    """Bin edges over ``values`` (NaN ignored) with ``min_cell`` values or more in every bin;
    None when there are fewer than ``min_cell`` values in all."""
    known = np.sort(np.asarray(values, float)[~np.isnan(np.asarray(values, float))])
    if len(known) < max(min_cell, 1):
        return None
    k = max(1, min(MAX_BINS, len(known) // max(min_cell, 1)))
    inner = np.unique(_round_sig(np.quantile(known, np.linspace(0, 1, k + 1)[1:-1])))
    inner = inner[(inner > known[0]) & (inner <= known[-1])]
    lo, hi = _round_out(known[0], known[-1])
    edges = np.concatenate([[lo], inner, [hi]])
    counts = np.histogram(known, edges)[0]
    narrow = (known[-1] - known[0]) / (4 * MAX_BINS)  # ties make slivers: merged too
    while len(counts) > 1:
        short = np.flatnonzero((counts < min_cell) | (np.diff(edges) < narrow))
        if not len(short):
            break
        i = int(short[np.argmin(counts[short])])  # the smallest merges into the smaller
        j = i - 1 if i == len(counts) - 1 or (i > 0 and counts[i - 1] < counts[i + 1]) else i + 1
        edges = np.delete(edges, max(i, j))  # of its neighbours
        counts = np.histogram(known, edges)[0]
    return edges


def category_bars(
    real: pd.Series, synthetic: pd.Series, min_cell: int = MIN_CELL
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(bar labels, real shares, synthetic shares); categories with fewer than ``min_cell``
    real rows pooled into "other" (module docstring); missing values are a category."""
    real_text, synth_text = _as_text(real), _as_text(synthetic)
    counts = real_text.value_counts()
    shown = [str(c) for c in counts.index if counts[c] >= min_cell]
    pooled = int(counts.sum() - counts[shown].sum()) if shown else int(counts.sum())
    while shown and 0 < pooled < min_cell:  # a small pool: the smallest shown joins it
        joins = [c for c in shown if c != MISSING] or shown  # missing stays its own bar
        smallest = min(joins, key=lambda c: counts[c])
        shown.remove(smallest)
        pooled += int(counts[smallest])
    labels = sorted(shown, key=lambda c: (c == MISSING, str(c)))
    if pooled:
        labels.append(OTHER)
    pool_label = f"{OTHER} (pooled)"

    def shares(text: pd.Series) -> np.ndarray:
        mapped = text.where(text.isin(shown), OTHER)
        return mapped.value_counts(normalize=True).reindex(labels, fill_value=0.0).to_numpy()

    names = [pool_label if lab == OTHER else lab for lab in labels]
    return names, shares(real_text), shares(synth_text)


def marginals_plot(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    kinds: Mapping[str, str],
    min_cell: int = MIN_CELL,
    columns: Sequence[str] | None = None,
) -> str:
    """Small multiples: every column's real (training) and synthetic distribution."""
    columns = list(columns or real.columns)
    rows = max(1, math.ceil(len(columns) / PANELS_PER_ROW))
    cols = min(PANELS_PER_ROW, max(1, len(columns)))
    fig = new_figure((2.6 * cols, 2.2 * rows + 0.4))
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, column in zip(axes, columns, strict=False):
        if kinds.get(column) == "numeric":
            _numeric_panel(ax, real[column], synthetic[column], min_cell)
        else:
            _category_panel(ax, real[column], synthetic[column], min_cell)
        ax.set_title(short_label(str(column), 28), fontsize=8)
        ax.tick_params(labelsize=7)
        style_axes(ax)
    for ax in axes[len(columns) :]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside upper center", ncols=2, fontsize=8, frameon=False)
    return to_data_uri(fig)


def associations_plot(
    columns: Sequence[str],
    real: Sequence[Sequence[float | None]] | np.ndarray,
    synthetic: Sequence[Sequence[float | None]] | np.ndarray,
    flagged: Iterable[tuple[str, str]] | None = None,
) -> str:
    """The association matrices (Spearman, Cramér's V, correlation ratio) of the real
    training rows and the synthetic rows side by side, and their difference (synthetic −
    real). Given ``flagged`` (the pairs beyond their bound: ``PairwiseFidelity.flagged`` as
    ``(a, b)``), only those carry their difference as a number in a box, so that chance
    differences are not read as findings; without it, differences of 0.1 or more are
    written (no test behind them)."""
    a_real, a_synth = _as_matrix(real), _as_matrix(synthetic)
    n = len(columns)
    side = float(np.clip(1.2 + 0.28 * n, 3.0, 7.0))
    fig = new_figure((3 * side + 1.0, side + 0.6))
    axes = fig.subplots(1, 3)
    difference = a_synth - a_real
    title = "synthetic − real"
    if flagged is not None:
        marks = difference_marks(columns, difference, flagged)
        title += " (numbers: beyond chance)" if marks else " (none beyond chance)"
    panels = (("real (training rows)", a_real), ("synthetic", a_synth), (title, difference))
    for ax, (name, matrix) in zip(axes, panels, strict=True):
        image = ax.imshow(np.ma.masked_invalid(matrix), cmap="RdBu_r", vmin=-1, vmax=1)
        ax.set_title(name, fontsize=9)
        labels = [short_label(str(c), 14) for c in columns]
        size = 7 if n <= 20 else 5
        ticks = range(n) if n <= 40 else []
        ax.set_xticks(list(ticks), labels if n <= 40 else [], rotation=90, fontsize=size)
        ax.set_yticks(list(ticks), labels if n <= 40 else [], fontsize=size)
    if flagged is not None:
        for i, j, text in marks:
            axes[2].text(j, i, text, ha="center", va="center", fontsize=6)
            axes[2].add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, linewidth=1.2))
    elif n <= 12:
        for i, j in zip(*np.triu_indices(n, 1), strict=True):
            if np.isfinite(difference[i, j]) and abs(difference[i, j]) >= 0.1:
                axes[2].text(j, i, f"{difference[i, j]:+.1f}", ha="center", va="center",
                             fontsize=6)  # fmt: skip
    fig.colorbar(image, ax=list(axes), shrink=0.8, label="association (difference)")
    return to_data_uri(fig)


def difference_marks(
    columns: Sequence[str], difference: np.ndarray, flagged: Iterable[tuple[str, str]]
) -> list[tuple[int, int, str]]:
    """(row, column, text) of each flagged pair in the upper triangle of the difference
    matrix; pairs naming a column not in ``columns`` are ignored."""
    where = {str(c): k for k, c in enumerate(columns)}
    marks = []
    for a, b in flagged:
        if a not in where or b not in where or a == b:
            continue
        i, j = sorted((where[a], where[b]))
        if np.isfinite(difference[i, j]):
            marks.append((i, j, f"{difference[i, j]:+.2f}"))
    return sorted(set(marks))


def _numeric_panel(ax: Axes, real: pd.Series, synthetic: pd.Series, min_cell: int) -> None:
    r = pd.to_numeric(real, errors="coerce").to_numpy(float)
    s = pd.to_numeric(synthetic, errors="coerce").to_numpy(float)
    edges = numeric_bins(r, min_cell)
    if edges is None:
        ax.text(0.5, 0.5, f"{small_marker(min_cell)} real values:\nnot drawn", ha="center",
                va="center", transform=ax.transAxes, fontsize=7)  # fmt: skip
        return
    widths = np.diff(edges)
    for values, colour, label, filled in (
        (r, BLUE, "real (training rows)", True),
        (s, VERMILLION, "synthetic", False),
    ):
        known = np.clip(values[~np.isnan(values)], edges[0], edges[-1])
        if not len(known):
            continue
        density = np.histogram(known, edges)[0] / (len(known) * widths)
        if filled:
            ax.bar(edges[:-1], density, widths, align="edge", color=colour, alpha=0.35,
                   label=label, linewidth=0)  # fmt: skip
        else:
            ax.stairs(density, edges, color=colour, linewidth=1.5, label=label)
    ax.set_yticks([])
    if len(edges) >= 5:  # a long tail's outer bin drawn no wider than its neighbour's
        left = edges[1] - min(edges[1] - edges[0], edges[2] - edges[1])
        right = edges[-2] + min(edges[-1] - edges[-2], edges[-2] - edges[-3])
        ax.set_xlim(left, right)
    missing_r, missing_s = int(np.isnan(r).sum()), float(np.isnan(s).mean()) if len(s) else 0.0
    if missing_r or missing_s:
        real_text = (
            f"{small_marker(min_cell)} rows"
            if 0 < missing_r < min_cell
            else f"{missing_r / len(r):.0%}"
        )
        ax.set_xlabel(f"missing: real {real_text}, synthetic {missing_s:.0%}", fontsize=7)


def _category_panel(ax: Axes, real: pd.Series, synthetic: pd.Series, min_cell: int) -> None:
    labels, real_shares, synth_shares = category_bars(real, synthetic, min_cell)
    if not labels:
        return
    x = np.arange(len(labels))
    ax.bar(x - 0.2, real_shares, 0.4, color=BLUE, alpha=0.6, label="real (training rows)")
    ax.bar(x + 0.2, synth_shares, 0.4, color=VERMILLION, alpha=0.8, label="synthetic")
    ax.set_xticks(x, [short_label(lab, 12) for lab in labels], rotation=30, ha="right")
    ax.set_ylabel("share", fontsize=7)


def _as_text(column: pd.Series) -> pd.Series:
    def text(value: object) -> str:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return MISSING
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)

    return pd.Series([text(v) for v in column.astype(object).tolist()], dtype=object)


def _as_matrix(values: Sequence[Sequence[float | None]] | np.ndarray) -> np.ndarray:
    return np.array([[np.nan if v is None else v for v in row] for row in values], dtype=float)


def _round_sig(values: np.ndarray, digits: int = 3) -> np.ndarray:
    """Each value rounded to ``digits`` significant digits."""
    out = np.asarray(values, float).copy()
    nonzero = out != 0
    scale = 10 ** (digits - 1 - np.floor(np.log10(np.abs(out[nonzero]))))
    out[nonzero] = np.round(out[nonzero] * scale) / scale
    return out


def _round_out(lo: float, hi: float) -> tuple[float, float]:
    """``lo`` and ``hi`` rounded outwards to a multiple of a round step (a tenth of the
    power of ten of the range), strictly beyond the values themselves."""
    span = hi - lo if hi > lo else max(abs(hi), 1.0)
    step = 10 ** math.floor(math.log10(span)) / 10 * 5
    low, high = math.floor(lo / step) * step, math.ceil(hi / step) * step
    return (low - step if low == lo else low), (high + step if high == hi else high)
