"""The small-n coverage study's harness (benchmarks/small_n.py): its pure pieces, on real data.

No study is run: these check the draw (patients never on both sides, stratified, seeded),
the Wilson interval, the summary and its verdicts, the resumable runs file, and that the
coverage table shipped in the package is the one in benchmarks/results/small_n.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import small_n  # noqa: E402
from tests.conftest import shared_data  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------------------
# the draw
# --------------------------------------------------------------------------------------
def test_group_aware_draw_leaves_no_patient_on_both_sides() -> None:
    """On every encounter of diabetes 130-US (71,518 patients, many with several
    encounters), n patients are drawn: all their encounters train, all others score."""
    path = shared_data("cohorts", "diabetes_130", "diabetic_data.csv.gz")
    df = pd.read_csv(path, usecols=["patient_nbr", "readmitted"])
    groups = df["patient_nbr"].to_numpy()
    strata = (df["readmitted"] != "NO").to_numpy(int)
    repeated = set(df["patient_nbr"][df["patient_nbr"].duplicated()])
    for seed in range(5):
        train, score = small_n.draw_subsample(strata, groups, 50, np.random.default_rng(seed))
        assert len(set(groups[train])) == 50
        assert not set(groups[train]) & set(groups[score])
        assert len(train) + len(score) == len(df) and not np.intersect1d(train, score).size
        assert len(train) >= 50  # a drawn patient brings every one of its encounters
        patient_stratum = pd.Series(strata).groupby(groups).max()
        drawn = patient_stratum.loc[sorted(set(groups[train]))]
        assert drawn.min() == 0 and drawn.max() == 1
    # over five draws, some drawn patients had several encounters (so the check bites)
    several = {
        g
        for seed in range(5)
        for g in groups[small_n.draw_subsample(strata, groups, 50, np.random.default_rng(seed))[0]]
    }
    assert several & repeated


def test_draw_is_stratified_and_seeded_on_actg175(actg175_path) -> None:
    df = pd.read_csv(actg175_path, index_col=0)
    strata, groups = df["cens"].to_numpy(int), df["pidnum"].to_numpy()
    prevalence = strata.mean()  # about 0.24
    for n in (20, 30, 50, 100):
        train, score = small_n.draw_subsample(strata, groups, n, np.random.default_rng(n))
        assert len(train) == n and len(score) == len(df) - n
        assert abs(strata[train].sum() - n * prevalence) <= 1  # proportional allocation
        assert strata[train].sum() >= small_n.MIN_PER_STRATUM
    a = small_n.draw_subsample(strata, groups, 30, np.random.default_rng(7))[0]
    b = small_n.draw_subsample(strata, groups, 30, np.random.default_rng(7))[0]
    c = small_n.draw_subsample(strata, groups, 30, np.random.default_rng(8))[0]
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert small_n.draw_seed("actg175", 30, 3) == small_n.draw_seed("actg175", 30, 3)
    assert small_n.draw_seed("actg175", 30, 3) != small_n.draw_seed("actg175", 30, 4)


def test_allocation_keeps_a_rare_class_in_every_subsample() -> None:
    assert small_n.allocate(20, np.array([990, 10])).tolist() == [17, 3]  # 0.2 raised to 3
    assert small_n.allocate(20, np.array([760, 240])).tolist() == [15, 5]
    assert small_n.allocate(30, np.array([500, 500])).tolist() == [15, 15]
    assert small_n.allocate(4, np.array([999, 1])).tolist() == [3, 1]  # only 1 exists


# --------------------------------------------------------------------------------------
# the interval and the summary
# --------------------------------------------------------------------------------------
def test_wilson_interval_matches_the_textbook() -> None:
    low, high = small_n.wilson(8, 10)  # Newcombe (1998), Table I: 0.4902 to 0.9433
    assert low == pytest.approx(0.4902, abs=1e-4) and high == pytest.approx(0.9433, abs=1e-4)
    low, high = small_n.wilson(0, 10)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=1e-4)


def _row(cohort: str, n: int, rep: int, estimate: float, lo: float, hi: float, heldout: float):
    return {
        "cohort": cohort, "n": n, "rep": rep, "estimate": estimate, "ci95": [lo, hi],
        "plain_cv": estimate + 0.05, "heldout": heldout, "covers": lo <= heldout <= hi,
        "folds": 5, "cpu_seconds": 10.0, "wall_seconds": 11.0, "notes": [], "warnings": [],
    }  # fmt: skip


def _rows() -> list[dict]:
    rows = []
    # n = 30: 8 of 10 AUC runs cover; the two misses lie above the held-out score
    for rep in range(10):
        miss = rep < 2
        rows.append(_row("actg175", 30, rep, 0.80 if miss else 0.65, 0.70 if miss else 0.5,
                         0.9 if miss else 0.8, 0.62))  # fmt: skip
    # n = 50: all cover
    rows += [_row("diabetes130", 50, rep, 0.6, 0.5, 0.7, 0.61) for rep in range(4)]
    rows += [_row("tcga_pancan", 30, rep, 0.7, 0.55, 0.85, 0.68) for rep in range(3)]
    rows.append({"cohort": "tcga_pancan", "n": 30, "rep": 3, "error": "UserError: x",
                 "cpu_seconds": 1.0, "wall_seconds": 1.0})  # fmt: skip
    return rows


def test_summary_coverage_bias_and_verdicts() -> None:
    plan = small_n.make_plan(["actg175", "tcga_pancan", "diabetes130"], [30, 50], 10)
    s = small_n.summarize(_rows(), plan)
    cell = next(c for c in s["cells"] if c["cohort"] == "actg175" and c["n"] == 30)
    assert cell["runs"] == 10 and cell["covered"] == 8 and cell["coverage"] == 0.8
    assert cell["missed_above"] == 2 and cell["missed_below"] == 0
    assert cell["wilson95"] == pytest.approx(list(small_n.wilson(8, 10)))
    assert cell["bias"] == pytest.approx((2 * 0.18 + 8 * 0.03) / 10)
    assert cell["plain_cv_optimism"] == pytest.approx(cell["bias"] + 0.05)
    tcga = next(c for c in s["cells"] if c["cohort"] == "tcga_pancan" and c["n"] == 30)
    assert tcga["failed"] == 1 and tcga["runs"] == 3 and tcga["done"] == 4
    pooled = {p["n"]: p for p in s["pooled"]}
    assert pooled[30]["runs"] == 13 and pooled[30]["covered"] == 11
    assert pooled[30]["target"] == "NOT met so far" and pooled[50]["target"] == "met so far"
    full = {**pooled[30], "done": pooled[30]["planned"]}
    assert small_n.verdict(30, full) == "NOT met" and small_n.verdict(20, full).startswith("not a")
    table = {(t["metric"], t["n"]): t for t in s["coverage_table"]}
    assert table[("auc", 30)]["covered"] == 8 and table[("auc", 30)]["planned"] == 20
    assert table[("c_index", 30)]["runs"] == 3 and table[("c_index", 30)]["cohorts"] == [
        "TCGA pan-cancer"
    ]
    assert ("c_index", 50) not in table  # no runs: no entry
    assert s["partial"] and s["done"] == 18 and s["planned"] == 60
    width = small_n.width_line(pooled[50])  # errors all -0.01, intervals ±0.10 wide
    assert "10.0 times as wide" in width and "over-covers" in width
    gap = small_n.explain_gap(30, pooled[30])
    assert "2 were above and 0 below" in gap and "optimistic" in gap


def test_summary_renders_partial_and_the_gap(tmp_path) -> None:
    plan = small_n.make_plan(["actg175", "tcga_pancan", "diabetes130"], [30, 50], 10)
    s = small_n.summarize(_rows(), plan)
    meta = {
        "machine": {"cpu": "cpu", "logical_cores": 2, "usable_cores": 2, "ram_gib": 1, "os": "x"},
        "versions": {"insightome": "0"}, "source": {"commit": "abc", "src_modified": []},
        "quick": False, "command": "c", "runs": "r", "date": "d", "preset": "fast",
        "cohorts": ["actg175", "tcga_pancan", "diabetes130"], "sizes": [30, 50],
    }  # fmt: skip
    text = small_n.render(meta, s)
    assert "**PARTIAL**: 18 of 60 planned runs" in text
    assert "| 30 | 13 / 30 (1 failed) | 84.6%" in text and "NOT met" in text
    assert "Where the target is not met" in text
    head = small_n.render({**meta, "quick": True}, {**s, "partial": False}).split("##")[0]
    assert "QUICK SMOKE TEST" in head and "PARTIAL" not in head


# --------------------------------------------------------------------------------------
# the plan and the runs file
# --------------------------------------------------------------------------------------
def test_plan_is_interleaved_so_a_partial_study_is_balanced() -> None:
    plan = small_n.make_plan(["a", "b", "c"], [20, 30, 50, 100], 68)
    assert len(plan) == 816
    first = plan[:12]
    assert {(c, n) for c, n, _ in first} == {(c, n) for c in "abc" for n in (20, 30, 50, 100)}
    assert all(rep == 0 for *_, rep in first)


def test_runs_file_resumes_and_ignores_a_torn_line(tmp_path) -> None:
    path = tmp_path / "runs.jsonl"
    small_n.append_run(path, {"cohort": "a", "n": 20, "rep": 0})
    small_n.append_run(path, {"cohort": "a", "n": 30, "rep": 0})
    with path.open("a") as fh:
        fh.write('{"cohort": "a", "n": 5')  # a writer killed mid-line
    assert [(r["n"], r["rep"]) for r in small_n.read_runs(path)] == [(20, 0), (30, 0)]
    assert small_n.read_runs(tmp_path / "absent.jsonl") == []


def test_cohorts_read_as_insightome_reads_them(actg175_path) -> None:
    frame = small_n._actg175()
    assert "cens" in frame.columns and not set(frame.columns) & {"days", "cd420", "treat"}
    assert len(frame) == 2139


def test_tcga_and_diabetes_tables_hold_baseline_columns_only() -> None:
    shared_data("cohorts", "tcga_pancan_cdr", "TCGA-CDR_clinical.csv")
    shared_data("cohorts", "diabetes_130", "diabetic_data.csv.gz")
    tcga = small_n._tcga_pancan()
    assert set(tcga.columns) == {"cancer_type", "age", "gender", "race", "stage", "OS", "OS.time"}
    assert len(tcga) > 10_000 and (tcga["OS.time"] > 0).all()
    assert set(tcga["stage"]) <= {"stage I", "stage II", "stage III", "stage IV", "not staged"}
    diabetes = small_n._diabetes130()
    assert diabetes.index.is_unique and len(diabetes) > 60_000  # one encounter per patient
    assert not {"discharge_disposition_id", "time_in_hospital", "diag_1"} & set(diabetes.columns)


# --------------------------------------------------------------------------------------
# the package's table is the benchmark's table
# --------------------------------------------------------------------------------------
def test_shipped_coverage_table_matches_the_benchmark_results() -> None:
    shipped = REPO / "src" / "insightome" / "evaluate" / "small_n_coverage.json"
    results = REPO / "benchmarks" / "results" / "small_n.json"
    if not shipped.exists() and not results.exists():
        pytest.skip("the small-n study has not been summarised yet")
    assert shipped.exists() and results.exists(), "write both with small_n.py --summarize"
    table = json.loads(shipped.read_text())
    bench = json.loads(results.read_text())
    assert table["entries"] == bench["summary"]["coverage_table"]
    assert table["partial"] == bench["summary"]["partial"]
    assert table["date"] == bench["meta"]["date"]
    markdown = (REPO / "benchmarks" / "results" / "small_n.md").read_text()
    for e in table["entries"]:
        assert f"| {e['metric']} | {e['n']} | {e['runs']} / {e['planned']} |" in markdown
    assert ("**PARTIAL**" in markdown) == table["partial"]
