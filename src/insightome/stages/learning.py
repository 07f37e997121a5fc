"""The learn stage (``--learning-curve``): the winner's learning curve on a fresh resampling
plan like the run's, and (with discovery) the signature's stability versus n.

It runs after estimate and before refit, because refit gives a cluster's workers back and
the curve's fits run on them (:meth:`RunState.fit_backend`). What is fitted and how:
:mod:`insightome.evaluate.learning_curve`; the power law, its band and the verdict:
:mod:`insightome.evaluate.power_law`; stability versus n:
:mod:`insightome.discover.stability_curve`. The output is results.json
``learning_curve`` (:class:`insightome.results.learning_curve.LearningCurve`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from insightome.discover.stability_curve import stability_versus_n
from insightome.evaluate.engine import cross_validated_predictions, n_units
from insightome.evaluate.learning_curve import (
    FRACTIONS,
    CurvePlan,
    CurveScores,
    bootstrap_curves,
    curve_plan,
    curve_seed,
    fresh_plan,
    score_curve,
)
from insightome.evaluate.metrics import metric_label
from insightome.evaluate.power_law import MAX_FAILED_SHARE, CurveFit, fit_curve
from insightome.evaluate.splitters import ResamplingPlan
from insightome.stages.progress import progress_bar
from insightome.stages.state import RunState

MIN_CURVE_BOOTSTRAP = 200  # bootstrap curves at least (the run's --bootstrap, up to MAX)
MAX_CURVE_BOOTSTRAP = 1000


def learn(state: RunState) -> None:
    """Fit the winner at every training size, score, fit the power law; stability vs n."""
    o, made, log = state.options, state.require("study"), state.log
    winner, task, run_plan = state.require("winner"), made.spec.task, state.require("plan")
    plan = fresh_plan(run_plan, made.y, task, groups=made.groups, seed=o.seed)
    curve = curve_plan(
        plan, made.y, task, groups=made.groups, seed=o.seed,
        fractions=o.learning_curve_sizes or FRACTIONS,
    )  # fmt: skip
    resampling = _resampling(plan, run_plan.repeats, o.seed)
    for dropped in curve.dropped:
        log("learning curve: training fraction dropped: " + dropped)
    if not curve.fractions:
        state.learning_curve = _without_sizes(curve, task, resampling)
        _announce(state, state.learning_curve["sentence"])
        return
    with progress_bar(o.progress, state.progress) as bar:

        def fit() -> Any:  # again, with a new bar, if a cluster lost its data
            advance = bar(
                f"Learning curve ({len(curve.fractions)} training sizes)",
                n_units([winner], curve.plan),
            )
            return cross_validated_predictions(
                made.features, made.y, [winner], curve.plan, n_classes=len(made.classes),
                seed=o.seed, n_jobs=o.n_jobs, progress=advance, cache=state.fit_cache(),
            )  # fmt: skip

        cv = state.fit_backend().call(fit, scatter=[made.features])
    oof = cv.oof[:, 0]
    scores = score_curve(oof, made.y, task, curve, failed_fits=int(cv.failed_folds[0]))
    n_boot = max(MIN_CURVE_BOOTSTRAP, min(o.n_bootstrap, MAX_CURVE_BOOTSTRAP))
    boot = bootstrap_curves(
        oof, made.y, task, curve, n_bootstrap=n_boot, seed=o.seed, groups=made.groups
    )
    fitted = fit_curve(
        scores.n_train, scores.score, boot, chance=scores.metric.chance, n_cohort=made.n_samples
    )
    n_groups = None if made.groups is None else len(np.unique(made.groups))
    result = curve_dict(curve, scores, fitted, made.n_samples, winner.name, n_groups=n_groups)
    result["resampling"] = resampling
    if plan.repeats > run_plan.repeats:
        result["notes"].append(
            f"the curve's own plan has {plan.repeats} repeats (the run has "
            f"{run_plan.repeats}): the band reflects which subsamples were drawn"
        )
        log("learning curve: " + result["notes"][-1])
    if fitted.fit_warnings:
        result["notes"].append(
            f"{fitted.fit_warnings} of {fitted.n_bootstrap + 1} power-law fits warned "
            "(OptimizeWarning: covariance not estimated; the band comes from the bootstrap)"
        )
    if cv.errors:
        result["notes"].append(
            f"{int(cv.failed_folds[0])} of {int(cv.n_fits[0])} fits failed ({cv.errors[0]}); "
            "their test folds are left out of those scores"
        )
    if "discover" not in state.skipped:
        stability = stability_versus_n(
            made.features, made.y, task, scores.n_train, groups=made.groups, seed=o.seed
        )
        result["signature_stability"] = stability.to_dict()
    state.learning_curve = result
    _announce(state, result["sentence"])
    if "signature_stability" in result:
        _announce(state, result["signature_stability"]["summary"])


def _announce(state: RunState, line: str) -> None:
    """One line in run.log (the console prints it with the run's summary: cli.printing)."""
    state.log("learning curve: " + line)


def sentence(
    fitted: CurveFit, metric: str, n_samples: int, n_groups: int | None, repeats: int
) -> str:
    """What doubling the cohort (N → 2N, N the final model's training samples; patients
    with groups) is expected to buy, or why the curve cannot say."""
    label = metric_label(metric)
    samples = f"{n_samples} to {2 * n_samples} samples"
    cohort = "from " + samples
    if n_groups is not None:
        cohort = f"from {n_groups} to {2 * n_groups} patients ({samples})"
    if fitted.verdict == "estimated" and fitted.gain is not None and fitted.gain_ci95:
        lo, hi = fitted.gain_ci95
        conditional = (
            "; conditional on the one set of training subsamples drawn (1 CV repeat)"
            if repeats == 1
            else ""
        )
        return (
            f"Doubling the cohort {cohort} is expected to raise the {label} by "
            f"{fitted.gain:.3f} (95% interval {lo:.3f} to {hi:.3f}{conditional})"
        )
    return (
        f"The learning curve is too flat or too noisy to say what doubling the cohort "
        f"{cohort} would buy: {fitted.reason}"
    )


def _resampling(plan: ResamplingPlan, run_repeats: int, seed: int) -> dict[str, Any]:
    """results.json ``learning_curve.resampling``: the curve's own (fresh) plan."""
    return {
        "folds": plan.folds,
        "repeats": plan.repeats,
        "run_repeats": run_repeats,
        "seed": curve_seed(seed),
        "grouped": plan.grouped,
    }


def curve_dict(
    curve: CurvePlan,
    scores: CurveScores,
    fitted: CurveFit,
    n_samples: int,
    winner: str,
    *,
    n_groups: int | None = None,
) -> dict[str, Any]:
    """results.json ``learning_curve`` (:class:`insightome.results.LearningCurve`)."""
    fold = scores.fold_scores.reshape(len(curve.fractions), -1)
    points = []
    for s, fraction in enumerate(curve.fractions):
        finite = fold[s][np.isfinite(fold[s])]
        point: dict[str, Any] = {
            "fraction": fraction,
            "n_train": float(scores.n_train[s]),
            "n_train_range": [int(curve.sizes[s].min()), int(curve.sizes[s].max())],
            "score": _number(scores.score[s]),
            "repeat_scores": [_number(v) for v in scores.repeat_scores[s]],
            "fold_sd": float(finite.std(ddof=1)) if finite.size > 1 else None,
            "fold_range": [float(finite.min()), float(finite.max())] if finite.size else None,
        }
        if curve.group_sizes is not None:
            point["n_groups"] = float(curve.group_sizes[s].mean())
        points.append(point)
    fit = None
    if fitted.params is not None:
        a, b, c = fitted.params
        fit = {"a": a, "b": b, "c": c}
    return {
        "method": (
            "the winner's pipeline refitted on nested, stratified subsamples of every training "
            "fold of a fresh resampling plan (the run's folds, groups and stratification, a "
            "new seed), predicting the full test fold; inverse power law a - b·n^(-c) by "
            "bounded least squares; band and gain perf(2N) - perf(N) from refitting it to "
            "hierarchical bootstrap curves (repeats and test samples resampled, paired "
            "across sizes)"
        ),
        "winner": winner,
        "metric": scores.metric.name,
        "n_samples": n_samples,
        **({} if n_groups is None else {"n_groups": n_groups}),
        "fractions_dropped": list(curve.dropped),
        "points": points,
        "fit": fit,
        "n_full": fitted.n_full,
        "doubling_from": float(n_samples),
        "doubling_to": float(2 * n_samples),
        "band_conditional": curve.repeats == 1,
        "curve": {
            "n": [float(v) for v in fitted.grid],
            "fitted": [_number(v) for v in fitted.fitted],
            "low": [_number(v) for v in fitted.band[0]],
            "high": [_number(v) for v in fitted.band[1]],
        },
        "doubling_gain": _number(fitted.gain) if fitted.verdict == "estimated" else None,
        "doubling_gain_ci95": (
            list(fitted.gain_ci95) if fitted.verdict == "estimated" and fitted.gain_ci95 else None
        ),
        "verdict": fitted.verdict,
        "reason": fitted.reason,
        "full_size_ci95": [_number(v) for v in fitted.full_ci95],
        "rise": _number(fitted.rise),
        "rise_ci95": [_number(v) for v in fitted.rise_ci95],
        "n_bootstrap": fitted.n_bootstrap,
        "failed_bootstrap_fits": fitted.failed_fits,
        "max_failed_share": MAX_FAILED_SHARE,
        "failed_fits": scores.failed_fits,
        "sentence": sentence(fitted, scores.metric.name, n_samples, n_groups, curve.repeats),
        "notes": [],
    }


def _without_sizes(curve: CurvePlan, task: str, resampling: dict[str, Any]) -> dict[str, Any]:
    """The record when every training fraction was dropped."""
    reason = "every training fraction was dropped (" + "; ".join(curve.dropped) + ")"
    return {
        "method": "no training size could be fitted",
        "winner": None,
        "metric": None,
        "n_samples": 0,
        "fractions_dropped": list(curve.dropped),
        "points": [],
        "fit": None,
        "n_full": None,
        "doubling_from": None,
        "doubling_to": None,
        "band_conditional": curve.repeats == 1,
        "resampling": resampling,
        "curve": {"n": [], "fitted": [], "low": [], "high": []},
        "doubling_gain": None,
        "doubling_gain_ci95": None,
        "verdict": "too_few_sizes",
        "reason": reason,
        "full_size_ci95": [None, None],
        "rise": None,
        "rise_ci95": [None, None],
        "n_bootstrap": 0,
        "failed_bootstrap_fits": 0,
        "max_failed_share": MAX_FAILED_SHARE,
        "failed_fits": 0,
        "sentence": f"No learning curve for this {task} study: {reason}",
        "notes": [],
    }


def _number(value: Any) -> float | None:
    """A finite float, or None (JSON has no NaN)."""
    if value is None:
        return None
    value = float(value)
    return value if np.isfinite(value) else None
