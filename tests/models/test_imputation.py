"""MedianImputer gives exactly SimpleImputer(strategy="median")'s statistics and output."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.impute import SimpleImputer

from insightome.models.imputation import MedianImputer


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_same_statistics_and_output_as_simple_imputer(dtype) -> None:
    X = load_breast_cancer().data.astype(dtype)
    rng = np.random.default_rng(0)
    X[rng.random(X.shape) < 0.15] = np.nan  # 15% missing at random
    X[:, 4] = np.nan  # an empty column: kept, imputed with 0
    X[::2, 7] = np.nan  # an even number of values left in some columns
    train, test = X[:400], X[400:]
    ours = MedianImputer().fit(train)
    ref = SimpleImputer(strategy="median", keep_empty_features=True).fit(train)
    np.testing.assert_array_equal(ours.statistics_, ref.statistics_)
    out, expected = ours.transform(test), ref.transform(test)
    assert out.dtype == expected.dtype == dtype
    np.testing.assert_array_equal(out, expected)
    assert not np.isnan(out).any()


def test_input_is_not_modified_and_names_pass_through() -> None:
    frame = pd.DataFrame({"a": [1.0, np.nan, 3.0], "b": [np.nan, np.nan, np.nan]})
    before = frame.copy()
    imputer = MedianImputer().fit(frame)
    out = imputer.transform(frame)
    pd.testing.assert_frame_equal(frame, before)
    np.testing.assert_array_equal(out, [[1.0, 0.0], [2.0, 0.0], [3.0, 0.0]])
    assert list(imputer.get_feature_names_out()) == ["a", "b"]
    again = pickle.loads(pickle.dumps(imputer))
    np.testing.assert_array_equal(again.transform(frame), out)


def test_wrong_width_is_refused() -> None:
    imputer = MedianImputer().fit(np.ones((5, 3)))
    with pytest.raises(ValueError, match="features"):
        imputer.transform(np.ones((2, 4)))
