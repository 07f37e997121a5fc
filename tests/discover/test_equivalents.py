"""The equivalence screen's Spearman correlations, built block by block, are the exact ones."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.datasets import load_breast_cancer

from insightome.discover import equivalents


def _frame() -> pd.DataFrame:
    frame = load_breast_cancer(as_frame=True).data.copy()
    frame.iloc[::9, 3] = np.nan  # missing values rank at the column median
    return frame


def test_spearman_from_centered_ranks_is_scipys() -> None:
    frame = _frame()
    centered, norms = equivalents._centered_ranks(frame)
    rho = equivalents._spearman_with(centered, norms, 3)
    filled = frame.fillna(frame.median())
    for c in (0, 3, 7, 20):
        expected = stats.spearmanr(filled.iloc[:, 3], filled.iloc[:, c]).statistic
        assert abs(rho[c] - expected) < 1e-12


def test_blocks_of_columns_give_the_same_numbers_with_a_smaller_peak(monkeypatch) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(4_000, 200)))
    whole, whole_norms = equivalents._centered_ranks(frame)

    def peak_of(fn) -> float:
        tracemalloc.start()
        fn()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak / frame.to_numpy().nbytes

    one_block = peak_of(lambda: equivalents._centered_ranks(frame))
    monkeypatch.setattr(equivalents, "BLOCK_CELLS", 40_000)  # 10 columns a block
    blocks, block_norms = equivalents._centered_ranks(frame)
    np.testing.assert_array_equal(blocks, whole)
    np.testing.assert_array_equal(block_norms, whole_norms)
    assert peak_of(lambda: equivalents._centered_ranks(frame)) < 1.3 < one_block


def test_the_screen_finds_a_near_copy_of_a_signature_member() -> None:
    frame = _frame()
    y = load_breast_cancer().target
    frame["radius_copy"] = frame["mean radius"] * 1.01 + 0.001
    table = equivalents.equivalent_features(frame, y, "binary", ["mean radius"], n_bootstrap=50)
    assert "radius_copy" in set(table["equivalent"])
    assert table["correlation"].abs().min() >= equivalents.MIN_CORRELATION
