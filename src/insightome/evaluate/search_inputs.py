"""What :class:`~insightome.evaluate.search.BBCSearchCV` accepts, checked and converted to
what insightome's engine fits: a feature DataFrame, the outcome in the internal encoding
(class codes 0..k-1; float; signed survival time), group labels, a resampling plan and
the candidate list.

Errors are scikit-learn's usual ``ValueError`` / ``TypeError`` (the search is used from
Python), each naming the argument and what to give instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, column_or_1d

from insightome.evaluate.splitters import ResamplingPlan
from insightome.models.candidates import LARGE_N, Candidate, candidates
from insightome.models.estimator_candidate import EstimatorCandidate

CLASSIFICATION = ("binary", "multiclass")


def default_repeats(n_samples: int) -> int:
    """CV repeats when none are asked for: 3, or 1 from ``LARGE_N`` samples on (the
    fold-to-fold variance is then small)."""
    return 3 if n_samples < LARGE_N else 1


def signed_survival_time(time: Any, event: Any) -> np.ndarray:
    """The survival outcome as insightome fits it: ``time`` for a sample with the event,
    ``-time`` for a censored one (times must be positive; ``event`` is 1/0 or True/False)."""
    t = np.asarray(time, dtype=float)
    e = np.asarray(event)
    if t.shape != e.shape or t.ndim != 1:
        raise ValueError("time and event must be 1-D and of the same length")
    if not np.all(np.isfinite(t) & (t > 0)):
        raise ValueError("survival times must be finite and > 0")
    if not np.isin(e.astype(float), (0.0, 1.0)).all():
        raise ValueError("event must be 1 (event) or 0 (censored)")
    return np.where(e.astype(float) == 1.0, t, -t)


def feature_frame(X: Any) -> pd.DataFrame:
    """X as the DataFrame the candidates are fitted on: a DataFrame as is; an array (numbers
    only; NaN allowed, insightome's candidates impute it; inf refused) with columns x0,
    x1, ..."""
    if scipy.sparse.issparse(X):
        raise TypeError("sparse X is not supported: pass a dense array or a DataFrame")
    if isinstance(X, pd.DataFrame):
        # no column is allowed: the candidates may add their features inside fit (the CNN's
        # score of each sample's image, models.image_cnn.CNNScore), looked up by the index
        if X.shape[0] == 0:
            raise ValueError(f"X has no samples (shape {X.shape})")
        return X
    values = check_array(X, dtype="numeric", ensure_all_finite="allow-nan")
    return pd.DataFrame(values, columns=[f"x{i}" for i in range(values.shape[1])])


def outcome_vector(y: Any, n: int) -> np.ndarray:
    """``y`` as a 1-D array of ``n`` values (a column vector is accepted, with scikit-learn's
    DataConversionWarning)."""
    values = column_or_1d(y, warn=True)
    if len(values) != n:
        raise ValueError(f"X has {n} samples but y has {len(values)}")
    return values


def class_labels(y: np.ndarray, task: str) -> np.ndarray:
    """The sorted class labels of a classification outcome (binary: exactly 2)."""
    check_classification_targets(y)
    classes = np.unique(y)
    if len(classes) < 2:
        raise ValueError(f"y holds {len(classes)} class; a {task} task needs 2 or more")
    if task == "binary" and len(classes) > 2:
        raise ValueError(
            "Only binary classification is supported with task='binary': y holds "
            f"{len(classes)} classes (use task='multiclass' or 'auto')"
        )
    return classes


def class_codes(y: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Each label's position in ``classes`` (the encoding insightome's pipelines fit)."""
    codes = np.minimum(np.searchsorted(classes, y), len(classes) - 1)
    if not np.array_equal(classes[codes], y):
        raise ValueError(f"y holds labels that are not classes: {list(classes)}")
    return codes.astype(int)


def numeric_outcome(y: np.ndarray, task: str) -> np.ndarray:
    """A regression outcome, or the signed survival time, as finite floats."""
    values = np.asarray(y, dtype=float)
    if not np.all(np.isfinite(values)):
        raise ValueError("y has missing or infinite values")
    if task == "survival" and np.any(values == 0):
        raise ValueError(
            "survival y is signed time (time for an event, -time for a censored "
            "sample: signed_survival_time); 0 is neither"
        )
    return values


def group_labels(groups: Any, n: int) -> np.ndarray:
    """One group label per sample (e.g. the patient), none missing."""
    values = np.asarray(groups)
    if values.ndim != 1 or len(values) != n:
        raise ValueError(f"groups must be 1-D with one label per sample ({n}); got {values.shape}")
    if pd.isna(pd.Series(values)).any():
        raise ValueError("groups has missing values: give every sample a group")
    return values


def check_plan(plan: ResamplingPlan, n: int, groups: np.ndarray | None) -> None:
    """Refuse a plan that does not test every one of the ``n`` samples exactly once per
    repeat, or (with ``groups``) that puts one group on both sides of a split."""
    for r, repeat in enumerate(plan.splits):
        tested = np.concatenate([np.asarray(test) for _, test in repeat])
        if len(tested) != n or not np.array_equal(np.sort(tested), np.arange(n)):
            raise ValueError(
                f"cv: repeat {r} of the plan does not test each of the {n} samples exactly "
                "once; make the plan for these samples (evaluate.make_plan)"
            )
        if groups is None:
            continue
        for f, (train, test) in enumerate(repeat):
            shared = np.intersect1d(groups[np.asarray(train)], groups[np.asarray(test)])
            if len(shared):
                raise ValueError(
                    f"cv: group '{shared[0]}' is in both the training and the test samples "
                    f"of repeat {r}, fold {f}; make the plan with these groups "
                    "(evaluate.make_plan(..., groups=groups))"
                )


def resolve_candidates(
    given: list[Any] | None, task: str, features: pd.DataFrame, preset: str
) -> list[Candidate]:
    """What the engine fits: insightome's candidates for the task (``given`` None), or each
    given :class:`Candidate` (built for ``task``) and plain estimator
    (:class:`EstimatorCandidate`), in order; names must be distinct."""
    if given is None:
        n_numeric = int(sum(pd.api.types.is_numeric_dtype(t) for t in features.dtypes))
        return candidates(task, n_numeric, preset, n_samples=len(features))
    if len(given) == 0:
        raise ValueError("candidates is empty: give at least one, or None for the defaults")
    resolved: list[Candidate] = []
    for c in given:
        if isinstance(c, EstimatorCandidate):
            c = c.estimator
        if isinstance(c, Candidate):
            if c.task != task:
                raise ValueError(
                    f"candidate {c.name} is built for a {c.task} task but the task is "
                    f"{task}: make it with task={task!r}"
                )
            resolved.append(c)
        else:
            resolved.append(EstimatorCandidate.wrap(c, task))
    names = [c.name for c in resolved]
    if len(set(names)) < len(names):
        raise ValueError(
            f"candidates appear twice: {sorted({n for n in names if names.count(n) > 1})}"
        )
    return resolved
