"""A plain scikit-learn estimator (or Pipeline) as a :class:`Candidate`.

insightome's fit engine (:mod:`insightome.evaluate.engine`) fits :class:`Candidate`
objects: each builds a fresh, unfitted pipeline per fold. :class:`EstimatorCandidate` lets a
user's own estimator take part in the same cross-validation, BBC-CV and fit cache: it
builds an unfitted :func:`~sklearn.base.clone` of the estimator, exactly as given (no
preprocessing is added and its ``random_state`` is left as the user set it).

Its ``name`` is the estimator's full scikit-learn repr (the parameters that differ from
their defaults, on one line): the fit cache keys a fit by that name, so two configurations
that differ in any parameter never share cached fits.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.pipeline import Pipeline

from insightome.models.candidates import Candidate

# long enough that scikit-learn's repr never elides the middle of a parameter list
REPR_CHARS = 1_000_000


def estimator_name(estimator: BaseEstimator) -> str:
    """The estimator's scikit-learn repr on one line, nothing elided (numpy arrays among
    its parameters printed whole: numpy shortens long ones, and two estimators differing
    only inside an array must not share a name, nor a fit-cache entry)."""
    with np.printoptions(threshold=sys.maxsize):
        text = estimator.__repr__(N_CHAR_MAX=REPR_CHARS)  # type: ignore[call-arg]
    return " ".join(text.split())


def estimator_family(estimator: BaseEstimator) -> str:
    """The class name of the estimator (of a Pipeline's last step)."""
    final = estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator
    return type(final).__name__


@dataclass(frozen=True)
class EstimatorCandidate(Candidate):
    """A user's scikit-learn estimator as a candidate configuration of a ``task``.

    ``family`` is the (final) estimator's class name, ``params`` its
    ``get_params(deep=False)``; the inherited ``k`` and ``preprocess`` do not apply (the
    estimator is fitted as given) and stay at ``None`` and ``False``.
    """

    estimator: Any = None

    @property
    def fits_on_arrays(self) -> bool:
        """Never: a user's pipeline may select columns by name."""
        return False

    @classmethod
    def wrap(cls, estimator: BaseEstimator, task: str) -> EstimatorCandidate:
        if not hasattr(estimator, "fit") or not hasattr(estimator, "get_params"):
            raise TypeError(
                f"candidate {estimator!r} is neither an insightome Candidate nor a "
                "scikit-learn estimator (it needs fit and get_params)"
            )
        if task in ("binary", "multiclass") and not hasattr(estimator, "predict_proba"):
            raise TypeError(
                f"candidate {estimator_name(estimator)} has no predict_proba: a {task} "
                "candidate must predict class probabilities (BBC-CV scores them by AUC)"
            )
        return cls(
            family=estimator_family(estimator),
            params=estimator.get_params(deep=False),
            k=None,
            task=task,
            preprocess=False,
            estimator=estimator,
        )

    @property
    def name(self) -> str:
        return estimator_name(self.estimator)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "family": self.family, "params": dict(self.params)}

    def build(self, features: pd.DataFrame, seed: int = 0) -> Any:
        """An unfitted clone of the estimator (``features`` and ``seed`` are not used: the
        estimator is fitted exactly as the user configured it)."""
        return clone(self.estimator)
