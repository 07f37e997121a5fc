"""The workbench's shared state: what every page needs (:class:`Workbench`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment

from insightome import __version__
from insightome.web.audit_log import AuditLog
from insightome.web.auth import Signer, User
from insightome.web.jobs import JobQueue
from insightome.web.settings import ServerSettings
from insightome.web.storage import Space

COOKIE = "insightome_session"


@dataclass
class Workbench:
    """What every page needs."""

    settings: ServerSettings
    users: dict[str, User]
    signer: Signer
    audit: AuditLog
    queue: JobQueue
    templates: Environment

    def space(self, user: str) -> Space:
        return Space(self.settings.data_dir, user, self.users[user].owner).make()

    def render(
        self, request: Request, name: str, status: int = 200, **context: Any
    ) -> HTMLResponse:
        session = getattr(request.state, "session", None)
        html = self.templates.get_template(name).render(
            request=request, session=session, version=__version__,
            csrf=self.signer.csrf_token(session) if session else "", **context,
        )  # fmt: skip
        return HTMLResponse(html, status_code=status)

    def log(self, request: Request, action: str, target: str = "", outcome: str = "ok") -> None:
        session = getattr(request.state, "session", None)
        client = request.client.host if request.client else None
        self.audit(session.user if session else None, client, action, target, outcome)
