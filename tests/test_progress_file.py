"""A run's live progress file: ``<run>.partial/progress.json``, rewritten whole at every
stage's start and end and as its progress bars advance, read by the web workbench (and
``cat``) while a run started there or in the command line works."""

from __future__ import annotations

import json

import pytest

import insightome
from insightome import errors
from insightome.stages import RunState, Stage
from insightome.stages.progress import (
    PROGRESS_FILE,
    PROGRESS_VERSION,
    RunProgress,
    progress_bar,
    read_progress,
)
from tests.conftest import breast_cancer_adata

FAST = {"preset": "fast", "folds": 3, "repeats": 1, "n_bootstrap": 200, "seed": 2,
        "discover": False, "audit": False}  # fmt: skip
KEYS = {"version", "state", "pid", "started", "updated", "elapsed_s", "stages", "stage",
        "finished_stages", "step", "candidates", "projected_cpu_seconds", "energy_kwh",
        "cpu_seconds"}  # fmt: skip


@pytest.fixture(scope="module")
def adata():
    return breast_cancer_adata(n_rows=200, n_cols=6)


def test_a_plugged_in_stage_reads_the_run_s_progress_mid_run(adata, tmp_path):
    seen: dict = {}

    def probe(state: RunState) -> None:
        seen["progress"] = read_progress(state.checkpoint.directory)
        seen["candidates"] = len(state.candidates)

    run = insightome.run(adata, "diagnosis", out_dir=tmp_path, progress=False,
                         stages=[Stage("probe", probe, after="select")], **FAST)  # fmt: skip
    progress = seen["progress"]
    assert set(progress) == KEYS
    assert progress["version"] == PROGRESS_VERSION and progress["state"] == "running"
    assert progress["stages"] == ["read", "study", "screen", "plan", "select", "probe",
                                  "estimate", "refit", "document", "write"]  # fmt: skip
    assert progress["stage"] == "probe"
    # the checkpoint is made in the study stage: from there on every stage is written
    assert progress["finished_stages"] == ["read", "study", "screen", "plan", "select"]
    assert progress["candidates"] == seen["candidates"] > 0
    step = progress["step"]  # the cross-validation's bar, written though no bar was shown
    assert step["description"] == f"Cross-validating {seen['candidates']} configurations"
    assert step["done"] == step["total"] > 0 and step["eta_s"] == 0.0
    assert progress["elapsed_s"] > 0 and progress["started"] <= progress["updated"]
    assert progress["started"].endswith("+00:00")
    assert progress["energy_kwh"] > 0 and progress["cpu_seconds"] > 0
    assert progress["projected_cpu_seconds"] is None  # no --budget
    # a finished run leaves no progress file: the .partial is gone, the run has none
    assert [p.name for p in tmp_path.iterdir()] == [run.path.name]
    assert not (run.path / PROGRESS_FILE).exists()


def test_a_stopped_run_says_so_in_its_kept_partial(adata, tmp_path):
    def ctrl_c(state: RunState) -> None:
        raise errors.Interrupted

    data = tmp_path / "breast.h5ad"  # a file: the run can be resumed
    adata.write_h5ad(data)
    with pytest.raises(errors.Interrupted) as info:
        insightome.run(data, "diagnosis", out_dir=tmp_path / "runs", progress=False,
                       stages=[Stage("ctrl_c", ctrl_c, after="select")], **FAST)  # fmt: skip
    (partial,) = (tmp_path / "runs").iterdir()
    assert info.value.partial == partial.resolve()
    progress = read_progress(partial)
    assert progress["state"] == "stopped" and progress["stage"] == "ctrl_c"
    assert progress["finished_stages"][-1] == "select"

    # resumed: the restored stages count as finished, and "started" is the resume's
    seen = {}

    def probe(state: RunState) -> None:
        seen["progress"] = read_progress(state.checkpoint.directory)

    insightome.resume(partial, stages=[Stage("probe", probe, after="select")])
    resumed = seen["progress"]
    assert resumed["state"] == "running" and resumed["stage"] == "probe"
    assert resumed["finished_stages"] == ["read", "study", "screen", "plan", "select"]
    assert resumed["started"] >= progress["updated"]
    assert resumed["candidates"] == progress["candidates"]
    assert resumed["cpu_seconds"] > 0 and resumed["energy_kwh"] > 0


def test_the_file_is_replaced_whole_and_a_broken_one_reads_as_none(tmp_path):
    progress = RunProgress()
    progress.stages = ["read", "study"]
    progress.stage_started("read")  # no checkpoint yet: nothing written, no error
    assert read_progress(tmp_path) is None and not list(tmp_path.iterdir())

    progress.directory = tmp_path
    progress.stage_finished("read")
    first = json.loads((tmp_path / PROGRESS_FILE).read_text())
    progress.stage_started("study")
    assert [p.name for p in tmp_path.iterdir()] == [PROGRESS_FILE]  # no temporary left
    second = read_progress(tmp_path)
    assert first["stage"] is None and second["stage"] == "study"
    assert second["finished_stages"] == ["read"] and second["step"] is None

    (tmp_path / PROGRESS_FILE).write_text('{"version": 1, "sta')  # half a file
    assert read_progress(tmp_path) is None
    assert read_progress(tmp_path / "absent") is None

    progress.directory = tmp_path / "removed"  # a .partial that is gone: never an error
    progress.stopped()
    assert not progress.directory.exists()


def test_a_hidden_bar_reports_at_most_once_a_second(tmp_path):
    progress = RunProgress()
    progress.directory = tmp_path
    with progress_bar(False, progress) as bar:
        advance = bar("Permutation null (5 reruns)", 10)
        for _ in range(4):
            advance(1)
    written = read_progress(tmp_path)["step"]  # at the bar's start; the advances came too soon
    assert written == {"description": "Permutation null (5 reruns)", "done": 0, "total": 10,
                       "eta_s": None}  # fmt: skip
    step = progress.record()["step"]
    assert step["done"] == 4 and step["eta_s"] > 0
    with progress_bar(False) as bar:  # no progress to report to, no bar: nothing to call
        assert bar("Cross-validating 1 configurations", 3) is None
