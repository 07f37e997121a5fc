"""One criterion against one patient: **met**, **not met** or **unknown**, with the evidence.

"Met" means the item's statement holds for the patient: an inclusion met keeps the patient
in, an exclusion met takes the patient out. A check is judged only on what the patient's
record says:

* age and sex: the structured row, else the note's words ("58-year-old woman");
* a measure: a value of the concept in the structured row, else a value the notes engine
  tied to the concept in the note, in the same normalised unit (a value in another unit is
  ``unknown``: no conversion is guessed);
* a condition: a mention of one of the item's concepts, asserted by ConText. Affirmed →
  present; negated → absent; possible or hypothetical → not evidence; about a relative →
  evidence only for a family-history item. A condition the note does not mention is
  **unknown**, never "absent": notes are not exhaustive. A "within N months" item is
  unknown when the condition is mentioned (the note has no dates to check the window); a
  "current" item is not met by a mention given as past. A qualified item ("uncontrolled
  hypertension") needs the qualifier before the mention in the record ("not severe",
  "non-severe" do not count). Several concepts: one is enough, except an inclusion joining
  them with "and"/"with" (all needed).

An item holds when every check holds; it fails when one check fails; otherwise it is
unknown. The judgement keeps the words of the patient's record that decided it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from insightome.apps.trials.criteria import (
    AgeCheck,
    Check,
    ConditionCheck,
    Criterion,
    MeasureCheck,
    SexCheck,
)
from insightome.apps.trials.patients import Evidence, Patient

__all__ = ["Judgement", "PatientFacts", "TrialJudgement", "judge", "judge_trial"]

MET, NOT_MET, UNKNOWN = "met", "not met", "unknown"
_PER_YEAR = {"year": 1.0, "month": 12.0, "week": 52.1775, "day": 365.25}
_EQUIVALENT_UNITS = {"/mm3": "/µL", "/µL": "/µL", "10^9/L": "10^9/L"}
_TO_PER_UL = {"10^9/L": 1000.0}


@dataclass
class PatientFacts:
    """A patient's mentions indexed by concept: what every judgement reads."""

    patient: Patient
    positive: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    negated: dict[str, dict[str, Any]] = field(default_factory=dict)
    values: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    family: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # relatives' conditions
    #: the structured table's values by concept id: value and unit normalised ("" for none),
    #: and the cell as written
    fields: dict[str, tuple[float, str, str]] = field(default_factory=dict)

    @classmethod
    def of(cls, patient: Patient) -> PatientFacts:
        facts = cls(patient)
        for row in patient.mentions:
            concept = row["concept_id"]
            if row["kind"] == "value":
                facts.values.setdefault(concept, []).append(row)
                continue
            if row["family"]:
                if not (row["negated"] or row["hypothetical"] or row["possible"]):
                    facts.family.setdefault(concept, []).append(row)
                continue
            if row["hypothetical"] or row["possible"]:
                continue
            if _negated_here(patient.text, row) or (
                row["negated"] and not _narrowed(patient.text, row)
            ):  # "HIV negative"; "no hepatitis", but "no autoimmune hepatitis" ≠ no hepatitis
                facts.negated.setdefault(concept, row)
                continue
            if row["negated"]:
                continue
            for broader in (concept, *BROADER.get(concept, ())):  # type 2 diabetes is diabetes
                facts.positive.setdefault(broader, []).append(row)
            continue
        return facts


@dataclass(frozen=True)
class Judgement:
    criterion: Criterion
    verdict: str  # met | not met | unknown
    reason: str
    evidence: Evidence | None = None


@dataclass
class TrialJudgement:
    """Every criterion of one trial for one patient, and the counts the ranking reads."""

    trial_id: str
    patient_id: str
    judgements: list[Judgement]

    @property
    def failed(self) -> list[Judgement]:
        """Inclusions not met and exclusions met: each one is a reason the patient is out."""
        return [
            j
            for j in self.judgements
            if (j.criterion.kind == "inclusion" and j.verdict == NOT_MET)
            or (j.criterion.kind == "exclusion" and j.verdict == MET)
        ]

    @property
    def inclusions(self) -> list[Judgement]:
        return [j for j in self.judgements if j.criterion.kind == "inclusion"]

    @property
    def n_inclusion_met(self) -> int:
        return sum(j.verdict == MET for j in self.inclusions)

    @property
    def n_unknown(self) -> int:
        return sum(j.verdict == UNKNOWN for j in self.judgements)

    @property
    def status(self) -> str:
        """``excluded`` (a failed criterion), else ``no criterion failed``."""
        return "excluded" if self.failed else "no criterion failed"


#: concepts of the eligibility lexicon that are a kind of a broader one: a mention of the
#: narrower concept shows the broader one too (never the reverse)
BROADER: dict[str, tuple[str, ...]] = {
    "type_1_diabetes": ("diabetes",),
    "type_2_diabetes": ("diabetes",),
}
_FUNCTION_WORDS = frozenset(
    "no not without any of or and nor denies denied negative for evidence history free "
    "absence absent signs sign symptoms a an the his her their prior previous known".split()
)


def _negated_here(text: str, row: dict[str, Any]) -> bool:
    """A note's "HIV negative", "HBsAg non-reactive", "non-smoker": negated, though ConText
    (whose triggers come before the concept) does not say so."""
    after = text[int(row["end"]) : int(row["end"]) + 30]
    before = text[max(0, int(row["start"]) - 5) : int(row["start"])]
    if re.search(r"\bnon[- ]?$", before, re.IGNORECASE):
        return True
    return bool(
        re.match(
            r"[\s-]*(?:(?:surface|core|antigen|antibody|antibodies|serology|test|testing|"
            r"status|screen|pcr|rna|dna|viral load)[\s-]*){0,3}(?:(?:is|was|were|:)\s*)?"
            r"(?:negative|non-?reactive|not detected|undetectable)\b",
            after,
            re.IGNORECASE,
        )
    )


def _narrowed(text: str, row: dict[str, Any]) -> bool:
    """A negated mention with a describing word just before it ("no evidence of autoimmune
    hepatitis") denies that kind only, not the concept."""
    before = re.split(r"[.;:!?]", text[max(0, int(row["start"]) - 30) : int(row["start"])])[-1]
    words = re.findall(r"[A-Za-z-]+", before)
    return bool(words) and words[-1].lower() not in _FUNCTION_WORDS


def _span(patient: Patient, row: dict[str, Any]) -> Evidence:
    return Evidence("note", str(row["text"]), int(row["start"]), int(row["end"]))


def _age(check: AgeCheck, patient: Patient) -> tuple[str, str, Evidence | None]:
    if patient.age is None:
        return UNKNOWN, "the patient's age is not stated", None
    age = patient.age
    low_fail = check.low is not None and (
        age < check.low or (check.low_strict and age == check.low)
    )
    # "up to 65 years" takes a 65-year-old until the 66th birthday; "up to 6 months" ends at
    # 7 months: one unit of the limit, never a year for a limit in months
    slack = 0.0 if check.high_strict else 1.0 / _PER_YEAR[check.high_unit]
    high_fail = check.high is not None and age >= check.high + slack - 1e-9
    limits = _limits(check)
    if low_fail or high_fail:
        return NOT_MET, f"age {_years(age)} is not {limits}", patient.age_evidence
    return MET, f"age {_years(age)} is {limits}", patient.age_evidence


def _limits(check: AgeCheck) -> str:
    if check.low is not None and check.high is not None:
        return f"{_years(check.low)} to {_years(check.high)}"
    if check.low is not None:
        return f"{'over' if check.low_strict else 'at least'} {_years(check.low)}"
    assert check.high is not None
    return f"{'under' if check.high_strict else 'at most'} {_years(check.high)}"


def _years(value: float) -> str:
    return f"{value:g} years" if value >= 2 else f"{value * 12:.0f} months"


def _sex(check: SexCheck, patient: Patient) -> tuple[str, str, Evidence | None]:
    if patient.sex is None:
        return UNKNOWN, "the patient's sex is not stated", None
    if patient.sex == check.sex:
        return MET, f"the patient is {patient.sex}", patient.sex_evidence
    return (
        NOT_MET,
        f"the trial takes {check.sex} patients; the patient is {patient.sex}",
        patient.sex_evidence,
    )


def _in_unit(value: float, unit: str, wanted: str) -> float | None:
    if unit == wanted:
        return value
    same_a, same_b = _EQUIVALENT_UNITS.get(unit), _EQUIVALENT_UNITS.get(wanted)
    if same_a and same_a == same_b:
        return value
    if wanted in ("/µL", "/mm3") and unit in _TO_PER_UL:
        return value * _TO_PER_UL[unit]
    if unit in ("/µL", "/mm3") and wanted in _TO_PER_UL:
        return value / _TO_PER_UL[wanted]
    return None


def _compare(check: MeasureCheck, value: float) -> bool:
    if check.op in ("between", "outside"):
        inside = check.low <= value <= (check.high if check.high is not None else check.low)
        return inside if check.op == "between" else not inside
    return {
        ">=": value >= check.low,
        ">": value > check.low,
        "<=": value <= check.low,
        "<": value < check.low,
    }[check.op]


def _bound(check: MeasureCheck) -> str:
    unit = f" {check.unit}" if check.unit else ""
    if check.op in ("between", "outside"):
        return f"{'' if check.op == 'between' else 'outside '}{check.low:g}–{check.high:g}{unit}"
    return f"{check.op} {check.low:g}{unit}"


def _measure(check: MeasureCheck, facts: PatientFacts) -> tuple[str, str, Evidence | None]:
    name = check.concept_name
    if check.concept_id in facts.fields:
        given, unit, where = facts.fields[check.concept_id]
        value = given if not check.unit else _in_unit(given, unit, check.unit)
        if value is not None:
            holds = _compare(check, value)
            reason = f"{name} {value:g} {check.unit} vs {_bound(check)}".replace("  ", " ")
            return (MET if holds else NOT_MET), reason, Evidence("table", where)
        return UNKNOWN, f"the table's {where} is not in {check.unit} (give the unit)", None
    rows = facts.values.get(check.concept_id, [])
    for row in rows:
        found = float(row["value_normalized"])
        # a threshold without a unit is a score ("ECOG 0-2", "BMI < 30"): its value as written
        value = (
            found
            if not check.unit
            else _in_unit(found, str(row["unit_normalized"] or ""), check.unit)
        )
        if value is None:
            continue
        holds = _compare(check, value)
        reason = f"{name} {value:g} {check.unit} vs {_bound(check)}".replace("  ", " ")
        return (MET if holds else NOT_MET), reason, _span(facts.patient, row)
    if rows:
        return UNKNOWN, f"{name} is given in a unit other than {check.unit or 'none'}", None
    return UNKNOWN, f"no {name} value in the record", None


def _condition(check: ConditionCheck, facts: PatientFacts) -> tuple[str, str, Evidence | None]:
    """Present, absent or unknown for the item's concepts (module docstring)."""
    if check.family:
        return _family(check, facts)
    found: dict[str, dict[str, Any]] = {}  # concept → the mention that shows it
    doubts: list[str] = []
    qualifiers = check.qualifiers or ("",) * len(check.concepts)
    for (concept, name), qualifier in zip(check.concepts, qualifiers, strict=True):
        rows = facts.positive.get(concept, [])
        if rows and qualifier:
            rows = [r for r in rows if _qualified(facts.patient.text, r, qualifier)]
            if not rows:
                doubts.append(f"the item asks for {qualifier} {name}; the record does not say so")
                continue
        if rows and check.window == "within":
            doubts.append(f"{name}: 'within {check.months:g} months' needs dates the record lacks")
        elif rows and check.window == "now" and all(r["historical"] for r in rows):
            doubts.append(f"{name}: mentioned as past; the item asks for now")
        elif rows:
            found[concept] = rows[0]
    negated = [c for c, _ in check.concepts if c in facts.negated and c not in found]
    holds = len(found) == len(check.concepts) if check.all_of else bool(found)
    if found and (holds or check.requires == "absent"):
        row = next(iter(found.values()))
        verdict = MET if check.requires == "present" else NOT_MET
        return verdict, f"the record mentions {row['concept_name']}", _span(facts.patient, row)
    absent_enough = negated and (len(negated) == len(check.concepts) or check.all_of)
    if absent_enough:
        row = facts.negated[negated[0]]
        verdict = MET if check.requires == "absent" else NOT_MET
        return verdict, f"the record says no {row['concept_name']}", _span(facts.patient, row)
    if doubts:
        return UNKNOWN, "; ".join(doubts), None
    missing = [n for c, n in check.concepts if c not in found]
    return UNKNOWN, f"the record does not mention {', '.join(missing)}", None


def _family(check: ConditionCheck, facts: PatientFacts) -> tuple[str, str, Evidence | None]:
    """A family-history item, judged on the record's mentions of relatives only."""
    for concept, _ in check.concepts:
        if concept in facts.family:
            row = facts.family[concept][0]
            verdict = MET if check.requires == "present" else NOT_MET
            return (
                verdict,
                f"the record mentions {row['concept_name']} in a relative",
                _span(facts.patient, row),
            )
    return UNKNOWN, f"the record does not mention {check.text} in a relative", None


def _qualified(text: str, row: dict[str, Any], qualifier: str) -> bool:
    """Whether the record writes the item's narrowing words as words, not negated ("not
    severe", "non-severe", "inactive" do not count), near this mention: before it
    ("uncontrolled hypertension") or after it ("breast cancer, HER2 negative")."""
    start, end = int(row["start"]), int(row["end"])
    window = text[max(0, start - 40) : end + 40]
    words = r"[\s-]*".join(re.escape(w) for w in re.split(r"[\s-]+", qualifier))
    for match in re.finditer(rf"(?<![\w-]){words}(?![\w-])", window, re.IGNORECASE):
        if not re.search(r"\b(?:not|non|no|never|without)[\s-]*$", window[: match.start()], re.I):
            return True
    return False


def _check(check: Check, facts: PatientFacts) -> tuple[str, str, Evidence | None]:
    if isinstance(check, AgeCheck):
        return _age(check, facts.patient)
    if isinstance(check, SexCheck):
        return _sex(check, facts.patient)
    if isinstance(check, MeasureCheck):
        return _measure(check, facts)
    return _condition(check, facts)


def judge(criterion: Criterion, facts: PatientFacts) -> Judgement:
    """The verdict of one criterion (module docstring). Every check must hold; thresholds
    joined by "or" (``any_of``) are one check: one of them holding is enough."""
    judged = _judge(criterion, facts)
    if criterion.alternative and judged.verdict == NOT_MET:  # another option of the list may hold
        reason = f"one of a list of options, not this one ({judged.reason})"
        return Judgement(criterion, UNKNOWN, reason, judged.evidence)
    return judged


def _judge(criterion: Criterion, facts: PatientFacts) -> Judgement:
    if not criterion.checks:
        return Judgement(criterion, UNKNOWN, criterion.note or "not checkable")
    results = [
        _check(check, facts)
        for check in criterion.checks
        if not (criterion.any_of and isinstance(check, MeasureCheck))
    ]
    if criterion.any_of:
        results.append(_either([c for c in criterion.checks if isinstance(c, MeasureCheck)], facts))
    for verdict, reason, evidence in results:
        if verdict == NOT_MET:
            return Judgement(criterion, NOT_MET, reason, evidence)
    if all(verdict == MET for verdict, _, _ in results):
        reason = "; ".join(r for _, r, _ in results)
        evidence = next((e for _, _, e in results if e is not None), None)
        return Judgement(criterion, MET, reason, evidence)
    reason = "; ".join(r for v, r, _ in results if v == UNKNOWN)
    return Judgement(criterion, UNKNOWN, reason)


def _either(
    checks: Sequence[MeasureCheck], facts: PatientFacts
) -> tuple[str, str, Evidence | None]:
    """Alternative thresholds: met when one is met, not met when all fail."""
    results = [_measure(check, facts) for check in checks]
    for verdict, reason, evidence in results:
        if verdict == MET:
            return MET, reason, evidence
    if all(verdict == NOT_MET for verdict, _, _ in results):
        return NOT_MET, " and ".join(r for _, r, _ in results), results[0][2]
    return UNKNOWN, "; ".join(r for v, r, _ in results if v == UNKNOWN), None


def judge_trial(
    trial_id: str, criteria: Sequence[Criterion], facts: PatientFacts
) -> TrialJudgement:
    return TrialJudgement(trial_id, facts.patient.patient_id, [judge(c, facts) for c in criteria])
