"""The prediction event log (EU AI Act Art. 12/14): round trip, durability, concurrency."""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from insightome.audit import prediction_log
from insightome.audit.prediction_log import (
    LOG_LINE_CORRUPT,
    LOG_NAME,
    OVERRIDE_FIELD_EMPTY,
    OVERRIDE_NOT_PREDICTED,
    PREDICTIONS_NO_IDS,
    log_override,
    log_predictions,
    read_log,
)
from insightome.errors import UserError
from insightome.run_content import class_table

MODEL_SHA = "a" * 64
INPUT_SHA = "b" * 64


@pytest.fixture(scope="module")
def predictions() -> pd.DataFrame:
    """Real predictions, in `insightome predict`'s format: a logistic model on breast cancer."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X[100:], 1 - y[100:])
    prob = model.predict_proba(X[:25])[:, [1]]  # P(malignant)
    index = pd.Index([f"P{i:04d}" for i in range(25)], name="sample_id")
    return class_table(prob, ["benign", "malignant"], 0.37, index)


def _log(run_dir: Path, preds: pd.DataFrame, user: str | None = "dr.a") -> Path:
    return log_predictions(
        run_dir,
        preds,
        input_path="/secure/cohorts/new_patients.csv",
        input_sha256=INPUT_SHA,
        model_sha256=MODEL_SHA,
        user=user,
    )


def test_round_trip_of_predictions_and_an_override(tmp_path, predictions):
    path = _log(tmp_path, predictions)
    log_override(
        tmp_path,
        "P0003",
        reviewer="dr.b",
        override="benign",
        reason="biopsy benign",
        model_sha256=MODEL_SHA,
    )
    assert path == tmp_path / LOG_NAME
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) == 27  # 26 complete lines, each newline-ended
    first = json.loads(lines[0])
    assert set(first) == {
        "timestamp",
        "event",
        "model_sha256",
        "input_sha256",
        "input_file",
        "sample_id",
        "output",
        "user",
    }
    assert first["input_file"] == "new_patients.csv"  # the file's name only, not its path

    log = read_log(tmp_path)
    assert len(log) == 26
    assert list(log["event"]) == ["prediction"] * 25 + ["override"]
    pred = log[log["event"] == "prediction"].set_index("sample_id")
    assert list(pred.index) == list(predictions.index)
    for column in predictions.columns:
        got, expected = pred[f"output.{column}"], predictions[column]
        if column.startswith("prob_"):
            np.testing.assert_allclose(got.to_numpy(float), expected.to_numpy(float), rtol=1e-15)
        else:
            assert list(got) == list(expected)
    assert (pred["model_sha256"] == MODEL_SHA).all() and (pred["input_sha256"] == INPUT_SHA).all()
    assert (pred["user"] == "dr.a").all()
    override = log.iloc[-1]
    assert (override["sample_id"], override["reviewer"], override["override"]) == (
        "P0003",
        "dr.b",
        "benign",
    )
    assert override["reason"] == "biopsy benign"
    assert str(log["timestamp"].dt.tz) == "UTC"
    assert log["timestamp"].is_monotonic_increasing


def test_every_append_is_flushed_and_fsynced_as_complete_lines(tmp_path, predictions, monkeypatch):
    seen: list[tuple[int, bytes]] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        log = tmp_path / LOG_NAME
        content = log.read_bytes() if log.exists() else b""
        seen.append((os.fstat(fd).st_ino, content))
        real_fsync(fd)

    monkeypatch.setattr(prediction_log.os, "fsync", spy)
    _log(tmp_path, predictions.iloc[:10])
    _log(tmp_path, predictions.iloc[10:])
    inode = (tmp_path / LOG_NAME).stat().st_ino
    synced = [content for ino, content in seen if ino == inode]
    assert len(synced) == 2  # one fsync of the file per append
    # by the time of each fsync, the lines are flushed to the file and complete
    assert [c.count(b"\n") for c in synced] == [10, 25]
    assert all(c.endswith(b"\n") for c in synced)
    assert tmp_path.stat().st_ino in {ino for ino, _ in seen}  # new file: directory synced


def _writer(run_dir: str, writer: int, start, n: int) -> None:
    one = pd.DataFrame({"prob_malignant": [0.25], "predicted_class": ["benign"]})
    start.wait()
    for i in range(n):
        one.index = pd.Index([f"w{writer}-{i:03d}"], name="sample_id")
        log_predictions(
            Path(run_dir),
            one,
            input_path=f"batch{writer}.csv",
            input_sha256=INPUT_SHA,
            model_sha256=MODEL_SHA,
        )


def test_two_processes_appending_concurrently_never_interleave(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), w, start, 200)) for w in (1, 2)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    raw = (tmp_path / LOG_NAME).read_bytes()
    assert raw.endswith(b"\n")
    entries = [json.loads(line) for line in raw.splitlines()]
    assert len(entries) == 400
    for w in (1, 2):
        ids = [e["sample_id"] for e in entries if e["input_file"] == f"batch{w}.csv"]
        assert ids == [f"w{w}-{i:03d}" for i in range(200)]  # all there, in order
    assert len(read_log(tmp_path)) == 400


def test_corrupt_last_line_is_reported_with_its_number(tmp_path, predictions):
    path = _log(tmp_path, predictions.iloc[:5])
    whole = path.read_bytes().splitlines()[0]
    with open(path, "ab") as fh:  # a crash in the middle of writing line 6
        fh.write(whole[: len(whole) // 2])
    with pytest.raises(UserError) as info:
        read_log(tmp_path)
    assert info.value.template == LOG_LINE_CORRUPT
    assert info.value.fields["line"] == 6
    assert f"{LOG_NAME}, line 6:" in str(info.value)

    # the next append keeps the fragment as evidence on its own line; new lines are intact
    _log(tmp_path, predictions.iloc[5:8])
    lines = path.read_bytes().splitlines()
    assert lines[5] == whole[: len(whole) // 2]
    assert [json.loads(line)["sample_id"] for line in lines[6:]] == ["P0005", "P0006", "P0007"]
    with pytest.raises(UserError) as info:
        read_log(tmp_path)
    assert info.value.fields["line"] == 6


@pytest.mark.parametrize("reason", ["", "   "])
def test_override_without_a_reason_is_refused(tmp_path, reason):
    with pytest.raises(UserError) as info:
        log_override(
            tmp_path, "P0001", reviewer="dr.b", override="benign", reason=reason, model_sha256="x"
        )
    assert info.value.template == OVERRIDE_FIELD_EMPTY
    assert info.value.fields["field"] == "the reason"
    assert not (tmp_path / LOG_NAME).exists()


def test_predictions_need_unique_sample_ids(tmp_path, predictions):
    dup = predictions.iloc[[0, 0, 1]]
    with pytest.raises(UserError) as info:
        _log(tmp_path, dup)
    assert info.value.template == PREDICTIONS_NO_IDS
    assert not (tmp_path / LOG_NAME).exists()


def test_no_log_yet_reads_as_an_empty_table(tmp_path):
    log = read_log(tmp_path)
    assert log.empty
    assert {"timestamp", "event", "sample_id", "model_sha256"} <= set(log.columns)


def test_override_of_a_sample_never_predicted_is_refused(tmp_path, predictions):
    _log(tmp_path, predictions.iloc[:3])
    with pytest.raises(UserError) as info:
        log_override(
            tmp_path, "P9999", reviewer="dr.b", override="benign", reason="biopsy", model_sha256="x"
        )
    assert info.value.template == OVERRIDE_NOT_PREDICTED
    assert len(read_log(tmp_path)) == 3  # nothing appended
    with pytest.raises(UserError):  # no log at all: nothing was predicted
        log_override(
            tmp_path / "none", "P0000", reviewer="b", override="x", reason="y", model_sha256="x"
        )


def _rewriter(run_dir: str, stop, done) -> None:
    """Rewrite the run directory (as audit/discover do) until ``stop`` is set."""
    from insightome.run_directory import Run, rewrite_run

    run = Run.load(run_dir)
    n = 0
    while not stop.is_set():
        rewrite_run(run, "<html></html>")
        n += 1
    done.put(n)


def test_rewrite_run_loses_no_line_appended_while_it_copies_the_log(tmp_path):
    from insightome.run_directory import Run, write_run
    from tests.results_example import minimal_results

    run = Run(minimal_results("r"), pd.DataFrame(), {"model": 1}, {}, ["log"])
    run_dir = write_run(run, tmp_path, "<html></html>", dirname="run")
    ctx = multiprocessing.get_context("spawn")
    start, stop, done = ctx.Event(), ctx.Event(), ctx.Queue()
    writers = [ctx.Process(target=_writer, args=(str(run_dir), w, start, 150)) for w in (1, 2)]
    rewriter = ctx.Process(target=_rewriter, args=(str(run_dir), stop, done))
    rewriter.start()
    for p in writers:
        p.start()
    start.set()
    for p in writers:
        p.join(timeout=120)
        assert p.exitcode == 0
    stop.set()
    n_rewrites = done.get(timeout=120)
    rewriter.join(timeout=60)
    assert rewriter.exitcode == 0
    assert n_rewrites > 0
    entries = [json.loads(line) for line in (run_dir / LOG_NAME).read_bytes().splitlines()]
    for w in (1, 2):
        ids = [e["sample_id"] for e in entries if e["input_file"] == f"batch{w}.csv"]
        assert ids == [f"w{w}-{i:03d}" for i in range(150)]  # none lost, in order
    assert len(entries) == 300
