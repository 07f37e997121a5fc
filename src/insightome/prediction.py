"""Apply a saved run's model to new samples (`insightome predict`)."""

from __future__ import annotations

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
from insightome.run_content import class_table, in_memory_provenance
from insightome.run_directory import Run, file_sha256
from insightome.study import label_string


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


def predict(
    run: Run | str | Path,
    data: ad.AnnData | str | Path,
    *,
    id_column: str | None = None,
    log: bool = True,
    user: str | None = None,
    decimal: str | None = None,
) -> pd.DataFrame:
    """Predictions of ``run``'s final model for the samples in ``data``.

    Columns: ``prob_<class>`` and ``predicted_class`` (classification), ``pred``
    (regression) or ``risk`` (survival log hazard; higher = earlier event). When the run
    holds conformal thresholds, ``prediction_set_<level>`` (classification: the classes
    that cannot be excluded at that coverage) or ``interval_<level>_low/high`` (regression)
    are added; they use the marginal threshold, whose coverage was checked per group at
    training time (report, "Uncertainty"). With ``log`` and a run loaded from a directory,
    every prediction is appended to ``<run>/prediction_log.jsonl`` (EU AI Act Art. 12).
    A file is read with ``decimal`` (:func:`new_data_decimal`: by default the run's own).
    """
    run = run if isinstance(run, Run) else Run.load(run)
    if isinstance(data, ad.AnnData):
        adata, path, input_file = data, "data", None
        input_sha = in_memory_provenance(data)["sha256"]
    else:
        path = input_file = str(data)
        adata = read(
            data,
            id_column=id_column,
            orient="samples-by-features",
            decimal=new_data_decimal(run, decimal),
        )
        input_sha = file_sha256(data)
    X = feature_table(adata, run, path)
    task = run.model_card["task"]
    classes = run.model_card.get("classes", [])
    pred = predict_matrix(run.model, X, task, len(classes))
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
    if log and run.path is not None:
        log_predictions(
            run.path,
            table,
            input_path=input_file,
            input_sha256=input_sha,
            model_sha256=run.model_card.get("model_sha256", ""),
            user=user,
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
