"""Evidence gathered after the run: external validations and monitoring checks.

``insightome validate`` writes ``RUN/validations/<stamp>-<cohort>/validation.json`` and
``insightome monitor`` ``RUN/monitoring/<stamp>-<batch>/monitor.json``; those records are
the state (:func:`insightome.living_documents.read_evidence` reads them back). An
:class:`Evidence` holds them, oldest first, and this module words them for the documents:
the latest record in full (cohort or batch by file name and sha256, size, metrics with
95% CIs under their label, the overlap or drift status, the date) and a count of the earlier
ones. Only aggregates are quoted: the records hold no row-level data, and monitoring group
results are not repeated here (they are in each ``monitor.md``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from insightome.audit.checklist_items import file_name, metric_name, nested
from insightome.audit.performance_figures import figure, interval, labelled, number


@dataclass(frozen=True)
class Evidence:
    """The validation and monitoring records of a run, each oldest first."""

    validations: tuple[Mapping[str, Any], ...] = ()
    monitoring: tuple[Mapping[str, Any], ...] = ()

    @property
    def latest_validation(self) -> Mapping[str, Any] | None:
        return self.validations[-1] if self.validations else None

    @property
    def latest_monitoring(self) -> Mapping[str, Any] | None:
        return self.monitoring[-1] if self.monitoring else None


NONE = Evidence()


def date(record: Mapping[str, Any]) -> str:
    """The record's date (``YYYY-MM-DD``), from its ``created`` stamp."""
    return str(record.get("created") or "n/a")[:10]


def _sha(value: Any) -> str:
    return f"sha256 `{str(value)[:12]}…`" if value else "no sha256 (in-memory data)"


def _earlier(records: tuple[Mapping[str, Any], ...], what: str, folder: str) -> str:
    n = len(records) - 1
    if n <= 0:
        return ""
    dates = ", ".join(date(r) for r in records[:-1][-5:])
    return f" {n} earlier {what}{'' if n == 1 else 's'} in {folder}/ ({dates})."


def validation_metrics(r: Mapping[str, Any], v: Mapping[str, Any], model: str = "full") -> str:
    """A validated model's metrics; the deployed model's primary one labelled against the
    estimate, first."""
    metrics = nested(v, "models", model, "metrics")
    if not isinstance(metrics, Mapping):
        return "no metrics recorded"
    primary = nested(r, "estimate", "metric") if model == "full" else None
    first, others = [], []
    for name, m in metrics.items():
        fig = figure("validation", name, nested(m, "value"), nested(m, "ci95"))
        if fig is None:
            continue
        if name == primary:
            first.append(labelled(fig, r, metric_name))
        else:
            others.append(f"{metric_name(name)} {number(fig.value)} {interval(fig.ci95)}")
    if first and others:
        return f"{first[0]}. Other metrics: " + "; ".join(others)
    return "; ".join(first + others) or "no metrics recorded"


def validation_text(r: Mapping[str, Any], evidence: Evidence) -> str | None:
    """The latest external validation, and how many came before it; None when none."""
    v = evidence.latest_validation
    if v is None:
        return None
    cohort = v.get("cohort") if isinstance(v.get("cohort"), Mapping) else {}
    text = (
        f"External validation of {date(v)} on cohort '{file_name(cohort.get('path'))}' "
        f"({_sha(cohort.get('sha256'))}), {cohort.get('n_samples', 'n/a')} samples with an "
        f"outcome; status: {v.get('status', 'not recorded')}. Deployed model, "
        f"{validation_metrics(r, v, 'full')}."
    )
    if isinstance(nested(v, "models", "signature"), Mapping):
        text += f" Minimal signature model: {validation_metrics(r, v, 'signature')}."
    if v.get("bootstrap"):
        text += f" 95% CIs: {v['bootstrap']}."
    warnings = [str(w) for w in v.get("warnings") or []]
    if warnings:
        text += " Warnings: " + "; ".join(warnings) + "."
    return text + _earlier(evidence.validations, "validation", "validations")


def validation_cohorts(evidence: Evidence) -> str | None:
    """Every validation cohort by name, size and date (evaluation data sets)."""
    if not evidence.validations:
        return None
    parts = [
        f"'{file_name(nested(v, 'cohort', 'path'))}' ({nested(v, 'cohort', 'n_samples')} "
        f"samples, {date(v)})"
        for v in evidence.validations
    ]
    return "External validation cohort(s), scored by insightome validate: " + ", ".join(parts) + "."


def monitoring_text(r: Mapping[str, Any], evidence: Evidence) -> str | None:
    """The latest monitoring check, and how many came before it; None when none."""
    m = evidence.latest_monitoring
    if m is None:
        return None
    data = m.get("data") if isinstance(m.get("data"), Mapping) else {}
    drift = nested(m, "drift", "summary", "status") or "drift not recorded"
    text = (
        f"Monitoring check of {date(m)} on batch '{data.get('name', 'n/a')}' "
        f"({_sha(data.get('sha256'))}), {data.get('n_samples', 'n/a')} samples: {drift}."
    )
    p = m.get("performance")
    if isinstance(p, Mapping):
        fig = figure("monitoring", p.get("metric"), p.get("value"), p.get("ci95"))
        if fig is not None:
            status = str(p.get("status") or "")
            text += f" Performance, {labelled(fig, r, metric_name, status=status)}."
        else:
            text += f" Performance: {p.get('status', 'not measured')}"
            text += f" ({p['reason']})." if p.get("reason") else "."
        below = [
            f"{col} = {g}"
            for col, groups in (p.get("groups") or {}).items()
            if isinstance(groups, Mapping)
            for g, row in groups.items()
            if isinstance(row, Mapping) and row.get("drop")
        ]
        if below:
            text += " Groups below the development estimate: " + ", ".join(below) + "."
    else:
        text += " Performance not measured (no outcome given)."
    notes = [str(n) for n in m.get("notes") or []]
    if notes:
        text += " Notes: " + "; ".join(notes) + "."
    return text + _earlier(evidence.monitoring, "monitoring check", "monitoring")
