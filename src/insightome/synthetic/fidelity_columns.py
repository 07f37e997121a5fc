"""One column at a time: real against another table, with the bootstrap bound and the
hold-out yardstick (the method is in :mod:`insightome.synthetic.fidelity`).

The bound of a column's statistic comes from a bootstrap of that column alone: two samples
of the sizes compared, drawn with replacement from the real rows' values (missing included).
A bootstrap sample of one column is a multinomial draw of counts over the real values, so
every draw's KS statistic, standardized mean difference, total variation distance and
missing-share gap is computed from count vectors, thousands of draws at once. A statistic
is flagged above the ``1 − 0.05 / k`` quantile of its draws, k the number of columns
compared (Bonferroni): a second sample of real patients raises a flag somewhere in the
table in about 1 case in 20 at most.

Used for the whole table and, within each sensitive group, by
:mod:`~insightome.synthetic.fidelity_groups`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from insightome.groups.disclosure import small_marker
from insightome.number_format import fmt_number
from insightome.synthetic.fidelity_measures import (
    NUMERIC,
    Encoded,
    ks_statistic,
    missing_share,
    standardized_mean_difference,
    total_variation,
)

FAMILY_ALPHA = 0.05  # family-wise: over the columns of a table, over its pairs
MIN_DRAWS, DRAWS_PER_COLUMN, MAX_DRAWS = 1000, 150, 10_000
CHUNK_CELLS = 2_000_000  # draws × distinct values per block of multinomial draws


@dataclass(frozen=True)
class ColumnFidelity:
    """One column, real against synthetic, with the hold-out yardstick and the bound."""

    column: str
    kind: str
    statistic: str  # "ks" (numeric) or "tvd" (categorical, binary)
    value: float | None
    bound: float | None
    yardstick: float | None
    smd: float | None
    smd_bound: float | None
    smd_yardstick: float | None
    missing_real: float | None  # None when fewer than min_cell real rows are missing
    missing_synthetic: float | None
    missing_holdout: float | None
    missing_note: str | None
    flagged: bool
    reasons: tuple[str, ...]


def draws_for(n_columns: int) -> int:
    """Bootstrap draws per column: enough for the tail quantile the Bonferroni level reads."""
    return int(min(MAX_DRAWS, max(MIN_DRAWS, DRAWS_PER_COLUMN * n_columns)))


def compare_columns(
    data: Encoded,
    real: np.ndarray,
    other: np.ndarray,
    holdout: np.ndarray | None,
    rng: np.random.Generator,
    min_cell: int,
    columns: tuple[str, ...] | None = None,
) -> tuple[ColumnFidelity, ...]:
    """Each column of ``data`` over the stacked rows ``real`` against ``other``, with the
    bootstrap bound at these sizes and the ``holdout`` yardstick (None: no yardstick)."""
    columns = columns or data.columns
    level = 1 - FAMILY_ALPHA / max(len(columns), 1)
    draws = draws_for(len(columns))
    out = []
    for c in columns:
        values, is_numeric = data.values[c], data.kinds[c] == NUMERIC
        x, y = values[real], values[other]
        value, smd, gap = _stats(x, y, is_numeric, len(data.levels.get(c, ())))
        null = bootstrap_stats(x, len(y), is_numeric, draws, rng)
        with np.errstate(invalid="ignore"):
            bound, smd_bound, gap_bound = (
                float(np.nanquantile(np.abs(s), level)) if np.isfinite(s).any() else np.nan
                for s in null
            )
        yard = (
            _stats(x, values[holdout], is_numeric, len(data.levels.get(c, ())))
            if holdout is not None
            else None
        )
        statistic = "ks" if is_numeric else "tvd"
        reasons = []
        if value > bound:
            reasons.append(f"distribution ({statistic.upper()} {fmt(value)} > {fmt(bound)})")
        if is_numeric and abs(smd) > smd_bound:
            reasons.append(f"mean (SMD {fmt(smd)}, bound ±{fmt(smd_bound)})")
        if gap > gap_bound + 1e-12:
            reasons.append("share of missing values")
        missing_real, note = _missing(x, min_cell, "real")
        missing_hold, hold_note = None, None
        if holdout is not None:
            missing_hold, hold_note = _missing(values[holdout], min_cell, "hold-out")
        out.append(
            ColumnFidelity(
                c,
                data.kinds[c],
                statistic,
                num(value),
                num(bound),
                num(yard[0]) if yard is not None else None,
                num(smd) if is_numeric else None,
                num(smd_bound) if is_numeric else None,
                num(yard[1]) if yard is not None and is_numeric else None,
                missing_real,
                # hidden with the real share: a faithful generator's would give it away
                None if missing_real is None else num(missing_share(y)),
                missing_hold,
                "; ".join(n for n in (note, hold_note) if n) or None,
                bool(reasons),
                tuple(reasons),
            )
        )
    return tuple(out)


def bootstrap_stats(
    real: np.ndarray, m: int, is_numeric: bool, draws: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(main statistic, SMD, missing-share gap) between two bootstrap samples of ``real``
    (one column: floats with NaN, or codes with −1), of sizes ``len(real)`` and ``m``, for
    ``draws`` draws: multinomial counts over the distinct values plus a missing cell."""
    n = len(real)
    missing = np.isnan(real) if is_numeric else real < 0
    support, counts = np.unique(real[~missing], return_counts=True)
    p = np.append(counts, missing.sum()) / n
    out: list[list[np.ndarray]] = [[], [], []]
    step = max(1, CHUNK_CELLS // len(p))
    for start in range(0, draws, step):
        size = min(step, draws - start)
        first, second = rng.multinomial(n, p, size=size), rng.multinomial(m, p, size=size)
        for k, stat in enumerate(count_stats(first, second, support.astype(float), is_numeric)):
            out[k].append(stat)
    return tuple(np.concatenate(s) for s in out)  # type: ignore[return-value]


def count_stats(
    first: np.ndarray, second: np.ndarray, support: np.ndarray, is_numeric: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The statistics of :func:`_stats` for samples given as counts over ``support`` (the
    last count: missing), one draw per row."""
    gap = np.abs(second[:, -1] / second.sum(1) - first[:, -1] / first.sum(1))
    a, b = first[:, :-1].astype(float), second[:, :-1].astype(float)
    na, nb = a.sum(1), b.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        pa, pb = a / na[:, None], b / nb[:, None]
        if not is_numeric:
            return 0.5 * np.abs(pa - pb).sum(1), np.zeros(len(a)), gap
        ks = np.abs(np.cumsum(pa, 1) - np.cumsum(pb, 1)).max(1, initial=0.0)
        ks[(na == 0) | (nb == 0)] = np.nan
        mean_a, mean_b = a @ support / na, b @ support / nb
        var_a = (a @ support**2 - na * mean_a**2) / (na - 1)
        var_b = (b @ support**2 - nb * mean_b**2) / (nb - 1)
        pooled = np.sqrt(np.clip((var_a + var_b) / 2, 0, None))
        smd = np.where(pooled > 1e-12 * (1 + np.abs(mean_a)), (mean_b - mean_a) / pooled, 0.0)
        smd[(na < 2) | (nb < 2)] = np.nan
    return ks, smd, gap


def _stats(x: np.ndarray, y: np.ndarray, is_numeric: bool, n_levels: int) -> np.ndarray:
    """(main statistic, SMD, |missing-share gap|) of one column, ``x`` real, ``y`` other."""
    gap = abs(missing_share(y) - missing_share(x))
    if is_numeric:
        return np.array([ks_statistic(x, y), standardized_mean_difference(x, y), gap])
    return np.array([total_variation(x, y, n_levels), 0.0, gap])


def _missing(values: np.ndarray, min_cell: int, who: str) -> tuple[float | None, str | None]:
    """The share of missing values, or None with a note when the count is small."""
    share = missing_share(values)
    count = round(share * len(values)) if share == share else 0
    if 0 < count < min_cell:
        return None, f"{small_marker(min_cell)} {who} rows missing (share not shown)"
    return num(share), None


def num(value: object) -> float | None:
    """A float for JSON, None for NaN/inf."""
    value = float(value)  # type: ignore[arg-type]
    return value if np.isfinite(value) else None


def fmt(value: float | None) -> str:
    return fmt_number(value) if value is not None else "n/a"
