"""The report's "how the study was set up" paragraph (Study and data section).

It says what the data decided rather than the user: the task read from the outcome (the
rule, the decision, the override), the classes too small to learn that were left out, the
task modelled when leaving them out changed it (``task_detection.final_task``), and a fold
count other than the one asked for or the default
(``outcome.task_detection``, ``outcome.classes_left_out``, ``resampling.fold_choice``;
:mod:`insightome.fold_design` states the rule). Runs without these keys get no paragraph.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from insightome.fold_design import LEGACY_MIN_TRAINING_PER_CLASS, class_rule
from insightome.report.formatting import as_mapping

__all__ = ["design_paragraph"]


def design_paragraph(results: Mapping[str, Any]) -> str:
    """One paragraph, or "" when the data decided nothing about the design."""
    outcome = as_mapping(results.get("outcome"))
    column = outcome.get("target") or "the outcome"
    parts: list[str] = []
    detection = as_mapping(outcome.get("task_detection"))
    final = detection.get("final_task")
    if detection and final:  # the column read one way, the study modelled another
        parts.append(
            f"The outcome '{column}' was read as {detection.get('task')}: it holds "
            f"{detection.get('reason')}. Rule: {detection.get('rule')}. Give "
            f"{detection.get('override')} to override it."
        )
    elif detection:
        parts.append(
            f"The task, {detection.get('task')}, was detected from '{column}', which holds "
            f"{detection.get('reason')}. Rule: {detection.get('rule')}. Give "
            f"{detection.get('override')} to override it."
        )
    left_out = [as_mapping(c) for c in outcome.get("classes_left_out") or []]
    if left_out:
        n = sum(int(c.get("n_samples", 0)) for c in left_out)
        names = ", ".join(f"'{c.get('label')}' ({_size(c)})" for c in left_out)
        word = "Class" if len(left_out) == 1 else "Classes"
        grouped = any("n_groups" in c for c in left_out)
        rule = class_rule(
            int(outcome.get("min_training_per_class", LEGACY_MIN_TRAINING_PER_CLASS)), grouped
        )
        these = "This sample was" if n == 1 else f"These {n} samples were"
        parts.append(
            f"{word} {names} of '{column}' {'was' if len(left_out) == 1 else 'were'} left "
            f"out: {rule}. {these} not modelled, and the model never predicts "
            f"{'this class' if len(left_out) == 1 else 'these classes'}."
        )
    if detection and final:
        parts.append(
            f"The task modelled is therefore {final}, not {detection.get('task')}: "
            f"{detection.get('changed_because')}."
        )
    choice = as_mapping(as_mapping(results.get("resampling")).get("fold_choice"))
    if choice and choice.get("requested") is None and choice.get("reason") != "the default":
        parts.append(
            f"{choice.get('chosen')}-fold cross-validation was used: {choice.get('reason')}; "
            "every nested resampling (bootstrap, permutations, audit, signature search) uses "
            "the same folds."
        )
    return " ".join(parts)


def _size(c: Mapping[str, Any]) -> str:
    n = int(c.get("n_samples", 0))
    text = f"{n} sample{'s' if n != 1 else ''}"
    if c.get("n_groups") is not None:
        g = int(c["n_groups"])
        text += f" from {g} group{'s' if g != 1 else ''}"
    return text
