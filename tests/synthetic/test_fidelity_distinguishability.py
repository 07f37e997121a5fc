"""The real-vs-synthetic classifier on heart failure: scored against the training rows the
generators learned from it anti-learns (AUC below 0.5, the defect this design avoids);
against the real hold-out, no realistic table scores below real patients, copies of the
training rows are told apart from new patients, a second real sample is not, and an AUC
under 0.5 is never worded as better than real."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from insightome.synthesis import GaussianCopula, SequentialCART
from insightome.synthetic import distinguishability as dist
from insightome.synthetic.fidelity import fidelity_checks
from insightome.synthetic.fidelity_measures import column_kinds, encode
from tests.conftest import shared_data

HEART_FAILURE = ("cohorts", "heart_failure", "heart_failure_clinical_records_dataset.csv")


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return pd.read_csv(shared_data(*HEART_FAILURE)).drop(columns=["time"]).astype(float)


@pytest.fixture(scope="module")
def split(cohort) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training 210 rows (what a generator learns from), real hold-out 89."""
    order = np.random.default_rng(0).permutation(len(cohort))
    return (
        cohort.iloc[order[:210]].reset_index(drop=True),
        cohort.iloc[order[210:]].reset_index(drop=True),
    )


@pytest.fixture(scope="module")
def tables(split) -> dict[str, pd.DataFrame]:
    """Both generators' tables (299 rows, as ``synthesize`` draws; CART both unsmoothed,
    reusing real values, and with its default density smoothing) and plain copies of the
    training rows (a bootstrap: the worst a generator can do)."""
    train, _ = split
    copies = train.iloc[np.random.default_rng(3).integers(0, len(train), 299)]
    return {
        "cart": SequentialCART(smoothing=None).fit(train, 0).sample(299, 1),
        "cart+density": SequentialCART().fit(train, 0).sample(299, 1),
        "copula": GaussianCopula().fit(train, 0).sample(299, 1),
        "copies": copies.reset_index(drop=True),
    }


def _judge(train, holdout, synthetic, seed=0) -> tuple[dist.Distinguishability, object]:
    data = encode({"train": train, "holdout": holdout, "synthetic": synthetic}, column_kinds(train))
    result = dist.distinguishability(
        data, train="train", synthetic="synthetic", holdout="holdout", seed=seed
    )
    return result, data


@pytest.mark.parametrize("name", ["cart", "copula", "copies"])
def test_training_rows_as_the_real_side_anti_learn(split, tables, name):
    """The cause of the defect: synthetic rows are built from the training rows' values,
    so against those rows the classifier learns backwards, AUC clearly below 0.5."""
    train, holdout = split
    _, data = _judge(train, holdout, tables[name])
    features, categorical = dist._features(data)
    auc, ci, _ = dist._separate(
        features, categorical, data.rows["train"], data.rows["synthetic"], seed=0
    )
    assert auc < 0.45 and ci[1] < 0.5


@pytest.mark.parametrize("name", ["cart", "cart+density", "copula"])
def test_no_generator_scores_below_real_patients(split, tables, name):
    train, holdout = split
    result, _ = _judge(train, holdout, tables[name])
    assert result.ci[1] > 0.5 and result.auc > 0.5
    assert result.auc > result.yardstick_auc - 0.02  # never better than real vs real
    assert result.yardstick_ci[0] <= 0.5 <= result.yardstick_ci[1]
    assert result.n_real == 89 and result.n_synthetic == 210  # matched to the training rows
    assert "a seeded subsample of 299" in result.design
    assert "against 210 real training rows" in result.design
    assert 0 <= result.pmse <= 1


def test_copies_of_the_training_rows_are_no_better_than_new_patients(split, tables):
    train, holdout = split
    result, _ = _judge(train, holdout, tables["copies"])
    assert result.auc > result.yardstick_auc + 0.05
    assert result.ci[0] > 0.45  # the old design put its whole CI under 0.45


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_a_second_real_sample_covers_one_half(cohort, seed):
    """Real patients in place of the synthetic ones, four random splits: the interval
    (conservative by design) covers 0.5 every time, the yardstick's too."""
    order = np.random.default_rng(seed).permutation(len(cohort))
    train, holdout, other = (
        cohort.iloc[p].reset_index(drop=True) for p in np.split(order, [150, 225])
    )
    result, _ = _judge(train, holdout, other, seed=seed)
    assert result.ci[0] <= 0.5 <= result.ci[1]
    assert result.yardstick_ci[0] <= 0.5 <= result.yardstick_ci[1]
    assert abs(result.auc - 0.5) < 0.1
    assert result.verdict.startswith("not distinguishable")
    assert result.n_synthetic == 74  # fewer synthetic rows than training rows: all of them
    assert "against 74 real training rows" in result.design  # the yardstick matched


def test_shuffled_columns_are_told_apart():
    """Breast-cancer tumour measures, strongly correlated, each column shuffled on its own:
    every marginal kept, the joint structure gone (heart failure's columns are nearly
    independent, so shuffling them changes little there)."""
    frame = load_breast_cancer(as_frame=True).frame.iloc[:, [*range(8), -1]].astype(float)
    order = np.random.default_rng(0).permutation(len(frame))
    train = frame.iloc[order[:300]].reset_index(drop=True)
    holdout = frame.iloc[order[300:]].reset_index(drop=True)
    rng = np.random.default_rng(5)
    shuffled = pd.DataFrame({c: rng.permutation(train[c].to_numpy()) for c in train})
    result, _ = _judge(train, holdout, shuffled)
    assert result.auc > 0.9 and result.ci[0] > 0.9
    assert result.verdict == "easily distinguishable from real patients"
    assert result.yardstick_ci[0] <= 0.5 <= result.yardstick_ci[1]
    assert result.pmse > 3 * result.yardstick_pmse


def test_without_a_holdout_nothing_is_fitted(split, tables):
    """A hold-out under ``min_cell`` rows: not assessed, and said so in the summary (the
    training rows are never used in its place)."""
    train, holdout = split
    report = fidelity_checks(train, holdout.iloc[:6], tables["cart"], seed=0, min_cell=10)
    result = report.distinguishability
    assert result.auc is None and result.ci is None and result.verdict == "not assessed"
    assert result.n_real == 0 and "no real hold-out" in result.design
    assert "classifier: not assessed (no real hold-out)" in report.summary
    out = json.loads(json.dumps(report.to_dict(), allow_nan=False))["distinguishability"]
    assert out["auc"] is None and out["notes"] == [result.design]


def test_an_auc_below_one_half_is_never_worded_as_better_than_real():
    assert "not distinguishable" in dist.verdict(0.44, (0.36, 0.49))
    assert "not that the synthetic rows look more real" in dist.verdict(0.44, (0.36, 0.49))
    assert dist.verdict(0.47, (0.37, 0.57)) == (
        "not distinguishable from real patients at this sample size"
    )
    assert dist.verdict(0.66, (0.56, 0.76)) == "distinguishable from real patients"
    below = dist.Distinguishability(
        "c", "w", "d", 90, 210, 0.46, (0.36, 0.56), 0.1, 0.52, (0.42, 0.62), 0.1, "v"
    )
    text = dist.describe(below)
    assert "AUC 0.460 (95% CI 0.360–0.560; real vs real: 0.520; 0.5 = indistinguishable)" in text
    assert text.endswith("no difference found, not better than real")
    above = dist.Distinguishability(
        "c", "w", "d", 90, 210, 0.56, (0.46, 0.66), 0.1, 0.52, (0.42, 0.62), 0.1, "v"
    )
    assert "better" not in dist.describe(above)


def test_a_holdout_unlike_the_training_rows_is_said_to_be_the_reference(cohort):
    """A split by age (the hold-out the oldest patients): the real hold-out is itself told
    apart from the training rows, and the report says to read the AUC against it."""
    by_age = cohort.sort_values("age", kind="stable").reset_index(drop=True)
    train, holdout = by_age.iloc[:210].reset_index(drop=True), by_age.iloc[210:]
    other = train.sample(150, random_state=0).reset_index(drop=True)
    report = fidelity_checks(train, holdout.reset_index(drop=True), other, seed=0)
    result = report.distinguishability
    assert result.yardstick_ci[0] > 0.5
    assert any(
        n.startswith("real-vs-synthetic classifier: the real hold-out itself is told apart")
        for n in report.notes
    )
