"""Directories (and table files) that appear whole or not at all.

Every output folder insightome writes (run directories, reports, prediction folders) is
built in a temporary directory beside its destination and renamed into place, so a crash
or Ctrl-C leaves either the previous content or the new one, never a mix.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from insightome.errors import UserError


@contextmanager
def replacing_directory(final: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield an empty temporary directory beside ``final``; fill it in the ``with`` block.

    When the block ends normally the temporary directory takes ``final``'s place by
    renames (an existing ``final`` is moved aside first and deleted only after the swap).
    When it raises, the temporary directory is removed and ``final`` is left as it was.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    old = final.parent / f".{final.name}.replaced"
    try:
        yield tmp
        if final.exists():
            shutil.rmtree(old, ignore_errors=True)
            os.replace(final, old)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not final.exists():
            os.replace(old, final)
        raise
    shutil.rmtree(old, ignore_errors=True)


def run_directory_name(name: str, when: datetime | None = None) -> str:
    """``<UTC timestamp>-<name>``, the name made safe for a path (runs, validations, monitoring)."""
    when = when or datetime.now(UTC)
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in name).strip("-") or "run"
    return f"{when.strftime('%Y%m%d-%H%M%S')}-{safe}"


def write_table_file(frame: Any, path: str | os.PathLike[str], unknown_suffix: str) -> Path:
    """Write a pandas table as CSV or TSV (by suffix), atomically: a temporary file beside
    ``path`` renamed into place, so a crash never leaves half a file. Another suffix raises
    ``UserError(unknown_suffix, path=, suffix=)``."""
    path = Path(path)
    separator = {".csv": ",", ".tsv": "\t"}.get(path.suffix.lower())
    if separator is None:
        raise UserError(unknown_suffix, path=path, suffix=path.suffix)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            frame.to_csv(stream, sep=separator, index=False)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp's file is private; give the usual mode
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
