"""The packaged notes resources (en, es): every file in the contract's format, the public
rows faithful to their sources, and the rules doing what PROVENANCE.md says they do."""

from __future__ import annotations

import csv
import re
import unicodedata
from collections import Counter
from pathlib import Path

import pytest

from insightome.featurize.notes import (
    LANGUAGES,
    NoteExtractor,
    read_context_rules,
    read_lexicon,
    read_sections,
    starter_lexicon,
)
from tests.conftest import shared_data

RESOURCES = Path(__file__).resolve().parents[3] / "src/insightome/featurize/notes/resources"
FLAG_CATEGORIES = ("NEGATED", "POSSIBLE", "HISTORICAL", "HYPOTHETICAL", "FAMILY")
CATEGORIES = (*FLAG_CATEGORIES, "PSEUDO", "TERMINATE")
SOURCES = {
    "en": {"negex", "context", "insightome", "negex+insightome", "context+insightome"},
    "es": {"negex-mes", "insightome", "negex-mes+insightome"},
}
# a literal may set two flags at once only where PROVENANCE.md says so
TWO_FLAGS = {"no history of", "negative history of", "no prior history of"}


def fold(text: str) -> str:
    """Lower case, no accents, single spaces: how the engine compares literals."""
    text = unicodedata.normalize("NFKD", text.lower())
    return " ".join("".join(c for c in text if not unicodedata.combining(c)).split())


def rows(language: str, name: str) -> list[dict[str, str]]:
    with open(RESOURCES / language / name, encoding="utf-8", newline="") as f:
        lines = [line for line in f if not line.startswith("#")]
    return list(csv.DictReader(lines, delimiter="\t"))


# --------------------------------------------------------------------------------------
# context.tsv
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("language", LANGUAGES)
def test_context_rules_parse_and_cover_every_category(language):
    rules = read_context_rules(RESOURCES / language / "context.tsv")
    assert len(rules) > 300
    counts = Counter(r.category for r in rules)
    assert set(counts) == set(CATEGORIES), counts
    assert all(counts[c] >= 5 for c in CATEGORIES), counts


@pytest.mark.parametrize("language", LANGUAGES)
def test_context_rows_have_valid_directions_scopes_and_sources(language):
    table = rows(language, "context.tsv")
    assert list(table[0]) == ["literal", "category", "direction", "max_scope", "source"]
    for i, row in enumerate(table, start=2):
        category, direction = row["category"], row["direction"]
        assert category in CATEGORIES, (i, row)
        if category == "PSEUDO":
            assert direction == "none", (i, row)
        elif category == "TERMINATE":
            assert direction == "all" or set(direction.split(",")) <= set(FLAG_CATEGORIES), row
        else:
            assert direction in ("forward", "backward", "bidirectional", "self"), (i, row)
            assert direction != "self" or category == "NEGATED", (i, row)
        assert row["max_scope"] == "" or int(row["max_scope"]) >= 1, (i, row)
        assert row["source"] in SOURCES[language], (i, row)
        assert row["literal"] == row["literal"].strip() and "\t" not in row["literal"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_literal_twice_in_a_category_nor_in_two_flag_categories(language):
    table = rows(language, "context.tsv")
    per_category = Counter((fold(r["literal"]), r["category"]) for r in table)
    assert [k for k, n in per_category.items() if n > 1] == []
    flags: dict[str, set[str]] = {}
    for r in table:
        if r["category"] in FLAG_CATEGORIES:
            flags.setdefault(fold(r["literal"]), set()).add(r["category"])
    clashes = {lit: cats for lit, cats in flags.items() if len(cats) > 1}
    assert set(clashes) <= TWO_FLAGS, clashes
    assert all(cats == {"NEGATED", "HISTORICAL"} for cats in clashes.values()), clashes


def test_negex_and_context_rows_are_the_published_triggers():
    """Every row taken from chapmanbe/negex is in its file under the mapped tag."""
    folder = shared_data("clinical_text", "negex")
    tag_of = {
        "NEGATED forward": "PREN",
        "NEGATED backward": "POST",
        "POSSIBLE forward": "PREP",
        "POSSIBLE backward": "POSP",
        "PSEUDO none": "PSEU",
    }
    published: set[tuple[str, str]] = set()
    for path in folder.glob("*triggers.txt"):
        for line in path.read_text().splitlines():
            literal, tag = line.split("\t\t")
            published.add((fold(literal), tag.strip("[]")))
    checked = 0
    for r in rows("en", "context.tsv"):
        if r["source"] not in ("negex", "context"):
            continue
        key = f"{r['category']} {r['direction']}"
        tags = {tag_of[key]} if key in tag_of else {"PREN", "ONEW", "CONJ"}
        assert any((fold(r["literal"]), t) in published for t in tags), r
        checked += 1
    assert checked > 250


def test_negex_mes_rows_are_the_published_spanish_triggers():
    folder = shared_data("clinical_text", "spanish_triggers", "negex_mes", "without_lemma")
    published = {
        fold(line)
        for path in folder.glob("*.txt")
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith(":=")
    }
    mes = [r for r in rows("es", "context.tsv") if r["source"].startswith("negex-mes")]
    assert len(mes) > 200
    assert all(fold(r["literal"]) in published for r in mes)
    assert "descartar" not in {fold(r["literal"]) for r in mes}  # moved to POSSIBLE


# --------------------------------------------------------------------------------------
# sections.tsv
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("language", LANGUAGES)
def test_sections_parse_with_valid_flags_and_unique_headings(language):
    sections = read_sections(RESOURCES / language / "sections.tsv")
    assert len(sections) > 40
    assert {s.sets for s in sections} <= {"", "FAMILY", "HISTORICAL", "HYPOTHETICAL"}
    assert all(re.fullmatch(r"[a-z]+(?:_[a-z]+)*", s.section) for s in sections)
    headings = Counter(fold(s.heading) for s in sections)
    assert [h for h, n in headings.items() if n > 1] == []
    sets = {s.section: s.sets for s in sections}
    assert sets["family_history"] == "FAMILY"
    assert sets["past_medical_history"] == sets["past_surgical_history"] == "HISTORICAL"
    assert sets["return_precautions"] == "HYPOTHETICAL"
    assert sets["physical_exam"] == sets["medications"] == ""


# --------------------------------------------------------------------------------------
# lexicon.csv
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("language", "abbreviations"),
    [("en", {"MI", "CHF", "COPD", "DM", "HTN"}), ("es", {"IAM", "ICC", "EPOC", "DM", "HTA"})],
)
def test_starter_lexicons_parse_with_terms_measurements_and_abbreviations(language, abbreviations):
    lexicon = starter_lexicon(language)
    assert lexicon.concepts == read_lexicon(RESOURCES / language / "lexicon.csv").concepts
    assert 60 <= len(lexicon.concepts) <= 120
    assert all(c.terms and all(t.strip() for t in c.terms) for c in lexicon.concepts)
    by_id = {c.concept_id: c for c in lexicon.concepts}
    for cid in (
        "ejection_fraction",
        "hba1c",
        "creatinine",
        "temperature_measure",
        "weight",
        "blood_pressure",
    ):
        assert by_id[cid].category == "measurement", cid
    terms = {t for c in lexicon.concepts for t in c.terms}
    assert abbreviations <= terms


def test_english_and_spanish_lexicons_share_their_concept_ids():
    en, es = (starter_lexicon(lang) for lang in LANGUAGES)
    assert [c.concept_id for c in en.concepts] == [c.concept_id for c in es.concepts]
    assert [c.category for c in en.concepts] == [c.category for c in es.concepts]


@pytest.mark.parametrize(
    ("language", "needles"),
    [
        ("en", ("chapmanbe/negex", "Apache License 2.0", "not** derived from any licensed")),
        ("es", ("NegEx-MES", "MIT License", "Copyright (c) 2018 SEAD", "written for")),
    ],
)
def test_provenance_names_sources_and_licences(language, needles):
    text = (RESOURCES / language / "PROVENANCE.md").read_text(encoding="utf-8")
    for needle in needles:
        assert needle in text, needle


# --------------------------------------------------------------------------------------
# the rules at work (through the engine)
# --------------------------------------------------------------------------------------
FLAGS = ("negated", "possible", "historical", "hypothetical", "family")


@pytest.fixture(scope="module")
def extractors() -> dict[str, NoteExtractor]:
    pytest.importorskip("spacy")
    return {lang: NoteExtractor(starter_lexicon(lang), language=lang) for lang in LANGUAGES}


@pytest.mark.parametrize(
    ("language", "note", "concept", "expected"),
    [
        ("en", "No history of diabetes.", "diabetes", {"negated", "historical"}),
        ("en", "Chest x-ray concerning for pneumonia.", "pneumonia", {"possible"}),
        ("en", "Pneumonia cannot be excluded.", "pneumonia", {"possible"}),
        ("en", "Return to the ED if chest pain recurs.", "chest_pain", {"hypothetical"}),
        ("en", "Her mother has breast cancer.", "breast_cancer", {"family"}),
        ("en", "Denies fever but reports cough.", "cough", set()),
        ("en", "Denies fever but reports cough.", "fever", {"negated"}),
        ("en", "No increase in edema.", "edema", set()),
        ("en", "The abdominal pain has resolved.", "abdominal_pain", {"negated"}),
        ("en", "FAMILY HISTORY:\nDiabetes.", "diabetes", {"family"}),
        ("en", "Social history:\nSmoker.", "smoking", {"historical"}),
        ("es", "Niega fiebre y disnea.", "dyspnea", {"negated"}),
        ("es", "No edemas, tos productiva.", "edema", {"negated"}),
        ("es", "No edemas, tos productiva.", "cough", set()),
        ("es", "Abdomen blando, sin masas ni adenopatías.", "lymphadenopathy", {"negated"}),
        ("es", "Sospecha de neumonía.", "pneumonia", {"possible"}),
        (
            "es",
            "Se solicita TC para descartar tromboembolismo pulmonar.",
            "pulmonary_embolism",
            {"possible"},
        ),
        ("es", "Antecedentes de hipertensión arterial.", "hypertension", {"historical"}),
        ("es", "Acudir a urgencias si fiebre.", "fever", {"hypothetical"}),
        ("es", "Madre con diabetes mellitus.", "diabetes", {"family"}),
        ("es", "Serologías negativas para VIH.", "hiv", {"negated"}),
        ("es", "Antecedentes familiares:\nDiabetes.", "diabetes", {"family"}),
        ("es", "Fiebre; sin embargo, no tos.", "fever", set()),
    ],
)
def test_packaged_rules_assert_as_documented(extractors, language, note, concept, expected):
    found = [
        r
        for r in extractors[language].mentions("n", note)
        if r["concept_id"] == concept and r["kind"] == "concept"
    ]
    assert len(found) == 1, (note, concept, found)
    assert {f for f in FLAGS if found[0][f]} == expected, (note, found[0])
