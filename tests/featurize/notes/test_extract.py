"""extract_mentions over a table: the same rows with worker processes, rule files given as
parameters (how the accuracy benchmarks evaluate other rule sets), empty notes skipped."""

from __future__ import annotations

import pandas as pd

from insightome.featurize.notes import MENTION_COLUMNS, extract_mentions
from tests.featurize.notes.conftest import lexicon_for

NOTES = [
    "Denies fever but reports cough.",
    "No chest pain. History of MI. EF 30%.",
    "Mother with diabetes.",
    "",
    "Possible pneumonia; weight 80 kg.",
]


def test_worker_processes_give_the_same_rows_in_the_same_order():
    texts = NOTES * 110  # 550 notes: enough to be split over processes
    notes = pd.DataFrame({"note_id": range(len(texts)), "text": texts})
    lexicon = lexicon_for("en")
    one = extract_mentions(notes, lexicon, "en", n_jobs=1)
    two = extract_mentions(notes, lexicon, "en", n_jobs=2)
    assert tuple(one.columns) == MENTION_COLUMNS
    pd.testing.assert_frame_equal(one, two)
    assert one["note_id"].is_monotonic_increasing
    assert set(one["note_id"] % len(NOTES)) == {0, 1, 2, 4}  # the empty note gives no row
    assert len(one) == 110 * len(extract_mentions(notes.head(5), lexicon, "en"))


def test_rules_and_sections_can_be_given_as_files(tmp_path):
    rules = tmp_path / "context.tsv"
    rules.write_text(
        "literal\tcategory\tdirection\tmax_scope\tsource\ndenies\tNEGATED\tforward\t\tt\n"
    )
    sections = tmp_path / "sections.tsv"
    sections.write_text("heading\tsection\tsets\tsource\nFH\tfamily_history\tFAMILY\tt\n")
    notes = pd.DataFrame({"note_id": ["a"], "text": ["No fever. Denies cough.\nFH: asthma."]})
    rows = extract_mentions(notes, lexicon_for("en"), "en", rules=rules, sections=sections)
    flags = rows.set_index("concept_id")[["negated", "family", "family_by", "section"]]
    assert flags.loc["fever"].tolist() == [False, False, "", ""]  # "no" is not a rule here
    assert flags.loc["cough"].tolist() == [True, False, "", ""]
    assert flags.loc["asthma"].tolist() == [False, True, "FH", "family_history"]


def test_a_note_longer_than_spacys_max_length_is_read_whole():
    # spaCy refuses texts over nlp.max_length (1,000,000 characters, error E088) to protect
    # the memory of models the blank pipeline does not have; the engine reads any length
    from insightome.featurize.notes import NoteExtractor, mention_frame

    extractor = NoteExtractor(lexicon_for("en"), "en")
    filler = (
        "ASSESSMENT AND PLAN:\n1. The patient was seen in clinic today.\n"
        "2. The plan was discussed at length.\n\n"
    )  # headings, list items and blank lines all through the note
    head = "Denies chest pain.\n"
    tail = "Seen again. No fever but cough. HbA1c 7.2%."
    note = head + filler * (1_200_000 // len(filler)) + tail
    assert len(note) > 1_200_000
    rows = extractor.mentions("n", note)
    found = {(r["concept_id"], r["kind"]): r for r in rows}
    assert set(found) == {
        ("chest_pain", "concept"), ("fever", "concept"), ("cough", "concept"),
        ("hba1c", "concept"), ("hba1c", "value"),
    }  # fmt: skip
    for row in rows:
        assert note[row["start"] : row["end"]] == row["text"]
    assert found[("chest_pain", "concept")]["negated"] and found[("fever", "concept")]["negated"]
    assert not found[("cough", "concept")]["negated"]
    assert found[("hba1c", "value")]["value"] == 7.2
    assert found[("fever", "concept")]["start"] > 1_200_000
    fever = found[("fever", "concept")]
    assert extractor.assert_span(note, fever["start"], fever["end"]).negated
    no = [c for c in extractor.cues(note) if c.start > 1_200_000 and c.category == "NEGATED"]
    assert [(note[c.start : c.end], note[c.scope_start : c.scope_end]) for c in no] == [
        ("No", "fever")
    ]
    frame = extract_mentions(pd.DataFrame({"note_id": ["n"], "text": [note]}), lexicon_for("en"))
    pd.testing.assert_frame_equal(frame, mention_frame(rows))
