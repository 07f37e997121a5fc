"""The small-n coverage study's harness (benchmarks/small_n*.py): its pieces, on real data.

No study is run (two slow tests make one real run each, to check the held-out score's
direction): these check each cohort's exact feature columns, the draw (patients never on
both sides, stratified, seeded), the Wilson interval, the summary (its chance and
whole-range counts, verdicts with their Wilson bound), the runs file and the compact runs
that resume it, the refusal to overwrite a larger summary, and that the coverage table
shipped in the package is the one in benchmarks/results/small_n.json.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from lifelines.utils import concordance_index
from sklearn.metrics import roc_auc_score

import insightome

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import small_n  # noqa: E402
import small_n_cohorts  # noqa: E402
import small_n_summary  # noqa: E402
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
        train, score = small_n_cohorts.draw_subsample(
            strata, groups, 50, np.random.default_rng(seed)
        )
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
        for g in groups[
            small_n_cohorts.draw_subsample(strata, groups, 50, np.random.default_rng(seed))[0]
        ]
    }
    assert several & repeated


def test_draw_is_stratified_and_seeded_on_actg175(actg175_path) -> None:
    df = pd.read_csv(actg175_path, index_col=0)
    strata, groups = df["cens"].to_numpy(int), df["pidnum"].to_numpy()
    prevalence = strata.mean()  # about 0.24
    for n in (20, 30, 50, 100):
        train, score = small_n_cohorts.draw_subsample(strata, groups, n, np.random.default_rng(n))
        assert len(train) == n and len(score) == len(df) - n
        assert abs(strata[train].sum() - n * prevalence) <= 1  # proportional allocation
        assert strata[train].sum() >= small_n_cohorts.MIN_PER_STRATUM
    a = small_n_cohorts.draw_subsample(strata, groups, 30, np.random.default_rng(7))[0]
    b = small_n_cohorts.draw_subsample(strata, groups, 30, np.random.default_rng(7))[0]
    c = small_n_cohorts.draw_subsample(strata, groups, 30, np.random.default_rng(8))[0]
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert small_n_cohorts.draw_seed("actg175", 30, 3) == small_n_cohorts.draw_seed(
        "actg175", 30, 3
    )
    assert small_n_cohorts.draw_seed("actg175", 30, 3) != small_n_cohorts.draw_seed(
        "actg175", 30, 4
    )


def test_allocation_keeps_a_rare_class_in_every_subsample() -> None:
    assert small_n_cohorts.allocate(20, np.array([990, 10])).tolist() == [17, 3]  # 0.2 raised to 3
    assert small_n_cohorts.allocate(20, np.array([760, 240])).tolist() == [15, 5]
    assert small_n_cohorts.allocate(30, np.array([500, 500])).tolist() == [15, 15]
    assert small_n_cohorts.allocate(4, np.array([999, 1])).tolist() == [3, 1]  # only 1 exists


# --------------------------------------------------------------------------------------
# the interval and the summary
# --------------------------------------------------------------------------------------
def test_wilson_interval_matches_the_textbook() -> None:
    low, high = small_n_summary.wilson(8, 10)  # Newcombe (1998), Table I: 0.4902 to 0.9433
    assert low == pytest.approx(0.4902, abs=1e-4) and high == pytest.approx(0.9433, abs=1e-4)
    low, high = small_n_summary.wilson(0, 10)
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
    s = small_n_summary.summarize(_rows(), plan)
    cell = next(c for c in s["cells"] if c["cohort"] == "actg175" and c["n"] == 30)
    assert cell["runs"] == 10 and cell["covered"] == 8 and cell["coverage"] == 0.8
    assert cell["missed_above"] == 2 and cell["missed_below"] == 0
    assert cell["wilson95"] == pytest.approx(list(small_n_summary.wilson(8, 10)))
    assert cell["bias"] == pytest.approx((2 * 0.18 + 8 * 0.03) / 10)
    assert cell["plain_cv_optimism"] == pytest.approx(cell["bias"] + 0.05)
    tcga = next(c for c in s["cells"] if c["cohort"] == "tcga_pancan" and c["n"] == 30)
    assert tcga["failed"] == 1 and tcga["runs"] == 3 and tcga["done"] == 4
    pooled = {p["n"]: p for p in s["pooled"]}
    assert pooled[30]["runs"] == 13 and pooled[30]["covered"] == 11
    assert pooled[30]["target"].startswith("NOT met so far (Wilson upper bound 9")
    # 4 of 4 cover at n = 50, but the Wilson lower bound is 51%: met on the point estimate only
    assert (
        pooled[50]["target"] == "met so far on the point estimate only (Wilson lower bound "
        f"{small_n_summary.wilson(4, 4)[0]:.1%} < 90%)"
    )
    full = {**pooled[30], "done": pooled[30]["planned"]}
    assert small_n_summary.verdict(30, full).startswith("NOT met (") and small_n_summary.verdict(
        20, full
    ).startswith("not a")
    sure = {**full, "covered": 200, "runs": 200, "coverage": 1.0, "wilson95": [0.981, 1.0]}
    assert small_n_summary.verdict(30, sure) == "met (Wilson lower bound 98.1% ≥ 90%)"
    table = {(t["metric"], t["n"]): t for t in s["coverage_table"]}
    assert table[("auc", 30)]["covered"] == 8 and table[("auc", 30)]["planned"] == 20
    assert table[("c_index", 30)]["runs"] == 3 and table[("c_index", 30)]["cohorts"] == [
        "TCGA pan-cancer"
    ]
    assert ("c_index", 50) not in table  # no runs: no entry
    assert s["partial"] and s["done"] == 18 and s["planned"] == 60
    width = small_n_summary.width_line(pooled[50])  # errors all -0.01, intervals ±0.10 wide
    assert "10.0 times as wide" in width and "over-covers" in width
    gap = small_n_summary.explain_gap(30, pooled[30])
    assert "2 were above and 0 below" in gap and "optimistic" in gap


def test_summary_renders_partial_and_the_gap(tmp_path) -> None:
    plan = small_n.make_plan(["actg175", "tcga_pancan", "diabetes130"], [30, 50], 10)
    s = small_n_summary.summarize(_rows(), plan)
    meta = {
        "machine": {"cpu": "cpu", "logical_cores": 2, "usable_cores": 2, "ram_gib": 1, "os": "x"},
        "versions": {"insightome": "0"}, "source": {"commit": "abc", "src_modified": []},
        "quick": False, "command": "c", "runs": "r", "date": "d", "preset": "fast",
        "cohorts": ["actg175", "tcga_pancan", "diabetes130"], "sizes": [30, 50],
    }  # fmt: skip
    text = small_n_summary.render(meta, s)
    assert "**PARTIAL**: 18 of 60 planned runs" in text
    assert "| 30 | 13 / 30 (1 failed) | 84.6%" in text and "NOT met" in text
    assert "Where the target is not met" in text
    head = small_n_summary.render({**meta, "quick": True}, {**s, "partial": False}).split("##")[0]
    assert "QUICK SMOKE TEST" in head and "PARTIAL" not in head


def test_summary_counts_intervals_that_say_nothing() -> None:
    """Coverage is read with how many intervals were [0, 1] or included chance, and the
    coverage among those that excluded it (too few: no verdict)."""
    rows = [_row("actg175", 20, rep, 0.5, 0.0, 1.0, 0.6) for rep in range(5)]  # say nothing
    rows += [_row("actg175", 20, 5 + rep, 0.7, 0.55, 0.85, 0.66) for rep in range(3)]  # cover
    rows += [_row("actg175", 20, 8, 0.9, 0.8, 0.95, 0.66)]  # excludes chance, misses
    s = small_n_summary.summarize(rows, small_n.make_plan(["actg175"], [20], 9))
    cell = s["cells"][0]
    assert cell["ci_whole_range"] == 5 and cell["ci_includes_chance"] == 5
    excl = cell["excluding_chance"]
    assert (excl["runs"], excl["covered"], excl["enough"]) == (4, 3, False)
    assert excl["coverage"] == 0.75 and excl["wilson95"] == pytest.approx(
        small_n_summary.wilson(3, 4)
    )
    # the cell-mean held-out score is (5 x 0.6 + 4 x 0.66) / 9 = 0.627: the miss still misses
    mean = cell["coverage_of_mean"]
    assert mean["runs"] == 9 and mean["covered"] == 8
    assert "3 / 4: too few to judge (< 20)" in small_n_summary._row(["x"], cell)
    many = [_row("actg175", 20, rep, 0.7, 0.55, 0.85, 0.66) for rep in range(25)]
    judged = small_n_summary.cell_summary(small_n_summary._with_cell_means(many), 25)
    assert judged["excluding_chance"]["enough"] and judged["ci_includes_chance"] == 0
    assert "100.0% of 25 (" in small_n_summary._row(["x"], judged)


def test_width_line_without_errors_forms_no_ratio() -> None:
    s = {"n": 20, "median_width": 1.0, "q95_abs_error": 0.0, "sd_error": math.nan}
    assert small_n_summary.width_line(s).endswith("so no ratio can be formed")
    s = {"n": 20, "median_width": math.nan, "q95_abs_error": math.nan, "sd_error": math.nan}
    assert "nan times" not in small_n_summary.width_line(s)


# --------------------------------------------------------------------------------------
# the plan and the runs file
# --------------------------------------------------------------------------------------
def test_plan_is_interleaved_so_a_partial_study_is_balanced() -> None:
    plan = small_n.make_plan(["a", "b", "c"], [20, 30, 50, 100], 68)
    assert len(plan) == 816
    first = plan[:12]
    assert {(c, n) for c, n, _ in first} == {(c, n) for c in "abc" for n in (20, 30, 50, 100)}
    assert all(rep == 0 for *_, rep in first)


def test_a_new_cohort_keeps_the_existing_runs_keys_and_draws() -> None:
    three = small_n.make_plan(["actg175", "tcga_pancan", "diabetes130"], small_n.SIZES, 68)
    four = small_n.make_plan(list(small_n_cohorts.COHORTS), small_n.SIZES, 68)
    assert list(small_n_cohorts.COHORTS)[:3] == ["actg175", "tcga_pancan", "diabetes130"]
    assert set(three) < set(four) and len(four) == 1088
    fewer = small_n.make_plan(["a", "b"], [20, 30], {"a": 3, "b": 1})
    assert fewer == [("a", 20, 0), ("b", 20, 0), ("a", 30, 0), ("b", 30, 0), ("a", 20, 1),
                     ("a", 30, 1), ("a", 20, 2), ("a", 30, 2)]  # fmt: skip
    assert small_n_cohorts.draw_seed("actg175", 20, 0) == 537402071  # the study's recorded seed


def test_runs_file_resumes_and_ignores_a_torn_line(tmp_path) -> None:
    path = tmp_path / "runs.jsonl"
    small_n.append_run(path, {"cohort": "a", "n": 20, "rep": 0})
    small_n.append_run(path, {"cohort": "a", "n": 30, "rep": 0})
    with path.open("a") as fh:
        fh.write('{"cohort": "a", "n": 5')  # a writer killed mid-line
    assert [(r["n"], r["rep"]) for r in small_n.read_runs(path)] == [(20, 0), (30, 0)]
    assert small_n.read_runs(tmp_path / "absent.jsonl") == []


def _predictors(name: str, frame: pd.DataFrame) -> set[str]:
    outcome = {v for k, v in small_n_cohorts.COHORTS[name].options.items() if k != "task"}
    got = set(frame.columns) - outcome
    assert len(got) == small_n_cohorts.PREDICTORS[name]  # the count the package's note compares
    return got


def test_actg175_features_are_exactly_the_baseline_allowlist(actg175_path) -> None:
    frame = small_n_cohorts._actg175()
    assert _predictors("actg175", frame) == {
        "age", "arms", "cd40", "cd80", "drugs", "gender", "hemo", "homo", "karnof", "oprior",
        "preanti", "race", "str2", "strat", "symptom", "wtkg", "z30", "zprior",
    }  # fmt: skip
    assert frame.index.is_unique and len(frame) == 2139


def test_tcga_and_diabetes_features_are_exactly_the_baseline_allowlists() -> None:
    shared_data("cohorts", "tcga_pancan_cdr", "TCGA-CDR_clinical.csv")
    shared_data("cohorts", "diabetes_130", "diabetic_data.csv.gz")
    tcga = small_n_cohorts._tcga_pancan()
    assert _predictors("tcga_pancan", tcga) == {"cancer_type", "age", "gender", "race", "stage"}
    assert len(tcga) > 10_000 and (tcga["OS.time"] > 0).all()
    assert set(tcga["stage"]) <= {"stage I", "stage II", "stage III", "stage IV", "not staged"}
    diabetes = small_n_cohorts._diabetes130()
    assert _predictors("diabetes130", diabetes) == {
        "age", "gender", "race", "admission_type", "admission_source", "payer",
        "outpatient_visits_prior_year", "emergency_visits_prior_year",
        "inpatient_visits_prior_year",
    }  # fmt: skip
    assert diabetes.index.is_unique and len(diabetes) > 60_000  # one encounter per patient


def test_metabric_features_are_exactly_age_and_the_mutation_indicators() -> None:
    """ER status from the 173 genes' mutation indicators and age, nothing post-diagnosis
    (treatments, subtype, HER2, NPI, survival); one row per patient with calls and ER."""
    path = shared_data("cohorts", "metabric", "metabric_mutations.tsv")
    genes = set(pd.read_csv(path, sep="\t")["hugoGeneSymbol"])
    frame = small_n_cohorts._metabric()
    assert len(genes) == 173
    assert _predictors("metabric", frame) == {"age"} | {f"mut_{g}" for g in genes}
    assert frame.index.is_unique and len(frame) == 1829  # 1,859 with calls, 30 without ER
    assert set(frame["er_positive"]) == {0, 1} and 0.7 < frame["er_positive"].mean() < 0.8
    clinical = pd.read_csv(path.parent / "metabric_clinical.tsv", sep="\t", index_col=0)
    assert (frame["er_positive"] == (clinical.loc[frame.index, "ER_IHC"] == "Positve")).all()
    calls = frame.filter(like="mut_")
    assert set(np.unique(calls)) == {0, 1} and (calls.sum(axis=1) >= 1).all()
    assert frame.loc["MB-0599", "mut_BRAF"] == 1  # the file's first mutation row


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


# --------------------------------------------------------------------------------------
# regeneration: the compact runs suffice, a smaller summary never replaces a larger one
# --------------------------------------------------------------------------------------
def _full_rows() -> list[dict]:
    rows = _rows()
    for r in rows:
        r.update(train_ids=["p1", "p2"], commit="abc1234", src_dirty=False)
        if "error" not in r:
            r.update(notes=["a note"], warnings=[], repeats=3, n_bootstrap=1000)
    return rows


def _summarize(tmp_path: Path, runs: Path, *extra: str) -> int:
    return small_n.main(
        ["--summarize", "--cohorts", "actg175", "--sizes", "30,50", "--runs", str(runs),
         "--output", str(tmp_path / "out" / "small_n.md"),
         "--package-table", str(tmp_path / "out" / "table.json"), *extra]
    )  # fmt: skip


def test_summarize_rereads_the_compact_runs_when_the_runs_file_is_gone(
    tmp_path, actg175_path, capsys
) -> None:
    runs = tmp_path / "runs.jsonl"
    rows = [r for r in _full_rows() if r["cohort"] == "actg175"]
    for r in rows:
        small_n.append_run(runs, r)
    assert _summarize(tmp_path, runs, "--per-cell", "10") == 0
    results = tmp_path / "out" / "small_n.json"
    saved = json.loads(results.read_text())
    assert "package table not written (not every cohort" in capsys.readouterr().out
    assert not (tmp_path / "out" / "table.json").exists()
    compact = small_n.read_compact_runs(results)
    assert len(compact) == len(rows) and not any("train_ids" in r for r in compact)
    assert all(r["notes_count"] == 1 and r["commit"] == "abc1234" for r in compact)
    assert saved["meta"]["run_commits"] == [{"commit": "abc1234", "src_dirty": False, "runs": 10}]
    runs.unlink()  # /tmp wiped: the results JSON alone gives the same summary
    assert small_n.gather_runs(runs, results) == compact
    assert _summarize(tmp_path, tmp_path / "gone.jsonl", "--per-cell", "10") == 0
    again = json.loads(results.read_text())
    assert again["summary"]["cells"] == saved["summary"]["cells"]
    assert len(again["runs"]) == len(rows)


def test_a_summary_with_fewer_runs_is_refused_unless_forced(tmp_path, actg175_path, capsys):
    """A results JSON holds 14 runs (n = 30 and 50); a summary of n = 30 alone (10 runs)
    would drop 4: refused with one line, exit 2, nothing written; --force replaces it."""
    runs = tmp_path / "runs.jsonl"
    rows = [r for r in _full_rows() if r["cohort"] == "actg175"]
    rows += [{**rows[0], "n": 50, "rep": rep} for rep in range(4)]
    for r in rows:
        small_n.append_run(runs, r)
    assert _summarize(tmp_path, runs, "--per-cell", "10") == 0
    md = tmp_path / "out" / "small_n.md"
    before = (md.read_text(), md.with_suffix(".json").read_text())
    assert len(json.loads(before[1])["runs"]) == 14
    narrower = ("--sizes", "30", "--per-cell", "10", "--runs", str(runs), "--output", str(md))
    code = small_n.main(["--summarize", "--cohorts", "actg175", *narrower])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert err.startswith(
        f"error: refusing to overwrite {md.with_suffix('.json')}: it holds 14 runs, this "
        "summary 10 runs"
    )
    assert "--force" in err
    assert (md.read_text(), md.with_suffix(".json").read_text()) == before  # nothing written
    assert small_n.main(["--summarize", "--cohorts", "actg175", *narrower, "--force"]) == 0
    assert len(json.loads(md.with_suffix(".json").read_text())["runs"]) == 10


def test_the_package_table_is_never_replaced_by_a_smaller_one(tmp_path) -> None:
    table = tmp_path / "table.json"
    table.write_text(json.dumps({"entries": [{"runs": 30}, {"runs": 30}]}))
    small_n.check_overwrite(table, 61, 2, force=False)  # more runs: fine
    with pytest.raises(small_n.Refused, match="it holds 60 runs in 2 entries, this summary 50"):
        small_n.check_overwrite(table, 50, 2, force=False)
    with pytest.raises(small_n.Refused, match="this summary 90 runs in 1 entries"):
        small_n.check_overwrite(table, 90, 1, force=False)
    small_n.check_overwrite(table, 50, 1, force=True)


def test_only_the_full_default_plan_writes_the_package_table() -> None:
    args = small_n.parse_args([])
    assert small_n.full_default_plan(args, list(small_n_cohorts.COHORTS)) is None
    assert "not every cohort" in small_n.full_default_plan(args, ["actg175"])
    assert "--quick" in small_n.full_default_plan(small_n.parse_args(["--quick"]), [])
    assert "--per-cell" in small_n.full_default_plan(
        small_n.parse_args(["--per-cell", "5"]), list(small_n_cohorts.COHORTS)
    )
    assert "sizes" in small_n.full_default_plan(
        small_n.parse_args(["--sizes", "20,30"]), list(small_n_cohorts.COHORTS)
    )
    assert "/tmp" not in str(small_n.DEFAULT_RUNS) and small_n.DEFAULT_RUNS.name == "small_n.jsonl"


def test_the_committed_results_hold_resumable_compact_runs() -> None:
    results = REPO / "benchmarks" / "results" / "small_n.json"
    if not results.exists():
        pytest.skip("the small-n study has not been summarised yet")
    saved = json.loads(results.read_text())
    compact = small_n.read_compact_runs(results)
    assert len(compact) == len(saved["runs"]) > 0  # every stored run can be resumed from
    keys = [(r["cohort"], r["n"], r["rep"]) for r in compact]
    assert len(set(keys)) == len(keys)


# --------------------------------------------------------------------------------------
# one real run: the held-out score's direction
# --------------------------------------------------------------------------------------
@pytest.mark.slow
def test_run_one_scores_the_refitted_model_in_the_right_direction(monkeypatch) -> None:
    """A real run on one n = 20 draw of TCGA pan-cancer: the held-out C-index is lifelines'
    concordance of -risk (higher risk, earlier death), not of risk."""
    shared_data("cohorts", "tcga_pancan_cdr", "TCGA-CDR_clinical.csv")
    seen = {}
    original = small_n.heldout_score

    def spy(run, scoring, cohort, *args, **kwargs):
        seen.update(run=run, scoring=scoring)
        return original(run, scoring, cohort, *args, **kwargs)

    monkeypatch.setattr(small_n, "heldout_score", spy)
    row = small_n.run_one("tcga_pancan", 20, 0)
    assert "error" not in row, row.get("error")
    assert row["n_train_rows"] == 20 and row["n_scored"] > 10_000
    assert row["metric"] == "c_index" and row["n_features"] >= 4
    risk = insightome.predict(seen["run"], seen["scoring"], log=False)["risk"].to_numpy(float)
    obs = seen["scoring"].obs
    t, e = obs["OS.time"].to_numpy(float), obs["OS"].to_numpy(int)
    right = concordance_index(t, -risk, e)
    assert row["heldout"] == pytest.approx(right, abs=1e-6)
    assert row["heldout"] != pytest.approx(concordance_index(t, risk, e), abs=1e-3)
    assert 0 < row["heldout_se"] < 0.05  # > 10,000 scored patients
    assert row["covers"] == (row["ci95"][0] <= row["heldout"] <= row["ci95"][1])


@pytest.mark.slow
def test_run_one_scores_the_positive_class_of_a_binary_cohort(monkeypatch, actg175_path) -> None:
    """ACTG 175 at n = 20: the held-out AUC is that of P(cens = 1) against cens = 1."""
    seen = {}
    original = small_n.heldout_score

    def spy(run, scoring, cohort, *args, **kwargs):
        seen.update(run=run, scoring=scoring)
        return original(run, scoring, cohort, *args, **kwargs)

    monkeypatch.setattr(small_n, "heldout_score", spy)
    row = small_n.run_one("actg175", 20, 0)
    assert "error" not in row, row.get("error")
    assert str(seen["run"].results["outcome"]["positive_class"]) == "1"
    prob = insightome.predict(seen["run"], seen["scoring"], log=False)["prob_1"].to_numpy(float)
    y = seen["scoring"].obs["cens"].to_numpy(int)
    assert row["heldout"] == pytest.approx(roc_auc_score(y, prob), abs=1e-9)
    assert row["heldout"] != pytest.approx(roc_auc_score(1 - y, prob), abs=1e-3)


def test_a_rerun_redoes_the_runs_of_another_estimator_and_never_mixes_them(tmp_path) -> None:
    """Runs made with another BBC-CV estimator (none recorded: one_repeat) are not counted
    as done, and a set of runs made with two estimators writes no package table."""
    runs = tmp_path / "runs.jsonl"
    old = {"cohort": "actg175", "n": 30, "rep": 0}  # before the options: one_repeat
    new = {"cohort": "actg175", "n": 30, "rep": 1, "pooling": "all_repeats",
           "interval": "percentile"}  # fmt: skip
    failed = {"cohort": "actg175", "n": 30, "rep": 2, "error": "ValueError: x"}
    for row in (old, new, failed):
        small_n.append_run(runs, row)
    assert small_n.run_estimator(old) == ("one_repeat", "percentile")
    today = ("all_repeats", "percentile")
    assert small_n.default_estimator() == today
    kept = small_n.gather_runs(runs, None, today)
    assert [r["rep"] for r in kept] == [1, 2]  # rep 0 is run again
    assert len(small_n.gather_runs(runs, None)) == 3  # --summarize reads what is there
    rows = small_n.gather_runs(runs, None)
    assert small_n.estimators_used(rows) == [
        ("all_repeats", "percentile"),
        ("one_repeat", "percentile"),
    ]
    why = small_n.full_default_plan(small_n.parse_args([]), list(small_n_cohorts.COHORTS), rows)
    assert why is not None and "different estimators" in why
    # rep 0 redone with today's estimator: the runs file keeps both rows, a summary the last
    small_n.append_run(runs, {**old, "pooling": "all_repeats", "interval": "percentile"})
    rows = small_n.gather_runs(runs, None)
    assert sorted(r["rep"] for r in rows) == [0, 1, 2]
    assert small_n.estimators_used(rows) == [today]
