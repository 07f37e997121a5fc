"""Start the workbench: settings checked, the data directory prepared, the port bound."""

from __future__ import annotations

import os
import socket
import tempfile

import uvicorn
from rich.console import Console

from insightome import errors
from insightome.errors import UserError
from insightome.web.app import create_app
from insightome.web.settings import ServerSettings


def serve(settings: ServerSettings, console: Console | None = None) -> None:
    """Run the server until Ctrl-C / SIGTERM (then running jobs are stopped at a checkpoint)."""
    console = console or Console(stderr=True)
    settings = settings.checked().prepared()
    os.umask(0o077)  # every file the server and its workers write is the owner's only
    spool = settings.data_dir / ".tmp"  # uploads are spooled here, never outside the data dir
    spool.mkdir(mode=0o700, exist_ok=True)
    tempfile.tempdir = str(spool)
    os.environ["TMPDIR"] = str(spool)  # and the workers' temporary files too,
    os.environ["JOBLIB_TEMP_FOLDER"] = str(spool)  # joblib's memory maps included (not /dev/shm)
    _check_port(settings.host, settings.port)
    app = create_app(settings)
    shown_host = f"[{settings.host}]" if ":" in settings.host else settings.host
    base = f"http://{shown_host}:{settings.port}"
    console.print(f"[bold]insightome workbench[/] on {base}/  (data: {settings.data_dir})")
    if settings.token_generated:
        console.print(f"Open: {base}/login?token={settings.token}", soft_wrap=True)
    elif settings.token is not None:
        console.print(f"Open: {base}/login (log in with the access token)")
    else:
        console.print(f"Open: {base}/login (users of {settings.users_file})")
    console.print(
        f"{settings.concurrent_runs} analysis at a time, {settings.n_jobs} worker(s) each; "
        "Ctrl-C stops the server (running analyses keep their checkpoint)."
    )
    uvicorn.run(
        app, host=settings.host, port=settings.port, log_level="warning", access_log=False
    )  # fmt: skip   (the audit log records every action)


def _check_port(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise UserError(errors.PORT_IN_USE, host=host, port=port, reason=exc.strerror) from None
