"""BBCSearchCV: insightome's selection and BBC-CV estimate as a scikit-learn meta-estimator.

The identity tests fit the same candidates, plan and seed as ``insightome.run`` and expect
the very same winner, estimate, interval, per-candidate scores and final model.
"""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import insightome
from insightome.evaluate.search import BBCSearchCV, signed_survival_time
from insightome.evaluate.splitters import make_plan
from insightome.models.candidates import Candidate
from tests.conftest import breast_cancer_adata

FAST = {"preset": "fast", "folds": 3, "repeats": 1, "n_bootstrap": 200}


def _run(adata: ad.AnnData, seed: int, **options):
    return insightome.run(
        adata, out_dir=None, discover=False, audit=False, seed=seed, **{**FAST, **options}
    )


def _assert_same_as_run(search: BBCSearchCV, run) -> None:
    results = run.results
    assert search.cv_results_["name"][search.best_index_] == results["winner"]["name"]
    assert search.best_candidate_.to_dict() == results["winner"]
    est = search.bbc_estimate_
    assert est.metric == results["estimate"]["metric"]
    assert est.value == results["estimate"]["value"]
    assert list(est.ci95) == results["estimate"]["ci95"]
    assert est.plain_cv_value == results["estimate"]["plain_cv_value"]
    assert {k: v.to_dict() for k, v in search.bbc_.secondary.items()} == results["secondary"]
    configs = results["configurations"]
    assert list(search.cv_results_["name"]) == [c["name"] for c in configs]
    np.testing.assert_array_equal(
        search.cv_results_["mean_test_score"], [c["cv_value"] for c in configs]
    )
    np.testing.assert_array_equal(
        search.cv_results_["bbc_selection_frequency"],
        [c["bbc_selection_frequency"] for c in configs],
    )
    assert list(search.cv_results_["fit_warnings"]) == [c["fit_warnings"] for c in configs]
    assert search.plan_.to_dict() == {
        k: v
        for k, v in results["resampling"].items()
        # fold_choice: how the run chose its folds (issue 17); the search is given them
        if k not in ("n_bootstrap", "seed", "fold_choice")
    }


def test_binary_same_winner_estimate_and_model_as_run():
    """Raw labels and a DataFrame, as a user of scikit-learn has them: the classes are
    encoded as the study encodes them, so every number equals the run's."""
    run = _run(breast_cancer_adata(n_cols=10), seed=3, target="diagnosis")
    bunch = load_breast_cancer(as_frame=True)
    X = bunch.data.iloc[:, :10]
    labels = np.where(bunch.target == 0, "malignant", "benign")
    search = BBCSearchCV(task="auto", seed=3, **FAST).fit(X, labels)
    assert search.task_ == "binary"
    assert list(search.classes_) == run.model_card["classes"]
    _assert_same_as_run(search, run)
    np.testing.assert_array_equal(search.predict_proba(X)[:, 1], run.model.predict_proba(X)[:, 1])
    assert search.decision_threshold_ == run.results["decision_threshold"]
    winner_oof = search.oof_[:, search.best_index_, :, 0]
    classes = run.model_card["classes"]
    np.testing.assert_array_equal(winner_oof[0], run.predictions[f"prob_{classes[1]}"].to_numpy())
    proba = search.predict_proba(X.iloc[:7])
    assert proba.shape == (7, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    predicted = search.predict(X.iloc[:7])
    assert predicted.shape == (7,)
    expected = np.where(proba[:, 1] >= search.decision_threshold_, "malignant", "benign")
    assert list(predicted) == list(expected)  # thresholded at the training prevalence
    assert 0.9 < search.score(X, labels) <= 1.0  # AUC of the refitted model on its data


def test_pooling_and_interval_options_reach_every_estimate_of_a_run():
    """--bbc-pooling / --bbc-interval: the search and the run give the same numbers, the run
    records them, and the signature's BBC-CV is made the same way (it differs from the
    default's)."""
    adata = breast_cancer_adata(n_cols=8)
    options = {"bbc_pooling": "per_fold", "bbc_interval": "oob_scaled", "repeats": 2}
    run = _run(adata, seed=2, target="diagnosis", **options)
    bunch = load_breast_cancer(as_frame=True)
    labels = np.where(bunch.target == 0, "malignant", "benign")
    search = BBCSearchCV(
        seed=2, **{**FAST, "repeats": 2}, pooling="per_fold", interval="oob_scaled"
    ).fit(bunch.data.iloc[:, :8], labels)
    _assert_same_as_run(search, run)
    assert run.results["estimate"]["pooling"] == "per_fold"
    assert run.results["estimate"]["interval"] == "oob_scaled"
    default = _run(adata, seed=2, target="diagnosis", repeats=2)
    assert "pooling" in default.results["estimate"]
    lo, hi = run.results["estimate"]["ci95"]
    lo0, hi0 = default.results["estimate"]["ci95"]
    assert hi - lo < hi0 - lo0
    with_signature = [
        insightome.run(
            adata, out_dir=None, audit=False, seed=2, target="diagnosis",
            **{**FAST, "repeats": 2, **kw},
        ).results["discovery"]["signature"]["estimate"]["value"]
        for kw in ({}, options)
    ]  # fmt: skip
    assert with_signature[0] != with_signature[1]


def test_regression_same_as_run_with_repeats():
    bunch = load_diabetes(as_frame=True)
    obs = pd.DataFrame({"progression": bunch.target.to_numpy()}, index=bunch.data.index.astype(str))
    adata = ad.AnnData(
        bunch.data.to_numpy(float), obs=obs, var=pd.DataFrame(index=bunch.data.columns)
    )
    run = _run(adata, seed=1, target="progression", repeats=2)
    search = BBCSearchCV(seed=1, **{**FAST, "repeats": 2}).fit(bunch.data, bunch.target)
    assert search.task_ == "regression"
    assert not hasattr(search, "classes_")
    _assert_same_as_run(search, run)
    assert {"repeat0_test_score", "repeat1_test_score"} <= set(search.cv_results_)
    np.testing.assert_array_equal(
        search.cv_results_["std_test_score"], [c["cv_sd"] for c in run.results["configurations"]]
    )
    assert search.predict(bunch.data.iloc[:4]).shape == (4,)
    with pytest.raises(AttributeError):
        search.predict_proba  # noqa: B018  (regression: not offered)


def _survival_study(n_patients: int = 90, seed: int = 0):
    """Two samples per patient; risk from the first two features, 30% censored."""
    rng = np.random.default_rng(seed)
    patient = np.repeat([f"p{i}" for i in range(n_patients)], 2)
    X = rng.normal(size=(2 * n_patients, 6))
    X[:, :2] += np.repeat(rng.normal(size=(n_patients, 2)), 2, axis=0)  # patient effect
    time = rng.exponential(np.exp(-(0.8 * X[:, 0] - 0.5 * X[:, 1]))) + 0.01
    event = (rng.random(len(time)) > 0.3).astype(int)
    names = [f"g{i}" for i in range(X.shape[1])]
    return pd.DataFrame(X, columns=names), time, event, patient


def test_survival_with_groups_as_run_step_by_step():
    """The three public steps (what the run's select / estimate / refit stages call) give
    the run's numbers; with groups no patient straddles a split, and the bootstrap
    resamples whole patients (the same draws as the run)."""
    X, time, event, patient = _survival_study()
    obs = pd.DataFrame({"time": time, "event": event, "patient": patient})
    obs.index = [f"s{i}" for i in range(len(obs))]
    adata = ad.AnnData(X.to_numpy(), obs=obs, var=pd.DataFrame(index=X.columns))
    run = _run(adata, seed=2, time_col="time", event="event", groups="patient")
    study = insightome.make_study(
        adata, time="time", event="event", groups="patient", folds=FAST["folds"]
    )
    y = signed_survival_time(time, event)
    np.testing.assert_array_equal(y, study.y)
    search = BBCSearchCV(task="survival", seed=2, **FAST)
    cvp = search.cross_validate(X, y, groups=study.groups)
    assert cvp is search.cv_predictions_ and cvp.oof.shape == (1, 3, len(y), 1)
    bbc = search.estimate()
    assert bbc is search.bbc_ and not hasattr(search, "best_estimator_")
    search.refit_best(X, y)
    _assert_same_as_run(search, run)
    assert search.plan_.grouped
    for train, test in search.plan_.splits[0]:
        assert not set(patient[train]) & set(patient[test])
    np.testing.assert_array_equal(search.predict(X), run.model.predict(X))


def test_plain_estimators_failures_and_warnings_multiclass():
    """Plain scikit-learn estimators are candidates as given; one that fails on every fold
    is reported with its error and never chosen; warnings are counted, not swallowed."""
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    failing = LogisticRegression(C=-1.0)  # invalid: raises in fit
    noisy = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1))
    forest = RandomForestClassifier(n_estimators=20, random_state=0)
    search = BBCSearchCV([failing, noisy, forest], folds=3, repeats=2, n_bootstrap=100)
    search.fit(X, names)
    res = search.cv_results_
    assert search.task_ == "multiclass" and list(search.classes_) == sorted(set(names))
    assert list(res["family"]) == [
        "LogisticRegression",
        "LogisticRegression",
        "RandomForestClassifier",
    ]
    assert res["failed_folds"][0] == 6 and "InvalidParameterError" in res["error"][0]
    assert res["bbc_selection_frequency"][0] == 0 and res["rank_test_score"][0] == 3
    assert np.isnan(res["mean_test_score"][0])
    assert list(res["n_fits"]) == [6, 6, 6]
    assert res["fit_warnings"][1] == {"ConvergenceWarning": 6}
    assert search.cv_predictions_.fit_warnings[1] == {"ConvergenceWarning": 6}
    assert search.best_index_ != 0
    assert search.best_candidate_ in (noisy, forest)  # the user's own (unfitted) object
    assert search.best_estimator_ is not search.best_candidate_
    assert search.oof_.shape == (2, 3, len(y), 3)
    proba = search.predict_proba(X[:5])
    assert proba.shape == (5, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert set(search.predict(X)) <= set(names)


def test_refit_warnings_are_counted():
    X, y = load_iris(return_X_y=True)
    noisy = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1))
    search = BBCSearchCV([noisy], folds=3, repeats=1, n_bootstrap=20).fit(X, y)
    assert search.refit_warnings_ == {"ConvergenceWarning": 1}


def test_clone_and_get_params_round_trip():
    cands = [Ridge(alpha=1.0), make_pipeline(StandardScaler(), Ridge(alpha=10.0))]
    search = BBCSearchCV(cands, task="regression", folds=4, repeats=2, n_bootstrap=50, seed=7)
    params = search.get_params(deep=False)
    assert params["folds"] == 4 and params["seed"] == 7 and params["candidates"] is cands
    twin = clone(search)
    assert twin is not search
    assert {k: repr(v) for k, v in twin.get_params(deep=False).items()} == {
        k: repr(v) for k, v in params.items()
    }
    X, y = load_diabetes(return_X_y=True)
    search.fit(X[:150], y[:150])
    fresh = clone(search)
    assert not hasattr(fresh, "best_estimator_") and not hasattr(fresh, "cv_results_")
    assert fresh.set_params(n_bootstrap=60).n_bootstrap == 60
    again = fresh.set_params(n_bootstrap=50).fit(X[:150], y[:150])
    assert again.bbc_estimate_ == search.bbc_estimate_  # same seed, same numbers


def test_a_plan_that_splits_a_group_is_refused():
    X, time, event, patient = _survival_study(n_patients=30)
    y = signed_survival_time(time, event)
    ungrouped = make_plan(y, "survival", folds=3, repeats=1, seed=0)
    search = BBCSearchCV(
        [Candidate("cox_ridge", {"penalizer": 0.5, "l1_ratio": 0.0}, None, "survival")],
        task="survival",
        cv=ungrouped,
        n_bootstrap=20,
    )
    with pytest.raises(ValueError, match=r"group 'p\d+' is in both the training and the test"):
        search.fit(X, y, groups=patient)
    # the same plan without groups, and a grouped plan with them, are accepted
    grouped = make_plan(y, "survival", folds=3, repeats=1, seed=0, groups=patient)
    assert search.set_params(cv=grouped).fit(X, y, groups=patient).plan_ is grouped


@pytest.mark.parametrize(
    ("kwargs", "fit_y", "error", "fragment"),
    [
        (
            {
                "task": "binary",
                "candidates": [Candidate("ridge", {"alpha": 1.0}, None, "regression")],
            },
            None,
            ValueError,
            "built for a regression task",
        ),
        ({"task": "clustering"}, None, ValueError, "task='clustering'"),
        ({"cv": 5}, None, TypeError, "ResamplingPlan"),
        ({"folds": 1}, None, ValueError, "folds=1"),
        ({"candidates": []}, None, ValueError, "candidates is empty"),
        ({"candidates": [Ridge(), Ridge()]}, "float", ValueError, "appear twice"),
        ({"candidates": [object()]}, None, TypeError, "neither an insightome Candidate"),
        ({"task": "survival"}, "zero", ValueError, "0 is neither"),
    ],
)
def test_bad_settings_are_refused_in_fit(kwargs, fit_y, error, fragment):
    X, y = load_breast_cancer(return_X_y=True)
    X = X[:60, :4]
    y = {"float": X[:, 0], "zero": np.where(np.arange(60) == 3, 0.0, 1.0)}.get(fit_y, y[:60])
    search = BBCSearchCV(**{"candidates": [LogisticRegression()], **kwargs})
    with pytest.raises(error, match=fragment):
        search.fit(X, y)


def test_steps_in_order_and_unfitted_predict():
    search = BBCSearchCV([LogisticRegression()])
    with pytest.raises(NotFittedError):
        search.estimate()
    with pytest.raises(NotFittedError):
        search.predict(np.zeros((2, 3)))
    X, y = load_breast_cancer(return_X_y=True)
    search.set_params(refit=False, folds=3, repeats=1, n_bootstrap=20).fit(X[:, :3], y)
    assert hasattr(search, "bbc_estimate_") and not hasattr(search, "best_estimator_")
    with pytest.raises(NotFittedError, match="refit_best"):
        search.predict(X[:2, :3])
    search.refit_best(X[:, :3], y)
    assert search.predict(X[:2, :3]).shape == (2,)
    with pytest.raises(ValueError, match="X has 4 features"):
        search.predict(X[:2, :4])


@parametrize_with_checks(
    [
        BBCSearchCV([LogisticRegression()], task="binary", folds=2, repeats=1, n_bootstrap=20),
        BBCSearchCV([LogisticRegression()], task="multiclass", folds=2, repeats=1, n_bootstrap=20),
        BBCSearchCV([Ridge()], task="regression", folds=2, repeats=1, n_bootstrap=20),
    ]
)
def test_scikit_learn_estimator_checks(estimator, check):
    """scikit-learn's own contract tests (check_estimator), every one of them."""
    check(estimator)


def test_plain_estimators_are_cached_under_their_full_configuration(tmp_path):
    """A fit cache keys a fit by the candidate's name: a plain estimator's name is its
    whole configuration, so a second search reuses every fit and gives the same numbers,
    and a changed parameter is a new candidate, fitted anew."""
    from insightome.compute.cache import FitCache, data_fingerprint
    from insightome.models.estimator_candidate import EstimatorCandidate

    X, y = load_breast_cancer(return_X_y=True)
    X = X[:200, :5]
    y = y[:200]
    a, b = LogisticRegression(C=0.5, max_iter=500), LogisticRegression(C=2.0, max_iter=500)
    assert EstimatorCandidate.wrap(a, "binary").name == "LogisticRegression(C=0.5, max_iter=500)"
    settings = {"folds": 3, "repeats": 1, "n_bootstrap": 50}
    first_cache = FitCache(tmp_path, data_fingerprint(pd.DataFrame(X), y, "binary"))
    first = BBCSearchCV([a, b], cache=first_cache, **settings).fit(X, y)
    assert (first_cache.hits, first_cache.stored) == (0, 6)
    again_cache = FitCache(tmp_path, first_cache.fingerprint)
    again = BBCSearchCV([a, b], cache=again_cache, **settings).fit(X, y)
    assert (again_cache.hits, again_cache.stored) == (6, 0)
    assert again.bbc_estimate_ == first.bbc_estimate_
    changed_cache = FitCache(tmp_path, first_cache.fingerprint)
    BBCSearchCV([a, LogisticRegression(C=3.0, max_iter=500)], cache=changed_cache, **settings).fit(
        X, y
    )
    assert (changed_cache.hits, changed_cache.stored) == (3, 3)


def test_signed_survival_time():
    np.testing.assert_array_equal(signed_survival_time([2.0, 3.5], [1, 0]), [2.0, -3.5])
    with pytest.raises(ValueError, match="finite and > 0"):
        signed_survival_time([0.0, 1.0], [1, 1])
    with pytest.raises(ValueError, match="1 \\(event\\) or 0"):
        signed_survival_time([1.0, 1.0], [2, 0])
