"""Language detection from stopwords, and sentence boundaries of clinical text."""

from __future__ import annotations

import itertools

from insightome.featurize.notes import detect_language, normalize
from insightome.featurize.notes.sentences import sentence_starts


def test_detect_language_says_which_and_why():
    language, reason = detect_language(
        ["La paciente refiere dolor en el pecho desde hace dos días.", "Niega fiebre."]
    )
    assert language == "es" and "Spanish" in reason and "2 note(s)" in reason
    language, reason = detect_language(["The patient was seen in the clinic with his wife."])
    assert language == "en" and "detected" in reason
    language, reason = detect_language(["", "12345 ...", None])
    assert language == "en" and "English assumed" in reason


def sentences(text: str) -> list[str]:
    norm = normalize(text)
    starts = [*sentence_starts(norm.text).tolist(), len(text)]
    return [text[a:b].strip() for a, b in itertools.pairwise(starts) if text[a:b].strip()]


def test_sentences_split_on_punctuation_blank_lines_and_list_items():
    text = (
        "Seen by Dr. Smith, e.g. for b.i.d. dosing of 7.5 mg. Then fever! Why?\n\n"
        "Plan\n- cough\n2. rest"
    )
    assert sentences(text) == [
        "Seen by Dr. Smith, e.g. for b.i.d. dosing of 7.5 mg.",
        "Then fever!",
        "Why?",
        "Plan",
        "- cough",
        "2. rest",
    ]


def test_a_single_line_break_does_not_end_a_sentence():
    assert sentences("The patient denies\nfever or chills.") == [
        "The patient denies\nfever or chills."
    ]


def test_mtsamples_exports_with_commas_for_line_breaks_split_per_item():
    text = "1.  Left atrial enlargement of 4.7 cm.,2.  No pericardial effusion.,3.  Normal valves."
    assert sentences(text) == [
        "1.  Left atrial enlargement of 4.7 cm.,",
        "2.  No pericardial effusion.,",
        "3.  Normal valves.",
    ]
