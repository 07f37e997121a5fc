"""Facts from a run's audit section, as sentences for the checklist items.

The fairness audit's per-group rows, flags and thresholds (also rendered as tables by
:mod:`insightome.audit.documents`), the data audit (representation, missingness, proxies),
conformal coverage and the model's global explanation, from the run's ``results.json`` dict.
Only aggregates are used; group estimates whose count is suppressed are not shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from insightome.audit.checklist_items import (
    ci_text,
    count_cell,
    decimals,
    join_texts,
    mapping_rows,
    metric_name,
    min_cell_of,
    name_list,
    nested,
    significant,
    visible,
)
from insightome.audit.performance_figures import LABELS, figure, labelled, reference


def audit_model(r: Mapping[str, Any]) -> Mapping[str, Any]:
    m = nested(r, "audit", "model")
    return m if isinstance(m, Mapping) else {}


def group_rows(r: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The audit's per-group performance rows (empty when the audit did not run)."""
    return mapping_rows(audit_model(r).get("groups"))


def flag_rows(r: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return mapping_rows(audit_model(r).get("flags"))


def threshold_rows(r: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """The audit's decision thresholds as (name, value, source)."""
    thresholds = audit_model(r).get("thresholds")
    if not isinstance(thresholds, Mapping):
        return []
    rows = []
    for name, spec in thresholds.items():
        value = spec.get("value") if isinstance(spec, Mapping) else spec
        if isinstance(value, list | tuple):
            value = "–".join(significant(v) for v in value)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            value = significant(value)
        source = spec.get("source") if isinstance(spec, Mapping) else None
        rows.append((str(name), str(value), str(source or "not recorded")))
    return rows


def _explanation_flags(r: Mapping[str, Any]) -> list[str]:
    return [
        f"the model relies on sensitive attribute {f.get('feature')} "
        f"(importance {decimals(f.get('importance'))}; {f.get('status')}: {f.get('reason')})"
        for f in mapping_rows(nested(r, "audit", "explanations", "flags"))
    ]


def audit_flags(r: Mapping[str, Any], limit: int = 5) -> str | None:
    if not audit_model(r):
        return None
    flags = flag_rows(r)
    parts = [
        f"{f.get('attribute')} = {f.get('group')} on {metric_name(f.get('metric'))}: "
        f"{f.get('reason')}"
        for f in flags[:limit]
    ]
    if len(flags) > limit:
        parts.append(f"{len(flags) - limit} more in the 'Audit flags' table")
    text = (
        f"The fairness audit raised {len(flags)} group flag(s): " + "; ".join(parts) + "."
        if flags
        else "The fairness audit raised no group flags."
    )
    reliance = _explanation_flags(r)
    if reliance:
        text += " Explanations: " + "; ".join(reliance) + "."
    return join_texts(text, proxy_check(r))


def justifications(r: Mapping[str, Any]) -> str | None:
    just = nested(r, "audit", "justifications") or nested(
        r, "audit", "explanations", "justifications"
    )
    if not isinstance(just, Mapping) or not just:
        return None
    return "Declared justifications: " + "; ".join(f"{k}: {v}" for k, v in just.items()) + "."


def group_performance(r: Mapping[str, Any]) -> str | None:
    rows = group_rows(r)
    if not rows:
        return None
    attrs = sorted({str(g.get("attribute")) for g in rows})
    metrics = list(dict.fromkeys(metric_name(g.get("metric")) for g in rows))
    verdicts: dict[str, int] = {}
    for g in rows:
        verdicts[str(g.get("verdict"))] = verdicts.get(str(g.get("verdict")), 0) + 1
    text = (
        f"{len(rows)} group × metric rows over {name_list(attrs)} ({', '.join(metrics)}); "
        f"verdicts: {', '.join(f'{k} {v}' for k, v in verdicts.items())}."
    )
    primary = nested(r, "estimate", "metric")
    shown = [g for g in rows if g.get("metric") == primary] or rows
    listed = [
        f"{g.get('attribute')} = {g.get('group')} (n {count_cell(g, min_cell_of(r))}): "
        + (f"{decimals(g.get('value'))} {ci_text(g.get('ci95'))}" if visible(g) else "suppressed")
        for g in shown[:12]
    ]
    more = " …" if len(shown) > 12 else ""
    name = metric_name(shown[0].get("metric"))
    label, why = LABELS["group"]
    return (
        f"{text} {label[0].upper()}{label[1:]}, {name}: "
        + "; ".join(listed)
        + more
        + f" — {why} (all rows in the 'Per-group performance' table). {reference(r)}."
    )


def audit_overall(r: Mapping[str, Any], overall: Mapping[str, Any]) -> str:
    """The audit's overall figures under their label, the primary metric's against the
    estimate (they are the winner's pooled out-of-fold predictions, not corrected)."""
    primary = nested(r, "estimate", "metric")
    first = sorted(overall, key=lambda k: k != primary)
    figures = [
        f"{metric_name(k)} {decimals(nested(overall[k], 'value'))} "
        f"{ci_text(nested(overall[k], 'ci95'))}"
        for k in first
    ]
    own = nested(overall, str(primary))
    fig = figure("audit_overall", primary, nested(own, "value"), nested(own, "ci95"))
    if fig is None:
        return f"{LABELS['audit_overall'][0]}: " + "; ".join(figures)
    rest = "; ".join(figures[1:])
    return labelled(fig, r, metric_name) + (
        f". Other metrics, same predictions: {rest}" if rest else ""
    )


def fairness_audit(r: Mapping[str, Any]) -> str | None:
    m = audit_model(r)
    if not m:
        return None
    parts = []
    overall = m.get("overall")
    if isinstance(overall, Mapping) and overall:
        parts.append(audit_overall(r, overall))
    ref = m.get("reference")
    if isinstance(ref, Mapping) and ref:
        parts.append("reference groups " + ", ".join(f"{k} = {v}" for k, v in ref.items()))
    if m.get("min_group_size") is not None:
        parts.append(f"minimum group size {m['min_group_size']}")
    if threshold_rows(r):
        parts.append("thresholds and their sources in the 'Audit thresholds' table")
    text = "Fairness audit: " + "; ".join(parts) + "." if parts else None
    return join_texts(text, group_performance(r), audit_flags(r), conformal(r), justifications(r))


def conformal(r: Mapping[str, Any]) -> str | None:
    c = nested(r, "audit", "conformal")
    if not isinstance(c, Mapping) or not isinstance(c.get("marginal"), Mapping):
        return None
    marg = c["marginal"]
    below = [
        g for g in mapping_rows(c.get("groups")) if g.get("verdict") == "coverage below target"
    ]
    return (
        f"Conformal prediction at level {decimals(c.get('level'), 2)}: marginal coverage "
        f"{decimals(marg.get('coverage'))} (95% CI {ci_text(marg.get('ci95'))}); "
        f"{len(below)} group(s) with coverage below target."
    )


def _group_outcome(outcome: Any) -> str:
    """A group's outcome summary from the data audit (already suppressed there)."""
    if not isinstance(outcome, Mapping):
        return ""
    for key, label in (("prevalence", "prevalence"), ("event_rate", "event rate")):
        if outcome.get(key) is not None:
            return f", {label} {decimals(outcome[key])}"
    if outcome.get("mean") is not None:
        return f", mean {significant(outcome['mean'])}"
    return ""


def representation(r: Mapping[str, Any]) -> str | None:
    rows = mapping_rows(nested(r, "audit", "data", "representation"))
    if not rows:
        return None
    parts = [
        f"{g.get('attribute')} = {g.get('group')}: n {count_cell(g, min_cell_of(r))}"
        + (
            f" ({decimals(g.get('percent'), 1)}%{_group_outcome(g.get('outcome'))})"
            if visible(g) and g.get("percent") is not None
            else ""
        )
        for g in rows
    ]
    return "Representation by sensitive group: " + "; ".join(parts) + "."


def missing_by_group(r: Mapping[str, Any]) -> str | None:
    parts = []
    for block in mapping_rows(nested(r, "audit", "data", "missingness")):
        cells = [
            f"{g.get('group')} {decimals(g.get('mean_percent_missing'), 1)}%"
            for g in mapping_rows(block.get("by_group"))
            if visible(g) and g.get("mean_percent_missing") is not None
        ]
        if cells:
            parts.append(f"{block.get('attribute')}: {', '.join(cells)}")
    return "Mean % of missing feature values by group: " + "; ".join(parts) + "." if parts else None


def proxy_check(r: Mapping[str, Any]) -> str | None:
    proxies = nested(r, "audit", "data", "proxies")
    rows = mapping_rows(nested(proxies, "attributes"))
    if not rows:
        return None
    flagged = [
        f"{a.get('attribute')} (via {name_list(a.get('flagged_features') or [], 5) or 'all'}; "
        f"multivariate AUC {decimals(a.get('multivariate_auc'))})"
        for a in rows
        if a.get("flagged")
    ]
    return (
        f"Proxy check (AUC ≥ {nested(proxies, 'threshold') or 'n/a'}): "
        f"{len(flagged)} of {len(rows)} sensitive attribute(s) predictable from the features"
        + (": " + "; ".join(flagged) + "." if flagged else ".")
    )


def model_explanation(r: Mapping[str, Any]) -> str | None:
    e = nested(r, "audit", "explanations")
    rows = mapping_rows(nested(e, "features"))
    if not rows:
        return None
    listed = ", ".join(
        f"{x.get('feature')} {decimals(x.get('importance'))}"
        + {False: " (sign unstable)", None: " (no effect in any fold)"}.get(x.get("stable"), "")
        for x in rows[:8]
    )
    return (
        f"Global explanation of the model ({e.get('method', 'method not recorded')}; drop in "
        f"{metric_name(e.get('metric'))} when shuffled): {listed}."
    )
