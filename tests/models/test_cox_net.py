"""The elastic-net Cox solver (models.cox_net) against lifelines' CoxPHFitter."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter

from insightome.models.cox_net import cox_net
from insightome.models.survival import CoxElasticNet


def _lifelines_coef(X: np.ndarray, time: np.ndarray, event: np.ndarray, pen: float, l1: float):
    df = pd.DataFrame(X, columns=[f"x{j}" for j in range(X.shape[1])])
    df["_t"], df["_e"] = time, event
    model = CoxPHFitter(penalizer=pen, l1_ratio=l1)
    return model.fit(df, "_t", "_e", fit_options={"max_steps": 200}).params_.to_numpy()


@pytest.mark.parametrize("pen,l1", [(0.05, 0.5), (0.2, 0.5), (0.5, 0.0), (0.01, 1.0)])
def test_cox_elastic_net_solves_lifelines_problem(actg175_path, pen, l1):
    """Same objective as lifelines (penalty on standardized coefficients); with no two
    event times tied Breslow is Efron, so the solutions agree up to lifelines' smoothing
    of |β| (real covariates on their own scales)."""
    df = pd.read_csv(actg175_path).iloc[:800]
    cols = ["age", "wtkg", "karnof", "cd40", "cd80", "preanti", "gender", "race"]
    X = df[cols].to_numpy(float)
    rng = np.random.default_rng(1)
    time = df["days"].to_numpy(float) + rng.uniform(0, 0.5, len(df))  # no ties
    event = df["cens"].to_numpy()
    expected = _lifelines_coef(X, time, event, pen, l1)
    got = CoxElasticNet(pen, l1).fit(X, np.where(event == 1, time, -time)).coef_
    sd = X.std(axis=0, ddof=1)
    assert np.abs(got - expected) * sd == pytest.approx(0, abs=2e-4)
    if (pen, l1) == (0.05, 0.5):  # a real lasso: some coefficients exactly 0, not all
        assert (got == 0).any() and (got != 0).any()


def test_cox_net_handles_tied_times_and_no_events():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5))
    time = rng.integers(1, 20, 300).astype(float)  # heavy ties: Breslow
    event = (rng.random(300) < 0.5).astype(int)
    fit = cox_net(X, time, event, 0.05, 0.5)
    assert fit.converged and np.isfinite(fit.coef).all()
    # the objective at the solution is below that of small moves in every direction
    from insightome.models.cox_net import _objective, _RiskSets

    sets = _RiskSets(time, event.astype(bool))
    best = _objective(sets, X, fit.coef, 0.05, 0.5)
    for j in range(5):
        for step in (-1e-3, 1e-3):
            moved = fit.coef.copy()
            moved[j] += step
            assert _objective(sets, X, moved, 0.05, 0.5) >= best - 1e-12
    none = cox_net(X, time, np.zeros(300, dtype=int), 0.05, 0.5)
    assert (none.coef == 0).all()


def test_cox_elastic_net_constant_column_gets_zero():
    rng = np.random.default_rng(0)
    X = np.c_[rng.normal(size=(80, 2)), np.ones(80)]
    y = np.where(rng.random(80) < 0.6, 1.0, -1.0) * np.exp(-X[:, 0])
    coef = CoxElasticNet(0.1, 0.5).fit(X, y).coef_
    assert coef[2] == 0 and coef[0] != 0


def test_breslow_likelihood_and_its_derivatives_against_the_definition():
    """The log partial likelihood from its definition (Breslow: every event at a time sees
    the whole risk set), and the gradient / diagonal Hessian in η by finite differences."""
    from insightome.models.cox_net import _RiskSets

    rng = np.random.default_rng(2)
    time = rng.integers(1, 8, 40).astype(float)  # ties
    event = rng.random(40) < 0.6
    eta = rng.normal(size=40)
    sets = _RiskSets(time, event)
    naive = sum(eta[i] - np.log(np.exp(eta[time >= time[i]]).sum()) for i in np.flatnonzero(event))
    assert sets.loglik(eta) == pytest.approx(naive, rel=1e-12)
    grad, hess = sets.derivatives(eta)
    h = 1e-5
    for i in range(0, 40, 7):
        step = np.zeros(40)
        step[i] = h
        up, down = sets.loglik(eta + step), sets.loglik(eta - step)
        assert grad[i] == pytest.approx((up - down) / (2 * h), abs=1e-6)
        assert -hess[i] == pytest.approx((up - 2 * sets.loglik(eta) + down) / h**2, abs=1e-3)
