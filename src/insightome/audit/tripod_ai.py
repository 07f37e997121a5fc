"""TRIPOD+AI checklist (Collins et al., BMJ 2024;385:e078378), item by item.

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
    audit_model,
    fairness_audit,
    group_performance,
    group_rows,
    missing_by_group,
    proxy_check,
    representation,
)
from insightome.audit.checklist_items import (
    PIPELINE,
    SOFTWARE_LICENCE,
    TRIPOD_AI,
    ChecklistBuilder,
    ChecklistItem,
    as_mappings,
    bbc_why,
    join_texts,
    name_list,
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
    data_files,
    data_sha_prefixes,
    decision_threshold,
    discovery,
    estimate,
    factors,
    input_features,
    leakage_check,
    metric_rationale,
    model_files,
    model_spec,
    outcome,
    performance,
    permutation_test,
    resampling,
    run_notes,
    run_warnings,
    sample_size,
    winning_model,
)


def tripod_ai(
    results: Mapping[str, Any],
    card: Mapping[str, Any] | None = None,
    evidence: Evidence = NONE,
) -> list[ChecklistItem]:
    """TRIPOD+AI checklist (Collins et al., BMJ 2024): 27 items, 52 with their sub-items."""
    r, c = as_mappings(results, card or {})
    d = ChecklistBuilder(TRIPOD_AI)
    task, spec = r.get("task"), r.get("spec") or {}
    _title_and_introduction(d, r, task, evidence)
    _methods_data(d, r, spec, evidence)
    _methods_predictors(d, r, c, spec)
    _methods_analysis(d, r, c, task, spec)
    _methods_evaluation(d, r, task, evidence)
    _open_science(d, r)
    _results(d, r, c, evidence)
    _discussion(d, r)
    return d.items


def _title_and_introduction(
    d: ChecklistBuilder, r: Mapping[str, Any], task: Any, evidence: Evidence
) -> None:
    """Items 1–4: title, abstract, introduction and objectives."""
    d.section = "Title and abstract"
    d.add("1", "Title: development/evaluation study, target population, outcome")
    d.add("2", "Abstract following TRIPOD+AI for Abstracts")
    d.section = "Introduction"
    d.add("3a", "Healthcare context, rationale and existing models")
    d.add(
        "3b",
        "Target population, intended purpose in the care pathway, intended users",
        hint="intended purpose: the run cannot know it",
    )
    d.add("3c", "Known health inequalities between sociodemographic groups")
    n_val = len(evidence.validations)
    external = (
        f"external validation on {n_val} cohort(s) with insightome validate"
        if n_val
        else "no external evaluation"
    )
    d.add(
        "4",
        "Objectives, including development and/or evaluation",
        f"This run developed a {task} prediction model of '{nested(r, 'outcome', 'target')}' with "
        f"internal validation (cross-validation with BBC-CV); {external}."
        if task
        else None,
        todo="the study objectives",
    )


def _methods_data(
    d: ChecklistBuilder, r: Mapping[str, Any], spec: Mapping[str, Any], evidence: Evidence
) -> None:
    """Items 5a–8c: data sources, participants, data preparation and outcome."""
    d.section = "Methods"
    d.add(
        "5a",
        "Data sources for development/evaluation, rationale, representativeness",
        join_texts(data_files(r), validation_cohorts(evidence)),
        todo="the type of source, the rationale and the representativeness",
    )
    d.add("5b", "Dates of data collection, accrual and follow-up")
    d.add(
        "6a",
        "Setting, number and location of centres",
        f"Site column '{spec['site']}' declared." if spec.get("site") else None,
        todo="the setting and the centres",
    )
    removed = [str(n) for n in r.get("notes") or [] if "removed" in str(n)]
    d.add(
        "6b",
        "Eligibility criteria",
        join_texts(sample_size(r), f"Run: {'; '.join(removed)}." if removed else None),
        todo="the eligibility criteria for participants",
    )
    d.add("6c", "Treatments received and how they were handled")
    d.add(
        "7",
        "Data preparation and quality checks, and whether similar across groups",
        join_texts(PIPELINE, run_notes(r), representation(r), missing_by_group(r), proxy_check(r)),
        todo=None
        if nested(r, "audit", "data")
        else "quality checks across sociodemographic groups",
    )
    d.add(
        "8a",
        "Outcome definition, time horizon, how and when assessed",
        outcome(r),
        todo="how, when and by whom the outcome was assessed, and why it was chosen",
    )
    d.add("8b", "Qualifications and demographics of outcome assessors, if subjective")
    d.add("8c", "Blinding of outcome assessment")


def _methods_predictors(
    d: ChecklistBuilder, r: Mapping[str, Any], c: Mapping[str, Any], spec: Mapping[str, Any]
) -> None:
    """Items 9a–11: predictors, study size and missing data."""
    excl = [str(x) for x in spec.get("exclude") or []]
    d.add(
        "9a",
        "Choice of initial predictors and any pre-selection",
        f"All available features were offered ({r.get('n_features', 'n/a')} after dropping "
        f"{r.get('n_features_dropped', 0)} constant or all-missing)"
        + (f"; excluded by the authors: {name_list(excl)}" if excl else "")
        + "; any univariate selection happened inside the training folds."
        + (f" {leakage_check(r)}" if leakage_check(r) else "")
        if r.get("n_features") is not None
        else None,
        todo="why these candidate predictors",
    )
    d.add(
        "9b",
        "Definition and measurement of all predictors",
        input_features(c),
        todo="how and when each predictor was measured",
    )
    d.add("9c", "Qualifications and demographics of predictor assessors, if subjective")
    d.add(
        "10",
        "Study size and its justification",
        join_texts(sample_size(r), run_warnings(r)) if sample_size(r) else None,
        todo="the justification of the study size",
    )
    d.add(
        "11",
        "Handling of missing data",
        "Samples with a missing outcome were removed; missing predictor values are imputed with "
        "the training-fold median (numeric) or most frequent level (categorical), fitted inside "
        "each training fold, and with the training values at prediction."
        + (f" {run_notes(r)}" if run_notes(r) else ""),
    )


def _methods_analysis(
    d: ChecklistBuilder,
    r: Mapping[str, Any],
    c: Mapping[str, Any],
    task: Any,
    spec: Mapping[str, Any],
) -> None:
    """Items 12a–12g: analytical methods."""
    use = join_texts("All samples were used for development:", resampling(r), bbc_why(r))
    d.add(
        "12a",
        "How the data were used (partitioning, internal validation)",
        use if resampling(r) else None,
    )
    d.add("12b", "Handling of predictors (form, scaling, transformation)", PIPELINE)
    d.add(
        "12c",
        "Model type, rationale, building steps, tuning, internal validation",
        join_texts(model_spec(r, c), resampling(r), permutation_test(r))
        if winning_model(r)
        else None,
    )
    cluster, grouped = spec.get("groups") or spec.get("site"), nested(r, "resampling", "grouped")
    d.add(
        "12d",
        "Heterogeneity across clusters (e.g. centres)",
        f"Cluster column '{cluster}' declared; cross-validation "
        + ("kept each cluster within one fold." if grouped else "did not group by it.")
        if cluster
        else None,
        todo="whether and how heterogeneity across clusters was quantified",
        hint="no cluster or site column was declared",
    )
    d.add(
        "12e",
        "Performance measures and plots, and why",
        join_texts(metric_rationale(r), "Plots: report.html of the run."),
    )
    d.add(
        "12f",
        "Model updating arising from the evaluation",
        "No updating or recalibration was done by the run.",
    )
    d.add(
        "12g",
        "How predictions were calculated for evaluation",
        join_texts(
            "Out-of-fold predictions of the refitted pipeline (predictions.csv).", model_files(c)
        ),
    )


def _methods_evaluation(
    d: ChecklistBuilder, r: Mapping[str, Any], task: Any, evidence: Evidence
) -> None:
    """Items 13–16: class imbalance, fairness, model output, evaluation data."""
    d.add(
        "13",
        "Class imbalance methods and any recalibration",
        join_texts("No re-weighting or resampling of classes.", decision_threshold(r))
        if task in ("binary", "multiclass")
        else f"Not applicable ({task} outcome)."
        if task
        else None,
    )
    d.add(
        "14",
        "Approaches to model fairness and their rationale",
        join_texts(factors(r), fairness_audit(r)),
        todo=None if audit_model(r) else "the fairness approach (the audit was not run)",
        hint="no sensitive attribute was declared and the audit was not run",
    )
    d.add(
        "15",
        "Model output and how any classification thresholds were chosen",
        decision_threshold(r) if task else None,
    )
    d.add(
        "16",
        "Differences between development and evaluation data",
        join_texts(
            "Internal validation: the evaluation folds come from the development data.",
            validation_text(r, evidence) or "No external evaluation data recorded yet.",
        ),
        todo="differences with any external evaluation data (case mix, setting, definitions)",
    )


def _open_science(d: ChecklistBuilder, r: Mapping[str, Any]) -> None:
    """Items 17–19: ethics, open science and patient and public involvement."""
    d.add("17", "Ethics approval and informed consent")
    for sub, what in (
        ("18a", "Funding and role of funders"),
        ("18b", "Conflicts of interest"),
        ("18c", "Protocol availability"),
        ("18d", "Registration"),
    ):
        d.add(sub, what)
    d.add("18e", "Availability of the study data", hint=f"data sha256 {data_sha_prefixes(r)}")
    d.add(
        "18f",
        "Availability of the analysis code",
        f"insightome {nested(r, 'versions', 'insightome') or ''} ({SOFTWARE_LICENCE}); every "
        "option of the run is recorded in results.json (invocation).".replace("  ", " "),
        todo="where the code and configuration can be obtained",
    )
    d.add("19", "Patient and public involvement")


def _results(
    d: ChecklistBuilder, r: Mapping[str, Any], c: Mapping[str, Any], evidence: Evidence
) -> None:
    """Items 20a–24: results."""
    d.section = "Results"
    d.add(
        "20a",
        "Flow of participants, with and without the outcome",
        join_texts(sample_size(r), outcome(r)),
        todo="the participant flow (diagram) and follow-up",
    )
    d.add(
        "20b",
        "Characteristics of participants overall and per group",
        join_texts(outcome(r), representation(r), missing_by_group(r)),
        todo="predictor distributions, key dates and missing data per data source",
    )
    d.add(
        "20c",
        "Comparison of development and evaluation data distributions",
        join_texts(validation_cohorts(evidence), monitoring_text(r, evidence)),
        todo=None
        if evidence.monitoring
        else "a comparison of the distributions "
        "(insightome monitor compares new data with the development data)",
        hint="no external evaluation or monitoring data recorded for this run",
    )
    folds = nested(r, "resampling", "folds")
    n = r.get("n_samples")
    d.add(
        "21",
        "Participants and events in each analysis",
        f"Development and tuning: all {n} samples; each of the {folds} folds trains on about "
        f"{round(n * (folds - 1) / folds)} and tests on about {round(n / folds)}. "
        + (sample_size(r) or "")
        if isinstance(n, int) and isinstance(folds, int) and folds > 1
        else None,
    )
    d.add(
        "22",
        "Full model specification, and access restrictions",
        join_texts(model_spec(r, c), model_files(c)) if winning_model(r) else None,
        todo="access conditions and restrictions on re-use",
    )
    d.add(
        "23a",
        "Performance with CIs, including key subgroups",
        join_texts(performance(r), group_performance(r), validation_text(r, evidence)),
        todo=None if group_rows(r) else "performance in key subgroups (audit not run)",
    )
    d.add("23b", "Heterogeneity of performance across clusters", hint="not examined by the run")
    d.add("24", "Results of any model updating", "No model updating was performed.")


def _discussion(d: ChecklistBuilder, r: Mapping[str, Any]) -> None:
    """Items 25–27c: discussion."""
    d.section = "Discussion"
    d.add("25", "Overall interpretation, including fairness")
    d.add(
        "26",
        "Limitations (sample, size, overfitting, missing data)",
        join_texts(run_warnings(r), estimate(r), discovery(r)),
        todo="the discussion of bias, uncertainty and generalisability",
    )
    d.add(
        "27a",
        "Handling of poor-quality or missing inputs in use",
        "At prediction, missing values are imputed with the training values; unknown "
        "categorical levels are ignored; absent features stop insightome predict.",
        todo="how input quality is assessed in practice",
    )
    d.add("27b", "User interaction and expertise needed", hint="users and their expertise")
    d.add(
        "27c",
        "Next steps for research, applicability and generalisability",
        hint="e.g. external validation with insightome validate",
    )
