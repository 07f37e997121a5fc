"""Age bands that fit the cohort (issue 17, point 7): standard bands merged to the minimum
group size, quartiles when they leave one group, an insufficient-evidence split when
nothing reaches it, and the user's cut points (--age-bands)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from insightome.audit.model_audit import INSUFFICIENT, REFERENCE, model_audit
from insightome.groups.age_bands import (
    INSUFFICIENT as INSUFFICIENT_RULE,
)
from insightome.groups.age_bands import (
    QUANTILE,
    STANDARD,
    USER,
    band_labels,
    choose_age_bands,
)
from insightome.groups.labels import grouping, is_age
from insightome.options.checks import cut_points
from tests.conftest import shared_data


def bands_of(ages, min_group_size: int = 30, cuts=None):
    found = grouping(pd.DataFrame({"age": ages}), ["age"], min_group_size=min_group_size,
                     age_bands=cuts)  # fmt: skip
    return found.labels["age"], found.codings["age"]


def test_heart_failure_age_gets_two_bands_of_the_minimum_size():
    path = shared_data("cohorts", "heart_failure", "heart_failure_clinical_records_dataset.csv")
    ages = pd.read_csv(path)["age"]
    assert ages.between(40, 95).all()
    for min_size in (30, 60):
        labels, coding = bands_of(ages, min_size)
        counts = labels.value_counts()
        assert len(counts) >= 2 and counts.min() >= min_size, counts
        assert coding.age_bands.rule == STANDARD
        assert set(coding.age_bands.cuts) <= {40, 50, 60, 70, 80, 90}
        for label, n in counts.items():  # each label holds exactly the ages it names
            low, high = _bounds(label, coding.age_bands.cuts)
            assert n == ((ages >= low) & (ages < high)).sum(), label


def _bounds(label: str, cuts) -> tuple[float, float]:
    edges = [-np.inf, *cuts, np.inf]
    i = band_labels(cuts).index(label)
    return edges[i], edges[i + 1]


def test_a_cohort_of_60_to_98_year_olds_is_not_one_group():
    """The issue's case: under <40 / 40–59 / ≥60 every patient was '≥60'."""
    ages = np.random.default_rng(1).uniform(60, 98, 150).round(1)
    labels, coding = bands_of(ages)
    counts = labels.value_counts()
    assert len(counts) >= 2 and counts.min() >= 30
    assert coding.groups[0] == "60–69"  # the empty bands below start the first one at 60
    assert coding.text.startswith("age: 60–69, ") and "standard bands" in coding.text


def test_a_cohort_within_one_decade_gets_quartiles():
    ages = np.random.default_rng(2).integers(61, 70, 200).astype(float)
    labels, coding = bands_of(ages)
    assert coding.age_bands.rule == QUANTILE
    assert all(float(c).is_integer() for c in coding.age_bands.cuts)  # whole years
    assert labels.nunique() >= 2 and labels.value_counts().min() >= 30


def test_too_few_ages_is_insufficient_evidence_not_one_group():
    """45 ages, min group size 30: no split gives two groups of 30; the ages are split at
    their median and the model audit says insufficient evidence for both bands."""
    rng = np.random.default_rng(3)
    ages = rng.uniform(40, 90, 45).round()
    labels, coding = bands_of(ages)
    assert coding.age_bands.rule == INSUFFICIENT_RULE
    assert coding.age_bands.cuts == (float(np.round(np.median(ages))),)
    assert "insufficient evidence" in coding.text
    assert labels.nunique() == 2
    y = rng.integers(0, 2, 45)
    audit = model_audit(y, rng.random(45), "binary", {"age": labels}, n_bootstrap=100,
                        min_cell=5)  # fmt: skip
    verdicts = {r["verdict"] for r in audit.groups}
    assert INSUFFICIENT in verdicts and verdicts <= {INSUFFICIENT, REFERENCE}
    assert not audit.flags


def test_equal_ages_stay_one_band_and_are_never_a_reference():
    labels, coding = bands_of([70.0] * 98 + [71.0, 72.0])
    assert coding.age_bands.rule == INSUFFICIENT_RULE and coding.age_bands.cuts == ()
    assert "all ages are equal" in coding.text and set(labels) == {"all ages"}
    rng = np.random.default_rng(4)
    audit = model_audit(rng.integers(0, 2, 100), rng.random(100), "binary", {"age": labels},
                        n_bootstrap=100)  # fmt: skip
    assert {r["verdict"] for r in audit.groups} == {INSUFFICIENT}
    assert "age" not in audit.reference
    assert any("fewer than two known groups" in n for n in audit.notes)


def test_the_users_cut_points_are_honoured():
    ages = pd.Series([30, 49.9, 50, 64, 65, 74.5, 75, 90, np.nan])
    labels, coding = bands_of(ages, cuts=(50, 65, 75))
    assert labels.tolist() == ["<50", "<50", "50–64", "50–64", "65–74", "65–74", "≥75", "≥75",
                               "unknown"]  # fmt: skip
    assert coding.age_bands.rule == USER and coding.age_bands.cuts == (50.0, 65.0, 75.0)
    assert "set by --age-bands" in coding.text
    assert band_labels((50, 65.5)) == ["<50", "50 to <65.5", "≥65.5"]


def test_recorded_bands_per_attribute_regroup_new_data():
    """A saved run's bands (per attribute) group other samples the same way."""
    found = grouping(pd.DataFrame({"age": [41.0, 55, 63, 70, 88] * 10}), ["age"],
                     age_bands={"age": [60, 70]})  # fmt: skip
    assert found.labels["age"].iloc[:5].tolist() == ["<60", "<60", "60–69", "≥70", "≥70"]


def test_bands_merge_the_smaller_neighbour_first():
    ages = np.array([45.0] * 50 + [55.0] * 5 + [65.0] * 40 + [85.0] * 40)
    banding = choose_age_bands(ages, 30)
    assert banding.cuts == (40.0, 50.0, 70.0)  # 50–59 (5) joins 60–69 (40), not 40–49 (50)
    assert banding.labels() == ["<40", "40–49", "50–69", "≥70"]  # <40 is empty: the floor
    assert banding.rule == STANDARD


@pytest.mark.parametrize(
    ("name", "expected"),
    [("age", True), ("Age (years)", True), ("age_at_diagnosis", True), ("patient_age", True),
     ("AGE", True), ("stage", False), ("page_count", False), ("agent", False),
     ("AgeAtDiagnosis", True), ("ageAtDx", True), ("PatientAge", True), ("Stage", False),
     ("average", False), ("Ageing", False), ("ajcc_stage", False)],
)  # fmt: skip
def test_which_columns_are_ages(name, expected):
    assert is_age(name) is expected


def test_a_non_age_numeric_attribute_keeps_tertiles():
    found = grouping(pd.DataFrame({"stage_score": np.arange(90.0)}), ["stage_score"])
    assert found.codings["stage_score"].kind == "tertiles"
    assert found.labels["stage_score"].nunique() == 3


@pytest.mark.parametrize(
    ("value", "fragment"),
    [((65.0, 50.0), "must increase"), ((50.0, 50.0), "must increase"), ((50.0, "old"), "e.g."),
     ((), "e.g."), ((-5.0,), "between 0 and"), ((200.0,), "between 0 and"),
     ((float("nan"),), "e.g.")],
)  # fmt: skip
def test_cut_points_are_increasing_ages(value, fragment):
    assert fragment in cut_points(value)


def test_good_cut_points_pass():
    assert cut_points((50.0, 65.0, 75.5)) is None
