"""Signature stability versus n: would the selected features settle with more samples?

At each training size of the learning curve up to half the samples, ``n_pairs`` pairs of
*disjoint* subsamples of that size are drawn, stratified like the run's folds (class,
event status or outcome quintile; with ``groups`` a patient counts in its first sample's
stratum and is taken whole, so the pair is stratified by patient). On each subsample the
features are selected as stability selection selects them on a half-sample
(:mod:`insightome.discover.stability`): the first ``q`` to enter the LARS path of the
standardized features against the working response. Everything learned is learned on
the subsample alone — the working response (for survival, the martingale residuals of
the null Cox model, which depend on every sample's time and event) and, when features
have missing values, the imputation — so the two subsamples of a pair share no outcome
information. (Without missing values the design matrix is computed once: one-hot levels
absent from a subsample are constant columns and LARS re-standardizes each subsample, so
the result is the same.)

The two sets of a pair are compared by Nogueira's index (for two sets of one size it is
Kuncheva's consistency index: 1 identical, about 0 as agreeing as random sets) and by
their Jaccard overlap. Per size: the mean over pairs, its bootstrap 95% CI (pairs
resampled, :data:`N_BOOT`) and the 2.5–97.5% range of the pairs' values. Whether
stability still rises is judged by the bootstrap 95% CI of the change from the first to
the last measured size (pairs resampled independently at each size): "rising" only when
that interval lies above 0. Disjoint pairs keep the comparison honest: subsamples that
share samples agree more for that reason alone, which would make stability rise with n
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
    default_q,
    design_matrix,
    entry_positions,
    nogueira_stability,
    working_response,
)
from insightome.evaluate.group_level import group_codes
from insightome.evaluate.splitters import stratification_labels

N_PAIRS = 20
N_BOOT = 2000  # bootstrap resamples of the pairs (CI of a mean, of the change)
#: Nogueira et al. (JMLR 2018), after Fleiss: > 0.75 excellent agreement, 0.4–0.75
#: intermediate to good, < 0.4 poor.
AGREEMENT = ((0.75, "excellent"), (0.4, "intermediate"), (-np.inf, "poor"))


@dataclass(frozen=True)
class StabilityPoint:
    n: float  # mean subsample size
    stability: float | None  # mean over pairs of Nogueira's (Kuncheva's) index
    ci95: tuple[float, float] | None  # bootstrap (over pairs) 95% CI of that mean
    range95: tuple[float, float] | None  # 2.5th and 97.5th percentiles of the pairs' values
    jaccard: float | None  # mean Jaccard overlap of the pairs' sets
    values: tuple[float, ...] = ()  # the pairs' values (not in results.json)


@dataclass(frozen=True)
class StabilityChange:
    """Last minus first measured point, with its bootstrap 95% CI (pairs resampled)."""

    n_from: float
    n_to: float
    change: float
    ci95: tuple[float, float]

    @property
    def rising(self) -> bool:
        return self.ci95[0] > 0


@dataclass(frozen=True)
class StabilityCurve:
    q: int
    n_pairs: int
    points: list[StabilityPoint]
    skipped: list[str]  # sizes not measured, and why
    change: StabilityChange | None = None  # with two measured points or more

    def to_dict(self) -> dict[str, object]:
        c = self.change
        return {
            "method": (
                "first q features to enter LARS on each of two disjoint, stratified subsamples "
                "of each size (working response and imputation learned on each subsample); "
                "Nogueira's index (Kuncheva's for two sets) and Jaccard overlap, mean over "
                "pairs with a bootstrap 95% CI; the change from the first to the last size "
                "with a bootstrap 95% CI"
            ),
            "q": self.q,
            "n_pairs": self.n_pairs,
            "points": [
                {
                    "n": p.n,
                    "stability": p.stability,
                    "ci95": None if p.ci95 is None else list(p.ci95),
                    "range95": None if p.range95 is None else list(p.range95),
                    "jaccard": p.jaccard,
                }
                for p in self.points
            ],
            "change": None
            if c is None
            else {
                "n_from": c.n_from,
                "n_to": c.n_to,
                "change": c.change,
                "ci95": list(c.ci95),
                "rising": c.rising,
            },
            "skipped": self.skipped,
            "summary": self.summary(),
        }

    def summary(self) -> str:
        """One sentence for the console, the run log and the report."""
        measured = [p for p in self.points if p.stability is not None]
        if not measured:
            return "signature stability versus n: not measured (" + "; ".join(self.skipped) + ")"
        last = measured[-1]
        assert last.stability is not None
        trend = ""
        if self.change is not None and measured[0].stability is not None:
            c = self.change
            trend = (
                f" (from {measured[0].stability:.2f} at n = {c.n_from:.0f}: "
                + ("still rising" if c.rising else "not rising beyond noise")
                + f", change {c.change:+.2f}, 95% CI {c.ci95[0]:+.2f} to {c.ci95[1]:+.2f})"
            )
        return (
            f"signature stability at n = {last.n:.0f}: {last.stability:.2f}, "
            f"{agreement(last.stability)} agreement between disjoint subsamples{trend}"
        )


def _percentiles(values: np.ndarray) -> tuple[float, float] | None:
    if not values.size:
        return None
    lo, hi = np.percentile(values, [2.5, 97.5])
    return float(lo), float(hi)


def _boot_means(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """:data:`N_BOOT` means of the values resampled with replacement."""
    idx = rng.integers(0, len(values), size=(N_BOOT, len(values)))
    return values[idx].mean(axis=1)


def change_between(
    first: StabilityPoint, last: StabilityPoint, rng: np.random.Generator
) -> StabilityChange | None:
    """Last minus first mean, its CI from resampling each size's pairs independently."""
    a, b = np.asarray(first.values), np.asarray(last.values)
    if not a.size or not b.size:
        return None
    diff = _boot_means(b, rng) - _boot_means(a, rng)
    ci = _percentiles(diff)
    assert ci is not None
    return StabilityChange(first.n, last.n, float(b.mean() - a.mean()), ci)


def agreement(value: float | None) -> str:
    if value is None:
        return "unknown"
    return next(word for bound, word in AGREEMENT if value > bound)


def disjoint_pair(
    size: int, strata: np.ndarray, codes: np.ndarray | None, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Two disjoint subsamples of ``size`` samples each, stratified: from every stratum its
    share of ``size`` (largest remainders; one fewer in the second subsample of a stratum
    too small for two shares). With ``codes``, whole groups, a group in the stratum of its
    first sample, given to the subsample with fewer samples of that stratum until both
    have their share (so sizes are about ``size``)."""
    labels, counts = np.unique(strata, return_counts=True)
    share = size * counts / len(strata)
    wants = np.floor(share).astype(int)  # largest remainders: the shares add up to size
    wants[np.argsort(wants - share)[: size - int(wants.sum())]] += 1
    first, second = [], []
    for s, want in zip(labels, wants, strict=True):
        members = np.flatnonzero(strata == s)
        if codes is None:
            order = rng.permutation(members)
            first.append(order[:want])
            second.append(order[want : 2 * want])
            continue
        groups = rng.permutation(np.unique(codes[members]))
        taken: list[list[np.ndarray]] = [[], []]
        counts = [0, 0]
        for g in groups:
            if min(counts) >= want:
                break
            h = 0 if counts[0] <= counts[1] else 1
            if counts[h] >= want:
                h = 1 - h
            rows = members[codes[members] == g]
            taken[h].append(rows)
            counts[h] += len(rows)
        first += taken[0]
        second += taken[1]
    empty = np.zeros(0, dtype=int)
    return (np.sort(np.concatenate(first)) if first else empty,
            np.sort(np.concatenate(second)) if second else empty)  # fmt: skip


def _group_strata(strata: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Each sample in its group's stratum (the group's first sample's)."""
    first = np.unique(codes, return_index=True)[1]
    return strata[first][codes]


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
    p = features.shape[1]
    q = default_q(p)
    # imputation per subsample only when there is something to impute (module docstring)
    per_subsample = bool(features.isna().to_numpy().any())
    X, column_feature = (None, None) if per_subsample else design_matrix(features)
    strata = stratification_labels(y, task)
    codes = None if groups is None else group_codes(groups)
    if codes is not None:
        strata = _group_strata(strata, codes)
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
            sets = np.zeros((2, p), dtype=bool)
            for h, rows in enumerate(disjoint_pair(size, strata, codes, rng)):
                used.append(len(rows))
                if X is None:
                    Xh, cols = design_matrix(features.iloc[rows])
                else:
                    Xh, cols = X[rows], column_feature
                steps = max(1, min(q, len(rows) - 1))
                response = working_response(y[rows], task)  # learned on this subsample
                pos = entry_positions(Xh, response, cols, p, steps)
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
                ci95=_percentiles(_boot_means(arr, rng)) if arr.size else None,
                range95=_percentiles(arr),
                jaccard=float(np.mean(overlaps)) if overlaps else None,
                values=tuple(float(v) for v in arr),
            )
        )
    measured = [pt for pt in points if pt.stability is not None]
    change = change_between(measured[0], measured[-1], rng) if len(measured) > 1 else None
    return StabilityCurve(q, n_pairs, points, skipped, change)
