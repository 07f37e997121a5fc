"""ClinicalTrials.gov's own exports → the flat record layout of :mod:`.records`.

Two formats, each turned into one flat dict per study with every key of :data:`FLAT_KEYS`
(``None`` or ``[]`` where the registry gives nothing):

* the legacy XML record (``<clinical_study>``): the registry's downloads before 2023 and
  AACT's raw files. Values are kept as the registry wrote them (``"Accepts Healthy
  Volunteers"``, an age of ``"N/A"``), as in ``shared/data/trials/corpus``, which was parsed
  from the same files;
* the API v2 JSON (https://clinicaltrials.gov/data-api/api): one study, a list of studies or
  a page ``{"studies": [...]}``. Its upper-case codes are written the legacy way
  (``"PHASE1"`` → ``"Phase 1"``, ``"DIETARY_SUPPLEMENT"`` → ``"Dietary Supplement"``,
  ``"ACTIVE_NOT_RECRUITING"`` → ``"Active, not recruiting"``, ``true`` → ``"Yes"``), so a
  study reads the same whichever export it came from.

Text blocks (summary, eligibility criteria) keep their line breaks; only the outer
whitespace goes. A record that cannot be read is a ``ValueError`` with a short reason, never
the record's text. :mod:`.records` imports this module, never the other way round.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

__all__ = [
    "FLAT_KEYS",
    "api_studies",
    "flat_from_api_json",
    "flat_from_api_study",
    "flat_from_xml",
]

FLAT_KEYS = (
    "nct_id",
    "brief_title",
    "official_title",
    "conditions",
    "keywords",
    "condition_mesh",
    "interventions",
    "study_type",
    "phase",
    "overall_status",
    "brief_summary",
    "criteria",
    "gender",
    "minimum_age",
    "maximum_age",
    "healthy_volunteers",
)

# The standard library's parser expands entities declared in a document's DTD ("billion
# laughs", external entities); defusedxml is not a dependency, so a document that declares a
# DTD or an entity at all is refused before parsing. ClinicalTrials.gov records never do.
_DTD = re.compile(r"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)

_PHASES = {
    "EARLY_PHASE1": "Early Phase 1",
    "PHASE1": "Phase 1",
    "PHASE2": "Phase 2",
    "PHASE3": "Phase 3",
    "PHASE4": "Phase 4",
    "NA": "N/A",
}
# Statuses read as a sentence ("Not yet recruiting"); these two are not just their words.
_STATUSES = {"ACTIVE_NOT_RECRUITING": "Active, not recruiting", "UNKNOWN": "Unknown status"}
_SEXES = {"ALL": "All", "FEMALE": "Female", "MALE": "Male"}


# -- legacy XML --------------------------------------------------------------------------


def _element_text(element: ET.Element | None) -> str | None:
    if element is None:
        return None
    text = "".join(element.itertext()).strip()
    return text or None


def _xml_text(root: ET.Element, path: str) -> str | None:
    return _element_text(root.find(path))


def _xml_texts(root: ET.Element, path: str) -> list[str]:
    return [text for text in map(_element_text, root.findall(path)) if text]


def _xml_interventions(root: ET.Element) -> list[dict[str, str | None]]:
    found = []
    for element in root.findall("intervention"):
        kind = _xml_text(element, "intervention_type")
        name = _xml_text(element, "intervention_name")
        if kind or name:
            found.append({"type": kind, "name": name})
    return found


def _xml_root(text: str) -> ET.Element:
    if not isinstance(text, str):
        raise ValueError(f"not XML text (got {type(text).__name__})")
    if _DTD.search(text):
        raise ValueError("XML with a DOCTYPE or ENTITY declaration (refused: entity expansion)")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ValueError(f"not XML ({exc})") from None
    if root.tag != "clinical_study":
        raise ValueError(f"not a ClinicalTrials.gov <clinical_study> record (<{root.tag[:40]}>)")
    return root


def flat_from_xml(text: str) -> dict[str, Any]:
    """One legacy ClinicalTrials.gov XML record (``<clinical_study>``) → the flat dict.

    ``ValueError`` with a short reason if the text is not XML, declares a DOCTYPE or an
    entity, is not a ``<clinical_study>`` or has no ``<id_info><nct_id>``.
    """
    root = _xml_root(text)
    nct_id = _xml_text(root, "id_info/nct_id")
    if not nct_id:
        raise ValueError("no <id_info><nct_id> in the <clinical_study> record")
    return {
        "nct_id": nct_id,
        "brief_title": _xml_text(root, "brief_title"),
        "official_title": _xml_text(root, "official_title"),
        "conditions": _xml_texts(root, "condition"),
        "keywords": _xml_texts(root, "keyword"),
        "condition_mesh": _xml_texts(root, "condition_browse/mesh_term"),
        "interventions": _xml_interventions(root),
        "study_type": _xml_text(root, "study_type"),
        "phase": _xml_text(root, "phase"),
        "overall_status": _xml_text(root, "overall_status"),
        "brief_summary": _xml_text(root, "brief_summary/textblock"),
        "criteria": _xml_text(root, "eligibility/criteria/textblock"),
        "gender": _xml_text(root, "eligibility/gender"),
        "minimum_age": _xml_text(root, "eligibility/minimum_age"),
        "maximum_age": _xml_text(root, "eligibility/maximum_age"),
        "healthy_volunteers": _xml_text(root, "eligibility/healthy_volunteers"),
    }


# -- API v2 JSON -------------------------------------------------------------------------


def _module(parent: Any, name: str) -> Mapping[str, Any]:
    value = parent.get(name) if isinstance(parent, Mapping) else None
    return value if isinstance(value, Mapping) else {}


def _api_text(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return value.strip() or None


def _api_texts(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [text for text in map(_api_text, value) if text]


def _words(code: str, *, title: bool) -> str:
    """``"DIETARY_SUPPLEMENT"`` → ``"Dietary Supplement"`` (title) or ``"Dietary
    supplement"`` (sentence); a value already in words keeps its words."""
    words = code.replace("_", " ").split()
    if not words:
        return ""
    if title:
        return " ".join(word.capitalize() for word in words)
    return " ".join([words[0].capitalize(), *(word.lower() for word in words[1:])])


def _code(value: Any, table: Mapping[str, str], *, title: bool) -> str | None:
    text = _api_text(value)
    if text is None:
        return None
    return table.get(text.upper()) or _words(text, title=title)


def _api_phase(design: Mapping[str, Any]) -> str | None:
    phases = [_code(phase, _PHASES, title=True) for phase in _api_texts(design.get("phases"))]
    return "/".join(phase for phase in phases if phase) or None


def _api_study_type(design: Mapping[str, Any]) -> str | None:
    study_type = _code(design.get("studyType"), {}, title=True)
    if study_type == "Observational" and design.get("patientRegistry") is True:
        return "Observational [Patient Registry]"  # the legacy records' wording
    return study_type


def _api_interventions(arms: Mapping[str, Any]) -> list[dict[str, str | None]]:
    found = []
    for item in arms.get("interventions") or []:
        if not isinstance(item, Mapping):
            continue
        kind = _code(item.get("type"), {}, title=True)
        name = _api_text(item.get("name"))
        if kind or name:
            found.append({"type": kind, "name": name})
    return found


def _api_healthy(value: Any) -> str | None:
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return _api_text(value)


def _api_mesh(study: Mapping[str, Any]) -> list[str]:
    browse = _module(_module(study, "derivedSection"), "conditionBrowseModule")
    meshes = browse.get("meshes")
    if not isinstance(meshes, list):
        return []
    terms = (mesh.get("term") for mesh in meshes if isinstance(mesh, Mapping))
    return [text for text in map(_api_text, terms) if text]


def _flat_from_study(study: Any, number: int) -> dict[str, Any]:
    protocol = study.get("protocolSection") if isinstance(study, Mapping) else None
    if not isinstance(protocol, Mapping):
        raise ValueError(f"study {number}: not an API v2 study (no protocolSection)")
    ident = _module(protocol, "identificationModule")
    nct_id = _api_text(ident.get("nctId"))
    if not nct_id:
        raise ValueError(f"study {number}: no protocolSection.identificationModule.nctId")
    conditions = _module(protocol, "conditionsModule")
    design = _module(protocol, "designModule")
    eligibility = _module(protocol, "eligibilityModule")
    return {
        "nct_id": nct_id,
        "brief_title": _api_text(ident.get("briefTitle")),
        "official_title": _api_text(ident.get("officialTitle")),
        "conditions": _api_texts(conditions.get("conditions")),
        "keywords": _api_texts(conditions.get("keywords")),
        "condition_mesh": _api_mesh(study),
        "interventions": _api_interventions(_module(protocol, "armsInterventionsModule")),
        "study_type": _api_study_type(design),
        "phase": _api_phase(design),
        "overall_status": _code(
            _module(protocol, "statusModule").get("overallStatus"), _STATUSES, title=False
        ),
        "brief_summary": _api_text(_module(protocol, "descriptionModule").get("briefSummary")),
        "criteria": _api_text(eligibility.get("eligibilityCriteria")),
        "gender": _code(eligibility.get("sex"), _SEXES, title=True),
        "minimum_age": _api_text(eligibility.get("minimumAge")),
        "maximum_age": _api_text(eligibility.get("maximumAge")),
        "healthy_volunteers": _api_healthy(eligibility.get("healthyVolunteers")),
    }


def api_studies(obj: Any) -> list[Any]:
    """The studies of ClinicalTrials.gov API v2 JSON: one study (``{"protocolSection": ...}``),
    a list of studies or a page ``{"studies": [...], ...}``; ``ValueError`` otherwise."""
    if isinstance(obj, Mapping) and "studies" in obj:
        studies = obj["studies"]
        if not isinstance(studies, list):
            raise ValueError("an API v2 page whose 'studies' is not a list")
        return studies
    if isinstance(obj, Mapping) and "protocolSection" in obj:
        return [obj]
    if isinstance(obj, list):
        return obj
    raise ValueError(
        "not ClinicalTrials.gov API v2 JSON (a study with protocolSection, a list of "
        "studies or a page with 'studies')"
    )


def flat_from_api_study(study: Any, number: int) -> dict[str, Any]:
    """One API v2 study (``number``: its place, for messages) → the flat dict; ValueError
    with a short reason when it has no ``protocolSection.identificationModule.nctId``."""
    return _flat_from_study(study, number)


def flat_from_api_json(obj: Any) -> list[dict[str, Any]]:
    """ClinicalTrials.gov API v2 JSON → flat dicts, in order (:func:`api_studies`); a study
    without an NCT ID raises ``ValueError`` (read per study with :func:`flat_from_api_study`
    to skip only that one)."""
    return [_flat_from_study(study, number) for number, study in enumerate(api_studies(obj), 1)]
