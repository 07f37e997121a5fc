"""``insightome.run``: from a dataset to an honest, documented performance estimate.

A run is the list of stages in :data:`STAGES`; the CLI's ``insightome run`` is a thin
layer over :func:`run`, and both take the options of :class:`insightome.options.RunOptions`.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anndata as ad

from insightome import errors
from insightome.compute.backends import SlurmConfig
from insightome.compute.checkpoint import Checkpoint
from insightome.errors import UserError
from insightome.fold_design import CLASS_RULE_KEY, LEGACY_MIN_TRAINING_PER_CLASS
from insightome.options import RunOptions, check_run_options, invocation, recorded_options
from insightome.run_directory import Run
from insightome.stages import Featurizer, RunState, Stage, arrange, run_stages
from insightome.stages.findings import audit, discover
from insightome.stages.learning import learn
from insightome.stages.modelling import estimate, plan, refit, select, study
from insightome.stages.output import document, write
from insightome.stages.reading import read
from insightome.stages.screening import screen

FIELDS = dataclasses.fields(RunOptions)

#: A run, stage by stage: each is timed by the energy ledger under its name, saved to the
#: run's checkpoint when done, and (discover, audit) skippable by name.
STAGES: tuple[Stage, ...] = (
    Stage(
        "read",
        read,
        makes=(
            "adata",
            "gene_sets",
            "data_sha256",
            "notes",
            "note_texts",
            "images",
            "image_input",
            "image_refs",
        ),
        saved=False,
    ),
    Stage(
        "study",
        study,
        makes=("study", "audit_settings", "data_audit", "run_name", "image_bank"),
        saved=False,
    ),
    Stage("screen", screen, makes=("leakage_screen",), saved=False),  # redone, like study
    Stage(
        "plan",
        plan,
        makes=("candidates", "plan", "repeats", "permutations", "budget_info"),
    ),
    Stage("select", select, makes=("search", "cv")),
    Stage(
        "estimate",
        estimate,
        makes=(
            "search",
            "candidates",  # with the average of the top configurations (--ensemble)
            "cv",
            "thresholds",
            "bbc",
            "winner",
            "permutation",
            "augmentation",
            "quantum",
        ),
    ),
    Stage("learn", learn, makes=("learning_curve",), optional=True),  # before refit: workers
    Stage("refit", refit, makes=("search", "model")),
    Stage("discover", discover, makes=("found",), optional=True),
    Stage("audit", audit, makes=("audit_result", "conformal_thresholds"), optional=True),
    Stage("document", document, makes=("result", "html")),
    Stage("write", write, saved=False),
)


def run(
    data: ad.AnnData | str | Path,
    target: str | None = None,
    *,
    stages: Sequence[Stage] = (),
    featurizers: Sequence[Featurizer] = (),
    checkpoint: Checkpoint | None = None,
    **options: Any,
) -> Run:
    """Run a study end to end and (unless ``out_dir`` is None) write its run directory.

    Every candidate pipeline is cross-validated (``repeats`` × stratified ``folds``-fold,
    group-aware with ``groups``); the winner is chosen on pooled out-of-fold predictions;
    its performance is estimated with BBC-CV and a 95% CI; ``permutations`` > 0 reruns the
    whole selection on shuffled outcomes for an empirical p-value; the winner is refitted
    on all samples. Invalid input raises :class:`insightome.errors.UserError`; so does a
    keyword that is not an option (the options: the fields of
    :class:`insightome.options.RunOptions`, each with its help text).

    ``max_features`` keeps the features with the largest variance (outcome-blind, so
    before resampling); an ``.h5ad`` file is then read from disk in blocks, so its X may
    be larger than memory (docs/compute.md).

    ``scheduler`` (a Dask scheduler address) or ``slurm`` send the fits to a cluster.
    With ``out_dir``, finished fits and the output of every finished stage are
    checkpointed in ``<run>.partial/`` so an interrupted run can be finished by
    :func:`resume`; ``checkpoint`` is how :func:`resume` passes that directory back in.

    With ``learning_curve`` (off by default) the winner is refitted on nested subsamples
    of every training fold (``learning_curve_sizes``) before the final fit: an inverse
    power law with a bootstrap band says what doubling the cohort is expected to buy, or
    why the curve cannot say, and (with discovery) how stable the signature is versus n
    (docs/learning-curves.md).

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

    ``skip`` names stages not to run (``skip=("discover",)`` is ``discover=False``);
    ``stages`` plugs in more (:class:`insightome.stages.Stage`, placed ``after`` a stage of
    :data:`STAGES`) and ``featurizers`` add feature columns at the read stage
    (:class:`insightome.stages.Featurizer`).
    """
    opts = RunOptions.create(target=target, **options)
    return _run(data, opts, stages, featurizers, checkpoint)


def _run(
    data: ad.AnnData | str | Path,
    opts: RunOptions,
    stages: Sequence[Stage],
    featurizers: Sequence[Featurizer],
    checkpoint: Checkpoint | None,
    from_stage: str | None = None,
) -> Run:
    recorded = invocation(data, opts)
    # every range and combination, before anything is read or written
    check_run_options({**recorded, **{f.name: getattr(opts, f.name) for f in FIELDS}})
    sequence = arrange(STAGES, stages, opts.skipped())
    if checkpoint is not None:
        recorded["data_sha256"] = checkpoint.invocation.get("data_sha256")
        # the study is redone on resume: with the class rule the run began with
        recorded[CLASS_RULE_KEY] = checkpoint.invocation.get(
            CLASS_RULE_KEY, LEGACY_MIN_TRAINING_PER_CLASS
        )
    state = RunState(data, opts, recorded, checkpoint=checkpoint, featurizers=tuple(featurizers))
    return run_stages(state, sequence, from_stage=from_stage)


def resume(
    partial_dir: str | Path,
    *,
    n_jobs: int = 1,
    progress: bool = False,
    scheduler: str | None = None,
    slurm: SlurmConfig | None = None,
    from_stage: str | None = None,
    stages: Sequence[Stage] = (),
    featurizers: Sequence[Featurizer] = (),
) -> Run:
    """Finish an interrupted run from its ``.partial`` directory.

    The data file is read again and must have the same sha256; every option is taken from
    the interrupted invocation, so the results equal those of an uninterrupted run. The
    saved outputs of the stages before ``from_stage`` are reused (by default: of every
    stage that finished) and the stages from there on run again, reusing cached fits.
    """
    checkpoint = Checkpoint.open(partial_dir)
    data = checkpoint.invocation.get("data")
    if data is None:
        raise UserError(
            errors.OPTION_INVALID,
            option="--resume",
            reason="the interrupted run was given an in-memory AnnData; rerun it with the "
            "same object instead",
        )
    opts = dataclasses.replace(
        recorded_options(checkpoint.invocation),
        n_jobs=n_jobs,
        progress=progress,
        scheduler=scheduler,
        slurm=slurm,
        out_dir=checkpoint.directory.parent,
    )
    return _run(data, opts, stages, featurizers, checkpoint, from_stage)


def _keyword_signature() -> inspect.Signature:
    """``run``'s signature with every option as a keyword (for ``help(insightome.run)``)."""
    own = inspect.signature(run).parameters
    head = [p for p in own.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    names = {p.name for p in head}
    extra = [
        inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default)
        for f in FIELDS
        if f.name not in names
    ]
    return inspect.Signature([*head, *extra])


run.__signature__ = _keyword_signature()  # type: ignore[attr-defined]
