"""The run directory's files: checked before loading, kept byte for byte by reruns."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier

from insightome.errors import UserError
from insightome.run_directory import Run, file_sha256, rewrite_run, write_run
from tests.results_example import minimal_results


@pytest.fixture
def forest_run(tmp_path) -> Run:
    """A run whose model (a random forest) pickles to other bytes once loaded again."""
    X, y = load_breast_cancer(return_X_y=True)
    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    run = Run(minimal_results("forest"), pd.DataFrame(), model, {}, ["written"])
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


def test_row_digests_ignore_column_order_and_float32_but_not_values_or_key():
    import numpy as np

    from insightome.overlap import row_digests

    df = pd.DataFrame(
        {"a": [0.1, -0.0, np.nan], "b": pd.Categorical(["x", None, "y"]), "c": [1, 2, 3]}
    )
    dtypes = {"a": "numeric", "b": "categorical", "c": "numeric"}
    key = bytes(range(32))
    base = row_digests(df, dtypes, key)
    assert len(set(base)) == 3 and base.dtype == np.dtype("S16")
    other = df[["c", "b", "a"]].astype({"a": "float32", "c": "float64"})
    other["a"] = np.array([0.1, 0.0, np.nan], dtype="float32")  # -0 is 0
    assert (row_digests(other, dtypes, key) == base).all()
    changed = df.copy()
    changed.loc[0, "a"], changed.loc[2, "b"] = 0.11, "x"
    assert (row_digests(changed, dtypes, key) == base).tolist() == [False, True, False]
    assert not (row_digests(df, dtypes, bytes(32)) == base).any()  # another key: no match
