"""The run directory's files: checked before loading, kept byte for byte by reruns."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier

from insightome.errors import UserError
from insightome.runs import Run, file_sha256, rewrite_run, write_run


@pytest.fixture
def forest_run(tmp_path) -> Run:
    """A run whose model (a random forest) pickles to other bytes once loaded again."""
    X, y = load_breast_cancer(return_X_y=True)
    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    run = Run({"name": "forest"}, pd.DataFrame(), model, {}, ["written"])
    write_run(run, tmp_path, "<html></html>", dirname="run")
    return run


def test_rewriting_a_run_keeps_its_model_file_byte_for_byte(forest_run):
    path = forest_run.path
    before = (file_sha256(path / "model.joblib"), (path / "model.joblib").stat().st_mtime_ns)
    loaded = Run.load(path)
    loaded.log.append("audit rerun")
    rewrite_run(loaded, "<html>again</html>")
    after = (file_sha256(path / "model.joblib"), (path / "model.joblib").stat().st_mtime_ns)
    assert after == before
    assert json.loads((path / "model.json").read_text())["model_sha256"] == before[0]
    assert Run.load(path).log[-1] == "audit rerun"


def test_a_model_file_without_a_recorded_sha256_is_not_loaded(forest_run):
    path = forest_run.path
    card = json.loads((path / "model.json").read_text())
    del card["model_sha256"]
    (path / "model.json").write_text(json.dumps(card))
    with pytest.raises(UserError, match="no sha256") as info:
        Run.load(path)
    assert "\n" not in str(info.value) and "rerun" in str(info.value)
