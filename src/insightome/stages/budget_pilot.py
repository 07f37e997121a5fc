"""The ``--budget`` pilot of the plan stage: fit every candidate on the first fold (the full
run reuses these fits), time the work after the selection on the same fold, and prune the
plan to the budget (:func:`insightome.compute.budget.fit_to_budget`)."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from insightome.compute.budget import AfterSelection, Budget, fit_to_budget
from insightome.discover.attribution import MAX_REPEATS as ATTRIBUTION_REPEATS
from insightome.discover.signature import SEARCH_REPEATS, search_pilot
from insightome.evaluate.engine import cross_validated_predictions, describe_warnings
from insightome.evaluate.splitters import ResamplingPlan, make_plan
from insightome.stages.state import RunState


def fit_budget(
    state: RunState, cands: list[Any], resampling: ResamplingPlan, repeats: int
) -> tuple[list[Any], ResamplingPlan, int, int, dict[str, Any]]:
    """A pilot fit of every candidate on the first fold (the full run reuses these fits)
    projects the run; permutations, repeats, then the costliest candidates are pruned to
    fit the budget. Returns the candidates, plan, repeats and permutations that fit, and
    what was decided (results.json ``compute.budget``)."""
    o, made, ledger = state.options, state.require("study"), state.require("ledger")
    assert o.budget is not None
    limit = Budget.parse(o.budget, core_power_w=ledger.core_power_w, pue=ledger.pue)
    pilot_plan = ResamplingPlan(
        (resampling.splits[0][:1],), 1, 1, resampling.seeds[:1], resampling.grouped
    )
    pilot = state.fit_backend().call(
        lambda: cross_validated_predictions(
            made.features, made.y, cands, pilot_plan, n_classes=len(made.classes),
            seed=o.seed, n_jobs=o.n_jobs, cache=state.fit_cache(),
        ),
        scatter=[made.features],
    )  # fmt: skip
    fitted = fit_to_budget(
        pilot.fit_seconds,
        [c.name for c in cands],
        folds=resampling.folds,
        repeats=repeats,
        permutations=o.permutations,
        budget=limit,
        after=_after_selection(state, cands, resampling),
    )
    info = fitted.to_dict(limit, float(pilot.fit_seconds.sum()))
    resampling = make_plan(
        made.y, made.spec.task, folds=resampling.folds, repeats=fitted.repeats, seed=o.seed,
        groups=made.groups, fold_choice=resampling.fold_choice,
    )  # fmt: skip
    for skipped in fitted.skipped:
        made.warnings.append(f"compute budget {o.budget}: skipped {skipped}")
    state.log(f"budget {o.budget}: projected {fitted.projected_cpu_seconds:.0f} CPU-s")
    return [cands[i] for i in fitted.keep], resampling, fitted.repeats, fitted.permutations, info


def _after_selection(
    state: RunState, cands: list[Any], resampling: ResamplingPlan
) -> AfterSelection:
    """The pilot of the work after the selection (:class:`AfterSelection`): the refit, the
    audit's explanations and, with discovery on, the signature search's costs on the pilot
    fold (:func:`~insightome.discover.signature.search_pilot`)."""
    o, made = state.options, state.require("study")
    folds = resampling.folds
    after = AfterSelection(
        refit_scale=folds / max(folds - 1, 1),  # all samples, where a fold fit has (k-1)/k
        folds=folds, audit=bool(o.audit), search_repeats=SEARCH_REPEATS,
        attribution_repeats=ATTRIBUTION_REPEATS,
    )  # fmt: skip
    if not o.discover:
        return after
    start = time.process_time()
    train = resampling.splits[0][0][0]
    stability, restricted, sizes, raised = search_pilot(
        cands, made.features, made.y, train, groups=made.groups, seed=o.seed
    )
    if raised:
        state.log(f"budget pilot of the signature search: {describe_warnings(raised)}")
    return dataclasses.replace(
        after, discovery=True, stability_seconds=stability,
        restricted_seconds=tuple(float(x) for x in restricted), sizes=sizes,
        pilot_seconds=time.process_time() - start,
    )  # fmt: skip
