"""Note templates: the sections of a draft and which lines go to each.

A template is a JSON file (``format`` ``insightome-scribe-template/1``)::

    {"format": "insightome-scribe-template/1", "name": "cardiology follow-up",
     "sections": [
       {"key": "symptoms", "title": "SYMPTOMS", "kinds": ["chief_complaint", "hpi", "ros"]},
       {"key": "drugs", "title": "MEDICATIONS", "kinds": ["medications", "plan"],
        "categories": ["medication"]},
       {"key": "plan", "title": "PLAN", "kinds": ["plan"], "roles": ["doctor"]}]}

Each section has a ``key`` (letters, digits, ``_``; unique), a ``title`` (as printed) and a
route: ``kinds`` (required: the kinds of line it takes, :data:`LINE_KINDS`, or ``"*"`` for
any) and, optionally, ``categories`` (a finding of the line has one of these lexicon
categories), ``assertions`` (a finding has one of :data:`~.note.ASSERTIONS`), ``roles`` (the
speaker of the line's first span: doctor, patient, other) and ``cues`` (the line's text holds
one of these words or phrases, whole words, case-insensitive). A line goes to the FIRST
section, in file order, whose route it matches; a line that matches none is left out of the
draft and counted in ``Draft.method["unrouted_lines"]`` (a template that wants every line
ends with a ``"kinds": ["*"]`` section). ``group`` (optional, e.g. subjective/objective) is
kept in ``Draft.method`` for the reader.

The packaged default (``resources/template.json``) has the SOAP groups with the section
headings of ACI-BENCH's reference notes.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from insightome import errors
from insightome.apps.scribe.note import ASSERTIONS, Section
from insightome.apps.scribe.transcript import ROLES
from insightome.errors import UserError

__all__ = [
    "DEFAULT_TEMPLATE",
    "LINE_KINDS",
    "TEMPLATE_FORMAT",
    "Route",
    "Template",
    "read_template",
]

TEMPLATE_FORMAT = "insightome-scribe-template/1"
DEFAULT_TEMPLATE = Path(__file__).with_name("resources") / "template.json"
#: the kinds of line the drafter makes (docs: draft.py's module docstring says which is which)
LINE_KINDS = (
    "chief_complaint",
    "hpi",
    "ros",
    "history",
    "family_history",
    "social_history",
    "medications",
    "allergies",
    "exam",
    "vitals",
    "results",
    "assessment",
    "plan",
)
_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_WORDS = re.compile(r"[\w'/-]+")
_FIELDS = {"key", "title", "group", "kinds", "categories", "assertions", "roles", "cues"}


@dataclass(frozen=True)
class Route:
    """Which lines a section takes (empty tuples: any)."""

    section: str
    kinds: tuple[str, ...]
    categories: tuple[str, ...] = ()
    assertions: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    cues: tuple[str, ...] = ()

    def matches(
        self, kind: str, categories: Sequence[str], assertions: Sequence[str], role: str, text: str
    ) -> bool:
        if "*" not in self.kinds and kind not in self.kinds:
            return False
        if self.categories and not set(self.categories) & set(categories):
            return False
        if self.assertions and not set(self.assertions) & set(assertions):
            return False
        if self.roles and role not in self.roles:
            return False
        if self.cues:
            lowered = " " + " ".join(_WORDS.findall(text.lower())) + " "
            return any(f" {cue} " in lowered for cue in self.cues)
        return True


@dataclass(frozen=True)
class Template:
    """A template's sections in order, their routes, and where it came from."""

    sections: tuple[Section, ...]
    routes: tuple[Route, ...]
    name: str
    source: str
    sha256: str
    groups: dict[str, str]

    def route(
        self, kind: str, categories: Sequence[str], assertions: Sequence[str], role: str, text: str
    ) -> str | None:
        """The key of the first section whose route the line matches, or None."""
        for route in self.routes:
            if route.matches(kind, categories, assertions, role, text):
                return route.section
        return None

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "file": self.source,
            "sha256": self.sha256,
            "sections": [s.key for s in self.sections],
            "groups": self.groups,
        }


def read_template(path: str | Path | None = None) -> Template:
    """A template file (JSON, format above); None for the packaged default.

    Raises :class:`UserError` naming the file (and the section) for a missing or unreadable
    file, bad JSON, a wrong format, or a section with a bad key, title or route.
    """
    path = DEFAULT_TEMPLATE if path is None else Path(path)
    if not path.is_file():
        raise UserError(errors.SCRIBE_TEMPLATE_MISSING, path=path)
    raw = path.read_bytes()
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        reason = f"not UTF-8 JSON ({type(exc).__name__})"
        raise UserError(errors.SCRIBE_TEMPLATE_INVALID, path=path, reason=reason) from None
    if not isinstance(data, dict) or data.get("format") != TEMPLATE_FORMAT:
        reason = f"'format' must be '{TEMPLATE_FORMAT}'"
        raise UserError(errors.SCRIBE_TEMPLATE_INVALID, path=path, reason=reason)
    entries = data.get("sections")
    if not isinstance(entries, list) or not entries:
        reason = "'sections' must be a non-empty list"
        raise UserError(errors.SCRIBE_TEMPLATE_INVALID, path=path, reason=reason)
    sections, routes, groups = [], [], {}
    for number, entry in enumerate(entries, start=1):
        section, route = _section(path, number, entry)
        if section.key in groups:
            reason = f"section {number}: key '{section.key}' is used twice"
            raise UserError(errors.SCRIBE_TEMPLATE_INVALID, path=path, reason=reason)
        groups[section.key] = str(entry.get("group", ""))
        sections.append(section)
        routes.append(route)
    return Template(
        tuple(sections),
        tuple(routes),
        str(data.get("name", path.stem)),
        "packaged default" if path == DEFAULT_TEMPLATE else path.name,
        hashlib.sha256(raw).hexdigest(),
        groups,
    )


def _section(path: Path, number: int, entry: Any) -> tuple[Section, Route]:
    def bad(reason: str) -> UserError:
        return UserError(
            errors.SCRIBE_TEMPLATE_INVALID, path=path, reason=f"section {number}: {reason}"
        )

    if not isinstance(entry, dict):
        raise bad("not an object with key, title and kinds")
    unknown = sorted(set(entry) - _FIELDS)
    if unknown:
        raise bad(f"unknown field '{unknown[0]}' (fields: {', '.join(sorted(_FIELDS))})")
    key, title = entry.get("key"), entry.get("title")
    if not isinstance(key, str) or not _KEY.match(key):
        raise bad("'key' must be a name of letters, digits and _ (starting with a letter)")
    if not isinstance(title, str) or not title.strip():
        raise bad("'title' must be a non-empty text")
    lists: dict[str, tuple[str, ...]] = {}
    for field in ("kinds", "categories", "assertions", "roles", "cues"):
        value = entry.get(field, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise bad(f"'{field}' must be a list of texts")
        lists[field] = tuple(v.strip().lower() for v in value)
    allowed = {"kinds": (*LINE_KINDS, "*"), "assertions": ASSERTIONS, "roles": ROLES}
    if not lists["kinds"]:
        raise bad(f"'kinds' is required: some of {', '.join(LINE_KINDS)}, or '*'")
    for field, values in allowed.items():
        wrong = [v for v in lists[field] if v not in values]
        if wrong:
            raise bad(f"'{field}' has '{wrong[0]}' (allowed: {', '.join(values)})")
    cues = tuple(" ".join(_WORDS.findall(c)) for c in lists["cues"])
    route = Route(
        key, lists["kinds"], lists["categories"], lists["assertions"], lists["roles"], cues
    )
    return Section(key, title.strip()), route
