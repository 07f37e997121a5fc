"""The report's "Validation" and "Monitoring" sections, from the run's records after the run.

The records are the ``validation.json`` files under ``RUN/validations/`` and the
``monitor.json`` files under ``RUN/monitoring/``, read back as an
:class:`insightome.audit.evidence.Evidence` (oldest first). Each section shows the latest
record in full and the earlier ones as one line each; with no record it says so. Cohorts
and batches are named by file name and sha256 (never a path of the machine); monitoring
groups are shown with the sizes the monitoring report published (hidden sizes as their
marker, their estimates hidden).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from insightome.audit.evidence import Evidence, date, file_name
from insightome.audit.performance_figures import ESTIMATE, LABELS, estimate_value
from insightome.groups.disclosure import count_text
from insightome.report.formatting import as_mapping, fmt, fmt_interval, metric_label

__all__ = ["build_monitoring", "build_validation"]

MODEL_NAMES = {"full": "deployed model", "signature": "minimal signature model"}


def _sha(value: Any) -> str:
    return f"{str(value)[:12]}…" if value else "–"


def _validation_rows(v: Mapping[str, Any], primary: str) -> list[dict[str, str]]:
    rows = []
    for model, entry in as_mapping(v.get("models")).items():
        for metric, m in as_mapping(as_mapping(entry).get("metrics")).items():
            m = as_mapping(m)
            rows.append(
                {
                    "model": MODEL_NAMES.get(str(model), str(model)),
                    "metric": metric_label(metric),
                    "value": fmt(m.get("value")),
                    "ci": fmt_interval(m.get("ci95")),
                    "primary": metric == primary and model == "full",
                }
            )
    return rows


def _validation(v: Mapping[str, Any], primary: str) -> dict[str, Any]:
    cohort = as_mapping(v.get("cohort"))
    return {
        "date": date(v),
        "cohort": file_name(cohort.get("path")),
        "sha256": _sha(cohort.get("sha256")),
        "n": fmt(cohort.get("n_samples")),
        "n_without_outcome": fmt(cohort.get("n_without_outcome")),
        "status": str(v.get("status") or "not recorded"),
        "overlap": bool(as_mapping(v.get("training_overlap")).get("n_overlap")),
        "rows": _validation_rows(v, primary),
        "bootstrap": str(v.get("bootstrap") or ""),
        "warnings": [str(w) for w in v.get("warnings") or []],
    }


def _primary(value: Any, fallback: Any) -> str:
    return str(value) if value else str(fallback or "")


def build_validation(results: Mapping[str, Any], evidence: Evidence) -> dict[str, Any]:
    """The latest validation in full, the earlier ones in brief; ``latest`` None when none."""
    primary = _primary(as_mapping(results.get("estimate")).get("metric"), "")
    records = [_validation(v, primary) for v in evidence.validations]
    return {
        "latest": records[-1] if records else None,
        "earlier": records[:-1][::-1],
        "label": LABELS["validation"][0],
        "why": LABELS["validation"][1],
        "estimate_name": ESTIMATE,
        "estimate": estimate_value(results) or "–",
        "metric": metric_label(primary),
    }


def _group_rows(p: Mapping[str, Any], min_cell: int) -> list[dict[str, str]]:
    rows = []
    for column, groups in as_mapping(p.get("groups")).items():
        for group, g in as_mapping(groups).items():
            g = as_mapping(g)
            n = count_text(g, "n", min_cell) if g.get("n") is None else fmt(g.get("n"))
            rows.append(
                {
                    "group": f"{column} = {group}",
                    "n": n,
                    "value": fmt(g.get("value")),
                    "ci": fmt_interval(g.get("ci95")),
                    "status": str(g.get("status") or "–"),
                    "drop": bool(g.get("drop")),
                }
            )
    return rows


def _monitoring(m: Mapping[str, Any]) -> dict[str, Any]:
    data = as_mapping(m.get("data"))
    summary = as_mapping(as_mapping(m.get("drift")).get("summary"))
    p = as_mapping(m.get("performance"))
    min_cell = int(m.get("min_cell") or 10)
    performance = None
    if p:
        performance = {
            "metric": metric_label(p.get("metric")),
            "n": fmt(p.get("n")) if p.get("n") is not None else count_text(p, "n", min_cell),
            "value": fmt(p.get("value")),
            "ci": fmt_interval(p.get("ci95")),
            "status": str(p.get("status") or "–"),
            "reason": str(p.get("reason") or ""),
            "drop": bool(p.get("drop")),
            "groups": _group_rows(p, min_cell),
        }
    return {
        "date": date(m),
        "batch": str(data.get("name") or "–"),
        "sha256": _sha(data.get("sha256")),
        "n": fmt(data.get("n_samples")),
        "drift": str(summary.get("status") or "not recorded"),
        "major": [str(f) for f in summary.get("major") or []],
        "moderate": [str(f) for f in summary.get("moderate") or []],
        "performance": performance,
        "notes": [str(n) for n in m.get("notes") or []],
    }


def build_monitoring(results: Mapping[str, Any], evidence: Evidence) -> dict[str, Any]:
    """The latest monitoring check in full, the earlier ones in brief."""
    records = [_monitoring(m) for m in evidence.monitoring]
    return {
        "latest": records[-1] if records else None,
        "earlier": records[:-1][::-1],
        "label": LABELS["monitoring"][0],
        "why": LABELS["monitoring"][1],
        "estimate_name": ESTIMATE,
        "estimate": estimate_value(results) or "–",
    }
