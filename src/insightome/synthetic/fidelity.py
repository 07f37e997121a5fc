"""Fidelity: does a synthetic cohort look like the real one? (docs/synthetic-fidelity.md)

:func:`fidelity_checks` compares the synthetic rows with the real rows the generator was
fitted on (``train``), four ways:

1. **Marginals**, column by column: the Kolmogorov–Smirnov statistic and the standardized
   mean difference (numeric), the total variation distance (categorical, binary), and the
   share of missing values.
2. **Pairs**: a mixed association matrix (Spearman, bias-corrected Cramér's V, correlation
   ratio: :mod:`~insightome.synthetic.fidelity_measures`), real against synthetic, its mean
   and largest absolute difference and the worst pairs by name.
3. **Distinguishability**: a classifier's cross-fitted AUC for real hold-out patients vs
   synthetic rows, and the pMSE (:mod:`~insightome.synthetic.distinguishability`: why the
   hold-out and not the training rows).
4. **Groups**: each sensitive group's share and marginals
   (:mod:`~insightome.synthetic.fidelity_groups`).

Two references come with every figure. The **yardstick** is the same statistic between the
real training rows and the real hold-out rows the generator never saw: what "as close as
another sample of real patients" looks like at this n. The **bound** decides what is
flagged: how far two samples of the sizes compared (training and synthetic), drawn with
replacement from the real training rows, can fall apart by chance, at a family-wise 5%
level (Bonferroni over the columns, and over the pairs): a second sample of real patients
raises a flag in a table in about 1 case in 20 at most. A column's bound is a tail quantile
of a multinomial bootstrap of that column (:mod:`~insightome.synthetic.fidelity_columns`);
a pair's is z × the bootstrap standard deviation of its association difference
(:data:`PAIR_DRAWS` joint resamples). Only aggregates leave this module; a real count under
``min_cell`` (missing values, a group's size) is never shown
(:mod:`insightome.groups.disclosure`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from insightome.groups.disclosure import MIN_CELL
from insightome.io.json_values import json_ready
from insightome.synthetic.distinguishability import (
    Distinguishability,
    describe,
    distinguishability,
)
from insightome.synthetic.fidelity_columns import (
    FAMILY_ALPHA,
    ColumnFidelity,
    compare_columns,
    draws_for,
    fmt,
    num,
)
from insightome.synthetic.fidelity_groups import (
    COMPARED,
    GroupFidelity,
    group_fidelity,
    group_labels,
)
from insightome.synthetic.fidelity_measures import (
    Encoded,
    association_matrix,
    column_kinds,
    encode,
    measure_of,
)

MEAN_LEVEL = 0.95  # the bound of the mean absolute association difference
PAIR_DRAWS = 100  # bootstrap draws of the pairs' spread
PAIR_WORK = 20_000  # pair × draw budget: wider tables get fewer draws (never under 30)
WORST = 5


@dataclass(frozen=True)
class PairFidelity:
    """One pair of columns: its association in each table."""

    a: str
    b: str
    measure: str
    real: float | None
    synthetic: float | None
    holdout: float | None
    difference: float | None  # synthetic − real
    bound: float | None
    flagged: bool


@dataclass(frozen=True)
class PairwiseFidelity:
    """The association matrices and how far apart they are."""

    columns: tuple[str, ...]
    real: tuple[tuple[float | None, ...], ...]
    synthetic: tuple[tuple[float | None, ...], ...]
    holdout: tuple[tuple[float | None, ...], ...] | None
    n_pairs: int
    mean_abs_difference: float | None
    max_abs_difference: float | None
    mean_bound: float | None
    yardstick_mean: float | None
    yardstick_max: float | None
    worst: tuple[PairFidelity, ...]
    flagged: tuple[PairFidelity, ...]


@dataclass(frozen=True)
class FidelityReport:
    """Everything :func:`fidelity_checks` found; :meth:`to_dict` is JSON-safe."""

    n_train: int
    n_holdout: int
    n_synthetic: int
    min_cell: int
    seed: int
    draws: int  # bootstrap draws of each column's bound
    pair_draws: int  # joint resamples of the pairs' spread
    columns: tuple[ColumnFidelity, ...]
    pairs: PairwiseFidelity
    distinguishability: Distinguishability
    groups: tuple[GroupFidelity, ...]
    notes: tuple[str, ...]
    summary: str

    @property
    def kinds(self) -> dict[str, str]:
        """Column → numeric / binary / categorical (the plots take it)."""
        return {c.column: c.kind for c in self.columns}

    @property
    def flagged_columns(self) -> list[str]:
        return [c.column for c in self.columns if c.flagged]

    def to_dict(self) -> dict[str, Any]:
        return json_ready(
            {
                "n_train": self.n_train,
                "n_holdout": self.n_holdout,
                "n_synthetic": self.n_synthetic,
                "min_cell": self.min_cell,
                "seed": self.seed,
                "draws": self.draws,
                "pair_draws": self.pair_draws,
                "summary": self.summary,
                "columns": [asdict(c) for c in self.columns],
                "pairs": asdict(self.pairs),
                "distinguishability": self.distinguishability.to_dict(),
                "groups": [g.to_dict() for g in self.groups],
                "notes": list(self.notes),
            }
        )


def fidelity_checks(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    groups: Mapping[str, object] | None = None,
    min_cell: int = MIN_CELL,
    seed: int = 0,
) -> FidelityReport:
    """Compare ``synthetic`` with the real ``train`` rows it was generated from, with the
    real ``holdout`` rows as the yardstick (module docstring).

    ``groups`` maps a sensitive attribute's name to a column of the tables (numeric columns
    with many values, e.g. age, are cut into age bands), to three label arrays aligned to
    ``train``, ``holdout`` and ``synthetic``, or to one ``pd.Series`` of labels for the
    three stacked in that order. Groups with fewer than ``min_cell`` real rows
    are "insufficient evidence", their counts never shown.
    """
    _check_columns(train, holdout, synthetic)
    labels = group_labels(groups or {}, train, holdout, synthetic, min_cell)
    kinds = column_kinds(train)
    data = encode({"train": train, "holdout": holdout, "synthetic": synthetic}, kinds)
    rng = np.random.default_rng(seed)
    notes: list[str] = []
    real, hold, synth = (data.rows[n] for n in ("train", "holdout", "synthetic"))
    use_holdout = len(hold) >= min_cell
    if not use_holdout:
        notes.append(
            f"the hold-out has fewer than {min_cell} rows: no yardstick (real vs real) is given "
            "and no real-vs-synthetic classifier is fitted"
        )
    yard = hold if use_holdout else None
    columns = compare_columns(data, real, synth, yard, rng, min_cell)
    pairs, pair_draws = _pairwise(data, real, synth, yard, rng, notes)
    separation = distinguishability(
        data,
        train="train",
        synthetic="synthetic",
        holdout="holdout" if use_holdout else None,
        seed=seed,
    )
    if separation.auc is not None:  # not assessed: the hold-out note above says why
        notes += [f"real-vs-synthetic classifier: {note}" for note in separation.notes]
    group_results = group_fidelity(labels, data, rng, min_cell)
    notes += labels.notes
    return FidelityReport(
        len(train),
        len(holdout),
        len(synthetic),
        int(min_cell),
        int(seed),
        draws_for(len(data.columns)),
        pair_draws,
        columns,
        pairs,
        separation,
        tuple(group_results),
        tuple(notes),
        _summary(columns, pairs, separation, group_results),
    )


def _pairwise(
    data: Encoded,
    real: np.ndarray,
    synth: np.ndarray,
    holdout: np.ndarray | None,
    rng: np.random.Generator,
    notes: list[str],
) -> tuple[PairwiseFidelity, int]:
    """The association matrices, their differences, the bounds and the worst pairs."""
    columns = data.columns
    a_real, a_synth = association_matrix(data, real), association_matrix(data, synth)
    a_hold = association_matrix(data, holdout) if holdout is not None else None
    upper = np.triu_indices(len(columns), 1)
    n_pairs = len(upper[0])
    draws = min(PAIR_DRAWS, max(30, PAIR_WORK // max(n_pairs, 1)))
    if draws < PAIR_DRAWS:
        notes.append(f"{n_pairs} column pairs: their bounds use {draws} bootstrap draws")
    z = float(norm.ppf(1 - FAMILY_ALPHA / 2 / max(n_pairs, 1)))
    null = np.array(
        [
            (
                association_matrix(data, rng.choice(real, len(real)))
                - association_matrix(data, rng.choice(real, len(synth)))
            )[upper]
            for _ in range(draws if n_pairs else 0)
        ]
    ).reshape(-1, n_pairs)
    bounds = z * _finite_std(null)
    row_means = [_finite(np.mean, np.abs(row)) for row in null]
    mean_bound = _finite(lambda v: np.quantile(v, MEAN_LEVEL), np.array(row_means, dtype=float))
    diff = (a_synth - a_real)[upper]
    yard = np.abs((a_hold - a_real)[upper]) if a_hold is not None else None
    undefined = int(np.sum(~np.isfinite(diff)))
    if undefined:
        notes.append(
            f"{undefined} of {n_pairs} column pairs have no association in the real or the "
            "synthetic rows (a column constant there): left out of the means and never flagged"
        )
    pairs = []
    for k, (i, j) in enumerate(zip(*upper, strict=True)):
        a, b = columns[i], columns[j]
        pairs.append(
            PairFidelity(
                a,
                b,
                measure_of(data.kinds[a], data.kinds[b]),
                num(a_real[i, j]),
                num(a_synth[i, j]),
                num(a_hold[i, j]) if a_hold is not None else None,
                num(diff[k]),
                num(bounds[k]),
                bool(abs(diff[k]) > bounds[k]),
            )
        )
    ranked = sorted(
        (p for p in pairs if p.difference is not None), key=lambda p: -abs(p.difference or 0)
    )
    result = PairwiseFidelity(
        columns,
        _matrix(a_real),
        _matrix(a_synth),
        _matrix(a_hold) if a_hold is not None else None,
        n_pairs,
        num(_finite(np.mean, np.abs(diff))),
        num(_finite(np.max, np.abs(diff))),
        num(mean_bound) if n_pairs else None,
        num(_finite(np.mean, yard)) if yard is not None else None,
        num(_finite(np.max, yard)) if yard is not None else None,
        tuple(ranked[:WORST]),
        tuple(p for p in ranked if p.flagged),
    )
    return result, draws


def _summary(
    columns: tuple[ColumnFidelity, ...],
    pairs: PairwiseFidelity,
    separation: Distinguishability,
    groups: list[GroupFidelity],
) -> str:
    """One plain-language line."""
    flagged = [c.column for c in columns if c.flagged]
    parts = [
        f"{len(flagged)} of {len(columns)} columns differ more than two real samples would"
        + (f" ({', '.join(flagged[:5])}{', …' if len(flagged) > 5 else ''})" if flagged else "")
    ]
    text = f"{len(pairs.flagged)} of {pairs.n_pairs} column pairs"
    if pairs.flagged:
        worst = pairs.flagged[0]
        text += (
            f" (worst: {worst.a}–{worst.b}, {fmt(worst.real)} real vs {fmt(worst.synthetic)} "
            "synthetic)"
        )
    parts.append(text)
    parts.append(describe(separation))
    if groups:
        compared = [g for g in groups if g.status == COMPARED]
        off = sum(1 for g in compared if g.flagged)
        others = Counter(g.status for g in groups if g.status != COMPARED)
        aside = ", ".join(f"{k} {status}" for status, k in sorted(others.items()))
        parts.append(
            f"{len(compared)} of {len(groups)} sensitive groups compared"
            + (f" ({aside})" if aside else "")
            + f", {off} with a flagged column"
        )
    return "Fidelity: " + "; ".join(parts) + "."


def _check_columns(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame) -> None:
    """The three tables must have the same columns (the generator's contract)."""
    for name, frame in (("holdout", holdout), ("synthetic", synthetic)):
        if list(map(str, frame.columns)) != list(map(str, train.columns)):
            missing = sorted(set(map(str, train.columns)) - set(map(str, frame.columns)))
            extra = sorted(set(map(str, frame.columns)) - set(map(str, train.columns)))
            raise ValueError(
                f"{name}: columns differ from train's (missing {missing}, extra {extra}, or "
                "another order)"
            )
    if len(train) < 2 or len(synthetic) < 2:
        raise ValueError("fidelity needs at least 2 real training rows and 2 synthetic rows")


def _finite(fn: Any, values: np.ndarray) -> float:
    """``fn`` of the finite values (NaN when there are none: an undefined statistic, which
    the caller notes, rather than NumPy's all-NaN warning)."""
    kept = values[np.isfinite(values)]
    return float(fn(kept)) if kept.size else float("nan")


def _finite_std(null: np.ndarray) -> np.ndarray:
    """Each pair's standard deviation over the finite draws (NaN with fewer than 2)."""
    out = np.full(null.shape[1], np.nan)
    for k in range(null.shape[1]):
        column = null[:, k][np.isfinite(null[:, k])]
        if column.size >= 2:
            out[k] = np.std(column, ddof=1)
    return out


def _matrix(matrix: np.ndarray) -> tuple[tuple[float | None, ...], ...]:
    return tuple(tuple(num(v) for v in row) for row in matrix)
