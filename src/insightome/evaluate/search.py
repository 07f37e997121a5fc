"""``BBCSearchCV``: insightome's model selection and honest estimate as a scikit-learn
meta-estimator, for people who compose their own candidate pipelines.

It does what ``insightome.run`` does between the study and discovery, in three public
steps that can be called (and timed) one by one::

    search = BBCSearchCV([make_pipeline(StandardScaler(), LogisticRegression()), ...])
    search.cross_validate(X, y, groups)  # out-of-fold predictions of every candidate
    search.estimate()                    # selection + BBC-CV estimate and 95% CI
    search.refit_best(X, y)              # the winner refitted on all samples
    # or simply: search.fit(X, y, groups=groups)

Candidates are insightome :class:`~insightome.models.candidates.Candidate` objects or plain
scikit-learn estimators / Pipelines (fitted as given, through
:class:`~insightome.models.estimator_candidate.EstimatorCandidate`); ``None`` means the
task's default candidates, as ``insightome run`` uses. Outcomes: class labels (binary,
multiclass), numbers (regression) or signed survival time (:func:`signed_survival_time`;
``task="survival"`` must then be given).

Every fit runs in insightome's engine (:mod:`insightome.evaluate.engine`): a candidate
that fails on a fold is kept, reported (``cv_results_["failed_folds"]``, ``["error"]``)
and never selected; warnings raised while fitting are counted per candidate
(``cv_results_["fit_warnings"]``), and those of the final refit in ``refit_warnings_``.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.utils.metaestimators import available_if

from insightome.compute.cache import FitCache
from insightome.evaluate.bbc import (
    DEFAULT_INTERVAL,
    DEFAULT_POOLING,
    INTERVALS,
    POOLINGS,
    BBCResult,
    bbc_cv,
    cv_scores,
    estimator_arguments,
)
from insightome.evaluate.engine import (
    CVPredictions,
    ProgressFn,
    counted_warnings,
    cross_validated_predictions,
    predict_matrix,
)
from insightome.evaluate.metrics import (
    PRIMARY,
    MetricSpec,
    decision_threshold,
    fold_thresholds,
    predicted_classes,
)
from insightome.evaluate.search_inputs import (
    CLASSIFICATION,
    check_plan,
    class_codes,
    class_labels,
    default_repeats,
    feature_frame,
    group_labels,
    numeric_outcome,
    outcome_vector,
    resolve_candidates,
    signed_survival_time,
)
from insightome.evaluate.splitters import ResamplingPlan, make_plan
from insightome.models.ensemble import TASKS as ENSEMBLE_TASKS
from insightome.models.ensemble import averaged
from insightome.models.estimator_candidate import EstimatorCandidate
from insightome.outcome_encoding import TASKS, detect_task

__all__ = ["BBCEstimate", "BBCSearchCV", "default_repeats", "signed_survival_time"]


@dataclass(frozen=True)
class BBCEstimate:
    """The BBC-CV estimate of the selected model's performance on new samples."""

    metric: str
    value: float
    ci95: tuple[float, float]
    plain_cv_value: float  # the winner's own (optimistic) cross-validated score
    chance: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "value": self.value,
            "ci95": list(self.ci95),
            "plain_cv_value": self.plain_cv_value,
            "chance": self.chance,
        }


class BBCSearchCV(BaseEstimator):
    """Select the best of ``candidates`` by cross-validation and estimate the performance
    of that selection with BBC-CV (bootstrap bias-corrected CV) and a 95% CI.

    Parameters (stored as given; everything is checked and resolved in :meth:`fit`):

    candidates: list of :class:`Candidate` and/or scikit-learn estimators, or None for
        insightome's default candidates of the task (``preset``: "default" or "fast").
    task: "auto" (binary / multiclass / regression from ``y``) or one of
        "binary", "multiclass", "regression", "survival".
    folds, repeats: stratified (group-aware with ``groups``) ``folds``-fold CV, repeated
        ``repeats`` times (None: :func:`default_repeats`); ignored when ``cv`` is given.
    cv: a :class:`~insightome.evaluate.splitters.ResamplingPlan` to use as is.
    n_bootstrap, seed: BBC-CV bootstraps; ``seed`` also seeds the plan and the
        candidates' own randomness (insightome candidates; plain estimators keep theirs).
    metric: a :class:`~insightome.evaluate.metrics.MetricSpec` replacing the task's
        primary metric (AUC, macro one-vs-rest AUC, R², C-index) for selection and estimate.
    n_jobs: parallel fits (joblib; a surrounding ``joblib.parallel_config`` or insightome
        backend chooses where they run).
    refit: refit the winner on all samples at the end of :meth:`fit`.
    cache: a :class:`~insightome.compute.cache.FitCache` (fits reused across runs).
    progress: called with 1 after every finished fit.
    pooling, interval: how a bootstrap scores a candidate and how the 95% interval is read
        (:data:`~insightome.evaluate.bbc.POOLINGS`, :data:`~insightome.evaluate.bbc.INTERVALS`;
        benchmarks/results/estimators.md compares them).
    average_top: 0, or ≥ 2 (classification): the average of the ``average_top`` best
        candidates joins the selection (:mod:`insightome.models.ensemble`; chosen and
        corrected for inside every bootstrap); it is then the last of ``candidates_``.
    """

    def __init__(
        self,
        candidates: list[Any] | None = None,
        *,
        task: str = "auto",
        preset: str = "default",
        folds: int = 5,
        repeats: int | None = None,
        cv: ResamplingPlan | None = None,
        n_bootstrap: int = 1000,
        seed: int = 0,
        metric: MetricSpec | None = None,
        n_jobs: int = 1,
        refit: bool = True,
        cache: FitCache | None = None,
        progress: ProgressFn | None = None,
        pooling: str = DEFAULT_POOLING,
        interval: str = DEFAULT_INTERVAL,
        average_top: int = 0,
    ) -> None:
        self.candidates = candidates
        self.task = task
        self.preset = preset
        self.folds = folds
        self.repeats = repeats
        self.cv = cv
        self.n_bootstrap = n_bootstrap
        self.seed = seed
        self.metric = metric
        self.n_jobs = n_jobs
        self.refit = refit
        self.cache = cache
        self.progress = progress
        self.pooling = pooling
        self.interval = interval
        self.average_top = average_top

    # ----------------------------------------------------------------- the three steps
    def fit(self, X: Any, y: Any, groups: Any = None) -> BBCSearchCV:
        """:meth:`cross_validate`, :meth:`estimate` and (with ``refit``) :meth:`refit`."""
        self.cross_validate(X, y, groups)
        self.estimate()
        if self.refit:
            self.refit_best(X, y)
        return self

    def cross_validate(self, X: Any, y: Any, groups: Any = None) -> CVPredictions:
        """Out-of-fold predictions of every candidate over the resampling plan.

        Sets ``task_``, ``classes_`` (classification), ``candidates_`` (what the engine
        fits), ``plan_``, ``cv_predictions_`` and ``oof_`` (repeats × candidates ×
        samples × k: k = 1, or the number of classes for multiclass).
        """
        self._check_settings()
        features = self._features(X, fitting=True)
        y_raw = outcome_vector(y, len(features))
        self.task_ = self._task(y_raw)
        if self.average_top and self.task_ not in ENSEMBLE_TASKS:  # before any fit
            raise ValueError(
                f"average_top={self.average_top!r}: the outcome is a {self.task_} one; an "
                f"average of configurations is offered for {', '.join(ENSEMBLE_TASKS)}"
            )
        y_model = self._encode(y_raw, fitting=True)
        self.groups_ = None if groups is None else group_labels(groups, len(y_model))
        self.candidates_ = resolve_candidates(self.candidates, self.task_, features, self.preset)
        if features.shape[1] == 0 and not all(getattr(c, "cnn", None) for c in self.candidates_):
            raise ValueError(
                "X has no features: only candidates that add their own inside fit (the CNN's "
                "image score, --image-features cnn) can be fitted on it"
            )
        self.plan_ = self._plan(y_model)
        self.fold_thresholds_ = (
            fold_thresholds(y_model, self.plan_.splits) if self.task_ == "binary" else None
        )
        self.cv_predictions_ = cross_validated_predictions(
            features,
            y_model,
            self.candidates_,
            self.plan_,
            n_classes=self._n_classes(),
            seed=self.seed,
            n_jobs=self.n_jobs,
            progress=self.progress,
            cache=self.cache,
        )
        self.oof_ = self.cv_predictions_.oof
        self.n_configurations_ = len(self.candidates_)  # without an average estimate() adds
        self._y_model = y_model
        return self.cv_predictions_

    def estimate(self) -> BBCResult:
        """Select the winner and estimate its performance with BBC-CV (after
        :meth:`cross_validate`; nothing is refitted).

        Sets ``bbc_`` (the full :class:`~insightome.evaluate.bbc.BBCResult`, secondary
        metrics included), ``bbc_estimate_``, ``best_index_``, ``best_candidate_`` and
        ``cv_results_``. A candidate that failed on any fold is never the winner.
        """
        if not hasattr(self, "cv_predictions_"):
            raise NotFittedError("call cross_validate(X, y) before estimate()")
        # called again: from the cross-validated candidates, without the average it added
        n = self.n_configurations_
        self.candidates_ = self.candidates_[:n]
        self.cv_predictions_ = cv = _first(self.cv_predictions_, n)
        self.oof_ = cv.oof
        if (cv.failed_folds > 0).all():
            shown = "; ".join(f"{self.candidates_[c].name}: {e}" for c, e in cv.errors.items())
            raise ValueError(f"every candidate failed on at least one fold ({shown})")
        self.bbc_ = bbc_cv(
            self.oof_,
            self._y_model,
            self.task_,
            n_bootstrap=self.n_bootstrap,
            seed=self.seed,
            groups=self.groups_,
            metric=self.metric,
            thresholds=self.fold_thresholds_,
            **estimator_arguments(
                self.pooling, self.interval, self.plan_.splits, len(self._y_model)
            ),
            average_top=self.average_top,
        )
        if self.bbc_.averaged:  # the average joins the configurations, last
            members = [self.candidates_[c] for c in self.bbc_.averaged]
            self.candidates_ = [*self.candidates_, averaged(members)]
            self.cv_predictions_ = cv = _with_average(cv, self.bbc_.averaged)
            self.oof_ = cv.oof
        est = self.bbc_.estimate
        self.bbc_estimate_ = BBCEstimate(
            self.bbc_.metric, est.value, est.ci95, est.plain_cv_value, self.bbc_.chance
        )
        self.best_index_ = self.bbc_.winner
        best = self.candidates_[self.best_index_]
        self.best_candidate_ = best.estimator if isinstance(best, EstimatorCandidate) else best
        self.cv_results_ = self._cv_results()
        return self.bbc_

    def refit_best(self, X: Any, y: Any) -> Any:
        """Fit the winner on all samples (after :meth:`estimate`): ``best_estimator_``.

        Warnings raised by this fit are counted in ``refit_warnings_`` (category →
        count), not shown. Binary: ``decision_threshold_`` is the prevalence of ``y``.
        """
        if not hasattr(self, "best_index_"):
            raise NotFittedError("call cross_validate(X, y) and estimate() before refit_best()")
        features = self._features(X)
        y_model = self._encode(outcome_vector(y, len(features)))
        winner = self.candidates_[self.best_index_]
        with counted_warnings() as raised:
            model = winner.build(features, self.seed).fit(features, y_model)
        self.best_estimator_ = model
        self.refit_warnings_ = dict(raised)
        if self.task_ == "binary":
            self.decision_threshold_ = decision_threshold(y_model)
        return model

    # ------------------------------------------------------------------ fitted model
    def predict(self, X: Any) -> np.ndarray:
        """Class labels (binary: probability of ``classes_[1]`` ≥ ``decision_threshold_``,
        the training prevalence, as in insightome's runs; multiclass: the most probable),
        predicted values (regression) or risk scores (survival)."""
        model = self._best()
        features = self._features(X)
        if self.task_ in CLASSIFICATION:
            pred = predict_matrix(model, features, self.task_, self._n_classes())
            threshold = self.decision_threshold_ if self.task_ == "binary" else 0.0
            return self.classes_[predicted_classes(pred, threshold)]
        return np.asarray(model.predict(features))

    def _is_classification(self) -> bool:
        task = getattr(self, "task_", self.task)
        return task in (*CLASSIFICATION, "auto")

    @available_if(_is_classification)
    def predict_proba(self, X: Any) -> np.ndarray:
        """(n × classes) probabilities, columns in the order of ``classes_``."""
        model = self._best()
        return predict_matrix(model, self._features(X), "multiclass", self._n_classes())

    def score(self, X: Any, y: Any) -> float:
        """The search's metric (``metric`` or the task's primary one) of ``best_estimator_``
        on (X, y); negated when lower is better, so that higher is always better."""
        model = self._best()
        features = self._features(X)
        y_model = self._encode(outcome_vector(y, len(features)))
        spec = self.metric or PRIMARY[self.task_]
        pred = predict_matrix(model, features, self.task_, self._n_classes())
        fn = spec.thresholded(getattr(self, "decision_threshold_", None))
        value = float(fn(y_model, pred, np.ones((1, len(y_model))))[0])
        return value if spec.higher_is_better else -value

    def __sklearn_tags__(self) -> Any:
        from sklearn.utils import ClassifierTags, RegressorTags

        tags = super().__sklearn_tags__()
        if self.task in CLASSIFICATION:
            tags.estimator_type = "classifier"
            tags.classifier_tags = ClassifierTags(multi_class=self.task == "multiclass")
        elif self.task == "regression":
            tags.estimator_type = "regressor"
            tags.regressor_tags = RegressorTags()
        # insightome's own candidates impute; a plain estimator may not
        tags.input_tags.allow_nan = self.candidates is None
        return tags

    # ------------------------------------------------------------------ inside fit
    def _check_settings(self) -> None:
        if self.task != "auto" and self.task not in TASKS:
            raise ValueError(f"task={self.task!r}: choose 'auto' or one of {', '.join(TASKS)}")
        if self.cv is not None and not isinstance(self.cv, ResamplingPlan):
            raise TypeError(
                f"cv={self.cv!r}: give an insightome ResamplingPlan (evaluate.make_plan), "
                "or None to make one from folds and repeats"
            )
        for name, allowed in (("pooling", POOLINGS), ("interval", INTERVALS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name}={getattr(self, name)!r}: choose one of {allowed}")
        if self.average_top and (
            self.average_top < 2 or self.task not in (*ENSEMBLE_TASKS, "auto")
        ):
            raise ValueError(
                f"average_top={self.average_top!r}: give 0, or >= 2 for a classification task "
                f"({', '.join(ENSEMBLE_TASKS)}: their probabilities are averaged)"
            )
        for name, low in (("folds", 2), ("n_bootstrap", 1)):
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or value < low:
                raise ValueError(f"{name}={value!r}: give an integer >= {low}")
        if not isinstance(self.n_jobs, int | np.integer):
            raise ValueError(f"n_jobs={self.n_jobs!r}: give an integer (-1: all cores)")
        repeats = self.repeats
        if repeats is not None and (not isinstance(repeats, numbers.Integral) or repeats < 1):
            raise ValueError(f"repeats={self.repeats!r}: give an integer >= 1, or None")

    def _features(self, X: Any, fitting: bool = False) -> pd.DataFrame:
        """X as the DataFrame the candidates are fitted on (:func:`feature_frame`); at
        prediction, with the number of features seen in fit."""
        frame = feature_frame(X)
        if fitting:
            self.n_features_in_ = frame.shape[1]
            if isinstance(X, pd.DataFrame):
                self.feature_names_in_ = np.asarray(X.columns, dtype=object)
            elif hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        elif frame.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {frame.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input."
            )
        return frame

    def _task(self, y: np.ndarray) -> str:
        if self.task != "auto":
            return self.task
        return detect_task(pd.Series(y))

    def _encode(self, y: np.ndarray, fitting: bool = False) -> np.ndarray:
        """The outcome in insightome's encoding: class codes 0..k-1 (classification; the
        labels become ``classes_`` in fit), float (regression, signed survival time)."""
        if self.task_ not in CLASSIFICATION:
            return numeric_outcome(y, self.task_)
        if fitting:
            self.classes_ = class_labels(y, self.task_)
        return class_codes(y, self.classes_)

    def _n_classes(self) -> int:
        return len(self.classes_) if self.task_ in CLASSIFICATION else 0

    def _plan(self, y: np.ndarray) -> ResamplingPlan:
        if self.cv is None:
            repeats = self.repeats if self.repeats is not None else default_repeats(len(y))
            return make_plan(
                y, self.task_, folds=self.folds, repeats=repeats, seed=self.seed,
                groups=self.groups_,
            )  # fmt: skip
        check_plan(self.cv, len(y), self.groups_)
        return self.cv

    def _cv_results(self) -> dict[str, Any]:
        """Per candidate, like GridSearchCV's: names and params, the pooled out-of-fold
        score of each repeat (and their mean, sd and rank), how often each won a bootstrap,
        failed folds and their first error, fits and fit warnings, mean fit time."""
        cv, bbc = self.cv_predictions_, self.bbc_
        spec = self.metric or PRIMARY[self.task_]
        folds = estimator_arguments(
            self.pooling, self.interval, self.plan_.splits, len(self._y_model)
        )["folds"]  # per_fold: each repeat's score is its folds' mean, as the selection's
        per_repeat = cv_scores(self.oof_, self._y_model, spec, self.fold_thresholds_, folds)
        oriented = bbc.cv_mean if spec.higher_is_better else -bbc.cv_mean
        results: dict[str, Any] = {
            "name": np.array([c.name for c in self.candidates_], dtype=object),
            "family": np.array([c.family for c in self.candidates_], dtype=object),
            "params": [c.to_dict()["params"] for c in self.candidates_],
        }
        for r in range(per_repeat.shape[0]):
            results[f"repeat{r}_test_score"] = per_repeat[r]
        results |= {
            "mean_test_score": bbc.cv_mean,
            "std_test_score": bbc.cv_sd,
            "rank_test_score": rankdata(-np.nan_to_num(oriented, nan=-np.inf), "min").astype(int),
            "bbc_selection_frequency": bbc.selection_frequency,
            "failed_folds": cv.failed_folds,
            "error": np.array([cv.errors.get(c) for c in range(len(self.candidates_))], object),
            "n_fits": cv.n_fits,
            "fit_warnings": np.array([dict(w) for w in cv.fit_warnings], dtype=object),
            "mean_fit_time": cv.fit_seconds / np.maximum(cv.n_fits, 1),
        }
        return results

    def _best(self) -> Any:
        if not hasattr(self, "best_estimator_"):
            raise NotFittedError(
                "this BBCSearchCV has no refitted model: call fit (with refit=True) or "
                "refit_best(X, y) first"
            )
        return self.best_estimator_


def _first(cv: CVPredictions, n: int) -> CVPredictions:
    """``cv`` of its first ``n`` candidates."""
    if cv.oof.shape[1] == n:
        return cv
    return CVPredictions(
        cv.oof[:, :n], cv.fit_seconds[:n], cv.failed_folds[:n],
        {c: e for c, e in cv.errors.items() if c < n}, cv.fit_warnings[:n], cv.n_fits[:n],
    )  # fmt: skip


def _with_average(cv: CVPredictions, members: tuple[int, ...]) -> CVPredictions:
    """``cv`` with the average of ``members`` appended: the mean of their out-of-fold
    predictions (no fit of its own: no fit time, no fits; its members' are theirs)."""
    mean = cv.oof[:, list(members)].mean(axis=1, keepdims=True)
    return CVPredictions(
        np.concatenate([cv.oof, mean], axis=1),
        np.append(cv.fit_seconds, 0.0),
        np.append(cv.failed_folds, 0),
        dict(cv.errors),
        [*cv.fit_warnings, {}],
        np.append(cv.n_fits, 0),
    )
