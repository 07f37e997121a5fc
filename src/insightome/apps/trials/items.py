"""An eligibility text block → its inclusion and exclusion items.

The block is cut at its headings ("Inclusion Criteria:", "Exclusion Criteria:", and the PDQ
headings of older records: "DISEASE CHARACTERISTICS:", "PATIENT CHARACTERISTICS:", "PRIOR
CONCURRENT THERAPY:"); text before the first heading and under PDQ headings is inclusion.
Inside a section an item starts at a bullet ("-", "*", "•", "1.", "a)") or after a blank
line; wrapped lines join their item, and an item ending in "or"/"and" continues on the next
("Creatinine < 1.5 mg/dL OR" + "Creatinine clearance ≥ 60 mL/min"). PDQ sections run items
together ("ECOG 0-2 Life expectancy: At least 12 weeks"): they are cut at their sub-labels
("Age:", "Hepatic:") and where a capitalised word follows a lower-case one (not after "No",
"of", ... nor inside a capitalised name: "No New York Heart Association ..."). An item
ending in a colon ("To be eligible, a person must:") or saying "Not specified" is a lead-in,
not a criterion.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

__all__ = ["Item", "split_items"]

_HEADING = re.compile(
    r"(?P<excl>\b(?:key\s+|main\s+)?exclusion(?:\s+criteria)?\s*:?)"
    r"|(?P<incl>\b(?:key\s+|main\s+)?(?:inclusion|eligibility)(?:\s+criteria)?\s*:)"
    r"|(?P<incl2>(?<![\w-])(?:key\s+|main\s+)?inclusion\s+criteria\b)"
    r"|(?P<pdq>\b(?:DISEASE CHARACTERISTICS|PATIENT CHARACTERISTICS|PRIOR CONCURRENT THERAPY"
    r"|PRIOR/CONCURRENT THERAPY)\s*:)",
    re.IGNORECASE,
)
_BULLET = re.compile(r"^\s*(?:[-*•·o]\s+|\d{1,2}[.)]\s+|\(?[a-z]\)\s+|[ivx]{1,4}[.)]\s+)")
_JOINED = re.compile(r"\b(?:or|and/or|and)$", re.IGNORECASE)  # an item continued by the next
_SUBLABEL = re.compile(r"(?<![\w/])[A-Z][a-z]+(?:[ /-][a-z]+){0,3}:\s")
_NOT_AN_ITEM = re.compile(r"^(?:not specified|none|n/a|see (?:above|below))\.?$", re.IGNORECASE)
_RUN_ON = re.compile(r"(?<=[a-zA-Z0-9%)\]])\s+(?=[A-Z][a-z]+\b)")
#: a capitalised word after one of these continues the item ("No New York Heart ...")
_CONTINUES = frozenset(
    "no not at of with the and or to than for in on by a an least greater less more class "
    "new stage grade type phase de von van st dr".split()
)


@dataclass(frozen=True)
class Item:
    """One criterion's text: its place in the eligibility block and the heading it is under."""

    kind: str  # inclusion | exclusion
    text: str
    start: int
    end: int
    heading: str = ""
    lead_in: bool = False


@dataclass
class _Section:
    kind: str
    heading: str
    start: int
    end: int
    pdq: bool = False
    items: list[Item] = field(default_factory=list)


def _sections(text: str) -> list[_Section]:
    sections: list[_Section] = []
    position, kind, heading, pdq = 0, "inclusion", "", False
    for match in _HEADING.finditer(text):
        excl = match.group("excl")
        # "exclusion" as a word inside an item is not a heading: a heading starts its line
        # or is followed by a colon
        line_start = text.rfind("\n", 0, match.start()) + 1
        line_end = text.find("\n", match.end())
        at_line_start = not text[line_start : match.start()].strip()
        alone = not text[match.end() : len(text) if line_end < 0 else line_end].strip()
        colon = match.group(0).rstrip().endswith(":")
        # a heading ends with a colon or is its line's only words ("Exclusion Criteria");
        # "exclusion criteria listed below" starting a wrapped line is text
        if (excl or match.group("incl2")) and not (colon or (at_line_start and alone)):
            continue
        sections.append(_Section(kind, heading, position, match.start(), pdq))
        heading = " ".join(match.group(0).split()).rstrip(":")
        kind = "exclusion" if excl else "inclusion"
        pdq = bool(match.group("pdq"))
        position = match.end()
    sections.append(_Section(kind, heading, position, len(text), pdq))
    return [s for s in sections if text[s.start : s.end].strip()]


def _paragraphs(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Item spans of one section: bullets or blank-line paragraphs; wrapped lines join."""
    spans: list[tuple[int, int]] = []
    current: list[int] | None = None
    position = start
    for line in text[start:end].split("\n"):
        line_start, line_end = position, position + len(line)
        position = line_end + 1
        if not line.strip():
            if current is not None:
                spans.append((current[0], current[1]))
                current = None
            continue
        if current is None or _BULLET.match(line):
            if current is not None:
                spans.append((current[0], current[1]))
            current = [line_start, line_end]
        else:
            current[1] = line_end
    if current is not None:
        spans.append((current[0], current[1]))
    return spans


def _run_on(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """A PDQ paragraph cut at its sub-labels and where a capitalised word follows."""
    cuts = {start, end}
    for match in _SUBLABEL.finditer(text, start, end):
        cuts.add(match.start())
    for match in _RUN_ON.finditer(text, start, end):
        before = re.search(r"(\S+)$", text[start : match.start()])
        word = before.group(1) if before else ""
        if word.lower().strip(",:") in _CONTINUES or word[:1].isupper():
            continue  # "No New York Heart Association": a name, not a new item
        cuts.add(match.end())
    bounds = sorted(cuts)
    return [(a, b) for a, b in itertools.pairwise(bounds) if text[a:b].strip()]


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and (text[start].isspace() or text[start] in "-*•·;,"):
        start += 1
    bullet = _BULLET.match(text[start:end])  # "^" anchors at the item's start
    if bullet and start + bullet.end() < end:
        start += bullet.end()
    while end > start and (text[end - 1].isspace() or text[end - 1] in ";,"):
        end -= 1
    return start, end


def split_items(criteria: str) -> list[Item]:
    """The inclusion and exclusion items of an eligibility block (module docstring).

    Offsets are into ``criteria`` with Windows line ends read as one character each
    (``criteria.replace("\\r\\n", "\\n")``).
    """
    text = criteria.replace("\r\n", "\n").replace("\r", "\n")
    items: list[Item] = []
    for section in _sections(text):
        first = len(items)  # items never join across a heading
        for a, b in _paragraphs(text, section.start, section.end):
            pieces = _run_on(text, a, b) if section.pdq else [(a, b)]
            for p, q in pieces:
                s, e = _strip(text, p, q)
                body = " ".join(text[s:e].split())
                if len(re.sub(r"\W", "", body)) < 2:
                    continue
                lead = (body.endswith(":") and len(body) < 200) or bool(_NOT_AN_ITEM.match(body))
                previous = items[-1] if len(items) > first else None
                if previous is not None and _JOINED.search(previous.text) and not previous.lead_in:
                    # "Creatinine less than 1.5 mg/dL OR" + "Creatinine clearance at least 60"
                    body = f"{previous.text} {body}"
                    items[-1] = Item(section.kind, body, previous.start, e, section.heading, lead)
                    continue
                items.append(Item(section.kind, body, s, e, section.heading, lead))
    return items
