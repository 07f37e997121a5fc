"""The small-n note and warning: what the coverage study measured, said to a run of that n.

A synthetic coverage table (the shape ``benchmarks/small_n.py --summarize`` writes) with
one short n (30: 84%) and adequate ones; the lookup, the wording, and a real run that
carries the warning into results.json, its log and the HTML report.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import insightome
from insightome.evaluate import small_n
from insightome.evaluate.small_n import MIN_RUNS, entry_for, load_table, small_n_finding
from tests.conftest import breast_cancer_adata


def _entry(metric: str, n: int, covered: int, runs: int, planned: int | None = None) -> dict:
    return {
        "task": "survival" if metric == "c_index" else "binary",
        "metric": metric,
        "n": n,
        "runs": runs,
        "planned": planned or runs,
        "covered": covered,
        "coverage": covered / runs,
        "wilson95": [covered / runs - 0.05, min(1.0, covered / runs + 0.04)],
        "cohorts": ["ACTG 175", "diabetes 130-US"] if metric == "auc" else ["TCGA pan-cancer"],
    }


TABLE = {
    "source": "benchmarks/results/small_n.md",
    "target": 0.9,
    "partial": False,
    "entries": [
        _entry("auc", 20, 132, 136),
        _entry("auc", 30, 114, 136),  # 84%: short of the target
        _entry("auc", 50, 125, 136),  # 92%
        _entry("auc", 100, 127, 136),
        _entry("c_index", 30, 60, 68),  # 88%
    ],
}


def test_short_n_gets_a_warning_with_the_measured_coverage() -> None:
    found = small_n_finding(30, "auc", TABLE)
    assert found is not None and found.kind == "warning"
    assert found.entry.n == 30 and found.entry.runs == 136
    msg = found.message
    assert "at n = 30, 95% intervals like this one contained the held-out AUC in 84% of 136" in msg
    assert "ACTG 175, diabetes 130-US" in msg and "benchmarks/results/small_n.md" in msg
    assert "narrower than it should be" in msg and "partial" not in msg


def test_adequate_n_gets_a_note_citing_the_coverage() -> None:
    found = small_n_finding(50, "auc", TABLE)
    assert found is not None and found.kind == "note"
    assert (
        "in 92% of 136 subsamples" in found.message
        and "at or above the 90% target" in found.message
    )


def test_the_nearest_studied_n_at_or_below_is_used() -> None:
    between = small_n_finding(45, "auc", TABLE)  # 30 <= 45 < 50: the short entry
    assert between is not None and between.kind == "warning" and between.entry.n == 30
    assert "this run has n = 45; at n = 30, the nearest studied n at or below it" in between.message
    assert entry_for(150, "auc", TABLE).n == 100  # up to REACH x the largest studied n
    assert entry_for(151, "auc", TABLE) is None
    smaller = small_n_finding(12, "auc", TABLE)
    assert (
        smaller is not None
        and smaller.entry.n == 20
        and "below the smallest studied n" in smaller.message
    )


def test_per_metric_and_nothing_without_a_study() -> None:
    survival = small_n_finding(40, "c_index", TABLE)
    assert survival is not None and survival.kind == "warning"
    assert (
        "held-out C-index in 88% of 68" in survival.message
        and "TCGA pan-cancer" in survival.message
    )
    assert small_n_finding(30, "r2", TABLE) is None  # a metric the study did not measure
    assert small_n_finding(30, "auc", {"entries": []}) is None
    assert small_n_finding(1000, "auc", TABLE) is None


def test_an_entry_of_too_few_subsamples_says_nothing_yet() -> None:
    early = {**TABLE, "partial": True, "entries": [_entry("auc", 30, 3, MIN_RUNS - 1, 204)]}
    assert small_n_finding(30, "auc", early) is None
    enough = {**early, "entries": [_entry("auc", 30, 3, MIN_RUNS, 204)]}
    assert small_n_finding(30, "auc", enough) is not None


def test_a_partial_study_says_how_many_subsamples_it_rests_on() -> None:
    table = {**TABLE, "partial": True, "entries": [_entry("auc", 30, 50, 60, planned=204)]}
    found = small_n_finding(30, "auc", table)
    assert (
        found is not None and "The study was partial: 60 of 204 planned subsamples" in found.message
    )


def test_load_table_reads_a_file_and_none_when_absent(tmp_path) -> None:
    path = tmp_path / "coverage.json"
    path.write_text(json.dumps(TABLE))
    assert load_table(path) == TABLE
    assert load_table(tmp_path / "absent.json") is None


def test_a_run_carries_the_warning_to_results_log_and_report(tmp_path, monkeypatch) -> None:
    """n counts patients with groups: 60 rows of 30 patients gets the n = 30 warning."""
    monkeypatch.setattr(small_n, "load_table", lambda path=None: TABLE)
    adata = breast_cancer_adata(n_rows=120)
    rng = np.random.default_rng(0)
    keep = np.sort(
        np.concatenate(
            [rng.choice(np.flatnonzero(adata.obs["diagnosis"] == c), 30, replace=False)
             for c in ("malignant", "benign")]
        )
    )  # fmt: skip
    adata = adata[keep].copy()
    adata.obs["patient"] = [f"p{i // 2}" for i in range(adata.n_obs)]
    run = insightome.run(
        adata, "diagnosis", groups="patient", preset="fast", n_bootstrap=200, repeats=1,
        discover=False, audit=False, out_dir=tmp_path, seed=0,
    )  # fmt: skip
    expected = small_n_finding(30, "auc", TABLE)
    assert expected is not None
    saved = json.loads((run.path / "results.json").read_text())
    assert expected.message in saved["warnings"]
    assert not any("small-n coverage" in n for n in saved["notes"])
    assert any(line.endswith("warning: " + expected.message) for line in run.log)
    html = (run.path / "report.html").read_text()
    assert "small-n coverage: at n = 30, 95% intervals like this one" in html


@pytest.mark.parametrize("n", [60, 100])
def test_the_shipped_table_if_any_gives_a_finding_within_reach(n: int) -> None:
    table = load_table()
    if table is None:
        pytest.skip("no coverage table shipped yet")
    studied = {e["n"] for e in table["entries"] if e["metric"] == "auc" and e["runs"] >= MIN_RUNS}
    if not studied:
        pytest.skip(f"the shipped table has no AUC entry of {MIN_RUNS} subsamples yet")
    found = small_n_finding(n, "auc", table)
    assert found is not None and found.entry.n == max(s for s in studied if s <= n)


def test_the_console_shows_the_note_and_the_warning(cli, tmp_path, monkeypatch) -> None:
    """`insightome run`: a note is printed when the estimate is made (stderr, with the
    progress), a warning with the run's other warnings at the end (stdout)."""
    monkeypatch.setattr(small_n, "load_table", lambda path=None: TABLE)
    adata = breast_cancer_adata(n_rows=60)
    frame = adata.to_df().assign(diagnosis=adata.obs["diagnosis"].to_numpy())
    frame.to_csv(tmp_path / "tumours.csv", index_label="sample")
    fast = ("--preset", "fast", "--folds", "3", "--repeats", "1", "--bootstrap", "200")
    args = (*fast, "--no-discover", "--no-audit", "--out", tmp_path / "runs")
    got = cli("run", tmp_path / "tumours.csv", "--target", "diagnosis", *args)
    assert got.code == 0, got.err
    assert "note: small-n coverage: this run has n = 60; at n = 50" in " ".join(got.err.split())
    frame.iloc[:30].to_csv(tmp_path / "fewer.csv", index_label="sample")
    got = cli("run", tmp_path / "fewer.csv", "--target", "diagnosis", *args)
    assert got.code == 0, got.err
    printed = " ".join(got.out.split())
    assert "warning: small-n coverage: at n = 30, 95% intervals like this one" in printed
