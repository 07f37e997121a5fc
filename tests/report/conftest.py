"""Realistic runs for the report tests, built from datasets shipped with the dependencies.

Each fixture fits a few candidate configurations with real cross-validation, keeps the
winner's out-of-fold predictions in the ``predictions.csv`` layout, and writes a
``results.json``-shaped dict around them (``docs/results-schema.md``). The estimate is a
simple stand-in for BBC-CV (plain CV minus a fixed optimism): the report only displays it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

try:  # the package is installed editable in CI; fall back to the source tree here
    import insightome.report  # noqa: F401
except ModuleNotFoundError:  # pragma: no cover - depends on the environment
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import r2_score, roc_auc_score
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

SEED = 20240607
REPEATS = 2
OPTIMISM = 0.012


def _ids(prefix: str, n: int) -> pd.Index:
    return pd.Index([f"{prefix}-{i:04d}" for i in range(1, n + 1)], name="sample_id")


def _base(
    name: str,
    task: str,
    metric: str,
    n: int,
    n_features: int,
    outcome: dict[str, Any],
    configs: list[dict[str, Any]],
    chance: float,
) -> dict[str, Any]:
    """A results dict around real candidate scores; the winner is the best cv_value."""
    winner = max((c for c in configs if c["cv_value"] is not None), key=lambda c: c["cv_value"])
    plain = winner["cv_value"]
    value = plain - OPTIMISM
    rng = np.random.default_rng(SEED)
    null = (chance + rng.normal(0, 0.03, 99)).tolist()
    return {
        "schema": "insightome.results/1",
        "name": name,
        "created": "2024-06-07T12:34:56Z",
        "task": task,
        "task_detected": True,
        "n_samples": n,
        "n_features": n_features,
        "n_features_dropped": 2,
        "outcome": outcome,
        "spec": {
            "target": outcome.get("target"),
            "sensitive": ["sex"],
            "groups": "patient",
            "site": None,
            "folds": 5,
            "repeats": REPEATS,
            "exclude": [],
        },
        "winner": {k: winner[k] for k in ("name", "family", "params")},
        "estimate": {
            "metric": metric,
            "value": value,
            "ci95": [value - 0.031, value + min(0.022, (1 - value) / 2)],
            "plain_cv_value": plain,
            "optimism": plain - value,
            "permutation_p": 0.01,
            "method": "BBC-CV",
            "n_bootstrap": 1000,
            "chance_level": chance,
        },
        "secondary": {
            "accuracy": {"value": 0.9, "ci95": [0.87, 0.93], "plain_cv_value": 0.91},
            "brier": {"value": None, "ci95": [None, None], "plain_cv_value": float("nan")},
        },
        "configurations": configs,
        "resampling": {
            "folds": 5,
            "repeats": REPEATS,
            "stratified": task != "regression",
            "grouped": False,
            "n_bootstrap": 1000,
            "seed": SEED,
        },
        "permutation": {
            "n": 99,
            "p_value": 0.01,
            "null": null,
            "observed": value,
            "statistic": f"BBC-CV {metric} of the whole selection",
        },
        "warnings": [f"Only {n} samples: estimates have wide intervals <check>."],
        "notes": ["Dropped 2 constant features.", "Encoded the outcome as classes."],
        "data": {
            "files": [
                {
                    "role": "data",
                    "path": f"/data/{name}.csv",
                    "sha256": "ab12" * 16,
                    "format": "csv",
                    "n_rows": n,
                    "n_cols": n_features + 3,
                    "read_options": {"sep": ","},
                }
            ],
            "orientation": "samples-by-features",
            "orientation_reason": "sample IDs in the first column",
        },
        "versions": {
            "python": "3.11.9",
            "insightome": "0.1.0",
            "numpy": np.__version__,
            "pandas": pd.__version__,
        },
        "seeds": {"seed": SEED, "cv_seeds": [1, 2], "bootstrap_seed": 3, "permutation_seed": 4},
        "timings": {"load": 0.12, "resampling": 3.4, "estimation": 1.2, "total": 5.0},
    }


def _candidates(
    X: np.ndarray,
    y: np.ndarray,
    estimators: dict[str, Any],
    family: str,
    cv_class: type,
    method: str,
    score: Callable[[np.ndarray, np.ndarray], float],
) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """Real repeated-CV scores of each candidate, and its OOF predictions averaged."""
    configs, oof = [], {}
    for name, (est, params) in estimators.items():
        scores, preds = [], []
        for r in range(REPEATS):
            cv = cv_class(n_splits=5, shuffle=True, random_state=SEED + r)
            with threadpool_limits(1):  # tiny fits: BLAS threads only add contention
                p = cross_val_predict(est, X, y, cv=cv, method=method)
            preds.append(p)
            scores.append(score(y, p))
        oof[name] = np.mean(preds, axis=0)
        configs.append(
            {
                "name": name,
                "family": family,
                "params": params,
                "cv_value": float(np.mean(scores)),
                "cv_sd": float(np.std(scores, ddof=1)),
                "failed_folds": 0,
                "fit_seconds": 0.05,
            }
        )
    return configs, oof


@pytest.fixture(scope="session")
def binary_run() -> tuple[dict[str, Any], pd.DataFrame]:
    data = load_breast_cancer()
    labels = data.target_names[data.target]
    estimators = {
        f"logreg C={c}": (make_pipeline(StandardScaler(), LogisticRegression(C=c)), {"C": c})
        for c in (0.001, 0.01, 0.1, 1.0)
    }
    # predict_proba columns follow the sorted labels: benign, malignant
    configs, oof = _candidates(
        data.data,
        labels,
        estimators,
        "logistic",
        StratifiedKFold,
        "predict_proba",
        lambda y, p: roc_auc_score(y == "benign", p[:, 0]),
    )
    configs.append(
        {
            "name": "broken svm",
            "family": "svm",
            "params": {},
            "cv_value": None,
            "cv_sd": None,
            "failed_folds": 5,
            "fit_seconds": None,
        }
    )
    results = _base(
        "breast-cancer",
        "binary",
        "auc",
        len(labels),
        28,
        {
            "target": "diagnosis",
            "time": None,
            "event": None,
            "classes": ["malignant", "benign"],
            "positive_class": "benign",
            "class_counts": {"malignant": 212, "benign": 357},
        },
        configs,
        0.5,
    )
    prob = oof[results["winner"]["name"]]
    predictions = pd.DataFrame(
        {"y": labels, "prob_malignant": prob[:, 1], "prob_benign": prob[:, 0]},
        index=_ids("BC", len(labels)),
    )
    predictions["predicted_class"] = np.where(prob[:, 0] >= 0.5, "benign", "malignant")
    return results, predictions


@pytest.fixture(scope="session")
def multiclass_run() -> tuple[dict[str, Any], pd.DataFrame]:
    data = load_wine()
    labels = data.target_names[data.target]
    estimators = {
        f"logreg C={c}": (make_pipeline(StandardScaler(), LogisticRegression(C=c)), {"C": c})
        for c in (0.001, 0.1, 10.0)
    }
    configs, oof = _candidates(
        data.data,
        labels,
        estimators,
        "logistic",
        StratifiedKFold,
        "predict_proba",
        lambda y, p: roc_auc_score(y, p, multi_class="ovr", average="macro"),
    )
    classes = [str(c) for c in data.target_names]
    results = _base(
        "wine",
        "multiclass",
        "auc_macro_ovr",
        len(labels),
        13,
        {
            "target": "cultivar",
            "time": None,
            "event": None,
            "classes": classes,
            "class_counts": {c: int((labels == c).sum()) for c in classes},
        },
        configs,
        0.5,
    )
    prob = oof[results["winner"]["name"]]
    predictions = pd.DataFrame(
        {f"prob_{c}": prob[:, i] for i, c in enumerate(classes)}, index=_ids("WN", len(labels))
    )
    predictions.insert(0, "y", labels)
    predictions["predicted_class"] = np.asarray(classes)[prob.argmax(axis=1)]
    return results, predictions


@pytest.fixture(scope="session")
def regression_run() -> tuple[dict[str, Any], pd.DataFrame]:
    data = load_diabetes()
    y = data.target
    estimators = {
        f"ridge alpha={a}": (make_pipeline(StandardScaler(), Ridge(alpha=a)), {"alpha": a})
        for a in (0.1, 10.0, 1000.0)
    }
    configs, oof = _candidates(data.data, y, estimators, "ridge", KFold, "predict", r2_score)
    results = _base(
        "diabetes",
        "regression",
        "r2",
        len(y),
        10,
        {
            "target": "progression",
            "time": None,
            "event": None,
            "summary": {"mean": y.mean(), "sd": y.std(ddof=1), "min": y.min(), "max": y.max()},
        },
        configs,
        0.0,
    )
    del results["secondary"]["brier"]
    predictions = pd.DataFrame(
        {"y": y, "pred": oof[results["winner"]["name"]]}, index=_ids("DB", len(y))
    )
    return results, predictions


@pytest.fixture(scope="session")
def survival_run() -> tuple[dict[str, Any], pd.DataFrame]:
    from lifelines import CoxPHFitter
    from lifelines.datasets import load_rossi
    from lifelines.utils import concordance_index

    rossi = load_rossi()
    configs, risks = [], {}
    for penalizer in (0.01, 1.0):
        risk = np.zeros(len(rossi))
        for train, test in KFold(5, shuffle=True, random_state=SEED).split(rossi):
            cph = CoxPHFitter(penalizer=penalizer).fit(rossi.iloc[train], "week", "arrest")
            risk[test] = cph.predict_log_partial_hazard(rossi.iloc[test]).to_numpy()
        name = f"cox penalizer={penalizer}"
        risks[name] = risk
        configs.append(
            {
                "name": name,
                "family": "coxph",
                "params": {"penalizer": penalizer},
                "cv_value": concordance_index(rossi["week"], -risk, rossi["arrest"]),
                "cv_sd": 0.01,
                "failed_folds": 0,
                "fit_seconds": 0.2,
            }
        )
    results = _base(
        "rossi-recidivism",
        "survival",
        "c_index",
        len(rossi),
        7,
        {"target": None, "time": "week", "event": "arrest", "n_events": int(rossi["arrest"].sum())},
        configs,
        0.5,
    )
    results["permutation"] = {
        "n": 0,
        "p_value": None,
        "null": [],
        "observed": None,
        "statistic": None,
    }
    results["estimate"]["permutation_p"] = None
    results["secondary"] = {}
    predictions = pd.DataFrame(
        {
            "time": rossi["week"].to_numpy(),
            "event": rossi["arrest"].to_numpy(),
            "risk": risks[results["winner"]["name"]],
        },
        index=_ids("RS", len(rossi)),
    )
    return results, predictions
