"""The small-n note and warning: what the coverage study measured, said to a run of that n.

A synthetic coverage table (the shape ``benchmarks/small_n.py --summarize`` writes) with
one short n (30: 84%) and adequate ones; the lookup, the wording (the studied regime, the
caveat outside it, the warning below the smallest studied n), and a real run that carries
the warning into results.json, its log and the HTML report.
"""

from __future__ import annotations

import json

import anndata as ad
import numpy as np
import pandas as pd
import pytest

import insightome
from insightome.evaluate import small_n
from insightome.evaluate.small_n import (
    MIN_RUNS,
    RunRegime,
    entry_for,
    load_table,
    small_n_finding,
)
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
        "cohorts": ["ACTG 175", "diabetes 130-US", "METABRIC"]
        if metric == "auc"
        else ["TCGA pan-cancer"],
        "ci_whole_range": 7 if n == 20 else 0,
        "ci_includes_chance": runs // 2,
        "excluding_chance_runs": runs - runs // 2,
        "excluding_chance_covered": covered - covered // 2,
        "median_width": 0.6 if n <= 30 else 0.35,
        "heldout_range": [0.55, 0.79] if metric == "auc" else [0.71, 0.71],
        "predictors": [9, 174] if metric == "auc" else [5, 5],
        "n_bootstrap": [1000],
    }


TABLE = {
    "source": "benchmarks/results/small_n.md",
    "target": 0.9,
    "partial": False,
    "preset": "fast",
    "estimate": {"pooling": "all_repeats", "interval": "percentile"},
    "one_sample_per_patient": True,
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
    assert "at n = 30, 95% intervals contained the held-out AUC in 84% of 136" in msg
    assert "like this one" not in msg  # the study's cohorts, not "intervals like this one"
    assert "ACTG 175, diabetes 130-US, METABRIC" in msg and "benchmarks/results/small_n.md" in msg
    assert "narrower than it should be" in msg and "partial" not in msg
    assert "Caveat" not in msg  # no regime given: nothing to compare


def test_the_note_names_the_studied_regime_and_the_median_width() -> None:
    found = small_n_finding(50, "auc", TABLE, RunRegime(samples=50, predictors=30, preset="fast"))
    assert found is not None and found.kind == "note"
    msg = found.message
    assert "median interval width 0.35" in msg
    assert (
        "studied regime: cohorts ACTG 175, diabetes 130-US, METABRIC; mean held-out AUC "
        "0.55–0.79 per cohort; 9–174 predictors; preset fast; 1,000 bootstraps; one sample "
        "per patient" in msg
    )
    assert "Caveat" not in msg and "\n" not in msg  # inside the regime; one line
    at_20 = small_n_finding(20, "auc", TABLE)
    assert at_20 is not None
    assert "of the 136 intervals, 7 the whole range [0, 1] and 68 including chance (0.5)" in (
        at_20.message
    )
    assert "of the 136 intervals, 68 including chance (0.5);" in found.message  # none [0, 1]


@pytest.mark.parametrize(
    ("regime", "says"),
    [
        (RunRegime(predictors=2000), "2000 predictors, far more than the 174 studied"),
        (RunRegime(samples=120), "several samples per patient (120 samples of 50 patients)"),
        (RunRegime(preset="default"), "preset default, the study used fast"),
        (
            RunRegime(pooling="one_repeat", interval="percentile"),
            "--bbc-pooling one_repeat --bbc-interval percentile, the study measured "
            "all_repeats and percentile, compared in benchmarks/results/estimators.md",
        ),
        (
            RunRegime(pooling="all_repeats", interval="calibrated"),
            "--bbc-pooling all_repeats --bbc-interval calibrated, the study measured "
            "all_repeats and percentile, compared in benchmarks/results/estimators.md",
        ),
    ],
)
def test_a_run_outside_the_studied_regime_gets_a_caveat(regime: RunRegime, says: str) -> None:
    found = small_n_finding(50, "auc", TABLE, regime)
    assert found is not None and found.kind == "note"  # the kind follows the coverage
    assert f"Caveat: this run is outside the studied regime ({says})" in found.message
    assert "may not apply to it" in found.message
    inside = small_n_finding(
        50, "auc", TABLE, RunRegime(50, 348, "fast", "all_repeats", "percentile")
    )
    assert inside is not None and "Caveat" not in inside.message  # 348 = 2 x 174: inside


def test_a_table_that_names_no_estimator_was_measured_with_the_legacy_one() -> None:
    """Tables written before --bbc-pooling existed were measured with one_repeat: a run
    with today's default estimator is told the measurement may not apply to it."""
    legacy = {k: v for k, v in TABLE.items() if k != "estimate"}
    found = small_n_finding(
        50, "auc", legacy, RunRegime(pooling="all_repeats", interval="percentile")
    )
    assert found is not None
    assert "the study measured one_repeat and percentile" in found.message
    same = small_n_finding(
        50, "auc", legacy, RunRegime(pooling="one_repeat", interval="percentile")
    )
    assert same is not None and "Caveat" not in same.message


def test_below_the_smallest_studied_n_is_a_warning_never_a_reassuring_note() -> None:
    found = small_n_finding(12, "auc", TABLE)  # n = 20 covered 97%: still a warning
    assert found is not None and found.kind == "warning" and found.entry.n == 20
    msg = found.message
    assert msg.startswith("small-n coverage: not studied below n = 20 (this run has n = 12)")
    assert "gets worse as n shrinks" in msg
    assert "97%" not in msg and "target" not in msg  # the n = 20 coverage is not quoted


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
    assert smaller is not None and smaller.entry.n == 20 and smaller.kind == "warning"


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
    """n counts patients with groups: 60 rows of 30 patients gets the n = 30 warning, with
    the caveat that the study had one sample per patient."""
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
    expected = small_n_finding(30, "auc", TABLE, RunRegime(samples=60, predictors=30))
    assert expected is not None
    saved = json.loads((run.path / "results.json").read_text())
    got = [w for w in saved["warnings"] if w.startswith("small-n coverage")]
    assert got == [expected.message]
    assert (
        "Caveat: this run is outside the studied regime (several samples per patient (60 "
        "samples of 30 patients))" in got[0]
    )
    assert not any("small-n coverage" in n for n in saved["notes"])
    assert any(line.endswith("warning: " + got[0]) for line in run.log)
    html = (run.path / "report.html").read_text()
    assert "small-n coverage: at n = 30, 95% intervals contained" in html


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
    assert "warning: small-n coverage: at n = 30, 95% intervals contained" in printed


def test_a_wide_run_gets_the_caveat_in_its_note(tmp_path, monkeypatch) -> None:
    """A run with far more predictor columns than the study had (30 measurements, 380
    noise columns, 20 constant ones: 430, counted as the study counts its cohorts' columns)
    keeps its note at n = 60 but says it lies outside the studied regime."""
    monkeypatch.setattr(small_n, "load_table", lambda path=None: TABLE)
    base = breast_cancer_adata(n_rows=60)
    rng = np.random.default_rng(1)
    noise = np.hstack([rng.normal(size=(60, 380)), np.ones((60, 20))])
    X = np.hstack([base.X, noise])
    names = [*base.var_names, *(f"noise{i}" for i in range(400))]
    adata = ad.AnnData(X, obs=base.obs.copy(), var=pd.DataFrame(index=names))
    run = insightome.run(
        adata, "diagnosis", preset="fast", n_bootstrap=200, repeats=1, folds=3,
        discover=False, audit=False, out_dir=None, seed=0, progress=False,
    )  # fmt: skip
    notes = [n for n in run.results["notes"] if n.startswith("small-n coverage")]
    assert len(notes) == 1 and "this run has n = 60; at n = 50" in notes[0]
    assert (
        "Caveat: this run is outside the studied regime (430 predictors, far more than the "
        "174 studied)" in notes[0]
    )
