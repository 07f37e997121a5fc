"""Gaussian copula synthesis, hand-written with NumPy, SciPy and scikit-learn.

The copula method of SDV's ``GaussianCopulaSynthesizer`` and of the ``copulas`` package
(Patki, Wedge & Veeramachaneni, IEEE DSAA 2016), written here because both are under the
Business Source Licence. Each column is turned into normal scores through its empirical
marginal; the dependence between columns is one correlation matrix of those scores; a
synthetic row is a draw from that multivariate normal, mapped back through the marginals.

* Continuous columns, and integer columns with more than :data:`MAX_DISCRETE_VALUES`
  distinct values: the empirical CDF (mid-ranks, ties averaged) gives the scores; back, the
  quantile function interpolates linearly between the sorted observed values, so synthetic
  values lie within the observed range (integers are rounded, continuous values rounded to
  the observed decimals). Values between observed ones are new values.
* Categorical, binary and integer columns with at most :data:`MAX_DISCRETE_VALUES`
  values: each value is an interval of (0, 1) of width its observed share (categories most
  frequent first, numbers in their order), i.e. a range of a latent normal; a real row's
  score is the mean of the latent normal within its value's range (standardized), and a
  synthetic latent draw is read back as the value whose range holds it. Marginal shares
  are kept in expectation; only observed values appear.
* Missing values: a column with missing values gets a second dimension, missing or not (a
  binary variable as above), so missingness is correlated with the other columns; a
  missing value scores 0 (the latent mean) in the column's own dimension. With fewer than
  :data:`MIN_MISSING` missing (or observed) values, whose correlation cannot be estimated,
  missing values are placed at random at the observed share instead (a note says so).
* The correlation of the scores is the sample correlation, or scikit-learn's Ledoit-Wolf
  shrinkage estimate (``shrinkage="ledoit-wolf"``, or ``"auto"``, the default, when there
  are fewer than :data:`ROWS_PER_DIMENSION` rows per dimension: positive definite even
  with as many dimensions as rows; the note gives its intensity). Ledoit-Wolf is not used
  with more rows because it shrinks every correlation (by 13% on heart failure, 299 rows)
  where the sample estimate is already stable.
* A discrete score is a step function of its latent normal, and missing values scored 0
  dilute a column's correlations by ``sqrt(1 - missing share)`` (exact when values are
  missing at random): both pull the correlations towards zero. The latent correlation of
  each pair is solved from Mehler's expansion of the two scores in Hermite polynomials
  (60 terms; for a discrete-continuous pair this is the biserial correction, for two
  discrete ones the polychoric correlation up to the truncation), then the matrix is made
  positive definite again (eigenvalues below 1e-6 raised, with a note). Without the
  correction a binary outcome's rank correlation with a continuous column is more than
  halved in the synthetic table (heart failure: follow-up time vs death, -0.54 in the data,
  -0.21 synthetic).

``sample(n, seed, given=...)`` draws the rows given the values of one discrete column (an
outcome drawn beforehand): its scores are drawn inside the given values' intervals and the
other scores from the conditional normal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri
from sklearn.covariance import LedoitWolf

from insightome.synthesis.columns import ColumnSpec, constant_notes, describe, finish

MAX_DISCRETE_VALUES = 10
MAX_CORRELATION = 0.999
MIN_EIGENVALUE = 1e-6
MEHLER_TERMS = 60
SHRINKAGES = ("auto", "ledoit-wolf", "none")
MIN_MISSING = 5  # fewer missing values than this: placed at random (no dimension of their own)
ROWS_PER_DIMENSION = 10  # "auto": Ledoit-Wolf below this many rows per dimension
_EPS = 1e-9


@dataclass
class _Marginal:
    """One dimension of the copula: a column's values, or its missing indicator."""

    discrete: bool
    values: np.ndarray  # discrete: the values in interval order; else the sorted observations
    edges: np.ndarray  # discrete: cumulative shares, 0 … 1 (len(values) + 1)

    @classmethod
    def of(cls, x: np.ndarray, discrete: bool, order: np.ndarray | None = None) -> _Marginal:
        if not discrete:
            return cls(False, np.sort(x), np.empty(0))
        values, counts = np.unique(x, return_counts=True)
        if order is not None:  # categories: most frequent first
            values, counts = order, np.array([(x == v).sum() for v in order])
        edges = np.concatenate([[0.0], np.cumsum(counts) / counts.sum()])
        return cls(True, values, edges)

    def scores(self, x: np.ndarray) -> np.ndarray:
        """Scores of observed values (x has no NaN): normal scores of the mid-ranks, or a
        category's latent mean E[Z | category] standardized."""
        if self.discrete:
            means, sd = self._means()
            return means[self._index(x)] / sd
        n = len(self.values)
        left = np.searchsorted(self.values, x, side="left")
        right = np.searchsorted(self.values, x, side="right")
        return ndtri(np.clip((left + right) / (2.0 * n), _EPS, 1 - _EPS))  # mid-rank / n

    def _cuts(self) -> tuple[np.ndarray, np.ndarray]:
        """The latent normal's cut points between categories (±inf → 0) and φ there
        (0 at ±inf)."""
        cuts = ndtri(np.clip(self.edges, 0.0, 1.0))
        finite = np.isfinite(cuts)
        t = np.where(finite, cuts, 0.0)
        return t, np.where(finite, np.exp(-0.5 * t**2) / np.sqrt(2 * np.pi), 0.0)

    def _means(self) -> tuple[np.ndarray, float]:
        """E[Z | category] for each category, and their standard deviation."""
        _, density = self._cuts()
        shares = np.diff(self.edges)
        means = (density[:-1] - density[1:]) / np.maximum(shares, _EPS)
        return means, float(np.sqrt(max(np.sum(shares * means**2), _EPS)))

    def _index(self, x: np.ndarray) -> np.ndarray:
        index = {v: i for i, v in enumerate(self.values.tolist())}
        return np.array([index[v] for v in x.tolist()], dtype=np.intp)

    def coefficients(self, terms: int) -> np.ndarray:
        """Mehler coefficients of this dimension's score as a function of its latent
        normal: ``c[n-1] = E[score(Z) · He_n(Z)] / sqrt(n!)`` for n = 1 … terms (a
        continuous dimension's score is Z itself: 1, 0, 0, …)."""
        c = np.zeros(terms)
        if not self.discrete:
            c[0] = 1.0
            return c
        t, density = self._cuts()
        means, sd = self._means()
        means = means / sd
        h_prev, h = np.zeros_like(t), np.ones_like(t)  # He_{n-1}/sqrt((n-1)!) at the cuts
        for n in range(1, terms + 1):
            edge = h * density  # He_{n-1}(t) φ(t) / sqrt((n-1)!), 0 at ±inf
            c[n - 1] = np.sum(means * (edge[:-1] - edge[1:])) / np.sqrt(n)
            h_prev, h = h, (t * h - np.sqrt(n - 1) * h_prev) / np.sqrt(n)
        return c

    def quantile(self, z: np.ndarray) -> np.ndarray:
        u = ndtr(z)
        if self.discrete:
            k = np.clip(np.searchsorted(self.edges, u, side="right") - 1, 0, len(self.values) - 1)
            return self.values[k]
        n = len(self.values)
        return np.interp(u, (np.arange(n) + 0.5) / n, self.values)

    def interval(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The interval of (0, 1) of each value of a discrete dimension."""
        k = self._index(x)
        return self.edges[k], self.edges[k + 1]


def _latent(observed: np.ndarray, coefficients: np.ndarray) -> np.ndarray:
    """For each pair, the latent correlation ρ whose scores correlate as observed:
    ``sum_n ρ**n c_i[n] c_j[n] = r_ij`` (Mehler's expansion), clipped to
    ±:data:`MAX_CORRELATION`. When one score of the pair is linear in its latent normal (a
    continuous column: only ``c[0]`` is non-zero) this is ``r_ij / (c_i[0] c_j[0])``; pairs
    of two discrete scores (monotone step functions, so the sum increases with ρ) are
    solved by bisection, all at once (memory: discrete dimensions² x terms)."""
    first = coefficients[:, 0]
    R = np.clip(observed / np.outer(first, first), -MAX_CORRELATION, MAX_CORRELATION)
    steps = np.flatnonzero(np.any(coefficients[:, 1:] != 0, axis=1))
    if len(steps) > 1:
        c = coefficients[steps]
        weights = c[:, None, :] * c[None, :, :]  # k x k x terms
        powers = np.arange(1, c.shape[1] + 1)
        target = observed[np.ix_(steps, steps)]
        lo = np.full(target.shape, -MAX_CORRELATION)
        hi = np.full(target.shape, MAX_CORRELATION)
        for _ in range(40):
            mid = (lo + hi) / 2
            below = np.sum(weights * mid[..., None] ** powers, axis=-1) < target
            lo = np.where(below, mid, lo)
            hi = np.where(below, hi, mid)
        R[np.ix_(steps, steps)] = (lo + hi) / 2
    R = (R + R.T) / 2
    np.fill_diagonal(R, 1.0)
    return R


class GaussianCopula:
    """Empirical marginals joined by a shrunk Gaussian copula: fit(frame, seed), then
    sample(n, seed)."""

    name = "copula"

    def __init__(self, shrinkage: str = "auto") -> None:
        if shrinkage not in SHRINKAGES:
            raise ValueError(f"shrinkage must be one of {SHRINKAGES}, got {shrinkage!r}")
        self.shrinkage = shrinkage
        self.notes: list[str] = []

    def fit(self, frame: pd.DataFrame, seed: int) -> Self:
        """Fit the marginals and the correlation (deterministic: ``seed`` is not used)."""
        self.specs_ = describe(frame)
        self.columns_ = frame.columns
        self.notes = constant_notes(self.specs_)
        self.dims_: list[tuple[int, str, _Marginal]] = []  # (column, "value"|"missing", marginal)
        self.random_missing_: dict[int, float] = {}  # column -> share, missing at random
        scores: list[np.ndarray] = []
        coefficients: list[np.ndarray] = []  # each dimension's score vs its latent normal
        for j, spec in enumerate(self.specs_):
            if spec.n_observed == 0 or (spec.constant and spec.missing_share == 0):
                continue
            x = self._values(frame.iloc[:, j], spec)
            missing = frame.iloc[:, j].isna().to_numpy()
            if 0 < min(missing.sum(), (~missing).sum()) < MIN_MISSING:
                self.random_missing_[j] = float(missing.mean())
                self.notes.append(
                    f"column {spec.name}: fewer than {MIN_MISSING} missing (or observed) values; "
                    "its missing values are placed at random, not correlated with other columns"
                )
            elif missing.any():
                flag = _Marginal.of(missing.astype(float), discrete=True)
                self.dims_.append((j, "missing", flag))
                scores.append(flag.scores(missing.astype(float)))
                coefficients.append(flag.coefficients(MEHLER_TERMS))
            if spec.constant:
                continue
            order = np.array(spec.categories, dtype=object) if spec.kind == "categorical" else None
            marginal = _Marginal.of(x[~missing], self._discrete(spec, x[~missing]), order)
            z = np.zeros(len(x))  # a missing value scores 0, the latent mean
            z[~missing] = marginal.scores(x[~missing])
            self.dims_.append((j, "value", marginal))
            scores.append(z)
            coefficients.append(
                marginal.coefficients(MEHLER_TERMS) * np.sqrt(1 - spec.missing_share)
            )
        self.correlation_ = np.empty((0, 0))
        if scores:
            self.correlation_ = self._correlation(np.column_stack(scores), coefficients)
        return self

    def _correlation(self, Z: np.ndarray, coefficients: list[np.ndarray]) -> np.ndarray:
        """The latent correlation matrix: the scores' correlation (Ledoit-Wolf when asked,
        or with "auto" when there are fewer than 10 rows per dimension), each entry solved
        for the latent correlation that gives it, made positive definite."""
        n, d = Z.shape
        few_rows = n < ROWS_PER_DIMENSION * d
        if self.shrinkage == "ledoit-wolf" or (self.shrinkage == "auto" and few_rows):
            estimate = LedoitWolf().fit(Z)
            cov = estimate.covariance_
            self.notes.append(
                f"copula correlation: Ledoit-Wolf shrinkage {estimate.shrinkage_:.2f} "
                f"({n} rows, {d} dimensions)"
            )
        else:
            cov = np.cov(Z, rowvar=False)
        sd = np.sqrt(np.maximum(np.diag(cov), _EPS))
        R = _latent(cov / np.outer(sd, sd), np.array(coefficients))
        w, V = np.linalg.eigh(R)
        if (w < MIN_EIGENVALUE).any():
            self.notes.append(
                f"copula correlation: {(w < MIN_EIGENVALUE).sum()} eigenvalue(s) raised to "
                f"{MIN_EIGENVALUE:g} after the correction for discrete and missing values"
            )
            R = (V * np.maximum(w, MIN_EIGENVALUE)) @ V.T
            d_ = np.sqrt(np.diag(R))
            R = R / np.outer(d_, d_)
        return R

    @staticmethod
    def _values(column: pd.Series, spec: ColumnSpec) -> np.ndarray:
        if spec.kind == "categorical":
            return column.astype(object).to_numpy()
        return column.to_numpy(dtype=float, na_value=np.nan)

    @staticmethod
    def _discrete(spec: ColumnSpec, observed: np.ndarray) -> bool:
        if spec.kind in ("categorical", "binary"):
            return True
        return spec.kind == "integer" and len(np.unique(observed)) <= MAX_DISCRETE_VALUES

    def sample(self, n: int, seed: int, *, given: pd.Series | None = None) -> pd.DataFrame:
        """``n`` synthetic rows; ``given`` fixes the values of one discrete column."""
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        rng = np.random.default_rng(seed)
        R = self.correlation_
        Z = self._draw(R, n, rng, given)
        columns: list[np.ndarray] = []
        for j, spec in enumerate(self.specs_):
            columns.append(self._column(j, spec, Z, rng))
        return finish(columns, self.specs_, self.columns_)

    def _draw(
        self, R: np.ndarray, n: int, rng: np.random.Generator, given: pd.Series | None
    ) -> np.ndarray:
        d = R.shape[0]
        L = np.linalg.cholesky(R + _EPS * np.eye(d)) if d else np.empty((0, 0))
        if given is None:
            return rng.standard_normal((n, d)) @ L.T
        k = self._given_dimension(given, n)
        lo, hi = self.dims_[k][2].interval(given.to_numpy(dtype=object))
        zk = ndtri(np.clip(lo + rng.random(n) * (hi - lo), _EPS, 1 - _EPS))
        rest = [i for i in range(d) if i != k]
        r = R[rest, k]
        cond = R[np.ix_(rest, rest)] - np.outer(r, r)
        Lc = np.linalg.cholesky(cond + _EPS * np.eye(len(rest)))
        Z = np.empty((n, d))
        Z[:, k] = zk
        Z[:, rest] = np.outer(zk, r) + rng.standard_normal((n, len(rest))) @ Lc.T
        return Z

    def _given_dimension(self, given: pd.Series, n: int) -> int:
        for k, (j, part, marginal) in enumerate(self.dims_):
            if self.specs_[j].name == given.name and part == "value":
                if not marginal.discrete or len(given) != n or given.isna().any():
                    break
                values = set(marginal.values.tolist())
                if not set(given.tolist()) <= values:
                    raise ValueError(f"given holds values never seen in column {given.name!r}")
                return k
        raise ValueError(
            f"given must be {n} values, none missing, of a discrete column, got {given.name!r}"
        )

    def _column(
        self, j: int, spec: ColumnSpec, Z: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        n = Z.shape[0]
        parts = {part: (k, m) for k, (jj, part, m) in enumerate(self.dims_) if jj == j}
        if spec.n_observed == 0:
            return np.full(n, np.nan)
        if "value" in parts:
            k, marginal = parts["value"]
            out = marginal.quantile(Z[:, k])
        else:  # constant: its one value
            one = spec.categories[0] if spec.kind == "categorical" else spec.minimum
            out = np.full(n, one, dtype=object if spec.kind == "categorical" else float)
        missing = np.zeros(n, dtype=bool)
        if "missing" in parts:
            k, flag = parts["missing"]
            missing = flag.quantile(Z[:, k]) == 1.0
        elif j in self.random_missing_:
            missing = rng.random(n) < self.random_missing_[j]
        if missing.any():
            out = out.astype(object) if spec.kind == "categorical" else out.astype(float)
            out[missing] = np.nan
        return out
