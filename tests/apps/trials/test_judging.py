"""Criteria judged against patients: met / not met / unknown with evidence, and the ranking.

Trials are real registry records (the fixtures); patients are TREC 2022 topics (shared data)
or short notes written to test one rule each.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("spacy")
pytest.importorskip("bm25s")

from insightome.apps.trials.criteria import Criterion, MeasureCheck
from insightome.apps.trials.judge import MET, NOT_MET, UNKNOWN, judge, judge_trial
from insightome.apps.trials.matcher import Matcher
from insightome.apps.trials.patients import (
    age_from_text,
    patient_from_text,
    read_patients,
    sex_from_text,
)
from insightome.apps.trials.records import read_trials
from tests.conftest import shared_data

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def cah() -> Matcher:
    """NCT00000102: CAH, ages 14-35; excludes liver and cardiovascular disease."""
    return Matcher(read_trials(DATA / "NCT00000102.xml").trials)


def _judged(matcher: Matcher, text: str, patient_id: str = "p"):
    (facts,) = matcher.read_notes([patient_from_text(patient_id, text)])
    criteria = matcher.criteria(["NCT00000102"])["NCT00000102"]
    return facts, judge_trial("NCT00000102", criteria, facts)


def _verdicts(judged) -> dict[str, str]:
    return {j.criterion.text: j.verdict for j in judged.judgements}


def test_every_criterion_met_with_its_evidence(cah):
    text = "A 20-year-old man diagnosed with congenital adrenal hyperplasia. No liver disease."
    _, judged = _judged(cah, text)
    verdicts = _verdicts(judged)
    assert verdicts["Age (registry): 14 Years to 35 Years"] == MET
    assert verdicts["diagnosed with Congenital Adrenal Hyperplasia (CAH)"] == MET
    assert verdicts["history of liver disease, or elevated liver function tests"] == NOT_MET
    # nothing in the note about the heart: unknown, never "not met"
    assert verdicts["history of cardiovascular disease"] == UNKNOWN
    assert verdicts["normal ECG during baseline evaluation"] == UNKNOWN
    assert judged.failed == [] and judged.status == "no criterion failed"
    by_text = {j.criterion.text: j for j in judged.judgements}
    age = by_text["Age (registry): 14 Years to 35 Years"]
    assert (
        age.evidence.text == "20-year-old"
        and text[age.evidence.start : age.evidence.end] == "20-year-old"
    )
    cah_row = by_text["diagnosed with Congenital Adrenal Hyperplasia (CAH)"]
    assert cah_row.evidence.text.lower() == "congenital adrenal hyperplasia"
    liver = by_text["history of liver disease, or elevated liver function tests"]
    assert "says no liver disease" in liver.reason and liver.evidence.text == "liver disease"


def test_one_exclusion_met_ranks_the_patient_below_one_who_meets_all(cah):
    eligible = "A 20-year-old man diagnosed with congenital adrenal hyperplasia."
    excluded = eligible + " He has a history of liver disease."
    facts = cah.read_notes([patient_from_text("a", eligible), patient_from_text("b", excluded)])
    bm25 = np.array([10.0])
    (first,) = cah.score(facts[0], ["NCT00000102"], bm25)
    (second,) = cah.score(facts[1], ["NCT00000102"], bm25)
    assert first.n_failed == 0 and second.n_failed == 1
    (failed,) = second.judgement.failed
    assert failed.criterion.kind == "exclusion" and failed.verdict == MET
    assert failed.evidence.text == "liver disease"
    assert second.score < first.score


def test_outside_the_age_range_fails_and_unknown_age_stays_unknown(cah):
    _, judged = _judged(cah, "A 52-year-old woman diagnosed with congenital adrenal hyperplasia.")
    (failed,) = judged.failed
    assert (
        failed.criterion.source == "registry"
        and "age 52 years is not 14 years to 35 years" in failed.reason
    )
    _, judged = _judged(cah, "Patient diagnosed with congenital adrenal hyperplasia.")
    age = next(j for j in judged.judgements if j.criterion.source == "registry")
    assert age.verdict == UNKNOWN and age.reason == "the patient's age is not stated"
    assert judged.failed == []  # unknowns are counted, never failures
    assert judged.n_unknown == 4  # age, ECG, liver and heart: the note says nothing


def test_measures_compare_in_the_normalised_unit_only():
    threshold = Criterion(
        "NCT0", 1, "inclusion", "Creatinine no greater than 1.5 mg/dL",
        (MeasureCheck("creatinine", "creatinine", "<=", 1.5, None, "mg/dL", "..."),),
    )  # fmt: skip
    matcher = Matcher(read_trials(DATA / "NCT00000102.xml").trials)
    notes = {
        "high": "Labs: creatinine 2.1 mg/dL, potassium 4.1.",
        "ok": "Labs: creatinine 1.1 mg/dL.",
        "umol": "Creatinine 150 umol/L on admission.",  # converted by the units table
        "none": "Labs unremarkable.",
    }
    facts = {f.patient.patient_id: f for f in matcher.read_notes(
        [patient_from_text(k, v) for k, v in notes.items()])}  # fmt: skip
    high = judge(threshold, facts["high"])
    assert high.verdict == NOT_MET and high.evidence.text.startswith("2.1")
    assert "2.1" in high.reason and "<= 1.5 mg/dL" in high.reason
    assert judge(threshold, facts["ok"]).verdict == MET
    assert judge(threshold, facts["umol"]).verdict == NOT_MET  # 150 µmol/L = 1.7 mg/dL
    assert judge(threshold, facts["none"]).verdict == UNKNOWN


def test_the_structured_row_is_used_before_the_note(tmp_path, cah):
    notes = tmp_path / "notes.csv"
    notes.write_text(
        "patient_id,text\n"
        "P1,A 20-year-old man diagnosed with congenital adrenal hyperplasia. "
        "Creatinine 0.9 mg/dL.\n"
        "P2,A 20-year-old man.\n"
    )
    table = tmp_path / "table.csv"
    table.write_text(
        "patient_id,age,sex,creatinine[umol/L],platelets,shoe size\n"
        "P1,40,F,150,,\nP2,,,88,250,44\nP9,50,M,,,\n"
    )
    patients = read_patients(notes, table=table)
    first, second = patients.patients
    assert (first.age, first.sex) == (40.0, "female")
    assert second.fields == {"creatinine": (88.0, "umol/L"), "platelets": (250.0, ""),
                             "shoe size": (44.0, "")}  # fmt: skip
    assert first.fields == {"creatinine": (150.0, "umol/L")}
    assert first.age_evidence.source == "table" and first.age_evidence.text == "age = 40"
    assert patients.notes == ["1 ID(s) of table.csv have no notes and were not used"]
    facts = cah.read_notes(patients.patients)
    judged = judge_trial("NCT00000102", cah.criteria(["NCT00000102"])["NCT00000102"], facts[0])
    (failed,) = judged.failed
    assert "age 40 years is not 14 years to 35 years" in failed.reason
    # the table's creatinine (150 umol/L = 1.7 mg/dL) is used before the note's 0.9 mg/dL
    threshold = Criterion(
        "NCT0", 1, "inclusion", "Creatinine no greater than 1.5 mg/dL",
        (MeasureCheck("creatinine", "creatinine", "<=", 1.5, None, "mg/dL", "..."),),
    )  # fmt: skip
    from_table = judge(threshold, facts[0])
    assert from_table.verdict == NOT_MET and from_table.evidence.source == "table"
    assert from_table.evidence.text == "creatinine[umol/L] = 150"
    # a value without a unit is never compared with a threshold that has one
    platelets = Criterion(
        "NCT0", 2, "inclusion", "Platelets at least 100,000/mm3",
        (MeasureCheck("platelets", "platelet count", ">=", 100000, None, "/mm3", "..."),),
    )  # fmt: skip
    unitless = judge(platelets, facts[1])
    assert unitless.verdict == UNKNOWN and "give the unit" in unitless.reason
    assert cah.notes == [
        "patient-table columns not used (no concept of the lexicon, or a unit the units table "
        "does not know): shoe size"
    ]


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("patient_id,age\nP1,nan\n", "row 2, column 'age': 'nan' is not a finite number"),
        ("patient_id,age\nP1,-5\n", "'-5' is not an age in years (0-125)"),
        ("patient_id,hba1c[%]\nP1,inf\n", "column 'hba1c[%]': 'inf' is not a finite number"),
        ("patient_id,age\nP1,40\nP1,41\n", "patient 'P1' has more than one row"),
        ("id_of_patient,age\nP1,40\n", "no patient ID column"),
    ],
)
def test_bad_patient_tables_are_one_line(tmp_path, table, message):
    from insightome.errors import UserError

    notes = tmp_path / "notes.csv"
    notes.write_text("patient_id,text\nP1,A 20-year-old man.\n")
    path = tmp_path / "table.csv"
    path.write_text(table)
    with pytest.raises(UserError) as err:
        read_patients(notes, table=path)
    assert message in str(err.value) and str(path) in str(err.value)


@pytest.mark.parametrize(
    ("text", "age", "sex"),
    [
        ("A 58-year-old woman comes to the clinic.", 58.0, "female"),
        ("7-month-old boy with fever.", 7 / 12, "male"),
        ("Patient is a 3 y/o girl.", 3.0, "female"),
        ("The patient, aged 45, reports that she has pain.", 45.0, "female"),
        ("Follow-up visit; no demographics recorded.", None, None),
    ],
)
def test_age_and_sex_from_the_note(text, age, sex):
    found_age = age_from_text(text)
    found_sex = sex_from_text(text)
    assert (found_age[0] if found_age else None) == (pytest.approx(age) if age else None)
    assert (found_sex[0] if found_sex else None) == sex


def test_trec_topics_give_age_and_sex_from_their_text():
    path = shared_data("trials", "trec_2022", "queries.jsonl")
    topics = [json.loads(line) for line in path.read_text().splitlines()]
    patients = [patient_from_text(t["_id"], t["text"]) for t in topics]
    assert sum(p.age is not None for p in patients) >= 45
    assert sum(p.sex is not None for p in patients) >= 45
    first = patients[0]  # "A 19-year-old male came to clinic ..."
    assert (first.age, first.sex, first.age_evidence.text) == (19.0, "male", "19-year-old")


def test_a_qualified_condition_needs_the_qualifier_in_the_record():
    corpus = read_trials(shared_data("trials", "corpus", "ctgov_20230203_judged_in_qrels.jsonl"))
    trial = corpus.by_id()["NCT00005985"]
    matcher = Matcher([trial])
    item = next(c for c in matcher.criteria([trial.nct_id])[trial.nct_id]
                if c.text == "No uncontrolled hypertension")  # fmt: skip
    notes = {
        "bare": "A 60-year-old man with hypertension on lisinopril.",
        "said": "A 60-year-old man with uncontrolled hypertension despite three drugs.",
    }
    facts = {f.patient.patient_id: f for f in matcher.read_notes(
        [patient_from_text(k, v) for k, v in notes.items()])}  # fmt: skip
    bare = judge(item, facts["bare"])
    assert bare.verdict == UNKNOWN and "asks for uncontrolled hypertension" in bare.reason
    said = judge(item, facts["said"])
    assert said.verdict == NOT_MET and said.evidence.text.lower() == "hypertension"
