"""``insightome.run``: from a dataset to an honest, documented performance estimate.

The CLI's ``insightome run`` is a thin layer over :func:`run`; both take the same options.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd

from insightome import errors
from insightome.compute.backends import SlurmConfig, describe_backend, parallel_backend
from insightome.compute.budget import Budget, fit_to_budget
from insightome.compute.cache import data_fingerprint
from insightome.compute.checkpoint import Checkpoint
from insightome.compute.ledger import EnergyLedger
from insightome.errors import UserError
from insightome.evaluate.bbc import bbc_cv
from insightome.evaluate.engine import (
    counted_warnings,
    cross_validated_predictions,
    describe_warnings,
    fit_warning_notes,
    n_units,
)
from insightome.evaluate.metrics import fold_thresholds
from insightome.evaluate.permutation import PermutationResult, best_cv_score, permutation_test
from insightome.evaluate.splitters import ResamplingPlan, make_plan
from insightome.models.candidates import LARGE_N, Candidate, candidates
from insightome.overlap import training_hashes
from insightome.run_options import check_run_options
from insightome.run_progress import RunLog, Stages, progress_bar
from insightome.run_record import (
    build_results,
    default_name,
    model_card,
    oof_table,
    with_provenance,
)
from insightome.runs import Run, json_ready, run_directory_name, write_run
from insightome.study import Study, make_study

#: The ``.partial`` directory (and the runs folder, if new) made by the current run() call.
_NEW_PARTIAL: ContextVar[tuple[Checkpoint, Path | None] | None] = ContextVar(
    "_NEW_PARTIAL", default=None
)


def _nothing_written_on_user_error(fn: Callable[..., Run]) -> Callable[..., Run]:
    """A :class:`UserError` raised after the run's checkpoint was made removes it again
    (and the runs folder it created), so a refused run leaves nothing behind. An
    interruption or a crash keeps it, to be finished with ``--resume``."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Run:
        token = _NEW_PARTIAL.set(None)
        try:
            return fn(*args, **kwargs)
        except UserError:
            if (made := _NEW_PARTIAL.get()) is not None:
                checkpoint, new_out_dir = made
                checkpoint.discard()
                if new_out_dir is not None and not any(new_out_dir.iterdir()):
                    new_out_dir.rmdir()
            raise
        finally:
            _NEW_PARTIAL.reset(token)

    return wrapper


@_nothing_written_on_user_error
def run(
    data: ad.AnnData | str | Path,
    target: str | None = None,
    *,
    annotations: str | Path | None = None,
    id_column: str | None = None,
    orient: str = "auto",
    task: str = "auto",
    time_col: str | None = None,
    event: str | None = None,
    sensitive: Sequence[str] = (),
    use_sensitive: bool = False,
    groups: str | None = None,
    site: str | None = None,
    exclude: Sequence[str] = (),
    positive_class: str | None = None,
    folds: int = 5,
    repeats: int | None = None,
    n_bootstrap: int = 1000,
    permutations: int = 0,
    preset: str = "default",
    seed: int = 0,
    n_jobs: int = 1,
    out_dir: str | Path | None = "runs",
    name: str | None = None,
    progress: bool = False,
    scheduler: str | None = None,
    slurm: SlurmConfig | None = None,
    checkpoint: Checkpoint | None = None,
    budget: str | None = None,
    carbon_intensity: float | None = None,
    pue: float | None = None,
    discover: bool = True,
    genesets: Sequence[str | Path] = (),
    signature_tolerance: float = 0.02,
    audit: bool = True,
    justify: Mapping[str, str] | None = None,
    min_group_size: int = 30,
    min_cell: int = 10,
    conformal_level: float = 0.9,
    audit_thresholds: Mapping[str, Any] | None = None,
    max_features: int | None = None,
    decimal: str = "auto",
) -> Run:
    """Run a study end to end and (unless ``out_dir`` is None) write its run directory.

    Every candidate pipeline is cross-validated (``repeats`` × stratified ``folds``-fold,
    group-aware with ``groups``); the winner is chosen on pooled out-of-fold predictions;
    its performance is estimated with BBC-CV and a 95% CI; ``permutations`` > 0 reruns the
    whole selection on shuffled outcomes for an empirical p-value; the winner is refitted
    on all samples. Invalid input raises :class:`insightome.errors.UserError`.

    ``max_features`` keeps the features with the largest variance (outcome-blind, so
    before resampling); an ``.h5ad`` file is then read from disk in blocks, so its X may
    be larger than memory (docs/compute.md).

    ``scheduler`` (a Dask scheduler address) or ``slurm`` send the fits to a cluster.
    With ``out_dir``, finished fits are checkpointed in ``<run>.partial/`` so an
    interrupted run can be finished by :func:`resume`; ``checkpoint`` is how
    :func:`resume` passes that directory back in.

    With ``discover`` (the default) the run goes on to discovery
    (:mod:`insightome.discover`): the minimal signature (within ``signature_tolerance`` of
    the full model), effects, attributions, subgroups, pathways from ``genesets`` (GMT
    files) and the ranked ``hypotheses.tsv``.

    With ``audit`` (the default) the run audits the data (representation, missingness,
    proxies, site confounding) and the model per sensitive group and intersection
    (fairlearn MetricFrame, bootstrap CIs, verdicts; groups under ``min_group_size`` get
    "insufficient evidence"), checks conformal coverage per group at ``conformal_level``,
    explains the model (``justify`` maps a sensitive attribute to the clinical reason for
    using it) and writes the Model Card, TRIPOD+AI, EU AI Act Annex IV and FUTURE-AI
    documents. Table cells under ``min_cell`` are suppressed.
    """
    invocation = {
        "data": None if isinstance(data, ad.AnnData) else str(Path(data).resolve()),
        "target": target,
        "annotations": None if annotations is None else str(Path(annotations).resolve()),
        "id_column": id_column,
        "orient": orient,
        "task": task,
        "time_col": time_col,
        "event": event,
        "sensitive": list(sensitive),
        "use_sensitive": use_sensitive,
        "groups": groups,
        "site": site,
        "exclude": list(exclude),
        "positive_class": positive_class,
        "folds": folds,
        "repeats": repeats,
        "n_bootstrap": n_bootstrap,
        "permutations": permutations,
        "preset": preset,
        "seed": seed,
        "name": name,
        "budget": budget,
        "carbon_intensity": carbon_intensity,
        "pue": pue,
        "discover": discover,
        "genesets": [str(Path(g).resolve()) for g in genesets],
        "signature_tolerance": signature_tolerance,
        "audit": audit,
        "justify": dict(justify or {}),
        "min_group_size": min_group_size,
        "min_cell": min_cell,
        "conformal_level": conformal_level,
        "audit_thresholds": dict(audit_thresholds or {}),
        "max_features": max_features,
        "decimal": decimal,
    }
    # every range and combination, before anything is read or written
    check_run_options(
        {**invocation, "n_jobs": n_jobs, "out_dir": out_dir, "scheduler": scheduler, "slurm": slurm}
    )
    gene_sets = None
    if genesets:
        from insightome.io.genesets import read_gmt

        gene_sets = read_gmt(genesets)
    log = RunLog()
    t_start = time.perf_counter()
    ledger = EnergyLedger(carbon_intensity=carbon_intensity, pue=pue)
    stages = Stages(ledger)
    timings = stages.timings
    with stages("load"):
        keep = [c for c in (target, time_col, event, groups, site, *sensitive, *exclude) if c]
        adata = _read_input(data, keep, annotations, id_column, orient, max_features, decimal)
        study = make_study(
            adata,
            target=target,
            task=task,
            time=time_col,
            event=event,
            sensitive=sensitive,
            use_sensitive=use_sensitive,
            groups=groups,
            site=site,
            exclude=exclude,
            positive_class=positive_class,
            folds=folds,
        )
    log(
        f"loaded {study.n_samples} samples x {study.features.shape[1]} features; "
        f"task {study.spec.task}"
    )
    for note in study.notes:
        log("note: " + note)
    for warning in study.warnings:
        log("warning: " + warning)
    audit_settings = None
    data_audit_result = None
    if audit:
        from insightome.audit.auditing import AuditSettings, audit_data

        audit_settings = AuditSettings(
            min_group_size,
            min_cell,
            conformal_level,
            dict(justify or {}),
            dict(audit_thresholds or {}),
        )
        audit_settings.check(study.spec.sensitive)
        with stages("audit"):
            data_audit_result = audit_data(study, audit_settings, seed)

    run_name = name or default_name(dict(adata.uns.get("provenance", {})), study.spec)
    data_sha = [f["sha256"] for f in adata.uns.get("provenance", {}).get("files", [])]
    if checkpoint is not None and checkpoint.invocation.get("data_sha256") != data_sha:
        raise UserError(
            errors.OPTION_INVALID,
            option="--resume",
            reason=f"the data changed since the interrupted run in {checkpoint.directory} "
            "(sha256 differs); start a new run instead",
        )
    if checkpoint is None and out_dir is not None:
        invocation["data_sha256"] = data_sha
        out_dir_existed = Path(out_dir).exists()
        checkpoint = Checkpoint.create(out_dir, run_directory_name(run_name), invocation)
        _NEW_PARTIAL.set((checkpoint, None if out_dir_existed else Path(out_dir)))
        log(f"checkpoint: {checkpoint.directory} (resume with: insightome run --resume DIR)")
    cache = (
        checkpoint.cache(data_fingerprint(study.features, study.y, study.spec.task))
        if checkpoint
        else None
    )

    if repeats is None:
        repeats = 3 if study.n_samples < LARGE_N else 1
        if repeats == 1:
            study.notes.append(
                f"1 CV repeat (n = {study.n_samples} >= {LARGE_N}: the fold-to-fold variance "
                "is small; use --repeats to ask for more)"
            )
    n_numeric = int(sum(pd.api.types.is_numeric_dtype(t) for t in study.features.dtypes))
    cands = candidates(study.spec.task, n_numeric, preset, n_samples=study.n_samples)
    n_classes = len(study.classes)
    plan = make_plan(
        study.y, study.spec.task, folds=folds, repeats=repeats, seed=seed, groups=study.groups
    )
    budget_info = None
    if budget is not None:
        cands, plan, repeats, permutations, budget_info = _fit_budget(
            budget, study, cands, plan, folds, repeats, permutations, seed, n_jobs,
            scheduler, slurm, cache, ledger, stages, log,
        )  # fmt: skip
    with (
        progress_bar(progress) as bar,
        stages("resampling"),
        parallel_backend(scheduler, slurm, [study.features]),
    ):
        advance = bar(f"Cross-validating {len(cands)} configurations", n_units(cands, plan))
        cv = cross_validated_predictions(
            study.features,
            study.y,
            cands,
            plan,
            n_classes=n_classes,
            seed=seed,
            n_jobs=n_jobs,
            progress=advance,
            cache=cache,
        )
    _note_fit_problems(study, cands, cv, log)
    # each out-of-fold prediction is thresholded at its own training folds' prevalence
    thresholds = fold_thresholds(study.y, plan.splits) if study.spec.task == "binary" else None
    with stages("estimation"):
        bbc = bbc_cv(
            cv.oof,
            study.y,
            study.spec.task,
            n_bootstrap=n_bootstrap,
            seed=seed,
            groups=study.groups,
            thresholds=thresholds,
        )
    winner = cands[bbc.winner]
    log(f"winner {winner.name}; BBC-CV {bbc.metric} {bbc.estimate.value:.3f} {bbc.estimate.ci95}")

    perm: PermutationResult | None = None
    if permutations:
        with (
            progress_bar(progress) as bar,
            stages("permutation"),
            parallel_backend(scheduler, slurm, [study.features]),
        ):
            advance = bar(
                f"Permutation null ({permutations} reruns)", permutations * n_units(cands, plan)
            )
            perm = permutation_test(
                study.features,
                study.y,
                cands,
                observed=best_cv_score(cv.oof, study.y, study.spec.task),
                n_permutations=permutations,
                folds=folds,
                repeats=repeats,
                seed=seed,
                n_classes=n_classes,
                groups=study.groups,
                n_jobs=n_jobs,
                progress=advance,
                cache=cache,
            )
        log(f"permutation p = {perm.p_value:.4f} ({permutations} permutations)")

    with stages("final_fit"):
        model = _final_fit(study, winner, seed, log)
    found = None
    if discover:
        with stages("discovery"):
            found = _discovery(
                study, cands, bbc.winner, plan, cv.oof, gene_sets, signature_tolerance,
                n_bootstrap, seed, n_jobs, min_cell, log,
            )  # fmt: skip
    audit_result = None
    conformal_thresholds = None
    if audit_settings is not None:
        with stages("audit"):
            audit_result, conformal_thresholds = _model_audit(
                study, winner, plan, cv.oof[:, bbc.winner], audit_settings, found,
                data_audit_result, n_bootstrap, seed, n_jobs, log,
            )  # fmt: skip
    results = build_results(
        study, cands, cv, bbc, perm, plan, adata, run_name, seed, timings, n_bootstrap
    )
    result = _assemble_run(
        results, study, winner, model, plan, cv.oof[:, bbc.winner], invocation, found,
        gene_sets, audit_result, conformal_thresholds, min_cell, log,
    )  # fmt: skip
    predictions, card = result.predictions, result.model_card

    def account() -> None:  # timings and compute ledger so far, into the results
        timings["total"] = time.perf_counter() - t_start
        result.results["timings"] = json_ready(timings)
        result.results["compute"] = json_ready(
            {
                **ledger.to_dict(),
                "backend": describe_backend(scheduler, slurm, n_jobs),
                "budget": budget_info,
            }
        )

    html = None
    if out_dir is not None:
        from insightome.report import render_html

        account()  # the report shows the cost up to here; results.json also gets its own
        with stages("report"):
            if audit_settings is not None:
                from insightome.audit.documents import documents_markdown, documents_summary

                result.results["documents"] = documents_summary(result.results, card)
                result.documents = documents_markdown(result.results, card)
            html = render_html(result.results, predictions)
    account()
    log("timings (s): " + ", ".join(f"{k} {v:.2f}" for k, v in timings.items()))
    if cache is not None:
        log(f"fit cache: reused {cache.hits} fit(s), stored {cache.stored}")
    if html is not None and checkpoint is not None:
        write_run(result, checkpoint.directory.parent, html, dirname=checkpoint.final_name)
        checkpoint.discard()
    return result



def _read_input(
    data: ad.AnnData | str | Path,
    keep: list[str],
    annotations: str | Path | None,
    id_column: str | None,
    orient: str,
    max_features: int | None,
    decimal: str,
) -> ad.AnnData:
    """The data as AnnData with provenance: a file read by :func:`insightome.io.read`, or
    the caller's AnnData (its ``max_features`` most variable columns, when asked)."""
    if not isinstance(data, ad.AnnData):
        from insightome.io import read

        return read(
            data,
            annotations=annotations,
            id_column=id_column,
            orient=orient,
            keep_in_obs=keep,
            max_features=max_features,
            decimal=decimal,
        )
    adata = data if data.uns.get("provenance") else with_provenance(data)
    if max_features is not None and max_features < adata.n_vars:
        from insightome.io.streaming import selected_columns

        names = [str(v) for v in adata.var_names]
        columns, note = selected_columns(adata.X, names, max_features)
        adata = adata[:, columns].copy()
        adata.uns["notes"] = [*adata.uns.get("notes", []), note]
    return adata


def _final_fit(study: Study, winner: Candidate, seed: int, log: RunLog) -> Any:
    """The winner refitted on all samples; its warnings become a note of the run."""
    with counted_warnings() as raised:
        model = winner.build(study.features, seed).fit(study.features, study.y)
    if raised:
        note = f"fit warnings: final fit of {winner.name} on all samples: "
        study.notes.append(note + describe_warnings(raised))
        log("note: " + study.notes[-1])
    return model


def _discovery(
    study: Study,
    cands: list[Candidate],
    winner: int,
    plan: ResamplingPlan,
    oof: np.ndarray,
    gene_sets: Any,
    tolerance: float,
    n_bootstrap: int,
    seed: int,
    n_jobs: int,
    min_cell: int,
    log: RunLog,
) -> Any:
    """Discovery on the run's plan and out-of-fold predictions (:mod:`insightome.discover`),
    logged."""
    from insightome.discover.discovery import discover as run_discovery

    found = run_discovery(
        study, cands, winner, plan, oof, gene_sets=gene_sets, tolerance=tolerance,
        n_bootstrap=n_bootstrap, seed=seed, n_jobs=n_jobs, min_cell=min_cell,
    )  # fmt: skip
    for note in found.notes:
        log("discovery: " + note)
    if found.signature is not None:
        sig = found.signature
        log(
            f"minimal signature: {sig.size} feature(s), BBC-CV {sig.bbc.metric} "
            f"{sig.bbc.estimate.value:.3f}; {len(sig.stability.stable)} stable feature(s); "
            f"{len(found.hypotheses)} hypotheses"
        )
    return found


def _model_audit(
    study: Study,
    winner: Candidate,
    plan: ResamplingPlan,
    winner_oof: np.ndarray,
    settings: Any,
    found: Any,
    data_audit_result: Any,
    n_bootstrap: int,
    seed: int,
    n_jobs: int,
    log: RunLog,
) -> tuple[dict[str, Any], Any]:
    """The model half of the audit (the data half ran before resampling): the audit
    section of results.json and the conformal thresholds for the model card."""
    from insightome.audit.auditing import audit_model

    signature = found.signature if found is not None else None
    model_part, conformal_thresholds = audit_model(
        study, winner, plan, winner_oof, settings,
        ranking=signature.stability.ranking if signature is not None else [],
        n_bootstrap=n_bootstrap, seed=seed, n_jobs=n_jobs,
    )  # fmt: skip
    flags = (model_part.get("model") or {}).get("flags") or []
    log(f"audit: {len(flags)} group disparity flag(s)")
    return {"data": data_audit_result, **model_part}, conformal_thresholds


def _assemble_run(
    results: dict[str, Any],
    study: Study,
    winner: Candidate,
    model: Any,
    plan: ResamplingPlan,
    winner_oof: np.ndarray,
    invocation: dict[str, Any],
    found: Any,
    gene_sets: Any,
    audit_result: dict[str, Any] | None,
    conformal_thresholds: Any,
    min_cell: int,
    log: RunLog,
) -> Run:
    """The run object: results.json content (with the audit, the invocation and
    discovery), the out-of-fold predictions, the model card (reference profile for
    monitoring, conformal thresholds, the signature) and the training rows' keyed hashes."""
    from insightome.audit.monitor import reference_profile

    if audit_result is not None:
        results["audit"] = audit_result
    results["invocation"] = {k: v for k, v in invocation.items() if k != "data_sha256"}
    if found is not None:
        results["discovery"] = found.to_dict()
        if gene_sets is not None:
            results["discovery"]["gene_set_files"] = gene_sets.files
    predictions = oof_table(study, winner_oof, plan)
    card = model_card(study, winner)
    card["reference_profile"] = reference_profile(study.features, min_cell=min_cell)  # monitor
    card["sensitive"] = list(study.spec.sensitive)
    if conformal_thresholds is not None:
        card["conformal"] = conformal_thresholds
    result = Run(json_ready(results), predictions, model, card, log.lines)
    result.training_rows = training_hashes(study.features, card["dtypes"])  # validate, monitor
    if found is not None:
        result.hypotheses = found.hypotheses
        if found.signature is not None:
            result.signature_model = found.signature.model
            card["signature"] = {"features": found.signature.features, "winner": winner.to_dict()}
    return result


def _note_fit_problems(study: Study, cands: list[Candidate], cv: Any, log: RunLog) -> None:
    """Failed configurations (warnings), fit warnings per candidate and the SVM's
    group-blind calibration split (notes), in the study and the run log."""
    for c, err in cv.errors.items():
        message = (
            f"{cands[c].name} failed on {cv.failed_folds[c]} fold(s) and was excluded from "
            f"selection ({err})"
        )
        study.warnings.append(message)
        log("warning: " + message)
    for note in fit_warning_notes([c.name for c in cands], cv):
        study.notes.append(note)
        log("note: " + note)
    if study.groups is not None and any(c.family == "linear_svm" for c in cands):
        from insightome.models.calibrated_svm import GROUPS_NOTE

        study.notes.append(GROUPS_NOTE)
        log("note: " + GROUPS_NOTE)


def _fit_budget(
    budget: str,
    study: Study,
    cands: list[Candidate],
    plan: ResamplingPlan,
    folds: int,
    repeats: int,
    permutations: int,
    seed: int,
    n_jobs: int,
    scheduler: str | None,
    slurm: SlurmConfig | None,
    cache: Any,
    ledger: EnergyLedger,
    stages: Stages,
    log: RunLog,
) -> tuple[list[Candidate], ResamplingPlan, int, int, dict[str, Any]]:
    """A pilot fit of every candidate on the first fold (the full run reuses these fits)
    projects the run; permutations, repeats, then the costliest candidates are pruned to
    fit ``budget``. Returns the candidates, plan, repeats and permutations that fit, and
    what was decided (results.json ``compute.budget``)."""
    limit = Budget.parse(budget, core_power_w=ledger.core_power_w, pue=ledger.pue)
    pilot_plan = ResamplingPlan((plan.splits[0][:1],), 1, 1, plan.seeds[:1], plan.grouped)
    with stages("resampling"), parallel_backend(scheduler, slurm, [study.features]):
        pilot = cross_validated_predictions(
            study.features,
            study.y,
            cands,
            pilot_plan,
            n_classes=len(study.classes),
            seed=seed,
            n_jobs=n_jobs,
            cache=cache,
        )
    fitted = fit_to_budget(
        pilot.fit_seconds,
        [c.name for c in cands],
        folds=folds,
        repeats=repeats,
        permutations=permutations,
        budget=limit,
    )
    info = fitted.to_dict(limit, float(pilot.fit_seconds.sum()))
    plan = make_plan(
        study.y, study.spec.task, folds=folds, repeats=fitted.repeats, seed=seed,
        groups=study.groups,
    )  # fmt: skip
    for skipped in fitted.skipped:
        study.warnings.append(f"compute budget {budget}: skipped {skipped}")
    log(f"budget {budget}: projected {fitted.projected_cpu_seconds:.0f} CPU-s")
    return [cands[i] for i in fitted.keep], plan, fitted.repeats, fitted.permutations, info

def resume(
    partial_dir: str | Path,
    *,
    n_jobs: int = 1,
    progress: bool = False,
    scheduler: str | None = None,
    slurm: SlurmConfig | None = None,
) -> Run:
    """Finish an interrupted run from its ``.partial`` directory, reusing its cached fits.

    The data file is read again and must have the same sha256; every option is taken from
    the interrupted invocation, so the results equal those of an uninterrupted run.
    """
    checkpoint = Checkpoint.open(partial_dir)
    options = dict(checkpoint.invocation)
    options.pop("data_sha256", None)
    data = options.pop("data")
    if data is None:
        raise UserError(
            errors.OPTION_INVALID,
            option="--resume",
            reason="the interrupted run was given an in-memory AnnData; rerun it with the "
            "same object instead",
        )
    return run(
        data,
        **options,
        n_jobs=n_jobs,
        progress=progress,
        scheduler=scheduler,
        slurm=slurm,
        out_dir=checkpoint.directory.parent,
        checkpoint=checkpoint,
    )
