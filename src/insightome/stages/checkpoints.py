"""Stage outputs in a run's ``.partial`` directory, for ``resume(..., from_stage=...)``.

After each saved stage, ``<run>.partial/stages/<stage>.pickle`` holds the state fields the
stage made (``Stage.makes``, and ``state.extras[stage]`` for a plugged-in stage), with the
study's notes and warnings, the run log, the stage timings and the energy ledger's totals as
they were at its end, and the insightome version that wrote it (another version refuses
to restore it: the objects are this version's).
Restoring the stages before ``from_stage`` in order gives the state an uninterrupted run
had there. The study stage is not saved (it is redone from the re-read data on resume),
so no stage file holds the modelling table or the sensitive attributes.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import time
from pathlib import Path
from typing import Any

from insightome import __version__, errors
from insightome.compute.checkpoint import Checkpoint
from insightome.errors import UserError
from insightome.models import image_cnn, note_terms
from insightome.stages.registry import Stage
from insightome.stages.state import RunState

STAGES_DIR = "stages"


def _path(checkpoint: Checkpoint, name: str) -> Path:
    return checkpoint.directory / STAGES_DIR / f"{name}.pickle"


class _ByReference(pickle.Pickler):
    """Writes every NoteTexts and ImageBank by its digest (the read and study stages,
    redone on resume, register them again)."""

    def reducer_override(self, obj: Any) -> Any:
        made = note_terms.reduce_by_reference(obj)
        return image_cnn.reduce_by_reference(obj) if made is NotImplemented else made


def save(state: RunState, stage: Stage) -> None:
    """The stage's output, written atomically (a kill leaves the old file or none)."""
    assert state.checkpoint is not None
    study = state.study
    record: dict[str, Any] = {
        "fields": {name: getattr(state, name) for name in stage.makes},
        "extras": state.extras.get(stage.name),
        "notes": None if study is None else list(study.notes),
        "warnings": None if study is None else list(study.warnings),
        "log": list(state.log.lines),
        "timings": dict(state.timings),
        "ledger": None if state.ledger is None else state.ledger.snapshot(),
        "insightome_version": __version__,
    }
    path = _path(state.checkpoint, stage.name)
    path.parent.mkdir(exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{stage.name}.", suffix=".tmp")
    os.close(fd)
    try:
        # --notes-tfidf, --image-features cnn: the notes and the CNN's images are written by
        # reference (their digest), never as text or pixels
        with open(tmp, "wb") as fh:
            _ByReference(fh, protocol=pickle.HIGHEST_PROTOCOL).dump(record)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def has_saved(checkpoint: Checkpoint, stage: Stage) -> bool:
    return _path(checkpoint, stage.name).is_file()


def restore(state: RunState, stage: Stage) -> None:
    """Put the stage's saved output back into the state, as if it had just run."""
    assert state.checkpoint is not None
    path = _path(state.checkpoint, stage.name)
    with open(path, "rb") as fh:
        record = pickle.load(fh)  # written by this run's own save()
    saved_by = record.get("insightome_version")
    if saved_by != __version__:
        raise UserError(
            errors.OPTION_INVALID,
            option="--resume",
            reason=f"{path} was saved by insightome {saved_by}, this is {__version__}: "
            "resume with the version that made it, or start a new run",
        )
    for name, value in record["fields"].items():
        setattr(state, name, value)
    if record["extras"] is not None:
        state.extras[stage.name] = record["extras"]
    if state.study is not None and record["notes"] is not None:
        state.study.notes[:] = record["notes"]
        state.study.warnings[:] = record["warnings"]
    state.log.lines[:] = record["log"]
    state.timings.clear()
    state.timings.update(record["timings"])
    if record["ledger"] is not None and state.ledger is not None:
        state.ledger.restore(record["ledger"])
    # the run's total time counts the restored stages, as an uninterrupted run's would
    state.started = time.perf_counter() - sum(
        seconds for name, seconds in state.timings.items() if name != "total"
    )


def forget(checkpoint: Checkpoint, stages: list[Stage]) -> None:
    """Remove saved outputs that a stage being redone makes stale."""
    for stage in stages:
        _path(checkpoint, stage.name).unlink(missing_ok=True)
