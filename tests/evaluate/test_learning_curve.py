"""The learning curve's subsamples (nested in the plan, stratified, whole groups, sizes
dropped with the reason) and its inverse power law (recovers known parameters; the
verdict refuses a number on flat or noisy curves)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer

from insightome.evaluate.learning_curve import FRACTIONS, curve_plan
from insightome.evaluate.power_law import fit_curve, fit_power_law, power_law
from insightome.evaluate.splitters import make_plan


@pytest.fixture(scope="module")
def y() -> np.ndarray:
    return load_breast_cancer().target[:120].astype(int)


def test_subsamples_are_nested_stratified_and_inside_each_training_fold(y):
    plan = make_plan(y, "binary", folds=5, repeats=2, seed=4)
    curve = curve_plan(plan, y, "binary", seed=4)
    assert curve.fractions == FRACTIONS and not curve.dropped
    assert curve.plan.repeats == len(FRACTIONS) * 2 and curve.plan.folds == 5
    for r, folds in enumerate(plan.splits):
        for k, (train, test) in enumerate(folds):
            previous = np.zeros(0, dtype=int)
            for s, fraction in enumerate(FRACTIONS):
                sub, sub_test = curve.plan.splits[s * 2 + r][k]
                np.testing.assert_array_equal(sub_test, test)  # the full test fold
                assert np.isin(sub, train).all() and not np.isin(sub, test).any()
                assert np.isin(previous, sub).all()  # nested: the smaller subsample inside
                assert len(np.unique(sub)) == len(sub) == curve.sizes[s, r, k]
                for c in (0, 1):  # stratified: each class cut at the same fraction
                    assert (y[sub] == c).sum() == round(fraction * (y[train] == c).sum())
                previous = sub
            np.testing.assert_array_equal(previous, train)  # 100%: the run's own fold (cache)


@pytest.mark.parametrize("per_patient", [True, False], ids=["patient outcome", "varies"])
def test_with_groups_subsamples_are_whole_groups_that_never_meet_the_test_fold(y, per_patient):
    groups = np.repeat(np.arange(40), 3)  # 40 patients, 3 samples each
    yg = y[groups * 3] if per_patient else y  # one outcome per patient, or per sample
    plan = make_plan(yg, "binary", folds=4, repeats=1, seed=1, groups=groups)
    curve = curve_plan(plan, yg, "binary", groups=groups, seed=1)
    assert curve.group_sizes is not None
    for s in range(len(curve.fractions)):
        for k, (sub, test) in enumerate(curve.plan.splits[s]):
            taken = np.unique(groups[sub])
            assert not np.isin(taken, groups[test]).any()  # no patient straddles
            # whole patients: every sample of a patient taken is in the subsample
            assert set(np.flatnonzero(np.isin(groups, taken))) == set(sub)
            assert curve.group_sizes[s, 0, k] == len(taken)


def test_a_size_leaving_a_class_under_two_training_samples_is_dropped_with_the_reason():
    y = np.array([1] * 8 + [0] * 52)  # 8 positives: about 6 per training fold
    plan = make_plan(y, "binary", folds=4, repeats=1, seed=0)
    curve = curve_plan(plan, y, "binary", seed=0)
    assert 0.2 not in curve.fractions and 1.0 in curve.fractions
    assert any(d.startswith("0.2 (about 9 training samples): a class would have 1") for d in
               curve.dropped)  # fmt: skip
    for folds in curve.plan.splits:
        for sub, _ in folds:
            assert np.bincount(y[sub]).min() >= 2


def test_the_power_law_recovers_known_parameters():
    n = np.array([20, 30, 45, 60, 80, 100, 150, 200], dtype=float)
    truth = (0.92, 1.4, 0.6)
    rng = np.random.default_rng(0)
    noisy = power_law(n, *truth) + rng.normal(0, 0.002, len(n))
    a, b, c = fit_power_law(n, noisy)
    assert a == pytest.approx(0.92, abs=0.02)
    assert c == pytest.approx(0.6, abs=0.15)
    assert b == pytest.approx(1.4, rel=0.4)
    # exact points: exact parameters
    assert fit_power_law(n, power_law(n, *truth)) == pytest.approx(truth, rel=1e-3)


def test_a_learnable_curve_gives_the_doubling_gain_with_its_interval():
    n = np.array([20, 30, 45, 60, 80], dtype=float)
    truth = (0.9, 2.0, 0.7)
    rng = np.random.default_rng(1)
    observed = power_law(n, *truth)
    boot = observed + rng.normal(0, 0.004, (300, len(n)))
    fitted = fit_curve(n, observed, boot, chance=0.5)
    assert fitted.verdict == "estimated" and fitted.reason == ""
    expected = power_law(160.0, *truth) - power_law(80.0, *truth)
    assert fitted.gain == pytest.approx(expected, rel=0.02)
    assert fitted.gain_ci95[0] <= expected <= fitted.gain_ci95[1]
    assert fitted.grid[-1] == pytest.approx(160.0)  # never beyond twice the full size
    assert fitted.failed_fits < 0.2 * 300


def test_a_flat_or_chance_curve_gets_a_reason_instead_of_a_number():
    n = np.array([20, 30, 45, 60, 80], dtype=float)
    rng = np.random.default_rng(2)
    flat = np.full(len(n), 0.8)
    boot = flat + rng.normal(0, 0.03, (300, len(n)))
    fitted = fit_curve(n, flat, boot, chance=0.5)
    assert fitted.verdict == "flat" and "did not rise beyond noise" in fitted.reason
    chance = np.full(len(n), 0.52)
    fitted = fit_curve(n, chance, chance + rng.normal(0, 0.05, (300, len(n))), chance=0.5)
    assert fitted.verdict == "no_signal" and "includes chance" in fitted.reason
    fitted = fit_curve(n[:2], flat[:2], boot[:, :2], chance=0.5)
    assert fitted.verdict == "too_few_sizes"
