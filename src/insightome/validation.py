"""Validation of a saved run on an independent cohort (``insightome validate``).

:func:`validate` scores the saved model and the minimal-signature model on a cohort that
played no part in any choice (checked, as far as exact copies go, against keyed hashes of
the training rows), with bootstrap 95% CIs that resample whole patients with ``--groups``.
A hypothesis becomes evidence only here. The cohort's outcome and groups are read in the
run's own encoding (:func:`cohort_outcome`, :func:`cohort_groups`), which monitoring
reuses.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from insightome import errors
from insightome.audit.auditing import MIN_GROUP_SIZE
from insightome.audit.model_audit import AuditThresholds
from insightome.errors import UserError
from insightome.evaluate.bbc import bootstrap_weights
from insightome.evaluate.engine import predict_matrix
from insightome.evaluate.metrics import PRIMARY, SECONDARY, predicted_classes
from insightome.io.json_values import json_ready
from insightome.living_documents import refresh_if_recorded
from insightome.options import check_options
from insightome.overlap import check_overlap, training_overlap, with_image_keys
from insightome.prediction import (
    Reading,
    feature_table_with_missing,
    new_notes_record,
    read_new_data,
    saved_model,
    stored_threshold,
    unmatched_note,
)
from insightome.run_directory import Run, file_sha256, write_validation
from insightome.saved_run_notes import NotesReading
from insightome.study import label_string

N_BOOTSTRAP = 1000
DECISION_METRICS = ("balanced_accuracy",)  # scored on decided classes, not probabilities


def outcome_columns(
    run: Run, target: str | None = None, time: str | None = None, event: str | None = None
) -> dict[str, str | None]:
    """The cohort's outcome columns: ``target`` (classification, regression) or ``time``
    and ``event`` (survival) when given, else the run's own names. An outcome option of
    the other kind of task is refused in one line."""
    spec = run.spec
    if spec.task == "survival" and target:
        reason = "the run is a survival model; name its outcome with --time and --event"
        raise UserError(errors.OPTION_INVALID, option="--target", reason=reason)
    if spec.task != "survival" and (time or event):
        reason = f"the run is a {spec.task} model; name its outcome column with --target"
        raise UserError(
            errors.OPTION_INVALID, option="--time" if time else "--event", reason=reason
        )
    return {
        "target": target or spec.target,
        "time": time or spec.time,
        "event": event or spec.event,
    }


def cohort_outcome(
    adata: Any, run: Run, path: str, columns: dict[str, str | None] | None = None
) -> np.ndarray:
    """The cohort's outcome in the run's internal encoding (NaN where unknown), from
    ``columns`` (:func:`outcome_columns`; default: the run's own column names)."""
    spec = run.spec
    names = columns or outcome_columns(run)
    target, time_col, event_col = names["target"], names["time"], names["event"]
    obs = adata.obs
    needed = {"time": time_col, "event": event_col} if spec.task == "survival" else {}
    needed = needed or {"target": target}
    for option, col in needed.items():
        if col not in obs.columns:
            hint = errors.closest_names_hint(str(col), map(str, obs.columns))
            raise UserError(
                errors.COLUMN_MISSING, path=path, role="outcome", column=col, hint=hint,
                option=option,
            )  # fmt: skip
    if spec.task in ("binary", "multiclass"):
        classes = run.model_card["classes"]
        labels = [None if pd.isna(v) else label_string(v) for v in obs[target]]
        left_out = set(classes_left_out(run))
        labels = [None if v in left_out else v for v in labels]
        unknown = sorted({v for v in labels if v is not None and v not in classes})
        if unknown:
            raise UserError(
                errors.VALIDATE_UNKNOWN_CLASSES,
                path=path,
                column=target,
                unknown=errors.examples(unknown, 5),
                classes=", ".join(classes),
            )
        return np.array([np.nan if v is None else classes.index(v) for v in labels])
    if spec.task == "regression":
        return pd.to_numeric(obs[target], errors="coerce").to_numpy(float)
    time = pd.to_numeric(obs[time_col], errors="coerce").to_numpy(float)
    event = pd.to_numeric(obs[event_col], errors="coerce").to_numpy(float)
    bad = ~np.isnan(event) & ~np.isin(event, (0, 1))
    if bad.any():
        raise UserError(errors.VALIDATE_EVENT_CODES, path=path, column=event_col, n=int(bad.sum()))
    return np.where(event == 1, time, -time)


def classes_left_out(run: Run) -> list[str]:
    """The classes the run left out as too small to learn (results ``outcome``)."""
    rows = (run.results.get("outcome") or {}).get("classes_left_out") or []
    return [str(row["label"]) for row in rows]


def left_out_class_note(adata: Any, run: Run, target: str | None) -> str | None:
    """A warning when the new samples hold classes the run left out: those samples are
    not scored (the model cannot predict a class it never learned), so the figures
    describe the learned classes only."""
    left_out = set(classes_left_out(run))
    if not left_out or not target or target not in adata.obs.columns:
        return None
    labels = [label_string(v) for v in adata.obs[target] if not pd.isna(v)]
    found = sorted({v for v in labels if v in left_out})
    if not found:
        return None
    n = sum(v in left_out for v in labels)
    return (
        f"{n} sample(s) of class(es) {', '.join(repr(c) for c in found)}, left out of the run "
        "as too small to learn, are not scored: the model cannot predict them, so these "
        "figures hold for the learned classes only"
    )


def cohort_groups(obs: pd.DataFrame, run: Run, path: str) -> tuple[np.ndarray | None, str]:
    """The run's ``--groups`` column in a new cohort, as codes, and a warning.

    ``(None, "")`` when the run had no groups; ``(None, warning)`` when the cohort lacks
    the column, since its bootstrap then treats rows as independent patients. A missing
    patient ID is refused with one line.
    """
    column = run.results["spec"].get("groups")
    if not column:
        return None, ""
    if column not in obs.columns:
        return None, (
            f"the run was made with --groups '{column}' but {path} has no '{column}' column: "
            "the bootstrap CIs treat its rows as independent patients, too narrow if a "
            "patient has several rows"
        )
    values = obs[column]
    if values.isna().any():
        first = str(obs.index[int(np.flatnonzero(values.isna().to_numpy())[0])])
        reason = (
            f"column '{column}' in {path} has missing values (first: sample {first}); "
            "give every sample its group"
        )
        raise UserError(errors.OPTION_INVALID, option="--groups", reason=reason)
    return pd.factorize(values.astype(str))[0], ""


def _annotations_record(adata: Any) -> dict[str, Any]:
    """The cohort's annotation table, as validation.json records it (none: nothing)."""
    files = adata.uns.get("provenance", {}).get("files", [])
    sheet = next((f for f in files if f.get("role") == "annotations"), None)
    if sheet is None:
        return {}
    joined = adata.uns["provenance"]["annotations"]
    return {
        "annotations": {
            "path": sheet["path"],
            "sha256": sheet["sha256"],
            "id_column": joined["id_column"],
            "left_out": joined["data_without_annotations"],
        }
    }


def bootstrap_text(n_bootstrap: int, n: int, groups: np.ndarray | None, column: str) -> str:
    """What the bootstrap resampled: the ``n`` samples, or whole patients (``groups``)."""
    if groups is None:
        return f"{n_bootstrap} bootstrap resamples of the {n} samples"
    return (
        f"{n_bootstrap} bootstrap resamples of the {len(np.unique(groups))} patients "
        f"('{column}', the run's --groups; {n} samples), each drawn with all its samples"
    )


def _metrics(
    task: str,
    y: np.ndarray,
    pred: np.ndarray,
    seed: int,
    threshold: float | None,
    groups: np.ndarray | None = None,
) -> dict[str, Any]:
    """Primary and secondary metrics with bootstrap 95% CIs (whole ``groups`` resampled).

    Binary: the metrics that need a decision (balanced accuracy) score the classes
    ``predict`` gives, at the ``threshold`` stored at training; they see the predicted
    classes as a one-hot matrix, so they never re-fit a threshold to the cohort's labels.
    """
    W = bootstrap_weights(len(y), N_BOOTSTRAP, np.random.default_rng(seed), groups)
    ones = np.ones((1, len(y)))
    decided = pred
    if task == "binary" and threshold is not None:
        decided = np.eye(2)[predicted_classes(pred, threshold)]
    out = {}
    for m in (PRIMARY[task], *SECONDARY[task]):
        p = decided if m.name in DECISION_METRICS else pred
        lo, hi = np.nanpercentile(m.fn(y, p, W), [2.5, 97.5])
        out[m.name] = {"value": float(m.fn(y, p, ones)[0]), "ci95": [float(lo), float(hi)]}
    return out


def outcome_size_warnings(task: str, y: np.ndarray, n_classes: int = 0) -> list[str]:
    """Warnings where the outcomes are fewer than the audit asks of one estimate.

    The audit's minimums: ``MIN_GROUP_SIZE`` samples per group and ``min_events``
    positives, negatives or events per estimate (after Peduzzi et al. 1996). Counts below
    them are not given, only the minimum (small cells are never reported).
    """
    min_events = int(AuditThresholds().min_events.value)
    out = []
    if len(y) < MIN_GROUP_SIZE:
        out.append(
            f"fewer than {MIN_GROUP_SIZE} samples with an outcome (the audit's minimum group "
            "size): the estimates are imprecise"
        )
    if task in ("binary", "multiclass"):
        if np.bincount(y.astype(int), minlength=n_classes).min() < min_events:
            out.append(
                f"fewer than {min_events} samples in the smallest outcome class (the audit's "
                "minimum of events per estimate, after Peduzzi et al. 1996): the estimates "
                "are unstable"
            )
    elif task == "survival" and int((y > 0).sum()) < min_events:
        out.append(
            f"fewer than {min_events} events (the audit's minimum per estimate, after Peduzzi "
            "et al. 1996): the estimates are unstable"
        )
    return out


def validation_status(overlap: dict[str, Any]) -> str:
    """What the validation is, given the check of the cohort against the training rows."""
    if not overlap["checked"]:
        return (
            "validation on a cohort said to be independent; its overlap with the training "
            f"data was not checked ({overlap['reason']})"
        )
    if overlap["n_overlap"]:
        return (
            f"NOT an external validation: {overlap['n_overlap']} of {overlap['n_rows']} cohort "
            f"rows ({overlap['fraction']:.0%}) are identical to training rows"
        )
    return (
        "external validation: no cohort row equals a training row (checked with keyed "
        "hashes), and the cohort played no part in model or signature choice"
    )


def validate(
    run_dir: str | Path,
    cohort: str | Path,
    *,
    id_column: str | None = None,
    out_dir: str | Path | None = None,
    seed: int = 0,
    allow_training_overlap: bool = False,
    decimal: str | None = None,
    annotations: str | Path | None = None,
    annotations_id_column: str | None = None,
    orient: str | None = None,
    drop_unmatched: bool | None = None,
    target: str | None = None,
    time: str | None = None,
    event: str | None = None,
    notes: str | Path | None = None,
    notes_id: str | None = None,
    notes_text: str | None = None,
    notes_time: str | None = None,
    index_time: str | None = None,
) -> dict[str, Any]:
    """Score the run's model and minimal signature on ``cohort``; write validation.json.

    The cohort is read as the run read its data (:func:`insightome.prediction.read_new_data`:
    ID columns, orientation, decimal mark and annotation features default to the run's
    own), with ``annotations`` the cohort's own sample sheet; its outcome is in the run's
    columns unless ``target`` or ``time``/``event`` name others. A run made with ``--notes``
    needs the cohort's clinical notes, ``notes`` (read with the run's lexicon and settings;
    :mod:`insightome.saved_run_notes`).

    The cohort's rows are checked against the run's training rows (keyed hashes,
    :mod:`insightome.overlap`): with half or more of them training rows it is refused
    unless ``allow_training_overlap``; any overlap is a warning in the report. Binary
    decisions use the threshold stored at training, as ``predict`` does.
    """
    check_options({"seed": seed}, command="validate")
    new_notes = NotesReading(notes, notes_id, notes_text, notes_time, index_time)
    new_notes.check()
    run = Run.load(run_dir)
    spec = run.spec
    columns = outcome_columns(run, target, time, event)
    keep = [c for c in columns.values() if c]
    read_keep = [*keep, *([spec.groups] if spec.groups else [])]
    reading = Reading(annotations, id_column, annotations_id_column, orient, drop_unmatched,
                      decimal, new_notes)  # fmt: skip
    adata = read_new_data(run, cohort, reading, read_keep)
    y = cohort_outcome(adata, run, str(cohort), columns)
    groups, groups_warning = cohort_groups(adata.obs, run, str(cohort))
    X, missing = feature_table_with_missing(adata, run, str(cohort))
    known = ~np.isnan(y)
    if known.sum() < 10:
        raise UserError(
            errors.VALIDATE_TOO_FEW, path=str(cohort), n=int(known.sum()), column=keep[0]
        )
    task = run.results["task"]
    n_classes = len(run.model_card.get("classes", []))
    keyed, dtypes = with_image_keys(X, adata.obs, run.model_card["dtypes"])
    overlap = training_overlap(run.training_rows, keyed, dtypes, absent=missing)
    warnings = check_overlap(overlap, path=str(cohort), what="an external validation",
                             command="validate", allow=allow_training_overlap)  # fmt: skip
    X, y = X[known], y[known]
    groups = None if groups is None else groups[known]
    warnings += [groups_warning] * bool(groups_warning)
    warnings += [note for note in (unmatched_note(adata),) if note]
    warnings += [n for n in (left_out_class_note(adata, run, columns["target"]),) if n]
    if task in ("binary", "multiclass"):
        y = y.astype(int)
        if len(np.unique(y)) < 2:
            raise UserError(errors.VALIDATE_ONE_CLASS, path=str(cohort), column=spec.target)
    warnings += outcome_size_warnings(task, y, n_classes)
    threshold = stored_threshold(run) if task == "binary" else None
    report: dict[str, Any] = {
        "cohort": {
            "path": str(Path(cohort).resolve()),
            "sha256": file_sha256(cohort),
            "n_samples": len(y),
            "n_without_outcome": int((~known).sum()),
            "outcome_columns": {k: v for k, v in columns.items() if v},
            **_annotations_record(adata),
            **new_notes_record(adata),
        },
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "development_estimate": run.results["estimate"],
        "decision_threshold": threshold,
        "bootstrap": bootstrap_text(N_BOOTSTRAP, len(y), groups, str(spec.groups)),
        "models": {},
        "status": validation_status(overlap),
        "training_overlap": overlap,
        "warnings": warnings,
    }
    cut = None if threshold is None else threshold["value"]
    full_model = saved_model(run, adata)  # with note terms: given the cohort's notes
    full_missing = [m for m in missing if m in X.columns]
    report["models"]["full"] = {
        "features_expected": len(run.model_card["features"]),
        "features_missing": full_missing,
        "note": (
            f"{len(full_missing)} feature(s) missing in the cohort were imputed with the "
            "training median/mode: the estimate is for the model with those features absent"
            if full_missing
            else "all features present"
        ),
        "metrics": _metrics(
            task, y, predict_matrix(full_model, X, task, n_classes), seed, cut, groups
        ),
    }
    sig = (run.model_card.get("signature") or {}).get("features")
    if run.signature_model is not None and sig:
        sig_missing = [f for f in sig if f in set(full_missing)]
        report["models"]["signature"] = {
            "features": sig,
            "features_missing": sig_missing,
            "development_estimate": (run.results.get("discovery") or {})
            .get("signature", {})
            .get("estimate"),
            "metrics": _metrics(
                task,
                y,
                predict_matrix(
                    saved_model(run, adata, run.signature_model), X[sig], task, n_classes
                ),
                seed,
                cut,
                groups,
            ),
        }
    report = json_ready(report)

    report["path"] = str(write_validation(run, report, cohort, out_dir))
    refresh_if_recorded(run.path, report["path"], "validations")  # documents follow
    return report
