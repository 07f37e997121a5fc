"""Value mentions: a number (and unit) after a concept, units normalized only where the
conversion is unambiguous, decimal commas, ratios."""

from __future__ import annotations

import math

import pytest

from insightome.featurize.notes import extract_mentions, read_units
from tests.featurize.notes.conftest import by_concept


def value(extractor, note: str, concept: str) -> dict:
    row = by_concept(extractor.mentions("n", note), concept, kind="value")
    assert note[row["start"] : row["end"]] == row["text"]
    return row


@pytest.mark.parametrize(
    ("note", "concept", "text", "number", "unit", "normalized", "unit_normalized"),
    [
        ("EF 25%.", "ejection_fraction", "25%", 25.0, "%", 25.0, "%"),
        ("HbA1c 7.2 % last month.", "hba1c", "7.2 %", 7.2, "%", 7.2, "%"),
        ("Creatinine 1.4 mg/dL.", "creatinine", "1.4 mg/dL", 1.4, "mg/dL", 1.4, "mg/dL"),
        ("creatinine was 1.4 mg/dl", "creatinine", "1.4 mg/dl", 1.4, "mg/dl", 1.4, "mg/dL"),
        ("Temp 38.5 C.", "temperature_measure", "38.5 C", 38.5, "C", 38.5, "°C"),
        ("Weight 80 kg.", "weight", "80 kg", 80.0, "kg", 80.0, "kg"),
        ("Weight: 176 lbs.", "weight", "176 lbs", 176.0, "lbs", 79.8325, "kg"),
        ("Temp of 101.3 F.", "temperature_measure", "101.3 F", 101.3, "F", 38.5, "°C"),
        ("HbA1c 53 mmol/mol.", "hba1c", "53 mmol/mol", 53.0, "mmol/mol", 7.0, "%"),
        ("Creatinine 123 umol/L.", "creatinine", "123 umol/L", 123.0, "umol/L", 1.3914, "mg/dL"),
        ("BP 120/80 mmHg.", "blood_pressure", "120/80 mmHg", 120.0, "mmHg", 120.0, "mmHg"),
        ("EF of 35.", "ejection_fraction", "35", 35.0, "", 35.0, ""),
        ("EF (35%).", "ejection_fraction", "35%", 35.0, "%", 35.0, "%"),
    ],
)
def test_english_values(english, note, concept, text, number, unit, normalized, unit_normalized):
    row = value(english, note, concept)
    assert row["text"] == text and row["value"] == number and row["unit"] == unit
    assert row["value_normalized"] == pytest.approx(normalized, abs=0.01)
    assert row["unit_normalized"] == unit_normalized


def test_spanish_decimal_comma_and_units(spanish):
    row = value(spanish, "HbA1c 7,2 %. Creatinina de 1,4 mg/dl.", "hba1c")
    assert (row["text"], row["value"], row["unit_normalized"]) == ("7,2 %", 7.2, "%")
    row = value(spanish, "HbA1c 7,2 %. Creatinina de 1,4 mg/dl.", "creatinine")
    assert (row["value"], row["unit"], row["unit_normalized"]) == (1.4, "mg/dl", "mg/dL")


def test_conversions_are_limited_to_their_analyte(english):
    # µmol/L → mg/dL is creatinine's conversion only; a bare "F" is a temperature only
    rows = english.mentions("n", "Glucose 5.5 umol/L. Pain 5 F.")
    glucose = by_concept(rows, "glucose", kind="value")
    assert glucose["value_normalized"] == 5.5 and glucose["unit_normalized"] == "µmol/L"
    assert [r for r in rows if r["kind"] == "value" and r["concept_id"] == "pain"] == []
    glucose = value(english, "Blood glucose 5.5 mmol/L.", "glucose")
    assert glucose["value_normalized"] == pytest.approx(99.09, abs=0.01)


def test_non_measurements_need_a_unit_and_values_carry_the_concepts_assertion(english):
    rows = english.mentions("n", "Pain 2 days. Denies fever 38.5 C.")
    assert [r["kind"] for r in rows if r["concept_id"] == "pain"] == ["concept"]
    fever_value = by_concept(rows, "fever", kind="value")
    assert fever_value["value_normalized"] == 38.5 and fever_value["negated"]


def test_concept_rows_have_no_value(english):
    frame = extract_mentions(
        __import__("pandas").DataFrame({"note_id": ["a"], "text": ["Cough. EF 25%."]}),
        english.lexicon,
        "en",
    )
    concept = frame[frame["kind"] == "concept"].iloc[0]
    assert (
        math.isnan(concept["value"]) and concept["unit"] == "" and concept["unit_normalized"] == ""
    )
    assert frame["value"].dtype == float and frame["start"].dtype == "int64"


def test_the_units_table_converts_as_documented():
    rows = {(r.unit, r.to): r for r in read_units()}
    fahrenheit = rows[("°f", "°C")]
    assert fahrenheit.factor * 212 + fahrenheit.offset == pytest.approx(100.0)
    hba1c = rows[("mmol/mol", "%")]
    assert hba1c.factor * 48 + hba1c.offset == pytest.approx(6.542)  # NGSP = 0.0915 IFCC + 2.15
    assert rows[("lb", "kg")].factor == pytest.approx(0.45359237)
    assert rows[("g/l", "g/dL")].factor == pytest.approx(0.1)


@pytest.fixture(scope="module")
def counts():
    """Extractors with blood counts (lab concepts), the tests' lexicons lack them."""
    from insightome.featurize.notes import Concept, Lexicon, NoteExtractor

    lexicon = Lexicon(
        (
            Concept("platelets", "plaquetas", ("platelets", "PLT"), None, "lab"),
            Concept("wbc", "leucocitos", ("leukocytes", "WBC"), None, "lab"),
            Concept("hba1c", "HbA1c", (), None, "measurement"),
            Concept("bp", "BP", ("TA",), None, "vital"),
        ),
        "inline",
        "0",
    )
    return {lang: NoteExtractor(lexicon, lang) for lang in ("en", "es")}


@pytest.mark.parametrize(
    ("language", "note", "concept", "text", "number"),
    [
        ("es", "Plaquetas 150.000/mm3.", "platelets", "150.000/mm3", 150000.0),
        ("es", "Leucocitos 12.500 en la analítica.", "wbc", "12.500", 12500.0),
        ("es", "Plaquetas 1.234.567", "platelets", "1.234.567", 1234567.0),
        ("es", "Leucocitos 12.500,5", "wbc", "12.500,5", 12500.5),
        ("es", "Leucocitos 12,5", "wbc", "12,5", 12.5),
        ("es", "Leucocitos 7.2", "wbc", "7.2", 7.2),  # one or two decimals: a decimal point
        ("es", "Leucocitos 0.500", "wbc", "0.500", 0.5),  # a leading zero groups nothing
        ("en", "Platelets 1,234,567.", "platelets", "1,234,567", 1234567.0),
        ("en", "Platelets 150,000/mm3.", "platelets", "150,000/mm3", 150000.0),
        ("en", "WBC 12,500.5 today", "wbc", "12,500.5", 12500.5),
        ("en", "WBC 12.500 today", "wbc", "12.500", 12.5),  # English: a dot is decimal
        ("en", "BP 120/80 today", "bp", "120/80", 120.0),  # the systolic, documented
        ("en", "WBC 5.5,6.1 and 7", "wbc", "5.5", 5.5),  # a list: its first number
        ("es", "Leucocitos 5,5,6,1", "wbc", "5,5", 5.5),
        ("en", "WBC 1,2345", "wbc", "1,2345", 1.2345),  # not groups of three: a decimal
    ],
)
def test_thousands_separators_by_language(counts, language, note, concept, text, number):
    row = value(counts[language], note, concept)
    assert (row["text"], row["value"]) == (text, number)


@pytest.mark.parametrize(
    "note",
    [
        "HbA1c (03/2021): 7.2%.",
        "HbA1c 2019-05-01: 7.2%.",
        "HbA1c 05/01/2019: 7.2%.",
        "HbA1c (2021/03): 7.2 %.",
        "HbA1c 01.05.2019: 7.2%.",
        "HbA1c 1-5-19 = 7.2%.",
    ],
)
def test_a_date_after_the_concept_is_skipped_not_taken(counts, note):
    row = value(counts["en"], note, "hba1c")
    assert row["value"] == 7.2 and row["text"].startswith("7.2")


@pytest.mark.parametrize(
    "note", ["HbA1c 2019-05-01.", "HbA1c (03/2021) pending.", "HbA1c 12/2020", "HbA1c 3.2021"]
)
def test_a_date_alone_is_no_value(counts, note):
    rows = counts["en"].mentions("n", note)
    assert [r for r in rows if r["kind"] == "value"] == []
    assert [r["kind"] for r in rows] == ["concept"]
