"""The job queue: a real worker process per job, stopping a run at its checkpoint and
resuming it, and what a restarted server does with the jobs it finds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from insightome.compute.checkpoint import Checkpoint, is_held
from insightome.errors import UserError
from insightome.io.images import IMAGE_ROOT
from insightome.run_directory import Run
from insightome.stages.progress import read_progress
from insightome.web import worker
from insightome.web.jobs import JobQueue, read_job, run_partial, write_job
from insightome.web.storage import Space

TABLE = "id,age,marker,noise,outcome\n" + "".join(
    f"p{i},{40 + i % 30},{(i * 7) % 13 / 3:.2f},{(i * 11) % 17},{int(i % 3 == 0)}\n"
    for i in range(120)
)


def _wait(folder: Path, done, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = read_job(folder)
        if job is not None and done(job):
            return job
        time.sleep(0.2)
    raise AssertionError(f"timed out; job: {read_job(folder)}; log: {_log(folder)}")


def _log(folder: Path) -> str:
    path = folder / "worker.log"
    return path.read_text() if path.exists() else ""


@pytest.mark.slow
def test_a_stopped_run_keeps_its_checkpoint_and_resumes_to_a_cli_run(tmp_path):
    data = tmp_path / "cohort.csv"
    data.write_text(TABLE)
    space = Space(tmp_path / "data", "alice", owner=True).make()
    queue = JobQueue(space.data_dir, compute={"n_jobs": 1})
    queue.start()
    try:
        job = queue.submit(
            space.jobs, "alice", "run", data=str(data), runs_dir=str(space.runs),
            options={"target": "outcome", "id_column": "id", "folds": 3, "repeats": 2,
                     "n_bootstrap": 200, "audit": False, "discover": False},
            run_name="cohort-outcome",
        )  # fmt: skip
        folder = space.jobs / job["id"]
        # any moment after the run has its checkpoint (a stage later than plan is too late
        # to catch reliably on a fast machine)
        running = _wait(folder, lambda j: run_partial(j) is not None)
        assert running["status"] == "running"
        queue.cancel(folder)  # SIGTERM: the run stops at a checkpoint
        stopped = _wait(folder, lambda j: j["status"] != "running")
        assert stopped["status"] == "interrupted", _log(folder)
        assert stopped["stopped_by_user"] and not stopped.get("stopped_by_server")
        JobQueue(space.data_dir, resume_interrupted=True).recover()  # a restart: not resumed
        assert not queue.resuming(stopped["partial"])
        partial = Path(stopped["partial"])
        assert partial.is_dir() and "insightome run --resume" in stopped["error"]
        assert read_progress(partial)["state"] == "stopped"
        resumed = queue.submit(space.jobs, "alice", "resume", partial=str(partial))
        finished = _wait(space.jobs / resumed["id"], lambda j: j["status"] != "queued"
                         and j["status"] != "running")  # fmt: skip
        assert finished["status"] == "finished", _log(space.jobs / resumed["id"])
    finally:
        queue.stop()
    run = Run.load(finished["run_dir"])  # a CLI run directory like any other
    assert run.results["invocation"]["repeats"] == 2
    assert not partial.exists()


def _with_partial(tmp_path: Path) -> tuple[Space, Path]:
    """A user's space whose runs folder holds an interrupted run's .partial."""
    space = Space(tmp_path / "data", "alice", owner=True).make()
    partial = space.runs / "20261207-000000-x-abc123.partial"
    partial.mkdir()
    (partial / "invocation.json").write_text("{}")
    return space, partial


def _dead_pid() -> int:
    """The pid of a process that has ended."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    return dead.pid


def _job(space: Space, job_id: str, **fields) -> Path:
    folder = space.jobs / job_id
    folder.mkdir(parents=True)
    write_job(folder, {"id": job_id, "user": "alice", "created": job_id, **fields})
    return folder


def test_a_restarted_server_marks_dead_workers_interrupted_and_keeps_the_queue(tmp_path):
    space, partial = _with_partial(tmp_path)
    dead_pid = _dead_pid()
    interrupted = _job(space, "a", kind="run", status="running", pid=dead_pid,
                       runs_dir=str(space.runs), run_name="x-abc123")  # fmt: skip
    lost = _job(space, "b", kind="run", status="running", pid=dead_pid,
                runs_dir=str(space.runs), run_name="y-def456")  # fmt: skip
    queued = _job(space, "c", kind="predict", status="queued", run_dir="r", data="d", options={})
    queue = JobQueue(space.data_dir, resume_interrupted=True)
    queue.recover()
    a, b = read_job(interrupted), read_job(lost)
    assert a["status"] == "interrupted" and a["partial"] == str(partial)
    assert b["status"] == "failed" and "without saying why" in b["error"]
    assert read_job(queued)["status"] == "queued"
    (resume,) = [
        j for f in space.jobs.iterdir() if (j := read_job(f))["kind"] == "resume"
    ]  # --resume-interrupted queued it
    assert resume["status"] == "queued" and resume["partial"] == str(partial)


def test_a_live_worker_of_a_killed_server_is_watched_again(tmp_path):
    space = Space(tmp_path / "data", "alice", owner=True).make()
    folder = _job(space, "a", kind="predict", status="running", run_dir="r", data="d",
                  options={})  # fmt: skip
    worker = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", "insightome.web.worker", str(folder)]
    )
    try:
        cmdline = Path(f"/proc/{worker.pid}/cmdline")
        for _ in range(100):  # until the child has exec'd (before, it shows pytest's command)
            if b"insightome.web.worker" in cmdline.read_bytes():
                break
            time.sleep(0.05)
        write_job(folder, {**read_job(folder), "pid": worker.pid})
        (folder / "outcome.json").write_text(json.dumps({"status": "finished", "output": "p.csv"}))
        queue = JobQueue(space.data_dir)
        queue.recover()
        assert read_job(folder)["status"] == "running"  # adopted, not marked interrupted
        worker.kill()
        worker.wait()
        queue._reap()
        assert read_job(folder)["status"] == "finished"
        assert read_job(folder)["output"] == "p.csv"
    finally:
        worker.kill()


def test_a_job_runs_on_the_cluster_the_server_was_started_with(tmp_path, monkeypatch):
    config = tmp_path / "slurm.yaml"
    config.write_text("slurm:\n  queue: gpp\n  cores: 8\n  memory: 32GB\n")
    space = Space(tmp_path / "data", "alice", owner=True).make()
    queue = JobQueue(space.data_dir, compute={"n_jobs": 4, "scheduler": "tcp://10.0.0.5:8786",
                                              "slurm_config": str(config)})  # fmt: skip
    job = queue.submit(space.jobs, "alice", "run", data="d.csv", options={"target": "y"},
                       runs_dir=str(space.runs), run_name="d-y")  # fmt: skip
    seen = {}

    def fake_run(data, **kwargs):
        seen.update(kwargs, data=data)
        return type("Done", (), {"path": Path("r")})()

    monkeypatch.setattr(worker, "run", fake_run)
    monkeypatch.setenv(IMAGE_ROOT, "before")  # restored after the test (do() sets it)
    assert worker.do(read_job(space.jobs / job["id"]), space.jobs / job["id"]) == {"run_dir": "r"}
    assert seen["scheduler"] == "tcp://10.0.0.5:8786" and seen["n_jobs"] == 4
    assert seen["slurm"].queue == "gpp" and seen["slurm"].cores == 8
    assert seen["out_dir"] == str(space.runs) and seen["name"] == job["run_name"]
    assert seen["target"] == "y" and seen["progress"] is False
    # images a manifest names are confined to the dataset's folder where they are read
    assert os.environ[IMAGE_ROOT] == str(Path("d.csv").resolve().parent)


def test_resume_interrupted_resumes_what_a_stopped_server_interrupted_once(tmp_path):
    space, partial = _with_partial(tmp_path)
    by_server = _job(space, "a", kind="run", status="interrupted", partial=str(partial),
                     stopped_by_server=True)  # fmt: skip
    by_user = _job(space, "b", kind="run", status="interrupted", partial=str(partial))
    for _ in range(2):  # two restarts: one resume
        JobQueue(space.data_dir, resume_interrupted=True).recover()
    resumes = [j for f in space.jobs.iterdir() if (j := read_job(f))["kind"] == "resume"]
    assert len(resumes) == 1 and read_job(by_server)["resumed_by"] == resumes[0]["id"]
    assert "resumed_by" not in read_job(by_user)  # a user's Stop is not undone by a restart
    JobQueue(space.data_dir).recover()  # without the option: nothing more
    assert len([f for f in space.jobs.iterdir()]) == 3


def test_a_partial_is_running_while_a_process_holds_its_lock_and_probing_it_is_harmless(tmp_path):
    partial = tmp_path / "x.partial"
    partial.mkdir()
    (partial / "invocation.json").write_text("{}")
    assert not is_held(partial)  # no lock file yet: interrupted
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys; from insightome.compute.checkpoint import Checkpoint\n"
         f"Checkpoint.open({str(partial)!r}); print('held', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        assert is_held(partial)
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert not is_held(partial)
    probing = threading.Event()

    def probe() -> None:  # what the runs list does on every page, from another thread
        while not probing.is_set():
            is_held(partial)

    thread = threading.Thread(target=probe)
    thread.start()
    try:
        for _ in range(300):  # a probe at the same moment never makes a resume fail
            Checkpoint.open(partial).release()
    finally:
        probing.set()
        thread.join()


def test_a_run_the_user_stopped_is_not_resumed_even_if_the_server_died_meanwhile(tmp_path):
    space, _ = _with_partial(tmp_path)  # its .partial is what the job ran
    dead_pid = _dead_pid()
    folder = _job(space, "a", kind="run", status="running", pid=dead_pid, stopped_by_user=True,
                  runs_dir=str(space.runs), run_name="x-abc123")  # fmt: skip
    JobQueue(space.data_dir, resume_interrupted=True).recover()
    job = read_job(folder)
    assert job["status"] == "interrupted" and not job["stopped_by_server"]
    assert [f.name for f in space.jobs.iterdir()] == ["a"]  # no resume queued


def test_a_resume_of_an_unreadable_checkpoint_gets_resumes_own_message(tmp_path):
    partial = tmp_path / "x.partial"
    partial.mkdir()
    job = {"kind": "resume", "partial": str(partial), "user": "alice"}
    with pytest.raises(UserError, match=r"invocation\.json"):
        worker.do(job, tmp_path)
