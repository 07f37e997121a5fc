"""Signature stability versus n: disjoint subsamples agree more as n grows when the outcome
carries signal, and no better than chance when it is shuffled."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer

from insightome.discover.stability_curve import stability_versus_n


def breast(n: int = 300) -> tuple[pd.DataFrame, np.ndarray]:
    bunch = load_breast_cancer(as_frame=True)
    return bunch.data.iloc[:n], bunch.target.iloc[:n].to_numpy().astype(int)


def test_stability_rises_with_n_on_a_real_signal():
    X, y = breast()
    curve = stability_versus_n(X, y, "binary", [20, 40, 80, 150, 240], seed=0)
    assert curve.q == 3  # stability selection's own q for 30 features
    assert [round(p.n) for p in curve.points] == [20, 40, 80, 150]  # 150: half the samples
    assert curve.skipped == ["240: above half the samples (150), no disjoint pairs"]
    values = [p.stability for p in curve.points]
    assert values[-1] > values[0] + 0.2 and values[-1] > 0.5
    assert all(-1 <= v <= 1 for v in values)
    assert curve.summary().startswith(f"signature stability at n = 150: {values[-1]:.2f}")
    assert curve.to_dict()["points"][0]["ci95"][0] <= values[0]


def test_a_shuffled_outcome_selects_no_more_consistently_than_chance():
    X, y = breast()
    y = np.random.default_rng(3).permutation(y)
    curve = stability_versus_n(X, y, "binary", [40, 150], seed=1)
    assert all(abs(p.stability) < 0.25 for p in curve.points)
    assert "poor agreement" in curve.summary()


def test_with_groups_the_pairs_are_disjoint_sets_of_whole_patients(monkeypatch):
    from insightome.discover import stability_curve

    X, y = breast(240)
    groups = np.repeat(np.arange(80), 3)
    y = y[groups * 3]  # one outcome per patient
    halves = []
    real = stability_curve.complementary_halves

    def recorded(strata, codes, rng):
        first, second = real(strata, codes, rng)
        halves.append((codes[first], codes[second]))
        return first, second

    monkeypatch.setattr(stability_curve, "complementary_halves", recorded)
    curve = stability_versus_n(X, y, "binary", [30, 60, 120], groups=groups, seed=2)
    assert len(curve.points) == 3 and all(p.stability is not None for p in curve.points)
    assert len(halves) == 3 * curve.n_pairs
    for a, b in halves:
        assert not set(a) & set(b)  # no patient in both subsamples of a pair
        assert all(np.sum(a == g) == 3 for g in set(a))  # every patient whole
