"""Which speaker is the doctor: roles inferred from what each speaker says.

Each speaker's sentences are scored for doctor cues (questions, instructions, examination
talk) and patient cues (first-person complaints). A sentence is a stretch of a turn ending
in ``.``, ``?`` or ``!``; a turn recognized from audio has no punctuation, so its sentences
are the runs of words between pauses of 0.25 s or more. The speaker with the highest
``(doctor cues − patient cues) / sentences`` is the doctor; with two or more speakers, the
lowest-scoring of the others is the patient and any further speaker is ``other``. A lone
speaker is ``other`` (nothing to compare it with). Every speaker's cue counts and score are
kept, so the decision can be checked and corrected (``Transcript.with_roles``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from insightome.apps.scribe.transcript import Turn

__all__ = ["CUES", "infer_roles", "sentences"]

PAUSE_S = 0.25
_BODY = (
    r"(?:head|chest|back|neck|stomach|belly|tummy|side|knee|knees|hip|hips|shoulder|"
    r"shoulders|arm|arms|leg|legs|foot|feet|ankle|ankles|wrist|hand|hands|elbow|throat|"
    r"ear|ears|eye|eyes|tooth|teeth|joints?|muscles?|abdomen|toe|toes|finger|fingers|heart)"
)
_QUESTION_START = re.compile(
    r"^(?:so |and |okay |alright |now |um |uh |well )*"
    r"(?:what|what's|how|how's|when|where|which|who|why|do you|did you|have you|has it|"
    r"has the|are you|is it|is there|are there|any|can you|could you|does it|does that|"
    r"were you|would you|will you|tell me)\b"
)
_INSTRUCTION = re.compile(
    r"\b(?:i want you to|i'd like you to|i would like you to|let's|let us|we'll|we will|"
    r"we're going to|we are going to|i'm going to (?:order|prescribe|start|refer|examine|"
    r"listen|check|send|give|put|increase|decrease|have you)|i'll (?:order|prescribe|"
    r"start|refer|send|see you)|i recommend|i would recommend|i'd recommend|"
    r"you should|you need to|make sure|follow up|continue (?:to|with|on|taking|the|your)|"
    r"go ahead and|(?:^|please )take (?:a|the|your|it|one|two))\b"
)
_EXAM = re.compile(
    r"\b(?:on (?:physical )?exam|your (?:lungs|heart|abdomen|exam|labs|results|x-ray|"
    r"blood pressure)|take a deep breath|lie back|press here|does (?:this|that) hurt|"
    r"diagnosis|i reviewed|looking at your)\b"
)
_COMPLAINT = re.compile(
    r"\b(?:i have|i've been|i have been|i've had|i had|i feel|i'm feeling|i am feeling|"
    r"i felt|i get|i got|i'm having|i am having|i noticed|i've noticed|i started|"
    r"i can't|i couldn't|i don't feel|it hurts|it's been hurting|it started|"
    rf"my {_BODY} (?:hurts|is hurting|has been|was|aches|is sore|is swollen)|"
    r"my (?:pain|medication|medicine|meds|doctor|wife|husband|son|daughter|mom|mother|dad))\b"
)
CUES = {
    "questions": "doctor",
    "instructions": "doctor",
    "examination": "doctor",
    "first_person_symptoms": "patient",
}


def sentences(turn: Turn) -> list[str]:
    """The turn's sentences, lower-cased: split at ``.?!`` (kept), or at pauses between its
    words when it came from audio without punctuation."""
    text = turn.text.strip().lower()
    if not re.search(r"[.?!]", text) and len(turn.words) > 1:
        parts: list[list[str]] = [[turn.words[0].text]]
        for before, word in zip(turn.words, turn.words[1:], strict=False):
            if word.start - before.end >= PAUSE_S:
                parts.append([])
            parts[-1].append(word.text)
        return [" ".join(p).lower() for p in parts]
    found = re.findall(r"[^.?!]+[.?!]*", text)
    return [s.strip() for s in found if re.search(r"\w", s)]


def _cues(sentence: str) -> dict[str, int]:
    plain = re.sub(r"\s+", " ", re.sub(r"[^\w'?\s-]", " ", sentence)).strip()
    return {
        "questions": int(sentence.endswith("?") or bool(_QUESTION_START.match(plain))),
        "instructions": len(_INSTRUCTION.findall(plain)),
        "examination": len(_EXAM.findall(plain)),
        "first_person_symptoms": len(_COMPLAINT.findall(plain)),
    }


def infer_roles(turns: Sequence[Turn]) -> dict[str, dict[str, Any]]:
    """Per speaker (in order of first appearance): ``role``, ``decided_by`` ("inferred"),
    ``cues`` (the counts of :data:`CUES`, and ``sentences``), ``score``."""
    counts: dict[str, dict[str, int]] = {}
    for turn in turns:
        entry = counts.setdefault(turn.speaker, dict.fromkeys([*CUES, "sentences"], 0))
        for sentence in sentences(turn):
            entry["sentences"] += 1
            for cue, n in _cues(sentence).items():
                entry[cue] += n
    scores = {
        speaker: round(
            sum(c[k] if side == "doctor" else -c[k] for k, side in CUES.items())
            / max(1, c["sentences"]),
            4,
        )
        for speaker, c in counts.items()
    }
    roles = dict.fromkeys(counts, "other")
    if len(counts) >= 2:
        ranked = sorted(counts, key=lambda s: (-scores[s], list(counts).index(s)))
        roles[ranked[0]] = "doctor"
        roles[ranked[-1]] = "patient"
    return {
        speaker: {
            "role": roles[speaker],
            "decided_by": "inferred",
            "cues": counts[speaker],
            "score": scores[speaker],
        }
        for speaker in counts
    }
