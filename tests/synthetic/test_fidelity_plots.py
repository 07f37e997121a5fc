"""The fidelity figures: they render, and no real bar stands for fewer than min_cell rows."""

from __future__ import annotations

import base64
import struct

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes

from insightome.report.synthetic_plots import (
    associations_plot,
    category_bars,
    difference_marks,
    marginals_plot,
    numeric_bins,
)
from insightome.synthetic.fidelity_measures import column_kinds


def _png_size(uri: str) -> tuple[int, int]:
    assert uri.startswith("data:image/png;base64,")
    raw = base64.b64decode(uri.split(",", 1)[1])
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", raw[16:24])


@pytest.fixture(scope="module")
def diabetes() -> pd.DataFrame:
    return load_diabetes(as_frame=True, scaled=False).frame


@pytest.mark.parametrize("min_cell", [5, 10, 25])
def test_every_numeric_bin_holds_min_cell_real_values(diabetes, min_cell):
    for column in ["age", "bmi", "s1", "s4", "target"]:  # s4 is heavily tied
        values = diabetes[column].to_numpy(float)
        edges = numeric_bins(values, min_cell)
        counts = np.histogram(values, edges)[0]
        assert counts.sum() == len(values)
        assert counts.min() >= min_cell
        assert edges[0] < values.min() and edges[-1] > values.max()  # extremes not drawn
    # a long tail: the outer bin pools the tail rather than showing one patient
    tail = np.r_[np.random.default_rng(0).lognormal(0, 1, 200), 500.0]
    edges = numeric_bins(tail, min_cell)
    assert np.histogram(tail, edges)[0].min() >= min_cell


def test_too_few_real_values_give_no_bins():
    assert numeric_bins(np.r_[np.arange(9.0), [np.nan] * 5], 10) is None


def test_rare_categories_are_pooled_until_the_pool_is_not_small():
    real = pd.Series(["a"] * 50 + ["b"] * 30 + ["c"] * 6 + ["d"] * 3 + [None] * 12)
    synthetic = pd.Series(["a"] * 40 + ["b"] * 40 + ["e"] * 20)
    labels, real_shares, synth_shares = category_bars(real, synthetic, 10)
    # c + d = 9 real rows: still small, so the smallest shown category (b, 30) joins them
    assert labels == ["a", "missing", "other (pooled)"]
    assert real_shares == pytest.approx([50 / 101, 12 / 101, 39 / 101])
    assert synth_shares == pytest.approx([0.4, 0.0, 0.6])  # unseen "e" is pooled too
    labels, _, _ = category_bars(real, synthetic, 2)
    assert labels == ["a", "b", "c", "d", "missing"]


def test_the_figures_render(diabetes):
    real = diabetes.iloc[:300].copy()
    real["site"] = np.where(real["age"] > 50, "north", "south")
    real.loc[:14, "bmi"] = np.nan
    synthetic = diabetes.iloc[300:].copy()
    synthetic["site"] = "north"
    synthetic["bmi"] += 3
    kinds = column_kinds(real)
    width, height = _png_size(marginals_plot(real, synthetic, kinds, min_cell=10))
    assert width > 800 and height > 500
    matrix = np.corrcoef(real.drop(columns="site").fillna(0).to_numpy(), rowvar=False)
    other = matrix.copy()
    other[0, 1] = other[1, 0] = None
    columns = list(real.columns[:-1])
    width, height = _png_size(associations_plot(columns, matrix, other.tolist()))
    assert width > 2 * height


def test_only_pairs_beyond_chance_carry_a_number(diabetes):
    """With the flagged pairs given, the difference panel writes their differences only
    (a chance difference of 0.3 stays unwritten), whatever order a pair is named in."""
    columns = ["age", "bmi", "bp", "s1"]
    real = np.corrcoef(diabetes[columns].to_numpy(), rowvar=False)
    synthetic = real.copy()
    synthetic[0, 1] = synthetic[1, 0] = real[0, 1] + 0.3  # not flagged: no number
    synthetic[2, 3] = synthetic[3, 2] = real[2, 3] - 0.25
    difference = synthetic - real
    flagged = [("s1", "bp"), ("age", "unknown")]
    assert difference_marks(columns, difference, flagged) == [(2, 3, "-0.25")]
    assert difference_marks(columns, difference, []) == []
    for pairs in (flagged, []):
        width, height = _png_size(associations_plot(columns, real, synthetic, pairs))
        assert width > 2 * height
