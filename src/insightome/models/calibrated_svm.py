"""A linear SVM with Platt-scaled probabilities that fits on very small classes."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

GROUPS_NOTE = (
    "linear_svm with --groups: its internal 3-fold Platt calibration split does not see the "
    "groups, so a patient's samples can be on both sides of it (groups not respected), and "
    "the Platt map, fitted on scores of patients the SVM has seen, can make its "
    "probabilities overconfident. The outer CV, BBC-CV and the audit keep patients together."
)


class CalibratedLinearSVC(ClassifierMixin, BaseEstimator):
    """LinearSVC (balanced class weights) whose scores are mapped to probabilities.

    Calibration is the sigmoid (Platt) map fitted by internal stratified CV with up to 3
    folds — as many as the smallest class allows. When a class has a single training
    sample, internal CV is impossible: the SVM is fitted once and the sigmoid is fitted on
    its training scores (optimistic, but it only rescales probabilities; the ranking, and
    so the AUC, is the SVM's own).

    The internal folds see no ``--groups``: the run's pipelines are fitted without routing
    metadata, so a patient's samples can fall on both sides of a calibration split, which
    can make the probabilities overconfident. A run with ``--groups``
    says so in its notes (:data:`GROUPS_NOTE`).
    """

    def __init__(self, C: float = 1.0, random_state: int = 0) -> None:
        self.C = C
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray) -> CalibratedLinearSVC:
        X, y = validate_data(self, X, y)
        check_classification_targets(y)
        svm = LinearSVC(
            C=self.C, class_weight="balanced", max_iter=5000, random_state=self.random_state
        )
        smallest = int(np.bincount(np.unique(y, return_inverse=True)[1]).min())
        if smallest >= 2:
            cv = StratifiedKFold(min(3, smallest), shuffle=True, random_state=self.random_state)
            self.model_ = CalibratedClassifierCV(svm, cv=cv, method="sigmoid").fit(X, y)
        else:
            frozen = FrozenEstimator(svm.fit(X, y))
            # scikit-learn warns "The least populated class ..."; the run counts that
            # warning as this fallback (evaluate.engine.KNOWN_WARNINGS) and notes it
            self.model_ = CalibratedClassifierCV(frozen, method="sigmoid").fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "model_")
        return self.model_.predict_proba(validate_data(self, X, reset=False))

    def predict(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "model_")
        return self.classes_[self.predict_proba(X).argmax(axis=1)]
