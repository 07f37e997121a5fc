"""BlockwiseStandardScaler is StandardScaler, with fit temporaries the size of one block."""

from __future__ import annotations

import importlib
import tracemalloc
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_estimator

from insightome.models import scaling
from insightome.models.imputation import MedianImputer
from insightome.models.scaling import BlockwiseStandardScaler

candidates_module = importlib.import_module("insightome.models.candidates")


def _data(dtype=np.float32) -> np.ndarray:
    X = load_breast_cancer().data.astype(dtype)
    X[:, 3] = 7.0  # a constant column: scale 1, as StandardScaler leaves it
    return X


def test_below_the_block_size_it_is_standard_scaler_bit_for_bit() -> None:
    X = _data()
    ours, ref = BlockwiseStandardScaler().fit(X), StandardScaler().fit(X)
    np.testing.assert_array_equal(ours.mean_, ref.mean_)
    np.testing.assert_array_equal(ours.scale_, ref.scale_)
    np.testing.assert_array_equal(ours.transform(X), ref.transform(X))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_blockwise_fit_agrees_with_one_shot_fit(monkeypatch, dtype) -> None:
    X = _data(dtype)
    X[np.random.default_rng(0).random(X.shape) < 0.05] = np.nan  # NaN are skipped, as sklearn
    monkeypatch.setattr(scaling, "BLOCK_CELLS", 3_000)  # 100 rows a block: 6 blocks
    ours, ref = BlockwiseStandardScaler().fit(X), StandardScaler().fit(X)
    np.testing.assert_allclose(ours.mean_, ref.mean_, rtol=1e-12)
    np.testing.assert_allclose(ours.var_, ref.var_, rtol=1e-10)
    np.testing.assert_array_equal(ours.n_samples_seen_, ref.n_samples_seen_)
    assert ours.scale_[3] == ref.scale_[3] == 1.0  # the constant column
    assert ours.n_features_in_ == X.shape[1]
    out = ours.transform(X)
    assert out.dtype == dtype
    np.testing.assert_allclose(out, ref.transform(X), rtol=1e-5, atol=1e-5)


def test_blockwise_fit_needs_far_less_memory(monkeypatch) -> None:
    X = np.random.default_rng(0).normal(size=(20_000, 100)).astype(np.float32)  # 8 MB
    monkeypatch.setattr(scaling, "BLOCK_CELLS", 100_000)

    def fit_peak(scaler) -> float:
        tracemalloc.start()
        scaler.fit(X)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak / X.nbytes

    blockwise, one_shot = fit_peak(BlockwiseStandardScaler()), fit_peak(StandardScaler())
    assert one_shot > 1.5  # float64 temporaries of the whole matrix
    assert blockwise < 0.3


def test_passes_sklearn_estimator_checks(monkeypatch) -> None:
    monkeypatch.setattr(scaling, "BLOCK_CELLS", 10)  # the blockwise path on the checks' data
    check_estimator(BlockwiseStandardScaler())


def test_lean_preprocessing_gives_the_column_transformers_numbers_with_less_memory(
    monkeypatch,
) -> None:
    monkeypatch.setattr(scaling, "BLOCK_CELLS", 100_000)  # as at 80,000 x 1,000, in small
    rng = np.random.default_rng(1)
    X = rng.normal(size=(4_000, 300)).astype(np.float32)
    X[rng.random(X.shape) < 0.02] = np.nan
    frame = pd.DataFrame(X, columns=[f"g{j}" for j in range(X.shape[1])])
    lean = candidates_module.preprocessor(frame, lean=True)
    assert isinstance(lean, Pipeline)  # all numeric: no ColumnTransformer around it
    full = candidates_module.preprocessor(frame)
    reference = make_pipeline(MedianImputer(), StandardScaler())

    def fit_transform(t) -> tuple[np.ndarray, float]:
        tracemalloc.start()
        out = t.fit_transform(frame)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return out, peak / X.nbytes

    (a, peak_lean), (b, peak_full) = fit_transform(lean), fit_transform(full)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, reference.fit_transform(frame))
    np.testing.assert_array_equal(lean.transform(frame), full.transform(frame))
    assert list(lean.get_feature_names_out()) == list(frame.columns)
    assert peak_lean < 1.6 < peak_full  # measured 1.45x and 2.47x the float32 input
    assert frame.isna().to_numpy().sum() > 0  # the input was not imputed in place


def test_mixed_tables_keep_the_column_transformer() -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0, np.nan, 4.0], "b": pd.Categorical(list("xyxy"))})
    t = candidates_module.preprocessor(frame, lean=True)
    assert not isinstance(t, Pipeline)
    assert t.fit_transform(frame).shape == (4, 3)


@pytest.mark.parametrize("name", ["f_classif_quiet", "f_regression_quiet"])
def test_univariate_tests_in_blocks_of_columns_give_the_same_statistics(monkeypatch, name):
    from sklearn import feature_selection

    X = _data(np.float64)
    y = load_breast_cancer().target
    reference = getattr(feature_selection, name.removesuffix("_quiet"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the constant column, which the quiet version hides
        f_ref, p_ref = reference(X, y)
    monkeypatch.setattr(candidates_module, "BLOCK_CELLS", 569 * 7)  # 7 columns a block
    f, p = getattr(candidates_module, name)(X, y)
    np.testing.assert_allclose(f, f_ref, rtol=1e-12)
    np.testing.assert_allclose(p, p_ref, rtol=1e-9, atol=1e-300)
    assert f.shape == (X.shape[1],)
