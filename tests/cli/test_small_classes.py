"""Issue 17, points 5 and 6 through the command line: a 9-class tumour set with 2-sample
classes runs to the end (since issue 27 with every class learned by 2-fold CV); a class of
1 sample is left out, and predict and validate say so; integer class codes are classes,
said before fitting."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
from sklearn import datasets

from insightome import errors
from insightome.followup import reload
from insightome.outcome_encoding import CODES_RULE
from tests.cli.conftest import run_dirs
from tests.cli.test_bad_input import assert_user_error
from tests.conftest import shared_data

QUICK = ("--preset", "fast", "--repeats", "1", "--bootstrap", "200")

LYMPHOMA_NOTES = (
    "note: task detected as multiclass from 'Y': 9 distinct whole numbers from 1 to 9, "
    "none missing, in 96 samples. Rule: " + CODES_RULE + ". Override with --task regression.",
    "note: 2-fold cross-validation (stratified): the largest fold count the data allow "
    "(class '8' has 2 samples; every test fold needs one of each), instead of the default 5; "
    "set --folds to choose (at most 2)",
)


@pytest.mark.slow
def test_lymphoma_runs_to_the_end_as_multiclass(cli, tmp_path):
    """lymphoma.mat: 96 samples, outcome Y coded 1..9 with classes of 46, 10, 9, 11, 6, 6,
    4, 2 and 2 samples (this stopped with "5-fold CV needs at least 5 per class"; until
    issue 27 the two classes of 2 were left out and 4-fold CV learned 7)."""
    data = shared_data("omics", "lymphoma.mat")
    out = tmp_path / "runs"
    r = cli("run", data, "--target", "Y", "--out", out, *QUICK, "--max-features", "300",
            "--permutations", "2")  # fmt: skip
    assert r.code == 0, r.err
    console = [line for line in r.err.splitlines() if line.startswith("note:")]
    assert console == list(LYMPHOMA_NOTES)
    (run_dir,) = run_dirs(out)
    results = json.loads((run_dir / "results.json").read_text())
    assert results["task"] == "multiclass" and results["task_detected"]
    assert results["n_samples"] == 96
    outcome = results["outcome"]
    assert outcome["classes"] == [str(k) for k in range(1, 10)]
    assert "classes_left_out" not in outcome and outcome["min_training_per_class"] == 1
    assert outcome["task_detection"]["rule"] == CODES_RULE
    assert results["resampling"]["folds"] == 2
    assert results["resampling"]["fold_choice"]["requested"] is None
    assert results["resampling"]["fold_choice"]["chosen"] == 2
    for note in LYMPHOMA_NOTES:
        assert note.removeprefix("note: ") in results["notes"]
    # every nested resampling ran on the 96 samples and the 2 folds
    assert results["permutation"]["n"] == 2
    assert len(results["permutation"]["null"]) == 2
    signature = results["discovery"]["signature"]
    assert len(signature["fold_signatures"]) == 2  # one per fold of the 2-fold CV (1 repeat)
    conformal = results["audit"]["conformal"]
    assert conformal["marginal"]["n"] == 96
    assert conformal["thresholds"]["classes"] == outcome["classes"]
    html = (run_dir / "report.html").read_text()
    assert "Study design decided by the data" in html and "left out" not in html
    assert "2-fold cross-validation was used" in html
    predictions = pd.read_csv(run_dir / "predictions.csv")
    probs = [f"prob_{k}" for k in range(1, 10)]
    assert [c for c in predictions if c.startswith("prob_")] == probs
    assert np.allclose(predictions.filter(like="prob_").sum(axis=1), 1)
    # the classes of 2 are learned: their 4 samples' out-of-fold probabilities of their own
    # class average above chance (1/9; 0.37, 0.35, 0.06, 0.12 on 2026-12-07)
    rare = predictions[predictions["y"].astype(str).isin(["8", "9"])]
    own = [row[f"prob_{row['y']}"] for _, row in rare.iterrows()]
    assert len(own) == 4 and np.mean(own) > 1 / 9, own
    # a follow-up command rebuilds the same study and plan from the saved run
    again = reload(run_dir, command="audit", winner_oof=False)
    assert again.study.classes == outcome["classes"] and again.plan.folds == 2
    assert again.study.classes_left_out == ()


@pytest.fixture
def coded_csv(tmp_path):
    """Real measurements (scikit-learn's breast-cancer data, 30 tumours) with a made-up
    tumour type coded 1-9, as in the issue's 30-sample example."""
    X = datasets.load_breast_cancer(as_frame=True).data.iloc[:30, :6]
    df = X.rename(columns=lambda c: c.replace(" ", "_"))
    sizes = {1: 6, 2: 4, 3: 3, 4: 3, 5: 3, 6: 3, 7: 3, 8: 3, 9: 2}
    codes = np.concatenate([[c] * n for c, n in sizes.items()])
    df["type"] = np.random.default_rng(0).permutation(codes)
    df.index = [f"T{i:02d}" for i in range(len(df))]  # sample IDs, not row numbers (a feature)
    path = tmp_path / "coded.csv"
    df.to_csv(path, index_label="sample")
    return path


def test_integer_codes_are_classes_and_the_rule_is_printed(cli, coded_csv, tmp_path):
    out = tmp_path / "runs"
    r = cli("run", coded_csv, "--target", "type", "--out", out, *QUICK, "--no-discover",
            "--skip", "audit")  # fmt: skip
    assert r.code == 0, r.err
    notes = [line for line in r.err.splitlines() if line.startswith("note:")]
    assert notes[0] == (
        "note: task detected as multiclass from 'type': 9 distinct whole numbers from 1 to 9, "
        f"none missing, in 30 samples. Rule: {CODES_RULE}. Override with --task regression."
    )
    assert notes[1].startswith("note: 2-fold cross-validation (stratified)")
    assert "class '9' has 2 samples" in notes[1]
    assert len(notes) == 2 and "leakage screen" not in r.err
    (run_dir,) = run_dirs(out)
    results = json.loads((run_dir / "results.json").read_text())
    assert results["task"] == "multiclass" and results["resampling"]["folds"] == 2
    assert results["n_samples"] == 30 and results["n_features"] == 6
    assert "final_task" not in results["outcome"]["task_detection"]
    # decided before fitting: the run log has each console note before the first fit's outcome
    log = (run_dir / "run.log").read_text()
    for note in notes:
        assert log.index(note) < log.index(" winner ")


def test_a_run_saved_before_the_rule_was_recorded_is_rebuilt_with_its_own(
    cli, coded_csv, tmp_path, monkeypatch
):
    """A run made under the legacy rule (2 samples of a class in every training fold: class
    '9' of 2 samples left out, 3-fold CV) whose results.json does not record its rule, as
    runs before issue 27 do not: follow-ups rebuild its study as it was made."""
    out = tmp_path / "runs"
    with monkeypatch.context() as legacy:
        legacy.setattr("insightome.stages.modelling.MIN_TRAINING_PER_CLASS", 2)
        r = cli("run", coded_csv, "--target", "type", "--out", out, *QUICK, "--no-discover",
                "--skip", "audit")  # fmt: skip
    assert r.code == 0, r.err
    (run_dir,) = run_dirs(out)
    path = run_dir / "results.json"
    results = json.loads(path.read_text())
    assert results["outcome"]["min_training_per_class"] == 2
    assert results["outcome"]["classes_left_out"] == [{"label": "9", "n_samples": 2}]
    del results["outcome"]["min_training_per_class"]
    path.write_text(json.dumps(results))
    again = reload(run_dir, command="audit", winner_oof=False)
    assert [c.label for c in again.study.classes_left_out] == ["9"]
    assert again.study.n_samples == 28 and again.plan.folds == 3
    v = cli("validate", run_dir, coded_csv, "--allow-training-overlap")
    assert v.code == 0, v.err
    assert "'9'" in " ".join(v.err.split())


def test_task_regression_keeps_codes_a_regression_target(cli, coded_csv, tmp_path):
    out = tmp_path / "runs"
    r = cli("run", coded_csv, "--target", "type", "--task", "regression", "--out", out, *QUICK,
            "--no-discover", "--skip", "audit")  # fmt: skip
    assert r.code == 0, r.err
    assert not [line for line in r.err.splitlines() if line.startswith("note:")]
    (run_dir,) = run_dirs(out)
    results = json.loads((run_dir / "results.json").read_text())
    assert results["task"] == "regression" and not results["task_detected"]
    assert "task_detection" not in results["outcome"]
    assert results["resampling"]["fold_choice"] == {
        "requested": None, "chosen": 5, "reason": "the default"
    }  # fmt: skip
    assert "prob_1" not in pd.read_csv(run_dir / "predictions.csv").columns


def test_explicit_folds_the_data_cannot_support_are_refused(cli, coded_csv, tmp_path):
    out = tmp_path / "runs"
    r = cli("run", coded_csv, "--target", "type", "--folds", "5", "--out", out, *QUICK)
    assert_user_error(r, "coded.csv", "class '9' of 'type' has 2 samples", "5-fold CV",
                      "Use --folds 2 (the most the data allow)", "leave --folds out")  # fmt: skip
    assert r.code == errors.EXIT_USER_ERROR and run_dirs(out) == []


@pytest.fixture
def three_csv(tmp_path):
    """Real measurements (breast-cancer data, 41 tumours) with a made-up subtype of 3
    classes, one of 1 sample: too small to learn, which leaves 2."""
    X = datasets.load_breast_cancer(as_frame=True).data.iloc[:41, :6]
    df = X.rename(columns=lambda c: c.replace(" ", "_"))
    labels = np.array(["basal"] * 20 + ["luminal"] * 20 + ["her2"])
    df["subtype"] = np.random.default_rng(1).permutation(labels)
    df.index = [f"T{i:02d}" for i in range(len(df))]
    path = tmp_path / "three.csv"
    df.to_csv(path, index_label="sample")
    return path


def test_two_classes_left_are_binary_in_console_results_and_report(cli, three_csv, tmp_path):
    out = tmp_path / "runs"
    r = cli("run", three_csv, "--target", "subtype", "--out", out, *QUICK, "--no-discover",
            "--skip", "audit")  # fmt: skip
    assert r.code == 0, r.err
    because = (
        "class 'her2' (1 sample) of 'subtype' was left out (too few samples to learn) and "
        "only 2 classes remain, 'basal' and 'luminal'; the positive class is 'luminal' (set "
        "--positive-class to choose)"
    )
    # the small-n coverage note (a run of 40) comes after these; tests/evaluate/test_small_n.py
    notes = [line for line in r.err.splitlines() if line.startswith("note:")]
    assert notes[-1].startswith("note: small-n coverage:"), r.err
    notes = notes[:-1]
    assert len(notes) == 3, r.err
    assert notes[0].startswith("note: task detected as multiclass from 'subtype'")
    assert notes[1].startswith("note: left out class 'her2' (1 sample) of 'subtype'")
    assert notes[2] == f"note: task binary, not the multiclass detected: {because}"
    (run_dir,) = run_dirs(out)
    results = json.loads((run_dir / "results.json").read_text())
    assert results["task"] == results["spec"]["task"] == "binary" and results["task_detected"]
    detection = results["outcome"]["task_detection"]
    assert detection["task"] == "multiclass" and detection["final_task"] == "binary"
    assert detection["changed_because"] == because
    assert results["outcome"]["classes"] == ["basal", "luminal"]
    assert results["outcome"]["positive_class"] == "luminal"
    assert notes[2].removeprefix("note: ") in results["notes"]
    assert not any(n.startswith("task binary: 2 classes") for n in results["notes"])
    html = (run_dir / "report.html").read_text()
    assert "The task, multiclass, was detected" not in html
    final = f"The task modelled is therefore binary, not multiclass: {because}."
    assert final.replace("'", "&#39;") in html
    assert "binary (multiclass detected; 2 classes left once small ones were left out)" in html
    left_out = "Class 'her2' (1 sample) of 'subtype' was left out: a class is learned only"
    assert left_out.replace("'", "&#39;") in html
    # predict: probabilities of the classes learned, for every sample, her2's included
    p = cli("predict", run_dir, three_csv)
    assert p.code == 0, p.err
    table = pd.read_csv(io.StringIO(p.out))
    assert len(table) == 41 and "prob_her2" not in table.columns
    # validate: the left-out class's sample is not scored, and the user is told
    v = cli("validate", run_dir, three_csv, "--allow-training-overlap")
    assert v.code == 0, v.err
    told = " ".join(v.err.split())
    assert "are not scored" in told and "'her2'" in told and "1 sample(s)" in told
    (record,) = (run_dir / "validations").glob("*/validation.json")
    assert json.loads(record.read_text())["cohort"]["n_samples"] == 40
    # a follow-up rebuilds the study with the run's own class rule
    again = reload(run_dir, command="audit", winner_oof=False)
    assert [c.label for c in again.study.classes_left_out] == ["her2"]
    # the refusals: one line each, nothing written
    refused = tmp_path / "refused"
    r = cli("run", three_csv, "--target", "subtype", "--task", "multiclass", "--out", refused,
            *QUICK)  # fmt: skip
    assert_user_error(r, "--task multiclass: only 2 classes of 'subtype' in", "three.csv",
                      "'basal' and 'luminal'", "use --task binary")  # fmt: skip
    r = cli("run", three_csv, "--target", "subtype", "--positive-class", "her2", "--out",
            refused, *QUICK)  # fmt: skip
    assert_user_error(r, "--positive-class: class 'her2' (1 sample) of 'subtype'",
                      "is left out", "choose one of the classes that remain: 'basal', "
                      "'luminal'")  # fmt: skip
    assert run_dirs(refused) == []
