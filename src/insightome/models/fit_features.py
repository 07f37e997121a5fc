"""What the candidate wrappers that add features inside ``fit`` share: NoteTerms (TF-IDF
terms of the notes, ``--notes-tfidf``) and CNNScore (a CNN's score of the images,
``--image-features cnn``). Each fits ``estimator_`` on the table plus its columns and
builds those columns for any rows in ``_frame``; prediction goes through ``_frame``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils.metaestimators import available_if


def _fitted_has(name: str) -> Any:
    return lambda self: hasattr(getattr(self, "estimator_", None), name)


class AddsFeaturesInFit:
    """Prediction methods of a wrapper with ``estimator_`` and ``_frame(X)`` (the table plus
    its own columns for those rows; each wrapper defines it); each method exists only when
    the fitted estimator has it (``available_if``)."""

    estimator_: Any
    _frame: Callable[[pd.DataFrame], pd.DataFrame]

    @property
    def classes_(self) -> np.ndarray:
        return self.estimator_.classes_

    @available_if(_fitted_has("predict"))
    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.estimator_.predict(self._frame(X))

    @available_if(_fitted_has("predict_proba"))
    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return self.estimator_.predict_proba(self._frame(X))

    @available_if(_fitted_has("decision_function"))
    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        return self.estimator_.decision_function(self._frame(X))
