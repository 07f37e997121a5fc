"""Minimal signature, equivalents and held-out attribution on real data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from insightome.discover.attribution import held_out_importance
from insightome.discover.equivalents import equivalent_features
from insightome.discover.signature import minimal_signature, restricted, smallest_within
from insightome.evaluate.engine import cross_validated_predictions
from insightome.evaluate.splitters import make_plan
from insightome.models.candidates import Candidate


@pytest.fixture(scope="module")
def breast_cancer() -> tuple[pd.DataFrame, np.ndarray]:
    bunch = load_breast_cancer(as_frame=True)
    return bunch.data, (bunch.target.to_numpy() == 0).astype(int)


LOGISTIC = Candidate("l1_logistic", {"C": 0.5, "l1_ratio": 1.0}, None, "binary")


def _full_oof(X, y, plan):
    cv = cross_validated_predictions(X, y, [LOGISTIC], plan, n_classes=2)
    return cv.oof[:, 0]


def test_smallest_within_rule() -> None:
    scores = np.array(
        [
            [0.70, 0.85, 0.90, 0.91, 0.90],  # full 0.90: size index 1 (0.85) fails, 2 passes
            [0.89, 0.90, 0.90, 0.90, 0.90],  # first size already within 0.02
            [0.50, 0.60, 0.70, 0.65, 0.90],  # none within: best size (index 2)
            [-np.inf, 0.89, 0.95, 0.95, 0.90],  # unusable size is never picked
        ]
    )
    assert smallest_within(0.02)(scores).tolist() == [2, 0, 2, 1]


def test_restricted_drops_univariate_selection_when_not_smaller() -> None:
    c = Candidate("random_forest", {"min_samples_leaf": 3}, 50, "binary")
    assert restricted(c, 8).k is None
    assert restricted(Candidate("ridge_logistic", {"C": 1.0}, 5, "binary"), 8).k == 5


def test_minimal_signature_breast_cancer(breast_cancer) -> None:
    X, y = breast_cancer
    plan = make_plan(y, "binary", folds=5, repeats=2, seed=0)
    full = _full_oof(X, y, plan)
    sig = minimal_signature(LOGISTIC, X, y, plan, full, n_classes=2, n_bootstrap=300, n_jobs=2)
    assert sig is not None
    assert sig.within_tolerance
    assert 1 <= sig.size <= 8 and len(sig.features) == sig.size
    assert sig.bbc.estimate.value >= 0.95  # a handful of nuclear measurements reach AUC ≈ 0.98
    lo, hi = sig.bbc.estimate.ci95
    assert lo <= sig.bbc.estimate.value <= hi
    assert sig.cv_mean[list(sig.sizes).index(sig.size)] >= sig.full_cv - sig.tolerance
    assert sig.fold_stability is not None and sig.fold_stability >= 0.5
    proba = sig.model.predict_proba(X[sig.features])[:, 1]
    assert ((proba > 0.5) == y).mean() > 0.9


def test_minimal_signature_on_permuted_labels_is_not_better_than_chance(breast_cancer) -> None:
    X, y = breast_cancer
    y_null = np.random.default_rng(3).permutation(y)
    plan = make_plan(y_null, "binary", folds=5, repeats=1, seed=0)
    full = _full_oof(X, y_null, plan)
    sig = minimal_signature(LOGISTIC, X, y_null, plan, full, n_classes=2, n_bootstrap=300)
    lo, _hi = sig.bbc.estimate.ci95
    assert lo < 0.5 + 0.02 and sig.bbc.estimate.value < 0.6


def test_equivalents_are_correlated_and_never_noise(breast_cancer) -> None:
    X, y = breast_cancer
    X = X.copy()
    X["shuffled worst perimeter"] = np.random.default_rng(0).permutation(X["worst perimeter"])
    eq = equivalent_features(X, y, "binary", ["worst perimeter"], seed=0)
    assert len(eq) >= 1
    assert (eq["correlation"].abs() >= 0.8).all()
    assert "shuffled worst perimeter" not in set(eq["equivalent"])
    # size measurements of the same nuclei are interchangeable with the perimeter
    assert set(eq["equivalent"]) & {"worst radius", "worst area", "mean perimeter"}
    for lo, hi in eq["diff_ci95"]:
        assert hi >= 0 or lo >= -0.02


def test_held_out_importance_ranks_signal_above_noise(breast_cancer) -> None:
    X, y = breast_cancer
    cols = ["worst concave points", "worst perimeter"]
    sub = X[cols].copy()
    sub["noise"] = np.random.default_rng(0).normal(size=len(sub))
    plan = make_plan(y, "binary", folds=5, repeats=2, seed=0)
    imp = held_out_importance(LOGISTIC, sub, y, plan, [*cols, "noise"], n_classes=2)
    assert imp.attrs["metric"] == "auc"
    assert imp.loc["noise", "importance"] == pytest.approx(0.0, abs=0.01)
    assert (imp.loc[cols, "importance"] > imp.loc["noise", "importance"]).all()
    assert imp.loc[cols, "positive_fraction"].eq(1.0).all()
    assert imp.loc["worst perimeter", "rank"] <= 2
