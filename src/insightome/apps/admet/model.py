"""One ADMET endpoint's model: selection, estimate, conformal calibration and domain.

The model is built with the same machinery as ``insightome run``, not a fork of it:

1. **Resampling.** A 5-fold (3-fold from 5,000 molecules on) Bemis–Murcko scaffold
   cross-validation of the training molecules
   (:class:`~insightome.evaluate.scaffold.ScaffoldKFold`): molecules sharing a scaffold are
   never on both sides of a split, as in TDC's scaffold split.
2. **Candidates** (:func:`admet_candidates`) are :class:`~insightome.models.candidates.
   Candidate` pipelines — gradient-boosted trees on RDKit 2D descriptors, Morgan counts,
   Avalon and ErG fingerprints — fitted fold by fold with
   :func:`~insightome.evaluate.engine.cross_validated_predictions` (joblib).
3. **Selection and estimate.** The candidate with the best cross-validated TDC metric
   (MAE, Spearman, AUROC or AUPRC) wins; :func:`~insightome.evaluate.bbc.bbc_cv`
   bootstraps scaffolds to give the selection-bias-corrected estimate and its 95% CI.
4. **Final fit** of the winner on every training molecule.
5. **Uncertainty** from the winner's out-of-fold predictions (scaffold-held-out, so the
   calibration reflects new chemotypes):

   * regression — normalized split-conformal intervals (Papadopoulos et al. 2011):
     ``ŷ ± q·σ(x)`` where ``σ(x)`` is a floor plus the mean absolute out-of-fold residual
     of the molecule's 10 nearest training neighbours (Tanimoto); ``q`` is the conformal
     quantile (:func:`~insightome.audit.conformal.conformal_quantile`) of the scaled
     residuals. Molecules in poorly predicted regions get wider intervals.
   * binary — a Platt-calibrated probability (logistic recalibration of the out-of-fold
     logits) and a class-conditional (Mondrian) conformal prediction set: each class's
     threshold is the conformal quantile of ``1 − p(true class)`` over the molecules of that
     class, so coverage holds for actives and inactives separately. The set is ``{0}``,
     ``{1}``, both (the model cannot decide at this level) or empty (the molecule looks
     like neither class).
6. **Applicability domain**: similarity to the nearest training molecule (Tanimoto on
   Morgan radius-2 bits); below :data:`AD_THRESHOLD` a prediction is flagged out of domain.
7. **Salts**: molecules are reduced to their neutral parent, except for the endpoints in
   :data:`KEEP_FRAGMENTS` (solubility), whose value belongs to the salt as measured.
8. **Valid values**: endpoints that are positive by nature and span orders of magnitude
   (VDss, half-life, both clearances) are modelled as log10, so predictions are positive by
   construction; every prediction is then clipped to the endpoint's physical range (e.g.
   PPBR within 0–100 %), and ``clipped`` says when that changed the value.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from insightome.apps.admet.endpoints import Endpoint, endpoint
from insightome.apps.admet.similarity import TanimotoIndex, fingerprint_bits, neighbour_mean
from insightome.audit.conformal import conformal_quantile
from insightome.evaluate.bbc import bbc_cv
from insightome.evaluate.engine import cross_validated_predictions, predict_matrix
from insightome.evaluate.metrics import (
    MetricSpec,
    auc,
    average_precision,
    fold_thresholds,
    mae,
    spearman,
)
from insightome.evaluate.scaffold import ScaffoldKFold, murcko_scaffolds
from insightome.evaluate.splitters import ResamplingPlan
from insightome.models.candidates import Candidate

FOLDS = 5
LARGE = 5000  # from this many training molecules on: 3 folds and one configuration
LARGE_FOLDS = 3
LEVEL = 0.9
NEIGHBOURS = 10
SIGMA_FLOOR = 0.1  # σ floor, as a share of the median absolute out-of-fold residual
AD_THRESHOLD = 0.3
#: Positive, heavy-tailed endpoints modelled on the log10 scale (Y spans 3–5 decades).
LOG_ENDPOINTS = frozenset(
    {"vdss_lombardo", "half_life_obach", "clearance_hepatocyte_az", "clearance_microsome_az"}
)
#: Properties of the substance as measured, salts included: the counter-ion is kept. On
#: AqSolDB's TDC split (seed 1) the 170 multi-fragment test molecules had MAE 1.570 when
#: reduced to the parent and 1.132 with their counter-ions.
KEEP_FRAGMENTS = frozenset({"solubility_aqsoldb"})
METRICS: dict[str, MetricSpec] = {
    "MAE": MetricSpec("mae", mae, higher_is_better=False),
    "Spearman": MetricSpec("spearman", spearman, chance=0.0),
    "AUROC": MetricSpec("auroc", auc, chance=0.5),
    "AUPRC": MetricSpec("auprc", average_precision),
}

ProgressFn = Callable[[int], None]


PRESETS = ("default", "fast")


def admet_candidates(task: str, preset: str = "default", n: int = 0) -> list[Candidate]:
    """Two LightGBM configurations: 31-leaf trees with 500 rounds, and 15-leaf trees with
    1,000. Column subsampling (30%) suits the ~3,000 sparse, redundant fingerprint and
    descriptor columns. (On AqSolDB's TDC split LightGBM fitted in 15.5 s with MAE 0.726,
    XGBoost depth 6 in 28.8 s with MAE 0.742, one core each.) ``preset="fast"`` is one
    configuration of 150 rounds, for quick looks and tests. From :data:`LARGE` molecules
    on only the first configuration is fitted: with thousands of molecules the two differ
    little (AqSolDB: MAE 0.726 vs 0.727) and each fit costs tens of seconds."""
    family = "lightgbm" if task == "binary" else "lightgbm_regressor"
    if preset == "fast":
        return [
            Candidate(family, {"num_leaves": 31, "n_estimators": 150}, task=task, preprocess=False)
        ]
    if preset != "default":
        raise ValueError(f"unknown preset {preset!r}; choose one of {PRESETS}")
    grid = [
        Candidate(family, {"num_leaves": 31, "n_estimators": 500}, task=task, preprocess=False),
        Candidate(family, {"num_leaves": 15, "n_estimators": 1000}, task=task, preprocess=False),
    ]
    return grid[:1] if n >= LARGE else grid


@dataclass
class EndpointModel:
    """A fitted endpoint model with its calibration, domain reference and estimate."""

    name: str
    task: str
    log_target: bool
    pipeline: Any
    columns: list[str]
    level: float
    reference: TanimotoIndex
    ad_threshold: float
    y_scale: float
    n_train: int
    estimate: dict[str, Any]
    candidates: list[dict[str, Any]]
    winner: str
    # regression: scaled-residual quantile, σ floor, neighbours' out-of-fold |residual|
    quantile: float = math.nan
    sigma_floor: float = math.nan
    residuals: np.ndarray = field(default_factory=lambda: np.zeros(0))
    # binary: Platt coefficients (a, b) on the logit, and class thresholds
    platt: tuple[float, float] = (1.0, 0.0)
    class_thresholds: tuple[float, float] = (math.inf, math.inf)
    fit_seconds: float = 0.0

    @property
    def keep_fragments(self) -> bool:
        """Whether the model sees whole substances (salts with counter-ions), not parents."""
        return self.name in KEEP_FRAGMENTS

    @property
    def _index(self) -> pd.Index:
        return pd.Index(self.columns)

    @property
    def endpoint(self) -> Endpoint:
        return endpoint(self.name)

    # -- prediction -------------------------------------------------------------------
    def predict(
        self,
        features: pd.DataFrame,
        neighbours: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> pd.DataFrame:
        """Predictions with uncertainty, domain and clipping flags (one row per input).

        Columns: ``<name>`` (value in TDC units, or calibrated P(Y = 1)); ``_lower`` and
        ``_upper`` (regression interval at :attr:`level`); ``_set`` (binary prediction
        set "0", "1", "0,1" or ""); ``_similarity``; ``_in_domain``; ``_clipped``. Rows
        with missing features (invalid molecules) are NaN / empty / False.
        ``neighbours`` — (nearest-neighbour similarity, neighbours' mean out-of-fold
        residual) of every row — is given by a bundle that compares molecules with all its
        endpoints' training sets at once; otherwise it is computed here.
        """
        n = len(features)
        # a bundle passes the same table (these exact columns) to every model: no copies
        table = features if features.columns.equals(self._index) else features[self.columns]
        ok = ~np.isnan(table.to_numpy(dtype=np.float32)).all(axis=1)
        X = table if ok.all() else table.loc[ok]
        if neighbours is None:
            neighbours = self.neighbours(fingerprint_bits(table))
        sim = np.where(ok, neighbours[0], np.nan)
        difficulty = neighbours[1][ok]
        raw = predict_matrix(self.pipeline, X, self.task, 2)[:, 0] if len(X) else np.zeros(0)
        name = self.name
        out = pd.DataFrame(index=features.index)
        value = np.full(n, np.nan)
        lower = np.full(n, np.nan)
        upper = np.full(n, np.nan)
        sets = np.full(n, "", dtype=object)
        clipped = np.zeros(n, dtype=bool)
        if self.task == "regression":
            half = self.quantile * (self.sigma_floor + difficulty)
            lo, hi = raw - half, raw + half
            if self.log_target:
                raw, lo, hi = 10.0**raw, 10.0**lo, 10.0**hi
            clipped_value = self.endpoint.clip(raw)
            clipped[ok] = ~np.isclose(clipped_value, raw, rtol=0, atol=0)
            value[ok] = clipped_value
            lower[ok] = self.endpoint.clip(lo)
            upper[ok] = self.endpoint.clip(hi)
        else:
            p = self.calibrated(raw)
            value[ok] = p
            sets[ok] = prediction_sets(p, self.class_thresholds)
        out[name] = value
        out[f"{name}_lower"] = lower
        out[f"{name}_upper"] = upper
        out[f"{name}_set"] = sets
        out[f"{name}_similarity"] = sim
        out[f"{name}_in_domain"] = ok & (np.nan_to_num(sim) >= self.ad_threshold)
        out[f"{name}_clipped"] = clipped
        return out

    def neighbours(self, bits: Any) -> tuple[np.ndarray, np.ndarray]:
        """(similarity to the nearest training molecule, mean out-of-fold |residual| of the
        nearest :data:`NEIGHBOURS` training molecules) of each fingerprint."""
        similarity = np.zeros(bits.shape[0])
        difficulty = np.zeros(bits.shape[0])
        for rows, block in self.reference.blocks(bits):
            similarity[rows], difficulty[rows] = self.from_similarities(block)
        return similarity, difficulty

    def from_similarities(self, block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(nearest similarity, neighbours' mean out-of-fold |residual|) from a block of
        similarities to the training molecules, columns in training order (0 for binary
        endpoints, which have no residuals)."""
        if block.shape[1] == 0:
            return np.zeros(len(block)), np.zeros(len(block))
        difficulty = (
            neighbour_mean(block, self.residuals, NEIGHBOURS)
            if self.task == "regression"
            else np.zeros(len(block))
        )
        return block.max(axis=1), difficulty

    def calibrated(self, p: np.ndarray) -> np.ndarray:
        """Platt-recalibrated probabilities."""
        a, b = self.platt
        return 1.0 / (1.0 + np.exp(-(a * _logit(p) + b)))

    def summary(self) -> dict[str, Any]:
        """What the model is and how well it is expected to do (JSON-ready)."""
        ep = self.endpoint
        return {
            "endpoint": self.name,
            "task": self.task,
            "metric": ep.metric,
            "unit": ep.unit,
            "modelled_as": "log10(Y)" if self.log_target else "Y",
            "n_train": self.n_train,
            "winner": self.winner,
            "candidates": self.candidates,
            "scaffold_cv_estimate": self.estimate,
            "conformal_level": self.level,
            "ad_threshold": self.ad_threshold,
            "fit_seconds": round(self.fit_seconds, 1),
        }


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(np.asarray(p, float), 1e-6, 1 - 1e-6)
    return np.log(q / (1 - q))


def prediction_sets(p: np.ndarray, thresholds: tuple[float, float]) -> np.ndarray:
    """Mondrian conformal sets from calibrated P(Y = 1) and per-class thresholds."""
    has0 = p <= thresholds[0]  # nonconformity of class 0 is 1 − P(Y = 0) = p
    has1 = 1.0 - p <= thresholds[1]
    labels = np.array(["", "1", "0", "0,1"], dtype=object)
    return labels[has0.astype(int) * 2 + has1.astype(int)]


def metric_spec(ep: Endpoint) -> MetricSpec:
    return METRICS[ep.metric]


def scaffold_plan(smiles: list[str], seed: int, folds: int = FOLDS) -> ResamplingPlan:
    """One repeat of scaffold k-fold cross-validation as a :class:`ResamplingPlan`."""
    splits = tuple(ScaffoldKFold(folds, seed=seed).split(smiles, groups=smiles))
    return ResamplingPlan((splits,), folds, 1, (seed,), True)


def scaffold_codes(smiles: list[str]) -> np.ndarray:
    """Integer scaffold group of each molecule (for bootstraps that resample scaffolds)."""
    keys = [s if s is not None else f"\x00{i}" for i, s in enumerate(murcko_scaffolds(smiles))]
    return pd.factorize(pd.Series(keys))[0]


def fit_endpoint(
    name: str,
    smiles: list[str],
    y: np.ndarray,
    features: pd.DataFrame,
    *,
    seed: int = 0,
    level: float = LEVEL,
    n_jobs: int = 1,
    n_bootstrap: int = 1000,
    preset: str = "default",
    progress: ProgressFn | None = None,
) -> EndpointModel:
    """Select, estimate, fit and calibrate one endpoint's model (see the module doc).

    ``smiles`` are the standardized training molecules (one per row of ``features``), ``y``
    their values in TDC units (0/1 for binary endpoints).
    """
    start = time.perf_counter()
    ep = endpoint(name)
    name = ep.stem
    task = "binary" if ep.is_binary else "regression"
    log_target = name in LOG_ENDPOINTS
    y = np.asarray(y, dtype=float)
    y_model = np.log10(y) if log_target else y
    if task == "binary":
        y_model = y_model.astype(int)
    X = features.reset_index(drop=True)
    cands = admet_candidates(task, preset, len(y))
    folds = LARGE_FOLDS if len(y) >= LARGE else FOLDS
    plan = scaffold_plan(smiles, seed, folds)
    cv = cross_validated_predictions(
        X,
        y_model,
        cands,
        plan,
        n_classes=2 if task == "binary" else 0,
        seed=seed,
        n_jobs=n_jobs,
        progress=progress,
    )
    spec = metric_spec(ep)
    bbc = bbc_cv(
        cv.oof,
        y_model,
        task,
        n_bootstrap=n_bootstrap,
        seed=seed,
        groups=scaffold_codes(smiles),
        metric=spec,
        thresholds=fold_thresholds(y_model, plan.splits) if task == "binary" else None,
    )
    winner = cands[bbc.winner]
    oof = cv.oof[0, bbc.winner, :, 0]
    pipeline = winner.build(X, seed)
    pipeline.set_params(model__n_jobs=max(1, n_jobs))
    pipeline.fit(X, y_model)
    pipeline.set_params(model__n_jobs=1)
    reference = TanimotoIndex(fingerprint_bits(X))
    model = EndpointModel(
        name=name,
        task=task,
        log_target=log_target,
        pipeline=pipeline,
        columns=list(X.columns),
        level=level,
        reference=reference,
        ad_threshold=AD_THRESHOLD,
        y_scale=float(np.std(y, ddof=1)) if task == "regression" else math.nan,
        n_train=len(y),
        estimate={
            "metric": ep.metric,
            "value": bbc.estimate.value,
            "ci95": list(bbc.estimate.ci95),
            "cv_plain": bbc.estimate.plain_cv_value,
            "folds": folds,
            "bootstraps": n_bootstrap,
        },
        candidates=[
            {**c.to_dict(), "cv_" + ep.metric: float(v)}
            for c, v in zip(cands, bbc.cv_mean, strict=True)
        ],
        winner=winner.name,
    )
    if task == "regression":
        _calibrate_regression(model, y_model, oof)
    else:
        _calibrate_binary(model, y_model, oof)
    model.fit_seconds = time.perf_counter() - start
    return model


def _calibrate_regression(model: EndpointModel, y: np.ndarray, oof: np.ndarray) -> None:
    residuals = np.abs(y - oof)
    bits = model.reference.bits
    difficulty = np.zeros(len(y))
    positions = np.arange(len(y))
    for rows, block in model.reference.blocks(bits):
        difficulty[rows] = neighbour_mean(block, residuals, NEIGHBOURS, exclude=positions[rows])
    floor = SIGMA_FLOOR * float(np.median(residuals)) or 1e-6
    model.residuals = residuals
    model.sigma_floor = floor
    model.quantile = conformal_quantile(residuals / (floor + difficulty), model.level)


def _calibrate_binary(model: EndpointModel, y: np.ndarray, oof: np.ndarray) -> None:
    if len(np.unique(y)) < 2:
        raise ValueError(f"{model.name}: the training data hold one class only")
    platt = LogisticRegression(C=1e4).fit(_logit(oof).reshape(-1, 1), y)
    model.platt = (float(platt.coef_[0, 0]), float(platt.intercept_[0]))
    p = model.calibrated(oof)
    model.class_thresholds = (
        conformal_quantile(p[y == 0], model.level),  # class 0: nonconformity p
        conformal_quantile(1.0 - p[y == 1], model.level),  # class 1: nonconformity 1 − p
    )
