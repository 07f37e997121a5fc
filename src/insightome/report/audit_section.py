"""The report's "Audit" and "Documentation" sections, from ``results["audit"]``/``["documents"]``.

Counts hidden by the audit's small-cell rule (:mod:`insightome.groups.disclosure`) arrive as
None with their marker ("<k", or "suppressed" for a complementary cell) and are shown as
that marker; nothing row-level is ever shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from insightome.groups.disclosure import NOTE, count_text
from insightome.report import audit_plots
from insightome.report.figures import FigureItem, attempt_figure
from insightome.report.formatting import (
    MISSING,
    as_float,
    as_mapping,
    fmt,
    fmt_interval,
    fmt_setting,
    metric_label,
    verdict_mark,
)

__all__ = ["build_audit", "build_documents"]

DOCUMENT_FILES = {
    "model_card": ("MODEL_CARD.md", "Model Card (Mitchell et al. 2019)"),
    "tripod_ai": ("TRIPOD_AI.md", "TRIPOD+AI checklist (Collins et al. 2024)"),
    "ai_act_annex_iv": ("AI_ACT_ANNEX_IV.md", "EU AI Act Annex IV technical documentation"),
    "future_ai": ("FUTURE_AI.md", "FUTURE-AI checklist (Lekadir et al. 2025)"),
}
VERDICT_CLASS = {
    "flag": "verdict-flag",
    "coverage below target": "verdict-flag",
    "insufficient evidence": "verdict-unknown",
    "no disparity detected": "verdict-ok",
    "coverage consistent with target": "verdict-ok",
    "reference": "verdict-ref",
    "reported, not judged": "",
}


def _n(row: Mapping[str, Any], min_cell: int) -> str:
    return count_text(row, "n", min_cell)


def build_audit(results: Mapping[str, Any]) -> dict[str, Any] | None:
    """Everything the audit section shows, or None when the run was not audited."""
    audit = as_mapping(results.get("audit"))
    if not audit:
        return None
    settings = as_mapping(audit.get("settings"))
    min_cell = int(as_float(settings.get("min_cell")) if settings.get("min_cell") else 10)
    model = as_mapping(audit.get("model"))
    return {
        "settings": {
            "min_group_size": settings.get("min_group_size", MISSING),
            "min_cell": min_cell,
            "suppression": NOTE.format(k=min_cell),
            "level": fmt(settings.get("conformal_level")),
        },
        "flags": [
            {k: str(f.get(k, "")) for k in ("attribute", "group", "metric", "reason")}
            for f in model.get("flags") or []
        ],
        # how each attribute became its groups: codes, value labels, age bands (one line each)
        "codings": [
            str(as_mapping(c).get("text", "")) for c in as_mapping(audit.get("codings")).values()
        ],
        "representation": _representation(as_mapping(audit.get("data")), min_cell),
        "proxies": _proxies(as_mapping(audit.get("data"))),
        "confounding": as_mapping(as_mapping(audit.get("data")).get("confounding")),
        "groups": _groups(model, min_cell),
        "thresholds": [
            {"name": name, "value": fmt_setting(t.get("value")), "source": str(t.get("source", ""))}
            for name, t in as_mapping(model.get("thresholds")).items()
        ],
        "conformal": _conformal(as_mapping(audit.get("conformal")), min_cell),
        "explanations": as_mapping(audit.get("explanations")),
        "figures": _figures(model),
        "notes": [str(n) for n in audit.get("notes") or []]
        + [str(n) for n in model.get("notes") or []]
        + [str(n) for n in as_mapping(audit.get("data")).get("notes") or []],
    }


def _representation(data: Mapping[str, Any], min_cell: int) -> list[dict[str, str]]:
    rows = []
    for r in data.get("representation") or []:
        outcome = as_mapping(r.get("outcome"))
        if "prevalence" in outcome and outcome["prevalence"] is None:
            shown = f"positives {count_text(outcome, 'n_positive', min_cell)}"
        elif "event_rate" in outcome and outcome["event_rate"] is None:
            shown = f"events {count_text(outcome, 'events', min_cell)}"
        elif "prevalence" in outcome:
            shown = f"{fmt(outcome['prevalence'])} ({fmt_interval(outcome.get('prevalence_ci95'))})"
        elif "event_rate" in outcome:
            shown = f"event rate {fmt(outcome['event_rate'])}"
        elif "mean" in outcome:
            shown = f"mean {fmt(outcome['mean'])}"
        else:
            shown = ", ".join(f"{k} {fmt(v)}" for k, v in outcome.items() if k != "n")[:120]
        rows.append(
            {
                "attribute": str(r.get("attribute")),
                "group": str(r.get("group")),
                "n": _n(r, min_cell),
                "percent": fmt(r.get("percent"), 1) if r.get("percent") is not None else MISSING,
                "outcome": shown or MISSING,
            }
        )
    return rows


def _proxies(data: Mapping[str, Any]) -> dict[str, Any] | None:
    proxies = as_mapping(data.get("proxies"))
    if not proxies:
        return None
    return {
        "threshold": fmt(proxies.get("threshold")),
        "rationale": str(proxies.get("rationale", "")),
        "rows": [
            {
                "attribute": str(a.get("attribute")),
                "multivariate": fmt(a.get("multivariate_auc")),
                "max_univariate": fmt(a.get("max_univariate_auc")),
                "n_flagged": str(a.get("n_flagged_features", 0)),
                "top": ", ".join(
                    f"{t.get('feature')} ({fmt(t.get('auc'))})"
                    for t in (a.get("top_features") or [])[:3]
                ),
            }
            for a in proxies.get("attributes") or []
        ],
    }


def _groups(model: Mapping[str, Any], min_cell: int) -> list[dict[str, Any]]:
    """One row per attribute × group, one cell per metric: 'value (CI)' + verdict class."""
    metrics = [str(m) for m in model.get("metrics") or []]
    table: dict[tuple[str, str], dict[str, Any]] = {}
    for r in model.get("groups") or []:
        key = (str(r.get("attribute")), str(r.get("group")))
        row = table.setdefault(
            key,
            {"attribute": key[0], "group": key[1], "n": _n(r, min_cell), "cells": {}},
        )
        verdict = str(r.get("verdict") or "")
        value = r.get("value")
        text = (
            MISSING
            if value is None
            else f"{fmt(value)} ({fmt_interval(r.get('ci95'))})"
            + (f"; Δ {fmt(r.get('difference'))}" if r.get("difference") is not None else "")
        )
        row["cells"][str(r.get("metric"))] = {
            "text": text,
            "verdict": verdict,
            "mark": verdict_mark(verdict),
            "css": VERDICT_CLASS.get(verdict, ""),
        }
    empty = {"text": MISSING, "verdict": "", "mark": "", "css": ""}
    return [
        {**row, "cells": [row["cells"].get(m, empty) for m in metrics]}
        for row in table.values()
    ] if metrics else []  # fmt: skip


def group_metric_labels(results: Mapping[str, Any]) -> list[str]:
    model = as_mapping(as_mapping(results.get("audit")).get("model"))
    return [metric_label(str(m)) for m in model.get("metrics") or []]


def _conformal(conformal: Mapping[str, Any], min_cell: int) -> dict[str, Any] | None:
    if not conformal or "marginal" not in conformal:
        if not conformal:
            return None
        return {"rows": [], "notes": [str(n) for n in conformal.get("notes") or []]}
    marginal = as_mapping(conformal.get("marginal"))
    size_key = "mean_size" if "mean_size" in marginal else "mean_width"
    return {
        "level": fmt(conformal.get("level")),
        "marginal": f"{fmt(marginal.get('coverage'))} ({fmt_interval(marginal.get('ci95'))})",
        "size_label": "mean set size" if size_key == "mean_size" else "mean interval width",
        "size": fmt(marginal.get(size_key)),
        "rows": [
            {
                "attribute": str(g.get("attribute")),
                "group": str(g.get("group")),
                "n": _n(g, min_cell),
                "coverage": f"{fmt(g.get('coverage'))} ({fmt_interval(g.get('ci95'))})",
                "mondrian": (
                    f"{fmt(g.get('mondrian_coverage'))} ({fmt_interval(g.get('mondrian_ci95'))})"
                ),
                "size": fmt(g.get(size_key)),
                "verdict": str(g.get("verdict", "")),
                "css": VERDICT_CLASS.get(str(g.get("verdict", "")), ""),
            }
            for g in conformal.get("groups") or []
        ],
        "notes": [str(n) for n in conformal.get("notes") or []],
    }


def _figures(model: Mapping[str, Any]) -> list[FigureItem]:
    metrics = [str(m) for m in model.get("metrics") or []]
    if not metrics or not model.get("groups"):
        return []
    primary = metrics[0]
    rows = [r for r in model.get("groups") or [] if r.get("metric") == primary]
    overall = as_mapping(as_mapping(model.get("overall")).get(primary))
    return [
        attempt_figure(
            "audit-forest",
            f"{metric_label(primary)} by group",
            "Each group's out-of-fold performance with its bootstrap 95% CI; the dashed line "
            "is the whole cohort. Flagged groups are diamonds marked [flag], the reference group "
            "a square marked [ref]; groups too small for a verdict are drawn hollow.",
            f"Forest plot of {metric_label(primary)} per sensitive group",
            lambda: audit_plots.group_forest_plot(rows, overall, metric_label(primary)),
        )
    ]


def build_documents(results: Mapping[str, Any]) -> list[dict[str, str]]:
    """One row per generated document: file, title and how much the run could fill."""
    docs = as_mapping(results.get("documents"))
    rows = []
    for key, (filename, title) in DOCUMENT_FILES.items():
        d = as_mapping(docs.get(key))
        if not d:
            continue
        rows.append(
            {
                "file": filename,
                "title": title,
                "n_items": str(d.get("n_items", MISSING)),
                "filled": str(d.get("n_filled", MISSING)),
                "partial": str(d.get("n_partial", MISSING)),
                "to_complete": str(d.get("n_to_complete", MISSING)),
            }
        )
    return rows
