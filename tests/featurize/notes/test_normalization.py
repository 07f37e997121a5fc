"""Normalization keeps a map back to the original offsets; outputs slice back."""

from __future__ import annotations

import unicodedata

import numpy as np

from insightome.featurize.notes import normalize
from tests.featurize.notes.conftest import by_concept


def test_fast_path_keeps_offsets_and_folds_case_and_accents():
    norm = normalize("Neumonía BILATERAL en Córdoba")
    assert norm.text == "neumonia bilateral en cordoba"
    assert norm.to_original is None  # same length: offsets shared


def test_slow_path_maps_decomposed_accents_and_expansions_back():
    text = unicodedata.normalize("NFD", "Sospecha de neumonía") + " y İnfarto"
    norm = normalize(text)
    assert norm.text == "sospecha de neumonia y infarto"
    assert norm.to_original is not None and len(norm.to_original) == len(norm.text) + 1
    start = norm.text.index("neumonia")
    a, b = norm.start(start), norm.end(start + len("neumonia"))
    assert text[a:b] == unicodedata.normalize("NFD", "neumonía")  # the combining mark kept
    i = norm.text.index("infarto")
    assert text[norm.start(i) : norm.end(i + len("infarto"))] == "İnfarto"
    assert np.all(np.diff(norm.to_original) >= 0)


def test_every_mention_slices_back_to_its_text_in_the_original(english, spanish):
    english_note = "Pt denies FEVER.  History of Myocardial Infarction; EF 25%."
    spanish_note = unicodedata.normalize("NFD", "Niega fiebre. Neumonía previa. HbA1c 7,2 %.")
    for extractor, note in ((english, english_note), (spanish, spanish_note)):
        rows = extractor.mentions("n1", note)
        assert len(rows) >= 3
        for row in rows:
            assert note[row["start"] : row["end"]] == row["text"]
    rows = spanish.mentions("n1", spanish_note)
    assert unicodedata.normalize("NFC", by_concept(rows, "pneumonia")["text"]) == "Neumonía"
    fever = by_concept(english.mentions("n", english_note), "fever")
    assert fever["text"] == "FEVER" and fever["negated"] and fever["negated_by"] == "denies"
