"""The coding of sensitive attributes (issue 17, point 8): codes are stated when their
meaning is not given, named with --value-labels, never guessed; and one flag per finding
(an intersection that repeats an attribute is left out)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest

from insightome.audit.model_audit import model_audit
from insightome.errors import UserError
from insightome.groups.age_bands import band_labels
from insightome.groups.labels import group_labels, grouping, recorded_grouping
from insightome.options.key_values import parse_value_labels


@pytest.fixture(scope="module")
def actg(actg175_path) -> pd.DataFrame:
    return pd.read_csv(actg175_path)


def test_unlabelled_codes_are_stated_not_guessed(actg):
    coding = grouping(actg, ["gender", "race"]).codings
    assert coding["gender"].kind == "codes"
    assert coding["gender"].text == (
        "gender: 0, 1 (coding not given; set --value-labels gender=0:…,1:…)"
    )
    assert coding["gender"].groups == ("0", "1")


def test_text_categories_need_no_coding():
    obs = pd.DataFrame({"sex": ["female", "male", "male", None]})
    coding = grouping(obs, ["sex"]).codings["sex"]
    assert coding.kind == "categories" and coding.text == "sex: female, male"


def test_value_labels_name_the_groups_everywhere(actg):
    labels = {"gender": {"0": "female", "1": "male"}}
    found = grouping(actg, ["gender", "race"], value_labels=labels)
    assert found.labels["gender"].value_counts().to_dict() == {"male": 1771, "female": 368}
    assert set(found.labels["gender × race"]) == {"female × 0", "female × 1", "male × 0",
                                                 "male × 1"}  # fmt: skip
    coding = found.codings["gender"]
    assert coding.kind == "labelled codes" and coding.groups == ("female", "male")
    assert coding.text == "gender: 0 = female, 1 = male (--value-labels)"
    assert coding.to_dict()["value_labels"] == {"0": "female", "1": "male"}


def test_a_partial_coding_says_which_code_has_no_label():
    obs = pd.DataFrame({"race": [1, 2, 3] * 20})
    coding = grouping(obs, ["race"], value_labels={"race": {"1": "white"}}).codings["race"]
    assert coding.text == "race: 1 = white, 2 (no label given), 3 (no label given) (--value-labels)"


@pytest.mark.parametrize(
    ("labels", "fragment"),
    [({"gender": {"2": "other"}}, "gender has no value '2' (its values: 0, 1)"),
     ({"gender": {"0": "1"}}, "label '1' of gender is also one of its values"),
     ({"age": {"30": "thirty"}}, "age is banded (age bands)")],
)  # fmt: skip
def test_value_labels_are_checked_against_the_data(actg, labels, fragment):
    with pytest.raises(UserError) as err:
        grouping(actg, ["gender", "age"], value_labels=labels)
    assert "--value-labels" in str(err.value) and fragment in str(err.value)


def test_value_labels_are_parsed_like_the_other_key_value_options():
    parsed = parse_value_labels(["sex=0:female, 1:male", "race=1.0:white"])
    assert parsed == {"sex": {"0": "female", "1": "male"}, "race": {"1": "white"}}
    for bad, fragment in [
        ("sex", "ATTRIBUTE=CODE:LABEL"),
        ("sex=0=female", "ATTRIBUTE=CODE:LABEL"),
        ("sex=0:female,0:woman", "given twice"),
        ("sex=0:female,1:female", "would merge them"),
    ]:
        with pytest.raises(UserError, match=fragment):
            parse_value_labels([bad])


def _disparate_sex_cohort(n: int = 600) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Sex coded 0/1 with a model much worse for sex 0, one region only, and age."""
    rng = np.random.default_rng(7)
    sex = rng.integers(0, 2, n)
    y = rng.integers(0, 2, n)
    noise = np.where(sex == 0, 0.45, 0.1)
    p = np.clip(np.where(y == 1, 0.75, 0.25) + rng.normal(0, noise), 0.01, 0.99)
    obs = pd.DataFrame({"sex": sex, "region": "north", "age": rng.uniform(60, 98, n).round()})
    return obs, y, p


def test_one_flag_per_finding():
    """A single-group attribute (one region) crossed with sex gave 'sex × region' groups
    identical to sex's, and every sex flag was reported twice."""
    obs, y, p = _disparate_sex_cohort()
    labels = group_labels(obs, ["sex", "region"])
    assert set(labels) == {"sex", "region"}  # no 'sex × region': it would repeat sex
    audit = model_audit(y, p, "binary", labels, n_bootstrap=200)
    assert {f["attribute"] for f in audit.flags} == {"sex"}
    by_attribute_metric = Counter((f["attribute"], f["metric"]) for f in audit.flags)
    assert len(by_attribute_metric) >= 2 and max(by_attribute_metric.values()) == 1


def test_no_two_flags_describe_the_same_samples():
    obs, y, p = _disparate_sex_cohort()
    labels = group_labels(obs, ["sex", "region", "age"])
    assert "sex × region" not in labels and "region × age" not in labels
    assert "sex × age" in labels
    audit = model_audit(y, p, "binary", labels, n_bootstrap=200)
    assert audit.flags
    members = Counter(
        (tuple(np.flatnonzero(labels[f["attribute"]].to_numpy() == f["group"])), f["metric"])
        for f in audit.flags
    )
    assert max(members.values()) == 1


def test_an_attribute_that_determines_the_other_adds_no_intersection():
    obs = pd.DataFrame({"sex": ["f", "m"] * 50, "gender": ["w", "m"] * 50})
    assert set(group_labels(obs, ["sex", "gender"], min_group_size=10)) == {"sex", "gender"}


def test_a_saved_runs_coding_regroups_new_data(actg):
    """monitor groups new patients with the run's labels and bands, even when the new data
    lack a group (only men here), instead of refusing or fitting new bands."""
    labels = {"gender": {"0": "female", "1": "male"}}
    run = grouping(actg, ["gender", "age"], value_labels=labels)
    audit = {"codings": {a: c.to_dict() for a, c in run.codings.items()}}
    men = actg[actg.gender == 1].iloc[:40]
    again = group_labels(men, ["gender", "age"], intersections=False, **recorded_grouping(audit))
    assert set(again["gender"]) == {"male"}
    cuts = run.codings["age"].age_bands.cuts
    assert set(again["age"]) <= set(run.codings["age"].groups)
    assert (again["age"] == band_labels(cuts)[-1]).sum() == (men.age >= cuts[-1]).sum()


def test_a_run_audited_before_codings_were_recorded_keeps_its_fixed_bands(actg):
    """An audited run without ``codings`` (made before bands fitted the cohort) grouped ages
    as <40, 40–59, ≥60: monitor's new data get those names, not bands fitted on the batch."""
    old_audit = {"data": {}, "model": {}}  # audited, no "codings" key
    recorded = recorded_grouping(old_audit, ["gender", "age"])
    assert recorded["age_bands"] == {"age": [40.0, 60.0]}
    again = group_labels(actg.iloc[:200], ["gender", "age"], intersections=False, **recorded)
    assert set(again["age"]) <= {"<40", "40–59", "≥60", "unknown"}
    assert (again["age"] == "≥60").sum() == (actg.age.iloc[:200] >= 60).sum()
    assert recorded_grouping(None, ["age"])["age_bands"] == {}  # a run never audited
