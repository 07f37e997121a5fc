"""Permutation null for the whole selection procedure.

The outcome is shuffled (survival: time and event together) and the complete selection —
every candidate, every fold, every repeat — is rerun. The statistic is the best candidate's
pooled cross-validated score, i.e. exactly what selection maximizes, so the comparison is
like for like: p = (1 + #{null ≥ observed}) / (N + 1).

With groups (several samples per patient) and an outcome constant within patients, whole
patients' outcomes are shuffled across patients
(:func:`insightome.evaluate.group_level.permute_groups`); the resampling plan keeps groups
together as in the run. When the outcome varies within patients the samples are shuffled,
and ``statistic`` says that groups were not respected.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from insightome.compute.cache import FitCache
from insightome.evaluate.bbc import cv_scores
from insightome.evaluate.engine import ProgressFn, cross_validated_predictions
from insightome.evaluate.group_level import permute_groups
from insightome.evaluate.metrics import PRIMARY
from insightome.evaluate.splitters import make_plan
from insightome.models.candidates import Candidate

STATISTIC = (
    "best candidate's pooled out-of-fold {metric} (mean over repeats), "
    "selection rerun on shuffled outcomes"
)


@dataclass(frozen=True)
class PermutationResult:
    n: int
    observed: float
    null: tuple[float, ...]
    p_value: float
    statistic: str

    def to_dict(self) -> dict[str, object]:
        return {
            "n": self.n,
            "observed": self.observed,
            "null": list(self.null),
            "p_value": self.p_value,
            "statistic": self.statistic,
        }


def best_cv_score(oof: np.ndarray, y: np.ndarray, task: str) -> float:
    metric = PRIMARY[task]
    scores = np.nanmean(cv_scores(oof, y, metric), axis=0)
    return float(np.nanmax(scores if metric.higher_is_better else -scores))


def permutation_test(
    features: pd.DataFrame,
    y: np.ndarray,
    candidates: list[Candidate],
    *,
    observed: float,
    n_permutations: int,
    folds: int,
    repeats: int,
    seed: int,
    n_classes: int = 0,
    groups: np.ndarray | None = None,
    n_jobs: int = 1,
    progress: ProgressFn | None = None,
    cache: FitCache | None = None,
) -> PermutationResult:
    """Rerun the selection on ``n_permutations`` label permutations."""
    task = candidates[0].task
    rng = np.random.default_rng(seed)
    null, how = [], ""
    for i in range(n_permutations):
        y_perm, how = permute_groups(y, groups, rng)
        plan = make_plan(
            y_perm, task, folds=folds, repeats=repeats, seed=seed + 1 + i, groups=groups
        )
        cv = cross_validated_predictions(
            features,
            y_perm,
            candidates,
            plan,
            n_classes=n_classes,
            seed=seed,
            n_jobs=n_jobs,
            progress=progress,
            cache=cache,
        )
        null.append(best_cv_score(cv.oof, y_perm, task))
    exceed = sum(v >= observed for v in null)
    statistic = STATISTIC.format(metric=PRIMARY[task].name)
    return PermutationResult(
        n=n_permutations,
        observed=observed,
        null=tuple(null),
        p_value=(1 + exceed) / (n_permutations + 1),
        statistic=statistic if groups is None else f"{statistic}; {how}",
    )
