"""The clinician's approval of a draft note: a decision on every line, in the audit log.

``insightome scribe approve OUT --clinician ID --decisions FILE`` calls :func:`approve` with
the decisions that :func:`insightome.apps.scribe.api.read_decisions` reads: the
``decisions.json`` that ``draft.html`` saves, or a CSV with columns
``line,decision,text,reason`` (``accept``/``edit``/``reject`` mean
``accepted``/``edited``/``rejected``). Each decision is one ``override`` event in
``OUT/prediction_log.jsonl`` (:func:`insightome.audit.prediction_log.log_override`: the
clinician, the decision, the reason, and for an edit the new text in ``details``; EU AI Act
Art. 14), beside the ``prediction`` event of the line it decides. The log is the record: the
latest decision on a line counts, and the state of the approval is read back from it at
every call.

**Nothing is final without approval.** ``OUT/approval.json`` (status, counts, clinicians,
time, each line's decision) is rewritten after every call and ``draft.html`` re-rendered with
the decisions; only when every line has a decision are ``note_final.txt`` and
``note_final.json`` written (the accepted lines, the edited ones in their new text, rejected
lines out; each line with its ID, decision and evidence; who approved it, when, and the
sha256 of the draft), and from then on the note does not change: another decision is
refused. A decisions file saved from another draft (its ``draft_sha256``) or by another
clinician than the one approving is refused too (a CSV is checked the same way when it
has a ``draft_sha256`` column; without one it names no draft and is not checked).

One approval at a time: :func:`approve` holds an exclusive ``fcntl.flock`` on
``OUT/.approve.lock`` from its first check to its last write, so two calls never both find
the note not final. A call cut short after its last decision is logged (a final file
missing, or ``approval.json`` not ``final``) is finished by the next call, which writes the
missing files from the log and then refuses.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from insightome import errors
from insightome.apps.scribe.note import DRAFT_FORMAT, Draft
from insightome.apps.scribe.report import check_evidence, render_page
from insightome.audit.prediction_log import LOG_NAME, log_override, read_log
from insightome.errors import UserError

try:  # POSIX; elsewhere approvals are not locked against each other
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "APPROVAL_NAME",
    "DECISIONS",
    "DECISIONS_FORMAT",
    "DRAFT_NAME",
    "ApprovalStatus",
    "Decision",
    "DraftFolder",
    "Recorded",
    "approve",
    "method_sha256",
    "pending_lines",
    "read_draft_folder",
    "recorded_decisions",
    "write_file_atomic",
    "write_review_files",
]

DECISIONS = ("accepted", "edited", "rejected")
DECISIONS_FORMAT = "insightome-scribe-decisions/1"
APPROVAL_FORMAT = "insightome-scribe-approval/1"
NOTE_FORMAT = "insightome-scribe-note/1"
DRAFT_NAME = "draft.json"
APPROVAL_NAME = "approval.json"
PAGE_NAME = "draft.html"
LOCK_NAME = ".approve.lock"
NOTE_TXT, NOTE_JSON = "note_final.txt", "note_final.json"
DEFAULT_REASONS = {
    "accepted": "accepted as drafted",
    "edited": "edited by the clinician",
    "rejected": "rejected by the clinician",
}
_ALIASES = {word: d for d in DECISIONS for word in (d, d[:-2])}  # accept(ed), edit(ed), ...


@dataclass(frozen=True)
class Decision:
    """A clinician's decision on one line: ``accepted``, ``edited`` (with the new ``text``)
    or ``rejected``. ``clinician`` and ``draft_sha256``, when set (the page saves both), say
    who saved it from which draft; :func:`approve` refuses a mismatch."""

    line: str
    decision: str
    text: str = ""
    reason: str = ""
    clinician: str = ""
    draft_sha256: str = ""


@dataclass(frozen=True)
class ApprovalStatus:
    """Where the approval stands after a call: ``in review`` or ``final`` (every line
    decided: ``final_note`` is ``OUT/note_final.txt``)."""

    status: str
    accepted: int
    edited: int
    rejected: int
    pending: int
    final_note: Path | None


@dataclass(frozen=True)
class Recorded:
    """A decision as the log holds it (the latest on its line counts)."""

    line: str
    decision: str
    text: str
    reason: str
    clinician: str
    at: str
    order: int = field(default=0, compare=False, repr=False)  # its line number in the log


@dataclass(frozen=True)
class DraftFolder:
    """A folder written by ``insightome scribe draft``: its draft and the draft's sha256."""

    path: Path
    draft: Draft
    sha256: str  # of draft.json as written: what the page's decisions name
    model_sha256: str  # of the method, as the log's predictions name it


def method_sha256(method: Mapping[str, Any]) -> str:
    """The sha256 of a draft's method (lexicon, rules, template, version): the "model" of
    the prediction log."""
    text = json.dumps(method, sort_keys=True, ensure_ascii=True, default=str)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def write_file_atomic(path: Path, text: str) -> None:
    """``text`` (UTF-8) in ``path`` through a temporary file beside it and ``os.replace``."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def read_draft_folder(out_dir: str | Path) -> DraftFolder:
    """The draft of ``out_dir``; a :class:`UserError` when the folder is not a draft."""
    path = Path(out_dir)

    def refuse(problem: str) -> UserError:
        return UserError(errors.SCRIBE_NOT_DRAFT, path=path, problem=problem)

    if not path.is_dir():
        raise refuse("no such folder")
    if not (path / DRAFT_NAME).is_file():
        raise refuse(f"no {DRAFT_NAME}")
    if not (path / LOG_NAME).is_file():
        raise refuse(f"no {LOG_NAME}")
    raw = (path / DRAFT_NAME).read_bytes()
    try:
        data = json.loads(raw.decode("utf-8"))
        if data.get("format") != DRAFT_FORMAT:
            raise KeyError("format")
        draft = Draft.from_json(data)
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError,
            AttributeError):  # fmt: skip
        raise refuse(f"{DRAFT_NAME} is not a draft of format {DRAFT_FORMAT}") from None
    try:  # a draft edited by hand: evidence in a turn it lacks, or past its turn's text
        check_evidence(draft)
    except (ValueError, TypeError) as exc:
        raise refuse(f"{DRAFT_NAME}: {str(exc)[:120]}; it was changed after drafting") from None
    if not draft.lines:
        raise refuse(f"{DRAFT_NAME} has no line")
    sha = hashlib.sha256(raw).hexdigest()
    return DraftFolder(path, draft, sha, method_sha256(draft.method))


def recorded_decisions(folder: DraftFolder) -> dict[str, Recorded]:
    """The latest logged decision on each line of the draft, in the draft's line order."""
    read_log(folder.path)  # every line checked: a corrupt one is named, never skipped
    ids = {line.id for line in folder.draft.lines}
    latest: dict[str, Recorded] = {}
    for number, raw in enumerate((folder.path / LOG_NAME).read_bytes().splitlines(), start=1):
        entry = json.loads(raw) if raw.strip() else {}
        line = str(entry.get("sample_id"))
        if entry.get("event") != "override" or line not in ids:
            continue
        details = entry.get("details") or {}
        latest[line] = Recorded(
            line=line,
            decision=str(entry["override"]),
            text=str(details.get("text", "")),
            reason=str(entry.get("reason") or ""),
            clinician=str(entry.get("reviewer") or ""),
            at=str(entry["timestamp"]),
            order=number,
        )
    return {line.id: latest[line.id] for line in folder.draft.lines if line.id in latest}


def pending_lines(out_dir: str | Path) -> list[str]:
    """The IDs of the lines of the draft in ``out_dir`` that have no decision yet."""
    folder = read_draft_folder(out_dir)
    latest = recorded_decisions(folder)
    return [line.id for line in folder.draft.lines if line.id not in latest]


def _last(latest: Mapping[str, Recorded]) -> Recorded:
    """The decision logged last, by its place in the log (the one that completed a final
    note); never by its time, which a clock set back would put out of order."""
    return max(latest.values(), key=lambda r: r.order)


@contextmanager
def _approval_lock(folder: Path) -> Iterator[None]:
    """An exclusive lock on ``folder/.approve.lock`` (made if missing) while the block runs.

    A file of its own: the log's lock is taken by each append, so holding it here would
    deadlock."""
    with open(folder / LOCK_NAME, "ab") as handle:
        if fcntl is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _finished(path: Path) -> bool:
    """Whether the final files are all written: both notes, and ``approval.json`` final."""
    if not ((path / NOTE_JSON).is_file() and (path / NOTE_TXT).is_file()):
        return False
    try:
        approval = json.loads((path / APPROVAL_NAME).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(approval, dict) and approval.get("status") == "final"


def approve(
    out_dir: str | Path, *, clinician: str, decisions: Sequence[Decision]
) -> ApprovalStatus:
    """Log ``clinician``'s ``decisions`` on the draft in ``out_dir``; write the approval's
    state, the page, and (every line decided) the final note. All decisions are checked
    before any is logged; a bad one raises a :class:`UserError` and logs nothing."""
    clinician = (clinician or "").strip()
    if not clinician:
        raise UserError(errors.SCRIBE_CLINICIAN_EMPTY)
    folder = read_draft_folder(out_dir)
    with _approval_lock(folder.path):
        return _approve_locked(folder, clinician, decisions)


def _approve_locked(
    folder: DraftFolder, clinician: str, decisions: Sequence[Decision]
) -> ApprovalStatus:
    latest = recorded_decisions(folder)
    if len(latest) == len(folder.draft.lines):
        if not _finished(folder.path):  # a call cut short after its last decision
            write_review_files(folder.path, folder, latest, page_folder=folder.path)
        last = _last(latest)
        raise UserError(
            errors.SCRIBE_ALREADY_FINAL,
            path=folder.path,
            clinician=last.clinician,
            at=f"{last.at[:10]} {last.at[11:19]} UTC",
        )
    for decision in _checked(folder, clinician, decisions):
        log_override(
            folder.path,
            decision.line,
            reviewer=clinician,
            override=decision.decision,
            reason=decision.reason,
            model_sha256=folder.model_sha256,
            details={"text": decision.text} if decision.decision == "edited" else None,
        )
    latest = recorded_decisions(folder)
    return write_review_files(folder.path, folder, latest, page_folder=folder.path)


def _checked(folder: DraftFolder, clinician: str, decisions: Sequence[Decision]) -> list[Decision]:
    """The decisions, normalised (decision words, stripped text, default reasons), or the
    first problem as a :class:`UserError`."""
    if not decisions:
        raise UserError(errors.SCRIBE_NO_DECISIONS)
    for d in decisions:
        if d.draft_sha256 and d.draft_sha256.strip().lower() != folder.sha256:
            raise UserError(
                errors.SCRIBE_OTHER_DRAFT,
                given=d.draft_sha256.strip()[:12],
                actual=folder.sha256[:12],
                path=folder.path,
            )
        if d.clinician and d.clinician.strip() != clinician:
            raise UserError(
                errors.SCRIBE_OTHER_CLINICIAN, saved=d.clinician.strip(), clinician=clinician
            )
    lines = {line.id: line for line in folder.draft.lines}
    ids = list(lines)
    checked: list[Decision] = []
    for d in decisions:
        line = d.line.strip()
        decision = _ALIASES.get(d.decision.strip().lower())
        if decision is None:
            raise UserError(errors.SCRIBE_DECISION_VALUE, line=line[:40], decision=d.decision[:40])
        if line not in lines:
            raise UserError(
                errors.SCRIBE_UNKNOWN_LINE,
                line=line[:40],
                path=folder.path,
                first=ids[0],
                last=ids[-1],
            )
        if any(c.line == line for c in checked):
            raise UserError(errors.SCRIBE_DECIDED_TWICE, line=line)
        text = d.text.strip()
        if decision == "edited" and not text:
            raise UserError(errors.SCRIBE_EDIT_NO_TEXT, line=line)
        if decision != "edited" and text and text != lines[line].text.strip():
            raise UserError(errors.SCRIBE_TEXT_NOT_EDIT, line=line, decision=decision)
        reason = d.reason.strip() or DEFAULT_REASONS[decision]
        text = text if decision == "edited" else ""
        checked.append(Decision(line, decision, text, reason, clinician, folder.sha256))
    return checked


def _approval(folder: DraftFolder, latest: Mapping[str, Recorded]) -> dict[str, Any]:
    counts = Counter(r.decision for r in latest.values())
    pending = len(folder.draft.lines) - len(latest)
    status = "draft" if not latest else ("final" if pending == 0 else "in review")
    last = _last(latest) if status == "final" else None
    return {
        "format": APPROVAL_FORMAT,
        "status": status,
        "lines": len(folder.draft.lines),
        **{d: counts.get(d, 0) for d in DECISIONS},
        "pending": pending,
        "clinicians": sorted({r.clinician for r in latest.values()}),
        "updated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "approved_by": last.clinician if last else None,
        "approved_at": last.at if last else None,
        "draft_sha256": folder.sha256,
        "decisions": {
            r.line: {
                "decision": r.decision,
                "clinician": r.clinician,
                "at": r.at,
                "reason": r.reason,
                **({"text": r.text} if r.decision == "edited" else {}),
            }
            for r in latest.values()
        },
    }


def _final_note(
    folder: DraftFolder, latest: Mapping[str, Recorded], approval: Mapping[str, Any]
) -> dict[str, Any]:
    draft = folder.draft
    sections = []
    for section in draft.sections:
        kept = []
        for line in draft.lines_of(section.key):
            record = latest[line.id]
            if record.decision == "rejected":
                continue
            kept.append(
                {
                    "id": line.id,
                    "decision": record.decision,
                    "text": record.text if record.decision == "edited" else line.text,
                    **({"drafted_text": line.text} if record.decision == "edited" else {}),
                    "clinician": record.clinician,
                    "decided_at": record.at,
                    "evidence": [asdict(e) for e in line.evidence],
                    "findings": [asdict(f) for f in line.findings],
                }
            )
        if kept:
            sections.append({"key": section.key, "title": section.title, "lines": kept})
    return {
        "format": NOTE_FORMAT,
        "status": "final",
        "approved_by": approval["approved_by"],
        "approved_at": approval["approved_at"],
        "clinicians": approval["clinicians"],
        "draft_sha256": folder.sha256,
        "model_sha256": folder.model_sha256,
        "counts": {d: approval[d] for d in DECISIONS},
        "rejected_lines": [r.line for r in latest.values() if r.decision == "rejected"],
        "sections": sections,
    }


def _final_text(note: Mapping[str, Any]) -> str:
    head = (
        f"Consultation note, approved by {note['approved_by']} at {note['approved_at']}\n"
        f"({note['counts']['accepted']} line(s) accepted, {note['counts']['edited']} edited, "
        f"{note['counts']['rejected']} rejected; draft sha256 {note['draft_sha256']})\n"
    )
    blocks = ["\n".join([s["title"], *(line["text"] for line in s["lines"])])
              for s in note["sections"]]  # fmt: skip
    return head + "\n" + "\n\n".join(blocks) + "\n"


def write_review_files(
    directory: Path,
    folder: DraftFolder,
    latest: Mapping[str, Recorded],
    *,
    page_folder: Path,
) -> ApprovalStatus:
    """Write ``approval.json``, ``draft.html`` and (every line decided) the final note into
    ``directory`` (the draft folder, or the temporary folder it is built in), each file
    atomically; ``page_folder`` is the folder the page's approve command names."""
    approval = _approval(folder, latest)
    final_note = None
    if approval["status"] == "final":
        note = _final_note(folder, latest, approval)
        write_file_atomic(
            directory / NOTE_JSON, json.dumps(note, indent=2, ensure_ascii=False) + "\n"
        )
        write_file_atomic(directory / NOTE_TXT, _final_text(note))
        final_note = directory / NOTE_TXT
    page = render_page(folder.draft, approval, draft_sha256=folder.sha256, folder=page_folder)
    write_file_atomic(directory / PAGE_NAME, page)
    write_file_atomic(
        directory / APPROVAL_NAME, json.dumps(approval, indent=2, ensure_ascii=False) + "\n"
    )
    return ApprovalStatus(
        status=approval["status"],
        accepted=approval["accepted"],
        edited=approval["edited"],
        rejected=approval["rejected"],
        pending=approval["pending"],
        final_note=final_note,
    )
