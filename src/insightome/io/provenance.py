"""Provenance of the input files: checksums and what was read, how."""

from __future__ import annotations

import hashlib
import os
from typing import Any

_CHUNK = 1 << 20


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of a file's bytes, as lowercase hex (read in 1 MiB chunks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def clean_options(options: dict[str, Any]) -> dict[str, Any]:
    """Drop unset (None) options so that the record can be stored anywhere (h5ad, JSON)."""
    return {k: v for k, v in options.items() if v is not None}


def file_record(
    path: str | os.PathLike[str],
    *,
    role: str,
    fmt: str,
    n_rows: int,
    n_cols: int,
    read_options: dict[str, Any],
) -> dict[str, Any]:
    """One entry of ``uns['provenance']['files']``.

    ``n_rows`` / ``n_cols`` are the shape of the table as stored in the file (before any
    transposition or column moves); ``path`` is absolute, ``display_path`` is the path as
    the user gave it (what error messages name).
    """
    return {
        "role": role,
        "path": os.path.abspath(os.fspath(path)),
        "display_path": os.fspath(path),
        "sha256": file_sha256(path),
        "format": fmt,
        "n_rows": int(n_rows),
        "n_cols": int(n_cols),
        "read_options": clean_options(read_options),
    }
