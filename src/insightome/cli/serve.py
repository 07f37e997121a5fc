"""``insightome serve``: the browser workbench (docs/web.md)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from insightome import errors
from insightome.cli.root_command import app, err
from insightome.errors import UserError


@app.command("serve")
def serve_command(
    host: Annotated[
        str,
        typer.Option(
            help="Address to listen on. Other than loopback, an access token or a "
            "users file is required."
        ),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8765,
    data_dir: Annotated[
        Path,
        typer.Option(
            help="Where uploads, runs, jobs and the audit log live (made 0700). The "
            "owner's runs are DATA_DIR/runs: 'insightome run … --out DATA_DIR/runs' "
            "shows there too."
        ),
    ] = Path("workbench"),
    token: Annotated[
        str | None,
        typer.Option(
            help="Access token (at least 16 characters); on loopback one is "
            "generated when neither this nor --users is given.",
            envvar="INSIGHTOME_TOKEN",
        ),
    ] = None,
    users: Annotated[
        Path | None,
        typer.Option(
            help="Users file (JSON, scrypt-hashed passwords); each user has "
            "their own folder and sees only their runs."
        ),
    ] = None,
    add_user: Annotated[
        str | None,
        typer.Option(help="Add NAME to the --users file (asks for the password) and exit."),
    ] = None,
    owner: Annotated[
        bool, typer.Option(help="With --add-user: the data directory's owner (sees DATA_DIR/runs).")
    ] = False,
    max_upload_mb: Annotated[int, typer.Option(help="Largest file one upload may hold.")] = 200,
    concurrent_runs: Annotated[
        int, typer.Option(help="Analyses run at the same time (the others wait in the queue).")
    ] = 1,
    n_jobs: Annotated[int, typer.Option(help="Workers of each analysis (-1 = all cores).")] = -1,
    scheduler: Annotated[
        str | None, typer.Option(help="Dask scheduler address the analyses' fits go to.")
    ] = None,
    slurm_config: Annotated[
        Path | None,
        typer.Option(help="SLURM YAML file the analyses' fits go to (docs/compute.md)."),
    ] = None,
    public_url: Annotated[
        str | None,
        typer.Option(
            help="Behind a reverse proxy (TLS): the address users open, e.g. "
            "https://insightome.example.org (its host name and forms are accepted)."
        ),
    ] = None,
    resume_interrupted: Annotated[
        bool,
        typer.Option(
            help="On start, resume the runs a stopped server interrupted (else they "
            "wait with a resume button)."
        ),
    ] = False,
) -> None:
    """Start the browser workbench: upload, run, follow and read runs in a browser."""
    try:
        from insightome.web.server import serve
        from insightome.web.settings import ServerSettings
    except ImportError as exc:
        missing = exc.name or str(exc)  # the module's name (or the message that names it)
        if not any(m in missing for m in ("fastapi", "uvicorn", "starlette", "multipart")):
            raise
        raise UserError(errors.WEB_EXTRA_MISSING) from None
    if add_user is not None:
        _add_user(users, add_user, owner)
        return
    if n_jobs == 0:
        raise UserError(errors.OPTION_INVALID, option="--n-jobs", reason="use 1, 2, … or -1")
    settings = ServerSettings(
        data_dir=data_dir, host=host, port=port, token=token, users_file=users,
        max_upload_mb=max_upload_mb, concurrent_runs=concurrent_runs,
        n_jobs=n_jobs if n_jobs > 0 else (os.cpu_count() or 1), scheduler=scheduler,
        slurm_config=slurm_config, resume_interrupted=resume_interrupted, public_url=public_url,
    )  # fmt: skip
    try:
        serve(settings, err)
    except (errors.Interrupted, KeyboardInterrupt):  # Uvicorn re-raises the signal once stopped
        err.print("insightome workbench stopped (stopped analyses keep their checkpoints)")


def _add_user(users: Path | None, name: str, owner: bool) -> None:
    from insightome.web.auth import add_user, check_user_name

    if users is None:
        raise UserError(
            errors.OPTION_INVALID, option="--add-user", reason="give the users file with --users"
        )
    check_user_name(name, "--add-user")  # before the password is asked for
    password = typer.prompt(f"Password for {name}", hide_input=True, confirmation_prompt=True)
    if len(password) < 10:
        raise UserError(
            errors.OPTION_INVALID,
            option="--add-user",
            reason="use a password of 10 characters or more",
        )
    add_user(users, name, password, owner=owner)
    err.print(f"{name} added to {users}" + (" (owner)" if owner else ""))
