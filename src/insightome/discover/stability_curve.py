"""Signature stability versus n: would the selected features settle with more samples?

At each training size of the learning curve up to half the samples, ``n_pairs`` pairs of
*disjoint* subsamples of that size are drawn (stratified like the run's folds; whole
groups with ``groups``). On each subsample the features are selected as stability
selection selects them on a half-sample (:mod:`insightome.discover.stability`): the first
``q`` to enter the LARS path of the standardized features against the working response.
The two sets of a pair are compared by Nogueira's index (for two sets of one size it is
Kuncheva's consistency index: 1 identical, about 0 as agreeing as random sets) and by
their Jaccard overlap. Disjoint pairs keep the comparison honest: subsamples that share
samples agree more for that reason alone, which would make stability rise with n
whatever the data. Sizes above half the samples cannot give disjoint pairs and are not
measured; the last point (half the samples) is the half-sample size of the discovery's
own stability selection.

It costs ``2 · n_pairs`` LARS paths of ``q`` steps per size; no model is fitted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from insightome.discover.stability import (
    complementary_halves,
    default_q,
    design_matrix,
    entry_positions,
    nogueira_stability,
    working_response,
)
from insightome.evaluate.group_level import group_codes
from insightome.evaluate.splitters import stratification_labels

N_PAIRS = 20
#: Nogueira et al. (JMLR 2018), after Fleiss: > 0.75 excellent agreement, 0.4–0.75
#: intermediate to good, < 0.4 poor.
AGREEMENT = ((0.75, "excellent"), (0.4, "intermediate"), (-np.inf, "poor"))


@dataclass(frozen=True)
class StabilityPoint:
    n: float  # mean subsample size
    stability: float | None  # mean over pairs of Nogueira's (Kuncheva's) index
    ci95: tuple[float, float] | None  # 2.5th and 97.5th percentiles over pairs
    jaccard: float | None  # mean Jaccard overlap of the pairs' sets


@dataclass(frozen=True)
class StabilityCurve:
    q: int
    n_pairs: int
    points: list[StabilityPoint]
    skipped: list[str]  # sizes not measured, and why

    def to_dict(self) -> dict[str, object]:
        return {
            "method": (
                "first q features to enter LARS on each of two disjoint, stratified subsamples "
                "of each size; Nogueira's index (Kuncheva's for two sets) and Jaccard overlap, "
                "mean over pairs"
            ),
            "q": self.q,
            "n_pairs": self.n_pairs,
            "points": [
                {
                    "n": p.n,
                    "stability": p.stability,
                    "ci95": None if p.ci95 is None else list(p.ci95),
                    "jaccard": p.jaccard,
                }
                for p in self.points
            ],
            "skipped": self.skipped,
            "summary": self.summary(),
        }

    def summary(self) -> str:
        """One sentence for the console, the run log and the report."""
        measured = [p for p in self.points if p.stability is not None]
        if not measured:
            return "signature stability versus n: not measured (" + "; ".join(self.skipped) + ")"
        first, last = measured[0], measured[-1]
        words = agreement(last.stability)
        trend = ""
        if len(measured) > 1 and first.stability is not None and last.stability is not None:
            change = last.stability - first.stability
            trend = (
                f" (from {first.stability:.2f} at n = {first.n:.0f}: "
                + ("still rising" if change > 0.05 else "not rising") + ")"
            )  # fmt: skip
        return (
            f"signature stability at n = {last.n:.0f}: {last.stability:.2f}, {words} agreement "
            f"between disjoint subsamples{trend}"
        )


def _interval(values: np.ndarray) -> tuple[float, float] | None:
    if not values.size:
        return None
    lo, hi = np.percentile(values, [2.5, 97.5])
    return float(lo), float(hi)


def agreement(value: float | None) -> str:
    if value is None:
        return "unknown"
    return next(word for bound, word in AGREEMENT if value > bound)


def _pool(
    size: int, strata: np.ndarray, codes: np.ndarray | None, rng: np.random.Generator
) -> np.ndarray:
    """About ``2 · size`` samples, stratified (whole groups with ``codes``)."""
    n = len(strata)
    if codes is None:
        rows = []
        for s in np.unique(strata):
            members = np.flatnonzero(strata == s)
            rows.append(rng.permutation(members)[: round(2 * size * len(members) / n)])
        return np.sort(np.concatenate(rows))
    order = rng.permutation(int(codes.max()) + 1)
    counts = np.bincount(codes)[order]
    take = order[: int(np.searchsorted(np.cumsum(counts), 2 * size)) + 1]
    return np.flatnonzero(np.isin(codes, take))


def stability_versus_n(
    features: pd.DataFrame,
    y: np.ndarray,
    task: str,
    sizes: Sequence[float],
    *,
    groups: np.ndarray | None = None,
    n_pairs: int = N_PAIRS,
    seed: int = 0,
) -> StabilityCurve:
    """Stability of the selected features at each size (see the module docstring)."""
    n = len(y)
    X, column_feature = design_matrix(features)
    p = features.shape[1]
    q = default_q(p)
    response = working_response(y, task)
    strata = stratification_labels(y, task)
    codes = None if groups is None else group_codes(groups)
    rng = np.random.default_rng([seed, 21])
    half = n // 2
    wanted = sorted({round(s) for s in sizes if round(s) <= half} | {half})
    skipped = [
        f"{s:.0f}: above half the samples ({half}), no disjoint pairs"
        for s in sizes
        if round(s) > half
    ]
    points = []
    for size in wanted:
        if size < max(q + 2, 5):
            skipped.append(f"{size}: too few samples to select {q} features")
            continue
        values, overlaps, used = [], [], []
        for _ in range(n_pairs):
            pool = _pool(size, strata, codes, rng)
            sub_codes = None if codes is None else codes[pool]
            halves = complementary_halves(strata[pool], sub_codes, rng)
            sets = np.zeros((2, p), dtype=bool)
            for h, rows in enumerate(halves):
                rows = pool[rows]
                used.append(len(rows))
                steps = max(1, min(q, len(rows) - 1))
                pos = entry_positions(X[rows], response[rows], column_feature, p, steps)
                sets[h] = pos < q
            value = nogueira_stability(sets)
            if value is not None:
                values.append(value)
            union = (sets[0] | sets[1]).sum()
            if union:
                overlaps.append(float((sets[0] & sets[1]).sum() / union))
        arr = np.asarray(values)
        points.append(
            StabilityPoint(
                n=float(np.mean(used)),
                stability=float(arr.mean()) if arr.size else None,
                ci95=_interval(arr),
                jaccard=float(np.mean(overlaps)) if overlaps else None,
            )
        )
    return StabilityCurve(q, n_pairs, points, skipped)
