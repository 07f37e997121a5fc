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
    "out_dir": "decimal",
    "seed": "out_dir",
    "allow_training_overlap": "seed",
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
    seed: int,
    time_col: str | None,
    **reading: Any,
) -> None:
    """Score the saved model and minimal signature on an independent cohort, with CIs."""
    from insightome.evaluate.metrics import metric_label
    from insightome.validation import validate

    report = validate(run_dir, cohort, out_dir=out_dir, seed=seed, time=time_col,
                      allow_training_overlap=allow_training_overlap, **reading)  # fmt: skip
    _warn(report["warnings"])
    c = report["cohort"]
    out.print(f"[bold]External validation[/] on {c['n_samples']} samples")
    if report.get("bootstrap"):
        out.print(f"  95% CIs: {escape(report['bootstrap'])}", soft_wrap=True)
    for name, m in report["models"].items():
        for metric, v in m["metrics"].items():
            lo, hi = v["ci95"]
            label = escape(metric_label(metric))
            out.print(f"  {name:9s} {label:24s} {v['value']:.3f} (95% CI {lo:.3f}–{hi:.3f})")
        if m["features_missing"]:
            out.print(
                f"  [yellow]{name}: {len(m['features_missing'])} missing feature(s) imputed:[/] "
                + escape(", ".join(m["features_missing"][:10]))
            )
    out.print(f"\nWritten: [bold]{report['path']}[/]", soft_wrap=True)
    _documents_follow(run_dir, report["path"], "validations")


def _documents_follow(run_dir: Path, written: str | Path, folder: str) -> None:
    """Say that the run's documents and report now hold this record (when it is the
    run's: written under RUN_DIR/folder, not elsewhere with --out)."""
    from insightome.living_documents import is_recorded

    if is_recorded(run_dir, written, folder):
        out.print(
            "Updated with it: the run's report.html and, for an audited run, its documents (model "
            "card, TRIPOD+AI, FUTURE-AI, Annex IV).",
            soft_wrap=True,
        )


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
        "labels": "orient",
        "time_col": "labels",
        "event": "time_col",
        "out_dir": "decimal",
        "seed": "out_dir",
        "allow_training_overlap": "seed",
        "min_cell": "allow_training_overlap",
    },
)
def monitor_command(
    run_dir: RunDir,
    data: Annotated[Path, typer.Argument(help="New samples (deployment data).")],
    labels: Annotated[
        str | None, typer.Option(help="Outcome column in the new data, if known.")
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Where to write (default: RUN_DIR/monitoring).")
    ] = None,
    allow_training_overlap: AllowTrainingOverlap = False,
    *,
    time_col: str | None,
    seed: int,
    min_cell: int | None,
    **reading: Any,
) -> None:
    """Data drift (SMD, PSI) and, with labels, performance per group against development."""
    from insightome.monitoring import monitor, write_monitor_report

    report = monitor(run_dir, data, labels=labels, time=time_col, seed=seed, min_cell=min_cell,
                     allow_training_overlap=allow_training_overlap, **reading)  # fmt: skip
    _warn(report.notes)
    written = write_monitor_report(report, out_dir)
    print_monitor(report.to_dict())
    out.print(f"\nWritten: [bold]{written}[/]", soft_wrap=True)
    _documents_follow(run_dir, written, "monitoring")


def _f(value: Any, spec: str = ".3f") -> str:
    return "—" if value is None else format(value, spec)


def print_monitor(summary: dict[str, Any]) -> None:
    """The console's monitoring summary: what monitor.md says, in short (its keys)."""
    from insightome.evaluate.metrics import metric_label

    s = summary["drift"]["summary"]
    out.print(f"[bold]Drift[/]: {escape(s['status'])}", soft_wrap=True)
    out.print(
        f"  {s['n_compared']} of {s['n_features']} features compared; moderate shift (PSI "
        f"0.1–0.25): {len(s['moderate'])}; |SMD| > 0.1: {_f(s['share_smd_above'], '.0%')} of "
        f"numeric features (SD by chance ≈ {_f(s['chance_smd_sd'], '.2f')}); mean PSI "
        f"{_f(s['mean_psi'])}",
        soft_wrap=True,
    )
    if s["major"]:
        out.print("  largest shifts: " + escape(", ".join(s["major"][:5])), soft_wrap=True)
    if s["absent"]:
        out.print(f"  absent from the new data: {len(s['absent'])} feature(s)")
    perf = summary.get("performance")
    if perf is None:
        out.print("[bold]Performance[/]: not measured (give the outcome: --labels, or --time "
                  "and --event)", soft_wrap=True)  # fmt: skip
        return
    dev = perf["development_estimate"]
    out.print(
        f"[bold]Performance[/] ({escape(metric_label(perf['metric']))}; development BBC-CV "
        f"{_f(dev['value'])}, 95% CI {_f(dev['ci95'][0])}–{_f(dev['ci95'][1])}):",
        soft_wrap=True,
    )
    rows = [("all", perf)] + [
        (f"{column} = {group}", row)
        for column, groups in perf["groups"].items()
        for group, row in groups.items()
    ]
    for name, row in rows:
        value = "" if row.get("value") is None else f"{row['value']:.3f} "
        ci = row.get("ci95")
        value += f"(95% CI {ci[0]:.3f}–{ci[1]:.3f}) " if ci else ""
        n = "n hidden" if row.get("n") is None else f"n {row['n']}"
        why = f" ({row['reason']})" if row.get("reason") else ""
        out.print(f"  {escape(name)} ({n}): {escape(value + row['status'] + why)}", soft_wrap=True)


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
