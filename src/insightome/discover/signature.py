"""The minimal signature: the fewest features that keep the full model's performance.

The search is nested in the run's own resampling plan, so its estimate is honest:

1. In every training fold of the run's first CV repeat (``SEARCH_REPEATS``: the search
   costs sizes × folds fits of the winning configuration), stability selection
   (:mod:`.stability`) ranks the features using the training samples only.
2. For each signature size m in :data:`SIZES` (below the number of features), the
   winning configuration is refitted on that fold's top-m features and predicts the
   held-out fold. This gives out-of-fold predictions for every size, exactly like the
   candidates of the main run.
3. The rule "the smallest size whose cross-validated metric is within ``tolerance`` of
   the full model's" picks the size. BBC-CV (:func:`insightome.evaluate.bbc.bbc_cv`) is
   run with that same rule applied in-bag, so the reported estimate and CI correct for
   having chosen the size on the same data.
4. The signature itself is the top-m* of stability selection on all samples; its model
   is the winning configuration refitted on those features (what ``validate`` scores).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from threadpoolctl import threadpool_limits

from insightome.discover.stability import StabilityResult, nogueira_stability, stability_selection
from insightome.evaluate.bbc import BBCResult, bbc_cv
from insightome.evaluate.engine import (
    counted_warnings,
    describe_warnings,
    predict_matrix,
    prediction_width,
)
from insightome.evaluate.splitters import ResamplingPlan
from insightome.models.candidates import Candidate

SIZES = (1, 2, 3, 5, 8, 13, 21, 34)
TOLERANCE = 0.02
FOLD_PAIRS = 25  # complementary pairs per training fold (all samples: stability.N_PAIRS)
SIGNATURE_TREES = 150
SEARCH_REPEATS = 1  # CV repeats the search uses: its cost is sizes x folds x this


@dataclass(frozen=True)
class SignatureResult:
    sizes: list[int]
    cv_mean: np.ndarray  # (S,) plain CV metric per size
    full_cv: float  # the winning configuration's plain CV metric on all features
    tolerance: float
    size: int  # chosen
    within_tolerance: bool
    bbc: BBCResult  # estimate of the "smallest within tolerance" procedure
    features: list[str]  # the minimal signature (top-``size`` on all samples)
    stability: StabilityResult  # on all samples
    fold_stability: float | None  # Nogueira index of the per-fold signatures
    fold_signatures: list[list[str]] = field(default_factory=list)  # top-``size`` per fold
    model: Any = None  # winning configuration refitted on ``features``
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        est = self.bbc.estimate
        return {
            "method": "nested stability-ranked signature search, BBC-CV over sizes",
            "sizes": self.sizes,
            "cv_by_size": [
                {"size": m, "cv_value": v, "bbc_selection_frequency": f}
                for m, v, f in zip(
                    self.sizes, self.cv_mean[:-1], self.bbc.selection_frequency[:-1], strict=True
                )
            ],
            "full_model_cv_value": self.full_cv,
            "tolerance": self.tolerance,
            "size": self.size,
            "within_tolerance": self.within_tolerance,
            "features": self.features,
            "estimate": {
                "metric": self.bbc.metric,
                "value": est.value,
                "ci95": list(est.ci95),
                "plain_cv_value": est.plain_cv_value,
                "method": "BBC-CV (selection rule applied in-bag)",
            },
            "fold_signature_stability": self.fold_stability,
            "fold_signatures": self.fold_signatures,
            "notes": self.notes,
        }


def signature_sizes(n_features: int) -> list[int]:
    return [m for m in SIZES if m < n_features]


def smallest_within(tolerance: float):  # type: ignore[no-untyped-def]
    """Selection rule over [size_1 … size_S, full]: the first size within tolerance of full."""

    def select(scores: np.ndarray) -> np.ndarray:
        sizes, full = scores[:, :-1], scores[:, -1:]
        ok = np.isfinite(sizes) & (sizes >= full - tolerance)
        best = np.where(np.isfinite(sizes), sizes, -np.inf).argmax(axis=1)
        return np.where(ok.any(axis=1), ok.argmax(axis=1), best)

    return select


def restricted(candidate: Candidate, m: int) -> Candidate:
    """The same configuration on m features.

    Its univariate pre-selection is dropped when k ≥ m, and a random forest grows
    :data:`SIGNATURE_TREES` trees instead of 500: on at most a few dozen features the
    extra trees change the predictions little and would dominate discovery's cost.
    """
    k = candidate.k if candidate.k is not None and candidate.k < m else None
    params = dict(candidate.params)
    if candidate.family in ("random_forest", "random_forest_regressor"):
        params["n_estimators"] = min(params.get("n_estimators", 500), SIGNATURE_TREES)
    return Candidate(candidate.family, params, k, candidate.task)


def _fold(
    candidate: Candidate,
    features: pd.DataFrame,
    y: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    sizes: list[int],
    n_classes: int,
    groups: np.ndarray | None,
    seed: int,
) -> tuple[list[np.ndarray | None], list[str], float]:
    start = time.perf_counter()
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ranking = stability_selection(
            features.iloc[train],
            y[train],
            candidate.task,
            n_pairs=FOLD_PAIRS,
            path_length=max(sizes),
            groups=None if groups is None else groups[train],
            seed=seed,
        ).ranking
        preds: list[np.ndarray | None] = []
        for m in sizes:
            cols = ranking[:m]
            sub = features[cols]
            try:
                model = restricted(candidate, m).build(sub, seed).fit(sub.iloc[train], y[train])
                pred = predict_matrix(model, sub.iloc[test], candidate.task, n_classes)
                preds.append(pred if np.all(np.isfinite(pred)) else None)
            except Exception:  # a size that cannot be fitted is simply not chosen
                preds.append(None)
    return preds, ranking[: max(sizes)], time.perf_counter() - start


def minimal_signature(
    candidate: Candidate,
    features: pd.DataFrame,
    y: np.ndarray,
    plan: ResamplingPlan,
    full_oof: np.ndarray,
    *,
    n_classes: int = 0,
    groups: np.ndarray | None = None,
    tolerance: float = TOLERANCE,
    n_bootstrap: int = 1000,
    seed: int = 0,
    n_jobs: int = 1,
) -> SignatureResult | None:
    """Search, estimate and fit the minimal signature (module docstring).

    None when there is nothing to search (fewer than 2 features) or when no signature size
    could be fitted on every fold.

    ``full_oof`` (R × n × k) are the winning configuration's out-of-fold predictions on
    all features, from the main run: the reference the tolerance is measured against.
    """
    sizes = signature_sizes(features.shape[1])
    if not sizes:
        return None
    task = candidate.task
    k = prediction_width(task, n_classes)
    repeats = min(SEARCH_REPEATS, plan.repeats)
    units = [
        (r, train, test) for r, folds in enumerate(plan.splits[:repeats]) for train, test in folds
    ]
    jobs = (
        delayed(_fold)(candidate, features, y, train, test, sizes, n_classes, groups, seed + r)
        for r, train, test in units
    )
    results = Parallel(n_jobs=n_jobs)(jobs)
    oof = np.full((repeats, len(sizes) + 1, len(y), k), np.nan)
    oof[:, -1] = full_oof[:repeats]
    fold_rankings = []
    for (r, _, test), (preds, ranking, _) in zip(units, results, strict=True):
        fold_rankings.append(ranking)
        for s, pred in enumerate(preds):
            if pred is not None:
                oof[r, s, test] = pred
    if np.isnan(oof[:, :-1]).any(axis=(0, 2, 3)).all():
        return None  # no signature size could be fitted on every fold
    rule = smallest_within(tolerance)
    bbc = bbc_cv(oof, y, task, n_bootstrap=n_bootstrap, seed=seed, groups=groups, select=rule)
    chosen = bbc.winner
    size = sizes[chosen]
    full_cv = float(bbc.cv_mean[-1])
    within = bool(bbc.cv_mean[chosen] >= full_cv - tolerance)
    notes = []
    if not within:
        notes.append(
            f"no signature of up to {sizes[-1]} features came within {tolerance} of the full "
            f"model's CV {bbc.metric} ({full_cv:.3f}); the best size ({size}) is reported"
        )
    stab = stability_selection(features, y, task, path_length=max(sizes), groups=groups, seed=seed)
    chosen_features = stab.ranking[:size]
    names = list(features.columns)
    fold_sets = np.zeros((len(fold_rankings), len(names)), dtype=bool)
    position = {f: i for i, f in enumerate(names)}
    for i, ranking in enumerate(fold_rankings):
        fold_sets[i, [position[f] for f in ranking[:size]]] = True
    sub = features[chosen_features]
    with counted_warnings() as raised:  # the saved signature model: its warnings are noted
        model = restricted(candidate, size).build(sub, seed).fit(sub, y)
    if raised:
        shown = describe_warnings(raised)
        notes.append(f"fit warnings: signature model ({size} features): {shown}")
    return SignatureResult(
        sizes=sizes,
        cv_mean=bbc.cv_mean,
        full_cv=full_cv,
        tolerance=tolerance,
        size=size,
        within_tolerance=within,
        bbc=bbc,
        features=chosen_features,
        stability=stab,
        fold_stability=nogueira_stability(fold_sets),
        fold_signatures=[list(r[:size]) for r in fold_rankings],
        model=model,
        notes=notes,
    )
