"""The statistics that compare two tables of the same columns (docs/synthetic-fidelity.md).

One column at a time: the two-sample Kolmogorov–Smirnov statistic and the standardized mean
difference (numeric), the total variation distance (categorical and binary), the share of
missing values. Two columns at a time, one association measure per pair of kinds, each in
[0, 1] in strength: Spearman's rank correlation (numeric × numeric, signed), the
bias-corrected Cramér's V (categorical × categorical; Bergsma 2013) and the correlation
ratio η (numeric × categorical). Missing values are left out pairwise. The area under the
ROC curve with DeLong's variance (Sun & Xu 2014) serves the real-vs-synthetic classifier.

Every function works on an :class:`Encoded` table (numeric columns as float arrays with NaN,
categorical ones as integer codes with −1 for missing, over categories shared by every
table compared), so that bootstrap resamples index rows without re-encoding.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm, rankdata

NUMERIC, BINARY, CATEGORICAL = "numeric", "binary", "categorical"
SPEARMAN, CRAMERS_V, CORRELATION_RATIO = "spearman", "cramers_v", "correlation_ratio"


def column_kinds(frame: pd.DataFrame) -> dict[str, str]:
    """Each column's kind: numeric, binary (two values or fewer, numeric or boolean) or
    categorical (text / category dtype, whatever its number of values)."""
    kinds = {}
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_bool_dtype(column):
            kinds[str(name)] = BINARY
        elif pd.api.types.is_numeric_dtype(column):
            kinds[str(name)] = BINARY if column.dropna().nunique() <= 2 else NUMERIC
        else:
            kinds[str(name)] = CATEGORICAL
    return kinds


@dataclass(frozen=True)
class Encoded:
    """Tables of the same columns, encoded once: ``values[c]`` is a float array (numeric) or
    an int array of codes (−1 = missing) into ``levels[c]``, rows of every table stacked;
    ``rows[name]`` the row indices of each table in the stack."""

    columns: tuple[str, ...]
    kinds: Mapping[str, str]
    values: Mapping[str, np.ndarray]
    levels: Mapping[str, tuple[str, ...]]
    rows: Mapping[str, np.ndarray]


def encode(tables: Mapping[str, pd.DataFrame], kinds: Mapping[str, str]) -> Encoded:
    """Encode ``tables`` (name → frame, same columns) with the kinds of :func:`column_kinds`."""
    names = list(tables)
    stacked = pd.concat([tables[n] for n in names], ignore_index=True)
    sizes = np.cumsum([0, *(len(tables[n]) for n in names)])
    rows = {n: np.arange(sizes[i], sizes[i + 1]) for i, n in enumerate(names)}
    values: dict[str, np.ndarray] = {}
    levels: dict[str, tuple[str, ...]] = {}
    for c in map(str, stacked.columns):
        column = stacked[c]
        if kinds[c] == NUMERIC:
            values[c] = pd.to_numeric(column, errors="coerce").to_numpy(float)
            continue
        known = column.notna().to_numpy()
        text = column.astype(object).where(column.notna(), None).map(_level_text)
        cats, codes = np.unique(text[known].to_numpy(str), return_inverse=True)
        full = np.full(len(column), -1, dtype=np.int64)
        full[known] = codes
        values[c], levels[c] = full, tuple(cats.tolist())
    return Encoded(tuple(map(str, stacked.columns)), dict(kinds), values, levels, rows)


def _level_text(value: object) -> str | None:
    """A category's label: 1.0 and 1 are the same level."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# -- one column -------------------------------------------------------------------------------


def missing_share(values: np.ndarray) -> float:
    """The share of missing entries (NaN or code −1); NaN for no rows."""
    if not len(values):
        return float("nan")
    missing = np.isnan(values) if values.dtype.kind == "f" else values < 0
    return float(missing.mean())


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov–Smirnov statistic, the largest gap between the two empirical
    distribution functions (missing values left out; NaN when a side has none)."""
    a, b = np.sort(a[~np.isnan(a)]), np.sort(b[~np.isnan(b)])
    if not len(a) or not len(b):
        return float("nan")
    points = np.concatenate([a, b])
    gap = np.searchsorted(a, points, "right") / len(a) - np.searchsorted(b, points, "right") / len(
        b
    )
    return float(np.max(np.abs(gap)))


def standardized_mean_difference(real: np.ndarray, other: np.ndarray) -> float:
    """(mean of ``other`` − mean of ``real``) / the pooled standard deviation
    √((s²_real + s²_other) / 2) (Austin 2009). 0 when both are the same constant; NaN when a
    side has fewer than two values or both are constant but differ."""
    real, other = real[~np.isnan(real)], other[~np.isnan(other)]
    if len(real) < 2 or len(other) < 2:
        return float("nan")
    gap = float(other.mean() - real.mean())
    pooled = float(np.sqrt((real.var(ddof=1) + other.var(ddof=1)) / 2))
    if pooled == 0:
        return 0.0 if gap == 0 else float("nan")
    return gap / pooled


def total_variation(a: np.ndarray, b: np.ndarray, n_levels: int) -> float:
    """Total variation distance ½ Σ |p − q| between the category shares of two code arrays
    (missing, code −1, left out; NaN when a side has no value)."""
    a, b = a[a >= 0], b[b >= 0]
    if not len(a) or not len(b):
        return float("nan")
    p = np.bincount(a, minlength=n_levels) / len(a)
    q = np.bincount(b, minlength=n_levels) / len(b)
    return float(0.5 * np.abs(p - q).sum())


# -- two columns ------------------------------------------------------------------------------


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation on the rows where both are known (average ranks for ties);
    NaN for fewer than three rows or a constant column."""
    keep = ~np.isnan(x) & ~np.isnan(y)
    if keep.sum() < 3:
        return float("nan")
    return _pearson(rankdata(x[keep]), rankdata(y[keep]))


def cramers_v(a: np.ndarray, b: np.ndarray, corrected: bool = True) -> float:
    """Cramér's V of two code arrays on the rows where both are known, bias-corrected as in
    Bergsma (2013) unless ``corrected`` is False; NaN when either has a single category."""
    keep = (a >= 0) & (b >= 0)
    a, b = a[keep], b[keep]
    n = len(a)
    if n < 2:
        return float("nan")
    _, a = np.unique(a, return_inverse=True)
    _, b = np.unique(b, return_inverse=True)
    r, k = int(a.max()) + 1, int(b.max()) + 1
    if r < 2 or k < 2:
        return float("nan")
    table = np.bincount(a * k + b, minlength=r * k).reshape(r, k).astype(float)
    expected = np.outer(table.sum(1), table.sum(0)) / n
    phi2 = float(((table - expected) ** 2 / expected).sum()) / n
    if not corrected:
        return float(np.sqrt(phi2 / min(r - 1, k - 1)))
    phi2 = max(0.0, phi2 - (r - 1) * (k - 1) / (n - 1))
    r_c, k_c = r - (r - 1) ** 2 / (n - 1), k - (k - 1) ** 2 / (n - 1)
    denominator = min(r_c - 1, k_c - 1)
    return float(np.sqrt(phi2 / denominator)) if denominator > 0 else float("nan")


def correlation_ratio(codes: np.ndarray, values: np.ndarray) -> float:
    """The correlation ratio η = √(between-category sum of squares / total sum of squares) of
    a numeric column across a categorical one; NaN for a constant numeric column."""
    keep = (codes >= 0) & ~np.isnan(values)
    codes, values = codes[keep], values[keep]
    if len(values) < 2:
        return float("nan")
    total = float(((values - values.mean()) ** 2).sum())
    if total <= 0:
        return float("nan")
    sizes = np.bincount(codes)
    sums = np.bincount(codes, weights=values)
    seen = sizes > 0
    between = float((sums[seen] ** 2 / sizes[seen]).sum() - values.sum() ** 2 / len(values))
    return float(np.sqrt(min(1.0, max(0.0, between / total))))


def measure_of(kind_a: str, kind_b: str) -> str:
    """The association measure of a pair of column kinds."""
    if kind_a == NUMERIC and kind_b == NUMERIC:
        return SPEARMAN
    if kind_a != NUMERIC and kind_b != NUMERIC:
        return CRAMERS_V
    return CORRELATION_RATIO


def association_matrix(data: Encoded, rows: np.ndarray) -> np.ndarray:
    """The association of every pair of columns over ``rows`` of the stack (diagonal 1)."""
    columns = data.columns
    index = {c: i for i, c in enumerate(columns)}
    matrix = np.eye(len(columns))
    numeric = [c for c in columns if data.kinds[c] == NUMERIC]
    block = np.column_stack([data.values[c][rows] for c in numeric]) if numeric else None
    fast = block is not None and len(numeric) > 1 and not np.isnan(block).any()
    if fast:  # no missing value: all Spearman correlations at once, on ranks
        with np.errstate(invalid="ignore", divide="ignore"):
            ranks = np.apply_along_axis(rankdata, 0, block)
            rho = np.corrcoef(ranks, rowvar=False)
        positions = [index[c] for c in numeric]
        matrix[np.ix_(positions, positions)] = rho
        np.fill_diagonal(matrix, 1.0)
    for a, b in itertools.combinations(columns, 2):
        measure = measure_of(data.kinds[a], data.kinds[b])
        if measure == SPEARMAN and fast:
            continue
        x, y = data.values[a][rows], data.values[b][rows]
        if measure == SPEARMAN:
            value = spearman(x, y)
        elif measure == CRAMERS_V:
            value = cramers_v(x, y)
        else:
            value = correlation_ratio(x, y) if data.kinds[b] == NUMERIC else correlation_ratio(y, x)
        matrix[index[a], index[b]] = matrix[index[b], index[a]] = value
    return matrix


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    x, y = x - x.mean(), y - y.mean()
    scale = float(np.sqrt((x**2).sum() * (y**2).sum()))
    return float((x * y).sum() / scale) if scale > 0 else float("nan")


# -- a classifier's discrimination --------------------------------------------------------------


def auc_delong(labels: Sequence[int] | np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """The area under the ROC curve of ``scores`` for ``labels`` (1 = positive) and its
    standard error by DeLong's method (midranks, Sun & Xu 2014)."""
    labels = np.asarray(labels).astype(bool)
    positives, negatives = scores[labels], scores[~labels]
    m, n = len(positives), len(negatives)
    if m < 2 or n < 2:
        return float("nan"), float("nan")
    combined = rankdata(np.concatenate([positives, negatives]))
    within_pos, within_neg = rankdata(positives), rankdata(negatives)
    v10 = (combined[:m] - within_pos) / n  # each positive: share of negatives below it
    v01 = 1.0 - (combined[m:] - within_neg) / m  # each negative: share of positives above it
    auc = float(v10.mean())
    variance = v10.var(ddof=1) / m + v01.var(ddof=1) / n
    return auc, float(np.sqrt(variance))


def auc_interval(auc: float, se: float, level: float = 0.95) -> tuple[float, float]:
    """The normal-approximation interval of an AUC, clipped to [0, 1]."""
    half = float(norm.ppf(0.5 + level / 2)) * se
    return max(0.0, auc - half), min(1.0, auc + half)
