"""Subgroup discovery on real data: stability, outcome association, suppressed composition."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter
from scipy.optimize import linprog
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine, make_blobs
from sklearn.metrics import adjusted_rand_score

from insightome.discover import subgroups
from insightome.discover.subgroups import SubgroupResult, find_subgroups
from tests.conftest import shared_data

KEYS = ("subgroup", "suppressed")


def _cells(table: pd.DataFrame) -> pd.DataFrame:
    """A composition table without its markers column."""
    return table.drop(columns="suppressed")


def _assert_no_recoverable_cell(
    table: pd.DataFrame, real: pd.DataFrame, sizes: pd.Series, k: int = 10
) -> None:
    """An attacker who knows every level's total, the shown subgroup sizes and the shown
    cells (and that "<k" cells are under k, "suppressed" ones k or more) cannot narrow any
    hidden small cell below the documented protection (docs/audit.md)."""
    shown = _cells(table).notna().to_numpy()
    truth = real.to_numpy().astype(float)
    markers = table["suppressed"].tolist()
    rows, cols = truth.shape
    eq, b_eq, ub, b_ub = [], [], [], []

    def unit(cells: list[tuple[int, int]]) -> np.ndarray:
        v = np.zeros(rows * cols)
        for i, j in cells:
            v[i * cols + j] = 1.0
        return v

    for j in range(cols):
        eq.append(unit([(i, j) for i in range(rows)]))
        b_eq.append(truth[:, j].sum())
    for i, n in enumerate(sizes):
        if n is not None:
            eq.append(unit([(i, j) for j in range(cols)]))
            b_eq.append(n)
    for i, j in zip(*np.nonzero(shown), strict=True):
        eq.append(unit([(i, j)]))
        b_eq.append(truth[i, j])
    for i, j in zip(*np.nonzero(~shown), strict=True):
        mark = (markers[i] or {})[table.columns[j]]
        if mark == f"<{k}":
            ub.append(unit([(i, j)]))
            b_ub.append(k - 1)
        else:
            assert mark == "suppressed" and truth[i, j] >= k
            ub.append(-unit([(i, j)]))
            b_ub.append(-k)
    bound = [unit([(i, j)]) * (1 if truth[i, j] < k else -1) for i in range(rows)
             for j in range(cols)]  # fmt: skip
    bound_b = [k - 1 if truth[i, j] < k else -k for i in range(rows) for j in range(cols)]

    def span(A_eq, b_eq, A_ub, b_ub, i, j):
        out = []
        for sign in (1, -1):
            res = linprog(sign * unit([(i, j)]), A_ub=np.array(A_ub), b_ub=np.array(b_ub),
                          A_eq=np.array(A_eq), b_eq=np.array(b_eq), method="highs")  # fmt: skip
            out.append(sign * res.fun if res.status == 0 else np.inf)
        return out

    for i, j in zip(*np.nonzero(~shown), strict=True):
        if truth[i, j] >= k:
            continue
        lo, hi = span(eq, b_eq, ub, b_ub, i, j)
        if hi >= k - 1 - 1e-6 and lo <= (k - 1) // 2 + 1e-6:
            continue
        # no better than the level totals alone allow, with every cell hidden
        base = span(eq[:cols], b_eq[:cols], bound, bound_b, i, j)
        assert [lo, hi] == pytest.approx(base), (i, j, lo, hi, base)


def _assert_json_without_labels(result: SubgroupResult) -> dict:
    d = result.to_dict()
    text = json.dumps(d, allow_nan=False)  # NaN would have to be None already
    assert "labels" not in d
    n, stack = result.settings["n_samples"], [d]
    while stack:  # no list anywhere in the content has one entry per sample
        node = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        assert not isinstance(node, list) or len(node) != n
        stack.extend(c for c in children if isinstance(c, dict | list))
    assert len(text) < 20_000
    return d


@pytest.fixture(scope="module")
def breast() -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    bunch = load_breast_cancer(as_frame=True)
    X = bunch.data
    rng = np.random.default_rng(7)
    # a realistic-looking attribute: one large, one mid-size, one rare level, some missing
    eth = rng.choice(["group A", "group B", "group C"], size=len(X), p=[0.75, 0.21, 0.04])
    eth = pd.Series(eth, index=X.index).where(rng.random(len(X)) > 0.02)
    return X, bunch.target.to_numpy(), pd.DataFrame({"ethnicity": eth})


@pytest.fixture(scope="module")
def breast_result(breast) -> SubgroupResult:
    X, y, sens = breast
    return find_subgroups(X, y, "binary", classes=["malignant", "benign"], sensitive=sens)


def test_breast_cancer_subgroups_are_stable_and_track_diagnosis(breast, breast_result) -> None:
    X, y, _ = breast
    r = breast_result
    assert r.k in range(2, 7)
    stab = r.stability
    assert stab["k"].tolist() == [2, 3, 4, 5, 6]
    assert stab["mean_ari"].between(-1, 1).all()
    assert (stab["lo"] <= stab["mean_ari"]).all() and (stab["mean_ari"] <= stab["hi"]).all()
    assert r.k == int(stab.loc[stab["mean_ari"].idxmax(), "k"])
    assert stab["mean_ari"].max() > 0.9  # malignant vs benign: a very stable split
    assert r.cluster_stability["mean_jaccard"].between(0.9, 1).all()
    assert sorted(set(r.labels)) == list(range(1, r.k + 1))
    assert r.sizes["n"].sum() == len(X) and r.sizes["n"].astype(int).is_monotonic_decreasing
    # outcome-blind clusters separate the diagnoses
    assert r.outcome_test["name"] == "chi-square" and r.outcome_test["p_value"] < 1e-30
    assert adjusted_rand_score(y, r.labels) > 0.5
    out = r.outcome.set_index("subgroup")
    truth = pd.crosstab(r.labels, y)
    for code, cls in enumerate(("malignant", "benign")):
        shown = out[f"n_{cls}"].notna()
        assert out.loc[shown, f"n_{cls}"].tolist() == truth.loc[shown.to_numpy(), code].tolist()
        assert (out.loc[shown, f"rate_{cls}_lo"] <= out.loc[shown, f"rate_{cls}"]).all()
        assert (out.loc[shown, f"rate_{cls}"] <= out.loc[shown, f"rate_{cls}_hi"]).all()
        # a hidden count takes its rate with it (the rate and n would give the count back)
        assert out.loc[~shown, f"rate_{cls}"].isna().all()
        for g in out.index[~shown]:
            small = truth.loc[g, code] < 10
            assert out.loc[g, "suppressed"][f"n_{cls}"] == ("<10" if small else "suppressed")
    both = out["rate_malignant"].notna() & out["rate_benign"].notna()
    assert np.allclose((out["rate_malignant"] + out["rate_benign"])[both].astype(float), 1)
    # profile: 5 features per subgroup, ranked by |SMD|, concavity/size features on top
    assert (r.profile.groupby("subgroup").size() == 5).all()
    for _, part in r.profile.groupby("subgroup"):
        assert part["smd"].abs().is_monotonic_decreasing
    assert r.profile["feature"].str.contains("concav|perimeter|radius|area").all()
    assert r.features_used == list(X.columns)
    _assert_json_without_labels(r)


def test_composition_suppresses_small_and_recoverable_cells(breast, breast_result) -> None:
    r = breast_result
    ethnicity = breast[2]["ethnicity"].fillna("(missing)").to_numpy()
    table = r.composition["ethnicity"]
    assert list(_cells(table).columns) == ["group A", "group B", "group C", "(missing)"]
    assert table.index.tolist() == list(range(1, r.k + 1))
    real = pd.crosstab(r.labels, ethnicity).reindex(columns=_cells(table).columns, fill_value=0)
    real.index = table.index
    small = (real < 10).to_numpy()
    hidden = _cells(table).isna().to_numpy()
    assert small.any() and hidden[small].all()  # the example exercises the rule
    assert hidden.sum() > small.sum()  # complementary cells were needed too
    shown = ~hidden
    assert (_cells(table).to_numpy()[shown].astype(int) == real.to_numpy()[shown]).all()
    _assert_no_recoverable_cell(table, real, r.sizes["n"])
    # the JSON shows hidden cells as None with their marker, never a count below 10
    comp = r.to_dict()["composition"]["ethnicity"]
    assert comp["suppressed_below"] == 10
    cells = [v for row in comp["table"] for key, v in row.items() if key not in KEYS]
    assert None in cells and all(v is None or v >= 10 for v in cells)
    assert 0 <= comp["test"]["p_value"] <= 1


def test_sensitive_rows_are_matched_by_index(breast, breast_result) -> None:
    X, y, sens = breast
    shuffled = sens.sample(frac=1.0, random_state=0)  # same samples, another order
    r = find_subgroups(X, y, "binary", sensitive=shuffled, k_range=[2], n_resamples=2)
    pd.testing.assert_frame_equal(
        r.composition["ethnicity"], breast_result.composition["ethnicity"]
    )


def test_actg175_survival_subgroups(actg175_path) -> None:
    data = pd.read_csv(actg175_path)
    baseline = ["age", "wtkg", "karnof", "preanti", "cd40", "cd80"]
    y = np.where(data["cens"] == 1, data["days"], -data["days"]).astype(float)
    sensitive = pd.DataFrame(
        {
            "gender": np.where(data["gender"] == 1, "male", "female"),
            "race": np.where(data["race"] == 0, "white", "non-white"),
        }
    )
    r = find_subgroups(data[baseline], y, "survival", sensitive=sensitive, n_resamples=30)
    assert r.k in range(2, 7) and r.features_used == baseline
    test = r.outcome_test
    assert test["name"] == "log-rank" and 0 < test["p_value"] < 1
    out = r.outcome.set_index("subgroup")
    shown = out["events"].notna()
    assert out["events"][shown].sum() <= int((data["cens"] == 1).sum())
    for g, row in out.iterrows():
        s = r.labels == g
        km = KaplanMeierFitter().fit(data["days"][s], data["cens"][s])
        if np.isnan(row["median_time"]):  # not reached: survival never falls to one half
            assert km.survival_function_.iloc[-1, 0] > 0.5
        else:
            assert row["median_time"] == km.median_survival_time_
    for col in ("gender", "race"):
        table = r.composition[col]
        assert _cells(table).shape == (r.k, 2)
        real = pd.crosstab(r.labels, sensitive[col]).reindex(columns=_cells(table).columns)
        real.index = table.index
        _assert_no_recoverable_cell(table, real.fillna(0), r.sizes["n"])
        assert 0 <= r.composition_tests[col]["p_value"] <= 1
    _assert_json_without_labels(r)


def test_noise_is_less_stable_and_unrelated_to_a_random_outcome(breast, breast_result) -> None:
    X, _, _ = breast
    noise = pd.DataFrame(np.random.default_rng(0).normal(size=X.shape), columns=X.columns)
    y = np.random.default_rng(1).integers(0, 2, len(X))
    r = find_subgroups(noise, y, "binary", n_resamples=20)
    best_noise = r.stability["mean_ari"].max()
    best_real = breast_result.stability["mean_ari"].max()
    # observed over 20 noise seeds: best mean ARI 0.10–0.50 (median 0.17); breast cancer 0.96
    assert best_noise < 0.6 and best_real - best_noise > 0.35
    significant = 0
    for seed in range(10):
        rng = np.random.default_rng(100 + seed)
        noise = pd.DataFrame(rng.normal(size=(300, 20)))
        outcome = rng.integers(0, 2, 300)
        r = find_subgroups(noise, outcome, "binary", k_range=[2, 3], n_resamples=5, seed=seed)
        significant += r.outcome_test["p_value"] < 0.05
    assert significant <= 2


def test_same_seed_same_subgroups(breast) -> None:
    X, y, _ = breast
    a = find_subgroups(X, y, "binary", n_resamples=10, k_range=range(2, 5), seed=3)
    b = find_subgroups(X, y, "binary", n_resamples=10, k_range=range(2, 5), seed=3)
    assert np.array_equal(a.labels, b.labels)
    pd.testing.assert_frame_equal(a.stability, b.stability)


def test_regression_and_multiclass_outcomes() -> None:
    diabetes = load_diabetes(as_frame=True)
    r = find_subgroups(diabetes.data, diabetes.target.to_numpy(), "regression", n_resamples=10)
    out = r.outcome
    assert (out["mean_lo"] < out["mean"]).all() and (out["mean"] < out["mean_hi"]).all()
    assert r.outcome_test["name"] == "Kruskal-Wallis" and 0 <= r.outcome_test["p_value"] <= 1
    wine = load_wine(as_frame=True)
    names = list(wine.target_names)
    r = find_subgroups(wine.data, wine.target.to_numpy(), "multiclass", classes=names)
    rates = r.outcome[[f"rate_{c}" for c in names]]
    whole = rates.notna().all(axis=1)
    assert np.allclose(rates[whole].astype(float).sum(axis=1), 1)
    assert r.outcome_test["p_value"] < 1e-20


def test_feature_selection_and_edge_cases(breast) -> None:
    X, y, _ = breast
    mixed = X.assign(site=pd.Categorical(np.where(y == 1, "a", "b")), const=1.0)
    r = find_subgroups(mixed, y, "binary", max_features=10, n_resamples=5, k_range=[2])
    assert r.features_used == list(X.var().sort_values(ascending=False).index[:10])
    assert any("non-numeric" in n for n in r.notes) and any("constant" in n for n in r.notes)
    assert any("top 10 of 31" in n for n in r.notes)
    tiny = find_subgroups(X.iloc[:15], y[:15], "binary")
    assert tiny.k is None and tiny.labels is None and "15 samples" in tiny.notes[-1]
    assert _assert_json_without_labels(tiny)["stability"] == []
    one = find_subgroups(X[["mean radius"]], y, "binary")
    assert one.k is None and "1 usable numeric feature" in one.notes[-1]
    with pytest.raises(ValueError, match="rows for 569 samples"):
        find_subgroups(X, y[:-1], "binary")
    with pytest.raises(ValueError, match="invalid task"):
        find_subgroups(X, y, "clustering")
    few = find_subgroups(X.iloc[:30], y[:30], "binary", k_range=range(2, 9), n_resamples=5)
    assert few.stability["k"].tolist() == [2, 3, 4, 5, 6]
    assert any("[7, 8] skipped" in note for note in few.notes)


def test_large_n_uses_minibatch_reference_and_evaluation_subset(monkeypatch) -> None:
    monkeypatch.setattr(subgroups, "MINIBATCH_ABOVE", 1_000)
    monkeypatch.setattr(subgroups, "MAX_FIT", 500)
    monkeypatch.setattr(subgroups, "MAX_EVAL", 800)
    X, truth = make_blobs(3_000, 10, centers=3, cluster_std=3.0, random_state=0)
    r = find_subgroups(pd.DataFrame(X), truth, "multiclass", n_resamples=10)
    assert r.settings["algorithm"] == "MiniBatchKMeans"
    assert (r.settings["fit_size"], r.settings["eval_size"]) == (500, 800)
    assert r.k == 3 and adjusted_rand_score(truth, r.labels) > 0.95


def test_scalability_smoke_20k_by_50() -> None:
    X, truth = make_blobs(20_000, 50, centers=3, cluster_std=4.0, random_state=0)
    y = np.random.default_rng(0).integers(0, 2, len(X))
    r = find_subgroups(pd.DataFrame(X).add_prefix("f"), y, "binary")
    assert r.k == 3 and adjusted_rand_score(truth, r.labels) > 0.99
    assert r.settings["fit_size"] == subgroups.MAX_FIT and r.settings["seconds"] > 0


def test_tcga_stad_expression_survival_subgroups() -> None:
    expression = pd.read_csv(
        shared_data("cohorts", "tcga_stad", "expression_xena_stad_1577genes.csv"), index_col=0
    )
    patients = pd.read_csv(
        shared_data("cohorts", "tcga_stad", "cohort_stad_patients.csv"), index_col="case_id"
    ).loc[expression.index]
    y = np.where(patients["OS"] == 1, patients["OS.time"], -patients["OS.time"]).astype(float)
    r = find_subgroups(
        expression, y, "survival", sensitive=patients[["gender", "race"]], n_resamples=20
    )
    assert len(r.features_used) == 50 and r.k in range(2, 7)
    top = expression[r.features_used].var().min()
    assert (expression.drop(columns=r.features_used).var() <= top).all()
    assert 0 < r.outcome_test["p_value"] <= 1
    race = r.composition["race"]
    assert _cells(race).isna().to_numpy().any()  # rare categories are hidden
    levels = patients["race"].astype(object).where(patients["race"].notna(), "(missing)")
    real = pd.crosstab(r.labels, levels.to_numpy()).reindex(columns=_cells(race).columns)
    real.index = race.index
    _assert_no_recoverable_cell(race, real.fillna(0), r.sizes["n"])
    _assert_json_without_labels(r)


def test_a_rate_and_its_n_never_give_a_small_count_back() -> None:
    """The issue's case: a subgroup with n = 13 and rate 0.769 printed gives the hidden 3
    away (13 − 10). Every published form of the outcome table is read: results.json, the
    report's rows and hypotheses.tsv."""
    from insightome.discover.hypotheses import subgroup_rows
    from insightome.report.discovery_section import _outcome_row

    X, blob = make_blobs([300, 120, 13], 4, cluster_std=0.5, random_state=1)
    y = (blob == 0).astype(int)
    y[np.flatnonzero(blob == 2)[:3]] = 1  # the 13-sample blob: 10 of one class, 3 of the other
    r = find_subgroups(pd.DataFrame(X).add_prefix("f"), y, "binary", k_range=[3], n_resamples=5)
    truth = pd.crosstab(r.labels, y)
    assert truth.min().min() < 10  # the example has a small outcome count
    table = r.to_dict()["outcome"]["table"]
    for row in table:
        g = row["subgroup"]
        for code in (0, 1):
            if truth.loc[g, code] >= 10:
                continue
            assert row[f"n_{code}"] is None and row[f"rate_{code}"] is None
            other = 1 - code
            # n minus the other class, or the other class's rate times n
            assert row["n"] is None or row[f"n_{other}"] is None
            assert row["n"] is None or row[f"rate_{other}"] is None
        shown = _outcome_row(row, 10)
        small = [str(v) for v in truth.loc[g] if v < 10]
        assert not any(v in small for k, v in shown.items() if k != "subgroup"), shown
    for h in subgroup_rows(r, "y"):
        g = int(h["candidate"].split()[1])
        if truth.loc[g].min() < 10:
            assert "rate" not in h["statement"].split(";")[2], h["statement"]


def test_profile_means_never_give_a_hidden_subgroup_size_back() -> None:
    """A subgroup's mean of a feature, the mean of the rest and the overall mean (in
    model.json's reference profile, or from any subgroup shown) give its size back:
    n_g = n (m − mean_rest) / (mean_in − mean_rest). The attacker reads every published
    profile row and hypotheses.tsv; a hidden size keeps its profile numbers hidden."""
    from insightome.discover.hypotheses import subgroup_rows

    X, _ = make_blobs([300, 120, 6], 4, cluster_std=0.5, random_state=1)
    features = pd.DataFrame(X).add_prefix("f")
    y = np.random.default_rng(0).integers(0, 2, len(X))
    r = find_subgroups(features, y, "binary", k_range=[3], n_resamples=5)
    sizes = np.bincount(r.labels)[1:]
    published = r.to_dict()
    hidden = [row["subgroup"] for row in published["sizes"] if row["n"] is None]
    assert sizes.min() < 10 and len(hidden) >= 2  # the small one and its complement
    n, overall = len(X), features.mean()
    recovered = []
    for row in published["profile"]:
        g = row["subgroup"]
        if g not in hidden:
            continue
        assert row["feature"] in features.columns  # which features stand out stays shown
        if row["mean_in"] is not None and row["mean_rest"] is not None:
            m = overall[row["feature"]]
            n_g = n * (m - row["mean_rest"]) / (row["mean_in"] - row["mean_rest"])
            recovered.append((g, round(n_g), int(sizes[g - 1])))
    assert not recovered, f"hidden subgroup sizes recovered (subgroup, read, true): {recovered}"
    for row in published["profile"]:
        if row["subgroup"] in hidden:
            assert row["smd"] is None and row["suppressed"]["mean_in"] == "suppressed", row
    for h in subgroup_rows(r, "y"):
        g = int(h["candidate"].split()[1])
        if g in hidden:
            assert "SMD" not in h["statement"], h["statement"]


def test_profile_features_without_an_smd_are_told_not_hidden():
    """A feature with no value in a subgroup has no SMD: it is not ranked, and a note says
    how many such features there were (instead of numpy's silenced warnings)."""
    from insightome.discover.subgroup_description import profile_table

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    labels = np.repeat([0, 1], 20)
    X[labels == 1, 2] = np.nan  # missing in subgroup 1
    X[:, 1] += 2.0 * labels  # shifted in subgroup 1
    notes: list[str] = []
    with np.errstate(all="raise"):  # nothing computes on an empty or one-value column
        table = profile_table(X, ["a", "b", "c"], set(), labels, np.array([0, 1]), notes)
    assert "c" not in set(table["feature"])
    assert notes == [
        f"Subgroup {g} profile: 1 feature(s) without an SMD (fewer than 2 observed values in "
        "the subgroup or the rest, or no spread), not ranked."
        for g in (0, 1)
    ]
    b = table[(table["subgroup"] == 1) & (table["feature"] == "b")].iloc[0]
    inside, rest = X[labels == 1, 1], X[labels == 0, 1]
    pooled = np.sqrt((19 * inside.var(ddof=1) + 19 * rest.var(ddof=1)) / 38)
    assert b["smd"] == pytest.approx((inside.mean() - rest.mean()) / pooled)
