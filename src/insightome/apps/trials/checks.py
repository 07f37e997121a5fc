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
    "unit_name",
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
    "minimum": ">=",
    "minimum of": ">=",
    "maximum": "<=",
    "maximum of": "<=",
}
_ULN = re.compile(
    r"\b(?:x|times|×)?\s*(?:the\s+)?(?:ULN|upper limit(?:s)? of normal|LLN"
    r"|lower limit(?:s)? of normal|institutional)\b",
    re.IGNORECASE,
)
_MEASURE_GAP = 40  # characters between a measurement concept and its comparator

# -- age and sex ------------------------------------------------------------------------
_DURATION = re.compile(
    r"\b(?:for|duration|since|ago|lasting|over|history of|diagnosed)\b(?:\s+[\w-]+){0,2}\s*"
    r"(?:of\s+)?(?:less than|more than|at least|<|>|≤|≥|up to)?\s*$",
    re.IGNORECASE,
)
_BONE_AGE = re.compile(r"\bbone\s+ages?\b", re.IGNORECASE)
_AGE_UNIT = r"(?:years?|yrs?|y/?o|months?|mos?|weeks?|wks?|days?)"
_AGE_NUM = r"(?<![\d.,])\d{1,3}(?:\.\d+)?(?![\d,])"
#: an item whose age applies to some patients only ("if 10 years of age or under", "for
#: participants aged 55 or older", "times normal for age") states no age limit of the trial
_CONDITIONAL_AGE = re.compile(
    r"\bif\b|\bwhen\b|\bfor (?:patients|participants|subjects|those|women|men|children|"
    r"adults|individuals)\b|\bfor age\b|\bnormal for\b|\bcontact with\b",
    re.IGNORECASE,
)
_AGE_RANGE = re.compile(
    rf"(?P<a>{_AGE_NUM})\s*(?P<ua>{_AGE_UNIT})?(?![a-z])\s*(?:-?\s*(?:to|and)|-|–)\s*"
    rf"(?P<b>{_AGE_NUM})[\s-]*(?P<ub>{_AGE_UNIT})?(?![a-z])",
    re.IGNORECASE,
)
_PREFIX_OPS = sorted(
    [
        *_GE.split("|"),
        *_GT.split("|"),
        *_LE.split("|"),
        *_LT.split("|"),
        "older than",
        "younger than",
    ],
    key=len,
    reverse=True,
)
_AGE_PREFIX = re.compile(
    rf"(?P<op>{'|'.join(_PREFIX_OPS)})\s*(?:the\s+age\s+of\s+)?(?P<n>{_AGE_NUM})\s*"
    rf"(?P<u>{_AGE_UNIT})?(?![a-z])",
    re.IGNORECASE,
)
_AGE_POSTFIX = re.compile(
    rf"(?P<n>{_AGE_NUM})[\s-]*(?P<u>{_AGE_UNIT})?(?![a-z])[\s-]*(?:of\s+age\s*|old\s*)?"
    r"(?P<op>or older|and older|or over|and over|or above|and above|or greater|or more|"
    r"or younger|and younger|or under|and under|or below|or less)(?!\s+than)",
    re.IGNORECASE,
)
_LOWER_OPS = frozenset(
    [
        *_GE.split("|"),
        *_GT.split("|"),
        "older than",
        "or older",
        "and older",
        "or over",
        "and over",
        "or above",
        "and above",
        "or greater",
        "or more",
    ]
)
_STRICT_OPS = frozenset([*_GT.split("|"), *_LT.split("|"), "older than", "younger than"])
_AGE_WORDS = re.compile(
    r"\b(?:age[sd]?|aged|y/?o|old|older|younger|child|children|adults?|infants?|"
    r"adolescents?|newborns?|neonates?)\b",
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
    high_unit: str = "year"  # the upper limit's unit: a limit of 6 months ends at 7 months


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
    #: an inclusion naming several concepts with "and"/"with" and no "or": all must hold
    #: ("present"); otherwise one is enough
    all_of: bool = False
    #: about the patient's relatives ("family history of breast cancer"): judged on the
    #: record's mentions of relatives, never on the patient's own conditions
    family: bool = False


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
    #: one of a list of options ("Patients must meet one of the following:"): failing it
    #: does not exclude, another option may hold
    alternative: bool = False

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


def unit_name(unit: str | None) -> str:
    """ "Months", "mo", "wks" … → month, week, day or year (the default)."""
    unit = (unit or "year").lower()
    for name in ("month", "week", "day"):
        if unit.startswith(name[:2]) and not unit.startswith("mi"):
            return name
    return "year"


_PER_YEAR = {"year": 1.0, "month": 12.0, "week": 52.1775, "day": 365.25}


def _years(value: str, unit: str | None) -> float:
    return float(value) / _PER_YEAR[unit_name(unit)]


def _is_age(text: str, start: int, end: int, unit: str | None) -> bool:
    """A number is an age when "age(d)" comes just before it, "old" or "of age" just after,
    or it carries a time unit in an item that speaks of age."""
    before = text[max(0, start - 30) : start]
    if _DURATION.search(before):
        return False  # "type 2 diabetes for 1-10 years", "disease duration less than 2 years"
    if re.match(rf"[\s-]*(?:{_AGE_UNIT}[\s-]*)?(?:of\s+|'\s*)?gestation", text[end:], re.I):
        return False  # "38-42 weeks gestation": a pregnancy's term, not the patient's age
    if re.search(r"\b(?:age[sd]?|aged)\b(?:\s+\w+){0,3}\W*$", before, re.IGNORECASE):
        return True
    if re.match(rf"[\s-]*(?:{_AGE_UNIT}[\s-]*)?(?:of\s+age|old)\b", text[end:], re.IGNORECASE):
        return True
    window = text[max(0, start - 40) : end + 30]
    return unit is not None and bool(_AGE_WORDS.search(window))


def age_check(text: str) -> AgeCheck | None:
    """The age limits an item states, if it states any (module docstring)."""
    if _BONE_AGE.search(text) or _CONDITIONAL_AGE.search(text) or not _AGE_WORDS.search(text):
        return None
    for match in _AGE_RANGE.finditer(text):
        unit_a, unit_b = match.group("ua"), match.group("ub")
        if not _is_age(text, match.start(), match.end(), unit_b or unit_a):
            continue
        low, high = _years(match.group("a"), unit_a or unit_b), _years(match.group("b"), unit_b)
        if low >= high:
            return None  # an empty range: not an age limit the matcher can read
        return AgeCheck(low, high, match.group(0).strip(), high_unit=unit_name(unit_b))
    bounds: list[tuple[int, int, str, str, str | None]] = []  # start, end, op, number, unit
    for pattern in (_AGE_PREFIX, _AGE_POSTFIX):
        for match in pattern.finditer(text):
            overlaps = any(match.start() < e and s < match.end() for s, e, *_ in bounds)
            op = match.group("op").lower()
            says_age = op in ("older than", "younger than") or _is_age(
                text, match.start(), match.end(), match.group("u")
            )
            if overlaps or not says_age:
                continue
            bounds.append(
                (
                    match.start(),
                    match.end(),
                    match.group("op").lower(),
                    match.group("n"),
                    match.group("u"),
                )
            )
    lows = [b for b in sorted(bounds) if b[2] in _LOWER_OPS]
    highs = [b for b in sorted(bounds) if b[2] not in _LOWER_OPS]
    if not lows and not highs:
        return None
    low = _years(lows[0][3], lows[0][4]) if lows else None
    high = _years(highs[0][3], highs[0][4]) if highs else None
    low_strict = bool(lows) and lows[0][2] in _STRICT_OPS
    high_strict = bool(highs) and highs[0][2] in _STRICT_OPS
    if (
        low is not None
        and high is not None
        and (low > high or (low == high and (low_strict or high_strict)))
    ):
        return None
    words = " … ".join(text[b[0] : b[1]] for b in (lows[:1] + highs[:1]))
    return AgeCheck(
        low,
        high,
        words.strip(),
        low_strict,
        high_strict,
        unit_name(highs[0][4]) if highs else "year",
    )


def sex_check(text: str) -> SexCheck | None:
    """One sex named without the other, outside a pregnancy/childbearing context."""
    female, male = _FEMALE.search(text), _MALE.search(text)
    if bool(female) == bool(male) or _PREGNANCY_CONTEXT.search(text):
        return None
    if re.search(r"\b(?:partner|partners|spouse|wife|husband|sex with)\b", text, re.IGNORECASE):
        return None  # "Men who have sex with men": a behaviour, not the trial's sex
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
    multiple = re.match(r"\s*(?:x|times|×)(?!\s*10\s*\^?\s*[0-9⁹])", tail, re.IGNORECASE)
    if _ULN.match(tail) or multiple:  # "2 times ULN", but not "100 x 10^9/L"
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
    trailing = _OP_AFTER.match(tail[used:]) if not op and high is None else None
    if trailing:  # "100,000/mm3 or more"
        op_norm = _OP_OF.get(trailing.group("op").lower(), op_norm)
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
        for spelled in dict.fromkeys((written, written.replace(" ", ""))):  # "x 10^9/L"
            found = units.normalize_unit(spelled, concept, low)
            if found is not None:
                upper = units.normalize_unit(spelled, concept, high) if high is not None else None
                return found[1], found[0], upper[0] if upper else None, words[n - 1].end()
    return "", low, high, 0


_UNITLESS = frozenset({"ecog", "karnofsky", "inr", "bmi"})
