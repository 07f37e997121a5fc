"""FUTURE-AI recommendations (Lekadir et al., BMJ 2025;388:e081554), item by item.

Filled from a run's ``results.json`` dict and its ``model.json`` dict (the model card): an
item the run can answer carries the run's own numbers, an item it can answer in part says what
is still missing, every other item reads exactly "to be completed by the authors". The
requirements are short paraphrases of the guideline. Rendered by
:mod:`insightome.audit.documents`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from insightome.audit.audit_facts import (
    audit_flags,
    fairness_audit,
    model_explanation,
    representation,
)
from insightome.audit.checklist_items import (
    FUTURE_AI,
    MONITOR,
    OVERSIGHT,
    ChecklistBuilder,
    ChecklistItem,
    as_mappings,
    join_texts,
    min_cell_of,
    nested,
)
from insightome.audit.evidence import (
    NONE,
    Evidence,
    monitoring_text,
    validation_cohorts,
    validation_text,
)
from insightome.audit.run_facts import (
    attribution,
    compute,
    data_files,
    decision_threshold,
    discovery,
    factors,
    metric_rationale,
    model_files,
    permutation_test,
    resampling,
    robustness,
    sample_size,
    seeds,
    sensitive_attributes,
    software_versions,
)


def future_ai(
    results: Mapping[str, Any],
    card: Mapping[str, Any] | None = None,
    evidence: Evidence = NONE,
) -> list[ChecklistItem]:
    """FUTURE-AI recommendations (Lekadir et al., BMJ 2025), six principles plus general."""
    r, c = as_mappings(results, card or {})
    d = ChecklistBuilder(FUTURE_AI)
    d.section = "Fairness"
    d.add(
        "F1",
        "Identify possible sources of bias early",
        factors(r),
        todo="the expected sources of bias",
        hint="no sensitive attribute was declared",
    )
    d.add(
        "F2",
        "Record attributes of individuals and data",
        join_texts(factors(r), representation(r)) if sensitive_attributes(r) else None,
        hint="no sensitive attribute declared",
    )
    d.add("F3", "Evaluate fairness", fairness_audit(r), hint="the fairness audit was not run")
    d.section = "Universality"
    d.add("U1", "Define intended clinical settings and variations between them")
    d.add("U2", "Use community standards (definitions, ontologies, technical standards)")
    d.add(
        "U3",
        "Evaluate with external data or several sites",
        validation_text(r, evidence),
        hint="no external validation is recorded for this run; see insightome validate",
    )
    d.add("U4", "Assess local clinical validity")
    d.section = "Traceability"
    d.add(
        "T1", "Risk management throughout the lifecycle", hint=audit_flags(r) or "risk management"
    )
    d.add(
        "T2",
        "Technical and clinical documentation",
        "This documentation, results.json, model.json, report.html and run.log"
        + (f" of run '{r['name']}'." if r.get("name") else "."),
        todo="the clinical documentation",
    )
    d.add(
        "T3",
        "Quality control of inputs and outputs",
        join_texts(
            "Model files are checked against their sha256; inputs must carry the training "
            "feature names and types.",
            decision_threshold(r),
        ),
        todo="quality control in deployment",
    )
    d.add(
        "T4",
        "Periodic auditing and updating",
        join_texts(MONITOR, monitoring_text(r, evidence) or "No monitoring check recorded yet."),
        todo="the audit schedule",
    )
    d.add(
        "T5",
        "Logging of use",
        join_texts(OVERSIGHT, data_files(r), model_files(c), software_versions(r), seeds(r)),
    )
    d.add("T6", "AI governance")
    d.section = "Usability"
    d.add("Us1", "Define intended use and user requirements early", hint="intended use")
    d.add(
        "Us2",
        "Human–AI interaction and oversight",
        OVERSIGHT,
        todo="who oversees the model and how",
    )
    d.add("Us3", "Training materials for users")
    d.add("Us4", "Evaluate user experience with independent end users")
    d.add("Us5", "Evaluate clinical utility and safety")
    d.section = "Robustness"
    d.add(
        "R1",
        "Identify sources of data variation early",
        factors(r) if (nested(r, "spec", "site") or nested(r, "spec", "groups")) else None,
        todo="other sources of variation (devices, protocols, populations)",
    )
    d.add(
        "R2",
        "Train on representative real-world data",
        join_texts(data_files(r), sample_size(r), representation(r)),
        todo="why the data are representative",
    )
    d.add(
        "R3",
        "Evaluate robustness to real-world variation",
        join_texts(robustness(r), validation_text(r, evidence)) if robustness(r) else None,
        todo="robustness to variations"
        if evidence.validations
        else "external validation (insightome validate) and robustness to variations",
    )
    d.section = "Explainability"
    d.add("E1", "Define explainability needs with end users")
    d.add(
        "E2",
        "Evaluate explanations with end users",
        join_texts(model_explanation(r), attribution(r), discovery(r))
        if attribution(r) or model_explanation(r)
        else None,
        todo="evaluation with end users",
        hint="no explanation: neither the audit nor discovery was run",
    )
    d.section = "General"
    d.add("G1", "Involve interdisciplinary stakeholders")
    d.add(
        "G2",
        "Data privacy and security",
        f"Documents and reports hold aggregates only, with counts under {min_cell_of(r)} "
        "suppressed, and further counts hidden so that none can be recomputed from totals, "
        "rates or other tables; predictions.csv and the prediction log are row-level and must "
        "be protected.",
        todo="data protection measures (e.g. legal basis, pseudonymisation, access)",
    )
    d.add("G3", "Address identified risks", hint=audit_flags(r) or "risk mitigation")
    d.add(
        "G4",
        "Evaluation plan (data sets, metrics, reference methods)",
        join_texts(
            resampling(r), metric_rationale(r), permutation_test(r), validation_cohorts(evidence)
        )
        if resampling(r)
        else None,
        todo="reference methods" + ("" if evidence.validations else " and external data sets"),
    )
    d.add(
        "G5",
        "Regulatory requirements",
        "EU AI Act Annex IV documentation generated (AI_ACT_ANNEX_IV.md).",
        todo="the regulatory classification of the system",
    )
    d.add("G6", "Application-specific ethical issues")
    d.add(
        "G7",
        "Social and environmental impact",
        compute(r),
        todo="social impact",
        hint="energy use was not recorded by this run",
    )
    return d.items
