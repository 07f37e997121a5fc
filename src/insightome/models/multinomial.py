"""Multinomial logistic regression with an L1 or elastic-net penalty, by accelerated
proximal gradient (FISTA with adaptive restart).

Minimizes scikit-learn's objective for ``LogisticRegression(C, l1_ratio=ρ)`` with several
classes, over one coefficient column and one intercept per class (the intercepts are not
penalized)::

    C · Σᵢ [log Σₖ exp(zᵢₖ) − zᵢ,yᵢ] + ρ ‖W‖₁ + (1 − ρ)/2 ‖W‖²,   z = XW + b

Why not scikit-learn's own solver: for a multinomial model with an L1 term it offers only
``saga``, which on expression data (p ≫ n) stops far from the optimum
(``benchmarks/results/candidates_study.md``, section 5). On GLIOMA's first training half
(25 samples × 4,434 genes, 4 classes) its 2,000 epochs took 2.8 CPU s and stopped at the
iteration limit 0.8% (C = 0.3) and 5.3% (C = 1) above the optimum, with 51 and 201
non-zero coefficients against 21 and 31; allowed 20,000 epochs it stopped by its own tolerance
after 3,813 and 6,337 (5.3 and 9.0 s), still 0.4% and 1.8% above. Here a step is a few
matrix products with the n × p table, so it costs well under a millisecond when n is
small, and the optimum takes a few hundred of them: 90 steps and 0.04 s (C = 0.3), 169 and
0.09 s (C = 1).

The step is 1/L with L adapted by backtracking (Beck & Teboulle 2009): each step first
tries a longer one than the last (L × 0.8) and halves it until the quadratic model bounds
the smooth part; L never exceeds a bound on the Lipschitz constant of its gradient (½ C
‖[X 1]‖₂² + (1 − ρ), from the largest eigenvalue of the smaller Gram matrix:
:func:`lipschitz_bound`), where the bound always holds. With that bound as a fixed step
the same fits took 4,059 and 12,041 steps (1.2 and 3.6 s): where the classes separate, the
softmax curves far less than the bound assumes. The momentum restarts whenever it points
uphill (O'Donoghue & Candès 2015). The fit stops when the proximal-gradient step moves no
coefficient by more than ``tol`` / L, i.e. when the optimality conditions hold to ``tol``
in the units of the L1 weight; a fit that reaches ``max_iter`` first raises scikit-learn's
ConvergenceWarning, which the run counts and reports like any solver's.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from scipy.linalg import eigvalsh
from scipy.special import logsumexp, softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = ["MultinomialLogistic"]

# the run's note when its candidates include such a model (stages.modelling)
SOLVER_NOTE = (
    "{configurations}: multinomial logistic models with an L1 term, fitted by insightome's "
    "FISTA solver (insightome.models.multinomial: scikit-learn's objective; its only solver "
    "for it, saga, stops at its iteration limit far from the optimum when features outnumber "
    "samples)"
)
STEP_GROWTH = 0.8  # each step first tries 1/(0.8 L): longer than the last accepted one


EXACT_BOUND_MAX = 2_000  # up to this min(n, p + 1): the exact top eigenvalue of the Gram


def lipschitz_bound(X: np.ndarray, C: float, l2: float) -> float:
    """½ C σ_max([X 1])² + l2: a bound on the Lipschitz constant of the gradient of
    C · (multinomial log-loss) + l2/2 ‖W‖² (the softmax Hessian's eigenvalues are ≤ ½).

    σ_max² is the top eigenvalue of the smaller Gram matrix of [X 1] (XXᵀ + 11ᵀ, or XᵀX
    bordered by the column sums) while that has at most :data:`EXACT_BOUND_MAX` rows, else
    ‖[X 1]‖_F², a looser bound that costs one pass: the backtracking then starts from a
    shorter step and lengthens it by 1/0.8 per step."""
    n, p = X.shape
    if min(n, p + 1) > EXACT_BOUND_MAX:
        return 0.5 * C * (float(np.einsum("ij,ij->", X, X)) + n) + l2
    if n <= p + 1:
        gram = X @ X.T + 1.0
    else:
        sums = X.sum(axis=0)
        gram = np.empty((p + 1, p + 1))
        gram[:p, :p] = X.T @ X
        gram[:p, p] = gram[p, :p] = sums
        gram[p, p] = n
    m = len(gram)
    top = float(eigvalsh(gram, subset_by_index=[m - 1, m - 1])[0])
    return 0.5 * C * top * 1.0001 + l2  # a hair above: the eigenvalue is computed in floats


def _smooth(
    X: np.ndarray, Y: np.ndarray, W: np.ndarray, b: np.ndarray, C: float, l2: float
) -> tuple[float, np.ndarray]:
    """The smooth part's value, and the softmax probabilities, at (W, b)."""
    Z = X @ W + b
    lse = logsumexp(Z, axis=1)
    value = C * float(np.sum(lse - np.sum(Z * Y, axis=1))) + 0.5 * l2 * float(np.vdot(W, W))
    return value, np.exp(Z - lse[:, None])


def fista_multinomial(
    X: np.ndarray, Y: np.ndarray, C: float, l1_ratio: float, *, tol: float, max_iter: int
) -> tuple[np.ndarray, np.ndarray, int, bool]:
    """Coefficients (p × K), intercepts (K,), iterations, converged; ``Y`` one-hot (n × K)."""
    p, K = X.shape[1], Y.shape[1]
    l1, l2 = float(l1_ratio), 1.0 - float(l1_ratio)
    L_max = lipschitz_bound(X, C, l2)
    L = L_max
    W, b = np.zeros((p, K)), np.zeros(K)
    V, c = W.copy(), b.copy()  # the extrapolated point
    t = 1.0
    for it in range(1, max_iter + 1):
        f_V, P = _smooth(X, Y, V, c, C, l2)
        R = C * (P - Y)
        g_W, g_b = X.T @ R + l2 * V, R.sum(axis=0)
        # the step: try a longer one than last time, halve it until the quadratic model
        # bounds the smooth part at the new point (at L_max it always does)
        L = L * STEP_GROWTH
        while True:
            S = V - g_W / L
            W_new = np.sign(S) * np.maximum(np.abs(S) - l1 / L, 0.0)
            b_new = c - g_b / L
            d_W, d_b = W_new - V, b_new - c
            if L >= L_max:
                break
            f_new, _ = _smooth(X, Y, W_new, b_new, C, l2)
            model = f_V + np.vdot(g_W, d_W) + np.vdot(g_b, d_b)
            model += 0.5 * L * (np.vdot(d_W, d_W) + np.vdot(d_b, d_b))
            if f_new <= model + 1e-12 * abs(f_V):
                break
            L = min(2.0 * L, L_max)
        moved = max(float(np.abs(d_W).max(initial=0.0)), float(np.abs(d_b).max()))
        if moved * L <= tol:
            return W_new, b_new, it, True
        if np.vdot(V - W_new, W_new - W) + np.vdot(c - b_new, b_new - b) > 0:
            # the momentum points uphill: restart it from the last iterate
            V, c, t = W.copy(), b.copy(), 1.0
            continue
        t_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
        beta = (t - 1.0) / t_new
        V = W_new + beta * (W_new - W)
        c = b_new + beta * (b_new - b)
        W, b, t = W_new, b_new, t_new
    return W, b, max_iter, False


class MultinomialLogistic(ClassifierMixin, BaseEstimator):
    """Multinomial logistic regression with an L1 (``l1_ratio=1``) or elastic-net penalty,
    scikit-learn's parametrization (``C``, ``l1_ratio``) and objective; solved by FISTA
    (module docstring). ``coef_`` is (classes × features), as scikit-learn's."""

    def __init__(
        self, C: float = 1.0, l1_ratio: float = 1.0, tol: float = 1e-4, max_iter: int = 20_000
    ) -> None:
        self.C = C
        self.l1_ratio = l1_ratio
        self.tol = tol
        self.max_iter = max_iter

    def fit(self, X: Any, y: Any) -> MultinomialLogistic:
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        if not (self.C > 0 and 0.0 <= self.l1_ratio <= 1.0):
            raise ValueError(f"need C > 0 and 0 <= l1_ratio <= 1, got {self.C}, {self.l1_ratio}")
        self.classes_, codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"need at least 2 classes in y, got {len(self.classes_)} class")
        Y = np.eye(len(self.classes_))[codes]
        W, b, self.n_iter_, converged = fista_multinomial(
            X, Y, float(self.C), float(self.l1_ratio), tol=self.tol, max_iter=self.max_iter
        )
        if not converged:
            warnings.warn(
                f"MultinomialLogistic: the optimality conditions did not hold to tol="
                f"{self.tol} after max_iter={self.max_iter} proximal-gradient steps",
                ConvergenceWarning,
                stacklevel=2,
            )
        self.coef_, self.intercept_ = W.T.copy(), b
        return self

    def _scores(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "coef_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return X @ self.coef_.T + self.intercept_

    def decision_function(self, X: Any) -> np.ndarray:
        """One score per class (n × K); with two classes, as scikit-learn's classifiers, the
        log-odds of the second (n,)."""
        z = self._scores(X)
        return z[:, 1] - z[:, 0] if z.shape[1] == 2 else z

    def predict_proba(self, X: Any) -> np.ndarray:
        return softmax(self._scores(X), axis=1)

    def predict(self, X: Any) -> np.ndarray:
        best = self._scores(X).argmax(axis=1)
        return self.classes_[best]
