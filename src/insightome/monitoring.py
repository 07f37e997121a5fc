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
estimate. Group sizes follow the run's one small-cell rule (:mod:`insightome.groups.disclosure`):
a size below ``min_cell`` reads ``<min_cell`` (the group: "insufficient evidence"), a size that
would give it back reads "suppressed", and a hidden size hides the group's estimates. This
supports post-market monitoring under the EU AI Act (Art. 72, Art. 26(5)).

The profile and the drift measures are in :mod:`insightome.audit.drift`; the report, its
Markdown and how it is written in :mod:`insightome.audit.monitor_report`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd

from insightome import errors
from insightome.audit.auditing import MIN_GROUP_SIZE
from insightome.audit.drift import (
    feature_drift,
    reference_profile,  # noqa: F401  (public here, as before the move out of audit/)
)
from insightome.audit.monitor_report import MonitorReport
from insightome.audit.monitor_report import write_monitor_report as write_report_files
from insightome.errors import UserError
from insightome.evaluate.bbc import bootstrap_weights
from insightome.evaluate.engine import predict_matrix
from insightome.evaluate.metrics import PRIMARY
from insightome.groups.disclosure import MIN_CELL, group_disclosure
from insightome.groups.labels import group_labels, recorded_grouping
from insightome.living_documents import refresh_if_recorded
from insightome.options import check_options
from insightome.overlap import check_overlap, training_overlap, with_image_keys
from insightome.prediction import (
    Reading,
    feature_table_with_missing,
    new_notes_line,
    read_new_data,
    saved_model,
    unmatched_note,
    with_new_notes,
)
from insightome.run_directory import Run, file_sha256
from insightome.saved_run_images import with_new_images
from insightome.saved_run_notes import NotesReading
from insightome.validation import (
    cohort_groups,
    cohort_outcome,
    left_out_class_note,
    outcome_size_warnings,
)

INSUFFICIENT = "insufficient evidence"
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
    """The new data's outcome in the run's encoding (via validation.cohort_outcome)."""
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
    # the run's own age bands and value labels (groups/labels.py), not bands fitted anew
    recorded = recorded_grouping(run.results.get("audit"), present)
    labels = group_labels(obs, present, intersections=False, **recorded) if present else {}
    arrays = {column: series.to_numpy(str)[known] for column, series in labels.items()}
    # the total is reported, so a hidden size could follow from the others: the one rule
    # (groups/disclosure.py) hides further sizes, and a hidden size hides its estimates
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
    annotations: str | Path | None = None,
    annotations_id_column: str | None = None,
    orient: str | None = None,
    drop_unmatched: bool | None = None,
    notes: str | Path | None = None,
    notes_id: str | None = None,
    notes_text: str | None = None,
    notes_time: str | None = None,
    index_time: str | None = None,
) -> MonitorReport:
    """Drift of ``new_data`` from the development data and, given the outcome, performance.

    ``labels`` names the outcome column (classification, regression); ``time`` and
    ``event`` a survival outcome. The run must hold a reference profile
    (``model.json``'s ``reference_profile``, see :func:`reference_profile`). The new rows
    are checked against the run's training rows (keyed hashes, :mod:`insightome.overlap`):
    with half or more of them training rows it is refused unless
    ``allow_training_overlap``; any overlap is a note. ``min_cell`` defaults to the run's
    ``--min-cell`` (:func:`run_min_cell`); a smaller one is refused. A file is read as
    the run read its data (:func:`insightome.prediction.read_new_data`: ID columns,
    orientation, decimal mark and annotation features default to the run's own), with
    ``annotations`` the new samples' own annotation table. A run made with ``--notes``
    needs the new samples' clinical notes, ``notes`` (:mod:`insightome.saved_run_notes`).
    """
    check_options({"seed": seed})
    new_notes = NotesReading(notes, notes_id, notes_text, notes_time, index_time)
    new_notes.check()
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
        adata = with_new_images(run.results, with_new_notes(run, new_data, new_notes, None), None)
        path, sha = "data", None
    else:
        outcome = [run.results["spec"].get(k) for k in ("target", "time", "event")]
        keep = [c for c in (labels, time, event, *outcome, *sensitive, groups_column) if c]
        reading = Reading(annotations, id_column, annotations_id_column, orient, drop_unmatched,
                          decimal, new_notes)  # fmt: skip
        adata = read_new_data(run, new_data, reading, keep)
        path, sha = str(new_data), file_sha256(new_data)
    if adata.n_obs < min_cell:
        raise UserError(MONITOR_TOO_FEW, path=path, n=adata.n_obs, min_cell=min_cell)
    X, absent = feature_table_with_missing(adata, run, path)
    keyed, dtypes = with_image_keys(X, adata.obs, run.model_card["dtypes"])
    overlap = training_overlap(run.training_rows, keyed, dtypes, absent=absent)
    notes = check_overlap(overlap, path=path, what="new deployment data", command="monitor",
                          allow=allow_training_overlap)  # fmt: skip
    notes += [
        f"{len(absent)} feature(s) absent from the new data; the model imputes them with the "
        "training median/mode, itself a change in what it sees"
    ] * bool(absent)
    notes += [note for note in (unmatched_note(adata), new_notes_line(adata)) if note]
    performance = None
    if not (labels or time or event):
        notes += _outcome_not_asked(run, adata.obs)
    if labels or time or event:
        y = _outcome(adata, run, path, {"labels": labels, "time": time, "event": event})
        task, n_classes = run.model_card["task"], len(run.model_card.get("classes") or [])
        pred = predict_matrix(saved_model(run, adata), X, task, n_classes)
        groups, groups_warning = cohort_groups(adata.obs, run, path)
        boot = (n_bootstrap, seed, min_cell)
        performance = _performance(run, adata.obs, pred, y, boot, groups)
        if groups is not None:
            notes.append(
                f"performance CIs: bootstrap of whole patients ('{groups_column}', the run's "
                "--groups), each drawn with all its samples"
            )
        notes += [groups_warning] * bool(groups_warning)
        notes += [n for n in (left_out_class_note(adata, run, labels),) if n]
        notes += outcome_size_warnings(task, y[~np.isnan(y)], n_classes)
        if performance["small_groups"]:
            notes.append(
                f"groups with fewer than {MIN_GROUP_SIZE} samples with an outcome (the "
                "audit's minimum group size) in: "
                + ", ".join(performance["small_groups"])
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


def _outcome_not_asked(run: Run, obs: pd.DataFrame) -> list[str]:
    """A note where the new data hold the run's outcome column(s) but no outcome option
    was given: performance is measured only when asked (``labels``, ``time``/``event``)."""
    spec = run.results["spec"]
    survival = run.model_card["task"] == "survival"
    names = [spec.get("time"), spec.get("event")] if survival else [spec.get("target")]
    if not all(n and n in obs.columns for n in names):
        return []
    flags = f"--time {names[0]} --event {names[1]}" if survival else f"--labels {names[0]}"
    return [
        f"the new data hold the run's outcome column(s) {', '.join(map(str, names))}; "
        f"performance is measured only when asked: give {flags}"
    ]


def run_min_cell(run: Run) -> int:
    """The run's ``--min-cell``: as invoked (or last audited), else its reference profile's."""
    invocation = run.results.get("invocation") or {}
    profile = run.model_card.get("reference_profile") or {}
    return int(invocation.get("min_cell") or profile.get("min_cell") or MIN_CELL)


def write_monitor_report(report: MonitorReport, out_dir: str | Path | None = None) -> Path:
    """Write monitor.json + monitor.md (:mod:`insightome.audit.monitor_report`); a check
    recorded in its run's ``monitoring/`` then updates the run's documents and report."""
    written = write_report_files(report, out_dir)
    refresh_if_recorded(report.run.get("path"), written, "monitoring")
    return written
