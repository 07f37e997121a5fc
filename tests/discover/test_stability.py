"""Stability selection on real data: known markers are stable, permuted labels give none."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines.datasets import load_rossi
from sklearn.datasets import load_breast_cancer

import insightome.discover.stability as stability
from insightome.discover.stability import (
    complementary_halves,
    default_q,
    martingale_residuals,
    nogueira_stability,
    stability_selection,
)
from tests.null_data import balanced_permutation, omics_like


@pytest.fixture(scope="module")
def breast_cancer() -> tuple[pd.DataFrame, np.ndarray]:
    bunch = load_breast_cancer(as_frame=True)
    return bunch.data, (bunch.target.to_numpy() == 0).astype(int)  # 1 = malignant


def test_nogueira_index_identical_random_and_known_value() -> None:
    same = np.tile(np.r_[np.ones(5), np.zeros(15)].astype(bool), (10, 1))
    assert nogueira_stability(same) == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    random_sets = np.zeros((300, 100), dtype=bool)
    for row in random_sets:
        row[rng.choice(100, 10, replace=False)] = True
    assert abs(nogueira_stability(random_sets)) < 0.02
    # two sets {0,1} and {0,2} of p = 4: hand computation of the Nogueira formula
    Z = np.array([[1, 1, 0, 0], [1, 0, 1, 0]], dtype=bool)
    k_bar, p = 2.0, 4
    var = 2 / 1 * np.array([0, 0.25, 0.25, 0])
    expected = 1 - var.mean() / ((k_bar / p) * (1 - k_bar / p))
    assert nogueira_stability(Z) == pytest.approx(expected)
    assert nogueira_stability(Z[:1]) is None


def test_default_q_bounds_expected_false_selections_by_one() -> None:
    for p in (10, 30, 2000, 20000):
        q = default_q(p)
        assert q**2 / (0.5 * p) <= 1.0 + 1e-12 or q == 1


def test_breast_cancer_known_markers_are_stable(breast_cancer) -> None:
    X, y = breast_cancer
    res = stability_selection(X, y, "binary", seed=0)
    assert res.q == default_q(30) == 3
    assert res.expected_false_bound <= 1.0
    # the concave-points / perimeter measurements are the textbook malignancy markers
    assert set(res.stable) & {"worst concave points", "worst perimeter", "worst radius"}
    assert res.ranking[0] in res.stable
    assert res.frequency.between(0, 1).all()
    assert res.selections.shape == (100, 30)


def test_null_calibration_no_stable_features_on_permuted_labels(breast_cancer) -> None:
    X, y = breast_cancer
    rng = np.random.default_rng(1)
    counts = [
        len(stability_selection(X, rng.permutation(y), "binary", n_pairs=25, seed=s).stable)
        for s in range(5)
    ]
    assert sum(counts) <= 1, counts


def test_null_calibration_omics_like_without_signal() -> None:
    """p >> n expression-like data generated in the test (60 × 2,000 with co-expression
    modules, :func:`tests.null_data.omics_like`), labels without signal: about no stable
    gene. Runs on any machine (it used colon.mat from ../shared before)."""
    data = omics_like(60, 2000, seed=0)
    counts = [
        len(
            stability_selection(
                data.X, balanced_permutation(data.axis, s), "binary", n_pairs=25, seed=s
            ).stable
        )
        for s in range(3)
    ]
    assert np.mean(counts) <= 1.0, counts


def test_complementary_halves_are_disjoint_balanced_and_keep_groups() -> None:
    rng = np.random.default_rng(0)
    strata = np.r_[np.zeros(30, int), np.ones(11, int)]
    a, b = complementary_halves(strata, None, rng)
    assert not set(a) & set(b) and len(a) + len(b) == 41
    assert abs(strata[a].sum() - strata[b].sum()) <= 1
    groups = np.repeat(np.arange(20), 2)
    a, b = complementary_halves(np.zeros(40, int), groups, rng)
    assert not set(groups[a]) & set(groups[b])


def test_martingale_residuals_sum_to_zero_and_survival_selection() -> None:
    rossi = load_rossi()
    y = np.where(rossi["arrest"] == 1, rossi["week"], -rossi["week"]).astype(float)
    r = martingale_residuals(y)
    assert r.sum() == pytest.approx(0.0, abs=1e-9)  # Nelson–Aalen: Σ δ = Σ Λ̂(t)
    assert (r <= 1).all()
    X = rossi.drop(columns=["week", "arrest"])
    res = stability_selection(X, y, "survival", seed=0)
    # age and prior convictions are the covariates with the strongest hazard effects
    assert set(res.ranking[:2]) & {"age", "prio"}


def test_large_n_pairs_split_a_subsample(breast_cancer, monkeypatch) -> None:
    """Above 2·HALF_MAX samples each pair splits a random subsample: the halves are that
    small, and the known markers are still found."""
    X, y = breast_cancer
    seen: list[int] = []
    original = stability.entry_positions

    def spy(Xh, *args):  # type: ignore[no-untyped-def]
        seen.append(len(Xh))
        return original(Xh, *args)

    monkeypatch.setattr(stability, "HALF_MAX", 100)
    monkeypatch.setattr(stability, "entry_positions", spy)
    res = stability.stability_selection(X, y, "binary", n_pairs=20, seed=0)
    assert max(seen) <= 101 and len(seen) == 40
    assert set(res.ranking[:3]) & {"worst concave points", "worst perimeter", "worst radius"}


def test_univariate_strength_in_blocks_of_columns_is_the_same(monkeypatch):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 40))
    response = (X[:, 5] + rng.normal(size=300) > 0).astype(float)[:, None]
    column_feature = np.arange(40)
    whole = stability.univariate_strength(X, response, column_feature, 40)
    monkeypatch.setattr(stability, "BLOCK_CELLS", 1_000)  # 3 columns a block
    blocks = stability.univariate_strength(X.astype(np.float32), response, column_feature, 40)
    np.testing.assert_allclose(blocks, whole, rtol=1e-6, atol=1e-8)  # float32 input
    assert int(np.argmax(blocks)) == 5


def test_design_matrix_keeps_a_float32_table_float32():
    rng = np.random.default_rng(4)
    frame = pd.DataFrame(rng.normal(size=(50, 4)).astype(np.float32), columns=list("abcd"))
    X, mapping = stability.design_matrix(frame)
    assert X.dtype == np.float32 and mapping.tolist() == [0, 1, 2, 3]
    X64, _ = stability.design_matrix(frame.astype(float))
    assert X64.dtype == np.float64
    np.testing.assert_allclose(X, X64, rtol=1e-5, atol=1e-6)
    frame["site"] = pd.Categorical(list("xy") * 25)  # mixed: the one-hot columns map back
    X, mapping = stability.design_matrix(frame)
    assert mapping.tolist() == [0, 1, 2, 3, 4, 4]
