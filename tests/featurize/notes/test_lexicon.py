"""Lexicon files: CSV/TSV/YAML, every bad input one line naming file and row; matching is
case- and accent-insensitive, multi-word, longest first, with case-sensitive abbreviations."""

from __future__ import annotations

import pytest

from insightome import errors
from insightome.errors import UserError
from insightome.featurize.notes import NoteExtractor, read_lexicon, starter_lexicon

LEXICON = """concept_id,name,synonyms,regex,category
hf,heart failure,congestive heart failure|CHF,,condition
failure,failure,,,finding
mi,myocardial infarction,MI|heart attack,,condition
neumonia,neumonía,,,condition
ef,ejection fraction,EF,,measurement
stage,cancer stage,,stage (?:i|ii|iii|iv)\\b,finding
"""


@pytest.fixture
def lexicon(tmp_path):
    path = tmp_path / "concepts.csv"
    path.write_text(LEXICON, encoding="utf-8")
    return read_lexicon(path)


def test_csv_lexicon_is_read_with_terms_regex_category_and_hash(lexicon):
    assert [c.concept_id for c in lexicon.concepts] == [
        "hf",
        "failure",
        "mi",
        "neumonia",
        "ef",
        "stage",
    ]
    hf = lexicon.by_id["hf"]
    assert hf.terms == ("heart failure", "congestive heart failure", "CHF")
    assert hf.category == "condition"
    assert lexicon.by_id["stage"].regex == r"stage (?:i|ii|iii|iv)\b"
    assert len(lexicon.sha256) == 64


def test_tsv_and_yaml_lexicons_read_like_the_csv(tmp_path, lexicon):
    tsv = tmp_path / "c.tsv"
    tsv.write_text("concept_id\tname\tsynonyms\nhf\theart failure\tCHF|cardiac failure\n")
    assert read_lexicon(tsv).by_id["hf"].terms == ("heart failure", "CHF", "cardiac failure")
    yml = tmp_path / "c.yaml"
    yml.write_text(
        "concepts:\n- concept_id: hf\n  name: heart failure\n  synonyms: [CHF, cardiac failure]\n"
        "  category: condition\n- concept_id: st\n  name: stage\n  regex: 'stage [1-4]'\n"
    )
    read = read_lexicon(yml)
    assert read.by_id["hf"].terms == ("heart failure", "CHF", "cardiac failure")
    assert read.by_id["st"].regex == "stage [1-4]" and read.by_id["hf"].category == "condition"


@pytest.mark.parametrize(
    ("content", "template", "fragments"),
    [
        (
            "concept_id,name\na,fever\na,pyrexia\n",
            errors.LEXICON_DUPLICATE_ID,
            ["row 3", "'a'", "row 2"],
        ),
        (
            "concept_id,name,synonyms\na,fever,pyrexia||febrile\n",
            errors.LEXICON_EMPTY_SYNONYM,
            ["row 2", "'a'"],
        ),
        ("concept_id,name,synonyms\na,,\n", errors.LEXICON_NO_NAME, ["row 2", "'a'"]),
        (
            "concept_id,name,regex\na,fever,fev(er\n",
            errors.LEXICON_BAD_REGEX,
            ["row 2", "'a'", "regex"],
        ),
        ("id,name\na,fever\n", errors.LEXICON_COLUMN_MISSING, ["'concept_id'", "id, name"]),
        ("concept_id,name\n,fever\n", errors.LEXICON_NO_ID, ["row 2"]),
        ("concept_id,name,synonyms\na,fever,--\n", errors.LEXICON_TERM_NO_WORD, ["row 2", "'--'"]),
        ("concept_id,name\n", errors.LEXICON_EMPTY, ["no concept"]),
    ],
)
def test_bad_lexicons_raise_one_line_naming_file_and_row(tmp_path, content, template, fragments):
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(UserError) as caught:
        read_lexicon(path)
    message = str(caught.value)
    assert caught.value.template == template
    assert "\n" not in message and str(path) in message
    for fragment in fragments:
        assert fragment in message


def test_lexicon_that_is_not_utf8_or_of_unknown_type_is_refused(tmp_path):
    latin = tmp_path / "latin.csv"
    latin.write_bytes("concept_id,name\nn,neumonía\n".encode("latin-1"))
    with pytest.raises(UserError, match=r"line 2 is not valid UTF-8 \(byte 0xed"):
        read_lexicon(latin)
    with pytest.raises(UserError, match=r"unknown lexicon file type '\.json'"):
        read_lexicon(tmp_path / "c.json")
    with pytest.raises(UserError, match="not a list of concepts"):
        (tmp_path / "c.yml").write_text("hf: heart failure\n")
        read_lexicon(tmp_path / "c.yml")


def _found(extractor, text):
    return [
        (r["concept_id"], r["text"]) for r in extractor.mentions(1, text) if r["kind"] == "concept"
    ]


def test_matching_is_case_and_accent_insensitive_multiword_and_longest_first(lexicon):
    extractor = NoteExtractor(lexicon, "en", values=False)
    text = "Congestive  Heart\nFailure and NEUMONIA; renal failure; Neumonía."
    found = _found(extractor, text)
    # the longest term wins over "heart failure" and "failure" inside it; line breaks and
    # double spaces between words do not stop a multi-word term
    assert found == [
        ("hf", "Congestive  Heart\nFailure"),
        ("neumonia", "NEUMONIA"),
        ("failure", "failure"),
        ("neumonia", "Neumonía"),
    ]


def test_short_capitalised_abbreviations_match_only_in_capitals(lexicon):
    extractor = NoteExtractor(lexicon, "en", values=False)
    assert _found(extractor, "Old MI. CHF.") == [("mi", "MI"), ("hf", "CHF")]
    assert _found(extractor, "mi casa, chf") == []  # lower case: words, not abbreviations
    assert _found(extractor, "EF 30") == [("ef", "EF")]


def test_regex_terms_match_whole_words_of_the_normalized_text(lexicon):
    extractor = NoteExtractor(lexicon, "en", values=False)
    assert _found(extractor, "Tumour STAGE III, restage iv.") == [("stage", "STAGE III")]


@pytest.mark.parametrize("language", ["en", "es"])
def test_every_starter_concept_is_found_by_its_own_name(language):
    lexicon = starter_lexicon(language)
    assert len(lexicon) >= 10 and all(c.category for c in lexicon.concepts)
    extractor = NoteExtractor(lexicon, language, values=False)
    for concept in lexicon.concepts:
        text = f"{concept.name}."
        found = {
            r["concept_id"] for r in extractor.mentions(1, text) if r["end"] == len(concept.name)
        }
        assert concept.concept_id in found, (concept.concept_id, found)


def test_starter_lexicon_of_an_unknown_language_is_refused():
    with pytest.raises(UserError, match="--language must be en, es or auto, not 'fr'"):
        starter_lexicon("fr")


def test_an_unreadable_lexicon_or_rule_file_is_one_line_naming_the_file(tmp_path, monkeypatch):
    from pathlib import Path

    from insightome.featurize.notes import read_context_rules

    (tmp_path / "afile.csv").write_text("concept_id,name\na,fever\n")
    inside_a_file = tmp_path / "afile.csv" / "concepts.csv"  # NotADirectoryError
    with pytest.raises(UserError) as caught:
        read_lexicon(inside_a_file)
    assert caught.value.template == errors.FILE_UNREADABLE
    assert str(inside_a_file) in str(caught.value) and "\n" not in str(caught.value)

    def denied(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    # the tests may run as root, which reads any file: the permission error is simulated
    monkeypatch.setattr(Path, "read_bytes", denied)
    monkeypatch.setattr(Path, "read_text", denied)
    locked = tmp_path / "locked.csv"
    locked.write_bytes(b"concept_id,name\na,fever\n")
    with pytest.raises(UserError, match=r"locked\.csv: cannot be read \(Permission denied\)"):
        read_lexicon(locked)
    with pytest.raises(UserError, match=r"context\.tsv: cannot be read \(Permission denied\)"):
        read_context_rules(tmp_path / "context.tsv")
