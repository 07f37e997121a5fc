"""The dialogue under a draft: pieces of speech with their mentions, questions and answers.

The transcript's turns are cut into sentences (punctuation; the notes engine's sentence
rules) and long sentences into *pieces* (``rules.json`` ``split``: recognised speech comes
without punctuation, and a negation's scope must not run over a whole turn). The notes
engine (:class:`~insightome.featurize.notes.NoteExtractor`) reads each piece alone; every
mention's offsets are into ``turns[turn].text``. A piece is a *question* when it ends with
``?`` or opens with one of ``question_openers``; :func:`answer_polarity` reads the patient's
answer; :func:`phases` follows the visit from history to exam to plan by the doctor's cue
words. :mod:`.draft` builds the lines from these.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from insightome.apps.scribe.note import Evidence
from insightome.apps.scribe.transcript import Transcript
from insightome.featurize.notes import NoteExtractor, normalize, rules_sha256
from insightome.featurize.notes.sentences import sentence_starts

__all__ = [
    "RULES",
    "Mention",
    "Piece",
    "answer_polarity",
    "mention_state",
    "patterns",
    "phases",
    "phrase",
    "pieces",
    "read_pieces",
    "rules",
]

RULES = Path(__file__).with_name("resources") / "rules.json"


@dataclass
class Mention:
    """A concept the engine found, with its state (:func:`mention_state`) and its words."""

    turn: int
    start: int
    end: int
    concept_id: str
    name: str
    category: str
    state: str
    said: str
    value: str = ""


@dataclass
class Piece:
    """A stretch of one turn: ``turns[turn].text[start:end]``; ``sentence`` numbers the
    punctuated sentence of the turn it belongs to (the pieces of a cut sentence share it)."""

    turn: int
    start: int
    end: int
    text: str
    role: str
    speaker: str
    question: bool
    sentence: int
    mentions: list[Mention] = field(default_factory=list)
    phase: str = "history"

    def evidence(self) -> Evidence:
        return Evidence(self.turn, self.start, self.end, self.speaker, self.role)


def mention_state(row: dict[str, Any]) -> str:
    """A mention row's one state, by the precedence of ``note.ASSERTIONS``."""
    if row["family"]:
        return "family"
    if row["negated"]:
        return "absent"
    if row["possible"] or row["hypothetical"]:
        return "uncertain"
    return "historical" if row["historical"] else "present"


@cache
def rules() -> tuple[dict[str, Any], str]:
    """The packaged dialogue rules and their sha256 (with the notes engine's English rules)."""
    raw = RULES.read_bytes()
    digest = hashlib.sha256(raw + b"\x1e" + rules_sha256("en").encode()).hexdigest()
    return json.loads(raw), digest


def phrase(words: Sequence[str]) -> re.Pattern[str]:
    """Whole-word alternation, longest first."""
    ordered = sorted(words, key=len, reverse=True)
    return re.compile(r"(?<![\w'])(?:" + "|".join(re.escape(w) for w in ordered) + r")(?![\w'])")


def _leading(words: Sequence[str]) -> re.Pattern[str]:
    """Any run of ``words`` at the start, with the commas and stops between them."""
    alternation = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"^(?:(?:{alternation})(?![\w'])[\s,.!]*)+")


@cache
def patterns() -> dict[str, re.Pattern[str]]:
    """The rules' phrase lists compiled: cues (anywhere) and openings (at the start)."""
    table, _ = rules()
    out = {name: phrase(words) for name, words in table["cues"].items()}
    out["skip"] = _leading(table["answer_skip"])
    out["lead"] = _leading(table["fillers"])
    for name, words in (
        ("no", table["answer_no"]),
        ("yes", table["answer_yes"]),
        ("opener", table["question_openers"]),
        ("asks", [*table["question_openers"], *table["wh_openers"]]),
        ("strong", table["split"]["strong"]),
        ("weak", table["split"]["weak"]),
        ("dropped", table["drop_sentences"]),
    ):
        out[name] = re.compile(r"^" + phrase(words).pattern)
    out["spelling"] = phrase(list(table["spelling"]))
    out["drop"] = phrase(table["drop_words"])
    return out


def answer_polarity(text: str) -> str | None:
    """The polarity of an answer's start: "absent", "present" or None."""
    p = patterns()
    head = p["skip"].sub("", text.strip().lower()).lstrip(" ,.")
    if p["no"].match(head):
        return "absent"
    if p["yes"].match(head):
        return "present"
    return None


def pieces(text: str) -> list[tuple[int, int, int]]:
    """The pieces of a turn: (start, end, sentence number), original offsets; a sentence
    longer than the rules' ``min_words`` is cut before a strong word once the piece has
    ``min_words`` words, and before a weak word once it has ``max_words``."""
    table, _ = rules()
    split = table["split"]
    lo, hi = int(split["min_words"]), int(split["max_words"])
    strong, weak = patterns()["strong"], patterns()["weak"]
    norm = normalize(text)
    starts = [norm.start(int(s)) for s in sentence_starts(norm.text)] + [len(text)]
    out: list[tuple[int, int, int]] = []
    for number, (a, b) in enumerate(itertools.pairwise(starts)):
        words = [(m.start() + a, m.end() + a) for m in re.finditer(r"\S+", text[a:b])]
        if not words:
            continue
        first, count = 0, 0
        for i, (w_start, _) in enumerate(words):
            rest = len(words) - i
            if count >= lo and rest >= lo:
                tail = text[w_start:b].lower()
                if strong.match(tail) or (count >= hi and weak.match(tail)):
                    out.append((words[first][0], words[i - 1][1], number))
                    first, count = i, 0
            count += 1
        out.append((words[first][0], words[-1][1], number))
    return out


def read_pieces(transcript: Transcript, extractor: NoteExtractor) -> list[list[Piece]]:
    """Each turn's pieces with their mentions; the engine reads each piece alone, so no
    ConText scope crosses a piece."""
    p = patterns()
    out: list[list[Piece]] = []
    for index, turn in enumerate(transcript.turns):
        found = []
        for a, b, number in pieces(turn.text):
            s = Piece(index, a, b, turn.text[a:b], turn.role, turn.speaker, False, number)
            head = p["skip"].sub("", s.text.lower()).lstrip(" ,.")
            s.question = s.text.endswith("?") or bool(p["opener"].match(head))
            found.append(s)
        out.append(found)
    flat = [s for found in out for s in found]
    rows = extractor.extract(list(range(len(flat))), [s.text for s in flat])
    for row in rows:
        s = flat[int(row["note_id"])]
        if row["kind"] == "value":
            if s.mentions and s.mentions[-1].concept_id == row["concept_id"]:
                s.mentions[-1].value = str(row["text"]).strip()
            continue
        s.mentions.append(
            Mention(
                s.turn,
                s.start + int(row["start"]),
                s.start + int(row["end"]),
                row["concept_id"],
                row["concept_name"],
                row["category"],
                mention_state(row),
                row["text"],
            )
        )
    return out


def phases(turns: list[list[Piece]]) -> None:
    """Set each piece's phase of the visit: history, then exam, then plan, moved on by the
    doctor's cue words at the piece that says them (plan only after the exam or in the
    second half of the visit, and not at a piece that is still examining)."""
    p = patterns()
    phase = "history"
    n = len(turns)
    for index, found in enumerate(turns):
        for s in found:
            if s.role == "doctor":
                low = s.text.lower()
                if phase == "history" and p["phase_exam"].search(low):
                    phase = "exam"
                if (
                    phase != "plan"
                    and p["phase_plan"].search(low)
                    and (phase == "exam" or index >= n // 2)
                    and not p["exam"].search(low)
                ):
                    phase = "plan"
            s.phase = phase
