"""ConText assertion in English and Spanish: each category, scope termination,
pseudo-triggers, windows, section flags, and the cues with their scopes."""

from __future__ import annotations

import pytest

from insightome import errors
from insightome.errors import UserError
from insightome.featurize.notes import (
    ContextRule,
    NoteExtractor,
    Section,
    read_context_rules,
    read_sections,
)
from tests.featurize.notes.conftest import by_concept, lexicon_for

FLAGS = ("negated", "possible", "historical", "hypothetical", "family")


def flags(row: dict) -> dict[str, str]:
    """The flags that are set, with the trigger that set each (lower case)."""
    return {flag: row[f"{flag}_by"].lower() for flag in FLAGS if row[flag]}


def assert_flags(row: dict, expected: dict[str, str]) -> None:
    """The flags set are those expected, each by a trigger starting as expected (a rule
    set may hold a longer trigger, e.g. "no presenta" for "no")."""
    found = flags(row)
    assert set(found) == set(expected), (found, expected)
    for flag, trigger in expected.items():
        assert found[flag].startswith(trigger.lower()), (found, expected)


@pytest.mark.parametrize(
    ("note", "concept", "expected"),
    [
        ("The patient denies fever.", "fever", {"negated": "denies"}),
        ("No cough today.", "cough", {"negated": "No"}),
        ("Admitted without chest pain.", "chest_pain", {"negated": "without"}),
        ("Possible pneumonia in the left lower lobe.", "pneumonia", {"possible": "Possible"}),
        ("History of asthma as a child.", "asthma", {"historical": "History of"}),
        ("Return if fever recurs.", "fever", {"hypothetical": "if"}),
        ("His mother had breast cancer.", "cancer", {"family": "mother"}),
        ("Reports cough and fever.", "fever", {}),
    ],
)
def test_english_assertions(english, note, concept, expected):
    row = by_concept(english.mentions("n", note), concept)
    assert_flags(row, expected)
    assert note[row["start"] : row["end"]] == row["text"]


@pytest.mark.parametrize(
    ("note", "concept", "expected"),
    [
        ("Paciente que niega fiebre.", "fever", {"negated": "niega"}),
        ("No presenta tos.", "cough", {"negated": "No"}),
        ("Ingresa sin dolor torácico.", "chest_pain", {"negated": "sin"}),
        ("Posible neumonía basal derecha.", "pneumonia", {"possible": "Posible"}),
        ("Antecedentes de asma en la infancia.", "asthma", {"historical": "Antecedentes de"}),
        ("Acudir a urgencias si fiebre.", "fever", {"hypothetical": "si"}),
        ("Su madre tuvo cáncer de mama.", "cancer", {"family": "madre"}),
        ("Refiere tos y fiebre.", "fever", {}),
    ],
)
def test_spanish_assertions(spanish, note, concept, expected):
    row = by_concept(spanish.mentions("n", note), concept)
    assert_flags(row, expected)
    assert note[row["start"] : row["end"]] == row["text"]


def test_a_terminator_ends_the_negation_scope(english, spanish):
    rows = english.mentions("n", "No fever but cough.")
    assert by_concept(rows, "fever")["negated"]
    assert flags(by_concept(rows, "cough")) == {}
    rows = spanish.mentions("n", "No tiene fiebre pero refiere tos.")
    assert by_concept(rows, "fever")["negated"]
    assert flags(by_concept(rows, "cough")) == {}


def test_a_pseudo_trigger_suppresses_the_trigger_inside_it(english):
    row = by_concept(english.mentions("n", "No increase in pain."), "pain")
    assert flags(row) == {}
    cues = english.cues("No increase in pain.")
    assert [(c.category, c.start, c.end) for c in cues] == [("PSEUDO", 0, 11)]
    assert (cues[0].scope_start, cues[0].scope_end) == (0, 11)  # a pseudo cue has no scope


def test_the_scope_ends_at_the_sentence_and_at_a_heading(english):
    note = "Denies fever.\nCough for two days.\n\nASSESSMENT:\nNo dyspnea\nPneumonia likely"
    rows = english.mentions("n", note)
    assert by_concept(rows, "fever")["negated"]
    assert not by_concept(rows, "cough")["negated"]  # next sentence
    # a single line break does not end a sentence, so "No dyspnea\nPneumonia" is one: the
    # negation reaches pneumonia (NegEx behaves so too); a blank line would stop it
    assert by_concept(rows, "dyspnea")["negated"]
    assert by_concept(rows, "pneumonia")["sentence"] == by_concept(rows, "dyspnea")["sentence"]
    assert by_concept(rows, "dyspnea")["sentence"] > by_concept(rows, "cough")["sentence"]


def test_max_scope_limits_the_window_in_words(english):
    lexicon = lexicon_for("en")
    rules = (
        ContextRule("denies", "NEGATED", "forward", 3, "test"),
        ContextRule("mother", "FAMILY", "bidirectional", 2, "test"),
    )
    extractor = NoteExtractor(lexicon, "en", rules=rules, sections=())
    rows = extractor.mentions("n", "Denies cough or fever; reports some occasional chest pain.")
    assert by_concept(rows, "cough")["negated"] and by_concept(rows, "fever")["negated"]
    assert not by_concept(rows, "chest_pain")["negated"]  # 7 words after the trigger
    rows = extractor.mentions("n", "Asthma, fever, mother, cough, old pneumonia.")
    assert [r["concept_id"] for r in rows if r["family"]] == ["fever", "cough"]
    # white space does not count: a line break inside the window changes nothing
    rows = extractor.mentions("n", "Denies\n  cough   or\n   fever.")
    assert by_concept(rows, "fever")["negated"]


def test_a_family_history_section_flags_every_mention_with_its_heading(english, spanish):
    note = "Past surgical history: none.\nFamily history:\nDiabetes and hypertension.\n"
    rows = english.mentions("n", note + "\nAssessment:\nHypertension, well controlled.")
    family = [r for r in rows if r["family"]]
    assert [r["concept_id"] for r in family] == ["diabetes", "hypertension"]
    assert {r["family_by"] for r in family} == {"Family history"}
    assert {r["section"] for r in family} == {"family_history"}
    last = rows[-1]
    assert last["concept_id"] == "hypertension" and not last["family"]
    assert last["section"] != "family_history"
    rows = spanish.mentions("n", "ANTECEDENTES FAMILIARES: diabetes.\n\nJUICIO CLÍNICO: diabetes.")
    assert [r["family"] for r in rows] == [True, False]
    assert rows[0]["family_by"] == "ANTECEDENTES FAMILIARES"
    # an unlisted capitalised label (accents and all) ends a flag-setting section
    note = "Antecedentes familiares: asma.\nEXPLORACIÓN DEL TÓRAX: asma.\nDolor: no refiere."
    rows = spanish.mentions("n", note)
    assert [(r["concept_id"], r["family"]) for r in rows] == [
        ("asthma", True),
        ("asthma", False),
        ("pain", False),
    ]


def test_capitalised_headings_inline_like_mtsamples_start_sections(english):
    note = "HISTORY OF PRESENT ILLNESS:, Cough.,FAMILY HISTORY:, Diabetes.,SOCIAL HISTORY:, Smoker."
    rows = english.mentions("n", note)
    cough, diabetes = by_concept(rows, "cough"), by_concept(rows, "diabetes")
    assert cough["section"] == "history_present_illness"
    assert not cough["historical"]  # "history of" in the heading is a label, not a trigger
    assert diabetes["section"] == "family_history" and diabetes["family"]


def test_cues_report_every_trigger_with_its_scope_in_original_offsets(english, spanish):
    text = "Patient denies chest pain, but has cough. History of MI."
    cues = {c.category: c for c in english.cues(text)}
    negated = cues["NEGATED"]
    assert text[negated.start : negated.end] == "denies"
    assert text[negated.scope_start : negated.scope_end] == "chest pain"
    assert cues["TERMINATE"].literal.lower() == "but"
    historical = cues["HISTORICAL"]
    assert text[historical.scope_start : historical.scope_end] == "MI"
    texto = "Niega fiebre y disnea, pero refiere tos."
    (niega,) = [c for c in spanish.cues(texto) if c.category == "NEGATED"]
    assert texto[niega.scope_start : niega.scope_end] == "fiebre y disnea"


def test_assert_span_gives_the_flags_of_any_target(english):
    text = "No evidence of pneumothorax. Mother with glaucoma."
    start = text.index("pneumothorax")
    negated = english.assert_span(text, start, start + len("pneumothorax"))
    assert negated.negated and not negated.family
    assert negated.negated_by.lower().startswith("no")
    start = text.index("glaucoma")
    family = english.assert_span(text, start, start + len("glaucoma"))
    assert family.family and family.family_by == "Mother" and not family.negated


def test_negation_and_history_combine_on_one_target(english):
    row = by_concept(english.mentions("n", "No history of asthma."), "asthma")
    assert row["negated"] and row["historical"]


def test_rule_files_are_read_and_bad_rows_named(tmp_path):
    path = tmp_path / "context.tsv"
    path.write_text(
        "# comment\nliteral\tcategory\tdirection\tmax_scope\tsource\n"
        "no\tNEGATED\tforward\t\tnegex\nre:no (?:sign|evidence)s? of\tnegated\tforward\t5\tx\n"
        "but\tTERMINATE\tNEGATED,POSSIBLE\t\tx\nno increase\tPSEUDO\t\t\tx\n"
    )
    rules = read_context_rules(path)
    assert [r.category for r in rules] == ["NEGATED", "NEGATED", "TERMINATE", "PSEUDO"]
    assert rules[1].max_scope == 5 and rules[2].terminates == {"NEGATED", "POSSIBLE"}
    assert rules[3].direction == "none"
    bad_rows = [
        ("no\tNEGATIVE\tforward\t\t", "category 'NEGATIVE'"),
        ("no\tNEGATED\tsideways\t\t", "direction 'sideways'"),
        ("no\tNEGATED\tforward\t-2\t", "max_scope '-2'"),
        ("re:no (\tNEGATED\tforward\t\t", "invalid regex"),
        ("but\tTERMINATE\tNEGATION\t\t", "TERMINATE"),
    ]
    for row, fragment in bad_rows:
        path.write_text("literal\tcategory\tdirection\tmax_scope\tsource\n" + row + "\n")
        with pytest.raises(UserError) as caught:
            read_context_rules(path)
        assert caught.value.template == errors.RULES_BAD_ROW
        assert "line 2" in str(caught.value) and fragment in str(caught.value)
    sections = tmp_path / "sections.tsv"
    sections.write_text(
        "heading\tsection\tsets\tsource\nFamily history\tfamily_history\tFAMILY\tx\n"
    )
    assert read_sections(sections) == (Section("Family history", "family_history", "FAMILY", "x"),)
    sections.write_text("heading\tsection\tsets\tsource\nFH\tfamily history\t\tx\n")
    with pytest.raises(UserError, match="line 2: section 'family history' is not a snake_case"):
        read_sections(sections)
