"""Resampling plans and BBC-CV on real data: groups stay together, optimism is removed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

from insightome.evaluate import bbc_cv, cross_validated_predictions, make_plan
from insightome.evaluate.bbc import bootstrap_weights
from insightome.evaluate.engine import fit_table
from insightome.evaluate.metrics import fold_thresholds
from insightome.models import candidates
from insightome.models.candidates import Candidate
from insightome.models.estimator_candidate import EstimatorCandidate


@pytest.fixture(scope="module")
def breast():
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return X, y.to_numpy()


@pytest.mark.parametrize("task", ["binary", "survival", "regression"])
def test_every_sample_is_tested_once_per_repeat(task, breast):
    _, y = breast
    yy = (
        y
        if task == "binary"
        else (
            np.where(y == 1, 1.0, -1.0) * np.arange(1, len(y) + 1)
            if task == "survival"
            else np.arange(len(y), dtype=float)
        )
    )
    plan = make_plan(yy, task, folds=4, repeats=3, seed=7)
    assert len(plan.splits) == 3 and all(len(r) == 4 for r in plan.splits)
    for repeat in plan.splits:
        tested = np.sort(np.concatenate([test for _, test in repeat]))
        np.testing.assert_array_equal(tested, np.arange(len(yy)))
        for train, test in repeat:
            assert not set(train) & set(test)
    # repeats differ, the same seed reproduces the same plan
    assert not np.array_equal(plan.splits[0][0][1], plan.splits[1][0][1])
    again = make_plan(yy, task, folds=4, repeats=3, seed=7)
    np.testing.assert_array_equal(plan.splits[2][3][1], again.splits[2][3][1])


def test_stratification_keeps_class_balance(breast):
    _, y = breast
    plan = make_plan(y, "binary", folds=5, repeats=1, seed=0)
    rates = [y[test].mean() for _, test in plan.splits[0]]
    assert max(rates) - min(rates) < 0.03


def test_groups_never_straddle_folds_and_bootstrap_resamples_whole_groups(breast):
    _, y = breast
    groups = np.arange(len(y)) // 3  # three samples per patient
    plan = make_plan(y, "binary", folds=5, repeats=2, seed=1, groups=groups)
    assert plan.grouped
    for repeat in plan.splits:
        for train, test in repeat:
            assert not set(groups[train]) & set(groups[test])
    W = bootstrap_weights(len(y), 50, np.random.default_rng(0), groups)
    for w in W:  # all samples of a patient get the same count
        assert (pd.Series(w).groupby(groups).nunique() == 1).all()
    assert W.sum(axis=1).std() > 0  # group bootstrap: sample size varies with group sizes


def test_bbc_removes_selection_optimism_on_noise():
    """Pure noise features: the best of many candidates looks better than chance, BBC does not."""
    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(size=(80, 300)), columns=[f"f{i}" for i in range(300)])
    y = np.array([0, 1] * 40)
    cands = candidates("binary", 300)
    plan = make_plan(y, "binary", folds=5, repeats=1, seed=3)
    cv = cross_validated_predictions(X, y, cands, plan, n_classes=2, seed=3)
    thresholds = fold_thresholds(y, plan.splits)
    res = bbc_cv(cv.oof, y, "binary", n_bootstrap=500, seed=3, thresholds=thresholds)
    assert res.estimate.plain_cv_value == pytest.approx(np.nanmax(res.cv_mean))
    assert res.estimate.plain_cv_value - res.estimate.value > 0.02
    assert res.estimate.ci95[0] < 0.5 < res.estimate.ci95[1]
    assert res.selection_frequency.sum() == pytest.approx(1.0)


def test_failing_candidate_is_excluded_not_fatal(breast):
    from insightome.models.candidates import Candidate

    X, y = breast
    good = candidates("binary", X.shape[1], preset="fast")[:1]
    bad = Candidate("l1_logistic", {"C": -1.0, "l1_ratio": 1.0}, None, "binary")  # invalid C
    plan = make_plan(y, "binary", folds=3, repeats=1, seed=0)
    cv = cross_validated_predictions(X, y, [bad, *good], plan, n_classes=2)
    assert cv.failed_folds.tolist() == [3, 0] and "C" in cv.errors[0]
    res = bbc_cv(cv.oof, y, "binary", n_bootstrap=200, thresholds=fold_thresholds(y, plan.splits))
    assert res.winner == 1 and res.selection_frequency[0] == 0


def test_bbc_is_the_same_whatever_the_bootstrap_chunk_size(breast, monkeypatch):
    """Large n is scored in chunks of bootstraps; the chunking must not change the result."""
    import insightome.evaluate.bbc as bbc_module

    X, y = breast
    cands = candidates("binary", X.shape[1], preset="fast")[:3]
    plan = make_plan(y, "binary", folds=3, repeats=2, seed=0)
    oof = cross_validated_predictions(X, y, cands, plan, n_classes=2).oof
    groups = np.arange(len(y)) // 2
    thr = fold_thresholds(y, plan.splits)

    def estimate(g: np.ndarray | None):  # type: ignore[no-untyped-def]
        return bbc_cv(oof, y, "binary", n_bootstrap=300, seed=1, groups=g, thresholds=thr)

    whole = [estimate(g) for g in (None, groups)]
    monkeypatch.setattr(bbc_module, "CHUNK_CELLS", len(y) * 7)  # 7 bootstraps per chunk
    chunked = [estimate(g) for g in (None, groups)]
    for a, b in zip(whole, chunked, strict=True):  # same draws; BLAS may round the last bit
        for x, z in [
            (a.estimate, b.estimate),
            *zip(a.secondary.values(), b.secondary.values(), strict=True),
        ]:
            assert (x.value, *x.ci95) == pytest.approx((z.value, *z.ci95), rel=1e-12)
        np.testing.assert_array_equal(a.selection_frequency, b.selection_frequency)


def test_bbc_scoring_and_interval_options(breast):
    """The poolings and intervals of issue 27's estimator study, on real out-of-fold
    predictions: each reduces to today's BBC-CV where it must, and differs where it should."""
    from insightome.evaluate.bbc import CALIBRATED_WIDTH, fold_membership

    X, y = breast
    X, y = X.iloc[:200], y[:200]
    cands = candidates("binary", X.shape[1], preset="fast")[:3]
    plan = make_plan(y, "binary", folds=4, repeats=2, seed=0)
    oof = cross_validated_predictions(X, y, cands, plan, n_classes=2).oof
    thr = fold_thresholds(y, plan.splits)
    folds = fold_membership(plan.splits, len(y))
    assert sorted(np.unique(folds).tolist()) == [0, 1, 2, 3]

    def bbc(o, **kw):  # type: ignore[no-untyped-def]
        kw.setdefault("pooling", "one_repeat")  # Tsamardinos et al.'s, which the others vary
        return bbc_cv(o, y, "binary", n_bootstrap=200, seed=2, thresholds=thr, **kw)

    base = bbc(oof)
    assert bbc_cv(oof, y, "binary", n_bootstrap=200, seed=2, thresholds=thr).estimate == (
        bbc(oof, pooling="all_repeats").estimate  # the default
    )
    lo0, hi0 = base.estimate.ci95
    # one repeat: the mean over all repeats is that repeat's score; one fold: the pooled one
    one = bbc(oof[:1])
    assert bbc(oof[:1], pooling="all_repeats").estimate == one.estimate
    whole = np.zeros_like(folds)
    assert bbc(oof, pooling="per_fold", folds=whole).estimate == base.estimate
    # with the real folds each variant is a different, plausible estimate
    for pooling in ("all_repeats", "per_fold"):
        other = bbc(oof, pooling=pooling, folds=folds)
        assert other.estimate.value != base.estimate.value
        assert abs(other.estimate.value - base.estimate.value) < 0.05
    calibrated = bbc(oof, interval="calibrated").estimate
    assert calibrated.value == base.estimate.value
    width = CALIBRATED_WIDTH["one_repeat"] * (hi0 - lo0)  # that pooling's multiple
    assert calibrated.ci95[1] - calibrated.ci95[0] == pytest.approx(width, rel=0.02)
    # the shrunk interval: same centre, narrower, inside the percentile one
    scaled = bbc(oof, interval="oob_scaled").estimate
    assert scaled.value == base.estimate.value
    lo, hi = base.estimate.ci95
    assert lo < scaled.ci95[0] < scaled.ci95[1] < hi
    assert (scaled.ci95[1] - scaled.ci95[0]) / (hi - lo) == pytest.approx(0.61, abs=0.08)
    with pytest.raises(ValueError, match="folds="):
        bbc(oof, pooling="per_fold")
    with pytest.raises(ValueError, match="pooling="):
        bbc(oof, pooling="pooled")


def test_per_fold_chooses_and_estimates_by_the_same_rule():
    """Candidate 0 ranks perfectly within each fold but its two folds' scores sit on
    different scales (its pooled AUC suffers); candidate 1 is moderate everywhere. Pooled,
    1 wins; per fold, 0 wins — and each estimate describes its own winner."""
    rng = np.random.default_rng(0)
    n = 200
    y = np.tile([0, 1], n // 2)
    folds = (np.arange(n) >= n // 2).astype(int)[None, :]
    oof = np.zeros((1, 2, n, 1))
    oof[0, 0, :, 0] = y * 0.1 + rng.uniform(0, 0.09, n) + 0.5 * folds[0]  # pooled AUC 0.75
    oof[0, 1, :, 0] = y * 0.5 + rng.normal(0, 0.35, n)  # AUC ~0.84 pooled and per fold
    pooled = bbc_cv(oof, y, "binary", n_bootstrap=300, seed=0,
                    thresholds=np.full((1, n), 0.5))  # fmt: skip
    per_fold = bbc_cv(oof, y, "binary", n_bootstrap=300, seed=0, thresholds=np.full((1, n), 0.5),
                      pooling="per_fold", folds=folds)  # fmt: skip
    assert pooled.winner == 1 and per_fold.winner == 0
    assert per_fold.selection_frequency[0] > 0.9
    assert per_fold.estimate.plain_cv_value == pytest.approx(1.0)
    assert per_fold.estimate.value > 0.95 > pooled.estimate.plain_cv_value > 0.75


def test_a_bag_without_a_positive_chooses_nothing():
    """15 samples, 2 positives: some bags draw no positive, so no candidate has an in-bag AUC;
    such a bag must not fall back to column 0 (here a candidate that failed)."""
    rng = np.random.default_rng(0)
    y = np.array([1, 1] + [0] * 13)
    oof = np.full((1, 2, 15, 1), np.nan)
    oof[0, 1, :, 0] = y * 0.3 + rng.uniform(0, 1, 15)
    res = bbc_cv(oof, y, "binary", n_bootstrap=400, seed=0, thresholds=np.full((1, 15), 0.2))
    assert res.winner == 1 and res.selection_frequency[0] == 0
    # the same draws as bbc_cv's: the bags without a positive chose nothing
    W = bootstrap_weights(15, 400, np.random.default_rng(0))
    empty = W[:, :2].sum(axis=1) == 0
    assert empty.sum() > 10
    assert res.selection_frequency[1] == pytest.approx(1 - empty.mean())
    assert np.isnan(res.oob_scores[empty]).all() and np.isfinite(res.estimate.value)


def test_fit_warnings_are_counted_per_candidate_in_worker_processes_and_cache(breast, tmp_path):
    """A configuration that does not converge is counted (not hidden), fit by fit, also when
    the fits run in joblib worker processes and when they are read back from the cache."""
    from insightome.compute.cache import FitCache
    from insightome.models.candidates import Candidate

    X, y = breast
    X = X.iloc[:, :10]
    # saga stops at max_iter with C=1000 on these nearly separable data: one warning per fit
    noisy = Candidate("elastic_net_logistic", {"C": 1000.0, "l1_ratio": 0.5}, None, "binary")
    quiet = Candidate("ridge_logistic", {"C": 1.0}, None, "binary")
    plan = make_plan(y, "binary", folds=3, repeats=1, seed=0)
    cache = FitCache(tmp_path, "fp")
    cv = cross_validated_predictions(X, y, [noisy, quiet], plan, n_classes=2, n_jobs=2, cache=cache)
    assert cv.n_fits.tolist() == [3, 3]
    assert cv.fit_warnings == [{"ConvergenceWarning": 3}, {}]
    assert cv.failed_folds.tolist() == [0, 0]  # warned, but fitted and used
    again = cross_validated_predictions(X, y, [noisy, quiet], plan, n_classes=2, cache=cache)
    assert cache.hits == 6 and again.fit_warnings == cv.fit_warnings


def test_fits_on_values_when_every_column_has_one_number_type() -> None:
    # the same out-of-fold predictions from the values as from the frame (to rounding: the
    # rows come in another memory order, so BLAS sums in another order: 1e-15 here)
    data = load_breast_cancer(as_frame=True)
    X, y = data.data.iloc[:, :8], data.target.to_numpy()
    mixed = X.assign(flag=(X["mean area"] > 600).astype(np.int64))
    floats = X.assign(flag=(X["mean area"] > 600).astype(float))
    plan = make_plan(y, "binary", folds=3, repeats=1, seed=0)
    cands = [
        Candidate("l1_logistic", {"C": 0.5, "l1_ratio": 1.0}, 4),
        Candidate("random_forest", {"n_estimators": 30}),
    ]
    assert isinstance(fit_table(cands[0], floats), np.ndarray)
    assert fit_table(cands[0], mixed) is mixed
    user = EstimatorCandidate.wrap(LogisticRegression(), "binary")
    assert fit_table(user, floats) is floats  # a user's pipeline may select columns by name
    a = cross_validated_predictions(floats, y, cands, plan, n_classes=2)
    b = cross_validated_predictions(mixed, y, cands, plan, n_classes=2)
    np.testing.assert_allclose(a.oof, b.oof, rtol=0, atol=1e-12)
