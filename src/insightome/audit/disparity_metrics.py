"""The metrics the model audit compares between groups, each with three parts.

An :class:`AuditMetric` holds a point metric for fairlearn's ``MetricFrame`` (``NaN`` where
it is undefined), a bootstrap vectorized over weight matrices (one value per row of ``W``),
and the evidence it needs for a verdict. Binary: AUC, error rates at each sample's decision
threshold, selection rate and the calibration hierarchy (slope and intercept by weighted
logistic recalibration, :func:`recalibration`; calibration-in-the-large); multiclass: macro
one-vs-rest AUC; regression: R² and MAE; survival: the C-index. With ``--groups`` each of a
patient's m samples counts 1/m as evidence (:func:`unit_weights`). Used by
:mod:`insightome.audit.model_audit`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from fairlearn import metrics as fm
from scipy.special import expit
from sklearn.metrics import mean_absolute_error, r2_score, roc_auc_score

from insightome.evaluate import metrics as M

NEWTON_ITER, NEWTON_TOL, LOGIT_CLIP = 50, 1e-7, 1e-6


@dataclass(frozen=True)
class AuditMetric:
    name: str
    point: Callable[[np.ndarray, np.ndarray], float]  # MetricFrame: (y_true, y_pred)
    boot: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]  # (y, pred, W) → B
    band: str  # "ratio", or the AuditThresholds field bounding |difference|
    needs: str  # evidence needed: "n", "pos", "neg", "both", "events" or "classes"
    has_ratio: bool = True
    # (y, pred, w, y_ref, pred_ref, w_ref, min_events) → bool; w: what each sample counts
    enough: Callable[..., bool] | None = None


def recalibration(y: np.ndarray, p: np.ndarray, W: np.ndarray, slope: bool) -> np.ndarray:
    """Weighted logistic recalibration on logit(p), one fit per row of W (Newton–Raphson).

    ``slope=True``: (B × 2) [a, b] of logit P(y) = a + b·logit(p); ``slope=False``: (B × 1)
    [a] of logit P(y) = a + logit(p). Rows that do not converge (e.g. separation) are NaN.
    """
    y = (np.asarray(y) == 1).astype(float)
    p = np.clip(np.asarray(p, float), LOGIT_CLIP, 1 - LOGIT_CLIP)
    lp = np.log(p / (1 - p))
    a, b = np.zeros(len(W)), np.ones(len(W))
    step = np.full(len(W), np.inf)
    for _ in range(NEWTON_ITER):
        mu = expit(a[:, None] + b[:, None] * lp[None, :])
        r, v = W * (y - mu), W * mu * (1 - mu)
        ga, haa = r.sum(axis=1), v.sum(axis=1) + 1e-12
        if slope:
            gb, hab, hbb = r @ lp, v @ lp, v @ lp**2 + 1e-12
            det = haa * hbb - hab**2
            da, db = (hbb * ga - hab * gb) / det, (haa * gb - hab * ga) / det
        else:
            da, db = ga / haa, np.zeros_like(ga)
        step = np.maximum(np.abs(da), np.abs(db))
        scale = np.minimum(1.0, 5.0 / np.where(step > 0, step, 1.0))  # damp huge steps
        a, b = a + scale * da, b + scale * db
        if np.all((step < NEWTON_TOL) | ~np.isfinite(step)):
            break
    est = np.column_stack([a, b]) if slope else a[:, None]
    est[~(step < 1e-4)] = np.nan
    return est


def _rate(among: Callable[[np.ndarray], np.ndarray], called: int) -> dict:
    """A rate's bootstrap (weighted share called ``called`` ``among``) and evidence rule:
    at least ``k`` hits and ``k`` misses in the group and the reference together."""

    def hits(y: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        den = among(np.asarray(y)).astype(float)
        return den * ((pred[:, 0] >= pred[:, 1]) == called), den

    def boot(y: np.ndarray, pred: np.ndarray, W: np.ndarray) -> np.ndarray:
        hit, den = hits(y, pred)
        return (W @ hit) / (W @ den)

    def enough(y: np.ndarray, pred: np.ndarray, w: np.ndarray, y_r: np.ndarray,
               pred_r: np.ndarray, w_r: np.ndarray, k: int) -> bool:  # fmt: skip
        (hit, den), (hit_r, den_r) = hits(y, pred), hits(y_r, pred_r)
        n_hits = weight_total(w * hit) + weight_total(w_r * hit_r)
        return min(n_hits, weight_total(w * den) + weight_total(w_r * den_r) - n_hits) >= k

    return {"boot": boot, "enough": enough}


def _informative(y: np.ndarray, pred: np.ndarray, w: np.ndarray, y_r: np.ndarray,
                 pred_r: np.ndarray, w_r: np.ndarray, k: int) -> bool:  # fmt: skip
    """Calibration fits: Σ p(1 − p), the intercept's information, ≥ ``k`` on both sides
    (each sample weighted by ``w``: patients, not copies, with ``--groups``)."""
    return (
        min(weight_total(u * p[:, 0] * (1 - p[:, 0])) for p, u in ((pred, w), (pred_r, w_r))) >= k
    )


def unit_weights(sample_groups: np.ndarray | None, n: int) -> np.ndarray:
    """What each sample counts as evidence: 1, or 1/m for each of a patient's m samples."""
    if sample_groups is None:
        return np.ones(n)
    _, codes, sizes = np.unique(sample_groups, return_inverse=True, return_counts=True)
    return 1.0 / sizes[codes.reshape(-1)]


def weight_total(values: np.ndarray) -> float:
    """A sum of weights, rounded so that m copies of 1/m count as exactly 1."""
    return round(float(np.sum(values)), 6)


def _defined(fn: Callable[..., float], needs: str) -> Callable[[np.ndarray, np.ndarray], float]:
    """A MetricFrame metric that is NaN (not an error, nor fairlearn's 0) when undefined."""

    def point(y_true: np.ndarray, y_pred: np.ndarray) -> float:
        y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
        pos = int(np.sum(y_true == 1))
        no_pos = needs in ("pos", "both") and not pos
        if no_pos or (needs in ("neg", "both") and pos == len(y_true)):
            return math.nan
        try:  # warnings are counted by the caller (model_audit: a note of the audit)
            return float(fn(y_true, y_pred))
        except ValueError:
            return math.nan

    return point


def _binary_metrics(pred: np.ndarray) -> list[AuditMetric]:
    """The binary metrics; ``pred`` (n × 2) holds each sample's probability and decision
    threshold, and MetricFrame's point metrics receive sample indices into it."""

    def rows(fn: Callable[[np.ndarray, np.ndarray], float], needs: str) -> Callable:
        return _defined(lambda y, idx: fn(y, pred[np.asarray(idx, dtype=int)]), needs)

    def rate(name: str, fn: Callable[..., float], among: Callable, called: int, needs: str):
        point = rows(lambda y, p: fn(y, (p[:, 0] >= p[:, 1]).astype(int), pos_label=1), needs)
        return AuditMetric(name, point, band="ratio", needs=needs, **_rate(among, called))

    def calibration(name: str, slope: bool, band: str) -> AuditMetric:
        def point(y: np.ndarray, p: np.ndarray) -> float:
            return recalibration(y, p[:, 0], np.ones((1, len(p))), slope)[0, int(slope)]

        def boot(y: np.ndarray, pred: np.ndarray, W: np.ndarray) -> np.ndarray:
            return recalibration(y, pred[:, 0], W, slope)[:, int(slope)]

        return AuditMetric(name, rows(point, "both"), boot, band, "both", slope, _informative)

    def auc_point(y: np.ndarray, p: np.ndarray) -> float:
        return float(roc_auc_score(y, p[:, 0]))

    def citl(y: np.ndarray, p: np.ndarray) -> float:
        return float(np.mean(y == 1) - np.mean(p[:, 0]))

    def citl_boot(y: np.ndarray, pred: np.ndarray, W: np.ndarray) -> np.ndarray:
        return (W @ (y == 1) - W @ pred[:, 0]) / W.sum(axis=1)

    pos, neg, everyone = (lambda y: y == 1), (lambda y: y != 1), (lambda y: y >= 0)
    return [
        AuditMetric("auc", rows(auc_point, "both"), M.auc, "max_auc_difference", "both"),
        rate("tpr", fm.true_positive_rate, pos, 1, "pos"),
        rate("fpr", fm.false_positive_rate, neg, 1, "neg"),
        rate("fnr", fm.false_negative_rate, pos, 0, "pos"),
        rate("selection_rate", fm.selection_rate, everyone, 1, "n"),
        calibration("calibration_slope", True, "max_calibration_slope_deviation"),
        calibration("calibration_intercept", False, "max_calibration_intercept_difference"),
        AuditMetric("calibration_in_the_large", rows(citl, "n"), citl_boot,
                "max_calibration_in_the_large_difference", "n", has_ratio=False),
    ]  # fmt: skip


def metrics_for_task(task: str, pred: np.ndarray) -> list[AuditMetric]:
    if task == "binary":
        return _binary_metrics(pred)
    if task == "multiclass":

        def macro(y_true: np.ndarray, idx: np.ndarray) -> float:
            return M.plain(M.auc_macro_ovr, y_true, pred[np.asarray(idx, dtype=int)])

        point = _defined(macro, "n")
        return [
            AuditMetric("auc_macro_ovr", point, M.auc_macro_ovr, "max_auc_difference", "classes")
        ]
    if task == "regression":
        return [
            AuditMetric("r2", _defined(r2_score, "n"), M.r2, "max_r2_difference", "n", False),
            AuditMetric("mae", _defined(mean_absolute_error, "n"), M.mae, "ratio", "n"),
        ]
    point = _defined(M.harrell_c, "n")
    return [AuditMetric("c_index", point, M.c_index, "max_auc_difference", "events")]
