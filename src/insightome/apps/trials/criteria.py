"""Eligibility text → criteria: inclusion and exclusion items, each parsed into checks.

**Items** come from :func:`~insightome.apps.trials.items.split_items` (headings, bullets,
the run-on PDQ layout of older records); the checks are read by
:mod:`~insightome.apps.trials.checks`; this module puts them together per item.

**Checks** (an item may hold several; the item holds when all of them hold):

* ``age`` — "18 years of age or older", "aged 18-65", "Age: 18 and over", "under 12 years";
* ``sex`` — an item about one sex only ("Women only", "Male patients"); items about pregnancy
  or childbearing potential name women without restricting the trial to them, so give none;
* ``measure`` — a measurement concept with a comparator, a number and a unit: "creatinine
  < 1.5 mg/dL", "Platelet count at least 75,000/mm3", "ECOG 0-2", "HbA1c 7-10 %"; units
  normalised by the notes engine's units table. Thresholds relative to the upper limit of
  normal ("2 times ULN") need the laboratory's range: they stay ``text``;
* ``condition`` — the concepts the item mentions (the notes engine: lexicon match and
  ConText assertion), what the patient must show ("present", or "absent" for a negated item
  such as "No uncontrolled infection"), and the time window ("history of" → any time,
  "within 6 months" / "current" → now);
* ``text`` — nothing checkable (consent, contraception, willingness): judged ``unknown``.

A negated item under an exclusion heading ("Exclusion: Not have diabetes") is a double
negative that registries use both ways; it is left as ``text`` with that reason rather than
read one way silently.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from insightome.apps.trials.checks import (
    AgeCheck,
    Check,
    ConditionCheck,
    Criterion,
    MeasureCheck,
    SexCheck,
    age_check,
    measure_check,
    sex_check,
    unit_name,
)
from insightome.apps.trials.items import Item, split_items
from insightome.featurize.notes.lexicon import Concept
from insightome.featurize.notes.values import MEASUREMENT_CATEGORIES, ValueFinder

__all__ = [
    "AgeCheck",
    "ConditionCheck",
    "Criterion",
    "Item",
    "MeasureCheck",
    "SexCheck",
    "age_check",
    "parse_items",
    "registry_criteria",
    "sex_check",
    "split_items",
]

#: "No …", "Not …" start a negated item, "No less than 18 years" does not (a comparator)
_NEGATED_START = re.compile(
    r"^\s*(?:no|not|none|without|must not|should not|absence of|free of|lack of|never)\b"
    r"(?!\s+(?:more|less|greater|fewer|older|younger|later|earlier|higher|lower)\s+than\b)",
    re.IGNORECASE,
)
#: the labels of PDQ-style items ("Hepatic: No cirrhosis", "Chemotherapy: No prior …")
_LABELS = re.compile(r"^(?:\s*[A-Z][A-Za-z /-]{1,40}:\s+)+")
_COUNT = r"\d+|a|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve"
_WITHIN = re.compile(
    rf"\b(?:within|in|during|over)\s+(?:the\s+)?(?:last|past|previous|prior|preceding)?\s*"
    rf"(?:(?P<n>{_COUNT})\s*)?(?P<unit>day|week|month|year)s?\b"
    rf"|\b(?:less than|fewer than|<)\s*(?P<n2>{_COUNT})\s*(?P<unit2>day|week|month|year)s?\s+"
    r"(?:prior|before|of|preceding)\b",
    re.IGNORECASE,
)
_CURRENT = re.compile(r"\b(?:current|currently|active|ongoing|concurrent)\b", re.IGNORECASE)
_WORDS = {
    "a": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
}
_MONTHS_PER = {"day": 1 / 30.44, "week": 12 / 52.18, "month": 1.0, "year": 12.0}
_CONSENT = re.compile(r"\b(?:consent|assent)\b", re.IGNORECASE)  # ages there are the signer's
_OR = re.compile(r"\bor\b", re.IGNORECASE)
_COMPARATOR_OR = re.compile(
    r"\b(?:or|and)\s+(?:more|greater|higher|above|less|lower|below|equal|older|younger|over|"
    r"under)\b",
    re.IGNORECASE,
)
_CLAUSE_END = re.compile(r";|\.\s")
_CLAUSE_END_SHORT = re.compile(r"[;,]|\.\s")  # a negated clause of age or sex ends at a comma
_AND = re.compile(r"\b(?:and|with|plus)\b", re.IGNORECASE)
_LIST = re.compile(r"\bor\b|,|\bincluding\b|\bsuch as\b|\be\.g\.|\bi\.e\.", re.IGNORECASE)
#: a "negative" result attached to a concept: "HIV negative", "HIV-negative", "negative for
#: HIV", "negative pregnancy test"; not when it belongs to a marker ("HER2-negative breast
#: cancer", "triple negative breast cancer": the cancer is there)
_NEGATIVE_AFTER = re.compile(r"^[\s-]*(?:(?:is|was|:)\s*)?(?:sero)?negative\b", re.IGNORECASE)
_NEGATIVE_BEFORE = re.compile(r"\bnegative\s+(?:for\s+)?$", re.IGNORECASE)
_MARKER_BEFORE = re.compile(
    r"\b(?:her-?2|er|pr|egfr|alk|kras|triple|hormone[- ]receptor|estrogen[- ]receptor|"
    r"progesterone[- ]receptor|receptor|ros1|braf|pd-?l1)[\s-]*(?:sero)?negative\b[\w\s-]*$",
    re.IGNORECASE,
)
_WITH_OR_WITHOUT = re.compile(r"\bwith or without\b[^,;.]*", re.IGNORECASE)
_ONE_OF = re.compile(r"\b(?:one of|any of|either|at least one)\b", re.IGNORECASE)
_TEST_AFTER = re.compile(r"\s*(?:test|tests|testing|screen|screening|serology|status)\b", re.I)
_EXCEPTION = re.compile(
    r"\b(?:unless|except|excepting|other than|apart from|besides|with the exception of|if|"
    r"when)\b",
    re.IGNORECASE,
)
_INDICATION = re.compile(
    r"\bfor(?:\s+(?:the|their|his|her|its|a|an))?(?:\s+\w+)?\s*$", re.IGNORECASE
)  # "... for (their) X": X is what the treatment was for
_QUALIFIER = re.compile(
    r"(?<![\w-])((?:non[- ]?)?(?:uncontrolled|poorly controlled|severe|significant|"
    r"clinically significant|active|serious|unstable|symptomatic|advanced|other|recent|"
    r"major|acute|chronic|metastatic|inflammatory|refractory|recurrent|progressive|decompensated|invasive|untreated|"
    r"primary|secondary|end-stage|end stage))\b(?:\s+\w+){0,2}\s*$",
    re.IGNORECASE,
)
_SEX_ITEM_WORDS = 10  # a longer item names a sex in passing ("Most female subjects who ...")


#: symptoms and findings ("pain", "lesion") are named in passing by too many criteria
#: ("acetaminophen for pain relief") to be what an item asks about
_NOT_CONDITIONS = frozenset({"symptom", "finding"})


def _window(text: str) -> tuple[str, float | None]:
    within = _WITHIN.search(text)
    if within:
        count = (within.group("n") or within.group("n2") or "1").lower()
        unit = (within.group("unit") or within.group("unit2")).lower()
        number = float(count) if count.isdigit() else float(_WORDS.get(count, 1))
        return "within", round(number * _MONTHS_PER[unit], 2)
    if _CURRENT.search(text):
        return "now", None
    return "any", None


def _negated_age(age: AgeCheck) -> AgeCheck | None:
    """ "No patients 5 years or younger" → older than 5; a negated range is not one interval."""
    if age.low is not None and age.high is not None:
        return None
    if age.high is not None:
        return AgeCheck(age.high, None, age.text, low_strict=not age.high_strict)
    return AgeCheck(None, age.low, age.text, high_strict=not age.low_strict)


def parse_items(
    trial_id: str,
    items: Sequence[Item],
    mentions: Mapping[int, Sequence[Mapping[str, Any]]],
    concepts: Mapping[str, Concept],
    units: ValueFinder,
    own: frozenset[str] = frozenset(),
    registry_ages: tuple[float | None, float | None] = (None, None),
    terms: frozenset[str] | None = None,
) -> list[Criterion]:
    """Criteria from items and the notes engine's mentions of each item's text (by index).

    ``own``: the concept ids of the trial's own conditions. An exclusion or a negated item
    that names them names the trial's population ("Any disease other than multiple
    sclerosis", "No prior immunotherapy for breast cancer"), not a reason to exclude.
    ``registry_ages``: the registry's minimum and maximum age (years); an inclusion whose
    ages contradict them is left to the coordinator. ``terms``: the ids of the corpus-derived
    concepts (``term:…``) this trial may use — its own terms — so that a trial's criteria
    read the same whatever other trials were read with it (None: all).
    """
    context = _Context(concepts, units, own, registry_ages, terms)
    criteria: list[Criterion] = []
    number, alternatives, kind = 0, False, ""
    for index, item in enumerate(items):
        if item.kind != kind:
            alternatives, kind = False, item.kind
        if item.lead_in:  # "Patients must meet one of the following:" opens a list of options
            alternatives = bool(_ONE_OF.search(item.text))
            continue
        number += 1
        criterion = _criterion(trial_id, number, item, mentions.get(index, ()), context)
        criteria.append(replace(criterion, alternative=True) if alternatives else criterion)
    return criteria


@dataclass(frozen=True)
class _Context:
    concepts: Mapping[str, Concept]
    units: ValueFinder
    own: frozenset[str]
    registry_ages: tuple[float | None, float | None]
    terms: frozenset[str] | None


def _negated_item(text: str) -> bool:
    """Whether the item, past its PDQ labels ("Hepatic: No cirrhosis"), starts negated."""
    return bool(_NEGATED_START.match(_LABELS.sub("", text)))


def _criterion(
    trial_id: str, number: int, item: Item, mentions: Sequence[Mapping[str, Any]], ctx: _Context
) -> Criterion:
    exception = _EXCEPTION.search(item.text)
    if exception:  # "unless Gilbert's syndrome", "if female", "except for patients on dialysis"
        note = f"a condition or exception clause ('{exception.group(0)}'): read by the coordinator"
        return Criterion(trial_id, number, item.kind, item.text, note=note)
    notes: list[str] = []
    checks: list[Check] = _demographics(item, ctx, notes)
    conditions: list[Mapping[str, Any]] = []
    measures: list[tuple[MeasureCheck, int]] = []  # with the mention's start in the item
    relative = False
    for mention in mentions:
        if mention.get("kind") != "concept" or not _usable(mention["concept_id"], ctx):
            continue
        concept = ctx.concepts[mention["concept_id"]]
        if concept.category in _NOT_CONDITIONS:
            continue
        if concept.category not in MEASUREMENT_CATEGORIES:
            conditions.append(mention)
            continue
        found = measure_check(item.text, mention, concept, ctx.units)
        if isinstance(found, MeasureCheck):
            if all(m.concept_id != found.concept_id for m, _ in measures):
                measures.append((found, int(mention["start"])))
        elif isinstance(found, str):
            notes.append(found)
            relative = relative or "normal range" in found
    either = _OR.search(_COMPARATOR_OR.sub(" ", item.text))
    if relative and measures and either:  # "creatinine <= 1.5 x ULN or clearance >= 60"
        notes.append(
            "an alternative threshold needs the lab's normal range: read by the coordinator"
        )
        measures = []
    checks += _negated_measures(item, measures, notes)
    checks += _condition_checks(item, conditions, ctx, notes)
    if not checks and not notes:
        notes.append("no concept, age, sex or threshold the matcher can check")
    return Criterion(
        trial_id,
        number,
        item.kind,
        item.text,
        tuple(checks),
        "; ".join(notes),
        any_of=_alternatives(item.text, [start for _, start in measures]),
    )


def _usable(concept_id: str, ctx: _Context) -> bool:
    return ctx.terms is None or not concept_id.startswith("term:") or concept_id in ctx.terms


def _in_negated_clause(text: str, words: str) -> bool:
    """Whether ``words`` stand in the negated first clause of a negated item ("Not pregnant
    or breastfeeding, aged 18 years or older": the age is outside it)."""
    if not _negated_item(text):
        return False
    clause = _CLAUSE_END_SHORT.search(text)
    position = text.lower().find(words.split(" … ")[0].lower())
    return 0 <= position < (clause.start() if clause else len(text))


def _demographics(item: Item, ctx: _Context, notes: list[str]) -> list[Check]:
    """Age and sex: negated in an inclusion's negated clause, they are inverted; under an
    exclusion that is a double negative left to the coordinator; an inclusion's age that
    contradicts the registry's ages is left too."""
    text = item.text
    checks: list[Check] = []
    age = age_check(text) if not _CONSENT.search(text) else None
    if age is not None and _in_negated_clause(text, age.text):
        if item.kind == "exclusion":
            notes.append("a negated age under exclusion (double negative): read by the coordinator")
            age = None
        else:
            age = _negated_age(age)
    if age is not None and item.kind == "inclusion" and _contradicts(age, ctx.registry_ages):
        notes.append(f"the ages '{age.text}' contradict the registry's: read by the coordinator")
        age = None
    if age is not None:
        checks.append(age)
    sex = sex_check(text) if len(text.split()) <= _SEX_ITEM_WORDS else None
    if sex is not None and _in_negated_clause(text, sex.text):
        if item.kind == "exclusion":
            notes.append("a negated sex under exclusion (double negative): read by the coordinator")
            sex = None
        else:  # "No males": female patients
            sex = SexCheck("female" if sex.sex == "male" else "male", f"not {sex.text}")
    if sex is not None:
        checks.append(sex)
    return checks


def _contradicts(age: AgeCheck, registry: tuple[float | None, float | None]) -> bool:
    """An item's ages with no overlap with the registry's [minimum, maximum]."""
    low, high = registry
    if age.high is not None and low is not None and age.high < low:
        return True
    return age.low is not None and high is not None and age.low > high


def _negated_measures(
    item: Item, measures: Sequence[tuple[MeasureCheck, int]], notes: list[str]
) -> list[Check]:
    """A threshold inside the negated first clause of an inclusion is inverted ("No renal
    insufficiency (creatinine > 2.5 mg/dL)": creatinine <= 2.5); under an exclusion it is a
    double negative; a threshold after the clause ("No active infection; creatinine < 2")
    stands as written."""
    if not measures or not _negated_item(item.text):
        return [m for m, _ in measures]
    clause = _CLAUSE_END.search(item.text)
    end = clause.start() if clause else len(item.text)
    out: list[Check] = []
    for check, start in measures:
        if start >= end:
            out.append(check)
        elif item.kind == "exclusion":
            notes.append(
                "a negated threshold under exclusion (double negative): read by the coordinator"
            )
        else:
            out.append(_inverted(check))
    return out


def _alternatives(text: str, starts: Sequence[int]) -> bool:
    """Thresholds joined by "or" or "and/or" ("creatinine < 1.5 mg/dL OR clearance >= 60
    mL/min"): one holding is enough. Comparator words ("or more", "less than or equal to")
    do not count."""
    if len(starts) < 2:
        return False
    ordered = sorted(starts)
    between = text[ordered[0] : ordered[-1]]
    return bool(_OR.search(_COMPARATOR_OR.sub(" ", between)))


def _mention_negated(text: str, mention: Mapping[str, Any]) -> bool:
    """Negated in the item: by ConText, by "non-", or by a "negative" result attached to it."""
    start, end = int(mention["start"]), int(mention["end"])
    before = text[max(0, start - 40) : start]
    if mention.get("negated") or re.search(r"\bnon[- ]?$", before, re.IGNORECASE):
        return True
    if _MARKER_BEFORE.search(before):
        return False  # "HER2-negative breast cancer": the cancer is there
    return bool(_NEGATIVE_AFTER.match(text[end:]) or _NEGATIVE_BEFORE.search(before))


def _condition_checks(
    item: Item, mentions: Sequence[Mapping[str, Any]], ctx: _Context, notes: list[str]
) -> list[Check]:
    """The conditions an item names (module docstring), or none with the reason in ``notes``."""
    text = item.text
    optional = [m.span() for m in _WITH_OR_WITHOUT.finditer(text)]
    mentions = [
        m for m in mentions if not any(a <= int(m["start"]) < b for a, b in optional)
    ]  # "with or without prior chemotherapy": either way
    if not mentions:
        return []
    negated = {id(m): _mention_negated(text, m) for m in mentions}
    item_negated = _negated_item(text) or all(negated.values())
    if item_negated and item.kind == "exclusion":
        notes.append("a negated exclusion (double negative): read by the coordinator")
        return []
    chosen = _chosen(item, mentions, ctx, item_negated)
    if not chosen:
        notes.append("names only the trial's own condition or a test")
        return []
    window, months = _window(text)
    family = all(bool(m.get("family")) for m, _ in chosen.values()) and not re.search(
        r"\bpersonal\b", text, re.IGNORECASE
    )  # "Personal or family history of breast cancer": the patient's counts too
    # "Diabetes without hypertension": diabetes present, hypertension absent
    absent = {c: v for c, v in chosen.items() if _negated_item(text) or negated[id(v[0])]}
    present = {c: v for c, v in chosen.items() if c not in absent}
    out: list[Check] = []
    for group, requires in ((present, "present"), (absent, "absent")):
        if not group:
            continue
        names = [ctx.concepts[c].name for c in group]
        out.append(
            ConditionCheck(
                tuple(zip(group, names, strict=True)),
                requires,
                window,
                months,
                ", ".join(names),
                tuple(q for _, q in group.values()),
                all_of=requires == "present" and item.kind == "inclusion" and _joined(text, group),
                family=family,
            )
        )
    return out


def _joined(text: str, group: Mapping[str, tuple[Mapping[str, Any], str]]) -> bool:
    """Concepts joined by "and"/"with" and nothing else ("Type 2 diabetes and hypertension"):
    all are asked for; a list ("asthma, COPD"), "or", "including" or "such as": one is."""
    if len(group) < 2:
        return False
    starts = sorted(int(m["start"]) for m, _ in group.values())
    ends = sorted(int(m["end"]) for m, _ in group.values())
    between = _COMPARATOR_OR.sub(" ", text[starts[0] : ends[-1]])
    return bool(_AND.search(between)) and not _LIST.search(between)


def _chosen(
    item: Item, mentions: Sequence[Mapping[str, Any]], ctx: _Context, negated: bool
) -> dict[str, tuple[Mapping[str, Any], str]]:
    """The item's subject concepts (first mention of each) with their qualifier."""
    text = item.text
    first_sentence = min(int(m.get("sentence", 0)) for m in mentions)
    chosen: dict[str, tuple[Mapping[str, Any], str]] = {}
    for mention in mentions:
        concept_id, end = mention["concept_id"], int(mention["end"])
        if int(mention.get("sentence", 0)) != first_sentence:
            continue  # an item's first sentence states it; the next ones explain it
        if (item.kind == "exclusion" or negated) and concept_id in ctx.own:
            continue  # the trial's own population, named for context
        if _INDICATION.search(text[: int(mention["start"])]):
            continue  # "No prior immunotherapy for breast cancer": about the immunotherapy
        before = text[max(0, int(mention["start"]) - 40) : int(mention["start"])]
        result = (
            _NEGATIVE_AFTER.match(text[end:])
            or _NEGATIVE_BEFORE.search(before)
            or re.search(r"\bpositive\s+$", before, re.IGNORECASE)
            or re.match(r"[\s-]*positive\b", text[end:], re.IGNORECASE)
        )
        if not result and _TEST_AFTER.match(text, end):
            continue  # "pregnancy test required": a procedure, not the condition
        chosen.setdefault(concept_id, (mention, _qualifier(text, mention)))
    return chosen


def _qualifier(text: str, mention: Mapping[str, Any]) -> str:
    """The narrowing words just before a concept in the item ("uncontrolled", "severe",
    "non-metastatic", "HER2-negative", "triple negative")."""
    before = text[max(0, int(mention["start"]) - 40) : int(mention["start"])]
    marker = _MARKER_BEFORE.search(before)
    if marker:
        words = re.match(r"[\w-]+(?:[\s-]+(?:sero)?negative)?", marker.group(0))
        return words.group(0).lower() if words else ""
    found = _QUALIFIER.search(before)
    return found.group(1).lower() if found else ""


_INVERSE = {">": "<=", ">=": "<", "<": ">=", "<=": ">", "between": "outside", "outside": "between"}


def _inverted(check: MeasureCheck) -> MeasureCheck:
    return replace(check, op=_INVERSE[check.op], text=f"not ({check.text})")


def registry_criteria(
    trial_id: str, sex: str, low: float | None, high: float | None, low_text: str, high_text: str
) -> list[Criterion]:
    """The registry's structured eligibility (sex, ages) as inclusion criteria number 0."""
    out: list[Criterion] = []
    if low is not None or high is not None:
        words = (
            f"{low_text} to {high_text}"
            if low is not None and high is not None
            else f"{low_text} or older"
            if low is not None
            else f"up to {high_text}"
        )
        unit = unit_name(re.sub(r"[\d.\s]", "", high_text)) if high is not None else "year"
        if low is not None and high is not None and low > high:
            out.append(
                Criterion(
                    trial_id,
                    0,
                    "inclusion",
                    f"Age (registry): {words}",
                    note="the registry's minimum age is above its maximum: read by the coordinator",
                    source="registry",
                )
            )
        else:
            out.append(
                Criterion(
                    trial_id,
                    0,
                    "inclusion",
                    f"Age (registry): {words}",
                    (AgeCheck(low, high, words, high_unit=unit),),
                    source="registry",
                )
            )
    if sex in ("female", "male"):
        out.append(
            Criterion(
                trial_id,
                0,
                "inclusion",
                f"Sex (registry): {sex}",
                (SexCheck(sex, sex),),
                source="registry",
            )
        )
    return out
