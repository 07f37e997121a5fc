"""The last two stages: document (results.json content, model card, documents, HTML) and
write (the run directory, atomically; the checkpoint is then removed)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from insightome.audit.documents import documents_markdown, documents_summary
from insightome.audit.drift import reference_profile
from insightome.fold_design import CLASS_RULE_KEY
from insightome.io.json_values import json_ready
from insightome.models.ensemble import saved_form
from insightome.overlap import training_hashes, with_image_keys
from insightome.report import render_html
from insightome.report.images_section import image_figures
from insightome.results import validate_results
from insightome.run_content import build_results, model_card, oof_table
from insightome.run_directory import Run, write_run
from insightome.stages.candidate_sets import fitted_qubits
from insightome.stages.findings import discovery_configuration
from insightome.stages.state import RunState


def _images(state: RunState, notes: list[str]) -> dict[str, Any]:
    """results.json ``images``; with ``--show-images`` (classes only) its pictures too;
    what was not pictured, and why, appended to ``notes``."""
    o, made = state.options, state.require("study")
    summary = dict(state.require("images"))
    if not o.show_images:
        return summary
    if made.spec.task not in ("binary", "multiclass"):
        notes.append(
            f"--show-images: no pictures for a {made.spec.task} outcome (examples are shown "
            "per class)"
        )
        return summary
    refs, base = state.require("image_refs")
    index = made.features.index.astype(str)
    groups = None if made.groups is None else pd.Series(np.asarray(made.groups), index=index)
    summary["figures"] = image_figures(
        refs.reindex(index), base, pd.Series(made.y, index=index), list(made.classes),
        cnn_input=state.image_input, cnn_params=(summary.get("cnn") or {}).get("settings"),
        groups=groups, seed=o.seed,
    )  # fmt: skip
    state.log(f"--show-images: {len(summary['figures'])} picture(s) of the images in the report")
    if summary.get("cnn") and "occlusion" not in summary["figures"]:
        notes.append(
            "--show-images: no occlusion maps (too few samples or patients per class to hold "
            "some out of the CNN that makes them)"
        )
    return summary


def document(state: RunState) -> None:
    """The run object: results (with the audit, the invocation and discovery), the
    out-of-fold predictions, the model card (reference profile for monitoring, conformal
    thresholds, the signature), the training rows' keyed hashes; with an output folder,
    the documents and the HTML report."""
    o, made = state.options, state.require("study")
    bbc, winner, resampling = state.require("bbc"), state.require("winner"), state.plan
    results = build_results(
        made, state.require("candidates"), state.cv, bbc, state.permutation, resampling,
        state.require("adata"), state.run_name, o.seed, state.timings, o.n_bootstrap,
    )  # fmt: skip
    results["estimate"].update(pooling=o.bbc_pooling, interval=o.bbc_interval)
    found, winner_oof = state.found, state.require("cv").oof[:, bbc.winner]
    if state.notes is not None:
        results["clinical_notes"] = state.notes
    if state.images is not None:
        results["images"] = _images(state, results["notes"])
    if state.leakage_screen is not None:
        results["leakage_screen"] = state.leakage_screen.to_dict()
    if state.audit_result is not None:
        results["audit"] = state.audit_result
    if state.learning_curve is not None:
        results["learning_curve"] = state.learning_curve
    if state.augmentation is not None:
        results["augmentation"] = state.augmentation
    if state.quantum is not None:
        results["quantum"] = dict(state.quantum)
        qubits = fitted_qubits(state.model) if state.quantum["winner_is_quantum"] else None
        if qubits is not None:
            results["quantum"]["winner_qubits"] = qubits
    results["invocation"] = {
        k: v for k, v in state.invocation.items() if k not in ("data_sha256", CLASS_RULE_KEY)
    }  # the class rule is in outcome.min_training_per_class
    if found is not None:
        results["discovery"] = found.to_dict()
        if state.gene_sets is not None:
            results["discovery"]["gene_set_files"] = state.gene_sets.files
    if state.extras:
        results["extras"] = state.extras
    predictions = oof_table(made, winner_oof, resampling)
    card = model_card(made, winner)
    card["reference_profile"] = reference_profile(made.features, min_cell=o.min_cell)  # monitor
    card["sensitive"] = list(made.spec.sensitive)
    if state.conformal_thresholds is not None:
        card["conformal"] = state.conformal_thresholds
    # the saved models hold no note text (--notes-tfidf: models.note_terms.without_texts) and
    # no image (--image-features cnn: models.image_cnn.without_images), an average's members
    # neither
    result = Run(
        json_ready(results),
        predictions,
        saved_form(state.model),
        card,
        state.log.lines,
    )
    rows, dtypes = with_image_keys(made.features, state.require("adata").obs, card["dtypes"])
    result.training_rows = training_hashes(rows, dtypes)  # validate, monitor
    if found is not None:
        result.hypotheses = found.hypotheses
        if found.signature is not None:
            result.signature_model = saved_form(found.signature.model)
            searched = state.require("candidates")[discovery_configuration(state)]
            card["signature"] = {
                "features": found.signature.features,
                "winner": searched.to_dict(),  # the configuration searched (--ensemble)
            }
    state.result = result
    if o.out_dir is None:
        validate_results(result.results)
        return

    account(state)  # the report shows the cost up to here; results.json also gets its own
    if state.audit_settings is not None:
        result.results["documents"] = documents_summary(result.results, card)
        result.documents = documents_markdown(result.results, card)
    # a mismatch is a bug: raised here, before the stage is saved, so a fixed version can
    # resume from "document" without redoing the fits
    validate_results(result.results)
    state.html = render_html(result.results, predictions)


def account(state: RunState) -> None:
    """The timings and the compute ledger so far, into the results."""
    result, ledger = state.require("result"), state.require("ledger")
    state.timings["total"] = time.perf_counter() - state.started
    result.results["timings"] = json_ready(state.timings)
    result.results["compute"] = json_ready(
        {
            **ledger.to_dict(),
            "backend": state.fit_backend().describe(),
            "budget": state.budget_info,
        }
    )


def write(state: RunState) -> None:
    """The run directory (with an output folder), written atomically; the ``.partial``
    checkpoint is removed once it is in place."""
    account(state)
    timings, cache = state.timings, state.fit_cache()
    state.log("timings (s): " + ", ".join(f"{k} {v:.2f}" for k, v in timings.items()))
    if cache is not None:
        state.log(f"fit cache: reused {cache.hits} fit(s), stored {cache.stored}")
    result = state.require("result")
    if state.html is not None and state.checkpoint is not None:
        directory = state.checkpoint.directory
        write_run(result, directory.parent, state.html, dirname=state.checkpoint.final_name)
        state.checkpoint.discard()
