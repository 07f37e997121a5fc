"""The root command ``insightome`` (its help and ``--version``) and the consoles commands print to.

Every command module (:mod:`insightome.cli.app`, :mod:`insightome.cli.admet`,
:mod:`insightome.cli.saved_runs`) registers its commands on :data:`app`; ``cli.app`` imports
them all and holds the entry point, so no command module imports another.
"""

from __future__ import annotations

import inspect
from typing import Annotated

import typer
from rich.console import Console

from insightome import __version__

app = typer.Typer(
    name="insightome",
    help="Honest, audited, documented predictive modelling for biomedical data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # plain (click) help, not rich's boxed tables: at 80 columns rich left 20 characters for
    # the descriptions; click's two columns give them 46 (tests/cli/test_help.py measures)
    rich_markup_mode=None,
)
out = Console()
err = Console(stderr=True)


def whole_first_lines(typer_app: typer.Typer) -> None:
    """Give each command of ``typer_app`` (and of its sub-apps) the whole first line of its
    docstring as the short help that ``insightome --help`` lists, instead of click's 45
    characters cut at the first full stop ("Rerun discovery on a saved run (e.g.")."""
    for info in typer_app.registered_commands:
        doc = info.help or inspect.getdoc(info.callback) or ""
        if info.short_help is None and doc:
            info.short_help = doc.strip().splitlines()[0]
    for group in typer_app.registered_groups:
        if group.typer_instance is None:
            continue
        doc = group.typer_instance.info.help
        if isinstance(doc, str) and doc and not isinstance(group.short_help, str):
            group.short_help = doc.strip().splitlines()[0]
        whole_first_lines(group.typer_instance)


def _version(value: bool) -> None:
    if value:
        out.print(f"insightome {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """insightome: from a dataset to honest, audited, documented findings."""
