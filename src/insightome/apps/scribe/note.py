"""A draft note: sections of lines, each line with the transcript spans that justify it.

:func:`insightome.apps.scribe.draft.draft_note` makes a :class:`Draft` from a
:class:`~insightome.apps.scribe.transcript.Transcript`; :mod:`~insightome.apps.scribe.api`
writes it as ``draft.json`` (:meth:`Draft.to_json`) and ``draft.html``, and
``insightome scribe approve`` records a clinician's decision on every line. A line is never
final until approved.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from insightome.apps.scribe.transcript import Transcript

__all__ = ["ASSERTIONS", "DRAFT_FORMAT", "Draft", "DraftLine", "Evidence", "Finding", "Section"]

DRAFT_FORMAT = "insightome-scribe-draft/1"
# a concept's state in the consultation, by precedence (as the notes engine's run features):
# about someone else › denied › uncertain (possible or hypothetical) › past › present
ASSERTIONS = ("family", "absent", "uncertain", "historical", "present")


@dataclass(frozen=True)
class Evidence:
    """A span of the transcript: ``transcript.turns[turn].text[start:end]``."""

    turn: int
    start: int
    end: int
    speaker: str
    role: str


@dataclass(frozen=True)
class Finding:
    """One concept a line states, with its assertion and who said it."""

    concept_id: str
    concept_name: str
    category: str  # the lexicon's category: symptom, finding, condition, medication, ...
    assertion: str  # one of ASSERTIONS
    said_by: str  # the role of the speaker whose words carry it
    value: str = ""  # a number with its unit, as said ("140 over 90", "20 mg"), if any


@dataclass(frozen=True)
class DraftLine:
    """One line of the note. ``id`` is stable within a draft (``L001``, ``L002``, ...)."""

    id: str
    section: str  # a Section.key
    text: str
    evidence: tuple[Evidence, ...]
    findings: tuple[Finding, ...] = ()


@dataclass(frozen=True)
class Section:
    key: str  # e.g. subjective, objective, assessment, plan, or a template's own keys
    title: str  # as printed, e.g. "SUBJECTIVE"


@dataclass(frozen=True)
class Draft:
    """The draft: its sections in order, its lines, the transcript they cite, and how it was
    made (``method``: the lexicon and rules with their sha256, the template, the version)."""

    sections: tuple[Section, ...]
    lines: tuple[DraftLine, ...]
    transcript: Transcript
    method: dict[str, Any] = field(default_factory=dict)

    def lines_of(self, key: str) -> list[DraftLine]:
        return [line for line in self.lines if line.section == key]

    @property
    def text(self) -> str:
        """The draft as plain text: each section's title, then its lines."""
        blocks = []
        for section in self.sections:
            lines = self.lines_of(section.key)
            if lines:
                blocks.append("\n".join([section.title, *(line.text for line in lines)]))
        return "\n\n".join(blocks)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": DRAFT_FORMAT,
            "method": self.method,
            "sections": [asdict(s) for s in self.sections],
            "lines": [asdict(line) for line in self.lines],
            "transcript": self.transcript.to_json(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Draft:
        lines = tuple(
            DraftLine(
                id=str(line["id"]),
                section=str(line["section"]),
                text=str(line["text"]),
                evidence=tuple(Evidence(**e) for e in line["evidence"]),
                findings=tuple(Finding(**f) for f in line.get("findings", ())),
            )
            for line in data["lines"]
        )
        return cls(
            tuple(Section(**s) for s in data["sections"]),
            lines,
            Transcript.from_json(data["transcript"]),
            dict(data.get("method", {})),
        )
