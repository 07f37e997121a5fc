"""The augmentation comparison (``audit.augmentation``) on real out-of-fold predictions:
its values are the metrics scikit-learn computes on the pooled predictions, its calibration
slope is an unpenalised logistic fit on logit(p), a candidate compared with itself shows no
difference, a real signal against its shuffled predictions is "better" (and the reverse
"worse"), the intervals use the project's group bootstrap, and the verdict says only what
the intervals support."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import logit
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score

from insightome.audit.augmentation import calibration_slope, compare_augmentation
from insightome.evaluate.bbc import bbc_cv
from insightome.evaluate.engine import cross_validated_predictions
from insightome.evaluate.splitters import make_plan
from insightome.models.candidates import Candidate, augmented_twins, candidates
from insightome.results.augmentation import Augmentation


@pytest.fixture(scope="module")
def breast():
    """Out-of-fold predictions of two real-only candidates on 150 tumours (2 repeats)."""
    bunch = load_breast_cancer(as_frame=True)
    X = bunch.data.iloc[:150, :6]
    y = bunch.target.iloc[:150].to_numpy()
    cands = candidates("binary", 6, "fast")[:2]
    plan = make_plan(y, "binary", folds=5, repeats=2, seed=0)
    cv = cross_validated_predictions(X, y, cands, plan, n_classes=2, seed=0)
    return y, cands, cv.oof


def as_pair(oof_real: np.ndarray, oof_aug: np.ndarray, real: Candidate) -> tuple:
    """Two columns of OOF predictions, the second flagged as the augmented twin."""
    oof = np.stack([oof_real, oof_aug], axis=1)
    return oof, [real, augmented_twins([real], "cart", 1.0)[0]]


def test_values_are_the_pooled_out_of_fold_metrics(breast):
    y, cands, oof = breast
    pair, flagged = as_pair(oof[:, 0], oof[:, 1], cands[0])
    bbc = bbc_cv(pair, y, "binary", n_bootstrap=200, seed=0, thresholds=np.full((2, len(y)), 0.5))
    result = compare_augmentation(pair, y, "binary", flagged, bbc, n_bootstrap=200, seed=0)
    auc, brier, slope = result.metrics
    for c, side in ((0, "real_only"), (1, "augmented")):
        p = pair[:, c, :, 0]
        assert getattr(auc, side) == pytest.approx(np.mean([roc_auc_score(y, q) for q in p]))
        assert getattr(brier, side) == pytest.approx(np.mean([brier_score_loss(y, q) for q in p]))
        fits = [
            LogisticRegression(C=np.inf, tol=1e-10, max_iter=1000)
            .fit(logit(np.clip(q, 1e-6, 1 - 1e-6)).reshape(-1, 1), y)
            .coef_[0, 0]
            for q in p
        ]
        assert getattr(slope, side) == pytest.approx(np.mean(fits), rel=1e-4)
    for m in result.metrics:
        lo, hi = m.difference_ci95
        assert lo <= m.difference <= hi or m.metric == "calibration_slope"
        assert m.real_only_ci95[0] < m.real_only < m.real_only_ci95[1]
    assert result.real_only["name"] == cands[0].name
    assert result.augmented["name"] == flagged[1].name
    Augmentation.model_validate(result.to_dict())


def test_a_candidate_against_itself_shows_no_difference(breast):
    y, cands, oof = breast
    pair, flagged = as_pair(oof[:, 0], oof[:, 0], cands[0])
    bbc = bbc_cv(pair, y, "binary", n_bootstrap=200, seed=0, thresholds=np.full((2, len(y)), 0.5))
    result = compare_augmentation(pair, y, "binary", flagged, bbc, n_bootstrap=200, seed=0)
    for m in result.metrics:
        assert m.difference == 0 and m.difference_ci95 == (0.0, 0.0)
        assert m.finding == "no evidence"
    assert result.verdict.startswith("no evidence augmentation helps here; AUC difference +0.000")


def test_a_real_signal_against_shuffled_predictions_is_better_and_the_reverse_worse(breast):
    y, cands, oof = breast
    shuffled = oof[:, 0][:, np.random.default_rng(3).permutation(len(y))]
    pair, flagged = as_pair(shuffled, oof[:, 0], cands[0])
    thresholds = np.full((2, len(y)), 0.5)
    bbc = bbc_cv(pair, y, "binary", n_bootstrap=300, seed=0, thresholds=thresholds)
    helped = compare_augmentation(pair, y, "binary", flagged, bbc, n_bootstrap=300, seed=1)
    auc, brier, _ = helped.metrics
    assert auc.finding == "better" and auc.difference_ci95[0] > 0
    assert brier.finding == "better" and brier.difference_ci95[1] < 0
    assert helped.verdict.startswith("augmentation helped here: a better AUC")
    assert helped.winner_augmented and helped.augmented_selection_frequency > 0.9

    pair, flagged = as_pair(oof[:, 0], shuffled, cands[0])
    bbc = bbc_cv(pair, y, "binary", n_bootstrap=300, seed=0, thresholds=thresholds)
    hurt = compare_augmentation(pair, y, "binary", flagged, bbc, n_bootstrap=300, seed=1)
    assert hurt.metrics[0].finding == "worse" and not hurt.winner_augmented
    assert hurt.verdict.startswith("no evidence augmentation helps here, and it made the AUC")
    assert "optimistic" in hurt.caveat and "BBC-CV estimate of the winner" in hurt.caveat


def test_the_bootstrap_resamples_whole_patients(breast):
    """With groups of 3 rows sharing one prediction, a group bootstrap keeps a patient's
    rows together: the same data as one row per patient, counted 3 times, gives the same
    bootstrap distribution."""
    y, cands, oof = breast
    pair, flagged = as_pair(oof[:, 0], oof[:, 1], cands[0])
    tripled = np.repeat(pair, 3, axis=2)
    groups = np.repeat(np.arange(len(y)), 3)
    y3 = np.repeat(y, 3)
    bbc = bbc_cv(pair, y, "binary", n_bootstrap=200, seed=0, thresholds=np.full((2, len(y)), 0.5))
    one = compare_augmentation(pair, y, "binary", flagged, bbc, n_bootstrap=200, seed=4)
    three = compare_augmentation(
        tripled, y3, "binary", flagged, bbc, n_bootstrap=200, seed=4, groups=groups
    )
    for a, b in zip(one.metrics, three.metrics, strict=True):
        assert a.difference_ci95 == pytest.approx(b.difference_ci95)
        assert a.real_only_ci95 == pytest.approx(b.real_only_ci95)


def test_not_compared_when_no_augmented_candidate_could_be_fitted(breast):
    y, cands, oof = breast
    failed = np.full_like(oof[:, 0], np.nan)
    pair, flagged = as_pair(oof[:, 0], failed, cands[0])
    bbc = bbc_cv(pair, y, "binary", n_bootstrap=200, seed=0, thresholds=np.full((2, len(y)), 0.5))
    result = compare_augmentation(pair, y, "binary", flagged, bbc, n_bootstrap=200, seed=0)
    assert not result.compared and result.metrics == []
    assert result.not_compared_because.startswith("no augmented candidate was fitted")
    Augmentation.model_validate(result.to_dict())


def test_the_calibration_slope_is_one_for_calibrated_risks():
    rng = np.random.default_rng(0)
    p = rng.uniform(0.05, 0.95, 4000)
    y = (rng.uniform(size=p.size) < p).astype(int)
    slope = calibration_slope(y, p.reshape(-1, 1), np.ones((1, p.size)))[0]
    assert slope == pytest.approx(1.0, abs=0.1)
    steep = calibration_slope(
        y, (1 / (1 + np.exp(-2 * logit(p)))).reshape(-1, 1), np.ones((1, p.size))
    )
    assert steep[0] == pytest.approx(0.5, abs=0.06)  # overconfident risks: slope below 1
