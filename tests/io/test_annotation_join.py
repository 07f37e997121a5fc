"""An expression file and a sample sheet with differently named ID columns: pairing,
samples without a sheet row, and sheet columns as features (small tables, no shared data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from insightome import errors
from insightome.errors import UserError
from insightome.io import read

N = 30


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    """expr.csv (unnamed ID column, as pandas writes an index) and sheet.csv ('patient')."""
    rng = np.random.default_rng(0)
    ids = [f"P{i:02d}" for i in range(N)]
    expr = pd.DataFrame(rng.normal(size=(N, 4)), index=ids, columns=["g1", "g2", "g3", "g4"])
    expr.to_csv(tmp_path / "expr.csv")
    sheet = pd.DataFrame(
        {
            "tube": [f"T{i:02d}" for i in range(N)],  # first column: a unique label, not the ID
            "stage": ["I", "II", "III"] * (N // 3),
            "patient": ids[::-1],  # not the first column, rows in another order
            "age": np.arange(40, 40 + N, dtype=float),
            "os_days": rng.integers(10, 900, N),
            "site": ["A", "B"] * (N // 2),
        }
    )
    sheet.to_csv(tmp_path / "sheet.csv", index=False)
    return tmp_path / "expr.csv", tmp_path / "sheet.csv"


def test_the_sheet_id_column_is_named_on_its_own(files):
    expr, sheet = files
    adata = read(expr, annotations=sheet, annotations_id_column="patient")
    assert adata.n_obs == N and list(adata.var_names) == ["g1", "g2", "g3", "g4"]
    # the rows are paired by ID, not by position
    assert adata.obs.loc["P00", "age"] == 40 + N - 1 and adata.obs.loc["P29", "age"] == 40
    joined = adata.uns["provenance"]["annotations"]
    assert joined["id_column"] == "patient" and joined["n_matched"] == N
    assert joined["features"] == [] and set(joined["not_features"]) == {
        "tube", "stage", "age", "os_days", "site"
    }  # fmt: skip
    # without it, the sheet's first column ('tube') is taken and nothing matches
    with pytest.raises(UserError) as info:
        read(expr, annotations=sheet)
    assert info.value.template == errors.IDS_NONE_MATCH
    assert "--annotations-id-column" in str(info.value) and str(expr) in str(info.value)


def test_an_id_column_missing_is_named_with_its_file(files):
    expr, sheet = files
    with pytest.raises(UserError) as info:
        read(expr, annotations=sheet, annotations_id_column="patiens")
    message = str(info.value)
    assert message.startswith(f"{sheet}: ID column 'patiens' not found in the annotation table")
    assert "'patient'" in message and "--annotations-id-column" in message
    # --id-column names the data file's column; the sheet's one is not there
    with pytest.raises(UserError) as info:
        read(expr, annotations=sheet, id_column="patient")
    message = str(info.value)
    assert message.startswith(f"{expr}: ID column 'patient' not found in the data file")
    assert str(sheet) in message and "--annotations-id-column" in message


def test_a_sample_without_a_sheet_row_stops_or_is_dropped_with_a_note(files):
    expr, sheet = files
    df = pd.read_csv(sheet)
    short = sheet.with_name("short.csv")
    df[~df.patient.isin(["P03", "P07"])].to_csv(short, index=False)
    with pytest.raises(UserError) as info:
        read(expr, annotations=short, annotations_id_column="patient")
    message = str(info.value)
    assert "2 of 30 sample IDs" in message and "'P03', 'P07'" in message
    assert "--drop-unmatched" in message
    adata = read(expr, annotations=short, annotations_id_column="patient", drop_unmatched=True)
    assert adata.n_obs == N - 2 and not {"P03", "P07"} & set(adata.obs_names)
    assert adata.obsm["categorical"].shape[0] == N - 2
    joined = adata.uns["provenance"]["annotations"]
    assert joined["data_without_annotations"] == ["P03", "P07"] and joined["n_matched"] == 28
    (note,) = [n for n in adata.uns["notes"] if "--drop-unmatched" in n]
    # a count and where the IDs are: notes reach the report and the documents
    assert note == (
        "2 data sample(s) without a row in the annotation table short.csv were left out "
        "(--drop-unmatched; their IDs in results.json data.annotations)"
    )


def test_annotation_features_numeric_and_categorical(files):
    expr, sheet = files
    adata = read(
        expr, annotations=sheet, annotations_id_column="patient",
        annotation_features=["age", "stage"],
    )  # fmt: skip
    assert list(adata.var_names) == ["g1", "g2", "g3", "g4", "age"]
    assert adata.var.loc["age", "source"] == "annotations"
    ages = pd.Series(adata.X[:, 4], index=adata.obs_names)
    assert ages["P00"] == 40 + N - 1 and ages["P29"] == 40
    stage = adata.obsm["categorical"]["stage"]
    assert isinstance(stage.dtype, pd.CategoricalDtype)
    assert set(stage.cat.categories) == {"I", "II", "III"}
    assert stage["P29"] == "I"  # row 0 of the sheet
    joined = adata.uns["provenance"]["annotations"]
    assert joined["features"] == ["age", "stage"]
    assert set(joined["not_features"]) == {"tube", "os_days", "site"}


def test_an_unknown_or_clashing_annotation_feature_is_refused(files):
    expr, sheet = files
    with pytest.raises(UserError) as info:
        read(expr, annotations=sheet, annotations_id_column="patient", annotation_features=["agee"])
    message = str(info.value)
    assert message.startswith(f"{sheet}: --annotation-features names column 'agee'")
    assert "Did you mean: 'age'" in message
    df = pd.read_csv(sheet).assign(g1=1.0)
    clash = sheet.with_name("clash.csv")
    df.to_csv(clash, index=False)
    with pytest.raises(UserError, match="also a column of the data file"):
        read(expr, annotations=clash, annotations_id_column="patient", annotation_features=["g1"])
    with pytest.raises(UserError, match="give it with --annotations"):
        read(expr, annotation_features=["age"])
