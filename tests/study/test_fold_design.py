"""Issue 17, points 5 and 6: small classes do not stop a run, integer codes are classes.

The outcomes are made up (class codes, scores); the features are real (scikit-learn's
breast-cancer measurements), so the studies are built the way a run builds them.
"""

from __future__ import annotations

import warnings

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from sklearn import datasets
from sklearn.model_selection import StratifiedKFold

import insightome
from insightome import errors
from insightome.errors import UserError
from insightome.evaluate.splitters import make_plan, stratification_labels
from insightome.fold_design import training_share
from insightome.outcome_encoding import CODES_RULE
from insightome.report.design_section import design_paragraph
from insightome.results.run import Outcome

FEATURES = datasets.load_breast_cancer().data[:, :8]


def study_data(y, groups=None, **extra) -> ad.AnnData:
    """An AnnData of len(y) real samples with ``y`` (and ``patient``) as annotations."""
    obs = pd.DataFrame({"y": y}, index=[f"S{i}" for i in range(len(y))])
    if groups is not None:
        obs["patient"] = [f"P{g}" for g in groups]
    for name, values in extra.items():
        obs[name] = values
    X = FEATURES[: len(y)]
    return ad.AnnData(X, obs=obs, var=pd.DataFrame(index=[f"f{j}" for j in range(X.shape[1])]))


def codes(sizes: dict[int, int]) -> np.ndarray:
    """Class codes with the given number of samples each, shuffled."""
    y = np.concatenate([[c] * n for c, n in sizes.items()])
    return np.random.default_rng(0).permutation(y)


# -- 6. integer class codes -----------------------------------------------------------


def test_integer_codes_1_to_9_in_30_samples_are_classes_with_the_rule_stated():
    # the case: 9 tumour types coded 1-9, 30 samples (n/5 alone would say regression)
    y = codes({1: 6, 2: 4, 3: 3, 4: 3, 5: 3, 6: 3, 7: 3, 8: 3, 9: 2})
    study = insightome.make_study(study_data(y), target="y")
    assert study.spec.task == "multiclass" and study.spec.task_detected
    decision = study.outcome_summary()["task_detection"]
    assert decision["task"] == "multiclass" and decision["override"] == "--task regression"
    assert decision["reason"] == "9 distinct whole numbers from 1 to 9, none missing, in 30 samples"
    assert decision["rule"] == CODES_RULE
    line = study.design_lines()[0]
    assert line.startswith("task detected as multiclass from 'y': 9 distinct whole numbers")
    assert CODES_RULE in line and line.endswith("Override with --task regression.")
    assert line in study.notes


def test_task_regression_keeps_integer_codes_a_regression_target():
    y = codes({1: 6, 2: 4, 3: 3, 4: 3, 5: 3, 6: 3, 7: 3, 8: 3, 9: 2})
    study = insightome.make_study(study_data(y), target="y", task="regression")
    assert study.spec.task == "regression" and not study.spec.task_detected
    assert study.y.dtype == float and sorted(set(study.y)) == list(range(1, 10))
    assert "task_detection" not in study.outcome_summary() and study.classes_left_out == ()


def test_mmse_like_score_stays_regression():
    # a 0-30 cognitive score: many distinct whole numbers
    rng = np.random.default_rng(1)
    mmse = np.clip(np.round(rng.normal(24, 4, 200)), 0, 30).astype(int)
    assert len(np.unique(mmse)) > 10
    study = insightome.make_study(study_data(mmse), target="y")
    assert study.spec.task == "regression" and study.spec.task_detected
    decision = study.outcome_summary()["task_detection"]
    assert decision["override"] == "--task multiclass"
    assert decision["reason"].startswith(f"{len(np.unique(mmse))} distinct whole numbers from")


def test_few_whole_numbers_with_gaps_need_five_samples_each():
    # ages 61, 64, 70, ... in 20 samples: not codes (gaps), 2 per value is not enough
    ages = np.repeat([61, 64, 70, 73, 75, 78, 80, 84, 86, 90], 2)
    assert insightome.make_study(study_data(ages), target="y").spec.task == "regression"
    # the same values seen 5 times each are classes
    many = np.repeat([61, 64, 70, 73, 75, 78, 80, 84, 86, 90], 5)
    assert insightome.make_study(study_data(many), target="y").spec.task == "multiclass"


def test_continuous_and_text_outcomes_say_why():
    rng = np.random.default_rng(2)
    continuous = insightome.make_study(study_data(rng.normal(size=60)), target="y")
    assert continuous.outcome_summary()["task_detection"]["reason"] == (
        "60 distinct values, not all whole numbers"
    )
    text = insightome.make_study(study_data(["a", "b"] * 30), target="y")
    assert text.spec.task == "binary"
    assert text.outcome_summary()["task_detection"]["reason"] == "2 distinct labels (not numbers)"


# -- 5. small classes -------------------------------------------------------------------


@pytest.mark.parametrize("n", range(3, 13))
def test_training_share_is_what_stratified_k_fold_leaves(n):
    """The rule's arithmetic (n - ceil(n/k) of a class in the poorest training fold)
    against scikit-learn's StratifiedKFold on a class of n beside a large one."""
    y = np.array([0] * 40 + [1] * n)
    for k in range(2, min(n, 5) + 1):
        splits = StratifiedKFold(k, shuffle=True, random_state=n).split(y.reshape(-1, 1), y)
        poorest = min(int((y[train] == 1).sum()) for train, _ in splits)
        assert poorest == training_share(n, k), (n, k)


def test_default_folds_follow_the_smallest_learnable_class():
    y = codes({1: 30, 2: 12, 3: 4, 4: 1})
    study = insightome.make_study(study_data(y), target="y")
    assert study.classes == ["1", "2", "3"] and study.n_samples == 46
    assert [c.to_dict() for c in study.classes_left_out] == [{"label": "4", "n_samples": 1}]
    assert study.folds.chosen == 4 and study.folds.requested is None and study.folds.changed
    assert "class '3' has 4 samples" in study.folds.reason
    left, folds = study.design_lines()[1:]
    assert left.startswith("left out class '4' (1 sample) of 'y'")
    assert "at least one of its samples, so it needs at least 2;" in left
    assert "its 1 sample is not modelled" in left and "never predicts this class" in left
    assert folds.startswith("4-fold cross-validation (stratified)")
    assert "set --folds to choose (at most 4)" in folds
    assert left in study.notes and folds in study.notes
    summary = study.outcome_summary()
    assert summary["classes_left_out"] == [{"label": "4", "n_samples": 1}]
    assert summary["class_counts"] == {"1": 30, "2": 12, "3": 4}
    assert summary["min_training_per_class"] == 1
    # the study's samples are exactly those of the learned classes, in the data's order
    assert list(study.obs.index) == [f"S{i}" for i in np.flatnonzero(y != 4)]
    assert study.features.shape[0] == len(study.y) == 46
    plan = make_plan(study.y, "multiclass", folds=study.folds.chosen, repeats=2, seed=0)
    for repeat in plan.splits:
        for train, test in repeat:
            assert np.bincount(study.y[train], minlength=3).min() >= 2
            assert np.bincount(study.y[test], minlength=3).min() >= 1


def test_default_folds_stay_five_when_every_class_allows_them():
    study = insightome.make_study(study_data(codes({1: 30, 2: 12, 3: 5})), target="y")
    assert study.folds.to_dict() == {"requested": None, "chosen": 5, "reason": "the default"}
    assert not study.folds.changed and study.design_lines()[1:] == []


def test_explicit_folds_too_many_are_refused_with_the_feasible_value():
    data = study_data(codes({1: 30, 2: 12, 3: 4, 4: 1}))
    with pytest.raises(UserError) as refused:
        insightome.make_study(data, target="y", folds=5)
    message = str(refused.value)
    assert "class '3' of 'y' has 4 samples; 5-fold CV needs at least 5 per class" in message
    assert "Use --folds 4 (the most the data allow), or leave --folds out" in message
    given = insightome.make_study(data, target="y", folds=3)
    assert given.folds.to_dict() == {"requested": 3, "chosen": 3, "reason": "given with --folds"}
    assert [c.label for c in given.classes_left_out] == ["4"]


def test_a_class_of_two_is_learned_with_two_folds():
    """Issue 27: a class of 2 samples is learned, each training fold holding one of them,
    where the legacy rule left it out (the peers benchmark's lymphoma halves)."""
    y = codes({1: 30, 2: 12, 3: 2})
    study = insightome.make_study(study_data(y), target="y")
    assert study.classes == ["1", "2", "3"] and not study.classes_left_out
    assert study.folds.chosen == 2 and "class '3' has 2 samples" in study.folds.reason
    plan = make_plan(study.y, "multiclass", folds=2, repeats=3, seed=0)
    for repeat in plan.splits:
        for train, test in repeat:
            assert np.bincount(study.y[train], minlength=3)[2] == 1
            assert np.bincount(study.y[test], minlength=3)[2] == 1
    legacy = insightome.make_study(study_data(y), target="y", min_training_per_class=2)
    assert legacy.classes == ["1", "2"] and [c.label for c in legacy.classes_left_out] == ["3"]
    assert legacy.outcome_summary()["min_training_per_class"] == 2
    (_, left, _) = legacy.design_lines()
    assert "at least 2 of its samples, so it needs at least 3 (4 with 2 folds);" in left
    # the report states the rule the run was made with; a run saved before the rule was
    # recorded was made with the legacy one
    outcome = legacy.outcome_summary()
    assert "at least 2 of its samples" in design_paragraph({"outcome": outcome})
    del outcome["min_training_per_class"]
    paragraph = design_paragraph({"outcome": outcome})
    assert "at least 2 of its samples, so it needs at least 3 (4 with 2 folds)." in paragraph
    assert "These 2 samples were not modelled" in paragraph


def test_the_legacy_rule_with_two_folds_leaves_out_a_class_of_three_too():
    """A run saved before issue 27 (2 samples of a class in every training fold) is rebuilt
    by its follow-ups with its own rule."""
    study = insightome.make_study(study_data(codes({1: 30, 2: 12, 3: 3})), target="y", folds=2,
                                  min_training_per_class=2)  # fmt: skip
    assert study.classes == ["1", "2"] and [c.label for c in study.classes_left_out] == ["3"]
    assert study.spec.task == "binary"  # 2 classes remain, said as the final decision
    change = (
        "task binary, not the multiclass detected: class '3' (3 samples) of 'y' was left out "
        "(too few samples to learn) and only 2 classes remain, '1' and '2'; the positive "
        "class is '2' (set --positive-class to choose)"
    )
    assert study.design_lines()[2] == change and change in study.notes
    # today's rule learns it with the same 2 folds (each training fold keeps 1 of the 3)
    today = insightome.make_study(study_data(codes({1: 30, 2: 12, 3: 3})), target="y", folds=2)
    assert today.classes == ["1", "2", "3"] and today.folds.chosen == 2


def test_multiclass_left_with_two_classes_is_modelled_binary_and_says_so():
    """3 classes of 20, 20 and 2: the column reads as multiclass, the study is binary, and
    every place that states the task states the one modelled, with the reason."""
    study = insightome.make_study(study_data(codes({1: 20, 2: 20, 3: 1})), target="y")
    assert study.spec.task == "binary" and study.spec.task_detected
    assert study.classes == ["1", "2"] and study.spec.positive_class == "2"
    because = (
        "class '3' (1 sample) of 'y' was left out (too few samples to learn) and only 2 "
        "classes remain, '1' and '2'; the positive class is '2' (set --positive-class to "
        "choose)"
    )
    detection = study.outcome_summary()["task_detection"]
    assert detection["task"] == "multiclass"  # what the column looks like
    assert detection["final_task"] == "binary" and detection["changed_because"] == because
    Outcome.model_validate(study.outcome_summary())  # a typed results.json field
    detected, left, final = study.design_lines()
    assert detected.startswith("task detected as multiclass from 'y': 3 distinct whole")
    assert left.startswith("left out class '3' (1 sample) of 'y'")
    assert final == f"task binary, not the multiclass detected: {because}"
    assert study.notes.index(detected) < study.notes.index(left) < study.notes.index(final)
    paragraph = design_paragraph({"outcome": study.outcome_summary()})
    assert "The task, multiclass, was detected" not in paragraph
    assert paragraph.startswith("The outcome 'y' was read as multiclass: it holds 3 distinct")
    assert paragraph.endswith(f"The task modelled is therefore binary, not multiclass: {because}.")
    # a study that keeps its 3 classes says nothing about a change
    kept = insightome.make_study(study_data(codes({1: 20, 2: 20, 3: 3})), target="y")
    assert (
        kept.spec.task == "multiclass"
        and "final_task" not in kept.outcome_summary()["task_detection"]
    )
    assert design_paragraph({"outcome": kept.outcome_summary()}).startswith("The task, multiclass")


def test_positive_class_is_checked_once_small_classes_are_left_out():
    data = study_data(codes({1: 20, 2: 20, 3: 1}))
    chosen = insightome.make_study(data, target="y", positive_class="1")
    assert chosen.spec.task == "binary" and chosen.classes == ["2", "1"]
    assert chosen.spec.positive_class == "1" and set(chosen.y) == {0, 1}
    assert chosen.design_lines()[2].endswith(
        "the positive class is '1' (given with --positive-class)"
    )
    with pytest.raises(UserError) as refused:
        insightome.make_study(data, target="y", positive_class="3")
    assert str(refused.value) == (
        "--positive-class: class '3' (1 sample) of 'y' in data is left out (too few samples "
        "to learn); choose one of the classes that remain: '1', '2'"
    )
    with pytest.raises(UserError) as refused:  # 3 classes learned: still not binary
        insightome.make_study(study_data(codes({1: 20, 2: 20, 3: 3})), target="y",
                              positive_class="1")  # fmt: skip
    assert "applies to a binary outcome, but 'y' in data is a multiclass outcome" in str(
        refused.value
    )


def test_explicit_multiclass_left_with_two_classes_is_refused_not_switched():
    data = study_data(codes({1: 20, 2: 20, 3: 1}))
    with pytest.raises(UserError) as refused:
        insightome.make_study(data, target="y", task="multiclass")
    assert str(refused.value) == (
        "--task multiclass: only 2 classes of 'y' in data can be learned, '1' and '2', once "
        "class '3' (1 sample) is left out (too few samples to learn); use --task binary "
        "(or leave --task out), or add samples of the classes left out"
    )
    # --task binary says what the user meant: the class is left out, nothing is re-read
    binary = insightome.make_study(data, target="y", task="binary")
    assert binary.spec.task == "binary" and not binary.spec.task_detected
    assert binary.task_decision is None and "task_detection" not in binary.outcome_summary()
    (left,) = binary.design_lines()
    assert left.startswith("left out class '3' (1 sample) of 'y'")
    # 3 classes remain: --task multiclass is kept
    three = insightome.make_study(study_data(codes({1: 20, 2: 20, 3: 3, 4: 1})), target="y",
                                  task="multiclass")  # fmt: skip
    assert three.spec.task == "multiclass" and three.classes == ["1", "2", "3"]


@pytest.mark.parametrize(
    ("sizes", "fragments"),
    [
        ({1: 40, 2: 1}, ["'2' (1 sample) cannot be learned (a class is learned only when "
                         "every training fold holds at least one of its samples, so it needs "
                         "at least 2)", "only '1' (40 samples) remains"]),
        ({1: 1, 2: 1, 3: 1}, ["'1' (1 sample), '2' (1 sample), '3' (1 sample)",
                              "no class remains"]),
    ],
)  # fmt: skip
def test_nothing_sensible_left_is_refused(sizes, fragments):
    with pytest.raises(UserError) as refused:
        insightome.make_study(study_data(codes(sizes)), target="y", task="multiclass")
    assert refused.value.template == errors.CLASSES_TOO_SMALL
    for fragment in fragments:
        assert fragment in str(refused.value)


def test_groups_count_patients_and_never_straddle_folds():
    # class 3: 6 samples but from 1 patient only -> left out; classes 1, 2: 12 patients each
    patients = np.concatenate([np.repeat(np.arange(12), 3), np.repeat(np.arange(12, 24), 2)])
    y = np.concatenate([[1] * 36, [2] * 24, [3] * 6])
    patients = np.concatenate([patients, [24] * 6])
    study = insightome.make_study(study_data(y, groups=patients), target="y", groups="patient")
    assert [c.to_dict() for c in study.classes_left_out] == [
        {"label": "3", "n_samples": 6, "n_groups": 1}
    ]
    left = study.design_lines()[1]
    assert "'3' (6 samples from 1 group)" in left
    assert "at least one of its groups (patients, --groups), so it needs at least 2" in left
    paragraph = design_paragraph({"outcome": study.outcome_summary()})
    assert "one of its groups (patients, --groups)" in paragraph
    assert "These 6 samples were not modelled" in paragraph
    assert study.spec.task == "binary" and study.folds.chosen == 5
    plan = make_plan(study.y, "binary", folds=5, repeats=2, seed=0, groups=study.groups)
    for repeat in plan.splits:
        for train, test in repeat:
            assert not set(study.groups[train]) & set(study.groups[test])
            assert np.bincount(study.y[train], minlength=2).min() >= 2


def test_a_class_seen_in_two_patients_is_learned_one_patient_per_fold():
    patients = np.concatenate([np.repeat(np.arange(12), 3), np.repeat(np.arange(12, 24), 2)])
    y = np.concatenate([[1] * 36, [2] * 24, [3] * 6])
    patients = np.concatenate([patients, [24, 24, 24, 25, 25, 25]])
    study = insightome.make_study(study_data(y, groups=patients), target="y", groups="patient")
    assert study.classes == ["1", "2", "3"] and not study.classes_left_out
    assert study.folds.chosen == 2 and "class '3' is in 2 groups" in study.folds.reason
    plan = make_plan(study.y, "multiclass", folds=2, repeats=3, seed=0, groups=study.groups)
    rare = study.y == 2
    for repeat in plan.splits:
        for train, test in repeat:
            assert not set(study.groups[train]) & set(study.groups[test])
            assert len(set(study.groups[train][rare[train]])) == 1
            assert len(set(study.groups[test][rare[test]])) == 1


def test_a_single_left_out_sample_is_said_in_the_singular():
    study = insightome.make_study(study_data(codes({1: 30, 2: 12, 3: 1})), target="y")
    paragraph = design_paragraph({"outcome": study.outcome_summary()})
    assert "Class '3' (1 sample) of 'y' was left out: a class is learned only" in paragraph
    assert "This sample was not modelled, and the model never predicts this class." in paragraph


def test_few_groups_choose_the_fold_count_or_refuse_an_explicit_one():
    # 3 patients, 10 samples each, both classes in every patient
    patients = np.repeat([0, 1, 2], 10)
    y = np.tile([0, 1], 15)
    data = study_data(y, groups=patients)
    study = insightome.make_study(data, target="y", groups="patient")
    assert study.folds.chosen == 3 and "--groups 'patient' has 3 groups" in study.folds.reason
    plan = make_plan(study.y, "binary", folds=3, repeats=1, seed=0, groups=study.groups)
    assert sorted(len(set(study.groups[test])) for _, test in plan.splits[0]) == [1, 1, 1]
    with pytest.raises(UserError) as refused:
        insightome.make_study(data, target="y", groups="patient", folds=4)
    assert refused.value.template == errors.GROUPS_TOO_FEW
    assert "has 3 groups; 4-fold CV needs at least 4. Use --folds 3" in str(refused.value)


def test_survival_folds_follow_the_events():
    rng = np.random.default_rng(3)
    time = rng.uniform(1, 100, 40)
    event = np.zeros(40, int)
    event[[3, 17, 29]] = 1
    data = study_data(time, dead=event)
    study = insightome.make_study(data, time="y", event="dead")
    assert study.folds.chosen == 3 and "'dead' has 3 events" in study.folds.reason
    with pytest.raises(UserError) as refused:
        insightome.make_study(data, time="y", event="dead", folds=5)
    assert "class 'event' of 'dead' has 3 events; 5-fold CV" in str(refused.value)
    event[[17, 29]] = 0
    with pytest.raises(UserError) as refused:
        insightome.make_study(study_data(time, dead=event), time="y", event="dead")
    assert refused.value.template == errors.FOLDS_IMPOSSIBLE
    assert "needs at least 2 folds, but 'dead' has 1 event:" in str(refused.value)


def test_tied_regression_quintiles_are_merged_so_every_fold_gets_each():
    """Class codes modelled as regression (--task regression): tied quintiles smaller than
    the folds are merged with a neighbour, so scikit-learn's stratifier does not warn."""
    y = codes({1: 6, 2: 4, 3: 3, 4: 3, 5: 3, 6: 3, 7: 3, 8: 3, 9: 2}).astype(float)
    assert np.bincount(stratification_labels(y, "regression")).min() < 5
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plan = make_plan(y, "regression", folds=5, repeats=2, seed=0)
    assert all(len(test) == 6 for repeat in plan.splits for _, test in repeat)
    # continuous outcomes keep their quintiles
    smooth = np.random.default_rng(4).normal(size=100)
    plan = make_plan(smooth, "regression", folds=5, repeats=1, seed=0)
    strata = stratification_labels(smooth, "regression")
    sklearn_folds = StratifiedKFold(5, shuffle=True, random_state=plan.seeds[0])
    expected = [t.tolist() for _, t in sklearn_folds.split(smooth.reshape(-1, 1), strata)]
    assert [t.tolist() for _, t in plan.splits[0]] == expected
