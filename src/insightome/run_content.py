"""What a run's files hold: results.json, predictions.csv (out of fold), model.json, provenance.

Pure functions from the objects a run produced (study, candidates, CV predictions,
BBC-CV result, permutation result) to JSON-ready dictionaries and tables; the schema is
documented in docs/results-schema.md.
"""

from __future__ import annotations

import hashlib
import platform
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd

from insightome import __version__
from insightome.compute.blocks import blocks
from insightome.evaluate.bbc import BBCResult
from insightome.evaluate.metrics import (
    PRIMARY,
    decision_threshold,
    fold_thresholds,
    predicted_classes,
)
from insightome.evaluate.permutation import PermutationResult
from insightome.evaluate.splitters import ResamplingPlan
from insightome.models.candidates import Candidate
from insightome.results import RESULTS_SCHEMA
from insightome.run_directory import MODEL_SCHEMA
from insightome.study import Study

VERSIONED_PACKAGES = (
    "numpy",
    "pandas",
    "scipy",
    "scikit-learn",
    "anndata",
    "xgboost-cpu",
    "xgboost",  # what a Mac installs instead of xgboost-cpu (pyproject.toml)
    "lifelines",
    "joblib",
)


HASH_BLOCK_VALUES = 1_000_000


def in_memory_provenance(adata: ad.AnnData) -> dict[str, Any]:
    """Provenance of an AnnData given in memory: a sha256 over X, names and annotations."""
    h = hashlib.sha256()
    X = adata.X
    # the float64 C-order bytes of X, hashed in blocks of rows (the same digest as hashing
    # them at once, without a float64 copy of the whole matrix)
    for rows in blocks(adata.n_obs, adata.n_vars, HASH_BLOCK_VALUES):
        block = X[rows]
        block = block.toarray() if hasattr(block, "toarray") else np.asarray(block)
        h.update(np.ascontiguousarray(block, dtype=float))
    for names in (adata.obs_names, adata.var_names):
        h.update("\x1f".join(map(str, names)).encode())
    h.update(adata.obs.to_csv().encode())
    return {
        "role": "data",
        "path": "<AnnData in memory>",
        "display_path": "AnnData",
        "sha256": h.hexdigest(),
        "format": "anndata",
        "n_rows": adata.n_obs,
        "n_cols": adata.n_vars,
        "read_options": {},
    }


def with_provenance(adata: ad.AnnData) -> ad.AnnData:
    """A new AnnData with its in-memory provenance in ``uns``; the caller's is unchanged.

    Its matrix is shared, not copied (at 100,000 x 1,000 a copy was 381 MB more in the
    process that holds the study); a backed AnnData is copied into memory as before.
    """
    provenance = {"files": [in_memory_provenance(adata)]}
    if adata.isbacked:
        out = adata.copy()
    else:
        out = ad.AnnData(
            X=adata.X,
            obs=adata.obs.copy(),
            var=adata.var.copy(),
            uns=dict(adata.uns),
            obsm=dict(adata.obsm.items()),
            varm=dict(adata.varm.items()),
            layers=dict(adata.layers.items()),
        )
    out.uns["provenance"] = provenance
    return out


def versions(packages: Sequence[str] = VERSIONED_PACKAGES) -> dict[str, str]:
    """Python's, insightome's and each installed package's version (missing ones left out)."""
    out = {"python": platform.python_version(), "insightome": __version__}
    for pkg in packages:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            continue
    return out


def build_results(
    study: Study,
    cands: list[Candidate],
    cv: Any,
    bbc: BBCResult,
    perm: PermutationResult | None,
    plan: Any,
    adata: ad.AnnData,
    name: str | None,
    seed: int,
    timings: dict[str, float],
    n_bootstrap: int,
) -> dict[str, Any]:
    spec = study.spec
    est = bbc.estimate
    prov = dict(adata.uns.get("provenance", {}))
    data_name = name or default_name(prov, spec)
    winner = cands[bbc.winner]
    return {
        "schema": RESULTS_SCHEMA,
        "schema_doc": "docs/results-schema.md",
        "name": data_name,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "task": spec.task,
        "task_detected": spec.task_detected,
        "n_samples": study.n_samples,
        "n_features": int(study.features.shape[1]),
        "n_features_dropped": study.n_features_dropped,
        "outcome": study.outcome_summary(),
        "spec": spec.to_dict(),
        "winner": winner.to_dict(),
        "estimate": {
            "metric": bbc.metric,
            "value": est.value,
            "ci95": list(est.ci95),
            "plain_cv_value": est.plain_cv_value,
            "optimism": est.plain_cv_value - est.value,
            "permutation_p": perm.p_value if perm else None,
            "method": "BBC-CV",
            "n_bootstrap": n_bootstrap,
            "chance_level": PRIMARY[spec.task].chance,
        },
        "secondary": {k: v.to_dict() for k, v in bbc.secondary.items()},
        "decision_threshold": (decision_threshold(study.y) if spec.task == "binary" else None),
        "configurations": [
            {
                **c.to_dict(),
                "cv_value": bbc.cv_mean[i],
                "cv_sd": bbc.cv_sd[i],
                "bbc_selection_frequency": bbc.selection_frequency[i],
                "failed_folds": int(cv.failed_folds[i]),
                "fit_seconds": float(cv.fit_seconds[i]),
                "fit_warnings": dict(cv.fit_warnings[i]),
            }
            for i, c in enumerate(cands)
        ],
        "resampling": {**plan.to_dict(), "n_bootstrap": n_bootstrap, "seed": seed},
        "permutation": perm.to_dict() if perm else {"n": 0, "p_value": None, "null": []},
        "warnings": list(study.warnings),
        "notes": list(study.notes),
        "data": {
            "files": prov.get("files", []),
            "orientation": prov.get("orientation"),
            "orientation_reason": prov.get("orientation_reason"),
            **({"annotations": prov["annotations"]} if prov.get("annotations") else {}),
        },
        "versions": versions(),
        "seeds": {
            "seed": seed,
            "cv_seeds": list(plan.seeds),
            "bootstrap_seed": seed,
            "permutation_seed": seed,
            "model_seed": seed,
        },
        "timings": dict(timings),
    }


def default_name(prov: dict[str, Any], spec: Any) -> str:
    files = prov.get("files", [])
    shown = files[0].get("display_path", files[0]["path"]) if files else "study"
    stem = Path(shown).name.split(".")[0]
    return f"{stem}-{spec.target or spec.event}"


def oof_table(study: Study, oof_winner: np.ndarray, plan: ResamplingPlan) -> pd.DataFrame:
    """Winner's out-of-fold predictions averaged over repeats, one row per sample; a binary
    ``predicted_class`` thresholds each at its training folds' prevalence (mean over
    repeats), as balanced accuracy does, never at a prevalence that includes its own label."""
    mean = np.nanmean(oof_winner, axis=0)
    idx = pd.Index(study.features.index.astype(str), name="sample_id")
    task = study.spec.task
    if task == "survival":
        t, e = study.time_event
        return pd.DataFrame({"time": t, "event": e, "risk": mean[:, 0]}, index=idx)
    if task == "regression":
        return pd.DataFrame({"y": study.y, "pred": mean[:, 0]}, index=idx)
    observed = pd.DataFrame({"y": [study.classes[i] for i in study.y]}, index=idx)
    table = class_table(mean, study.classes, fold_thresholds(study.y, plan.splits).mean(0), idx)
    return pd.concat([observed, table], axis=1)


def model_card(study: Study, winner: Candidate) -> dict[str, Any]:
    f = study.features
    return {
        "schema": MODEL_SCHEMA,
        "task": study.spec.task,
        "outcome": study.outcome_summary(),
        "classes": study.classes,
        "decision_threshold": decision_threshold(study.y) if study.spec.task == "binary" else None,
        "winner": winner.to_dict(),
        "features": list(map(str, f.columns)),
        "dtypes": {
            str(c): ("numeric" if pd.api.types.is_numeric_dtype(f[c]) else "categorical")
            for c in f.columns
        },
        "categories": {
            str(c): [str(v) for v in f[c].cat.categories]
            for c in f.columns
            if isinstance(f[c].dtype, pd.CategoricalDtype)
        },
        "insightome_version": __version__,
        "versions": versions(),
    }


def class_table(
    pred: np.ndarray, classes: list[str], threshold: float | np.ndarray, index: pd.Index
) -> pd.DataFrame:
    """``prob_<class>`` columns and ``predicted_class`` from an (n × k) prediction matrix.

    Binary: ``pred[:, 0]`` is the positive-class probability and the class is positive
    when it reaches ``threshold`` (the training prevalence; out-of-fold predictions: one
    per sample, that of its training folds); multiclass: arg-max.
    """
    probs = np.column_stack([1 - pred[:, 0], pred[:, 0]]) if pred.shape[1] == 1 else pred
    out = pd.DataFrame({f"prob_{c}": probs[:, j] for j, c in enumerate(classes)}, index=index)
    out["predicted_class"] = [classes[i] for i in predicted_classes(pred, threshold)]
    return out
