"""One criterion against one patient: **met**, **not met** or **unknown**, with the evidence.

"Met" means the item's statement holds for the patient: an inclusion met keeps the patient
in, an exclusion met takes the patient out. A check is judged only on what the patient's
record says:

* age and sex: the structured row, else the note's words ("58-year-old woman");
* a measure: a value of the concept in the structured row, else a value the notes engine
  tied to the concept in the note, in the same normalised unit (a value in another unit is
  ``unknown``: no conversion is guessed);
* a condition: a mention of one of the item's concepts, asserted by ConText. Affirmed →
  present; negated → absent; possible, hypothetical or about a relative → not evidence. A
  condition the note does not mention is **unknown**, never "absent": notes are not
  exhaustive. A condition mentioned only as past does not meet a "current" or "within N
  months" item: the note has no dates to check the window against, so it stays unknown.

An item holds when every check holds; it fails when one check fails; otherwise it is
unknown. The judgement keeps the words of the patient's record that decided it.
"""

from __future__ import annotations

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
_EQUIVALENT_UNITS = {"/mm3": "/µL", "/µL": "/µL", "10^9/L": "10^9/L"}
_TO_PER_UL = {"10^9/L": 1000.0}


@dataclass
class PatientFacts:
    """A patient's mentions indexed by concept: what every judgement reads."""

    patient: Patient
    positive: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    past_only: dict[str, bool] = field(default_factory=dict)
    negated: dict[str, dict[str, Any]] = field(default_factory=dict)
    values: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @classmethod
    def of(cls, patient: Patient) -> PatientFacts:
        facts = cls(patient)
        for row in patient.mentions:
            concept = row["concept_id"]
            if row["kind"] == "value":
                facts.values.setdefault(concept, []).append(row)
                continue
            if row["family"] or row["hypothetical"] or row["possible"]:
                continue
            if row["negated"]:
                facts.negated.setdefault(concept, row)
                continue
            facts.positive.setdefault(concept, []).append(row)
        for concept, rows in facts.positive.items():
            facts.past_only[concept] = all(r["historical"] for r in rows)
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


def _span(patient: Patient, row: dict[str, Any]) -> Evidence:
    return Evidence("note", str(row["text"]), int(row["start"]), int(row["end"]))


def _age(check: AgeCheck, patient: Patient) -> tuple[str, str, Evidence | None]:
    if patient.age is None:
        return UNKNOWN, "the patient's age is not stated", None
    age = patient.age
    low_fail = check.low is not None and (
        age < check.low or (check.low_strict and age == check.low)
    )
    high_fail = check.high is not None and (
        age > check.high + (0 if check.high_strict else 0.999)
        or (check.high_strict and age >= check.high)
    )
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
    if check.concept_id in facts.patient.fields:
        value = facts.patient.fields[check.concept_id]
        holds = _compare(check, value)
        evidence = Evidence("table", f"{check.concept_id} = {value:g}")
        return (MET if holds else NOT_MET), f"{name} {value:g} vs {_bound(check)}", evidence
    rows = facts.values.get(check.concept_id, [])
    for row in rows:
        value = _in_unit(
            float(row["value_normalized"]), str(row["unit_normalized"] or ""), check.unit
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
    present: dict[str, Any] | None = None
    past_only = False
    narrowed: list[str] = []
    qualifiers = check.qualifiers or ("",) * len(check.concepts)
    for (concept, name), qualifier in zip(check.concepts, qualifiers, strict=True):
        if concept not in facts.positive:
            continue
        rows = facts.positive[concept]
        if qualifier:
            rows = [r for r in rows if _qualified(facts.patient.text, r, qualifier)]
            if not rows:
                narrowed.append(f"{qualifier} {name}")
                continue
        if check.window != "any" and all(r["historical"] for r in rows):
            past_only = True
            continue
        present = rows[0]
        break
    all_negated = all(c in facts.negated for c, _ in check.concepts)
    names = check.text
    if present is not None:
        verdict = MET if check.requires == "present" else NOT_MET
        return (
            verdict,
            f"the record mentions {present['concept_name']}",
            _span(facts.patient, present),
        )
    if all_negated:
        row = facts.negated[check.concepts[0][0]]
        verdict = MET if check.requires == "absent" else NOT_MET
        return verdict, f"the record says no {row['concept_name']}", _span(facts.patient, row)
    if narrowed:
        return (
            UNKNOWN,
            (f"the item asks for {', '.join(narrowed)}; the record does not say so much"),
            None,
        )
    if past_only:
        when = f"within {check.months:g} months" if check.months else "current"
        return (
            UNKNOWN,
            f"{names}: mentioned as past; '{when}' cannot be checked without dates",
            None,
        )
    return UNKNOWN, f"the record does not mention {names}", None


def _qualified(text: str, row: dict[str, Any], qualifier: str) -> bool:
    """Whether the record writes the item's narrowing word just before this mention."""
    before = text[max(0, int(row["start"]) - 40) : int(row["start"])].lower()
    return qualifier in before


def _check(check: Check, facts: PatientFacts) -> tuple[str, str, Evidence | None]:
    if isinstance(check, AgeCheck):
        return _age(check, facts.patient)
    if isinstance(check, SexCheck):
        return _sex(check, facts.patient)
    if isinstance(check, MeasureCheck):
        return _measure(check, facts)
    return _condition(check, facts)


def judge(criterion: Criterion, facts: PatientFacts) -> Judgement:
    """The verdict of one criterion (module docstring)."""
    if not criterion.checks:
        return Judgement(criterion, UNKNOWN, criterion.note or "not checkable")
    results = [_check(check, facts) for check in criterion.checks]
    if criterion.any_of:  # thresholds joined by "or": one met is enough, all failing fail
        for verdict, reason, evidence in results:
            if verdict == MET:
                return Judgement(criterion, MET, reason, evidence)
        if all(verdict == NOT_MET for verdict, _, _ in results):
            first = results[0]
            return Judgement(criterion, NOT_MET, "; ".join(r for _, r, _ in results), first[2])
        return Judgement(criterion, UNKNOWN, "; ".join(r for v, r, _ in results if v == UNKNOWN))
    for verdict, reason, evidence in results:
        if verdict == NOT_MET:
            return Judgement(criterion, NOT_MET, reason, evidence)
    if all(verdict == MET for verdict, _, _ in results):
        reason = "; ".join(r for _, r, _ in results)
        evidence = next((e for _, _, e in results if e is not None), None)
        return Judgement(criterion, MET, reason, evidence)
    reason = "; ".join(r for v, r, _ in results if v == UNKNOWN)
    return Judgement(criterion, UNKNOWN, reason)


def judge_trial(
    trial_id: str, criteria: Sequence[Criterion], facts: PatientFacts
) -> TrialJudgement:
    return TrialJudgement(trial_id, facts.patient.patient_id, [judge(c, facts) for c in criteria])
