"""The report's "Augmentation" section, from ``results["augmentation"]`` (``--augment``):
the verdict, then a table of the best real-only and the best augmented candidate — each
metric with its 95% bootstrap interval, the paired difference with its own, and the
finding — how they were compared, and the caveat that both are optimistic while the run's
headline is the BBC-CV estimate of the winner. Absent without the option."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from insightome.audit.performance_figures import LABELS
from insightome.report.formatting import as_float, as_mapping, fmt, metric_label

__all__ = ["build_augmentation"]

BETTER = {"higher": "higher is better", "lower": "lower is better", "closer to 1": "1 is ideal"}


def build_augmentation(results: Mapping[str, Any]) -> dict[str, Any] | None:
    """Everything the section shows, or ``None`` for a run without ``--augment``."""
    aug = as_mapping(results.get("augmentation"))
    if not aug:
        return None
    label, why = LABELS["augmentation"]
    real, augmented = as_mapping(aug.get("real_only")), as_mapping(aug.get("augmented"))
    rows = [
        {
            "metric": metric_label(m.get("metric")),
            "better": BETTER.get(str(m.get("better")), ""),
            "real_only": _value_ci(m.get("real_only"), m.get("real_only_ci95")),
            "augmented": _value_ci(m.get("augmented"), m.get("augmented_ci95")),
            "difference": _value_ci(m.get("difference"), m.get("difference_ci95"), signed=True),
            "finding": _finding(m),
            "undefined": int(as_float(m.get("undefined_bootstraps")) or 0),
        }
        for m in (as_mapping(x) for x in aug.get("metrics") or [])
    ]
    share = as_float(aug.get("augmented_selection_frequency"))
    return {
        "label": label,
        "why": why,
        "verdict": str(aug.get("verdict", "")),
        "compared": bool(aug.get("compared")),
        "real_only": str(real.get("name", "")),
        "augmented": str(augmented.get("name", "")),
        "rows": rows,
        "method": _method(aug),
        "caveat": str(aug.get("caveat", "")),
        "winner": (
            f"The winner, {aug.get('winner')}, is "
            + ("an augmented candidate" if aug.get("winner_augmented") else "a real-only candidate")
            + (
                f"; BBC-CV's in-bag selection picked an augmented candidate in {share:.0%} of "
                "its bootstraps."
                if share == share
                else "."
            )
        ),
    }


def _value_ci(value: Any, ci: Any, signed: bool = False) -> str:
    shown = fmt(value)
    if signed and as_float(value) == as_float(value) and as_float(value) >= 0:
        shown = "+" + shown
    if isinstance(ci, Sequence) and not isinstance(ci, str) and len(ci) == 2:
        return f"{shown} ({fmt(ci[0])} to {fmt(ci[1])})"
    return shown


def _finding(m: Mapping[str, Any]) -> str:
    finding = str(m.get("finding", ""))
    if "distance_from_1_change" not in m:
        return finding
    ci = m.get("distance_from_1_change_ci95") or [None, None]
    return (
        f"{finding} (distance of the slope from 1 changed by "
        f"{fmt(m.get('distance_from_1_change'))}, 95% CI {fmt(ci[0])} to {fmt(ci[1])})"
    )


def _method(aug: Mapping[str, Any]) -> str:
    method = {"cart": "sequential CART", "copula": "Gaussian copula"}.get(
        str(aug.get("method")), str(aug.get("method"))
    )
    return (
        f"Every candidate had an augmented twin: the same pipeline trained on its training "
        f"fold plus {as_float(aug.get('ratio')):g} synthetic row(s) per real row, made by a "
        f"{method} synthesizer fitted on that training fold alone (its outcome included), "
        "so no synthetic row is made from, or scored in, a test fold. BBC-CV selected among "
        "real-only and augmented candidates together. The two compared here are the best of "
        "each kind by mean cross-validated score, on the same out-of-fold predictions; the "
        f"intervals are percentiles of {fmt(aug.get('n_bootstrap'), 0)} bootstrap resamples "
        "of the patients (the same draws for both, so the difference is paired). A finding "
        "is 'better' or 'worse' only when the difference's interval excludes 0 (for the "
        "calibration slope, the change in its distance from 1)."
    )
