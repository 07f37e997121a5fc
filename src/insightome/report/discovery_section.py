"""The report's "Discovery" section, from ``results["discovery"]`` (docs/hypotheses.md).

Every number is formatted here; the template only lays it out. Nothing row-level is
shown: subgroup tables are counts hidden upstream by the small-cell rule
(:mod:`insightome.groups.disclosure`), shown here by their markers, and features are named,
patients never.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from insightome.groups.disclosure import MIN_CELL, SUPPRESSED, count_text, is_hidden
from insightome.report import discovery_plots
from insightome.report.figures import FigureItem, attempt_figure
from insightome.report.formatting import (
    MISSING,
    as_float,
    as_mapping,
    fmt,
    fmt_interval,
    fmt_p,
    fmt_time,
    metric_label,
    plural,
)

__all__ = ["build_discovery"]

TOP_HYPOTHESES = 25
TOP_STABILITY = 20
TOP_PATHWAYS = 15


def _num(value: Any, default: float) -> float:
    v = as_float(value)
    return v if math.isfinite(v) else default


def build_discovery(results: Mapping[str, Any]) -> dict[str, Any] | None:
    """Everything the discovery section shows, or None when the run had no discovery."""
    found = as_mapping(results.get("discovery"))
    if not found:
        return None
    metric = metric_label(str(as_mapping(results.get("estimate")).get("metric", "")))
    return {
        "status": found.get("status", "data-driven, unvalidated"),
        "signature": _signature(as_mapping(found.get("signature")), metric),
        "stability": _stability(as_mapping(found.get("stability"))),
        "figures": _figures(found, metric),
        "effects": _effects(as_mapping(found.get("effects"))),
        "equivalents": [
            {
                "member": str(e.get("member")),
                "equivalent": str(e.get("equivalent")),
                "correlation": fmt(e.get("correlation")),
                "strength": f"{fmt(e.get('strength'))} vs {fmt(e.get('member_strength'))}",
            }
            for e in found.get("equivalents") or []
        ],
        "attribution": _attribution(as_mapping(found.get("attribution"))),
        "pathways": _pathways(found.get("pathways")),
        "subgroups": _subgroups(found.get("subgroups"), _time_column(results)),
        "hypotheses": _hypotheses(as_mapping(found.get("hypotheses"))),
        "notes": [str(n) for n in found.get("notes") or []],
    }


def _signature(sig: Mapping[str, Any], metric: str) -> dict[str, Any] | None:
    if not sig:
        return None
    est = as_mapping(sig.get("estimate"))
    return {
        "size": sig.get("size"),
        "features": [str(f) for f in sig.get("features") or []],
        "estimate": fmt(est.get("value")),
        "ci": fmt_interval(est.get("ci95")),
        "plain": fmt(est.get("plain_cv_value")),
        "full": fmt(sig.get("full_model_cv_value")),
        "tolerance": fmt(sig.get("tolerance")),
        "within": bool(sig.get("within_tolerance")),
        "fold_stability": fmt(sig.get("fold_signature_stability")),
        "metric": metric,
        "notes": [str(n) for n in sig.get("notes") or []],
    }


def _stability(stab: Mapping[str, Any]) -> dict[str, Any] | None:
    if not stab:
        return None
    return {
        "q": stab.get("q"),
        "threshold": fmt(stab.get("threshold")),
        "n_subsamples": stab.get("n_subsamples"),
        "n_stable": stab.get("n_stable", 0),
        "stable": [str(s) for s in stab.get("stable") or []],
        "bound": fmt(stab.get("expected_false_stable_bound")),
        "nogueira": fmt(stab.get("nogueira_stability")),
    }


def _figures(found: Mapping[str, Any], metric: str) -> list[FigureItem]:
    figures = []
    sig = as_mapping(found.get("signature"))
    if sig.get("cv_by_size"):
        rows = sig["cv_by_size"]
        figures.append(
            attempt_figure(
                "signature-size",
                "Signature size against performance",
                "Each point is a model refitted on the top-m features of each training fold "
                "(ranked there by stability selection) and scored on the held-out fold; the "
                "dashed line is the full model and the band the tolerance "
                f"({fmt(sig.get('tolerance'))}).",
                "Line plot of cross-validated performance by signature size",
                lambda: discovery_plots.signature_size_plot(
                    [r["size"] for r in rows],
                    [as_float(r.get("cv_value")) for r in rows],
                    _num(sig.get("full_model_cv_value"), 0.0),
                    _num(sig.get("tolerance"), 0.0),
                    int(sig.get("size") or 0),
                    metric,
                ),
            )
        )
    stab = as_mapping(found.get("stability"))
    top = [t for t in stab.get("top") or [] if _num(t.get("frequency"), 0.0) > 0][:TOP_STABILITY]
    if top:
        figures.append(
            attempt_figure(
                "stability",
                "Selection frequency of the top features",
                "How often each feature is among the first q to enter a sparse model fitted on "
                "half of the samples (features never selected are not shown); blue bars reach "
                "the stability threshold.",
                "Bar chart of selection frequencies",
                lambda: discovery_plots.stability_plot(
                    [str(t["feature"]) for t in top],
                    [_num(t.get("frequency"), 0.0) for t in top],
                    _num(stab.get("threshold"), 0.75),
                ),
            )
        )
    return figures


def _effects(effects: Mapping[str, Any]) -> dict[str, Any] | None:
    if not effects:
        return None
    rows = [
        {
            "feature": str(e.get("feature")),
            "effect_name": str(e.get("effect_name") or MISSING),
            "effect": fmt(e.get("effect")),
            "ci": f"{fmt(e.get('ci_low'))} – {fmt(e.get('ci_high'))}",
            "q": fmt_p(as_float(e.get("q_value"))),
            "direction": str(e.get("direction") or ""),
        }
        for e in (effects.get("top") or [])[:20]
    ]
    return {"n_tested": effects.get("n_tested"), "n_fdr": effects.get("n_fdr_0_05"), "top": rows}


def _attribution(attr: Mapping[str, Any]) -> dict[str, Any] | None:
    if not attr:
        return None
    rows = [
        {
            "feature": str(a.get("feature")),
            "importance": fmt(a.get("importance")),
            "sd": fmt(a.get("sd")),
            "positive": fmt(a.get("positive_fraction")),
        }
        for a in attr.get("features") or []
    ]
    return {"metric": metric_label(str(attr.get("metric") or "")), "rows": rows}


def _pathways(pathways: Any) -> dict[str, Any] | None:
    """The pathway tables: ORA lists only gene sets that hold a signature gene (a set with
    overlap 0 was tested, and counts in the FDR, but has nothing to show), GSEA the sets with
    the smallest FDR; a line under each says how many were tested and how many are listed."""
    p = as_mapping(pathways)
    if not p:
        return None

    def rows(table: Any, enrichment: str, genes: str) -> list[dict[str, str]]:
        return [
            {
                "pathway": str(r.get("pathway")),
                "size": fmt(r.get("set_size")),
                "enrichment": fmt(r.get(enrichment)),
                "fdr": fmt_p(as_float(r.get("fdr"))),
                "genes": ", ".join(str(r.get(genes) or "").split(";")[:8]),
            }
            for r in table[:TOP_PATHWAYS]
        ]

    ora = [r for r in p.get("ora") or [] if isinstance(r, Mapping)]
    hit = [r for r in ora if _num(r.get("overlap"), 0.0) >= 1]
    prerank = [r for r in p.get("prerank") or [] if isinstance(r, Mapping)]
    mapping = as_mapping(p.get("mapping"))
    return {
        "ora": rows(hit, "fold_enrichment", "genes"),
        "ora_note": (
            _listed_note(len(ora), len(hit), "hold at least one signature gene", "p-value")
            if ora
            else ""
        ),
        "prerank": rows(prerank, "nes", "leading_edge"),
        "prerank_note": (_listed_note(len(prerank), len(prerank), "", "FDR") if prerank else ""),
        "mapped": f"{mapping.get('n_mapped', MISSING)} of {mapping.get('n_features', MISSING)}",
        "warnings": [str(w) for w in p.get("warnings") or []],
    }


def _listed_note(n_tested: int, n_eligible: int, which: str, order: str) -> str:
    """'47 gene sets tested (the FDR is over all 47); the 8 that hold at least one signature
    gene are listed; the 39 with none are left out.'"""
    text = f"{plural(n_tested, 'gene set')} tested (the FDR is over all {n_tested}); "
    if which and n_eligible == 1:
        which = which.replace("hold ", "holds ", 1)
    pool = f"the {n_eligible} that {which}" if which else f"the {n_eligible}"
    if n_eligible > TOP_PATHWAYS:
        text += f"of {pool}, the {TOP_PATHWAYS} with the smallest {order} are listed"
    elif which:
        text += f"{pool} {'is' if n_eligible == 1 else 'are'} listed"
    else:
        text += "it is listed" if n_eligible == 1 else f"all {n_eligible} are listed"
    left_out = n_tested - n_eligible
    if which and left_out:
        text += f"; the {left_out} with none {'is' if left_out == 1 else 'are'} left out"
    return text + "."


def _time_column(results: Mapping[str, Any]) -> str | None:
    """The survival time column (its name carries the unit), None for other tasks."""
    for part in ("outcome", "spec"):
        time = as_mapping(results.get(part)).get("time")
        if isinstance(time, str) and time:
            return time
    return None


def _subgroups(subgroups: Any, time_column: str | None = None) -> dict[str, Any] | None:
    s = as_mapping(subgroups)
    if not s:
        return None
    test = as_mapping(as_mapping(s.get("outcome")).get("test"))
    chosen = next((r for r in s.get("stability") or [] if r.get("k") == s.get("k")), {})
    return {
        "k": s.get("k"),
        "stability": fmt(chosen.get("mean_ari")),
        "by_k": [
            {"k": r.get("k"), "ari": fmt(r.get("mean_ari")), "sd": fmt(r.get("sd"))}
            for r in s.get("stability") or []
        ],
        "sizes": s.get("sizes") or [],
        "outcome": [
            _outcome_row(row, int(as_mapping(s.get("settings")).get("min_cell") or 10), time_column)
            for row in as_mapping(s.get("outcome")).get("table") or []
        ],
        "test": f"{test.get('name', MISSING)}: p = {fmt_p(as_float(test.get('p_value')))}",
        "features_used": len(s.get("features_used") or []),
        "composition": {
            str(col): [
                _suppressed_row(row, int(c.get("suppressed_below") or MIN_CELL))
                for row in c.get("table") or []
            ]
            for col, c in as_mapping(s.get("composition")).items()
        },
        "notes": [str(n) for n in s.get("notes") or []],
    }


def _outcome_row(
    row: Mapping[str, Any], min_cell: int, time_column: str | None = None
) -> dict[str, str]:
    """One subgroup's outcome, readable: 'rate (95% CI)' per class, median or mean (CI).

    A median time is in plain digits under its column's name ('median OS.time (95% CI),
    units of OS.time'); an upper bound the Kaplan–Meier curve never reaches is 'not reached'.

    Counts hidden by the small-cell rule arrive as None with their marker, and so does every
    rate computed from them (a rate and the subgroup size would give the count back).
    """
    out = {"subgroup": str(row.get("subgroup")), "n": count_text(row, "n", min_cell)}
    for key, value in row.items():
        if key.startswith("rate_") and not key.endswith(("_lo", "_hi")):
            cls = key[len("rate_") :]
            if value is None or is_hidden(row, f"n_{cls}"):
                out[f"{cls}: rate"] = f"suppressed (n {count_text(row, f'n_{cls}', min_cell)})"
            else:
                lo, hi = row.get(f"{key}_lo"), row.get(f"{key}_hi")
                out[f"{cls}: rate"] = f"{fmt(value)} ({fmt(lo)}–{fmt(hi)})"
    if "events" in row:
        out["events"] = count_text(row, "events", min_cell)
    if "mean" in row:
        shown = SUPPRESSED if is_hidden(row, "n") else fmt(row["mean"])
        lo, hi = (None, None) if is_hidden(row, "n") else (row.get("mean_lo"), row.get("mean_hi"))
        out["mean (95% CI)"] = f"{shown} ({fmt(lo)}–{fmt(hi)})"
    if "median_time" in row:
        column = time_column or "time"
        label = f"median {column} (95% CI), units of {column}"
        if is_hidden(row, "n"):
            out[label] = f"{SUPPRESSED} ({MISSING}–{MISSING})"
        else:
            median, hi = (
                "not reached" if v is None else fmt_time(v)
                for v in (row.get("median_time"), row.get("median_hi"))
            )
            out[label] = f"{median} ({fmt_time(row.get('median_lo'))}–{hi})"
    return out


def _suppressed_row(row: Mapping[str, Any], min_cell: int) -> dict[str, str]:
    """A composition row: shown counts, and the marker of each hidden one."""
    return {str(k): count_text(row, str(k), min_cell) if k != "subgroup" else str(v)
            for k, v in row.items() if k != "suppressed"}  # fmt: skip


def _hypotheses(h: Mapping[str, Any]) -> dict[str, Any] | None:
    if not h:
        return None
    return {
        "n": h.get("n", 0),
        "rows": [
            {
                "rank": r.get("rank"),
                "kind": str(r.get("kind")),
                "statement": str(r.get("statement")),
                "score": fmt(r.get("score")),
                "how": str(r.get("how_to_test")),
            }
            for r in (h.get("top") or [])[:TOP_HYPOTHESES]
        ],
    }
