"""Singling-out and linkability risks of a synthetic table, by anonymeter's method.

Giomi, Boenisch, Wehmeyer, Tasnádi: "A Unified Framework for Quantifying Privacy Risk in
Synthetic Data", PoPETs 2023 (2), 312-328. Adapted from anonymeter 1.1
(https://github.com/statice/anonymeter, Copyright (c) 2022 Anonos IP LLC, BSD 3-Clause
Clear License), whose algorithms are followed step by step: anonymeter itself cannot be a
dependency (it pins numpy < 1.27).

Each risk compares three attacks that use only the synthetic table:

* the main attack against the training rows (the generator saw them);
* the control attack, the same guesses against the hold-out rows (it never saw them): what
  the attacker gets from what the synthetic table teaches about the population;
* a baseline attack of random guesses (reported; an attack no better than it is noted).

risk = (main rate - control rate) / (1 - control rate), each rate Wilson's centre, and the
error propagated from both Wilson half-widths, the risk and its interval clipped to [0, 1]
(anonymeter's ``stats.confidence``).

Singling out: a query (a conjunction of conditions) that matches exactly one synthetic row
is a guess that it matches exactly one real person; it succeeds when it matches exactly one
row of the attacked table. Univariate queries use one column's rare values and extremes;
multivariate ones take a random synthetic row and ``n_cols`` random columns (numeric
values: ``>=`` above the column's median, ``<=`` otherwise). Linkability: the columns are
split in two; a target is linked when both halves of it have the same nearest synthetic
row (``n_neighbors`` nearest).

Deviations from anonymeter, each for a reason:

1. Training and hold-out rows of different sizes: anonymeter scales the control count by
   a one-parameter singling-out model fitted on hold-out subsamples of min(1000, n) to n
   rows: below 1,000 hold-out rows every subsample has the same size and the curve is
   extrapolated from one point, and on ACTG 175 (1,000 training, 500 hold-out rows) it
   gave a risk of 0.15 to a second real sample that the generator never saw. Here both
   attacks are scored at the smaller size m exactly: a query matching k of N rows singles
   out one row of a random m-row subsample with probability k C(N-k, m-1) / C(N, m)
   (hypergeometric), summed over the queries; no draw, no fit. When the training rows were
   the larger table, a query aimed at one training row reaches it only in the share
   r = m/N of subsamples that hold it, so main = risk * r + (1 - risk) * control and the
   risk is (main - control) / (r - control), the error propagated as anonymeter does;
   r = 1 is anonymeter's formula. The interval widens as the hold-out shrinks, and when
   the control rate reaches r the risk is undefined ("insufficient evidence").
2. The main and control rates of singling out are divided by the number of queries made,
   not by the number requested: anonymeter counts queries it could not make as failed
   attacks, which understates the risk of a small table (the count made is reported).
3. Nearest neighbours use this package's Gower distance (`distance.py`): ranges of the
   training rows, missing against missing 0 and missing against a value 1; anonymeter
   scales by the range of the synthetic and attacked rows together, counts missing against
   missing as 1 and leaves missing against a value undefined.
4. Every random draw comes from ``seed`` (anonymeter's linkability baseline is unseeded),
   and multivariate query generation stops after ``max_attempts`` (anonymeter: 10 million).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from math import sqrt

import numpy as np
import pandas as pd
from scipy.stats import hypergeom, norm

from insightome.evaluate.intervals import wilson_interval
from insightome.io.json_values import json_ready
from insightome.synthetic.distance import GowerSpace

# Query condition operators (anonymeter's: ==, !=, >, <, >=, <=, is null, is not null).
EQ, NE, GT, LT, GE, LE, IS_NULL, NOT_NULL = range(8)
NUMERIC_OPERATORS = (EQ, NE, GT, LT, GE, LE)
CATEGORICAL_OPERATORS = (EQ, NE)
MAX_CELLS = 4_000_000  # rows x queries evaluated at once

Query = tuple[tuple[int, int, float], ...]  # (column, operator, value) per condition


@dataclass(frozen=True)
class DisclosureRisk:
    """One anonymeter-style risk: the three attacks' counts and the residual risk."""

    attack: str  # "singling out (univariate)", "singling out (multivariate)", "linkability"
    risk: float
    ci_low: float
    ci_high: float
    confidence_level: float
    n_attacks: int  # queries made / targets attacked (main and control)
    n_main: float  # successes against the training rows (expected at rows_attacked rows)
    n_control: float  # successes against the hold-out rows (expected at rows_attacked rows)
    n_baseline_attacks: int
    n_baseline: float  # successes of the random attack against the training rows
    main_rate: float
    control_rate: float
    baseline_rate: float
    rows_attacked: int  # rows each attack is scored at (the smaller table's size)
    notes: list[str] = field(default_factory=list)

    @property
    def computable(self) -> bool:
        return bool(np.isfinite(self.risk))

    def to_dict(self) -> dict:
        return json_ready(asdict(self) | {"computable": self.computable})


# -- anonymeter's statistics (stats/confidence.py) ---------------------------------------
def wilson_rate(n_total: int, n_success: float, confidence_level: float) -> tuple[float, float]:
    """Wilson score centre and half-width of a success rate (anonymeter's `success_rate`):
    the project's Wilson interval (:func:`insightome.evaluate.intervals.wilson_interval`)
    as centre ± half-width."""
    if n_total <= 0:
        return float("nan"), float("nan")
    z = float(norm.ppf(0.5 * (1.0 + confidence_level)))
    low, high = wilson_interval(n_success, n_total, z)
    return (low + high) / 2, (high - low) / 2


def residual_risk(
    main: tuple[float, float], control: tuple[float, float], reach: float = 1.0
) -> tuple[float, float, float]:
    """(risk, low, high): excess of the main over the control rate, normalised by the
    control's margin, error propagated; clipped to [0, 1] (anonymeter's `residual_success`
    and `bind_value`). ``reach`` is the chance that a query aimed at one training row can
    reach it (1 in anonymeter; m/N when scored on m-row subsamples of N training rows):
    main = risk * reach + (1 - risk) * control, solved for risk. NaN when undefined."""
    (rate, error), (control_rate, control_error) = main, control
    margin = reach - control_rate
    if not (np.isfinite(rate) and np.isfinite(control_rate)) or margin <= 0:
        return float("nan"), float("nan"), float("nan")
    value = (rate - control_rate) / margin
    spread = sqrt((error / margin) ** 2 + (control_error * (rate - reach) / margin**2) ** 2)

    def clip(x: float) -> float:
        return min(max(x, 0.0), 1.0)

    return clip(value), clip(value - spread), clip(value + spread)


# -- the attacked tables -----------------------------------------------------------------
@dataclass(frozen=True)
class _Encoded:
    """A table as one float matrix: numeric values, categorical codes; NaN = missing."""

    values: np.ndarray
    numeric: np.ndarray  # bool per column


def _encode(frames: list[pd.DataFrame]) -> list[_Encoded]:
    """Encode tables with the same columns on one shared codebook per categorical column."""
    columns = list(frames[0].columns)
    numeric = np.array([pd.api.types.is_numeric_dtype(frames[0][c]) for c in columns])
    encoded = [np.empty((len(f), len(columns))) for f in frames]
    for j, column in enumerate(columns):
        if numeric[j]:
            for out, frame in zip(encoded, frames, strict=True):
                out[:, j] = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
            continue
        texts = [frame[column].astype(object).where(frame[column].notna()) for frame in frames]
        codebook = {v: k for k, v in enumerate(sorted({str(v) for t in texts for v in t.dropna()}))}
        for out, text in zip(encoded, texts, strict=True):
            out[:, j] = [np.nan if pd.isna(v) else codebook[str(v)] for v in text]
    return [_Encoded(values, numeric) for values in encoded]


# -- singling out ------------------------------------------------------------------------
def count_matches(table: _Encoded, queries: list[Query]) -> np.ndarray:
    """How many rows of ``table`` each query matches (queries of one length at a time)."""
    counts = np.zeros(len(queries), dtype=np.int64)
    if not queries:
        return counts
    n_rows = max(table.values.shape[0], 1)
    for length in {len(q) for q in queries}:
        chosen = [i for i, q in enumerate(queries) if len(q) == length]
        spec = np.array([queries[i] for i in chosen], dtype=float)  # (Q, length, 3)
        block = max(1, MAX_CELLS // n_rows)
        for start in range(0, len(chosen), block):
            part = spec[start : start + block]
            mask = np.ones((table.values.shape[0], part.shape[0]), dtype=bool)
            for k in range(length):
                x = table.values[:, part[:, k, 0].astype(int)]
                op, value = part[:, k, 1].astype(int), part[:, k, 2]
                condition = np.empty(x.shape, dtype=bool)
                for code in np.unique(op):
                    cols = op == code
                    condition[:, cols] = _apply(int(code), x[:, cols], value[cols])
                mask &= condition
            counts[np.array(chosen[start : start + block])] = mask.sum(axis=0)
    return counts


def _apply(op: int, x: np.ndarray, value: np.ndarray) -> np.ndarray:
    """One operator on a block of columns (rows x queries). A missing value matches only
    "is null" (as in polars, where a comparison with null is null, not true)."""
    if op == IS_NULL:
        return np.isnan(x)
    if op == NOT_NULL:
        return ~np.isnan(x)
    if op == NE:
        return (x != value[None, :]) & ~np.isnan(x)
    compare = {EQ: np.equal, GT: np.greater, LT: np.less, GE: np.greater_equal, LE: np.less_equal}[
        op
    ]
    return compare(x, value[None, :])  # False wherever x is NaN


def _keep_singling_out(
    candidates: list[Query], synthetic: _Encoded, limit: int, kept: dict[Query, None]
) -> None:
    """Add the candidates that match exactly one synthetic row, new ones only, to ``kept``."""
    counts = count_matches(synthetic, candidates)
    for query, count in zip(candidates, counts, strict=True):
        if len(kept) >= limit:
            return
        if count == 1 and query not in kept:
            kept[query] = None


def univariate_queries(
    synthetic: _Encoded, n_queries: int, rng: np.random.Generator
) -> list[Query]:
    """One column's exactly-one missing value, minimum, maximum or value seen once."""
    candidates: list[Query] = []
    for j in range(synthetic.values.shape[1]):
        column = synthetic.values[:, j]
        missing = np.isnan(column)
        if missing.sum() == 1:
            candidates.append(((j, IS_NULL, 0.0),))
        present = column[~missing]
        if synthetic.numeric[j] and present.size:
            candidates += [((j, LE, float(present.min())),), ((j, GE, float(present.max())),)]
        values, counts = np.unique(present, return_counts=True)
        candidates += [((j, EQ, float(v)),) for v in values[counts == 1]]
    order = rng.permutation(len(candidates))
    kept: dict[Query, None] = {}
    _keep_singling_out([candidates[i] for i in order], synthetic, n_queries, kept)
    return list(kept)


def multivariate_queries(
    synthetic: _Encoded,
    n_queries: int,
    n_cols: int,
    max_attempts: int,
    rng: np.random.Generator,
    batch_size: int = 1000,
) -> list[Query]:
    """Queries built on a random synthetic row's values in ``n_cols`` random columns."""
    values, n_columns = synthetic.values, synthetic.values.shape[1]
    n_cols = min(n_cols, n_columns)
    with np.errstate(all="ignore"):
        medians = np.array(
            [
                np.nanmedian(values[:, j])
                if synthetic.numeric[j] and np.isfinite(values[:, j]).any()
                else np.nan
                for j in range(n_columns)
            ]
        )
    kept: dict[Query, None] = {}
    attempts = 0
    while len(kept) < n_queries and attempts < max_attempts:
        size = min(batch_size, max_attempts - attempts)
        rows = rng.integers(0, values.shape[0], size=size)
        batch = []
        for row in rows:
            conditions = []
            for j in sorted(rng.choice(n_columns, size=n_cols, replace=False).tolist()):
                value = values[row, j]
                if np.isnan(value):
                    conditions.append((j, IS_NULL, 0.0))
                elif synthetic.numeric[j]:
                    conditions.append((j, GE if value > medians[j] else LE, float(value)))
                else:
                    conditions.append((j, EQ, float(value)))
            batch.append(tuple(conditions))
        _keep_singling_out(batch, synthetic, n_queries, kept)
        attempts += size
    return list(kept)


def random_queries(
    synthetic: _Encoded, n_queries: int, n_cols: int, rng: np.random.Generator
) -> list[Query]:
    """The baseline: random columns, random values seen in them, random operators."""
    n_columns = synthetic.values.shape[1]
    n_cols = min(n_cols, n_columns)
    uniques = []
    for j in range(n_columns):
        column = synthetic.values[:, j]
        present = np.unique(column[~np.isnan(column)]).tolist()
        uniques.append(present + ([np.nan] if np.isnan(column).any() else []))
    queries = []
    for _ in range(n_queries):
        conditions = []
        for j in sorted(rng.choice(n_columns, size=n_cols, replace=False).tolist()):
            value = uniques[j][rng.integers(len(uniques[j]))]
            operators = NUMERIC_OPERATORS if synthetic.numeric[j] else CATEGORICAL_OPERATORS
            op = int(operators[rng.integers(len(operators))])
            if np.isnan(value):
                conditions.append((j, IS_NULL if op == EQ else NOT_NULL, 0.0))
            else:
                conditions.append((j, op, float(value)))
        queries.append(tuple(conditions))
    return queries


def singling_out_risk(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    seed: int,
    mode: str = "multivariate",
    n_attacks: int = 500,
    n_cols: int = 3,
    max_attempts: int = 100_000,
    confidence_level: float = 0.95,
) -> DisclosureRisk:
    """Anonymeter's singling-out risk (``mode`` "univariate" or "multivariate")."""
    if mode not in ("univariate", "multivariate"):
        raise ValueError(f"mode must be 'univariate' or 'multivariate', not {mode!r}")
    rng = np.random.default_rng(seed)
    ori, control = train.drop_duplicates(), holdout.drop_duplicates()  # as anonymeter
    syn, ori_e, control_e = _encode([synthetic.drop_duplicates(), ori, control])
    if mode == "univariate":
        queries = univariate_queries(syn, n_attacks, rng)
        baseline_cols = 1
    else:
        queries = multivariate_queries(syn, n_attacks, n_cols, max_attempts, rng)
        baseline_cols = n_cols
    m = min(len(ori), len(control))
    n_main = expected_singled_out(count_matches(ori_e, queries), len(ori), m)
    n_control = expected_singled_out(count_matches(control_e, queries), len(control), m)
    baseline = random_queries(syn, n_attacks, baseline_cols, rng)
    n_baseline = expected_singled_out(count_matches(ori_e, baseline), len(ori), m)
    notes = []
    if len(queries) < n_attacks:
        notes.append(
            f"{len(queries)} of the {n_attacks} requested singling-out queries could be made "
            "from the synthetic table; rates are out of the queries made"
        )
    if len(ori) != len(control):
        notes.append(
            f"scored at {m} rows ({len(ori)} training, {len(control)} hold-out, duplicates "
            "dropped): expected successes over all subsamples of that size"
            + (
                f"; an attack aimed at a training row reaches it in {m / len(ori):.1%} of them"
                if len(ori) > m
                else ""
            )
        )
    return _risk(
        f"singling out ({mode})",
        len(queries),
        n_main,
        n_control,
        n_attacks,
        n_baseline,
        m,
        confidence_level,
        notes,
        main_share=m / len(ori),
    )


def expected_singled_out(counts: np.ndarray, n_rows: int, m: int) -> float:
    """Expected number of queries matching exactly one row of a random ``m``-row subsample
    of a table in which they match ``counts`` rows (exactly ``counts == 1`` when m = n)."""
    if m >= n_rows:
        return float((counts == 1).sum())
    return float(hypergeom.pmf(1, n_rows, counts, m).sum())


# -- linkability -------------------------------------------------------------------------
def default_link_columns(columns: list[str], seed: int) -> tuple[list[str], list[str]]:
    """The attacker's two auxiliary tables: the columns split in halves at random (seeded)."""
    order = np.random.default_rng(seed).permutation(len(columns))
    half = (len(columns) + 1) // 2
    return [columns[i] for i in sorted(order[:half])], [columns[i] for i in sorted(order[half:])]


def linkability_risk(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    seed: int,
    aux_cols: tuple[list[str], list[str]] | None = None,
    n_attacks: int = 500,
    n_neighbors: int = 1,
    confidence_level: float = 0.95,
) -> DisclosureRisk:
    """Anonymeter's linkability risk: both halves of a target with a common neighbour."""
    if aux_cols is None:
        aux_cols = default_link_columns(list(train.columns), seed)
    if not aux_cols[0] or not aux_cols[1]:
        raise ValueError("linkability needs two non-empty sets of columns")
    rng = np.random.default_rng(seed)
    n = min(n_attacks, len(train), len(holdout))
    n_neighbors = min(n_neighbors, len(synthetic))
    targets = train.iloc[np.sort(rng.choice(len(train), size=n, replace=False))]
    control = holdout.iloc[np.sort(rng.choice(len(holdout), size=n, replace=False))]
    spaces = [GowerSpace.fit(train[list(cols)]) for cols in aux_cols]

    def links(rows: pd.DataFrame) -> int:
        neighbours = [
            _nearest_k(space, rows[list(cols)], synthetic[list(cols)], n_neighbors)
            for space, cols in zip(spaces, aux_cols, strict=True)
        ]
        return sum(bool(set(a) & set(b)) for a, b in zip(*neighbours, strict=True))

    baseline = [rng.choice(len(synthetic), size=(n, n_neighbors), replace=True) for _ in range(2)]
    n_baseline = sum(bool(set(a) & set(b)) for a, b in zip(*baseline, strict=True))
    notes = [f"columns linked: {', '.join(aux_cols[0])} | {', '.join(aux_cols[1])}"]
    return _risk(
        "linkability",
        n,
        links(targets),
        links(control),
        n,
        n_baseline,
        n,
        confidence_level,
        notes,
    )


def _nearest_k(
    space: GowerSpace, rows: pd.DataFrame, synthetic: pd.DataFrame, k: int
) -> list[np.ndarray]:
    if k == 1:
        return [np.array([i]) for i in space.nearest(rows, synthetic)[1]]
    block = max(1, MAX_CELLS // max(len(synthetic), 1))
    out: list[np.ndarray] = []
    for start in range(0, len(rows), block):
        matrix = space.pairwise(rows.iloc[start : start + block], synthetic)
        out += list(np.argsort(matrix, axis=1, kind="stable")[:, :k])
    return out


def _risk(
    attack: str,
    n_attacks: int,
    n_main: float,
    n_control: float,
    n_baseline_attacks: int,
    n_baseline: float,
    rows: int,
    confidence_level: float,
    notes: list[str],
    main_share: float = 1.0,
) -> DisclosureRisk:
    main = wilson_rate(n_attacks, n_main, confidence_level)
    control = wilson_rate(n_attacks, n_control, confidence_level)
    baseline = wilson_rate(n_baseline_attacks, n_baseline, confidence_level)
    risk, low, high = residual_risk(main, control, reach=main_share)
    if n_attacks > 0 and baseline[0] >= main[0]:
        notes.append("the attack did no better than random guessing (anonymeter's warning)")
    if n_attacks > 0 and not np.isfinite(risk):
        notes.append(
            "the control attack succeeded as often as an attack aimed at a training row can "
            "reach it: the residual risk is undefined"
        )
    return DisclosureRisk(
        attack=attack,
        risk=risk,
        ci_low=low,
        ci_high=high,
        confidence_level=confidence_level,
        n_attacks=n_attacks,
        n_main=n_main,
        n_control=n_control,
        n_baseline_attacks=n_baseline_attacks,
        n_baseline=n_baseline,
        main_rate=main[0],
        control_rate=control[0],
        baseline_rate=baseline[0],
        rows_attacked=rows,
        notes=notes,
    )
