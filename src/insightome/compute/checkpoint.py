"""Checkpoints: what an interrupted run leaves behind so ``--resume`` can finish it.

While a run works, ``runs/<timestamp>-<name>.partial/`` holds ``invocation.json`` (the
data file, its sha256 and every option) and ``cache/`` (one entry per finished fit, see
:mod:`insightome.compute.cache`). A finished run is written atomically to
``runs/<timestamp>-<name>/`` and its ``.partial`` directory is removed; after Ctrl-C or
kill -9 the ``.partial`` directory stays, and ``insightome run --resume`` on it reruns the
same invocation, reusing every cached fit. A ``.partial`` directory is never mistaken for a
run: it has no results.json.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from insightome import errors
from insightome.compute.cache import FitCache
from insightome.errors import UserError

PARTIAL_SUFFIX = ".partial"
INVOCATION = "invocation.json"


@dataclass(frozen=True)
class Checkpoint:
    directory: Path

    @property
    def final_name(self) -> str:
        return self.directory.name.removesuffix(PARTIAL_SUFFIX)

    @classmethod
    def create(cls, out_dir: str | Path, dirname: str, invocation: dict[str, Any]) -> Checkpoint:
        directory = Path(out_dir) / f"{dirname}{PARTIAL_SUFFIX}"
        (directory / "cache").mkdir(parents=True, exist_ok=True)
        tmp = directory / f".{INVOCATION}.tmp"
        tmp.write_text(json.dumps(invocation, indent=2, default=str))
        tmp.replace(directory / INVOCATION)
        return cls(directory)

    @classmethod
    def open(cls, path: str | Path) -> Checkpoint:
        directory = Path(path)
        if not (directory / INVOCATION).is_file():
            raise UserError(
                errors.RUN_DIR_INVALID,
                path=str(directory),
                missing=f"{INVOCATION}: only an interrupted run's .partial directory resumes",
            )
        return cls(directory)

    @property
    def invocation(self) -> dict[str, Any]:
        return json.loads((self.directory / INVOCATION).read_text())

    def cache(self, fingerprint: str) -> FitCache:
        return FitCache(self.directory / "cache", fingerprint)

    def discard(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
