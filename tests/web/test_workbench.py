"""The workbench's pages and its security, through Starlette's test client (no browser; the
browser tests are test_browser.py): logins, per-user folders, CSRF, upload limits and
refusals, paths from requests, the options form's messages, the check before a launch, and
runs from the command line shown to the data directory's owner."""

from __future__ import annotations

import io
import json
import re
import time
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed")

from fastapi.testclient import TestClient

from insightome.errors import UserError
from insightome.io import read
from insightome.io.images import IMAGE_ROOT, read_image
from insightome.web import app as app_module
from insightome.web import pages, storage
from insightome.web.app import create_app
from insightome.web.auth import Signer, add_user
from insightome.web.settings import ServerSettings
from insightome.workflow import run

BASE = "http://127.0.0.1:8765"  # a loopback server answers its own host names only
ALICE, BOB = ("alice", "alice-password-1"), ("bob", "bob-password-22")
TABLE = b"id,age,sex,marker,outcome\n" + b"".join(
    f"p{i},{40 + i % 30},{'F' if i % 2 else 'M'},{(i * 7) % 13 / 3:.2f},{i % 3 == 0:d}\n".encode()
    for i in range(60)
)


@pytest.fixture
def server(tmp_path: Path) -> ServerSettings:
    users = tmp_path / "users.json"
    add_user(users, *ALICE, owner=True)
    add_user(users, *BOB)
    return ServerSettings(tmp_path / "data", users_file=users, max_upload_mb=1).checked().prepared()


def _client(settings: ServerSettings, who: tuple[str, str] | None = ALICE) -> TestClient:
    client = TestClient(create_app(settings, start_queue=False), base_url=BASE,
                        follow_redirects=False)  # fmt: skip
    if who is not None:
        response = client.post("/login", data={"user": who[0], "password": who[1]})
        assert response.status_code == 303, response.text
    return client


def _csrf(client: TestClient, user: str = "alice") -> str:
    page = client.get(f"/u/{user}/").text
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def _upload(client: TestClient, name: str, content: bytes, role: str = "data", **extra: bytes):
    files = {role: (name, content, "text/csv")}
    files.update({r: (f"{r}.csv", c, "text/csv") for r, c in extra.items()})
    return client.post("/u/alice/upload", data={"csrf": _csrf(client)}, files=files)


def _uploads(settings: ServerSettings) -> list[str]:
    folder = settings.data_dir / "users" / "alice" / "uploads"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_pages_need_a_login_and_a_wrong_password_is_refused_and_logged(server):
    client = _client(server, None)
    assert client.get("/u/alice/").headers["location"] == "/login"
    refused = client.post("/login", data={"user": "alice", "password": "wrong-password"})
    assert refused.status_code == 401 and "not a valid login" in refused.text
    assert "insightome_session" not in refused.cookies
    log = [json.loads(x) for x in (server.data_dir / "audit.jsonl").read_text().splitlines()]
    assert {"action": "login failed", "target": "alice", "outcome": "refused"}.items() <= log[
        -1
    ].items()
    assert _client(server).get("/u/alice/").status_code == 200


def test_another_users_pages_are_forbidden(server):
    bob = _client(server, BOB)
    assert bob.get("/u/bob/").status_code == 200
    for url in ("/u/alice/", "/u/alice/runs/anything", "/u/alice/datasets/x", "/u/alice/jobs/x"):
        response = bob.get(url)
        assert response.status_code == 403, url
        assert "belong to another user" in response.text
    log = (server.data_dir / "audit.jsonl").read_text()
    assert '"user": "bob"' in log and "403: these pages belong to another user" in log


def test_a_form_without_its_csrf_token_is_refused_and_writes_nothing(server):
    client = _client(server)
    response = client.post(
        "/u/alice/upload", data={"csrf": "forged"}, files={"data": ("t.csv", TABLE, "text/csv")}
    )
    assert response.status_code == 403 and "security token" in response.text
    assert _uploads(server) == []


@pytest.mark.parametrize(
    ("name", "content", "status", "says"),
    [
        ("../../evil.csv", TABLE, 400, "not a path"),
        ("..\\evil.csv", TABLE, 400, "not a path"),
        (".hidden.csv", TABLE, 400, "not a path"),
        ("table.exe", TABLE, 400, "a data table must be one of"),
        ("table.xlsx", TABLE, 400, "its content is not a .xlsx file"),
        ("empty.csv", b"", 400, "the file is empty"),
        ("big.csv", b"a,b\n" + b"1,2\n" * 300_000, 413, "upload limit of 1 MB"),
    ],
)
def test_refused_uploads_leave_nothing_behind(server, name, content, status, says):
    response = _upload(_client(server), name, content)
    assert response.status_code == status
    assert says in response.text
    assert re.search(r'class="field invalid"', response.text)  # shown next to the field
    assert _uploads(server) == []


def test_a_malformed_table_gets_the_cli_message_next_to_the_field(server, tmp_path):
    bad = b"id,a,a,b\n1,2,3,4\n2,5,6,7\n"
    (tmp_path / "dup.csv").write_bytes(bad)
    with pytest.raises(Exception) as cli:
        read(tmp_path / "dup.csv")
    expected = str(cli.value).replace(f"{tmp_path}/", "")
    response = _upload(_client(server), "dup.csv", bad)
    assert response.status_code == 400
    field = re.search(r'<div class="field invalid">.*?</div>', response.text, re.S).group(0)
    assert 'name="data"' in field
    assert expected.replace("'", "&#39;") in field
    assert _uploads(server) == []


def test_a_request_body_over_the_limit_is_refused_before_it_is_read(server):
    client = _client(server)
    response = client.post("/logout", content=b"x" * (2 << 20))
    assert response.status_code == 413


def test_paths_from_urls_never_leave_the_users_folder(server):
    (server.data_dir / "users" / "alice").mkdir(parents=True, exist_ok=True)
    client = _client(server)
    for url in (
        "/u/alice/runs/..%2F..%2F.secret/files/x",
        "/u/alice/runs/.secret/download",
        "/u/alice/datasets/..%2Fjobs",
        "/u/alice/jobs/..%2F..%2F..%2Faudit.jsonl",
    ):
        response = client.get(url)
        assert response.status_code in (400, 403, 404), url
        assert server.data_dir.joinpath(".secret").read_text() not in response.text


def test_pages_carry_a_content_security_policy(server):
    response = _client(server).get("/u/alice/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    # same-origin: a browser's form posts carry the page's Origin (no-referrer would make it
    # "null", which is refused as a page of no site)
    assert response.headers["referrer-policy"] == "same-origin"


def _dataset(client: TestClient) -> str:
    response = _upload(client, "cohort.csv", TABLE)
    assert response.status_code == 303, response.text
    return response.headers["location"]


def test_preview_shows_columns_and_missingness_but_no_row(server):
    client = _client(server)
    page = client.get(_dataset(client)).text
    assert "<b>60</b> samples" in page
    assert "samples-by-features" in page
    for column in ("age", "marker", "sex", "outcome"):
        assert f"<td>{column}</td>" in page
    assert "p17" not in page  # no sample ID, no row of the table


def test_an_option_out_of_range_is_shown_next_to_its_field(server):
    client = _client(server)
    url = _dataset(client)
    response = client.post(
        url + "/check", data={"csrf": _csrf(client), "target": "outcome", "folds": "1"}
    )
    assert response.status_code == 400
    field = re.search(r'<div class="field invalid" id="field-folds">.*?</div>', response.text, re.S)
    assert field and "--folds: must be &gt;= 2" in field.group(0)


def test_a_launch_needs_the_check_of_the_same_options(server):
    client = _client(server)
    url = _dataset(client)
    form = {"csrf": _csrf(client), "target": "outcome", "sensitive": "sex", "id_column": "id",
            "preset": "fast", "discover": "on", "audit": "on"}  # fmt: skip
    checked = client.post(url + "/check", data=form)
    assert checked.status_code == 200
    assert 'id="check-result"' in checked.text and "Leakage screen" in checked.text
    signed = re.search(r'name="checked" value="([^"]+)"', checked.text).group(1)
    changed = client.post(url + "/launch", data={**form, "target": "age", "checked": signed})
    assert changed.status_code == 200 and "changed since the check" in changed.text
    jobs = server.data_dir / "users" / "alice" / "jobs"
    assert not any(jobs.iterdir())
    launched = client.post(url + "/launch", data={**form, "checked": signed})
    assert launched.status_code == 303
    (job,) = [json.loads((p / "job.json").read_text()) for p in jobs.iterdir()]
    assert job["status"] == "queued" and job["kind"] == "run"
    assert job["options"] == {"target": "outcome", "sensitive": ["sex"], "id_column": "id",
                              "preset": "fast"}  # fmt: skip
    assert job["runs_dir"] == str(server.data_dir / "runs")  # alice owns the data directory


def test_the_leakage_screen_is_shown_before_the_run(server):
    leaky = b"id,marker,outcome,outcome_copy\n" + b"".join(
        f"p{i},{i % 7},{i % 2},{i % 2}\n".encode() for i in range(60)
    )
    client = _client(server)
    response = _upload(client, "leaky.csv", leaky)
    page = client.post(
        response.headers["location"] + "/check",
        data={"csrf": _csrf(client), "target": "outcome", "id_column": "id",
              "discover": "on", "audit": "on"},
    ).text  # fmt: skip
    table = re.search(r'<table class="list" id="leakage">.*?</table>', page, re.S).group(0)
    assert "<td>outcome_copy</td>" in table


def _cli_run(server: ServerSettings, tmp_path: Path):
    """A quick run of TABLE made by the Python API into the owner's runs folder."""
    data = tmp_path / "cohort.csv"
    data.write_bytes(TABLE)
    runs = server.data_dir / "runs"
    return run(data, "outcome", id_column="id", preset="fast", folds=3, repeats=1,
               n_bootstrap=200, discover=False, audit=False, out_dir=runs)  # fmt: skip


@pytest.mark.slow
def test_runs_from_the_command_line_show_for_the_owner_only(server, tmp_path):
    done = _cli_run(server, tmp_path)
    alice = _client(server).get("/u/alice/").text
    assert done.path.name in alice and 'class="status finished"' in alice
    assert done.path.name not in _client(server, BOB).get("/u/bob/").text
    page = _client(server).get(f"/u/alice/runs/{done.path.name}")
    assert page.status_code == 200 and "BBC-CV" in page.text
    assert "60 samples · outcome <b>outcome</b> · task binary" in page.text
    report = _client(server).get(f"/u/alice/runs/{done.path.name}/files/report.html")
    assert report.status_code == 200 and "sandbox" in report.headers["content-security-policy"]
    archive = _client(server).get(f"/u/alice/runs/{done.path.name}/download")
    assert archive.status_code == 200 and archive.content[:2] == b"PK"
    assert not list((server.data_dir / "users" / "alice").glob(".zip-*"))  # removed once sent


def _images_zip(members: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for name, content in members.items():
            bundle.writestr(name, content)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o120777 << 16) | 0x20  # a symbolic link
            bundle.writestr(info, target)
    return buffer.getvalue()


def _npy(seed: int) -> bytes:
    buffer = io.BytesIO()
    rng = np.random.default_rng(seed)
    np.save(buffer, rng.normal(100 + 10 * (seed % 2), 5, size=(16, 16)))
    return buffer.getvalue()


def _manifest(paths: list[str]) -> bytes:
    rows = "".join(f"p{i},{path},{i % 2}\n" for i, path in enumerate(paths))
    return ("id,image,outcome\n" + rows).encode()


def test_an_images_zip_is_unpacked_beside_its_manifest_and_its_paths_stay_inside(server):
    client = _client(server)
    members = {f"img/p{i}.npy": _npy(i) for i in range(40)}
    response = client.post(
        "/u/alice/upload", data={"csrf": _csrf(client)},
        files={"data": ("manifest.csv", _manifest(list(members)), "text/csv"),
               "images": ("images.zip", _images_zip(members), "application/zip")},
    )  # fmt: skip
    assert response.status_code == 303, response.text
    url = response.headers["location"]
    folder = server.data_dir / "users" / "alice" / "uploads" / url.rsplit("/", 1)[1]
    assert (folder / "img" / "p7.npy").is_file() and not (folder / "images.zip").exists()
    form = {"csrf": _csrf(client), "target": "outcome", "id_column": "id",
            "image_column": "image", "discover": "on", "audit": "on"}  # fmt: skip
    checked = client.post(url + "/check", data=form)
    assert checked.status_code == 200 and 'id="check-result"' in checked.text
    # a manifest that names a file outside its dataset is refused at the check
    other = client.post(
        "/u/alice/upload", data={"csrf": _csrf(client)},
        files={"data": ("escape.csv", _manifest(["../../../../.secret"] * 40), "text/csv")},
    )  # fmt: skip
    refused = client.post(other.headers["location"] + "/check", data=form)
    assert refused.status_code == 400
    field = re.search(r'<div class="field invalid" id="field-image_column">.*?</div>',
                      refused.text, re.S)  # fmt: skip
    assert field and "lies outside this dataset" in field.group(0)


@pytest.mark.parametrize(
    ("zipped", "says"),
    [
        (_images_zip({"../evil.npy": b"x"}), "is refused"),
        (_images_zip({"/abs.npy": b"x"}), "is refused"),
        (_images_zip({}, links={"img/link.npy": "/etc/passwd"}), "is refused"),
        (_images_zip({"manifest.csv": b"x"}), "would replace an uploaded file"),
        (_images_zip({"preview.json/x.npy": b"x"}), "would replace an uploaded file"),
        (_images_zip({"a/x.npy": b"x", "a/x.npy/y": b"y"}), "have the same name"),
        (b"PK\x03\x04 not really a zip", "not a readable zip"),
    ],
)
def test_a_bad_images_zip_is_refused_and_leaves_nothing(server, zipped, says):
    client = _client(server)
    response = client.post(
        "/u/alice/upload", data={"csrf": _csrf(client)},
        files={"data": ("manifest.csv", _manifest(["img/a.npy"]), "text/csv"),
               "images": ("images.zip", zipped, "application/zip")},
    )  # fmt: skip
    assert response.status_code == 400 and says in response.text
    assert _uploads(server) == []


def _wait_job(client: TestClient, job_url: str, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        view = client.get(job_url + "/progress.json").json()
        if view["ended_state"]:
            return view
        time.sleep(0.3)
    raise AssertionError(f"job {job_url} did not end: {view}")


@pytest.mark.slow
def test_predict_and_validate_with_a_saved_run_from_the_browser(server, tmp_path):
    done = _cli_run(server, tmp_path)
    new = b"id,age,sex,marker,outcome\n" + b"".join(
        f"q{i},{35 + i % 40},{'F' if i % 3 else 'M'},{(i * 5) % 11 / 3:.2f},{i % 2}\n".encode()
        for i in range(50)
    )
    with TestClient(create_app(server), base_url=BASE, follow_redirects=False) as client:
        client.post("/login", data={"user": ALICE[0], "password": ALICE[1]})
        dataset = _upload(client, "new.csv", new).headers["location"].rsplit("/", 1)[1]
        apply = f"/u/alice/runs/{done.path.name}/apply"
        predicted = client.post(apply, data={"csrf": _csrf(client), "kind": "predict",
                                             "dataset": dataset})  # fmt: skip
        assert predicted.status_code == 303
        job = predicted.headers["location"]
        view = _wait_job(client, job)
        assert view["status"] == "finished", view
        table = client.get(f"{job}/files/{view['output']}")
        assert table.status_code == 200
        assert len(table.text.strip().splitlines()) == 51  # a header and 50 samples
        assert client.get(f"{job}/files/job.json").status_code == 404  # not a download
        validated = client.post(apply, data={"csrf": _csrf(client), "kind": "validate",
                                             "dataset": dataset, "target": "outcome"})  # fmt: skip
        view = _wait_job(client, validated.headers["location"])
        assert view["status"] == "finished", view
        page = client.get(f"/u/alice/runs/{done.path.name}").text
        assert re.search(r"validations/[^\"]+\.md", page)
        log = (done.path / "prediction_log.jsonl").read_text()
        assert '"alice"' in log  # predictions are logged under the browser user


def test_a_cross_site_form_and_an_unknown_host_name_are_refused(server):
    client = _client(server, None)
    forged = client.post("/login", data={"user": ALICE[0], "password": ALICE[1]},
                         headers={"origin": "https://evil.example"})  # fmt: skip
    assert forged.status_code == 403 and "insightome_session" not in forged.cookies
    fetched = client.post("/login", data={"user": ALICE[0], "password": ALICE[1]},
                          headers={"sec-fetch-site": "cross-site"})  # fmt: skip
    assert fetched.status_code == 403
    sandboxed = client.post("/login", data={"user": ALICE[0], "password": ALICE[1]},
                            headers={"origin": "null"})  # fmt: skip
    assert sandboxed.status_code == 403
    rebound = client.get("/login", headers={"host": "evil.example:8765"})  # DNS rebinding
    assert rebound.status_code == 400
    same = client.post("/login", data={"user": ALICE[0], "password": ALICE[1]},
                       headers={"origin": BASE})  # fmt: skip
    assert same.status_code == 303


def test_failed_logins_are_slowed_and_unknown_names_cost_a_hash_too(server, monkeypatch):
    checked = []
    real = app_module.verify_password
    monkeypatch.setattr(app_module, "verify_password", lambda p, h: checked.append(h) or real(p, h))
    client = _client(server, None)
    for _ in range(10):
        assert client.post("/login", data={"user": "alice", "password": "x"}).status_code == 401
    blocked = client.post("/login", data={"user": ALICE[0], "password": ALICE[1]})
    assert blocked.status_code == 429 and "too many failed logins" in blocked.text
    assert client.post("/login", data={"user": BOB[0], "password": BOB[1]}).status_code == 303
    assert client.post("/login", data={"user": "nobody", "password": "x"}).status_code == 401
    assert len(checked) == 12  # the unknown name verified a (dummy) hash as well
    log = (server.data_dir / "audit.jsonl").read_text()
    assert "(unknown user)" in log and '"nobody"' not in log  # a typed name is not logged


def test_wrong_token_links_count_as_failed_logins(tmp_path):
    token = "t" * 24
    settings = ServerSettings(tmp_path / "data", token=token).checked().prepared()
    client = TestClient(create_app(settings, start_queue=False), base_url=BASE,
                        follow_redirects=False)  # fmt: skip
    assert client.get("/login?token=é").status_code == 401  # non-ASCII: refused, not a 500
    for _ in range(9):
        assert client.get("/login?token=wrong").status_code == 401
    assert client.get(f"/login?token={token}").status_code == 429


def test_odd_input_is_refused_not_a_server_error(server):
    signer = Signer(b"k" * 32, "users")
    assert signer.read_session("ålice|1|2|3") is None  # non-ASCII: refused, not a TypeError
    assert not signer.csrf_ok(signer.read_session(signer.session_cookie("alice")), "é")
    assert Signer(b"k" * 32, "token").read_session(signer.session_cookie("alice")) is None
    client = _client(server)
    assert client.post("/logout", data={"csrf": "é"}).status_code == 403
    response = _upload(client, "t.csv.gz", b"\x1f\x8b\x08\x00 truncated")
    assert response.status_code == 400 and "not a .csv.gz file" in response.text
    url = _dataset(client)
    as_file = client.post(url + "/check", data={"csrf": _csrf(client)},
                          files={"target": ("x.csv", b"a", "text/csv")})  # fmt: skip
    assert as_file.status_code == 400 and "expected text, not a file" in as_file.text
    # "~nosuchuser" cannot be expanded: read as written (a missing file), not a server error
    manifest = _upload(client, "m.csv", _manifest(["~nosuch-user-xyz/x.npy"] * 40))
    missing = client.post(
        manifest.headers["location"] + "/check",
        data={
            "csrf": _csrf(client),
            "target": "outcome",
            "id_column": "id",
            "image_column": "image",
        },
    )
    assert missing.status_code == 400 and 'class="error"' in missing.text


def test_the_audit_log_never_quotes_the_data(server):
    client = _client(server)
    table = b",a,b\nJohn-Smith-1950,1,2\nJohn-Smith-1950,3,4\n"  # row names: sample IDs
    response = _upload(client, "ids.csv", table)
    assert response.status_code == 400 and "John-Smith-1950" in response.text  # shown to the user
    log = (server.data_dir / "audit.jsonl").read_text()
    assert "upload refused" in log and "John-Smith" not in log  # but never logged


@pytest.mark.parametrize(
    "path",
    [
        " /etc/hostname",
        "~/x.npy",
        "x#/../../../../../.secret",
        "img/../../../../.secret",
    ],
)
def test_a_manifest_path_the_image_reader_would_resolve_outside_is_refused(server, path):
    client = _client(server)
    response = client.post(
        "/u/alice/upload", data={"csrf": _csrf(client)},
        files={"data": ("manifest.csv", _manifest([path] * 40), "text/csv")},
    )  # fmt: skip
    form = {"csrf": _csrf(client), "target": "outcome", "id_column": "id",
            "image_column": "image"}  # fmt: skip
    refused = client.post(response.headers["location"] + "/check", data=form)
    assert refused.status_code == 400 and "lies outside this dataset" in refused.text


def test_image_paths_in_the_sample_sheet_are_checked_too(server):
    client = _client(server)
    data = b"id,marker,outcome\n" + b"".join(f"p{i},{i % 5},{i % 2}\n".encode() for i in range(40))
    sheet = b"id,image\n" + b"".join(f"p{i},../../../../.secret\n".encode() for i in range(40))
    response = client.post(
        "/u/alice/upload", data={"csrf": _csrf(client)},
        files={"data": ("data.csv", data, "text/csv"),
               "annotations": ("sheet.csv", sheet, "text/csv")},
    )  # fmt: skip
    assert response.status_code == 303, response.text
    form = {"csrf": _csrf(client), "target": "outcome", "id_column": "id",
            "annotations": "sheet.csv", "image_column": "image"}  # fmt: skip
    refused = client.post(response.headers["location"] + "/check", data=form)
    assert refused.status_code == 400 and "lies outside this dataset" in refused.text


def test_a_non_ascii_outcome_still_names_a_reachable_run(server):
    assert pages._slug("cohort-décès") == "cohort-d-c-s"
    assert storage.safe_name(pages._slug("cohort-décès") + "-abc123", "run")


@pytest.mark.parametrize("kind", ["external link", "external storage"])
def test_an_hdf5_upload_that_reads_another_file_is_refused(server, tmp_path, kind):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as handle:
        handle["X"] = np.arange(6.0).reshape(3, 2)
    linked = tmp_path / "linked.h5ad"
    with h5py.File(linked, "w") as handle:
        if kind == "external link":
            handle["X"] = h5py.ExternalLink(str(other), "/X")
        else:
            handle.create_dataset("X", shape=(6,), dtype="f8", external=[(str(other), 0, 48)])
    response = _upload(_client(server), "linked.h5ad", linked.read_bytes())
    assert response.status_code == 400 and "links to another file" in response.text
    assert _uploads(server) == []


def test_an_hdf5_file_whose_links_make_a_cycle_is_read_not_a_server_error(server, tmp_path):
    cyclic = tmp_path / "cyclic.h5ad"
    with h5py.File(cyclic, "w") as handle:
        group = handle.create_group("g")
        group["again"] = group  # a hard link back to itself
    response = _upload(_client(server), "cyclic.h5ad", cyclic.read_bytes())
    assert response.status_code == 400  # not AnnData: the reader's own message
    assert "links to another file" not in response.text


def test_the_workers_image_root_is_enforced_where_images_are_read(tmp_path, monkeypatch):
    inside = tmp_path / "dataset"
    inside.mkdir()
    np.save(inside / "a.npy", np.ones((4, 4)))
    np.save(tmp_path / "b.npy", np.ones((4, 4)))
    monkeypatch.setenv(IMAGE_ROOT, str(inside))
    assert read_image("a.npy", inside).array.shape[-2:] == (4, 4)
    for ref in ("../b.npy", str(tmp_path / "b.npy"), " ../b.npy", "x#/../../b.npy"):
        with pytest.raises(UserError, match="lies outside this dataset's folder"):
            read_image(ref, inside)


def test_a_resume_is_queued_once_and_only_for_a_stopped_run(server):
    partial = server.data_dir / "runs" / "20261207-000000-x-abc123.partial"
    partial.mkdir(parents=True)
    (partial / "invocation.json").write_text("{}")
    client = _client(server)
    url = f"/u/alice/runs/{partial.name}/resume"
    assert client.post(url, data={"csrf": _csrf(client)}).status_code == 303
    again = client.post(url, data={"csrf": _csrf(client)})
    assert again.status_code == 409 and "already queued to resume" in again.text


def test_behind_a_proxy_the_public_address_is_accepted(tmp_path):
    users = tmp_path / "users.json"
    add_user(users, *ALICE, owner=True)
    public = "https://insightome.example.org"
    settings = ServerSettings(tmp_path / "data", users_file=users,
                              public_url=public).checked().prepared()  # fmt: skip
    app = create_app(settings, start_queue=False)
    proxied = TestClient(app, base_url=public, follow_redirects=False)
    login = {"user": ALICE[0], "password": ALICE[1]}
    assert proxied.post("/login", data=login, headers={"origin": public}).status_code == 303
    rewritten = TestClient(app, base_url="http://127.0.0.1:8765", follow_redirects=False)
    assert rewritten.post("/login", data=login, headers={"origin": public}).status_code == 303
    ipv6 = TestClient(app, base_url="http://[::1]:8765", follow_redirects=False)
    assert ipv6.get("/login").status_code == 200
    other = TestClient(app, base_url="https://elsewhere.example", follow_redirects=False)
    assert other.get("/login").status_code == 400
    with_port = f"{public}:443"  # the same origin as the browser's https://…
    settings = ServerSettings(tmp_path / "data", users_file=users,
                              public_url=with_port).checked().prepared()  # fmt: skip
    app = create_app(settings, start_queue=False)
    rewritten = TestClient(app, base_url="http://127.0.0.1:8765", follow_redirects=False)
    assert rewritten.post("/login", data=login, headers={"origin": public}).status_code == 303
    with pytest.raises(UserError, match="--public-url"):
        ServerSettings(tmp_path / "data", users_file=users, public_url="https://").checked()


def test_pages_of_a_run_with_an_odd_results_json_still_render(server):
    runs = server.data_dir / "runs"
    (runs / "20261207-000000-broken").mkdir(parents=True)
    (runs / "20261207-000000-broken" / "results.json").write_text("{not json")
    (runs / "20261207-000000-old").mkdir()
    (runs / "20261207-000000-old" / "results.json").write_text('{"winner": {"name": "lr"}}')
    client = _client(server)
    assert client.get("/u/alice/").status_code == 200
    assert client.get("/u/alice/runs/20261207-000000-old").status_code == 200
    assert client.get("/u/alice/runs/20261207-000000-broken").status_code == 404
