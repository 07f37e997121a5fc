"""A minimal results.json dict that matches the results types, for tests that write a run
directory around a hand-made model (no study is run)."""

from __future__ import annotations

from typing import Any


def minimal_results(name: str = "example") -> dict[str, Any]:
    """A binary run of 2 samples with one candidate, no discovery and no audit."""
    winner = {
        "name": "ridge_logistic(C=1.0,k=all)",
        "family": "ridge_logistic",
        "params": {"C": 1.0, "k": "all"},
    }
    return {
        "schema": "insightome.results/1",
        "schema_doc": "docs/results-schema.md",
        "name": name,
        "created": "2026-12-05T00:00:00+00:00",
        "task": "binary",
        "task_detected": True,
        "n_samples": 2,
        "n_features": 1,
        "n_features_dropped": 0,
        "outcome": {
            "target": "y",
            "time": None,
            "event": None,
            "classes": ["a", "b"],
            "class_counts": {"a": 1, "b": 1},
            "positive_class": "b",
        },
        "spec": {
            "task": "binary",
            "target": "y",
            "time": None,
            "event": None,
            "sensitive": [],
            "use_sensitive": False,
            "groups": None,
            "site": None,
            "exclude": [],
            "positive_class": None,
            "task_detected": True,
        },
        "winner": winner,
        "estimate": {
            "metric": "auc",
            "value": 0.5,
            "ci95": [0.5, 0.5],
            "plain_cv_value": 0.5,
            "optimism": 0.0,
            "permutation_p": None,
            "method": "BBC-CV",
            "n_bootstrap": 200,
            "chance_level": 0.5,
        },
        "secondary": {},
        "decision_threshold": 0.5,
        "configurations": [
            {
                **winner,
                "cv_value": 0.5,
                "cv_sd": None,
                "bbc_selection_frequency": 1.0,
                "failed_folds": 0,
                "fit_seconds": 0.01,
                "fit_warnings": {},
            }
        ],
        "resampling": {
            "folds": 2,
            "repeats": 1,
            "stratified": True,
            "grouped": False,
            "cv_seeds": [0],
            "n_bootstrap": 200,
            "seed": 0,
        },
        "permutation": {"n": 0, "p_value": None, "null": []},
        "warnings": [],
        "notes": [],
        "data": {"files": [], "orientation": None, "orientation_reason": None},
        "versions": {"python": "3.11"},
        "seeds": {
            "seed": 0,
            "cv_seeds": [0],
            "bootstrap_seed": 0,
            "permutation_seed": 0,
            "model_seed": 0,
        },
        "timings": {"total": 0.1},
    }
