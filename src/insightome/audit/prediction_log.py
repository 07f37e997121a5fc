"""The event log of a deployed model: every prediction and every human override.

The EU AI Act (Regulation (EU) 2024/1689) asks high-risk AI systems to record events
automatically over their lifetime (Art. 12, "record-keeping"), so that a prediction can
be traced to the model and the input that produced it, and providers and deployers must
keep these logs for at least six months (Art. 19 and 26(6)). Human oversight (Art. 14)
requires that a person can decide not to use, override or reverse an output
(Art. 14(4)(d)); :func:`log_override` records such decisions with who made them and why.

``<run>/prediction_log.jsonl`` holds one JSON object per line:

* ``{"timestamp", "event": "prediction", "model_sha256", "input_sha256", "input_file",
  "sample_id", "output": {...}, "user"}`` — one line per predicted sample (with the
  samples' clinical notes, for a run made with ``--notes``, also ``"notes_sha256"``);
* ``{"timestamp", "event": "override", "model_sha256", "sample_id", "reviewer",
  "override", "reason"}`` — one line per human override; an override that carries more
  than its decision (the ambient scribe's edited line: ``{"text": ...}``) adds
  ``"details": {...}`` (kept in the file; :func:`read_log`'s table leaves it out).

**The log is row-level by design.** It is the audit trail the Act asks for, so each line
names a sample by the identifier the user supplied (``sample_id``; pseudonymize the IDs
before prediction if they are direct identifiers) and holds that sample's output. It
lives only in the run directory, is never copied into reports (monitoring reports hold
aggregates only) and should be protected like the input data.

Appends are crash- and concurrency-safe: the file is opened in append mode, an exclusive
``fcntl.flock`` is held while complete lines are written, and the data are flushed and
``fsync``-ed before the lock is released, so two processes never interleave partial lines.
A line cut short by a crash is kept (it is evidence) but closed with a newline before the
next append, and :func:`read_log` reports it with its line number instead of skipping it.
Rewriting the run directory (``audit``, ``discover``) holds the same lock while it copies
the log and swaps the directories (:func:`locked_log`), and a writer that waited re-opens
the log in the new directory, so no line is lost. An override is refused for a sample
with no logged prediction.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import pandas as pd

from insightome import errors
from insightome.errors import UserError
from insightome.io.json_values import json_ready

try:  # POSIX; elsewhere appends rely on single buffered writes in append mode
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOG_NAME = "prediction_log.jsonl"
REOPEN_SECONDS = 2.0  # how long a writer waits for a run directory being replaced
EVENTS = ("prediction", "override")
COLUMNS = (
    "timestamp",
    "event",
    "model_sha256",
    "input_sha256",
    "input_file",
    "notes_sha256",
    "sample_id",
    "user",
    "reviewer",
    "override",
    "reason",
)

LOG_LINE_CORRUPT = (
    "{path}, line {line}: not a complete log entry ({reason}). The line was probably cut "
    "short by a crash or edited by hand. Keep a copy of the file for the audit trail, then "
    "remove or repair that line."
)
OVERRIDE_FIELD_EMPTY = (
    "override of sample '{sample_id}': {field} is empty. Give the {what}; the audit trail "
    "(EU AI Act Art. 14) records who overrode which prediction, with what, and why."
)
OVERRIDE_NOT_PREDICTED = (
    "override of sample '{sample_id}': {path} holds no prediction of this sample. An "
    "override replaces a logged prediction: predict the sample first with 'insightome "
    "predict', or check the sample ID."
)
PREDICTIONS_NO_IDS = (
    "predictions to log have {n} empty or duplicate sample ID(s). Each logged prediction "
    "needs its own sample ID; give the ID column with --id-column."
)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


@contextmanager
def _locked_append(path: Path) -> Iterator[IO[bytes]]:
    """The log opened for appending under an exclusive lock; fsync-ed before unlocking."""
    created = not path.exists()
    with _open_locked(path, "ab") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size:  # a crash may have left a partial last line: close it first
            with open(path, "rb") as check:
                check.seek(size - 1)
                if check.read(1) != b"\n":
                    fh.write(b"\n")
        yield fh
        fh.flush()
        os.fsync(fh.fileno())
    if created and hasattr(os, "O_DIRECTORY"):  # make the new file's name durable too
        dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


@contextmanager
def _open_locked(path: Path, mode: str) -> Iterator[IO[bytes]]:
    """``path`` opened with ``mode`` under an exclusive lock, and still the file at ``path``.

    :func:`insightome.run_directory.rewrite_run` replaces the whole run directory while it holds
    this lock; a writer that was waiting for the lock then holds the old, replaced file,
    so it lets go and opens the new one (and waits out the instant between the two
    renames, when the directory is briefly absent).
    """
    deadline = time.monotonic() + REOPEN_SECONDS
    while True:
        try:
            fh = open(path, mode)  # closed below
        except FileNotFoundError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)
            continue
        if fcntl is not None:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            current = os.path.samestat(os.fstat(fh.fileno()), os.stat(path))
        except FileNotFoundError:
            current = False
        if current or fcntl is None:
            break
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        fh.close()
    try:
        yield fh
    finally:
        if fcntl is not None:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        fh.close()


@contextmanager
def locked_log(run_dir: str | Path) -> Iterator[Path]:
    """Hold the log of ``run_dir`` locked against appends while the block runs.

    For :func:`insightome.run_directory.rewrite_run`: the log is copied and the directory swapped
    while no prediction or override can be appended, so none is lost. Yields the log's
    path; where the run had no log, an empty one is made to hold the lock on.
    """
    path = Path(run_dir) / LOG_NAME
    with _open_locked(path, "ab"):
        yield path


def _append(run_dir: Path, entries: list[dict[str, Any]]) -> Path:
    run_dir = Path(run_dir)
    if not run_dir.is_dir() and not _reappears(run_dir):
        raise UserError(errors.FILE_MISSING, path=str(run_dir))
    path = run_dir / LOG_NAME
    data = b"".join(
        (json.dumps(json_ready(e), ensure_ascii=True, allow_nan=False) + "\n").encode("ascii")
        for e in entries
    )
    with _locked_append(path) as fh:
        fh.write(data)
    return path


def _reappears(run_dir: Path) -> bool:
    """Whether ``run_dir`` is back within a moment (it is absent while being replaced)."""
    deadline = time.monotonic() + REOPEN_SECONDS
    while time.monotonic() < deadline:
        time.sleep(0.01)
        if run_dir.is_dir():
            return True
    return False


def log_predictions(
    run_dir: str | Path,
    predictions: pd.DataFrame,
    *,
    input_path: str | None,
    input_sha256: str,
    model_sha256: str,
    user: str | None = None,
    notes_sha256: str | None = None,
) -> Path:
    """Append one ``prediction`` line per row of ``predictions``; return the log's path.

    ``predictions`` is indexed by sample ID (as :func:`insightome.prediction.predict`
    returns it); its columns become the line's ``output``. ``input_file`` keeps only the
    file's name (``input_sha256`` identifies its content); ``None`` for in-memory data.
    All lines of one call share one timestamp and are written under one lock.
    """
    ids = [str(i) for i in predictions.index]
    bad = sum(not i.strip() for i in ids) + (len(ids) - len(set(ids)))
    if bad:
        raise UserError(PREDICTIONS_NO_IDS, n=bad)
    stamp = _now()
    input_file = None if input_path is None else Path(input_path).name
    rows = predictions.to_dict(orient="records")
    entries = [
        {
            "timestamp": stamp,
            "event": "prediction",
            "model_sha256": model_sha256,
            "input_sha256": input_sha256,
            "input_file": input_file,
            **({"notes_sha256": notes_sha256} if notes_sha256 else {}),
            "sample_id": sample_id,
            "output": {str(k): v for k, v in row.items()},
            "user": user,
        }
        for sample_id, row in zip(ids, rows, strict=True)
    ]
    return _append(Path(run_dir), entries)


def log_override(
    run_dir: str | Path,
    sample_id: str,
    *,
    reviewer: str,
    override: str,
    reason: str,
    model_sha256: str,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Record that ``reviewer`` replaced the model's output for ``sample_id`` by ``override``.

    ``reason`` is required: an override without a reason cannot be reviewed later, and
    the sample must have a logged prediction: an override replaces one. ``details`` (e.g.
    the text a reviewer wrote in place of the output) is stored as the entry's
    ``"details"``.
    """
    for field, value, what in (
        ("the reviewer", reviewer, "name or ID of the person overriding"),
        ("the override", override, "decision that replaces the model's output"),
        ("the reason", reason, "reason for the override"),
    ):
        if not str(value or "").strip():
            raise UserError(OVERRIDE_FIELD_EMPTY, sample_id=sample_id, field=field, what=what)
    if not was_predicted(run_dir, sample_id):
        path = Path(run_dir) / LOG_NAME
        raise UserError(OVERRIDE_NOT_PREDICTED, sample_id=sample_id, path=str(path))
    entry: dict[str, Any] = {
        "timestamp": _now(),
        "event": "override",
        "model_sha256": model_sha256,
        "sample_id": str(sample_id),
        "reviewer": reviewer,
        "override": override,
        "reason": reason,
    }
    if details is not None:
        entry["details"] = dict(details)
    _append(Path(run_dir), [entry])


def was_predicted(run_dir: str | Path, sample_id: str) -> bool:
    """Whether the log of ``run_dir`` holds a prediction of ``sample_id``."""
    path = Path(run_dir) / LOG_NAME
    if not path.is_file():
        return False
    sample_id = str(sample_id)
    needle = json.dumps(sample_id, ensure_ascii=True).encode("ascii")  # as _append wrote it
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if needle in raw:  # parse only the lines that can match
                entry = _parse(path, number, raw.rstrip(b"\n"))
                if entry["event"] == "prediction" and str(entry["sample_id"]) == sample_id:
                    return True
    return False


def _parse(path: Path, number: int, raw: bytes) -> dict[str, Any]:
    def corrupt(reason: str) -> UserError:
        return UserError(LOG_LINE_CORRUPT, path=str(path), line=number, reason=reason)

    try:
        entry = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise corrupt(f"invalid JSON: {exc}") from None
    if not isinstance(entry, dict):
        raise corrupt("not a JSON object")
    if entry.get("event") not in EVENTS:
        raise corrupt(f"unknown event {entry.get('event')!r}")
    missing = [k for k in ("timestamp", "model_sha256", "sample_id") if k not in entry]
    if entry["event"] == "prediction" and not isinstance(entry.get("output"), dict):
        missing.append("output")
    if missing:
        raise corrupt("no " + ", ".join(missing))
    return entry


def read_log(run_dir: str | Path) -> pd.DataFrame:
    """The run's event log, one row per event, oldest first.

    Columns: ``timestamp`` (UTC), ``event``, ``model_sha256``, ``input_sha256``,
    ``input_file``, ``sample_id``, ``user``, ``reviewer``, ``override``, ``reason`` and one
    ``output.<name>`` column per prediction output. A line that is not a complete entry
    raises a :class:`UserError` naming its line number. No log yet: an empty table.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserError(errors.FILE_MISSING, path=str(run_dir))
    path = run_dir / LOG_NAME
    raw = path.read_bytes() if path.is_file() else b""
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # the newline that ends the last complete line
    entries = [_parse(path, number, line) for number, line in enumerate(lines, start=1)]
    table = pd.json_normalize(entries, max_level=1) if entries else pd.DataFrame()
    for column in COLUMNS:
        if column not in table.columns:
            table[column] = pd.Series(dtype=object)
    outputs = [c for c in table.columns if c.startswith("output.")]
    table = table[[*COLUMNS, *outputs]]
    table["timestamp"] = pd.to_datetime(table["timestamp"], utc=True, format="ISO8601")
    table["sample_id"] = table["sample_id"].astype(str) if len(table) else table["sample_id"]
    return table.reset_index(drop=True)
