"""EU AI Act (Regulation (EU) 2024/1689) Annex IV technical documentation, point by point.

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
    audit_model,
    fairness_audit,
    group_performance,
    group_rows,
    model_explanation,
    representation,
)
from insightome.audit.checklist_items import (
    AI_ACT,
    MONITOR,
    OVERSIGHT,
    PIPELINE,
    ChecklistBuilder,
    ChecklistItem,
    as_mappings,
    bbc_why,
    join_texts,
    metric_name,
    nested,
)
from insightome.audit.evidence import (
    NONE,
    Evidence,
    monitoring_text,
    validation_text,
)
from insightome.audit.run_facts import (
    attribution,
    candidates,
    compute,
    data_files,
    decision_threshold,
    factors,
    input_features,
    leakage_check,
    metric_rationale,
    model_spec,
    model_version,
    outcome,
    performance,
    permutation_test,
    resampling,
    run_notes,
    run_warnings,
    sample_size,
    software_versions,
    winning_model,
)


def ai_act_annex_iv(
    results: Mapping[str, Any],
    card: Mapping[str, Any] | None = None,
    evidence: Evidence = NONE,
) -> list[ChecklistItem]:
    """Technical documentation of Regulation (EU) 2024/1689, Annex IV points 1–9."""
    r, c = as_mappings(results, card or {})
    d = ChecklistBuilder(AI_ACT)
    _general_description(d, r, c)
    _development(d, r, c)
    _oversight_and_testing(d, r, evidence)
    _monitoring_to_post_market(d, r, c, evidence)
    return d.items


def _general_description(d: ChecklistBuilder, r: Mapping[str, Any], c: Mapping[str, Any]) -> None:
    """Section 1: general description of the AI system."""
    d.section = "1. General description of the AI system"
    d.add(
        "1(a)",
        "Intended purpose, provider, version",
        model_version(r, c),
        todo="the intended purpose and the provider",
    )
    d.add(
        "1(b)",
        "Interaction with other hardware, software or AI systems",
        "The model is a scikit-learn pipeline stored with joblib; it reads a table with the "
        f"{len(c['features'])} named training features (model.json)."
        if c.get("features")
        else None,
        todo="the systems it interacts with in deployment",
    )
    d.add(
        "1(c)",
        "Versions of relevant software and update requirements",
        software_versions(r),
        todo="requirements for version updates",
    )
    d.add("1(d)", "Forms in which the system is placed on the market or put into service")
    d.add(
        "1(e)",
        "Hardware on which it is intended to run",
        f"Developed on {nested(r, 'compute', 'cpu_model')}."
        if nested(r, "compute", "cpu_model")
        else None,
        todo="the intended deployment hardware",
    )
    d.add("1(f)", "Photographs or illustrations of products it is part of, if any")
    d.add(
        "1(g)",
        "User interface provided to the deployer",
        "insightome provides a command line: insightome predict RUN_DIR DATA writes per-sample"
        " outputs. " + OVERSIGHT,
        todo="the interface of the deployed system",
    )
    d.add("1(h)", "Instructions for use for the deployer")


def _development(d: ChecklistBuilder, r: Mapping[str, Any], c: Mapping[str, Any]) -> None:
    """Section 2, points (a)–(d): development methods, design, architecture, data."""
    d.section = "2. Elements of the AI system and its development process"
    d.add(
        "2(a)",
        "Development methods and steps, third-party tools and pre-trained systems",
        join_texts(model_spec(r, c), "No pre-trained system was used.", software_versions(r))
        if winning_model(r)
        else None,
    )
    d.add(
        "2(b)",
        "Design specifications: logic, key choices, assumptions, optimisation target, "
        "expected output, trade-offs",
        join_texts(
            candidates(r),
            f"Optimised for {metric_name(nested(r, 'estimate', 'metric'))}.",
            decision_threshold(r),
            factors(r),
        )
        if winning_model(r)
        else None,
        todo="the rationale, assumptions about the persons concerned and trade-offs",
    )
    d.add(
        "2(c)",
        "System architecture and computational resources",
        join_texts(PIPELINE, compute(r)),
        todo=None if compute(r) else "the computational resources (not recorded by this run)",
    )
    d.add(
        "2(d)",
        "Data: datasheets, provenance, scope, characteristics, labelling, cleaning",
        join_texts(
            data_files(r),
            sample_size(r),
            outcome(r),
            leakage_check(r),
            run_notes(r),
            representation(r),
        ),
        todo="how the data were obtained and selected, and the labelling procedure",
    )


def _oversight_and_testing(d: ChecklistBuilder, r: Mapping[str, Any], evidence: Evidence) -> None:
    """Section 2, points (e)–(h): oversight, changes, validation, cybersecurity."""
    d.add(
        "2(e)",
        "Human oversight measures (Art. 14) and aids to interpret outputs",
        join_texts(OVERSIGHT, decision_threshold(r), model_explanation(r), attribution(r)),
        todo="the oversight procedures of the deployer (who reviews, when, how)",
    )
    d.add(
        "2(f)",
        "Pre-determined changes to the system and its performance",
        "The model is fixed: retraining creates a new run with a new model sha256.",
        todo="any planned changes and how compliance is kept",
    )
    d.add(
        "2(g)",
        "Validation and testing: data, metrics (accuracy, robustness, "
        "discrimination), dated and signed test reports",
        join_texts(
            resampling(r),
            performance(r),
            permutation_test(r),
            fairness_audit(r),
            validation_text(r, evidence),
            f"Test report: report.html, results.json ({r['created']})."
            if r.get("created")
            else None,
        ),
        todo="dated signatures of the responsible persons"
        + ("" if audit_model(r) else "; the assessment of discriminatory impacts"),
    )
    d.add(
        "2(h)",
        "Cybersecurity measures",
        "insightome refuses to load a model whose file does not match the sha256 in model.json"
        "; joblib files must only be loaded from trusted sources.",
        todo="the cybersecurity measures of the deployed system",
    )


def _monitoring_to_post_market(
    d: ChecklistBuilder, r: Mapping[str, Any], c: Mapping[str, Any], evidence: Evidence
) -> None:
    """Sections 3–9: monitoring, metrics, risks, lifecycle, standards, conformity, post-market."""
    d.section = "3. Monitoring, functioning and control"
    d.add(
        "3(a)",
        "Capabilities and limitations, accuracy overall and for groups of persons",
        join_texts(
            performance(r), group_performance(r), validation_text(r, evidence), run_warnings(r)
        ),
        todo=None if group_rows(r) else "accuracy for specific groups (audit not run)",
    )
    d.add(
        "3(b)",
        "Foreseeable unintended outcomes and risks (health, safety, rights, discrimination)",
        hint=audit_flags(r) or "no fairness audit flags available",
    )
    d.add("3(c)", "Human oversight measures", OVERSIGHT, todo="the deployer's oversight procedures")
    d.add("3(d)", "Input data specifications", input_features(c))
    d.section = "4. Appropriateness of the performance metrics"
    d.add(
        "4",
        "Why the metrics suit this system",
        join_texts(metric_rationale(r), bbc_why(r)),
        todo="why the metrics fit the intended purpose",
    )
    d.section = "5. Risk management system (Art. 9)"
    d.add(
        "5",
        "Risk management system",
        hint=join_texts(
            "inputs from the run:", audit_flags(r) or "no fairness audit was run.", run_warnings(r)
        ),
    )
    d.section = "6. Changes through the lifecycle"
    d.add(
        "6",
        "Relevant changes made through the lifecycle",
        f"This document describes run '{r.get('name', 'n/a')}' created {r.get('created', 'n/a')}."
        if r.get("name")
        else None,
        todo="the change log across versions",
    )
    d.section = "7. Standards applied"
    d.add(
        "7",
        "Harmonised standards or other solutions and specifications applied",
        "Documentation follows Model Cards (Mitchell et al. 2019), TRIPOD+AI (Collins et al. "
        "2024) and FUTURE-AI (Lekadir et al. 2025).",
        todo="the harmonised standards applied",
    )
    d.section = "8. EU declaration of conformity"
    d.add("8", "Copy of the EU declaration of conformity (Art. 47)")
    d.section = "9. Post-market monitoring (Art. 72)"
    d.add(
        "9",
        "System to evaluate performance after placing on the market, and its plan",
        join_texts(MONITOR, monitoring_text(r, evidence) or "No monitoring check recorded yet."),
        todo="the post-market monitoring plan",
    )
