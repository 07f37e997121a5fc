"""Patients in: notes (one or several per patient) and, optionally, a structured row each.

A patients file is a notes table (:func:`insightome.io.notes.read_notes`: ``.csv``, ``.tsv``,
``.txt``, ``.jsonl``). The patient ID is the column given, else the first of
``patient_id``, ``_id``, ``id``, ``note_id``, ``topic``; a file without one is refused (one
line): an ID is what a coordinator's decision is recorded against. Several notes with the
same ID are one patient (joined in file order, each note's offsets kept).

A structured table (``--patient-table``; CSV/TSV with a ``patient_id`` column, the same
IDs as the notes) gives ``age`` (years, 0-125), ``sex`` (female/male, F/M, woman/man) and
numeric columns named by a concept of the lexicon with their unit in brackets
(``creatinine[mg/dL]``, ``platelets[/uL]``, ``hba1c[%]``; scores without one: ``ecog``,
``karnofsky``, ``bmi``): a value there is used before one read from the notes, in the unit
the criterion is written in (converted by the notes engine's units table). A value without
a unit is compared only with a threshold without one; a column that names no concept is
reported, never guessed. Without one, age and sex are read from the note
("58-year-old woman", "a 7-month-old boy"; pronouns as the last resort) and the source of
each is kept as evidence.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from insightome import errors
from insightome.errors import UserError
from insightome.io.notes import read_notes

__all__ = [
    "Evidence",
    "Patient",
    "PatientSet",
    "age_from_text",
    "patient_from_text",
    "read_patients",
    "sex_from_text",
]

NOTES_SUFFIXES = (".csv", ".tsv", ".txt", ".jsonl")  # as io.notes.read_notes reads
PATIENT_ID_NAMES = ("patient_id", "_id", "id", "note_id", "topic", "topic_id", "subject_id")
#: "58-year-old", "3 y/o", "45 years of age": the patient's age as a vignette states it
_STATED_AGE = re.compile(
    r"\b(?P<n>\d{1,3})(?:\s*|-)(?P<unit>year|yr|month|mo|week|day)s?(?:\s*|-)old\b"
    r"|\b(?P<n2>\d{1,3})\s*(?:y/?o|yo|y\.o\.)(?!\w)"
    r"|\b(?P<n4>\d{1,3})(?:\s*|-)(?P<unit4>year|yr|month)s?\s+of\s+age\b",
    re.IGNORECASE,
)
#: "aged 7", "age: 45", "aged 3 months" — not "at age 52" (an event's age: "her father died
#: of MI at age 52"), used only when no stated age is found
_AGED = re.compile(
    r"(?<!\bat )(?<!\bthe )\b(?:aged|age\s*:)\s*(?P<n>\d{1,3})\s*"
    r"(?:(?P<unit>year|yr|month|mo|week|day)s?)?\b",
    re.IGNORECASE,
)
# words about the patient only: no titles ("MS", "MR" are also diseases) and no relatives
# ("her father ... his MI")
_FEMALE = re.compile(
    r"\b(?:woman|female|girl|lady|she|her|herself|pregnant|postmenopausal)\b", re.IGNORECASE
)
_MALE = re.compile(r"\b(?:man|male|boy|gentleman|he|him|his|himself)\b", re.IGNORECASE)
_NOUN_SEX = re.compile(r"\b(woman|female|girl|lady|man|male|boy|gentleman)\b", re.IGNORECASE)
_PER_YEAR = {"year": 1.0, "yr": 1.0, "month": 12.0, "week": 52.1775, "day": 365.25}
_SEX_VALUES = {
    "f": "female",
    "female": "female",
    "woman": "female",
    "w": "female",
    "m": "male",
    "male": "male",
    "man": "male",
}


@dataclass(frozen=True)
class Evidence:
    """Where a fact came from: a span of the patient's text or a structured field."""

    source: str  # note | table
    text: str  # the words (a note span) or "column = value"
    start: int = -1  # offsets into Patient.text for a note span
    end: int = -1


@dataclass
class Patient:
    patient_id: str
    text: str  # the patient's notes, joined by blank lines
    age: float | None = None
    age_evidence: Evidence | None = None
    sex: str | None = None  # female | male
    sex_evidence: Evidence | None = None
    #: structured values by column name (lower case): (value, unit written in the header's
    #: brackets, "" without one); the matcher maps them to concepts and normalises the units
    fields: dict[str, tuple[float, str]] = field(default_factory=dict)
    mentions: list[dict[str, Any]] = field(default_factory=list)  # notes-engine rows


@dataclass
class PatientSet:
    patients: list[Patient]
    sha256: str
    path: str
    id_column: str
    notes: list[str] = field(default_factory=list)
    table: str = ""  # the structured table's path and sha256, when one was given
    table_sha256: str = ""


def age_from_text(text: str) -> tuple[float, Evidence] | None:
    """The patient's stated age ("58-year-old", "3 y/o", "45 years of age"; else "aged 7",
    "age: 45"), in years, with its span; an age after "at" is an event's, not the patient's."""
    for pattern in (_STATED_AGE, _AGED):
        for match in pattern.finditer(text):
            number = match.group("n") or match.groupdict().get("n2") or match.groupdict().get("n4")
            unit = match.group("unit") or match.groupdict().get("unit4") or "year"
            value = float(number) / _PER_YEAR[_unit(unit)]
            if value <= 125:
                return value, Evidence("note", match.group(0).strip(), match.start(), match.end())
    return None


def _unit(written: str) -> str:
    written = written.lower()
    return "month" if written.startswith("mo") else written if written in _PER_YEAR else "year"


def sex_from_text(text: str) -> tuple[str, Evidence] | None:
    """Sex from the first sexed noun ("woman", "boy"), else from a clear pronoun majority."""
    noun = _NOUN_SEX.search(text)
    if noun:
        word = noun.group(1).lower()
        sex = "female" if word in ("woman", "female", "girl", "lady") else "male"
        return sex, Evidence("note", noun.group(0), noun.start(), noun.end())
    female = list(_FEMALE.finditer(text))
    male = list(_MALE.finditer(text))
    # one side only, or at least twice as many words as the other ("she ... her husband")
    if female and len(female) >= 2 * len(male):
        first = female[0]
        return "female", Evidence("note", first.group(0), first.start(), first.end())
    if male and len(male) >= 2 * len(female):
        first = male[0]
        return "male", Evidence("note", first.group(0), first.start(), first.end())
    return None


def patient_from_text(patient_id: str, text: str) -> Patient:
    """A patient from note text alone: age and sex read from the words (module docstring)."""
    patient = Patient(str(patient_id), text)
    found_age = age_from_text(text)
    if found_age is not None:
        patient.age, patient.age_evidence = found_age
    found_sex = sex_from_text(text)
    if found_sex is not None:
        patient.sex, patient.sex_evidence = found_sex
    return patient


def _id_column(path: Path, columns: list[str], given: str | None) -> str:
    if given is not None:
        return given  # read_notes checks it exists
    lowered = {c.lower(): c for c in columns}
    for name in PATIENT_ID_NAMES:
        if name in lowered:
            return lowered[name]
    raise UserError(
        errors.TRIALS_NO_PATIENT_ID,
        path=path,
        columns=errors.examples(columns, k=12),
    )


def _columns_of(path: Path) -> list[str]:
    """The column names of a notes file: its header, or the keys of its first JSON line."""
    if not path.is_file():
        raise UserError(errors.FILE_MISSING, path=path)
    if path.suffix.lower() not in NOTES_SUFFIXES:
        raise UserError(errors.NOTES_FORMAT_UNKNOWN, path=path, suffix=path.suffix)
    with path.open(encoding="utf-8-sig", errors="replace") as handle:
        first = next((line for line in handle if line.strip()), "")
    if path.suffix.lower() == ".jsonl":
        try:
            keys = json.loads(first)
        except json.JSONDecodeError as exc:
            raise UserError(
                errors.FILE_CORRUPT, path=path, kind="JSON Lines", reason=f"line 1: {exc.msg}"
            ) from None
        return [str(k) for k in keys] if isinstance(keys, dict) else []
    delimiter = "\t" if "\t" in first else ","
    return next(csv.reader([first], delimiter=delimiter), [])


def read_patients(
    path: str | Path,
    *,
    id_column: str | None = None,
    text_column: str | None = None,
    table: str | Path | None = None,
) -> PatientSet:
    """Patients from a notes file (and a structured table); one-line errors (module doc)."""
    path = Path(path)
    columns = _columns_of(path)
    chosen = _id_column(path, columns, id_column)
    notes_table = read_notes(path, id_column=chosen, text_column=text_column)
    texts: dict[str, list[str]] = {}
    for note_id, text in zip(notes_table.frame["note_id"], notes_table.frame["text"], strict=True):
        texts.setdefault(str(note_id), []).append(str(text))
    patients = {pid: patient_from_text(pid, "\n\n".join(parts)) for pid, parts in texts.items()}
    notes = list(notes_table.notes)
    result = PatientSet(list(patients.values()), notes_table.sha256, str(path), chosen, notes)
    if table is not None:
        notes.extend(_apply_table(Path(table), patients))
        result.table = str(table)
        result.table_sha256 = hashlib.sha256(Path(table).read_bytes()).hexdigest()
    return result


_HEADER = re.compile(r"^\s*(?P<name>[^\[\]]+?)\s*(?:\[(?P<unit>[^\[\]]+)\])?\s*$")


def _number(path: Path, row: int, column: str, written: str) -> float:
    try:
        value = float(written)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise UserError(
            errors.TRIALS_TABLE_NOT_NUMBER, path=path, row=row, column=column, value=written[:40]
        )
    return value


def _apply_table(path: Path, patients: dict[str, Patient]) -> list[str]:
    """Age, sex and values from the structured table; one-line errors name file, row, column."""
    if not path.is_file():
        raise UserError(errors.FILE_MISSING, path=path)
    sep = "\t" if path.suffix.lower() in (".tsv", ".txt") else ","
    try:
        frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(
            errors.FILE_CORRUPT, path=path, kind="a delimited text table", reason=reason
        ) from None
    lowered = {c.lower().strip(): c for c in frame.columns}
    if len(lowered) < len(frame.columns):
        raise UserError(errors.TRIALS_TABLE_SAME_COLUMN, path=path)
    id_col = next((lowered[n] for n in PATIENT_ID_NAMES if n in lowered), None)
    if id_col is None:
        raise UserError(
            errors.TRIALS_TABLE_NO_ID, path=path, columns=errors.examples(frame.columns, k=12)
        )
    repeated = frame[id_col][frame[id_col].duplicated()]
    if len(repeated):
        raise UserError(errors.TRIALS_TABLE_DUPLICATE, path=path, id=str(repeated.iloc[0])[:40])
    unknown = sorted(set(frame[id_col]) - set(patients))
    values = [c for c in frame.columns if c != id_col and c.lower().strip() not in ("age", "sex")]
    for row_number, row in enumerate(frame.to_dict("records"), start=2):
        patient = patients.get(row[id_col])
        if patient is None:
            continue
        _set_age_sex(path, row_number, row, lowered, patient)
        for column in values:
            written = str(row[column]).strip()
            if not written:
                continue
            header = _HEADER.match(column)
            name = (header.group("name") if header else column).lower()
            unit = (header.group("unit") or "") if header else ""
            patient.fields[name] = (_number(path, row_number, column, written), unit.strip())
    return (
        [f"{len(unknown)} ID(s) of {path.name} have no notes and were not used"] if unknown else []
    )


def _set_age_sex(
    path: Path, row_number: int, row: dict[str, Any], lowered: dict[str, str], patient: Patient
) -> None:
    if "age" in lowered and str(row[lowered["age"]]).strip():
        written = str(row[lowered["age"]]).strip()
        age = _number(path, row_number, lowered["age"], written)
        if not 0 <= age <= 125:
            raise UserError(
                errors.TRIALS_TABLE_BAD_AGE,
                path=path,
                row=row_number,
                column=lowered["age"],
                value=written[:40],
            )
        patient.age = age
        patient.age_evidence = Evidence("table", f"{lowered['age']} = {written}")
    if "sex" in lowered and str(row[lowered["sex"]]).strip():
        written = str(row[lowered["sex"]]).strip()
        sex = _SEX_VALUES.get(written.lower())
        if sex is None:
            raise UserError(
                errors.TRIALS_TABLE_BAD_SEX,
                path=path,
                row=row_number,
                column=lowered["sex"],
                value=written[:40],
            )
        patient.sex, patient.sex_evidence = sex, Evidence("table", f"{lowered['sex']} = {written}")
