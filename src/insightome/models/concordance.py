"""Harrell's concordance index of survival risk scores, plain and under bootstrap weights.

Below both users: the survival estimators' ``score`` (:mod:`insightome.models.survival`) and
the survival task's primary metric (:mod:`insightome.evaluate.metrics`, which re-exports
:func:`c_index` and :func:`harrell_c`).
"""

from __future__ import annotations

import numpy as np

PAIRWISE_MAX_N = 4000


def c_index(y: np.ndarray, pred: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Harrell's concordance index (risk scores: higher = earlier event).

    A pair (i, j) is comparable when ``i`` had the event and ``time_i < time_j`` (or
    ``time_i == time_j`` with ``j`` censored, as lifelines counts it); it is
    concordant when ``risk_i > risk_j`` (ties count one half). With weights, pair (i, j)
    counts ``w_i · w_j``: two quadratic forms per bootstrap, done as matrix products.
    """
    time, event = np.abs(np.asarray(y, float)), np.asarray(y) > 0
    risk = pred[:, 0]
    n = len(time)
    if n > PAIRWISE_MAX_N:
        return _c_index_resampled(time, event, risk, W)
    earlier = (time[:, None] < time[None, :]) | (
        (time[:, None] == time[None, :])
        & ~event[None, :]  # censored at an event time: still at risk
    )
    comparable = earlier & event[:, None]
    conc = comparable * ((risk[:, None] > risk[None, :]) + 0.5 * (risk[:, None] == risk[None, :]))
    dtype = np.float64 if n <= 2500 else np.float32  # float32 halves memory for large n
    Wf = W.astype(dtype)
    num = ((Wf @ conc.astype(dtype)) * Wf).sum(axis=1)
    den = ((Wf @ comparable.astype(dtype)) * Wf).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan).astype(float)


def _c_index_resampled(
    time: np.ndarray, event: np.ndarray, risk: np.ndarray, W: np.ndarray
) -> np.ndarray:
    from lifelines.utils import concordance_index

    out = np.empty(len(W))
    for b, w in enumerate(W):
        idx = np.repeat(np.arange(len(time)), w.astype(int))
        out[b] = concordance_index(time[idx], -risk[idx], event[idx])
    return out


def harrell_c(y_signed: np.ndarray, risk: np.ndarray) -> float:
    """Plain Harrell's C for one set of risk predictions (signed-time outcome)."""
    return float(
        c_index(y_signed, np.asarray(risk, float).reshape(-1, 1), np.ones((1, len(risk))))[0]
    )
