"""Data audit on real cohorts: ACTG175 (lifelines) and TCGA-STAD (../shared/data)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from insightome.audit.data_audit import AUDIT_LENGTH, AUDIT_TASK_INVALID, data_audit
from insightome.errors import UserError
from insightome.groups.labels import group_labels
from tests.conftest import shared_data

BASELINE = ["age", "wtkg", "hemo", "homo", "drugs", "karnof", "oprior", "z30", "preanti"]
BASELINE += ["symptom", "str2", "cd40", "cd80"]


@pytest.fixture(scope="module")
def actg(actg175_path) -> pd.DataFrame:
    return pd.read_csv(actg175_path)


@pytest.fixture(scope="module")
def audit(actg):
    groups = group_labels(actg, ["gender", "race"])
    y = actg.cens.to_numpy()
    return data_audit(actg[BASELINE], y, "binary", groups, classes=["censored", "event"])


def rows_of(result, attribute: str) -> dict[str, dict]:
    return {
        r["group"]: r for r in result.to_dict()["representation"] if r["attribute"] == attribute
    }


def test_representation_counts_sum_to_n_with_wilson_intervals(actg, audit):
    for attribute in ("gender", "race", "gender × race"):
        rows = rows_of(audit, attribute)
        assert sum(r["n"] for r in rows.values()) == len(actg) == audit.n
        assert math.isclose(sum(r["percent"] for r in rows.values()), 100.0)
    women = rows_of(audit, "gender")["0"]
    k = int(actg.cens[actg.gender == 0].sum())
    assert women["outcome"]["n_positive"] == k == 74
    assert women["outcome"]["prevalence"] == pytest.approx(k / 368)
    wilson = stats.binomtest(k, 368).proportion_ci(method="wilson")
    assert women["outcome"]["prevalence_ci95"] == pytest.approx([wilson.low, wilson.high])
    assert women["outcome"]["positive_class"] == "event"


def test_small_cells_are_suppressed(actg):
    obs = actg[["race"]].astype(str).copy()
    obs.loc[:4, "race"] = "other"  # a group of 5
    obs.loc[5:24, "race"] = "rare"  # 20 samples, 7 events
    y = np.zeros(len(actg), dtype=int)
    y[5:12] = 1  # 7 events in 'rare'
    y[100:400] = 1
    result = data_audit(actg[BASELINE], y, "binary", group_labels(obs, ["race"]))
    rows = rows_of(result, "race")
    assert rows["other"]["n"] is None and rows["other"]["outcome"] is None
    assert rows["other"]["suppressed"]["n"] == "<10"
    # n and the other groups are shown, so 'other' would be their difference: the next
    # smallest group is hidden too, marked as not small, with everything computed from it
    assert rows["rare"]["n"] is None and rows["rare"]["percent"] is None
    assert rows["rare"]["suppressed"]["n"] == "suppressed"
    assert rows["rare"]["outcome"] is None  # its prevalence would reveal the 7
    shown = [r for r in rows.values() if r["n"] is not None]
    assert len(shown) == len(rows) - 2 and all(r["n"] >= 10 for r in shown)
    assert any("fewer than 10 samples" in note for note in result.notes)
    by_group = {g["group"]: g for g in result.to_dict()["missingness"][0]["by_group"]}
    assert by_group["other"]["n"] is None and by_group["other"]["mean_percent_missing"] is None
    assert by_group["rare"]["n"] is None and by_group["rare"]["mean_percent_missing"] is None


def test_missingness_that_differs_by_group_is_reported(actg):
    X = actg[BASELINE].copy()
    women = np.flatnonzero(actg.gender == 0)
    X.loc[women[::3], "wtkg"] = np.nan  # a third of the women
    result = data_audit(X, actg.cens.to_numpy(), "binary", group_labels(actg, ["gender"]))
    gender = result.to_dict()["missingness"][0]
    top = gender["most_different"][0]
    assert top["feature"] == "wtkg"
    assert top["highest"] == {"group": "0", "percent_missing": pytest.approx(100 * 123 / 368)}
    assert top["lowest"] == {"group": "1", "percent_missing": 0.0}
    assert len(gender["most_different"]) == 1  # no other feature has missing values
    means = {g["group"]: g["mean_percent_missing"] for g in gender["by_group"]}
    assert means["0"] == pytest.approx(100 * 123 / 368 / len(BASELINE))


def test_a_noisy_copy_of_gender_is_flagged_as_a_proxy(actg):
    rng = np.random.default_rng(1)
    X = actg[BASELINE].drop(columns=["homo"]).copy()
    groups = group_labels(actg, ["gender"])
    clean = data_audit(X, actg.cens.to_numpy(), "binary", groups)
    X["noisy_gender"] = actg.gender + rng.normal(0, 0.4, len(actg))
    leaky = data_audit(X, actg.cens.to_numpy(), "binary", groups)

    proxy = leaky.proxies["attributes"][0]
    assert proxy["flagged"] and "noisy_gender" in proxy["flagged_features"]
    assert proxy["top_features"][0]["feature"] == "noisy_gender"
    assert proxy["top_features"][0]["auc"] == pytest.approx(
        roc_auc_score(actg.gender, X["noisy_gender"])
    )
    assert proxy["multivariate_auc"] >= 0.8

    real = clean.proxies["attributes"][0]  # the real data report its real maximum AUC
    aucs = [roc_auc_score(actg.gender, actg[c]) for c in X.columns[:-1]]
    assert real["max_univariate_auc"] == pytest.approx(max(max(a, 1 - a) for a in aucs))
    assert "noisy_gender" not in real["flagged_features"]
    assert 0.5 < real["multivariate_auc"] < proxy["multivariate_auc"]
    assert "even when the attribute itself is excluded" in clean.proxies["rationale"]


def test_unknown_task_and_length_mismatch_are_user_errors(actg):
    groups = group_labels(actg, ["gender"])
    with pytest.raises(UserError) as err:
        data_audit(actg[BASELINE], actg.cens.to_numpy(), "ranking", groups)
    assert err.value.template == AUDIT_TASK_INVALID
    with pytest.raises(UserError) as err:
        data_audit(actg[BASELINE], actg.cens.to_numpy()[:-1], "binary", groups)
    assert err.value.template == AUDIT_LENGTH


def test_survival_regression_and_multiclass_summaries(actg):
    groups = group_labels(actg, ["gender"])
    X = actg[BASELINE]
    signed = np.where(actg.cens == 1, actg.days, -actg.days).astype(float)
    surv = rows_of(data_audit(X, signed, "survival", groups), "gender")["0"]["outcome"]
    assert surv == {"events": 74, "event_rate": pytest.approx(74 / 368)}
    reg = rows_of(data_audit(X, actg.cd420.to_numpy(float), "regression", groups), "gender")
    assert reg["1"]["outcome"]["mean"] == pytest.approx(actg.cd420[actg.gender == 1].mean())
    arms = ["ZDV", "ZDV+ddI", "ZDV+Zal", "ddI"]
    multi = data_audit(X, actg.arms.to_numpy(), "multiclass", groups, classes=arms)
    dist = rows_of(multi, "gender")["0"]["outcome"]["classes"]
    assert sum(c["n"] for c in dist.values()) == 368
    json.dumps(multi.to_dict(), allow_nan=False)


@pytest.fixture(scope="module")
def stad() -> pd.DataFrame:
    frame = pd.read_csv(shared_data("cohorts", "tcga_stad", "cohort_stad_patients.csv"))
    return frame[frame["OS.time"] > 0].reset_index(drop=True)


def test_outcome_site_confounding_on_tcga_stad(stad):
    X = stad[["age_at_initial_pathologic_diagnosis", "histological_grade"]]
    groups = group_labels(stad, ["gender"])
    signed = np.where(stad.OS == 1, stad["OS.time"], -stad["OS.time"]).astype(float)
    surv = data_audit(X, signed, "survival", groups, site=stad.tss_code).to_dict()
    conf = surv["confounding"]
    assert conf["test"] == "log-rank" and 0 <= conf["p_value"] <= 1
    assert conf["n_used"] == len(stad)
    assert all(s["n"] is None or s["n"] >= 10 for s in conf["sites"])
    assert all(s["n"] is not None or s["suppressed"]["n"] == "suppressed" for s in conf["sites"])
    assert any("pooled" in note for note in surv["notes"])
    json.dumps(surv, allow_nan=False)

    died = (stad.OS == 1).astype(int).to_numpy()
    binary = data_audit(X, died, "binary", groups, site=stad.tss_code, classes=["alive", "dead"])
    conf = binary.confounding
    sites = [s["site"] for s in conf["sites"]]
    pooled = stad.tss_code.where(stad.tss_code.isin(sites), "other")
    table = pd.crosstab(pooled, died).to_numpy()
    chi2, p, _, _ = stats.chi2_contingency(table, correction=False)
    assert conf["test"] == "chi-square"
    assert conf["p_value"] == pytest.approx(p)
    assert conf["cramers_v"] == pytest.approx(math.sqrt(chi2 / table.sum()))
