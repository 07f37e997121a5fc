"""The stages after the final fit that look into the model: discover and audit."""

from __future__ import annotations

from insightome.audit.auditing import audit_model
from insightome.discover.discovery import discover as run_discovery
from insightome.evaluate.bbc import estimator_arguments
from insightome.models.ensemble import searched_note
from insightome.stages.state import RunState


def discover(state: RunState) -> None:
    """Discovery on the run's plan and out-of-fold predictions (:mod:`insightome.discover`):
    the minimal signature, effects, attributions, subgroups, pathways and hypotheses."""

    o, log = state.options, state.log
    bbc, n = state.require("bbc"), state.require("search").n_configurations_
    configurations, winner = state.require("candidates")[:n], discovery_configuration(state)
    found = run_discovery(
        state.require("study"),
        configurations,
        winner,
        state.require("plan"),
        state.require("cv").oof[:, :n],
        gene_sets=state.gene_sets,
        tolerance=o.signature_tolerance,
        n_bootstrap=o.n_bootstrap,
        estimator=estimator_arguments(
            o.bbc_pooling,
            o.bbc_interval,
            state.require("plan").splits,
            len(state.require("study").y),
        ),
        seed=o.seed,
        n_jobs=o.n_jobs,
        min_cell=o.min_cell,
    )
    if winner != bbc.winner:
        found.notes.append(searched_note(len(bbc.averaged), configurations[winner].name))
    state.found = found
    for note in found.notes:
        log("discovery: " + note)
    if found.signature is not None:
        sig = found.signature
        log(
            f"minimal signature: {sig.size} feature(s), BBC-CV {sig.bbc.metric} "
            f"{sig.bbc.estimate.value:.3f}; {len(sig.stability.stable)} stable feature(s); "
            f"{len(found.hypotheses)} hypotheses"
        )


def discovery_configuration(state: RunState) -> int:
    """The configuration discovery searches a signature for: the winner, or the best of
    the configurations an average winner averages (--ensemble)."""
    bbc = state.require("bbc")
    if bbc.winner < state.require("search").n_configurations_:
        return int(bbc.winner)
    return int(max(bbc.averaged, key=lambda c: bbc.cv_mean[c]))


def audit(state: RunState) -> None:
    """The model half of the audit (the data half ran in the study stage): the audit
    section of results.json and the conformal thresholds for the model card."""

    o = state.options
    signature = state.found.signature if state.found is not None else None
    model_part, state.conformal_thresholds = audit_model(
        state.require("study"),
        state.require("winner"),
        state.require("plan"),
        state.require("cv").oof[:, state.require("bbc").winner],
        state.require("audit_settings"),
        ranking=signature.stability.ranking if signature is not None else [],
        n_bootstrap=o.n_bootstrap,
        seed=o.seed,
        n_jobs=o.n_jobs,
    )
    flags = (model_part.get("model") or {}).get("flags") or []
    state.log(f"audit: {len(flags)} group disparity flag(s)")
    state.audit_result = {"data": state.data_audit, **model_part}
