"""The workbench's web application (FastAPI, pages rendered on the server with Jinja2).

:func:`create_app` wires the settings, the users, the signer, the audit log and the job
queue into one :class:`Workbench` and registers the pages (:mod:`insightome.web.pages`).
Every page under ``/u/<user>/`` needs a session of that user (another user gets 403, logged);
every POST needs the session's CSRF token; request bodies are limited before they are read.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from insightome.number_format import fmt_number
from insightome.web import pages, storage
from insightome.web.audit_log import AuditLog
from insightome.web.auth import (
    Session,
    Signer,
    User,
    dummy_hash,
    read_users,
    server_secret,
    token_ok,
    verify_password,
)
from insightome.web.bench import COOKIE, Workbench
from insightome.web.jobs import JobQueue
from insightome.web.pages import UPLOAD_ROLES
from insightome.web.settings import TOKEN_USER, ServerSettings, is_loopback
from insightome.web.storage import Refused

FORM_LIMIT = 1 << 20  # a POST other than an upload: 1 MB
MAX_FAILURES, FAILURE_WINDOW_S = 10, 600.0  # failed logins from one address, in 10 minutes
MAX_TRACKED = 10_000  # addresses × names remembered before the stale ones are forgotten
PAGE_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def _users(settings: ServerSettings) -> dict[str, User]:
    if settings.users_file is not None:
        return read_users(settings.users_file)
    return {TOKEN_USER: User(TOKEN_USER, None, True)}


def _templates() -> Environment:
    env = Environment(
        loader=PackageLoader("insightome.web", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = lambda v, spec=".3f": (
        fmt_number(v, spec) if isinstance(v, int | float) and not isinstance(v, bool) else "—"
    )
    env.filters["pct"] = lambda v: "—" if v is None else f"{100 * v:.0f}%"
    env.filters["when"] = _when
    return env


def _when(stamp: str | None) -> str:
    """``2026-12-07T00:48:43+00:00`` → ``2026-12-07 00:48 UTC``."""
    if not stamp:
        return ""
    try:
        return datetime.fromisoformat(stamp).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return stamp


def create_app(settings: ServerSettings, *, start_queue: bool = True) -> FastAPI:
    """The application for ``settings`` (checked and prepared by the caller)."""
    data_dir = settings.data_dir
    compute = {
        "n_jobs": settings.n_jobs,
        "scheduler": settings.scheduler,
        "slurm_config": None if settings.slurm_config is None else str(settings.slurm_config),
    }
    audit = AuditLog(data_dir / "audit.jsonl")
    queue = JobQueue(
        data_dir, concurrency=settings.concurrent_runs, compute=compute,
        resume_interrupted=settings.resume_interrupted,
        on_event=lambda action, job: audit(job["user"], "server", f"job {action}", job["id"]),
    )  # fmt: skip
    mode = "token" if settings.users_file is None else "users"
    signer = Signer(server_secret(data_dir), mode)
    bench = Workbench(settings, _users(settings), signer, audit, queue, _templates())

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if start_queue:  # the server owns the data directory: leftovers of a crash go
            storage.remove_leftovers(data_dir)
            queue.start()
        audit(None, "server", "server started", f"{settings.host}:{settings.port}")
        try:
            yield
        finally:
            if start_queue:
                queue.stop()
            audit(None, "server", "server stopped")

    app = FastAPI(title="insightome", docs_url=None, redoc_url=None, openapi_url=None,
                  lifespan=lifespan)  # fmt: skip
    app.state.bench = bench
    app.mount("/static", StaticFiles(packages=[("insightome.web", "static")]), name="static")
    _middleware(app, bench)
    _login_routes(app, bench)
    pages.register(app, bench)
    return app


def _middleware(app: FastAPI, bench: Workbench) -> None:
    upload_limit = len(UPLOAD_ROLES) * bench.settings.max_upload_bytes + FORM_LIMIT

    hosts = _allowed_hosts(bench.settings)

    @app.middleware("http")
    async def guard(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if hosts is not None and _host_name(request) not in hosts:  # DNS rebinding
            return PlainTextResponse("unknown host name for this server", status_code=400)
        if request.method == "POST":
            if _cross_site(request, bench.settings.public_url):  # CSRF, the login's included
                bench.log(request, "request refused", request.url.path, "cross-site")
                return PlainTextResponse("cross-site form refused", status_code=403)
            length = request.headers.get("content-length")
            limit = upload_limit if request.url.path.endswith("/upload") else FORM_LIMIT
            if length is None or not length.isdigit():
                return PlainTextResponse("a POST needs a Content-Length", status_code=411)
            if int(length) > limit:
                bench.log(request, "request refused", request.url.path, "too large")
                return PlainTextResponse(
                    f"request too large (this server's limit: {limit / 2**20:.0f} MB)",
                    status_code=413,
                )
        request.state.session = bench.signer.read_session(request.cookies.get(COOKIE))
        if request.state.session is not None and request.state.session.user not in bench.users:
            request.state.session = None
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", PAGE_CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"  # forms then send their Origin
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> Response:
        bench.log(request, "refused", request.url.path, f"{exc.status}: {exc.message}")
        return bench.render(request, "error.html.j2", exc.status, message=exc.message)


def _host_name(request: Request) -> str:
    """The request's Host header without its port (``[::1]:8765`` → ``::1``)."""
    host = request.headers.get("host", "").lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0]


def _allowed_hosts(settings: ServerSettings) -> set[str] | None:
    """The Host names the server answers: on loopback its own names and ``--public-url``'s
    (a reverse proxy may pass either); otherwise any (None)."""
    if not is_loopback(settings.host):
        return None
    hosts = {"127.0.0.1", "localhost", "::1", settings.host.lower()}
    if settings.public_url:
        hosts.add((urlsplit(settings.public_url).hostname or "").lower())
    return hosts


def _cross_site(request: Request, public_url: str | None) -> bool:
    """A POST a browser sent from another site: its Sec-Fetch-Site says so, or its Origin is
    neither the Host it asked for nor ``--public-url`` (behind a proxy that rewrites Host)."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        return True
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin == "null"
    given = _origin(origin)
    if public_url and given == _origin(public_url):
        return False
    return given != _origin(f"{request.url.scheme}://{request.headers.get('host', '')}")


def _origin(url: str) -> tuple[str, str, int | None]:
    """Scheme, host name and effective port of a URL (``https://x.org`` = ``…:443``)."""
    try:
        parts = urlsplit(url)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        return ("", "", None)
    return (parts.scheme, (parts.hostname or "").lower(), port)


def _login(bench: Workbench, request: Request, user: str) -> Response:
    response = RedirectResponse(f"/u/{user}/", status_code=303)
    response.set_cookie(
        COOKIE, bench.signer.session_cookie(user), httponly=True, samesite="strict",
        secure=request.url.scheme == "https", max_age=12 * 3600,
    )  # fmt: skip
    return response


class _Failures:
    """Login attempts per client address and user name: more than :data:`MAX_FAILURES`
    failed in :data:`FAILURE_WINDOW_S` and that address waits for that name (HTTP 429)."""

    def __init__(self) -> None:
        self._times: dict[str, deque[float]] = {}

    def _recent(self, client: str) -> deque[float]:
        if len(self._times) > MAX_TRACKED:  # forget the keys whose window has passed
            now = time.monotonic()
            self._times = {
                k: t for k, t in self._times.items() if t and now - t[-1] < FAILURE_WINDOW_S
            }
        times = self._times.setdefault(client, deque())
        while times and time.monotonic() - times[0] > FAILURE_WINDOW_S:
            times.popleft()
        return times

    def blocked(self, client: str) -> bool:
        return len(self._recent(client)) >= MAX_FAILURES

    def add(self, client: str) -> None:
        self._recent(client).append(time.monotonic())

    def forget_one(self, client: str) -> None:
        times = self._recent(client)
        if times:
            times.pop()


def _login_routes(app: FastAPI, bench: Workbench) -> None:
    token_mode = bench.settings.users_file is None
    failures = _Failures()
    scrypt_slots = asyncio.Semaphore(2)  # password checks at a time (32 MiB each)

    @app.get("/")
    async def root(request: Request) -> Response:
        session: Session | None = request.state.session
        return RedirectResponse(f"/u/{session.user}/" if session else "/login", status_code=303)

    @app.get("/login")
    async def login_page(request: Request, token: str | None = None) -> Response:
        if token is None:
            return bench.render(request, "login.html.j2", token_mode=token_mode, error=None)
        # the link the server printed: counted like a login form
        return await attempt(
            request, TOKEN_USER, lambda: token_mode and token_ok(token, bench.settings.token)
        )

    @app.post("/login")
    async def login(request: Request) -> Response:
        form = await request.form()
        if token_mode:
            given = str(form.get("token", ""))
            return await attempt(request, TOKEN_USER, lambda: token_ok(given, bench.settings.token))
        user, password = str(form.get("user", "")), str(form.get("password", ""))
        known = bench.users.get(user)
        stored = known.password if known is not None and known.password else dummy_hash()
        return await attempt(
            request, user, lambda: verify_password(password, stored) and known is not None
        )

    async def attempt(request: Request, user: str, check: Callable[[], bool]) -> Response:
        """One login: refused while this address has failed too often for this name; the
        attempt counts before it is checked (so concurrent guesses count too), and a
        success takes it back."""
        client = request.client.host if request.client else "-"
        shown = user if user in bench.users else "(unknown user)"  # never log a typed secret
        key = f"{client}|{shown}"  # a typed name is no key: memory stays bounded
        if failures.blocked(key):
            bench.log(request, "login refused", shown, "too many failed logins")
            wait = "too many failed logins; wait 10 minutes"
            return bench.render(request, "login.html.j2", 429, token_mode=token_mode, error=wait)
        failures.add(key)
        async with scrypt_slots:  # queued guesses wait here, not in the shared threads
            ok = await run_in_threadpool(check)  # scrypt off the event loop
        if not ok:
            bench.log(request, "login failed", shown, "refused")
            return bench.render(request, "login.html.j2", 401, token_mode=token_mode,
                                error="not a valid login")  # fmt: skip
        failures.forget_one(key)
        bench.log(request, "login", user)
        return _login(bench, request, user)

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        session = request.state.session
        form = await request.form()
        if session is None or not bench.signer.csrf_ok(session, str(form.get("csrf", ""))):
            raise Refused(403, "the form's security token is missing or stale; reload the page")
        bench.log(request, "logout", session.user)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response
