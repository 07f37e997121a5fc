"""A real ``insightome serve`` for the browser tests: the CLI in a subprocess, two users.

Nothing optional is imported here at module level, so that tests/web/test_browser.py can
skip itself in one line when Playwright, FastAPI or Chromium is missing.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
USERS = {"alice": "alice-password-1", "bob": "bob-password-22"}
MAX_UPLOAD_MB = 5  # small enough that a 6 MB upload is refused (413)
START_TIMEOUT_S = 30
STOP_TIMEOUT_S = 60


@dataclass
class Server:
    base: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    log: Path

    def uploads(self, user: str) -> Path:
        return self.data_dir / "users" / user / "uploads"

    def audit(self) -> list[dict[str, str]]:
        path = self.data_dir / "audit.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def write_users(path: Path) -> Path:
    from insightome.web.auth import add_user

    add_user(path, "alice", USERS["alice"], owner=True)
    add_user(path, "bob", USERS["bob"])
    return path


def start_server(root: Path, users: Path) -> Server:
    """``insightome serve --users USERS --n-jobs 2 --max-upload-mb 5`` on a free port, its
    data in ``root/data`` and its output in ``root/server.log``, once GET /login answers."""
    data_dir, log, port = root / "data", root / "server.log", _free_port()
    executable = Path(sys.executable).with_name("insightome")
    command = [
        str(executable), "serve", "--data-dir", str(data_dir), "--port", str(port),
        "--users", str(users), "--n-jobs", "2", "--max-upload-mb", str(MAX_UPLOAD_MB),
    ]  # fmt: skip
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while not _answers(f"{base}/login"):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait()
            pytest.fail(f"insightome serve did not answer in {START_TIMEOUT_S} s:\n"
                        + log.read_text(errors="replace"))  # fmt: skip
        time.sleep(0.2)
    return Server(base, data_dir.resolve(), process, log)


def stop_server(server: Server) -> int:
    """SIGTERM, then the exit status; fails when the server takes over a minute to exit."""
    server.process.send_signal(signal.SIGTERM)
    try:
        return server.process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
        pytest.fail(f"insightome serve did not exit within {STOP_TIMEOUT_S} s of SIGTERM")


@pytest.fixture(scope="module")
def live_server(tmp_path_factory) -> Server:
    """One server for the module (alice, the data directory's owner, and bob), stopped with
    SIGTERM at the end: it must exit within a minute, its queue stopped (the audit log's
    last line)."""
    root = tmp_path_factory.mktemp("workbench")
    server = start_server(root, write_users(root / "users.json"))
    yield server
    stop_server(server)
    actions = [line["action"] for line in server.audit()]
    assert actions[-1] == "server stopped", server.log.read_text(errors="replace")


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium (never a browser Playwright downloads)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def log_in(browser, live_server):
    """``log_in(user)``: a page of a new browser context (1280x900), logged in as ``user``
    through the login form. The contexts are closed after the test."""
    contexts = []

    def open_as(user: str | None):
        context = browser.new_context(viewport={"width": 1280, "height": 900},
                                      accept_downloads=True)  # fmt: skip
        context.set_default_timeout(30_000)
        contexts.append(context)
        page = context.new_page()
        if user is not None:
            page.goto(f"{live_server.base}/login")
            page.fill("#user", user)
            page.fill("#password", USERS[user])
            page.click("form[action='/login'] button[type=submit]")
            page.wait_for_url(f"{live_server.base}/u/{user}/")
        return page

    yield open_as
    for context in contexts:
        context.close()


def require_browser_or_skip() -> None:
    """Skip the calling module in one line when Chromium is absent (fail instead with
    INSIGHTOME_REQUIRE_BROWSER=1, as CI sets it once .ci/run has installed Chromium)."""
    if CHROMIUM.exists():
        return
    message = "Chromium not installed (apt-get install chromium); .ci/run installs it"
    if os.environ.get("INSIGHTOME_REQUIRE_BROWSER") == "1":
        pytest.fail(message + " (INSIGHTOME_REQUIRE_BROWSER=1)", pytrace=False)
    pytest.skip(message, allow_module_level=True)
