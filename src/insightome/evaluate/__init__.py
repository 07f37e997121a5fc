"""Resampling, metrics and honest performance estimation."""

from insightome.evaluate.bbc import BBCResult, bbc_cv
from insightome.evaluate.engine import CVPredictions, cross_validated_predictions
from insightome.evaluate.splitters import ResamplingPlan, make_plan

__all__ = [
    "BBCResult",
    "CVPredictions",
    "ResamplingPlan",
    "bbc_cv",
    "cross_validated_predictions",
    "make_plan",
]
