"""The run directory: the unit users keep.

``runs/<timestamp>-<name>/`` holds ``results.json``, ``model.joblib`` + ``model.json``,
``predictions.csv`` (out-of-fold), ``report.html``, ``run.log``, ``training_rows.key`` +
``training_rows.hmac`` (keyed hashes of the training rows, :mod:`insightome.overlap`) and,
with discovery, ``hypotheses.tsv`` and ``signature_model.joblib``. Loading a run loads
joblib files, which can run code: a model file is loaded only when ``model.json`` records
its sha256 and the file matches it, and only runs you trust should be loaded. A run is
written into a hidden temporary directory beside its destination and renamed into place
only when every file is complete, so a crash never leaves a half-written run behind.
``results.json`` is validated against the typed results (:mod:`insightome.results`) before
any file is written; loading checks only that its schema version is one this version reads.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import pandas as pd

from insightome import errors
from insightome.audit.prediction_log import locked_log
from insightome.errors import UserError
from insightome.io.atomic import replacing_directory, run_directory_name
from insightome.io.json_values import json_ready
from insightome.io.provenance import file_sha256  # re-exported: followup, monitoring, prediction
from insightome.overlap import RowHashes, read_hashes, write_hashes
from insightome.results import KNOWN_SCHEMAS, RESULTS_SCHEMA, RunResults, validate_results
from insightome.study import StudySpec

MODEL_SCHEMA = "insightome.model/1"

MODEL_UNVERIFIED = (
    "{path}: model.json records no sha256 of {file}, so the file cannot be checked before "
    "it is loaded (loading a joblib file runs code). Load only runs you trust; rerun the "
    "study with 'insightome run' to get a run directory whose model can be checked."
)
RESULTS_UNKNOWN = (
    "{path}: results.json declares schema {schema!r}, which this version of insightome "
    "does not read (it reads {known}). Use the insightome version that wrote the run."
)
MODEL_CHANGED = (
    "{path}: {file} does not match the sha256 recorded in model.json (the file was changed "
    "after the run). It is not loaded; use the run's original files or rerun the study."
)


@dataclass
class Run:
    """A finished run: results, out-of-fold predictions and the final fitted model."""

    results: dict[str, Any]
    predictions: pd.DataFrame
    model: Any
    model_card: dict[str, Any]
    log: list[str] = field(default_factory=list)
    path: Path | None = None
    hypotheses: pd.DataFrame | None = None  # hypotheses.tsv
    signature_model: Any = None  # the minimal signature's model (signature_model.joblib)
    documents: dict[str, str] = field(default_factory=dict)  # file name → Markdown
    training_rows: RowHashes | None = None  # keyed hashes of the training rows (overlap.py)

    @property
    def spec(self) -> StudySpec:
        return StudySpec.from_dict(self.results["spec"])

    @property
    def typed_results(self) -> RunResults:
        """``results`` parsed and validated as :class:`insightome.results.RunResults`."""
        where = "results.json" if self.path is None else str(self.path / "results.json")
        return RunResults.from_dict(self.results, where)

    @property
    def estimate(self) -> dict[str, Any]:
        return self.results["estimate"]

    @property
    def report_path(self) -> Path | None:
        return None if self.path is None else self.path / "report.html"

    def __repr__(self) -> str:
        e = self.estimate
        lo, hi = e["ci95"]
        return (
            f"Run({self.results['task']}, n={self.results['n_samples']}, "
            f"winner={self.results['winner']['name']}, {e['metric']}={e['value']:.3f} "
            f"[{lo:.3f}, {hi:.3f}], path={self.path})"
        )

    @classmethod
    def load(cls, path: str | Path) -> Run:
        """Load a run directory written by :func:`write_run`."""
        path = Path(path)
        for name in ("results.json", "model.joblib", "model.json"):
            if not (path / name).is_file():
                raise UserError(errors.RUN_DIR_INVALID, path=str(path), missing=name)
        results = json.loads((path / "results.json").read_text())
        _check_results_schema(path, results)
        card = json.loads((path / "model.json").read_text())
        _check_sha256(path, "model.joblib", card.get("model_sha256"))
        model = joblib.load(path / "model.joblib")
        predictions = (
            pd.read_csv(path / "predictions.csv", index_col=0)
            if (path / "predictions.csv").is_file()
            else pd.DataFrame()
        )
        log = (path / "run.log").read_text().splitlines() if (path / "run.log").is_file() else []
        hypotheses = (
            pd.read_csv(path / "hypotheses.tsv", sep="\t")
            if (path / "hypotheses.tsv").is_file()
            else None
        )
        signature_model = None
        signature = card.get("signature") or {}
        if (path / "signature_model.joblib").is_file():
            _check_sha256(path, "signature_model.joblib", signature.get("model_sha256"))
            signature_model = joblib.load(path / "signature_model.joblib")
        documents = {
            p.name: p.read_text(encoding="utf-8") for p in sorted(path.glob("*.md")) if p.is_file()
        }
        training_rows = read_hashes(path, card.get("training_rows"))
        return cls(
            results, predictions, model, card, log, path, hypotheses, signature_model, documents,
            training_rows,
        )  # fmt: skip


def _check_results_schema(directory: Path, results: Any) -> None:
    """Refuse, with one line, results.json of a schema this version does not know; a run
    that names no schema (written before schemas were named) is read as version 1. The
    content is not validated on load, so runs written by earlier versions keep loading."""
    schema = results.get("schema", RESULTS_SCHEMA) if isinstance(results, dict) else None
    if schema not in KNOWN_SCHEMAS:
        raise UserError(
            RESULTS_UNKNOWN, path=str(directory), schema=schema, known=", ".join(KNOWN_SCHEMAS)
        )


def _check_sha256(directory: Path, name: str, recorded: str | None) -> None:
    """Refuse, with one line, a model file whose sha256 is not recorded or differs."""
    if not recorded:
        raise UserError(MODEL_UNVERIFIED, path=str(directory), file=name)
    if file_sha256(directory / name) != recorded:
        raise UserError(MODEL_CHANGED, path=str(directory), file=name)


def _write_files(
    run: Run, directory: Path, report_html: str, kept_from: Path | None = None
) -> dict[str, Any]:
    """Every file of a run into ``directory``; returns the model card with checksums.

    With ``kept_from`` (a rewrite), the model files are copied from there byte for byte
    rather than saved again: a re-saved model can differ in its bytes (a random forest
    does), and the prediction log and monitoring reports name the model by its sha256.
    The signature model is saved again only when a rerun of discovery replaced it.
    """
    # validated before any file is written: a mismatch is a bug, named by its JSON path
    results = json_ready(run.results)
    validate_results(results, where=f"results.json of run {results.get('name')!r}")
    card = dict(run.model_card)
    if kept_from is not None:
        shutil.copy2(kept_from / "model.joblib", directory / "model.joblib")
        _check_sha256(directory, "model.joblib", card.get("model_sha256"))
    else:
        joblib.dump(run.model, directory / "model.joblib")
        card["model_sha256"] = file_sha256(directory / "model.joblib")
    if run.signature_model is not None:
        kept = (card.get("signature") or {}).get("model_sha256")
        if kept_from is not None and kept and (kept_from / "signature_model.joblib").is_file():
            shutil.copy2(kept_from / "signature_model.joblib", directory)
            _check_sha256(directory, "signature_model.joblib", kept)
        else:
            joblib.dump(run.signature_model, directory / "signature_model.joblib")
            card["signature"] = {
                **card.get("signature", {}),
                "model_sha256": file_sha256(directory / "signature_model.joblib"),
            }
    if run.training_rows is not None:
        card["training_rows"] = write_hashes(directory, run.training_rows)
    if run.hypotheses is not None:
        run.hypotheses.to_csv(directory / "hypotheses.tsv", sep="\t", index=False)
    for name, text in run.documents.items():
        (directory / name).write_text(text, encoding="utf-8")
    (directory / "model.json").write_text(json.dumps(json_ready(card), indent=2))
    (directory / "results.json").write_text(json.dumps(results, indent=2))
    run.predictions.to_csv(directory / "predictions.csv")
    (directory / "report.html").write_text(report_html, encoding="utf-8")
    (directory / "run.log").write_text("\n".join(run.log) + "\n")
    return card


def write_run(run: Run, out_dir: str | Path, report_html: str, dirname: str | None = None) -> Path:
    """Write ``run`` atomically under ``out_dir`` and return the final directory."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    base = dirname or run_directory_name(run.results["name"])
    final = out_dir / base
    suffix = 1
    while final.exists():
        suffix += 1
        final = out_dir / f"{base}-{suffix}"
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=out_dir))
    try:
        card = _write_files(run, tmp, report_html)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    run.path = final
    run.model_card = card
    return final


def rewrite_run(run: Run, report_html: str) -> Path:
    """Replace a loaded run's directory with its updated content (e.g. rerun discovery).

    The new directory is written completely beside the old one first; the two are then
    swapped by renames, so a crash leaves either the old or the new run, never a mix.
    What the run has gained since it was written (``validations/``, ``monitoring/``, the
    prediction log) is carried over; files that the new content regenerates are not. The
    model file is copied unchanged (see :func:`_write_files`), and the prediction log is
    copied under its lock, so no prediction or override appended meanwhile is lost.
    """
    if run.path is None:
        raise ValueError("rewrite_run needs a run loaded from disk")
    final = run.path
    # no prediction or override is appended between copying the log and the swap
    with locked_log(final) as log, replacing_directory(final) as tmp:
        card = _write_files(run, tmp, report_html, kept_from=final)
        for extra in final.iterdir():  # what the run gained since: validations, the log
            if (tmp / extra.name).exists() or _regenerated(extra):
                continue
            if extra == log and not log.stat().st_size:
                continue  # made empty only to hold the lock
            if extra.is_dir():
                shutil.copytree(extra, tmp / extra.name)
            else:
                shutil.copy2(extra, tmp / extra.name)
    run.model_card = card
    return final


def _regenerated(path: Path) -> bool:
    """A file :func:`_write_files` may or may not write again (so a stale copy must go)."""
    return path.is_file() and (
        path.suffix == ".md" or path.name in ("hypotheses.tsv", "signature_model.joblib")
    )


def write_validation(
    run: Run, report: dict[str, Any], cohort: str | Path, out_dir: str | Path | None = None
) -> Path:
    """Write ``validation.json`` + ``validation.md`` atomically; return their directory.

    The default place is ``<run>/validations/<timestamp>-<cohort name>/``.
    """
    parent = Path(out_dir) if out_dir is not None else Path(run.path or ".") / "validations"
    parent.mkdir(parents=True, exist_ok=True)
    final = parent / run_directory_name(Path(cohort).stem)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=parent))
    try:
        (tmp / "validation.json").write_text(json.dumps(json_ready(report), indent=2))
        (tmp / "validation.md").write_text(validation_markdown(report), encoding="utf-8")
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def validation_markdown(report: dict[str, Any]) -> str:
    c = report["cohort"]
    dev = report["development_estimate"]
    lines = [
        "# External validation",
        "",
        f"Cohort: `{c['path']}` (sha256 `{c['sha256'][:16]}…`), {c['n_samples']} samples "
        f"with an outcome ({c['n_without_outcome']} without, left out). {report['status']}.",
        "",
        "| model | metric | development (BBC-CV) | external | 95% CI |",
        "|---|---|---|---|---|",
    ]
    for name, m in report["models"].items():
        ref = dev if name == "full" else (m.get("development_estimate") or {})
        for metric, v in m["metrics"].items():
            dev_value = ref.get("value") if ref.get("metric") == metric else None
            shown = "" if dev_value is None else f"{dev_value:.3f}"
            lo, hi = v["ci95"]
            lines.append(f"| {name} | {metric} | {shown} | {v['value']:.3f} | {lo:.3f}–{hi:.3f} |")
    if report.get("bootstrap"):
        lines += ["", f"95% CIs: {report['bootstrap']}."]
    for name, m in report["models"].items():
        if m["features_missing"]:
            lines += ["", f"{name}: missing features (imputed): {', '.join(m['features_missing'])}"]
    threshold = report.get("decision_threshold")
    if threshold:
        lines += ["", f"Decision threshold {threshold['value']:.3f} ({threshold['source']}), "
                  "as `insightome predict` applies it."]  # fmt: skip
    if report.get("warnings"):
        lines += ["", "## Warnings", "", *(f"- {w}" for w in report["warnings"])]
    return "\n".join(lines) + "\n"
