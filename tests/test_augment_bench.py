"""The augmentation benchmark's harness (benchmarks/synthetic_augment.py): its cohorts and
draw on the real data, the paired interval, the findings and the default rule. No
benchmark is run here."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import synthetic_augment as bench  # noqa: E402
from small_n_cohorts import draw_subsample  # noqa: E402
from tests.conftest import shared_data  # noqa: E402


def test_heart_failure_is_read_without_its_follow_up_time():
    shared_data("cohorts", "heart_failure", "heart_failure_clinical_records_dataset.csv")
    data = bench.cohort_data("heart_failure")
    assert data.adata.n_obs == 299 and "time" not in data.adata.var_names
    assert data.adata.n_vars == 11 and int(data.strata.sum()) == 96  # 96 deaths
    train, score = draw_subsample(data.strata, data.groups, 50, np.random.default_rng(1))
    assert len(train) == 50 and len(score) == 249 and not set(train) & set(score)
    assert int(data.strata[train].sum()) == 16  # stratified: 96/299 of 50


def test_paired_interval_is_the_t_interval_of_the_differences():
    d = [0.02, -0.01, 0.03, 0.00, 0.015]
    got = bench.paired(d)
    half = stats.t.ppf(0.975, 4) * np.std(d, ddof=1) / np.sqrt(5)
    assert got["mean"] == pytest.approx(np.mean(d))
    assert got["ci95"] == pytest.approx([np.mean(d) - half, np.mean(d) + half])
    assert bench.paired([0.1])["ci95"] is None


def test_findings_read_each_metric_the_right_way():
    up = bench.paired([0.05, 0.06, 0.04, 0.05])
    down = bench.paired([-0.05, -0.06, -0.04, -0.05])
    assert bench.finding("auc", up, [], []) == "better"
    assert bench.finding("brier", up, [], []) == "worse"
    assert bench.finding("brier", down, [], []) == "better"
    real, closer = [0.6, 0.7, 0.65, 0.62], [0.9, 0.95, 0.97, 0.92]
    slope_diff = bench.paired([c - r for r, c in zip(real, closer, strict=True)])
    assert bench.finding("calibration_slope", slope_diff, real, closer) == "better"
    assert bench.finding("calibration_slope", slope_diff, closer, real) == "worse"
    assert bench.finding("auc", bench.paired([0.01]), [], []) == "too few repeats"


def cell(method: str, auc: str, others: str = "no evidence") -> dict:
    return {
        "method": method,
        "selected_minus_real": {
            "auc": {"finding": auc},
            "brier": {"finding": others},
            "calibration_slope": {"finding": others},
        },
    }


def test_the_default_stays_off_unless_augmentation_helped_at_every_setting():
    assert bench.choose_default([cell("cart", "no evidence")] * 3)["augment"] == "off"
    assert (
        bench.choose_default([cell("cart", "better")] * 2 + [cell("cart", "no evidence")])[
            "augment"
        ]
        == "off"
    )
    assert bench.choose_default([cell("cart", "better", "worse")] * 3)["augment"] == "off"
    chosen = bench.choose_default(
        [cell("cart", "no evidence")] * 3 + [cell("copula", "better")] * 3
    )
    assert chosen["augment"] == "copula"
