"""fidelity_checks on real data: a second real sample looks faithful, independent marginals
break the pairs, a shifted sample breaks the marginals, small groups are not compared and
their counts never shown."""

from __future__ import annotations

import json
from importlib import resources

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from insightome.errors import UserError
from insightome.synthetic.fidelity import fidelity_checks
from insightome.synthetic.fidelity_groups import ABSENT, COMPARED, INSUFFICIENT
from tests.conftest import shared_data

HEART_FAILURE = ("cohorts", "heart_failure", "heart_failure_clinical_records_dataset.csv")


@pytest.fixture(scope="module")
def heart_failure() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Heart failure (299 × 13) split at random: training 150, hold-out 75, and 74 more
    real patients standing in for a perfect synthetic cohort."""
    frame = pd.read_csv(shared_data(*HEART_FAILURE)).astype(float)
    order = np.random.default_rng(1).permutation(len(frame))
    parts = np.split(order, [150, 225])
    return tuple(frame.iloc[p].reset_index(drop=True) for p in parts)  # type: ignore[return-value]


@pytest.fixture(scope="module")
def real_split(heart_failure):
    train, holdout, other = heart_failure
    return fidelity_checks(train, holdout, other, groups={"sex": "sex"}, seed=0)


def test_a_second_real_sample_scores_like_the_holdout(real_split):
    report = real_split
    assert report.flagged_columns == []
    assert len(report.pairs.flagged) <= 1
    ks = np.mean([c.value for c in report.columns])
    yardstick = np.mean([c.yardstick for c in report.columns])
    assert 0.5 < ks / yardstick < 2  # as close as the hold-out, neither better nor worse
    assert report.pairs.mean_abs_difference == pytest.approx(report.pairs.yardstick_mean, rel=0.6)
    separation = report.distinguishability
    assert separation.ci[0] <= 0.5 <= separation.ci[1]
    assert separation.verdict.startswith("not distinguishable")
    assert "HistGradientBoostingClassifier" in separation.classifier
    assert [g.status for g in report.groups] == [COMPARED, COMPARED]
    assert sum(g.share_real for g in report.groups) == pytest.approx(1.0)
    assert report.summary.startswith("Fidelity: 0 of 13 columns") and "\n" not in report.summary


def test_the_result_is_json_and_aggregates_only(real_split, heart_failure):
    text = json.dumps(real_split.to_dict(), allow_nan=False)
    out = json.loads(text)
    assert out["n_train"] == 150 and out["pairs"]["n_pairs"] == 78
    assert len(out["pairs"]["real"]) == 13 and len(out["pairs"]["worst"]) == 5
    assert {c["statistic"] for c in out["columns"]} == {"ks", "tvd"}
    # no patient's value: the platelet counts of the real rows appear nowhere
    platelets = {f"{v}" for v in heart_failure[0]["platelets"]} - {"0.0", "1.0"}
    assert not any(f'"{v}"' in text or f" {v}," in text for v in platelets)


def test_independent_marginals_keep_columns_but_break_pairs():
    """Breast-cancer tumour measures, strongly correlated; each column shuffled on its own
    keeps every marginal exactly and destroys every association."""
    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.frame.iloc[:, [*range(8), -1]].astype(float)
    order = np.random.default_rng(0).permutation(len(frame))
    train = frame.iloc[order[:300]].reset_index(drop=True)
    holdout = frame.iloc[order[300:]].reset_index(drop=True)
    rng = np.random.default_rng(5)
    independent = pd.DataFrame({c: rng.permutation(train[c].to_numpy()) for c in train})
    report = fidelity_checks(train, holdout, independent, seed=0)
    assert report.flagged_columns == []
    assert all(c.value == 0 for c in report.columns)  # the same values, shuffled
    flagged = {(p.a, p.b) for p in report.pairs.flagged}
    assert ("mean radius", "mean perimeter") in flagged
    assert len(flagged) >= 15
    assert report.pairs.mean_abs_difference > 2 * report.pairs.mean_bound
    assert report.pairs.worst[0].real == pytest.approx(1.0, abs=0.01)
    assert report.distinguishability.ci[0] > 0.5
    assert report.distinguishability.yardstick_ci[0] <= 0.5
    worst = report.pairs.flagged[0]
    assert f"{len(flagged)} of 36 column pairs (worst: {worst.a}–{worst.b}" in report.summary


def test_a_shifted_sample_flags_the_shifted_marginals(heart_failure):
    train, holdout, _ = heart_failure
    rng = np.random.default_rng(7)
    shifted = train.sample(150, replace=True, random_state=3).reset_index(drop=True)
    shifted["age"] += 10
    shifted["serum_sodium"] += rng.normal(0, 6, len(shifted))
    shifted.loc[shifted["sex"] == 0, "sex"] = 1  # one sex left out
    report = fidelity_checks(train, holdout, shifted, groups={"sex": "sex"}, seed=0)
    assert {"age", "serum_sodium", "sex"} <= set(report.flagged_columns)
    assert len(report.flagged_columns) <= 4
    age = next(c for c in report.columns if c.column == "age")
    assert age.value > 2 * age.yardstick and age.smd > 0.5
    assert any(r.startswith("distribution") for r in age.reasons)
    assert any(r.startswith("mean") for r in age.reasons)
    assert report.distinguishability.auc > 0.7
    by_group = {g.group: g for g in report.groups}
    assert by_group["0"].status == ABSENT and by_group["0"].share_synthetic == 0
    assert "age" in by_group["1"].flagged  # within the group, too
    assert "1 of 2 sensitive groups compared (1 absent from the synthetic cohort)" in (
        report.summary
    )


def test_missing_values_compared_and_small_counts_hidden(heart_failure):
    train, holdout, other = (f.copy() for f in heart_failure)
    train.loc[:4, "platelets"] = np.nan  # 5 real rows missing: under min_cell
    other.loc[: len(other) // 3, "platelets"] = np.nan  # a third of the synthetic rows
    holdout.loc[:11, "time"] = np.nan  # 12 hold-out rows: shown
    report = fidelity_checks(train, holdout, other, seed=0, min_cell=10)
    platelets = next(c for c in report.columns if c.column == "platelets")
    assert platelets.flagged and "share of missing values" in platelets.reasons
    assert platelets.missing_real is None and "<10 real rows missing" in platelets.missing_note
    # hidden with the real share: a faithful generator's share would give the count away
    assert platelets.missing_synthetic is None
    time = next(c for c in report.columns if c.column == "time")
    assert time.missing_holdout == pytest.approx(12 / 75) and time.missing_real == 0


def test_small_groups_are_insufficient_and_their_counts_suppressed(heart_failure):
    train, holdout, other = heart_failure
    # a three-group attribute: "C" has 6 training rows, so it is not compared; showing both
    # other sizes would give it back (150 − A − B), so one of them is suppressed as well
    sites = np.array(["A"] * 100 + ["B"] * 44 + ["C"] * 6, dtype=object)
    labels = (sites, np.array(["A", "B"] * 37 + ["A"], dtype=object), np.array(["A", "B"] * 37))
    stacked = pd.Series(np.concatenate(labels))  # the same labels, one per row of the three
    report = fidelity_checks(
        train,
        holdout,
        other,
        groups={"site": labels, "age": "age", "site2": stacked},
        seed=0,
        min_cell=10,
    )
    site = {g.group: g for g in report.groups if g.attribute == "site"}
    assert site["C"].status == INSUFFICIENT and site["C"].n_real == "<10"
    assert site["C"].share_real is None and site["C"].columns == ()
    shown = [g for g in site.values() if g.n_real.isdigit()]
    assert len(shown) <= 1
    assert any(g.n_real == "suppressed" and g.share_real is None for g in site.values())
    assert {g.status for g in site.values() if g.group != "C"} == {COMPARED}
    site2 = {g.group: g for g in report.groups if g.attribute == "site2"}
    assert {k: (g.status, g.n_real) for k, g in site2.items()} == {
        k: (g.status, g.n_real) for k, g in site.items()
    }
    for g in report.groups:  # never a small count, whatever the group
        assert not (g.n_real.isdigit() and int(g.n_real) < 10)
    ages = [g for g in report.groups if g.attribute == "age"]
    assert len(ages) >= 3 and any("age: grouped in bands" in n for n in report.notes)
    assert all("age" not in [c.column for c in g.columns] for g in ages)


def test_bad_groups_and_tables_are_refused(heart_failure):
    train, holdout, other = (f.iloc[:40] for f in heart_failure)
    with pytest.raises(UserError, match=r"column 'sexe' not found\. Did you mean: 'sex'"):
        fidelity_checks(train, holdout, other, groups={"sex": "sexe"})
    with pytest.raises(ValueError, match="3 train labels for 40 rows"):
        fidelity_checks(train, holdout, other, groups={"x": (["a"] * 3, ["a"] * 40, ["a"] * 40)})
    with pytest.raises(TypeError, match="give a column name, three label arrays"):
        fidelity_checks(train, holdout, other, groups={"x": pd.Series(["a"] * 7)})
    with pytest.raises(ValueError, match="synthetic: columns differ"):
        fidelity_checks(train, holdout, other.drop(columns="age"))


def test_categorical_columns_of_actg175():
    """ACTG 175 with the treatment arm as text: total variation and Cramér's V are used."""
    path = resources.files("lifelines.datasets").joinpath("ACTG175.csv")
    frame = pd.read_csv(str(path))[["age", "wtkg", "karnof", "cd40", "gender", "arms"]]
    frame = frame.astype({"age": float, "wtkg": float, "karnof": float, "cd40": float})
    frame["arms"] = frame["arms"].map({0: "ZDV", 1: "ZDV+ddI", 2: "ZDV+ddC", 3: "ddI"})
    order = np.random.default_rng(2).permutation(len(frame))
    train, holdout = frame.iloc[order[:400]], frame.iloc[order[400:600]]
    synthetic = frame.iloc[order[600:1000]].copy()
    synthetic["arms"] = "ZDV"  # one arm only
    report = fidelity_checks(train, holdout, synthetic, groups={"gender": "gender"}, seed=0)
    arms = next(c for c in report.columns if c.column == "arms")
    assert arms.kind == "categorical" and arms.statistic == "tvd"
    shares = train["arms"].value_counts(normalize=True)
    assert arms.value == pytest.approx(1 - shares["ZDV"])  # TVD against a point mass
    assert arms.flagged and arms.yardstick < 0.15
    measures = {(p.a, p.b): p.measure for p in report.pairs.worst}
    assert set(measures.values()) <= {"spearman", "cramers_v", "correlation_ratio"}
    assert report.kinds["gender"] == "binary"


def test_an_undefined_association_is_noted_not_warned():
    """A column constant in the synthetic rows has no association with any other: those
    pairs are left out of the means with a note, and NumPy's all-NaN warnings never fire."""
    import warnings

    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True).frame.iloc[:, :5]
    train, holdout = (
        frame.iloc[:300].reset_index(drop=True),
        frame.iloc[300:].reset_index(drop=True),
    )
    synthetic = train.sample(300, replace=True, random_state=1).reset_index(drop=True)
    synthetic["bmi"] = synthetic["bmi"].iloc[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        report = fidelity_checks(train, holdout, synthetic, seed=0)
    assert any("4 of 10 column pairs have no association" in n for n in report.notes)
    undefined = [p for p in report.pairs.worst + report.pairs.flagged if "bmi" in (p.a, p.b)]
    assert undefined == []  # never ranked among the worst, never flagged
    assert report.pairs.mean_abs_difference is not None
