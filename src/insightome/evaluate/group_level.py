"""Statistics at the level of groups (patients with several samples, ``--groups``).

A test that counts samples when a patient contributes several has too many degrees of
freedom: with m samples per patient its p-values and intervals are up to √m too narrow.
The simplest correct remedy is used wherever it applies:

* **One row per patient** (:func:`one_row_per_group`) when the outcome is constant within
  every patient (a per-patient outcome, the usual case): numeric features are averaged over
  the patient's samples, categorical ones take the patient's most frequent level, and the
  unchanged test then runs on patients. Copying every sample k times gives exactly the
  numbers of the data without copies.
* **Patient-level permutation** (:func:`permute_groups`): patients' outcomes are shuffled
  across patients, each patient keeping one outcome for all of its samples.

When the outcome varies within patients neither applies (there is no per-patient outcome
to aggregate or to move); the data are then used sample by sample and the returned note
says that groups were not respected, so the output can say so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from insightome.compute.blocks import blocks

NOT_RESPECTED = "groups not respected"


def group_codes(groups: np.ndarray) -> np.ndarray:
    """Codes 0..g-1 of the groups (any labels), in sorted label order."""
    return np.unique(np.asarray(groups), return_inverse=True)[1].ravel()


def constant_within(values: np.ndarray, groups: np.ndarray) -> bool:
    """Whether every group holds a single value (NaN counts as a value)."""
    per_group = pd.Series(np.asarray(values)).groupby(group_codes(groups))
    return bool(per_group.nunique(dropna=False).max() <= 1)


def modal_per_group(values: np.ndarray | pd.Series, groups: np.ndarray) -> pd.Series:
    """Each group's most frequent value as text (ties: the first in sorted order; NaN when
    all of the group's values are missing), indexed by group code."""
    codes = group_codes(groups)
    values = pd.Series(np.asarray(values, dtype=object))
    known = pd.DataFrame({"group": codes, "value": values.astype(str)})[values.notna().to_numpy()]
    counts = known.groupby(["group", "value"]).size()  # sorted by group, then value
    mode = counts.groupby(level=0).idxmax().map(lambda key: key[1])
    return mode.reindex(np.arange(int(codes.max()) + 1))


def whole_groups(codes: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted rows of randomly drawn whole groups (``codes`` 0..g-1), drawn until they hold
    at least ``size`` rows: a subsample that never splits a patient."""
    counts = np.bincount(codes)
    order = rng.permutation(len(counts))
    take = order[: int(np.searchsorted(np.cumsum(counts[order]), size)) + 1]
    return np.flatnonzero(np.isin(codes, take))


def _means(features: pd.DataFrame, codes: np.ndarray) -> pd.DataFrame:
    """Per-group mean of numeric columns, ignoring missing values (a block of columns at a time)."""
    parts = [
        features.iloc[:, cols].astype(float).groupby(codes).mean()
        for cols in blocks(features.shape[1], len(features))
    ]
    return pd.concat(parts, axis=1) if parts else pd.DataFrame(index=np.unique(codes))


def one_row_per_group(
    features: pd.DataFrame, y: np.ndarray, groups: np.ndarray | None, what: str
) -> tuple[pd.DataFrame, np.ndarray, str]:
    """``(features, y, note)`` with one row per group when ``y`` is constant within groups.

    Otherwise ``features`` and ``y`` come back unchanged and the note says that ``what``
    counts samples as independent. Without groups: unchanged, note ``""``.
    """
    if groups is None:
        return features, y, ""
    codes, y = group_codes(groups), np.asarray(y)
    g, n = int(codes.max()) + 1, len(codes)
    if not constant_within(y, codes):
        return (
            features,
            y,
            (
                f"{what}: the outcome varies within patients (--groups), so there is no "
                f"per-patient outcome and these tests count the {n} samples as independent "
                f"({NOT_RESPECTED}): their p-values and intervals are too narrow"
            ),
        )
    numeric = [c for c in features.columns if pd.api.types.is_numeric_dtype(features[c])]
    other = [c for c in features.columns if c not in set(numeric)]
    table = _means(features[numeric], codes)
    for c in other:
        table[c] = pd.Series(modal_per_group(features[c], codes).to_numpy(), dtype=object)
    table = table[list(features.columns)]
    table.index = pd.RangeIndex(g)
    first = np.unique(codes, return_index=True)[1]
    note = (
        f"{what}: one row per patient (--groups: {g} patients, {n} samples), numeric "
        "features averaged over a patient's samples"
        + (", categorical ones their most frequent level" if other else "")
    )
    return table, y[first], note


def permute_groups(
    y: np.ndarray, groups: np.ndarray | None, rng: np.random.Generator
) -> tuple[np.ndarray, str]:
    """A permutation of ``y`` and how it was made.

    With groups and ``y`` constant within them, patients' outcomes are shuffled across
    patients (each keeps one outcome for all its samples); otherwise the samples are.
    """
    y = np.asarray(y)
    if groups is None:
        return rng.permutation(y), "outcomes permuted across samples"
    codes = group_codes(groups)
    if not constant_within(y, codes):
        how = (
            f"outcomes permuted across samples ({NOT_RESPECTED}: the outcome varies within "
            "patients, so no per-patient outcome can be moved)"
        )
        return rng.permutation(y), how
    first = np.unique(codes, return_index=True)[1]
    per_group = y[first]
    return per_group[rng.permutation(len(per_group))][codes], "outcomes permuted across patients"
