"""Transcript → draft note (apps/scribe/draft.py, lines.py, select.py, template.py):
dialogue-aware assertion, sections, evidence offsets, the chief complaint as said, the
sentence selector (small talk and repeats out, no finding lost), user templates and their
errors, and concept F1 and ROUGE on three ACI-BENCH validation encounters."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

from insightome.apps.scribe.dialogue import rules
from insightome.apps.scribe.draft import draft_note, mention_state, scribe_lexicon
from insightome.apps.scribe.note import ASSERTIONS, Draft
from insightome.apps.scribe.select import DEFAULT_SELECTOR, Selector, read_selector
from insightome.apps.scribe.template import read_template
from insightome.apps.scribe.transcript import Transcript, read_transcript
from insightome.errors import UserError
from insightome.featurize.notes import NoteExtractor
from tests.conftest import shared_data

VISIT = """\
[doctor] good morning, what brings you in today?
[patient] i've had a bad cough for about two weeks.
[doctor] any fever?
[patient] no, not really.
[doctor] do you have any shortness of breath?
[patient] yeah, a little when i climb the stairs.
[doctor] does anyone in your family have medical problems?
[patient] my mother had diabetes.
[doctor] what medications are you taking right now?
[patient] i take lisinopril 20 mg every morning for my blood pressure.
[doctor] any allergies to medications?
[patient] i'm allergic to penicillin, it gives me a rash.
[doctor] okay. on exam, your lungs are clear to auscultation and i hear no wheezing.
[patient] that's good to hear.
[doctor] i'm going to prescribe an albuterol inhaler to use twice a day. if the cough \
persists, we will order a chest x-ray.
[patient] okay, thank you.
"""


# a dictated introduction, small talk, a reason for the visit and an instruction said twice
VISIT_2 = """\
[doctor] hi mark, how are you doing today?
[patient] good, thanks. we just got back from our vacation, the weather was great and the \
kids had fun.
[doctor] mark is a 52-year-old male who presents with some low back pain.
[doctor] so how long has your back been hurting?
[patient] about two weeks. i lifted a heavy box at work and felt a pop in my back.
[patient] i took some ibuprofen and it helped a little.
[doctor] okay. on exam, there is tenderness to palpation of the lumbar spine.
[doctor] for your low back pain, i want you to take meloxicam 15 mg once a day.
[doctor] again, i want you to take the meloxicam 15 mg once a day with food.
[patient] okay, sounds good.
"""


def _read(folder: Path, text: str) -> Transcript:
    path = folder / "visit.txt"
    path.write_text(text, encoding="utf-8")
    return read_transcript(path)


@pytest.fixture(scope="module")
def visit(tmp_path_factory: pytest.TempPathFactory) -> Transcript:
    path = tmp_path_factory.mktemp("visit") / "visit.txt"
    path.write_text(VISIT, encoding="utf-8")
    return read_transcript(path)


@pytest.fixture(scope="module")
def draft(visit: Transcript) -> Draft:
    return draft_note(visit)


def _findings(draft: Draft, concept: str) -> list[tuple[str, str, object]]:
    """(section, assertion, line) of every finding of ``concept``."""
    return [
        (line.section, f.assertion, line)
        for line in draft.lines
        for f in line.findings
        if f.concept_id == concept
    ]


def _cited(draft: Draft, line) -> list[str]:
    return [draft.transcript.turns[e.turn].text[e.start : e.end] for e in line.evidence]


def test_a_denied_symptom_is_absent_citing_the_question_and_the_answer(draft: Draft) -> None:
    (section, assertion, line), *rest = _findings(draft, "fever")
    assert not rest and assertion == "absent" and section == "review_of_systems"
    question, answer = _cited(draft, line)
    assert question == "any fever?" and answer == "no, not really."
    assert [e.role for e in line.evidence] == ["doctor", "patient"]
    assert line.text == "Denies fever."
    assert line.findings[0].said_by == "patient"  # the answer carries it
    # a "yeah, a little" makes the asked symptom present, with both spans too
    (_, dyspnea, line), *_ = _findings(draft, "dyspnea")
    assert dyspnea == "present" and _cited(draft, line)[1].startswith("yeah, a little")


def test_family_and_hypothetical_come_from_context(draft: Draft) -> None:
    (section, assertion, line), *_ = _findings(draft, "diabetes")
    assert assertion == "family" and section == "past_history"
    assert "mother" in _cited(draft, line)[0]
    cough = {(s, a) for s, a, _ in _findings(draft, "cough")}
    assert ("assessment_and_plan", "uncertain") in cough  # "if the cough persists"
    assert ("history_of_present_illness", "present") in cough  # "i've had a bad cough"
    hypothetical = next(line for s, a, line in _findings(draft, "cough") if a == "uncertain")
    assert _cited(draft, hypothetical)[0].startswith("if the cough persists")


def test_medication_allergy_and_plan_lines_land_in_their_sections(draft: Draft) -> None:
    (section, assertion, line), *_ = _findings(draft, "lisinopril")
    assert section == "medications" and assertion == "present"
    assert next(f for f in line.findings if f.concept_id == "lisinopril").value == "20 mg"
    assert "lisinopril 20 mg" in line.text and line.text.startswith("The patient takes")
    assert {s for s, _, _ in _findings(draft, "penicillin")} == {"allergies"}
    plan = draft.lines_of("assessment_and_plan")
    assert plan and all(line.evidence[0].role == "doctor" for line in plan)
    assert any("prescribe an albuterol inhaler" in line.text for line in plan)
    assert draft.lines_of("chief_complaint")[0].text == "Cough."
    exam = draft.lines_of("physical_examination")
    assert {(f.concept_id, f.assertion) for f in exam[0].findings} == {
        ("clear_lungs", "present"),
        ("wheezing", "absent"),
    }


def test_every_line_cites_real_spans_and_states_findings(draft: Draft) -> None:
    turns = draft.transcript.turns
    assert [line.id for line in draft.lines] == [f"L{i:03d}" for i in range(1, 12)]
    for line in draft.lines:
        assert line.evidence
        for e in line.evidence:
            assert 0 <= e.start < e.end <= len(turns[e.turn].text)
            assert (e.speaker, e.role) == (turns[e.turn].speaker, turns[e.turn].role)
        cited = " ".join(_cited(draft, line)).lower()
        for f in line.findings:
            assert f.assertion in ASSERTIONS
            assert f.said_by in {"doctor", "patient"}
        assert any(word in cited for word in line.text.lower().rstrip(".").split()[-2:])
        if not line.findings:  # a sentence the selector kept: its own words, rewritten
            assert len(line.evidence) == 1 and line.text.startswith("A little when the patient")
    counts = draft.method["counts"]
    assert counts["lines"] == 11 and counts["unrouted_lines"] == 0
    assert counts["questions_answered"] == 2
    assert counts["sentences"] == (
        counts["sentences_kept"] + counts["sentences_as_findings"] + counts["sentences_left_out"]
    )
    assert len(draft.method["rules_sha256"]) == 64
    assert draft.method["lexicon"]["concepts"] == len(scribe_lexicon())
    # the JSON round trip keeps every line
    assert Draft.from_json(json.loads(json.dumps(draft.to_json()))).lines == draft.lines


def test_the_reason_for_the_visit_is_the_chief_complaint(tmp_path: Path) -> None:
    draft = draft_note(_read(tmp_path, VISIT_2))
    (cc,) = draft.lines_of("chief_complaint")
    assert cc.text == "Low back pain."  # "presents with some low back pain": as said
    assert _cited(draft, cc) == ["some low back pain"]
    assert [(f.concept_id, f.assertion) for f in cc.findings] == [("back_pain", "present")]
    # the doctor's introduction of the patient opens the HPI, whatever its place in the visit
    first = draft.lines_of("history_of_present_illness")[0]
    assert first.text == "Mark is a 52-year-old male who presents with some low back pain."


def test_small_talk_questions_and_repeats_are_left_out_and_counted(tmp_path: Path) -> None:
    draft = draft_note(_read(tmp_path, VISIT_2))
    text = draft.text.lower()
    assert "vacation" not in text and "weather" not in text  # small talk: the selector's
    assert "how long" not in text and "how are you" not in text  # questions are not lines
    # the instruction said twice is one line; the repeat is counted, never silent
    assert text.count("meloxicam 15 mg once a day") == 1
    assert draft.method["counts"]["repeated_lines"] == 1
    assert draft.method["counts"]["sentences_left_out"] >= 1
    assert "The patient lifted a heavy box at work and felt a pop in his back." in draft.text


def test_a_selector_that_keeps_nothing_keeps_every_finding(visit: Transcript, draft: Draft):
    """A sentence left out that holds findings becomes the list of them: the concepts a
    draft states do not depend on the selector, only its prose does."""
    none = draft_note(visit, selector=Selector({}, 1.0, 1.0))
    counts = none.method["counts"]
    assert counts["sentences_kept"] == 0 and counts["sentences_as_findings"] > 0

    def stated(d: Draft) -> set[tuple[str, str]]:
        return {(f.concept_id, f.assertion) for line in d.lines for f in line.findings}

    assert stated(none) == stated(draft)
    assert all(line.findings for line in none.lines)
    (family,) = [line for line in none.lines if line.section == "past_history"]
    assert family.text == "Reports a family history of diabetes."
    assert _cited(none, family) == ["my mother had diabetes."]
    # a selector that keeps everything keeps every sentence
    every = draft_note(visit, selector=Selector({}, 0.0, 0.0))
    assert every.method["counts"]["sentences_kept"] == every.method["counts"]["sentences"]


def test_the_packaged_selector_was_trained_on_train_and_valid_only(draft: Draft) -> None:
    raw = DEFAULT_SELECTOR.read_bytes()
    data = json.loads(raw)
    assert "train and valid encounters only (never test1)" in data["provenance"]
    assert "CC BY 4.0" in data["provenance"] and "Yim" in data["provenance"]
    assert set(data["data_sha256"]) == {"train", "valid"}
    # trained on the candidates of this lexicon and these rules: retrain when they change
    assert data["lexicon_sha256"] == scribe_lexicon().sha256
    assert data["rules_sha256"] == rules()[1]
    selector = read_selector()
    assert selector.sha256 == hashlib.sha256(raw).hexdigest()
    assert draft.method["selector"]["sha256"] == selector.sha256
    assert 0 < selector.threshold_findings <= selector.threshold_plain < 1
    assert len(selector.weights) < 2000  # a small model


def test_a_user_template_routes_lines_to_its_sections(visit: Transcript, tmp_path: Path):
    template = {
        "format": "insightome-scribe-template/1",
        "name": "two boxes",
        "sections": [
            {"key": "drugs", "title": "DRUGS", "kinds": ["*"], "categories": ["medication"]},
            {"key": "said_no", "title": "DENIED", "kinds": ["ros"], "assertions": ["absent"]},
            {
                "key": "doctor",
                "title": "DOCTOR SAID",
                "kinds": ["*"],
                "roles": ["doctor"],
                "cues": ["x-ray"],
            },
        ],
    }
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(template), encoding="utf-8")
    draft = draft_note(visit, template=path)
    assert [s.key for s in draft.sections] == ["drugs", "said_no", "doctor"]
    assert {s for s, _, _ in _findings(draft, "lisinopril")} == {"drugs"}
    assert {s for s, _, _ in _findings(draft, "penicillin")} == {"drugs"}
    assert [line.text for line in draft.lines_of("said_no")] == ["Denies fever."]
    assert [line.text for line in draft.lines_of("doctor")] == [
        "If the cough persists, we will order a chest x-ray."
    ]
    # lines no section takes are left out and counted, never silently
    assert draft.method["counts"]["unrouted_lines"] == 11 - len(draft.lines) > 0
    assert draft.method["template"]["file"] == "mine.json"
    assert "DRUGS" in draft.text and "CHIEF COMPLAINT" not in draft.text


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such note template"),
        ("{not json", "not UTF-8 JSON"),
        ('{"format": "other", "sections": []}', "'format' must be"),
        ('{"format": "insightome-scribe-template/1", "sections": []}', "non-empty list"),
        (
            '{"format": "insightome-scribe-template/1", "sections": [{"key": "a", "title": "A",'
            ' "kinds": ["soap"]}]}',
            "section 1: 'kinds' has 'soap'",
        ),
        (
            '{"format": "insightome-scribe-template/1", "sections": [{"key": "a", "title": "A",'
            ' "kinds": ["hpi"]}, {"key": "a", "title": "B", "kinds": ["plan"]}]}',
            "used twice",
        ),
        (
            '{"format": "insightome-scribe-template/1", "sections": [{"key": "a b", "title": "A",'
            ' "kinds": ["hpi"]}]}',
            "'key' must be",
        ),
        (
            '{"format": "insightome-scribe-template/1", "sections": [{"key": "a", "title": "A",'
            ' "kinds": ["hpi"], "roles": ["nurse"]}]}',
            "'roles' has 'nurse'",
        ),
    ],
)
def test_a_bad_template_is_one_line_naming_the_file(visit, tmp_path, content, message):
    path = tmp_path / "bad.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(UserError) as caught:
        draft_note(visit, template=path)
    text = str(caught.value)
    assert message in text and "bad.json" in text and "\n" not in text


def test_the_default_template_is_the_packaged_one():
    template = read_template()
    assert template.sections[0].title == "CHIEF COMPLAINT"
    assert template.route("plan", ["medication"], ["present"], "doctor", "x") == (
        "assessment_and_plan"
    )
    assert template.route("no such kind", [], [], "doctor", "x") is None


def test_concept_f1_and_rouge_on_three_aci_bench_validation_encounters(tmp_path: Path) -> None:
    """Three valid encounters (the selector was fitted on train+valid: in-sample for it; the
    held-out figures are benchmarks/results/scribe.md's and scribe_selector.json's)."""
    from rouge_score import rouge_scorer

    frame = pd.read_csv(shared_data("scribe", "aci_bench", "challenge_data", "valid.csv"))
    extractor = NoteExtractor(scribe_lexicon(), "en")
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)

    def state(s: str) -> str:
        return "present" if s == "historical" else s

    tp = n_draft = n_reference = 0
    ours, copied = [], []
    for row in frame.head(3).itertuples():
        draft = draft_note(_read(tmp_path, row.dialogue))
        found = {(f.concept_id, state(f.assertion)) for line in draft.lines for f in line.findings}
        gold = {
            (m["concept_id"], state(mention_state(m)))
            for m in extractor.mentions(0, row.note)
            if m["kind"] == "concept"
        }
        tp, n_draft, n_reference = (
            tp + len(found & gold),
            n_draft + len(found),
            n_reference + len(gold),
        )
        ours.append(scorer.score(row.note, draft.text)["rougeL"].fmeasure)
        copied.append(scorer.score(row.note, row.dialogue)["rougeL"].fmeasure)
    f1 = 2 * tp / (n_draft + n_reference)
    assert n_reference > 30  # the reference notes hold concepts to find
    assert f1 >= 0.70, f1  # measured 0.738 (round 1), 0.746 (round 2)
    # ROUGE-L F measured 0.349, 0.298, 0.387 (round 2); the transcript copied 0.218/0.183/0.261
    assert min(ours) >= 0.27 and sum(ours) / 3 >= 0.32, ours
    assert all(a > b for a, b in zip(ours, copied, strict=True))  # above the transcript copied
