"""The root command ``insightome`` (its help and ``--version``) and the consoles commands print to.

Every command module (:mod:`insightome.cli.app`, :mod:`insightome.cli.admet`,
:mod:`insightome.cli.saved_runs`) registers its commands on :data:`app`; ``cli.app`` imports
them all and holds the entry point, so no command module imports another.
"""

from __future__ import annotations

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
)
out = Console()
err = Console(stderr=True)


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
