"""Elastic-net penalized Cox regression by coordinate descent (Simon et al. 2011, "Coxnet").

Minimizes, over the coefficients β (no intercept; the features as given:
:class:`~insightome.models.survival.CoxElasticNet` standardizes them first, as lifelines does)::

    -(1/n) · log partial likelihood(β) + λ · (α ‖β‖₁ + (1 - α)/2 ‖β‖²)

with Breslow's handling of tied times: the objective of lifelines' ``CoxPHFitter(penalizer=λ,
l1_ratio=α)``, which uses Efron's (identical when no two event times tie) and smooths ‖β‖₁
so that its Newton steps apply. Why not lifelines here: an elastic-net fit there takes
7.8 CPU s on TCGA pan-cancer's 10,986 patients × 46 columns (its clinical table one-hot
encoded; automatic differentiation of the smoothed penalty in every Newton step, up to 200
of them) and never sets a coefficient exactly to 0; this one takes 0.03 s (0.017 against
0.53 s for the ridge; single-threaded BLAS, as the run's fits are). scikit-survival's
``CoxnetSurvivalAnalysis`` solves the same problem but is GPL-3 (not a core dependency).

The algorithm is glmnet's for the Cox model: each outer step takes a quadratic approximation
of the partial likelihood in the linear predictor η = Xβ (the gradient and the diagonal of
the Hessian, from cumulative sums over the risk sets, O(n) after one sort), solves that
penalized weighted least-squares problem by cyclic coordinate descent with soft
thresholding, and halves the step while the true objective would increase.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

__all__ = ["CoxNetFit", "cox_net"]


class CoxNetFit:
    """The solution: ``coef`` (p,), the objective there, outer iterations used, converged."""

    def __init__(self, coef: np.ndarray, objective: float, n_iter: int, converged: bool) -> None:
        self.coef = coef
        self.objective = objective
        self.n_iter = n_iter
        self.converged = converged


class _RiskSets:
    """Breslow sums over the risk sets of one outcome, in descending-time order."""

    def __init__(self, time: np.ndarray, event: np.ndarray) -> None:
        self.order = np.argsort(-time, kind="stable")
        t = time[self.order]
        self.event = event[self.order].astype(float)
        # the last position of each sample's tie group: its risk set is the prefix up to it
        self.last = np.searchsorted(-t, -t, side="right") - 1
        # events per distinct time, placed at the tie group's last position
        self.d = np.zeros(len(t))
        np.add.at(self.d, self.last, self.event)
        self.n = len(t)

    def loglik(self, eta: np.ndarray) -> float:
        """Breslow log partial likelihood of η (in the data's order)."""
        e = eta[self.order]
        shift = e.max(initial=0.0)
        s0 = np.cumsum(np.exp(e - shift))[self.last]
        return float(self.event @ e - self.event @ (np.log(s0) + shift))

    def derivatives(self, eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Gradient and diagonal Hessian (negated: ≥ 0) of the log partial likelihood in η."""
        e = eta[self.order]
        shift = e.max(initial=0.0)
        r = np.exp(e - shift)
        s0 = np.cumsum(r)  # risk-set sums at each position (valid at tie groups' last)
        with np.errstate(divide="ignore", invalid="ignore"):
            a = np.where(self.d > 0, self.d / s0, 0.0)
            b = np.where(self.d > 0, self.d / s0**2, 0.0)
        # a sample at risk at every event time from the latest down to its own: the sums
        # over event times t_k ≤ t_i are suffix sums in descending order (positions ≥ last_i)
        ca = np.cumsum(a[::-1])[::-1][self.last]
        cb = np.cumsum(b[::-1])[::-1][self.last]
        grad_s = self.event - r * ca
        hess_s = r * ca - r**2 * cb
        grad, hess = np.empty(self.n), np.empty(self.n)
        grad[self.order], hess[self.order] = grad_s, hess_s
        return grad, hess


def _objective(sets: _RiskSets, X: np.ndarray, beta: np.ndarray, lam: float, alpha: float) -> float:
    penalty = lam * (alpha * np.abs(beta).sum() + 0.5 * (1 - alpha) * beta @ beta)
    return -sets.loglik(X @ beta) / sets.n + penalty


def _weighted_lasso(
    X: np.ndarray,
    w: np.ndarray,
    z: np.ndarray,
    beta: np.ndarray,
    lam: float,
    alpha: float,
    tol: float,
    max_sweeps: int,
) -> np.ndarray:
    """Cyclic coordinate descent on (1/2n) Σ wᵢ (zᵢ - xᵢβ)² + λ(α‖β‖₁ + (1-α)/2 ‖β‖²),
    from ``beta``, in covariance form (the p × p weighted Gram matrix once, then O(p) per
    coordinate update)."""
    n = len(z)
    Xw = X * (w / n)[:, None]
    gram = X.T @ Xw  # (p × p)
    xz = Xw.T @ z  # (p,)
    diag = np.diag(gram).copy()
    beta = beta.copy()
    grad_part = xz - gram @ beta  # (1/n) Σ w x_j (z - Xβ), kept up to date
    l1, l2 = lam * alpha, lam * (1 - alpha)
    for _ in range(max_sweeps):
        biggest = 0.0
        for j in range(len(beta)):
            if diag[j] <= 0:
                continue
            rho = grad_part[j] + diag[j] * beta[j]
            new = np.sign(rho) * max(abs(rho) - l1, 0.0) / (diag[j] + l2)
            step = new - beta[j]
            if step != 0.0:
                grad_part -= gram[:, j] * step
                beta[j] = new
                biggest = max(biggest, abs(step) * np.sqrt(diag[j]))
        if biggest < tol:
            break
    return beta


def cox_net(
    X: np.ndarray,
    time: np.ndarray,
    event: np.ndarray,
    penalizer: float,
    l1_ratio: float,
    *,
    max_iter: int = 100,
    tol: float = 1e-9,
) -> CoxNetFit:
    """Fit the elastic-net Cox model (module docstring); ``event`` 1 = event, 0 = censored.

    Stops when an outer step lowers the objective by less than ``tol`` (relative); a
    :class:`~sklearn.exceptions.ConvergenceWarning` says when ``max_iter`` steps did not
    get there (the run counts it per candidate, as it counts any solver's).
    """
    X = np.asarray(X, dtype=float)
    time, event = np.asarray(time, dtype=float), np.asarray(event).astype(bool)
    sets = _RiskSets(time, event)
    beta = np.zeros(X.shape[1])
    if not event.any() or X.shape[1] == 0:  # a constant partial likelihood: β = 0
        return CoxNetFit(beta, _objective(sets, X, beta, penalizer, l1_ratio), 0, True)
    current = _objective(sets, X, beta, penalizer, l1_ratio)
    for it in range(1, max_iter + 1):
        eta = X @ beta
        grad, hess = sets.derivatives(eta)
        w = np.maximum(hess, 1e-10)
        z = eta + grad / w
        # a loose inner solve: the outer steps converge the same (objective equal to 1e-10
        # on correlated columns) at a third to a fifth of the time
        proposal = _weighted_lasso(X, w, z, beta, penalizer, l1_ratio, 1e-7, 200)
        step, new = 1.0, np.inf
        while step > 1e-6:
            candidate = beta + step * (proposal - beta)
            new = _objective(sets, X, candidate, penalizer, l1_ratio)
            if new <= current + 1e-15 * abs(current):
                break
            step /= 2
        if new > current + 1e-15 * abs(current):  # no step lowers it: at the optimum
            return CoxNetFit(beta, current, it, True)
        beta, previous, current = candidate, current, new
        if previous - current <= tol * max(abs(current), 1.0):
            return CoxNetFit(beta, current, it, True)
    warnings.warn(
        f"Cox elastic net: {max_iter} coordinate-descent steps did not converge",
        ConvergenceWarning,
        stacklevel=2,
    )
    return CoxNetFit(beta, current, max_iter, False)
