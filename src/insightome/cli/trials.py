"""``insightome trials``: patients to trials, trials to patients, and the coordinator's decisions.

* ``insightome trials match PATIENTS --trials CORPUS -o OUT`` — each patient's best trials;
* ``insightome trials screen TRIAL --patients COHORT -o OUT`` — a cohort ranked for one trial
  (TRIAL: a record file, or an NCT ID of ``--trials``);
* ``insightome trials review OUT --patient P --trial NCT --decision accept|reject
  --reviewer R --reason "..."`` — records a decision in OUT's prediction log.

The console shows counts and IDs only, never note text (the report and the tables hold the
evidence). Domain code is imported inside the commands, so ``insightome --help`` stays fast.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from insightome.cli.root_command import app, err, out

__all__ = ["trials"]

trials = typer.Typer(
    help="Clinical-trial recruitment: patients to trials and trials to patients, each "
    "criterion judged met / not met / unknown with its evidence. A screening aid.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

Output = Annotated[
    Path,
    typer.Option("--output", "-o", help="Output folder (replaced whole): tables, report, log."),
]
IdColumn = Annotated[
    str | None,
    typer.Option(help="Patient ID column (default: patient_id, _id, id, note_id or topic)."),
]
TextColumn = Annotated[
    str | None, typer.Option(help="Note text column (default: text, note, notes ...).")
]
PatientTable = Annotated[
    Path | None,
    typer.Option(help="Structured patient table (CSV/TSV): ID, age, sex, lab columns."),
]


class Decision(StrEnum):
    accept = "accept"
    reject = "reject"


def _progress(quiet: bool) -> Any:
    if quiet:
        return None
    return lambda message: err.print(f"[dim]{escape(message)}[/dim]", soft_wrap=True)


def _print_result(result: Any) -> None:
    summary = result.summary
    out.print(
        f"{summary['patients']['n']} patient(s), {summary['trials']['n']} trial(s)"
        + (
            f" ({summary['trials']['n_skipped']} record(s) skipped: see summary.json)"
            if summary["trials"]["n_skipped"]
            else ""
        )
        + f"; {summary['suggestions']} suggestion(s), {summary['excluded']} with a failed "
        "criterion",
        highlight=False,
        soft_wrap=True,
    )
    for skip in summary["trials"]["skipped"][:3]:
        out.print(
            f"  skipped: {escape(skip['where'])}: {escape(skip['reason'])}",
            highlight=False,
            soft_wrap=True,
        )
    for note in summary["patients"]["notes"]:
        out.print(f"note: {escape(note)}", highlight=False, soft_wrap=True)
    parsed = summary["criteria_parsed"]
    if parsed["items"]:
        out.print(
            f"criteria of the suggested trials: {parsed['items']} item(s), "
            f"{parsed['checkable']} parsed into a checkable form",
            highlight=False,
            soft_wrap=True,
        )
    without = summary["trials"]["without_criteria_text"]
    if without:
        out.print(
            f"note: {len(without)} suggested trial(s) have no eligibility text and were judged "
            "on sex and age only",
            highlight=False,
            soft_wrap=True,
        )
    out.print(f"[bold]{escape(result.summary['disclaimer'])}[/bold]", soft_wrap=True)
    out.print(
        escape(str((result.out_dir / "report.html").resolve())), highlight=False, soft_wrap=True
    )


@trials.command("match")
def match_command(
    patients: Annotated[
        Path, typer.Argument(metavar="PATIENTS", help="Patients' notes: .csv .tsv .txt .jsonl.")
    ],
    corpus: Annotated[
        Path,
        typer.Option(
            "--trials",
            help="Trial records: .jsonl(.gz), .json (API v2), .xml, or a folder of them.",
        ),
    ],
    output: Output,
    top: Annotated[int, typer.Option(help="Trials suggested per patient.")] = 10,
    recall: Annotated[int, typer.Option(help="Trials BM25 passes to the re-ranking.")] = 100,
    id_column: IdColumn = None,
    text_column: TextColumn = None,
    patient_table: PatientTable = None,
    user: Annotated[str | None, typer.Option(help="Who ran it (recorded in the log).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress lines.")] = False,
) -> None:
    """Each patient's best trials, every criterion judged, with the evidence."""
    from insightome.apps.trials.api import match

    result = match(
        patients,
        corpus,
        output,
        top=top,
        recall=recall,
        id_column=id_column,
        text_column=text_column,
        patient_table=patient_table,
        user=user,
        progress=_progress(quiet),
    )
    _print_result(result)


@trials.command("screen")
def screen_command(
    trial: Annotated[
        str, typer.Argument(metavar="TRIAL", help="A trial record file, or an NCT ID of --trials.")
    ],
    patients: Annotated[
        Path, typer.Option("--patients", help="The cohort's notes: .csv .tsv .txt .jsonl.")
    ],
    output: Output,
    corpus: Annotated[
        Path | None, typer.Option("--trials", help="Trial records holding the NCT ID.")
    ] = None,
    top: Annotated[int | None, typer.Option(help="Patients listed (default: all).")] = None,
    id_column: IdColumn = None,
    text_column: TextColumn = None,
    patient_table: PatientTable = None,
    user: Annotated[str | None, typer.Option(help="Who ran it (recorded in the log).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress lines.")] = False,
) -> None:
    """A cohort ranked for one trial, every criterion judged, with the evidence."""
    from insightome import errors
    from insightome.apps.trials.api import screen
    from insightome.errors import UserError

    if top is not None and top < 1:
        raise UserError(errors.TRIALS_SCREEN_TOP, top=top)
    result = screen(
        trial,
        patients,
        output,
        trials_path=corpus,
        top=top,
        id_column=id_column,
        text_column=text_column,
        patient_table=patient_table,
        user=user,
        progress=_progress(quiet),
    )
    _print_result(result)


@trials.command("review")
def review_command(
    folder: Annotated[Path, typer.Argument(metavar="OUT", help="A match or screen output.")],
    patient: Annotated[str, typer.Option(help="Patient ID.")],
    trial: Annotated[str, typer.Option(help="NCT ID.")],
    decision: Annotated[Decision, typer.Option(help="accept or reject the suggestion.")],
    reviewer: Annotated[str, typer.Option(help="Who decides (name or staff ID).")],
    reason: Annotated[str, typer.Option(help="Why (required: it is what an audit reads).")],
) -> None:
    """Record a coordinator's decision on one suggestion (who, what, why)."""
    from insightome.apps.trials.api import review

    counts = review(
        folder, patient, trial, decision=decision.value, reviewer=reviewer, reason=reason
    )
    out.print(
        f"recorded: {escape(decision.value)} {escape(patient)} × {escape(trial)} by "
        f"{escape(reviewer)}; decisions so far: {counts['accepted']} accepted, "
        f"{counts['rejected']} rejected, of {counts['suggestions']} suggestion(s)",
        highlight=False,
        soft_wrap=True,
    )


app.add_typer(trials, name="trials")
