"""Candidate pipelines fit on awkward but legal data and keep preprocessing inside."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_wine
from sklearn.utils.estimator_checks import check_estimator

from insightome.evaluate.engine import KNOWN_WARNINGS, counted_warnings
from insightome.models import candidates
from insightome.models.calibrated_svm import CalibratedLinearSVC
from insightome.models.candidates import LARGE_N, Candidate
from insightome.models.survival import CoxElasticNet, XGBCox


@pytest.mark.parametrize("n_small", [1, 2, 5])
def test_calibrated_svm_fits_classes_of_any_size(n_small):
    X, y = load_wine(return_X_y=True)
    keep = np.r_[np.flatnonzero(y != 2), np.flatnonzero(y == 2)[:n_small]]
    with counted_warnings() as raised:  # a class of 1: the fallback is counted, nothing else
        model = CalibratedLinearSVC(C=0.1).fit(X[keep] / X.std(0), y[keep])
    assert set(raised) <= ({KNOWN_WARNINGS[1][1]} if n_small == 1 else set())
    proba = model.predict_proba(X / X.std(0))
    assert proba.shape == (len(y), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert (model.predict(X[y != 2] / X.std(0)) == y[y != 2]).mean() > 0.8


def test_every_candidate_fits_mixed_numeric_categorical_and_missing_values():
    rng = np.random.default_rng(0)
    n = 120
    df = pd.DataFrame(rng.normal(size=(n, 6)), columns=[f"g{i}" for i in range(6)])
    df.loc[rng.choice(n, 15, replace=False), "g1"] = np.nan
    df["stage"] = pd.Categorical(rng.choice(["I", "II", "III", None], n))
    y = (df["g0"] + (df["stage"] == "III") + rng.normal(0, 0.5, n) > 0.5).astype(int).to_numpy()
    for cand in candidates("binary", 6):
        model = cand.build(df, seed=0).fit(df.iloc[:90], y[:90])
        proba = model.predict_proba(df.iloc[90:])
        assert proba.shape == (30, 2) and np.isfinite(proba).all(), cand.name
        assert model.named_steps["preprocess"].n_features_in_ == 7


def test_unknown_category_at_prediction_time_is_ignored():
    df = pd.DataFrame({"x": np.arange(40.0), "site": pd.Categorical(["a", "b"] * 20)})
    y = np.r_[np.zeros(20), np.ones(20)].astype(int)
    model = candidates("binary", 1, preset="fast")[0].build(df).fit(df, y)
    new = pd.DataFrame({"x": [1.0, 39.0], "site": pd.Categorical(["c", "a"])})
    assert model.predict_proba(new).shape == (2, 2)


@pytest.mark.parametrize("estimator", [CoxElasticNet(), XGBCox(n_estimators=20)])
def test_survival_estimators_follow_sklearn_conventions(estimator):
    from sklearn.base import clone

    params = estimator.get_params()
    assert clone(estimator).get_params() == params


def test_calibrated_svm_passes_sklearn_estimator_checks():
    check_estimator(CalibratedLinearSVC(), expected_failed_checks={})


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression", "survival"])
def test_every_fitted_candidate_survives_joblib_dump_and_load(task, tmp_path):
    """The final model is saved with joblib.dump: no closures or lambdas in any pipeline."""
    import joblib

    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(60, 600)), columns=[f"g{i}" for i in range(600)])
    signal = X["g0"] - X["g1"]
    y = {
        "binary": (signal > 0).astype(int).to_numpy(),
        "multiclass": np.digitize(signal, [-0.5, 0.5]),
        "regression": signal.to_numpy(),
        "survival": np.where(rng.random(60) < 0.7, 1.0, -1.0) * np.exp(-signal.to_numpy()),
    }[task]
    for cand in candidates(task, X.shape[1]):
        model = cand.build(X, seed=0).fit(X, y)
        path = tmp_path / "model.joblib"
        joblib.dump(model, path)
        np.testing.assert_allclose(
            joblib.load(path).predict(X.iloc[:5]), model.predict(X.iloc[:5]), err_msg=cand.name
        )


def test_large_n_fits_binary_l1_with_saga_to_the_same_model():
    """From LARGE_N samples on, binary L1 uses saga (no float64 + node-list copies)."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.metrics import roc_auc_score

    from insightome.models.candidates import LARGE_N

    small = {c.name: c for c in candidates("binary", 30, n_samples=LARGE_N - 1)}
    large = {c.name: c for c in candidates("binary", 30, n_samples=LARGE_N)}
    l1 = [c for c in large.values() if c.family == "l1_logistic"]
    assert len(l1) == 2 and all(c.params["solver"] == "saga" for c in l1)
    assert all("solver=saga" in c.name for c in l1)  # recorded in the run's results
    assert not any("solver" in c.params for c in small.values())
    multiclass = candidates("multiclass", 30, n_samples=LARGE_N)
    assert not any("solver" in c.params for c in multiclass)  # saga already
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    train, test = np.arange(0, 569, 2), np.arange(1, 569, 2)
    fits = {}
    for name, cand in (("liblinear", next(iter(small.values()))), ("saga", l1[0])):
        model = cand.build(X, seed=0).fit(X.iloc[train], y[train])
        assert model.named_steps["model"].solver == name
        fits[name] = roc_auc_score(y[test], model.predict_proba(X.iloc[test])[:, 1])
    assert fits["saga"] > 0.98 and abs(fits["saga"] - fits["liblinear"]) < 0.005


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_l1_and_elastic_net_logistic_are_sparse_on_p_much_larger_than_n(task):
    """L1 and elastic-net logistic keep few features on 60 x 2,000 data; ridge keeps all.

    scikit-learn < 1.8 ignores ``l1_ratio`` unless ``penalty='elasticnet'`` and fits an
    L2 model: a regression of that kind (or of the floor in pyproject.toml) fails here.
    """
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(60, 2000)), columns=[f"g{i}" for i in range(2000)])
    signal = X["g0"] + X["g1"] - X["g2"]
    y = np.digitize(signal, [-0.5, 0.5]) if task == "multiclass" else (signal > 0).astype(int)
    fitted = {}
    for cand in candidates(task, X.shape[1]):
        if cand.family.endswith("_logistic"):
            model = cand.build(X, seed=0).fit(X, np.asarray(y))
            fitted[cand.name] = (cand.family, model.named_steps["model"].coef_)
    assert {family for family, _ in fitted.values()} == {
        "l1_logistic",
        "elastic_net_logistic",
        "ridge_logistic",
    }
    for name, (family, coef) in fitted.items():
        zero = float(np.mean(coef == 0.0))
        if family == "ridge_logistic":
            assert zero == 0.0, name
        else:  # most of the (selected) features stay out of a sparse model
            assert zero > 0.5, f"{name}: only {zero:.1%} of the coefficients are zero"


def test_older_scikit_learn_is_refused_not_fitted_as_ridge():
    from insightome.models.candidates import SKLEARN_MIN, check_sklearn

    for old in ("1.6.1", "1.7.2", "0.24.2"):
        with pytest.raises(ImportError, match=f"scikit-learn>={SKLEARN_MIN} \\(found {old}\\)"):
            check_sklearn(old)
    for ok in (SKLEARN_MIN, "1.8.0", "1.9.1", "1.10.0rc1", "2.0.dev0"):
        check_sklearn(ok)


def test_univariate_selection_records_constant_features_under_their_meaning():
    """A constant column within a fold is counted under what it means for the run (not
    silenced, not a bare UserWarning); any other warning raised while ranking features
    reaches the fit's warning counts under its category."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.feature_selection import f_classif

    from insightome.models.candidates import _per_column_blocks, f_classif_quiet

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 5))
    X[:, 2] = 3.0
    y = np.array([0, 1] * 20)
    with counted_warnings() as raised:
        f, _ = f_classif_quiet(X, y)
    assert np.isnan(f[2]) and np.isfinite(np.delete(f, 2)).all()
    assert raised == {KNOWN_WARNINGS[0][1]: 1}  # one warning, numpy's 0/0 not added to it

    def test(X: np.ndarray, y: np.ndarray):
        warnings.warn("the test did not converge", ConvergenceWarning, stacklevel=1)
        return f_classif(X, y)

    with counted_warnings() as raised:
        _per_column_blocks(test, X, y)
    assert raised == {KNOWN_WARNINGS[0][1]: 1, "ConvergenceWarning": 1}


def test_svm_with_a_one_sample_class_records_its_calibration_fallback():
    """One training sample in a class: no internal CV is possible, the Platt map is fitted
    on the SVM's training scores, and the run's warning counts say so."""
    from insightome.models.calibrated_svm import CalibratedLinearSVC

    rng = np.random.default_rng(0)
    X = rng.normal(size=(31, 4))
    y = np.array([0, 1] * 15 + [2])  # class 2 has a single sample
    with counted_warnings() as raised:
        CalibratedLinearSVC(random_state=0).fit(X, y)
    assert raised[KNOWN_WARNINGS[1][1]] >= 1
    with counted_warnings() as raised:
        CalibratedLinearSVC(random_state=0).fit(X[:30], y[:30])  # 15 per class: internal CV
    assert KNOWN_WARNINGS[1][1] not in raised


def test_cox_elastic_net_leaves_convergence_warnings_to_the_run():
    """A feature that separates early from late events: the unpenalized fit diverges, the solver
    warns, and the warning reaches the run's counts instead of being hidden in the estimator."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = np.where(rng.random(60) < 0.7, 1.0, -1.0) * np.exp(-X[:, 0])
    early = (np.abs(y) < np.median(np.abs(y))).astype(float)
    with counted_warnings() as raised:
        CoxElasticNet(penalizer=0.0, l1_ratio=0.0).fit(np.c_[X, 100 * early], y)
    assert raised["ConvergenceWarning"] >= 1


def test_extremely_randomized_trees_in_the_default_classification_set_only():
    default = candidates("binary", 30, "default")
    assert [c.name for c in default if c.family == "extra_trees"] == [
        "extra_trees(min_samples_leaf=1,k=all)"
    ]
    assert not [c for c in candidates("binary", 30, "fast") if c.family == "extra_trees"]
    assert not [c for c in candidates("regression", 30) if c.family == "extra_trees"]
    # from LARGE_N samples on: fewer, coarser trees (no bootstrap sample to shrink)
    (large,) = [
        c for c in candidates("multiclass", 30, n_samples=LARGE_N)
        if c.family == "extra_trees"
    ]  # fmt: skip
    assert large.params == {"min_samples_leaf": 5, "n_estimators": 100}
    X, y = load_wine(return_X_y=True, as_frame=True)
    model = Candidate("extra_trees", {"min_samples_leaf": 1}, None, "multiclass")
    fitted = model.build(X, seed=0).fit(X, y)
    assert fitted.named_steps["model"].n_estimators == 500
    assert fitted.predict_proba(X).shape == (len(X), 3)
