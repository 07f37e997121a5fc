"""Groups (several samples per patient) in discovery and the permutation null.

The check throughout: every sample copied three times, with a groups column naming the
patient. A statistic that respects groups gives the deduplicated data's numbers; one that
counts samples gives p-values and intervals about √3 tighter and selection frequencies
near 0 or 1 (the two halves of a split hold copies of the same patients).
"""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from lifelines.datasets import load_rossi
from sklearn.datasets import load_breast_cancer, load_diabetes

import insightome
import insightome.discover.stability as stability
from insightome.discover.effects import univariate_effects
from insightome.discover.equivalents import equivalent_features
from insightome.discover.hypotheses import feature_rows
from insightome.discover.rank_statistics import association_statistics
from insightome.discover.subgroups import find_subgroups
from insightome.evaluate import permutation
from insightome.evaluate.group_level import permute_groups
from insightome.models import candidates

COPIES = 3


def triplicate(X: pd.DataFrame, y: np.ndarray) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Every sample three times (rows interleaved), and the patient code of each row."""
    rows = np.repeat(np.arange(len(X)), COPIES)
    dup = X.iloc[rows].reset_index(drop=True)
    return dup, np.asarray(y)[rows], rows


@pytest.fixture(scope="module")
def breast() -> tuple[pd.DataFrame, np.ndarray]:
    bunch = load_breast_cancer(as_frame=True)
    return bunch.data.iloc[:200], (bunch.target.to_numpy()[:200] == 0).astype(int)


def _tasks():
    bunch = load_breast_cancer(as_frame=True)
    yield "binary", bunch.data.iloc[:200], (bunch.target.to_numpy()[:200] == 0).astype(int)
    d = load_diabetes(as_frame=True)
    yield "regression", d.data.iloc[:150], d.target.to_numpy()[:150]
    r = load_rossi()
    y = np.where(r["arrest"] == 1, r["week"], -r["week"]).astype(float)
    yield "survival", r.drop(columns=["week", "arrest"]).astype(float).iloc[:200], y[:200]


@pytest.mark.parametrize("task, X, y", list(_tasks()), ids=["binary", "regression", "survival"])
def test_univariate_effects_count_patients_not_samples(task, X, y) -> None:
    once = univariate_effects(X, y, task)
    dup, ydup, groups = triplicate(X, y)
    grouped = univariate_effects(dup, ydup, task, groups=groups)
    cols = ["effect", "ci_low", "ci_high", "p_value", "q_value", "statistic"]
    np.testing.assert_allclose(grouped[cols], once[cols], rtol=1e-9, atol=1e-12)
    assert (grouped["n"] == len(X)).all()
    assert "one row per patient" in grouped.attrs["groups_note"]
    # the defect this guards against: counting the copies makes every p-value smaller
    naive = univariate_effects(dup, ydup, task)
    signal = once["p_value"] < 0.01
    assert (naive["p_value"][signal] < once["p_value"][signal] / 10).all()


def test_univariate_effects_say_when_the_outcome_varies_within_patients(breast) -> None:
    X, y = breast
    dup, ydup, groups = triplicate(X, y)
    ydup = ydup.copy()
    ydup[1] = 1 - ydup[1]  # one visit of patient 0 with the other outcome
    res = univariate_effects(dup, ydup, "binary", groups=groups)
    assert (res["n"] == len(dup)).all()
    assert "varies within patients" in res.attrs["groups_note"]
    assert res["test"].str.contains("groups not respected").all()
    no_equivalents = pd.DataFrame(columns=["member", "equivalent"])
    rows = feature_rows(res, None, [], [], None, no_equivalents, "y")
    assert rows and all("samples counted as independent" in r["statement"] for r in rows)
    found = find_subgroups(dup, ydup, "binary", groups=groups, n_resamples=5, k_range=[2])
    assert found.outcome_test["name"] == "chi-square (groups not respected)"
    assert found.outcome["n"].sum() == len(dup)


def test_subgroup_outcome_test_and_composition_count_patients(breast) -> None:
    X, y = breast
    sex = pd.DataFrame({"sex": np.where(np.arange(len(X)) % 3 == 0, "F", "M")})
    once = find_subgroups(X, y, "binary", classes=["b", "m"], sensitive=sex, seed=0)
    dup, ydup, groups = triplicate(X, y)
    grouped = find_subgroups(
        dup, ydup, "binary", classes=["b", "m"], sensitive=sex.iloc[groups], groups=groups, seed=0
    )
    assert grouped.k == once.k
    # k-means on the copies finds the same clusters: the same partition of the patients
    assert (grouped.labels[::COPIES] == once.labels).all()
    assert grouped.outcome_test["name"] == once.outcome_test["name"]
    assert grouped.outcome_test["p_value"] == pytest.approx(once.outcome_test["p_value"], rel=1e-9)
    pd.testing.assert_frame_equal(grouped.outcome, once.outcome)
    pd.testing.assert_frame_equal(grouped.composition["sex"], once.composition["sex"])
    assert any("per patient" in note for note in grouped.notes)
    p_once = once.outcome_test["p_value"]
    naive = find_subgroups(dup, ydup, "binary", classes=["b", "m"], seed=0)
    assert naive.outcome_test["p_value"] < p_once**2  # counting copies: far smaller p


def test_subgroup_stability_subsamples_whole_patients(breast, monkeypatch) -> None:
    """Each resample's k-means is fitted on all the copies of the patients it draws."""
    X, y = breast
    dup, ydup, groups = triplicate(X, y)
    seen: list[np.ndarray] = []
    original = find_subgroups.__globals__["_fit"]

    def spy(Xf, k, n_init, seed, algo):  # type: ignore[no-untyped-def]
        if n_init != 10:  # the resample fits, not the reference
            seen.append(Xf)
        return original(Xf, k, n_init, seed, algo)

    monkeypatch.setitem(find_subgroups.__globals__, "_fit", spy)
    find_subgroups(dup, ydup, "binary", groups=groups, n_resamples=5, k_range=[2], seed=0)
    assert len(seen) == 5
    for Xf in seen:
        _, counts = np.unique(Xf, axis=0, return_counts=True)
        assert (counts % COPIES == 0).all()


def test_stability_selection_large_n_pool_takes_whole_patients(breast, monkeypatch) -> None:
    X, y = breast
    dup, ydup, groups = triplicate(X, y)
    halves: list[np.ndarray] = []
    original = stability.entry_positions

    def spy(Xh, *args):  # type: ignore[no-untyped-def]
        halves.append(np.asarray(Xh))
        return original(Xh, *args)

    monkeypatch.setattr(stability, "HALF_MAX", 100)  # 600 samples: pairs split a subsample
    monkeypatch.setattr(stability, "entry_positions", spy)
    stability.stability_selection(dup, ydup, "binary", n_pairs=5, groups=groups, seed=0)
    assert len(halves) == 10
    for Xh in halves:
        _, counts = np.unique(Xh, axis=0, return_counts=True)
        assert (counts == COPIES).all()


def test_stability_frequencies_are_not_inflated_by_copies() -> None:
    """Weak signal in 300 noise features: the selections' agreement (Nogueira index) is
    that of the patients, not pushed up by halves that hold copies of the same patients."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.standard_normal((100, 300))).add_prefix("g")
    y = (X["g0"] + X["g1"] + 2 * rng.standard_normal(100) > 0).astype(int).to_numpy()
    dup, ydup, groups = triplicate(X, y)
    index = {
        name: stability.nogueira_stability(
            stability.stability_selection(*data, "binary", n_pairs=25, groups=g, seed=0).selections
        )
        for name, data, g in (
            ("once", (X, y), None),
            ("grouped", (dup, ydup), groups),
            ("naive", (dup, ydup), None),
        )
    }
    assert index["naive"] > index["once"] + 0.15, index  # measured: 0.46 against 0.18
    assert index["grouped"] == pytest.approx(index["once"], abs=0.05), index


def test_equivalents_bootstrap_resamples_patients(breast) -> None:
    X, y = breast
    members = ["worst radius"]
    once = equivalent_features(X, y, "binary", members, seed=0)
    dup, ydup, groups = triplicate(X, y)
    grouped = equivalent_features(dup, ydup, "binary", members, groups=groups, seed=0)
    assert len(once) > 0
    pd.testing.assert_frame_equal(grouped, once)


def test_pathway_ranking_and_its_null_permute_patients(breast) -> None:
    X, y = breast
    observed, null = association_statistics(X, y, "binary", n_permutations=50, seed=0)
    dup, ydup, groups = triplicate(X, y)
    obs_g, null_g = association_statistics(
        dup, ydup, "binary", n_permutations=50, groups=groups, seed=0
    )
    pd.testing.assert_series_equal(obs_g, observed)
    pd.testing.assert_frame_equal(null_g, null)


def test_permute_groups_moves_whole_patients() -> None:
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(40), rng.integers(1, 5, 40))
    outcome = rng.integers(0, 2, 40)
    perm, how = permute_groups(outcome[groups], groups, rng)
    assert how == "outcomes permuted across patients"
    per_patient = [np.unique(perm[groups == g]) for g in range(40)]
    assert all(len(v) == 1 for v in per_patient)  # one outcome per patient, moved whole
    assert sorted(np.concatenate(per_patient)) == sorted(outcome)
    varies = outcome[groups]
    varies[np.flatnonzero(np.bincount(groups)[groups] > 1)[0]] ^= 1  # one visit differs
    perm, how = permute_groups(varies, groups, rng)
    assert "groups not respected" in how and sorted(perm) == sorted(varies)


def test_permutation_null_reruns_on_patient_level_permutations(breast, monkeypatch) -> None:
    X, y = breast
    dup, ydup, groups = triplicate(X.iloc[:60, :5], y[:60])
    seen: list[np.ndarray] = []
    original = permutation.make_plan

    def spy(y_perm, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(np.asarray(y_perm))
        return original(y_perm, *args, **kwargs)

    monkeypatch.setattr(permutation, "make_plan", spy)
    cands = [c for c in candidates("binary", 5) if c.family == "ridge_logistic"][:1]
    res = permutation.permutation_test(
        dup, ydup, cands, observed=0.9, n_permutations=3, folds=3, repeats=1, seed=0,
        n_classes=2, groups=groups,
    )  # fmt: skip
    assert len(seen) == 3
    for y_perm in seen:
        assert (y_perm.reshape(-1, COPIES) == y_perm[::COPIES, None]).all()
    assert "across patients" in res.statistic


def test_discovery_of_a_grouped_run_counts_patients(breast) -> None:
    """``insightome.run(groups=...)``: the effects and the subgroup test in results.json are
    those of the data without copies, and the notes say how groups were used."""
    X, y = breast
    dup, ydup, groups = triplicate(X, y)
    obs = pd.DataFrame(
        {"diagnosis": np.where(ydup == 1, "malignant", "benign"), "patient": groups.astype(str)},
        index=[f"s{i}" for i in range(len(dup))],
    )
    adata = ad.AnnData(dup.to_numpy(float), obs=obs, var=pd.DataFrame(index=dup.columns))
    run = insightome.run(
        adata, "diagnosis", groups="patient", preset="fast", folds=3, repeats=1,
        n_bootstrap=200, out_dir=None,
    )  # fmt: skip
    found = run.results["discovery"]
    top = pd.DataFrame(found["effects"]["top"]).set_index("feature")
    once = univariate_effects(X, y, "binary")
    np.testing.assert_allclose(top["p_value"], once.loc[top.index, "p_value"], rtol=1e-9)
    assert (top["n"] == len(X)).all()
    subgroups_once = find_subgroups(X, y, "binary", seed=0)
    test = found["subgroups"]["outcome"]["test"]
    assert test["p_value"] == pytest.approx(subgroups_once.outcome_test["p_value"], rel=1e-6)
    notes = " ".join(found["notes"])
    assert "univariate effects: one row per patient" in notes
    assert "Outcome association and composition per patient" in notes
