"""Conformal thresholds hold their level for the deployed model on a fresh hold-out.

The run calibrates the thresholds on the winner's out-of-fold predictions and ``insightome
predict`` applies them to the model refitted on all samples. The calibration predictions
must have that one model's spread: the mean of R repeats' out-of-fold predictions varies
less, so thresholds calibrated on it are too small. Each test splits a real data set into
a training part (CV, thresholds, final fit, as in a run) and a hold-out, and checks that
the hold-out coverage's exact (Clopper-Pearson) 95% interval contains the stated level.
"""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.model_selection import KFold, cross_val_predict, train_test_split
from sklearn.tree import DecisionTreeRegressor

import insightome
from insightome.audit.auditing import AuditSettings, audit_conformal
from insightome.audit.conformal import apply_thresholds, clopper_pearson
from insightome.evaluate.engine import cross_validated_predictions, predict_matrix
from insightome.evaluate.splitters import make_plan
from insightome.models.candidates import Candidate
from insightome.study import Study

LEVEL = AuditSettings().conformal_level


def _study(X: pd.DataFrame, target: np.ndarray, task: str) -> Study:
    obs = pd.DataFrame({"outcome": target}, index=X.index.astype(str))
    adata = ad.AnnData(X.to_numpy(float), obs=obs, var=pd.DataFrame(index=X.columns))
    return insightome.make_study(adata, target="outcome", task=task)


def _covered(study: Study, oof: np.ndarray, pred: np.ndarray, y_test: np.ndarray) -> np.ndarray:
    """Whether each hold-out outcome lies in the deployed model's set or interval."""
    _, thresholds = audit_conformal(study, oof, {}, AuditSettings(), seed=0)
    assert thresholds is not None
    out = apply_thresholds(pred, study.spec.task, thresholds, study.classes)
    if study.spec.task == "regression":
        return (out[:, 0] <= y_test) & (y_test <= out[:, 1])
    return np.array([c in s.split(";") for c, s in zip(y_test, out, strict=True)])


def _assert_level_in_interval(covered: np.ndarray) -> None:
    lo, hi = clopper_pearson(int(covered.sum()), len(covered))
    assert lo <= LEVEL <= hi, f"hold-out coverage {covered.mean():.3f} of {len(covered)}"


def test_high_variance_model_keeps_its_level_on_a_hold_out() -> None:
    """A fully grown tree on diabetes, 10 repeats of 5-fold CV, four 60/40 splits pooled:
    calibrated on the mean over repeats, the deployed tree covered 81.5% (CI 78.5-84.2%)."""
    data = load_diabetes(as_frame=True, scaled=False)
    covered = []
    for split in range(4):
        X, X_test, y, y_test = train_test_split(
            data.data, data.target.to_numpy(float), test_size=0.4, random_state=split
        )
        study = _study(X, y, "regression")
        oof = np.array([
            cross_val_predict(DecisionTreeRegressor(random_state=r), X, y,
                              cv=KFold(5, shuffle=True, random_state=r))
            for r in range(10)
        ])[:, :, None]  # fmt: skip
        deployed = DecisionTreeRegressor(random_state=0).fit(X, y)
        covered.append(_covered(study, oof, deployed.predict(X_test)[:, None], y_test))
    _assert_level_in_interval(np.concatenate(covered))


@pytest.mark.parametrize(
    ("task", "candidate"),
    [
        ("regression", Candidate("xgboost_regressor", {"max_depth": 4}, None, "regression")),
        ("binary", Candidate("l1_logistic", {"C": 1.0, "l1_ratio": 1.0}, None, "binary")),
    ],
)
def test_run_pipeline_keeps_its_level_on_a_hold_out(task: str, candidate: Candidate) -> None:
    """As a run does it: repeated CV of the winner, thresholds, final fit on all samples."""
    if task == "regression":
        data = load_diabetes(as_frame=True, scaled=False)
        target = data.target.to_numpy(float)
    else:
        data = load_breast_cancer(as_frame=True)
        target = np.where(data.target == 0, "malignant", "benign")
    X, X_test, y, y_test = train_test_split(data.data, target, test_size=0.4, random_state=0)
    study = _study(X, y, task)
    plan = make_plan(study.y, task, folds=5, repeats=3, seed=0)
    n_classes = len(study.classes)
    oof = cross_validated_predictions(study.features, study.y, [candidate], plan,
                                      n_classes=n_classes).oof[:, 0]  # fmt: skip
    model = candidate.build(study.features, 0).fit(study.features, study.y)
    pred = predict_matrix(model, X_test[study.features.columns], task, n_classes)
    _assert_level_in_interval(_covered(study, oof, pred, y_test))
