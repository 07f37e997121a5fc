"""The ``insightome`` command line: parse → call the API → print.

Every global option is also an environment variable (``INSIGHTOME_SEED``,
``INSIGHTOME_N_JOBS``), named in ``--help``. A :class:`~insightome.errors.UserError` is
printed as one line on stderr with exit code 2 and no traceback.
"""

from __future__ import annotations

import signal
import sys
import threading
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from insightome import errors
from insightome.cli.options import NJobs, Quiet, Seed, schema_options
from insightome.cli.printing import (
    print_audit,
    print_augmentation,
    print_discovery,
    print_leakage_screen,
    print_learning_curve,
)
from insightome.cli.root_command import app, err, out, whole_first_lines
from insightome.errors import EXIT_USER_ERROR, UserError
from insightome.number_format import fmt_number, fmt_p

#: The run command's own options (not options of insightome.run) → the option they follow
#: in ``--help``.
RUN_CLI_ONLY = {
    "quiet": "n_jobs",
    "resume": "quiet",
    "from_stage": "resume",
    "slurm_config": "scheduler",
    "slurm_queue": "slurm_config",
    "slurm_cores": "slurm_queue",
    "slurm_memory": "slurm_cores",
    "slurm_walltime": "slurm_memory",
    "slurm_jobs": "slurm_walltime",
}


@app.command("run")
@schema_options("run", after=RUN_CLI_ONLY)
def run_command(
    data: Annotated[
        Path | None, typer.Argument(help="Data file: .csv .tsv .parquet .xlsx .h5ad .mat")
    ] = None,
    quiet: Quiet = False,
    resume: Annotated[
        Path | None,
        typer.Option(help="Finish an interrupted run from its .partial directory (same options)."),
    ] = None,
    from_stage: Annotated[
        str | None,
        typer.Option(
            help="With --resume: run again from this stage (read, study, screen, plan, select, "
            "estimate, refit, discover, audit, document, write), reusing the saved output "
            "of the stages before it (default: where the run stopped)."
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
    **options: Any,
) -> None:
    """Select and honestly evaluate a model; write a run directory with report.html."""
    from insightome.compute.backends import slurm_from_options
    from insightome.workflow import resume as resume_run
    from insightome.workflow import run

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
        if options.get("skip"):
            raise UserError(
                errors.OPTION_INVALID,
                option="--skip",
                reason="a resumed run keeps the stages of the interrupted one; drop --skip",
            )
        result = resume_run(
            resume, n_jobs=options["n_jobs"], progress=not quiet,
            scheduler=options["scheduler"], slurm=slurm, from_stage=from_stage,
        )  # fmt: skip
        _print_summary(result, quiet)
        return
    if data is None:
        raise UserError(
            errors.OPTION_INVALID, option="DATA", reason="give a data file (or --resume DIR)"
        )
    if from_stage is not None:
        raise UserError(
            errors.OPTION_INVALID,
            option="--from-stage",
            reason="continues an interrupted run; give it with --resume DIR",
        )
    result = run(data, **options, progress=not quiet, slurm=slurm)
    _print_summary(result, quiet)


@app.command("predict")
@schema_options("predict", after={"log": "decimal", "user": "log"})
def predict_command(
    run_dir: Annotated[Path, typer.Argument(help="A run directory made by 'insightome run'.")],
    data: Annotated[
        Path,
        typer.Argument(help="New samples (samples x features) with the training feature names."),
    ],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="CSV to write (default: print).")
    ] = None,
    log: Annotated[
        bool, typer.Option(help="Append the predictions to RUN_DIR/prediction_log.jsonl.")
    ] = True,
    user: Annotated[str | None, typer.Option(help="Who asked for the predictions (log).")] = None,
    **reading: Any,
) -> None:
    """Apply a saved model to new samples (logged in the run's prediction log)."""
    from insightome.prediction import predict

    table = predict(run_dir, data, log=log, user=user, **reading)
    for note in table.attrs.get("notes", []):
        err.print(f"note: {escape(note)}", soft_wrap=True)
    if output is None:
        sys.stdout.write(table.to_csv())
        return
    tmp = output.with_name(f".{output.name}.tmp")
    table.to_csv(tmp)
    tmp.replace(output)
    err.print(f"wrote {len(table)} predictions to {output}")


DEMO_EXCLUDE = ("days", "cd420", "cd496", "r", "cd820", "offtrt", "treat")
#: ACTG 175's codebook (lifelines' documentation of the dataset), so groups read as words
DEMO_CODEBOOK = {"gender": {"0": "female", "1": "male"}, "race": {"0": "white", "1": "non-white"}}


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
    from insightome.workflow import run

    if not quiet:
        out.print(
            "[bold]insightome demo[/] — ACTG 175 (lifelines), outcome 'cens', "
            "sensitive: gender, race (codebook: gender 0 = female, 1 = male; race 0 = white, "
            "1 = non-white)"
        )
    result = run(
        demo_data_path(),
        "cens",
        id_column="pidnum",
        task="binary",
        sensitive=("gender", "race"),
        value_labels=DEMO_CODEBOOK,
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
    from insightome.evaluate.metrics import metric_label
    from insightome.run_directory import Run

    assert isinstance(result, Run)
    if quiet:
        print(result.path)  # machine-readable: exactly the run directory, never wrapped
        return
    e = result.estimate
    lo, hi = e["ci95"]
    out.print(f"\n[bold]Winner[/]: {result.results['winner']['name']}")
    out.print(
        f"[bold]Estimated {escape(metric_label(e['metric']))}[/] (BBC-CV): "
        f"[bold green]{fmt_number(e['value'])}[/] (95% CI {fmt_number(lo)}–{fmt_number(hi)}); "
        f"the winner's own CV score was {fmt_number(e['plain_cv_value'])} "
        f"(optimism removed: {fmt_number(e['optimism'], '+.3f')})"
    )
    if e.get("permutation_p") is not None:
        out.print(f"Permutation p = {fmt_p(e['permutation_p'])}")
    joined = (result.results.get("data") or {}).get("annotations")
    if joined:
        _print_annotations(joined)
    print_leakage_screen(result.results.get("leakage_screen"))
    print_learning_curve(result.results.get("learning_curve"))
    print_augmentation(result.results.get("augmentation"))
    print_discovery(result.results.get("discovery"))
    print_audit(result.results.get("audit"))
    for w in result.results.get("warnings", []):
        out.print(f"[yellow]warning:[/] {escape(w)}")
    out.print(f"\nReport: [bold]{result.report_path.resolve()}[/]", soft_wrap=True)


def _print_annotations(joined: dict[str, Any]) -> None:
    """The annotation table's join: samples left out (a count and a few IDs; all of them
    in results.json data.annotations) and the columns used as features."""
    dropped = joined["data_without_annotations"]
    if dropped:
        shown = errors.examples(dropped, 5)
        out.print(
            f"[yellow]Left out[/] (--drop-unmatched): {len(dropped)} data sample(s) without a "
            f"row in the annotation table, e.g. {escape(shown)} (all in results.json)",
            soft_wrap=True,
        )
    if joined["features"]:
        out.print(
            "Annotation columns used as features: " + escape(", ".join(joined["features"])),
            soft_wrap=True,
        )


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


def _interrupt(signum: int, frame: object) -> None:
    """Ctrl-C, or SIGTERM (what SLURM sends at a job's time limit or on ``scancel``, and
    a shutdown): raised as :class:`~insightome.errors.Interrupted`, which Typer lets
    through (a KeyboardInterrupt becomes a silent exit 130) and the stage runner marks with
    the run's .partial directory; a cluster's worker jobs are cancelled on the way out."""
    for repeated in (signal.SIGINT, signal.SIGTERM):  # the clean-up on the way out runs
        signal.signal(repeated, signal.SIG_IGN)  # to its end (SLURM kills later anyway)
    raise errors.Interrupted(signum)


def main() -> None:
    """Console entry point: user errors become one line on stderr and exit code 2; lost
    workers, Ctrl-C and SIGTERM one line naming the ``--resume`` command (exit 3, 130, 143)."""
    in_main_thread = threading.current_thread() is threading.main_thread()
    signals = (signal.SIGINT, signal.SIGTERM) if in_main_thread else ()
    previous = {signum: signal.signal(signum, _interrupt) for signum in signals}
    try:
        _main()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _main() -> None:
    try:
        code = app(standalone_mode=False)
    except UserError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(EXIT_USER_ERROR)
    except errors.WorkersLost as exc:  # the run cannot go on: its .partial is kept
        err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except (errors.Interrupted, KeyboardInterrupt) as exc:
        message = errors.stopped_message(exc, errors.INTERRUPTED, errors.INTERRUPTED_NO_CHECKPOINT)
        err.print(message, markup=False, highlight=False, soft_wrap=True)
        signum = exc.args[0] if exc.args and isinstance(exc.args[0], int) else signal.SIGINT
        sys.exit(128 + signum)  # 130 after Ctrl-C, 143 after SIGTERM
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
from insightome.cli import (  # noqa: E402,F401
    admet,
    images,
    notes,
    samplesize,
    saved_runs,
    scribe,
    serve,
    synthesize,
    trials,
)
from insightome.cli.optimize import optimize_command  # noqa: E402

app.command("optimize")(optimize_command)
whole_first_lines(app)  # after every command is registered

if __name__ == "__main__":
    main()
