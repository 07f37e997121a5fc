"""The minimal signature: the fewest features that keep the full model's performance.

The search is nested in the run's own resampling plan, so its estimate is honest:

1. In every training fold of the run's first CV repeat (``SEARCH_REPEATS``: the search
   costs configurations × sizes × folds fits), stability selection (:mod:`.stability`)
   ranks the features using the training samples only.
2. For each signature size m in :data:`SIZES` (below the number of features), *every*
   candidate configuration is refitted on that fold's top-m features and predicts the
   held-out fold (except those that no bootstrap picks on all features: the rule below can
   never choose them, so skipping them leaves the estimate unchanged). With the
   configurations' out-of-fold predictions on all features (from the main run) this gives
   a grid of configuration × size, like the main run's candidates.
3. The procedure being estimated is the one the run carries out on the same data: pick
   the configuration with the best CV metric on all features, then the smallest size
   whose CV metric is within ``tolerance`` of that configuration's full model
   (:func:`configuration_then_size`). BBC-CV (:func:`insightome.evaluate.bbc.bbc_cv`)
   applies that two-step rule in-bag to the whole grid, so the reported estimate and CI
   are corrected for both choices: the configuration and the size. (Correcting for the
   size alone would treat the winning configuration as fixed in advance.)
4. The reported size is the rule applied to the run's winner (chosen on all CV repeats).
   The signature itself is the top-m* of stability selection on all samples; its model is
   the winning configuration refitted on those features (what ``validate`` scores).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from threadpoolctl import threadpool_limits

from insightome.discover.stability import StabilityResult, nogueira_stability, stability_selection
from insightome.evaluate.bbc import BBCResult, SelectionRule, bbc_cv, cv_scores
from insightome.evaluate.engine import (
    counted_warnings,
    describe_warnings,
    predict_matrix,
    prediction_width,
)
from insightome.evaluate.metrics import PRIMARY, fold_thresholds
from insightome.evaluate.splitters import ResamplingPlan
from insightome.models.candidates import Candidate

SIZES = (1, 2, 3, 5, 8, 13, 21, 34)
TOLERANCE = 0.02
FOLD_PAIRS = 25  # complementary pairs per training fold (all samples: stability.N_PAIRS)
SIGNATURE_TREES = 50
SEARCH_REPEATS = 1  # CV repeats the search uses: its cost is sizes x folds x this


@dataclass(frozen=True)
class SignatureResult:
    sizes: list[int]
    cv_mean: np.ndarray  # (S + 1,) the winner's plain CV metric per size, then all features
    full_cv: float  # the winning configuration's plain CV metric on all features
    tolerance: float
    size: int  # chosen
    within_tolerance: bool
    bbc: BBCResult  # estimate of the configuration-then-size procedure, columns c·(S+1) + s
    configurations: list[str]  # names of the configurations searched, in column order
    features: list[str]  # the minimal signature (top-``size`` on all samples)
    stability: StabilityResult  # on all samples
    fold_stability: float | None  # Nogueira index of the per-fold signatures
    fold_signatures: list[list[str]] = field(default_factory=list)  # top-``size`` per fold
    model: Any = None  # winning configuration refitted on ``features``
    notes: list[str] = field(default_factory=list)

    def frequencies(self) -> tuple[np.ndarray, np.ndarray]:
        """How often the bootstraps chose each size and each configuration."""
        grid = self.bbc.selection_frequency.reshape(len(self.configurations), -1)
        return grid[:, :-1].sum(axis=0), grid.sum(axis=1)

    def to_dict(self) -> dict[str, Any]:
        est = self.bbc.estimate
        by_size, by_configuration = self.frequencies()
        return {
            "method": (
                "nested stability-ranked signature search; BBC-CV over configuration x size"
            ),
            "sizes": self.sizes,
            "cv_by_size": [
                {"size": m, "cv_value": v, "bbc_selection_frequency": f}
                for m, v, f in zip(self.sizes, self.cv_mean[:-1], by_size, strict=True)
            ],
            "bbc_configuration_frequency": dict(
                zip(self.configurations, by_configuration.tolist(), strict=True)
            ),
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
                "method": "BBC-CV (configuration and size choice applied in-bag)",
                "corrects_for": ["configuration choice", "signature size choice"],
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


def configuration_then_size(n_configurations: int, tolerance: float) -> SelectionRule:
    """Selection rule over a configuration × [size_1 … size_S, full] grid (flattened,
    column c·(S+1) + s): the configuration with the best full-model score — the run's own
    choice — then its smallest size within ``tolerance`` (:func:`smallest_within`)."""
    within = smallest_within(tolerance)

    def select(scores: np.ndarray) -> np.ndarray:
        grid = scores.reshape(len(scores), n_configurations, -1)
        full = grid[:, :, -1]
        best = np.where(np.isfinite(full), full, -np.inf).argmax(axis=1)
        return best * grid.shape[2] + within(grid[np.arange(len(scores)), best])

    return select


def restricted(candidate: Candidate, m: int) -> Candidate:
    """The same configuration on m features.

    Its univariate pre-selection is dropped when k ≥ m, and a random forest (or extremely
    randomized trees) grows :data:`SIGNATURE_TREES` trees instead of 300 or 500: on at most
    a few dozen features the extra trees change the predictions little and would dominate
    discovery's cost.
    """
    k = candidate.k if candidate.k is not None and candidate.k < m else None
    params = dict(candidate.params)
    if candidate.family in ("random_forest", "random_forest_regressor", "extra_trees"):
        params["n_estimators"] = min(params.get("n_estimators", 500), SIGNATURE_TREES)
    # an augmented winner (--augment) stays augmented
    return Candidate(
        candidate.family, params, k, candidate.task,
        augment=candidate.augment, augment_ratio=candidate.augment_ratio,
    )  # fmt: skip


def _fold(
    configurations: Sequence[Candidate],
    features: pd.DataFrame,
    y: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    sizes: list[int],
    n_classes: int,
    groups: np.ndarray | None,
    seed: int,
) -> tuple[list[list[np.ndarray | None]], list[str], float]:
    """One training fold: its stability ranking, then every configuration × size."""
    start = time.perf_counter()
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        task = configurations[0].task
        ranking = stability_selection(
            features.iloc[train],
            y[train],
            task,
            n_pairs=FOLD_PAIRS,
            path_length=max(sizes),
            groups=None if groups is None else groups[train],
            seed=seed,
        ).ranking
        preds: list[list[np.ndarray | None]] = []
        for candidate in configurations:
            preds.append([])
            for m in sizes:
                sub = features[ranking[:m]]
                try:
                    model = restricted(candidate, m).build(sub, seed)
                    model.fit(sub.iloc[train], y[train])
                    pred = predict_matrix(model, sub.iloc[test], task, n_classes)
                    preds[-1].append(pred if np.all(np.isfinite(pred)) else None)
                except Exception:  # a size that cannot be fitted is simply not chosen
                    preds[-1].append(None)
    return preds, ranking[: max(sizes)], time.perf_counter() - start


def search_pilot(
    configurations: Sequence[Candidate],
    features: pd.DataFrame,
    y: np.ndarray,
    train: np.ndarray,
    *,
    groups: np.ndarray | None = None,
    seed: int = 0,
) -> tuple[float, np.ndarray, int, dict[str, int]]:
    """What one training fold of the search costs, for a budget's projection
    (:class:`insightome.compute.budget.AfterSelection`): CPU seconds of the stability ranking
    and of each configuration restricted to the largest size (on the first columns: the cost
    depends on the shape, not on which columns), the number of sizes searched, and the
    warnings those fits raised (:func:`~insightome.evaluate.engine.counted_warnings`). A
    configuration that cannot be fitted costs what its failure took."""
    sizes = signature_sizes(features.shape[1])
    if not sizes:
        return 0.0, np.zeros(len(configurations)), 0, {}
    m = max(sizes)
    sub = features.iloc[:, :m]
    task = configurations[0].task
    seconds = np.zeros(len(configurations))
    with threadpool_limits(limits=1), counted_warnings() as raised:
        start = time.process_time()
        stability_selection(
            features.iloc[train], y[train], task, n_pairs=FOLD_PAIRS, path_length=m,
            groups=None if groups is None else groups[train], seed=seed,
        )  # fmt: skip
        stability = time.process_time() - start
        for c, candidate in enumerate(configurations):
            start = time.process_time()
            try:
                restricted(candidate, m).build(sub, seed).fit(sub.iloc[train], y[train])
            except Exception:  # the search skips a size it cannot fit; so does its cost
                pass
            seconds[c] = time.process_time() - start
    return stability, seconds, len(sizes), dict(raised)


def minimal_signature(
    configurations: Sequence[Candidate],
    winner: int,
    features: pd.DataFrame,
    y: np.ndarray,
    plan: ResamplingPlan,
    full_oof: np.ndarray,
    *,
    n_classes: int = 0,
    groups: np.ndarray | None = None,
    tolerance: float = TOLERANCE,
    n_bootstrap: int = 1000,
    estimator: Mapping[str, Any] | None = None,
    seed: int = 0,
    n_jobs: int = 1,
) -> SignatureResult | None:
    """Search, estimate and fit the minimal signature (module docstring).

    None when there is nothing to search (fewer than 2 features) or when no signature size
    could be fitted on every fold.

    ``configurations`` are the run's candidates and ``winner`` the index of the one it
    chose; ``full_oof`` (R × C × n × k) are their out-of-fold predictions on all features,
    from the main run: the configuration choice, and the reference the tolerance is
    measured against.
    """
    sizes = signature_sizes(features.shape[1])
    if not sizes:
        return None
    candidate = configurations[winner]
    task = candidate.task
    k = prediction_width(task, n_classes)
    repeats = min(SEARCH_REPEATS, plan.repeats)
    thresholds = fold_thresholds(y, plan.splits) if task == "binary" else None
    bootstraps = {"n_bootstrap": n_bootstrap, "seed": seed, "groups": groups, **(estimator or {})}
    # A configuration that no bootstrap picks on all features is never chosen by the rule,
    # whatever its sizes score: the grid's BBC-CV below draws the same bootstraps (same
    # seed, samples and repeats), so only the configurations picked here are searched.
    picked = bbc_cv(full_oof[:repeats], y, task, thresholds=thresholds, **bootstraps)
    searched = sorted({winner, *np.flatnonzero(picked.selection_frequency > 0).tolist()})
    units = [
        (r, train, test) for r, folds in enumerate(plan.splits[:repeats]) for train, test in folds
    ]
    fitted = [configurations[c] for c in searched]
    jobs = (
        delayed(_fold)(fitted, features, y, train, test, sizes, n_classes, groups, seed + r)
        for r, train, test in units
    )
    results = Parallel(n_jobs=n_jobs)(jobs)
    C, S = len(configurations), len(sizes)
    oof = np.full((repeats, C, S + 1, len(y), k), np.nan)
    oof[:, :, -1] = full_oof[:repeats]
    fold_rankings = []
    for (r, _, test), (preds, ranking, _) in zip(units, results, strict=True):
        fold_rankings.append(ranking)
        for c, by_size in zip(searched, preds, strict=True):
            for s, pred in enumerate(by_size):
                if pred is not None:
                    oof[r, c, s, test] = pred
    if np.isnan(oof[:, winner, :-1]).any(axis=(0, 2, 3)).all():
        return None  # no signature size of the winner could be fitted on every fold
    oof = oof.reshape(repeats, C * (S + 1), len(y), k)
    metric = PRIMARY[task]
    # the reported size: the rule on the run's winner (chosen on all CV repeats)
    # (repeats, C × (S + 1)); per_fold: each repeat's score is its folds' mean, as in BBC-CV
    folds = (estimator or {}).get("folds")
    scores = cv_scores(oof, y, metric, thresholds, None if folds is None else folds[:repeats])
    scored = np.isfinite(scores).any(axis=0)  # configurations not searched are all NaN
    cv = np.full(scores.shape[1], np.nan)
    cv[scored] = np.nanmean(scores[:, scored], axis=0)
    cv = cv.reshape(C, S + 1)
    oriented = cv[winner] if metric.higher_is_better else -cv[winner]
    oriented = np.where(np.isfinite(oriented), oriented, -np.inf)
    chosen = int(smallest_within(tolerance)(oriented[None, :])[0])
    bbc = bbc_cv(
        oof,
        y,
        task,
        select=configuration_then_size(C, tolerance),
        thresholds=thresholds,
        choice=winner * (S + 1) + chosen,
        **bootstraps,
    )
    unsearched = np.setdiff1d(np.arange(C), searched)
    if bbc.selection_frequency.reshape(C, S + 1)[unsearched].any():
        raise RuntimeError("signature BBC-CV chose a configuration whose sizes were not fitted")
    size = sizes[chosen]
    full_cv = float(cv[winner, -1])
    within = bool(cv[winner, chosen] >= full_cv - tolerance)
    notes = []
    if len(unsearched):
        notes.append(
            f"{len(unsearched)} of {C} configurations were never best on all features in any "
            "bootstrap, so never chosen: their signature sizes were not fitted"
        )
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
        cv_mean=cv[winner],
        full_cv=full_cv,
        tolerance=tolerance,
        size=size,
        within_tolerance=within,
        bbc=bbc,
        configurations=[c.name for c in configurations],
        features=chosen_features,
        stability=stab,
        fold_stability=nogueira_stability(fold_sets),
        fold_signatures=[list(r[:size]) for r in fold_rankings],
        model=model,
        notes=notes,
    )
