"""``insightome synthesize`` end to end: the table, its report and evidence, the privacy
gate (refused, forced), a run directory as input, and bad input in one line."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from insightome.synthetic.cohort import GATE_COLUMN, GATE_LABEL
from insightome.synthetic.cohort_table import SYNTHETIC_ID
from tests.conftest import shared_data

pytestmark = pytest.mark.slow

#: fast settings: one configuration per family, one CV repeat, the smallest bootstrap
FAST = ("--preset", "fast", "--repeats", "1", "--bootstrap", "200")
ACTG_OUT = ("days", "cd420", "cd496", "r", "cd820", "offtrt", "treat", "arms")


@pytest.fixture(scope="module")
def actg_small(tmp_path_factory, actg175_path) -> Path:
    """400 rows of ACTG 175 (lifelines), its patient number as the ID column, and a record
    number column ('visit': a different whole number in every row, a name that does not say so)."""
    frame = pd.read_csv(actg175_path, index_col=0).sample(400, random_state=0)
    frame["visit"] = range(7000, 7400)
    path = tmp_path_factory.mktemp("actg") / "actg400.csv"
    frame.drop(columns=list(ACTG_OUT)).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def synthesized(actg_small, tmp_path_factory):
    """One call through the installed command line (a subprocess: the real entry point),
    with --force so the table is written whatever the gate says."""
    out = tmp_path_factory.mktemp("syn") / "synthetic.csv"
    result = subprocess.run(
        [sys.executable, "-m", "insightome.cli.app", "synthesize", str(actg_small), "-o",
         str(out), "--target", "cens", "--id-column", "pidnum", "--sensitive", "gender,race",
         "--force", *FAST],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return result, out


def test_synthesize_writes_the_table_its_report_and_evidence(synthesized, actg_small):
    result, out = synthesized
    assert result.returncode == 0, result.stderr
    evidence = json.loads(out.with_suffix(".evidence.json").read_text())
    real = pd.read_csv(actg_small)
    assert evidence["schema"] == "insightome.synthetic/1"
    assert set(evidence["methods"]) == {"cart", "copula"}
    assert evidence["chosen"] in evidence["methods"]
    chosen = evidence["methods"][evidence["chosen"]]
    assert {c["name"] for c in chosen["privacy"]["checks"]} >= {"membership inference"}
    assert chosen["utility"]["metric"] == "auc"
    assert 0.0 <= chosen["utility"]["real"]["value"] <= 1.0
    report = out.with_suffix(".report.html").read_text()
    for section in ("Utility", "Privacy", "Fidelity", "What was done", "Limits"):
        assert section in report
    table = pd.read_csv(out)
    # same columns (the ID column replaced by fresh labels), as many rows as the cohort
    assert table.columns[0] == SYNTHETIC_ID
    labelled = {GATE_COLUMN} if not evidence["gate"]["passed"] else set()
    left_out = evidence["input"]["left_out"]
    # the record numbers, and zprior (1 in every row of ACTG 175), are left out
    assert left_out["visit"].startswith("a different whole number in every row")
    assert left_out["zprior"].startswith("constant")
    assert set(table.columns[1:]) == (set(real.columns) - {"pidnum", *left_out}) | labelled
    assert len(table) == len(real)
    assert not set(table[SYNTHETIC_ID]) & set(real["pidnum"].astype(str))
    assert set(table["cens"].unique()) <= set(real["cens"].unique())
    if labelled:
        assert (table[GATE_COLUMN] == GATE_LABEL).all()
        assert "FAILED the privacy gate" in result.stderr


def test_the_report_and_evidence_hold_no_patient_row(synthesized, actg_small):
    _, out = synthesized
    real = pd.read_csv(actg_small)
    report = out.with_suffix(".report.html").read_text()
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", report)
    text += out.with_suffix(".evidence.json").read_text()
    numbers = set(re.findall(r"(?<![\d.])\d+(?![\d.])", text))
    # patient numbers (5-6 digit identifiers) never appear as a number of their own
    assert numbers & set(real["pidnum"].astype(str)) == set()
    assert "data:image/png;base64," in report  # the figures are there (and were skipped)


def test_a_failed_gate_writes_no_table_and_says_why_in_one_line(cli, actg_small, tmp_path):
    out = tmp_path / "refused.csv"
    result = cli(
        "synthesize", actg_small, "-o", out, "--target", "cens", "--id-column", "pidnum",
        "--method", "copula", "--max-membership-auc", "0", *FAST,
    )  # fmt: skip
    assert result.code == 2
    assert not out.exists()
    line = result.err.strip().splitlines()[-1]
    assert "failed the privacy gate" in line and "membership inference" in line
    assert "Traceback" not in result.err
    evidence = json.loads(out.with_suffix(".evidence.json").read_text())
    assert evidence["gate"]["passed"] is False and evidence["output"] is None


def test_force_writes_a_failed_table_labelled_in_every_row(cli, actg_small, tmp_path):
    out = tmp_path / "forced.csv"
    result = cli(
        "synthesize", actg_small, "-o", out, "--target", "cens", "--id-column", "pidnum",
        "--method", "copula", "--max-membership-auc", "0", "--force", *FAST,
    )  # fmt: skip
    assert result.code == 0, result.err
    table = pd.read_csv(out)
    assert (table[GATE_COLUMN] == GATE_LABEL).all()
    assert "FAILED the privacy gate" in result.err
    assert "not for sharing" in out.with_suffix(".report.html").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("-o", "x.txt"), "--output: 'x.txt' must end in .csv"),
        (("--holdout", "0.9"), "--holdout: must be between 0.1 and 0.5"),
        (("--rows", "5"), "--rows: must be at least 20"),
        (("--max-membership-auc", "1.5"), "--max-*: PrivacyThresholds.membership_auc_upper"),
        (("--bootstrap", "10"), "--bootstrap"),
        (("--groups", "age"), "synthesize needs one row per patient"),
    ],
)
def test_bad_input_is_one_line_exit_2_nothing_written(cli, actg_small, tmp_path, args, message):
    out = tmp_path / "s.csv"
    base = ["synthesize", actg_small, "--target", "cens", "--id-column", "pidnum", *FAST]
    given = [*base, *args] if "-o" in args else [*base, "-o", out, *args]
    result = cli(*given)
    assert result.code == 2, result.err
    assert len(result.err.strip().splitlines()) == 1, result.err
    assert message in result.err
    assert list(tmp_path.iterdir()) == []


def test_heart_failure_cohort_is_judged_and_reproducible(tmp_path):
    from insightome.synthetic.cohort import synthesize

    data = shared_data("cohorts", "heart_failure", "heart_failure_clinical_records_dataset.csv")
    kw = dict(target="DEATH_EVENT", sensitive=["sex"], exclude=["time"], preset="fast",
              repeats=1, n_bootstrap=200, method="cart")  # fmt: skip
    first = synthesize(data, tmp_path / "a.csv", force=True, **kw)
    synthesize(data, tmp_path / "b.csv", force=True, **kw)
    assert first.evidence["input"]["rows"] == 299
    a, b = pd.read_csv(tmp_path / "a.csv"), pd.read_csv(tmp_path / "b.csv")
    pd.testing.assert_frame_equal(a, b)  # same seed, same table
    assert "time" not in a.columns
    groups = first.evidence["methods"]["cart"]["fidelity"]["groups"]
    assert {g["attribute"] for g in groups} == {"sex"}


def test_a_run_directory_gives_its_data_and_options(cli, actg_small, tmp_path):
    import insightome

    run = insightome.run(
        actg_small, target="cens", id_column="pidnum", sensitive=["gender"], preset="fast",
        repeats=1, n_bootstrap=200, discover=False, audit=False, out_dir=tmp_path / "runs",
    )  # fmt: skip
    out = tmp_path / "from_run.csv"
    result = cli("synthesize", run.path, "-o", out, "--method", "copula", "--force", *FAST)
    assert result.code == 0, result.err
    evidence = json.loads(out.with_suffix(".evidence.json").read_text())
    assert evidence["input"]["path"] == str(actg_small.resolve())
    assert evidence["input"]["outcome"] == ["cens"]
    assert evidence["input"]["sensitive"] == ["gender"]
    assert "pidnum" not in pd.read_csv(out).columns


def test_a_refused_table_removes_an_older_one_at_its_path(cli, actg_small, tmp_path):
    out = tmp_path / "shared.csv"
    out.write_text("an older synthetic table\n")
    result = cli(
        "synthesize", actg_small, "-o", out, "--target", "cens", "--id-column", "pidnum",
        "--method", "copula", "--max-membership-auc", "0", *FAST,
    )  # fmt: skip
    assert result.code == 2
    assert not out.exists()
    assert "The older shared.csv there was removed." in result.err
    assert "try --method cart" in result.err
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "shared.evidence.json",
        "shared.report.html",
    ]  # no temporary file left


def test_a_rare_outcome_class_is_refused_not_merged(cli, tmp_path):
    data = shared_data("cohorts", "heart_failure", "heart_failure_clinical_records_dataset.csv")
    frame = pd.read_csv(data)
    few = pd.concat(
        [frame[frame.DEATH_EVENT == 0].head(70), frame[frame.DEATH_EVENT == 1].head(12)]
    )
    path = tmp_path / "few_deaths.csv"
    few.to_csv(path, index=False)
    out = tmp_path / "s.csv"
    result = cli("synthesize", path, "-o", out, "--target", "DEATH_EVENT", "--exclude", "time",
                 "--min-cell", "10", *FAST)  # fmt: skip
    assert result.code == 2
    assert "outcome 'DEATH_EVENT' has 1 class(es) with fewer than 10 patients" in result.err
    assert list(tmp_path.iterdir()) == [path]


def test_a_run_directory_keeps_its_recorded_options(cli, actg_small, tmp_path):
    import insightome

    run = insightome.run(
        actg_small, target="cens", id_column="pidnum", preset="fast", repeats=1,
        n_bootstrap=200, discover=False, audit=False, out_dir=tmp_path / "runs", seed=7,
        min_cell=5,
    )  # fmt: skip
    out = tmp_path / "s.csv"
    result = cli("synthesize", run.path, "-o", out, "--method", "copula", "--force",
                 "--preset", "fast", "--repeats", "1", "--bootstrap", "200")  # fmt: skip
    assert result.code == 0, result.err
    design = json.loads(out.with_suffix(".evidence.json").read_text())["design"]
    assert (design["seed"], design["min_cell"]) == (7, 5)  # not this command's defaults


def test_when_no_generator_passes_the_least_risky_is_chosen():
    from insightome.synthetic.cohort import choose
    from insightome.synthetic.utility import UtilityResult

    def judged(*verdicts):
        checks = [{"verdict": v} for v in verdicts]
        return {"passed": False, "privacy": {"checks": checks}, "fidelity": {}}

    def utility(value):
        est = {"value": value, "ci95": [value - 0.1, value + 0.1], "plain_cv_value": value}
        return UtilityResult("auc", 0.5, est, est, {}, "a", "b", {})

    risky = judged("fail", "fail", "pass", "pass", "pass")
    safer = judged("fail", "insufficient evidence", "pass", "pass", "pass")
    chosen, rule = choose({"cart": risky, "copula": safer},
                          {"cart": utility(0.9), "copula": utility(0.6)})  # fmt: skip
    assert chosen == "copula"  # fewer failed checks beats a better utility
    assert "none passes the privacy gate" in rule
    passing = {**safer, "passed": True}
    chosen, _ = choose({"cart": risky, "copula": passing},
                       {"cart": utility(0.9), "copula": utility(0.6)})  # fmt: skip
    assert chosen == "copula"
