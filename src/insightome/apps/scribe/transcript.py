"""A consultation's transcript: speaker turns, each with its role and (from audio) its words.

Two sources make a :class:`Transcript`: :func:`insightome.apps.scribe.asr.transcribe`
(audio → words with times → turns) and :func:`read_transcript` (a file: the JSON that
``insightome scribe transcribe`` writes, or plain text with one speaker label per turn).
Every evidence span of a draft note points into it as ``(turn, start, end)``: character
offsets into ``turns[turn].text``.

Plain-text transcripts: a line that starts with a speaker label starts a turn; a line
without one continues the turn before it. Labels are ``[doctor]`` / ``[patient]`` (the
ACI-BENCH form, any ``[name]``), or a role word (doctor, dr, physician, clinician, provider,
patient, pt, nurse, np, pa, guest, family, mother, father, wife, husband, daughter, son,
caregiver, interpreter) or a speaker code (``S1``, ``ch2``, ``Speaker 1``, ``SPEAKER_1``)
followed by a colon at the start of a line; another word with a colon (``Medications:``)
continues the turn. The role of a
speaker is read from its label (doctor, dr, physician, clinician, provider → ``doctor``;
patient, pt → ``patient``; anything else → ``other``) and can be corrected with
:meth:`Transcript.with_roles`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from insightome import errors
from insightome.errors import UserError

__all__ = [
    "ROLES",
    "Transcript",
    "Turn",
    "Word",
    "parse_roles",
    "read_transcript",
    "role_of_label",
]

ROLES = ("doctor", "patient", "other")
FORMAT = "insightome-scribe-transcript/1"
_DOCTOR_LABELS = {"doctor", "dr", "physician", "clinician", "provider", "doctor_guest"}
_PATIENT_LABELS = {"patient", "pt"}
_BRACKET = re.compile(r"^\s*\[([A-Za-z][\w .-]{0,39})\]\s?")
# a colon label is a role word or a speaker code, so that "Medications: ..." or "Pain: ..."
# inside a turn does not start a turn of its own
_ROLE_WORDS = (
    "doctor|dr|physician|clinician|provider|patient|pt|nurse|np|pa|guest|family|mother|"
    "father|wife|husband|daughter|son|caregiver|interpreter"
)
_COLON = re.compile(
    rf"^\s*((?:{_ROLE_WORDS})\.?|(?:speaker|spk|s|ch)[ _-]?\d{{1,2}})\s*:\s+", re.IGNORECASE
)


@dataclass(frozen=True)
class Word:
    """One recognized word: times in seconds from the start of the audio; confidence 0–1."""

    text: str
    start: float
    end: float
    confidence: float


@dataclass(frozen=True)
class Turn:
    """One speaker's uninterrupted stretch of speech."""

    speaker: str  # the label or the diarization's speaker (S1, S2, ...; ch1, ch2)
    role: str  # doctor, patient or other
    text: str
    start: float | None = None  # seconds, from audio only
    end: float | None = None
    words: tuple[Word, ...] = ()


@dataclass(frozen=True)
class Transcript:
    """Turns in order, with where they came from (``source``: the input file's name, sha256,
    and for audio its duration, channels and rate; ``engine``: the ASR engine, its version,
    model and settings; ``speakers``: per speaker, its role, how the role was decided
    (``label``, ``inferred`` with the cue counts, or ``corrected``)."""

    turns: tuple[Turn, ...]
    source: dict[str, Any] = field(default_factory=dict)
    engine: dict[str, Any] = field(default_factory=dict)
    speakers: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The transcript as ``[role] text`` lines (the ACI-BENCH form)."""
        return "\n".join(f"[{t.role}] {t.text}" for t in self.turns)

    def with_roles(self, roles: Mapping[str, str]) -> Transcript:
        """The transcript with the given speakers' roles replaced (a user's correction)."""
        unknown = sorted(set(roles) - {t.speaker for t in self.turns})
        if unknown:
            raise UserError(
                errors.SCRIBE_UNKNOWN_SPEAKER,
                speaker=unknown[0],
                speakers=", ".join(sorted({t.speaker for t in self.turns})),
            )
        turns = tuple(
            replace(t, role=roles[t.speaker]) if t.speaker in roles else t for t in self.turns
        )
        speakers = {k: dict(v) for k, v in self.speakers.items()}
        for speaker, role in roles.items():
            entry = speakers.setdefault(speaker, {})
            entry["inferred_role"] = entry.get("role")
            entry.update(role=role, decided_by="corrected")
        return replace(self, turns=turns, speakers=speakers)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "source": self.source,
            "engine": self.engine,
            "speakers": self.speakers,
            "turns": [
                {
                    **{k: v for k, v in asdict(t).items() if k != "words"},
                    "words": [[w.text, w.start, w.end, w.confidence] for w in t.words],
                }
                for t in self.turns
            ],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Transcript:
        """The transcript in ``data`` (:meth:`to_json`'s form); a field of the wrong type
        raises :class:`TypeError` (a hand-edited file), not a failure later on."""
        if not isinstance(data.get("turns"), list):
            raise TypeError("turns is not a list")
        for key in ("source", "engine", "speakers"):
            if not isinstance(data.get(key, {}), dict):
                raise TypeError(f"{key} is not an object")
        if not all(isinstance(v, dict) for v in data.get("speakers", {}).values()):
            raise TypeError("a speaker is not an object")
        turns = tuple(_turn_from_json(t) for t in data["turns"])
        return cls(
            turns,
            dict(data.get("source", {})),
            dict(data.get("engine", {})),
            {k: dict(v) for k, v in data.get("speakers", {}).items()},
        )


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value


def _turn_from_json(t: object) -> Turn:
    """One turn of :meth:`Transcript.to_json`, its fields' types checked."""
    if not isinstance(t, dict):
        raise TypeError("a turn is not an object")
    for key in ("speaker", "role", "text"):
        if not isinstance(t.get(key), str):
            raise TypeError(f"a turn's {key} is not text")
    for key in ("start", "end"):
        if t.get(key) is not None and not _is_number(t[key]):
            raise TypeError(f"a turn's {key} is not a number")
    words = t.get("words", [])
    if not isinstance(words, list):
        raise TypeError("a turn's words is not a list")
    for w in words:
        if not (
            isinstance(w, list)
            and len(w) == 4
            and isinstance(w[0], str)
            and all(_is_number(x) for x in w[1:])
        ):
            raise TypeError("a word is not [text, start, end, confidence]")
    return Turn(
        speaker=t["speaker"],
        role=t["role"],
        text=t["text"],
        start=None if t.get("start") is None else float(t["start"]),
        end=None if t.get("end") is None else float(t["end"]),
        words=tuple(Word(w[0], *map(float, w[1:4])) for w in words),
    )


def role_of_label(label: str) -> str:
    """``doctor``, ``patient`` or ``other`` for a speaker label as written."""
    key = label.strip().lower().rstrip(".").replace(" ", "_")
    if key in _DOCTOR_LABELS or key.startswith("dr_"):
        return "doctor"
    if key in _PATIENT_LABELS or key.startswith("patient"):
        return "patient"
    return "other"


def parse_roles(spec: str) -> dict[str, str]:
    """``"S1=doctor,S2=patient"`` → ``{"S1": "doctor", "S2": "patient"}`` (a user's input)."""
    roles: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        speaker, sep, role = part.partition("=")
        role = role.strip().lower()
        if not sep or not speaker.strip() or role not in ROLES:
            raise UserError(errors.SCRIBE_ROLES_SPEC, part=part, roles=", ".join(ROLES))
        roles[speaker.strip()] = role
    return roles


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _parse_text(text: str) -> list[Turn]:
    turns: list[list[str]] = []  # [speaker, text]
    for line in text.splitlines():
        if not line.strip():
            continue
        match = _BRACKET.match(line) or _COLON.match(line)
        if match:
            turns.append([match.group(1).strip(), line[match.end() :].strip()])
        elif turns:
            turns[-1][1] = f"{turns[-1][1]} {line.strip()}".strip()
        else:
            turns.append(["speaker", line.strip()])
    return [Turn(speaker=s, role=role_of_label(s), text=t) for s, t in turns if t]


def read_transcript(path: str | Path) -> Transcript:
    """A transcript file: our JSON (``.json``) or labelled plain text (any other suffix).

    Raises a :class:`UserError` naming the file for a missing or unreadable file, text that
    is not UTF-8, JSON that is not a transcript, or a transcript with no turn.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(errors.SCRIBE_TRANSCRIPT_MISSING, path=path)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError(errors.SCRIBE_TRANSCRIPT_ENCODING, path=path, byte=exc.start) from None
    source = {"file": path.name, "sha256": _sha256(raw)}
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
            if data.get("format") != FORMAT:
                raise KeyError("format")
            transcript = Transcript.from_json(data)
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            raise UserError(errors.SCRIBE_TRANSCRIPT_JSON, path=path, format=FORMAT) from None
        transcript = replace(
            transcript, source={**transcript.source, "transcript_file": path.name,
                                "transcript_sha256": source["sha256"]}
        )  # fmt: skip
    else:
        turns = _parse_text(text)
        speakers = {t.speaker: {"role": t.role, "decided_by": "label"} for t in turns}
        transcript = Transcript(tuple(turns), source, {}, speakers)
    if not transcript.turns:
        raise UserError(errors.SCRIBE_TRANSCRIPT_EMPTY, path=path)
    return transcript
