"""Commands on a saved run directory: discover, validate, audit, monitor, review.

They register on the one Typer ``app`` of :mod:`insightome.cli.app` (imported there), so
``insightome --help`` lists every command; domain code is imported inside each command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from insightome.cli.options import RunDir, schema_options
from insightome.cli.printing import print_audit, print_discovery
from insightome.cli.root_command import app, err, out

AllowTrainingOverlap = Annotated[
    bool,
    typer.Option(
        "--allow-training-overlap",
        help="Go on when half or more of the rows are training rows (recorded; the result "
        "is then not an external check).",
    ),
]


@app.command("discover")
@schema_options("discover", after={"n_jobs": "signature_tolerance"})
def discover_command(
    run_dir: RunDir, *, genesets: tuple[Path, ...], signature_tolerance: float | None, n_jobs: int
) -> None:
    """Rerun discovery on a saved run (e.g. with gene sets); rewrites it in place."""
    from insightome.followup import rediscover

    result = rediscover(
        run_dir, genesets=genesets, signature_tolerance=signature_tolerance, n_jobs=n_jobs
    )
    print_discovery(result.results.get("discovery"))
    out.print(f"\nReport: [bold]{result.report_path.resolve()}[/]", soft_wrap=True)


#: The validate and monitor commands' own options → the option they follow in --help.
NEW_COHORT_ORDER = {
    "out_dir": "id_column",
    "seed": "out_dir",
    "allow_training_overlap": "seed",
    "decimal": "allow_training_overlap",
}


@app.command("validate")
@schema_options("validate", after=NEW_COHORT_ORDER)
def validate_command(
    run_dir: RunDir,
    cohort: Annotated[
        Path, typer.Argument(help="Independent cohort: samples x features plus the outcome.")
    ],
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Where to write (default: RUN_DIR/validations).")
    ] = None,
    allow_training_overlap: AllowTrainingOverlap = False,
    *,
    id_column: str | None,
    seed: int,
    decimal: str | None,
) -> None:
    """Score the saved model and minimal signature on an independent cohort, with CIs."""
    from insightome.validation import validate

    report = validate(run_dir, cohort, id_column=id_column, out_dir=out_dir, seed=seed,
                      allow_training_overlap=allow_training_overlap, decimal=decimal)  # fmt: skip
    _warn(report["warnings"])
    c = report["cohort"]
    out.print(f"[bold]External validation[/] on {c['n_samples']} samples")
    if report.get("bootstrap"):
        out.print(f"  95% CIs: {escape(report['bootstrap'])}", soft_wrap=True)
    for name, m in report["models"].items():
        for metric, v in m["metrics"].items():
            lo, hi = v["ci95"]
            out.print(f"  {name:9s} {metric:20s} {v['value']:.3f} (95% CI {lo:.3f}–{hi:.3f})")
        if m["features_missing"]:
            out.print(
                f"  [yellow]{name}: {len(m['features_missing'])} missing feature(s) imputed:[/] "
                + escape(", ".join(m["features_missing"][:10]))
            )
    out.print(f"\nWritten: [bold]{report['path']}[/]", soft_wrap=True)


def _warn(warnings: list[str]) -> None:
    for w in warnings:
        err.print(f"[yellow]warning:[/] {escape(w)}", soft_wrap=True)


@app.command("review")
def review_command(
    run_dir: RunDir,
    sample_id: Annotated[str, typer.Argument(help="The sample whose prediction is overridden.")],
    reviewer: Annotated[str, typer.Option(help="Who overrides (name or staff ID).")],
    override: Annotated[str, typer.Option(help="The decision that replaces the model's output.")],
    reason: Annotated[str, typer.Option(help="Why (required: it is what a review reads).")],
) -> None:
    """Record a human override of a logged prediction (EU AI Act Art. 14)."""
    from insightome.audit.prediction_log import log_override
    from insightome.run_directory import Run

    run = Run.load(run_dir)
    log_override(
        run_dir,
        sample_id,
        reviewer=reviewer,
        override=override,
        reason=reason,
        model_sha256=run.model_card.get("model_sha256", ""),
    )
    err.print(f"override of {escape(sample_id)} recorded in {run_dir}/prediction_log.jsonl")


@app.command("monitor")
@schema_options(
    "monitor",
    after={
        "out_dir": "id_column",
        "seed": "out_dir",
        "allow_training_overlap": "seed",
        "min_cell": "allow_training_overlap",
        "decimal": "min_cell",
    },
)
def monitor_command(
    run_dir: RunDir,
    data: Annotated[Path, typer.Argument(help="New samples (deployment data).")],
    labels: Annotated[
        str | None, typer.Option(help="Outcome column in the new data, if known.")
    ] = None,
    time: Annotated[str | None, typer.Option(help="Survival time column, if known.")] = None,
    event: Annotated[str | None, typer.Option(help="Survival event column, if known.")] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Where to write (default: RUN_DIR/monitoring).")
    ] = None,
    allow_training_overlap: AllowTrainingOverlap = False,
    *,
    id_column: str | None,
    seed: int,
    min_cell: int | None,
    decimal: str | None,
) -> None:
    """Data drift (SMD, PSI) and, with labels, performance per group against development."""
    from insightome.monitoring import monitor, write_monitor_report

    report = monitor(run_dir, data, labels=labels, time=time, event=event, id_column=id_column,
                     seed=seed, min_cell=min_cell, decimal=decimal,
                     allow_training_overlap=allow_training_overlap)  # fmt: skip
    _warn(report.notes)
    written = write_monitor_report(report, out_dir)
    summary = report.to_dict()
    out.print(f"[bold]Drift[/]: {escape(summary['drift']['summary']['status'])}")
    perf = summary.get("performance")
    if perf:
        shown = f"{perf['metric']} {perf['value']:.3f} " if perf.get("value") is not None else ""
        if perf.get("ci95"):
            shown += f"(95% CI {perf['ci95'][0]:.3f}–{perf['ci95'][1]:.3f}): "
        out.print(f"[bold]Performance[/]: {escape(shown + perf['status'])}")
    out.print(f"\nWritten: [bold]{written}[/]", soft_wrap=True)


@app.command("audit")
@schema_options("audit", after={"n_jobs": "audit_thresholds"})
def audit_command(
    run_dir: RunDir,
    *,
    justify: dict[str, str],
    min_group_size: int,
    min_cell: int,
    conformal_level: float,
    audit_thresholds: dict[str, Any],
    age_bands: tuple[float, ...] | None,
    value_labels: dict[str, dict[str, str]] | None,
    n_jobs: int,
) -> None:
    """Rerun the audit on a saved run (e.g. with --justify); rewrites it in place."""
    from insightome.audit.auditing import AuditSettings
    from insightome.followup import reaudit

    settings = AuditSettings(
        min_group_size, min_cell, conformal_level, justify, audit_thresholds, age_bands,
        value_labels,
    )  # fmt: skip

    result = reaudit(run_dir, settings, n_jobs=n_jobs)
    print_audit(result.results.get("audit"))
    out.print(f"\nReport: [bold]{result.report_path.resolve()}[/]", soft_wrap=True)
