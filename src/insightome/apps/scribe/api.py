"""``transcribe``, ``draft`` and ``approve``: what ``insightome scribe`` calls.

Each command writes one output folder, atomically (built beside it, then renamed), and
refuses a folder that would replace an input (the audio, the transcript, a template or
lexicon), the current folder or one above it, a file, a folder with other content than an
earlier output of the same command, or a draft folder that holds a clinician's decisions
(their audit trail: draft into a new folder instead).

* **transcribe** → ``transcript.json`` (:meth:`Transcript.to_json`: turns, words with times,
  the audio's name and sha256, the engine, model and settings, each speaker's role and how
  it was decided), ``transcript.txt`` (``[role] text`` per turn), ``README.txt``. With
  ``delete_audio`` the audio file is deleted only once the folder is in place, and
  ``transcript.json`` is rewritten (atomically) to record it: ``source["audio_deleted"]``.
* **draft** → ``draft.json`` (:meth:`Draft.to_json`, with the transcript it cites),
  ``draft.html`` (the page the clinician reviews, :mod:`~insightome.apps.scribe.report`),
  ``draft.txt``, ``approval.json`` (status ``draft``), ``README.txt`` and
  ``prediction_log.jsonl``: one ``prediction`` per draft line (its section, text, concepts
  with their assertions and evidence spans; the model is the sha256 of the method — lexicon,
  rules, template, version — and the input the transcript file's sha256).
* **approve** → :func:`insightome.apps.scribe.review.approve`: the decisions in the log,
  ``approval.json``, the page again and, once every line is decided, ``note_final.txt`` and
  ``note_final.json``; :func:`read_decisions` reads them from the ``decisions.json`` the
  page saves or from a CSV.

The folders hold the consultation's words and nothing leaves them: keep them where the
patient's record is kept.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from insightome import errors
from insightome.apps.scribe.asr import transcribe
from insightome.apps.scribe.draft import draft_note
from insightome.apps.scribe.note import Draft
from insightome.apps.scribe.review import (
    APPROVAL_NAME,
    DECISIONS_FORMAT,
    DRAFT_NAME,
    LOCK_NAME,
    PAGE_NAME,
    ApprovalStatus,
    Decision,
    DraftFolder,
    approve,
    method_sha256,
    pending_lines,
    write_file_atomic,
    write_review_files,
)
from insightome.apps.scribe.transcript import Transcript, read_transcript
from insightome.audit.prediction_log import LOG_NAME, log_predictions, read_log
from insightome.errors import UserError
from insightome.io.atomic import replacing_directory

__all__ = [
    "ApprovalStatus",
    "Decision",
    "approve",
    "draft_to_folder",
    "pending_lines",
    "read_decisions",
    "transcribe_to_folder",
]

TRANSCRIPT_NAME = "transcript.json"
# what each command writes into its folder: an existing folder holding anything else is
# refused, since writing the folder replaces it whole
_WRITES = {
    "transcribe": frozenset({TRANSCRIPT_NAME, "transcript.txt", "README.txt"}),
    "draft": frozenset(
        {
            DRAFT_NAME,
            "draft.txt",
            "README.txt",
            LOG_NAME,
            APPROVAL_NAME,
            PAGE_NAME,
            "note_final.txt",
            "note_final.json",
            LOCK_NAME,
        }
    ),
}
_CSV_COLUMNS = ("line", "decision", "text", "reason", "clinician", "draft_sha256")
Progress = Callable[[float], None]
Refuse = Callable[[str], UserError]


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _holds_decisions(out: Path) -> bool:
    """Whether the draft folder ``out`` has a clinician's decision in its log."""
    if not (out / LOG_NAME).is_file():
        return False
    return bool((read_log(out)["event"] == "override").any())


def _written_by(entry: Path, command: str) -> bool:
    """Whether ``entry`` is a file that ``command`` writes (or the temporary file left by an
    interrupted atomic write of one)."""
    if entry.is_symlink() or not entry.is_file():
        return False
    names = _WRITES[command]
    return entry.name in names or any(entry.name.startswith(f".{n}.") for n in names)


def _make_parent(out: Path) -> None:
    """Make the folder that will hold ``out``, or refuse in one line."""
    try:
        out.absolute().parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = f"cannot be made ({exc.strerror or type(exc).__name__})"
        raise UserError(errors.SCRIBE_OUTPUT_UNSAFE, path=out, reason=reason) from None


def _check_output(out: Path, inputs: Sequence[object], marker: str, command: str) -> None:
    """Refuse (one line) an output folder whose writing would replace something else."""

    def refuse(reason: str) -> UserError:
        return UserError(errors.SCRIBE_OUTPUT_UNSAFE, path=out, reason=reason)

    wheres = {out.absolute(), out.resolve()}
    for given in inputs:
        if not isinstance(given, str | os.PathLike):
            continue  # None, or a template given as an object
        for path in {Path(given).absolute(), Path(given).resolve()}:
            if any(where == path or where in path.parents for where in wheres):
                raise refuse(f"is or holds the input {Path(given).name}")
    here = Path.cwd().resolve()
    if not str(out).strip() or out.resolve() == here or out.resolve() in here.parents:
        raise refuse("is the current folder or one above it")
    if out.exists() and not out.is_dir():
        raise refuse("is a file")
    ancestor = out.absolute().parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise refuse(f"would be inside {ancestor.name}, which is a file, not a folder")
    entries = sorted(out.iterdir()) if out.is_dir() else []
    if entries and not (out / marker).is_file():
        raise refuse(f"is a folder with other content (not an earlier 'insightome scribe "
                     f"{command}' folder)")  # fmt: skip
    for entry in entries:
        if not _written_by(entry, command):
            raise refuse(f"holds {entry.name}, which 'insightome scribe {command}' does not "
                         f"write and writing the folder would delete; move it out or give "
                         f"another folder")  # fmt: skip
    if command == "draft" and out.is_dir() and _holds_decisions(out):
        raise refuse("holds a clinician's decisions on an earlier draft (their audit trail)")


def _transcript_readme(delete_audio: bool) -> str:
    retention = (
        "The audio file was to be deleted once this folder was written (--delete-audio);\n"
        "transcript.json says whether it was (source.audio_deleted) and keeps its sha256.\n"
        if delete_audio
        else "The audio file was kept where it was; its sha256 is in transcript.json.\n"
    )
    return (
        "insightome scribe transcribe: the consultation's words, by speaker (local speech\n"
        "recognition; nothing was sent anywhere).\n\n"
        "transcript.json  the turns (speaker, role, text, times) and each word with its time\n"
        "                 and confidence; the audio's name and sha256; the engine, model and\n"
        "                 settings; each speaker's role and how it was decided\n"
        "transcript.txt   the same as text, one turn per line: [role] text\n\n"
        f"{retention}\n"
        "Check the speakers' roles, then draft the note:\n"
        "  insightome scribe draft THIS_FOLDER/transcript.json -o DRAFT_FOLDER "
        "[--roles S1=doctor,S2=patient]\n\n"
        "This folder holds the consultation's words: keep it where the patient's record is "
        "kept.\n"
    )


def transcribe_to_folder(
    audio: str | Path,
    out_dir: str | Path,
    *,
    diarization: str = "auto",
    speakers: int = 2,
    roles: Mapping[str, str] | None = None,
    delete_audio: bool = False,
    progress: Progress | None = None,
) -> tuple[Path, Transcript]:
    """Transcribe ``audio`` into ``out_dir`` (``transcript.json``, ``transcript.txt``,
    ``README.txt``); with ``delete_audio``, delete the audio once the folder is written."""
    audio, out = Path(audio), Path(out_dir)
    _check_output(out, [audio], TRANSCRIPT_NAME, "transcribe")
    if delete_audio and audio.is_symlink():
        raise UserError(errors.SCRIBE_AUDIO_LINK, path=audio)
    transcript = transcribe(
        audio, diarization=diarization, speakers=speakers, roles=roles, progress=progress
    )
    source = {**transcript.source, "audio_deleted": False}
    source.setdefault("sha256", _sha256_file(audio))
    transcript = replace(transcript, source=source)
    _make_parent(out)
    with replacing_directory(out) as tmp:
        (tmp / TRANSCRIPT_NAME).write_text(_json(transcript.to_json()), encoding="utf-8")
        (tmp / "transcript.txt").write_text(transcript.text + "\n", encoding="utf-8")
        (tmp / "README.txt").write_text(_transcript_readme(delete_audio), encoding="utf-8")
    if delete_audio:
        try:
            audio.unlink()
        except OSError as exc:
            raise UserError(
                errors.SCRIBE_AUDIO_NOT_DELETED, path=audio, reason=exc.strerror, out=out
            ) from None
        deleted = datetime.now(UTC).isoformat(timespec="seconds")
        transcript = replace(
            transcript, source={**source, "audio_deleted": True, "audio_deleted_at": deleted}
        )
        write_file_atomic(out / TRANSCRIPT_NAME, _json(transcript.to_json()))
    return out, transcript


def _predictions(draft: Draft) -> pd.DataFrame:
    """One row per draft line, indexed by its ID: what the log records as its output."""
    rows = [
        {
            "section": line.section,
            "text": line.text,
            "concepts": [
                {"concept_id": f.concept_id, "assertion": f.assertion, "said_by": f.said_by}
                for f in line.findings
            ],
            "evidence": [[e.turn, e.start, e.end] for e in line.evidence],
        }
        for line in draft.lines
    ]
    return pd.DataFrame(rows, index=[line.id for line in draft.lines])


def _draft_text(draft: Draft, out: Path) -> str:
    blocks = []
    for section in draft.sections:
        lines = draft.lines_of(section.key)
        if lines:
            blocks.append("\n".join([section.title, *(f"{x.id}  {x.text}" for x in lines)]))
    return (
        "DRAFT — not approved. A clinician accepts, edits or rejects every line (the IDs on\n"
        "the left): open draft.html beside this file, or\n"
        f"  insightome scribe approve {out} --clinician ID --decisions decisions.csv\n"
        "with a CSV of columns line,decision,text,reason.\n\n" + "\n\n".join(blocks) + "\n"
    )


def _draft_readme(draft: Draft, model_sha256: str) -> str:
    return (
        "insightome scribe draft: a DRAFT consultation note, not approved.\n\n"
        "An extractive draft: every line is made from the words of the transcript by the\n"
        "notes engine's concepts and rules, and cites the transcript spans it came from. It\n"
        "is not a note until a clinician has accepted, edited or rejected every line.\n\n"
        "draft.html            the draft for the clinician: per line its findings and the\n"
        "                      words they came from; accept / edit / reject, then 'Save\n"
        "                      decisions' and run the command it shows\n"
        "draft.json            the draft: sections, lines, evidence, findings, the transcript,\n"
        "                      the method (lexicon, rules, template, version)\n"
        "draft.txt             the draft as text, each line with its ID\n"
        "approval.json         where the approval stands (status, counts, clinicians, time)\n"
        "prediction_log.jsonl  the audit log: each drafted line, then each decision with the\n"
        "                      clinician's ID (EU AI Act Art. 12 and 14)\n"
        "note_final.txt/.json  the approved note: written only when every line is decided\n\n"
        f"{len(draft.lines)} line(s) drafted from {len(draft.transcript.turns)} turn(s); "
        f"method sha256 {model_sha256[:12]}.\n"
        "This folder holds the consultation's words: keep it where the patient's record is "
        "kept.\n"
    )


def draft_to_folder(
    transcript_path: str | Path,
    out_dir: str | Path,
    *,
    template: str | Path | None = None,
    lexicon: str | Path | None = None,
    roles: Mapping[str, str] | None = None,
    user: str | None = None,
) -> tuple[Path, Draft]:
    """Draft the note of the transcript in ``transcript_path`` into ``out_dir``."""
    path, out = Path(transcript_path), Path(out_dir)
    _check_output(out, [path, template, lexicon], DRAFT_NAME, "draft")
    transcript = read_transcript(path)
    if roles:
        transcript = transcript.with_roles(roles)
    draft = draft_note(transcript, template=template, lexicon=lexicon)
    if not draft.lines:
        raise UserError(errors.SCRIBE_DRAFT_EMPTY, path=path, turns=len(transcript.turns))
    raw = _json(draft.to_json()).encode("utf-8")
    folder = DraftFolder(out, draft, hashlib.sha256(raw).hexdigest(), method_sha256(draft.method))
    _make_parent(out)
    with replacing_directory(out) as tmp:
        (tmp / DRAFT_NAME).write_bytes(raw)
        (tmp / "draft.txt").write_text(_draft_text(draft, out), encoding="utf-8")
        readme = _draft_readme(draft, folder.model_sha256)
        (tmp / "README.txt").write_text(readme, encoding="utf-8")
        log_predictions(
            tmp,
            _predictions(draft),
            input_path=str(path),
            input_sha256=_sha256_file(path),
            model_sha256=folder.model_sha256,
            user=user,
        )
        write_review_files(tmp, folder, {}, page_folder=out)
    return out, draft


def read_decisions(path: str | Path) -> list[Decision]:
    """The decisions in ``path``: the JSON that ``draft.html`` saves (``{"format", "clinician",
    "draft_sha256", "decisions": [{"line", "decision", "text", "reason"}]}``) or a CSV with
    columns ``line,decision`` and optionally ``text,reason`` (a row with an empty decision
    is a line left pending). A :class:`UserError` names the file and the problem."""
    path = Path(path)

    def refuse(problem: str) -> UserError:
        return UserError(errors.SCRIBE_DECISIONS_FILE, path=path, problem=problem)

    if not path.is_file():
        raise refuse("no such file")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise refuse(f"not UTF-8 text (byte {exc.start})") from None
    suffix = path.suffix.lower()
    if suffix == ".json":
        return _json_decisions(text, refuse)
    if suffix == ".csv":
        return _csv_decisions(text, refuse)
    raise refuse(f"unknown kind of file '{suffix or path.name}' (give .json or .csv)")


def _json_decisions(text: str, refuse: Refuse) -> list[Decision]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise refuse(f"not JSON (line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(data, dict) or not isinstance(data.get("decisions"), list):
        raise refuse("no list of 'decisions'")
    if data.get("format", DECISIONS_FORMAT) != DECISIONS_FORMAT:
        raise refuse(f"format is not {DECISIONS_FORMAT}")
    top = {}
    for key in ("clinician", "draft_sha256"):
        if not isinstance(data.get(key, ""), str):
            raise refuse(f"'{key}' is not text")
        top[key] = data.get(key, "").strip()
    decisions = []
    for number, entry in enumerate(data["decisions"], start=1):
        if not isinstance(entry, dict):
            raise refuse(f"decision {number} is not an object")
        fields = {}
        for key in ("line", "decision", "text", "reason"):
            value = entry.get(key, "")
            if not isinstance(value, str):
                raise refuse(f"decision {number}: '{key}' is not text")
            fields[key] = value
        if not fields["line"].strip() or not fields["decision"].strip():
            raise refuse(f"decision {number} has no 'line' or no 'decision'")
        decisions.append(Decision(**fields, **top))
    return decisions


def _csv_decisions(text: str, refuse: Refuse) -> list[Decision]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise refuse(f"not a readable CSV (line {reader.line_num}: {exc})") from None
    header = [h.strip().lower() for h in (rows[0] if rows else [])]
    unknown = [h for h in header if h not in _CSV_COLUMNS]
    if unknown:
        raise refuse(f"unknown column '{unknown[0][:40]}'")
    if "line" not in header or "decision" not in header:
        raise refuse("no 'line' or no 'decision' column")
    if len(set(header)) != len(header):
        raise refuse("a column is named twice")
    decisions = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header):
            raise refuse(f"row {number} has more cells than the header")
        fields = dict(zip(header, [*row, *[""] * (len(header) - len(row))], strict=True))
        if not fields["decision"].strip():
            continue  # a line left pending
        if not fields["line"].strip():
            raise refuse(f"row {number} has a decision but no line ID")
        decisions.append(Decision(**fields))
    return decisions
