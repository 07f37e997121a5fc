"""Faults (issue 18, item 3): a run killed at any moment, or losing its workers, never
leaves a corrupted runs folder, and ``--resume`` ends it as an uninterrupted run.

The checks are ``benchmarks/faults.py``'s (``runs_folder_problems``: what "corrupted"
means; ``compare_runs``: equal except what its rules name), which runs 20 random kills and
more worker faults; here: 3 seeded random kills of a real ``insightome run`` process, the
windows a random kill rarely hits (made to happen on purpose), and a local Dask cluster
losing one worker, then all of them.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
from pathlib import Path

import pytest

from insightome import errors
from insightome.compute import checkpoint as checkpoint_module
from insightome.compute.checkpoint import Checkpoint
from insightome.evaluate.engine import lost_workers
from insightome.stages import output

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import faults  # noqa: E402

SEED = 18


@pytest.fixture(autouse=True)
def _this_worktree_on_the_path(monkeypatch):
    """The subprocesses run the insightome these tests import."""
    src = str(Path(faults.__file__).resolve().parents[1] / "src")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]))


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return faults.breast_data(tmp_path_factory.mktemp("faults") / "breast120.csv", 120)


@pytest.fixture(scope="module")
def reference(data, tmp_path_factory) -> Path:
    """An uninterrupted local run (no discovery or audit) that the runs hit by faults, on
    the local backend or a Dask cluster, must equal."""
    out = tmp_path_factory.mktemp("reference")
    run_dir, _ = faults.uninterrupted(data, faults.lean_options(SEED), out)
    return run_dir


def assert_clean(record: dict) -> None:
    assert not record["problems"], record["problems"]
    assert not record["corrupted"]
    if record["identical"] is not None:
        assert record["identical"], record["differences"]


def test_main_process_killed_at_three_random_moments(tmp_path):
    """Seeded-random delays in the first, second and last third of an uninterrupted run's
    wall time, with discovery and the audit on, so a kill can land in any stage, before
    the .partial or after the end."""
    records = faults.main_process_sigkill(3, SEED, tmp_path, n_samples=80)
    assert len(records) == 3
    for record in records:
        assert_clean(record)
        if record["resumed"]:
            assert record["resume_exit_code"] == 0 and record["identical"] is True
        elif record["landed"] == "finished":
            assert record["identical"] is True
        else:  # killed before the .partial existed: nothing to resume, nothing visible
            assert record["landed"].startswith("start-up")
            out = tmp_path / f"main-sigkill-{record['trial']}"
            assert not out.exists() or not [p for p in out.iterdir() if p.name[0] != "."]


def test_killed_between_the_final_rename_and_the_partial_removal(
    data, reference, tmp_path, cli, monkeypatch
):
    """The run directory is whole and its .partial still there: the folder is not
    corrupted, and --resume returns the finished run (no second one) and removes it."""
    monkeypatch.setattr(Checkpoint, "discard", lambda self: None)  # killed just before it
    done = cli("run", data, *faults.lean_options(SEED), "--out", tmp_path)
    assert done.code == 0, done.err
    monkeypatch.undo()
    (partial,) = tmp_path.glob("*.partial")
    final = tmp_path / partial.name.removesuffix(".partial")
    assert final.is_dir() and faults.runs_folder_problems(tmp_path) == []
    assert faults.landed(tmp_path) == "write (run renamed, .partial not yet removed)"

    resumed = cli("run", "--resume", partial, "--quiet")
    assert resumed.code == 0, resumed.err
    assert resumed.out.strip() == str(final)
    assert sorted(p.name for p in tmp_path.iterdir()) == [final.name]
    assert faults.compare_runs(reference, final).identical


def test_killed_while_writing_the_run_directory(data, reference, tmp_path, cli, monkeypatch):
    """A kill while the run directory is written (a hidden half-written copy beside the
    .partial) and while a stage file is written (its hidden temporary inside): the folder
    is not corrupted, the console names the exact --resume command, and the resume clears
    every temporary and equals an uninterrupted run."""

    def half_written(run, out_dir, html, dirname=None):
        tmp = Path(out_dir) / f".{dirname}.k3j2h1"
        tmp.mkdir()
        (tmp / "results.json").write_text('{"schema": "insightome.resul')
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C here (as a kill would stop it here)

    monkeypatch.setattr(output, "write_run", half_written)
    stopped = cli("run", data, *faults.lean_options(SEED), "--out", tmp_path)
    monkeypatch.undo()
    (partial,) = tmp_path.glob("*.partial")
    assert stopped.code == 130
    assert stopped.err.strip().splitlines() == [
        errors.INTERRUPTED.format(
            n_kept=36, partial=partial.resolve(), command=str(partial.resolve())
        )
    ]
    (partial / "stages" / ".audit.x8y7.tmp").write_bytes(b"\x80\x05half a pickle")
    assert faults.runs_folder_problems(tmp_path) == []
    assert faults.landed(tmp_path) == "write"
    assert faults.hidden_entries(tmp_path) == [f".{partial.name.removesuffix('.partial')}.k3j2h1"]

    resumed = cli("run", "--resume", partial, "--quiet")
    assert resumed.code == 0, resumed.err
    final = Path(resumed.out.strip())
    assert sorted(p.name for p in tmp_path.iterdir()) == [final.name]
    assert faults.runs_folder_problems(tmp_path) == []
    comparison = faults.compare_runs(reference, final)
    assert comparison.identical, comparison.differences
    assert comparison.ignored["timings"] == 1  # the rules say what they hid


def test_a_partial_directory_appears_whole_or_not_at_all(tmp_path, monkeypatch):
    """Killed while the .partial is made: no .partial without its invocation.json (one
    that --resume would refuse); a name taken by another run gets -2; what a kill left of
    finished runs' removals is cleared by the next run."""

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint_module.json, "dumps", killed)
    with pytest.raises(KeyboardInterrupt):
        Checkpoint.create(tmp_path, "20261206-010203-x-y", {"data": "x.csv"})
    monkeypatch.undo()
    assert not list(tmp_path.glob("*.partial"))

    (tmp_path / ".20261205-000000-old-run.partial.removed" / "cache").mkdir(parents=True)
    first = Checkpoint.create(tmp_path, "20261206-010203-x-y", {"data": "x.csv"})
    second = Checkpoint.create(tmp_path, "20261206-010203-x-y", {"data": "x.csv"})
    assert first.directory.name == "20261206-010203-x-y.partial"
    assert second.directory.name == "20261206-010203-x-y-2.partial"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "20261206-010203-x-y-2.partial",
        "20261206-010203-x-y.partial",
    ]
    assert json.loads((second.directory / "invocation.json").read_text()) == {"data": "x.csv"}
    second.discard()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["20261206-010203-x-y.partial"]


def test_a_corrupted_runs_folder_is_recognised(reference, tmp_path):
    """The check that all the fault tests rely on fails on each kind of corruption."""
    run = tmp_path / reference.name
    shutil.copytree(reference, run)
    assert faults.runs_folder_problems(tmp_path) == []
    (run / "report.html").unlink()
    (run / ".model.joblib.tmp").write_bytes(b"")
    half = tmp_path / "20261206-000000-half.partial"
    (half / "cache").mkdir(parents=True)
    (half / "cache" / "k.npz").write_bytes(b"PK half an entry")
    (tmp_path / "stray.txt").write_text("")
    problems = faults.runs_folder_problems(tmp_path)
    assert problems == [
        f"{half.name}: invocation.json unreadable (FileNotFoundError): --resume refuses it",
        f"{half.name}: cache/k.npz unreadable (ValueError)",
        f"{run.name}: report.html missing",
        f"{run.name}: temporary files inside a finished run: .model.joblib.tmp",
        "stray.txt: a file in the runs folder",
    ]
    (run / "model.joblib").unlink()
    assert faults.runs_folder_problems(tmp_path)[2].startswith(f"{run.name}: not a whole run")


def test_what_says_the_workers_were_lost():
    from distributed.client import FutureCancelledError
    from distributed.comm.core import CommClosedError
    from distributed.scheduler import KilledWorker
    from joblib.externals.loky.process_executor import TerminatedWorkerError

    assert lost_workers(CommClosedError("in <TCP>: Stream is closed")) == (
        "the connection to the scheduler closed (CommClosedError)"
    )
    assert lost_workers(FutureCancelledError("k", reason="lost")).endswith("(FutureCancelledError)")
    assert lost_workers(KilledWorker("task", "tcp://w", 3)).startswith("a fit's worker")
    assert lost_workers(TerminatedWorkerError("killed")).startswith("a local worker")
    assert lost_workers(ValueError("a bug")) is None
    assert lost_workers(OSError("disk full")) is None
    lost = errors.WorkersLost("the connection to the scheduler closed (CommClosedError)")
    assert "no output folder" in str(lost) and "run it again" in str(lost)


@pytest.mark.parametrize("fault", ["one worker killed", "cluster closed"])
def test_a_dask_cluster_losing_workers_mid_run(fault, data, reference, tmp_path):
    """One worker SIGKILLed once fits are cached: the run finishes, equal to the local
    run. The cluster closed: the run stops with one line (exit 3, no traceback) naming
    the .partial and the --resume command, which finishes it equal to the local run."""
    pytest.importorskip("distributed")
    options = faults.lean_options(SEED)
    record = faults.dask_trial(fault, 0, SEED, data, options, reference, tmp_path / "t")
    assert_clean(record)
    assert record["identical"] is True
    assert not record["traceback"]
    if fault == "cluster closed":
        assert record["exit_code"] == errors.EXIT_RUN_STOPPED and record["resumed"]
        (partial,) = [p for p in record["message"].split() if p.endswith(".partial")][-1:]
        assert record["message"].startswith("error: the workers running the fits were lost: ")
        assert f"finish the run with: insightome run --resume {partial} " in record["message"]
        assert Path(partial).is_absolute() and record["resume_exit_code"] == 0
    else:
        assert record["finished_without_resume"] or record["resumed"]
