"""Every bad input named in the foundation issue: one line, exit code 2, nothing written."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from insightome import errors
from tests.cli.conftest import FAST, run_dirs


def assert_user_error(result, *fragments: str) -> None:
    assert result.code == errors.EXIT_USER_ERROR, (result.code, result.err)
    line = result.err.strip()
    assert line.startswith("error: "), result.err
    assert "\n" not in line, f"not one line: {result.err!r}"
    assert "Traceback" not in result.err
    for fragment in fragments:
        assert fragment in line, f"{fragment!r} not in {line!r}"


@pytest.fixture
def small(tmp_path):
    """A valid 40-sample table to break in specific ways."""
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(40, 5)), columns=[f"gene{i}" for i in range(5)])
    df.insert(0, "sample", [f"S{i}" for i in range(40)])
    df["response"] = ["yes", "no"] * 20
    df["os_months"] = rng.uniform(1, 60, 40).round(1)
    df["dead"] = rng.integers(0, 2, 40)
    return df


def run(cli, tmp_path, df_or_path, *args):
    if isinstance(df_or_path, pd.DataFrame):
        path = tmp_path / "study.csv"
        df_or_path.to_csv(path, index=False)
    else:
        path = df_or_path
    out = tmp_path / "runs"
    result = cli("run", path, *args, "--out", out, *FAST)
    if result.code == errors.EXIT_USER_ERROR:
        assert run_dirs(out) == [], "a failed run must write nothing"
        assert not out.exists() or not any(out.iterdir())
    return result


def test_missing_file(cli, tmp_path):
    r = run(cli, tmp_path, tmp_path / "nope.csv", "--target", "y")
    assert_user_error(r, "nope.csv", "not found")


def test_directory_instead_of_file(cli, tmp_path):
    d = tmp_path / "folder.csv"
    d.mkdir()
    assert_user_error(run(cli, tmp_path, d, "--target", "y"), "folder.csv", "directory")


def test_corrupt_parquet(cli, tmp_path):
    p = tmp_path / "broken.parquet"
    p.write_bytes(b"this is not parquet at all" * 10)
    assert_user_error(run(cli, tmp_path, p, "--target", "y"), "broken.parquet", "Parquet")


def test_empty_file(cli, tmp_path):
    p = tmp_path / "empty.csv"
    p.write_text("")
    assert_user_error(run(cli, tmp_path, p, "--target", "y"), "empty.csv", "empty")


def test_target_absent_suggests_closest(cli, tmp_path, small):
    r = run(cli, tmp_path, small, "--target", "Respons")
    assert_user_error(r, "study.csv", "'Respons' not found", "Did you mean", "'response'")


def test_target_all_missing(cli, tmp_path, small):
    small["response"] = np.nan
    assert_user_error(run(cli, tmp_path, small, "--target", "response"), "'response' has no values")


def test_target_single_class(cli, tmp_path, small):
    small["response"] = "yes"
    assert_user_error(run(cli, tmp_path, small, "--target", "response"), "single class", "'yes'")


def test_class_too_small_to_learn_leaves_nothing_to_predict(cli, tmp_path, small):
    # issue 17 (rule of issue 27): a class of 1 is left out (no fold count gives every
    # training fold one of it); with one class left there is nothing to predict
    small["response"] = ["rare"] + ["common"] * 39
    r = run(cli, tmp_path, small, "--target", "response")
    assert_user_error(r, "'rare' (1 sample) cannot be learned (a class is learned only when "
                      "every training fold holds at least one of its samples, so it needs at "
                      "least 2)", "only 'common' (39 samples) remains")  # fmt: skip


def test_classes_from_one_patient_leave_nothing_to_predict(cli, tmp_path, small):
    small["patient"] = ["A"] * 40  # both classes in the one patient
    r = run(cli, tmp_path, small, "--target", "response", "--groups", "patient")
    assert_user_error(r, "'no' (20 samples from 1 group), 'yes' (20 samples from 1 group) "
                      "cannot be learned (a class is learned only when every training fold "
                      "holds at least one of its groups (patients, --groups), so it needs at "
                      "least 2)", "no class remains")  # fmt: skip


def test_duplicate_sample_ids(cli, tmp_path, small):
    small.loc[5, "sample"] = "S0"
    r = run(cli, tmp_path, small, "--target", "response", "--id-column", "sample")
    assert_user_error(r, "study.csv", "duplicate sample ID", "'S0'")


def test_ids_do_not_match_annotation(cli, tmp_path, small):
    ann = small[["sample", "response"]].copy()
    ann.loc[:2, "sample"] = ["X1", "X2", "X3"]
    ann_path = tmp_path / "annot.tsv"
    ann.to_csv(ann_path, sep="\t", index=False)
    data = small.drop(columns=["response"])
    r = run(
        cli,
        tmp_path,
        data,
        "--target",
        "response",
        "--annotations",
        ann_path,
        "--id-column",
        "sample",
    )
    assert_user_error(r, "annot.tsv", "3 of 40", "S0")


def test_non_numeric_value_in_numeric_matrix(cli, tmp_path, small):
    small["gene2"] = small["gene2"].astype(object)
    small.loc[7, "gene2"] = "1,5"
    r = run(cli, tmp_path, small, "--target", "response")
    assert_user_error(r, "study.csv", "'gene2'", "'1,5'", "not a number")


def test_infinite_value(cli, tmp_path, small):
    small.loc[3, "gene1"] = np.inf
    assert_user_error(run(cli, tmp_path, small, "--target", "response"), "'gene1'", "infinite")


def test_survival_time_not_positive(cli, tmp_path, small):
    small.loc[4, "os_months"] = 0
    r = run(cli, tmp_path, small, "--time", "os_months", "--event", "dead", "--exclude", "response")
    assert_user_error(r, "'os_months'", "'S4'", "must be > 0")


def test_event_not_zero_one(cli, tmp_path, small):
    small["dead"] = small["dead"] + 1  # coded 1/2, as in R's survival::lung
    r = run(cli, tmp_path, small, "--time", "os_months", "--event", "dead", "--exclude", "response")
    assert_user_error(r, "'dead'", "0 (censored) or 1 (event)")


def test_survival_needs_time_and_event(cli, tmp_path, small):
    assert_user_error(run(cli, tmp_path, small, "--time", "os_months"), "--time and --event")


def test_invalid_task(cli, tmp_path, small):
    assert_user_error(
        run(cli, tmp_path, small, "--target", "response", "--task", "ranking"), "--task"
    )


def test_predict_lists_missing_features(cli, tmp_path, breast_csv):
    out = tmp_path / "runs"
    ok = cli("run", breast_csv, "--target", "diagnosis", "--out", out, *FAST)
    assert ok.code == 0, ok.err
    new = pd.read_csv(breast_csv).drop(columns=["mean_radius", "worst_area", "diagnosis"]).head(5)
    new_path = tmp_path / "new.csv"
    new.to_csv(new_path, index=False)
    r = cli("predict", run_dirs(out)[0], new_path)
    assert_user_error(
        r, "new.csv", "2 of the model's 30 features are missing", "'mean_radius'", "'worst_area'"
    )


def test_entry_point_prints_no_traceback(tmp_path):
    """The installed console script itself: one line on stderr, exit code 2."""
    import subprocess
    import sys

    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "insightome.cli.app",
            "run",
            str(tmp_path / "missing.tsv"),
            "--target",
            "y",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "missing.tsv" in proc.stderr and "Traceback" not in proc.stderr


def test_option_value_of_the_wrong_type_is_a_usage_error(cli, tmp_path, small):
    small.to_csv(tmp_path / "study.csv", index=False)
    result = cli("run", tmp_path / "study.csv", "--target", "response", "--folds", "abc")
    assert result.code == 2
    assert "Traceback" not in result.err and "folds" in result.err
