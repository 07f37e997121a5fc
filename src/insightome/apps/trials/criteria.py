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
from dataclasses import replace
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

_NEGATED_START = re.compile(
    r"^\s*(?:no|not|none|without|must not|should not|absence of|free of|lack of|never)\b",
    re.IGNORECASE,
)
_WITHIN = re.compile(
    r"\b(?:within|in|during)\s+(?:the\s+)?(?:last|past|previous|prior|preceding)?\s*"
    r"(\d+|one|two|three|four|six|twelve)\s*(day|week|month|year)s?\b",
    re.IGNORECASE,
)
_CURRENT = re.compile(r"\b(?:current|currently|active|ongoing|concurrent)\b", re.IGNORECASE)
_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "six": 6, "twelve": 12}
_MONTHS_PER = {"day": 1 / 30.44, "week": 12 / 52.18, "month": 1.0, "year": 12.0}
_CONSENT = re.compile(r"\b(?:consent|assent)\b", re.IGNORECASE)  # ages there are the signer's
_OR = re.compile(r"\bor\b", re.IGNORECASE)
_EXCEPTION = re.compile(
    r"\b(?:unless|except|excepting|other than|apart from|besides|with the exception of|if)\b",
    re.IGNORECASE,
)
_INDICATION = re.compile(
    r"\bfor(?:\s+(?:the|their|his|her|its|a|an))?(?:\s+\w+)?\s*$", re.IGNORECASE
)  # "... for (their) X": X is what the treatment was for
_QUALIFIER = re.compile(
    r"\b(uncontrolled|poorly controlled|severe|significant|clinically significant|active|"
    r"serious|unstable|symptomatic|advanced|other|recent|major|acute|chronic|metastatic|"
    r"inflammatory|refractory|recurrent|progressive|decompensated|invasive|untreated|"
    r"primary|secondary|end-stage|end stage)\b(?:\s+\w+){0,2}\s*$",
    re.IGNORECASE,
)
_SEX_ITEM_WORDS = 10  # a longer item names a sex in passing ("Most female subjects who ...")


#: symptoms and findings ("pain", "lesion") are named in passing by too many criteria
#: ("acetaminophen for pain relief") to be what an item asks about
_NOT_CONDITIONS = frozenset({"symptom", "finding"})


def _window(text: str) -> tuple[str, float | None]:
    within = _WITHIN.search(text)
    if within:
        count = within.group(1)
        number = float(_WORDS.get(count.lower(), count)) if not count.isdigit() else float(count)
        return "within", round(number * _MONTHS_PER[within.group(2).lower()], 2)
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
) -> list[Criterion]:
    """Criteria from items and the notes engine's mentions of each item's text (by index).

    ``own``: the concept ids of the trial's own conditions. An exclusion or a negated item
    that names them names the trial's population ("Any disease other than multiple
    sclerosis", "No prior immunotherapy for breast cancer"), not a reason to exclude.
    """
    criteria: list[Criterion] = []
    number = 0
    for index, item in enumerate(items):
        if item.lead_in:
            continue
        number += 1
        criteria.append(
            _criterion(trial_id, number, item, mentions.get(index, ()), concepts, units, own)
        )
    return criteria


def _criterion(
    trial_id: str,
    number: int,
    item: Item,
    mentions: Sequence[Mapping[str, Any]],
    concepts: Mapping[str, Concept],
    units: ValueFinder,
    own: frozenset[str],
) -> Criterion:
    text = item.text
    checks: list[Check] = []
    notes: list[str] = []
    age = age_check(text) if not _CONSENT.search(text) else None
    if age is not None and _NEGATED_START.match(text):
        age = _negated_age(age)
    if age is not None:
        checks.append(age)
    sex = sex_check(text) if len(text.split()) <= _SEX_ITEM_WORDS else None
    if sex is not None:
        checks.append(sex)
    conditions: list[Mapping[str, Any]] = []
    measured: set[str] = set()
    for mention in mentions:
        if mention.get("kind") != "concept":
            continue
        concept = concepts[mention["concept_id"]]
        if concept.category in _NOT_CONDITIONS:
            continue
        if concept.category in MEASUREMENT_CATEGORIES:
            found = measure_check(text, mention, concept, units)
            if isinstance(found, MeasureCheck) and concept.concept_id not in measured:
                checks.append(found)
                measured.add(concept.concept_id)
            elif isinstance(found, str):
                notes.append(found)
            continue
        conditions.append(mention)
    if measured and _NEGATED_START.match(text):
        if item.kind == "exclusion":
            checks = [c for c in checks if not isinstance(c, MeasureCheck)]
            notes.append(
                "a negated threshold under exclusion (double negative): read by the coordinator"
            )
        else:  # "No renal insufficiency (creatinine > 2.5 mg/dL)": creatinine <= 2.5
            checks = [_inverted(c) if isinstance(c, MeasureCheck) else c for c in checks]
    condition = _condition_check(item, conditions, concepts, own, notes)
    if condition is not None:
        checks.append(condition)
    if not checks and not notes:
        notes.append("no concept, age, sex or threshold the matcher can check")
    # thresholds joined by "or" ("creatinine < 1.5 OR clearance >= 60"): one holding is enough
    any_of = len(measured) > 1 and condition is None and bool(_OR.search(text))
    return Criterion(
        trial_id, number, item.kind, text, tuple(checks), "; ".join(notes), any_of=any_of
    )


def _condition_check(
    item: Item,
    mentions: Sequence[Mapping[str, Any]],
    concepts: Mapping[str, Concept],
    own: frozenset[str],
    notes: list[str],
) -> ConditionCheck | None:
    """The condition an item names, or None (with the reason in ``notes`` when there is one)."""
    if not mentions:
        return None
    text = item.text
    negated = bool(_NEGATED_START.match(text)) or all(bool(m.get("negated")) for m in mentions)
    if negated and item.kind == "exclusion":
        notes.append("a negated exclusion (double negative): read by the coordinator")
        return None
    exception = _EXCEPTION.search(text)
    if exception:
        notes.append(
            f"a condition or exception clause ('{exception.group(0)}'): read by the coordinator"
        )
        return None
    chosen: dict[str, tuple[str, str]] = {}
    first_sentence = min(int(m.get("sentence", 0)) for m in mentions)
    for mention in mentions:
        concept_id = mention["concept_id"]
        if (item.kind == "exclusion" or negated) and concept_id in own:
            continue  # the trial's own population, named for context
        if int(mention.get("sentence", 0)) != first_sentence:
            continue  # an item's first sentence states it; the next ones explain it
        if _INDICATION.search(text[: int(mention["start"])]):
            continue  # "No prior immunotherapy for breast cancer": about the immunotherapy
        chosen.setdefault(concept_id, (concepts[concept_id].name, _qualifier(text, mention)))
    if not chosen:
        notes.append("names only the trial's own condition")
        return None
    window, months = _window(text)
    return ConditionCheck(
        tuple((c, name) for c, (name, _) in chosen.items()),
        "absent" if negated else "present",
        window,
        months,
        ", ".join(name for name, _ in chosen.values()),
        tuple(q for _, q in chosen.values()),
    )


def _qualifier(text: str, mention: Mapping[str, Any]) -> str:
    """The narrowing word just before a concept in the item ("uncontrolled", "severe")."""
    before = text[max(0, int(mention["start"]) - 40) : int(mention["start"])]
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
        out.append(
            Criterion(
                trial_id,
                0,
                "inclusion",
                f"Age (registry): {words}",
                (AgeCheck(low, high, words),),
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
