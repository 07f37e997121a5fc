"""Deployment monitoring: does new data still look like, and score like, the development data?

:func:`reference_profile` summarizes the development features when a run is trained
(aggregates only, no row-level data); :func:`monitor` compares a new batch with it:

* **Population stability index** per feature, over the reference deciles (numeric) or
  levels (categorical): PSI = Σ (p_new − p_ref) · ln(p_new / p_ref), empty bins set to
  1e-4. Rule of thumb from credit scoring (Siddiqi, *Credit Risk Scorecards*, Wiley 2006):
  < 0.1 no significant shift, 0.1–0.25 moderate shift, > 0.25 major shift.
* **Standardized mean difference** per numeric feature, (new mean − reference mean) /
  reference SD (the fixed development SD, so a change in spread does not hide a shift of
  the mean); |SMD| > 0.1 marks a meaningful difference (Austin, Stat Med 28:3083, 2009).
* **Missingness change**: new minus reference missing fraction; an increase above 0.1 is
  flagged (insightome's choice). Levels the model does not know count as missing, as the
  model sees them, and so do features absent from the new data.

These thresholds are conventions, not significance tests: with n new and m reference
samples, chance alone gives SMDs with an SD of about √(1/n + 1/m), reported as
``chance_smd_sd``. Where the new data carry the outcome (``labels``, or ``time`` and
``event``), performance is measured with bootstrap 95% CIs — the task's primary metric,
overall and per sensitive group of the run — and compared with the development BBC-CV
estimate. Group sizes follow the run's one small-cell rule (:mod:`insightome.audit.disclosure`):
a size below ``min_cell`` reads ``<min_cell`` (the group: "insufficient evidence"), a size that
would give it back reads "suppressed", and a hidden size hides the group's estimates. This
supports post-market monitoring under the EU AI Act (Art. 72, Art. 26(5)).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd

from insightome import errors
from insightome.audit.auditing import MIN_GROUP_SIZE
from insightome.audit.disclosure import MIN_CELL, count_text, group_disclosure
from insightome.audit.groups import group_labels
from insightome.errors import UserError
from insightome.evaluate.bbc import bootstrap_weights
from insightome.evaluate.engine import predict_matrix
from insightome.evaluate.metrics import PRIMARY
from insightome.followup import cohort_outcome
from insightome.runs import Run, file_sha256, json_ready, run_directory_name
from insightome.study import label_string

PROFILE_SCHEMA = "insightome.reference_profile/1"
N_BINS = 10  # deciles
PSI_MODERATE, PSI_MAJOR = 0.1, 0.25  # Siddiqi 2006
SMD_THRESHOLD = 0.1  # Austin 2009
MISSING_INCREASE = 0.1  # insightome's choice
PSI_EPSILON = 1e-4  # proportion used for empty bins
OTHER = "(other)"  # categorical levels hidden by the small-cell rule, pooled
INSUFFICIENT = "insufficient evidence"
THRESHOLDS = {
    "psi_moderate": PSI_MODERATE,
    "psi_major": PSI_MAJOR,
    "psi_source": "Siddiqi, Credit Risk Scorecards, Wiley 2006",
    "smd": SMD_THRESHOLD,
    "smd_source": "Austin, Statistics in Medicine 28:3083-3107, 2009",
    "missing_increase": MISSING_INCREASE,
    "psi_epsilon": PSI_EPSILON,
}

MONITOR_NO_PROFILE = (
    "{path}: this run predates monitoring (model.json has no reference_profile of the "
    "development data); rerun it with this version of insightome to monitor it."
)
MONITOR_TOO_FEW = (
    "{path}: {n} sample(s); monitoring needs at least {min_cell} to report aggregates "
    "without describing individuals. Monitor a larger batch."
)
MONITOR_MIN_CELL_BELOW_RUN = (
    "{given} is below the run's --min-cell {run}: monitoring reports follow the run's "
    "small-cell rule; give {run} or more (or leave it out)"
)


def _count(n: int, min_cell: int) -> int | None:
    """A count as reported: None (shown "<min_cell") when 0 < n < min_cell."""
    return None if 0 < n < min_cell else int(n)


def _bins(values: np.ndarray, edges: list[float]) -> np.ndarray:
    """Counts in the right-closed bins (-inf, e1], (e1, e2], …, (ek, inf)."""
    idx = np.searchsorted(np.asarray(edges, float), values, side="left")
    return np.bincount(idx, minlength=len(edges) + 1)


def _numeric_profile(values: np.ndarray, min_cell: int) -> dict[str, Any]:
    edges = list(np.unique(np.quantile(values, np.arange(1, N_BINS) / N_BINS)))
    counts = list(_bins(values, edges))
    small = [i for i, c in enumerate(counts) if 0 < c < min_cell]
    while small and len(counts) > 1:  # merge a small bin into its smaller neighbour
        i = small[0]
        left = i > 0 and (i == len(counts) - 1 or counts[i - 1] <= counts[i + 1])
        lo = i - 1 if left else i
        counts[lo] += counts.pop(lo + 1)
        del edges[lo]
        small = [i for i, c in enumerate(counts) if 0 < c < min_cell]
    return {
        "mean": float(values.mean()),
        "sd": float(values.std(ddof=1)) if len(values) > 1 else None,
        "edges": [float(e) for e in edges],
        "proportions": [c / len(values) for c in counts],
    }


def reference_profile(features: pd.DataFrame, *, min_cell: int = 10) -> dict[str, Any]:
    """JSON-ready summary of the development features for :func:`monitor`.

    Per numeric feature: ``n`` (non-missing), ``missing`` (fraction), ``mean``, ``sd``,
    decile ``edges`` (inner edges of right-closed bins; minimum and maximum are never
    stored) and the ``proportions`` in each bin, adjacent bins merged until each holds at
    least ``min_cell`` samples. Per categorical feature: ``levels`` → proportion, the levels
    the small-cell rule hides (:mod:`insightome.audit.disclosure`: those with fewer than
    ``min_cell`` samples, and the further ones that keep them from being recomputed from
    the others and n) pooled as ``"(other)"``, so its share × n gives no small count back.
    Pass the run's ``--min-cell``. No row-level data.
    """
    profile: dict[str, Any] = {}
    for name in features.columns:
        col = features[name]
        known = col.notna().to_numpy()
        entry: dict[str, Any] = {"n": int(known.sum()), "missing": float(1 - known.mean())}
        if pd.api.types.is_numeric_dtype(col):
            values = col.to_numpy(float)[known]
            entry = {"type": "numeric", **entry, "mean": None, "sd": None}
            entry.update(_numeric_profile(values, min_cell) if len(values) else {})
        else:
            labels = pd.Series([label_string(v) for v in col[known]], dtype=object)
            cats = col.cat.categories if isinstance(col.dtype, pd.CategoricalDtype) else None
            levels = sorted(labels.unique()) if cats is None else list(map(label_string, cats))
            counts = labels.value_counts().reindex(levels, fill_value=0)
            hidden = _hidden_levels(labels, counts, min_cell)
            shares = {str(k): int(v) / max(len(labels), 1) for k, v in counts[~hidden].items()}
            if hidden.any():
                shares[OTHER] = int(counts[hidden].sum()) / len(labels)
            entry = {"type": "categorical", **entry, "levels": shares}
        profile[str(name)] = entry
    return json_ready(
        {"schema": PROFILE_SCHEMA, "n_samples": len(features), "min_cell": min_cell}
        | {"features": profile}
    )


def _hidden_levels(labels: pd.Series, counts: pd.Series, min_cell: int) -> pd.Series:
    """Which levels (of ``counts``) the one small-cell rule hides, given that n is known: a
    single small level pooled alone would read share × n."""
    hidden = (counts > 0) & (counts < min_cell)
    if not hidden.any():
        return hidden
    shown = group_disclosure({"level": labels.to_numpy(str)}, None, "regression", min_cell)
    return pd.Series([c > 0 and not shown.size_shown("level", str(k)) for k, c in counts.items()],
                     index=counts.index)  # fmt: skip


def psi(reference: Any, new: Any, eps: float = PSI_EPSILON) -> float:
    """Population stability index of two proportion vectors over the same bins."""
    p, q = np.maximum(np.asarray(reference, float), eps), np.maximum(np.asarray(new, float), eps)
    return float(np.sum((q - p) * np.log(q / p)))


def _feature_drift(ref: dict[str, Any], col: pd.Series, min_cell: int) -> dict[str, Any]:
    known = col.notna().to_numpy()
    missing = float(1 - known.mean())
    out: dict[str, Any] = {"type": ref["type"], "psi": None}
    if ref["type"] == "numeric":
        out |= {"reference_mean": ref["mean"], "reference_sd": ref["sd"], "new_mean": None}
        out |= {"new_sd": None, "smd": None}
    out |= {"missing_reference": ref["missing"], "missing_new": missing}
    out["missing_change"] = missing - ref["missing"]
    if known.sum() >= min_cell and ref["n"] > 0:  # fewer values: no summary of them
        if ref["type"] == "numeric":
            x = col.to_numpy(float)[known]
            out["new_mean"], out["new_sd"] = float(x.mean()), float(x.std(ddof=1))
            out["smd"] = float((x.mean() - ref["mean"]) / ref["sd"]) if ref["sd"] else None
            out["psi"] = psi(ref["proportions"], _bins(x, ref["edges"]) / len(x))
        else:
            levels = ref["levels"]
            labels = pd.Series([v if v in levels else OTHER for v in map(label_string, col[known])])
            names = list(dict.fromkeys([*levels, *labels]))
            new = labels.value_counts(normalize=True).reindex(names, fill_value=0)
            out["psi"] = psi([levels.get(n, 0.0) for n in names], new.to_numpy())
    v = out["psi"]
    levels = ("stable", "moderate", "major")
    out["psi_level"] = None if v is None else levels[(v > PSI_MODERATE) + (v > PSI_MAJOR)]
    out["flags"] = [
        flag
        for flag, hit in (
            (f"PSI>{PSI_MAJOR}", v is not None and v > PSI_MAJOR),
            (f"|SMD|>{SMD_THRESHOLD}", abs(out.get("smd") or 0) > SMD_THRESHOLD),
            (f"missing+{out['missing_change']:.2f}", out["missing_change"] > MISSING_INCREASE),
        )
        if hit
    ]
    return out


def feature_drift(
    profile: dict[str, Any],
    features: pd.DataFrame,
    *,
    absent: list[str] | tuple[str, ...] = (),
    min_cell: int = 10,
) -> dict[str, Any]:
    """Per-feature drift of ``features`` from ``profile`` and its summary (module doc)."""
    per: dict[str, Any] = {}
    for name in map(str, features.columns):
        if name in profile["features"]:
            per[name] = _feature_drift(profile["features"][name], features[name], min_cell)
            if name in absent:
                per[name].update(absent=True, flags=["absent"])
    on = {k: v for k, v in per.items() if not v.get("absent")}
    psis = {k: v["psi"] for k, v in on.items() if v["psi"] is not None}
    smds = {k: v["smd"] for k, v in on.items() if v.get("smd") is not None}
    major = sorted((k for k, v in psis.items() if v > PSI_MAJOR), key=lambda k: -psis[k])
    moderate = sorted((k for k in psis if PSI_MODERATE < psis[k] <= PSI_MAJOR), key=psis.get)
    smd_above = sorted((k for k in smds if abs(smds[k]) > SMD_THRESHOLD), key=lambda k: smds[k])
    n_new, n_ref = len(features), profile["n_samples"]
    return {
        "summary": {
            "status": f"major drift in {len(major)} of {len(psis)} features (PSI > {PSI_MAJOR})"
            if major
            else f"no major drift (no feature with PSI > {PSI_MAJOR})",
            "n_features": len(per),
            "n_compared": len(psis),
            "absent": [k for k in per if k not in on],
            "major": major,
            "moderate": moderate[::-1],
            "smd_above": smd_above,
            "missing_increase": [
                k for k, v in on.items() if v["missing_change"] > MISSING_INCREASE
            ],
            "share_psi_major": len(major) / len(psis) if psis else None,
            "share_smd_above": len(smd_above) / len(smds) if smds else None,
            "mean_psi": float(np.mean(list(psis.values()))) if psis else None,
            "chance_smd_sd": math.sqrt(1 / n_new + 1 / n_ref) if n_new and n_ref else None,
        },
        "features": per,
    }


def _score(
    y: np.ndarray,
    pred: np.ndarray,
    task: str,
    dev: dict[str, Any],
    boot: tuple[int, int, int],
    groups: np.ndarray | None = None,
) -> dict[str, Any]:
    """Primary metric with a bootstrap 95% CI (whole ``groups`` resampled), compared with
    the development estimate."""
    n_boot, seed, min_cell = boot
    metric = PRIMARY[task]
    out: dict[str, Any] = {"n": _count(len(y), min_cell), "metric": metric.name}
    if len(y) < min_cell:
        return out | {"status": INSUFFICIENT, "reason": f"fewer than {min_cell} outcomes"}
    if task in ("binary", "multiclass") and len(np.unique(y)) < 2:
        return out | {"status": INSUFFICIENT, "reason": "a single class"}
    if task == "survival" and not (y > 0).any():
        return out | {"status": INSUFFICIENT, "reason": "no events"}
    W = bootstrap_weights(len(y), n_boot, np.random.default_rng(seed), groups)
    lo, hi = (float(v) for v in np.nanpercentile(metric.fn(y, pred, W), [2.5, 97.5]))
    value, ref = float(metric.fn(y, pred, np.ones((1, len(y))))[0]), float(dev["value"])
    below = ref > hi if metric.higher_is_better else ref < lo
    inside = lo <= ref <= hi
    status = "consistent with" if inside else "below" if below else "above"
    return out | {
        "value": value,
        "ci95": [lo, hi],
        "development": ref,
        "difference": value - ref,
        "development_inside_ci": inside,
        "drop": below,
        "status": f"{status} the development estimate" + (" (performance drop)" if below else ""),
    }


def _outcome(adata: ad.AnnData, run: Run, path: str, given: dict[str, str | None]) -> np.ndarray:
    """The new data's outcome in the run's encoding (via followup.cohort_outcome)."""
    task = run.model_card["task"]
    needed = ("time", "event") if task == "survival" else ("labels",)
    for option, column in given.items():
        if column and option not in needed:
            reason = f"the run is a {task} model; give its outcome as {' and '.join(needed)}"
            raise UserError(errors.OPTION_INVALID, option=option, reason=reason)
    if task == "survival" and bool(given["time"]) != bool(given["event"]):
        raise UserError(errors.SURVIVAL_NEEDS_BOTH, given="time" if given["time"] else "event")
    for option in needed:
        if given[option] not in adata.obs.columns:
            hint = errors.closest_names_hint(str(given[option]), adata.obs.columns)
            fields = {"path": path, "role": "outcome", "column": given[option], "hint": hint}
            raise UserError(errors.COLUMN_MISSING, option=option, **fields)
    spec = {**run.results["spec"], "target": given["labels"]}
    spec |= {"time": given["time"], "event": given["event"]}
    return cohort_outcome(adata, replace(run, results={**run.results, "spec": spec}), path)


def _performance(
    run: Run,
    obs: pd.DataFrame,
    pred: np.ndarray,
    y: np.ndarray,
    boot: tuple[int, int, int],
    groups: np.ndarray | None = None,
) -> dict[str, Any]:
    task, dev = run.model_card["task"], run.results["estimate"]
    known = ~np.isnan(y)
    yk, pk = y[known].astype(int) if task in ("binary", "multiclass") else y[known], pred[known]
    gk = None if groups is None else groups[known]
    sensitive = run.results["spec"].get("sensitive") or []
    present = [c for c in sensitive if c in obs.columns]
    out = _score(yk, pk, task, dev, boot, gk) | {
        "n_without_outcome": int((~known).sum()),
        "development_estimate": dev,
        "n_bootstrap": boot[0],
        "sensitive_absent": [c for c in sensitive if c not in present],
        "small_groups": [],
        "groups": {},
    }
    labels = group_labels(obs, present, intersections=False) if present else {}
    arrays = {column: series.to_numpy(str)[known] for column, series in labels.items()}
    # the total is reported, so a hidden size could follow from the others: the one rule
    # (audit/disclosure.py) hides further sizes, and a hidden size hides its estimates
    shown = group_disclosure(arrays, None, task, boot[2])
    for column, lab in arrays.items():
        if min(Counter(lab).values(), default=MIN_GROUP_SIZE) < MIN_GROUP_SIZE:
            out["small_groups"].append(column)
        scores = {}
        for g in sorted(set(lab)):
            patients = None if gk is None else gk[lab == g]
            scores[g] = _score(yk[lab == g], pk[lab == g], task, dev, boot, patients)
        for g, row in scores.items():
            if not shown.size_shown(column, g):
                keep = ("n", "metric", "status", "reason")
                row |= {k: None for k in row if k not in keep} | {"n": None}
                row["suppressed"] = {"n": shown.size_marker(column, g)}
                if row["status"] != INSUFFICIENT:
                    row["status"] = "suppressed (the group's size is hidden)"
        out["groups"][column] = scores
    return out


@dataclass
class MonitorReport:
    """One monitoring check of a batch of new data: aggregates only, JSON-ready."""

    run: dict[str, Any]
    data: dict[str, Any]
    drift: dict[str, Any]
    performance: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    training_overlap: dict[str, Any] | None = None  # check against the training rows
    min_cell: int = 10
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    thresholds: dict[str, Any] = field(default_factory=lambda: dict(THRESHOLDS))

    def to_dict(self) -> dict[str, Any]:
        return json_ready(asdict(self))

    def to_markdown(self) -> str:
        return _markdown(self.to_dict())


def _f(v: Any, spec: str = ".3f") -> str:
    return "—" if v is None else format(v, spec)


def _row(*cells: Any) -> str:
    return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"


def _overlap_line(overlap: dict[str, Any] | None) -> str:
    if not overlap or not overlap["checked"]:
        reason = (overlap or {}).get("reason", "no check was made")
        return f"Overlap with the training data not checked: {reason}.\n"
    n, n_rows = overlap["n_overlap"], overlap["n_rows"]
    if not n:
        return "No row equals a training row (checked with keyed hashes).\n"
    forced = " (--allow-training-overlap given)" if overlap["forced"] else ""
    return f"**{n} of {n_rows} rows are identical to training rows{forced}.**\n"


def _markdown(r: dict[str, Any]) -> str:
    s, d, feats = r["drift"]["summary"], r["data"], r["drift"]["features"]
    source = "in-memory data" if d["sha256"] is None else f"`{d['name']}` (sha256 "
    source += "" if d["sha256"] is None else f"`{d['sha256'][:16]}…`)"
    lines = [
        "# Deployment monitoring\n",
        f"Run `{r['run']['path']}` (model sha256 `{str(r['run']['model_sha256'])[:16]}…`); "
        f"{source}, {d['n_samples']} samples; {r['created']}.\n",
        _overlap_line(r.get("training_overlap")),
        "## Feature drift\n",
        f"**{s['status']}.** Moderate shift (PSI {PSI_MODERATE}–{PSI_MAJOR}): "
        f"{len(s['moderate'])} feature(s); |SMD| > {SMD_THRESHOLD}: "
        f"{_f(s['share_smd_above'], '.0%')} of numeric features (SD of the SMD by chance "
        f"≈ {_f(s['chance_smd_sd'], '.2f')}); mean PSI {_f(s['mean_psi'])}.\n",
    ]
    shown = sorted((k for k in feats if feats[k]["flags"]), key=lambda k: -(feats[k]["psi"] or 0))
    if shown:
        lines += ["| feature | PSI | SMD | missing (dev → new) | flags |", "|---|---|---|---|---|"]
        for k in shown[:25]:
            v = feats[k]
            missing = f"{v['missing_reference']:.0%} → {v['missing_new']:.0%}"
            lines.append(
                _row(k, _f(v["psi"]), _f(v.get("smd"), "+.2f"), missing, ", ".join(v["flags"]))
            )
        lines.append(f"\n{len(shown) - 25} more in monitor.json.\n" if len(shown) > 25 else "")
    lines.append(
        f"Thresholds: PSI {PSI_MODERATE}/{PSI_MAJOR} (Siddiqi 2006), |SMD| {SMD_THRESHOLD} "
        "(Austin 2009): conventions, not significance tests."
    )
    p = r["performance"]
    if p is not None:
        dev = p["development_estimate"]
        lines += [
            "\n## Performance\n",
            f"Development (BBC-CV) {dev['metric']}: {_f(dev['value'])} "
            f"({_f(dev['ci95'][0])}–{_f(dev['ci95'][1])}). BBC-CV is conservative (its models "
            "saw fewer samples than the final one), so new data may well score above it.\n",
            "| group | n | new | 95% CI | difference | status |",
            "|---|---|---|---|---|---|",
        ]
        groups = [(f"{c} = {k}", g) for c, gs in p["groups"].items() for k, g in gs.items()]
        for name, g in [("all", p), *groups]:
            ci = "—" if not g.get("ci95") else f"{_f(g['ci95'][0])}–{_f(g['ci95'][1])}"
            n = count_text(g, "n", r["min_cell"]) if g["n"] is None else g["n"]
            diff = _f(g.get("difference"), "+.3f")
            lines.append(_row(name, n, _f(g.get("value")), ci, diff, g["status"]))
    if r["notes"]:
        lines += ["\n## Notes\n", *(f"- {n}" for n in r["notes"])]
    return "\n".join(lines) + "\n"


def monitor(
    run: Run | str | Path,
    new_data: ad.AnnData | str | Path,
    *,
    labels: str | None = None,
    time: str | None = None,
    event: str | None = None,
    id_column: str | None = None,
    n_bootstrap: int = 1000,
    seed: int = 0,
    min_cell: int | None = None,
    allow_training_overlap: bool = False,
    decimal: str | None = None,
) -> MonitorReport:
    """Drift of ``new_data`` from the development data and, given the outcome, performance.

    ``labels`` names the outcome column (classification, regression); ``time`` and
    ``event`` a survival outcome. The run must hold a reference profile
    (``model.json``'s ``reference_profile``, see :func:`reference_profile`). The new rows
    are checked against the run's training rows (keyed hashes, :mod:`insightome.overlap`):
    with half or more of them training rows it is refused unless
    ``allow_training_overlap``; any overlap is a note. ``min_cell`` defaults to the run's
    ``--min-cell`` (:func:`run_min_cell`); a smaller one is refused.
    """
    from insightome.followup import cohort_groups, outcome_size_warnings
    from insightome.io import read
    from insightome.options import check_options
    from insightome.overlap import check_overlap, training_overlap
    from insightome.scoring import feature_table_with_missing, new_data_decimal

    check_options({"seed": seed})
    for option, value in (("n_bootstrap", n_bootstrap), ("min_cell", min_cell)):
        if option == "min_cell" and value is None:
            continue
        if not isinstance(value, int | np.integer) or value < 1:
            reason = f"must be a positive integer, got {value!r}"
            raise UserError(errors.OPTION_INVALID, option=option, reason=reason)
    run = run if isinstance(run, Run) else Run.load(run)
    if min_cell is None:
        min_cell = run_min_cell(run)
    elif min_cell < run_min_cell(run):
        reason = MONITOR_MIN_CELL_BELOW_RUN.format(given=min_cell, run=run_min_cell(run))
        raise UserError(errors.OPTION_INVALID, option="min_cell", reason=reason)
    profile = run.model_card.get("reference_profile")
    if not profile:
        raise UserError(MONITOR_NO_PROFILE, path=str(run.path or "run"))
    sensitive = list(run.results["spec"].get("sensitive") or [])
    groups_column = run.results["spec"].get("groups")
    if isinstance(new_data, ad.AnnData):
        adata, path, sha = new_data, "data", None
    else:
        keep = [c for c in (labels, time, event, *sensitive, groups_column) if c]
        adata = read(new_data, id_column=id_column, orient="samples-by-features", keep_in_obs=keep,
                     decimal=new_data_decimal(run, decimal))  # fmt: skip
        path, sha = str(new_data), file_sha256(new_data)
    if adata.n_obs < min_cell:
        raise UserError(MONITOR_TOO_FEW, path=path, n=adata.n_obs, min_cell=min_cell)
    X, absent = feature_table_with_missing(adata, run, path)
    overlap = training_overlap(run.training_rows, X, run.model_card["dtypes"], absent=absent)
    notes = check_overlap(overlap, path=path, what="new deployment data", command="monitor",
                          allow=allow_training_overlap)  # fmt: skip
    notes += [
        f"{len(absent)} feature(s) absent from the new data; the model imputes them with the "
        "training median/mode, itself a change in what it sees"
    ] * bool(absent)
    performance = None
    if labels or time or event:
        y = _outcome(adata, run, path, {"labels": labels, "time": time, "event": event})
        task, n_classes = run.model_card["task"], len(run.model_card.get("classes") or [])
        pred = predict_matrix(run.model, X, task, n_classes)
        groups, groups_warning = cohort_groups(adata.obs, run, path)
        boot = (n_bootstrap, seed, min_cell)
        performance = _performance(run, adata.obs, pred, y, boot, groups)
        if groups is not None:
            notes.append(
                f"performance CIs: bootstrap of whole patients ('{groups_column}', the run's "
                "--groups), each drawn with all its samples"
            )
        notes += [groups_warning] * bool(groups_warning)
        notes += outcome_size_warnings(task, y[~np.isnan(y)], n_classes)
        if performance["small_groups"]:
            notes.append(
                f"groups with fewer than {MIN_GROUP_SIZE} samples with an outcome (the "
                "audit's minimum group size) in: " + ", ".join(performance["small_groups"])
                + "; their estimates are imprecise"
            )
        if performance["sensitive_absent"]:
            notes.append(
                "sensitive column(s) of the run absent from the new data, no group results: "
                + ", ".join(performance["sensitive_absent"])
            )
    return MonitorReport(
        run={"path": None if run.path is None else str(run.path)}
        | {"model_sha256": run.model_card.get("model_sha256"), "task": run.model_card["task"]},
        data={"name": Path(path).stem, "path": None if sha is None else str(Path(path).resolve())}
        | {"sha256": sha, "n_samples": adata.n_obs},
        drift=feature_drift(profile, X, absent=absent, min_cell=min_cell),
        performance=performance,
        notes=notes,
        min_cell=min_cell,
        training_overlap=overlap,
    )


def run_min_cell(run: Run) -> int:
    """The run's ``--min-cell``: as invoked (or last audited), else its reference profile's."""
    invocation = run.results.get("invocation") or {}
    profile = run.model_card.get("reference_profile") or {}
    return int(invocation.get("min_cell") or profile.get("min_cell") or MIN_CELL)


def write_monitor_report(report: MonitorReport, out_dir: str | Path | None = None) -> Path:
    """Write ``monitor.json`` + ``monitor.md`` atomically; return their directory.

    The directory ``<timestamp>-<data file stem>/`` is made under ``out_dir`` (default
    ``<run>/monitoring/``): written in a temporary directory beside it, then renamed.
    """
    if out_dir is None and not report.run.get("path"):
        reason = "the run was not loaded from a directory; say where to write the report"
        raise UserError(errors.OPTION_INVALID, option="out_dir", reason=reason)
    parent = Path(out_dir) if out_dir is not None else Path(report.run["path"]) / "monitoring"
    parent.mkdir(parents=True, exist_ok=True)
    base = run_directory_name(str(report.data["name"]))
    final, suffix = parent / base, 1
    while final.exists():
        suffix += 1
        final = parent / f"{base}-{suffix}"
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=parent))
    try:
        (tmp / "monitor.json").write_text(json.dumps(report.to_dict(), indent=2))
        (tmp / "monitor.md").write_text(report.to_markdown(), encoding="utf-8")
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final
