"""Transcript → draft note: extractive, every line citing the transcript spans behind it.

:func:`draft_note` runs the notes engine (:class:`~insightome.featurize.notes.NoteExtractor`,
English, the scribe's lexicon ``resources/lexicon.csv`` unless given) over the pieces of
every turn (:mod:`.dialogue`: sentences, long unpunctuated ones cut), so every offset is into
``turns[turn].text``, and then, with the rules of ``resources/rules.json``:

1. **State of each mention.** ConText's flags give one state by the precedence of
   :data:`~.note.ASSERTIONS` (family › absent › uncertain › historical › present).
2. **Questions take the answer's polarity.** A concept in a doctor's question (a piece
   ending in ``?`` or opening with ``any``/``do you``/``have you``/...) is stated by the
   patient's answer in the next turn: an answer opening with ``no``/``nope``/``not
   really``/... makes it *absent*, one opening with ``yes``/``yeah``/``a little``/... makes it
   *present* (*historical* or *family* when ConText said so in the question) — when the
   question names one concept, or the answer repeats it; other answers leave the question's
   concepts out of the draft (counted). A concept the answer names itself is the patient's
   own mention, not the question's. The line cites the question and the answer
   (:func:`.lines.qa_lines`: "Denies chest pain, shortness of breath.").
3. **Sentences.** Every other sentence of the visit (a run of non-question pieces of one
   punctuated sentence, up to ``split.line_words`` words) is a candidate line: the sentence
   with fillers dropped, stutters collapsed and the person changed (:mod:`.rewrite`). The
   selector (:mod:`.select`, a logistic model trained on ACI-BENCH train+valid) keeps the
   sentences whose content notes usually carry; a sentence it leaves out that holds
   findings becomes the short list of them ("Knee pain, swelling."), so no finding is lost.
   A patient's sentence whose only concepts are uncertain is left out. The doctor's
   introduction of the patient ("... is a 58-year-old male ...") opens the HPI.
4. **Chief complaint** — the words after "presents with", "here for", ... early in the
   visit ("Back pain."), else a chief-complaint sentence's concepts, else the patient's
   first present symptom; **problems** — "for your congestive heart failure, ..." in the
   plan opens the problem's own line ("Congestive heart failure.").
5. **Kinds and sections.** A line's kind (:data:`~.template.LINE_KINDS`) comes from its
   speaker, its findings and the visit's phase at the sentence (history → exam → plan, moved
   on by the doctor's cue words): patient sentences are hpi, medications, allergies,
   history, family_history or social_history by their concepts; doctor sentences are plan
   (an instruction: "I'm going to order", "we'll", "continue"), exam/vitals (in the exam or
   with an exam cue), results (a test with "showed", "came back"), assessment (a condition
   in the plan phase), else as the patient's. The template (:mod:`.template`) routes kinds
   to sections; lines keep the visit's order within a section.

Nothing is written that the transcript does not say; every line has at least one evidence
span. ``Draft.method`` records the lexicon (file, sha256, size), ``rules_sha256`` (the
dialogue rules and the notes engine's rules), the selector (sha256, thresholds), the
template, the steps and counts (no text).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from insightome import __version__
from insightome.apps.scribe.dialogue import (
    RULES,
    Piece,
    mention_state,
    patterns,
    phases,
    read_pieces,
    rules,
)
from insightome.apps.scribe.lines import (
    Line,
    chief_complaint,
    compact_line,
    doctor_kind,
    finding,
    patient_kind,
    problem_line,
    qa_lines,
    said_by,
)
from insightome.apps.scribe.note import Draft, DraftLine
from insightome.apps.scribe.rewrite import pronoun, rewrite
from insightome.apps.scribe.select import Selector, features, read_selector
from insightome.apps.scribe.template import Template, read_template
from insightome.apps.scribe.transcript import Transcript
from insightome.featurize.notes import NoteExtractor, read_lexicon
from insightome.featurize.notes.lexicon import Lexicon

__all__ = [
    "DEFAULT_LEXICON",
    "RULES",
    "Candidate",
    "candidate_sentences",
    "draft_note",
    "mention_state",
    "scribe_lexicon",
]

DEFAULT_LEXICON = Path(__file__).with_name("resources") / "lexicon.csv"


@dataclass
class Candidate:
    """A transcript sentence that may become a line: the line it would be, its selector
    features, and the sentence (``unit``: its pieces merged, with their mentions)."""

    line: Line
    features: dict[str, float]
    unit: Piece


@cache
def _extractor(path: str, sha256: str) -> NoteExtractor:
    return NoteExtractor(read_lexicon(path), "en")


def scribe_lexicon(path: str | Path | None = None) -> Lexicon:
    """The scribe's packaged English lexicon, or the lexicon file at ``path``."""
    return read_lexicon(DEFAULT_LEXICON if path is None else path)


def _units(found: Sequence[Piece], budget: int) -> list[Piece]:
    """A turn's candidate sentences: runs of its non-question pieces of one punctuated
    sentence, merged while they stay within ``budget`` words."""
    runs: list[list[Piece]] = []
    current: list[Piece] = []
    for s in found:
        if s.question:
            current = []
            continue
        size = sum(len(x.text.split()) for x in current) + len(s.text.split())
        if not current or s.sentence != current[-1].sentence or size > budget:
            current = [s]
            runs.append(current)
        else:
            current.append(s)
    return [
        Piece(
            run[0].turn,
            run[0].start,
            run[-1].end,
            "",
            run[0].role,
            run[0].speaker,
            False,
            run[0].sentence,
            [m for x in run for m in x.mentions],
            run[0].phase,
        )
        for run in runs
    ]


def _candidates(
    transcript: Transcript, turns: list[list[Piece]], possessive: str
) -> list[Candidate]:
    """Every non-question sentence as a candidate line (pieces' phases already set)."""
    budget = int(rules()[0]["split"]["line_words"])
    p = patterns()
    last = max(1, len(turns) - 1)
    out: list[Candidate] = []
    for index, found in enumerate(turns):
        units = _units(found, budget)
        after_question = index > 0 and any(s.question for s in turns[index - 1])
        for number, s in enumerate(units):
            s.text = transcript.turns[s.turn].text[s.start : s.end]
            text = rewrite(s.text, s.role, possessive)
            if not text or p["dropped"].match(text.lower()):
                continue
            kind = doctor_kind(s, s.phase) if s.role == "doctor" else patient_kind(s.mentions)
            order = (s.turn, s.start)
            if s.role == "doctor" and p["introduction"].search(s.text.lower()):
                kind, order = "hpi", (-1, s.turn)  # "... is a 58-year-old male ...": first
            values = features(
                raw=s.text,
                line=text,
                role=s.role,
                phase=s.phase,
                position=index / last,
                mentions=s.mentions,
                whole_turn=len(units) == 1 and not any(x.question for x in found),
                first_in_turn=number == 0,
                after_question=after_question,
            )
            found_here = said_by([finding(m) for m in s.mentions], s.role)
            line = Line(kind, text, (s.evidence(),), found_here, order)
            out.append(Candidate(line, values, s))
    return out


def _sentence_lines(
    transcript: Transcript,
    turns: list[list[Piece]],
    possessive: str,
    selector: Selector,
    counts: dict[str, int],
) -> list[Line]:
    """The selected sentences, the compact findings of the others, and the problems."""
    lines: list[Line] = []
    for c in _candidates(transcript, turns, possessive):
        unit = c.unit
        if unit.role == "doctor" and unit.phase == "plan":
            problem = problem_line(unit)
            if problem is not None and not any(line.text == problem.text for line in lines):
                lines.append(problem)
        counts["sentences"] += 1
        if unit.role != "doctor" and {m.state for m in unit.mentions} == {"uncertain"}:
            counts["sentences_left_out"] += 1
            continue  # the patient wondering aloud ("maybe it's the flu"): measured, left out
        asks = c.features["opens_question"] > 0  # "how long is the vacation": not a line
        if not asks and selector.keeps(c.features, bool(c.line.findings)):
            counts["sentences_kept"] += 1
            lines.append(c.line)
        elif c.line.findings:
            counts["sentences_as_findings"] += 1
            lines.append(compact_line(unit, c.line, possessive))
        else:
            counts["sentences_left_out"] += 1
    return lines


def _without_repeats(routed: list[tuple[str, Line]]) -> list[tuple[str, Line]]:
    """The lines less the repeats (rules.json ``repeats``): a line whose content words are
    mostly in an earlier line of its section that states its findings too."""
    spec = rules()[0]["repeats"]
    stop = set(spec["stop_words"])
    kept: list[tuple[str, Line, set[str], set[tuple[str, str]]]] = []
    for key, line in routed:
        words = {w for w in re.findall(r"[a-z0-9]+", line.text.lower()) if w not in stop}
        stated = {(f.concept_id, f.assertion) for f in line.findings}
        if not any(
            key == other_key
            and words
            and len(words & other_words) >= spec["overlap"] * len(words)
            and stated <= other_stated
            for other_key, _, other_words, other_stated in kept
        ):
            kept.append((key, line, words, stated))
    return [(key, line) for key, line, _, _ in kept]


def candidate_sentences(
    transcript: Transcript, lexicon: str | Path | None = None
) -> list[Candidate]:
    """Every transcript sentence that may become a line, with its rewritten text, kind,
    findings and selector features, before the selector chooses (for training it:
    ``benchmarks/scribe_selector.py``). Questions are not among them."""
    lex = scribe_lexicon(lexicon)
    turns = read_pieces(transcript, _extractor(lex.source, lex.sha256))
    possessive, _ = pronoun(transcript)
    qa_lines(turns, possessive, {"questions_answered": 0, "questions_left_out": 0})
    phases(turns)
    return _candidates(transcript, turns, possessive)


def draft_note(
    transcript: Transcript,
    *,
    template: str | Path | Template | None = None,
    lexicon: str | Path | None = None,
    selector: Selector | None = None,
) -> Draft:
    """The draft note of a transcript (module docstring: how). ``template``: a template file
    (:func:`~.template.read_template`) or None for the packaged default; ``lexicon``: a
    lexicon file in the notes engine's format, or None for the scribe's packaged one;
    ``selector``: None for the packaged sentence selector (another is for training it).
    Raises :class:`UserError` for a bad template or lexicon file."""
    chosen = template if isinstance(template, Template) else read_template(template)
    lex = scribe_lexicon(lexicon)
    selector = read_selector() if selector is None else selector
    turns = read_pieces(transcript, _extractor(lex.source, lex.sha256))
    possessive, gender_words = pronoun(transcript)
    counts = dict.fromkeys(
        (
            "questions_answered",
            "questions_left_out",
            "sentences",
            "sentences_kept",
            "sentences_as_findings",
            "sentences_left_out",
        ),
        0,
    )
    n_mentions = sum(len(s.mentions) for sentences in turns for s in sentences)
    cc = chief_complaint(transcript, turns)
    candidates = ([cc] if cc else []) + qa_lines(turns, possessive, counts)
    phases(turns)
    candidates += _sentence_lines(transcript, turns, possessive, selector, counts)
    order = {section.key: i for i, section in enumerate(chosen.sections)}
    routed, unrouted = [], 0
    for line in candidates:
        key = chosen.route(
            line.kind,
            [f.category for f in line.findings],
            [f.assertion for f in line.findings],
            line.evidence[0].role,
            line.text,
        )
        if key is None:
            unrouted += 1
        else:
            routed.append((order[key], line.order, key, line))
    routed.sort(key=lambda item: (item[0], item[1]))
    kept = _without_repeats([(key, line) for _, _, key, line in routed])
    lines = tuple(
        DraftLine(f"L{i:03d}", key, line.text, line.evidence, line.findings)
        for i, (key, line) in enumerate(kept, start=1)
    )
    counts |= {"turns": len(transcript.turns), "mentions": n_mentions, "lines": len(lines)}
    counts |= {"unrouted_lines": unrouted, "repeated_lines": len(routed) - len(kept)}
    method = _method(lex, lexicon is None, chosen, selector, possessive, gender_words, counts)
    return Draft(chosen.sections, lines, transcript, method)


def _method(
    lex: Lexicon,
    packaged: bool,
    template: Template,
    selector: Selector,
    possessive: str,
    gender_words: dict[str, int],
    counts: dict[str, int],
) -> dict[str, Any]:
    return {
        "engine": "insightome scribe draft: extractive (transcript sentences and findings)",
        "version": __version__,
        "lexicon": {
            "file": "packaged scribe lexicon (en)" if packaged else Path(lex.source).name,
            "sha256": lex.sha256,
            "concepts": len(lex),
        },
        "rules_sha256": rules()[1],
        "rules": "packaged rules.json + the notes engine's English ConText/sections/units",
        "selector": selector.describe(),
        "template": template.describe(),
        "pronoun": {"possessive": possessive, "doctor_words": gender_words},
        "counts": counts,
    }
