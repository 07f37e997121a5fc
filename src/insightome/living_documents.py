"""Living documents: the run's documents and report follow the evidence gathered after it.

``insightome validate`` and ``insightome monitor`` write their records into the run
directory (``validations/<stamp>-<cohort>/validation.json``,
``monitoring/<stamp>-<batch>/monitor.json``). Those records are the state:
:func:`read_evidence` reads them back, oldest first, and :func:`refresh_documents` rewrites
the model card, TRIPOD+AI, FUTURE-AI and Annex IV documents (the items the evidence informs),
their counts in ``results.json`` and ``report.html`` (its Validation and Monitoring
sections), through :func:`insightome.run_directory.rewrite_run`: the new directory is
written whole beside the old one and swapped in by renames, so a crash leaves either the
old or the new run. ``audit`` and ``discover`` reruns (:mod:`insightome.followup`) render
with the same evidence (:func:`render_documents`), so a rerun never forgets a validation.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from insightome.audit.documents import documents_markdown, documents_summary
from insightome.audit.evidence import Evidence
from insightome.errors import UserError
from insightome.report import render_html
from insightome.run_directory import Run, rewrite_run

__all__ = [
    "RECORDS", "is_recorded", "read_evidence", "refresh_documents", "refresh_if_recorded",
    "render_documents",
]  # fmt: skip

#: folder in the run directory → the record file of each check in it
RECORDS = {"validations": "validation.json", "monitoring": "monitor.json"}

RECORD_UNREADABLE = (
    "{path}: this record of the run cannot be read ({reason}). Move the folder out of "
    "{folder}/ (or restore it) and run the command again."
)


def _records(run_dir: Path, folder: str) -> tuple[dict[str, Any], ...]:
    """The records under ``run_dir/folder``, oldest first (by their ``created`` stamp).

    Hidden folders (a record being written, or one moved aside) are not records.
    """
    found = []
    for path in sorted((run_dir / folder).glob(f"*/{RECORDS[folder]}")):
        if path.parent.name.startswith("."):
            continue
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise UserError(RECORD_UNREADABLE, path=str(path), reason=e, folder=folder) from None
        if not isinstance(record, dict):
            reason = "not a JSON object"
            raise UserError(RECORD_UNREADABLE, path=str(path), reason=reason, folder=folder)
        found.append((str(record.get("created") or ""), path.parent.name, record))
    return tuple(record for *_, record in sorted(found, key=lambda t: (t[0], t[1])))


def read_evidence(run_dir: str | Path | None) -> Evidence:
    """The validations and monitoring checks recorded in a run directory (none: empty)."""
    if run_dir is None:
        return Evidence()
    run_dir = Path(run_dir)
    return Evidence(_records(run_dir, "validations"), _records(run_dir, "monitoring"))


def render_documents(run: Run, evidence: Evidence | None = None) -> str:
    """Regenerate a loaded run's documents (when it has them) and return its report HTML.

    ``evidence`` defaults to what the run directory records. The documents exist when the
    run was audited (``results["documents"]``); their counts are updated with them.
    """
    evidence = read_evidence(run.path) if evidence is None else evidence
    if "documents" in run.results:
        run.results["documents"] = documents_summary(run.results, run.model_card, evidence)
        run.documents = documents_markdown(run.results, run.model_card, evidence)
    return render_html(run.results, run.predictions, evidence)


def refresh_documents(run_dir: str | Path) -> Path:
    """Rewrite a run's documents and report from its records; returns the run directory."""
    run = Run.load(run_dir)
    return rewrite_run(run, render_documents(run))


def refresh_if_recorded(run_dir: str | Path | None, written: str | Path, folder: str) -> bool:
    """:func:`refresh_documents` when ``written`` (a new record) lies in the run's ``folder``.

    A record written elsewhere (``--out``) is not the run's: the run is left untouched
    (it may not even be writable). Returns whether the run was refreshed.
    """
    if not is_recorded(run_dir, written, folder):
        return False
    refresh_documents(run_dir)  # type: ignore[arg-type]  (is_recorded: not None)
    return True


def is_recorded(run_dir: str | Path | None, written: str | Path, folder: str) -> bool:
    """Whether ``written`` (a validation or monitoring record) lies in the run's
    ``folder``, so the run's documents follow it."""
    return run_dir is not None and (
        Path(written).resolve().parent == (Path(run_dir) / folder).resolve()
    )
