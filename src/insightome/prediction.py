"""Apply a saved run's model to new samples (`insightome predict`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd

from insightome import errors
from insightome.audit.conformal import apply_thresholds
from insightome.audit.prediction_log import log_predictions
from insightome.errors import UserError
from insightome.evaluate.engine import predict_matrix
from insightome.io import read
from insightome.models.ensemble import each_member
from insightome.options import recorded_options
from insightome.run_content import class_table, in_memory_provenance
from insightome.run_directory import Run, file_sha256
from insightome.saved_run_images import model_with_images, new_images_line, with_new_images
from insightome.saved_run_notes import (
    NotesReading,
    check_notes_reading,
    index_column,
    model_with_texts,
    note_features_for,
    notes_line,
    run_made_with_notes,
    run_note_features,
    with_note_columns,
)
from insightome.study import label_string

NOTES_SUMMARY = "notes_summary"  # adata.uns: what the new samples' notes gave (counts)


def feature_table(adata: ad.AnnData, run: Run, path: str) -> pd.DataFrame:
    """The model's expected features, in training order and dtypes, from ``adata``.

    A missing feature raises a :class:`UserError` naming it.
    """
    table, _ = _aligned(adata, run, path, allow_missing=False)
    return table


def feature_table_with_missing(
    adata: ad.AnnData, run: Run, path: str
) -> tuple[pd.DataFrame, list[str]]:
    """As :func:`feature_table`, but missing features become empty columns.

    For validation and monitoring: the model's imputers fill them, and the names are
    returned so they can be reported. More than half missing is still a
    :class:`UserError` (it is almost always a naming problem).
    """
    return _aligned(adata, run, path, allow_missing=True)


def _aligned(
    adata: ad.AnnData, run: Run, path: str, *, allow_missing: bool
) -> tuple[pd.DataFrame, list[str]]:
    card = run.model_card
    expected: list[str] = card["features"]
    dtypes: dict[str, str] = card["dtypes"]
    numeric = pd.DataFrame(
        np.asarray(adata.X, dtype=float), index=adata.obs_names, columns=adata.var_names.astype(str)
    )
    cat = adata.obsm.get("categorical")
    pools = [numeric, adata.obs]
    if isinstance(cat, pd.DataFrame):
        pools.insert(1, cat)
    columns: dict[str, pd.Series] = {}
    missing = []
    for name in expected:
        source = next((p for p in pools if name in p.columns), None)
        if source is None:
            missing.append(name)
            continue
        col = source[name]
        if dtypes.get(name) == "categorical":
            text = [label_string(v) if pd.notna(v) else None for v in col]
            col = pd.Categorical(text, categories=card["categories"].get(name))
        else:
            col = pd.to_numeric(col, errors="coerce")
        columns[name] = col
    # features the run took from its sample sheet, and no sheet given: the sheet was
    # forgotten (validate and monitor would otherwise impute them, unnoticed in their figures)
    joined = adata.uns.get("provenance", {}).get("annotations")
    from_sheet = (run.results.get("invocation") or {}).get("annotation_features") or []
    if missing and joined is None and set(missing) & set(from_sheet):
        raise UserError(
            errors.ANNOTATION_FEATURES_NOT_GIVEN,
            path=path,
            examples=errors.examples([m for m in missing if m in set(from_sheet)]),
        )
    if missing and allow_missing and len(missing) <= len(expected) / 2:
        for name in missing:
            columns[name] = (
                pd.Categorical([None] * adata.n_obs, categories=card["categories"].get(name))
                if dtypes.get(name) == "categorical"
                else pd.Series(np.nan, index=adata.obs_names)
            )
        return pd.DataFrame(columns, index=adata.obs_names)[expected], missing
    if missing:
        raise UserError(
            errors.VALIDATE_MOST_MISSING if allow_missing else errors.PREDICT_MISSING_FEATURES,
            path=path,
            n=len(missing),
            n_expected=len(expected),
            examples=errors.examples(missing, 10),
        )
    return pd.DataFrame(columns, index=adata.obs_names)[expected], []


def new_data_decimal(run: Run, decimal: str | None = None) -> str:
    """The decimal mark new data for ``run`` are read with: ``decimal`` when given, else
    the run's own ``--decimal`` (``results.json`` invocation; runs made before the option
    read ``auto``), so a model trained on a ``1,5``-style export scores the same export."""
    if decimal is not None:
        return decimal
    return str((run.results.get("invocation") or {}).get("decimal") or "auto")


@dataclass(frozen=True)
class Reading:
    """How new samples for a saved run are read: the reading options of ``run`` (None:
    the run's own, from results.json ``invocation``)."""

    annotations: str | Path | None = None
    id_column: str | None = None
    annotations_id_column: str | None = None
    orient: str | None = None
    drop_unmatched: bool | None = None
    decimal: str | None = None
    notes: NotesReading = field(default_factory=NotesReading)  # the new samples' notes


def new_data_orient(run: Run, orient: str | None = None) -> str:
    """``orient`` when given, else the run's ``--orient``; where that was ``auto``, the
    orientation the run's data were read in (a model trained on a genes × samples export
    scores the same export), and samples-by-features for a run given an AnnData. A run made
    before the follow-ups read new data as the run did (its invocation has no
    ``annotations_id_column``) keeps what they read then: samples-by-features."""
    if orient is not None:
        return orient
    invocation = run.results.get("invocation") or {}
    if invocation and "annotations_id_column" not in invocation:
        return "samples-by-features"
    recorded = invocation.get("orient") or "auto"
    if recorded != "auto":
        return str(recorded)
    return str((run.results.get("data") or {}).get("orientation") or "samples-by-features")


def read_new_data(
    run: Run, data: str | Path, reading: Reading, keep_in_obs: Sequence[str] = ()
) -> ad.AnnData:
    """New samples for ``run`` read as the run read its data: its ID columns, orientation,
    decimal mark and annotation features, each overridable in ``reading``; an annotation
    table is the new samples' own (``reading.annotations``)."""
    recorded = run.results.get("invocation") or {}

    def own(name: str) -> Any:
        value = getattr(reading, name)
        return recorded.get(name) if value is None else value

    check_notes_reading(reading.notes, run.results, _run_name(run))
    annotations = reading.annotations
    # without a sheet, the model's missing-feature handling names them (see _aligned)
    features = recorded_options(recorded).sheet_features() if annotations else []
    index = index_column(run.results, reading.notes)
    adata = read(
        data,
        annotations=annotations,
        id_column=own("id_column"),
        annotations_id_column=own("annotations_id_column") if annotations else None,
        orient=new_data_orient(run, reading.orient),
        keep_in_obs=[*keep_in_obs, *([index] if index and index not in keep_in_obs else [])],
        decimal=new_data_decimal(run, reading.decimal),
        drop_unmatched=bool(own("drop_unmatched")),
        annotation_features=features,
    )
    adata = with_new_notes(run, adata, reading.notes, str(data))
    return with_new_images(run.results, adata, str(data))


def _run_name(run: Run) -> str:
    return "the run" if run.path is None else str(run.path)


def with_new_notes(
    run: Run, adata: ad.AnnData, reading: NotesReading, path: str | None
) -> ad.AnnData:
    """``adata`` with the note features of its samples (a run made with ``--notes``; see
    :mod:`insightome.saved_run_notes`), their counts in ``uns``; as it is otherwise."""
    check_notes_reading(reading, run.results, _run_name(run))
    if not run_made_with_notes(run.results):
        return adata
    made = note_features_for(run.results, adata, reading, path)
    adata = with_note_columns(adata, made, run_note_features(run.results))
    adata.uns[NOTES_SUMMARY] = made.summary
    return adata


def new_notes_record(adata: ad.AnnData) -> dict[str, Any]:
    """The new samples' notes as validation.json records them: file, sha256, counts."""
    summary = adata.uns.get(NOTES_SUMMARY)
    if summary is None:
        return {}
    return {"notes": {"file": summary["file"], "line": notes_line(summary)}}


def new_notes_line(adata: ad.AnnData) -> str:
    """The line on the new samples' notes ('' without notes)."""
    summary = adata.uns.get(NOTES_SUMMARY)
    return "" if summary is None else notes_line(summary)


def saved_model(run: Run, adata: ad.AnnData, model: Any = None) -> Any:
    """The run's model (or ``model``) as it predicts ``adata``: with note terms, given the
    samples' notes (and the CNN, their images) for this prediction only, in an average's
    members too."""
    return each_member(
        run.model if model is None else model,
        lambda m: model_with_images(model_with_texts(m, adata), adata),
    )


def unmatched_note(adata: ad.AnnData, *, examples: bool = False) -> str:
    """The note on samples left out for want of an annotation row ('' when none): a count
    (validation and monitoring notes reach the run's documents and report, which hold no
    sample IDs), with a few IDs when ``examples`` (``predict``'s console)."""
    joined = adata.uns.get("provenance", {}).get("annotations") or {}
    dropped = joined.get("data_without_annotations") or []
    if not dropped:
        return ""
    shown = f": {errors.examples(dropped)}" if examples else ""
    return (
        f"{len(dropped)} sample(s) without a row in the annotation table left out "
        f"(--drop-unmatched){shown}"
    )


def predict(
    run: Run | str | Path,
    data: ad.AnnData | str | Path,
    *,
    id_column: str | None = None,
    log: bool = True,
    user: str | None = None,
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
) -> pd.DataFrame:
    """Predictions of ``run``'s final model for the samples in ``data``.

    Columns: ``prob_<class>`` and ``predicted_class`` (classification), ``pred``
    (regression) or ``risk`` (survival log hazard; higher = earlier event). When the run
    holds conformal thresholds, ``prediction_set_<level>`` (classification: the classes
    that cannot be excluded at that coverage) or ``interval_<level>_low/high`` (regression)
    are added; they use the marginal threshold, whose coverage was checked per group at
    training time (report, "Uncertainty"). With ``log`` and a run loaded from a directory,
    every prediction is appended to ``<run>/prediction_log.jsonl`` (EU AI Act Art. 12).
    A file is read as the run read its data (:func:`read_new_data`): ``id_column``,
    ``annotations_id_column``, ``orient``, ``drop_unmatched`` and ``decimal`` default to
    the run's own; ``annotations`` is the new samples' annotation table, which must hold
    the run's annotation features. Samples left out for want of an annotation row are
    named in ``table.attrs["notes"]``. A run made with ``--notes`` needs the samples'
    clinical notes, ``notes`` (``notes_id``, ``notes_text``, ``notes_time`` and
    ``index_time`` default to the run's own; :mod:`insightome.saved_run_notes`).
    """
    new_notes = NotesReading(notes, notes_id, notes_text, notes_time, index_time)
    new_notes.check()
    run = run if isinstance(run, Run) else Run.load(run)
    if isinstance(data, ad.AnnData):
        input_sha = in_memory_provenance(data)["sha256"]
        adata = with_new_images(run.results, with_new_notes(run, data, new_notes, None), None)
        path, input_file = "data", None
    else:
        path = input_file = str(data)
        reading = Reading(
            annotations, id_column, annotations_id_column, orient, drop_unmatched, decimal,
            new_notes,
        )  # fmt: skip
        adata = read_new_data(run, data, reading)
        input_sha = file_sha256(data)
    X = feature_table(adata, run, path)
    task = run.model_card["task"]
    classes = run.model_card.get("classes", [])
    pred = predict_matrix(saved_model(run, adata), X, task, len(classes))
    index = pd.Index(X.index.astype(str), name="sample_id")
    if task == "regression":
        table = pd.DataFrame({"pred": pred[:, 0]}, index=index)
    elif task == "survival":
        table = pd.DataFrame({"risk": pred[:, 0]}, index=index)
    else:
        table = class_table(pred, classes, stored_threshold(run)["value"], index)
    conformal = run.model_card.get("conformal")
    if conformal and task in ("binary", "multiclass", "regression"):
        level = f"{round(100 * conformal['level'])}"
        out = apply_thresholds(pred, task, conformal, classes)
        if task == "regression":
            table[f"interval_{level}_low"], table[f"interval_{level}_high"] = out[:, 0], out[:, 1]
        else:
            table[f"prediction_set_{level}"] = out
    table.attrs["notes"] = [
        n
        for n in (
            unmatched_note(adata, examples=True),
            new_notes_line(adata),
            new_images_line(adata),
        )
        if n
    ]
    if log and run.path is not None:
        log_predictions(
            run.path,
            table,
            input_path=input_file,
            input_sha256=input_sha,
            model_sha256=run.model_card.get("model_sha256", ""),
            user=user,
            notes_sha256=(adata.uns.get(NOTES_SUMMARY) or {}).get("file", {}).get("sha256"),
        )
    return table


def stored_threshold(run: Run) -> dict[str, Any]:
    """The binary decision threshold stored at training (``model.json``), as ``predict``
    applies it: ``{"value", "source"}``. A run that predates it gets 0.5, said in ``source``.
    """
    value = run.model_card.get("decision_threshold")
    if value is None:
        return {"value": 0.5, "source": "0.5: the run stored no decision threshold"}
    return {"value": float(value), "source": "stored at training (model.json)"}
