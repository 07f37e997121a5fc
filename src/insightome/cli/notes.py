"""``insightome notes``: clinical notes → concept mentions with ConText assertion.

* ``insightome notes extract NOTES -o OUT.csv`` reads a notes table
  (:func:`~insightome.io.notes.read_notes`), chooses the language (``--language``, or
  detected and said), matches the lexicon (``--lexicon``, or the packaged starter lexicon
  of the language, said) and writes one row per mention
  (:data:`~insightome.featurize.notes.MENTION_COLUMNS`) atomically. The console summary
  gives counts only (notes read and skipped, mentions per kind, top concepts with their
  assertion mix): never note text.

Domain code (and spaCy, through it) is imported inside the command, so ``insightome
--help`` stays fast and works without the notes extra.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from insightome.cli.root_command import app, out

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["notes"]

TOP_CONCEPTS = 10

notes = typer.Typer(
    help="Clinical notes: concept mentions with assertion (negated, possible, historical, "
    "hypothetical, family), in English and Spanish.",
    no_args_is_help=True,
    rich_markup_mode=None,  # plain help: readable at 80 columns (cli/root_command.py)
)


class Language(StrEnum):
    auto = "auto"
    en = "en"
    es = "es"


@notes.command("extract")
def extract_command(
    notes_file: Annotated[
        Path,
        typer.Argument(
            metavar="NOTES", help="Notes table: .csv .tsv .txt .jsonl, one note per row (UTF-8)."
        ),
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Mentions file to write: .csv or .tsv.")
    ],
    lexicon: Annotated[
        Path | None,
        typer.Option(
            help="Concept lexicon (.csv .tsv .yaml; docs/notes.md). Default: the packaged "
            "starter lexicon of the language."
        ),
    ] = None,
    language: Annotated[
        Language, typer.Option(help="Language of the notes: en, es, or auto (detected).")
    ] = Language.auto,
    id_column: Annotated[
        str | None,
        typer.Option(help="Note ID column (default: note_id or id, else the row number)."),
    ] = None,
    text_column: Annotated[
        str | None,
        typer.Option(
            help="Text column (default: text, note, notes, transcription or report, else "
            "the column with the longest texts)."
        ),
    ] = None,
    n_jobs: Annotated[
        int,
        typer.Option(
            "--n-jobs", "-j", help="Worker processes (1: none).", envvar="INSIGHTOME_N_JOBS"
        ),
    ] = 1,
) -> None:
    """Find concept mentions in clinical notes, with ConText assertion and values."""
    from insightome import errors
    from insightome.errors import UserError
    from insightome.featurize.notes import (
        detect_language,
        extract_mentions,
        read_lexicon,
        starter_lexicon,
    )
    from insightome.io.notes import read_notes, write_mentions

    if output.suffix.lower() not in (".csv", ".tsv"):
        raise UserError(errors.NOTES_OUTPUT_FORMAT, path=output, suffix=output.suffix)
    if n_jobs == 0 or n_jobs < -1:
        raise UserError(
            errors.OPTION_INVALID,
            option="--n-jobs",
            reason=f"must be a positive number of workers, or -1 for all cores (got {n_jobs})",
        )
    table = read_notes(notes_file, id_column=id_column, text_column=text_column)
    if language is Language.auto:
        chosen, how = detect_language(table.frame["text"].tolist())
    else:
        chosen, how = language.value, "given with --language"
    user_lexicon = read_lexicon(lexicon) if lexicon is not None else None
    concepts = user_lexicon or starter_lexicon(chosen)
    mentions = extract_mentions(table.frame, concepts, chosen, n_jobs=n_jobs)
    write_mentions(mentions, output)
    lexicon_line = (
        f"{escape(str(lexicon))} ({len(concepts)} concepts)"
        if user_lexicon is not None
        else f"the starter lexicon of the language ({len(concepts)} concepts; give your own "
        "with --lexicon)"
    )
    _print_summary(table, chosen, how, lexicon_line, mentions)
    out.print(escape(str(output.resolve())), highlight=False, soft_wrap=True)


def _count(value: int) -> str:
    return f"{int(value):,}"


def _print_summary(
    table: Any, language: str, how: str, lexicon_line: str, mentions: pd.DataFrame
) -> None:
    """Counts only: no note text, no matched text."""
    names = {"en": "English", "es": "Spanish"}
    n_notes = len(table.frame)
    out.print(
        f"notes: {_count(n_notes)} read from {escape(table.path.name)}"
        + (f", {_count(table.n_empty)} skipped (empty text)" if table.n_empty else ""),
        highlight=False,
        soft_wrap=True,
    )
    for note in table.notes:
        if "skipped" not in note:
            out.print(f"  note: {escape(note)}", highlight=False, soft_wrap=True)
    out.print(f"language: {names[language]} ({escape(how)})", highlight=False, soft_wrap=True)
    out.print(f"lexicon: {lexicon_line}", highlight=False, soft_wrap=True)
    kinds = mentions["kind"].value_counts()
    with_mention = mentions["note_id"].nunique()
    out.print(
        f"mentions: {_count(int(kinds.get('concept', 0)))} concept, "
        f"{_count(int(kinds.get('value', 0)))} value, in {_count(with_mention)} of "
        f"{_count(n_notes)} notes",
        highlight=False,
        soft_wrap=True,
    )
    concepts = mentions[mentions["kind"] == "concept"]
    if concepts.empty:
        return
    flags = ["negated", "possible", "historical", "hypothetical", "family"]
    grouped = concepts.groupby("concept_id", sort=False)
    top = grouped.size().sort_values(ascending=False, kind="stable").head(TOP_CONCEPTS)
    summary = Table(
        title=f"Top {len(top)} concepts: mentions and their assertion (a mention may carry "
        "several flags; affirmed: none)",
        title_justify="left",
    )
    summary.add_column("concept", overflow="fold", max_width=24)
    for header in ("mentions", "notes", "affirmed", "neg", "poss", "hist", "hypo", "fam"):
        summary.add_column(header, justify="right")
    for concept_id, count in top.items():
        rows = grouped.get_group(concept_id)
        affirmed = int((~rows[flags].any(axis=1)).sum())
        summary.add_row(
            escape(str(rows["concept_name"].iloc[0])),
            _count(int(count)),
            _count(int(rows["note_id"].nunique())),
            _count(affirmed),
            *(_count(int(rows[flag].sum())) for flag in flags),
        )
    out.print(summary)


app.add_typer(notes, name="notes")
