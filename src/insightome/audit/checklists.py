"""The four documentation checklists, item by item, filled from a run's results and model card.

Each builder takes the run's ``results.json`` dict and its ``model.json`` dict (the model
card) and returns :class:`ChecklistItem` objects in the guideline's order. An item the run
can answer carries the run's own numbers (status ``filled``); an item it can answer in part
says what is still missing (``partially filled``); every other item reads exactly
:data:`TO_COMPLETE`. Nothing is invented: the requirements are short paraphrases of the
guidelines, and every number comes from the results. Only aggregates are used; group counts
suppressed by the audit (``None``) or below 10 are shown as ``<10``.

References are listed in :mod:`insightome.audit.documents`, which also renders the items.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

TO_COMPLETE = "to be completed by the authors"
FILLED = "filled"
PARTIAL = "partially filled"
STATUSES = (FILLED, PARTIAL, TO_COMPLETE)
SOFTWARE_LICENCE = "BSD-3-Clause"
MIN_CELL = 10
SUPPRESSED = "<10"

MODEL_CARD = "Model card"
TRIPOD_AI = "TRIPOD+AI"
AI_ACT = "EU AI Act Annex IV"
FUTURE_AI = "FUTURE-AI"

_METRICS = {
    "auc": ("AUC", "discrimination: how often a random positive is scored above a random negative"),
    "auc_macro_ovr": ("macro one-vs-rest AUC", "discrimination, averaged over the classes"),
    "r2": ("R²", "share of the outcome's variance explained"),
    "c_index": ("C-index (Harrell)", "concordance of predicted risk with event order"),
    "balanced_accuracy": ("balanced accuracy", "mean per-class recall at the threshold"),
    "tpr": ("TPR", "true-positive rate (sensitivity) at the threshold"),
    "fpr": ("FPR", "false-positive rate at the threshold"),
    "fnr": ("FNR", "false-negative rate at the threshold"),
    "brier": ("Brier score", "mean squared error of the probabilities (calibration)"),
    "rmse": ("RMSE", "typical prediction error, in the outcome's units"),
    "mae": ("MAE", "mean absolute error, in the outcome's units"),
    "time_dependent_auc": ("time-dependent AUC", "discrimination at the median event time"),
}
_PIPELINE = (
    "Each candidate is one scikit-learn pipeline refitted inside every training fold: numeric "
    "features median-imputed and standardised, categorical features mode-imputed and one-hot "
    "encoded (unseen levels ignored), optional univariate selection of the top k features "
    "(k=all: none), then the model; nothing learnt from the data crosses a fold boundary."
)
_BBC_WHY = (
    "BBC-CV (bootstrap bias-corrected CV, Tsamardinos et al. 2018) removes the optimism of "
    "reporting the best of several configurations scored on the same folds, without the cost "
    "of nested CV: each bootstrap selects the best configuration in-bag and scores it out-of-bag;"
    " the 95% CI is the 2.5th–97.5th percentile of those out-of-bag scores."
)
_OVERSIGHT = (
    "`insightome predict` appends every prediction to the run's prediction log "
    "(prediction_log.jsonl: time, model sha256, input sha256, sample ID, output), and "
    "`insightome review` records a reviewer's override of a prediction, with name and reason, "
    "in the same log."
)
_MONITOR = (
    "`insightome monitor` compares a new batch with this run's development data (population "
    "stability index, standardised mean differences, missingness) and, when outcomes are "
    "known, its performance overall and per sensitive group against the BBC-CV estimate."
)


@dataclass(frozen=True)
class ChecklistItem:
    """One item of a documentation checklist, as filled from a run."""

    document: str
    section: str
    item_id: str
    requirement: str
    status: str
    content: str

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, not {self.status!r}")


class _Doc:
    """Collects the items of one document, section by section."""

    def __init__(self, document: str) -> None:
        self.document, self.section, self.items = document, "", []

    def add(
        self,
        item_id: str,
        requirement: str,
        content: str | None = None,
        *,
        todo: str | None = None,
        hint: str | None = None,
    ) -> None:
        """``content`` None: to complete (``hint`` says why); ``todo``: what is still missing."""
        if content is None:
            status, text = TO_COMPLETE, TO_COMPLETE + (f" ({hint})" if hint else "")
        elif todo:
            status, text = PARTIAL, f"{content} Still {TO_COMPLETE}: {todo}."
        else:
            status, text = FILLED, content
        self.items.append(
            ChecklistItem(self.document, self.section, item_id, requirement, status, text)
        )


# ----------------------------------------------------------------------------- formatting


def _m(obj: Any, *keys: str) -> Any:
    """``obj[k1][k2]…`` through mappings only; None where any level is missing."""
    for key in keys:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def _f(value: Any, digits: int = 3) -> str:
    """A number with ``digits`` decimals; ints as they are; n/a for None, NaN and the like."""
    if isinstance(value, bool) or value is None:
        return "n/a"
    if isinstance(value, int):
        return str(value)
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    return f"{x:.{digits}f}" if math.isfinite(x) else "n/a"


def _g(value: Any) -> str:
    """Three significant digits (energies, p-values, seconds)."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return "n/a"
    if not math.isfinite(x):
        return "n/a"
    rounded = float(f"{x:.3g}")
    return f"{rounded:g}" if rounded == 0 or 1e-4 <= abs(rounded) < 1e6 else f"{x:.3g}"


def _ci(ci: Any) -> str:
    if isinstance(ci, list | tuple) and len(ci) == 2:
        return f"[{_f(ci[0])}, {_f(ci[1])}]"
    return "[n/a]"


def count_cell(n: Any) -> str:
    """A group count as it may be shown: ``<10`` when suppressed (None) or below 10."""
    if isinstance(n, bool) or not isinstance(n, int | float) or n < MIN_CELL:
        return SUPPRESSED
    return str(int(n))


def visible(row: Mapping[str, Any]) -> bool:
    """Whether a group's estimates may be shown (its count is not suppressed)."""
    return count_cell(row.get("n")) != SUPPRESSED


def metric_name(name: Any) -> str:
    return _METRICS.get(str(name), (str(name).replace("_", " "), ""))[0]


def _names(values: Iterable[Any], limit: int = 12) -> str:
    items = [str(v) for v in values]
    if len(items) <= limit:
        return ", ".join(items)
    return ", ".join(items[:limit]) + f" and {len(items) - limit} more"


def _rows(value: Any) -> list[Mapping[str, Any]]:
    return [r for r in value if isinstance(r, Mapping)] if isinstance(value, list) else []


# ----------------------------------------------------------------------------- run facts


def _estimate(r: Mapping[str, Any]) -> str | None:
    e = r.get("estimate")
    if not isinstance(e, Mapping) or e.get("value") is None:
        return None
    text = (
        f"{metric_name(e.get('metric'))} {_f(e['value'])} (95% CI {_ci(e.get('ci95'))}), "
        f"{e.get('method', 'BBC-CV')} over {e.get('n_bootstrap', 'n/a')} bootstrap samples"
    )
    if e.get("plain_cv_value") is not None:
        text += (
            f"; the chosen configuration's own pooled CV value was {_f(e['plain_cv_value'])} "
            f"(optimism {_f(e.get('optimism'))})"
        )
    if e.get("chance_level") is not None:
        text += f"; chance level {_f(e['chance_level'], 1)}"
    return text + "."


def _secondary(r: Mapping[str, Any]) -> str | None:
    sec = r.get("secondary")
    if not isinstance(sec, Mapping) or not sec:
        return None
    parts = [
        f"{metric_name(k)} {_f(v.get('value'))} (95% CI {_ci(v.get('ci95'))})"
        for k, v in sec.items()
        if isinstance(v, Mapping)
    ]
    return "Secondary (BBC-CV, same bootstraps): " + "; ".join(parts) + "." if parts else None


def _performance(r: Mapping[str, Any]) -> str | None:
    parts = [p for p in (_estimate(r), _secondary(r)) if p]
    return " ".join(parts) or None


def _metric_rationale(r: Mapping[str, Any]) -> str | None:
    names = [_m(r, "estimate", "metric"), *(r.get("secondary") or {})]
    parts = [f"{_METRICS[n][0]} — {_METRICS[n][1]}" for n in names if n in _METRICS]
    return "; ".join(parts) + "." if parts else None


def _permutation(r: Mapping[str, Any]) -> str:
    p = r.get("permutation")
    if isinstance(p, Mapping) and p.get("n") and p.get("p_value") is not None:
        return f"Label-permutation test: p = {_g(p['p_value'])} over {p['n']} permutations."
    return "Label-permutation test: not run."


def _resampling(r: Mapping[str, Any]) -> str | None:
    rs = r.get("resampling")
    if not isinstance(rs, Mapping) or not rs.get("folds"):
        return None
    flags = (("stratified", rs.get("stratified")), ("grouped", rs.get("grouped")))
    kind = ", ".join(k for k, on in flags if on)
    return (
        f"{rs['folds']}-fold cross-validation{f' ({kind})' if kind else ''} repeated "
        f"{rs.get('repeats', 1)} time(s), master seed {rs.get('seed', 'n/a')}; "
        f"{rs.get('n_bootstrap', 'n/a')} BBC-CV bootstrap samples."
    )


def _files(r: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return _rows(_m(r, "data", "files"))


def _data(r: Mapping[str, Any]) -> str | None:
    files = _files(r)
    if not files:
        return None
    parts = [
        f"{str(f.get('role') or 'data').capitalize()} file "
        f"'{f.get('display_path') or f.get('path')}' "
        f"({f.get('format', 'n/a')}, {f.get('n_rows', 'n/a')} rows × {f.get('n_cols', 'n/a')} "
        f"columns, sha256 `{f.get('sha256', 'n/a')}`)"
        for f in files
    ]
    return "; ".join(parts) + "."


def _sha_prefixes(r: Mapping[str, Any]) -> str:
    return ", ".join(f"{str(f.get('sha256'))[:12]}…" for f in _files(r) if f.get("sha256"))


def _outcome(r: Mapping[str, Any]) -> str | None:
    o, task = r.get("outcome") or {}, r.get("task")
    if not isinstance(o, Mapping) or not (o.get("target") or o.get("time")):
        return None
    if task == "survival":
        text = f"Survival outcome: time '{o.get('time')}', event '{o.get('event')}'"
        text += f"; {o.get('n_events', 'n/a')} events among {r.get('n_samples', 'n/a')} samples"
        if o.get("median_time") is not None:
            text += f"; median observed time {_g(o['median_time'])}"
        return text + "."
    if task == "regression":
        s = o.get("summary") or {}
        return (
            f"Continuous outcome '{o.get('target')}': mean {_g(s.get('mean'))}, "
            f"SD {_g(s.get('sd'))}, range {_g(s.get('min'))} to {_g(s.get('max'))}."
        )
    counts = o.get("class_counts") or {}
    text = f"{str(task or 'classification').capitalize()} outcome '{o.get('target')}'"
    if o.get("positive_class") is not None:
        text += f" (positive class '{o['positive_class']}')"
    if counts:
        text += ": " + ", ".join(f"'{k}' {v}" for k, v in counts.items())
    return text + "."


def _events(r: Mapping[str, Any]) -> tuple[int | None, str]:
    """Events (survival) or the smallest class size (classification), with its wording."""
    o = r.get("outcome") or {}
    if r.get("task") == "survival":
        return o.get("n_events"), "events"
    counts = o.get("class_counts") or {}
    if counts:
        return min(counts.values()), "samples in the smallest class"
    return None, ""


def _sample_size(r: Mapping[str, Any]) -> str | None:
    n, p = r.get("n_samples"), r.get("n_features")
    if n is None:
        return None
    text = f"n = {n} samples analysed; {p if p is not None else 'n/a'} features offered"
    text += f" ({r.get('n_features_dropped', 0)} constant or all-missing dropped)"
    events, what = _events(r)
    if events is not None:
        text += f"; {events} {what}"
        if p:
            text += f" ({events / p:.1f} per feature)"
    return text + "."


def _warnings(r: Mapping[str, Any]) -> str | None:
    if not isinstance(r.get("warnings"), list):
        return None
    w = [str(x) for x in r["warnings"]]
    return "Run warnings: " + " ".join(w) if w else "The run raised no warnings."


def _notes(r: Mapping[str, Any]) -> str | None:
    notes = [str(x) for x in r.get("notes") or []]
    return "Run notes: " + "; ".join(notes) + "." if notes else None


def _winner(r: Mapping[str, Any]) -> str | None:
    w = r.get("winner")
    if not isinstance(w, Mapping) or not w.get("family"):
        return None
    params = ", ".join(f"{k}={v}" for k, v in (w.get("params") or {}).items())
    return f"{w['family']} ({params or 'defaults'}), configuration '{w.get('name')}'"


def _candidates(r: Mapping[str, Any]) -> str | None:
    configs = _rows(r.get("configurations"))
    if not configs:
        return None
    families = sorted({str(c.get("family")) for c in configs})
    metric = metric_name(_m(r, "estimate", "metric"))
    return (
        f"{len(configs)} candidate configurations from {len(families)} families "
        f"({', '.join(families)}); the one with the best pooled out-of-fold {metric} was chosen."
    )


def _model_spec(r: Mapping[str, Any], card: Mapping[str, Any]) -> str | None:
    winner = _winner(r)
    if winner is None:
        return None
    task = str(r.get("task") or "prediction").capitalize()
    text = f"{task} model: {winner}. {_candidates(r) or ''} {_PIPELINE}"
    return text.replace("  ", " ")


def _threshold(r: Mapping[str, Any]) -> str | None:
    task, thr = r.get("task"), r.get("decision_threshold")
    if task == "binary" and thr is not None:
        pos = _m(r, "outcome", "positive_class")
        return (
            f"Outputs the probability of '{pos}'; a sample is called '{pos}' at a probability "
            f"≥ {_f(thr)} (the training prevalence; no class re-weighting, so probabilities "
            "keep the data's prevalence)."
        )
    return {
        "multiclass": "Outputs one probability per class; the predicted class is the most "
        "probable one (no threshold).",
        "regression": "Outputs a continuous prediction of the outcome (no threshold).",
        "survival": "Outputs a risk score (log hazard; higher = earlier event), no threshold.",
    }.get(str(task))


def _features(card: Mapping[str, Any]) -> str | None:
    feats = card.get("features")
    if not isinstance(feats, list) or not feats:
        return None
    dtypes = card.get("dtypes") or {}
    n_cat = sum(1 for v in dtypes.values() if v == "categorical")
    return (
        f"{len(feats)} input features ({len(feats) - n_cat} numeric, {n_cat} categorical): "
        f"{_names(feats)}."
    )


def _model_files(card: Mapping[str, Any]) -> str | None:
    sha = card.get("model_sha256")
    if not sha and not card.get("features"):
        return None
    text = "model.joblib (scikit-learn pipeline, joblib) " + (
        f"sha256 `{sha}`, described by model.json" if sha else "with its sha256 in model.json"
    )
    sig = _m(card, "signature", "model_sha256")
    if sig:
        text += f"; signature_model.joblib sha256 `{sig}`"
    return text + "."


def _version(r: Mapping[str, Any], card: Mapping[str, Any]) -> str | None:
    parts = [f"run '{r['name']}'"] if r.get("name") else []
    if card.get("model_sha256"):
        parts.append(f"model sha256 `{card['model_sha256']}`")
    elif card.get("features"):
        parts.append("model sha256 recorded in model.json")
    ver = _m(r, "versions", "insightome") or card.get("insightome_version")
    if ver:
        parts.append(f"trained with insightome {ver}")
    return "Version: " + "; ".join(parts) + "." if parts else None


def _versions(r: Mapping[str, Any]) -> str | None:
    v = r.get("versions")
    if not isinstance(v, Mapping) or not v:
        return None
    return "Software: " + ", ".join(f"{k} {x}" for k, x in v.items()) + "."


def _seeds(r: Mapping[str, Any]) -> str | None:
    s = r.get("seeds")
    if not isinstance(s, Mapping) or not s:
        return None
    return "Seeds: " + "; ".join(f"{k} {v}" for k, v in s.items()) + "."


def _sensitive(r: Mapping[str, Any]) -> list[str]:
    return [str(s) for s in _m(r, "spec", "sensitive") or []]


def _factors(r: Mapping[str, Any]) -> str | None:
    spec = r.get("spec") or {}
    parts = []
    if _sensitive(r):
        used = "used" if spec.get("use_sensitive") else "not used"
        parts.append(f"sensitive attributes {_names(_sensitive(r))} ({used} as predictors)")
    if spec.get("site"):
        parts.append(f"site/batch column '{spec['site']}'")
    if spec.get("groups"):
        parts.append(f"group column '{spec['groups']}' (kept whole within folds)")
    return "Declared: " + "; ".join(parts) + "." if parts else None


def _audit_model(r: Mapping[str, Any]) -> Mapping[str, Any]:
    m = _m(r, "audit", "model")
    return m if isinstance(m, Mapping) else {}


def group_rows(r: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The audit's per-group performance rows (empty when the audit did not run)."""
    return _rows(_audit_model(r).get("groups"))


def flag_rows(r: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return _rows(_audit_model(r).get("flags"))


def threshold_rows(r: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """The audit's decision thresholds as (name, value, source)."""
    thresholds = _audit_model(r).get("thresholds")
    if not isinstance(thresholds, Mapping):
        return []
    rows = []
    for name, spec in thresholds.items():
        value = spec.get("value") if isinstance(spec, Mapping) else spec
        if isinstance(value, list | tuple):
            value = "–".join(_g(v) for v in value)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            value = _g(value)
        source = spec.get("source") if isinstance(spec, Mapping) else None
        rows.append((str(name), str(value), str(source or "not recorded")))
    return rows


def _explanation_flags(r: Mapping[str, Any]) -> list[str]:
    return [
        f"the model relies on sensitive attribute {f.get('feature')} "
        f"(importance {_f(f.get('importance'))}; {f.get('status')}: {f.get('reason')})"
        for f in _rows(_m(r, "audit", "explanations", "flags"))
    ]


def _flags(r: Mapping[str, Any], limit: int = 5) -> str | None:
    if not _audit_model(r):
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
    return _join(text, _proxies(r))


def _justifications(r: Mapping[str, Any]) -> str | None:
    just = _m(r, "audit", "justifications") or _m(r, "audit", "explanations", "justifications")
    if not isinstance(just, Mapping) or not just:
        return None
    return "Declared justifications: " + "; ".join(f"{k}: {v}" for k, v in just.items()) + "."


def _groups(r: Mapping[str, Any]) -> str | None:
    rows = group_rows(r)
    if not rows:
        return None
    attrs = sorted({str(g.get("attribute")) for g in rows})
    metrics = list(dict.fromkeys(metric_name(g.get("metric")) for g in rows))
    verdicts: dict[str, int] = {}
    for g in rows:
        verdicts[str(g.get("verdict"))] = verdicts.get(str(g.get("verdict")), 0) + 1
    text = (
        f"{len(rows)} group × metric rows over {_names(attrs)} ({', '.join(metrics)}); "
        f"verdicts: {', '.join(f'{k} {v}' for k, v in verdicts.items())}."
    )
    primary = _m(r, "estimate", "metric")
    shown = [g for g in rows if g.get("metric") == primary] or rows
    listed = [
        f"{g.get('attribute')} = {g.get('group')} (n {count_cell(g.get('n'))}): "
        + (f"{_f(g.get('value'))} {_ci(g.get('ci95'))}" if visible(g) else "suppressed")
        for g in shown[:12]
    ]
    more = " …" if len(shown) > 12 else ""
    name = metric_name(shown[0].get("metric"))
    return (
        f"{text} {name} by group: " + "; ".join(listed) + more + " (all rows in the "
        "'Per-group performance' table)."
    )


def _audit(r: Mapping[str, Any]) -> str | None:
    m = _audit_model(r)
    if not m:
        return None
    parts = []
    overall = m.get("overall")
    if isinstance(overall, Mapping) and overall:
        parts.append(
            "overall (out-of-fold) "
            + "; ".join(
                f"{metric_name(k)} {_f(_m(v, 'value'))} {_ci(_m(v, 'ci95'))}"
                for k, v in overall.items()
            )
        )
    ref = m.get("reference")
    if isinstance(ref, Mapping) and ref:
        parts.append("reference groups " + ", ".join(f"{k} = {v}" for k, v in ref.items()))
    if m.get("min_group_size") is not None:
        parts.append(f"minimum group size {m['min_group_size']}")
    if threshold_rows(r):
        parts.append("thresholds and their sources in the 'Audit thresholds' table")
    text = "Fairness audit: " + "; ".join(parts) + "." if parts else None
    return _join(text, _groups(r), _flags(r), _conformal(r), _justifications(r))


def _conformal(r: Mapping[str, Any]) -> str | None:
    c = _m(r, "audit", "conformal")
    if not isinstance(c, Mapping) or not isinstance(c.get("marginal"), Mapping):
        return None
    marg = c["marginal"]
    below = [g for g in _rows(c.get("groups")) if g.get("verdict") == "coverage below target"]
    return (
        f"Conformal prediction at level {_f(c.get('level'), 2)}: marginal coverage "
        f"{_f(marg.get('coverage'))} (95% CI {_ci(marg.get('ci95'))}); {len(below)} group(s) "
        "with coverage below target."
    )


def _group_outcome(outcome: Any) -> str:
    """A group's outcome summary from the data audit (already suppressed there)."""
    if not isinstance(outcome, Mapping):
        return ""
    for key, label in (("prevalence", "prevalence"), ("event_rate", "event rate")):
        if outcome.get(key) is not None:
            return f", {label} {_f(outcome[key])}"
    if outcome.get("mean") is not None:
        return f", mean {_g(outcome['mean'])}"
    return ""


def _representation(r: Mapping[str, Any]) -> str | None:
    rows = _rows(_m(r, "audit", "data", "representation"))
    if not rows:
        return None
    parts = [
        f"{g.get('attribute')} = {g.get('group')}: n {count_cell(g.get('n'))}"
        + (
            f" ({_f(g.get('percent'), 1)}%{_group_outcome(g.get('outcome'))})"
            if visible(g) and g.get("percent") is not None
            else ""
        )
        for g in rows
    ]
    return "Representation by sensitive group: " + "; ".join(parts) + "."


def _missing_by_group(r: Mapping[str, Any]) -> str | None:
    parts = []
    for block in _rows(_m(r, "audit", "data", "missingness")):
        cells = [
            f"{g.get('group')} {_f(g.get('mean_percent_missing'), 1)}%"
            for g in _rows(block.get("by_group"))
            if visible(g) and g.get("mean_percent_missing") is not None
        ]
        if cells:
            parts.append(f"{block.get('attribute')}: {', '.join(cells)}")
    return "Mean % of missing feature values by group: " + "; ".join(parts) + "." if parts else None


def _proxies(r: Mapping[str, Any]) -> str | None:
    proxies = _m(r, "audit", "data", "proxies")
    rows = _rows(_m(proxies, "attributes"))
    if not rows:
        return None
    flagged = [
        f"{a.get('attribute')} (via {_names(a.get('flagged_features') or [], 5) or 'all'}; "
        f"multivariate AUC {_f(a.get('multivariate_auc'))})"
        for a in rows
        if a.get("flagged")
    ]
    return (
        f"Proxy check (AUC ≥ {_m(proxies, 'threshold') or 'n/a'}): {len(flagged)} of {len(rows)}"
        " sensitive attribute(s) predictable from the features"
        + (": " + "; ".join(flagged) + "." if flagged else ".")
    )


def _compute(r: Mapping[str, Any]) -> str | None:
    c = r.get("compute")
    if not isinstance(c, Mapping) or not isinstance(c.get("total"), Mapping):
        return None
    t = c["total"]
    text = (
        f"Compute, {c.get('method', 'method not recorded')}: energy {_g(t.get('energy_kwh'))} kWh, "
        f"{_g(t.get('carbon_g'))} g CO2e, CPU time {_g(t.get('cpu_s'))} s, wall time "
        f"{_g(t.get('wall_s'))} s, peak memory {_g(t.get('peak_rss_mb'))} MB"
    )
    if c.get("cpu_model"):
        text += f", on {c['cpu_model']} ({c.get('n_cores_available', 'n/a')} cores available)"
    backend = _m(c, "backend", "backend")
    return text + (f"; fits ran on {backend}." if backend else ".")


def _explanations(r: Mapping[str, Any]) -> str | None:
    e = _m(r, "audit", "explanations")
    rows = _rows(_m(e, "features"))
    if not rows:
        return None
    listed = ", ".join(
        f"{x.get('feature')} {_f(x.get('importance'))}"
        + ("" if x.get("stable", True) else " (sign unstable)")
        for x in rows[:8]
    )
    return (
        f"Global explanation of the model ({e.get('method', 'method not recorded')}; drop in "
        f"{metric_name(e.get('metric'))} when shuffled): {listed}."
    )


def _attribution(r: Mapping[str, Any]) -> str | None:
    a = _m(r, "discovery", "attribution")
    if not isinstance(a, Mapping):
        return None
    feats = a.get("features")
    if isinstance(feats, Mapping):
        feats = [{"feature": k, **v} for k, v in feats.items() if isinstance(v, Mapping)]
    rows = _rows(feats)
    if not rows:
        return None
    listed = ", ".join(f"{x.get('feature')} {_f(x.get('importance'))}" for x in rows[:10])
    return (
        f"Attribution ({a.get('method', 'method not recorded')}) on the minimal signature (drop in "
        f"{metric_name(a.get('metric'))} when shuffled): {listed}."
    )


def _discovery(r: Mapping[str, Any]) -> str:
    d = r.get("discovery")
    if not isinstance(d, Mapping):
        return "Discovery was not run."
    parts = [f"Discovery status: {d.get('status', 'data-driven, unvalidated')}"]
    sig = d.get("signature")
    if isinstance(sig, Mapping) and sig.get("size"):
        est = sig.get("estimate") or {}
        parts.append(
            f"minimal signature of {sig['size']} feature(s) ({_names(sig.get('features') or [])}"
            f"), {metric_name(est.get('metric'))} {_f(est.get('value'))} "
            f"{_ci(est.get('ci95'))}"
        )
    n_hyp = _m(d, "hypotheses", "n")
    if n_hyp is not None:
        parts.append(f"{n_hyp} ranked hypotheses in hypotheses.tsv, none validated")
    return "; ".join(parts) + "."


def _robustness(r: Mapping[str, Any]) -> str | None:
    est = _estimate(r)
    if est is None:
        return None
    parts = [est, _permutation(r)]
    stab = _m(r, "discovery", "signature", "fold_signature_stability")
    if stab is not None:
        parts.append(f"Signature stability across folds (Nogueira index): {_f(stab, 2)}.")
    return " ".join(parts)


def _join(*parts: str | None) -> str | None:
    kept = [p for p in parts if p]
    return " ".join(kept) if kept else None


def _inputs(r: Mapping[str, Any], card: Mapping[str, Any]) -> tuple[Mapping[str, Any], ...]:
    return (r if isinstance(r, Mapping) else {}), (card if isinstance(card, Mapping) else {})


# ----------------------------------------------------------------------------- model card


def model_card(
    results: Mapping[str, Any], card: Mapping[str, Any] | None = None
) -> list[ChecklistItem]:
    """Model card sections of Mitchell et al. (FAT* 2019), filled from the run."""
    r, c = _inputs(results, card or {})
    d = _Doc(MODEL_CARD)
    d.section = "Model details"
    d.add("1.1", "Person or organisation that developed the model")
    d.add("1.2", "Model date", f"Run finished {r['created']}." if r.get("created") else None)
    d.add("1.3", "Model version", _version(r, c))
    d.add("1.4", "Model type, training algorithm, parameters", _model_spec(r, c))
    d.add("1.5", "Input features", _features(c))
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
        _factors(r),
        todo="other relevant factors (instruments, environments, settings)",
        hint="no sensitive attribute, site or group column was declared",
    )
    attrs = sorted({str(g.get("attribute")) for g in group_rows(r)})
    d.add(
        "3.2",
        "Factors evaluated, and why",
        f"Performance evaluated per group of {_names(attrs)}." if attrs else None,
        todo="why these factors were chosen" if attrs else None,
        hint="the fairness audit was not run",
    )
    d.section = "Metrics"
    d.add("4.1", "Performance measures, and why", _join(_performance(r), _metric_rationale(r)))
    d.add("4.2", "Decision thresholds, and why", _threshold(r) if r.get("task") else None)
    variation = _join(_resampling(r), _BBC_WHY, _permutation(r)) if _resampling(r) else None
    d.add("4.3", "How variation and uncertainty were estimated", variation)
    d.section = "Evaluation data"
    d.add(
        "5.1",
        "Data sets used for evaluation",
        _join(_data(r), "Evaluated by cross-validation on the development data (internal).")
        if _data(r)
        else None,
        todo="any external evaluation data set (insightome validate)",
    )
    d.add("5.2", "Why these data were chosen", hint="motivation for the evaluation data")
    d.add("5.3", "Preprocessing of the evaluation data", _join(_PIPELINE, _notes(r)))
    d.section = "Training data"
    d.add(
        "6.1", "Training data and its distribution", _join(_data(r), _sample_size(r), _outcome(r))
    )
    d.section = "Quantitative analyses"
    d.add(
        "7.1", "Overall (unitary) results with uncertainty", _join(_performance(r), _conformal(r))
    )
    d.add(
        "7.2",
        "Results per group and per intersection of groups",
        _groups(r),
        hint="the fairness audit was not run: results.json has no audit section",
    )
    d.section = "Ethical considerations"
    d.add(
        "8.1",
        "Sensitive data used, and risks and harms",
        _flags(r),
        todo="an assessment of the sensitive data used and of the risks and harms",
        hint="risks and harms",
    )
    d.add(
        "8.2",
        "Mitigations",
        _join(
            "Declared sensitive attributes were not used as predictors."
            if _sensitive(r) and not _m(r, "spec", "use_sensitive")
            else None,
            _justifications(r),
        ),
        todo="other mitigation strategies and their effect",
    )
    d.section = "Caveats and recommendations"
    d.add("9.1", "Caveats raised by the run", _warnings(r))
    d.add("9.2", "Sample size and uncertainty", _join(_sample_size(r), _estimate(r)))
    d.add("9.3", "Status of discovered features and hypotheses", _discovery(r))
    d.add(
        "9.4",
        "External validation and further recommendations",
        hint="no external validation is recorded in results.json; see insightome validate",
    )
    return d.items


# ----------------------------------------------------------------------------- TRIPOD+AI


def tripod_ai(
    results: Mapping[str, Any], card: Mapping[str, Any] | None = None
) -> list[ChecklistItem]:
    """TRIPOD+AI checklist (Collins et al., BMJ 2024): 27 items, 52 with their sub-items."""
    r, c = _inputs(results, card or {})
    d = _Doc(TRIPOD_AI)
    task, spec = r.get("task"), r.get("spec") or {}
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
    d.add(
        "4",
        "Objectives, including development and/or evaluation",
        f"This run developed a {task} prediction model of '{_m(r, 'outcome', 'target')}' with "
        "internal validation (cross-validation with BBC-CV); no external evaluation."
        if task
        else None,
        todo="the study objectives",
    )
    d.section = "Methods"
    d.add(
        "5a",
        "Data sources for development/evaluation, rationale, representativeness",
        _data(r),
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
        _join(_sample_size(r), f"Run: {'; '.join(removed)}." if removed else None),
        todo="the eligibility criteria for participants",
    )
    d.add("6c", "Treatments received and how they were handled")
    d.add(
        "7",
        "Data preparation and quality checks, and whether similar across groups",
        _join(_PIPELINE, _notes(r), _representation(r), _missing_by_group(r), _proxies(r)),
        todo=None if _m(r, "audit", "data") else "quality checks across sociodemographic groups",
    )
    d.add(
        "8a",
        "Outcome definition, time horizon, how and when assessed",
        _outcome(r),
        todo="how, when and by whom the outcome was assessed, and why it was chosen",
    )
    d.add("8b", "Qualifications and demographics of outcome assessors, if subjective")
    d.add("8c", "Blinding of outcome assessment")
    excl = [str(x) for x in spec.get("exclude") or []]
    d.add(
        "9a",
        "Choice of initial predictors and any pre-selection",
        f"All available features were offered ({r.get('n_features', 'n/a')} after dropping "
        f"{r.get('n_features_dropped', 0)} constant or all-missing)"
        + (f"; excluded by the authors: {_names(excl)}" if excl else "")
        + "; any univariate selection happened inside the training folds."
        if r.get("n_features") is not None
        else None,
        todo="why these candidate predictors",
    )
    d.add(
        "9b",
        "Definition and measurement of all predictors",
        _features(c),
        todo="how and when each predictor was measured",
    )
    d.add("9c", "Qualifications and demographics of predictor assessors, if subjective")
    d.add(
        "10",
        "Study size and its justification",
        _join(_sample_size(r), _warnings(r)) if _sample_size(r) else None,
        todo="the justification of the study size",
    )
    d.add(
        "11",
        "Handling of missing data",
        "Samples with a missing outcome were removed; missing predictor values are imputed with "
        "the training-fold median (numeric) or most frequent level (categorical), fitted inside "
        "each training fold, and with the training values at prediction."
        + (f" {_notes(r)}" if _notes(r) else ""),
    )
    use = _join("All samples were used for development:", _resampling(r), _BBC_WHY)
    d.add(
        "12a",
        "How the data were used (partitioning, internal validation)",
        use if _resampling(r) else None,
    )
    d.add("12b", "Handling of predictors (form, scaling, transformation)", _PIPELINE)
    d.add(
        "12c",
        "Model type, rationale, building steps, tuning, internal validation",
        _join(_model_spec(r, c), _resampling(r), _permutation(r)) if _winner(r) else None,
    )
    cluster, grouped = spec.get("groups") or spec.get("site"), _m(r, "resampling", "grouped")
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
        _join(_metric_rationale(r), "Plots: report.html of the run."),
    )
    d.add(
        "12f",
        "Model updating arising from the evaluation",
        "No updating or recalibration was done by the run.",
    )
    d.add(
        "12g",
        "How predictions were calculated for evaluation",
        _join(
            "Out-of-fold predictions of the refitted pipeline (predictions.csv).", _model_files(c)
        ),
    )
    d.add(
        "13",
        "Class imbalance methods and any recalibration",
        _join("No re-weighting or resampling of classes.", _threshold(r))
        if task in ("binary", "multiclass")
        else f"Not applicable ({task} outcome)."
        if task
        else None,
    )
    d.add(
        "14",
        "Approaches to model fairness and their rationale",
        _join(_factors(r), _audit(r)),
        todo=None if _audit_model(r) else "the fairness approach (the audit was not run)",
        hint="no sensitive attribute was declared and the audit was not run",
    )
    d.add(
        "15",
        "Model output and how any classification thresholds were chosen",
        _threshold(r) if task else None,
    )
    d.add(
        "16",
        "Differences between development and evaluation data",
        "Internal validation only: the evaluation folds come from the development data.",
        todo="differences with any external evaluation data",
    )
    d.add("17", "Ethics approval and informed consent")
    for sub, what in (
        ("18a", "Funding and role of funders"),
        ("18b", "Conflicts of interest"),
        ("18c", "Protocol availability"),
        ("18d", "Registration"),
    ):
        d.add(sub, what)
    d.add("18e", "Availability of the study data", hint=f"data sha256 {_sha_prefixes(r)}")
    d.add(
        "18f",
        "Availability of the analysis code",
        f"insightome {_m(r, 'versions', 'insightome') or ''} ({SOFTWARE_LICENCE}); every "
        "option of the run is recorded in results.json (invocation).".replace("  ", " "),
        todo="where the code and configuration can be obtained",
    )
    d.add("19", "Patient and public involvement")
    d.section = "Results"
    d.add(
        "20a",
        "Flow of participants, with and without the outcome",
        _join(_sample_size(r), _outcome(r)),
        todo="the participant flow (diagram) and follow-up",
    )
    d.add(
        "20b",
        "Characteristics of participants overall and per group",
        _join(_outcome(r), _representation(r), _missing_by_group(r)),
        todo="predictor distributions, key dates and missing data per data source",
    )
    d.add(
        "20c",
        "Comparison of development and evaluation data distributions",
        hint="no external evaluation data in this run",
    )
    folds = _m(r, "resampling", "folds")
    n = r.get("n_samples")
    d.add(
        "21",
        "Participants and events in each analysis",
        f"Development and tuning: all {n} samples; each of the {folds} folds trains on about "
        f"{round(n * (folds - 1) / folds)} and tests on about {round(n / folds)}. "
        + (_sample_size(r) or "")
        if isinstance(n, int) and isinstance(folds, int) and folds > 1
        else None,
    )
    d.add(
        "22",
        "Full model specification, and access restrictions",
        _join(_model_spec(r, c), _model_files(c)) if _winner(r) else None,
        todo="access conditions and restrictions on re-use",
    )
    d.add(
        "23a",
        "Performance with CIs, including key subgroups",
        _join(_performance(r), _groups(r)),
        todo=None if group_rows(r) else "performance in key subgroups (audit not run)",
    )
    d.add("23b", "Heterogeneity of performance across clusters", hint="not examined by the run")
    d.add("24", "Results of any model updating", "No model updating was performed.")
    d.section = "Discussion"
    d.add("25", "Overall interpretation, including fairness")
    d.add(
        "26",
        "Limitations (sample, size, overfitting, missing data)",
        _join(_warnings(r), _estimate(r), _discovery(r)),
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
    return d.items


# ----------------------------------------------------------------------------- EU AI Act


def ai_act_annex_iv(
    results: Mapping[str, Any], card: Mapping[str, Any] | None = None
) -> list[ChecklistItem]:
    """Technical documentation of Regulation (EU) 2024/1689, Annex IV points 1–9."""
    r, c = _inputs(results, card or {})
    d = _Doc(AI_ACT)
    d.section = "1. General description of the AI system"
    d.add(
        "1(a)",
        "Intended purpose, provider, version",
        _version(r, c),
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
        _versions(r),
        todo="requirements for version updates",
    )
    d.add("1(d)", "Forms in which the system is placed on the market or put into service")
    d.add(
        "1(e)",
        "Hardware on which it is intended to run",
        f"Developed on {_m(r, 'compute', 'cpu_model')}." if _m(r, "compute", "cpu_model") else None,
        todo="the intended deployment hardware",
    )
    d.add("1(f)", "Photographs or illustrations of products it is part of, if any")
    d.add(
        "1(g)",
        "User interface provided to the deployer",
        "insightome provides a command line: insightome predict RUN_DIR DATA writes per-sample"
        " outputs. " + _OVERSIGHT,
        todo="the interface of the deployed system",
    )
    d.add("1(h)", "Instructions for use for the deployer")
    d.section = "2. Elements of the AI system and its development process"
    d.add(
        "2(a)",
        "Development methods and steps, third-party tools and pre-trained systems",
        _join(_model_spec(r, c), "No pre-trained system was used.", _versions(r))
        if _winner(r)
        else None,
    )
    d.add(
        "2(b)",
        "Design specifications: logic, key choices, assumptions, optimisation target, "
        "expected output, trade-offs",
        _join(
            _candidates(r),
            f"Optimised for {metric_name(_m(r, 'estimate', 'metric'))}.",
            _threshold(r),
            _factors(r),
        )
        if _winner(r)
        else None,
        todo="the rationale, assumptions about the persons concerned and trade-offs",
    )
    d.add(
        "2(c)",
        "System architecture and computational resources",
        _join(_PIPELINE, _compute(r)),
        todo=None if _compute(r) else "the computational resources (not recorded by this run)",
    )
    d.add(
        "2(d)",
        "Data: datasheets, provenance, scope, characteristics, labelling, cleaning",
        _join(_data(r), _sample_size(r), _outcome(r), _notes(r), _representation(r)),
        todo="how the data were obtained and selected, and the labelling procedure",
    )
    d.add(
        "2(e)",
        "Human oversight measures (Art. 14) and aids to interpret outputs",
        _join(_OVERSIGHT, _threshold(r), _explanations(r), _attribution(r)),
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
        _join(
            _resampling(r),
            _performance(r),
            _permutation(r),
            _audit(r),
            f"Test report: report.html, results.json ({r['created']})."
            if r.get("created")
            else None,
        ),
        todo="dated signatures of the responsible persons"
        + ("" if _audit_model(r) else "; the assessment of discriminatory impacts"),
    )
    d.add(
        "2(h)",
        "Cybersecurity measures",
        "insightome refuses to load a model whose file does not match the sha256 in model.json"
        "; joblib files must only be loaded from trusted sources.",
        todo="the cybersecurity measures of the deployed system",
    )
    d.section = "3. Monitoring, functioning and control"
    d.add(
        "3(a)",
        "Capabilities and limitations, accuracy overall and for groups of persons",
        _join(_performance(r), _groups(r), _warnings(r)),
        todo=None if group_rows(r) else "accuracy for specific groups (audit not run)",
    )
    d.add(
        "3(b)",
        "Foreseeable unintended outcomes and risks (health, safety, rights, discrimination)",
        hint=_flags(r) or "no fairness audit flags available",
    )
    d.add(
        "3(c)", "Human oversight measures", _OVERSIGHT, todo="the deployer's oversight procedures"
    )
    d.add("3(d)", "Input data specifications", _features(c))
    d.section = "4. Appropriateness of the performance metrics"
    d.add(
        "4",
        "Why the metrics suit this system",
        _join(_metric_rationale(r), _BBC_WHY),
        todo="why the metrics fit the intended purpose",
    )
    d.section = "5. Risk management system (Art. 9)"
    d.add(
        "5",
        "Risk management system",
        hint=_join("inputs from the run:", _flags(r) or "no fairness audit was run.", _warnings(r)),
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
        _MONITOR,
        todo="the post-market monitoring plan",
    )
    return d.items


# ----------------------------------------------------------------------------- FUTURE-AI


def future_ai(
    results: Mapping[str, Any], card: Mapping[str, Any] | None = None
) -> list[ChecklistItem]:
    """FUTURE-AI recommendations (Lekadir et al., BMJ 2025), six principles plus general."""
    r, c = _inputs(results, card or {})
    d = _Doc(FUTURE_AI)
    d.section = "Fairness"
    d.add(
        "F1",
        "Identify possible sources of bias early",
        _factors(r),
        todo="the expected sources of bias",
        hint="no sensitive attribute was declared",
    )
    d.add(
        "F2",
        "Record attributes of individuals and data",
        _join(_factors(r), _representation(r)) if _sensitive(r) else None,
        hint="no sensitive attribute declared",
    )
    d.add("F3", "Evaluate fairness", _audit(r), hint="the fairness audit was not run")
    d.section = "Universality"
    d.add("U1", "Define intended clinical settings and variations between them")
    d.add("U2", "Use community standards (definitions, ontologies, technical standards)")
    d.add(
        "U3",
        "Evaluate with external data or several sites",
        hint="external validations are not part of results.json; see insightome validate",
    )
    d.add("U4", "Assess local clinical validity")
    d.section = "Traceability"
    d.add("T1", "Risk management throughout the lifecycle", hint=_flags(r) or "risk management")
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
        _join(
            "Model files are checked against their sha256; inputs must carry the training "
            "feature names and types.",
            _threshold(r),
        ),
        todo="quality control in deployment",
    )
    d.add("T4", "Periodic auditing and updating", _MONITOR, todo="the audit schedule")
    d.add(
        "T5",
        "Logging of use",
        _join(_OVERSIGHT, _data(r), _model_files(c), _versions(r), _seeds(r)),
    )
    d.add("T6", "AI governance")
    d.section = "Usability"
    d.add("Us1", "Define intended use and user requirements early", hint="intended use")
    d.add(
        "Us2",
        "Human–AI interaction and oversight",
        _OVERSIGHT,
        todo="who oversees the model and how",
    )
    d.add("Us3", "Training materials for users")
    d.add("Us4", "Evaluate user experience with independent end users")
    d.add("Us5", "Evaluate clinical utility and safety")
    d.section = "Robustness"
    d.add(
        "R1",
        "Identify sources of data variation early",
        _factors(r) if (_m(r, "spec", "site") or _m(r, "spec", "groups")) else None,
        todo="other sources of variation (devices, protocols, populations)",
    )
    d.add(
        "R2",
        "Train on representative real-world data",
        _join(_data(r), _sample_size(r), _representation(r)),
        todo="why the data are representative",
    )
    d.add(
        "R3",
        "Evaluate robustness to real-world variation",
        _robustness(r),
        todo="external validation (insightome validate) and robustness to variations",
    )
    d.section = "Explainability"
    d.add("E1", "Define explainability needs with end users")
    d.add(
        "E2",
        "Evaluate explanations with end users",
        _join(_explanations(r), _attribution(r), _discovery(r))
        if _attribution(r) or _explanations(r)
        else None,
        todo="evaluation with end users",
        hint="no explanation: neither the audit nor discovery was run",
    )
    d.section = "General"
    d.add("G1", "Involve interdisciplinary stakeholders")
    d.add(
        "G2",
        "Data privacy and security",
        "Documents and reports hold aggregates only, with counts under 10 suppressed; "
        "predictions.csv and the prediction log are row-level and must be protected.",
        todo="data protection measures (e.g. legal basis, pseudonymisation, access)",
    )
    d.add("G3", "Address identified risks", hint=_flags(r) or "risk mitigation")
    d.add(
        "G4",
        "Evaluation plan (data sets, metrics, reference methods)",
        _join(_resampling(r), _metric_rationale(r), _permutation(r)) if _resampling(r) else None,
        todo="reference methods and external data sets",
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
        _compute(r),
        todo="social impact",
        hint="energy use was not recorded by this run",
    )
    return d.items
