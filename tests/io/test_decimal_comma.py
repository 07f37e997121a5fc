"""European CSV exports: ';' separator and decimal comma (Spanish, Dutch, German Excel).

The data are scikit-learn's breast-cancer measurements written as such an export, so the
numbers read back can be compared with the originals.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from insightome import errors
from insightome.errors import UserError
from insightome.io import read


@pytest.fixture(scope="module")
def breast() -> pd.DataFrame:
    bunch = load_breast_cancer(as_frame=True)
    df = bunch.frame.rename(columns=lambda c: c.replace(" ", "_"))
    df["diagnosis"] = df.pop("target").map({0: "malignant", 1: "benign"})
    df.insert(0, "sample", [f"T{i:03d}" for i in range(len(df))])
    return df


def european(df: pd.DataFrame, path: Path, **kwargs) -> Path:
    df.to_csv(path, sep=kwargs.pop("sep", ";"), decimal=",", index=False, **kwargs)
    return path


def test_decimal_comma_is_detected_and_noted(tmp_path, breast):
    path = european(breast, tmp_path / "breast_es.csv")
    assert "17,99" in path.read_text()  # the export really uses the decimal comma
    adata = read(path, keep_in_obs=["diagnosis"])
    features = [c for c in breast.columns if c not in ("sample", "diagnosis")]
    assert list(adata.var_names) == features
    assert adata.obsm["categorical"].shape[1] == 0
    np.testing.assert_allclose(adata.X, breast[features].to_numpy(float), rtol=1e-12)
    notes = [n for n in adata.uns["notes"] if "decimal comma" in n]
    assert len(notes) == 1 and "30 column(s)" in notes[0] and "--decimal ." in notes[0]
    assert adata.uns["provenance"]["files"][0]["read_options"]["decimal"] == ","


def test_tab_separated_dutch_export(tmp_path, breast):
    path = european(breast.head(60), tmp_path / "borst.tsv", sep="\t")
    adata = read(path, keep_in_obs=["diagnosis"])
    assert adata.X.shape == (60, 30)
    assert adata.X[0, 0] == pytest.approx(17.99)


def test_thousands_separator_before_the_comma(tmp_path, breast):
    df = breast.head(40).copy()
    path = tmp_path / "areas.csv"
    european(df, path)
    text = path.read_text()
    assert ";1001,0;" in text
    path.write_text(text.replace(";1001,0;", ";1.001,0;"))  # Excel's '#.##0,0' format
    adata = read(path, keep_in_obs=["diagnosis"])
    j = list(adata.var_names).index("mean_area")
    assert adata.X[0, j] == pytest.approx(1001.0)


def test_explicit_decimal_comma_takes_grouped_dots_as_thousands(tmp_path):
    path = tmp_path / "counts.csv"
    path.write_text("id;reads;ratio\nA;1.234;0,5\nB;12.345;1,25\nC;7;2\n")
    adata = read(path, decimal=",")
    assert adata.X[:, 0].tolist() == [1234.0, 12345.0, 7.0]
    assert adata.X[:, 1].tolist() == [0.5, 1.25, 2.0]


def test_mixed_decimal_marks_are_refused(tmp_path, breast):
    df = breast.head(40).copy()
    path = european(df, tmp_path / "mixed.csv")
    frame = pd.read_csv(path, sep=";", dtype=str)
    frame["mean_radius"] = breast["mean_radius"].head(40).map(str)  # a decimal point here
    frame.to_csv(path, sep=";", index=False)
    with pytest.raises(UserError) as info:
        read(path, keep_in_obs=["diagnosis"])
    assert info.value.template == errors.DECIMAL_MIXED
    message = str(info.value)
    assert "'mean_radius'" in message and "--decimal" in message and "\n" not in message


def test_decimal_point_keeps_comma_text_as_categories(tmp_path):
    path = tmp_path / "codes.csv"
    path.write_text("id;code;x\nA;1,2;1\nB;3,4;2\nC;1,2;3\n")
    adata = read(path, decimal=".")
    assert list(adata.obsm["categorical"].columns) == ["code"]
    assert not any("decimal comma" in n for n in adata.uns["notes"])


def test_comma_separated_file_is_not_reinterpreted(tmp_path):
    """A ','-separated CSV cannot hold an unquoted decimal comma: nothing is detected."""
    path = tmp_path / "plain.csv"
    path.write_text('id,code,x\nA,"1,2",1.5\nB,"3,4",2.5\nC,"1,2",3.5\n')
    adata = read(path)
    assert list(adata.obsm["categorical"].columns) == ["code"]
    assert adata.X[:, 0].tolist() == [1.5, 2.5, 3.5]
