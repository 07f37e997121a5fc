"""Signature stability versus n: disjoint subsamples agree more as n grows when the outcome
carries signal (the change's interval above 0), and no better than chance when it is
shuffled; pairs are stratified, disjoint and made of whole patients with groups; the
working response and any imputation are learned on each subsample alone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from insightome.discover import stability_curve
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
    first = curve.to_dict()["points"][0]
    # a CI of the mean over 20 pairs is narrower than the range of the pairs' values
    assert first["range95"][0] <= first["ci95"][0] <= values[0] <= first["ci95"][1]
    assert first["ci95"][1] <= first["range95"][1]
    assert first["ci95"][1] - first["ci95"][0] < first["range95"][1] - first["range95"][0]
    change = curve.change
    assert change is not None and change.rising and change.ci95[0] > 0
    assert change.change == pytest.approx(values[-1] - values[0])
    assert "still rising, change +" in curve.summary()


def test_a_shuffled_outcome_selects_no_more_consistently_than_chance():
    X, y = breast()
    y = np.random.default_rng(3).permutation(y)
    curve = stability_versus_n(X, y, "binary", [40, 150], seed=1)
    assert all(abs(p.stability) < 0.25 for p in curve.points)
    assert "poor agreement" in curve.summary()
    # the change is reported with its interval either way (a fixed shuffle has chance
    # associations of its own, which both halves of the pairs at n/2 share)
    assert curve.change is not None
    assert ("still rising" in curve.summary()) == curve.change.rising


@pytest.mark.parametrize("per_patient", [True, False], ids=["patient outcome", "varies"])
def test_with_groups_the_pairs_are_disjoint_stratified_sets_of_whole_patients(
    monkeypatch, per_patient
):
    X, y = breast(240)
    groups = np.repeat(np.arange(80), 3)
    if per_patient:
        y = y[groups * 3]  # one outcome per patient
    pairs = []
    real = stability_curve.disjoint_pair

    def recorded(size, strata, codes, rng):
        first, second = real(size, strata, codes, rng)
        pairs.append((size, first, second))
        return first, second

    monkeypatch.setattr(stability_curve, "disjoint_pair", recorded)
    curve = stability_versus_n(X, y, "binary", [30, 60, 120], groups=groups, seed=2)
    assert len(curve.points) == 3 and all(p.stability is not None for p in curve.points)
    assert len(pairs) == 3 * curve.n_pairs
    patient_class = y[np.unique(groups, return_index=True)[1]]  # a patient's first sample
    share = patient_class.mean()
    for size, a, b in pairs:
        assert not set(groups[a]) & set(groups[b])  # no patient in both subsamples
        for half in (a, b):
            assert all(np.sum(groups[half] == g) == 3 for g in set(groups[half]))  # whole
            assert abs(len(half) - size) <= 3  # within one patient of the size
            # stratified by patient: the class share of the patients taken follows the cohort's
            taken = patient_class[np.unique(groups[half])]
            assert abs(taken.mean() - share) <= 3 / len(taken) + 1e-9


def test_the_survival_response_and_the_imputation_are_learned_on_each_subsample(monkeypatch):
    X, _ = breast(200)
    rng = np.random.default_rng(0)
    time = rng.exponential(10, 200) + 0.1
    event = rng.uniform(size=200) < 0.6
    y = np.where(event, time, -time)  # signed survival time
    X = X.copy()
    X.iloc[rng.choice(200, 30, replace=False), 0] = np.nan  # something to impute
    rows_seen: dict[str, list[int]] = {"response": [], "design": []}
    real_response, real_design = stability_curve.working_response, stability_curve.design_matrix

    def response(yy, task):
        rows_seen["response"].append(len(yy))
        return real_response(yy, task)

    def design(features):
        rows_seen["design"].append(len(features))
        return real_design(features)

    monkeypatch.setattr(stability_curve, "working_response", response)
    monkeypatch.setattr(stability_curve, "design_matrix", design)
    curve = stability_versus_n(X, y, "survival", [40, 100], n_pairs=5, seed=0)
    assert [round(p.n) for p in curve.points] == [40, 100]
    # 2 sizes × 5 pairs × 2 subsamples, each of its own size: never all 200 samples
    assert sorted(set(rows_seen["response"])) == [40, 100] == sorted(set(rows_seen["design"]))
    assert len(rows_seen["response"]) == 20 == len(rows_seen["design"])
