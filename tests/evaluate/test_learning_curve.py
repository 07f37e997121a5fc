"""The learning curve's plan (fresh: not the splits that chose the winner), its subsamples
(nested in the plan, stratified, whole groups, sizes dropped with the reason), its
hierarchical bootstrap (repeats and whole groups resampled, paired across sizes, chunked
without changing a draw) and its inverse power law (recovers known parameters; the gain is
perf(2N) − perf(N); the verdict refuses a number on flat, noisy or unfittable curves)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer

from insightome.evaluate import bbc
from insightome.evaluate import power_law as power_law_module
from insightome.evaluate.learning_curve import (
    FRACTIONS,
    MIN_REPEATS,
    bootstrap_curves,
    curve_draws,
    curve_plan,
    curve_seed,
    fresh_plan,
)
from insightome.evaluate.metrics import PRIMARY
from insightome.evaluate.power_law import (
    MIN_GAIN_LOWER_SHARE,
    fit_curve,
    fit_power_law,
    judge,
    power_law,
)
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


def test_a_class_the_training_fold_holds_once_keeps_the_sizes_that_hold_it():
    """A class of 2 under 2-fold CV (fold_design): each training fold holds it once, so the
    sizes that keep that one sample stay, and those that lose it are dropped."""
    y = np.array([0] * 30 + [1] * 20 + [2] * 2)
    plan = make_plan(y, "multiclass", folds=2, repeats=1, seed=0)
    curve = curve_plan(plan, y, "multiclass", seed=0)
    assert list(curve.fractions) == [0.6, 0.8, 1.0], curve.dropped
    assert any(d.startswith("0.45") and "(fewer than 1)" in d for d in curve.dropped)
    for folds in curve.plan.splits:
        for sub, _ in folds:
            assert np.bincount(y[sub], minlength=3)[2] == 1


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


def test_a_learnable_curve_gives_the_doubling_gain_from_n_to_2n_with_its_interval():
    # 5 folds: the largest training size is 80 = 0.8·N of a cohort of N = 100
    n = np.array([20, 30, 45, 60, 80], dtype=float)
    truth = (0.9, 2.0, 0.7)
    rng = np.random.default_rng(1)
    observed = power_law(n, *truth)
    boot = observed + rng.normal(0, 0.004, (300, len(n)))
    fitted = fit_curve(n, observed, boot, chance=0.5, n_cohort=100)
    assert fitted.verdict == "estimated" and fitted.reason == ""
    expected = power_law(200.0, *truth) - power_law(100.0, *truth)  # f(2N) − f(N)
    assert fitted.gain == pytest.approx(expected, rel=0.02)
    assert fitted.gain_ci95[0] <= expected <= fitted.gain_ci95[1]
    # not f(2·80) − f(80), the gain at the largest training size (larger: the curve bends)
    assert fitted.gain < 0.9 * (power_law(160.0, *truth) - power_law(80.0, *truth))
    assert fitted.n_full == 80 and fitted.n_cohort == 100
    assert fitted.grid[-1] == pytest.approx(200.0)  # 2N = 2.5 × the largest training size
    assert fitted.failed_fits < 0.2 * 300


def test_a_flat_or_chance_curve_gets_a_reason_instead_of_a_number():
    n = np.array([20, 30, 45, 60, 80], dtype=float)
    rng = np.random.default_rng(2)
    flat = np.full(len(n), 0.8)
    boot = flat + rng.normal(0, 0.03, (300, len(n)))
    fitted = fit_curve(n, flat, boot, chance=0.5, n_cohort=100)
    assert fitted.verdict == "flat" and "did not rise beyond noise" in fitted.reason
    chance = np.full(len(n), 0.52)
    noisy = chance + rng.normal(0, 0.05, (300, len(n)))
    fitted = fit_curve(n, chance, noisy, chance=0.5, n_cohort=100)
    assert fitted.verdict == "no_signal" and "includes chance" in fitted.reason
    fitted = fit_curve(n[:2], flat[:2], boot[:, :2], chance=0.5, n_cohort=100)
    assert fitted.verdict == "too_few_sizes"


N5 = np.array([20, 30, 45, 60, 80], dtype=float)


def test_a_rising_curve_with_noisy_bootstraps_is_too_noisy():
    """The curve rises beyond noise, but the bootstrap gains range from about nothing to
    several times the gain: no number (the old "interval from <= 0" rule never fired,
    because b >= 0 makes every bootstrap gain >= 0)."""
    observed = power_law(N5, 0.85, 1.5, 0.6)
    rng = np.random.default_rng(4)
    # every bootstrap curve rises, but how steeply varies a lot: some curves flatten early
    # (gain near 0), others keep rising
    c = rng.uniform(0.2, 3.0, 400)
    boot = np.vstack([power_law(N5, 0.85, 1.5 * 20**ci / 20**0.6, ci) for ci in c])
    boot += rng.normal(0, 0.002, boot.shape)
    fitted = fit_curve(N5, observed, boot, chance=0.5, n_cohort=100)
    assert fitted.rise_ci95[0] > 0 and fitted.full_ci95[0] > 0.5  # not flat, not chance
    assert fitted.gain_ci95[0] >= -1e-9  # b >= 0: no bootstrap gain below 0 ...
    assert fitted.gain_ci95[0] < MIN_GAIN_LOWER_SHARE * fitted.gain  # ... but near it
    assert fitted.verdict == "too_noisy"
    assert "does not rule out a gain below 25% of it" in fitted.reason
    # the same curve with tight bootstraps is estimated
    tight = observed + rng.normal(0, 0.002, (400, len(N5)))
    assert fit_curve(N5, observed, tight, chance=0.5, n_cohort=100).verdict == "estimated"


def test_judge_quotes_a_negligible_gain_and_refuses_an_unpinned_one():
    common = {"n_sizes": 5, "params": (0.9, 1.0, 0.5), "failed": 0, "n_bootstrap": 200,
              "full_ci": (0.8, 0.9), "rise_ci": (0.05, 0.1), "chance": 0.5, "n_small": 20,
              "n_full": 80}  # fmt: skip
    # "doubling buys almost nothing" is an answer: the interval ends below 0.01
    assert judge(**common, gain=0.004, gain_ci=(0.0, 0.008)) == ("estimated", "")
    assert judge(**common, gain=0.04, gain_ci=(0.02, 0.07)) == ("estimated", "")
    verdict, why = judge(**common, gain=0.04, gain_ci=(0.009, 0.07))
    assert verdict == "too_noisy" and "+0.009 to +0.070" in why
    # a zero gain whose interval reaches 0.06, and a gain outside its own interval
    assert judge(**common, gain=0.0, gain_ci=(0.0, 0.06))[0] == "too_noisy"
    verdict, why = judge(**common, gain=0.08, gain_ci=(0.02, 0.07))
    assert verdict == "too_noisy" and "does not pin it down" in why
    # too many bootstrap curves could not be fitted
    verdict, why = judge(**{**common, "failed": 41}, gain=0.04, gain_ci=(0.02, 0.07))
    assert verdict == "too_noisy" and "41 of 200 bootstrap curves" in why
    assert judge(**{**common, "failed": 40}, gain=0.04, gain_ci=(0.02, 0.07))[0] == "estimated"


def test_a_curve_the_power_law_cannot_fit_is_fit_failed(monkeypatch):
    observed = power_law(N5, 0.85, 1.5, 0.6)
    boot = observed + np.random.default_rng(5).normal(0, 0.002, (200, len(N5)))

    def fails(*args, **kwargs):
        raise RuntimeError("Optimal parameters not found: maxfev reached")

    monkeypatch.setattr(power_law_module, "curve_fit", fails)
    fitted = fit_curve(N5, observed, boot, chance=0.5, n_cohort=100)
    assert fitted.verdict == "fit_failed" and fitted.params is None and fitted.gain is None
    assert fitted.failed_fits == 200 and np.isnan(fitted.fitted).all()
    assert "could not be fitted to the observed curve" in fitted.reason


def test_the_curve_plan_is_fresh_with_the_run_folds_groups_and_at_least_three_repeats(y):
    groups = np.repeat(np.arange(40), 3)
    run = make_plan(y, "binary", folds=4, repeats=1, seed=7, groups=groups)
    plan = fresh_plan(run, y, "binary", groups=groups, seed=7)
    assert plan.folds == 4 and plan.grouped and plan.repeats == MIN_REPEATS
    assert plan.seeds[0] != run.seeds[0] and curve_seed(7) != 7
    assert plan.seeds == fresh_plan(run, y, "binary", groups=groups, seed=7).seeds  # seeded
    run_tests = [set(test) for _, test in run.splits[0]]
    assert all(set(test) not in run_tests for _, test in plan.splits[0])  # new splits
    for folds in plan.splits:  # whole patients: none straddles a training and a test fold
        for train, test in folds:
            assert not set(groups[train]) & set(groups[test])
    more = make_plan(y, "binary", folds=4, repeats=5, seed=7)
    assert fresh_plan(more, y, "binary", groups=None, seed=7).repeats == 5  # never fewer


def _oof(curve, seed: int = 0) -> np.ndarray:
    """Random probabilities in the curve plan's layout ((S·R) × n × 2)."""
    n = sum(len(test) for _, test in curve.plan.splits[0])
    p = np.random.default_rng(seed).uniform(size=(curve.plan.repeats, n))
    return np.stack([1 - p, p], axis=2)


def test_bootstrap_curves_are_paired_across_sizes_and_resample_repeats_and_whole_groups(y):
    groups = np.repeat(np.arange(40), 3)
    plan = make_plan(y, "binary", folds=4, repeats=3, seed=3, groups=groups)
    curve = curve_plan(plan, y, "binary", groups=groups, seed=3, fractions=(0.5, 0.75, 1.0))
    S, R = 3, 3
    oof = _oof(curve)
    # paired: the same predictions at every size give the same score in every bootstrap
    same = np.stack([oof[r] for _ in range(S) for r in range(R)])
    boot = bootstrap_curves(same, y, "binary", curve, n_bootstrap=300, seed=1, groups=groups)
    np.testing.assert_allclose(boot[:, 0], boot[:, 1])
    np.testing.assert_allclose(boot[:, 0], boot[:, 2])
    assert boot[:, 0].std() > 0.01  # and it does vary from bootstrap to bootstrap
    # whole groups: every patient's samples share a weight; the repeats are drawn too
    for _, counts, W in curve_draws(len(y), R, 300, seed=1, groups=groups):
        assert (W.reshape(len(W), 40, 3) == W.reshape(len(W), 40, 3)[:, :, :1]).all()
        assert (counts.sum(axis=1) == R).all() and (counts != 1).any()
    # hierarchical: with repeats that differ, a bootstrap curve is the counts-weighted mean
    # of the repeats' scores (not their plain mean)
    boot = bootstrap_curves(oof, y, "binary", curve, n_bootstrap=300, seed=1, groups=groups)
    ((_, counts, W),) = curve_draws(len(y), R, 300, seed=1, groups=groups)
    auc = PRIMARY["binary"].fn
    per_repeat = np.column_stack([auc(y, oof[2 * R + r], W) for r in range(R)])
    np.testing.assert_allclose(boot[:, 2], (per_repeat * counts).sum(axis=1) / R)
    assert np.abs(boot[:, 2] - per_repeat.mean(axis=1)).max() > 0.005


def test_chunked_bootstrap_curves_equal_one_batch(y, monkeypatch):
    plan = make_plan(y, "binary", folds=4, repeats=3, seed=2)
    curve = curve_plan(plan, y, "binary", seed=2, fractions=(0.5, 1.0))
    oof = _oof(curve, 1)
    whole = bootstrap_curves(oof, y, "binary", curve, n_bootstrap=250, seed=9)
    monkeypatch.setattr(bbc, "CHUNK_CELLS", 7 * len(y))  # chunks of 7 bootstraps
    assert len(list(curve_draws(len(y), 3, 250, seed=9))) == 36
    chunked = bootstrap_curves(oof, y, "binary", curve, n_bootstrap=250, seed=9)
    np.testing.assert_array_equal(chunked, whole)
