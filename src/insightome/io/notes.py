"""Reading a table of clinical notes, and writing the mentions found in them.

:func:`read_notes` reads CSV, TSV (``.tsv``/``.txt``: tab-separated) or JSON Lines
(``.jsonl``) as text, UTF-8 only: a file that is not valid UTF-8 is refused with the line
and byte, never decoded by guessing. It returns the notes as columns ``note_id`` and
``text`` (plus any kept columns, under their own names), the file's sha256, and notes on
the choices made (which column holds the text, where the IDs came from). Notes with an
empty text are dropped and counted (``n_empty``), so the caller can say how many.

Note text never appears in an error message: errors name the file, row and column.
Rows are numbered as in a spreadsheet (the header is row 1; JSON Lines: line numbers).
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from insightome import errors
from insightome.errors import UserError
from insightome.io.atomic import write_table_file

__all__ = ["ID_NAMES", "TEXT_NAMES", "NotesTable", "read_notes", "write_mentions"]

#: Column names taken as the note text, in order of preference (case-insensitive).
TEXT_NAMES = ("text", "note", "notes", "note_text", "transcription", "report", "report_text")
#: Column names taken as the note ID when --id-column is not given.
ID_NAMES = ("note_id", "id", "noteid", "note id", "document_id", "doc_id")
_SUFFIXES = {".csv": ",", ".tsv": "\t", ".txt": "\t", ".jsonl": "jsonl"}


@dataclass
class NotesTable:
    """The notes of a file: ``frame`` has ``note_id``, ``text`` and the kept columns."""

    frame: pd.DataFrame
    path: Path
    sha256: str
    id_column: str  # "" when the IDs are row numbers
    text_column: str
    n_rows: int
    n_empty: int
    notes: list[str] = field(default_factory=list)


def read_notes(
    path: str | os.PathLike[str],
    *,
    id_column: str | None = None,
    text_column: str | None = None,
    keep: Sequence[str] = (),
) -> NotesTable:
    """Read a notes file; :class:`UserError` (one line naming the file) on bad input."""
    path = Path(path)
    kind = _SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise UserError(errors.NOTES_FORMAT_UNKNOWN, path=path, suffix=path.suffix)
    raw = _read_bytes(path)
    text = _decode(path, raw)
    table = _parse(path, text, kind)
    columns = [str(c) for c in table.columns]
    table.columns = columns
    listed = errors.examples(columns, k=12)
    notes: list[str] = []

    text_column = _text_column(path, table, text_column, listed, notes)
    id_column = _id_column(path, table, id_column, text_column, listed, notes)
    for column in keep:
        if column not in columns:
            raise UserError(
                errors.NOTES_KEEP_MISSING,
                path=path,
                column=column,
                columns=listed,
                hint=errors.closest_names_hint(column, columns),
            )
    first_row = 1 if kind == "jsonl" else 2
    texts = table[text_column].map(lambda v: v if isinstance(v, str) else "")
    if id_column:
        ids = table[id_column].map(lambda v: v.strip() if isinstance(v, str) else "")
        missing = ids == ""
        if missing.any():
            row = int(missing.to_numpy().argmax()) + first_row
            raise UserError(errors.NOTES_MISSING_ID, path=path, row=row, column=id_column)
    else:
        ids = pd.Series([str(i + first_row) for i in range(len(table))], index=table.index)
    empty = texts.str.strip() == ""
    n_empty = int(empty.sum())
    if n_empty == len(table):
        raise UserError(
            errors.NOTES_NONE,
            path=path,
            n_rows=len(table),
            n_empty=n_empty,
            column=text_column,
        )
    frame = pd.DataFrame({"note_id": ids, "text": texts})
    for column in keep:
        if column not in ("note_id", "text"):
            frame[column] = table[column]
    frame = frame[~empty].reset_index(drop=True)
    if n_empty:
        notes.append(f"{n_empty} of {len(table)} notes have no text and were skipped")
    return NotesTable(
        frame,
        path,
        hashlib.sha256(raw).hexdigest(),
        id_column or "",
        text_column,
        len(table),
        n_empty,
        notes,
    )


def _read_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UserError(errors.FILE_MISSING, path=path) from None
    except IsADirectoryError:
        raise UserError(errors.FILE_IS_DIRECTORY, path=path) from None
    except OSError as exc:
        raise UserError(errors.FILE_UNREADABLE, path=path, reason=exc.strerror) from None
    if not raw.strip():
        raise UserError(errors.FILE_EMPTY, path=path)
    return raw


def _decode(path: Path, raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise UserError(
            errors.NOTES_NOT_UTF8,
            path=path,
            line=line,
            byte=f"0x{raw[exc.start]:02x}",
            offset=exc.start,
        ) from None


def _parse(path: Path, text: str, kind: str) -> pd.DataFrame:
    try:
        if kind == "jsonl":
            table = pd.read_json(io.StringIO(text), lines=True, dtype=False)
            return table.map(lambda v: v if pd.isna(v) or isinstance(v, str) else str(v))
        return pd.read_csv(
            io.StringIO(text), sep=kind, dtype=str, keep_default_na=False, na_values=[]
        )
    except pd.errors.EmptyDataError:
        raise UserError(errors.FILE_EMPTY, path=path) from None
    except (pd.errors.ParserError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        what = "JSON Lines" if kind == "jsonl" else "a delimited text table"
        raise UserError(errors.FILE_CORRUPT, path=path, kind=what, reason=reason) from None


def _text_column(
    path: Path, table: pd.DataFrame, given: str | None, listed: str, notes: list[str]
) -> str:
    columns = list(table.columns)
    if given is not None:
        if given not in columns:
            raise UserError(
                errors.NOTES_TEXT_COLUMN_MISSING,
                path=path,
                column=given,
                columns=listed,
                hint=errors.closest_names_hint(given, columns),
            )
        return given
    lowered = {c.lower(): c for c in columns}
    for name in TEXT_NAMES:
        if name in lowered:
            return lowered[name]
    lengths = {
        c: table[c].map(lambda v: len(v) if isinstance(v, str) else 0).mean() for c in columns
    }
    lengths = {c: n for c, n in lengths.items() if n > 0}
    if not lengths:
        raise UserError(errors.NOTES_NO_TEXT_COLUMN, path=path, columns=listed)
    chosen = max(lengths, key=lambda c: lengths[c])
    notes.append(f"text column: '{chosen}' (the longest mean length; name it with --text-column)")
    return chosen


def _id_column(
    path: Path,
    table: pd.DataFrame,
    given: str | None,
    text_column: str,
    listed: str,
    notes: list[str],
) -> str:
    columns = list(table.columns)
    if given is not None:
        if given not in columns:
            raise UserError(
                errors.NOTES_ID_COLUMN_MISSING,
                path=path,
                column=given,
                columns=listed,
                hint=errors.closest_names_hint(given, columns),
            )
        return given
    lowered = {c.lower(): c for c in columns if c != text_column}
    for name in ID_NAMES:
        if name in lowered:
            return lowered[name]
    notes.append("note IDs: the row numbers (no note_id/id column; name one with --id-column)")
    return ""


def write_mentions(frame: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a mentions table as CSV or TSV (by suffix), atomically: a temporary file
    beside ``path`` renamed into place, so a crash never leaves half a file."""
    return write_table_file(frame, path, errors.NOTES_OUTPUT_FORMAT)
