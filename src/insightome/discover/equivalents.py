"""Statistically equivalent alternatives to each signature member.

In omics many features carry the same information (co-expressed genes, a protein and its
transcript). A signature member's *equivalents* are features that could replace it:

* **strongly correlated** with it: |Spearman ρ| ≥ ``min_correlation`` (0.8) over all
  samples, and
* **equally predictive**: their univariate association with the outcome is not
  significantly weaker — the 95% bootstrap interval of the difference in strength
  (alternative − member) includes 0 or lies above it — *or* is demonstrably at most
  ``margin`` (0.02) weaker (the interval's lower end is ≥ −0.02: non-inferiority, which is
  what near-duplicates such as a radius and a perimeter show). Strength is |AUC − 0.5| (binary),
  the largest one-vs-rest |AUC − 0.5| (multiclass), |Harrell's C − 0.5| (survival) or
  |Spearman ρ with the outcome| (regression), all computed on the same bootstrap samples
  (paired), vectorized with :mod:`insightome.evaluate.metrics`.

With groups (several samples per patient) the bootstrap resamples whole patients
(:func:`insightome.evaluate.bbc.bootstrap_weights`), and the screening subsample of large
data draws whole patients.

This is the idea of JADBio's statistically equivalent signatures (Lagani et al. 2017)
in a screening form: cheap enough for 20,000 features and shown as groups, so a biologist
can pick the member that is easiest to measure.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from insightome.compute.blocks import BLOCK_CELLS, blocks
from insightome.evaluate.bbc import bootstrap_weights
from insightome.evaluate.group_level import group_codes, whole_groups
from insightome.evaluate.metrics import c_index, weighted_auc

MIN_CORRELATION = 0.8
MAX_PER_MEMBER = 5
MARGIN = 0.02
N_BOOTSTRAP = 200


def _centered_ranks(features: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Column ranks (NaN at the column median), centered, and their norms.

    Built block of columns by block of columns into one float64 array, so the temporaries
    are the size of a block: at 20,000 x 1,000 the whole-table version peaked at 5.1x the
    float64 matrix (tracemalloc), the largest allocation of a 100,000-sample run. Each
    column's ranks depend on that column only, so the numbers are the same.
    """
    n, p = features.shape
    centered, norms = np.empty((n, p)), np.empty(p)
    for block in blocks(p, n, BLOCK_CELLS):
        values = features.iloc[:, block].to_numpy(dtype=float)
        filled = np.where(np.isnan(values), np.nanmedian(values, axis=0), values)
        ranks = pd.DataFrame(filled).rank().to_numpy()
        ranks -= ranks.mean(axis=0)
        centered[:, block] = ranks
        norms[block] = np.sqrt((ranks**2).sum(axis=0))
    return centered, norms


def _spearman_with(centered: np.ndarray, norms: np.ndarray, j: int) -> np.ndarray:
    """Spearman ρ of column j with every column (from centered ranks and their norms)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(norms > 0, centered.T @ centered[:, j] / (norms * norms[j]), 0.0)


def strength(x: np.ndarray, y: np.ndarray, task: str, W: np.ndarray) -> np.ndarray:
    """Univariate association strength of one feature under each bootstrap weighting."""
    x = np.where(np.isnan(x), np.nanmedian(x), x)
    if task == "binary":
        return np.abs(weighted_auc(np.asarray(y) == 1, x, W) - 0.5)
    if task == "multiclass":
        per_class = [np.abs(weighted_auc(y == c, x, W) - 0.5) for c in np.unique(y)]
        return np.max(np.vstack(per_class), axis=0)
    if task == "survival":
        return np.abs(c_index(y, x[:, None], W) - 0.5)
    rx, ry = pd.Series(x).rank().to_numpy(), pd.Series(y).rank().to_numpy()
    wsum = W.sum(axis=1)
    mx, my = (W @ rx) / wsum, (W @ ry) / wsum
    cov = (W @ (rx * ry)) / wsum - mx * my
    vx, vy = (W @ rx**2) / wsum - mx**2, (W @ ry**2) / wsum - my**2
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.abs(np.where((vx > 0) & (vy > 0), cov / np.sqrt(vx * vy), 0.0))


def equivalent_features(
    features: pd.DataFrame,
    y: np.ndarray,
    task: str,
    signature: Sequence[str],
    *,
    min_correlation: float = MIN_CORRELATION,
    max_per_member: int = MAX_PER_MEMBER,
    n_bootstrap: int = N_BOOTSTRAP,
    margin: float = MARGIN,
    groups: np.ndarray | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per (member, equivalent): correlation, strengths and the difference's CI
    (a bootstrap of whole patients when ``groups``, one code per sample, are given)."""
    numeric = [c for c in features.columns if pd.api.types.is_numeric_dtype(features[c])]
    members = [m for m in signature if m in set(numeric)]
    columns = ["member", "equivalent", "correlation", "member_strength", "strength", "diff_ci95"]
    if not members or len(numeric) < 2:
        return pd.DataFrame(columns=columns)
    table = features if len(numeric) == features.shape[1] else features[numeric]
    centered, norms = _centered_ranks(table)
    index = {c: i for i, c in enumerate(numeric)}
    in_signature = np.isin(numeric, list(signature))
    # n large: the equivalence screen does not need every sample
    rng = np.random.default_rng(seed)
    codes = None if groups is None else group_codes(groups)
    rows = np.arange(len(y))
    if len(y) > 2000:
        rows = (
            rng.choice(len(y), 2000, replace=False)
            if codes is None
            else whole_groups(codes, 2000, rng)
        )
    values = table.iloc[rows].to_numpy(dtype=float)  # the screened samples only
    y = np.asarray(y)[rows]
    W = bootstrap_weights(
        len(rows), n_bootstrap, rng, None if codes is None else group_codes(codes[rows])
    )
    out = []
    for member in members:
        j = index[member]
        rho = _spearman_with(centered, norms, j)
        rho[in_signature] = 0.0
        close = np.flatnonzero(np.abs(rho) >= min_correlation)
        close = close[np.argsort(-np.abs(rho[close]))]
        base = strength(values[:, j], y, task, W)
        found = 0
        for c in close:
            if found >= max_per_member:
                break
            alt = strength(values[:, c], y, task, W)
            lo, hi = np.nanpercentile(alt - base, [2.5, 97.5])
            if hi >= 0 or lo >= -margin:  # not significantly weaker, or non-inferior
                found += 1
                out.append(
                    {
                        "member": member,
                        "equivalent": numeric[c],
                        "correlation": float(rho[c]),
                        "member_strength": float(np.nanmean(base)),
                        "strength": float(np.nanmean(alt)),
                        "diff_ci95": [float(lo), float(hi)],
                    }
                )
    return pd.DataFrame(out, columns=columns)
