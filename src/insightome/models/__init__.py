"""Candidate pipelines and survival estimators."""

from insightome.models.candidates import Candidate, candidates
from insightome.models.survival import CoxElasticNet, XGBCox, cox_score_test

__all__ = ["Candidate", "CoxElasticNet", "XGBCox", "candidates", "cox_score_test"]
