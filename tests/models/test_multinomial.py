"""The multinomial L1 / elastic-net logistic regression solved by FISTA (models.multinomial):
scikit-learn's objective, reached where saga stops short."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.special import logsumexp
from sklearn.datasets import load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from insightome.models.candidates import Candidate
from insightome.models.estimators import logistic
from insightome.models.multinomial import MultinomialLogistic


def objective(X, y, coef, intercept, C, l1_ratio):
    """scikit-learn's LogisticRegression objective, written out."""
    _, codes = np.unique(y, return_inverse=True)
    Z = X @ coef.T + intercept
    loss = np.sum(logsumexp(Z, axis=1) - Z[np.arange(len(y)), codes])
    return C * loss + l1_ratio * np.abs(coef).sum() + (1 - l1_ratio) / 2 * (coef**2).sum()


@pytest.fixture(scope="module")
def wine():
    data = load_wine()
    X = StandardScaler().fit_transform(data.data)
    return X, data.target_names[data.target]


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_same_optimum_as_saga_run_to_convergence(wine, l1_ratio):
    X, y = wine
    ours = MultinomialLogistic(C=0.1, l1_ratio=l1_ratio, tol=1e-8, max_iter=100_000).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # saga must converge here
        saga = LogisticRegression(
            C=0.1, l1_ratio=l1_ratio, solver="saga", tol=1e-10, max_iter=100_000
        ).fit(X, y)
    assert list(ours.classes_) == list(saga.classes_)
    f_ours = objective(X, y, ours.coef_, ours.intercept_, 0.1, l1_ratio)
    f_saga = objective(X, y, saga.coef_, saga.intercept_, 0.1, l1_ratio)
    assert f_ours == pytest.approx(f_saga, rel=1e-7)
    np.testing.assert_allclose(ours.predict_proba(X), saga.predict_proba(X), atol=1e-5)
    np.testing.assert_array_equal(ours.coef_ == 0, saga.coef_ == 0)
    assert (ours.coef_ == 0).any()  # the L1 term sets coefficients exactly to 0


def test_p_much_larger_than_n_beats_saga_at_its_iteration_limit():
    # 24 samples x 1,500 features, 3 classes, 6 informative features: expression-like
    rng = np.random.default_rng(0)
    X = rng.normal(size=(24, 1500))
    y = np.repeat(["a", "b", "c"], 8)
    X[:, :6] += np.repeat(np.eye(3), 8, axis=0) @ rng.normal(2.0, 0.3, size=(3, 6))
    X = StandardScaler().fit_transform(X)
    ours = MultinomialLogistic(C=0.5).fit(X, y)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        saga = LogisticRegression(C=0.5, l1_ratio=1.0, solver="saga", max_iter=300).fit(X, y)
    assert any(issubclass(w.category, ConvergenceWarning) for w in caught)
    f_ours = objective(X, y, ours.coef_, ours.intercept_, 0.5, 1.0)
    f_saga = objective(X, y, saga.coef_, saga.intercept_, 0.5, 1.0)
    assert f_ours < f_saga
    assert np.count_nonzero(ours.coef_) < np.count_nonzero(saga.coef_)
    assert ours.predict_proba(X).sum(axis=1) == pytest.approx(np.ones(24))
    assert set(ours.predict(X)) <= {"a", "b", "c"}


def test_iteration_limit_raises_convergence_warning(wine):
    X, y = wine
    with pytest.warns(ConvergenceWarning, match="max_iter=3"):
        model = MultinomialLogistic(C=1.0, max_iter=3).fit(X, y)
    assert model.n_iter_ == 3


def test_bad_parameters_and_one_class_are_refused(wine):
    X, y = wine
    with pytest.raises(ValueError, match="l1_ratio"):
        MultinomialLogistic(C=1.0, l1_ratio=1.5).fit(X, y)
    with pytest.raises(ValueError, match="at least 2 classes"):
        MultinomialLogistic().fit(X[:5], np.array(["a"] * 5))


def test_multiclass_candidates_with_an_l1_term_use_it(wine):
    X, y = wine
    assert isinstance(logistic({"C": 1.0, "l1_ratio": 1.0}, 0, binary=False), MultinomialLogistic)
    assert isinstance(logistic({"C": 1.0, "l1_ratio": 1.0}, 0, binary=True), LogisticRegression)
    assert isinstance(logistic({"C": 1.0}, 0, binary=False), LogisticRegression)  # ridge: lbfgs
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    for family, params in [
        ("l1_logistic", {"C": 0.3, "l1_ratio": 1.0}),
        ("elastic_net_logistic", {"C": 0.1, "l1_ratio": 0.5}),
    ]:
        pipe = Candidate(family, params, task="multiclass").build(frame)
        assert isinstance(pipe.named_steps["model"], MultinomialLogistic)
        assert pipe.fit(frame, y).predict_proba(frame).shape == (len(y), 3)


def test_two_classes_decision_function_is_the_log_odds_of_the_second(wine):
    X, y = wine
    two = y != y[-1]
    model = MultinomialLogistic(C=0.5).fit(X[two], y[two])
    scores = model.decision_function(X[two])
    assert scores.shape == (two.sum(),)
    p = model.predict_proba(X[two])[:, 1]
    np.testing.assert_allclose(scores, np.log(p / (1 - p)), atol=1e-8)


def test_lipschitz_bound_exact_and_frobenius(monkeypatch):
    from insightome.models import multinomial

    rng = np.random.default_rng(1)
    for shape in [(30, 200), (200, 30)]:  # the Gram of the rows, then of the columns
        X = rng.normal(size=shape)
        exact = 0.5 * 2.0 * np.linalg.norm(np.c_[X, np.ones(len(X))], 2) ** 2 + 0.25
        assert multinomial.lipschitz_bound(X, 2.0, 0.25) == pytest.approx(exact, rel=2e-4)
        assert multinomial.lipschitz_bound(X, 2.0, 0.25) >= exact
        monkeypatch.setattr(multinomial, "EXACT_BOUND_MAX", 10)  # the looser bound, one pass
        loose = multinomial.lipschitz_bound(X, 2.0, 0.25)
        monkeypatch.undo()
        assert loose == pytest.approx(0.5 * 2.0 * (np.sum(X**2) + len(X)) + 0.25)
        assert loose > exact
    # fitted from the looser bound: the same optimum
    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    tight = MultinomialLogistic(C=0.1, tol=1e-8, max_iter=100_000).fit(X, y)
    monkeypatch.setattr(multinomial, "EXACT_BOUND_MAX", 5)
    loose = MultinomialLogistic(C=0.1, tol=1e-8, max_iter=100_000).fit(X, y)
    f = [objective(X, y, m.coef_, m.intercept_, 0.1, 1.0) for m in (tight, loose)]
    assert f[1] == pytest.approx(f[0], rel=1e-8)


def test_a_multiclass_run_names_the_solver_in_its_notes():
    import anndata as ad

    import insightome

    data = load_wine(as_frame=True)
    adata = ad.AnnData(
        data.data.iloc[:, :6].to_numpy(float),
        obs=pd.DataFrame({"cultivar": data.target.astype(str).to_numpy()}),
        var=pd.DataFrame(index=data.data.columns[:6]),
    )
    run = insightome.run(
        adata, target="cultivar", preset="fast", repeats=1, n_bootstrap=100, discover=False,
        audit=False, out_dir=None, progress=False,
    )  # fmt: skip
    notes = [n for n in run.results["notes"] if "FISTA" in n]
    assert len(notes) == 1
    assert notes[0].startswith("l1_logistic(C=0.3,l1_ratio=1.0,k=all), elastic_net_logistic(")


def test_passes_scikit_learns_estimator_checks():
    from sklearn.utils.estimator_checks import check_estimator

    check_estimator(MultinomialLogistic())
