"""Checklist items and the vocabulary shared by the four generated documents.

:class:`ChecklistItem` is one item of a documentation checklist; :class:`ChecklistBuilder`
collects a document's items section by section and gives each its status: ``filled`` (the
run's own numbers), ``partially filled`` (what is still missing is named) or exactly
:data:`TO_COMPLETE`. Also here: the document names, the fixed descriptions of the pipeline,
BBC-CV, oversight and monitoring, and the number formatting used by every item. Group counts
read as the audit recorded them (:func:`insightome.groups.disclosure.count_text`): ``<k`` for
a small count under the run's ``--min-cell`` k, "suppressed" for a complementary one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from insightome.evaluate.metrics import metric_label
from insightome.groups.disclosure import MIN_CELL, count_text, is_hidden
from insightome.number_format import as_float, fmt_number

TO_COMPLETE = "to be completed by the authors"
FILLED = "filled"
PARTIAL = "partially filled"
STATUSES = (FILLED, PARTIAL, TO_COMPLETE)
SOFTWARE_LICENCE = "BSD-3-Clause"

MODEL_CARD = "Model card"
TRIPOD_AI = "TRIPOD+AI"
AI_ACT = "EU AI Act Annex IV"
FUTURE_AI = "FUTURE-AI"

#: What each metric measures, in a phrase (its name: :func:`metric_name`).
METRIC_MEANINGS = {
    "auc": "discrimination: how often a random positive is scored above a random negative",
    "auc_macro_ovr": "discrimination, averaged over the classes",
    "r2": "share of the outcome's variance explained",
    "c_index": "Harrell's concordance of predicted risk with event order",
    "balanced_accuracy": "mean per-class recall at the threshold",
    "tpr": "true-positive rate (sensitivity) at the threshold",
    "fpr": "false-positive rate at the threshold",
    "fnr": "false-negative rate at the threshold",
    "brier": "mean squared error of the probabilities (calibration)",
    "rmse": "typical prediction error, in the outcome's units",
    "mae": "mean absolute error, in the outcome's units",
    "time_dependent_auc": "discrimination at the median event time",
}
PIPELINE = (
    "Each candidate is one scikit-learn pipeline refitted inside every training fold: numeric "
    "features median-imputed and standardised, categorical features mode-imputed and one-hot "
    "encoded (unseen levels ignored), optional univariate selection of the top k features "
    "(k=all: none), then the model; nothing learnt from the data crosses a fold boundary."
)
BBC_WHY = (
    "BBC-CV (bootstrap bias-corrected CV, Tsamardinos et al. 2018) removes the optimism of "
    "reporting the best of several configurations scored on the same folds, without the cost "
    "of nested CV: each bootstrap selects the best configuration in-bag and scores it out-of-bag;"
    " the 95% CI is the 2.5th–97.5th percentile of those out-of-bag scores."
)
#: how a run's ``--bbc-pooling`` / ``--bbc-interval`` change BBC_WHY's account
_POOLING_WHY = {
    "all_repeats": "each bootstrap scores a configuration by the mean over every CV repeat of "
    "its pooled out-of-fold metric",
    "per_fold": "each bootstrap scores a configuration by the mean over one repeat's folds of "
    "the metric within each fold (the winner is chosen the same way)",
}
_INTERVAL_WHY = {
    "calibrated": "the interval is the 2.5th–97.5th percentile of the out-of-bag scores after "
    "narrowing their spread around the estimate by the multiple that kept >= 90% coverage of "
    "held-out scores in insightome's estimator study (benchmarks/results/estimators.md): it "
    "targets 90% coverage, not 95%",
    "oob_scaled": "the interval is the 2.5th–97.5th percentile of the out-of-bag scores after "
    "shrinking their spread by the square root of each bootstrap's out-of-bag fraction (it "
    "covered fewer than 90% of held-out scores in insightome's estimator study)",
}


def bbc_why(results: Mapping[str, Any]) -> str:
    """BBC_WHY for a run: the default account, or what its ``--bbc-pooling`` and
    ``--bbc-interval`` changed."""
    estimate = results.get("estimate") or {}
    pooling = _POOLING_WHY.get(str(estimate.get("pooling")))
    interval = _INTERVAL_WHY.get(str(estimate.get("interval")))
    if pooling is None and interval is None:
        return BBC_WHY
    head = BBC_WHY.rsplit(";", 1)[0] if interval else BBC_WHY[:-1]
    parts = [head, *(x for x in (pooling, interval) if x)]
    return "; ".join(parts) + "."


OVERSIGHT = (
    "`insightome predict` appends every prediction to the run's prediction log "
    "(prediction_log.jsonl: time, model sha256, input sha256, sample ID, output), and "
    "`insightome review` records a reviewer's override of a prediction, with name and reason, "
    "in the same log."
)
MONITOR = (
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


class ChecklistBuilder:
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


def nested(obj: Any, *keys: str) -> Any:
    """``obj[k1][k2]…`` through mappings only; None where any level is missing."""
    for key in keys:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def decimals(value: Any, digits: int = 3) -> str:
    """A number with ``digits`` decimals; ints as they are; n/a for None, NaN and the like."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and as_float(value) != as_float(value):
        return value  # a text that is not a number, as it is
    return fmt_number(value, f".{digits}f", missing="n/a")


def significant(value: Any) -> str:
    """Three significant digits (energies, p-values, seconds, thresholds); n/a when missing."""
    x = as_float(value)
    if x != x:
        return "n/a"
    rounded = float(f"{x:.3g}")
    return f"{rounded:g}" if rounded == 0 or 1e-4 <= abs(rounded) < 1e6 else f"{x:.3g}"


def ci_text(ci: Any) -> str:
    """A 95% interval as ``[low, high]``; ``[n/a]`` when it is not a pair."""
    if isinstance(ci, list | tuple) and len(ci) == 2:
        return f"[{decimals(ci[0])}, {decimals(ci[1])}]"
    return "[n/a]"


def min_cell_of(r: Mapping[str, Any]) -> int:
    """The run's ``--min-cell`` (from the audit settings; the default for older runs)."""
    value = nested(r, "audit", "settings", "min_cell") or nested(r, "audit", "data", "min_cell")
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    return int(value) if numeric else MIN_CELL


def count_cell(row: Mapping[str, Any], min_cell: int) -> str:
    """A group's count as it may be shown: the number, ``<min_cell`` or "suppressed"."""
    return count_text(row, "n", min_cell)


def visible(row: Mapping[str, Any]) -> bool:
    """Whether a group's estimates may be shown (its count is not hidden)."""
    return not is_hidden(row, "n")


def metric_name(name: Any) -> str:
    """The readable name of a metric key (``auc`` → AUC): the console's and the report's
    (:func:`insightome.evaluate.metrics.metric_label`); unknown keys with spaces."""
    return metric_label(str(name))


def file_name(path: Any) -> str:
    """A file by its name only: documents carry no absolute path of the machine."""
    return PurePath(str(path)).name if path else "n/a"


def name_list(values: Iterable[Any], limit: int = 12) -> str:
    """Values joined by commas, the ones past ``limit`` counted as "and N more"."""
    items = [str(v) for v in values]
    if len(items) <= limit:
        return ", ".join(items)
    return ", ".join(items[:limit]) + f" and {len(items) - limit} more"


def mapping_rows(value: Any) -> list[Mapping[str, Any]]:
    """The mappings of a list (a results table); empty when it is not a list."""
    return [r for r in value if isinstance(r, Mapping)] if isinstance(value, list) else []


def join_texts(*parts: str | None) -> str | None:
    """Sentences joined by spaces, empty ones skipped; None when all are empty."""
    kept = [p for p in parts if p]
    return " ".join(kept) if kept else None


def as_mappings(r: Mapping[str, Any], card: Mapping[str, Any]) -> tuple[Mapping[str, Any], ...]:
    """The results and the model card, each as itself when a mapping, else empty."""
    return (r if isinstance(r, Mapping) else {}), (card if isinstance(card, Mapping) else {})
