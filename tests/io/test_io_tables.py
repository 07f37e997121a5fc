"""Sample IDs, feature types, orientation and the annotation join."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from insightome.io import read

GENES = [f"G{i}" for i in range(1, 7)]
SAMPLES = [f"S{i}" for i in range(1, 9)]


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.fixture
def genes_by_samples() -> pd.DataFrame:
    """6 genes × 8 samples (too few rows for the shape rule to fire on its own)."""
    rng = np.random.default_rng(0)
    values = rng.normal(size=(len(GENES), len(SAMPLES))).round(3)
    frame = pd.DataFrame(values, columns=SAMPLES)
    frame.insert(0, "gene", GENES)
    return frame


# -- sample IDs -----------------------------------------------------------------------------


def test_blank_first_header_gives_ids(tmp_path: Path) -> None:
    path = _write(tmp_path / "r.csv", '"","a","b"\n"x1",1,2\n"x2",3,4\n')
    adata = read(path)
    assert list(adata.obs_names) == ["x1", "x2"]
    assert list(adata.var_names) == ["a", "b"]


def test_r_style_short_header_gives_ids(tmp_path: Path) -> None:
    path = _write(tmp_path / "r.csv", "a,b\nx1,1,2\nx2,3,4\n")
    adata = read(path)
    assert list(adata.obs_names) == ["x1", "x2"]
    np.testing.assert_array_equal(adata.X, [[1, 2], [3, 4]])


def test_numeric_first_column_is_a_feature_and_rows_are_numbered(tmp_path: Path) -> None:
    path = _write(tmp_path / "n.csv", "age,bmi\n50,20\n60,25\n70,30\n")
    adata = read(path)
    assert list(adata.obs_names) == ["1", "2", "3"]
    assert list(adata.var_names) == ["age", "bmi"]
    assert any("data row number" in n for n in adata.uns["notes"])


def test_explicit_id_column_keeps_leading_zeros(tmp_path: Path) -> None:
    path = _write(tmp_path / "z.csv", "x,pid,y\n1,007,2\n3,012,4\n")
    adata = read(path, id_column="pid")
    assert list(adata.obs_names) == ["007", "012"]
    assert list(adata.var_names) == ["x", "y"]
    assert "used column 'pid' as sample ID" in adata.uns["notes"]


def test_id_column_can_also_be_kept_in_obs(tmp_path: Path) -> None:
    path = _write(tmp_path / "g.csv", "pid,x\nA,1\nB,2\n")
    adata = read(path, id_column="pid", keep_in_obs=["pid"])
    assert adata.obs["pid"].tolist() == ["A", "B"]
    assert list(adata.var_names) == ["x"]


def test_empty_rows_are_dropped_and_rows_keep_their_numbers(tmp_path: Path) -> None:
    path = _write(tmp_path / "e.csv", "a,b\n1,2\n,\n3,4\n")
    adata = read(path)
    assert list(adata.obs_names) == ["1", "3"]
    assert any("1 row with no data; ignored" in n for n in adata.uns["notes"])


def test_trailing_delimiter_column_is_dropped(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.csv", "id,a,b,\nx,1,2,\ny,3,4,\n")
    assert list(read(path).var_names) == ["a", "b"]


# -- feature types --------------------------------------------------------------------------


def test_na_tokens_and_numeric_strings(tmp_path: Path) -> None:
    text = "id,a,b,c\nx,1,?,NA\ny,N/A,2.5,null\nz,3,,4\n"
    adata = read(_write(tmp_path / "na.csv", text))
    np.testing.assert_array_equal(
        adata.X, [[1, np.nan, np.nan], [np.nan, 2.5, np.nan], [3, np.nan, 4]]
    )
    assert adata.obsm["categorical"].shape == (3, 0)


def test_bool_strings_are_zero_one(tmp_path: Path) -> None:
    adata = read(_write(tmp_path / "b.csv", "id,flag\nx,True\ny,False\nz,\n"))
    np.testing.assert_array_equal(adata.X[:, 0], [1.0, 0.0, np.nan])


def test_categorical_columns_stay_unencoded(tmp_path: Path) -> None:
    text = "id,stage,smoking,age\nx,I,never,50\ny,II,,60\nz,I,current,70\n"
    adata = read(_write(tmp_path / "c.csv", text))
    cat = adata.obsm["categorical"]
    assert list(cat.columns) == ["stage", "smoking"]
    assert cat["smoking"].tolist()[0] == "never"
    assert pd.isna(cat["smoking"].iloc[1])
    assert list(adata.var_names) == ["age"]


def test_code_column_with_many_non_numbers_is_categorical(tmp_path: Path) -> None:
    codes = [str(250 + i) for i in range(40)] + [f"V{i}" for i in range(6)]
    text = "id,diag\n" + "".join(f"s{i},{c}\n" for i, c in enumerate(codes))
    adata = read(_write(tmp_path / "icd.csv", text))
    assert list(adata.obsm["categorical"].columns) == ["diag"]
    assert any("treated as categorical" in n for n in adata.uns["notes"])


def test_keep_in_obs_keeps_original_values(tmp_path: Path) -> None:
    text = "id,grp,time,event,x\na,ctl,5.5,1,1\nb,trt,7.0,0,2\n"
    adata = read(_write(tmp_path / "k.csv", text), keep_in_obs=["time", "event", "grp", "nope"])
    assert list(adata.obs.columns) == ["time", "event", "grp"]
    assert adata.obs["event"].dtype == np.int64
    assert adata.obs["grp"].tolist() == ["ctl", "trt"]
    assert list(adata.var_names) == ["x"]


# -- orientation ----------------------------------------------------------------------------


def test_features_by_samples_via_target_row(tmp_path: Path, genes_by_samples) -> None:
    frame = genes_by_samples.copy()
    frame.loc[len(frame)] = ["label", *(["tumor", "normal"] * 4)]
    path = tmp_path / "expr.csv"
    frame.to_csv(path, index=False)
    adata = read(path, keep_in_obs=["label"])
    assert adata.uns["provenance"]["orientation"] == "features-by-samples"
    assert list(adata.obs_names) == SAMPLES
    assert list(adata.var_names) == GENES
    np.testing.assert_allclose(adata.X, genes_by_samples[SAMPLES].to_numpy().T)
    assert adata.obs["label"].tolist() == ["tumor", "normal"] * 4


def test_features_by_samples_numeric_target_row(tmp_path: Path, genes_by_samples) -> None:
    frame = genes_by_samples.copy()
    frame.loc[len(frame)] = ["y", *([0, 1] * 4)]
    path = tmp_path / "expr.tsv"
    frame.to_csv(path, sep="\t", index=False)
    adata = read(path, keep_in_obs=["y"])
    assert adata.obs["y"].tolist() == [0, 1] * 4
    assert adata.obs["y"].dtype == np.int64


def test_features_by_samples_via_annotation_overlap(tmp_path: Path, genes_by_samples) -> None:
    path = tmp_path / "expr.csv"
    genes_by_samples.to_csv(path, index=False)
    ann = tmp_path / "clinical.csv"
    pd.DataFrame({"sid": SAMPLES, "age": range(8)}).to_csv(ann, index=False)
    adata = read(path, annotations=ann)
    prov = adata.uns["provenance"]
    assert prov["orientation"] == "features-by-samples"
    assert "annotation" in prov["orientation_reason"]
    assert adata.shape == (8, 6)
    assert adata.obs["age"].tolist() == list(range(8))
    assert [f["role"] for f in prov["files"]] == ["data", "annotations"]


def test_explicit_orient(tmp_path: Path, genes_by_samples) -> None:
    path = tmp_path / "expr.csv"
    genes_by_samples.to_csv(path, index=False)
    auto = read(path)
    assert auto.uns["provenance"]["orientation"] == "samples-by-features"
    assert auto.shape == (6, 8)
    flipped = read(path, orient="features-by-samples")
    assert flipped.shape == (8, 6)
    assert flipped.uns["provenance"]["orientation_reason"] == (
        "set explicitly (orient=features-by-samples)"
    )


def test_tall_numeric_table_is_features_by_samples(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(60, 4)), columns=["s1", "s2", "s3", "s4"])
    frame.insert(0, "", [f"gene{i}" for i in range(60)])
    path = tmp_path / "tall.csv"
    frame.to_csv(path, index=False)
    adata = read(path)
    assert adata.shape == (4, 60)
    assert "features × samples" in adata.uns["provenance"]["orientation_reason"]
    forced = read(path, orient="samples-by-features")
    assert forced.shape == (60, 4)


def test_long_clinical_table_with_numeric_ids_is_not_flipped(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(rng.normal(size=(100, 3)), columns=["a", "b", "c"])
    frame.insert(0, "pid", range(1000, 1100))
    path = tmp_path / "long.csv"
    frame.to_csv(path, index=False)
    assert read(path).shape == (100, 4)


# -- annotations ----------------------------------------------------------------------------


def test_annotation_join_extra_rows_and_clash(tmp_path: Path, cohort) -> None:
    data = tmp_path / "data.csv"
    cohort.to_csv(data, index=False)
    ann = tmp_path / "ann.xlsx"
    extra = pd.DataFrame({"sample": ["P99"], "site": ["X"], "label": [9]})
    table = pd.concat(
        [
            pd.DataFrame({"sample": cohort["sample"][::-1], "site": list("ABABABAB"), "label": 0}),
            extra,
        ]
    )
    table.to_excel(ann, index=False)
    adata = read(data, annotations=ann, id_column="sample", keep_in_obs=["label"])
    assert list(adata.obs.columns) == ["label", "site", "label_annotations"]
    assert adata.obs.loc["P8", "site"] == "A"
    assert adata.obs.loc["P1", "site"] == "B"
    assert any("1 row(s) with no matching sample" in n for n in adata.uns["notes"])
    record = adata.uns["provenance"]["files"][1]
    assert record["role"] == "annotations"
    assert record["format"] == "xlsx"
    assert record["read_options"]["id_column"] == "sample"


def test_annotation_for_mat_data(tmp_path: Path) -> None:
    import scipy.io

    path = tmp_path / "d.mat"
    scipy.io.savemat(path, {"X": np.ones((3, 2)), "Y": [[1], [2], [1]]})
    ann = tmp_path / "a.tsv"
    ann.write_text("id\tbatch\nS1\tb1\nS2\tb2\nS3\tb1\n")
    adata = read(path, annotations=ann)
    assert adata.obs["batch"].tolist() == ["b1", "b2", "b1"]
    assert list(adata.obs.columns) == ["Y", "batch"]


def test_whitespace_separated_file_is_sniffed(tmp_path: Path) -> None:
    path = _write(tmp_path / "ws.csv", "t status sex\n35 0 1\n34 0 1\n32 0 1\n")
    adata = read(path, keep_in_obs=["status"])
    assert list(adata.var_names) == ["t", "sex"]
    assert adata.obs["status"].tolist() == [0, 0, 0]
    assert adata.uns["provenance"]["files"][0]["read_options"]["sep"] == r"\s+"


def test_single_column_header_with_space_is_not_split(tmp_path: Path) -> None:
    path = _write(tmp_path / "one.csv", "blood pressure\n120\n135\n")
    adata = read(path)
    assert list(adata.var_names) == ["blood pressure"]
    np.testing.assert_array_equal(adata.X[:, 0], [120, 135])


def test_parquet_index_ignored_when_id_column_given(tmp_path: Path) -> None:
    frame = pd.DataFrame({"pid": ["a", "b"], "x": [1.0, 2.0]}, index=["r1", "r2"])
    path = tmp_path / "i.parquet"
    frame.to_parquet(path)
    adata = read(path, id_column="pid")
    assert list(adata.obs_names) == ["a", "b"]
    assert list(adata.var_names) == ["x"]
    assert adata.obsm["categorical"].shape == (2, 0)


def test_id_like_text_column_is_flagged(tmp_path: Path) -> None:
    rows = "".join(f"{i},name{i},{i * 2}\n" for i in range(25))
    adata = read(_write(tmp_path / "n.csv", "n,who,v\n" + rows))
    assert list(adata.obsm["categorical"].columns) == ["who"]
    assert any("like an ID" in n for n in adata.uns["notes"])


def test_typo_row_numbers_in_xlsx_and_parquet(tmp_path: Path) -> None:
    from insightome.errors import UserError

    frame = pd.DataFrame({"pid": [f"P{i}" for i in range(10)], "v": [str(i) for i in range(10)]})
    frame.loc[6, "v"] = "6,5"
    xlsx = tmp_path / "t.xlsx"
    frame.to_excel(xlsx, index=False)
    with pytest.raises(UserError, match=r"column 'v' row 8 \(sample 'P6'\) holds '6,5'"):
        read(xlsx)
    parquet = tmp_path / "t.parquet"
    frame.to_parquet(parquet, index=False)
    with pytest.raises(UserError, match=r"column 'v' row 7 \(sample 'P6'\) holds '6,5'"):
        read(parquet)


def test_blank_lines_keep_row_numbers_exact(tmp_path: Path) -> None:
    from insightome.errors import UserError

    rows = "".join(f"P{i},{i}\n" for i in range(1, 9))
    text = "\n\npid,v\n" + rows.replace("P5,5\n", "\nP5,5o\n") + "\n\n"
    path = _write(tmp_path / "blank.csv", text)
    with pytest.raises(UserError, match=r"row 9 \(sample 'P5'\) holds '5o'"):
        read(path)
    adata = read(_write(tmp_path / "ok.csv", text.replace("5o", "5")))
    assert adata.n_obs == 8
    assert adata.uns["notes"][0].endswith("1 row with no data; ignored")


def test_unnamed_row_names_column_is_not_a_feature(tmp_path):
    """R's write.csv puts unnamed row numbers first; with a real ID column they are dropped."""
    from insightome.io import read

    path = tmp_path / "r_export.csv"
    path.write_text('"","pid","age","label"\n"1",101,50,"a"\n"2",102,61,"b"\n"3",103,47,"a"\n')
    adata = read(path, id_column="pid", keep_in_obs=["label"])
    assert list(adata.var_names) == ["age"]
    assert list(adata.obs_names) == ["101", "102", "103"]
    assert any("row names" in n for n in adata.uns["notes"])
