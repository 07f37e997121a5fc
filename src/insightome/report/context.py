"""Turn a ``results.json`` dict into the plain values the report template shows.

The template does no arithmetic and no formatting: every number arrives here already
formatted (:mod:`insightome.report.formatting`), and every optional key of the results
schema (``docs/results-schema.md``) has a fallback, so a partial or older results dict
still renders. Nothing row-level from the predictions is ever put in the context; they
only feed the aggregated figures.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import PurePath
from typing import Any

import pandas as pd

from insightome.audit.evidence import NONE, Evidence
from insightome.audit.performance_figures import ESTIMATE, LABELS, reference
from insightome.options.checks import LEGACY_INTERVAL, LEGACY_POOLING
from insightome.report.audit_section import build_audit, build_documents, group_metric_labels
from insightome.report.augmentation_section import build_augmentation
from insightome.report.compute_section import build_compute
from insightome.report.design_section import design_paragraph
from insightome.report.discovery_section import build_discovery
from insightome.report.figures import build_figures, permutation_p
from insightome.report.formatting import (
    METRIC_MEANINGS,
    MISSING,
    as_float,
    as_mapping,
    compact,
    fmt,
    fmt_interval,
    fmt_p,
    fmt_raw,
    fmt_seconds,
    metric_label,
    plural,
)
from insightome.report.images_section import build_images
from insightome.report.leakage_section import build_leakage
from insightome.report.learning_curve_section import build_learning_curve
from insightome.report.notes_section import build_notes
from insightome.report.quantum_section import build_quantum
from insightome.report.validation_section import build_monitoring, build_validation

__all__ = ["build_context"]

TIMING_ORDER = (
    # the stages of a run (insightome.workflow.STAGES)
    "read",
    "study",
    "screen",
    "plan",
    "select",
    "estimate",
    "learn",
    "refit",
    "discover",
    "audit",
    "document",
    "write",
    # runs made before the stages (results.json "timings" of older runs)
    "load",
    "resampling",
    "estimation",
    "permutation",
    "final_fit",
    "discovery",
    "report",
    "total",
)
SPEC_KEYS: dict[str, tuple[str, ...]] = {
    "Sensitive attributes": (
        "sensitive",
        "sensitive_attributes",
        "sensitive_columns",
        "sensitive_features",
    ),
    "Groups (kept together in CV)": ("groups", "group", "group_column", "groups_column"),
    "Site / batch": ("site", "site_column", "batch", "batch_column"),
}
Row = dict[str, str]


def build_context(
    results: Mapping[str, Any], predictions: pd.DataFrame | None, evidence: Evidence = NONE
) -> dict[str, Any]:
    """Everything ``report.html.j2`` needs, formatted and in display order.

    ``evidence``: the run's validations and monitoring checks (the sections say "none
    recorded yet" without them).
    """
    return {
        "header": _header(results),
        "story": _story(results),
        "warnings": _strings(results.get("warnings")),
        "notes": _strings(results.get("notes")),
        "study": _study(results),
        "design": design_paragraph(results),
        "files": _files(results),
        "orientation": _orientation(results),
        "clinical_notes": build_notes(results),
        "images": build_images(results),
        "leakage": build_leakage(results),
        "figures": build_figures(results, predictions),
        "learning_curve": build_learning_curve(results),
        "augmentation": build_augmentation(results),
        "quantum": build_quantum(results),
        "configurations": _configurations(results),
        "secondary": _secondary(results),
        "audit": build_audit(results),
        "audit_metrics": group_metric_labels(results),
        "validation": build_validation(results, evidence),
        "monitoring": build_monitoring(results, evidence),
        "documents": build_documents(results),
        "discovery": build_discovery(results),
        "compute": build_compute(results),
        "reproducibility": _reproducibility(results),
    }


def _strings(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value if v is not None and str(v).strip()]


# -- 1. header ------------------------------------------------------------------------


def _interval_words(estimate: dict[str, Any]) -> dict[str, str]:
    """How the report names the interval: a 95% CI, or (``--bbc-interval calibrated`` /
    ``oob_scaled``) a narrowed interval, with what it was measured to cover."""
    interval = estimate.get("interval") or LEGACY_INTERVAL  # older results name none
    if interval == "calibrated":
        label = "interval, narrowed to target ≥ 90% coverage"
    elif interval == "oob_scaled":
        label = "interval, narrowed by the out-of-bag fraction (under 90% coverage measured)"
    else:
        return {"ci_label": "95% CI", "interval_word": "95% interval"}
    return {"ci_label": label, "interval_word": "interval"}


def _method(estimate: dict[str, Any]) -> str:
    """``BBC-CV``, with the scoring and interval named where they are not Tsamardinos et
    al.'s (one CV repeat per bootstrap, percentile interval): a reader who looks the method
    up finds that one, so today's default, which scores every repeat, is named too."""
    method = str(estimate.get("method") or "BBC-CV")
    pooling = estimate.get("pooling") or LEGACY_POOLING  # older results name none
    interval = estimate.get("interval") or LEGACY_INTERVAL
    if (pooling, interval) == (LEGACY_POOLING, LEGACY_INTERVAL):
        return method
    scored = f"{method}, bootstraps scored on {POOLING_WORDS.get(pooling, pooling)}"
    return scored if interval == LEGACY_INTERVAL else f"{scored}, {interval} interval"


#: how the report names each ``--bbc-pooling``
POOLING_WORDS = {"all_repeats": "all repeats", "one_repeat": "one repeat", "per_fold": "each fold"}


def _header(results: Mapping[str, Any]) -> dict[str, Any]:
    estimate = as_mapping(results.get("estimate"))
    metric = estimate.get("metric")
    value = as_float(estimate.get("value"))
    plain = as_float(estimate.get("plain_cv_value"))
    optimism = as_float(estimate.get("optimism"))
    if math.isnan(optimism) and not (math.isnan(value) or math.isnan(plain)):
        optimism = plain - value
    permutation = as_mapping(results.get("permutation"))
    p_value = permutation_p(results)
    n_perm = permutation.get("n")
    if n_perm is None and permutation.get("null"):
        n_perm = len(permutation["null"])
    n_configs = len(results.get("configurations") or [])
    return {
        "name": fmt(results.get("name")),
        "created": fmt(results.get("created")),
        "task": fmt(results.get("task")),
        "metric": metric_label(metric),
        "meaning": METRIC_MEANINGS.get(str(metric), ""),
        "chance": fmt(as_float(estimate.get("chance_level"))),
        "value": fmt(value),
        "ci": fmt_interval(estimate.get("ci95")),
        "method": fmt(_method(estimate)),
        **_interval_words(estimate),
        "n_bootstrap": fmt(estimate.get("n_bootstrap")),
        "plain_cv_value": fmt(plain),
        "optimism": fmt(optimism),
        "n_configurations": n_configs,
        "configurations_word": "configuration" if n_configs == 1 else "configurations",
        "permutation_run": not math.isnan(p_value),
        "permutation_p": fmt_p(p_value),
        "permutation_n": fmt(n_perm),
        "winner": fmt(as_mapping(results.get("winner")).get("name")),
        "winner_family": fmt(as_mapping(results.get("winner")).get("family")),
    }


def _story(results: Mapping[str, Any]) -> dict[str, str]:
    """The labels of the run's performance figures (one wording with the documents)."""
    story = {"estimate": ESTIMATE, "reference": reference(results)}
    for key in ("winner_cv", "group", "signature_full_cv", "signature"):
        story[key], story[f"{key}_why"] = LABELS[key]
    size = as_mapping(as_mapping(results.get("discovery")).get("signature")).get("size")
    story["signature_why"] = story["signature_why"].format(size=size or "few")
    return story


# -- 3. study and data ----------------------------------------------------------------


def _study(results: Mapping[str, Any]) -> list[Row]:
    outcome = as_mapping(results.get("outcome"))
    task = results.get("task")
    detected = results.get("task_detected")
    how = {True: " (detected from the outcome)", False: " (given by the user)"}.get(detected, "")
    decision = as_mapping(outcome.get("task_detection"))
    if decision.get("final_task") and decision.get("final_task") != decision.get("task"):
        how = (
            f" ({fmt(decision.get('task'))} detected; 2 classes left once small ones were left out)"
        )
    rows: list[Row] = [{"label": "Task", "value": fmt(task) + how}]
    if task == "survival":
        rows.append(
            {
                "label": "Outcome",
                "value": f"time: {fmt(outcome.get('time'))}, event: {fmt(outcome.get('event'))}",
            }
        )
        n_events = outcome.get("n_events")
        n = results.get("n_samples")
        events = fmt(n_events)
        if isinstance(n_events, int) and isinstance(n, int) and n > 0:
            events = (
                f"{n_events} of {n} samples ({100 * n_events / n:.1f}%), {n - n_events} censored"
            )
        rows.append({"label": "Events", "value": events})
    else:
        rows.append({"label": "Outcome", "value": fmt(outcome.get("target"))})
    counts = as_mapping(outcome.get("class_counts"))
    classes = outcome.get("classes") or list(counts)
    if classes:
        rows.append(
            {
                "label": "Classes (samples)",
                "value": " · ".join(
                    f"{c}: {fmt(counts.get(str(c), counts.get(c)))}" for c in classes
                ),
            }
        )
    if outcome.get("positive_class") is not None:
        rows.append({"label": "Positive class", "value": fmt(str(outcome["positive_class"]))})
    summary = as_mapping(outcome.get("summary"))
    if summary:
        rows.append(
            {
                "label": "Outcome summary",
                "value": ", ".join(
                    f"{k} {fmt(as_float(summary.get(k)))}"
                    for k in ("mean", "sd", "min", "max")
                    if k in summary
                ),
            }
        )
    rows += [
        {"label": "Samples", "value": fmt(results.get("n_samples"))},
        {"label": "Features used", "value": fmt(results.get("n_features"))},
        {
            "label": "Features dropped (constant or all-missing)",
            "value": fmt(results.get("n_features_dropped")),
        },
    ]
    joined = as_mapping(as_mapping(results.get("data")).get("annotations"))
    if joined:
        rows.append({"label": "Annotation table", "value": annotation_summary(joined)})
    spec = as_mapping(results.get("spec"))
    for label, keys in SPEC_KEYS.items():
        value = next((spec[k] for k in keys if k in spec and spec[k] not in (None, "", [])), None)
        rows.append({"label": label, "value": "none" if value is None else _names(value)})
    return rows


def annotation_summary(joined: Mapping[str, Any]) -> str:
    """The annotation table in one line: which of its columns were features, which were
    not, and the samples left out for want of a row (results.json data.annotations)."""
    used, other = list(joined.get("features") or []), list(joined.get("not_features") or [])
    text = (
        f"columns used as features (--annotation-features): {', '.join(map(str, used))}"
        if used
        else "no column used as a feature"
    )
    if other:
        shown = ", ".join(map(str, other[:8])) + (", …" if len(other) > 8 else "")
        text += f"; not used as features: {len(other)} ({shown})"
    dropped = joined.get("data_without_annotations") or []
    if dropped:
        text += f"; {len(dropped)} data sample(s) without a row left out (--drop-unmatched)"
    return text


def _names(value: Any) -> str:
    """Column name(s) from the spec: a list joined by commas, anything else as configured."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        return ", ".join(fmt_raw(v) for v in value)
    return fmt_raw(value)


def _files(results: Mapping[str, Any]) -> list[Row]:
    """The input files by name and SHA-256: a shared report does not show the layout of
    the author's disk (results.json keeps the full paths for the author)."""
    rows = []
    for f in as_mapping(results.get("data")).get("files") or []:
        f = as_mapping(f)
        sha = str(f.get("sha256") or "")
        rows.append(
            {
                "role": fmt(f.get("role")),
                "path": fmt(PurePath(str(f["path"])).name if f.get("path") else None),
                "format": fmt(f.get("format")),
                "n_rows": fmt(f.get("n_rows")),
                "n_cols": fmt(f.get("n_cols")),
                "sha_short": sha[:12] + "…" if len(sha) > 12 else (sha or MISSING),
                "sha": sha or MISSING,
            }
        )
    return rows


def _orientation(results: Mapping[str, Any]) -> Row:
    data = as_mapping(results.get("data"))
    return {"value": fmt(data.get("orientation")), "reason": fmt(data.get("orientation_reason"))}


# -- 5./6. tables ---------------------------------------------------------------------


def _configurations(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    winner = as_mapping(results.get("winner")).get("name")
    configs = [as_mapping(c) for c in results.get("configurations") or []]

    def order(c: Mapping[str, Any]) -> tuple[bool, float]:
        v = as_float(c.get("cv_value"))
        return (math.isnan(v), -v if not math.isnan(v) else 0.0)

    rows = []
    for rank, c in enumerate(sorted(configs, key=order), start=1):
        rows.append(
            {
                "rank": rank,
                "name": fmt(c.get("name")),
                "family": fmt(c.get("family")),
                "params": fmt_raw(c.get("params")) if c.get("params") else "default parameters",
                "cv_value": fmt(as_float(c.get("cv_value"))),
                "cv_sd": fmt(as_float(c.get("cv_sd"))),
                "failed_folds": fmt(c.get("failed_folds")),
                "fit_seconds": fmt(as_float(c.get("fit_seconds"))),
                "winner": winner is not None and c.get("name") == winner,
            }
        )
    return rows


def _secondary(results: Mapping[str, Any]) -> list[Row]:
    rows = []
    for name, entry in as_mapping(results.get("secondary")).items():
        entry = as_mapping(entry)
        rows.append(
            {
                "metric": metric_label(name),
                "value": fmt(as_float(entry.get("value"))),
                "ci": fmt_interval(entry.get("ci95")),
                "plain": fmt(as_float(entry.get("plain_cv_value"))),
            }
        )
    return rows


# -- 7. reproducibility ---------------------------------------------------------------


def _reproducibility(results: Mapping[str, Any]) -> dict[str, Any]:
    resampling = as_mapping(results.get("resampling"))
    seeds = as_mapping(results.get("seeds"))
    winner = as_mapping(results.get("winner"))
    versions = as_mapping(results.get("versions"))
    timings = as_mapping(results.get("timings"))
    first = [k for k in ("python", "insightome") if k in versions]
    version_rows = [
        {"name": k, "value": fmt(versions[k])}
        for k in first + sorted(k for k in versions if k not in first)
    ]
    timing_keys = [k for k in TIMING_ORDER if k in timings] + sorted(
        k for k in timings if k not in TIMING_ORDER
    )
    return {
        "summary": _resampling_words(resampling),
        "resampling": [
            {"name": k, "value": fmt(resampling.get(k))}
            for k in ("folds", "repeats", "stratified", "grouped", "n_bootstrap", "seed")
            if k in resampling
        ],
        "seeds": [
            {
                "name": k,
                "value": compact(seeds[k])
                if isinstance(seeds[k], Sequence) and not isinstance(seeds[k], str)
                else fmt(seeds[k]),
            }
            for k in seeds
        ],
        "winner_params": [
            {"name": str(k), "value": fmt_raw(v)}
            for k, v in as_mapping(winner.get("params")).items()
        ],
        "spec": [
            {"name": str(k), "value": fmt_raw(v)}
            for k, v in as_mapping(results.get("spec")).items()
        ],
        "versions": version_rows,
        "timings": [{"name": k, "value": fmt_seconds(timings[k])} for k in timing_keys],
        "schema": fmt(results.get("schema")),
        "insightome_version": fmt(versions.get("insightome")),
    }


def _resampling_words(resampling: Mapping[str, Any]) -> str:
    if not resampling:
        return ""
    folds, repeats = resampling.get("folds"), resampling.get("repeats")
    text = f"{fmt(folds)}-fold cross-validation"
    if isinstance(repeats, int) and repeats > 1:
        text += f", repeated {plural(repeats, 'time')}"
    kinds = [
        w for k, w in (("stratified", "stratified"), ("grouped", "grouped")) if resampling.get(k)
    ]
    if kinds:
        text += f" ({' and '.join(kinds)})"
    if resampling.get("n_bootstrap") is not None:
        text += f"; {fmt(resampling.get('n_bootstrap'))} bootstrap samples for BBC-CV"
    return text + "."
