"""One reader per file format.

Each reader turns a user file into plain pandas / numpy objects and converts every
library failure into a one-line :class:`~insightome.errors.UserError`. Deciding what the
rows and columns *mean* (orientation, IDs, feature types) is the job of
:mod:`insightome.io.tables`. The table they return is :class:`~insightome.io.raw_table.RawTable`;
:func:`read_table` reads numbers written with a decimal comma as numbers
(:mod:`insightome.io.decimal_comma`).
"""

from __future__ import annotations

import csv
import gzip
import os
import warnings
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from insightome import errors
from insightome.errors import UserError
from insightome.io.decimal_comma import (
    DECIMALS,  # noqa: F401  (public here: the loader checks --decimal against formats.DECIMALS)
    decimal_comma,
)
from insightome.io.raw_table import RawTable

#: Extra tokens read as missing on top of pandas' defaults ('', NA, NaN, null, N/A, ...).
NA_TOKENS = ["?", "na"]

#: Files whose header line is longer than this (characters) are parsed in one piece.
LONG_LINE = 50_000

_SUFFIXES: dict[str, tuple[str, str | None]] = {
    ".csv": ("csv", None),
    ".csv.gz": ("csv", "gzip"),
    ".tsv": ("tsv", None),
    ".tsv.gz": ("tsv", "gzip"),
    ".txt": ("tsv", None),
    ".txt.gz": ("tsv", "gzip"),
    ".tab": ("tsv", None),
    ".tab.gz": ("tsv", "gzip"),
    ".parquet": ("parquet", None),
    ".pq": ("parquet", None),
    ".xlsx": ("xlsx", None),
    ".h5ad": ("h5ad", None),
    ".mat": ("mat", None),
}

KIND = {
    "csv": "CSV",
    "tsv": "tab-separated text",
    "parquet": "Parquet",
    "xlsx": "Excel (.xlsx)",
    "h5ad": "AnnData (.h5ad)",
    "mat": "MATLAB (.mat)",
}


def reason_of(exc: BaseException) -> str:
    """The first line of an exception message, trimmed for a one-line error."""
    text = str(exc).strip().splitlines()
    first = text[0].strip() if text else ""
    if not first:
        first = type(exc).__name__
    return first if len(first) <= 120 else first[:117] + "..."


def corrupt(path: str, fmt: str, exc: BaseException | str) -> UserError:
    """A FILE_CORRUPT error for ``path`` read as ``fmt``."""
    reason = exc if isinstance(exc, str) else reason_of(exc)
    return UserError(errors.FILE_CORRUPT, path=path, kind=KIND.get(fmt, fmt), reason=reason)


def detect_format(path: str | os.PathLike[str]) -> tuple[str, str | None]:
    """Return ``(format, compression)`` from the file name; unknown → FILE_FORMAT_UNKNOWN."""
    name = Path(path).name.lower()
    for suffix in sorted(_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return _SUFFIXES[suffix]
    suffixes = Path(name).suffixes
    shown = "".join(suffixes[-2:]) if suffixes else "(none)"
    raise UserError(errors.FILE_FORMAT_UNKNOWN, path=str(path), suffix=shown)


def check_file(path: str | os.PathLike[str]) -> None:
    """Fail early, with a clear message, on a missing, directory, unreadable or empty file."""
    p = Path(path)
    shown = str(path)
    if p.is_dir():
        raise UserError(errors.FILE_IS_DIRECTORY, path=shown)
    if not p.exists():
        raise UserError(errors.FILE_MISSING, path=shown)
    try:
        with open(p, "rb") as handle:
            first = handle.read(1)
    except OSError as exc:
        raise UserError(errors.FILE_UNREADABLE, path=shown, reason=reason_of(exc)) from exc
    if not first:
        raise UserError(errors.FILE_EMPTY, path=shown)


def name_of(value: object) -> str:
    """A header cell or index label as a clean string ('' for blank/missing)."""
    if value is None:
        return ""
    if isinstance(value, float):
        if np.isnan(value):
            return ""
        if value.is_integer():
            return str(int(value))
    text = str(value).strip()
    return "" if text.startswith("Unnamed: ") else text


# -- delimited text ---------------------------------------------------------------------


def _open_text(path: str, compression: str | None) -> IO[str]:
    if compression == "gzip":
        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def _head(path: str, fmt: str, compression: str | None, n: int = 2) -> tuple[list[str], int]:
    """The first ``n`` non-blank lines (at least one, else FILE_EMPTY) and the number of
    blank lines above the first one."""
    lines: list[str] = []
    leading = 0
    try:
        with _open_text(path, compression) as handle:
            for line in handle:
                if line.strip():
                    lines.append(line)
                    if len(lines) == n:
                        break
                elif not lines:
                    leading += 1
    except (UnicodeDecodeError, EOFError, gzip.BadGzipFile) as exc:
        raise corrupt(path, fmt, _decode_reason(exc)) from exc
    except OSError as exc:
        raise corrupt(path, fmt, exc) from exc
    if not lines:
        raise UserError(errors.FILE_EMPTY, path=path)
    return lines, leading


def _decode_reason(exc: BaseException) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text; save it as UTF-8"
    return reason_of(exc)


def _choose_sep(lines: list[str], fmt: str) -> tuple[str, str | None]:
    """The delimiter for this file, plus a note when it differs from the suffix's."""
    first_line = lines[0]
    expected = "," if fmt == "csv" else "\t"
    if expected in first_line:
        return expected, None
    for sep, label in (("\t", "tab"), (",", "comma"), (";", "semicolon")):
        if sep != expected and sep in first_line:
            return sep, f"the file is {label}-separated, not as its suffix suggests; read it so"
    n_fields = len(first_line.split())
    if n_fields > 1 and len(lines) > 1 and len(lines[1].split()) in (n_fields, n_fields + 1):
        return r"\s+", "the file is whitespace-separated, not as its suffix suggests; read it so"
    return expected, None


def read_delimited(
    path: str,
    fmt: str,
    compression: str | None,
    *,
    id_column: str | None = None,
    decimal: str = "auto",
) -> RawTable:
    """Read CSV / TSV (optionally gzip-compressed) with the pandas C parser.

    With ``decimal=","`` a separator other than the comma lets pandas parse "1,5" itself
    (and leave "1.234" as text, for :func:`decimal_comma`)."""
    lines, leading = _head(path, fmt, compression)
    line = lines[0]
    sep, note = _choose_sep(lines, fmt)
    if sep == r"\s+":
        raw_fields = line.split()
    else:
        raw_fields = next(csv.reader([line.rstrip("\r\n")], delimiter=sep))
    header = [name_of(f) for f in raw_fields]
    dtype: dict[str, type] | None = None
    if id_column is not None:
        matches = [f for f in raw_fields if f.strip() == id_column]
        if len(matches) == 1:
            dtype = {matches[0]: str}
    try:
        with warnings.catch_warnings():
            # Chunked parsing may type one column differently per chunk; the column is
            # then object-typed and classified value by value in tables.py.
            warnings.simplefilter("ignore", pd.errors.DtypeWarning)
            frame = pd.read_csv(
                path,
                sep=sep,
                header=0,
                skiprows=leading,
                skip_blank_lines=False,  # blank lines stay rows: row numbers match the file
                compression=compression,
                na_values=NA_TOKENS,
                encoding="utf-8-sig",
                engine="c",
                dtype=dtype,
                decimal="," if decimal == "," and sep != "," else ".",
                # pandas parses in 256 KiB chunks; with very long lines that means a
                # handful of rows per chunk and a slow merge, so parse wide files whole.
                low_memory=len(line) <= LONG_LINE,
            )
    except pd.errors.EmptyDataError as exc:
        raise UserError(errors.FILE_EMPTY, path=path) from exc
    except UnicodeDecodeError as exc:
        raise corrupt(path, fmt, _decode_reason(exc)) from exc
    except (pd.errors.ParserError, ValueError, EOFError, OSError) as exc:
        raise corrupt(path, fmt, exc) from exc
    first_is_index = False
    if not isinstance(frame.index, pd.RangeIndex):
        # The header has one cell fewer than the data rows (R's write.csv row names).
        frame = frame.reset_index()
        if frame.shape[1] == len(header) + 1:
            header = ["", *header]
        first_is_index = True
    if len(header) == frame.shape[1]:
        frame.columns = header
    else:  # quoted newlines in the header or similar: trust pandas' names
        frame.columns = [name_of(c) for c in frame.columns]
    options: dict[str, Any] = {"sep": sep}
    if compression:
        options["compression"] = compression
    table = RawTable(frame, fmt, options, first_is_index=first_is_index, row_offset=leading + 2)
    if note:
        table.notes.append(f"{path}: {note}")
    return table


# -- binary tables --------------------------------------------------------------------------


def read_parquet(path: str) -> RawTable:
    """Read a Parquet file; a stored non-range index becomes the first column."""
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises many types for a broken file
        raise corrupt(path, "parquet", exc) from exc
    first_is_index = not isinstance(frame.index, pd.RangeIndex)
    if first_is_index:
        names = [name_of(n) for n in frame.index.names]
        frame = frame.reset_index()
        frame.columns = [*names, *(name_of(c) for c in frame.columns[len(names) :])]
    else:
        frame.columns = [name_of(c) for c in frame.columns]
    return RawTable(frame, "parquet", {}, first_is_index=first_is_index, row_offset=1)


def _pick_sheet(path: str, sheets: list[str], sheet: str | int | None) -> str:
    """The sheet to read: by name, by 0-based position, or the first one."""
    chosen: str | int = 0 if sheet is None else sheet
    if isinstance(chosen, str) and chosen not in sheets:
        if not chosen.isdigit():
            hint = errors.closest_names_hint(chosen, sheets)
            raise UserError(
                errors.OPTION_INVALID,
                option="--sheet",
                reason=f"{path} has no sheet '{chosen}'{hint} Sheets: {errors.examples(sheets)}.",
            )
        chosen = int(chosen)
    if isinstance(chosen, int):
        if not 0 <= chosen < len(sheets):
            raise UserError(
                errors.OPTION_INVALID,
                option="--sheet",
                reason=f"{path} has {len(sheets)} sheet(s), numbered from 0; "
                f"{chosen} is out of range.",
            )
        return sheets[chosen]
    return chosen


def read_xlsx(path: str, sheet: str | int | None) -> RawTable:
    """Read one sheet of an .xlsx workbook (the first one by default)."""
    try:
        book = pd.ExcelFile(path, engine="openpyxl")
    except Exception as exc:  # zipfile.BadZipFile, KeyError, ...
        raise corrupt(path, "xlsx", exc) from exc
    with book:
        sheet_name = _pick_sheet(path, list(book.sheet_names), sheet)
        try:
            raw = book.parse(sheet_name=sheet_name, header=None, na_values=NA_TOKENS)
        except Exception as exc:
            raise corrupt(path, "xlsx", exc) from exc
    filled = np.flatnonzero(raw.notna().any(axis=1).to_numpy())
    if raw.shape[1] == 0 or filled.size == 0:
        raise UserError(errors.FILE_EMPTY, path=path)
    top = int(filled[0])  # skip blank lines above the header
    header = [name_of(v) for v in raw.iloc[top]]
    frame = raw.iloc[top + 1 :].reset_index(drop=True).infer_objects()
    frame.columns = header
    return RawTable(frame, "xlsx", {"sheet": sheet_name}, row_offset=top + 2)


def read_table(
    path: str,
    *,
    sheet: str | int | None = None,
    id_column: str | None = None,
    decimal: str = "auto",
) -> RawTable:
    """Read any tabular format (CSV/TSV/Parquet/XLSX) into a :class:`RawTable`.

    Rows with no value at all are dropped (with a note); a table with no data rows or no
    columns raises FILE_EMPTY. Numbers written with a decimal comma are read as numbers
    (see :func:`decimal_comma`).
    """
    check_file(path)
    fmt, compression = detect_format(path)
    if fmt in ("csv", "tsv"):
        table = read_delimited(path, fmt, compression, id_column=id_column, decimal=decimal)
    elif fmt == "parquet":
        table = read_parquet(path)
    elif fmt == "xlsx":
        table = read_xlsx(path, sheet)
    else:
        raise AssertionError(f"not a table format: {fmt}")
    frame = table.frame
    if frame.shape[1] == 0 or frame.shape[0] == 0:
        raise UserError(errors.FILE_EMPTY, path=path)
    empty_rows = frame.isna().all(axis=1)
    if empty_rows.any():
        flags = empty_rows.to_numpy()
        if flags.all():
            raise UserError(errors.FILE_EMPTY, path=path)
        inner = int(flags[: np.flatnonzero(~flags)[-1]].sum())  # trailing blanks are silent
        if inner:
            table.notes.append(
                f"{path}: {inner} row{'s' if inner > 1 else ''} with no data; ignored"
            )
        # Keep the original positions so that reported row numbers match the file.
        table.positions = np.flatnonzero(~empty_rows.to_numpy())
        frame = frame.iloc[table.positions].reset_index(drop=True)
    # A trailing delimiter makes a blank-header, all-empty last column: drop it quietly.
    blank_empty = [
        i
        for i, name in enumerate(frame.columns)
        if i > 0 and name == "" and frame.iloc[:, i].isna().all()
    ]
    if blank_empty:
        keep = [i for i in range(frame.shape[1]) if i not in set(blank_empty)]
        frame = frame.iloc[:, keep]
    table.frame = frame
    decimal_comma(table, path, decimal, id_column=id_column)
    return table
