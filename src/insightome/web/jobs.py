"""The workbench's job queue: analyses run one at a time (``--concurrent-runs``), each in its
own worker process (:mod:`insightome.web.worker`), recorded in ``users/<name>/jobs/<id>/``.

A job is ``queued`` → ``running`` → ``finished`` / ``failed`` / ``interrupted`` (or
``cancelled`` before it started). Its ``job.json`` is written by the queue only, whole
(temporary file, then rename); the worker writes ``outcome.json``. When the server stops, it
sends SIGTERM to the running workers, which keep their run's ``.partial`` checkpoint and say
so: the job is ``interrupted``, with a resume button. When the server starts, queued jobs
run again in the order they were queued; a job recorded as running whose worker is still
alive (the server was killed, not stopped) is watched again until it ends; one whose worker
is gone is ``interrupted`` (its ``.partial`` kept) — and, with ``--resume-interrupted``, resumed
from its checkpoint at once.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from insightome.compute.checkpoint import PARTIAL_SUFFIX

ENDED = ("finished", "failed", "interrupted", "cancelled")
WORKER = "insightome.web.worker"
STOP_WAIT_S = 60.0  # how long a stopping server waits for its workers to checkpoint


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def read_job(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / "job.json").read_text())
    except (OSError, ValueError):
        return None


def write_job(folder: Path, job: dict[str, Any]) -> None:
    tmp = folder / ".job.json.tmp"
    tmp.write_text(json.dumps(job, indent=2, default=str))
    os.replace(tmp, folder / "job.json")


def run_partial(job: dict[str, Any]) -> Path | None:
    """The ``.partial`` directory of a run or resume job, once its run has made one."""
    if job.get("partial"):
        path = Path(job["partial"])
        return path if path.is_dir() else None
    if job["kind"] != "run":
        return None
    found = sorted(Path(job["runs_dir"]).glob(f"*-{job['run_name']}{PARTIAL_SUFFIX}"))
    return found[-1] if found else None


def _alive_worker(pid: int | None, folder: Path) -> bool:
    """Whether ``pid`` is the live worker of the job in ``folder`` (not a reused pid, nor
    the worker of another job or data directory)."""
    if not pid:
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True  # no /proc: a live pid is taken to be ours
    return WORKER.encode() in cmdline and str(folder).encode() in cmdline and state != "Z"


@dataclass
class _Running:
    folder: Path
    process: subprocess.Popen[bytes] | None  # None: adopted from an earlier server
    pid: int


class JobQueue:
    """Runs jobs from the folders ``users/*/jobs/*`` under ``data_dir``."""

    def __init__(
        self,
        data_dir: Path,
        *,
        concurrency: int = 1,
        compute: dict[str, Any] | None = None,
        resume_interrupted: bool = False,
        on_event: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.concurrency = concurrency
        self.compute = dict(compute or {})
        self.resume_interrupted = resume_interrupted
        self.on_event = on_event or (lambda action, job: None)
        self._lock = threading.RLock()
        self._running: dict[str, _Running] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- jobs ---------------------------------------------------------------------------
    def folders(self) -> list[Path]:
        return sorted(self.data_dir.glob("users/*/jobs/[!.]*"))

    def submit(self, jobs_dir: Path, user: str, kind: str, **fields: Any) -> dict[str, Any]:
        """Queue a job; returns its record."""
        job_id = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)
        job = {
            "id": job_id, "user": user, "kind": kind, "status": "queued", "created": now(),
            "compute": self.compute, **fields,
        }  # fmt: skip
        if kind == "run":
            job["run_name"] = f"{fields.get('run_name') or 'run'}-{job_id[-6:]}"
        folder = jobs_dir / job_id
        with self._lock:
            folder.mkdir(parents=True)
            write_job(folder, job)
        self.on_event("queued", job)
        return job

    def cancel(self, folder: Path) -> dict[str, Any] | None:
        """Stop a job: a queued one is cancelled, a running one gets SIGTERM (its run keeps
        its checkpoint and the job ends ``interrupted``)."""
        with self._lock:
            job = read_job(folder)
            if job is None:
                return None
            if job["status"] == "queued":
                job.update(status="cancelled", ended=now())
                write_job(folder, job)
            elif job["id"] in self._running:
                job["stopped_by_user"] = True  # a restart never resumes it
                write_job(folder, job)
                self._signal(self._running[job["id"]].pid)
            return job

    # -- the loop -----------------------------------------------------------------------
    def start(self) -> None:
        self.recover()
        self._thread = threading.Thread(target=self._loop, name="insightome-jobs", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the loop; running workers get SIGTERM and are waited for (they checkpoint)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            stopped = [running.folder for running in self._running.values()]
            for running in self._running.values():
                self._signal(running.pid)
            deadline = time.monotonic() + STOP_WAIT_S
            while self._running and time.monotonic() < deadline:
                self._reap()
                time.sleep(0.2)
            for folder in stopped:  # a restart with --resume-interrupted resumes these
                job = read_job(folder)
                if (
                    job is not None
                    and job["status"] == "interrupted"
                    and not job.get("stopped_by_user")
                ):
                    job["stopped_by_server"] = True
                    write_job(folder, job)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                with self._lock:
                    self._reap()
                    self._launch()
            except Exception as exc:  # a full disk, a bad job file: said, and the queue goes on
                print(f"insightome serve: job queue: {type(exc).__name__}: {exc}", file=sys.stderr)
            self._stop.wait(0.5)

    def _launch(self) -> None:
        if len(self._running) >= self.concurrency:
            return
        queued = []
        for folder in self.folders():
            job = read_job(folder)
            if job is not None and job["status"] == "queued":
                queued.append((job["created"], job["id"], folder, job))
        for _, _, folder, job in sorted(queued)[: self.concurrency - len(self._running)]:
            log = open(folder / "worker.log", "ab")
            try:
                process = subprocess.Popen(
                    [sys.executable, "-m", WORKER, str(folder)],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True,  # a Ctrl-C on the server reaches it as SIGTERM, once
                )  # fmt: skip
            finally:
                log.close()
            job.update(status="running", started=now(), pid=process.pid)
            write_job(folder, job)
            self._running[job["id"]] = _Running(folder, process, process.pid)
            self.on_event("started", job)

    def _reap(self) -> None:
        for job_id, running in list(self._running.items()):
            if running.process is not None:
                if running.process.poll() is None:
                    continue
            elif _alive_worker(running.pid, running.folder):
                continue
            self._finish(running.folder)  # then forgotten (a failure here: tried again)
            del self._running[job_id]

    def _finish(self, folder: Path) -> None:
        job = read_job(folder)
        if job is None:
            return
        try:
            outcome = json.loads((folder / "outcome.json").read_text())
            if outcome.get("status") not in ENDED:
                raise ValueError(outcome.get("status"))
        except (OSError, ValueError, AttributeError):
            partial = run_partial(job)
            if partial is None and self._stop.is_set() and not job.get("stopped_by_user"):
                # stopped by the server before it began: it runs after the restart
                job.update(status="queued", pid=None, started=None)
                write_job(folder, job)
                return
            outcome = {
                "status": "interrupted" if partial else "failed",
                "error": "the worker stopped without saying why (killed?); see worker.log",
                "partial": str(partial) if partial else None,
            }
        job.update({k: v for k, v in outcome.items() if v is not None}, ended=now())
        job["status"] = outcome["status"]
        write_job(folder, job)
        self.on_event(job["status"], job)

    @staticmethod
    def _signal(pid: int) -> None:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass

    def recover(self) -> None:
        """After a restart: adopt live workers, mark dead ones' jobs interrupted; with
        ``resume_interrupted``, queue the resume of those and of the jobs the last server
        stopped (each once)."""
        with self._lock:
            for folder in self.folders():
                job = read_job(folder)
                if job is None:
                    continue
                if job["status"] == "running":
                    if _alive_worker(job.get("pid"), folder):
                        self._running[job["id"]] = _Running(folder, None, int(job["pid"]))
                        continue
                    self._finish(folder)
                    job = read_job(folder) or job
                    job["stopped_by_server"] = not job.get("stopped_by_user")
                    write_job(folder, job)
                if self.resume_interrupted and job["status"] == "interrupted":
                    self._resume(folder, job)

    def _resume(self, folder: Path, job: dict[str, Any]) -> None:
        partial = job.get("partial")
        if not job.get("stopped_by_server") or job.get("stopped_by_user") or not partial:
            return
        if job.get("resumed_by") or not Path(partial).is_dir() or self.resuming(partial):
            return
        resumed = self.submit(
            folder.parent, job["user"], "resume", partial=partial,
            title=f"resume of {job.get('title', job['id'])}",
        )  # fmt: skip
        job["resumed_by"] = resumed["id"]
        write_job(folder, job)

    def resuming(self, partial: str | Path) -> bool:
        """Whether a queued or running job already resumes this ``.partial``."""
        target = str(partial)
        for folder in self.folders():
            job = read_job(folder)
            if (
                job is not None
                and job["kind"] == "resume"
                and job["status"] in ("queued", "running")
                and job.get("partial") == target
            ):
                return True
        return False
