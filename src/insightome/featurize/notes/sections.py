"""Section headings: which section each part of a note is in, and the flag it sets.

A heading of ``sections.tsv`` is recognised (case- and accent-insensitively)

* at the start of a line, followed by ``:`` or alone on its line ("Family history:",
  "ASSESSMENT AND PLAN"), or
* anywhere, when written in capitals and followed by ``:`` (exports that flattened the
  line breaks, as MTSamples did: "...,FAMILY HISTORY:, Mother ...").

A section runs from its heading to the next heading. Any other capitalised label followed
by ``:`` at a line start or after punctuation ("HEENT:", "DOPPLER:") is a *generic heading*:
it ends a sentence and ends a section that sets a flag (so a family-history section does not
run on into an unlisted "SOCIAL HISTORY:"), but keeps the current section name otherwise.
A label holding a listed heading is that heading ("HIS SOCIAL HISTORY:" is social history).
Text before the first heading, or after a flag section ended by a generic heading, has
section "". Headings are labels, not statements: no mention or trigger is taken from them.
"""

from __future__ import annotations

import bisect
import itertools
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from insightome import errors
from insightome.errors import UserError
from insightome.featurize.notes.normalization import NormalizedText, fold
from insightome.featurize.notes.resources import read_tsv

__all__ = ["SECTION_FLAGS", "Heading", "Section", "SectionFinder", "read_sections"]

#: The flags a section may set on every mention in it.
SECTION_FLAGS = ("FAMILY", "HISTORICAL", "HYPOTHETICAL")
_SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")
_GENERIC = re.compile(r"(?:^|(?<=[\n.,;]))[ \t]*([^\W\d_][\w/&()' -]{1,60}?)[ \t]*:", re.MULTILINE)
_MIN_GENERIC_LETTERS = 4  # "BP:" or "EF:" introduce values, not sections


@dataclass(frozen=True)
class Section:
    """A row of ``sections.tsv``: a heading as written, its section and the flag it sets."""

    heading: str
    section: str
    sets: str
    source: str


@dataclass(frozen=True)
class Heading:
    """A heading found in a note (normalized offsets)."""

    start: int
    end: int  # after the colon, when there is one
    section: str  # "" for a generic heading
    sets: str
    known: bool


def read_sections(path: str | Path) -> tuple[Section, ...]:
    """The sections of a ``sections.tsv``; :class:`UserError` naming file and line."""
    out: list[Section] = []
    for line, row in read_tsv(path, ("heading", "section", "sets")):
        heading, section, sets = row["heading"], row["section"], row["sets"].upper()
        if not heading:
            raise UserError(errors.RULES_BAD_ROW, path=path, line=line, reason="empty heading")
        if not _SNAKE.match(section):
            raise UserError(
                errors.RULES_BAD_ROW,
                path=path,
                line=line,
                reason=f"section '{section}' is not a snake_case name (e.g. family_history)",
            )
        if sets and sets not in SECTION_FLAGS:
            raise UserError(
                errors.RULES_BAD_ROW,
                path=path,
                line=line,
                reason=f"sets '{sets}' must be empty or one of {', '.join(SECTION_FLAGS)}",
            )
        out.append(Section(heading, section, sets, row.get("source", "")))
    return tuple(out)


class SectionFinder:
    """Finds the headings of a note and the section of any position in it."""

    def __init__(self, sections: tuple[Section, ...]) -> None:
        self.by_heading: dict[str, Section] = {}
        for section in sections:
            self.by_heading.setdefault(" ".join(fold(section.heading).split()), section)
        if self.by_heading:
            names = sorted(self.by_heading, key=len, reverse=True)
            alternatives = "|".join(re.escape(n).replace(r"\ ", r"\s+") for n in names)
            self._known = re.compile(
                rf"^[ \t]*(?P<h>{alternatives})[ \t]*(?::|(?=\r?\n|$))", re.MULTILINE
            )
            self._inline = re.compile(rf"(?<![\w])(?P<h>{alternatives})[ \t]*:")
        else:
            self._known = self._inline = None

    def headings(self, norm: NormalizedText) -> list[Heading]:
        """The headings of the note, in order, without overlaps."""
        found: dict[int, Heading] = {}
        text, original = norm.text, norm.original
        if self._known is not None and self._inline is not None:
            for match in self._known.finditer(text):
                self._add(found, match, known=True)
            for match in self._inline.finditer(text):
                start, end = norm.start(match.start("h")), norm.end(match.end("h"))
                written = original[start:end]
                if written.upper() == written and any(c.isalpha() for c in written):
                    self._add(found, match, known=True)
        # generic headings never overlap each other (one finditer): each is checked against
        # the known ones, sorted by start with the running maximum of their ends
        known = sorted(found.values(), key=lambda h: h.start)
        known_starts = [h.start for h in known]
        reach = list(itertools.accumulate((h.end for h in known), max))
        for match in _GENERIC.finditer(original):
            label = match.group(1).rstrip()
            letters = sum(c.isalpha() for c in label)
            if letters < _MIN_GENERIC_LETTERS or not label.isupper():
                continue  # "BP:" introduces a value; "Patient states:" is a sentence
            start, end = _to_normalized(norm, match.start(1)), _to_normalized(norm, match.end())
            before = bisect.bisect_left(known_starts, end) - 1  # the last known starting before
            if before < 0 or reach[before] <= start:
                found.setdefault(start, Heading(start, end, "", "", known=False))
        ordered = sorted(found.values(), key=lambda h: (h.start, -h.end))
        kept: list[Heading] = []
        for heading in ordered:
            if kept and heading.start < kept[-1].end:
                continue
            kept.append(heading)
        return kept

    def _add(self, found: dict[int, Heading], match: re.Match[str], known: bool) -> None:
        name = " ".join(match.group("h").split())
        section = self.by_heading[name]
        start = match.start("h")
        previous = found.get(start)
        if previous is None or previous.end < match.end():
            found[start] = Heading(start, match.end(), section.section, section.sets, known)


def _to_normalized(norm: NormalizedText, position: int) -> int:
    if norm.to_original is None:
        return position
    return int(np.searchsorted(norm.to_original, position, side="left"))


def section_spans(headings: list[Heading], length: int) -> list[tuple[int, int, Heading | None]]:
    """(start, end, heading) of each stretch of a note of ``length`` normalized characters;
    the heading whose section and flag hold there (None before the first)."""
    spans: list[tuple[int, int, Heading | None]] = []
    current: Heading | None = None
    position = 0
    for heading in headings:
        if heading.known:
            spans.append((position, heading.start, current))
            current, position = heading, heading.start
        elif current is not None and current.sets:
            spans.append((position, heading.start, current))
            current, position = None, heading.start
    spans.append((position, length, current))
    return [s for s in spans if s[1] > s[0]]
