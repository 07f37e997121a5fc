"""Reading a notes table: the columns found, empty notes counted, every bad input one line
naming the file (and row/column), never the note text."""

from __future__ import annotations

import pandas as pd
import pytest

from insightome import errors
from insightome.errors import UserError
from insightome.io.notes import read_notes, write_mentions

SECRET = "Sra. García, 45 años, niega fiebre"


def write(tmp_path, frame: pd.DataFrame, name: str = "notes.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False, sep="\t" if name.endswith(".tsv") else ",")
    return path


def test_columns_are_found_and_empty_notes_counted(tmp_path):
    frame = pd.DataFrame(
        {
            "patient": ["p1", "p2", "p3"],
            "ID": ["a", "b", "c"],
            "Transcription": ["Cough.", "  ", "Fever."],
        }
    )
    table = read_notes(write(tmp_path, frame), keep=("patient",))
    assert (table.id_column, table.text_column) == ("ID", "Transcription")
    assert table.frame.to_dict("list") == {
        "note_id": ["a", "c"],
        "text": ["Cough.", "Fever."],
        "patient": ["p1", "p3"],
    }
    assert (table.n_rows, table.n_empty) == (3, 1)
    assert any("1 of 3 notes have no text" in n for n in table.notes)
    assert len(table.sha256) == 64


def test_without_a_known_text_column_the_longest_is_taken_and_said(tmp_path):
    frame = pd.DataFrame({"code": ["x", "y"], "body": ["A long note text.", "Another one here."]})
    table = read_notes(write(tmp_path, frame, "n.tsv"))
    assert table.text_column == "body" and table.id_column == ""
    assert table.frame["note_id"].tolist() == ["2", "3"]  # spreadsheet rows
    assert any("longest mean length" in n for n in table.notes)
    assert any("row numbers" in n for n in table.notes)


def test_jsonl_notes(tmp_path):
    path = tmp_path / "n.jsonl"
    path.write_text(
        '{"note_id": 7, "text": "Cough."}\n{"note_id": 8, "text": ""}\n', encoding="utf-8"
    )
    table = read_notes(path)
    assert table.frame["note_id"].tolist() == ["7"] and table.n_empty == 1


@pytest.mark.parametrize(
    ("setup", "template", "fragments"),
    [
        (
            lambda p: write(p, pd.DataFrame({"id": ["a"], "text": [SECRET]})),
            errors.NOTES_ID_COLUMN_MISSING,
            ["'note'", "Did you mean"],
        ),
        (
            lambda p: write(p, pd.DataFrame({"id": ["a"], "text": [SECRET]})),
            errors.NOTES_TEXT_COLUMN_MISSING,
            ["'txt'", "text"],
        ),
        (
            lambda p: write(p, pd.DataFrame({"id": ["a", "b"], "text": ["", " "]})),
            errors.NOTES_NONE,
            ["2 rows", "2 with an empty text"],
        ),
        (
            lambda p: write(p, pd.DataFrame({"id": ["a", ""], "text": [SECRET, SECRET]})),
            errors.NOTES_MISSING_ID,
            ["row 3", "'id'"],
        ),
    ],
)
def test_bad_notes_tables(tmp_path, setup, template, fragments):
    path = setup(tmp_path)
    column = {
        errors.NOTES_ID_COLUMN_MISSING: {"id_column": "note"},
        errors.NOTES_TEXT_COLUMN_MISSING: {"text_column": "txt"},
    }
    with pytest.raises(UserError) as caught:
        read_notes(path, **column.get(template, {}))
    message = str(caught.value)
    assert caught.value.template == template and str(path) in message and "\n" not in message
    assert "García" not in message and "fiebre" not in message
    for fragment in fragments:
        assert fragment in message


def test_non_utf8_is_refused_with_line_and_byte_not_guessed(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes(("id,text\na,Cough\nb," + SECRET + "\n").encode("latin-1"))
    with pytest.raises(UserError) as caught:
        read_notes(path)
    message = str(caught.value)
    assert caught.value.template == errors.NOTES_NOT_UTF8
    assert "line 3" in message and "0xed" in message and "UTF-8" in message
    assert "García" not in message


def test_missing_empty_and_unknown_files(tmp_path):
    with pytest.raises(UserError, match="file not found"):
        read_notes(tmp_path / "none.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(UserError, match="the file is empty"):
        read_notes(tmp_path / "empty.csv")
    (tmp_path / "header.csv").write_text("id,text\n")
    with pytest.raises(UserError, match="no note has any text"):
        read_notes(tmp_path / "header.csv")
    with pytest.raises(UserError, match=r"unknown notes file type '\.docx'"):
        read_notes(tmp_path / "n.docx")


def test_write_mentions_is_atomic_and_checks_the_suffix(tmp_path):
    frame = pd.DataFrame({"note_id": ["a"], "start": [1]})
    path = write_mentions(frame, tmp_path / "out" / "m.tsv")
    assert path.read_text() == "note_id\tstart\na\t1\n"
    assert [p.name for p in path.parent.iterdir()] == ["m.tsv"]  # no temporary file left
    with pytest.raises(UserError, match=r"must end in \.csv or \.tsv"):
        write_mentions(frame, tmp_path / "m.xlsx")
