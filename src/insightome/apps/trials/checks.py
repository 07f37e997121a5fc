"""The checks a criterion item holds, and reading them from its words.

* :class:`AgeCheck` — "18 years of age or older", "aged 18-65", "Age: 18 and over", "under
  12 years" (:func:`age_check`); weeks and days ("38-42 weeks gestation") are not ages;
* :class:`SexCheck` — an item about one sex only (:func:`sex_check`); items about pregnancy
  or childbearing potential name women without restricting the trial to them;
* :class:`MeasureCheck` — a measurement concept, a comparator ("at least", "no greater
  than", "<", "0-2"), a number and a unit, normalised with the notes engine's units table
  (:func:`measure_check`); a threshold relative to the normal range ("2 times ULN") is not
  checkable without the laboratory's range;
* :class:`ConditionCheck` — the concepts an item names, present or absent, and when;
* :class:`Criterion` — one item with its checks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from insightome.featurize.notes.lexicon import Concept
from insightome.featurize.notes.values import ValueFinder

__all__ = [
    "AgeCheck",
    "Check",
    "ConditionCheck",
    "Criterion",
    "MeasureCheck",
    "SexCheck",
    "age_check",
    "measure_check",
    "sex_check",
]

# -- comparators ------------------------------------------------------------------------
_GE = (
    r">=|≥|=>|⩾|at least|not less than|no less than|no fewer than|equal to or greater than"
    r"|greater than or equal to|minimum(?: of)?|or more|or greater|or higher|or above"
)
_GT = r">|greater than|more than|higher than|above|over|exceeding|in excess of"
_LE = (
    r"<=|≤|=<|⩽|at most|no more than|not more than|no greater than|not greater than"
    r"|not exceeding|not to exceed|up to|maximum(?: of)?|less than or equal to"
    r"|equal to or less than|or less|or lower|or below"
)
_LT = r"<|less than|lower than|below|under|fewer than"
_NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_COMPARE = re.compile(
    rf"(?P<op>{_GE}|{_LE}|{_GT}|{_LT})?\s*(?:of\s+|than\s+)?(?P<a>{_NUMBER})"
    rf"(?:\s*(?:-|–|to|and)\s*(?P<b>{_NUMBER}))?",
    re.IGNORECASE,
)
_OP_AFTER = re.compile(
    r"^\s*(?P<op>or more|or greater|or higher|or above|or less|or lower"
    r"|or below|and over|and above|and older|or older|and under|or younger)",
    re.IGNORECASE,
)
_OP_OF = {
    **dict.fromkeys(_GE.split("|"), ">="),
    **dict.fromkeys(_GT.split("|"), ">"),
    **dict.fromkeys(_LE.split("|"), "<="),
    **dict.fromkeys(_LT.split("|"), "<"),
    "and over": ">=",
    "and above": ">=",
    "and older": ">=",
    "or older": ">=",
    "and under": "<=",
    "or younger": "<=",
}
_ULN = re.compile(
    r"\b(?:x|times|×)?\s*(?:the\s+)?(?:ULN|upper limit(?:s)? of normal|LLN"
    r"|lower limit(?:s)? of normal|institutional)\b",
    re.IGNORECASE,
)
_MEASURE_GAP = 40  # characters between a measurement concept and its comparator

# -- age and sex ------------------------------------------------------------------------
_AGE_CONTEXT = re.compile(
    r"\b(?:age|aged|ages|years?|yrs?|y/?o|old|older|younger|adults?)\b", re.IGNORECASE
)
_BONE_AGE = re.compile(r"\bbone\s+age\b", re.IGNORECASE)
_AGE_UNIT = r"(?:years?|yrs?|y/?o|months?|mo)"
_AGE_NUM = r"(?<![\d.,])\d{1,3}(?:\.\d+)?(?![\d,])"
_OTHER_TIME = re.compile(r"\s*(?:weeks?|wks?|days?|hours?|hrs?|minutes?)\b", re.IGNORECASE)
_AGE_RANGE = re.compile(
    rf"(?P<a>{_AGE_NUM})\s*(?:{_AGE_UNIT}\s*)?(?:-?\s*(?:to|and)|-|–)\s*(?P<b>{_AGE_NUM})[\s-]*"
    rf"(?P<unit>{_AGE_UNIT})?",
    re.IGNORECASE,
)
_AGE_LOWER = re.compile(
    rf"(?:(?:{_GE}|{_GT}|older than)\s*(?:the\s+age\s+of\s+)?(?P<a>{_AGE_NUM})\s*"
    rf"(?P<u1>{_AGE_UNIT})?"
    rf"|(?P<b>{_AGE_NUM})\s*(?P<u2>{_AGE_UNIT})?\s*(?:of age\s*|old\s*)?"
    rf"(?:or|and)\s*(?:older|over|above|greater|more)(?!\s+than))",
    re.IGNORECASE,
)
_AGE_UPPER = re.compile(
    rf"(?:(?:{_LE}|{_LT}|younger than)\s*(?:the\s+age\s+of\s+)?(?P<a>{_AGE_NUM})\s*"
    rf"(?P<u1>{_AGE_UNIT})?"
    rf"|(?P<b>{_AGE_NUM})\s*(?P<u2>{_AGE_UNIT})?\s*(?:of age\s*|old\s*)?"
    rf"(?:or|and)\s*(?:younger|under|below|less)(?!\s+than))",
    re.IGNORECASE,
)
_FEMALE = re.compile(r"\b(?:female|females|women|woman|girls?)\b", re.IGNORECASE)
_MALE = re.compile(r"\b(?:male|males|men|man|boys?)\b", re.IGNORECASE)
_PREGNANCY_CONTEXT = re.compile(
    r"pregnan|childbearing|child-bearing|lactat|breast|nursing|contracept|menopaus|"
    r"fertile|birth control",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class AgeCheck:
    """The patient's age in years lies in [low, high] (None: no limit)."""

    low: float | None
    high: float | None
    text: str  # the words that say so
    low_strict: bool = False
    high_strict: bool = False


@dataclass(frozen=True)
class SexCheck:
    sex: str  # female | male
    text: str


@dataclass(frozen=True)
class MeasureCheck:
    """A measurement concept compared with a threshold (value in the normalised unit)."""

    concept_id: str
    concept_name: str
    op: str  # >= > <= < between outside
    low: float
    high: float | None
    unit: str  # normalised, "" for a score without unit
    text: str


@dataclass(frozen=True)
class ConditionCheck:
    """Concepts the item names, what the patient must show, and when."""

    concepts: tuple[tuple[str, str], ...]  # (concept_id, name)
    requires: str  # present | absent
    window: str  # any | now | within
    months: float | None
    text: str
    #: per concept, the word that narrows it in the item ("uncontrolled" hypertension,
    #: "severe" COPD) or ""; a bare mention in the record does not show the narrowed one
    qualifiers: tuple[str, ...] = ()


Check = AgeCheck | SexCheck | MeasureCheck | ConditionCheck


@dataclass(frozen=True)
class Criterion:
    """One inclusion or exclusion item with its checks (none: judged unknown, ``note`` says why)."""

    trial_id: str
    number: int  # 1-based within the trial; 0: the registry's structured fields
    kind: str
    text: str
    checks: tuple[Check, ...] = ()
    note: str = ""
    source: str = "criteria"  # criteria | registry
    any_of: bool = False  # thresholds joined by "or": one holding is enough

    @property
    def form(self) -> str:
        """``text`` when nothing is checkable, else the kinds of its checks joined by '+'."""
        if not self.checks:
            return "text"
        names = {
            AgeCheck: "age",
            SexCheck: "sex",
            MeasureCheck: "measure",
            ConditionCheck: "condition",
        }
        return "+".join(dict.fromkeys(names[type(c)] for c in self.checks))


def _years(value: str, unit: str | None) -> float:
    number = float(value)
    if unit and unit.lower().startswith("mo"):
        return number / 12
    return number


def age_check(text: str) -> AgeCheck | None:
    """The age limits an item states, if it states any."""
    if not _AGE_CONTEXT.search(text) or _BONE_AGE.search(text):
        return None  # "Bone age no greater than 11 years" is an X-ray reading, not an age
    low = high = None
    low_strict = high_strict = False
    words = ""
    has_years = re.search(
        r"\b(?:age|aged|ages|years?|yrs?|y/?o|old|older|younger)\b", text, re.IGNORECASE
    )
    if not has_years:
        return None
    for match in _AGE_RANGE.finditer(text):
        after = text[match.end() : match.end() + 25].lower()
        before = text[max(0, match.start() - 25) : match.start()].lower()
        if _OTHER_TIME.match(after):
            continue  # "38-42 weeks gestation": not an age in years
        if re.search(r"\bage", before) or re.match(
            rf"[\s-]*(?:{_AGE_UNIT}[\s-]*)?(?:old|of age)", after
        ):
            low, high = (
                _years(match.group("a"), match.group("unit")),
                _years(match.group("b"), match.group("unit")),
            )
            words = match.group(0)
            break
    if low is None:
        lower = _AGE_LOWER.search(text)
        if lower and _near_age(text, lower) and not _OTHER_TIME.match(text, lower.end()):
            value, unit = (
                lower.group("a") or lower.group("b"),
                lower.group("u1") or lower.group("u2"),
            )
            low, words = _years(value, unit), lower.group(0)
            low_strict = bool(
                re.match(rf"(?:{_GT}|older than)\b", lower.group(0).strip(), re.IGNORECASE)
            ) and not re.match(rf"(?:{_GE})\b", lower.group(0).strip(), re.IGNORECASE)
        upper = _AGE_UPPER.search(text)
        if upper and _near_age(text, upper) and not _OTHER_TIME.match(text, upper.end()):
            value, unit = (
                upper.group("a") or upper.group("b"),
                upper.group("u1") or upper.group("u2"),
            )
            high = _years(value, unit)
            words = f"{words} … {upper.group(0)}" if words else upper.group(0)
            high_strict = bool(
                re.match(rf"(?:{_LT}|younger than)\b", upper.group(0).strip(), re.IGNORECASE)
            ) and not re.match(rf"(?:{_LE})\b", upper.group(0).strip(), re.IGNORECASE)
    if low is None and high is None:
        return None
    if low is not None and high is not None and low > high:
        return None
    return AgeCheck(low, high, words.strip(), low_strict, high_strict)


def _near_age(text: str, match: re.Match[str]) -> bool:
    window = text[max(0, match.start() - 30) : match.end() + 20]
    words = r"\b(?:age|aged|y/?o|old|older|younger|child|children|adults?|infants?|adolescents?)\b"
    return bool(re.search(words, window, re.IGNORECASE))


def sex_check(text: str) -> SexCheck | None:
    """One sex named without the other, outside a pregnancy/childbearing context."""
    female, male = _FEMALE.search(text), _MALE.search(text)
    if bool(female) == bool(male) or _PREGNANCY_CONTEXT.search(text):
        return None
    if re.search(r"\b(?:partner|partners|spouse|wife|husband)\b", text, re.IGNORECASE):
        return None
    match = female or male
    assert match is not None
    return SexCheck("female" if female else "male", match.group(0))


def _number(written: str) -> float:
    return float(written.replace(",", ""))


def measure_check(
    text: str, mention: Mapping[str, Any], concept: Concept, units: ValueFinder
) -> MeasureCheck | str | None:
    """The comparison after a measurement concept; a string says why it is not checkable."""
    start = int(mention["end"])
    window = text[start : start + _MEASURE_GAP + 30]
    match = _COMPARE.search(window)
    if (
        match is None
        or match.start() > _MEASURE_GAP
        or re.search(r"[;.]\s", window[: match.start()])
    ):
        return None
    tail = window[match.end() :]
    if _ULN.match(tail) or re.match(r"\s*(?:x|times|×)\b", tail, re.IGNORECASE):
        return f"{concept.name}: a threshold relative to the normal range needs the lab's range"
    op = (match.group("op") or "").lower()
    after = _OP_AFTER.match(tail)
    if after:
        op, tail = after.group("op").lower(), tail[after.end() :]
    a = _number(match.group("a"))
    b = _number(match.group("b")) if match.group("b") else None
    if b is not None and not op:
        op_norm, low, high = "between", min(a, b), max(a, b)
    elif op and _OP_OF.get(op):
        op_norm, low, high = _OP_OF[op], a, None
    else:
        return None
    unit, low, high, used = _unit(tail, concept, low, high, units)
    if concept.concept_id in _UNITLESS or concept.category == "score":
        unit = ""  # "Karnofsky 70-100%", "ECOG 0-2": the score itself
    elif not unit:
        return f"{concept.name}: no unit the units table knows after the threshold"
    words = text[int(mention["start"]) : start + match.end() + used]
    return MeasureCheck(
        concept.concept_id, concept.name, op_norm, low, high, unit, " ".join(words.split())
    )


def _unit(
    tail: str, concept: Concept, low: float, high: float | None, units: ValueFinder
) -> tuple[str, float, float | None, int]:
    """The unit written after a threshold (two words tried before one: "mm Hg"), the
    thresholds in the unit the table normalises to, and the characters the unit took."""
    words = list(re.finditer(r"[^\s,;()]+", tail[:30]))
    for n in (2, 1):
        if len(words) < n or (n == 2 and words[0].start() > 1):
            continue
        written = tail[words[0].start() : words[n - 1].end()].rstrip(".")
        found = units.normalize_unit(written, concept, low)
        if found is not None:
            upper = units.normalize_unit(written, concept, high) if high is not None else None
            return found[1], found[0], upper[0] if upper else None, words[n - 1].end()
    return "", low, high, 0


_UNITLESS = frozenset({"ecog", "karnofsky", "inr", "bmi"})
