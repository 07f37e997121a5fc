"""Resampling plans: repeated, stratified, group-aware K-fold.

Stratification follows the task: by class (classification), by event (survival), by
outcome quintile (regression). With groups (patients with several samples), scikit-learn's
:class:`~sklearn.model_selection.StratifiedGroupKFold` keeps every group in one fold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from insightome.fold_design import FoldChoice

Split = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class ResamplingPlan:
    """``repeats`` × ``folds`` train/test splits; every sample is tested once per repeat."""

    splits: tuple[tuple[Split, ...], ...]  # [repeat][fold] -> (train, test)
    folds: int
    repeats: int
    seeds: tuple[int, ...]
    grouped: bool
    # how the study chose ``folds`` (insightome.fold_design); None for a plan made directly
    fold_choice: FoldChoice | None = None

    def to_dict(self) -> dict[str, object]:
        d: dict[str, object] = {
            "folds": self.folds,
            "repeats": self.repeats,
            "stratified": True,
            "grouped": self.grouped,
            "cv_seeds": list(self.seeds),
        }
        if self.fold_choice is not None:
            d["fold_choice"] = self.fold_choice.to_dict()
        return d


def stratification_labels(y: np.ndarray, task: str) -> np.ndarray:
    """The labels to stratify on for each task."""
    if task in ("binary", "multiclass"):
        return np.asarray(y, dtype=int)
    if task == "survival":
        return (np.asarray(y) > 0).astype(int)
    y = np.asarray(y, dtype=float)
    edges = np.quantile(y, [0.2, 0.4, 0.6, 0.8])
    return np.searchsorted(edges, y, side="right")


def _merge_small_strata(strata: np.ndarray, folds: int) -> np.ndarray:
    """Outcome quintiles with fewer samples than folds (ties: a whole-number outcome such
    as class codes modelled as regression) merged into their smaller neighbour, so every
    stratum can reach every fold; unchanged when every quintile is large enough."""
    labels = np.unique(strata)
    counts = [int((strata == s).sum()) for s in labels]
    merged = [[s] for s in labels]
    while len(merged) > 1 and min(counts) < folds:
        i = int(np.argmin(counts))
        j = i - 1 if i == len(counts) - 1 or (i > 0 and counts[i - 1] <= counts[i + 1]) else i + 1
        lo, hi = min(i, j), max(i, j)
        merged[lo : hi + 1] = [merged[lo] + merged[hi]]
        counts[lo : hi + 1] = [counts[lo] + counts[hi]]
    out = np.empty_like(strata)
    for k, members in enumerate(merged):
        out[np.isin(strata, members)] = k
    return out


def make_plan(
    y: np.ndarray,
    task: str,
    *,
    folds: int = 5,
    repeats: int = 3,
    seed: int = 0,
    groups: np.ndarray | None = None,
    fold_choice: FoldChoice | None = None,
) -> ResamplingPlan:
    """Build the resampling plan; seeds are derived from ``seed`` (one per repeat).
    ``fold_choice``: how ``folds`` was chosen (a study's ``folds``), kept in the plan."""
    strata = stratification_labels(y, task)
    if task == "regression":
        strata = _merge_small_strata(strata, folds)
    seeds = tuple(int(s) for s in np.random.SeedSequence(seed).generate_state(repeats) % (2**31))
    plan = []
    X_dummy = np.zeros((len(y), 1))
    for s in seeds:
        if groups is None:
            cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=s)
            it = cv.split(X_dummy, strata)
        else:
            cv = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=s)
            it = cv.split(X_dummy, strata, groups)
        plan.append(tuple((np.asarray(tr), np.asarray(te)) for tr, te in it))
    return ResamplingPlan(tuple(plan), folds, repeats, seeds, groups is not None, fold_choice)
