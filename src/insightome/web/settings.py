"""How ``insightome serve`` was started, and the refusals that protect patient data."""

from __future__ import annotations

import ipaddress
import os
import secrets
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

from insightome import errors
from insightome.errors import UserError

MIN_TOKEN = 16  # characters of a token given by hand
TOKEN_USER = "owner"  # who a token logs in (the data directory's owner)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServerSettings:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8765
    token: str | None = None
    users_file: Path | None = None
    max_upload_mb: int = 200
    concurrent_runs: int = 1
    n_jobs: int = 1  # each run's workers
    scheduler: str | None = None
    slurm_config: Path | None = None
    resume_interrupted: bool = False
    public_url: str | None = None  # the address users open, behind a reverse proxy
    token_generated: bool = False

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 2**20

    def checked(self) -> ServerSettings:
        """These settings, refused in one line where they would expose data, with a token
        generated for a loopback server started without one."""
        for name, value, low in (
            ("--port", self.port, 1), ("--max-upload-mb", self.max_upload_mb, 1),
            ("--concurrent-runs", self.concurrent_runs, 1),
        ):  # fmt: skip
            if value < low:
                raise UserError(errors.OPTION_INVALID, option=name, reason=f"must be >= {low}")
        if self.public_url is not None and (
            urlsplit(self.public_url).scheme not in ("http", "https")
            or not urlsplit(self.public_url).hostname
        ):
            raise UserError(
                errors.OPTION_INVALID, option="--public-url",
                reason=f"give the address users open, e.g. https://insightome.example.org, "
                f"not {self.public_url!r}",
            )  # fmt: skip
        if self.token is not None and self.users_file is not None:
            raise UserError(
                errors.OPTION_INVALID, option="--token",
                reason="give --token or --users, not both",
            )  # fmt: skip
        if self.token is not None and len(self.token) < MIN_TOKEN:
            raise UserError(
                errors.OPTION_INVALID, option="--token",
                reason=f"use at least {MIN_TOKEN} random characters (e.g. python -c "
                "\"import secrets; print(secrets.token_urlsafe())\")",
            )  # fmt: skip
        if self.token is None and self.users_file is None:
            if not is_loopback(self.host):
                raise UserError(
                    errors.OPTION_INVALID, option="--host",
                    reason=f"{self.host} can be reached from other machines: start the "
                    "server with an access token (--token or INSIGHTOME_TOKEN) or a users "
                    "file (--users FILE, made with --add-user); refusing to start without one",
                )  # fmt: skip
            return replace(self, token=secrets.token_urlsafe(24), token_generated=True)
        return self

    def prepared(self) -> ServerSettings:
        """The data directory made (0700) and the paths absolute."""
        data_dir = self.data_dir.expanduser().resolve()
        if data_dir.exists() and not data_dir.is_dir():
            raise UserError(
                errors.OPTION_INVALID, option="--data-dir", reason=f"{data_dir} is a file"
            )
        data_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(data_dir, 0o700)
        return replace(self, data_dir=data_dir)
