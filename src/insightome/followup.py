"""Follow-up analyses of a saved run: repeat discovery, repeat the audit.

* :func:`rediscover` (``insightome discover RUN_DIR``) reads the run's data again (its
  sha256 must match), rebuilds the study and the resampling plan from the saved spec and
  seeds, re-creates the winner's out-of-fold predictions and reruns discovery — e.g. with
  other gene-set files — then rewrites the run directory atomically.
* :func:`reaudit` (``insightome audit RUN_DIR``) reruns the audit with other settings.

Validation on an independent cohort is :mod:`insightome.validation`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from insightome import errors
from insightome.audit.auditing import audit_data, audit_model
from insightome.audit.drift import reference_profile
from insightome.discover.discovery import discover
from insightome.discover.signature import SEARCH_REPEATS
from insightome.errors import UserError
from insightome.evaluate.bbc import estimator_arguments
from insightome.evaluate.engine import cross_validated_predictions
from insightome.evaluate.splitters import ResamplingPlan, make_plan
from insightome.fold_design import LEGACY_MIN_TRAINING_PER_CLASS
from insightome.images_features import META_PREFIX
from insightome.io import read
from insightome.io.genesets import read_gmt
from insightome.living_documents import render_documents
from insightome.models.candidates import Candidate
from insightome.models.ensemble import FAMILY as ENSEMBLE_FAMILY
from insightome.models.ensemble import averaged, saved_form, searched_note
from insightome.models.image_cnn import ImageBank
from insightome.models.note_terms import NoteTexts
from insightome.options import check_options, recorded_options
from insightome.run_directory import Run, file_sha256, rewrite_run
from insightome.saved_run_images import (
    CNN_INPUT_KEY,
    check_run_images,
    run_made_with_images,
    with_new_images,
)
from insightome.saved_run_notes import (
    NotesReading,
    index_column,
    note_features_for,
    run_made_with_notes,
    run_note_features,
    run_notes_file,
    with_note_columns,
)
from insightome.study import make_study


def candidate_from(
    entry: dict[str, Any],
    task: str,
    note_texts: NoteTexts | None = None,
    images: ImageBank | None = None,
) -> Candidate:
    """A configuration from its results.json entry (``winner`` or ``configurations[i]``);
    with ``--notes-tfidf`` terms, ``note_texts`` are the samples' notes they are taken from;
    with the CNN (``--image-features cnn``), ``images`` are the samples' CNN input."""
    if entry["family"] == ENSEMBLE_FAMILY:  # --ensemble: the average of its members
        members = entry["params"]["members"]
        return averaged([candidate_from(m, task, note_texts, images) for m in members])
    # the selection size, --augment's twin, --notes-tfidf's terms and the CNN's settings
    made = ("k", "augment", "augment_ratio", "note_terms", "note_min_df", "cnn")
    given = entry["params"]
    params = {k: v for k, v in given.items() if k not in made}
    k = given.get("k")
    terms = given.get("note_terms")
    if terms and note_texts is None:
        raise ValueError("a configuration with note terms needs the samples' note texts")
    cnn = given.get("cnn")
    if cnn and images is None:
        raise ValueError("a configuration with a CNN score needs the samples' images")
    return Candidate(
        entry["family"], params, None if k in (None, "all") else int(k), task,
        augment=given.get("augment"),
        augment_ratio=float(given.get("augment_ratio", 1.0)),
        note_terms=int(terms) if terms else None,
        note_texts=note_texts if terms else None,
        note_min_df=int(given.get("note_min_df", 2)),
        cnn=tuple(sorted(cnn.items())) if cnn else None,
        cnn_images=images if cnn else None,
    )  # fmt: skip


def winner_candidate(
    results: dict[str, Any],
    note_texts: NoteTexts | None = None,
    images: ImageBank | None = None,
) -> Candidate:
    return candidate_from(results["winner"], results["task"], note_texts, images)


@dataclass
class Reloaded:
    """A saved run with its study, plan and the winner's out-of-fold predictions rebuilt."""

    run: Run
    study: Any
    plan: Any
    winner: Candidate
    winner_oof: np.ndarray | None  # (repeats, n, k); None when not asked for
    note_texts: NoteTexts | None = None  # --notes-tfidf: the samples' negation-marked notes
    image_bank: ImageBank | None = None  # --image-features cnn: the samples' CNN input


def reload(
    run_dir: str | Path, *, command: str, n_jobs: int = 1, winner_oof: bool = True
) -> Reloaded:
    """Read a run's data again (sha256 checked) and rebuild what a rerun step needs.

    Same spec, same seeds, same plan. With ``winner_oof`` the winner's out-of-fold
    predictions are refitted (they equal the original run's); a step that refits what it
    needs itself (``discover``) skips that work.
    """

    run = Run.load(run_dir)
    results = run.results
    inv = results.get("invocation") or {}
    if not inv.get("data"):
        raise UserError(
            errors.OPTION_INVALID,
            option=command,
            reason=f"{run_dir} was made from an in-memory AnnData; rerun "
            "insightome.run on the same object instead",
        )
    for f in results["data"]["files"]:
        if Path(f["path"]).is_file() and file_sha256(f["path"]) != f["sha256"]:
            raise UserError(
                errors.OPTION_INVALID,
                option=command,
                reason=f"{f['path']} changed since the run (sha256 differs); start a new run",
            )
    notes_path = run_notes_file(results, command) if run_made_with_notes(results) else None
    spec = run.spec
    index = index_column(results)  # the notes' index time: read with the data, not a feature
    keep = (
        [
            c
            for c in (spec.target, spec.time, spec.event, spec.groups, spec.site, *spec.sensitive)
            if c and not (run_made_with_images(results) and c.startswith(META_PREFIX))
        ]
        + list(spec.exclude)
        + ([index] if index else [])
    )
    recorded = recorded_options(inv)
    adata = read(
        inv["data"],
        annotations=recorded.annotations,
        id_column=recorded.id_column,
        orient=recorded.orient,
        keep_in_obs=keep,
        max_features=recorded.max_features,
        decimal=recorded.decimal,
        annotations_id_column=recorded.annotations_id_column,
        drop_unmatched=recorded.drop_unmatched,
        annotation_features=recorded.sheet_features(),
    )
    texts = None
    if notes_path is not None:
        adata, texts = _with_run_notes(results, adata, notes_path, command)
    # the run's images again, with its settings (features, CNN input): the same columns
    adata = with_new_images(results, adata, str(inv["data"]))
    check_run_images(results, adata, command)
    rs = results["resampling"]
    study = make_study(
        adata,
        target=spec.target,
        task=spec.task,
        time=spec.time,
        event=spec.event,
        sensitive=spec.sensitive,
        use_sensitive=spec.use_sensitive,
        groups=spec.groups,
        site=spec.site,
        exclude=spec.exclude,
        positive_class=spec.positive_class,
        folds=rs["folds"],
        min_training_per_class=results["outcome"].get(
            "min_training_per_class", LEGACY_MIN_TRAINING_PER_CLASS
        ),
    )
    plan = make_plan(
        study.y, spec.task, folds=rs["folds"], repeats=rs["repeats"], seed=rs["seed"],
        groups=study.groups,
    )  # fmt: skip
    bank = _run_image_bank(adata, study)
    winner = winner_candidate(results, texts, bank)
    if not winner_oof:
        return Reloaded(run, study, plan, winner, None, texts, bank)
    cv = cross_validated_predictions(
        study.features, study.y, [winner], plan, n_classes=len(study.classes),
        seed=rs["seed"], n_jobs=n_jobs,
    )  # fmt: skip
    return Reloaded(run, study, plan, winner, cv.oof[:, 0], texts, bank)


def _run_image_bank(adata: Any, study: Any) -> ImageBank | None:
    """The run's CNN input in the study's order, with its groups (as the run built it)."""
    given = adata.uns.get(CNN_INPUT_KEY)
    if given is None:
        return None
    ids, arrays = given
    index = study.features.index.astype(str)
    groups = None if study.groups is None else pd.Series(np.asarray(study.groups), index=index)
    return ImageBank(index, arrays[pd.Index(ids).get_indexer(index)], groups=groups).register()


def _with_run_notes(
    results: dict[str, Any], adata: Any, path: str, command: str
) -> tuple[Any, NoteTexts | None]:
    """The run's note features rebuilt from its own notes file (sha256 checked by
    :func:`run_notes_file`), with the run's lexicon and settings; the same columns as the
    run's, or the extraction changed (an upgrade of its rules) and the rerun is refused."""
    made = note_features_for(
        results, adata, NotesReading(notes=path), str(results["invocation"]["data"]),
        run_samples=True,
    )  # fmt: skip
    expected = run_note_features(results)
    if [str(c) for c in made.columns.columns] != expected:
        raise UserError(
            errors.OPTION_INVALID,
            option=command,
            reason="the run's notes give other note features than at the run (the extraction "
            "rules changed since: insightome was upgraded); start a new run",
        )
    adata = with_note_columns(adata, made, expected)
    texts = None if made.texts is None else NoteTexts(made.texts)
    return adata, texts


def rediscover(
    run_dir: str | Path,
    *,
    genesets: list[str | Path] | tuple[str | Path, ...] = (),
    signature_tolerance: float | None = None,
    n_jobs: int = 1,
) -> Run:
    """Rerun discovery on a saved run (module docstring); returns the updated run."""
    check_options(
        {"signature_tolerance": signature_tolerance, "n_jobs": n_jobs}, command="discover"
    )
    loaded = reload(run_dir, command="discover", n_jobs=n_jobs, winner_oof=False)
    run, study, plan, winner = loaded.run, loaded.study, loaded.plan, loaded.winner
    texts, bank = loaded.note_texts, loaded.image_bank
    results = run.results
    inv = results.get("invocation") or {}
    rs = results["resampling"]
    gene_sets = None
    if genesets:
        gene_sets = read_gmt(genesets)
    recorded = recorded_options(inv)
    tolerance = (
        signature_tolerance if signature_tolerance is not None else recorded.signature_tolerance
    )
    # the signature's estimate is corrected for the configuration choice too: every
    # configuration's out-of-fold predictions, on the repeats the signature search uses
    # (not the average of the top ones, --ensemble: it has no signature of its own; an
    # average winner's signature is its best configuration's, as the run searched it)
    entries = [c for c in results["configurations"] if c["family"] != ENSEMBLE_FAMILY]
    configurations = [candidate_from(c, results["task"], texts, bank) for c in entries]
    winner_name, note = winner.name, None
    if winner.family == ENSEMBLE_FAMILY:
        members = {m.name for m in winner.members}  # type: ignore[attr-defined]
        winner_name = max(
            (c for c in entries if c["name"] in members), key=lambda c: c["cv_value"]
        )["name"]
        note = searched_note(len(members), winner_name)
    n = min(SEARCH_REPEATS, plan.repeats)
    search = ResamplingPlan(plan.splits[:n], plan.folds, n, plan.seeds[:n], plan.grouped)
    oof = cross_validated_predictions(
        study.features, study.y, configurations, search, n_classes=len(study.classes),
        seed=rs["seed"], n_jobs=n_jobs,
    ).oof  # fmt: skip
    searched = [c.name for c in configurations].index(winner_name)
    found = discover(
        study,
        configurations,
        searched,
        plan,
        oof,
        gene_sets=gene_sets,
        tolerance=tolerance,
        n_bootstrap=rs["n_bootstrap"],
        estimator=estimator_arguments(
            recorded.bbc_pooling, recorded.bbc_interval, plan.splits, len(study.y)
        ),
        seed=rs["seed"],
        n_jobs=n_jobs,
        min_cell=int(recorded.min_cell),
    )
    if note is not None:
        found.notes.append(note)
    results["discovery"] = found.to_dict()
    if gene_sets is not None:
        results["discovery"]["gene_set_files"] = gene_sets.files
    results["invocation"] = {
        **inv,
        "genesets": [str(Path(g).resolve()) for g in genesets],
        "signature_tolerance": tolerance,
    }
    run.hypotheses = found.hypotheses
    if found.signature is not None:
        # no note text, no image saved
        run.signature_model = saved_form(found.signature.model)
        run.model_card["signature"] = {
            "features": found.signature.features,
            "winner": configurations[searched].to_dict(),  # the configuration searched
        }
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    run.log.append(f"{stamp} discovery rerun: {len(found.hypotheses)} hypotheses")
    # the documents cite discovery: regenerated, with the validations and monitoring so far
    rewrite_run(run, render_documents(run))
    return run


def reaudit(run_dir: str | Path, settings: Any, *, n_jobs: int = 1) -> Run:
    """Rerun the audit of a saved run with ``settings`` (an ``AuditSettings``); rewrite it."""
    check_options({**settings.to_dict(), "n_jobs": n_jobs}, command="audit")
    settings.audit_thresholds()  # a bad threshold stops before any data is read
    loaded = reload(run_dir, command="audit", n_jobs=n_jobs)
    run, study = loaded.run, loaded.study
    settings = settings.inherit(run.results.get("invocation") or {})  # bands, value labels
    settings.check(study.spec.sensitive)
    rs = run.results["resampling"]
    stability = (run.results.get("discovery") or {}).get("stability") or {}
    ranking = [t["feature"] for t in stability.get("top") or []]
    data_part = audit_data(study, settings, rs["seed"])
    model_part, thresholds = audit_model(
        study, loaded.winner, loaded.plan, loaded.winner_oof, settings, ranking=ranking,
        n_bootstrap=rs["n_bootstrap"], seed=rs["seed"], n_jobs=n_jobs,
    )  # fmt: skip
    run.results["audit"] = {"data": data_part, **model_part}
    run.results.setdefault("invocation", {}).update(
        {"audit": True, **{k: v for k, v in settings.to_dict().items()}}
    )
    run.model_card["reference_profile"] = reference_profile(
        study.features, min_cell=settings.min_cell
    )
    run.model_card["conformal"] = thresholds
    run.model_card["sensitive"] = list(study.spec.sensitive)
    run.results["documents"] = {}  # the audit makes the documents: (re)generated here
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    run.log.append(f"{stamp} audit rerun: settings {settings.to_dict()}")
    rewrite_run(run, render_documents(run))
    return run
