"""Rank-based association statistics of every feature, for the labels and their permutations.

The pre-ranked pathway test needs the same statistic for the observed outcome and for
many permutations of it (GSEA's phenotype permutation: it keeps the correlation between
genes, which a gene-set permutation ignores). Every statistic here is a correlation of the
feature's ranks with one label-derived vector, times √(n − 1) — so a z-score under the null
— and a permutation only reorders the label vector. All permutations of all features are
then matrix products (chunked), cheap for 20,000 genes × 1,000 permutations.

* binary: the label is the 0/1 outcome → the tie-corrected Mann–Whitney z (signed:
  positive = higher in the positive class);
* regression: the outcome's ranks → Spearman ρ·√(n − 1);
* survival: the null Cox model's martingale residuals (:func:`.stability.martingale_residuals`)
  → positive = higher values go with earlier events;
* multiclass: √H of the tie-corrected Kruskal–Wallis H (unsigned; rank sums per class).

With groups (several samples per patient) and an outcome constant within patients, the
statistics are computed on one row per patient (features averaged over the patient's
samples, :func:`insightome.evaluate.group_level.one_row_per_group`), so the permutations
move whole patients. When the outcome varies within patients they reorder samples; the
returned note says so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from insightome.discover.stability import martingale_residuals
from insightome.evaluate.group_level import one_row_per_group

CHUNK = 100  # permutations per matrix product


def _label_vector(y: np.ndarray, task: str) -> np.ndarray:
    if task == "binary":
        return (np.asarray(y) == 1).astype(float)
    if task == "regression":
        return pd.Series(np.asarray(y, dtype=float)).rank().to_numpy()
    if task == "survival":
        return martingale_residuals(y)
    raise ValueError(task)


def association_statistics(
    features: pd.DataFrame,
    y: np.ndarray,
    task: str,
    *,
    n_permutations: int = 0,
    groups: np.ndarray | None = None,
    seed: int = 0,
) -> tuple[pd.Series, pd.DataFrame | None]:
    """Observed statistic per numeric feature, and (features × permutations) under the null.

    With ``groups`` (one code per sample) see the module docstring; the note on how groups
    were used is the observed series' ``attrs["groups_note"]``.
    """
    features, y, note = one_row_per_group(features, y, groups, "pathway ranking and its null")
    numeric = [c for c in features.columns if pd.api.types.is_numeric_dtype(features[c])]
    values = features[numeric].to_numpy(dtype=float)
    values = np.where(np.isnan(values), np.nanmedian(values, axis=0), values)
    ranks = pd.DataFrame(values).rank().to_numpy()
    centered = ranks - ranks.mean(axis=0)
    norms = np.sqrt((centered**2).sum(axis=0))
    norms[norms == 0] = np.inf  # constant features: statistic 0
    n = len(y)
    rng = np.random.default_rng(seed)
    orders = [np.arange(n)] + [rng.permutation(n) for _ in range(n_permutations)]
    out = np.empty((len(numeric), len(orders)))
    if task == "multiclass":
        codes = np.asarray(y, dtype=int)
        counts = np.bincount(codes)
        for start in range(0, len(orders), CHUNK):
            block = orders[start : start + CHUNK]
            h = np.zeros((len(numeric), len(block)))
            for c in np.flatnonzero(counts):
                E = np.column_stack([(codes[o] == c) for o in block]).astype(float)
                h += (centered.T @ E) ** 2 / counts[c]
            out[:, start : start + len(block)] = np.sqrt((n - 1) * h / norms[:, None] ** 2)
    else:
        label = _label_vector(y, task)
        for start in range(0, len(orders), CHUNK):
            block = orders[start : start + CHUNK]
            V = np.column_stack([label[o] for o in block])
            V = V - V.mean(axis=0)
            v_norm = np.sqrt((V**2).sum(axis=0))
            corr = (centered.T @ V) / (norms[:, None] * np.where(v_norm > 0, v_norm, np.inf))
            out[:, start : start + len(block)] = corr * np.sqrt(n - 1)
    observed = pd.Series(out[:, 0], index=numeric, name="statistic")
    observed.attrs["groups_note"] = note
    null = (
        pd.DataFrame(out[:, 1:], index=numeric, columns=[f"perm{i}" for i in range(n_permutations)])
        if n_permutations
        else None
    )
    return observed, null
