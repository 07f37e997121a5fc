"""Concept lexicons: reading and checking a user's file, and the packaged starter ones.

A lexicon is CSV, TSV (``.csv``, ``.tsv``, ``.txt``: tab-separated when the header line
holds a tab) or YAML (``.yaml``/``.yml``: a list of concepts, or ``concepts:`` and the list)
with ``concept_id`` and ``name`` (required), ``synonyms`` (``|``-separated; a list in
YAML), ``regex`` (a Python regex over the normalized text: lower case, no accents) and
``category`` (condition, symptom, finding, measurement, ...). The name is always a term.

Matching is case- and accent-insensitive, except for a term written in capitals with at
most three letters and no space ("MI", "CHF", "K", "DM2"): such abbreviations collide with
words ("mi" is Spanish for "my"), so they match only where the note writes them in
capitals too. Write the lower-case form as another synonym to match it anyway.

Rows are numbered as in a spreadsheet (the header is row 1); YAML entries from 1.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from insightome import errors
from insightome.errors import UserError
from insightome.featurize.notes.resources import LANGUAGES, read_bytes, resource

__all__ = ["Concept", "Lexicon", "is_case_sensitive", "read_lexicon", "starter_lexicon"]

_TABLE_SUFFIXES = (".csv", ".tsv", ".txt")
_YAML_SUFFIXES = (".yaml", ".yml")
_HAS_WORD = re.compile(r"\w")


@dataclass(frozen=True)
class Concept:
    """One concept: its id, preferred name, other terms, optional regex and category."""

    concept_id: str
    name: str
    synonyms: tuple[str, ...] = ()
    regex: str | None = None
    category: str = ""

    @property
    def terms(self) -> tuple[str, ...]:
        """The name and the synonyms, without repeats."""
        return tuple(dict.fromkeys((self.name, *self.synonyms)))


@dataclass(frozen=True)
class Lexicon:
    """The concepts of a lexicon file, the file it came from and its sha256."""

    concepts: tuple[Concept, ...]
    source: str
    sha256: str

    def __len__(self) -> int:
        return len(self.concepts)

    @property
    def by_id(self) -> dict[str, Concept]:
        return {c.concept_id: c for c in self.concepts}


def is_case_sensitive(term: str) -> bool:
    """An abbreviation in capitals of at most three letters, without spaces ("MI", "CHF")."""
    letters = [c for c in term if c.isalpha()]
    return 0 < len(letters) <= 3 and " " not in term.strip() and all(c.isupper() for c in letters)


def read_lexicon(path: str | Path) -> Lexicon:
    """Read and check a lexicon file; :class:`UserError` naming the file, row and fix."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _TABLE_SUFFIXES + _YAML_SUFFIXES:
        raise UserError(errors.LEXICON_FORMAT_UNKNOWN, path=path, suffix=path.suffix)
    raw = read_bytes(path)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise UserError(
            errors.NOTES_NOT_UTF8,
            path=path,
            line=line,
            byte=f"0x{raw[exc.start]:02x}",
            offset=exc.start,
        ) from None
    if suffix in _YAML_SUFFIXES:
        rows = _yaml_rows(path, text)
    else:
        rows = _table_rows(path, text)
    concepts = _concepts(path, rows)
    return Lexicon(tuple(concepts), str(path), hashlib.sha256(raw).hexdigest())


def starter_lexicon(language: str) -> Lexicon:
    """The packaged starter lexicon of ``language`` ("en" or "es")."""
    if language not in LANGUAGES:
        raise UserError(errors.NOTES_LANGUAGE_INVALID, value=language)
    return read_lexicon(resource(language, "lexicon.csv"))


def _table_rows(path: Path, text: str) -> list[tuple[int, dict[str, Any]]]:
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first_line else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise UserError(errors.LEXICON_EMPTY, path=path) from None
    header = [h.strip().lower() for h in header]
    for column in ("concept_id", "name"):
        if column not in header:
            raise UserError(
                errors.LEXICON_COLUMN_MISSING, path=path, column=column, columns=", ".join(header)
            )
    rows: list[tuple[int, dict[str, Any]]] = []
    for fields in reader:
        if not any(f.strip() for f in fields):
            continue
        row = dict(zip(header, (f.strip() for f in fields), strict=False))
        synonyms = row.get("synonyms", "") or ""
        row["synonyms"] = [s.strip() for s in synonyms.split("|")] if synonyms.strip() else []
        rows.append((reader.line_num, row))
    return rows


def _yaml_rows(path: Path, text: str) -> list[tuple[int, dict[str, Any]]]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        reason = str(exc).splitlines()[0]
        raise UserError(errors.LEXICON_BAD_YAML, path=path, reason=reason) from None
    if isinstance(data, Mapping) and "concepts" in data:
        data = data["concepts"]
    if not isinstance(data, list):
        raise UserError(errors.LEXICON_BAD_YAML, path=path, reason="not a list of concepts")
    rows: list[tuple[int, dict[str, Any]]] = []
    for number, entry in enumerate(data, start=1):
        if not isinstance(entry, Mapping):
            raise UserError(
                errors.LEXICON_BAD_YAML, path=path, reason=f"entry {number} is not a mapping"
            )
        row = {str(k).strip().lower(): v for k, v in entry.items()}
        for column in ("concept_id", "name"):
            if column not in row:
                raise UserError(
                    errors.LEXICON_COLUMN_MISSING,
                    path=path,
                    column=column,
                    columns=", ".join(row) + f" (entry {number})",
                )
        synonyms = row.get("synonyms") or []
        if isinstance(synonyms, str):
            synonyms = [s.strip() for s in synonyms.split("|")]
        row["synonyms"] = ["" if s is None else str(s).strip() for s in synonyms]
        for key in ("concept_id", "name", "regex", "category"):
            row[key] = "" if row.get(key) is None else str(row[key]).strip()
        rows.append((number, row))
    return rows


def _concepts(path: Path, rows: Iterable[tuple[int, dict[str, Any]]]) -> list[Concept]:
    seen: dict[str, int] = {}
    concepts: list[Concept] = []
    for number, row in rows:
        concept_id = row.get("concept_id") or ""
        if not concept_id:
            raise UserError(errors.LEXICON_NO_ID, path=path, row=number)
        if concept_id in seen:
            raise UserError(
                errors.LEXICON_DUPLICATE_ID,
                path=path,
                row=number,
                concept=concept_id,
                first=seen[concept_id],
            )
        seen[concept_id] = number
        fields = {"path": path, "row": number, "concept": concept_id}
        name = row.get("name") or ""
        if not name:
            raise UserError(errors.LEXICON_NO_NAME, **fields)
        synonyms: list[str] = row["synonyms"]
        if any(not s for s in synonyms):
            raise UserError(errors.LEXICON_EMPTY_SYNONYM, **fields)
        for term in (name, *synonyms):
            if not _HAS_WORD.search(term):
                raise UserError(errors.LEXICON_TERM_NO_WORD, term=term, **fields)
        regex = row.get("regex") or None
        if regex is not None:
            try:
                re.compile(regex)
            except re.error as exc:
                raise UserError(errors.LEXICON_BAD_REGEX, reason=str(exc), **fields) from None
        concepts.append(
            Concept(concept_id, name, tuple(synonyms), regex, (row.get("category") or "").lower())
        )
    if not concepts:
        raise UserError(errors.LEXICON_EMPTY, path=path)
    return concepts
