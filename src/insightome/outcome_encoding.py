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

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import pandas as pd

from insightome import errors
from insightome.errors import UserError

Task = Literal["binary", "multiclass", "regression", "survival"]
TASKS: tuple[str, ...] = ("binary", "multiclass", "regression", "survival")
#: An outcome of whole numbers is classes (codes) when it has at most this many values …
MAX_CLASS_CODES = 10
#: … and at least this many samples per value (n >= 5 x values) …
SAMPLES_PER_CODE = 5
#: … or, when the values are consecutive codes (1, 2, …, k with none missing), this many.
SAMPLES_PER_CONSECUTIVE_CODE = 2
MAX_MULTICLASS_LEVELS = MAX_CLASS_CODES  # the name before issue 17
CODES_RULE = (
    f"an outcome of whole numbers is classes when it has at most {MAX_CLASS_CODES} distinct "
    f"values and at least {SAMPLES_PER_CODE} samples per value, or "
    f"{SAMPLES_PER_CONSECUTIVE_CODE} per value when the values are consecutive codes "
    "(like 1 to 9, none missing); otherwise it is a regression target"
)


@dataclass(frozen=True)
class TaskDecision:
    """The task read from an outcome column, and why (printed before fitting).

    ``task`` is what the column looks like. When the study then models another task —
    a multiclass outcome with only 2 classes left once the classes too small to learn are
    left out is binary — ``final_task`` holds it and ``changed_because`` says why
    (:meth:`settled`); :attr:`modelled` is the task the models learn either way."""

    task: Task
    reason: str  # what was seen in the column
    rule: str  # the rule that decided
    override: str  # the option that says otherwise
    final_task: Task | None = None  # the task modelled, when it is not ``task``
    changed_because: str | None = None  # why the modelled task is not ``task``

    @property
    def modelled(self) -> Task:
        return self.final_task or self.task

    def settled(self, final_task: Task, because: str) -> TaskDecision:
        """The decision with the task the study models instead, and why."""
        return replace(self, final_task=final_task, changed_because=because)

    def sentence(self, column: str | None) -> str:
        name = f"'{column}'" if column else "the outcome"
        return (
            f"task detected as {self.task} from {name}: {self.reason}. Rule: {self.rule}. "
            f"Override with {self.override}."
        )

    def change_sentence(self) -> str | None:
        """The line that says the modelled task is not the one detected (None when it is)."""
        if self.final_task is None:
            return None
        return f"task {self.final_task}, not the {self.task} detected: {self.changed_because}"

    def to_dict(self) -> dict[str, str]:
        d = {
            "task": self.task,
            "reason": self.reason,
            "rule": self.rule,
            "override": self.override,
        }
        if self.final_task is not None:
            d["final_task"] = self.final_task
            d["changed_because"] = self.changed_because or ""
        return d


def task_decision(y: pd.Series) -> TaskDecision:
    """The task of an outcome column (missing values ignored) with the rule that chose it.

    Text, booleans and two values are classes. Numbers with a fraction are a regression
    target. Whole numbers are classes when they look like codes (:data:`CODES_RULE`): a
    9-class tumour type coded 1-9 is classes from 18 samples on, an MMSE score (0-30, many
    values) stays a regression target. The consecutive-codes branch is what lets a small
    cohort's codes count as classes (the issue's 30 samples of 9 types); gaps in the values
    (ages 61, 64, 70, …) need 5 samples per value before they are called classes.
    """
    values = y.dropna()
    n_unique = int(values.nunique())
    if values.dtype == bool or not pd.api.types.is_numeric_dtype(values):
        task: Task = "binary" if n_unique <= 2 else "multiclass"
        return TaskDecision(
            task,
            f"{n_unique} distinct labels (not numbers)",
            "an outcome of text labels is classes: binary with 2, multiclass with more",
            "--task",
        )
    if n_unique <= 2:
        return TaskDecision(
            "binary",
            f"{n_unique} distinct values",
            "an outcome with 2 values is binary",
            "--task regression",
        )
    numbers = values.to_numpy(float)
    if not np.allclose(numbers, np.round(numbers)):
        return TaskDecision(
            "regression",
            f"{n_unique} distinct values, not all whole numbers",
            "an outcome of numbers with fractions is a regression target",
            "--task multiclass",
        )
    codes = np.unique(np.round(numbers))
    low, high = int(codes[0]), int(codes[-1])
    consecutive = high - low + 1 == n_unique
    n = len(values)
    seen = (
        f"{n_unique} distinct whole numbers from {low} to {high}"
        f"{', none missing' if consecutive else ''}, in {n} samples"
    )
    per_value = SAMPLES_PER_CONSECUTIVE_CODE if consecutive else SAMPLES_PER_CODE
    if n_unique <= MAX_CLASS_CODES and n >= per_value * n_unique:
        return TaskDecision("multiclass", seen, CODES_RULE, "--task regression")
    return TaskDecision("regression", seen, CODES_RULE, "--task multiclass")


def detect_task(y: pd.Series) -> Task:
    """The task of an outcome column (:func:`task_decision` without the reasons)."""
    return task_decision(y).task


def _row_label(index: pd.Index, pos: int) -> str:
    return f"'{index[pos]}'"


def class_labels(y: pd.Series) -> list[str]:
    """The classes of a classification outcome as text, in class order (before a positive
    class is moved last)."""
    labels = y.astype(str) if not pd.api.types.is_numeric_dtype(y) else y
    uniques = sorted(pd.unique(labels), key=lambda v: (str(type(v)), v))
    return [label_string(v) for v in uniques]


def _encode_classes(
    y: pd.Series, positive: str | None, path: str, column: str
) -> tuple[np.ndarray, list[str]]:
    labels = y.astype(str) if not pd.api.types.is_numeric_dtype(y) else y
    classes = class_labels(y)
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
