"""``insightome scribe``: a consultation's audio or transcript to a draft note a clinician approves.

* ``insightome scribe transcribe AUDIO.wav -o OUT`` — local speech recognition (PocketSphinx,
  its model inside the package), speaker turns and the doctor/patient role of each speaker;
* ``insightome scribe draft TRANSCRIPT -o OUT`` — the notes engine over the turns: a draft
  note by sections whose every line cites the transcript spans it came from;
* ``insightome scribe approve OUT --clinician ID ...`` — the clinician's decision on each
  line (accepted / edited / rejected), logged; the note is final only when every line is
  decided.

The console shows counts, roles and paths only, never transcript or note text. Domain code
is imported inside the commands, so ``insightome --help`` stays fast.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from insightome.cli.root_command import app, err, out

__all__ = ["scribe"]

scribe = typer.Typer(
    help="Ambient scribe, fully local: audio or transcript → a draft note whose every line "
    "cites the words behind it → the clinician's line-by-line approval. Extractive; "
    "English speech recognition.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

Roles = Annotated[
    str | None,
    typer.Option(
        help="Correct the speakers' roles, e.g. 'S1=patient,S2=doctor' (roles: doctor, "
        "patient, other); recorded as a correction."
    ),
]


class Diarization(StrEnum):
    auto = "auto"
    channels = "channels"
    voices = "voices"
    none = "none"


def _print_lines(*lines: str) -> None:
    for line in lines:
        out.print(line, highlight=False, soft_wrap=True)


def _roles(spec: str | None) -> dict[str, str] | None:
    from insightome.apps.scribe.transcript import parse_roles

    return parse_roles(spec) if spec else None


def _speakers_line(speakers: dict[str, dict[str, Any]]) -> str:
    parts = [
        f"{escape(name)} = {info.get('role', '?')} ({info.get('decided_by', '?')})"
        for name, info in sorted(speakers.items())
    ]
    return "speakers: " + ("; ".join(parts) if parts else "none")


@scribe.command("transcribe")
def transcribe_command(
    audio: Annotated[
        Path, typer.Argument(metavar="AUDIO", help="The consultation: a WAV file (PCM).")
    ],
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o", help="Output folder (replaced whole): transcript.json and .txt."
        ),
    ],
    diarization: Annotated[
        Diarization,
        typer.Option(
            help="Speaker turns: by channel (a two-channel recording), by voice (pitch and "
            "spectrum clustering), none, or auto (channels when the two differ, else voices)."
        ),
    ] = Diarization.auto,
    speakers: Annotated[
        int, typer.Option(min=1, max=6, help="How many people speak (voice clustering).")
    ] = 2,
    roles: Roles = None,
    delete_audio: Annotated[
        bool,
        typer.Option(
            "--delete-audio",
            help="Delete AUDIO once the transcript is safely written (its sha256 is kept).",
        ),
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Speech to text, offline: words with times, speaker turns and each speaker's role."""
    import time

    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from insightome.apps.scribe.api import transcribe_to_folder

    started = time.perf_counter()
    with Progress(
        TextColumn("transcribing"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeRemainingColumn(),
        console=err,
        disable=quiet or not err.is_terminal,  # no bar (nor its blank line) in a pipe
        transient=True,
    ) as bar:
        task = bar.add_task("transcribe", total=1.0)
        folder, transcript = transcribe_to_folder(
            audio,
            output,
            diarization=diarization.value,
            speakers=speakers,
            roles=_roles(roles),
            delete_audio=delete_audio,
            progress=lambda done: bar.update(task, completed=done),
        )
    elapsed = time.perf_counter() - started
    source, engine = transcript.source, transcript.engine
    n_words = sum(len(t.words) for t in transcript.turns)
    duration = float(source.get("duration_s") or 0.0)
    how = engine.get("diarization") or {}
    _print_lines(
        f"{duration:.1f} s of audio, {len(transcript.turns)} turn(s), {n_words} word(s); "
        f"{elapsed:.1f} s to transcribe"
        + (f" (real-time factor {elapsed / duration:.2f})" if duration else ""),
        f"engine: {escape(str(engine.get('name', '?')))} {escape(str(engine.get('version', '')))}"
        f", model {escape(str(engine.get('model', '?')))}",
        f"speaker turns: {escape(str(how.get('method', '?')))} "
        f"({escape(str(how.get('reason', '')))})",
        _speakers_line(transcript.speakers),
    )
    if delete_audio:
        _print_lines(f"deleted {escape(str(audio))} (its sha256 is in transcript.json)")
    _print_lines(
        "check the roles; correct them with --roles when drafting",
        escape(str((folder / "transcript.json").resolve())),
    )


@scribe.command("draft")
def draft_command(
    transcript: Annotated[
        Path,
        typer.Argument(
            metavar="TRANSCRIPT",
            help="transcript.json from 'scribe transcribe', or text with a speaker label "
            "per turn ('[doctor] ...', 'Patient: ...').",
        ),
    ],
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o", help="Output folder (replaced whole): draft.html, .json, log."
        ),
    ],
    template: Annotated[
        Path | None, typer.Option(help="Your note template (sections; see docs/scribe.md).")
    ] = None,
    lexicon: Annotated[
        Path | None, typer.Option(help="Your concepts (the notes engine's lexicon format).")
    ] = None,
    roles: Roles = None,
    user: Annotated[str | None, typer.Option(help="Who ran it (recorded in the log).")] = None,
) -> None:
    """A draft note by sections; every line cites the transcript spans it came from."""
    from collections import Counter

    from insightome.apps.scribe.api import draft_to_folder

    folder, draft = draft_to_folder(
        transcript, output, template=template, lexicon=lexicon, roles=_roles(roles), user=user
    )
    per_section = [
        f"{escape(s.title)} {len(draft.lines_of(s.key))}"
        for s in draft.sections
        if draft.lines_of(s.key)
    ]
    states = Counter(f.assertion for line in draft.lines for f in line.findings)
    _print_lines(
        f"{len(draft.transcript.turns)} turn(s) → {len(draft.lines)} draft line(s): "
        + (", ".join(per_section) or "none"),
        "findings: " + (", ".join(f"{n} {state}" for state, n in sorted(states.items())) or "none"),
        _speakers_line(draft.transcript.speakers),
        "[bold]DRAFT — not approved: a clinician reviews every line (scribe approve)[/bold]",
        escape(str((folder / "draft.html").resolve())),
    )


def _ids(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


@scribe.command("approve")
def approve_command(
    folder: Annotated[Path, typer.Argument(metavar="OUT", help="A 'scribe draft' folder.")],
    clinician: Annotated[
        str, typer.Option(help="Who decides (name or staff ID; recorded with each line).")
    ],
    decisions: Annotated[
        Path | None,
        typer.Option(
            help="decisions.json saved from draft.html (or CSV: line,decision,text,reason)."
        ),
    ] = None,
    accept: Annotated[
        str | None,
        typer.Option(help="Line IDs to accept as drafted, e.g. L001,L004; or 'all' pending."),
    ] = None,
    reject: Annotated[str | None, typer.Option(help="Line IDs to reject.")] = None,
    edit: Annotated[
        list[str] | None,
        typer.Option(help="LINE=NEW TEXT, e.g. 'L003=Denies chest pain at rest.' (repeatable)."),
    ] = None,
    reason: Annotated[
        str | None, typer.Option(help="A comment recorded with these decisions.")
    ] = None,
) -> None:
    """Record the clinician's decision on each draft line; the note is final only when every
    line is decided."""
    import re

    from insightome import errors
    from insightome.apps.scribe.api import Decision, approve, pending_lines, read_decisions
    from insightome.errors import UserError

    chosen: list[Decision] = list(read_decisions(decisions)) if decisions else []
    accepted = _ids(accept)
    if accepted == ["all"]:
        taken = {d.line.strip() for d in chosen} | set(_ids(reject))
        taken |= {e.partition("=")[0].strip() for e in edit or []}
        accepted = [line for line in pending_lines(folder) if line not in taken]
    chosen += [Decision(line, "accepted", reason=reason or "") for line in accepted]
    chosen += [Decision(line, "rejected", reason=reason or "") for line in _ids(reject)]
    for number, item in enumerate(edit or [], start=1):
        line, sep, text = item.partition("=")
        if not sep or not re.fullmatch(r"L\d+", line.strip()):  # never echo the text
            raise UserError(errors.SCRIBE_EDIT_SPEC, number=number)
        chosen.append(Decision(line.strip(), "edited", text=text.strip(), reason=reason or ""))
    status = approve(folder, clinician=clinician, decisions=chosen)
    _print_lines(
        f"{len(chosen)} decision(s) recorded for {escape(clinician)}: {status.accepted} "
        f"accepted, {status.edited} edited, {status.rejected} rejected, {status.pending} "
        "pending in all"
    )
    if status.final_note is not None:
        _print_lines(
            "[bold]the note is final (every line decided)[/bold]",
            escape(str(Path(status.final_note).resolve())),
        )
    else:
        _print_lines(
            f"status: {status.status}; the note is final only when every line is decided",
            escape(str((Path(folder) / "draft.html").resolve())),
        )


app.add_typer(scribe, name="scribe")
