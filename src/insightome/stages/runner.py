"""Running the stages of a run: each timed by the energy ledger under its name, each
saved to the checkpoint when done, and a resumed run restored up to a named stage.

A :class:`UserError` raised after the run's checkpoint was made removes it again (and the
runs folder it created), so a refused run leaves nothing behind. An interruption or a
crash keeps it, to be finished with ``--resume``: lost workers
(:class:`~insightome.errors.WorkersLost`) and Ctrl-C are given the checkpoint's directory,
so the message names the exact ``--resume`` command. Resuming a run whose directory was
written whole, when only the removal of its ``.partial`` was interrupted, returns that run.

Once the run has its ``.partial`` directory, every stage's start and end is written to its
``progress.json`` (:class:`~insightome.stages.progress.RunProgress`), and a run that ends
by an exception says there that it stopped.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from insightome import errors
from insightome.compute.ledger import EnergyLedger
from insightome.errors import UserError
from insightome.run_directory import Run
from insightome.stages import checkpoints
from insightome.stages.progress import RunProgress
from insightome.stages.registry import Stage
from insightome.stages.state import RunState


def run_stages(state: RunState, stages: Sequence[Stage], *, from_stage: str | None = None) -> Run:
    """Run ``stages`` in order on ``state`` and return the run object.

    A resumed run (``state.checkpoint`` given) first restores the saved outputs of the
    stages before ``from_stage`` (by default: of every stage that finished); the rest run
    again, reusing the checkpoint's cached fits."""
    o = state.options
    finished = None if state.checkpoint is None else state.checkpoint.finished()
    if finished is not None:  # killed after the run directory's rename: nothing to resume
        state.checkpoint.discard()  # type: ignore[union-attr]
        return Run.load(finished)
    if state.ledger is None:
        state.ledger = EnergyLedger(carbon_intensity=o.carbon_intensity, pue=o.pue)
    restored = _restorable(state, stages, from_stage)
    state.progress.stages = [stage.name for stage in stages]
    stopped = True
    try:
        for stage in stages:
            if stage.name in restored:
                checkpoints.restore(state, stage)
                _progress(state).stage_finished(stage.name, write=False)
                continue
            if state.checkpoint is not None and restored and stage.saved:
                later = list(stages[stages.index(stage) :])
                checkpoints.forget(state.checkpoint, later)
                restored = set()
            _timed(state, stage)
            if state.checkpoint is not None and stage.saved:
                checkpoints.save(state, stage)
        stopped = False
    except UserError:
        if state.new_partial is not None:
            checkpoint, new_out_dir = state.new_partial
            checkpoint.discard()
            if new_out_dir is not None and not any(new_out_dir.iterdir()):
                new_out_dir.rmdir()
        raise
    except (errors.WorkersLost, errors.Interrupted, KeyboardInterrupt) as exc:
        if state.checkpoint is not None:  # what was kept, and where: the message says so
            cache = state.checkpoint.directory / "cache"
            kept = sum(1 for p in cache.glob("*.npz") if not p.name.startswith("."))
            exc.partial, exc.n_kept = state.checkpoint.directory.resolve(), kept  # type: ignore[union-attr]
        raise
    finally:
        try:
            if stopped:  # said before another process may resume it (a refused run's is gone)
                _progress(state).stopped()
        finally:
            _release(state)
    return state.require("result")


def _release(state: RunState) -> None:
    """Hand back what a run holds, however it ended."""
    try:
        state.release_workers()  # a cluster's worker jobs are given back on every way out
    finally:
        if state.checkpoint is not None:  # a stopped run may be resumed by another process
            state.checkpoint.release()


def _timed(state: RunState, stage: Stage) -> None:
    ledger = state.require("ledger")
    _progress(state).stage_started(stage.name)
    start = time.perf_counter()
    try:
        with ledger.stage(stage.name):
            stage.fn(state)
    finally:
        elapsed = time.perf_counter() - start
        state.timings[stage.name] = state.timings.get(stage.name, 0.0) + elapsed
    _progress(state).stage_finished(stage.name)  # not after write: the .partial is gone


def _progress(state: RunState) -> RunProgress:
    """The run's progress, brought up to date: its ``.partial`` directory (from the study
    stage on), its candidates, projected compute and the ledger's totals so far."""
    progress, ledger = state.progress, state.ledger
    progress.directory = None if state.checkpoint is None else state.checkpoint.directory
    projected = (state.budget_info or {}).get("projected_cpu_seconds")
    progress.facts.update(
        candidates=None if state.candidates is None else len(state.candidates),
        projected_cpu_seconds=None if projected is None else float(projected),
        energy_kwh=None if ledger is None else float(ledger.total_kwh),
        cpu_seconds=None if ledger is None else float(ledger.total_cpu_seconds),
    )
    return progress


def _restorable(state: RunState, stages: Sequence[Stage], from_stage: str | None) -> set[str]:
    """The names of the stages whose saved output a resumed run reuses."""
    checkpoint = state.checkpoint
    names = [s.name for s in stages]
    if from_stage is not None and from_stage not in names:
        raise UserError(
            errors.OPTION_INVALID,
            option="--from-stage",
            reason=f"the run has no stage {from_stage!r} (its stages: {', '.join(names)})",
        )
    if checkpoint is None:
        return set()
    before = stages[: names.index(from_stage)] if from_stage is not None else stages
    restorable: set[str] = set()
    for stage in before:
        if not stage.saved:
            continue
        if not checkpoints.has_saved(checkpoint, stage):
            if from_stage is None:
                break  # resume where the interrupted run stopped
            raise UserError(
                errors.OPTION_INVALID,
                option="--from-stage",
                reason=f"the interrupted run did not finish its {stage.name} stage; resume "
                f"from {stage.name} or an earlier stage",
            )
        restorable.add(stage.name)
    return restorable
