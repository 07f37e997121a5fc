"""The vectorized bootstrap metrics agree with scikit-learn and lifelines."""

from __future__ import annotations

import numpy as np
import pytest
from lifelines.utils import concordance_index
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import balanced_accuracy_score, brier_score_loss, r2_score, roc_auc_score
from sklearn.model_selection import cross_val_predict

from insightome.evaluate import metrics


@pytest.fixture(scope="module")
def binary_oof():
    X, y = load_breast_cancer(return_X_y=True)
    p = cross_val_predict(
        LogisticRegression(max_iter=5000), X[:, :5], y, cv=3, method="predict_proba"
    )[:, 1]
    return y, np.round(p, 2)  # rounding creates ties, which the AUC must count as one half


def test_weighted_auc_matches_sklearn_on_bootstrap_samples(binary_oof):
    y, p = binary_oof
    rng = np.random.default_rng(0)
    W = rng.multinomial(len(y), np.full(len(y), 1 / len(y)), size=5).astype(float)
    got = metrics.auc(y, p[:, None], W)
    for b in range(5):
        idx = np.repeat(np.arange(len(y)), W[b].astype(int))
        assert got[b] == pytest.approx(roc_auc_score(y[idx], p[idx]), abs=1e-12)


def test_brier_and_balanced_accuracy_match_sklearn(binary_oof):
    y, p = binary_oof
    assert metrics.plain(metrics.brier, y, p[:, None]) == pytest.approx(brier_score_loss(y, p))
    assert metrics.plain(metrics.balanced_accuracy, y, p[:, None]) == pytest.approx(
        balanced_accuracy_score(y, (p >= y.mean()).astype(int))  # threshold = prevalence
    )


def test_multiclass_macro_auc_matches_sklearn():
    X, y = load_wine(return_X_y=True)
    p = cross_val_predict(
        LogisticRegression(max_iter=5000), X[:, :3], y, cv=3, method="predict_proba"
    )
    assert metrics.plain(metrics.auc_macro_ovr, y, p) == pytest.approx(
        roc_auc_score(y, p, multi_class="ovr", average="macro")
    )


def test_r2_matches_sklearn():
    X, y = load_diabetes(return_X_y=True)
    p = cross_val_predict(Ridge(), X, y, cv=3)
    assert metrics.plain(metrics.r2, y, p[:, None]) == pytest.approx(r2_score(y, p))


def test_c_index_matches_lifelines(actg175_path):
    import pandas as pd

    df = pd.read_csv(actg175_path).iloc[:600]
    signed = np.where(df["cens"] == 1, 1.0, -1.0) * df["days"].to_numpy(float)
    risk = -df["cd40"].to_numpy(float)  # low CD4 = high risk; many ties
    got = metrics.harrell_c(signed, risk)
    assert got == pytest.approx(concordance_index(df["days"], -risk, df["cens"]), abs=1e-9)
    assert 0.55 < got < 0.8


def test_c_index_fast_pass_equals_pairwise_under_bootstrap_weights(actg175_path):
    """The O(n log n) pass counts exactly the pairs the quadratic forms count: under
    bootstrap weights, with tied times, tied risks and censoring at event times."""
    import pandas as pd

    from insightome.evaluate.bbc import bootstrap_weights
    from insightome.models.concordance import c_index_pairwise

    df = pd.read_csv(actg175_path).iloc[:700]
    days = (df["days"].to_numpy(float) // 30) + 1  # months: many tied times
    signed = np.where(df["cens"] == 1, 1.0, -1.0) * days
    risk = -df["cd40"].to_numpy(float).reshape(-1, 1) // 25  # many tied risks
    W = bootstrap_weights(len(days), 40, np.random.default_rng(3))
    fast, pairwise = metrics.c_index(signed, risk, W), c_index_pairwise(signed, risk, W)
    assert np.allclose(fast, pairwise, rtol=0, atol=1e-12)
    assert fast.std() > 0.005  # the weightings really differ
    # a bootstrap row is the C-index of that resample written out
    idx = np.repeat(np.arange(len(days)), W[0].astype(int))
    expected = concordance_index(days[idx], -risk[idx, 0], df["cens"].to_numpy()[idx])
    assert fast[0] == pytest.approx(expected, abs=1e-12)


def test_c_index_fractional_weights_ties_and_missing_predictions():
    """Fractional weights: no comparable pair gives NaN (not rounding noise); a patient
    without a prediction is in no pair."""
    from insightome.models.concordance import c_index_pairwise

    rng = np.random.default_rng(5)
    for _ in range(300):
        n = int(rng.integers(1, 12))
        time = rng.integers(1, 4, n).astype(float)
        signed = np.where(rng.random(n) < rng.random(), time, -time)
        risk = rng.integers(0, 3, n).astype(float).reshape(-1, 1)
        W = rng.random((3, n))
        fast, pairwise = metrics.c_index(signed, risk, W), c_index_pairwise(signed, risk, W)
        np.testing.assert_array_equal(np.isnan(fast), np.isnan(pairwise))
        assert np.allclose(fast[~np.isnan(fast)], pairwise[~np.isnan(pairwise)], atol=1e-12)
    tied = np.array([2.0, 2.0, 2.0, -1.0, -1.5])  # the events all at the last time
    weights = np.array([[0.1, 0.7, 0.3, 0.9, 0.2]])
    assert np.isnan(metrics.c_index(tied, np.array([[0], [1], [1], [0], [1.0]]), weights))[0]
    signed = np.array([1.0, 2.0, 3.0, -4.0, 5.0])
    risk = np.array([[np.nan], [1.0], [2.0], [0.0], [np.nan]])
    expected = metrics.c_index(signed[1:4], risk[1:4], np.ones((1, 3)))
    assert metrics.c_index(signed, risk, np.ones((1, 5))) == pytest.approx(expected)


def test_c_index_without_comparable_pairs_is_nan():
    signed = np.array([-1.0, -2.0, 3.0])  # the one event is after every censoring
    assert np.isnan(metrics.c_index(signed, np.array([[0.1], [0.2], [0.3]]), np.ones((1, 3))))[0]


def test_time_dependent_auc_is_uno_ipcw_auc(actg175_path):
    """Check against a direct, loop-based implementation of Uno's cumulative/dynamic AUC."""
    import pandas as pd
    from lifelines import KaplanMeierFitter

    df = pd.read_csv(actg175_path).iloc[:400]
    t, e = df["days"].to_numpy(float), df["cens"].to_numpy(bool)
    signed = np.where(e, t, -t)
    risk = -df["cd40"].to_numpy(float)
    horizon = metrics.survival_horizon(signed)
    km = KaplanMeierFitter().fit(t, ~e)
    num = den = 0.0
    for i in np.flatnonzero(e & (t <= horizon)):
        w = 1.0 / km.survival_function_at_times(t[i] - 1e-9).iloc[0]
        for j in np.flatnonzero(t > horizon):
            den += w
            num += w * ((risk[i] > risk[j]) + 0.5 * (risk[i] == risk[j]))
    got = metrics.plain(metrics.time_dependent_auc, signed, risk[:, None])
    assert got == pytest.approx(num / den, rel=1e-9)
    assert got > 0.55


def test_average_precision_and_spearman_match_sklearn_and_scipy():
    from scipy.stats import spearmanr
    from sklearn.metrics import average_precision_score

    from insightome.evaluate.metrics import average_precision, spearman

    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 300)
    score = np.round(y * 0.5 + rng.normal(size=300), 1)  # rounded: tied scores too
    ones = np.ones((1, 300))
    ap = average_precision(y, score.reshape(-1, 1), ones)[0]
    assert ap == pytest.approx(average_precision_score(y, score), abs=1e-12)
    t = rng.normal(size=300)
    p = np.round(t + rng.normal(size=300), 1)
    assert spearman(t, p.reshape(-1, 1), ones)[0] == pytest.approx(spearmanr(t, p)[0], abs=1e-12)
    # bootstrap weights: a weight of 2 counts the sample twice
    w = rng.integers(0, 3, (1, 300)).astype(float)
    rows = np.repeat(np.arange(300), w[0].astype(int))
    assert average_precision(y, score.reshape(-1, 1), w)[0] == pytest.approx(
        average_precision_score(y[rows], score[rows]), abs=1e-12
    )


def test_spearman_ranks_within_each_bootstrap_sample():
    """Bootstrap Spearman equals SciPy's on the resample written out (weights as repeated
    rows): the ranks are taken within the resample, ties included, not from the full
    sample. Full-sample ranks were up to 0.046 off per bootstrap."""
    from scipy.stats import spearmanr

    rng = np.random.default_rng(7)
    n = 200
    y = np.round(rng.normal(size=n), 1)  # rounded: ties in both y and the prediction
    p = np.round(0.6 * y + rng.normal(size=n), 1)
    W = rng.multinomial(n, np.full(n, 1 / n), size=6).astype(float)  # bootstrap counts
    W = np.vstack([W, (W[0] == 0).astype(float), rng.integers(0, 4, (1, n)).astype(float)])
    got = metrics.spearman(y, p.reshape(-1, 1), W)
    for b, w in enumerate(W):
        rows = np.repeat(np.arange(n), w.astype(int))
        assert got[b] == pytest.approx(spearmanr(y[rows], p[rows])[0], abs=1e-10)


def _near_threshold_oof(y: np.ndarray, plan) -> np.ndarray:
    """(R × 1 × n × 1) out-of-fold probabilities: half informative, half exactly between
    the all-label prevalence and the sample's training-fold prevalence, where the two
    thresholds disagree."""
    rng = np.random.default_rng(1)
    everyone = y.mean()
    oof = np.empty((plan.repeats, 1, len(y), 1))
    for r, folds in enumerate(plan.splits):
        for train, test in folds:
            p = np.clip(0.25 + 0.3 * (y[test] - 0.5) + rng.normal(0, 0.2, len(test)), 0, 1)
            between = rng.random(len(test)) < 0.5
            p[between] = (everyone + y[train].mean()) / 2
            oof[r, 0, test, 0] = p
    return oof


def test_balanced_accuracy_threshold_is_the_training_folds_prevalence():
    """The out-of-fold balanced accuracy thresholds each prediction at the prevalence of
    the training folds that made it — by hand with scikit-learn — not at the prevalence of
    all labels, held-out fold included."""
    from insightome.evaluate.bbc import bbc_cv
    from insightome.evaluate.splitters import make_plan

    y = np.r_[np.ones(14, dtype=int), np.zeros(39, dtype=int)]  # 5 folds: 2 or 3 positives
    plan = make_plan(y, "binary", folds=5, repeats=2, seed=0)
    oof = _near_threshold_oof(y, plan)
    honest, leaky = [], []
    for r, folds in enumerate(plan.splits):
        hat = np.empty(len(y), dtype=int)
        for train, test in folds:
            hat[test] = oof[r, 0, test, 0] >= y[train].mean()
        honest.append(balanced_accuracy_score(y, hat))
        leaky.append(balanced_accuracy_score(y, (oof[r, 0, :, 0] >= y.mean()).astype(int)))
    assert abs(np.mean(honest) - np.mean(leaky)) > 0.02  # the construction separates them
    thresholds = metrics.fold_thresholds(y, plan.splits)
    res = bbc_cv(oof, y, "binary", n_bootstrap=50, seed=0, thresholds=thresholds)
    got = res.secondary["balanced_accuracy"].plain_cv_value
    assert got == pytest.approx(np.mean(honest), abs=1e-12)
    with pytest.raises(ValueError, match="decision thresholds"):  # never silently leaky
        bbc_cv(oof, y, "binary", n_bootstrap=50, seed=0)


def test_balanced_accuracy_at_per_sample_thresholds_on_bootstrap_samples(binary_oof):
    y, p = binary_oof
    rng = np.random.default_rng(2)
    cut = rng.uniform(0.3, 0.5, len(y))  # one threshold per sample
    W = rng.multinomial(len(y), np.full(len(y), 1 / len(y)), size=4).astype(float)
    got = metrics.balanced_accuracy_at(cut)(y, p[:, None], W)
    for b in range(4):
        idx = np.repeat(np.arange(len(y)), W[b].astype(int))
        want = balanced_accuracy_score(y[idx], (p[idx] >= cut[idx]).astype(int))
        assert got[b] == pytest.approx(want, abs=1e-12)
