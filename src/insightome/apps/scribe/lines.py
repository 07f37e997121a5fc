"""The kinds of line a draft is made of, each citing the transcript spans behind it.

* :func:`qa_lines` — a doctor's question that took the patient's answer's polarity
  ("Denies fever, chills."), citing the question and the answer;
* :func:`chief_complaint` — the words after the visit's reason cue ("presents with some back
  pain" → "Back pain."), else the concepts of a chief-complaint sentence, else the patient's
  first present symptom;
* :func:`problem_line` — a problem the doctor opens in the plan ("for your congestive heart
  failure, ..." → "Congestive heart failure.");
* :func:`compact_line` — a sentence the selector left out, as the findings it holds
  ("Knee pain, swelling.");
* the transcript's own sentences, rewritten (:mod:`.draft`, :mod:`.rewrite`).

:func:`patient_kind` and :func:`doctor_kind` give a sentence's kind of line
(:data:`~.template.LINE_KINDS`), which the template routes to a section.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from insightome.apps.scribe.dialogue import Mention, Piece, answer_polarity, patterns, phrase, rules
from insightome.apps.scribe.note import Evidence, Finding
from insightome.apps.scribe.rewrite import term
from insightome.apps.scribe.transcript import Transcript

__all__ = [
    "Line",
    "chief_complaint",
    "compact_line",
    "doctor_kind",
    "finding",
    "patient_kind",
    "problem_line",
    "qa_lines",
    "said_by",
]

_SOCIAL = {"smoking", "alcohol_use"}
_VERB = {
    "absent": "Denies",
    "present": "Reports",
    "historical": "Reports a history of",
    "family": "Reports a family history of",
    "uncertain": "Unsure about",
}


@dataclass
class Line:
    """A line before routing: its kind, text, evidence, findings and place in the visit
    (``order``: (turn, offset); lines of one section are written in this order)."""

    kind: str
    text: str
    evidence: tuple[Evidence, ...]
    findings: tuple[Finding, ...]
    order: tuple[int, int]


def finding(m: Mention, state: str | None = None) -> Finding:
    return Finding(m.concept_id, m.name, m.category, state or m.state, "", m.value)


def said_by(findings: Sequence[Finding], role: str) -> tuple[Finding, ...]:
    """The findings with who said them, one per (concept, assertion) (the first, with a value
    if any repeat has one)."""
    out: dict[tuple[str, str], Finding] = {}
    for f in findings:
        key = (f.concept_id, f.assertion)
        if key not in out or (f.value and not out[key].value):
            out[key] = Finding(f.concept_id, f.concept_name, f.category, f.assertion, role, f.value)
    return tuple(out.values())


def _capital(text: str) -> str:
    return text[0].upper() + text[1:]


def _terms_line(kind: str, s: Piece, chosen: Sequence[Mention], order: tuple[int, int]) -> Line:
    """The concepts as said ("Congestive heart failure, diabetes."), citing each."""
    terms = ", ".join(dict.fromkeys(" ".join(m.said.lower().split()) for m in chosen))
    evidence = tuple(Evidence(m.turn, m.start, m.end, s.speaker, s.role) for m in chosen)
    findings = said_by([finding(m) for m in chosen], s.role)
    return Line(kind, _capital(terms) + ".", evidence, findings, order)


def patient_kind(mentions: Sequence[Mention]) -> str:
    states = {m.state for m in mentions}
    ids = {m.concept_id for m in mentions}
    cats = {m.category for m in mentions}
    if "family" in states:
        return "family_history"
    if "allergy" in ids:
        return "allergies"
    if ids & _SOCIAL and not cats & {"symptom"}:
        return "social_history"
    if "medication" in cats and "symptom" not in cats:
        return "medications"
    if states == {"historical"}:
        return "history"
    return "hpi"


def doctor_kind(s: Piece, phase: str) -> str:
    p = patterns()
    low = s.text.lower()
    cats = {m.category for m in s.mentions}
    if p["plan"].search(low) and (phase != "history" or cats & {"procedure", "test", "medication"}):
        return "plan"
    if phase == "exam" or p["exam"].search(low):
        return "vitals" if cats == {"measurement"} else "exam"
    if "test" in cats and p["results"].search(low):
        return "results"
    if phase == "plan":
        if cats & {"condition"} and p["assessment"].search(low):
            return "assessment"
        return "plan" if cats & {"procedure", "test", "medication"} else "assessment"
    return patient_kind(s.mentions)


def _qa_kind(asked: Sequence[Mention], state: str) -> str:
    cats = {m.category for m in asked}
    if cats == {"medication"}:
        return "medications"
    if "allergy" in {m.concept_id for m in asked}:
        return "allergies"
    if state == "family":
        return "family_history"
    return "history" if state == "historical" else "ros"


def qa_lines(turns: list[list[Piece]], possessive: str, counts: dict[str, int]) -> list[Line]:
    """One line per answered doctor question; the question's mentions are used up."""
    lines: list[Line] = []
    for index, sentences in enumerate(turns[:-1]):
        answer_turn = turns[index + 1]
        if not answer_turn or not sentences or sentences[0].role != "doctor":
            continue
        if answer_turn[0].role == "doctor":
            continue
        answer = answer_turn[0]
        polarity = answer_polarity(answer.text)
        answered = {m.concept_id for s in answer_turn for m in s.mentions}
        for s in sentences:
            if not s.question or not s.mentions:
                continue
            asked = [m for m in s.mentions if m.concept_id not in answered]
            s.mentions = []
            if not asked:
                continue
            if polarity is None or (
                polarity == "present" and len({m.concept_id for m in asked}) > 1
            ):
                counts["questions_left_out"] += 1
                continue
            counts["questions_answered"] += 1
            findings, said = [], []
            for m in asked:
                keep = m.state if m.state in ("family", "historical") else polarity
                state = "absent" if polarity == "absent" and keep != "family" else keep
                findings.append(finding(m, state))
                said.append(term(m.said, possessive))
            state = findings[0].assertion
            text = f"{_VERB[state]} {', '.join(dict.fromkeys(said))}."
            evidence = (s.evidence(), answer.evidence())
            found = said_by(findings, answer.role)
            lines.append(Line(_qa_kind(asked, state), text, evidence, found, (s.turn, s.start)))
    return lines


def _reason_for_visit(transcript: Transcript, turns: list[list[Piece]]) -> Line | None:
    """The words after a reason-for-visit cue in the first third of the visit: up to a stop
    word, punctuation or ``max_words``, leading and possessive words dropped (rules.json
    ``reason_for_visit``); the span is the evidence."""
    spec = rules()[0]["reason_for_visit"]
    cue, stop = phrase(spec["cues"]), phrase(spec["stops"])
    drop = re.compile(phrase(spec["drop"]).pattern, re.I)
    lead = re.compile(r"^(?:" + phrase(spec["lead"]).pattern + r"\s*)+", re.I)
    for index, found in enumerate(turns[: max(10, len(turns) // 3)]):
        text = transcript.turns[index].text
        low = text.lower()
        if len(low) != len(text):
            continue  # lower case changed the offsets (rare letters): no span to cite
        for s in found:
            match = cue.search(low, s.start, s.end)
            if s.question or not match:
                continue
            words = list(re.finditer(r"[^\s.,;:?!]+", low[match.end() : s.end]))
            start = end = match.end() + (words[0].start() if words else 0)
            for count, word in enumerate(words):
                if count >= int(spec["max_words"]) or (count and stop.fullmatch(word.group())):
                    break
                if low[end : match.end() + word.start()].strip():
                    break  # punctuation between the words: the phrase ends
                end = match.end() + word.end()
            said = " ".join(drop.sub(" ", lead.sub("", text[start:end])).split())
            if not said:
                continue
            mentions = [m for m in s.mentions if start <= m.start and m.end <= end]
            evidence = (Evidence(index, start, end, s.speaker, s.role),)
            findings = said_by([finding(m) for m in mentions], s.role)
            return Line("chief_complaint", _capital(said) + ".", evidence, findings, (index, start))
    return None


def chief_complaint(transcript: Transcript, turns: list[list[Piece]]) -> Line | None:
    """The chief complaint line: the reason for the visit as said, else the concepts of the
    first sentence with a chief-complaint cue, else the patient's first present symptom."""
    reason = _reason_for_visit(transcript, turns)
    if reason is not None:
        return reason
    p = patterns()
    flat = [s for sentences in turns for s in sentences]
    wanted = {"symptom", "condition", "finding"}
    for s in flat[: max(10, len(flat) // 3)]:
        chosen = [m for m in s.mentions if m.category in wanted and m.state == "present"]
        if chosen and p["chief_complaint"].search(s.text.lower()):
            return _terms_line("chief_complaint", s, chosen, (chosen[0].turn, chosen[0].start))
    for s in flat:
        chosen = [m for m in s.mentions if m.category == "symptom" and m.state == "present"]
        if s.role != "doctor" and chosen:
            return _terms_line("chief_complaint", s, chosen, (chosen[0].turn, chosen[0].start))
    return None


def problem_line(s: Piece) -> Line | None:
    """In the plan phase, a doctor's sentence opening a problem ("for your congestive heart
    failure, ...") gives the problem's own line: its condition(s) as said."""
    match = patterns()["problem"].search(s.text.lower())
    if not match:
        return None
    chosen = [
        m
        for m in s.mentions
        if m.category in {"condition", "symptom", "finding"}
        and m.state != "absent"
        and m.start >= s.start + match.start()
    ]
    if not chosen:
        return None
    return _terms_line("assessment", s, chosen, (s.turn, s.start - 1))


def compact_line(unit: Piece, line: Line, possessive: str) -> Line:
    """A sentence the selector left out, as the findings it holds, by state ("Knee pain,
    swelling. Denies numbness."), with the sentence's evidence, kind and findings."""
    by_state: dict[str, list[str]] = {}
    for m in unit.mentions:
        by_state.setdefault(m.state, []).append(term(m.said, possessive))
    parts = []
    for state, terms in by_state.items():
        said = ", ".join(dict.fromkeys(terms))
        parts.append(_capital(said if state == "present" else f"{_VERB[state]} {said}") + ".")
    return Line(line.kind, " ".join(parts), line.evidence, line.findings, line.order)
