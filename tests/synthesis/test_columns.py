"""Column kinds and merging of rare categories, on real tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from insightome.errors import UserError
from insightome.synthesis import describe, merge_rare_categories
from insightome.synthesis.columns import describe_column


def test_kinds_of_heart_failure(heart_failure):
    specs = {s.name: s for s in describe(heart_failure)}
    assert specs["DEATH_EVENT"].kind == "binary"
    assert specs["anaemia"].kind == "binary"
    assert specs["ejection_fraction"].kind == "integer"
    assert specs["serum_creatinine"].kind == "continuous"
    assert specs["serum_creatinine"].decimals == 2  # e.g. 1.83
    assert (specs["serum_sodium"].minimum, specs["serum_sodium"].maximum) == (113, 148)
    assert all(s.missing_share == 0 for s in specs.values())


def test_kinds_of_categories_and_missing(gbsg2, lung):
    specs = {s.name: s for s in describe(gbsg2)}
    assert specs["tgrade"].kind == "categorical"
    counts = gbsg2["tgrade"].value_counts()
    assert specs["tgrade"].categories == tuple(counts.index)  # most frequent first
    unused = gbsg2["tgrade"].astype(pd.CategoricalDtype(["I", "II", "III", "IV"]))
    assert describe_column(unused).categories == tuple(counts.index)  # IV never seen
    meal = next(s for s in describe(lung) if s.name == "meal.cal")
    assert meal.missing_share == pytest.approx(lung["meal.cal"].isna().mean())
    assert meal.to_dict()["missing_share"] == round(meal.missing_share, 4)


def test_an_empty_table_is_refused(heart_failure):
    with pytest.raises(UserError, match="no rows"):
        describe(heart_failure.iloc[:0])


def test_rare_institutions_are_merged_into_other(lung):
    frame = lung.assign(inst=lung["inst"].map(lambda v: f"site {v:.0f}", na_action="ignore"))
    counts = frame["inst"].value_counts()
    rare = set(counts[counts < 5].index)
    assert rare  # the test data has rare sites
    merged, merges = merge_rare_categories(frame, 5)
    assert len(merges) == 1 and merges[0].column == "inst" and merges[0].into == "other"
    assert set(merges[0].categories) == rare
    assert "fewer than 5" in merges[0].sentence()
    after = merged["inst"].value_counts()
    assert after.min() >= 5 and not rare & set(after.index)
    assert merged["inst"].isna().sum() == frame["inst"].isna().sum()  # missing stays missing
    pd.testing.assert_frame_equal(merged.drop(columns="inst"), frame.drop(columns="inst"))
    assert frame["inst"].value_counts().equals(counts)  # the input is not modified


def test_a_lone_rare_category_joins_the_most_frequent(gbsg2):
    frame = gbsg2.assign(tgrade=gbsg2["tgrade"].astype("category"))
    frame.loc[frame.index[:2], "tgrade"] = np.nan
    frame["tgrade"] = frame["tgrade"].cat.add_categories("IV")
    frame.loc[frame.index[0], "tgrade"] = "IV"  # one patient: "other" would be rare too
    merged, merges = merge_rare_categories(frame, 5)
    most = gbsg2["tgrade"].value_counts().index[0]
    assert [(m.column, m.categories, m.into) for m in merges] == [("tgrade", ("IV",), most)]
    assert isinstance(merged["tgrade"].dtype, pd.CategoricalDtype)
    assert "IV" not in merged["tgrade"].cat.categories
    assert merged["tgrade"].value_counts()[most] == frame["tgrade"].value_counts()[most] + 1
