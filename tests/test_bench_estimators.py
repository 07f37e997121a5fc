"""The estimator study's harness (benchmarks/estimators.py): a captured run reproduces the
run's own BBC-CV exactly, Tibshirani & Tibshirani's correction and the interval multiples
are what they say, the narrowest rule picks by every n, and the README's figures come from
benchmarks/results/estimators.md."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

import insightome
from tests.conftest import breast_cancer_adata

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import estimators  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def test_a_captured_run_gives_back_the_runs_own_estimate_and_interval(tmp_path):
    """The capture stage keeps what BBC-CV saw: recomputed from the file, the default
    estimator and interval are the run's to the last digit."""
    box: dict = {}
    run = insightome.run(
        breast_cancer_adata(n_cols=8), "diagnosis", out_dir=None, discover=False, audit=False,
        preset="fast", repeats=2, n_bootstrap=1000, seed=0, stages=[estimators._capture_stage(box)],
    )  # fmt: skip
    assert box["oof"].shape[:2] == (2, len(box["candidates"]))
    assert set(np.unique(box["folds"])) == set(range(run.results["resampling"]["folds"]))
    path = tmp_path / "one.npz"
    estimators._save(path, box, {"source": "cohorts", "n": 569, "rep": 0, "heldout": 0.9})
    row = estimators.estimators_of(path)
    est = run.results["estimate"]
    assert (est["pooling"], est["interval"]) == ("all_repeats", "percentile")  # the default
    assert row["bbc_all_repeats"]["value"] == est["value"]
    assert row["bbc_all_repeats"]["intervals"]["percentile 95%"] == est["ci95"]
    assert row["plain_cv"]["value"] == est["plain_cv_value"]
    # the harness reads the intervals as bbc_cv(interval=...) does
    from insightome.evaluate.bbc import bbc_cv

    for interval, name in (("calibrated", "x0.80 95%"), ("oob_scaled", "oob_scaled 95%")):
        res = bbc_cv(
            box["oof"], box["y"], "binary", thresholds=box["thresholds"], choice=box["winner"],
            pooling="all_repeats", interval=interval,
        )  # fmt: skip
        assert list(res.estimate.ci95) == pytest.approx(row["bbc_all_repeats"]["intervals"][name])
    # the x1.00 multiple is the percentile interval; narrower multiples nest inside it
    intervals = row["bbc_all_repeats"]["intervals"]
    assert intervals["x1.00 95%"] == pytest.approx(intervals["percentile 95%"])
    lo, hi = intervals["x1.00 95%"]
    lo8, hi8 = intervals["x0.80 95%"]
    assert lo < lo8 < hi8 < hi


def test_tt_correction_is_the_mean_fold_gap():
    """Two candidates, one repeat of two folds: candidate 1 is best on fold 0 (by 0.25), the
    winner (0) on fold 1."""
    y = np.array([0, 1, 0, 1, 0, 1, 0, 1])
    folds = np.array([[0, 0, 0, 0, 1, 1, 1, 1]])
    oof = np.zeros((1, 2, 8, 1))
    oof[0, 0, :, 0] = [0.1, 0.9, 0.6, 0.4, 0.1, 0.9, 0.2, 0.8]  # fold 0: AUC 0.75, fold 1: 1
    oof[0, 1, :, 0] = [0.1, 0.9, 0.2, 0.8, 0.6, 0.4, 0.9, 0.1]  # fold 0: 1, fold 1: 0
    value = estimators.tt_estimate(oof, y, folds, "binary", winner=0)
    from sklearn.metrics import roc_auc_score

    plain = roc_auc_score(y, oof[0, 0, :, 0])
    assert value == pytest.approx(plain - ((1.0 - 0.75) + (1.0 - 1.0)) / 2)


def test_narrowest_needs_every_n_of_the_development_draws():
    def cell(coverages: dict[float, float]) -> dict:
        return {
            "intervals": {
                f"bbc_all_repeats x{m:.2f} 95%": {"coverage": coverages.get(m, 1.0)}
                for m in estimators.MULTIPLES
            }
        }

    summary = {
        "cohorts, development draws, n = 30": cell({0.6: 0.8, 0.65: 0.85, 0.7: 0.91}),
        "cohorts, development draws, n = 50": cell({0.6: 0.85, 0.65: 0.95, 0.7: 0.95}),
        "cohorts, confirmation draws, n = 30": cell({0.6: 0.1}),  # never chooses
    }
    assert estimators.narrowest(summary, "all_repeats") == "bbc_all_repeats x0.70 95%"


def test_readme_interval_figures_come_from_the_results_table():
    """Every figure of the README's bullet is in the table as a whole number with its sign
    (a coverage followed by %, a mean error with its sign, a width in parentheses)."""
    table = (REPO / "benchmarks" / "results" / "estimators.md").read_text()
    data = json.loads((REPO / "benchmarks" / "results" / "estimators.json").read_text())
    assert data["meta"]["runs"] >= 200
    readme = (REPO / "README.md").read_text().replace("−", "-")
    start = readme.index("* **Which estimate")
    section = readme[start : readme.index("\n* **", start)]  # to the next bullet
    tokens = set(re.findall(r"(?<![\d.])[-+]?\d+\.\d+%?(?![\d])", table))
    tokens |= {t.lstrip("(").rstrip(")") for t in re.findall(r"\(\d+\.\d+\)", table)}
    figures = re.findall(r"(?<![\d.])[-+]?\d+\.\d+%?(?![\d])", section)
    assert len(figures) >= 15
    for figure in figures:
        if figure in ("0.8",):  # the multiple, checked against the package's below
            continue
        assert figure in tokens, figure


def test_the_calibrated_multiples_are_the_tables_narrowest():
    """--bbc-interval calibrated uses, per pooling, the multiple the study chose."""
    from insightome.options.checks import CALIBRATED_WIDTH

    data = json.loads((REPO / "benchmarks" / "results" / "estimators.json").read_text())
    for pooling, multiple in CALIBRATED_WIDTH.items():
        assert estimators.narrowest(data["summary"], pooling) == (
            f"bbc_{pooling} x{multiple:.2f} 95%"
        )
