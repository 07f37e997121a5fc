"""Shared helpers of the notes-engine tests: spaCy is the notes extra, so these tests skip
cleanly without it (tests/cli/test_notes_cli.py checks the one-line error then).

The tests read their own lexicons (``data/lexicon_<lang>.csv``), so the packaged starter
lexicons can change freely; they use the packaged rules and sections, and only triggers
any reasonable rule set holds ("no", "denies", "without", "possible", "history of", "if",
"mother", "no increase", "but"; "no", "niega", "sin", "posible", "antecedentes de", "si",
"madre", "pero") and the headings "Family history" / "Antecedentes familiares"."""

from __future__ import annotations

from pathlib import Path

import pytest

from insightome.featurize.notes import Lexicon, NoteExtractor, read_lexicon

pytest.importorskip("spacy")

DATA = Path(__file__).with_name("data")


def lexicon_for(language: str) -> Lexicon:
    """The tests' lexicon of ``language`` (a copy of the development starter lexicon)."""
    return read_lexicon(DATA / f"lexicon_{language}.csv")


@pytest.fixture(scope="session")
def english() -> NoteExtractor:
    return NoteExtractor(lexicon_for("en"), language="en")


@pytest.fixture(scope="session")
def spanish() -> NoteExtractor:
    return NoteExtractor(lexicon_for("es"), language="es")


def by_concept(rows: list[dict], concept_id: str, kind: str = "concept") -> dict:
    """The one row of ``concept_id`` (and ``kind``) among ``rows``."""
    found = [r for r in rows if r["concept_id"] == concept_id and r["kind"] == kind]
    assert len(found) == 1, (concept_id, kind, [(r["concept_id"], r["kind"]) for r in rows])
    return found[0]
