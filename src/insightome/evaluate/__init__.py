"""Resampling, metrics and honest performance estimation.

:class:`BBCSearchCV` (the scikit-learn-style entry point, :mod:`.search`) is imported on
first use: it reads the study module (and so AnnData), which the fit workers, importing
this package for the engine, do not need.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from insightome.evaluate.bbc import BBCResult, bbc_cv
from insightome.evaluate.engine import CVPredictions, cross_validated_predictions
from insightome.evaluate.splitters import ResamplingPlan, make_plan

__all__ = [
    "BBCResult",
    "BBCSearchCV",
    "CVPredictions",
    "ResamplingPlan",
    "bbc_cv",
    "cross_validated_predictions",
    "make_plan",
]


def __getattr__(name: str) -> Any:
    if name == "BBCSearchCV":
        value = import_module("insightome.evaluate.search").BBCSearchCV
        globals()[name] = value
        return value
    raise AttributeError(f"module 'insightome.evaluate' has no attribute {name!r}")
