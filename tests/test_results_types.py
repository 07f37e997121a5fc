"""Typed results: results.json parses into RunResults and serializes back to the same
values, matches the shipped JSON Schema, is validated before a run is written, and old
runs keep loading."""

from __future__ import annotations

import copy
import json
import tomllib
from importlib import resources
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest

import insightome
from insightome.errors import UserError
from insightome.results import ResultsSchemaError, RunResults, validate_results
from insightome.results.schema import SCHEMA_FILE, main, results_json_schema, schema_text
from insightome.run_directory import Run, write_run
from tests.conftest import breast_cancer_adata, invalid_results_files
from tests.results_example import minimal_results

FAST = {"preset": "fast", "folds": 3, "repeats": 1, "n_bootstrap": 200}
ROOT = Path(__file__).resolve().parents[1]


def _adata(X: pd.DataFrame, obs: pd.DataFrame) -> ad.AnnData:
    X = X.reset_index(drop=True)
    obs = obs.reset_index(drop=True)
    X.index = obs.index = [f"s{i}" for i in range(len(X))]
    return ad.AnnData(X.to_numpy(float), obs=obs, var=pd.DataFrame(index=X.columns))


@pytest.fixture(scope="module")
def saved_runs(tmp_path_factory) -> dict[str, Path]:
    """Real runs of every kind, written by today's code: binary with discovery, audit and
    a sensitive attribute; multiclass; regression; survival; with --groups; neither
    discovery nor audit."""
    from lifelines.datasets import load_rossi
    from sklearn.datasets import load_diabetes, load_wine

    out = tmp_path_factory.mktemp("typed_runs")
    rng = np.random.default_rng(0)
    breast = breast_cancer_adata(n_rows=200, n_cols=8)
    breast.obs["sex"] = rng.choice(["female", "male"], breast.n_obs)
    breast.obs["patient"] = [f"p{i // 2}" for i in range(breast.n_obs)]
    wine = load_wine(as_frame=True)
    diabetes = load_diabetes(as_frame=True)
    rossi = load_rossi()
    runs = {
        "binary": dict(data=breast, target="diagnosis", sensitive=["sex"]),
        "multiclass": dict(
            data=_adata(wine.data.iloc[:, :6], pd.DataFrame({"cultivar": wine.target.astype(str)})),
            target="cultivar", discover=False,
        ),
        "regression": dict(
            data=_adata(diabetes.data, pd.DataFrame({"progression": diabetes.target})),
            target="progression", discover=False, audit=False,
        ),
        "survival": dict(
            data=_adata(rossi.drop(columns=["week", "arrest"]), rossi[["week", "arrest"]]),
            time_col="week", event="arrest", task="survival", discover=False,
        ),
        "groups": dict(data=breast, target="diagnosis", groups="patient", discover=False),
        "plain": dict(data=breast, target="diagnosis", discover=False, audit=False),
    }  # fmt: skip
    paths = {}
    for kind, kwargs in runs.items():
        run = insightome.run(**kwargs, out_dir=out / kind, seed=3, **FAST)
        paths[kind] = run.path
    return paths


KINDS = ["binary", "multiclass", "regression", "survival", "groups", "plain"]


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_real_runs_round_trip_exactly(saved_runs, kind):
    """from_dict → to_dict gives back results.json exactly: same keys, values and number
    types (json.dumps tells 1 from 1.0), and the shipped JSON Schema accepts it."""
    import jsonschema

    text = (saved_runs[kind] / "results.json").read_text()
    d = json.loads(text)
    typed = RunResults.from_dict(d)
    back = typed.to_dict()
    assert back == d
    assert json.dumps(back, sort_keys=True) == json.dumps(d, sort_keys=True)
    jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text())).validate(d)
    assert typed.task == d["task"] and typed.estimate.value == d["estimate"]["value"]
    assert ("discovery" in d) == (typed.discovery is not None)
    assert ("audit" in d) == (typed.audit is not None)
    if kind == "binary":
        assert typed.discovery.signature is not None
        assert {g.attribute for g in typed.audit.model.groups} >= {"sex"}
    if kind == "groups":
        assert typed.resampling.grouped


def test_the_shipped_schema_is_the_generated_one():
    """The package's results.schema.json equals a fresh generation (it cannot go stale);
    regenerate with ``python -m insightome.results.schema``."""
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_text()
    assert main(["--check"]) == 0
    import jsonschema

    schema = results_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)  # a valid JSON Schema itself
    assert schema["$schema"].endswith("2020-12/schema")
    assert "estimate" in schema["required"] and "audit" not in schema["required"]


def test_the_schema_ships_in_the_wheel():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "results/results.schema.json" in data["package-data"]["insightome"]
    assert resources.files("insightome.results").joinpath("results.schema.json").is_file()


def test_an_absent_key_stays_absent_and_a_number_keeps_its_type():
    d = minimal_results()
    d["timings"] = {"load": 1, "total": 1.5}  # an int stays an int
    back = RunResults.from_dict(d).to_dict()
    assert back == d and type(back["timings"]["load"]) is int
    assert "discovery" not in back and "observed" not in back["permutation"]


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        (lambda d: d["estimate"].update(value="0.8"), "$.estimate.value", "valid number"),
        (lambda d: d["estimate"]["ci95"].append(1.0), "$.estimate.ci95", "at most 2 items"),
        (lambda d: d["configurations"][0].pop("cv_value"), "$.configurations[0].cv_value",
         "Field required"),
        (lambda d: d.update(surprise=1), "$.surprise", "Extra inputs"),
        (lambda d: d.update(task="ordinal"), "$.task", "'survival'"),
        (lambda d: d["resampling"].update(folds=True), "$.resampling.folds", "valid integer"),
        (lambda d: d.update(schema="insightome.results/9"), "$.schema", "unknown schema"),
    ],
)  # fmt: skip
def test_a_mismatch_names_its_json_path(change, path, message):
    d = minimal_results()
    change(d)
    with pytest.raises(ResultsSchemaError, match=message) as info:
        validate_results(d)
    assert info.value.path == path


def test_write_run_refuses_results_that_do_not_match_and_writes_nothing(tmp_path):
    results = minimal_results("bad")
    results["estimate"]["ci95"] = [0.1]
    run = Run(results, pd.DataFrame(), {"model": 1}, {}, ["log"])
    with pytest.raises(ResultsSchemaError, match=r"\$\.estimate\.ci95"):
        write_run(run, tmp_path, "<html></html>")
    assert list(tmp_path.iterdir()) == [] and run.path is None


def test_old_runs_load_a_run_naming_no_schema_as_version_1(tmp_path):
    """A run written before its schema was named loads, read as version 1; a schema this
    version does not know is refused in one line."""
    run = Run(minimal_results("old"), pd.DataFrame(), {"model": 1}, {}, ["log"])
    path = write_run(run, tmp_path, "<html></html>", dirname="old")
    results = json.loads((path / "results.json").read_text())
    original = (path / "results.json").read_text()
    del results["schema"]
    (path / "results.json").write_text(json.dumps(results))
    loaded = Run.load(path)
    assert loaded.results == results and loaded.typed_results.schema_version == 1
    (path / "results.json").write_text(json.dumps({**results, "schema": "insightome.results/9"}))
    try:
        with pytest.raises(UserError, match="does not read") as info:
            Run.load(path)
        assert "\n" not in str(info.value) and str(path) in str(info.value)
    finally:  # leave a valid run behind for the session's check of every results.json
        (path / "results.json").write_text(original)


def test_the_session_check_fails_on_a_broken_results_json(tmp_path):
    """The check run after every session (conftest) finds a broken run's results.json and
    names the file and the JSON path; a stand-in results.json outside a run is skipped."""
    good = write_run(Run(minimal_results("good"), pd.DataFrame(), {"model": 1}, {}, []),
                     tmp_path, "", dirname="good")  # fmt: skip
    (tmp_path / "not-a-run").mkdir()
    (tmp_path / "not-a-run" / "results.json").write_text("{}")
    assert invalid_results_files(tmp_path) == []
    broken = copy.deepcopy(minimal_results("good"))
    broken["configurations"][0]["failed_folds"] = 0.5
    original = (good / "results.json").read_text()
    (good / "results.json").write_text(json.dumps(broken))
    try:
        (problem,) = invalid_results_files(tmp_path)
        assert str(good / "results.json") in problem
        assert "$.configurations[0].failed_folds" in problem
    finally:
        (good / "results.json").write_text(original)
    assert invalid_results_files(tmp_path) == []
