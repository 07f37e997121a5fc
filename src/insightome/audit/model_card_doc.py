"""Model card (Mitchell et al., Model Cards for Model Reporting, FAT* 2019), item by item.

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
    conformal,
    group_performance,
    group_rows,
    justifications,
)
from insightome.audit.checklist_items import (
    MODEL_CARD,
    PIPELINE,
    SOFTWARE_LICENCE,
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
    decision_threshold,
    discovery,
    estimate,
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
    sensitive_attributes,
)


def model_card(
    results: Mapping[str, Any],
    card: Mapping[str, Any] | None = None,
    evidence: Evidence = NONE,
) -> list[ChecklistItem]:
    """Model card sections of Mitchell et al. (FAT* 2019), filled from the run."""
    r, c = as_mappings(results, card or {})
    d = ChecklistBuilder(MODEL_CARD)
    d.section = "Model details"
    d.add("1.1", "Person or organisation that developed the model")
    d.add("1.2", "Model date", f"Run finished {r['created']}." if r.get("created") else None)
    d.add("1.3", "Model version", model_version(r, c))
    d.add("1.4", "Model type, training algorithm, parameters", model_spec(r, c))
    d.add("1.5", "Input features", input_features(c))
    d.add("1.6", "Paper or resource for more information; how to cite", hint="citation")
    d.add(
        "1.7",
        "Licence",
        f"The insightome software that trained the model is licensed {SOFTWARE_LICENCE}.",
        todo="the licence of the trained model and of the data",
    )
    d.add("1.8", "Where to send questions or comments about the model")
    d.section = "Intended use"
    why = "the run cannot know what the model is for"
    d.add("2.1", "Primary intended uses", hint=why)
    d.add("2.2", "Primary intended users", hint=why)
    d.add("2.3", "Out-of-scope uses", hint=why)
    d.section = "Factors"
    d.add(
        "3.1",
        "Relevant factors (groups, instruments, environments) that affect performance",
        factors(r),
        todo="other relevant factors (instruments, environments, settings)",
        hint="no sensitive attribute, site or group column was declared",
    )
    attrs = sorted({str(g.get("attribute")) for g in group_rows(r)})
    d.add(
        "3.2",
        "Factors evaluated, and why",
        f"Performance evaluated per group of {name_list(attrs)}." if attrs else None,
        todo="why these factors were chosen" if attrs else None,
        hint="the fairness audit was not run",
    )
    d.section = "Metrics"
    d.add("4.1", "Performance measures, and why", join_texts(performance(r), metric_rationale(r)))
    d.add("4.2", "Decision thresholds, and why", decision_threshold(r) if r.get("task") else None)
    variation = (
        join_texts(resampling(r), bbc_why(r), permutation_test(r)) if resampling(r) else None
    )
    d.add("4.3", "How variation and uncertainty were estimated", variation)
    d.section = "Evaluation data"
    d.add(
        "5.1",
        "Data sets used for evaluation",
        join_texts(
            data_files(r),
            "Evaluated by cross-validation on the development data (internal).",
            validation_cohorts(evidence),
        )
        if data_files(r)
        else None,
        todo=None
        if evidence.validations
        else "any external evaluation data set (insightome validate)",
    )
    d.add("5.2", "Why these data were chosen", hint="motivation for the evaluation data")
    d.add("5.3", "Preprocessing of the evaluation data", join_texts(PIPELINE, run_notes(r)))
    d.section = "Training data"
    d.add(
        "6.1",
        "Training data and its distribution",
        join_texts(data_files(r), sample_size(r), outcome(r)),
    )
    d.section = "Quantitative analyses"
    d.add(
        "7.1",
        "Overall (unitary) results with uncertainty",
        join_texts(performance(r), conformal(r)),
    )
    d.add(
        "7.2",
        "Results per group and per intersection of groups",
        group_performance(r),
        hint="the fairness audit was not run: results.json has no audit section",
    )
    d.section = "Ethical considerations"
    d.add(
        "8.1",
        "Sensitive data used, and risks and harms",
        audit_flags(r),
        todo="an assessment of the sensitive data used and of the risks and harms",
        hint="risks and harms",
    )
    d.add(
        "8.2",
        "Mitigations",
        join_texts(
            "Declared sensitive attributes were not used as predictors."
            if sensitive_attributes(r) and not nested(r, "spec", "use_sensitive")
            else None,
            justifications(r),
        ),
        todo="other mitigation strategies and their effect",
    )
    d.section = "Caveats and recommendations"
    d.add("9.1", "Caveats raised by the run", join_texts(run_warnings(r), leakage_check(r)))
    d.add("9.2", "Sample size and uncertainty", join_texts(sample_size(r), estimate(r)))
    d.add("9.3", "Status of discovered features and hypotheses", discovery(r))
    d.add(
        "9.4",
        "External validation and further recommendations",
        join_texts(validation_text(r, evidence), monitoring_text(r, evidence)),
        todo=None if evidence.validations else "an external validation (insightome validate)",
        hint="no external validation or monitoring is recorded for this run; see insightome "
        "validate and insightome monitor",
    )
    return d.items
