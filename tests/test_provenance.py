"""The in-memory data hash and the modelling table cost no whole-matrix copies."""

from __future__ import annotations

import hashlib

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from insightome import run_content
from insightome.run_content import in_memory_provenance, with_provenance
from insightome.study import make_study


def _adata(X: np.ndarray) -> ad.AnnData:
    n = X.shape[0]
    obs = pd.DataFrame({"y": ["a", "b"] * (n // 2)}, index=[f"s{i}" for i in range(n)])
    return ad.AnnData(X, obs=obs, var=pd.DataFrame(index=[f"g{j}" for j in range(X.shape[1])]))


def _whole_matrix_digest(adata: ad.AnnData) -> str:
    """The definition: sha256 over X as one float64 C-order block, names, annotations."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(np.asarray(adata.X, dtype=float)).tobytes())
    for names in (adata.obs_names, adata.var_names):
        h.update("\x1f".join(map(str, names)).encode())
    h.update(adata.obs.to_csv().encode())
    return h.hexdigest()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_hash_in_blocks_of_rows_is_the_whole_matrix_hash(monkeypatch, dtype) -> None:
    X = np.random.default_rng(0).normal(size=(50, 7)).astype(dtype)
    adata = _adata(X)
    expected = _whole_matrix_digest(adata)
    monkeypatch.setattr(run_content, "HASH_BLOCK_VALUES", 20)  # 2 rows a block, 25 blocks
    assert in_memory_provenance(adata)["sha256"] == expected
    X[3, 4] += 1  # one value changed: another digest
    assert in_memory_provenance(adata)["sha256"] != expected


def test_a_sparse_matrix_hashes_as_its_dense_values(monkeypatch) -> None:
    X = np.zeros((10, 6))
    X[2, 3], X[7, 0] = 1.5, -2.0
    monkeypatch.setattr(run_content, "HASH_BLOCK_VALUES", 12)
    dense, csr = _adata(X), _adata(sparse.csr_matrix(X))
    assert in_memory_provenance(csr)["sha256"] == in_memory_provenance(dense)["sha256"]


def test_with_provenance_shares_the_matrix_and_leaves_the_callers_object_alone() -> None:
    X = np.random.default_rng(1).normal(size=(8, 3)).astype(np.float32)
    adata = _adata(X)
    adata.obsm["categorical"] = pd.DataFrame({"site": list("xyxyxyxy")}, index=adata.obs_names)
    out = with_provenance(adata)
    assert np.shares_memory(out.X, X)
    assert out.uns["provenance"]["files"][0]["sha256"] == _whole_matrix_digest(adata)
    assert "provenance" not in adata.uns
    assert list(out.obsm["categorical"].columns) == ["site"]
    out.obs["extra"] = 1
    assert "extra" not in adata.obs.columns


def test_the_modelling_table_is_the_matrix_itself_when_nothing_is_dropped() -> None:
    X = np.random.default_rng(2).normal(size=(40, 5))
    study = make_study(_adata(X), target="y")
    assert study.features.shape == (40, 5)
    assert np.shares_memory(study.features.to_numpy(), X)
    # with a sample dropped (missing outcome), the table is a copy of the kept rows
    adata = _adata(X)
    adata.obs.loc["s3", "y"] = np.nan
    study = make_study(adata, target="y")
    assert study.features.shape == (39, 5)
    assert not np.shares_memory(study.features.to_numpy(), X)
    np.testing.assert_array_equal(study.features.to_numpy(), np.delete(X, 3, axis=0))


def test_a_whole_run_leaves_the_callers_matrix_untouched() -> None:
    """The modelling table shares the caller's matrix, so nothing may write into it."""
    import insightome
    from tests.conftest import breast_cancer_adata

    adata = breast_cancer_adata(n_rows=200, n_cols=10)
    adata.X[::7, 2] = np.nan  # missing values: imputation must not fill them in place
    before = adata.X.copy()
    run = insightome.run(
        adata, target="diagnosis", preset="fast", folds=3, repeats=1, n_bootstrap=200,
        out_dir=None, sensitive=(),
    )  # fmt: skip
    assert run.results["estimate"]["value"] > 0.8
    np.testing.assert_array_equal(adata.X, before)
    assert "provenance" not in adata.uns
