"""Stability selection: how often each feature is chosen when the samples change.

Method (complementary-pairs stability selection; Meinshausen & Bühlmann, JRSS-B 2010;
Shah & Samworth, JRSS-B 2013): the samples are split ``n_pairs`` times into two disjoint
halves (stratified by class or event status; whole groups when samples are grouped). On
each half a sparse multivariate selector ranks the features — the order in which they
enter the least-angle regression (LARS) path of the standardized features against a
working response: the 0/1 outcome (binary), one-vs-rest indicators (multiclass, a
feature's position is its earliest over the classes), the outcome itself (regression),
or the martingale residuals of the null Cox model (survival; Therneau et al. 1990).

* A feature is *selected* on a half when it is among the first ``q`` to enter; its
  **selection frequency** is the fraction of the ``2·n_pairs`` halves that selected it.
* With more than ``2·HALF_MAX`` samples, each pair splits a fresh random subsample of
  that size (whole groups, when grouped), so the cost stops growing with n.
* Features with frequency ≥ ``threshold`` (0.75) are **stable**. ``q`` defaults to
  ⌊√((2·threshold − 1)·p)⌋, which bounds the expected number of falsely stable features
  by Meinshausen & Bühlmann's E[V] ≤ q² / ((2·threshold − 1)·p) ≤ 1.
* The **ranking** orders features by frequency, then by a soft score (mean of
  ``(L − position) / L`` over a longer path of ``L`` steps, 0 when the feature never
  enters), then by univariate association with the working response.

Every step that learns (imputation, scaling) is fitted on the samples given, so calling
this inside a training fold keeps the held-out fold untouched.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.linear_model import lars_path

from insightome.compute.blocks import BLOCK_CELLS, blocks
from insightome.evaluate.group_level import group_codes, whole_groups
from insightome.evaluate.splitters import stratification_labels
from insightome.models.candidates import preprocessor

THRESHOLD = 0.75
N_PAIRS = 50
MAX_Q = 50
HALF_MAX = 2500  # samples per half at most (large n: each pair splits a subsample)


@dataclass(frozen=True)
class StabilityResult:
    """Selection frequencies and the ranking of every feature."""

    frequency: pd.Series  # fraction of half-samples selecting each feature (first q)
    score: pd.Series  # soft score over the longer path, in [0, 1]
    ranking: list[str]  # all features, most stable first
    q: int
    path_length: int
    threshold: float
    n_subsamples: int
    selections: np.ndarray  # (n_subsamples × p) bool: selected on each half

    @property
    def stable(self) -> list[str]:
        return [f for f in self.ranking if self.frequency[f] >= self.threshold]

    @property
    def expected_false_bound(self) -> float:
        """Meinshausen & Bühlmann's bound on the expected number of falsely stable features."""
        p = len(self.frequency)
        return self.q**2 / ((2 * self.threshold - 1) * p) if p else 0.0

    def to_dict(self, top: int = 100) -> dict[str, object]:
        shown = self.ranking[:top]
        return {
            "method": "complementary-pairs stability selection, LARS entry order",
            "q": self.q,
            "path_length": self.path_length,
            "threshold": self.threshold,
            "n_subsamples": self.n_subsamples,
            "expected_false_stable_bound": self.expected_false_bound,
            "n_stable": len(self.stable),
            "stable": self.stable,
            "nogueira_stability": nogueira_stability(self.selections),
            "top": [
                {"feature": f, "frequency": float(self.frequency[f]), "score": float(self.score[f])}
                for f in shown
            ],
        }


def default_q(n_features: int, threshold: float = THRESHOLD) -> int:
    """Per-half selection size that bounds the expected number of false stable features by 1."""
    return max(1, min(MAX_Q, math.floor(math.sqrt((2 * threshold - 1) * n_features))))


def stability_selection(
    features: pd.DataFrame,
    y: np.ndarray,
    task: str,
    *,
    n_pairs: int = N_PAIRS,
    q: int | None = None,
    path_length: int | None = None,
    threshold: float = THRESHOLD,
    groups: np.ndarray | None = None,
    seed: int = 0,
) -> StabilityResult:
    """Selection frequency and ranking of every column of ``features`` (see module doc)."""
    names = list(features.columns)
    p = len(names)
    X, column_feature = design_matrix(features)
    q = q or default_q(p, threshold)
    half = min(len(y), 2 * HALF_MAX) // 2
    L = max(q, min(path_length or q, p))
    L = max(1, min(L, p, half - 1))
    q = min(q, L)
    response = working_response(y, task)
    strata = stratification_labels(y, task)
    rng = np.random.default_rng(seed)
    positions = np.full((2 * n_pairs, p), np.inf)
    n = len(y)
    codes = None if groups is None else group_codes(groups)
    for b in range(n_pairs):
        # large n: each pair splits a fresh random subsample of 2·HALF_MAX samples (the
        # halves stay complementary; the LARS cost stops growing with n)
        pool = np.arange(n)
        if n > 2 * HALF_MAX:
            pool = (
                np.sort(rng.choice(n, 2 * HALF_MAX, replace=False))
                if codes is None
                else whole_groups(codes, 2 * HALF_MAX, rng)
            )
        sub_groups = None if codes is None else codes[pool]
        for h, rows in enumerate(complementary_halves(strata[pool], sub_groups, rng)):
            rows = pool[rows]
            positions[2 * b + h] = entry_positions(X[rows], response[rows], column_feature, p, L)
    selections = positions < q
    frequency = selections.mean(axis=0)
    score = np.where(np.isfinite(positions), (L - positions) / L, 0.0).mean(axis=0)
    tiebreak = univariate_strength(X, response, column_feature, p)
    order = np.lexsort((-tiebreak, -score, -frequency))
    return StabilityResult(
        frequency=pd.Series(frequency, index=names),
        score=pd.Series(score, index=names),
        ranking=[names[i] for i in order],
        q=q,
        path_length=L,
        threshold=threshold,
        n_subsamples=2 * n_pairs,
        selections=selections,
    )


def design_matrix(features: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Imputed, scaled, one-hot encoded matrix and the feature index of each of its columns.

    A float32 table (large data, ``modelling_table.FLOAT32_CELLS``) stays float32 here: the halves
    are cast to float64 before LARS (:func:`entry_positions`), and a float64 copy of a
    100,000 x 1,000 table is 763 MB more.
    """
    ct = preprocessor(features, lean=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        X = np.asarray(ct.fit_transform(features))
    if X.dtype != np.float32:
        X = X.astype(float, copy=False)
    if not hasattr(ct, "transformers_"):  # all numeric: the imputer-scaler pipeline
        return X, np.arange(X.shape[1])
    index = {name: i for i, name in enumerate(features.columns)}
    mapping: list[int] = []
    for name, pipe, cols in ct.transformers_:
        if name == "numeric":
            mapping += [index[c] for c in cols]
        elif name == "categorical":
            encoder = pipe[-1]
            for c, levels in zip(cols, encoder.categories_, strict=True):
                mapping += [index[c]] * len(levels)
    return X, np.asarray(mapping, dtype=int)


def working_response(y: np.ndarray, task: str) -> np.ndarray:
    """(n × r) response(s) for LARS: see the module docstring."""
    if task == "binary":
        return (np.asarray(y) == 1).astype(float)[:, None]
    if task == "multiclass":
        codes = np.asarray(y, dtype=int)
        return np.eye(int(codes.max()) + 1)[codes]
    if task == "regression":
        return np.asarray(y, dtype=float)[:, None]
    return martingale_residuals(y)[:, None]


def martingale_residuals(y: np.ndarray) -> np.ndarray:
    """δ_i − Λ̂₀(t_i) under the null Cox model (Nelson–Aalen cumulative hazard)."""
    time, event = np.abs(np.asarray(y, float)), (np.asarray(y) > 0).astype(float)
    order = np.argsort(time, kind="stable")
    t, e = time[order], event[order]
    unique, first = np.unique(t, return_index=True)
    deaths = np.add.reduceat(e, first)
    at_risk = len(t) - first
    cumhaz = np.cumsum(deaths / at_risk)
    return event - cumhaz[np.searchsorted(unique, time)]


def complementary_halves(
    strata: np.ndarray, groups: np.ndarray | None, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Two disjoint halves of the samples, balanced per stratum (or by whole groups)."""
    n = len(strata)
    first = np.zeros(n, dtype=bool)
    if groups is not None:
        codes = np.unique(groups, return_inverse=True)[1]
        perm = rng.permutation(int(codes.max()) + 1)
        first = np.isin(codes, perm[: len(perm) // 2])
    else:
        offset = int(rng.integers(2))
        for s in np.unique(strata):
            idx = rng.permutation(np.flatnonzero(strata == s))
            first[idx[offset::2]] = True
            offset = (offset + len(idx)) % 2
    return np.flatnonzero(first), np.flatnonzero(~first)


def entry_positions(
    X: np.ndarray, response: np.ndarray, column_feature: np.ndarray, p: int, steps: int
) -> np.ndarray:
    """Position (0-based) at which each feature enters the LARS path; inf if it does not."""
    X = np.asarray(X, dtype=float)
    Xc = X - X.mean(axis=0)
    sd = Xc.std(axis=0)
    Xc = np.divide(Xc, sd, out=np.zeros_like(Xc), where=sd > 1e-12)
    pos = np.full(p, np.inf)
    for r in range(response.shape[1]):
        yc = response[:, r] - response[:, r].mean()
        if not np.any(yc):
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, active, _ = lars_path(Xc, yc, method="lar", max_iter=steps, Gram=None)
        seen: dict[int, int] = {}
        for col in active:
            f = int(column_feature[col])
            seen.setdefault(f, len(seen))
        for f, k in seen.items():
            pos[f] = min(pos[f], k)
    return pos


def univariate_strength(
    X: np.ndarray, response: np.ndarray, column_feature: np.ndarray, p: int
) -> np.ndarray:
    """Largest |correlation| of each feature's columns with the working response(s).

    Large matrices are done in blocks of columns, in float64, so the temporaries are the
    size of one block rather than two float64 copies of the whole matrix.
    """
    Rc = response - response.mean(axis=0)
    cells = max(X.size, 1) if X.size < BLOCK_CELLS else BLOCK_CELLS  # small: one block
    corr = np.empty(X.shape[1])
    for cols in blocks(X.shape[1], len(X), cells):
        block = np.asarray(X[:, cols], dtype=float)
        Xc = block - block.mean(axis=0)
        num = np.abs(Xc.T @ Rc)
        den = np.sqrt((Xc**2).sum(axis=0))[:, None] * np.sqrt((Rc**2).sum(axis=0))[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            corr[cols] = np.where(den > 0, num / den, 0.0).max(axis=1)
    out = np.zeros(p)
    np.maximum.at(out, column_feature, corr)
    return out


def nogueira_stability(selections: np.ndarray) -> float | None:
    """Nogueira, Sechidis & Brown (JMLR 2018) stability of M selected sets over p features.

    1 − mean_f s_f² / (k̄/p · (1 − k̄/p)), with s_f² the unbiased variance of feature f's
    selection indicator and k̄ the mean set size: 1 for identical sets, about 0 for sets
    drawn at random. ``None`` when undefined (fewer than 2 sets, or empty/full sets).
    """
    Z = np.asarray(selections, dtype=float)
    M, p = Z.shape
    if M < 2 or p == 0:
        return None
    k_bar = Z.sum(axis=1).mean()
    denom = (k_bar / p) * (1 - k_bar / p)
    if denom <= 0:
        return None
    freq = Z.mean(axis=0)
    var = M / (M - 1) * freq * (1 - freq)
    return float(1 - var.mean() / denom)
