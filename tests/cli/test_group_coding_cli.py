"""Age bands and value labels through the CLI (issue 17, points 7 and 8), on 700 patients of
ACTG 175 (lifelines; gender coded 0/1, ages 12–70): shown in the console, the report's
audit section and tables, results.json and the invocation; kept by ``insightome audit``."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tests.cli.conftest import run_once

EXCLUDE = "days,cd420,cd496,r,cd820,offtrt,treat,pidnum"
QUICK = ("--preset", "fast", "--folds", "3", "--repeats", "1", "--bootstrap", "200", "--quiet",
         "--no-discover")  # fmt: skip


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, actg175_path) -> Path:
    folder = tmp_path_factory.mktemp("actg_coding")
    data = folder / "actg700.csv"
    pd.read_csv(actg175_path, index_col=0).iloc[:700].to_csv(data, index=False)
    return run_once(folder / "runs", data, "--target", "cens", "--task", "binary",
                    "--sensitive", "gender,age", "--value-labels", "gender=0:female,1:male",
                    "--exclude", EXCLUDE, *QUICK)  # fmt: skip


def test_value_labels_and_age_bands_in_results_and_report(run_dir):
    res = json.loads((run_dir / "results.json").read_text())
    assert res["invocation"]["value_labels"] == {"gender": {"0": "female", "1": "male"}}
    assert res["invocation"]["age_bands"] is None
    codings = res["audit"]["codings"]
    assert codings["gender"]["kind"] == "labelled codes"
    assert codings["gender"]["text"] == "gender: 0 = female, 1 = male (--value-labels)"
    bands = codings["age"]["age_bands"]
    assert bands["rule"] == "standard" and bands["cuts"]
    groups = res["audit"]["model"]["groups"]
    assert {g["group"] for g in groups if g["attribute"] == "gender"} == {"female", "male"}
    sizes = {r["group"]: r["n"] for r in res["audit"]["data"]["representation"]
             if r["attribute"] == "age"}  # fmt: skip
    assert len(sizes) >= 2 and min(sizes.values()) >= 30
    assert list(sizes) == codings["age"]["groups"]
    html = (run_dir / "report.html").read_text()
    assert "<td>gender</td><td>female</td>" in html  # the audit's group table
    assert "<td>gender</td><td>male</td>" in html
    assert "How the groups were formed" in html
    assert "<li>gender: 0 = female, 1 = male (--value-labels)</li>" in html


def test_audit_rerun_honours_age_bands_and_keeps_the_value_labels(cli, run_dir):
    r = cli("audit", run_dir, "--age-bands", "30,40")
    assert r.code == 0, r.err
    console = " ".join(r.out.split())
    assert "groups: gender: 0 = female, 1 = male (--value-labels)" in console
    assert "groups: age: <30, 30–39, ≥40 years (cut points 30, 40 years, set by --age-bands)" in (
        console
    )
    res = json.loads((run_dir / "results.json").read_text())
    assert res["audit"]["codings"]["age"]["age_bands"]["cuts"] == [30.0, 40.0]
    assert res["audit"]["settings"]["age_bands"] == [30.0, 40.0]
    assert res["invocation"]["age_bands"] == [30.0, 40.0]
    assert res["audit"]["settings"]["value_labels"] == {"gender": {"0": "female", "1": "male"}}
    ages = pd.read_csv(
        run_dir.parent.parent / "actg700.csv", usecols=["age"]
    )["age"]  # fmt: skip
    sizes = {r["group"]: r["n"] for r in res["audit"]["data"]["representation"]
             if r["attribute"] == "age"}  # fmt: skip
    assert sizes["<30"] == (ages < 30).sum() and sizes["≥40"] == (ages >= 40).sum()
    r = cli("audit", run_dir, "--age-bands", "40,30")
    assert r.code == 2 and "--age-bands" in r.err and len(r.err.strip().splitlines()) == 1
