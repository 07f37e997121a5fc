"""Facts about a run, as sentences for the checklist items, from its results and model card.

Each function takes the run's ``results.json`` dict (``r``) or its ``model.json`` dict (the
model card) and returns one sentence or a few, with the run's own numbers, or None when the
results do not hold what it needs. Nothing is invented. The facts from the audit section
(fairness, data audit, conformal coverage, explanations) are in
:mod:`insightome.audit.audit_facts`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from insightome.audit.checklist_items import (
    METRIC_MEANINGS,
    PIPELINE,
    ci_text,
    decimals,
    file_name,
    mapping_rows,
    metric_name,
    name_list,
    nested,
    significant,
)
from insightome.audit.performance_figures import (
    estimate_text,
    figure,
    labelled,
)
from insightome.models.ensemble import FAMILY as AVERAGE


def estimate(r: Mapping[str, Any]) -> str | None:
    """The estimate, then the winner's own CV score under its label."""
    text = estimate_text(r, metric_name)
    if text is None:
        return None
    e = r["estimate"]
    n_configs = len(mapping_rows(r.get("configurations"))) or "several"
    own = figure("winner_cv", e.get("metric"), e.get("plain_cv_value"), n_configurations=n_configs)
    if own is not None:
        text += f". The {labelled(own, r, metric_name, ci=False)}"
    if e.get("chance_level") is not None:
        text += f". Chance level {decimals(e['chance_level'], 1)}"
    return text + "."


def _secondary(r: Mapping[str, Any]) -> str | None:
    sec = r.get("secondary")
    if not isinstance(sec, Mapping) or not sec:
        return None
    parts = [
        f"{metric_name(k)} {decimals(v.get('value'))} (95% CI {ci_text(v.get('ci95'))})"
        for k, v in sec.items()
        if isinstance(v, Mapping)
    ]
    return "Secondary (BBC-CV, same bootstraps): " + "; ".join(parts) + "." if parts else None


def performance(r: Mapping[str, Any]) -> str | None:
    parts = [p for p in (estimate(r), _secondary(r)) if p]
    return " ".join(parts) or None


def metric_rationale(r: Mapping[str, Any]) -> str | None:
    names = [nested(r, "estimate", "metric"), *(r.get("secondary") or {})]
    parts = [f"{metric_name(n)} — {METRIC_MEANINGS[n]}" for n in names if n in METRIC_MEANINGS]
    return "; ".join(parts) + "." if parts else None


def permutation_test(r: Mapping[str, Any]) -> str:
    p = r.get("permutation")
    if isinstance(p, Mapping) and p.get("n") and p.get("p_value") is not None:
        return (
            f"Label-permutation test: p = {significant(p['p_value'])} over {p['n']} permutations."
        )
    return "Label-permutation test: not run."


def resampling(r: Mapping[str, Any]) -> str | None:
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
    return mapping_rows(nested(r, "data", "files"))


def data_files(r: Mapping[str, Any]) -> str | None:
    files = _files(r)
    if not files:
        return None
    parts = [
        f"{str(f.get('role') or 'data').capitalize()} file "
        f"'{file_name(f.get('display_path') or f.get('path'))}' "
        f"({f.get('format', 'n/a')}, {f.get('n_rows', 'n/a')} rows × {f.get('n_cols', 'n/a')} "
        f"columns, sha256 `{f.get('sha256', 'n/a')}`)"
        for f in files
    ]
    return "; ".join(parts) + "."


def data_sha_prefixes(r: Mapping[str, Any]) -> str:
    return ", ".join(f"{str(f.get('sha256'))[:12]}…" for f in _files(r) if f.get("sha256"))


def outcome(r: Mapping[str, Any]) -> str | None:
    o, task = r.get("outcome") or {}, r.get("task")
    if not isinstance(o, Mapping) or not (o.get("target") or o.get("time")):
        return None
    if task == "survival":
        text = f"Survival outcome: time '{o.get('time')}', event '{o.get('event')}'"
        text += f"; {o.get('n_events', 'n/a')} events among {r.get('n_samples', 'n/a')} samples"
        if o.get("median_time") is not None:
            text += f"; median observed time {significant(o['median_time'])}"
        return text + "."
    if task == "regression":
        s = o.get("summary") or {}
        return (
            f"Continuous outcome '{o.get('target')}': mean {significant(s.get('mean'))}, "
            f"SD {significant(s.get('sd'))}, "
            f"range {significant(s.get('min'))} to {significant(s.get('max'))}."
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


def sample_size(r: Mapping[str, Any]) -> str | None:
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


def run_warnings(r: Mapping[str, Any]) -> str | None:
    if not isinstance(r.get("warnings"), list):
        return None
    w = [str(x) for x in r["warnings"]]
    return "Run warnings: " + " ".join(w) if w else "The run raised no warnings."


def leakage_check(r: Mapping[str, Any]) -> str | None:
    """The leakage screen run before fitting (results ``leakage_screen``): what it
    checked, what it flagged and that the user was warned; nothing is removed by it."""
    screen = r.get("leakage_screen")
    if not isinstance(screen, Mapping):
        return None
    checked = screen.get("checked", "n/a")
    findings = [f for f in screen.get("findings") or [] if isinstance(f, Mapping)]
    if not findings:
        return (
            f"A leakage screen ran before fitting on {checked} column(s) (copies of the "
            "outcome, near-perfect single columns, follow-up names, identifiers): no column "
            "was flagged."
        )
    n = screen.get("n_findings", len(findings))
    listed = name_list(
        f"{f.get('column')} ({f.get('detail') or ', '.join(f.get('reasons') or [])!s})"
        for f in findings
    )
    excluded = name_list(str(x) for x in nested(r, "spec", "exclude") or [])
    return (
        f"A leakage screen ran before fitting on {checked} column(s) and flagged {n} that may "
        f"leak the outcome: {listed}. They were listed in the run log and the report (and on "
        "the console unless the run was quiet); "
        "the screen removes nothing, so flagged columns stayed in the model unless left out "
        "with --exclude" + (f" (left out: {excluded})." if excluded else ".")
    )


def run_notes(r: Mapping[str, Any]) -> str | None:
    notes = [str(x) for x in r.get("notes") or []]
    return "Run notes: " + "; ".join(notes) + "." if notes else None


def winning_model(r: Mapping[str, Any]) -> str | None:
    w = r.get("winner")
    if not isinstance(w, Mapping) or not w.get("family"):
        return None
    members = (w.get("params") or {}).get("members") if w["family"] == AVERAGE else None
    if members:  # --ensemble: the average of the top configurations
        names = "; ".join(str(m.get("name")) for m in members)
        return f"the average of {len(members)} configurations' predicted probabilities ({names})"
    params = ", ".join(f"{k}={v}" for k, v in (w.get("params") or {}).items())
    return f"{w['family']} ({params or 'defaults'}), configuration '{w.get('name')}'"


def candidates(r: Mapping[str, Any]) -> str | None:
    rows = mapping_rows(r.get("configurations"))
    configs = [c for c in rows if c.get("family") != AVERAGE]
    if not configs:
        return None
    families = sorted({str(c.get("family")) for c in configs})
    metric = metric_name(nested(r, "estimate", "metric"))
    averages = [c for c in rows if c.get("family") == AVERAGE]
    k = len((averages[0].get("params") or {}).get("members") or ()) if averages else 0
    average = f", or the average of the top {k} when its score was higher" if averages else ""
    return (
        f"{len(configs)} candidate configurations from {len(families)} families "
        f"({', '.join(families)}); the one with the best pooled out-of-fold {metric} was "
        f"chosen{average}."
    )


def model_spec(r: Mapping[str, Any], card: Mapping[str, Any]) -> str | None:
    winner = winning_model(r)
    if winner is None:
        return None
    task = str(r.get("task") or "prediction").capitalize()
    text = f"{task} model: {winner}. {candidates(r) or ''} {PIPELINE} {quantum_model(r) or ''}"
    return text.strip().replace("  ", " ")


def quantum_model(r: Mapping[str, Any]) -> str | None:
    """The quantum candidates (``--candidates …,quantum``): the winner's circuit, qubits,
    simulator and mode when it is a quantum model; the reduction when it is their classical
    control; whether they took part otherwise."""
    q = r.get("quantum")
    if not isinstance(q, Mapping):
        return None
    simulated = (
        f"simulated with {q.get('library')}'s {q.get('simulator')} simulator, {q.get('mode')}"
    )
    name = nested(r, "winner", "name")
    family = nested(r, "winner", "family")
    circuit = (q.get("circuits") or {}).get(name) if q.get("winner_is_quantum") else None
    kept = (
        " The saved model keeps the training samples' reduced features (a kernel SVM "
        "compares new samples with them): treat model.joblib as patient-level data."
    )
    if isinstance(circuit, Mapping):
        qubits = q.get("winner_qubits", circuit.get("qubits"))
        return (
            f"A quantum model: {circuit.get('circuit')}; {qubits} qubit(s) in the saved model, "
            f"after {circuit.get('reduction')}; {simulated}, not run on quantum hardware."
            + (kept if family == "quantum_kernel_svm" else "")
        )
    took_part = bool(q.get("quantum_estimated", q.get("families")))
    evaluated = "; ".join(
        f"{c.get('family')} on {c.get('qubits')} qubit(s)"
        for c in (q.get("circuits") or {}).values()
        if isinstance(c, Mapping)
    )
    if family == "rbf_svm":
        quantum = (
            f"the quantum candidates ({evaluated}) were {simulated}"
            if took_part
            else ("no quantum candidate was estimated (the run's warnings say why)")
        )
        return (
            "The winner is the quantum candidates' classical control: an RBF-kernel SVM on the "
            "same features as the quantum models (PCA to at most "
            f"{nested(r, 'winner', 'params', 'components')} standardized components, fitted "
            f"in each training fold); {quantum}." + kept
        )
    if took_part:
        return (
            f"Quantum candidates took part in the selection ({evaluated}; {simulated}; their "
            "circuits are in results.json and the report); the winner is classical."
        )
    return (
        "Quantum candidates were asked for, but none was fitted on every fold or kept within "
        "the compute budget (the run's warnings say why); the winner is classical."
    )


def decision_threshold(r: Mapping[str, Any]) -> str | None:
    task, thr = r.get("task"), r.get("decision_threshold")
    if task == "binary" and thr is not None:
        pos = nested(r, "outcome", "positive_class")
        return (
            f"Outputs the probability of '{pos}'; a sample is called '{pos}' at a probability "
            f"≥ {decimals(thr)} (the training prevalence; no class re-weighting, so probabilities "
            "keep the data's prevalence)."
        )
    return {
        "multiclass": "Outputs one probability per class; the predicted class is the most "
        "probable one (no threshold).",
        "regression": "Outputs a continuous prediction of the outcome (no threshold).",
        "survival": "Outputs a risk score (log hazard; higher = earlier event), no threshold.",
    }.get(str(task))


def input_features(card: Mapping[str, Any]) -> str | None:
    feats = card.get("features")
    if not isinstance(feats, list) or not feats:
        return None
    dtypes = card.get("dtypes") or {}
    n_cat = sum(1 for v in dtypes.values() if v == "categorical")
    return (
        f"{len(feats)} input features ({len(feats) - n_cat} numeric, {n_cat} categorical): "
        f"{name_list(feats)}."
    )


def model_files(card: Mapping[str, Any]) -> str | None:
    sha = card.get("model_sha256")
    if not sha and not card.get("features"):
        return None
    text = "model.joblib (scikit-learn pipeline, joblib) " + (
        f"sha256 `{sha}`, described by model.json" if sha else "with its sha256 in model.json"
    )
    sig = nested(card, "signature", "model_sha256")
    if sig:
        text += f"; signature_model.joblib sha256 `{sig}`"
    return text + "."


def model_version(r: Mapping[str, Any], card: Mapping[str, Any]) -> str | None:
    parts = [f"run '{r['name']}'"] if r.get("name") else []
    if card.get("model_sha256"):
        parts.append(f"model sha256 `{card['model_sha256']}`")
    elif card.get("features"):
        parts.append("model sha256 recorded in model.json")
    ver = nested(r, "versions", "insightome") or card.get("insightome_version")
    if ver:
        parts.append(f"trained with insightome {ver}")
    return "Version: " + "; ".join(parts) + "." if parts else None


def software_versions(r: Mapping[str, Any]) -> str | None:
    v = r.get("versions")
    if not isinstance(v, Mapping) or not v:
        return None
    return "Software: " + ", ".join(f"{k} {x}" for k, x in v.items()) + "."


def seeds(r: Mapping[str, Any]) -> str | None:
    s = r.get("seeds")
    if not isinstance(s, Mapping) or not s:
        return None
    return "Seeds: " + "; ".join(f"{k} {v}" for k, v in s.items()) + "."


def sensitive_attributes(r: Mapping[str, Any]) -> list[str]:
    return [str(s) for s in nested(r, "spec", "sensitive") or []]


def factors(r: Mapping[str, Any]) -> str | None:
    spec = r.get("spec") or {}
    parts = []
    if sensitive_attributes(r):
        used = "used" if spec.get("use_sensitive") else "not used"
        parts.append(
            f"sensitive attributes {name_list(sensitive_attributes(r))} ({used} as predictors)"
        )
    if spec.get("site"):
        parts.append(f"site/batch column '{spec['site']}'")
    if spec.get("groups"):
        parts.append(f"group column '{spec['groups']}' (kept whole within folds)")
    return "Declared: " + "; ".join(parts) + "." if parts else None


def compute(r: Mapping[str, Any]) -> str | None:
    c = r.get("compute")
    if not isinstance(c, Mapping) or not isinstance(c.get("total"), Mapping):
        return None
    t = c["total"]
    text = (
        f"Compute, {c.get('method', 'method not recorded')}: "
        f"energy {significant(t.get('energy_kwh'))} kWh, "
        f"{significant(t.get('carbon_g'))} g CO2e, CPU time {significant(t.get('cpu_s'))} s, "
        f"wall time {significant(t.get('wall_s'))} s, "
        f"peak memory {significant(t.get('peak_memory_mb', t.get('peak_rss_mb')))} MB "
        f"({t.get('memory_measure', 'RSS')})"
    )
    if c.get("cpu_model"):
        text += f", on {c['cpu_model']} ({c.get('n_cores_available', 'n/a')} cores available)"
    backend = nested(c, "backend", "backend")
    return text + (f"; fits ran on {backend}." if backend else ".")


def attribution(r: Mapping[str, Any]) -> str | None:
    a = nested(r, "discovery", "attribution")
    if not isinstance(a, Mapping):
        return None
    feats = a.get("features")
    if isinstance(feats, Mapping):
        feats = [{"feature": k, **v} for k, v in feats.items() if isinstance(v, Mapping)]
    rows = mapping_rows(feats)
    if not rows:
        return None
    listed = ", ".join(f"{x.get('feature')} {decimals(x.get('importance'))}" for x in rows[:10])
    return (
        f"Attribution ({a.get('method', 'method not recorded')}) on the minimal signature (drop in "
        f"{metric_name(a.get('metric'))} when shuffled): {listed}."
    )


def discovery(r: Mapping[str, Any]) -> str:
    d = r.get("discovery")
    if not isinstance(d, Mapping):
        return "Discovery was not run."
    parts = [f"Discovery status: {d.get('status', 'data-driven, unvalidated')}"]
    sig = d.get("signature")
    if isinstance(sig, Mapping) and sig.get("size"):
        est = sig.get("estimate") or {}
        names = name_list(sig.get("features") or [])
        text = f"minimal signature of {sig['size']} feature(s) ({names})"
        own = figure("signature", est.get("metric"), est.get("value"), est.get("ci95"),
                     size=sig["size"])  # fmt: skip
        parts.append(text + (f", {labelled(own, r, metric_name)}" if own else ""))
    n_hyp = nested(d, "hypotheses", "n")
    if n_hyp is not None:
        parts.append(f"{n_hyp} ranked hypotheses in hypotheses.tsv, none validated")
    return "; ".join(parts) + "."


def robustness(r: Mapping[str, Any]) -> str | None:
    est = estimate(r)
    if est is None:
        return None
    parts = [est, permutation_test(r)]
    stab = nested(r, "discovery", "signature", "fold_signature_stability")
    if stab is not None:
        parts.append(f"Signature stability across folds (Nogueira index): {decimals(stab, 2)}.")
    return " ".join(parts)
