"""One performance story: the run's figures of its model's performance, each with its label.

A run computes several numbers that look like "the AUC": the selection-corrected BBC-CV
estimate, the winner's own cross-validated score, the audit's overall figure (the winner's
pooled out-of-fold predictions), the full model's plain CV score in the signature search,
the minimal signature's own estimate, per-group figures, and later external validations and
monitoring batches. Only the first is *the* estimate of how the deployed model performs; the
others answer other questions, and quoted bare they read as rival estimates.

This module is the one place their wording lives. :func:`estimate_text` quotes the estimate;
:func:`labelled` quotes any other figure with what it is and why it differs, followed by the
estimate (``winner's own CV score: AUC 0.786 — optimistic: … Selection-corrected estimate
(BBC-CV): 0.778``). The documents (:mod:`insightome.audit.run_facts`,
:mod:`insightome.audit.audit_facts`, :mod:`insightome.audit.evidence`) and the report
(:mod:`insightome.report`) read them from here, so every place says the same.
:func:`performance_figures` lists a run's figures (a test reads them to check that no
document quotes one without its label).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from insightome.number_format import as_float, fmt_number

#: The name of the estimate: every document and the report call it this.
ESTIMATE = "selection-corrected estimate (BBC-CV)"

#: key → (label, why it differs from the estimate); ``{…}`` fields are filled per run.
LABELS: dict[str, tuple[str, str]] = {
    "winner_cv": (
        "winner's own CV score",
        "optimistic: the best of {n_configurations} configurations scored on the same folds, "
        "not corrected for that choice",
    ),
    "audit_overall": (
        "audit overall (the winner's pooled out-of-fold predictions)",
        "the audit's reference for the group comparisons; pooled over folds and repeats and "
        "not corrected for the choice of the winner",
    ),
    "group": (
        "per-group figures (the winner's pooled out-of-fold predictions)",
        "for comparing groups with each other; not corrected for the choice of the winner",
    ),
    "signature_full_cv": (
        "full model's plain CV score in the signature search",
        "the reference of the signature's tolerance; not corrected for the choice of the winner",
    ),
    "signature": (
        "minimal signature's own estimate",
        "a different, smaller model ({size} feature(s)), corrected for its configuration and "
        "size choice; not the deployed model",
    ),
    "learning_curve": (
        "learning-curve score (the winner refitted on subsamples of each training fold)",
        "shows how the winner's performance changes with the training size; not corrected "
        "for the choice of the winner; a fresh cross-validation, not the one that chose it",
    ),
    "augmentation": (
        "augmentation comparison (the best real-only and the best augmented candidate, "
        "pooled out-of-fold predictions)",
        "each is the best of its kind by CV, so optimistic, and not corrected for that "
        "choice; for the difference between real-only and augmented training",
    ),
    "quantum": (
        "BBC-CV estimate of each family's own selection",
        "bias-corrected for choosing within the family, on the run's out-of-fold predictions "
        "and bootstraps; the run's headline estimate is the one of its overall winner",
    ),
    "validation": (
        "external validation",
        "the deployed model scored on an independent cohort: no selection to correct, a "
        "different population",
    ),
    "monitoring": (
        "monitoring batch",
        "the deployed model scored on a batch of new data",
    ),
}


@dataclass(frozen=True)
class PerformanceFigure:
    """One figure of a model's performance, with what it is and why it differs."""

    key: str  # "estimate" or a key of LABELS
    metric: str
    value: float
    ci95: tuple[float, float] | None
    label: str
    why: str


def number(value: Any) -> str:
    """A performance figure for people: three decimals, "n/a" when missing."""
    return fmt_number(value, ".3f", missing="n/a")


def interval(ci: Any) -> str:
    """A 95% interval as ``[low, high]`` (``[n/a]`` when it is not a pair)."""
    if isinstance(ci, list | tuple) and len(ci) == 2:
        return f"[{number(ci[0])}, {number(ci[1])}]"
    return "[n/a]"


def _ci(ci: Any) -> tuple[float, float] | None:
    if isinstance(ci, list | tuple) and len(ci) == 2:
        return float(as_float(ci[0])), float(as_float(ci[1]))
    return None


def _estimate(r: Mapping[str, Any]) -> Mapping[str, Any]:
    e = r.get("estimate")
    return e if isinstance(e, Mapping) and e.get("value") is not None else {}


def estimate_value(r: Mapping[str, Any]) -> str | None:
    """The estimate as it is printed (``0.778``), None when the run has none."""
    e = _estimate(r)
    return number(e["value"]) if e else None


def figure(
    key: str, metric: Any, value: Any, ci: Any = None, **fields: Any
) -> PerformanceFigure | None:
    """A labelled figure (``key`` of :data:`LABELS`); None when ``value`` is missing."""
    if value is None or as_float(value) != as_float(value):
        return None
    label, why = LABELS[key]
    return PerformanceFigure(
        key, str(metric), float(value), _ci(ci), label, why.format_map(_Blank(fields))
    )


class _Blank(dict):  # format_map: an unknown field reads "several"
    def __missing__(self, key: str) -> str:
        return "several"


def estimate_text(r: Mapping[str, Any], metric_name: Any = str) -> str | None:
    """``AUC 0.778 (95% CI [0.69, 0.86]), the selection-corrected estimate (BBC-CV, …)``."""
    e = _estimate(r)
    if not e:
        return None
    boots = e.get("n_bootstrap")
    how = f"{e.get('method', 'BBC-CV')}, {boots} bootstrap samples" if boots else "BBC-CV"
    return (
        f"{metric_name(e.get('metric'))} {number(e['value'])} (95% CI {interval(e.get('ci95'))})"
        f", the selection-corrected estimate ({how})"
    )


def reference(r: Mapping[str, Any]) -> str:
    """What every other figure is followed by: ``Selection-corrected estimate …: 0.778``."""
    value = estimate_value(r)
    return f"{ESTIMATE[0].upper()}{ESTIMATE[1:]}: {value}" if value else ""


def labelled(
    fig: PerformanceFigure,
    r: Mapping[str, Any],
    metric_name: Any = str,
    *,
    ci: bool = True,
    status: str = "",
) -> str:
    """``label: METRIC value [CI] — why[; status]. Selection-corrected … (BBC-CV): 0.778``."""
    shown = f"{metric_name(fig.metric)} {number(fig.value)}"
    if ci and fig.ci95 is not None:
        shown += f" {interval(fig.ci95)}"
    same_metric = fig.metric == str(_estimate(r).get("metric"))
    tail = f". {reference(r)}" if same_metric and reference(r) else ""
    why = f"{fig.why}; {status}" if status else fig.why
    return f"{fig.label}: {shown} — {why}{tail}"


def performance_figures(r: Mapping[str, Any]) -> list[PerformanceFigure]:
    """Every figure of the run's performance in its results: the estimate first.

    The primary metric only (secondary metrics have their own BBC-CV estimates); per-group
    figures are not listed (they are quoted under the per-group label).
    """
    e = _estimate(r)
    if not e:
        return []
    metric = str(e.get("metric"))
    out = [PerformanceFigure("estimate", metric, float(e["value"]), _ci(e.get("ci95")),
                             ESTIMATE, "")]  # fmt: skip
    n_configs = len(r.get("configurations") or []) or "several"
    sig = (r.get("discovery") or {}).get("signature") if isinstance(r, Mapping) else None
    sig = sig if isinstance(sig, Mapping) else {}
    sig_est = sig.get("estimate") if isinstance(sig.get("estimate"), Mapping) else {}
    overall = (((r.get("audit") or {}).get("model") or {}).get("overall") or {}).get(metric)
    overall = overall if isinstance(overall, Mapping) else {}
    curve = r.get("learning_curve") if isinstance(r.get("learning_curve"), Mapping) else {}
    points = [p for p in curve.get("points") or [] if isinstance(p, Mapping)]
    candidates = [
        figure("winner_cv", metric, e.get("plain_cv_value"), n_configurations=n_configs),
        figure("audit_overall", metric, overall.get("value"), overall.get("ci95")),
        figure("signature_full_cv", metric, sig.get("full_model_cv_value")),
        figure(
            "signature",
            sig_est.get("metric", metric),
            sig_est.get("value"),
            sig_est.get("ci95"),
            size=sig.get("size"),
        ),
        figure("learning_curve", metric, points[-1].get("score")) if points else None,
    ]
    return out + [f for f in candidates if f is not None]
