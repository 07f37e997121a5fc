"""Families side by side (evaluate.families): each family's BBC-CV is the estimate of its own
selection, on the run's out-of-fold predictions and bootstraps."""

from __future__ import annotations

import numpy as np
import pytest

from insightome.evaluate.bbc import bbc_cv
from insightome.evaluate.families import family_estimates


def oof_of(y: np.ndarray, strengths: list[float], repeats: int = 2) -> np.ndarray:
    """(repeats × candidates × n × 1) scores: the label plus noise, stronger = better."""
    rng = np.random.default_rng(0)
    out = np.empty((repeats, len(strengths), len(y), 1))
    for r in range(repeats):
        for c, s in enumerate(strengths):
            out[r, c, :, 0] = 1 / (1 + np.exp(-(s * (y - 0.5) + rng.normal(size=len(y)))))
    return out


def test_each_family_is_estimated_as_its_own_selection():
    y = np.array([0, 1] * 40)
    oof = oof_of(y, [0.5, 3.0, 1.0, 2.0])
    names = ["a1", "a2", "b1", "c1"]
    thr = np.full((2, len(y)), 0.5)
    run = bbc_cv(oof, y, "binary", n_bootstrap=300, seed=3, thresholds=thr)
    families = family_estimates(
        oof, y, "binary", names, {"a": [0, 1], "b": [2], "c": [3]}, run,
        fit_seconds=np.array([1.0, 2.0, 3.0, 4.0]), n_fits=np.array([5, 5, 5, 5]),
        n_bootstrap=300, seed=3, thresholds=thr,
    )  # fmt: skip
    by = {f.family: f for f in families}
    alone = bbc_cv(oof[:, [3]], y, "binary", n_bootstrap=300, seed=3, thresholds=thr)
    assert by["c"].value == pytest.approx(alone.estimate.value)
    assert by["c"].ci95 == pytest.approx(alone.estimate.ci95)
    # a one-configuration family has nothing to correct: its estimate is its own CV score
    assert by["b"].value == pytest.approx(by["b"].plain_cv_value, abs=0.02)
    assert by["a"].best == "a2" and by["a"].configurations == ("a1", "a2")
    assert by["a"].value <= by["a"].plain_cv_value  # selecting among two: corrected down
    assert by["a"].fit_seconds == 3.0 and by["a"].n_fits == 10
    assert sum(f.run_selection_frequency for f in families) == pytest.approx(1.0)
    assert by["a"].run_selection_frequency > 0.5  # the strongest configuration is there


def test_a_family_never_fitted_on_every_fold_is_left_out():
    y = np.array([0, 1] * 30)
    oof = oof_of(y, [2.0, 1.0])
    oof[0, 1, 3, 0] = np.nan  # the second candidate failed on one fold
    thr = np.full((2, len(y)), 0.5)
    run = bbc_cv(oof, y, "binary", n_bootstrap=200, seed=0, thresholds=thr)
    families = family_estimates(
        oof, y, "binary", ["ok", "failed"], {"ok": [0], "failed": [1]}, run,
        fit_seconds=np.ones(2), n_fits=np.ones(2, dtype=int), n_bootstrap=200, seed=0,
        thresholds=thr,
    )  # fmt: skip
    assert [f.family for f in families] == ["ok"]
