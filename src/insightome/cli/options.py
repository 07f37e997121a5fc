"""Options shared by several ``insightome`` commands (Typer ``Annotated`` types)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = [
    "AuditThreshold",
    "ConformalLevel",
    "GeneSetFiles",
    "Justify",
    "MinCell",
    "MinGroupSize",
    "NJobs",
    "Quiet",
    "RunDir",
    "Seed",
    "SignatureTolerance",
]

RunDir = Annotated[Path, typer.Argument(help="A run directory made by 'insightome run'.")]
Seed = Annotated[
    int,
    typer.Option(help="Master random seed (splits, bootstraps, models).", envvar="INSIGHTOME_SEED"),
]
NJobs = Annotated[
    int,
    typer.Option("--n-jobs", help="Parallel workers (-1 = all cores).", envvar="INSIGHTOME_N_JOBS"),
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print only the run directory.")]
GeneSetFiles = Annotated[
    list[Path] | None,
    typer.Option(
        "--genesets", help="Gene-set file (.gmt) for pathway enrichment; repeat for several."
    ),
]
Justify = Annotated[
    list[str] | None,
    typer.Option(
        help='Declare a sensitive attribute\'s use clinically justified: sex="reason". Repeatable.'
    ),
]
MinGroupSize = Annotated[
    int, typer.Option(help="Groups smaller than this get 'insufficient evidence' in the audit.")
]
MinCell = Annotated[int, typer.Option(help="Table cells with fewer samples are suppressed.")]
NewDataDecimal = Annotated[
    str | None,
    typer.Option(
        help="Decimal mark of the new data's numbers: auto, '.' or ',' (default: the run's "
        "own --decimal)."
    ),
]
AuditThreshold = Annotated[
    list[str] | None,
    typer.Option(
        "--audit-threshold",
        help="Override a verdict band, e.g. max_auc_difference=0.03 (docs/audit.md). Repeatable.",
    ),
]
SignatureTolerance = Annotated[
    float,
    typer.Option(
        help="Minimal signature: largest allowed drop of the CV metric vs the full model."
    ),
]
ConformalLevel = Annotated[
    float, typer.Option(help="Coverage of the conformal prediction sets / intervals.")
]
