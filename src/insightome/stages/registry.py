"""What a stage is, and how the stages of a run are put in order.

A :class:`Stage` is a name, a function of the :class:`~insightome.stages.state.RunState`
and what it makes (the state fields it sets, which its checkpoint saves). The run's own
stages are listed in :data:`insightome.workflow.STAGES`; a stage plugged in by a caller names
the stage it comes ``after`` (:func:`arrange`) and keeps its output in
``state.extras[name]`` (written to results.json under ``extras``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from insightome import errors
from insightome.errors import UserError
from insightome.stages.state import RunState

#: A plugged-in stage comes after "study" at the earliest (the checkpoint exists from
#: there on) and after "audit" at the latest (document builds results.json from the state).
EARLY = ("read",)
LATE = ("document", "write")


@dataclass(frozen=True)
class Stage:
    """One step of a run.

    ``fn(state)`` reads the fields earlier stages made and sets the fields in ``makes``.
    ``after`` places a plugged-in stage. ``optional`` stages can be skipped by name
    (``skip=("discover",)``); ``needs`` names the stages whose output this one cannot do
    without, so skipping one of them is refused. ``saved`` stages are checkpointed for
    ``resume(..., from_stage=...)``; an unsaved one (read: it checks the data's sha256) is
    redone on every resume.
    """

    name: str
    fn: Callable[[RunState], None]
    after: str | None = None
    makes: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()
    optional: bool = False
    saved: bool = True


def arrange(
    core: Sequence[Stage], plugged: Iterable[Stage] = (), skip: Iterable[str] = ()
) -> tuple[Stage, ...]:
    """The run's stages in order: each plugged-in stage right after the stage it names
    (after any stage plugged in there before it), without the skipped ones.

    Skipping an unknown stage, one that is not optional, or one a remaining stage needs is
    refused with one line (``--skip``)."""
    ordered = list(core)
    for stage in plugged:
        names = [s.name for s in ordered]
        if stage.name in names:
            raise ValueError(f"a stage named {stage.name!r} is already part of the run")
        if stage.after not in names:
            raise ValueError(
                f"stage {stage.name!r}: after={stage.after!r} is not a stage of the run "
                f"({', '.join(names)})"
            )
        if stage.after in LATE:
            raise ValueError(
                f"stage {stage.name!r}: after={stage.after!r} is too late (document builds "
                "results.json and write writes the run); plug it in after audit or earlier"
            )
        if stage.after in EARLY:
            raise ValueError(
                f"stage {stage.name!r}: after={stage.after!r} is too early (the run's "
                "checkpoint opens in the study stage); plug it in after study or later, or "
                "add columns at the read stage with a Featurizer"
            )
        at = names.index(stage.after) + 1
        while at < len(ordered) and ordered[at].after == stage.after:
            at += 1  # plugged in earlier at the same place: keep their order
        ordered.insert(at, stage)
    skipped = set(skip)
    by_name = {s.name: s for s in ordered}
    for name in sorted(skipped):
        if name not in by_name:
            raise UserError(
                errors.OPTION_INVALID,
                option="--skip",
                reason=f"no stage is named {name!r} (the stages: {', '.join(by_name)})",
            )
        if not by_name[name].optional:
            optional = [s.name for s in ordered if s.optional]
            raise UserError(
                errors.OPTION_INVALID,
                option="--skip",
                reason=f"the {name} stage cannot be skipped: the stages after it need it "
                f"(stages that can be: {', '.join(optional)})",
            )
    kept = [s for s in ordered if s.name not in skipped]
    for stage in kept:
        missing = [n for n in stage.needs if n in skipped]
        if missing:
            raise UserError(
                errors.OPTION_INVALID,
                option="--skip",
                reason=f"the {stage.name} stage needs the {', '.join(missing)} stage; "
                f"skip {stage.name} too or keep {', '.join(missing)}",
            )
    return tuple(kept)
