"""The assertion refinements of issue 21's accuracy pass: words that carry their own
negation (direction ``self``), regex rules that start or end with punctuation, a history
trigger opening its target, and the Spanish scope and English history rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from insightome.errors import UserError
from insightome.featurize.notes import (
    ContextRule,
    NoteExtractor,
    read_context_rules,
    read_lexicon,
    starter_lexicon,
)
from tests.featurize.notes.conftest import by_concept, lexicon_for


def _lexicon(tmp_path: Path, text: str):
    path = tmp_path / "lexicon.csv"
    path.write_text("concept_id,name,synonyms,regex,category\n" + text, encoding="utf-8")
    return read_lexicon(path)


def _span(text: str, target: str) -> tuple[int, int]:
    start = text.index(target)
    return start, start + len(target)


# --------------------------------------------------------------------------------------
# direction "self"
# --------------------------------------------------------------------------------------
def test_a_self_trigger_negates_the_concept_it_names_and_nothing_else(tmp_path):
    lexicon = _lexicon(
        tmp_path,
        "fever,fever,afebrile|febrile,,symptom\ncough,cough,,,symptom\n"
        "afebrile_state,afebrile,,,finding\nbacteriuria,asymptomatic bacteriuria,,,condition\n",
    )
    extractor = NoteExtractor(lexicon, "en")
    rows = extractor.mentions("n", "Afebrile, cough since Monday. Asymptomatic bacteriuria.")
    fever = by_concept(rows, "fever")
    assert fever["text"] == "Afebrile"
    assert fever["negated"] and fever["negated_by"] == "Afebrile"
    # the concept whose own name is the word is the finding "afebrile": affirmed
    assert not by_concept(rows, "afebrile_state")["negated"]
    # the trigger's scope is itself: the neighbour is not negated
    assert not by_concept(rows, "cough")["negated"]
    # a longer target that contains the word is not inside it: a positive finding
    assert not by_concept(rows, "bacteriuria")["negated"]
    # a span given as written is the finding itself, as the ConText annotations have it
    text = "The patient is afebrile."
    assert not extractor.assert_span(text, *_span(text, "afebrile")).negated
    (cue,) = [c for c in extractor.cues(text) if c.category == "NEGATED"]
    assert cue.direction == "self"
    assert (cue.scope_start, cue.scope_end) == (cue.start, cue.end) == _span(text, "afebrile")


def test_spanish_starter_lexicon_negates_fever_written_as_afebril():
    extractor = NoteExtractor(starter_lexicon("es"), "es")
    rows = extractor.mentions("n", "Paciente afebril, con tos productiva. Anictérico.")
    fever = by_concept(rows, "fever")
    assert (fever["text"], fever["negated"], fever["negated_by"]) == ("afebril", True, "afebril")
    assert not by_concept(rows, "cough")["negated"]
    assert by_concept(rows, "jaundice")["negated"]
    # a word that names a present finding is not a negation: "deshidratado", "desorientado"
    rows = extractor.mentions("n", "Paciente deshidratado y desorientado.")
    assert not any(r["negated"] for r in rows) and len(rows) == 2


def test_self_is_a_valid_direction_in_a_rule_file(tmp_path):
    path = tmp_path / "context.tsv"
    path.write_text(
        "literal\tcategory\tdirection\tmax_scope\tsource\nafebril\tNEGATED\tself\t\tx\n"
    )
    assert read_context_rules(path)[0].direction == "self"
    path.write_text("literal\tcategory\tdirection\tmax_scope\tsource\nx\tNEGATED\tselfish\t\tx\n")
    with pytest.raises(UserError, match="direction 'selfish'"):
        read_context_rules(path)


# --------------------------------------------------------------------------------------
# regex rules at punctuation; a trigger inside the target
# --------------------------------------------------------------------------------------
def test_a_regex_rule_may_start_and_end_with_punctuation():
    rules = (
        ContextRule(r"re:\(\s*-\s*\)", "NEGATED", "backward", 3, "test"),
        ContextRule("re:no", "NEGATED", "forward", None, "test"),
    )
    extractor = NoteExtractor(lexicon_for("es"), "es", rules=rules, sections=())
    for text in ("Neumonía (-).", "Neumonía ( - ), tos."):
        row = by_concept(extractor.mentions("n", text), "pneumonia")
        assert row["negated"] and row["negated_by"].replace(" ", "") == "(-)", text
    # written against the word: the match starts at "(" after a letter (the tokenizer
    # keeps "VIH(-" as one token, so the cue covers it)
    (cue,) = extractor.cues("VIH(-).")
    assert (cue.category, cue.start, cue.end) == ("NEGATED", 0, 6)
    # a rule that starts with a letter still needs a word boundary there
    english = NoteExtractor(lexicon_for("en"), "en", rules=rules[1:], sections=())
    assert english.cues("I know pain well.") == []
    assert by_concept(english.mentions("n", "Pain: no cough."), "cough")["negated"]


def test_only_a_history_trigger_opening_the_target_flags_it(english):
    text = "Coronary artery disease, status post CABG in 2005."
    found = english.assert_span(text, *_span(text, "status post CABG"))
    assert found.historical and found.historical_by == "status post"
    text = "History of falls at home."
    assert english.assert_span(text, *_span(text, "History of falls")).historical
    # any other trigger inside a target is a word of it: "no reflow" is a finding
    text = "There was no reflow after stenting."
    assert not english.assert_span(text, *_span(text, "no reflow")).negated
    text = "Mother Teresa syndrome."
    assert not english.assert_span(text, *_span(text, "Mother Teresa syndrome")).family


# --------------------------------------------------------------------------------------
# the packaged rules: Spanish scopes, English history
# --------------------------------------------------------------------------------------
def _scope(extractor: NoteExtractor, text: str) -> str:
    (cue,) = [c for c in extractor.cues(text) if c.category == "NEGATED"]
    return text[cue.scope_start : cue.scope_end]


def test_spanish_negation_scopes_end_at_a_new_clause(spanish):
    assert _scope(spanish, "Sin dolor abdominal y buena tolerancia oral.") == "dolor abdominal"
    assert _scope(spanish, "No edemas y se inicia furosemida.") == "edemas"
    assert _scope(spanish, "Sin complicaciones obteniendo tres cilindros.") == "complicaciones"
    # a list joined with "y" or "ni" keeps its scope
    assert _scope(spanish, "Niega fiebre y disnea.") == "fiebre y disnea"
    assert _scope(spanish, "No masas ni megalias.") == "masas ni megalias"
    # and a run-on sentence stops after 10 tokens
    words = "uno dos tres cuatro cinco seis siete ocho nueve diez once doce"
    assert _scope(spanish, f"Sin {words}.") == " ".join(words.split()[:10])


def test_english_history_rules(english):
    rows = english.mentions("n", "A 45-year-old man with pneumonia.")
    assert not by_concept(rows, "pneumonia")["historical"]  # "year-old" is not "old"
    text = "Scarring near an old rib fracture."
    assert english.assert_span(text, *_span(text, "rib fracture")).historical
    text = "She felt nauseated the last time she had it."
    assert english.assert_span(text, *_span(text, "nauseated")).historical
    rows = english.mentions("n", "History of asthma who was admitted for pneumonia.")
    assert by_concept(rows, "asthma")["historical"]
    assert not by_concept(rows, "pneumonia")["historical"]


def test_a_label_holding_a_listed_heading_is_that_heading(english):
    rows = english.mentions("n", "HIS SOCIAL HISTORY: He has asthma.")
    asthma = by_concept(rows, "asthma")
    assert asthma["section"] == "social_history" and asthma["historical"]
    # a radiology "HISTORY:" is the indication, not a statement about the past
    rows = english.mentions("n", "CT HEAD: today. HISTORY: Pneumonia.")
    assert not by_concept(rows, "pneumonia")["historical"]
