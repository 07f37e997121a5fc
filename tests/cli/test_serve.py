"""``insightome serve``: the refusals before it starts (one line, exit 2, nothing written),
the users file, and a real server process started, logged into and stopped."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from insightome import errors
from tests.conftest import without_module

pytest.importorskip("fastapi", reason="the web extra is not installed")

import httpx

from insightome.web.auth import read_users, verify_password

ROOT = Path(__file__).resolve().parents[2]


def _one_line(result, *needles: str) -> None:
    assert result.code == errors.EXIT_USER_ERROR, result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    for needle in needles:
        assert needle in lines[0]


def test_other_than_loopback_it_refuses_to_start_without_a_token(cli, tmp_path):
    data = tmp_path / "data"
    _one_line(cli("serve", "--host", "0.0.0.0", "--data-dir", data), "--host", "access token")
    assert not data.exists()


def test_a_short_token_and_a_token_with_users_are_refused(cli, tmp_path):
    _one_line(cli("serve", "--token", "short", "--data-dir", tmp_path / "d"), "--token", "16")
    users = tmp_path / "users.json"
    _one_line(cli("serve", "--token", "x" * 20, "--users", users, "--data-dir", tmp_path / "d"),
              "--token", "not both")  # fmt: skip


def test_a_port_in_use_is_refused_in_one_line(cli, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        _one_line(cli("serve", "--port", port, "--data-dir", tmp_path / "d"), f"--port {port}")


@pytest.mark.filterwarnings("ignore::getpass.GetPassWarning")  # stdin is not a terminal here
def test_add_user_writes_a_private_users_file_with_a_hashed_password(cli, tmp_path, monkeypatch):
    users = tmp_path / "users.json"
    _one_line(cli("serve", "--add-user", "alice"), "--users")
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("s3cret-pass-1\ns3cret-pass-1\n"))
    result = cli("serve", "--users", users, "--add-user", "alice", "--owner")
    assert result.code == 0, result.err
    assert oct(users.stat().st_mode & 0o777) == "0o600"
    assert "s3cret-pass-1" not in users.read_text()
    alice = read_users(users)["alice"]
    assert alice.owner and verify_password("s3cret-pass-1", alice.password)
    assert not verify_password("s3cret-pass-2", alice.password)
    _one_line(cli("serve", "--users", users, "--add-user", "Bad Name"), "--add-user")


def test_without_the_web_extra_one_line(tmp_path):
    code = without_module("fastapi") + (
        "from insightome.cli.app import main\n"
        f"sys.argv = ['insightome', 'serve', '--data-dir', {str(tmp_path / 'd')!r}]\nmain()\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert done.returncode == errors.EXIT_USER_ERROR, done.stderr
    assert done.stderr.strip() == f"error: {errors.WEB_EXTRA_MISSING}"
    assert not (tmp_path / "d").exists()


def test_a_real_server_prints_its_login_link_and_stops_cleanly(tmp_path):
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    data = tmp_path / "data"
    server = subprocess.Popen(
        [sys.executable, "-m", "insightome.cli.app", "serve", "--port", str(port),
         "--data-dir", str(data)],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        lines: queue.Queue[str] = queue.Queue()  # read by a thread: a wait never hangs
        threading.Thread(target=lambda: [lines.put(x) for x in server.stderr], daemon=True).start()
        link = None
        deadline = time.monotonic() + 60
        while link is None and time.monotonic() < deadline:
            try:
                line = lines.get(timeout=1.0)
            except queue.Empty:
                continue
            match = re.search(r"(http://127\.0\.0\.1:\d+/login\?token=\S+)", line)
            link = match.group(1) if match else None
        assert link is not None, "no login link printed"
        response = None
        for _ in range(300):
            try:
                response = httpx.get(link, follow_redirects=False)
                break
            except httpx.ConnectError:
                time.sleep(0.1)
        assert response is not None, "the server did not accept connections within 30 s"
        assert response.status_code == 303 and response.headers["location"] == "/u/owner/"
        assert "httponly" in response.headers["set-cookie"].lower()
        assert "samesite=strict" in response.headers["set-cookie"].lower()
        wrong = httpx.get(link[:-4] + "abcd", follow_redirects=False)
        assert wrong.status_code == 401
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0
        time.sleep(0.5)  # the reader thread takes the last lines
        said = "".join(lines.get_nowait() for _ in range(lines.qsize()))
        assert "workbench stopped" in said
    assert oct(data.stat().st_mode & 0o777) == "0o700"
    assert oct((data / ".secret").stat().st_mode & 0o777) == "0o600"
    actions = [json.loads(x)["action"] for x in (data / "audit.jsonl").read_text().splitlines()]
    assert actions[0] == "server started" and actions[-1] == "server stopped"
    assert "login" in actions and "login failed" in actions
