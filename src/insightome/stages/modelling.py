"""The modelling stages: study → plan → select → estimate → refit.

* **study** builds the modelling table (:func:`insightome.study.make_study`), audits the
  data (unless the audit is skipped), names the run and opens its ``.partial`` checkpoint.
* **plan** chooses the repeats, the candidate pipelines (with ``--augment``, each with its
  augmented twin) and the resampling plan; with a compute budget, a pilot fit (the
  synthesizers' time included) projects the run and prunes it.
* **select** cross-validates every candidate (fits cached in the checkpoint).
* **estimate** picks the winner with BBC-CV, says what the small-n coverage study
  measured at this n (a warning or a note), with ``--augment`` compares the best
  real-only and the best augmented candidate (:mod:`insightome.audit.augmentation`) and,
  when asked, reruns the selection on shuffled outcomes (the permutation null).
* **refit** fits the winner on all samples.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.markup import escape

from insightome import errors
from insightome.audit.auditing import AuditSettings, audit_data
from insightome.audit.augmentation import compare_augmentation
from insightome.compute.checkpoint import Checkpoint
from insightome.errors import UserError
from insightome.evaluate.engine import (
    describe_warnings,
    fit_warning_notes,
    n_units,
)
from insightome.evaluate.permutation import PermutationResult, best_cv_score, permutation_test
from insightome.evaluate.search import BBCSearchCV
from insightome.evaluate.small_n import RunRegime, small_n_finding
from insightome.evaluate.splitters import make_plan
from insightome.fold_design import CLASS_RULE_KEY, MIN_TRAINING_PER_CLASS
from insightome.images_features import cnn_settings
from insightome.io.atomic import run_directory_name
from insightome.models.calibrated_svm import GROUPS_NOTE, PLATT_FAMILIES
from insightome.models.candidates import (
    LARGE_N,
    augmented_twins,
    candidate_sets,
    with_cnn,
    with_note_terms,
)
from insightome.models.ensemble import TASKS as ENSEMBLE_TASKS
from insightome.models.ensemble import AveragedCandidate
from insightome.models.estimators import MODELS, logistic, multinomial_l1
from insightome.models.image_cnn import ImageBank, require_torch
from insightome.models.multinomial import SOLVER_NOTE
from insightome.models.note_terms import NoteTexts
from insightome.options.checks import ENSEMBLE_SIZE
from insightome.run_content import default_name
from insightome.stages.budget_pilot import fit_budget
from insightome.stages.candidate_sets import chosen_sets, quantum_summary
from insightome.stages.progress import progress_bar
from insightome.stages.state import RunState
from insightome.study import make_study


def study(state: RunState) -> None:
    o, log, adata = state.options, state.log, state.require("adata")
    made = make_study(
        adata,
        target=o.target,
        task=o.task,
        time=o.time_col,
        event=o.event,
        sensitive=o.sensitive,
        use_sensitive=o.use_sensitive,
        groups=o.groups,
        site=o.site,
        exclude=o.exclude,
        positive_class=o.positive_class,
        folds=o.folds,
        learned_features="cnn" in o.image_features,
        # a resumed run's own rule (its checkpoint's invocation); a new run: today's
        min_training_per_class=state.invocation.get(CLASS_RULE_KEY, MIN_TRAINING_PER_CLASS),
    )
    state.study = made
    log(
        f"loaded {made.n_samples} samples x {made.features.shape[1]} features; "
        f"task {made.spec.task}; {made.folds.chosen}-fold CV ({made.folds.reason})"
    )
    if o.progress:  # the console, before anything is fitted (the run's notes keep them too)
        announce(made.design_lines())
    for note in made.notes:
        log("note: " + note)
    for warning in made.warnings:
        log("warning: " + warning)
    if "audit" not in state.skipped:
        settings = AuditSettings(
            o.min_group_size,
            o.min_cell,
            o.conformal_level,
            dict(o.justify or {}),
            dict(o.audit_thresholds or {}),
            None if o.age_bands is None else tuple(o.age_bands),
            {k: dict(v) for k, v in (o.value_labels or {}).items()},
        )
        settings.check(made.spec.sensitive)
        state.audit_settings = settings
        state.data_audit = audit_data(made, settings, o.seed)
    state.run_name = o.name or default_name(dict(adata.uns.get("provenance", {})), made.spec)
    _open_checkpoint(state)
    if "cnn" in o.image_features:  # registered here too: a resumed run's candidates refer to it
        state.image_bank = _image_bank(state)


def announce(lines: list[str]) -> None:
    """Print what the data decided about the study (task, classes, folds) on stderr."""
    if not lines:
        return
    from rich.console import Console  # like the progress bars: only when they are shown

    console = Console(stderr=True, soft_wrap=True, highlight=False)
    for line in lines:
        console.print(f"[bold]note:[/] {escape(line)}")


def _open_checkpoint(state: RunState) -> None:
    """With an output folder, the run's ``.partial`` directory (finished fits and stage
    outputs, for ``--resume``); a resumed run already has it."""
    out_dir = state.options.out_dir
    if state.checkpoint is not None or out_dir is None:
        return
    state.invocation["data_sha256"] = state.data_sha256
    state.invocation[CLASS_RULE_KEY] = state.require("study").min_training_per_class
    out_dir_existed = Path(out_dir).exists()
    state.checkpoint = Checkpoint.create(
        out_dir, run_directory_name(state.require("run_name")), state.invocation
    )
    state.new_partial = (state.checkpoint, None if out_dir_existed else Path(out_dir))
    state.log(
        f"checkpoint: {state.checkpoint.directory} (resume with: insightome run --resume DIR)"
    )


#: The tasks ``--augment`` takes: its comparison reads AUC, Brier score and calibration
#: slope, which are a binary outcome's.
AUGMENT_TASKS = ("binary",)
NOTE_TERM_TASKS = ("binary", "multiclass", "regression")  # models.note_terms.TASKS


CNN_TASKS = ("binary", "multiclass")


def _image_bank(state: RunState) -> ImageBank:
    """The CNN's input table of the modelled samples, in the study's order, with their
    groups (which never straddle the CNN's inner splits), registered by digest."""
    made = state.require("study")
    ids, arrays = state.require("image_input")
    index = made.features.index.astype(str)
    position = pd.Index(ids).get_indexer(index)
    groups = None if made.groups is None else pd.Series(np.asarray(made.groups), index=index)
    # fitted CNNs on disk in the run's .partial directory: shared by the worker processes,
    # kept for --resume, removed with the checkpoint (without an output folder: in memory)
    folder = None
    if state.checkpoint is not None:
        folder = str(state.checkpoint.directory / "cnn_cache")
    return ImageBank(index, arrays[position], groups=groups, cache_dir=folder).register()


def _with_cnn(state: RunState, cands: list[Any]) -> list[Any]:
    """Every candidate with the CNN's out-of-fold score of the images (--image-features
    cnn), trained inside each training fold; groups never straddle its inner splits."""
    o, made = state.options, state.require("study")
    if made.spec.task not in CNN_TASKS:
        raise UserError(
            errors.OPTION_INVALID,
            option="--image-features",
            reason=f"the CNN learns a class from the images, not a {made.spec.task} outcome; "
            "drop cnn (radiomics and encoder features stay)",
        )
    require_torch()
    bank, arrays = state.require("image_bank"), state.require("image_input")[1]
    params = cnn_settings(o.preset)
    shared = (
        "shared between the candidates of a fold (on disk in the run's .partial folder)"
        if bank.cache_dir
        else "shared between the candidates of a fold fitted in one process (no output "
        "folder: no disk cache for the workers)"
    )
    state.log(
        f"--image-features cnn: every candidate also gets the out-of-fold score of a CNN "
        f"trained on its training samples' images ({arrays.shape[2]}×{arrays.shape[3]}, "
        f"{arrays.shape[1]} channel(s); at most {params['epochs']} epochs, early stopping), "
        f"fitted inside each training fold and {shared}"
    )
    return with_cnn(cands, bank, params)


def plan(state: RunState) -> None:
    o, made = state.options, state.require("study")
    if o.augment != "off" and made.spec.task not in AUGMENT_TASKS:
        outcome = made.spec.target or f"{made.spec.time}/{made.spec.event}"
        raise UserError(
            errors.OPTION_INVALID,
            option="--augment",
            reason=f"'{outcome}' is a {made.spec.task} outcome; augmentation is offered for "
            "a binary outcome only (its comparison reads AUC, Brier score and calibration "
            "slope); drop --augment",
        )
    if o.ensemble == "top3" and (made.spec.task not in ENSEMBLE_TASKS or o.augment != "off"):
        why = (
            "--augment compares the best real-only and the best augmented configuration"
            if o.augment != "off"
            else f"this is a {made.spec.task} outcome, and only class probabilities are averaged"
        )
        raise UserError(
            errors.OPTION_INVALID, option="--ensemble",
            reason=f"top3 averages the class probabilities of binary or multiclass models, but "
            f"{why}; use --ensemble off",
        )  # fmt: skip
    repeats = o.repeats
    if repeats is None:
        repeats = 3 if made.n_samples < LARGE_N else 1
        if repeats == 1:
            made.notes.append(
                f"1 CV repeat (n = {made.n_samples} >= {LARGE_N}: the fold-to-fold variance "
                "is small; use --repeats to ask for more)"
            )
    n_numeric = int(sum(pd.api.types.is_numeric_dtype(t) for t in made.features.dtypes))
    cands = chosen_sets(state, n_numeric)
    if o.augment != "off":
        cands = [*cands, *augmented_twins(cands, o.augment, o.augment_ratio)]
        state.log(f"--augment {o.augment}: {len(cands) // 2} augmented twin(s) added")
    if o.notes_tfidf:
        if made.spec.task not in NOTE_TERM_TASKS:
            raise UserError(
                errors.OPTION_INVALID,
                option="--notes-tfidf",
                reason=f"terms are selected by their association with a class or a number, "
                f"not with a {made.spec.task} outcome; drop --notes-tfidf",
            )
        min_df = max(2, o.min_cell)
        texts = NoteTexts(state.require("note_texts"))
        cands = with_note_terms(cands, texts, o.notes_tfidf, min_df)
        state.log(
            f"--notes-tfidf {o.notes_tfidf}: every candidate also gets the {o.notes_tfidf} "
            f"TF-IDF terms most associated with the outcome, from terms in at least {min_df} "
            "samples' notes, fitted inside each training fold"
        )
    if "cnn" in o.image_features:
        cands = _with_cnn(state, cands)
    resampling = make_plan(
        made.y, made.spec.task, folds=made.folds.chosen, repeats=repeats, seed=o.seed,
        groups=made.groups, fold_choice=made.folds,
    )  # fmt: skip
    permutations = o.permutations
    if o.budget is not None:
        cands, resampling, repeats, permutations, state.budget_info = fit_budget(
            state, cands, resampling, repeats
        )
    state.candidates, state.plan = cands, resampling
    state.repeats, state.permutations = repeats, permutations


def select(state: RunState) -> None:
    """Every candidate cross-validated by :class:`~insightome.evaluate.search.BBCSearchCV`
    (its first step; estimate and refit are its next two)."""
    o, made = state.options, state.require("study")
    cands, resampling = state.require("candidates"), state.require("plan")
    with progress_bar(o.progress, state.progress) as bar:

        def cross_validate() -> Any:  # again, with a new bar, if a cluster lost its data
            advance = bar(
                f"Cross-validating {len(cands)} configurations", n_units(cands, resampling)
            )
            state.search = BBCSearchCV(
                cands, task=made.spec.task, cv=resampling, n_bootstrap=o.n_bootstrap,
                seed=o.seed, n_jobs=o.n_jobs, cache=state.fit_cache(), progress=advance,
                pooling=o.bbc_pooling, interval=o.bbc_interval,
                average_top=ensemble_size(o, made.spec.task),
            )  # fmt: skip
            return state.search.cross_validate(made.features, made.y, made.groups)

        state.cv = state.fit_backend().call(cross_validate, scatter=[made.features])
        # a bar's callback and the fit cache do not outlive the stage (nor go into its checkpoint)
        state.search.progress = state.search.cache = None
    _note_fit_problems(state)


def ensemble_size(o: Any, task: str) -> int:
    """How many top configurations the selection may average (0: none): ``--ensemble``
    top3, or auto with the default preset for a classification outcome without --augment,
    note terms or the CNN (auto leaves those as the notes and imaging benchmarks measured
    them, with single configurations; top3 averages them, and the saved model sheds the
    notes and images of every member: ``models.ensemble.saved_form``)."""
    plain = o.augment == "off" and not o.notes_tfidf and "cnn" not in o.image_features
    if o.ensemble == "top3" or (
        o.ensemble == "auto" and o.preset == "default" and task in ENSEMBLE_TASKS and plain
    ):
        return ENSEMBLE_SIZE
    return 0


def _note_fit_problems(state: RunState) -> None:
    """Failed configurations (warnings), fit warnings per candidate, the multinomial L1
    models' solver and the SVM's group-blind calibration split (notes), in the study and the
    run log."""
    made, cands, cv, log = state.require("study"), state.require("candidates"), state.cv, state.log
    for c, err in cv.errors.items():
        message = (
            f"{cands[c].name} failed on {cv.failed_folds[c]} fold(s) and was excluded from "
            f"selection ({err})"
        )
        made.warnings.append(message)
        log("warning: " + message)
    for note in fit_warning_notes([c.name for c in cands], cv):
        made.notes.append(note)
        log("note: " + note)
    solver = [
        c.name
        for c in cands
        if MODELS.get(c.family) is logistic
        and multinomial_l1(c.params, binary=c.task != "multiclass")
    ]
    if solver:
        note = SOLVER_NOTE.format(configurations=", ".join(solver))
        made.notes.append(note)
        log("note: " + note)
    platt = sorted({c.family for c in cands if c.family in PLATT_FAMILIES})
    if made.groups is not None and platt:
        note = GROUPS_NOTE.format(families=", ".join(platt))
        made.notes.append(note)
        log("note: " + note)


def estimate(state: RunState) -> None:
    o, made, resampling = state.options, state.require("study"), state.require("plan")
    # each out-of-fold prediction is thresholded at its own training folds' prevalence
    search = state.require("search")
    bbc = search.estimate()
    state.thresholds = search.fold_thresholds_
    # with --ensemble the average of the top configurations is the last configuration
    state.candidates, state.cv = cands, cv = search.candidates_, search.cv_predictions_
    state.bbc, state.winner = bbc, cands[bbc.winner]
    state.log(
        f"winner {state.winner.name}; BBC-CV {bbc.metric} {bbc.estimate.value:.3f} "
        f"{bbc.estimate.ci95}"
    )
    singles = cands[: search.n_configurations_]  # without the average (--ensemble)
    size = search.average_top
    if bbc.averaged:
        won = isinstance(state.winner, AveragedCandidate)
        note = (
            f"ensemble: the average of the top {size} configurations (plain CV "
            f"{bbc.cv_mean[-1]:.3f}) {'is the winner' if won else 'did not beat the best one'}; "
            f"{bbc.selection_frequency[-1]:.0%} of the BBC-CV bootstraps chose an average of "
            f"their own top {size}, and the estimate is corrected for that choice"
        )
    elif size:
        note = (
            f"ensemble: no average of the top {size} configurations: fewer than {size} could "
            "be fitted on every fold"
        )
    if size:
        made.notes.append(note)
        state.log("note: " + note)
    _note_small_n(state, bbc.metric)
    if o.augment != "off":
        state.augmentation = compare_augmentation(
            cv.oof, made.y, made.spec.task, cands, bbc, n_bootstrap=o.n_bootstrap,
            seed=o.seed, groups=made.groups,
        ).to_dict()  # fmt: skip
        state.log("augmentation: " + state.augmentation["verdict"])
    if "quantum" in candidate_sets(o.candidates):
        state.quantum = quantum_summary(state)
    permutations = state.permutations or 0
    if not permutations:
        return
    with progress_bar(o.progress, state.progress) as bar:

        def permute() -> PermutationResult:  # again, with a new bar, if a cluster lost its data
            advance = bar(
                f"Permutation null ({permutations} reruns)",
                permutations * n_units(singles, resampling),
            )
            return permutation_test(
                made.features, made.y, singles,
                # the best single configuration's CV score, as every permutation rerun scores
                observed=best_cv_score(
                    cv.oof[:, : search.n_configurations_], made.y, made.spec.task
                ),
                n_permutations=permutations, folds=resampling.folds,
                repeats=state.require("repeats"), seed=o.seed, n_classes=len(made.classes),
                groups=made.groups, n_jobs=o.n_jobs, progress=advance, cache=state.fit_cache(),
            )  # fmt: skip

        state.permutation = state.fit_backend().call(permute, scatter=[made.features])
    state.log(f"permutation p = {state.permutation.p_value:.4f} ({permutations} permutations)")


def _note_small_n(state: RunState, metric: str) -> None:
    """What the small-n coverage study measured at this n (patients, with groups): a
    warning where 95% intervals under-covered there or n is below the studied sizes, else
    a note; either with a caveat when the run lies outside the studied regime
    (evaluate/small_n.py)."""
    made = state.require("study")
    n = len(set(made.groups.tolist())) if made.groups is not None else made.n_samples
    p = int(made.features.shape[1]) + made.n_features_dropped  # as the study counts them
    o = state.options
    regime = RunRegime(made.n_samples, p, o.preset, o.bbc_pooling, o.bbc_interval)
    finding = small_n_finding(n, metric, regime=regime)
    if finding is None:
        return
    message = finding.message
    (made.warnings if finding.kind == "warning" else made.notes).append(message)
    state.log(f"{finding.kind}: {message}")
    if finding.kind == "note" and o.progress:  # the CLI prints warnings at the end
        announce([message])


def refit(state: RunState) -> None:
    """The winner refitted on all samples; its warnings become a note of the run."""
    state.release_workers()  # the resampled fits are done: a cluster's workers go back
    made, search = state.require("study"), state.require("search")
    state.model = search.refit_best(made.features, made.y)
    if search.refit_warnings_:
        note = f"fit warnings: final fit of {state.require('winner').name} on all samples: "
        made.notes.append(note + describe_warnings(search.refit_warnings_))
        state.log("note: " + made.notes[-1])
