"""SVMs with Platt-scaled probabilities that fit on very small classes: the linear SVM of
the default candidates and the kernel SVM of the quantum set (an RBF kernel, or the quantum
fidelity kernel of :mod:`insightome.models.quantum`, any callable kernel)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import SVC, LinearSVC
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

GROUPS_NOTE = (
    "{families} with --groups: the internal 3-fold Platt calibration split of an SVM does not "
    "see the groups, so a patient's samples can be on both sides of it (groups not "
    "respected), and the Platt map, fitted on scores of patients the SVM has seen, can make "
    "its probabilities overconfident. The outer CV, BBC-CV and the audit keep patients "
    "together."
)
#: the families whose SVM is calibrated by that split (CalibratedLinearSVC, CalibratedKernelSVC)
PLATT_FAMILIES = ("linear_svm", "quantum_kernel_svm", "rbf_svm")


def platt_calibrated(
    svm: Any, X: np.ndarray, y: np.ndarray, random_state: int
) -> CalibratedClassifierCV:
    """``svm`` with the sigmoid (Platt) map fitted by internal stratified CV with up to 3
    folds — as many as the smallest class allows; with a single-sample class, the SVM is
    fitted once and the sigmoid on its training scores (optimistic, but it only rescales
    probabilities: the ranking, and so the AUC, is the SVM's own)."""
    smallest = int(np.bincount(np.unique(y, return_inverse=True)[1]).min())
    if smallest >= 2:
        cv = StratifiedKFold(min(3, smallest), shuffle=True, random_state=random_state)
        return CalibratedClassifierCV(svm, cv=cv, method="sigmoid").fit(X, y)
    frozen = FrozenEstimator(svm.fit(X, y))
    # scikit-learn warns "The least populated class ..."; the run counts that warning as
    # this fallback (evaluate.engine.KNOWN_WARNINGS) and notes it
    return CalibratedClassifierCV(frozen, method="sigmoid").fit(X, y)


class _PlattCalibrated(ClassifierMixin, BaseEstimator):
    """Prediction of an SVM calibrated by :func:`platt_calibrated` (``model_``)."""

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "model_")
        return self.model_.predict_proba(validate_data(self, X, reset=False))

    def predict(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "model_")
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


class CalibratedLinearSVC(_PlattCalibrated):
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
        self.model_ = platt_calibrated(svm, X, y, self.random_state)
        self.classes_ = self.model_.classes_
        return self


class CalibratedKernelSVC(_PlattCalibrated):
    """A kernel SVC (balanced class weights) with Platt-scaled probabilities, calibrated as
    :class:`CalibratedLinearSVC` is (the same internal folds, the same groups caveat).

    ``kernel`` is scikit-learn's (``"rbf"``, with ``gamma``) or a callable ``k(A, B)``
    returning the (len(A) × len(B)) Gram matrix, such as the quantum fidelity kernel.
    """

    def __init__(
        self, C: float = 1.0, kernel: Any = "rbf", gamma: Any = "scale", random_state: int = 0
    ) -> None:
        self.C = C
        self.kernel = kernel
        self.gamma = gamma
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray) -> CalibratedKernelSVC:
        X, y = validate_data(self, X, y)
        check_classification_targets(y)
        svm = SVC(
            C=self.C, kernel=self.kernel, gamma=self.gamma, class_weight="balanced",
            random_state=self.random_state,
        )  # fmt: skip
        self.model_ = platt_calibrated(svm, X, y, self.random_state)
        self.classes_ = self.model_.classes_
        return self
