"""ClinicalTrials.gov's own exports (legacy XML, API v2 JSON) → flat records → Trials.

The fixtures under ``data/`` are real registry records, whole (``data/README.md`` says where
each comes from). The two legacy XML records are also lines of the shared trial corpus,
which was parsed from the same download: the flat dicts and the Trials must agree.
"""

from __future__ import annotations

import copy
import dataclasses
import gzip
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from insightome.apps.trials import records
from insightome.apps.trials.registry_formats import FLAT_KEYS, flat_from_api_json, flat_from_xml
from tests.conftest import shared_data

DATA = Path(__file__).parent / "data"
XML_102 = DATA / "NCT00000102.xml"
XML_5921 = DATA / "NCT00005921.xml"
STUDY_JSON = DATA / "NCT06323538.json"  # one API v2 study
PAGE_JSON = DATA / "NCT06388018_page.json"  # an API v2 page {"studies": [...]}


def _xml(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _squash(text: str) -> str:
    return " ".join(text.split())


def _assert_short_reason(exc: pytest.ExceptionInfo[ValueError], record_text: str) -> None:
    reason = str(exc.value)
    assert 0 < len(reason) < 200 and "\n" not in reason and "Traceback" not in reason
    if record_text:
        assert record_text[:60] not in reason


# -- legacy XML ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", [XML_102, XML_5921], ids=lambda p: p.stem)
def test_xml_matches_the_corpus_line_parsed_from_the_same_record(path: Path) -> None:
    corpus = shared_data("trials", "corpus", "ctgov_20230203_judged_in_qrels.jsonl")
    lines = (json.loads(line) for line in corpus.read_text(encoding="utf-8").splitlines())
    line = next(row for row in lines if row["nct_id"] == path.stem)

    flat = flat_from_xml(_xml(path))
    assert {key: flat[key] for key in FLAT_KEYS if key != "criteria"} == {
        key: line[key] for key in FLAT_KEYS if key != "criteria"
    }
    assert _squash(flat["criteria"]) == _squash(line["criteria"])

    ours = records.trial_from_flat(flat, str(path))
    theirs = records.trial_from_flat(line, "corpus")
    assert ours.source != theirs.source
    assert _squash(ours.criteria) == _squash(theirs.criteria)
    same = {"source": "", "criteria": _squash(ours.criteria)}
    assert dataclasses.replace(ours, **same) == dataclasses.replace(theirs, **same)


def test_xml_record_gives_every_flat_key_with_its_values() -> None:
    flat = flat_from_xml(_xml(XML_102))
    assert list(flat) == list(FLAT_KEYS)
    assert flat["nct_id"] == "NCT00000102"
    assert flat["official_title"] is None and flat["keywords"] == []
    assert flat["conditions"] == ["Congenital Adrenal Hyperplasia"]
    assert flat["condition_mesh"] == [
        "Adrenal Hyperplasia, Congenital",
        "Adrenogenital Syndrome",
        "Adrenocortical Hyperfunction",
        "Hyperplasia",
    ]  # condition_browse only: the intervention_browse term (Nifedipine) is not a condition
    assert flat["interventions"] == [{"type": "Drug", "name": "Nifedipine"}]
    assert (flat["study_type"], flat["phase"], flat["overall_status"]) == (
        "Interventional",
        "Phase 1/Phase 2",
        "Completed",
    )
    assert (flat["gender"], flat["minimum_age"], flat["maximum_age"]) == (
        "All",
        "14 Years",
        "35 Years",
    )
    assert flat["healthy_volunteers"] == "No"


def test_xml_text_blocks_keep_their_line_breaks_and_lose_the_outer_whitespace() -> None:
    flat = flat_from_xml(_xml(XML_102))
    criteria = flat["criteria"]
    assert criteria.startswith("Inclusion Criteria:\r\n\r\n          -  diagnosed with")
    assert criteria.endswith("-  history of cardiovascular disease")
    assert "Exclusion Criteria:" in criteria  # inclusion and exclusion: the whole block
    assert criteria.count("\n") == 10
    assert flat["brief_summary"].startswith("This study will test the ability")
    assert flat["brief_summary"].endswith("congenital adrenal hyperplasia (CAH).")


def test_xml_record_reads_as_a_trial() -> None:
    flat = flat_from_xml(_xml(XML_5921))
    assert flat["official_title"].startswith("An Open, Serial-Panel, Multiple-Dose Study")
    assert flat["keywords"][-1] == "MK 0991" and len(flat["keywords"]) == 5
    trial = records.trial_from_flat(flat, "x")
    assert (trial.sex, trial.minimum_age, trial.maximum_age) == ("male", 18.0, 65.0)
    assert trial.healthy_volunteers is False
    assert trial.phase == "N/A"
    assert trial.interventions == ("Drug: L-743,872",)
    assert trial.conditions == ("Candidiasis, Esophageal", "HIV Infections")


# -- API v2 JSON --------------------------------------------------------------------------


def test_api_one_study() -> None:
    (flat,) = flat_from_api_json(_json(STUDY_JSON))
    assert list(flat) == list(FLAT_KEYS)
    assert flat["nct_id"] == "NCT06323538"
    assert flat["brief_title"] == "Cohort Study on Plant-based Diets (COPLANT Study)"
    assert flat["conditions"][:2] == ["Dietary Exposure", "Diabetes Mellitus, Type 2"]
    assert len(flat["keywords"]) == 23
    assert flat["condition_mesh"][0] == "Diabetes Mellitus, Type 2"
    assert len(flat["condition_mesh"]) == 7  # the meshes, not their ancestors
    # an observational cohort: arms without interventions, no phase, no healthy-volunteer flag
    assert flat["interventions"] == [] and flat["phase"] is None
    assert (flat["study_type"], flat["overall_status"]) == ("Observational", "Recruiting")
    assert (flat["gender"], flat["minimum_age"], flat["maximum_age"]) == (
        "All",
        "18 Years",
        "69 Years",
    )
    assert flat["healthy_volunteers"] is None
    assert flat["criteria"].startswith("Inclusion Criteria:\n\n* age between 18 and 69 years")
    assert flat["criteria"].endswith("* who withdraw their consent to participate in the study")


def test_api_page_and_its_study_alone_give_the_same_record() -> None:
    page = _json(PAGE_JSON)
    (from_page,) = flat_from_api_json(page)
    assert flat_from_api_json(page["studies"][0]) == [from_page]
    assert from_page["nct_id"] == "NCT06388018"
    assert (from_page["phase"], from_page["overall_status"]) == ("Phase 2", "Recruiting")
    assert (from_page["gender"], from_page["minimum_age"], from_page["maximum_age"]) == (
        "Female",
        "18 Years",
        None,
    )
    assert from_page["healthy_volunteers"] == "No"
    assert from_page["interventions"][:3] == [
        {"type": "Other", "name": "Clinical Observation"},
        {"type": "Procedure", "name": "Computed Tomography"},
        {"type": "Radiation", "name": "External Beam Radiation Therapy"},
    ]
    assert from_page["condition_mesh"] == [
        "Sarcoma",
        "Endometrial Neoplasms",
        "Sarcoma, Endometrial Stromal",
    ]
    assert "Exclusion Criteria:" in from_page["criteria"]


def test_api_list_keeps_its_order() -> None:
    study, page = _json(STUDY_JSON), _json(PAGE_JSON)
    flats = flat_from_api_json([page["studies"][0], study])
    assert [flat["nct_id"] for flat in flats] == ["NCT06388018", "NCT06323538"]
    assert flat_from_api_json([]) == []


def test_api_study_reads_as_a_trial() -> None:
    (flat,) = flat_from_api_json(_json(PAGE_JSON))
    trial = records.trial_from_flat(flat, "x")
    assert (trial.sex, trial.minimum_age, trial.maximum_age) == ("female", 18.0, None)
    assert trial.healthy_volunteers is False
    assert trial.interventions[2] == "Radiation: External Beam Radiation Therapy"
    (cohort,) = flat_from_api_json(_json(STUDY_JSON))
    assert records.trial_from_flat(cohort, "x").maximum_age == 69.0


def _with(study: dict[str, Any], module: str, **fields: Any) -> dict[str, Any]:
    """The real study with some of one module's fields set to other values of the API's
    vocabulary (https://clinicaltrials.gov/data-api/about-api/study-data-structure)."""
    changed = copy.deepcopy(study)
    changed["protocolSection"].setdefault(module, {}).update(fields)
    return changed


@pytest.mark.parametrize(
    ("phases", "expected"),
    [
        (["PHASE1", "PHASE2"], "Phase 1/Phase 2"),
        (["PHASE2", "PHASE3"], "Phase 2/Phase 3"),
        (["EARLY_PHASE1"], "Early Phase 1"),
        (["PHASE4"], "Phase 4"),
        (["NA"], "N/A"),
        ([], None),
    ],
)
def test_api_phases_read_as_the_legacy_records_write_them(
    phases: list[str], expected: str | None
) -> None:
    study = _with(_json(PAGE_JSON)["studies"][0], "designModule", phases=phases)
    assert flat_from_api_json(study)[0]["phase"] == expected


def test_api_phase_pair_matches_the_legacy_record_of_the_same_kind() -> None:
    study = _with(_json(PAGE_JSON)["studies"][0], "designModule", phases=["PHASE1", "PHASE2"])
    assert flat_from_api_json(study)[0]["phase"] == flat_from_xml(_xml(XML_102))["phase"]


@pytest.mark.parametrize(
    ("sex", "gender", "trial_sex"),
    [("ALL", "All", "all"), ("FEMALE", "Female", "female"), ("MALE", "Male", "male")],
)
def test_api_sex(sex: str, gender: str, trial_sex: str) -> None:
    study = _with(_json(STUDY_JSON), "eligibilityModule", sex=sex)
    (flat,) = flat_from_api_json(study)
    assert flat["gender"] == gender
    assert records.trial_from_flat(flat, "x").sex == trial_sex


@pytest.mark.parametrize(
    ("value", "flat_value", "trial_value"),
    [(True, "Yes", True), (False, "No", False), (None, None, None)],
)
def test_api_healthy_volunteers(value: Any, flat_value: str | None, trial_value: Any) -> None:
    study = _with(_json(STUDY_JSON), "eligibilityModule", healthyVolunteers=value)
    (flat,) = flat_from_api_json(study)
    assert flat["healthy_volunteers"] == flat_value
    assert records.trial_from_flat(flat, "x").healthy_volunteers is trial_value


def test_api_ages_stay_as_written_and_read_in_years() -> None:
    study = _with(
        _json(STUDY_JSON), "eligibilityModule", minimumAge="6 Months", maximumAge="17 Years"
    )
    (flat,) = flat_from_api_json(study)
    assert (flat["minimum_age"], flat["maximum_age"]) == ("6 Months", "17 Years")
    trial = records.trial_from_flat(flat, "x")
    assert (trial.minimum_age, trial.maximum_age) == (0.5, 17.0)
    assert trial.minimum_age_text == "6 Months"


@pytest.mark.parametrize(
    ("api_type", "legacy_type"),
    [
        ("DRUG", "Drug"),
        ("DIETARY_SUPPLEMENT", "Dietary Supplement"),
        ("COMBINATION_PRODUCT", "Combination Product"),
        ("DIAGNOSTIC_TEST", "Diagnostic Test"),
        ("BIOLOGICAL", "Biological"),
        ("BEHAVIORAL", "Behavioral"),
    ],
)
def test_api_intervention_types(api_type: str, legacy_type: str) -> None:
    page_study = _json(PAGE_JSON)["studies"][0]
    interventions = copy.deepcopy(page_study["protocolSection"]["armsInterventionsModule"])
    interventions["interventions"][0]["type"] = api_type
    study = _with(page_study, "armsInterventionsModule", **interventions)
    (flat,) = flat_from_api_json(study)
    assert flat["interventions"][0] == {"type": legacy_type, "name": "Clinical Observation"}
    trial = records.trial_from_flat(flat, "x")
    assert trial.interventions[0] == f"{legacy_type}: Clinical Observation"


@pytest.mark.parametrize(
    ("status", "legacy_status"),
    [
        ("ACTIVE_NOT_RECRUITING", "Active, not recruiting"),
        ("NOT_YET_RECRUITING", "Not yet recruiting"),
        ("ENROLLING_BY_INVITATION", "Enrolling by invitation"),
        ("COMPLETED", "Completed"),
        ("UNKNOWN", "Unknown status"),
    ],
)
def test_api_statuses(status: str, legacy_status: str) -> None:
    study = _with(_json(STUDY_JSON), "statusModule", overallStatus=status)
    assert flat_from_api_json(study)[0]["overall_status"] == legacy_status


def test_api_patient_registry_and_expanded_access_study_types() -> None:
    registry = _with(_json(STUDY_JSON), "designModule", patientRegistry=True)
    assert flat_from_api_json(registry)[0]["study_type"] == "Observational [Patient Registry]"
    access = _with(_json(STUDY_JSON), "designModule", studyType="EXPANDED_ACCESS")
    assert flat_from_api_json(access)[0]["study_type"] == "Expanded Access"


# -- bad input ----------------------------------------------------------------------------

BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
    ' <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">\n]>\n'
    "<clinical_study><id_info><nct_id>&lol2;</nct_id></id_info></clinical_study>"
)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("This study will test the ability of extended release nifedipine", "not XML"),
        ("", "not XML"),
        ("<clinical_study><id_info>", "not XML"),
        (
            "<html><body>ClinicalTrials.gov</body></html>",
            "not a ClinicalTrials.gov <clinical_study>",
        ),
        (BILLION_LAUGHS, "DOCTYPE or ENTITY"),
    ],
    ids=["prose", "empty", "truncated", "html", "entity-expansion"],
)
def test_xml_bad_input_is_a_short_value_error(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as exc:
        flat_from_xml(text)
    _assert_short_reason(exc, text)


def test_xml_with_a_doctype_or_entity_is_refused_before_parsing() -> None:
    text = _xml(XML_102)
    doctype = '<!DOCTYPE clinical_study SYSTEM "file:///etc/passwd">\n' + text
    with pytest.raises(ValueError, match="entity expansion"):
        flat_from_xml(doctype)
    entity = text.replace("<clinical_study>", '<!ENTITY x "y"><clinical_study>', 1)
    with pytest.raises(ValueError, match="DOCTYPE or ENTITY"):
        flat_from_xml(entity)
    with_declaration = '<?xml version="1.0" encoding="UTF-8"?>\n' + text
    assert flat_from_xml(with_declaration) == flat_from_xml(text)


def test_xml_without_nct_id_is_a_value_error() -> None:
    text = _xml(XML_102).replace("<nct_id>NCT00000102</nct_id>", "")
    with pytest.raises(ValueError, match=r"no <id_info><nct_id>") as exc:
        flat_from_xml(text)
    _assert_short_reason(exc, text)


def test_api_bad_input_is_a_short_value_error() -> None:
    for obj in ({"nct_id_list": ["NCT00000102"]}, "NCT00000102", 42, None, {"studies": "none"}):
        with pytest.raises(ValueError, match="API v2") as exc:
            flat_from_api_json(obj)
        _assert_short_reason(exc, json.dumps(obj))


def test_api_study_without_nct_id_names_the_study() -> None:
    study = _json(STUDY_JSON)
    del study["protocolSection"]["identificationModule"]["nctId"]
    with pytest.raises(
        ValueError, match=r"study 1: no protocolSection\.identificationModule\.nctId"
    ):
        flat_from_api_json(study)
    page = {"studies": [_json(PAGE_JSON)["studies"][0], {"hasResults": False}]}
    with pytest.raises(ValueError, match="study 2: not an API v2 study"):
        flat_from_api_json(page)


# -- records.read_trials on the registry's files -------------------------------------------


def test_read_trials_xml_file() -> None:
    trials = records.read_trials(XML_102)
    assert [trial.nct_id for trial in trials.trials] == ["NCT00000102"]
    assert trials.skipped == [] and trials.trials[0].source == str(XML_102)
    assert trials.trials[0].interventions == ("Drug: Nifedipine",)


def test_read_trials_json_page() -> None:
    trials = records.read_trials(PAGE_JSON)
    assert [trial.nct_id for trial in trials.trials] == ["NCT06388018"]
    assert trials.trials[0].sex == "female" and trials.skipped == []


def test_read_trials_folder_holding_xml_and_json(tmp_path: Path) -> None:
    for path in (XML_102, XML_5921, STUDY_JSON, PAGE_JSON):
        shutil.copy(path, tmp_path / path.name)
    (tmp_path / "notes.txt").write_text("not a trial file", encoding="utf-8")
    trials = records.read_trials(tmp_path)
    assert [trial.nct_id for trial in trials.trials] == [
        "NCT00000102",
        "NCT00005921",
        "NCT06323538",
        "NCT06388018",
    ]  # files in name order
    assert trials.skipped == [] and len(trials.sha256) == 64


def test_read_trials_folder_skips_a_refused_xml_and_reads_the_rest(tmp_path: Path) -> None:
    shutil.copy(XML_102, tmp_path / XML_102.name)
    (tmp_path / "bad.xml").write_text(BILLION_LAUGHS, encoding="utf-8")
    trials = records.read_trials(tmp_path)
    assert [trial.nct_id for trial in trials.trials] == ["NCT00000102"]
    (skip,) = trials.skipped
    assert skip.where == str(tmp_path / "bad.xml") and "DOCTYPE or ENTITY" in skip.reason


def test_read_trials_jsonl_with_one_malformed_line(tmp_path: Path) -> None:
    path = tmp_path / "studies.jsonl"
    lines = [
        json.dumps(flat_from_xml(_xml(XML_5921))),  # the flat layout
        '{"nct_id": "NCT00000102", "brief_title": ',  # cut short
        json.dumps(_json(STUDY_JSON)),  # an API v2 study on a line
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    trials = records.read_trials(path)
    assert [trial.nct_id for trial in trials.trials] == ["NCT00005921", "NCT06323538"]
    assert [trial.source for trial in trials.trials] == [f"{path}:1", f"{path}:3"]
    (skip,) = trials.skipped
    assert skip.where == f"{path}:2" and skip.reason.startswith("not JSON")


@pytest.mark.parametrize("source", [XML_102, PAGE_JSON], ids=lambda p: p.suffix)
def test_read_trials_gzip(tmp_path: Path, source: Path) -> None:
    path = tmp_path / f"{source.name}.gz"
    path.write_bytes(gzip.compress(source.read_bytes()))
    (trial,) = records.read_trials(path).trials
    (plain,) = records.read_trials(source).trials
    assert trial.source == str(path)
    assert dataclasses.replace(trial, source="") == dataclasses.replace(plain, source="")
