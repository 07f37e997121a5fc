"""Every supported format reads the same cohort into the same AnnData."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import anndata
import numpy as np
import pandas as pd
import pytest
import scipy.io
import scipy.sparse

from insightome.io import file_sha256, read

KEEP = ["label"]


def _check(adata: anndata.AnnData, cohort: pd.DataFrame, expected_x: np.ndarray) -> None:
    assert list(adata.obs_names) == list(cohort["sample"])
    assert list(adata.var_names) == ["age", "bmi", "smoker"]
    assert adata.X.dtype == np.float64
    np.testing.assert_array_equal(adata.X, expected_x)
    assert list(adata.obs.columns) == ["label"]
    assert adata.obs["label"].tolist() == cohort["label"].tolist()
    cat = adata.obsm["categorical"]
    assert isinstance(cat, pd.DataFrame)
    assert list(cat.columns) == ["stage"]
    assert list(cat.index) == list(adata.obs_names)
    assert isinstance(cat["stage"].dtype, pd.CategoricalDtype)
    assert cat["stage"].isna().tolist() == cohort["stage"].isna().tolist()
    assert cat["stage"].dropna().tolist() == cohort["stage"].dropna().tolist()
    assert (adata.var["source"] == "data").all()


@pytest.mark.parametrize("name", ["cohort.csv", "cohort.CSV", "cohort.csv.gz"])
def test_csv(tmp_path: Path, cohort, expected_x, name) -> None:
    path = tmp_path / name
    cohort.to_csv(path, index=False, compression="gzip" if name.endswith(".gz") else None)
    adata = read(path, keep_in_obs=KEEP)
    _check(adata, cohort, expected_x)
    record = adata.uns["provenance"]["files"][0]
    assert record["format"] == "csv"
    assert record["read_options"]["sep"] == ","
    assert record["read_options"]["id_column"] == "sample"
    assert "used column 'sample' as sample ID" in adata.uns["notes"]


@pytest.mark.parametrize("suffix", [".tsv", ".txt", ".tab", ".tsv.gz"])
def test_tab_separated(tmp_path: Path, cohort, expected_x, suffix) -> None:
    path = tmp_path / f"cohort{suffix}"
    cohort.to_csv(path, sep="\t", index=False)
    adata = read(path, keep_in_obs=KEEP)
    _check(adata, cohort, expected_x)
    assert adata.uns["provenance"]["files"][0]["read_options"]["sep"] == "\t"


def test_semicolon_csv_is_sniffed(tmp_path: Path, cohort, expected_x) -> None:
    path = tmp_path / "excel_export.csv"
    cohort.to_csv(path, sep=";", index=False)
    adata = read(path, keep_in_obs=KEEP)
    _check(adata, cohort, expected_x)
    assert any("semicolon-separated" in n for n in adata.uns["notes"])


@pytest.mark.parametrize("suffix", [".parquet", ".pq"])
def test_parquet(tmp_path: Path, cohort, expected_x, suffix) -> None:
    path = tmp_path / f"cohort{suffix}"
    cohort.to_parquet(path, index=False)
    _check(read(path, keep_in_obs=KEEP), cohort, expected_x)


def test_parquet_string_index_gives_ids(tmp_path: Path, cohort, expected_x) -> None:
    path = tmp_path / "indexed.parquet"
    cohort.set_index("sample").to_parquet(path)
    adata = read(path, keep_in_obs=KEEP)
    _check(adata, cohort, expected_x)


def test_xlsx_default_and_named_sheet(tmp_path: Path, cohort, expected_x) -> None:
    path = tmp_path / "cohort.xlsx"
    with pd.ExcelWriter(path) as writer:
        cohort.to_excel(writer, sheet_name="patients", index=False)
        cohort.head(3).to_excel(writer, sheet_name="other", index=False)
    _check(read(path, keep_in_obs=KEEP), cohort, expected_x)
    assert read(path, keep_in_obs=KEEP, sheet="other").n_obs == 3
    assert read(path, keep_in_obs=KEEP, sheet=1).n_obs == 3
    assert read(path, keep_in_obs=KEEP).uns["provenance"]["files"][0]["read_options"] == {
        "sheet": "patients",
        "id_column": "sample",
        "orient": "auto",
        "keep_in_obs": ["label"],
    }


def test_h5ad_round_trip(tmp_path: Path, cohort, expected_x) -> None:
    src = tmp_path / "cohort.csv"
    cohort.to_csv(src, index=False)
    first = read(src, keep_in_obs=KEEP)
    del first.uns["provenance"]  # a list of dicts cannot be stored in .h5ad
    path = tmp_path / "cohort.h5ad"
    first.write_h5ad(path)
    adata = read(path, keep_in_obs=KEEP)
    _check(adata, cohort, expected_x)
    assert adata.uns["provenance"]["files"][0]["format"] == "h5ad"


def test_h5ad_sparse_is_densified_and_keep_moves_a_feature(tmp_path: Path) -> None:
    X = scipy.sparse.csr_matrix(np.array([[0, 1.5, 0], [2, 0, 0], [0, 0, 3]]))
    obs = pd.DataFrame({"group": ["a", "b", "a"]}, index=["c1", "c2", "c3"])
    var = pd.DataFrame(index=["g1", "g2", "age"])
    path = tmp_path / "sparse.h5ad"
    anndata.AnnData(X=X, obs=obs, var=var).write_h5ad(path)
    adata = read(path, keep_in_obs=["group", "age"])
    assert isinstance(adata.X, np.ndarray)
    assert adata.X.dtype == np.float64
    assert list(adata.var_names) == ["g1", "g2"]
    assert adata.obs["age"].tolist() == [0.0, 0.0, 3.0]
    assert adata.obs["group"].tolist() == ["a", "b", "a"]
    assert adata.obsm["categorical"].shape == (3, 0)
    assert any("dense" in n for n in adata.uns["notes"])


def test_mat_round_trip_with_feature_names(tmp_path: Path, expected_x, cohort) -> None:
    path = tmp_path / "cohort.mat"
    genes = np.array(["age", "bmi", "smoker"], dtype=object)
    y = cohort["label"].to_numpy()[:, None].astype(np.uint8)
    scipy.io.savemat(path, {"X": expected_x, "Y": y, "genes": genes})
    adata = read(path)
    np.testing.assert_array_equal(adata.X, expected_x)
    assert list(adata.var_names) == ["age", "bmi", "smoker"]
    assert list(adata.obs_names) == [f"S{i}" for i in range(1, 9)]
    assert adata.obs["Y"].tolist() == cohort["label"].tolist()
    assert adata.obs["Y"].dtype == np.int64
    assert adata.uns["provenance"]["orientation"] == "samples-by-features"


def test_mat_lowercase_keys_default_names(tmp_path: Path) -> None:
    path = tmp_path / "small.mat"
    scipy.io.savemat(
        path, {"x": np.arange(6, dtype=np.int16).reshape(3, 2), "y": [[1.0, -1.0, 1.0]]}
    )
    adata = read(path, orient="features-by-samples")
    assert adata.shape == (3, 2)
    assert list(adata.var_names) == ["F1", "F2"]
    assert adata.obs["Y"].tolist() == [1, -1, 1]
    assert any("orient=features-by-samples ignored" in n for n in adata.uns["notes"])


def _write_mat73(path: Path, X: np.ndarray, y: np.ndarray, genes: list[str]) -> None:
    """A MATLAB v7.3 file as MATLAB writes it: HDF5 with a 512-byte header, arrays
    stored transposed, a cell array of char arrays held as object references."""
    import h5py

    with h5py.File(path, "w", userblock_size=512) as f:
        dset = f.create_dataset("X", data=X.T)
        dset.attrs["MATLAB_class"] = np.bytes_("double")
        dset = f.create_dataset("Y", data=y.reshape(1, -1).astype(np.float64))
        dset.attrs["MATLAB_class"] = np.bytes_("double")
        refs_group = f.create_group("#refs#")
        refs = []
        for i, gene in enumerate(genes):
            codes = np.array([[ord(c)] for c in gene], dtype=np.uint16).T
            item = refs_group.create_dataset(f"g{i}", data=codes)
            item.attrs["MATLAB_class"] = np.bytes_("char")
            refs.append(item.ref)
        cell = f.create_dataset("genes", data=np.array([refs]), dtype=h5py.ref_dtype)
        cell.attrs["MATLAB_class"] = np.bytes_("cell")
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5"
    header = header.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02IM"
    with open(path, "r+b") as handle:
        handle.write(header)


def test_mat_v73_falls_back_to_h5py(tmp_path: Path) -> None:
    path = tmp_path / "v73.mat"
    X = np.arange(12, dtype=np.float64).reshape(4, 3)
    _write_mat73(path, X, np.array([1, 2, 2, 1]), ["TP53", "EGFR", "MYC"])
    adata = read(path)
    np.testing.assert_array_equal(adata.X, X)
    assert list(adata.var_names) == ["TP53", "EGFR", "MYC"]
    assert adata.obs["Y"].tolist() == [1, 2, 2, 1]
    assert adata.uns["provenance"]["files"][0]["read_options"]["mat_version"] == "7.3"


def test_provenance_record_and_sha256(tmp_path: Path, cohort) -> None:
    path = tmp_path / "cohort.csv"
    cohort.to_csv(path, index=False)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert file_sha256(path) == digest
    prov = read(path, keep_in_obs=KEEP).uns["provenance"]
    assert prov["orientation"] == "samples-by-features"
    assert "label" in prov["orientation_reason"]
    (record,) = prov["files"]
    assert record["role"] == "data"
    assert record["path"] == str(path.resolve())
    assert record["sha256"] == digest
    assert (record["n_rows"], record["n_cols"]) == (8, 6)


def test_gz_sha256_is_of_compressed_bytes(tmp_path: Path, cohort) -> None:
    path = tmp_path / "cohort.csv.gz"
    path.write_bytes(gzip.compress(cohort.to_csv(index=False).encode()))
    assert file_sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()
    assert read(path).uns["provenance"]["files"][0]["read_options"]["compression"] == "gzip"
