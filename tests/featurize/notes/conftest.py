"""Shared helpers of the notes-engine tests: spaCy is the notes extra, so these tests skip
cleanly without it (tests/cli/test_notes_cli.py checks the one-line error then)."""

from __future__ import annotations

import pytest

from insightome.featurize.notes import NoteExtractor, starter_lexicon

pytest.importorskip("spacy")


@pytest.fixture(scope="session")
def english() -> NoteExtractor:
    return NoteExtractor(starter_lexicon("en"), language="en")


@pytest.fixture(scope="session")
def spanish() -> NoteExtractor:
    return NoteExtractor(starter_lexicon("es"), language="es")


def by_concept(rows: list[dict], concept_id: str, kind: str = "concept") -> dict:
    """The one row of ``concept_id`` (and ``kind``) among ``rows``."""
    found = [r for r in rows if r["concept_id"] == concept_id and r["kind"] == kind]
    assert len(found) == 1, (concept_id, kind, [(r["concept_id"], r["kind"]) for r in rows])
    return found[0]
