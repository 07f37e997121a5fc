"""Minimal signature, equivalents and held-out attribution on real data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from insightome.discover.attribution import held_out_importance
from insightome.discover.equivalents import equivalent_features
from insightome.discover.signature import (
    configuration_then_size,
    minimal_signature,
    restricted,
    smallest_within,
)
from insightome.evaluate.engine import cross_validated_predictions
from insightome.evaluate.splitters import make_plan
from insightome.models.candidates import Candidate


@pytest.fixture(scope="module")
def breast_cancer() -> tuple[pd.DataFrame, np.ndarray]:
    bunch = load_breast_cancer(as_frame=True)
    return bunch.data, (bunch.target.to_numpy() == 0).astype(int)


LOGISTIC = Candidate("l1_logistic", {"C": 0.5, "l1_ratio": 1.0}, None, "binary")


def _full_oof(X, y, plan, configurations=(LOGISTIC,)):
    """(R × C × n × k) out-of-fold predictions of the configurations on all features."""
    return cross_validated_predictions(X, y, list(configurations), plan, n_classes=2).oof


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


def test_configuration_then_size_rule() -> None:
    """Two configurations × [size 1, size 2, full]: the configuration with the best full
    model first (as the run chooses), then its smallest size within the tolerance."""
    scores = np.array(
        [
            [0.89, 0.95, 0.90, 0.99, 0.99, 0.80],  # config 0 (full 0.90): size 1 within 0.02
            [0.70, 0.99, 0.80, 0.70, 0.89, 0.90],  # config 1 (full 0.90): its size 2
            [0.50, 0.60, 0.70, 0.99, 0.99, -np.inf],  # config 1 unusable; config 0 none within
        ]
    )
    assert configuration_then_size(2, 0.02)(scores).tolist() == [0, 4, 1]


def test_signature_estimate_is_corrected_for_the_configuration_choice(breast_cancer) -> None:
    """The bootstrap selection runs over every configuration × size, not only over the
    sizes of the configuration already chosen on the same data."""
    X, y = breast_cancer
    configs = [LOGISTIC, Candidate("l1_logistic", {"C": 0.6, "l1_ratio": 1.0}, None, "binary")]
    plan = make_plan(y, "binary", folds=5, repeats=1, seed=0)
    full = _full_oof(X, y, plan, configs)
    sig = minimal_signature(configs, 1, X, y, plan, full, n_classes=2, n_bootstrap=300)
    n_sizes = len(sig.sizes)
    assert sig.bbc.selection_frequency.shape == (len(configs) * (n_sizes + 1),)
    by_config = sig.to_dict()["bbc_configuration_frequency"]
    assert list(by_config) == [c.name for c in configs]
    assert all(f > 0 for f in by_config.values())  # close configurations: both chosen
    assert sum(by_config.values()) == pytest.approx(1.0)
    assert sig.bbc.winner // (n_sizes + 1) == 1  # the reported signature is the run's winner's
    assert sig.cv_mean[-1] == pytest.approx(sig.full_cv)
    assert sig.to_dict()["estimate"]["corrects_for"] == [
        "configuration choice",
        "signature size choice",
    ]
    # a configuration never best on all features in any bootstrap cannot be chosen: its
    # sizes are not fitted, and leaving it out changes nothing
    flat = Candidate("l1_logistic", {"C": 1e-4, "l1_ratio": 1.0}, None, "binary")  # constant
    more = np.concatenate([full, _full_oof(X, y, plan, [flat])], axis=1)
    pruned = minimal_signature([*configs, flat], 1, X, y, plan, more, n_classes=2, n_bootstrap=300)
    assert pruned.to_dict()["bbc_configuration_frequency"][flat.name] == 0
    assert any("1 of 3 configurations" in note for note in pruned.notes)
    est, same = sig.bbc.estimate, pruned.bbc.estimate
    assert (same.value, *same.ci95) == pytest.approx((est.value, *est.ci95), abs=1e-12)


def test_restricted_drops_univariate_selection_when_not_smaller() -> None:
    c = Candidate("random_forest", {"min_samples_leaf": 3}, 50, "binary")
    assert restricted(c, 8).k is None
    assert restricted(Candidate("ridge_logistic", {"C": 1.0}, 5, "binary"), 8).k == 5


def test_minimal_signature_breast_cancer(breast_cancer) -> None:
    X, y = breast_cancer
    plan = make_plan(y, "binary", folds=5, repeats=2, seed=0)
    full = _full_oof(X, y, plan)
    sig = minimal_signature([LOGISTIC], 0, X, y, plan, full, n_classes=2, n_bootstrap=300)
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
    sig = minimal_signature([LOGISTIC], 0, X, y_null, plan, full, n_classes=2, n_bootstrap=300)
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


def test_held_out_importance_same_on_values_and_on_the_frame(breast_cancer) -> None:
    # an all-float table is fitted and shuffled as an array (evaluate.engine.fit_table); a
    # table with an integer column stays a frame: the same drops (a forest: to the bit)
    X, y = breast_cancer
    cols = ["worst concave points", "worst perimeter", "mean radius"]
    floats = X[cols].copy()
    mixed = floats.assign(flag=(X["mean area"] > 600).astype(np.int64))
    floats = floats.assign(flag=(X["mean area"] > 600).astype(float))
    plan = make_plan(y, "binary", folds=5, repeats=2, seed=0)
    forest = Candidate("random_forest", {"min_samples_leaf": 3, "n_estimators": 50}, None)
    shown = [*cols, "flag"]
    on_values = held_out_importance(forest, floats, y, plan, shown, n_classes=2, seed=3)
    on_frame = held_out_importance(forest, mixed, y, plan, shown, n_classes=2, seed=3)
    pd.testing.assert_frame_equal(on_values, on_frame)
    assert on_values.loc["worst perimeter", "importance"] > 0
