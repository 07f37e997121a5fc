"""Sensitive-attribute labels on ACTG175 (lifelines' copy of the AIDS Clinical Trials Group
study 175: gender and race coded 0/1, age in years)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from insightome.errors import UserError
from insightome.groups.labels import (
    ATTRIBUTE_MISSING,
    LABELS_LENGTH,
    UNKNOWN,
    aligned_labels,
    group_labels,
    grouping,
    reference_group,
)


@pytest.fixture(scope="module")
def actg(actg175_path) -> pd.DataFrame:
    return pd.read_csv(actg175_path)


def test_labels_are_strings_aligned_with_samples(actg):
    labels = group_labels(actg, ["gender", "race"])
    gender = labels["gender"]
    assert gender.index.equals(actg.index)
    assert gender.value_counts().to_dict() == {"1": 1771, "0": 368}
    assert labels["race"].value_counts().to_dict() == {"0": 1522, "1": 617}


def test_age_gets_standard_bands_that_fit_the_cohort(actg):
    """ACTG 175's ages (12–70): decades merged until every band has 30+ patients (the fixed
    <40 / 40–59 / ≥60 bands of earlier versions are gone: issue 17)."""
    found = grouping(actg, ["age"])
    age, bands = found.labels["age"], found.codings["age"].age_bands
    assert bands.rule == "standard" and set(bands.cuts) <= {18, 30, 40, 50, 60, 70, 80, 90}
    assert list(found.codings["age"].groups) == ["<30", "30–39", "40–49", "≥50"]
    assert (age == "<30").sum() == (actg.age < 30).sum()
    assert (age == "40–49").sum() == ((actg.age >= 40) & (actg.age < 50)).sum()
    assert (age == "≥50").sum() == (actg.age >= 50).sum() >= 30
    assert age.value_counts().min() >= 30


def test_other_numeric_attributes_get_tertiles_with_cut_points(actg):
    weight = group_labels(actg, ["wtkg"])["wtkg"]
    cuts = np.quantile(actg.wtkg, [1 / 3, 2 / 3])
    low, mid, high = f"≤{cuts[0]:.3g}", f"{cuts[0]:.3g}–{cuts[1]:.3g}", f">{cuts[1]:.3g}"
    assert set(weight) == {low, mid, high}
    assert (weight == low).sum() == (actg.wtkg <= cuts[0]).sum()
    assert (weight == high).sum() == (actg.wtkg > cuts[1]).sum()
    assert all(600 < c < 830 for c in weight.value_counts())  # about a third each


def test_missing_values_and_missing_codes_become_unknown(actg):
    obs = actg[["age", "race"]].astype({"race": object}).copy()
    obs.loc[:9, "age"] = np.nan
    obs.loc[10:14, "race"] = "[Not Available]"
    obs.loc[15:16, "race"] = None
    labels = group_labels(obs, ["age", "race"], intersections=False)
    assert (labels["age"] == UNKNOWN).sum() == 10
    assert (labels["race"] == UNKNOWN).sum() == 7


def test_intersection_gender_by_race(actg):
    labels = group_labels(actg, ["gender", "race"])
    both = labels["gender × race"]
    assert set(labels) == {"gender", "race", "gender × race"}
    expected = pd.crosstab(actg.gender, actg.race)
    for g in (0, 1):
        for r in (0, 1):
            assert (both == f"{g} × {r}").sum() == expected.loc[g, r]


def test_intersection_needs_two_cells_of_min_group_size(actg):
    # cells: 1367 (1 × 0), 404 (1 × 1), 213 (0 × 1), 155 (0 × 0)
    assert "gender × race" not in group_labels(actg, ["gender", "race"], min_group_size=405)
    assert "gender × race" in group_labels(actg, ["gender", "race"], min_group_size=404)
    assert len(group_labels(actg, ["gender", "race"], intersections=False)) == 2


def test_sex_and_gender_are_never_merged(actg):
    obs = actg[["gender"]].copy()
    rng = np.random.default_rng(0)
    obs["sex"] = np.where(rng.random(len(obs)) < 0.05, 1 - obs.gender, obs.gender)  # differ
    obs["sex"] = obs["sex"].map({0: "female", 1: "male"})
    labels = group_labels(obs, ["sex", "gender"])
    assert {"sex", "gender"} <= set(labels)
    assert set(labels["sex"]) == {"female", "male"}
    assert set(labels["gender"]) == {"0", "1"}
    assert (labels["sex"] == "male").sum() != (labels["gender"] == "1").sum()


def test_unknown_attribute_is_a_user_error(actg):
    with pytest.raises(UserError) as err:
        group_labels(actg, ["gendr"])
    assert err.value.template == ATTRIBUTE_MISSING
    assert "'gender'" in str(err.value)


def test_aligned_labels_reorders_by_index_and_checks_length(actg):
    labels = group_labels(actg, ["gender"], intersections=False)
    shuffled = labels["gender"].sample(frac=1.0, random_state=0)
    out = aligned_labels({"gender": shuffled}, len(actg), actg.index)
    assert (out["gender"] == labels["gender"].to_numpy()).all()
    with pytest.raises(UserError) as err:
        aligned_labels({"gender": labels["gender"].iloc[:10]}, len(actg))
    assert err.value.template == LABELS_LENGTH


def test_reference_is_the_largest_known_group():
    labels = np.array([UNKNOWN] * 50 + ["a"] * 20 + ["b"] * 30)
    assert reference_group(labels) == "b"
    assert reference_group(np.array([UNKNOWN] * 3)) is None
    assert reference_group(np.array([UNKNOWN] * 50 + ["a"] * 20)) is None  # nothing to compare
    assert reference_group(labels, min_cell=25) is None  # 'a' (20) is under min_cell
