"""Numeric values with units after a concept: "EF 25%", "HbA1c 7,2 %", "creatinine 1.4 mg/dL".

A value mention is tied to the concept just before it: a number (and a unit) follows the
concept within a few filler words ("of", "is", "was", ":", "=", "de", "fue", ...) in the
same sentence. For a concept whose category is a measurement (``measurement``, ``lab``,
``vital``, ``vital_sign``, ``score``) the number alone is enough; for any other concept a
unit of the units table must follow ("fever 38.5 C"), so "pain 2 days" gives no value.

Numbers: a decimal point or a decimal comma ("7,2"). Thousands are grouped by the
language's separator, in groups of exactly three digits after a first group of one to
three digits that does not start with 0: in English a comma ("150,000", "1,234,567",
"12,500.5"), in Spanish a full stop ("150.000", "1.234.567", "12.500,5"), so a Spanish
"1.250" reads 1250 and "7.2" or "0.500" keep their decimal point. A ratio "120/80" (blood
pressure) is one value mention whose ``value`` is its first number (the text keeps both).

Dates are not values: a date right after the concept ("HbA1c (03/2021): 7.2%",
"HbA1c 2019-05-01: 7.2%") is skipped like a filler word, and a number that starts a date
is never taken. A date is day/month/year with one separator (``/``, ``-`` or ``.``; a
year of two or four digits), year-month(-day) from 1900-2099, or month/year ("03/2021").

Units come from ``resources/common/units.tsv`` (``unit`` as written, normalized;
``canonical`` spelling; ``to`` and ``factor``/``offset``: value_normalized =
factor × value + offset in unit ``to``; ``analyte``: a regex over the concept's normalized
id, name and synonyms that the row is limited to, e.g. bare "f" only for temperatures and
µmol/L → mg/dL only for creatinine). The first row whose analyte matches is used; a unit
is converted only where the table says the conversion is unambiguous. Without a conversion
``value_normalized`` equals ``value`` and ``unit_normalized`` is the unit's canonical
spelling ("mg/dl" → "mg/dL").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from insightome import errors
from insightome.errors import UserError
from insightome.featurize.notes.lexicon import Concept
from insightome.featurize.notes.normalization import fold
from insightome.featurize.notes.resources import read_tsv, resource

__all__ = ["MEASUREMENT_CATEGORIES", "UnitRow", "ValueFinder", "read_units"]

MEASUREMENT_CATEGORIES = frozenset({"measurement", "lab", "vital", "vital_sign", "score"})
_DAY = r"(?:0?[1-9]|[12]\d|3[01])"
_MONTH = r"(?:0?[1-9]|1[0-2])"
_YEAR = r"(?:19|20)\d\d"
_DATE = "(?:{})(?!\\d)".format(
    "|".join(
        alternative.format(sep=re.escape(sep))
        for sep in "/-."
        for alternative in (
            r"\d{{1,2}}{sep}\d{{1,2}}{sep}(?:\d{{4}}|\d\d)",  # 05/01/2019, 1-5-19
            rf"{_YEAR}{{sep}}{_MONTH}(?:{{sep}}{_DAY})?",  # 2019-05-01, 2021/03
            rf"{_MONTH}{{sep}}{_YEAR}",  # 03/2021
        )
    )
)
_FILLER = (
    r"(?:[ \t]*(?:[:=~]|-(?!\d)|\(|\b(?:of|is|was|were|at|level|levels|value|"
    r"measured|es|de|del|fue|era|nivel|niveles|valor|en|un|una|a)\b"
    rf"|\(?[ \t]*{_DATE}[ \t]*\)?))"
)
#: thousands separator and decimal mark of each language; a number is grouped thousands
#: (and decimals) or digits with one decimal point or comma
_MARKS = {"en": (",", "."), "es": (".", ",")}
_PLAIN = r"\d+(?:[.,]\d+)?"
_MAX_GAP = 3  # filler words between the concept and its number


@dataclass(frozen=True)
class UnitRow:
    """A row of ``units.tsv``."""

    unit: str
    canonical: str
    to: str
    factor: float
    offset: float
    analyte: re.Pattern[str] | None


@dataclass(frozen=True)
class Value:
    """A value found after a concept (normalized offsets of the number and unit)."""

    start: int
    end: int
    value: float
    unit_start: int
    unit_end: int
    value_normalized: float
    unit_normalized: str


def read_units(path: str | Path | None = None) -> tuple[UnitRow, ...]:
    """The rows of a units table (the packaged one by default)."""
    path = path or resource("common", "units.tsv")
    rows: list[UnitRow] = []
    for line, row in read_tsv(path, ("unit", "canonical", "to", "factor", "offset", "analyte")):
        try:
            factor = float(row["factor"]) if row["factor"] else 1.0
            offset = float(row["offset"]) if row["offset"] else 0.0
            analyte = re.compile(row["analyte"]) if row["analyte"] else None
        except (ValueError, re.error) as exc:
            raise UserError(errors.RULES_BAD_ROW, path=path, line=line, reason=str(exc)) from None
        unit = " ".join(fold(row["unit"]).split())
        rows.append(
            UnitRow(unit, row["canonical"] or row["unit"], row["to"], factor, offset, analyte)
        )
    return tuple(rows)


class ValueFinder:
    """Finds the value after a concept mention in a note's normalized text."""

    def __init__(self, units: tuple[UnitRow, ...], language: str) -> None:
        self.language = language
        self.units: dict[str, list[UnitRow]] = {}
        for row in units:
            self.units.setdefault(row.unit, []).append(row)
        thousands, decimal = (re.escape(m) for m in _MARKS[language])
        self.grouped = re.compile(rf"[1-9]\d{{0,2}}(?:{thousands}\d{{3}})+(?!\d)(?:{decimal}\d+)?")
        number = rf"(?:{self.grouped.pattern}|{_PLAIN})"
        spelled = sorted(self.units, key=len, reverse=True)
        alternatives = "|".join(re.escape(u).replace(r"\ ", r"[ \t]?") for u in spelled)
        self.pattern = re.compile(
            rf"{_FILLER}{{0,{_MAX_GAP}}}[ \t]*(?!{_DATE})"
            rf"(?P<num>{number})(?:[ \t]*/[ \t]*(?P<num2>{number}))?"
            rf"(?:[ \t]*(?P<unit>{alternatives})(?![a-z0-9]))?"
        )
        self._analyte_text: dict[str, str] = {}

    def find(self, text: str, position: int, limit: int, concept: Concept) -> Value | None:
        """The value starting after ``position`` in normalized ``text`` (not past ``limit``)."""
        match = self.pattern.match(text, position, limit)
        if match is None:
            return None
        end = match.end("num2") if match.group("num2") else match.end("num")
        if end < limit and text[end].isalnum() and not match.group("unit"):
            return None  # "2nd", "3x": not a value
        row = self._unit_row(match.group("unit"), concept) if match.group("unit") else None
        if row is None and concept.category not in MEASUREMENT_CATEGORIES:
            return None
        value = self._number(match.group("num"))
        if row is None:
            return Value(match.start("num"), end, value, end, end, value, "")
        unit_start, unit_end = match.start("unit"), match.end("unit")
        if row.to:
            normalized, unit_normalized = round(row.factor * value + row.offset, 4), row.to
        else:
            normalized, unit_normalized = value, row.canonical
        return Value(match.start("num"), unit_end, value, unit_start, unit_end, normalized,
                     unit_normalized)  # fmt: skip

    def normalize_unit(
        self, written: str, concept: Concept, value: float
    ) -> tuple[float, str] | None:
        """``value`` in ``written`` units (as a note or a criterion writes them) → the value
        and unit the table normalises to, or None when the unit is not in the table."""
        row = self._unit_row(fold(written).strip(), concept)
        if row is None:
            return None
        if row.to:
            return round(row.factor * value + row.offset, 4), row.to
        return value, row.canonical

    def _unit_row(self, written: str, concept: Concept) -> UnitRow | None:
        analyte = self._analyte(concept)
        for row in self.units.get(" ".join(written.split()), []):
            if row.analyte is None or row.analyte.search(analyte):
                return row
        return None

    def _analyte(self, concept: Concept) -> str:
        key = concept.concept_id
        if key not in self._analyte_text:
            words = [concept.concept_id, *concept.terms]
            self._analyte_text[key] = fold(" | ".join(words))
        return self._analyte_text[key]

    def _number(self, written: str) -> float:
        """The number as written: grouped thousands, a decimal point or comma."""
        if self.grouped.fullmatch(written):
            written = written.replace(_MARKS[self.language][0], "")
        return float(written.replace(",", "."))
