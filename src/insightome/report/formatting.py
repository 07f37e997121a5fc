"""Value and label formatting for the report's text and tables.

Everything the reader sees goes through :func:`fmt`: three decimals for floats, ``–``
for anything missing (``None``, NaN, infinities), so a partial ``results.json`` never
prints ``nan`` or ``None``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np

from insightome.evaluate.metrics import METRIC_LABELS, metric_label
from insightome.number_format import (
    MISSING,
    as_float,
    fmt_number,
    fmt_p,
    fmt_setting,
    fmt_sig,
    fmt_time,
    is_missing,
)

# The number formatters live in insightome.number_format (used by audit and discovery too)
# and the metric names in insightome.evaluate.metrics (next to the metrics); the report's
# modules keep importing them from here.
__all__ = [
    "METRIC_LABELS", "METRIC_MEANINGS", "MISSING", "as_float", "as_mapping", "compact", "fmt",
    "fmt_ci", "fmt_interval", "fmt_p", "fmt_raw", "fmt_seconds", "fmt_setting", "fmt_sig",
    "fmt_time", "is_missing",
    "metric_label", "plural", "verdict_mark",
]  # fmt: skip

#: A verdict as a symbol and a word, so it reads without colour (colour-blind readers,
#: printed reports): the report's cells show it next to the value, the colour only repeats it.
VERDICT_MARKS: dict[str, str] = {
    "flag": "⚑ flag",
    "coverage below target": "⚑ below target",
    "no disparity detected": "✓ no disparity",
    "coverage consistent with target": "✓ consistent",
    "insufficient evidence": "? too few to judge",
    "reference": "◆ reference",
    "reported, not judged": "· not judged",
}

#: One plain-language sentence per headline metric, for readers who are not statisticians.
METRIC_MEANINGS: dict[str, str] = {
    "auc": (
        "AUC is the probability that a randomly chosen sample of the positive class gets a "
        "higher score than a randomly chosen sample of the other class (0.5 = chance, "
        "1 = perfect)."
    ),
    "auc_macro_ovr": (
        "The AUC (macro, one-vs-rest) averages, over the classes, how well each class is "
        "separated from all the others (0.5 = chance, 1 = perfect)."
    ),
    "r2": (
        "R² is the fraction of the outcome's variance explained by the predictions "
        "(0 = no better than predicting the mean, 1 = perfect; it can be negative)."
    ),
    "c_index": (
        "The C-index is the probability that, of two comparable samples, the one with the "
        "higher predicted risk has the event first (0.5 = chance, 1 = perfect)."
    ),
}


def fmt(value: Any, digits: int = 3) -> str:
    """Format a value for display: floats to ``digits`` decimals, missing as ``–``."""
    if is_missing(value):
        return MISSING
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, Integral):
        return str(int(value))
    if isinstance(value, Real):
        return fmt_number(value, f".{digits}f")
    if isinstance(value, str):
        return value if value.strip() else MISSING
    if isinstance(value, Mapping | Sequence):
        return compact(value)
    return str(value)


def fmt_ci(ci: Any) -> tuple[str, str]:
    """The two ends of a ``[lo, hi]`` interval, each formatted (``–`` when absent)."""
    if isinstance(ci, Sequence) and not isinstance(ci, str) and len(ci) == 2:
        return fmt(as_float(ci[0])), fmt(as_float(ci[1]))
    return MISSING, MISSING


def as_mapping(value: Any) -> Mapping[str, Any]:
    """``value`` when it is a mapping, else an empty one (optional keys of the results)."""
    return value if isinstance(value, Mapping) else {}


def fmt_interval(ci: Any) -> str:
    """``'0.870–0.930'`` for a ``[lo, hi]`` interval; ``–`` when both ends are missing."""
    lo, hi = fmt_ci(ci)
    return MISSING if lo == hi == MISSING else f"{lo}–{hi}"


def fmt_seconds(value: Any) -> str:
    """Seconds with three decimals and a unit, ``–`` when missing."""
    text = fmt(as_float(value))
    return text if text == MISSING else f"{text} s"


def verdict_mark(verdict: Any) -> str:
    """The symbol-and-word form of an audit verdict (the verdict itself when unknown)."""
    return VERDICT_MARKS.get(str(verdict or ""), str(verdict or ""))


def compact(value: Any) -> str:
    """A short one-line rendering of a JSON-like value (lists joined, dicts as JSON)."""
    if value is None:
        return MISSING
    if isinstance(value, str):
        return value or MISSING
    if isinstance(value, Mapping):
        if not value:
            return MISSING
        return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)
    if isinstance(value, Sequence):
        if len(value) == 0:
            return "none"
        return ", ".join(fmt(v) for v in value)
    return fmt(value)


def fmt_raw(value: Any) -> str:
    """A value exactly as configured (parameters, specification): no rounding.

    Strings print bare, numbers in their shortest form (``0.1``, ``1e-05``), containers
    and booleans as JSON; missing values as ``–``.
    """
    if is_missing(value):
        return MISSING
    if isinstance(value, str):
        return value if value.strip() else MISSING
    if isinstance(value, Sequence) and len(value) == 0:
        return "none"
    if isinstance(value, np.generic):
        value = value.item()
    try:
        return json.dumps(value, default=str, ensure_ascii=False, allow_nan=False)
    except ValueError:  # NaN nested in a container
        return str(value)


def plural(n: int, word: str, plural_word: str | None = None) -> str:
    """``'1 sample'`` / ``'3 samples'``."""
    return f"{n} {word if n == 1 else (plural_word or word + 's')}"
