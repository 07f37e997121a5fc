"""The workbench end to end in real headless Chromium: a user logs in, uploads ACTG 175,
checks and launches a run, follows it live, reads and downloads it; another user is kept
out; refused uploads write nothing; and (INSIGHTOME_SCREENSHOTS=1) the pages are
photographed into docs/screenshots/.

The server is the real ``insightome serve`` in a subprocess (tests/web/conftest.py); the
browser is Debian's Chromium (/usr/bin/chromium; .ci/run installs it), never a download.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed (pip install -e '.[web]')")
pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")

from tests.web.conftest import (
    MAX_UPLOAD_MB,
    require_browser_or_skip,
    start_server,
    stop_server,
    write_users,
)

require_browser_or_skip()

pytestmark = pytest.mark.slow

RUN_TIMEOUT_MS = 150_000
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
#: What the main path fills in (the form's inputs are ``#in-<option>``).
OPTIONS = {
    "target": "cens",
    "sensitive": "gender,race",
    "id_column": "pidnum",
    "exclude": "days,cd420,cd496,r,cd820,offtrt,treat",
    "folds": "3",
    "repeats": "1",
}


@pytest.fixture(scope="module")
def journey() -> dict[str, Any]:
    """What the main path saw and made (its job page while running, its run), for the
    tests after it."""
    return {}


def _actg175() -> Path:
    from insightome.cli.app import demo_data_path

    return demo_data_path()


def _dataset_names(uploads: Path) -> set[str]:
    """The uploaded datasets (hidden temporary folders excepted)."""
    return {p.name for p in uploads.iterdir() if not p.name.startswith(".")}


def _fill_options(page, values: dict[str, str], preset: str = "fast") -> None:
    """Fill the run form; a field under the closed "More options" is opened first."""
    for name, value in values.items():
        field = page.locator(f"#in-{name}")
        assert field.count() == 1, f"the form has no field for --{name.replace('_', '-')}"
        if not field.is_visible():
            page.locator("#options details > summary").first.click()
        field.fill(value)
    page.select_option("#in-preset", preset)


def _upload(page, live_server, files) -> object:
    """Choose ``files`` for the data field, submit, and return the upload's response."""
    page.goto(f"{live_server.base}/u/alice/")
    page.set_input_files("#data", files)
    with page.expect_response(
        lambda r: r.url.endswith("/u/alice/upload") and r.request.method == "POST"
    ) as answer:
        page.click("#upload button[type=submit]")
    page.wait_for_load_state()
    return answer.value


def _wait_for_end(page) -> None:
    """Wait (150 s at most) until the job page shows where its run ended."""
    page.wait_for_selector("#open-run, #job-error", timeout=RUN_TIMEOUT_MS)
    error = page.locator("#job-error")
    assert error.count() == 0, f"the job ended with: {error.inner_text()}"


def test_main_path_upload_check_launch_follow_read_download(live_server, log_in, journey, tmp_path):
    page = log_in("alice")
    assert page.locator("header .who").inner_text() == "alice"

    # upload: the preview names the table's samples and columns
    response = _upload(page, live_server, _actg175())
    assert response.status == 303
    page.wait_for_url(re.compile(r"/u/alice/datasets/[^/]+$"))
    assert page.locator("h1").inner_text() == "ACTG175.csv"
    assert page.locator("section.card .facts b").first.inner_text() == "2139"
    columns = page.locator("#columns-table tbody tr td:first-child").all_inner_texts()
    assert {"cens", "pidnum", "gender", "race", "cd40"} <= set(columns), columns

    # check: the study and the leakage screen the run would make
    _fill_options(page, OPTIONS)
    page.click("#check")
    result = page.locator("#check-result")
    result.wait_for()
    assert result.locator("h2").inner_text() == "Before the run"
    assert "Leakage screen" in result.locator("h3").inner_text()
    assert result.locator("#leakage, p.ok").count() == 1
    assert "2139" in result.locator(".facts").inner_text()
    assert page.locator("#in-target").input_value() == "cens"  # the form kept its values

    # launch: the job page follows the run live, then offers the run
    page.click("#launch")
    page.wait_for_url(re.compile(r"/u/alice/jobs/[^/]+$"))
    # (the page's CSP forbids eval, so no wait_for_function: locators only)
    page.locator("#stages li.done, #job-status.finished").first.wait_for(timeout=RUN_TIMEOUT_MS)
    if page.locator("#stages li.done").count():  # caught while running: drawn by the poll
        assert page.locator("#progress").is_visible()
        journey["running_page"] = {
            "status": page.locator("#job-status").inner_text(),
            "queued_note": page.locator("#queued-note").is_visible(),
            "stop": page.locator("#stop").inner_text() if page.locator("#stop").count() else "",
        }
        assert page.locator("#job-status").inner_text() in ("running", "finished")
        assert page.locator("#stages li").count() > page.locator("#stages li.done").count()
    _wait_for_end(page)  # the poll saw the end and reloaded the page
    assert page.locator("#job-status").inner_text() == "finished"
    assert page.locator("#stop").count() == 0

    # the run page: its estimate, the report, the zip
    page.click("#open-run")
    page.wait_for_url(re.compile(r"/u/alice/runs/[^/]+$"))
    run = page.url.rsplit("/", 1)[1]
    journey["run"] = run
    results = json.loads((live_server.data_dir / "runs" / run / "results.json").read_text())
    metric = results["estimate"]["metric"]
    estimate = page.locator("#estimate").inner_text()
    assert metric.lower() in estimate.lower() and "95% CI" in estimate, estimate
    assert f"{results['estimate']['value']:.3f}" in estimate, estimate

    page.click("#report-link")
    page.wait_for_url(f"**/u/alice/runs/{run}/files/report.html")
    assert page.title().startswith("insightome report"), page.title()
    assert "ACTG175-cens" in page.locator("h1").first.inner_text()

    page.goto(f"{live_server.base}/u/alice/runs/{run}")
    with page.expect_download() as download:
        page.click("#download")
    archive = tmp_path / download.value.suggested_filename
    download.value.save_as(archive)
    assert archive.name == f"{run}.zip"
    with zipfile.ZipFile(archive) as opened:
        names = opened.namelist()
        assert opened.testzip() is None
    assert {n.split("/", 1)[0] for n in names} == {run}, names
    assert {f"{run}/results.json", f"{run}/report.html"} <= set(names), names


def test_another_user_cannot_open_the_run(live_server, log_in, journey):
    run = journey.get("run")
    if run is None:
        pytest.skip("the main path made no run")
    page = log_in("bob")
    for path in (f"/u/alice/runs/{run}", "/u/alice/"):
        response = page.goto(f"{live_server.base}{path}")
        assert response.status == 403, path
        assert "belong to another user" in page.locator(".error").inner_text()
    for path in (f"/u/alice/runs/{run}/download", f"/u/alice/runs/{run}/files/report.html"):
        assert page.request.get(f"{live_server.base}{path}").status == 403, path
    page.goto(f"{live_server.base}/u/bob/")
    assert run not in page.content()  # not in bob's own list either


def test_refused_uploads_write_nothing(live_server, log_in, tmp_path):
    page = log_in("alice")
    uploads = live_server.uploads("alice")
    before = _dataset_names(uploads)

    def refused_next_to_data(status: int, response) -> str:
        assert response.status == status
        assert page.locator(".field.invalid #data").count() == 1
        assert _dataset_names(uploads) == before
        return page.locator(".field.invalid .error").inner_text()

    # (a) a file name that is a path: the browser sends it as is, the server refuses it
    evil = {"name": "../../evil.csv", "mimeType": "text/csv", "buffer": b"a,b\n1,2\n"}
    message = refused_next_to_data(400, _upload(page, live_server, evil))
    assert "'../../evil.csv'" in message and "not a path" in message, message
    csrf = page.locator("#upload input[name=csrf]").input_value()
    direct = page.request.post(f"{live_server.base}/u/alice/upload",
                               multipart={"csrf": csrf, "data": evil})  # fmt: skip
    assert direct.status == 400
    assert _dataset_names(uploads) == before
    assert not (live_server.data_dir / "users" / "evil.csv").exists()

    # (b) larger than --max-upload-mb: 413, said next to the field
    big = tmp_path / "big.csv"
    row = b"1.5,2.5,3.5,4.5\n"
    big.write_bytes(b"a,b,c,d\n" + row * ((MAX_UPLOAD_MB + 1) * 2**20 // len(row)))
    message = refused_next_to_data(413, _upload(page, live_server, big))
    assert f"upload limit of {MAX_UPLOAD_MB} MB" in message, message

    # (c) a table insightome's reader refuses: the page says what the CLI says
    bad = tmp_path / "dup.csv"
    bad.write_text("a,a,b\n1,2,3\n4,5,6\n")
    cli = subprocess.run(
        [str(Path(sys.executable).with_name("insightome")), "run", bad.name, "--target", "a"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert cli.returncode == 2, cli.stderr
    cli_line = cli.stderr.strip().splitlines()[-1].removeprefix("error: ")
    message = refused_next_to_data(400, _upload(page, live_server, bad))
    assert message == cli_line


def test_run_page_and_home_name_the_outcome_and_samples(live_server, log_in, journey):
    run = journey.get("run")
    if run is None:
        pytest.skip("the main path made no run")
    results = json.loads((live_server.data_dir / "runs" / run / "results.json").read_text())
    page = log_in("alice")
    page.goto(f"{live_server.base}/u/alice/runs/{run}")
    facts = page.locator("#estimate + .facts").inner_text()
    page.goto(f"{live_server.base}/u/alice/")
    outcome = page.locator("#runs tbody tr", has_text=run).locator("td").nth(2).inner_text()
    expected = f"{results['n_samples']} samples · outcome cens · task {results['task']}"
    assert facts.startswith(expected), facts
    assert outcome.startswith("cens"), outcome


def test_job_page_drawn_by_the_poll_says_running_not_queued(journey):
    seen = journey.get("running_page")
    if seen is None or seen["status"] != "running":
        pytest.skip("the main path did not catch its job page while running")
    # the page polled while queued reloads when the job starts: no "waiting" note, and Stop
    assert not seen["queued_note"]
    assert seen["stop"] == "Stop (keeps its checkpoint)"


def test_sigterm_stops_the_server_cleanly(tmp_path):
    server = start_server(tmp_path, write_users(tmp_path / "users.json"))
    status = stop_server(server)  # within a minute, else it fails
    assert server.audit()[-1]["action"] == "server stopped"  # the queue was stopped
    said = server.log.read_text(errors="replace")
    assert status == 0, said
    assert "interrupted" not in said and "error" not in said.lower(), said


def test_screenshots(live_server, log_in):
    if os.environ.get("INSIGHTOME_SCREENSHOTS") != "1":
        pytest.skip("screenshots are written with INSIGHTOME_SCREENSHOTS=1")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def shoot(page, name: str) -> None:
        page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)

    page = log_in(None)
    page.goto(f"{live_server.base}/login")
    shoot(page, "login")
    page = log_in("alice")
    assert _upload(page, live_server, _actg175()).status == 303
    _fill_options(page, OPTIONS)
    page.click("#check")
    page.locator("#check-result").wait_for()
    shoot(page, "options")

    page.click("#launch")
    page.wait_for_url(re.compile(r"/u/alice/jobs/[^/]+$"))
    under_way = page.locator("#step-text").filter(has_text=re.compile(r": [1-9]\d* / \d+"))
    under_way.or_(page.locator("#job-status.finished")).first.wait_for(timeout=RUN_TIMEOUT_MS)
    shoot(page, "progress")
    _wait_for_end(page)
    page.click("#open-run")
    page.wait_for_url(re.compile(r"/u/alice/runs/[^/]+$"))
    shoot(page, "run")
    page.goto(f"{live_server.base}/u/alice/")
    assert page.locator("#runs tbody tr").count() >= 1
    shoot(page, "home")
    for name in ("login", "options", "progress", "run", "home"):
        assert (SCREENSHOTS / f"{name}.png").stat().st_size > 10_000, name
