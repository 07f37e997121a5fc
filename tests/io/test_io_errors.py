"""Every bad input gives one line naming the file, the column/row and what to do."""

from __future__ import annotations

from pathlib import Path

import anndata
import numpy as np
import pandas as pd
import pytest
import scipy.io

from insightome import errors
from insightome.errors import UserError
from insightome.io import formats, read


def _error(path: Path | str, **kwargs) -> str:
    with pytest.raises(UserError) as info:
        read(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# -- files ----------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.csv"
    assert _error(path) == errors.FILE_MISSING.format(path=str(path))


def test_directory(tmp_path: Path) -> None:
    assert _error(tmp_path) == errors.FILE_IS_DIRECTORY.format(path=str(tmp_path))


def test_unknown_suffix(tmp_path: Path) -> None:
    path = _write(tmp_path / "data.xls", "a,b\n1,2\n")
    assert _error(path) == errors.FILE_FORMAT_UNKNOWN.format(path=str(path), suffix=".xls")


def test_unreadable_file(tmp_path: Path, monkeypatch) -> None:
    path = _write(tmp_path / "locked.csv", "a,b\n1,2\n")

    def deny(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(formats, "open", deny, raising=False)
    assert _error(path) == errors.FILE_UNREADABLE.format(
        path=str(path), reason="[Errno 13] Permission denied"
    )


@pytest.mark.parametrize("name", ["empty.csv", "empty.parquet", "empty.mat", "empty.h5ad"])
def test_zero_byte_file(tmp_path: Path, name: str) -> None:
    path = _write(tmp_path / name, "")
    assert _error(path) == errors.FILE_EMPTY.format(path=str(path))


@pytest.mark.parametrize("text", ["a,b,c\n", "a,b,c\n\n\n", "\n\n", "a,b\n,\n,\n"])
def test_header_only_or_blank_csv(tmp_path: Path, text: str) -> None:
    path = _write(tmp_path / "header.csv", text)
    assert _error(path) == errors.FILE_EMPTY.format(path=str(path))


def test_header_only_parquet(tmp_path: Path) -> None:
    path = tmp_path / "none.parquet"
    pd.DataFrame({"a": pd.Series([], dtype=float)}).to_parquet(path)
    assert _error(path) == errors.FILE_EMPTY.format(path=str(path))


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("bad.parquet", "Parquet"),
        ("bad.xlsx", "Excel (.xlsx)"),
        ("bad.h5ad", "AnnData (.h5ad)"),
        ("bad.mat", "MATLAB (.mat)"),
        ("bad.csv.gz", "CSV"),
    ],
)
def test_corrupt_binary(tmp_path: Path, name: str, kind: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"\x89garbage\x00\x01\x02 not a real file " * 20)
    message = _error(path)
    prefix = f"{path}: cannot be parsed as {kind} ("
    assert message.startswith(prefix), message
    assert message.endswith("). Re-export the file or check its format.")
    reason = message[len(prefix) : -len("). Re-export the file or check its format.")]
    assert 0 < len(reason) <= 120


def test_csv_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("id,name\nx,Jos\xe9\n".encode("latin-1"))
    assert _error(path) == errors.FILE_CORRUPT.format(
        path=str(path), kind="CSV", reason="not UTF-8 text; save it as UTF-8"
    )


def test_csv_ragged_rows(tmp_path: Path) -> None:
    path = _write(tmp_path / "ragged.csv", "a,b\n1,2\n3,4,5,6\n")
    message = _error(path)
    assert message.startswith(f"{path}: cannot be parsed as CSV (")
    assert "Expected 2 fields" in message


def test_mat_without_x(tmp_path: Path) -> None:
    path = tmp_path / "nox.mat"
    scipy.io.savemat(path, {"data": np.ones((2, 2)), "labels": [[1], [2]]})
    assert _error(path) == errors.MAT_MISSING_KEYS.format(path=str(path), keys="data, labels")


def test_mat_y_length_mismatch(tmp_path: Path) -> None:
    path = tmp_path / "y.mat"
    scipy.io.savemat(path, {"X": np.ones((3, 2)), "Y": [[1], [2]]})
    assert _error(path) == errors.FILE_CORRUPT.format(
        path=str(path), kind="MATLAB (.mat)", reason="Y has 2 values but X has 3 rows"
    )


def test_missing_sheet(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    pd.DataFrame({"a": [1]}).to_excel(path, sheet_name="Patients", index=False)
    message = _error(path, sheet="patient")
    assert message.startswith(f"--sheet: {path} has no sheet 'patient' Did you mean: 'Patients'?")


# -- identifiers ----------------------------------------------------------------------------


def test_duplicate_ids(tmp_path: Path) -> None:
    path = _write(tmp_path / "dup.csv", "id,a\nx,1\ny,2\nx,3\nz,4\ny,5\n")
    assert _error(path, id_column="id") == errors.DUPLICATE_IDS.format(
        path=str(path), s="s", examples="'x', 'y'", n=2
    )


def test_duplicate_ids_in_unnamed_first_column(tmp_path: Path) -> None:
    path = _write(tmp_path / "dup.csv", ",a\n7,1\n8,2\n7,3\n")
    assert _error(path) == errors.DUPLICATE_IDS.format(path=str(path), s="", examples="'7'", n=1)


def test_duplicate_features(tmp_path: Path) -> None:
    path = _write(tmp_path / "dupf.csv", "id,TP53,EGFR,TP53\nx,1,2,3\n")
    assert _error(path) == errors.DUPLICATE_FEATURES.format(
        path=str(path), s="", examples="'TP53'", n=1
    )


def test_duplicate_features_in_features_by_samples(tmp_path: Path) -> None:
    path = _write(tmp_path / "g.csv", "gene,s1,s2\nTP53,1,2\nMYC,3,4\nTP53,5,6\n")
    message = _error(path, orient="features-by-samples")
    assert message == errors.DUPLICATE_FEATURES.format(path=str(path), s="", examples="'TP53'", n=1)


def test_duplicate_ids_in_annotations(tmp_path: Path) -> None:
    data = _write(tmp_path / "d.csv", "id,a\nx,1\ny,2\n")
    ann = _write(tmp_path / "ann.csv", "id,site\nx,A\nx,B\ny,C\n")
    assert _error(data, annotations=ann) == errors.DUPLICATE_IDS.format(
        path=str(ann), s="", examples="'x'", n=1
    )


def test_annotation_ids_do_not_match(tmp_path: Path) -> None:
    data = _write(tmp_path / "d.csv", "id,a\nx,1\ny,2\nz,3\n")
    ann = _write(tmp_path / "ann.csv", "id,site\nx,A\n")
    assert _error(data, annotations=ann) == errors.IDS_DO_NOT_MATCH.format(
        path=str(data), n_missing=2, n_total=3, annotations=str(ann), examples="'y', 'z'"
    )


def test_id_column_missing_with_hint(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.csv", "patient_id,a\nx,1\n")
    assert _error(path, id_column="patientid") == errors.ID_COLUMN_MISSING.format(
        path=str(path), column="patientid", hint=" Did you mean: 'patient_id'?"
    )


def test_missing_id_value(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.csv", "id,a\nx,1\n,2\n")
    message = _error(path, id_column="id")
    assert message.startswith(f"{path}: the sample-ID column 'id' is empty in row 3.")


def test_invalid_orient(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.csv", "id,a\nx,1\n")
    assert _error(path, orient="rows") == errors.ORIENT_INVALID.format(value="rows")


# -- values ---------------------------------------------------------------------------------


def test_typo_in_numeric_column(tmp_path: Path) -> None:
    rows = "".join(f"P{i},{40 + i}\n" for i in range(1, 10))
    path = _write(tmp_path / "typo.csv", "pid,age\n" + rows.replace("P4,44", "P4,4o"))
    message = _error(path)
    assert message == errors.NON_NUMERIC.format(
        path=str(path), column="age", row="5 (sample 'P4')", value="4o"
    )
    assert "row 5 (sample 'P4') holds '4o'" in message


def test_typo_in_features_by_samples(tmp_path: Path) -> None:
    path = _write(tmp_path / "g.csv", "gene,s1,s2\nTP53,1,2\nMYC,3,x\nlabel,a,b\n")
    message = _error(path, keep_in_obs=["label"])
    assert message == errors.NON_NUMERIC.format(
        path=str(path), column="s2", row="3 (feature 'MYC')", value="x"
    )


def test_infinite_value(tmp_path: Path) -> None:
    path = _write(tmp_path / "inf.csv", "id,a,b\nx,1,2\ny,3,-inf\n")
    assert _error(path) == errors.INFINITE_VALUE.format(
        path=str(path), column="b", row="3 (sample 'y')"
    )


def test_infinite_value_in_h5ad(tmp_path: Path) -> None:
    path = tmp_path / "inf.h5ad"
    X = np.array([[1.0, 2.0], [np.inf, 0.0]])
    anndata.AnnData(
        X, obs=pd.DataFrame(index=["a", "b"]), var=pd.DataFrame(index=["g", "h"])
    ).write_h5ad(path)
    assert _error(path) == errors.INFINITE_VALUE.format(
        path=str(path), column="g", row="2 (sample 'b')"
    )


def test_no_features_left(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.csv", "id,time,event\nx,1,0\ny,2,1\n")
    assert _error(path, keep_in_obs=["time", "event"]) == errors.NO_FEATURES.format(
        path=str(path), removed="'id', 'time', 'event'"
    )
