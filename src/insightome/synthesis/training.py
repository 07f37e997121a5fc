"""Training on real plus synthetic rows, inside ``fit`` only (a scikit-learn meta-estimator).

:class:`SyntheticTraining` wraps an estimator (a Pipeline taking the feature table). Its
``fit(X, y)`` fits a synthesizer on the training rows it is given, features and outcome
together, draws ``ratio`` x n synthetic rows and fits the estimator on real plus synthetic
rows (``mode="augment"``) or on synthetic rows only (``mode="replace"``). Prediction is the
wrapped estimator's. Synthesis happens in ``fit`` alone, so under any cross-validation the
synthesizer sees the training folds only, and no synthetic row is ever scored.

The outcome, by task:

* binary / multiclass — drawn first, stratified: each class gets its training share of the
  synthetic rows (largest remainders), and at least one row, so every class of the
  training rows is present; the features are then drawn given it (CART visits the outcome
  first; the copula draws the other columns from its conditional normal).
* regression — an ordinary column, visited first by CART.
* survival — the engine's signed time (``time`` for an event, ``-time`` censored) becomes
  an event column (drawn first and stratified, as a class) and a time column, and back.

When ``ratio`` x n is smaller than the number of classes, the number of synthetic rows is
raised to it, with a note (``notes_``); nothing is dropped silently.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Self

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone
from sklearn.utils import Tags, get_tags
from sklearn.utils.metaestimators import available_if

from insightome.synthesis.cart import SequentialCART
from insightome.synthesis.copula import GaussianCopula

METHODS = ("cart", "copula")
MODES = ("augment", "replace")
TASKS = ("binary", "multiclass", "regression", "survival")
OUTCOME = "__outcome__"
EVENT = "__event__"
TIME = "__time__"


def stratified_counts(labels: np.ndarray, n: int) -> dict[object, int]:
    """``n`` rows shared among the classes of ``labels`` by their shares (largest
    remainders), each class at least one row (taken from the largest)."""
    classes, counts = np.unique(labels, return_counts=True)
    exact = counts / counts.sum() * n
    alloc = np.floor(exact).astype(int)
    alloc[np.argsort(-(exact - alloc), kind="stable")[: n - alloc.sum()]] += 1
    for k in np.flatnonzero(alloc == 0):
        alloc[np.argmax(alloc)] -= 1
        alloc[k] = 1
    return {c: int(a) for c, a in zip(classes.tolist(), alloc, strict=True)}


def _has(name: str) -> Callable[[SyntheticTraining], bool]:
    """available_if's check: the (fitted, else the given) estimator has ``name``."""
    return lambda self: hasattr(getattr(self, "estimator_", self.estimator), name)


class SyntheticTraining(MetaEstimatorMixin, BaseEstimator):
    """An estimator trained on real + synthetic rows (or synthetic only), synthesized from
    the rows ``fit`` receives."""

    def __init__(
        self,
        estimator: BaseEstimator,
        method: str = "cart",
        mode: str = "augment",
        ratio: float = 1.0,
        task: str = "binary",
        seed: int = 0,
        smoothing: str | None = None,
    ) -> None:
        self.estimator = estimator
        self.method = method
        self.mode = mode
        self.ratio = ratio
        self.task = task
        self.seed = seed
        self.smoothing = smoothing

    def _check_params(self) -> None:
        for name, value, allowed in (
            ("method", self.method, METHODS),
            ("mode", self.mode, MODES),
            ("task", self.task, TASKS),
        ):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        if not self.ratio > 0:
            raise ValueError(f"ratio must be positive, got {self.ratio!r}")

    # -- the table the synthesizer learns ------------------------------------------
    def _table(self, X: pd.DataFrame, y: np.ndarray) -> tuple[pd.DataFrame, str]:
        """The outcome column(s) in front of the features; the name of the one drawn first."""
        if self.task == "survival":
            outcome = pd.DataFrame({EVENT: (y > 0).astype(float), TIME: np.abs(y)})
            first = EVENT
        elif self.task == "regression":
            outcome, first = pd.DataFrame({OUTCOME: y.astype(float)}), OUTCOME
        else:
            outcome, first = pd.DataFrame({OUTCOME: pd.Series(y, dtype=object)}), OUTCOME
        clash = set(outcome.columns) & set(map(str, X.columns))
        if clash:
            raise ValueError(f"feature column(s) {sorted(clash)} clash with the outcome's name")
        return pd.concat([outcome, X.reset_index(drop=True)], axis=1), first

    def _synthesizer(self, first: str) -> SequentialCART | GaussianCopula:
        # ``smoothing`` (CART only) defaults to None: augmented rows never leave the model, so
        # the sharing default (density smoothing, for disclosure control) does not apply, and
        # CART as augmentation was measured unsmoothed; TSTR passes the sharing default, so it
        # measures the generator whose table is released
        return (
            SequentialCART(first=first, smoothing=self.smoothing)
            if self.method == "cart"
            else GaussianCopula()
        )

    def _n_synthetic(self, n: int, labels: np.ndarray | None) -> int:
        wanted = max(1, round(self.ratio * n))
        if labels is None:
            return wanted
        n_classes = len(np.unique(labels))
        if wanted < n_classes:
            self.notes_.append(
                f"synthetic rows raised from {wanted} to {n_classes} so that every one of "
                f"the {n_classes} classes is present"
            )
            return n_classes
        return wanted

    # -- fit / predict ----------------------------------------------------------------
    def fit(self, X: pd.DataFrame | np.ndarray, y: np.ndarray) -> Self:
        self._check_params()
        self.notes_: list[str] = []
        if isinstance(X, pd.DataFrame):
            frame = X.reset_index(drop=True)
        else:
            frame = pd.DataFrame(np.asarray(X)).rename(columns=str)
        y = np.asarray(y)
        table, first = self._table(frame, y)
        synthesizer = self._synthesizer(first).fit(table, self.seed)
        labels = None
        if self.task in ("binary", "multiclass"):
            labels = y
        elif self.task == "survival":
            labels = (y > 0).astype(float)
        n_synthetic = self._n_synthetic(len(y), labels)
        given = None
        if labels is not None:
            counts = stratified_counts(labels, n_synthetic)
            drawn = np.repeat(list(counts), list(counts.values()))
            drawn = np.random.default_rng(self.seed).permutation(drawn)  # not class blocks
            given = pd.Series(drawn, name=first, dtype=object if first == OUTCOME else float)
        synthetic = synthesizer.sample(n_synthetic, self.seed + 1, given=given)
        X_syn = synthetic.iloc[:, table.shape[1] - frame.shape[1] :]
        if self.task == "survival":
            event = synthetic[EVENT].to_numpy(float) == 1
            y_syn = np.where(event, 1.0, -1.0) * synthetic[TIME].to_numpy(float)
        elif self.task == "regression":
            y_syn = synthetic[OUTCOME].to_numpy(float)
        else:
            y_syn = synthetic[OUTCOME].to_numpy(dtype=y.dtype)
        # the fitted synthesizer is NOT kept: it holds the training patients' values (CART's
        # leaf donors, the copula's marginals), and a saved model must not carry them
        self.n_synthetic_ = n_synthetic
        self.notes_ = [*synthesizer.notes, *self.notes_]
        if self.mode == "augment":
            X_fit = pd.concat([frame, X_syn], ignore_index=True)
            y_fit = np.concatenate([y, y_syn])
        else:
            X_fit, y_fit = X_syn, y_syn
        if not isinstance(X, pd.DataFrame):
            X_fit = X_fit.to_numpy()
        self.estimator_ = clone(self.estimator).fit(X_fit, y_fit)
        return self

    @property
    def classes_(self) -> np.ndarray:
        return self.estimator_.classes_

    @available_if(_has("predict"))
    def predict(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        return self.estimator_.predict(X)

    @available_if(_has("predict_proba"))
    def predict_proba(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        return self.estimator_.predict_proba(X)

    @available_if(_has("decision_function"))
    def decision_function(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        return self.estimator_.decision_function(X)

    @available_if(_has("score"))
    def score(self, X: pd.DataFrame | np.ndarray, y: np.ndarray) -> float:
        return float(self.estimator_.score(X, y))

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator)
        tags.estimator_type = inner.estimator_type
        tags.classifier_tags = inner.classifier_tags
        tags.regressor_tags = inner.regressor_tags
        tags.input_tags.allow_nan = inner.input_tags.allow_nan
        return tags
