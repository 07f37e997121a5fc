"""Larger-than-memory .h5ad: streaming moments equal in-memory ones; memory stays bounded."""

from __future__ import annotations

import tracemalloc

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse
from sklearn.datasets import load_breast_cancer

import insightome
from insightome.errors import UserError
from insightome.io import read
from insightome.io.streaming import column_moments, load_columns, top_variance


@pytest.fixture(scope="module")
def breast() -> tuple[np.ndarray, list[str], np.ndarray]:
    bunch = load_breast_cancer()
    return bunch.data.astype(float), list(bunch.feature_names), bunch.target


def _write(path, X, names, target, sparse=False):
    obs = pd.DataFrame(
        {"diagnosis": np.where(target == 0, "malignant", "benign")},
        index=[f"T{i}" for i in range(len(X))],
    )
    matrix = scipy.sparse.csr_matrix(X) if sparse else X
    ad.AnnData(matrix, obs=obs, var=pd.DataFrame(index=names)).write_h5ad(path)
    return path


def test_streaming_moments_equal_numpy_with_nan_and_small_blocks(breast) -> None:
    X, _, _ = breast
    X = X.copy()
    X[np.random.default_rng(0).random(X.shape) < 0.05] = np.nan
    m = column_moments(X, rows_per_block=7)
    assert np.allclose(m.mean, np.nanmean(X, axis=0))
    assert np.allclose(m.variance, np.nanvar(X, axis=0, ddof=1))
    assert np.array_equal(m.n, np.isfinite(X).sum(axis=0))
    assert np.array_equal(load_columns(X, [3, 0], rows_per_block=5), X[:, [3, 0]], equal_nan=True)


@pytest.mark.parametrize("sparse", [False, True])
def test_read_h5ad_with_max_features_keeps_the_most_variable(tmp_path, breast, sparse) -> None:
    X, names, target = breast
    path = _write(tmp_path / "breast.h5ad", X, names, target, sparse=sparse)
    adata = read(path, max_features=5, keep_in_obs=["diagnosis"])
    expected = [names[j] for j in top_variance(np.var(X, axis=0, ddof=1), 5)]
    assert list(adata.var_names) == expected
    assert np.allclose(adata.X, X[:, top_variance(np.var(X, axis=0, ddof=1), 5)])
    assert any("variance filter" in n for n in adata.uns["notes"])
    assert adata.uns["provenance"]["files"][0]["read_options"]["max_features"] == 5
    with pytest.raises(UserError, match="--max-features"):
        read(path, max_features=0)


def test_streamed_read_keeps_memory_bounded(tmp_path, breast) -> None:
    """A 24,000 × 600 matrix (115 MB as float64) built from the breast-cancer measurements
    (tiled, with jitter) is read keeping 20 features: the peak of Python-tracked memory
    must stay near the kept columns plus one block, far below the matrix."""
    X, names, target = breast
    rng = np.random.default_rng(0)
    rows = np.resize(np.arange(len(X)), 24_000)
    big = np.tile(X, (1, 20))[rows] * rng.normal(1.0, 0.01, size=(24_000, 600))
    labels = target[rows]
    names = [f"{n} #{r}" for r in range(20) for n in names]
    path = _write(tmp_path / "big.h5ad", big, names, labels)
    full_mb = big.nbytes / 2**20
    del big
    import insightome.io.streaming as streaming

    block = streaming.BLOCK_CELLS
    streaming.BLOCK_CELLS = 600 * 1000  # blocks of 1,000 rows
    try:
        tracemalloc.start()
        adata = read(path, max_features=20, keep_in_obs=["diagnosis"])
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    finally:
        streaming.BLOCK_CELLS = block
    kept_mb = adata.X.nbytes / 2**20
    assert adata.shape == (24_000, 20)
    assert peak / 2**20 < 0.25 * full_mb, (peak / 2**20, full_mb)
    assert peak / 2**20 < 3 * kept_mb + 3 * 600 * 1000 * 8 / 2**20 + 20


def test_run_with_max_features_on_h5ad(tmp_path, breast) -> None:
    X, names, target = breast
    path = _write(tmp_path / "breast.h5ad", X, names, target)
    run = insightome.run(path, "diagnosis", max_features=8, preset="fast", folds=3, repeats=1,
                         n_bootstrap=200, out_dir=None, discover=False, audit=False)  # fmt: skip
    assert run.results["n_features"] == 8
    assert run.results["invocation"]["max_features"] == 8
    assert run.estimate["value"] > 0.9
