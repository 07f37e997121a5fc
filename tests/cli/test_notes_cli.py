"""``insightome notes extract``: mentions written, a summary without note text, and every
bad input one line with exit code 2 and nothing written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from insightome import errors
from insightome.featurize.notes import MENTION_COLUMNS
from tests.cli.test_bad_input import assert_user_error

ROOT = Path(__file__).resolve().parents[2]
LEXICON = ROOT / "tests" / "featurize" / "notes" / "data" / "lexicon_en.csv"
NOTES = pd.DataFrame(
    {
        "note_id": ["n1", "n2", "n3", "n4"],
        "patient": ["p1", "p1", "p2", "p3"],
        "text": [
            "Mr Zebediah denies fever but reports cough. History of MI.",
            "Possible pneumonia. EF 25%.\nFamily history:\nDiabetes.",
            "",
            "Cough improving. No chest pain.",
        ],
    }
)


@pytest.fixture
def notes_csv(tmp_path) -> Path:
    path = tmp_path / "notes.csv"
    NOTES.to_csv(path, index=False)
    return path


def test_extract_writes_one_row_per_mention_and_a_summary_without_text(cli, tmp_path, notes_csv):
    pytest.importorskip("spacy")
    out = tmp_path / "mentions.csv"
    result = cli("notes", "extract", notes_csv, "--lexicon", LEXICON, "-o", out)
    assert result.code == 0, result.err
    mentions = pd.read_csv(out, keep_default_na=False)
    assert tuple(mentions.columns) == MENTION_COLUMNS
    concepts = mentions[mentions["kind"] == "concept"]
    assert set(concepts["note_id"]) == {"n1", "n2", "n4"}
    fever = concepts[concepts["concept_id"] == "fever"].iloc[0]
    assert fever["negated"] in (True, "True") and fever["negated_by"] == "denies"
    cough = concepts[(concepts["concept_id"] == "cough") & (concepts["note_id"] == "n1")].iloc[0]
    assert cough["negated"] in (False, "False")
    text = dict(zip(NOTES["note_id"], NOTES["text"], strict=True))
    for row in mentions.itertuples():
        assert text[row.note_id][row.start : row.end] == row.text
    value = mentions[mentions["kind"] == "value"].iloc[0]
    assert (value["concept_id"], float(value["value"]), value["unit"]) == (
        "ejection_fraction",
        25.0,
        "%",
    )
    console = result.out
    assert "notes: 3 read from notes.csv, 1 skipped (empty text)" in console
    assert "language: English (detected from stopwords" in console
    assert "lexicon_en.csv (22 concepts)" in console
    assert f"mentions: {len(concepts)} concept, 1 value, in 3 of 3 notes" in console
    assert "Zebediah" not in console + result.err  # no note text on the console
    assert str(out.resolve()) in console.replace("\n", "")


def test_without_a_lexicon_the_starter_lexicon_is_used_and_said(cli, tmp_path, notes_csv):
    pytest.importorskip("spacy")
    result = cli("notes", "extract", notes_csv, "-o", tmp_path / "m.tsv")
    assert result.code == 0, result.err
    assert "lexicon: the starter lexicon of the language (" in result.out
    mentions = pd.read_csv(tmp_path / "m.tsv", sep="\t")
    assert tuple(mentions.columns) == MENTION_COLUMNS and len(mentions) > 0


def test_extract_spanish_with_a_user_lexicon_and_given_columns(cli, tmp_path):
    pytest.importorskip("spacy")
    notes = tmp_path / "notas.tsv"
    pd.DataFrame(
        {"episodio": ["e1", "e2"], "informe": ["Niega disnea. Tos.", "Sospecha de neumonía."]}
    ).to_csv(notes, sep="\t", index=False)
    lexicon = tmp_path / "lexico.yaml"
    lexicon.write_text(
        "- concept_id: disnea\n  name: disnea\n- concept_id: neumonia\n  name: neumonía\n"
        "  synonyms: [neumonia]\n  category: condition\n",
        encoding="utf-8",
    )
    out = tmp_path / "menciones.tsv"
    result = cli(
        "notes", "extract", notes, "--lexicon", lexicon, "--language", "es",
        "--id-column", "episodio", "--text-column", "informe", "-o", out,
    )  # fmt: skip
    assert result.code == 0, result.err
    mentions = pd.read_csv(out, sep="\t")
    assert mentions[["note_id", "concept_id", "negated", "possible"]].values.tolist() == [
        ["e1", "disnea", True, False],
        ["e2", "neumonia", False, True],
    ]
    assert "language: Spanish (given with --language)" in result.out
    assert "lexico.yaml (2 concepts)" in result.out


@pytest.mark.parametrize(
    ("case", "fragments"),
    [
        ("missing id column", ["ID column 'visit' not found", "--id-column"]),
        ("empty notes", ["no note has any text", "2 rows"]),
        ("header only", ["no note has any text", "0 rows"]),
        ("not utf-8", ["line 2 is not valid UTF-8", "Re-save the file as UTF-8"]),
        ("duplicate ids", ["row 3", "concept_id 'fever' is already used on row 2"]),
        ("empty synonym", ["row 2", "empty synonym"]),
        ("bad regex", ["row 2", "invalid regex"]),
        ("bad output", ["must end in .csv or .tsv"]),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(
    cli, tmp_path, notes_csv, case, fragments
):
    notes, out, extra = notes_csv, tmp_path / "out.csv", []
    lexicon = tmp_path / "lexicon.csv"
    if case == "missing id column":
        extra = ["--id-column", "visit"]
    elif case == "empty notes":
        notes = tmp_path / "empty.csv"
        pd.DataFrame({"note_id": ["a", "b"], "text": ["", "   "]}).to_csv(notes, index=False)
    elif case == "header only":
        notes = tmp_path / "header.csv"
        notes.write_text("note_id,text\n")
    elif case == "not utf-8":
        notes = tmp_path / "latin.csv"
        notes.write_bytes("note_id,text\na,Niega fiebre. Neumonía.\n".encode("latin-1"))
    elif case in ("duplicate ids", "empty synonym", "bad regex"):
        lexicon.write_text(
            {
                "duplicate ids": "concept_id,name\nfever,fever\nfever,pyrexia\n",
                "empty synonym": "concept_id,name,synonyms\nfever,fever,pyrexia||febrile\n",
                "bad regex": "concept_id,name,regex\nfever,fever,febr(il\n",
            }[case]
        )
        extra = ["--lexicon", lexicon]
    elif case == "bad output":
        out = tmp_path / "out.xlsx"
    result = cli("notes", "extract", notes, "-o", out, *extra)
    assert_user_error(result, *fragments)
    assert not out.exists()
    assert "Zebediah" not in result.err and "fiebre" not in result.err


def test_without_spacy_the_command_says_to_install_the_extra(tmp_path, notes_csv):
    code = (
        "import sys\nsys.modules['spacy'] = None\n"
        "from insightome.cli.app import main\n"
        f"sys.argv = ['insightome', 'notes', 'extract', {str(notes_csv)!r}, '-o', "
        f"{str(tmp_path / 'out.csv')!r}]\nmain()\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == errors.EXIT_USER_ERROR, done.stderr
    assert done.stderr.strip() == f"error: {errors.NOTES_EXTRA_MISSING}"
    assert not (tmp_path / "out.csv").exists()
