"""The Python API mirrors the CLI: insightome.run(adata, ...) -> Run; runs are atomic."""

from __future__ import annotations

import pandas as pd
import pytest

import insightome
from insightome.run_directory import Run
from tests.conftest import breast_cancer_adata


@pytest.fixture(scope="module")
def adata():
    return breast_cancer_adata(n_cols=10)


FAST = {"preset": "fast", "folds": 3, "repeats": 1, "n_bootstrap": 200}


def test_run_on_anndata_returns_a_run_and_loads_back(adata, tmp_path):
    run = insightome.run(adata, target="diagnosis", out_dir=tmp_path, seed=5, **FAST)
    assert isinstance(run, Run) and run.path is not None and run.path.parent == tmp_path
    assert run.spec.task == "binary" and run.spec.target == "diagnosis"
    assert 0.9 < run.estimate["value"] <= 1.0
    loaded = Run.load(run.path)
    assert loaded.results["estimate"] == run.results["estimate"]
    pd.testing.assert_frame_equal(insightome.predict(loaded, adata), insightome.predict(run, adata))
    assert "Run(binary, n=569" in repr(loaded)


def test_same_seed_same_results(adata):
    a = insightome.run(adata, target="diagnosis", out_dir=None, seed=11, **FAST)
    b = insightome.run(adata, target="diagnosis", out_dir=None, seed=11, **FAST)
    assert a.results["estimate"] == b.results["estimate"]
    assert a.results["configurations"][0]["cv_value"] == b.results["configurations"][0]["cv_value"]
    pd.testing.assert_frame_equal(a.predictions, b.predictions)


def test_failure_while_writing_leaves_nothing(adata, tmp_path, monkeypatch):
    import insightome.run_directory as runs_module

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(runs_module.joblib, "dump", broken)
    with pytest.raises(OSError, match="disk full"):
        insightome.run(adata, target="diagnosis", out_dir=tmp_path, **FAST)
    # no run directory and no temporary directory: only the checkpoint of finished fits
    (left,) = tmp_path.iterdir()
    assert left.name.endswith(".partial") and not (left / "results.json").exists()
    assert len(list((left / "cache").glob("*.npz"))) == 6 * 3  # every fit is kept for --resume


def test_tampered_model_is_refused(adata, tmp_path):
    run = insightome.run(adata, target="diagnosis", out_dir=tmp_path, **FAST)
    with open(run.path / "model.joblib", "ab") as fh:
        fh.write(b"tampered")
    with pytest.raises(insightome.UserError, match="sha256"):
        Run.load(run.path)


def test_spec_is_frozen_and_round_trips(adata):
    spec = insightome.make_study(adata, target="diagnosis", sensitive=[]).spec
    with pytest.raises(AttributeError):
        spec.task = "regression"  # type: ignore[misc]
    assert insightome.StudySpec.from_dict(spec.to_dict()) == spec


def test_in_memory_anndata_gets_a_data_hash(adata):
    a = insightome.run(adata, target="diagnosis", out_dir=None, **FAST)
    files = a.results["data"]["files"]
    assert files[0]["format"] == "anndata" and len(files[0]["sha256"]) == 64
    changed = adata.copy()
    changed.X[0, 0] += 1.0
    b = insightome.run(changed, target="diagnosis", out_dir=None, **FAST)
    assert b.results["data"]["files"][0]["sha256"] != files[0]["sha256"]
    assert "provenance" not in adata.uns  # the caller's object is not modified


@pytest.mark.parametrize(
    ("option", "value", "fragment"),
    [("preset", "huge", "--preset"), ("folds", 1, "--folds"), ("n_bootstrap", 10, "--bootstrap")],
)
def test_invalid_options_are_user_errors(adata, tmp_path, option, value, fragment):
    kwargs = {**FAST, option: value}
    with pytest.raises(insightome.UserError, match=fragment):
        insightome.run(adata, target="diagnosis", out_dir=tmp_path, **kwargs)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("option", "value"), [("pue", 0.5), ("carbon_intensity", -1.0)])
def test_invalid_energy_constants_are_user_errors(adata, option, value):
    with pytest.raises(insightome.UserError, match=option.replace("_", "-")):
        insightome.run(adata, target="diagnosis", out_dir=None, **FAST, **{option: value})


def test_fit_warnings_are_recorded_in_notes_and_run_log(adata, tmp_path, monkeypatch):
    """A candidate that emits ConvergenceWarning: counted per candidate, not hidden."""
    import json

    import insightome.stages.candidate_sets as candidate_sets  # where the run's sets are built
    from insightome.models.candidates import Candidate

    # saga stops at max_iter with C=1000 on these features: a ConvergenceWarning per fit
    noisy = Candidate("elastic_net_logistic", {"C": 1000.0, "l1_ratio": 0.5}, None, "binary")
    monkeypatch.setattr(candidate_sets, "candidates", lambda *a, **k: [noisy])
    run = insightome.run(
        adata, target="diagnosis", out_dir=tmp_path, discover=False, audit=False, **FAST
    )
    expected = f"fit warnings: {noisy.name}: ConvergenceWarning in 3 of 3 fits"
    final = f"fit warnings: final fit of {noisy.name} on all samples: ConvergenceWarning"
    results = json.loads((run.path / "results.json").read_text())
    assert expected in results["notes"]
    assert any(n.startswith(final) for n in results["notes"])
    assert results["configurations"][0]["fit_warnings"] == {"ConvergenceWarning": 3}
    log = (run.path / "run.log").read_text()
    assert expected in log and final in log


def test_out_of_fold_decisions_use_the_training_folds_prevalence():
    """Balanced accuracy, predictions.tsv's predicted_class and the audit's error rates
    threshold each out-of-fold prediction at the prevalence of the training folds that made
    it (by hand below), not at the prevalence of all labels, held-out ones included."""
    import anndata as ad
    import numpy as np
    from sklearn.metrics import balanced_accuracy_score, recall_score

    from insightome.evaluate.splitters import make_plan

    rng = np.random.default_rng(0)  # a weak signal: predictions crowd the threshold
    y_bool = rng.random(100) < 0.3
    X = rng.normal(size=(100, 3))
    X[:, 0] += 0.4 * y_bool
    obs = pd.DataFrame({"status": np.where(y_bool, "case", "control")})
    obs.index = [f"s{i}" for i in range(100)]
    adata = ad.AnnData(X, obs=obs, var=pd.DataFrame(index=["a", "b", "c"]))
    run = insightome.run(adata, target="status", out_dir=None, seed=0, discover=False, **FAST)
    classes = run.model_card["classes"]
    y = np.array([classes.index(v) for v in run.predictions["y"]])
    p = run.predictions[f"prob_{classes[1]}"].to_numpy()
    threshold = np.empty(len(y))
    for train, test in make_plan(y, "binary", folds=3, repeats=1, seed=0).splits[0]:
        threshold[test] = y[train].mean()
    hat = (p >= threshold).astype(int)
    assert (hat != (p >= y.mean())).sum() >= 3  # the construction separates the two rules
    assert run.predictions["predicted_class"].tolist() == [classes[i] for i in hat]
    ba = run.results["secondary"]["balanced_accuracy"]["plain_cv_value"]
    assert ba == pytest.approx(balanced_accuracy_score(y, hat), abs=1e-12)
    tpr = run.results["audit"]["model"]["overall"]["tpr"]["value"]
    assert tpr == pytest.approx(recall_score(y, hat), abs=1e-12)
    assert run.results["decision_threshold"] == pytest.approx(y.mean())  # deployed: all data
