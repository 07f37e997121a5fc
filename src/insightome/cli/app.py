"""The ``insightome`` command line: parse → call the API → print.

Every global option is also an environment variable (``INSIGHTOME_SEED``,
``INSIGHTOME_N_JOBS``), named in ``--help``. A :class:`~insightome.errors.UserError` is
printed as one line on stderr with exit code 2 and no traceback.
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from insightome import __version__, errors
from insightome.cli.options import (
    AuditThreshold,
    ConformalLevel,
    GeneSetFiles,
    Justify,
    MinCell,
    MinGroupSize,
    NewDataDecimal,
    NJobs,
    Quiet,
    Seed,
    SignatureTolerance,
)
from insightome.cli.printing import print_audit, print_discovery
from insightome.errors import EXIT_USER_ERROR, UserError

app = typer.Typer(
    name="insightome",
    help="Honest, audited, documented predictive modelling for biomedical data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip()) if value else ()


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


@app.command("run")
def run_command(
    data: Annotated[
        Path | None, typer.Argument(help="Data file: .csv .tsv .parquet .xlsx .h5ad .mat")
    ] = None,
    target: Annotated[
        str | None, typer.Option(help="Outcome column (classification or regression).")
    ] = None,
    time: Annotated[str | None, typer.Option(help="Survival time column (with --event).")] = None,
    event: Annotated[
        str | None, typer.Option(help="Survival event column, 1 = event, 0 = censored.")
    ] = None,
    task: Annotated[
        str, typer.Option(help="auto, binary, multiclass, regression or survival.")
    ] = "auto",
    annotations: Annotated[
        Path | None, typer.Option(help="Sample-annotation table joined on sample ID.")
    ] = None,
    id_column: Annotated[str | None, typer.Option(help="Sample-ID column.")] = None,
    orient: Annotated[
        str, typer.Option(help="auto, samples-by-features or features-by-samples.")
    ] = "auto",
    decimal: Annotated[
        str,
        typer.Option(
            help="Decimal mark of the numbers: auto (a decimal comma as in 1,5 is detected "
            "in ;- or tab-separated files), '.' or ','."
        ),
    ] = "auto",
    sensitive: Annotated[
        str | None,
        typer.Option(help="Sensitive attributes, comma-separated (kept out of the features)."),
    ] = None,
    use_sensitive: Annotated[
        bool, typer.Option(help="Also use the sensitive attributes as features.")
    ] = False,
    groups: Annotated[
        str | None,
        typer.Option(help="Group column (e.g. patient ID): a group never straddles folds."),
    ] = None,
    site: Annotated[
        str | None, typer.Option(help="Site/batch column (kept out of the features).")
    ] = None,
    exclude: Annotated[
        str | None, typer.Option(help="Columns to leave out of the features, comma-separated.")
    ] = None,
    positive_class: Annotated[
        str | None, typer.Option(help="Positive class label for a binary outcome.")
    ] = None,
    folds: Annotated[int, typer.Option(help="Cross-validation folds.")] = 5,
    repeats: Annotated[
        int | None,
        typer.Option(help="Cross-validation repeats (default 3; 1 from 20,000 samples on)."),
    ] = None,
    bootstrap: Annotated[int, typer.Option(help="BBC-CV bootstrap samples.")] = 1000,
    permutations: Annotated[
        int, typer.Option(help="Label permutations for an empirical p-value (0 = off).")
    ] = 0,
    preset: Annotated[
        str, typer.Option(help="Candidate set: default, or fast (one configuration per family).")
    ] = "default",
    out_dir: Annotated[
        Path, typer.Option("--out", help="Parent directory of the run directory.")
    ] = Path("runs"),
    name: Annotated[
        str | None, typer.Option(help="Run name (default: data file and outcome).")
    ] = None,
    seed: Seed = 0,
    n_jobs: NJobs = 1,
    quiet: Quiet = False,
    resume: Annotated[
        Path | None,
        typer.Option(help="Finish an interrupted run from its .partial directory (same options)."),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            help="Dask scheduler address (tcp://host:8786) to run the fits on.",
            envvar="INSIGHTOME_SCHEDULER",
        ),
    ] = None,
    slurm_config: Annotated[
        Path | None, typer.Option(help="YAML file describing SLURM jobs (see docs/compute.md).")
    ] = None,
    slurm_queue: Annotated[str | None, typer.Option(help="SLURM partition.")] = None,
    slurm_cores: Annotated[int | None, typer.Option(help="Cores per SLURM job.")] = None,
    slurm_memory: Annotated[
        str | None, typer.Option(help="Memory per SLURM job, e.g. 16GB.")
    ] = None,
    slurm_walltime: Annotated[str | None, typer.Option(help="Walltime, HH:MM:SS.")] = None,
    slurm_jobs: Annotated[int | None, typer.Option(help="Number of SLURM jobs (workers).")] = None,
    budget: Annotated[
        str | None,
        typer.Option(help="Compute budget: CPU time (30min, 2h, 900s) or energy (0.05kWh)."),
    ] = None,
    carbon_intensity: Annotated[
        float | None,
        typer.Option(help="Grid carbon intensity, gCO2e/kWh (default: world average, see docs)."),
    ] = None,
    pue: Annotated[
        float | None,
        typer.Option(help="Power usage effectiveness (1.0 for a laptop; default 1.67)."),
    ] = None,
    genesets: GeneSetFiles = None,
    discover: Annotated[
        bool,
        typer.Option(help="Discovery: signature, effects, subgroups, pathways, hypotheses.tsv."),
    ] = True,
    signature_tolerance: SignatureTolerance = 0.02,
    audit: Annotated[
        bool,
        typer.Option(help="Audit: data, model per group, conformal coverage, documents."),
    ] = True,
    justify: Justify = None,
    min_group_size: MinGroupSize = 30,
    min_cell: MinCell = 10,
    conformal_level: ConformalLevel = 0.9,
    audit_threshold: AuditThreshold = None,
    max_features: Annotated[
        int | None,
        typer.Option(
            help="Keep the N features with the largest variance (outcome-blind); .h5ad is "
            "then read from disk in blocks, so it may be larger than memory."
        ),
    ] = None,
) -> None:
    """Select and honestly evaluate a model; write a run directory with report.html."""
    from insightome.api import resume as resume_run
    from insightome.api import run
    from insightome.audit.auditing import parse_justifications, parse_thresholds
    from insightome.compute.backends import slurm_from_options

    slurm = slurm_from_options(
        slurm_config,
        queue=slurm_queue,
        cores=slurm_cores,
        memory=slurm_memory,
        walltime=slurm_walltime,
        jobs=slurm_jobs,
    )
    if resume is not None:
        if data is not None:
            raise UserError(
                errors.OPTION_INVALID,
                option="--resume",
                reason="takes the data and options of the interrupted run; drop DATA",
            )
        result = resume_run(
            resume, n_jobs=n_jobs, progress=not quiet, scheduler=scheduler, slurm=slurm
        )
        _print_summary(result, quiet)
        return
    if data is None:
        raise UserError(
            errors.OPTION_INVALID, option="DATA", reason="give a data file (or --resume DIR)"
        )

    result = run(
        data,
        target,
        annotations=annotations,
        id_column=id_column,
        orient=orient,
        task=task,
        time_col=time,
        event=event,
        sensitive=_split(sensitive),
        use_sensitive=use_sensitive,
        groups=groups,
        site=site,
        exclude=_split(exclude),
        positive_class=positive_class,
        folds=folds,
        repeats=repeats,
        n_bootstrap=bootstrap,
        permutations=permutations,
        preset=preset,
        seed=seed,
        n_jobs=n_jobs,
        out_dir=out_dir,
        name=name,
        progress=not quiet,
        scheduler=scheduler,
        slurm=slurm,
        budget=budget,
        carbon_intensity=carbon_intensity,
        pue=pue,
        discover=discover,
        genesets=genesets or (),
        signature_tolerance=signature_tolerance,
        audit=audit,
        justify=parse_justifications(justify or []),
        min_group_size=min_group_size,
        min_cell=min_cell,
        conformal_level=conformal_level,
        audit_thresholds=parse_thresholds(audit_threshold or []),
        max_features=max_features,
        decimal=decimal,
    )
    _print_summary(result, quiet)


@app.command("predict")
def predict_command(
    run_dir: Annotated[Path, typer.Argument(help="A run directory made by 'insightome run'.")],
    data: Annotated[
        Path,
        typer.Argument(help="New samples (samples x features) with the training feature names."),
    ],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="CSV to write (default: print).")
    ] = None,
    id_column: Annotated[str | None, typer.Option(help="Sample-ID column.")] = None,
    log: Annotated[
        bool, typer.Option(help="Append the predictions to RUN_DIR/prediction_log.jsonl.")
    ] = True,
    user: Annotated[str | None, typer.Option(help="Who asked for the predictions (log).")] = None,
    decimal: NewDataDecimal = None,
) -> None:
    """Apply a saved model to new samples (logged in the run's prediction log)."""
    from insightome.scoring import predict

    table = predict(run_dir, data, id_column=id_column, log=log, user=user, decimal=decimal)
    if output is None:
        sys.stdout.write(table.to_csv())
        return
    tmp = output.with_name(f".{output.name}.tmp")
    table.to_csv(tmp)
    tmp.replace(output)
    err.print(f"wrote {len(table)} predictions to {output}")


DEMO_EXCLUDE = ("days", "cd420", "cd496", "r", "cd820", "offtrt", "treat")


def demo_data_path() -> Path:
    """ACTG 175 (Hammer et al., NEJM 1996), shipped inside lifelines."""
    return Path(str(resources.files("lifelines.datasets").joinpath("ACTG175.csv")))


@app.command("demo")
def demo_command(
    out_dir: Annotated[
        Path, typer.Option("--out", help="Parent directory of the run directory.")
    ] = Path("runs"),
    seed: Seed = 0,
    n_jobs: NJobs = -1,
    quiet: Quiet = False,
) -> None:
    """Run end to end on ACTG 175 (HIV trial, 2,139 patients) shipped inside lifelines.

    Outcome: 'cens' (AIDS-defining event, death or CD4 drop during follow-up) from
    baseline variables; sensitive attributes: gender and race; post-baseline
    measurements (cd420, cd496, cd820, r, offtrt) and follow-up time are excluded.
    """
    from insightome.api import run

    if not quiet:
        out.print(
            "[bold]insightome demo[/] — ACTG 175 (lifelines), outcome 'cens', "
            "sensitive: gender, race (codebook: gender 1 = male, race 1 = non-white)"
        )
    result = run(
        demo_data_path(),
        "cens",
        id_column="pidnum",
        task="binary",
        sensitive=("gender", "race"),
        exclude=DEMO_EXCLUDE,
        folds=5,
        repeats=2,
        permutations=0,
        seed=seed,
        n_jobs=n_jobs,
        out_dir=out_dir,
        name="demo-actg175",
        progress=not quiet,
    )
    _print_summary(result, quiet)


def _print_summary(result: object, quiet: bool) -> None:
    from insightome.runs import Run

    assert isinstance(result, Run)
    if quiet:
        print(result.path)  # machine-readable: exactly the run directory, never wrapped
        return
    e = result.estimate
    lo, hi = e["ci95"]
    out.print(f"\n[bold]Winner[/]: {result.results['winner']['name']}")
    out.print(
        f"[bold]Estimated {e['metric']}[/] (BBC-CV): [bold green]{e['value']:.3f}[/] "
        f"(95% CI {lo:.3f}–{hi:.3f}); the winner's own CV score was {e['plain_cv_value']:.3f} "
        f"(optimism removed: {e['optimism']:+.3f})"
    )
    if e.get("permutation_p") is not None:
        out.print(f"Permutation p = {e['permutation_p']:.3g}")
    print_discovery(result.results.get("discovery"))
    print_audit(result.results.get("audit"))
    for w in result.results.get("warnings", []):
        out.print(f"[yellow]warning:[/] {escape(w)}")
    out.print(f"\nReport: [bold]{result.report_path.resolve()}[/]", soft_wrap=True)


def _click_errors() -> tuple[type[Exception], ...]:
    """Click's usage-error class, and the copy of it that newer Typer releases vendor."""
    import click

    classes: list[type[Exception]] = [click.ClickException]
    try:
        from typer._click.exceptions import ClickException as vendored
    except ImportError:  # Typer releases that use click itself
        pass
    else:
        classes.append(vendored)
    return tuple(classes)


def main() -> None:
    """Console entry point: user errors become one line on stderr and exit code 2."""
    try:
        code = app(standalone_mode=False)
    except UserError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(EXIT_USER_ERROR)
    except KeyboardInterrupt:
        err.print(
            "interrupted: no run directory was written; finished fits are kept in the run's "
            ".partial directory — finish it with: insightome run --resume DIR"
        )
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(1)
    except Exception as exc:
        if isinstance(exc, _click_errors()):
            exc.show()  # type: ignore[attr-defined]
            sys.exit(EXIT_USER_ERROR)
        raise
    # without standalone mode, click returns a typer.Exit's code instead of raising it
    if isinstance(code, int) and code:
        sys.exit(code)


# the commands that work on a saved run directory register themselves on ``app``
from insightome.cli import admet, saved_runs  # noqa: E402,F401
from insightome.cli.optimize import optimize_command  # noqa: E402

app.command("optimize")(optimize_command)

if __name__ == "__main__":
    main()
