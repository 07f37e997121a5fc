"""The measures under the privacy gate: the Gower distance, anonymeter's statistics and
the singling-out query machinery, each against hand-computed or anonymeter's values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from insightome.synthetic.disclosure_risks import (
    EQ,
    GE,
    IS_NULL,
    LE,
    NE,
    _encode,
    count_matches,
    default_link_columns,
    expected_singled_out,
    linkability_risk,
    residual_risk,
    singling_out_risk,
    wilson_rate,
)
from insightome.synthetic.distance import GowerSpace


def test_gower_distance_by_hand():
    reference = pd.DataFrame(
        {"age": [40.0, 60.0, 80.0], "sex": ["f", "m", "f"], "ef": [20.0, np.nan, 40.0]}
    )
    space = GowerSpace.fit(reference)
    assert space.numeric == ("age", "ef") and space.categorical == ("sex",)
    assert space.ranges == (40.0, 20.0)  # the reference rows' ranges, NaN ignored
    queries = pd.DataFrame(
        {"age": [50.0, 200.0, np.nan], "sex": ["m", "f", "x"], "ef": [np.nan, 30.0, np.nan]}
    )
    d = space.pairwise(queries, reference)
    # row 0 vs ref 0: age 10/40, sex differs, ef missing vs value = 1
    assert d[0, 0] == pytest.approx((0.25 + 1 + 1) / 3)
    # row 0 vs ref 1: missing vs missing = 0
    assert d[0, 1] == pytest.approx((0.25 + 0 + 0) / 3)
    # row 1: age far outside the reference range weighs at most 1
    assert d[1, 0] == pytest.approx((1.0 + 0 + 0.5) / 3)
    # row 2: a category the reference never saw differs from all of them
    assert d[2, 1] == pytest.approx((1 + 1 + 0) / 3)
    assert space.pairwise(reference, reference).diagonal().tolist() == [0.0, 0.0, 0.0]


def test_blockwise_nearest_equals_the_full_matrix():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=500),
            "y": np.where(rng.random(500) < 0.1, np.nan, rng.gamma(2, size=500)),
            "g": rng.choice(["a", "b", "c"], 500).astype(object),
        }
    )
    space = GowerSpace.fit(frame.iloc[:300])
    full = space.pairwise(frame.iloc[300:], frame.iloc[:300])
    distance, index = space.nearest(frame.iloc[300:], frame.iloc[:300], max_cells=1000)
    assert np.array_equal(index, full.argmin(axis=1))
    assert np.allclose(distance, full.min(axis=1))


def test_wilson_and_residual_risk_equal_anonymeters():
    """Reference values from anonymeter 1.1's EvaluationResults(...).risk()."""
    risk = residual_risk(wilson_rate(500, 120, 0.95), wilson_rate(500, 80, 0.95))
    assert risk == pytest.approx((0.09480453841626077, 0.038289756120436516, 0.15131932071208504))
    risk = residual_risk(wilson_rate(60, 7, 0.9), wilson_rate(60, 5, 0.9))
    assert risk == pytest.approx((0.0354907121461083, 0.0, 0.13555547963303988))


def test_reach_corrects_the_residual_risk_for_subsampled_training_rows():
    """main = risk * reach + (1 - risk) * control, solved for risk."""
    control = (0.2, 0.0)
    assert residual_risk((0.2 + 0.5 * 0.3, 0.0), control, reach=0.5)[0] == pytest.approx(0.5)
    assert np.isnan(residual_risk((0.3, 0.01), (0.5, 0.01), reach=0.5)[0])  # undefined


def test_expected_singled_out_is_hypergeometric():
    counts = np.array([1, 2, 0, 7])
    assert expected_singled_out(counts, 10, 10) == 1.0
    # k = 1: 5/10; k = 2: 2 C(8,4) / C(10,5) = 140/252; k = 7: 7 C(3,4) = 0
    assert expected_singled_out(counts, 10, 5) == pytest.approx(0.5 + 140 / 252)


def test_query_conditions_never_match_missing_values_except_is_null():
    frame = pd.DataFrame({"x": [1.0, 2.0, np.nan], "g": ["a", None, "b"]})
    (table,) = _encode([frame])
    queries = [
        ((0, NE, 1.0),),
        ((0, LE, 2.0),),
        ((0, IS_NULL, 0.0),),
        ((1, EQ, 0.0),),
        ((1, NE, 0.0),),
        ((0, GE, 2.0), (1, IS_NULL, 0.0)),
    ]
    assert count_matches(table, queries).tolist() == [1, 2, 1, 1, 1, 1]


def test_singling_out_and_linkability_of_a_copy_and_of_a_real_second_sample(actg175_path):
    df = pd.read_csv(actg175_path, index_col=0).drop(columns=["pidnum"]).astype(float)
    order = np.random.default_rng(1).permutation(len(df))
    train, holdout, other = df.iloc[order[:800]], df.iloc[order[800:1200]], df.iloc[order[1200:]]
    for mode in ("univariate", "multivariate"):
        copy = singling_out_risk(train, holdout, train.copy(), seed=0, mode=mode)
        assert copy.risk > 0.8 and copy.rows_attacked == 400
        assert any("reaches it in 50.0%" in note for note in copy.notes)
        real = singling_out_risk(train, holdout, other, seed=0, mode=mode)
        assert real.ci_low < 0.05, real
    link = linkability_risk(train, holdout, train.copy(), seed=0)
    assert link.risk > 0.9 and link.n_attacks == 400
    assert linkability_risk(train, holdout, other, seed=0).risk < 0.05
    halves = default_link_columns(list(df.columns), seed=0)
    assert sorted(halves[0] + halves[1]) == sorted(df.columns)
    assert not set(halves[0]) & set(halves[1])
    with pytest.raises(ValueError, match="mode"):
        singling_out_risk(train, holdout, other, seed=0, mode="both")
