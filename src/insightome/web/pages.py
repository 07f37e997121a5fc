"""The workbench's pages under ``/u/<user>/``: upload, preview and options, the check (the
study and the leakage screen), launch, live progress, runs, a run's report and documents,
its zip, and predict / validate / monitor on a saved run.

Every route here goes through :func:`_space` (the session's user must be the URL's user:
403 otherwise, logged) and every POST through :func:`_form` (the CSRF token). Names from
URLs and forms reach the file system only through :func:`insightome.web.storage.inside`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from insightome.compute.checkpoint import PARTIAL_SUFFIX, is_held
from insightome.errors import UserError
from insightome.stages.progress import read_progress
from insightome.web import forms, preview, storage
from insightome.web.bench import Workbench
from insightome.web.jobs import ENDED, read_job, run_partial
from insightome.web.storage import Refused, Space

UPLOAD_ROLES = ("data", "annotations", "notes", "genesets", "images")
UNPACKED = 4  # an images zip may unpack to this many times the upload limit
APPLY_KINDS = ("predict", "validate", "monitor")
#: A run's files a page may show inline, by suffix (others download).
INLINE = {
    ".html": "text/html", ".md": "text/plain", ".tsv": "text/plain", ".json": "application/json",
    ".csv": "text/plain", ".txt": "text/plain", ".png": "image/png",
}  # fmt: skip
#: The report's own policy: no script, nothing fetched, its figures inline.
REPORT_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; sandbox"


def _space(bench: Workbench, request: Request, user: str) -> Space:
    session = request.state.session
    if session is None:
        raise Refused(401, "log in first")
    if session.user != user:
        raise Refused(403, "these pages belong to another user")
    return bench.space(user)


async def _form(bench: Workbench, request: Request) -> FormData:
    form = await request.form(max_files=len(UPLOAD_ROLES), max_fields=200)
    if not bench.signer.csrf_ok(request.state.session, str(form.get("csrf", ""))):
        raise Refused(403, "the form's security token is missing or stale; reload the page")
    return form


def _text(form: FormData) -> dict[str, str]:
    """A form's text fields (a file where text belongs is refused)."""
    values = {}
    for key, value in form.multi_items():
        if not isinstance(value, str):
            raise Refused(400, f"{key}: expected text, not a file", key)
        values[key] = value
    return values


def register(app: FastAPI, bench: Workbench) -> None:
    _home(app, bench)
    _datasets(app, bench)
    _jobs(app, bench)
    _runs(app, bench)


# -- home and upload ------------------------------------------------------------------------


def _home(app: FastAPI, bench: Workbench) -> None:
    @app.get("/u/{user}/")
    async def home(request: Request, user: str, error: str | None = None) -> Response:
        if request.state.session is None:
            return RedirectResponse("/login", status_code=303)
        space = _space(bench, request, user)
        return bench.render(
            request, "home.html.j2", user=user, datasets=storage.list_datasets(space.uploads),
            runs=storage.list_runs(space.runs), jobs=_jobs_of(space), error=error,
            error_field=None, max_mb=bench.settings.max_upload_mb, roles=storage.ROLE_LABELS,
            suffixes=storage.ROLE_SUFFIXES,
        )  # fmt: skip

    @app.post("/u/{user}/upload")
    async def upload(request: Request, user: str) -> Response:
        space = _space(bench, request, user)
        form = await _form(bench, request)
        tmp = storage.new_dataset_folder(space.uploads)
        try:
            files = await run_in_threadpool(_save_files, bench, form, tmp)
            data = tmp / files["data"]
            annotations = tmp / files["annotations"] if "annotations" in files else None
            shown = await run_in_threadpool(preview.preview, data, annotations)  # or its message
            (tmp / "preview.json").write_text(json.dumps(shown))  # the page reads it, not the file
            dataset_id = storage.commit_dataset(tmp, space.uploads, files)
        except (Refused, UserError) as exc:
            storage.discard(tmp)  # nothing is written
            status = exc.status if isinstance(exc, Refused) else 400
            message = _plain(exc.message if isinstance(exc, Refused) else str(exc), tmp)
            field = exc.field if isinstance(exc, Refused) else "data"
            bench.log(request, "upload refused", field or "", f"refused ({status})")  # no message:
            # a reader's message may quote a value of the file
            return bench.render(
                request, "home.html.j2", status, user=user,
                datasets=storage.list_datasets(space.uploads), runs=storage.list_runs(space.runs),
                jobs=_jobs_of(space), error=message, error_field=field,
                max_mb=bench.settings.max_upload_mb, roles=storage.ROLE_LABELS,
                suffixes=storage.ROLE_SUFFIXES,
            )  # fmt: skip
        except BaseException:
            storage.discard(tmp)
            raise
        bench.log(request, "upload", dataset_id)
        return RedirectResponse(f"/u/{user}/datasets/{dataset_id}", status_code=303)


def _plain(message: str, folder: Path) -> str:
    """A message about an uploaded file, naming the file as the user knows it (its name, not
    the server's folder)."""
    return message.replace(f"{folder}{os.sep}", "")


def _save_files(bench: Workbench, form: FormData, tmp: Path) -> dict[str, str]:
    files: dict[str, str] = {}
    for role in UPLOAD_ROLES:
        item = form.get(role)
        if not isinstance(item, UploadFile) or not item.filename:
            if role == "data":
                raise Refused(400, "choose a data table to upload", "data")
            continue
        if any(Path(item.filename).name == name for name in files.values()):
            raise Refused(400, f"{item.filename}: two uploads have the same name", role)
        saved = storage.save_upload(
            item.file, item.filename, role, tmp, bench.settings.max_upload_bytes
        )
        files[role] = saved.name
    if "images" in files:  # unpacked where the manifest's relative paths point
        reserved = {*files.values(), "dataset.json", "preview.json"}
        limit = UNPACKED * bench.settings.max_upload_bytes
        storage.extract_images(tmp / files["images"], tmp, limit, reserved)
    return files


# -- a dataset: preview, options, check, launch ---------------------------------------------


def _datasets(app: FastAPI, bench: Workbench) -> None:
    @app.get("/u/{user}/datasets/{dataset_id}")
    async def dataset_page(request: Request, user: str, dataset_id: str) -> Response:
        space = _space(bench, request, user)
        dataset = storage.load_dataset(space.uploads, dataset_id)
        bench.log(request, "view dataset", dataset_id)
        return await _dataset_view(bench, request, user, dataset, {}, None)

    @app.post("/u/{user}/datasets/{dataset_id}/check")
    async def check(request: Request, user: str, dataset_id: str) -> Response:
        space = _space(bench, request, user)
        form = await _form(bench, request)
        dataset = storage.load_dataset(space.uploads, dataset_id)
        return await _dataset_view(bench, request, user, dataset, _text(form), "check")

    @app.post("/u/{user}/datasets/{dataset_id}/launch")
    async def launch(request: Request, user: str, dataset_id: str) -> Response:
        space = _space(bench, request, user)
        form = await _form(bench, request)
        dataset = storage.load_dataset(space.uploads, dataset_id)
        try:
            values = forms.parse(_text(form), _files(dataset))
            await run_in_threadpool(preview.images_inside, dataset.path("data"), values)
        except UserError:  # the page again, with the message next to its field
            return await _dataset_view(bench, request, user, dataset, _text(form), "check")
        signed = bench.signer.sign(forms.canonical(values) + dataset_id)
        if str(form.get("checked", "")) != signed:  # the screen shown was for these options
            return await _dataset_view(bench, request, user, dataset, _text(form), "check",
                                       stale=True)  # fmt: skip
        target = values.get("target") or values.get("event") or "outcome"
        job = bench.queue.submit(
            space.jobs, user, "run", data=str(dataset.path("data")),
            options=forms.jsonable(values), runs_dir=str(space.runs), dataset=dataset_id,
            run_name=_slug(f"{Path(dataset.files['data']).name.split('.')[0]}-{target}"),
            title=f"{dataset.files['data']} → {target}",
        )  # fmt: skip
        bench.log(request, "launch", f"{dataset_id} job {job['id']}")
        return RedirectResponse(f"/u/{user}/jobs/{job['id']}", status_code=303)


def _slug(text: str) -> str:
    """ASCII letters, digits, ``-`` and ``_`` only: a run's name must pass ``SAFE_NAME``."""
    kept = (ch if (ch.isascii() and ch.isalnum()) or ch in "-_" else "-" for ch in text)
    return "".join(kept).strip("-")[:60] or "run"


def _files(dataset: storage.Dataset) -> dict[str, Path]:
    return {role: dataset.folder / name for role, name in dataset.files.items()}


async def _dataset_view(
    bench: Workbench,
    request: Request,
    user: str,
    dataset: storage.Dataset,
    form: dict[str, Any],
    action: str | None,
    stale: bool = False,
) -> Response:
    """The dataset page; with ``action="check"``, the form's options read and the study and
    leakage screen the run would make (or the one-line message, next to its field)."""
    files = _files(dataset)
    try:
        shown = json.loads((dataset.folder / "preview.json").read_text())
    except (OSError, ValueError):  # a dataset uploaded before previews were kept
        shown = await run_in_threadpool(preview.preview, files["data"], files.get("annotations"))
    error = error_field = checked = signed = None
    if action == "check":
        try:
            values = forms.parse(form, files)
            checked = await run_in_threadpool(preview.check, files["data"], values)
            signed = bench.signer.sign(forms.canonical(values) + dataset.id)
            bench.log(request, "check", dataset.id)
        except UserError as exc:
            error, error_field = _plain(str(exc), dataset.folder), forms.field_of(exc)
            bench.log(request, "check", dataset.id, f"refused ({error_field or '-'})")
    return bench.render(
        request, "dataset.html.j2", 400 if error else 200, user=user, dataset=dataset,
        preview=shown, fields=forms.fields(), primary=set(forms.PRIMARY), values=form,
        server_side=forms.SERVER_SIDE, error=error, error_field=error_field, checked=checked,
        signed=signed, stale=stale,
    )  # fmt: skip


# -- jobs -----------------------------------------------------------------------------------


def _jobs_of(space: Space) -> list[dict[str, Any]]:
    found = [read_job(folder) for folder in sorted(space.jobs.glob("[!.]*"), reverse=True)]
    return [j for j in found if j is not None]


def _job_view(job: dict[str, Any], data_dir: Path) -> dict[str, Any]:
    """A job's state for its page and its poll: status, the run's progress, where it ended
    (messages and outputs name files relative to the data directory, never its place)."""
    partial = run_partial(job) if job["kind"] in ("run", "resume") else None
    progress = read_progress(partial) if partial is not None else None
    run_dir = job.get("run_dir") if job["kind"] in ("run", "resume") else None
    return {
        "id": job["id"], "status": job["status"], "kind": job["kind"],
        "title": job.get("title", job["id"]),
        "error": _plain(job["error"], data_dir) if job.get("error") else None,
        "created": job.get("created"), "started": job.get("started"), "ended": job.get("ended"),
        "progress": progress, "ended_state": job["status"] in ENDED,
        "run": Path(run_dir).name if run_dir else None,
        "partial": partial.name if partial is not None else None,
        "output": _plain(str(job["output"]), data_dir) if job.get("output") else None,
        "target_run": Path(job["run_dir"]).name
        if job["kind"] in ("predict", "validate", "monitor") else None,
    }  # fmt: skip


def _jobs(app: FastAPI, bench: Workbench) -> None:
    def job_of(request: Request, user: str, job_id: str) -> dict[str, Any]:
        job = read_job(storage.inside(_space(bench, request, user).jobs, job_id))
        if job is None:
            raise Refused(404, f"no job {job_id!r}")
        return job

    @app.get("/u/{user}/jobs/{job_id}")
    async def job_page(request: Request, user: str, job_id: str) -> Response:
        job = _job_view(job_of(request, user, job_id), bench.settings.data_dir)
        bench.log(request, "view job", job_id)  # (its progress polls are not logged)
        return bench.render(request, "job.html.j2", user=user, job=job)

    @app.get("/u/{user}/jobs/{job_id}/progress.json")
    async def job_progress(request: Request, user: str, job_id: str) -> Response:
        return JSONResponse(_job_view(job_of(request, user, job_id), bench.settings.data_dir))

    @app.post("/u/{user}/jobs/{job_id}/cancel")
    async def cancel(request: Request, user: str, job_id: str) -> Response:
        space = _space(bench, request, user)
        await _form(bench, request)
        if bench.queue.cancel(storage.inside(space.jobs, job_id)) is None:
            raise Refused(404, f"no job {job_id!r}")
        bench.log(request, "stop job", job_id)
        return RedirectResponse(f"/u/{user}/jobs/{job_id}", status_code=303)

    @app.get("/u/{user}/jobs/{job_id}/files/{name}")
    async def job_file(request: Request, user: str, job_id: str, name: str) -> Response:
        space = _space(bench, request, user)
        path = storage.inside(space.jobs, job_id, name)
        if name in ("job.json", "worker.log", "outcome.json") or not path.is_file():
            raise Refused(404, f"no file {name!r}")
        bench.log(request, "download", f"job {job_id} {name}")
        return FileResponse(path, filename=name)


# -- runs -----------------------------------------------------------------------------------


def _run_dir(space: Space, run: str) -> Path:
    path = storage.inside(space.runs, run)
    if not (path / "results.json").is_file():
        raise Refused(404, f"no finished run {run!r}")
    return path


def _runs(app: FastAPI, bench: Workbench) -> None:
    @app.get("/u/{user}/runs/{run}")
    async def run_page(request: Request, user: str, run: str) -> Response:
        space = _space(bench, request, user)
        path = _run_dir(space, run)
        try:
            results = json.loads((path / "results.json").read_text())
        except (OSError, ValueError):
            raise Refused(404, f"run {run!r} has no readable results.json") from None
        files = sorted(p.name for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        bench.log(request, "view run", run)
        return bench.render(
            request, "run.html.j2", user=user, run=run, results=results, files=files,
            summary=storage.run_summary(path), datasets=storage.list_datasets(space.uploads),
            records=_records(path),
        )  # fmt: skip

    @app.get("/u/{user}/runs/{run}/files/{name:path}")
    async def run_file(request: Request, user: str, run: str, name: str) -> Response:
        space = _space(bench, request, user)
        path = storage.inside(_run_dir(space, run), *name.split("/"))
        if not path.is_file():
            raise Refused(404, f"no file {name!r} in run {run!r}")
        bench.log(request, "open file", f"{run} {name}")
        media = INLINE.get(path.suffix.lower())
        if media is None:
            return FileResponse(path, filename=path.name)
        response = FileResponse(path, media_type=media, content_disposition_type="inline")
        if media == "text/html":
            response.headers["Content-Security-Policy"] = REPORT_CSP
        return response

    @app.get("/u/{user}/runs/{run}/download")
    async def download(request: Request, user: str, run: str) -> Response:
        space = _space(bench, request, user)
        path = _run_dir(space, run)
        archive = await run_in_threadpool(storage.zip_run, path, space.home)
        bench.log(request, "download run", run)
        return FileResponse(archive, filename=f"{run}.zip", media_type="application/zip",
                            background=BackgroundTask(archive.unlink, missing_ok=True))  # fmt: skip

    @app.post("/u/{user}/runs/{run}/resume")
    async def resume(request: Request, user: str, run: str) -> Response:
        space = _space(bench, request, user)
        await _form(bench, request)
        partial = storage.inside(space.runs, run)
        if not run.endswith(PARTIAL_SUFFIX) or not (partial / "invocation.json").is_file():
            raise Refused(404, f"no interrupted run {run!r}")
        if is_held(partial):
            raise Refused(409, f"{run} is running now; it can be resumed once it has stopped")
        if bench.queue.resuming(partial):
            raise Refused(409, f"{run} is already queued to resume")
        job = bench.queue.submit(space.jobs, user, "resume", partial=str(partial),
                                 title=f"resume of {run}")  # fmt: skip
        bench.log(request, "resume", f"{run} job {job['id']}")
        return RedirectResponse(f"/u/{user}/jobs/{job['id']}", status_code=303)

    @app.post("/u/{user}/runs/{run}/apply")
    async def apply(request: Request, user: str, run: str) -> Response:
        space = _space(bench, request, user)
        form = await _form(bench, request)
        path = _run_dir(space, run)
        kind = str(form.get("kind", ""))
        if kind not in APPLY_KINDS:
            raise Refused(400, f"choose one of {', '.join(APPLY_KINDS)}")
        dataset = storage.load_dataset(space.uploads, str(form.get("dataset", "")))
        target = str(form.get("target", "")).strip()
        options: dict[str, Any] = {"target": target} if target else {}
        if dataset.path("annotations") is not None:  # its sample sheet, as the run read its own
            options["annotations"] = str(dataset.path("annotations"))
        job = bench.queue.submit(
            space.jobs, user, kind, run_dir=str(path), data=str(dataset.path("data")),
            options=options, title=f"{kind} {run} on {dataset.files['data']}",
        )  # fmt: skip
        bench.log(request, kind, f"{run} on {dataset.id} job {job['id']}")
        return RedirectResponse(f"/u/{user}/jobs/{job['id']}", status_code=303)


def _records(path: Path) -> list[str]:
    """The run's validation and monitoring records (their Markdown files), newest first."""
    found = [*path.glob("validations/*/*.md"), *path.glob("monitoring/*/*.md")]
    return sorted((str(p.relative_to(path)) for p in found), reverse=True)
