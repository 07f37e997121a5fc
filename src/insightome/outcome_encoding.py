"""Outcome encoding: the task of an outcome column and the ``y`` the pipelines receive.

* binary / multiclass — integer class codes ``0..k-1`` (the labels in class order; the
  positive class of a binary outcome last);
* regression — float;
* survival — *signed time*: ``time`` for an event, ``-time`` for a censored sample (the
  convention of XGBoost's ``survival:cox`` objective).

Every refusal is one :class:`UserError` naming the file, the column and the row.
:mod:`insightome.study` calls these while building a study.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from insightome import errors
from insightome.errors import UserError

Task = Literal["binary", "multiclass", "regression", "survival"]
TASKS: tuple[str, ...] = ("binary", "multiclass", "regression", "survival")
MAX_MULTICLASS_LEVELS = 10


def detect_task(y: pd.Series) -> Task:
    values = y.dropna()
    if values.dtype == bool or not pd.api.types.is_numeric_dtype(values):
        return "binary" if values.nunique() <= 2 else "multiclass"
    n_unique = values.nunique()
    if n_unique <= 2:
        return "binary"
    integral = np.allclose(values.to_numpy(float), np.round(values.to_numpy(float)))
    if integral and n_unique <= MAX_MULTICLASS_LEVELS and len(values) >= 5 * n_unique:
        return "multiclass"
    return "regression"


def _row_label(index: pd.Index, pos: int) -> str:
    return f"'{index[pos]}'"


def _encode_classes(
    y: pd.Series, positive: str | None, path: str, column: str
) -> tuple[np.ndarray, list[str]]:
    labels = y.astype(str) if not pd.api.types.is_numeric_dtype(y) else y
    uniques = sorted(pd.unique(labels), key=lambda v: (str(type(v)), v))
    classes = [label_string(v) for v in uniques]
    if positive is not None:
        if positive not in classes:
            raise UserError(
                errors.OPTION_INVALID,
                option="--positive-class",
                reason=f"'{positive}' is not a class of '{column}' in {path} "
                f"(classes: {', '.join(classes)})",
            )
        if len(classes) == 2:
            classes = [c for c in classes if c != positive] + [positive]
    lookup = {c: i for i, c in enumerate(classes)}
    codes = np.array([lookup[label_string(v)] for v in labels], dtype=int)
    return codes, classes


def label_string(v: object) -> str:
    """A class or category label as text: 1.0 → '1', so numeric and text files agree."""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, np.floating) and float(v).is_integer():
        return str(int(v))
    return str(v)


def encode_outcome(
    y: pd.Series, task: Task, positive: str | None, path: str, column: str
) -> tuple[np.ndarray, list[str]]:
    if task in ("binary", "multiclass"):
        codes, classes = _encode_classes(y, positive, path, column)
        if len(classes) < 2:
            raise UserError(errors.TARGET_SINGLE_CLASS, path=path, column=column, value=classes[0])
        if task == "binary" and len(classes) > 2:
            raise UserError(
                errors.TASK_MISMATCH,
                path=path,
                column=column,
                task=task,
                reason=f"it has {len(classes)} classes; use --task multiclass",
            )
        return codes, classes
    values = pd.to_numeric(y, errors="coerce")
    if values.isna().any():
        bad = int(np.flatnonzero(values.isna().to_numpy())[0])
        raise UserError(
            errors.TASK_MISMATCH,
            path=path,
            column=column,
            task=task,
            reason=f"sample {_row_label(y.index, bad)} holds '{y.iloc[bad]}', not a number",
        )
    if values.nunique() < 2:
        raise UserError(errors.TARGET_SINGLE_CLASS, path=path, column=column, value=values.iloc[0])
    return values.to_numpy(float), []


def survival_outcome(
    obs: pd.DataFrame, time: str, event: str, path: str
) -> tuple[np.ndarray, np.ndarray]:
    """Signed time for the samples with both time and event; one error per bad row."""

    def refuse(template: str, column: str, bad: np.ndarray, values: pd.Series) -> None:
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            row = _row_label(obs.index, i)
            raise UserError(template, path=path, column=column, row=row, value=values.iloc[i])

    t = pd.to_numeric(obs[time], errors="coerce")
    e_raw = obs[event]
    e = pd.to_numeric(e_raw.replace({True: 1, False: 0}), errors="coerce")
    refuse(errors.TIME_NOT_POSITIVE, time, (obs[time].notna() & t.isna()).to_numpy(), obs[time])
    refuse(errors.EVENT_NOT_BINARY, event, (e_raw.notna() & ~e.isin([0, 1])).to_numpy(), e_raw)
    keep = (t.notna() & e.notna()).to_numpy()
    if not keep.any():
        raise UserError(errors.TARGET_ALL_MISSING, path=path, column=time)
    refuse(errors.TIME_NOT_POSITIVE, time, keep & (t.to_numpy() <= 0), t)
    if e[keep].sum() == 0:
        raise UserError(errors.NO_EVENTS, path=path, column=event)
    signed = np.where(e[keep].to_numpy() == 1, 1.0, -1.0) * t[keep].to_numpy(float)
    return signed, keep
