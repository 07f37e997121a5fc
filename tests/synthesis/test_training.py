"""SyntheticTraining: synthesis inside fit only, every class kept, scikit-learn behaviour."""

from __future__ import annotations

import io

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone, is_classifier
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import (
    KFold,
    StratifiedKFold,
    cross_val_predict,
    cross_val_score,
    cross_validate,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from insightome.models.candidates import Candidate
from insightome.synthesis import SyntheticTraining
from insightome.synthesis.training import stratified_counts


class Probe(ClassifierMixin, BaseEstimator):
    """Records what it was fitted on; predicts the training prevalence."""

    def fit(self, X, y):
        self.X_, self.y_ = X.copy(), np.asarray(y).copy()
        self.classes_, counts = np.unique(self.y_, return_counts=True)
        self.prior_ = counts / counts.sum()
        return self

    def predict_proba(self, X):
        return np.tile(self.prior_, (len(X), 1))

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class RegressionProbe(RegressorMixin, BaseEstimator):
    def fit(self, X, y):
        self.X_, self.y_ = X.copy(), np.asarray(y).copy()
        return self

    def predict(self, X):
        return np.full(len(X), self.y_.mean())


@pytest.fixture(scope="module")
def cohort(heart_failure) -> tuple[pd.DataFrame, np.ndarray]:
    """Heart failure with a patient number: CART copies a real donor's value, so a
    synthetic row's number tells which real rows the synthesizer saw."""
    X = heart_failure.drop(columns=["DEATH_EVENT", "time"]).assign(
        patient=np.arange(len(heart_failure), dtype=float) + 0.5
    )
    return X, heart_failure["DEATH_EVENT"].to_numpy()


def test_synthesis_never_sees_the_test_fold(cohort):
    X, y = cohort
    model = SyntheticTraining(Probe(), method="cart", mode="augment", ratio=2.0)
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    out = cross_validate(model, X, y, cv=cv, return_estimator=True, return_indices=True)
    for fitted, train, test in zip(
        out["estimator"], out["indices"]["train"], out["indices"]["test"], strict=True
    ):
        seen = fitted.estimator_.X_
        assert len(seen) == 3 * len(train) and fitted.n_synthetic_ == 2 * len(train)
        real, synthetic = seen.iloc[: len(train)], seen.iloc[len(train) :]
        pd.testing.assert_frame_equal(real, X.iloc[train].reset_index(drop=True))
        patients = set(synthetic["patient"])
        assert patients <= set(X["patient"].iloc[train])
        assert not patients & set(X["patient"].iloc[test])
        assert len(patients) > len(train) / 2  # many donors, not a few copied rows


@pytest.mark.parametrize("method", ["cart", "copula"])
def test_replace_keeps_the_class_shares(method, cohort):
    X, y = cohort
    model = SyntheticTraining(Probe(), method=method, mode="replace", ratio=1.5).fit(X, y)
    y_fit = model.estimator_.y_
    assert len(y_fit) == round(1.5 * len(y)) == model.n_synthetic_
    assert dict(zip(*np.unique(y_fit, return_counts=True), strict=True)) == stratified_counts(
        y, len(y_fit)
    )
    real_values = model.estimator_.X_["patient"].isin(X["patient"]).mean()
    assert real_values == 1.0 if method == "cart" else real_values < 0.5  # copula interpolates
    assert model.classes_.tolist() == [0, 1]


def test_every_class_is_kept_even_when_rows_are_few(cohort):
    X, y = cohort
    labels = np.where(y == 1, "died", np.where(X["smoking"] == 1, "smoker", "other"))
    labels[:3] = "rare"  # a class of 3 patients
    model = SyntheticTraining(Probe(), method="copula", mode="replace", ratio=0.005)
    model.fit(X, labels)
    assert set(model.estimator_.y_) == {"died", "smoker", "other", "rare"}
    assert model.n_synthetic_ == 4
    assert "synthetic rows raised from 1 to 4 so that every one of the 4 classes is present" in (
        model.notes_
    )


def test_stratified_counts():
    labels = np.array([0] * 90 + [1] * 9 + [2])
    assert stratified_counts(labels, 100) == {0: 90, 1: 9, 2: 1}
    assert stratified_counts(labels, 10) == {0: 8, 1: 1, 2: 1}  # 9, 0.9, 0.1 → each class ≥ 1
    assert sum(stratified_counts(labels, 37).values()) == 37


@pytest.mark.parametrize("method", ["cart", "copula"])
def test_survival_outcome_round_trips(method, heart_failure):
    X = heart_failure.drop(columns=["DEATH_EVENT", "time"])
    y = np.where(heart_failure["DEATH_EVENT"] == 1, 1.0, -1.0) * heart_failure["time"]
    model = SyntheticTraining(RegressionProbe(), method=method, mode="replace", task="survival")
    y_fit = model.fit(X, y.to_numpy()).estimator_.y_
    assert (y_fit > 0).sum() == (y > 0).sum()  # the event share, stratified
    assert np.abs(y_fit).min() >= heart_failure["time"].min()
    assert np.abs(y_fit).max() <= heart_failure["time"].max()
    assert np.abs(y_fit[y_fit > 0]).mean() < np.abs(y_fit[y_fit < 0]).mean() - 40


def test_regression_and_numpy_input():
    X, y = load_diabetes(return_X_y=True)
    model = SyntheticTraining(RegressionProbe(), task="regression", ratio=0.5).fit(X, y)
    assert isinstance(model.estimator_.X_, np.ndarray)
    assert model.estimator_.X_.shape == (len(y) + round(0.5 * len(y)), X.shape[1])
    assert model.estimator_.y_[len(y) :].min() >= y.min()


def test_scikit_learn_behaviour_and_pickling(cohort):
    X, y = cohort
    base = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    model = SyntheticTraining(base, method="copula", ratio=0.5, seed=3)
    assert is_classifier(model)
    assert model.get_params()["estimator__logisticregression__max_iter"] == 500
    copy = clone(model.set_params(ratio=1.0, estimator__logisticregression__C=0.5))
    assert copy.get_params()["ratio"] == 1.0 and copy is not model
    scores = cross_val_score(
        copy, X, y, cv=KFold(3, shuffle=True, random_state=0), scoring="roc_auc"
    )
    assert scores.mean() > 0.6
    fitted = copy.fit(X, y)
    buffer = io.BytesIO()
    joblib.dump(fitted, buffer)
    buffer.seek(0)
    loaded = joblib.load(buffer)
    np.testing.assert_array_equal(loaded.predict_proba(X), fitted.predict_proba(X))
    np.testing.assert_array_equal(loaded.decision_function(X), fitted.decision_function(X))
    again = clone(model).fit(X, y)
    np.testing.assert_array_equal(again.predict_proba(X), fitted.predict_proba(X))  # seeded
    assert not hasattr(SyntheticTraining(Ridge()), "predict_proba")


@pytest.mark.parametrize(
    ("param", "value"), [("method", "gan"), ("mode", "both"), ("task", "ordinal"), ("ratio", 0)]
)
def test_bad_parameters_are_refused(param, value, cohort):
    X, y = cohort
    with pytest.raises(ValueError, match=param):
        SyntheticTraining(Probe(), **{param: value}).fit(X, y)


@pytest.mark.parametrize(
    ("family", "task"), [("ridge_logistic", "binary"), ("cox_ridge", "survival")]
)
def test_wraps_the_engines_own_pipelines(family, task, gbsg2):
    """A candidate's pipeline (impute, scale, one-hot the text categories) trained on real +
    synthetic rows of GBSG2, binary (recurrence) and survival (signed time)."""
    X = gbsg2.drop(columns=["time", "cens"])
    if task == "binary":
        y = gbsg2["cens"].to_numpy()
    else:
        y = np.where(gbsg2["cens"] == 1, 1.0, -1.0) * gbsg2["time"].to_numpy(float)
    params = {"C": 1.0} if task == "binary" else {"penalizer": 0.1, "l1_ratio": 0.0}
    candidate = Candidate(family, params, task=task)
    model = SyntheticTraining(candidate.build(X, seed=0), method="cart", task=task)
    cv = KFold(3, shuffle=True, random_state=0)
    predictions = cross_val_predict(model, X, y, cv=cv)
    assert predictions.shape == (len(X),) and np.isfinite(predictions).all()


def test_a_fitted_wrapper_keeps_no_training_values():
    """A saved model (model.joblib) must not carry patients' values: the fitted synthesizer
    (CART's leaf donors, the copula's marginals) is not kept on the wrapper."""
    import pickle

    from sklearn.linear_model import LogisticRegression

    from insightome.synthesis import SyntheticTraining

    rng = np.random.default_rng(0)
    marker = 123456.789  # a value only one training row holds
    X = pd.DataFrame({"a": rng.normal(size=60), "b": rng.normal(size=60)})
    X.loc[7, "a"] = marker
    y = (X["b"] > 0).astype(int).to_numpy()
    fitted = SyntheticTraining(LogisticRegression(), method="cart", mode="replace").fit(X, y)
    assert not hasattr(fitted, "synthesizer_")
    assert np.float64(marker).tobytes() not in pickle.dumps(fitted)
