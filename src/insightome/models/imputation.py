"""Median imputation for dense numeric features, fitted inside every resampling fold.

Why not ``sklearn.impute.SimpleImputer(strategy="median")``: it computes the column
medians through NumPy masked arrays (``np.ma.median``), which at 16,000 × 1,000 took
1.47 s against 0.36 s for ``np.nanmedian`` — the largest single cost of a linear model's
fit at large n, paid 50 times in a default run. The statistics are the same numbers
(tested against SimpleImputer with missing values, empty columns, float32 and float64),
and so are the imputed matrices.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import FLOAT_DTYPES, check_is_fitted, validate_data


class MedianImputer(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Replace NaN by the column median of the training data (0 for an all-NaN column).

    Equivalent to ``SimpleImputer(strategy="median", keep_empty_features=True)`` on dense
    numeric input; ``transform`` always returns a new array.
    """

    def fit(self, X: Any, y: Any = None) -> MedianImputer:
        X = validate_data(self, X, dtype=FLOAT_DTYPES, ensure_all_finite="allow-nan")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # "All-NaN slice encountered"
            statistics = np.nanmedian(X, axis=0) if len(X) else np.full(X.shape[1], np.nan)
        self.statistics_ = np.where(np.isnan(statistics), 0, statistics).astype(X.dtype)
        return self

    def transform(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "statistics_")
        X = validate_data(
            self, X, reset=False, dtype=FLOAT_DTYPES, ensure_all_finite="allow-nan", copy=True
        )
        rows, cols = np.nonzero(np.isnan(X))
        if len(rows):
            X[rows, cols] = self.statistics_[cols]
        return X
