"""Which figures a report shows, and the plain-language caption under each.

:func:`build_figures` picks the task's plots of the winner's out-of-fold predictions,
then the candidates plot (the picture of the optimism) and, when the run has one, the
permutation null distribution. A plot that cannot be drawn (a column missing from
``predictions``, a single class, …) becomes a figure with an ``error`` text instead of
an image, so one bad input never costs the whole report.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from insightome.report import estimate_plots, plots
from insightome.report.formatting import as_float, fmt, fmt_p, metric_label

__all__ = ["FigureItem", "build_figures", "permutation_p"]

OOF_NOTE = (
    "These are the winning configuration's out-of-fold predictions (each sample scored by "
    "a model that never saw it), so the picture shares the slight optimism of its plain "
    "cross-validated score."
)


@dataclass(frozen=True)
class FigureItem:
    """One figure of the report: a PNG data URI, or the reason it could not be drawn."""

    key: str
    title: str
    caption: str
    alt: str
    uri: str | None = None
    error: str | None = None


def attempt_figure(
    key: str, title: str, caption: str, alt: str, draw: Callable[[], str]
) -> FigureItem:
    """Run ``draw``; turn any failure into a figure that says why it is missing."""
    try:
        return FigureItem(key, title, caption, alt, uri=draw())
    except Exception as exc:  # a report must render even when one plot cannot
        return FigureItem(key, title, caption, alt, error=f"{type(exc).__name__}: {exc}")


def build_figures(results: Mapping[str, Any], predictions: pd.DataFrame | None) -> list[FigureItem]:
    """All figures for ``results``, in the order the report shows them."""
    task = results.get("task")
    outcome = results.get("outcome") or {}
    figures: list[FigureItem] = []
    if predictions is None or len(predictions) == 0:
        figures.append(
            FigureItem(
                "predictions",
                "Out-of-fold predictions",
                "",
                "",
                error="no out-of-fold predictions were given",
            )
        )
    elif task == "binary":
        figures += _binary(predictions, outcome)
    elif task == "multiclass":
        figures += _multiclass(predictions, outcome)
    elif task == "regression":
        figures += _regression(predictions, outcome)
    elif task == "survival":
        figures += _survival(predictions, str(outcome.get("time") or ""))
    figures.append(_candidates(results))
    null = (results.get("permutation") or {}).get("null") or []
    if len(null) > 0:
        figures.append(_null(results))
    return figures


# -- helpers ------------------------------------------------------------------------


def permutation_p(results: Mapping[str, Any]) -> float:
    """The permutation p-value (``permutation.p_value``, else ``estimate.permutation_p``)."""
    p_value = as_float((results.get("permutation") or {}).get("p_value"))
    if np.isnan(p_value):
        p_value = as_float((results.get("estimate") or {}).get("permutation_p"))
    return p_value


def _classes(predictions: pd.DataFrame, outcome: Mapping[str, Any]) -> list[str]:
    """Class labels, from the results if given, else from the ``prob_`` columns."""
    classes = outcome.get("classes")
    if classes:
        return [str(c) for c in classes]
    return [str(c)[len("prob_") :] for c in predictions.columns if str(c).startswith("prob_")]


def _prob_column(predictions: pd.DataFrame, cls: str) -> str:
    column = f"prob_{cls}"
    if column not in predictions.columns:
        raise KeyError(f"predictions have no column '{column}'")
    return column


def _require(predictions: pd.DataFrame, *columns: str) -> pd.DataFrame:
    missing = [c for c in columns if c not in predictions.columns]
    if missing:
        raise KeyError(
            f"predictions have no column{'s' if len(missing) > 1 else ''} "
            + ", ".join(repr(c) for c in missing)
        )
    return predictions.dropna(subset=list(columns))


# -- per task -----------------------------------------------------------------------


def _binary(predictions: pd.DataFrame, outcome: Mapping[str, Any]) -> list[FigureItem]:
    classes = _classes(predictions, outcome)
    positive = outcome.get("positive_class")
    positive = str(positive) if positive is not None else (classes[-1] if classes else "")

    def data() -> tuple[np.ndarray, np.ndarray]:
        column = _prob_column(predictions, positive)
        frame = _require(predictions, "y", column)
        return (frame["y"].astype(str) == positive).to_numpy(int), frame[column].to_numpy(float)

    roc = attempt_figure(
        "roc",
        "ROC curve",
        "Sensitivity against 1 − specificity as the decision threshold moves; the dashed "
        "diagonal is a model that guesses. " + OOF_NOTE,
        f"ROC curve of out-of-fold predicted probabilities of {positive}",
        lambda: plots.roc_plot(*data(), positive_label=positive),
    )
    calibration = attempt_figure(
        "calibration",
        "Calibration",
        "Do the predicted probabilities match what happened? Samples are grouped into ten "
        "equal-sized bins by predicted probability; each point compares the bin's mean "
        "prediction with its observed fraction (95% interval). Points on the diagonal mean "
        "well-calibrated probabilities. The lower panel counts samples per probability range.",
        "Reliability diagram of out-of-fold predicted probabilities",
        lambda: plots.calibration_plot(*data(), positive_label=positive),
    )
    return [roc, calibration]


def _multiclass(predictions: pd.DataFrame, outcome: Mapping[str, Any]) -> list[FigureItem]:
    classes = _classes(predictions, outcome)

    def roc() -> str:
        columns = [_prob_column(predictions, c) for c in classes]
        frame = _require(predictions, "y", *columns)
        return plots.multiclass_roc_plot(
            frame["y"].astype(str).to_numpy(), frame[columns].to_numpy(float), classes
        )

    def matrix() -> str:
        frame = _require(predictions, "y", "predicted_class")
        return plots.confusion_matrix_plot(
            frame["y"].astype(str).to_numpy(),
            frame["predicted_class"].astype(str).to_numpy(),
            classes,
        )

    return [
        attempt_figure(
            "roc",
            "One-vs-rest ROC curves",
            "How well each class is told apart from all the others; the dashed diagonal "
            "is chance. " + OOF_NOTE,
            "One-vs-rest ROC curves of out-of-fold class probabilities",
            roc,
        ),
        attempt_figure(
            "confusion",
            "Confusion matrix",
            "Rows are the observed classes, columns the predicted ones (the most probable "
            "class out-of-fold); the diagonal counts correct predictions.",
            "Confusion matrix of out-of-fold predicted classes",
            matrix,
        ),
    ]


def _regression(predictions: pd.DataFrame, outcome: Mapping[str, Any]) -> list[FigureItem]:
    target = str(outcome.get("target") or "outcome")

    def data() -> tuple[np.ndarray, np.ndarray]:
        frame = _require(predictions, "y", "pred")
        return frame["y"].to_numpy(float), frame["pred"].to_numpy(float)

    return [
        attempt_figure(
            "scatter",
            "Predicted vs observed",
            "Each point is a sample; points on the dashed identity line are predicted "
            "exactly. A cloud flatter than the line means predictions shrink towards the "
            "mean. " + OOF_NOTE,
            "Scatter plot of out-of-fold predicted against observed values",
            lambda: plots.scatter_plot(*data(), target=target),
        ),
        attempt_figure(
            "residuals",
            "Residuals",
            "Distribution of prediction errors (observed − predicted). A histogram "
            "centred on zero means no systematic bias; long tails point to samples the "
            "model gets badly wrong.",
            "Histogram of out-of-fold residuals",
            lambda: plots.residual_histogram_plot(*data(), target=target),
        ),
    ]


def _survival(predictions: pd.DataFrame, time_name: str) -> list[FigureItem]:
    logrank: dict[str, float] = {}

    def km() -> str:
        frame = _require(predictions, "time", "event", "risk")
        uri, p_value = plots.kaplan_meier_plot(
            frame["time"].to_numpy(float),
            frame["event"].to_numpy(float).astype(int),
            frame["risk"].to_numpy(float),
            time_name,
        )
        logrank["p"] = p_value
        return uri

    item = attempt_figure(
        "km",
        "Kaplan–Meier curves by predicted risk",
        "",
        "Kaplan–Meier survival curves of the low- and high-risk halves",
        km,
    )
    caption = (
        "Samples are split at the median of the winner's out-of-fold risk score into a "
        "low- and a high-risk half; shaded bands are 95% intervals and the numbers under "
        "the axis count samples still at risk. Well-separated curves mean the risk score "
        "ranks survival well. "
    )
    if "p" in logrank:
        p_text = fmt_p(logrank["p"])
        p_text = p_text if p_text.startswith("<") else f"= {p_text}"
        caption += (
            f"Log-rank p {p_text}: descriptive only, the C-index "
            "above is the estimate of performance. "
        )
    return [FigureItem(item.key, item.title, caption + OOF_NOTE, item.alt, item.uri, item.error)]


# -- all tasks ------------------------------------------------------------------------


def _candidates(results: Mapping[str, Any]) -> FigureItem:
    estimate = results.get("estimate") or {}
    configurations = results.get("configurations") or []
    winner = (results.get("winner") or {}).get("name")
    label = metric_label(estimate.get("metric"))
    ci = estimate.get("ci95") or [None, None]
    n = len(configurations)

    def draw() -> str:
        points = [
            estimate_plots.CandidatePoint(
                str(c.get("name", "?")),
                as_float(c.get("cv_value")),
                as_float(c.get("cv_sd")),
                c.get("name") == winner,
            )
            for c in configurations
        ]
        if not any(np.isfinite(p.value) for p in points):
            raise ValueError("no configuration has a cross-validated score")
        return estimate_plots.candidates_plot(
            points, as_float(estimate.get("value")), (as_float(ci[0]), as_float(ci[1])), label
        )

    caption = (
        f"Each dot is one of the {n} candidate configurations: its cross-validated {label} "
        "(± sd over repeats). The winner, highlighted, is the best of them, so its own score "
        "is flattered by the choice. The blue line and band are the bootstrap bias-corrected "
        f"(BBC-CV) estimate, {fmt(as_float(estimate.get('value')))}, and its 95% interval: "
        "the gap between the winner's dot and the line is the optimism removed."
    )
    return attempt_figure(
        "candidates",
        "Candidate configurations and the optimism of choosing",
        caption,
        f"Dot plot of the {n} candidates' cross-validated {label}",
        draw,
    )


def _null(results: Mapping[str, Any]) -> FigureItem:
    permutation = results.get("permutation") or {}
    estimate = results.get("estimate") or {}
    label = metric_label(estimate.get("metric"))
    observed = as_float(permutation.get("observed"))
    p_value = permutation_p(results)
    statistic = permutation.get("statistic")
    caption = (
        "The whole procedure (every candidate, the selection and the estimate) was rerun "
        "after shuffling the outcomes, which breaks any real link between data and outcome. "
        "The grey histogram is what chance alone produces; the vertical line is the value "
        f"on the real outcomes (p = {fmt_p(p_value)})."
    )
    if statistic:
        caption += f" Statistic: {statistic}."
    return attempt_figure(
        "permutation",
        "Permutation null distribution",
        caption,
        "Histogram of the permutation null distribution",
        lambda: estimate_plots.permutation_null_plot(
            permutation.get("null") or [], observed, label, p_value
        ),
    )
