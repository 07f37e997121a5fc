"""Model audit on real out-of-fold predictions.

Breast cancer (scikit-learn; malignant = code 1) with 5-fold out-of-fold predictions of a
logistic regression, audited by a three-level attribute assigned at random: by design no
group differs, so the untouched data is the control, and flipping 40% of one group's labels
is an injected bias the audit must find in that group only. ACTG175 (lifelines) checks the
survival and regression paths.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from lifelines.utils import concordance_index
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import r2_score, recall_score, roc_auc_score
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from insightome.audit.audit_thresholds import THRESHOLD_INVALID, USER_SET
from insightome.audit.disparity_metrics import LOGIT_CLIP, recalibration
from insightome.audit.model_audit import (
    FLAG,
    INSUFFICIENT,
    NO_DISPARITY,
    REFERENCE,
    AuditThresholds,
    model_audit,
)
from insightome.errors import UserError
from insightome.groups.labels import group_labels

ROW_KEYS = {"attribute", "group", "n", "metric", "value", "ci95", "difference"}
ROW_KEYS |= {"difference_ci95", "ratio", "ratio_ci95", "verdict"}


@pytest.fixture(scope="module")
def cancer():
    X, target = load_breast_cancer(return_X_y=True)
    y = (target == 0).astype(int)  # malignant
    model = make_pipeline(StandardScaler(), LogisticRegression())
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    p = cross_val_predict(model, X, y, cv=cv, method="predict_proba")[:, 1]
    rng = np.random.default_rng(0)
    site = pd.Series(rng.choice(["A", "B", "C"], size=len(y), p=[0.5, 0.3, 0.2]), name="site")
    corrupted = y.copy()
    b = np.flatnonzero(site == "B")
    flip = rng.choice(b, int(0.4 * len(b)), replace=False)
    corrupted[flip] = 1 - corrupted[flip]
    return y, p[:, None], site, corrupted


@pytest.fixture(scope="module")
def control(cancer):
    y, p, site, _ = cancer
    return model_audit(y, p, "binary", {"site": site}, classes=["benign", "malignant"])


@pytest.fixture(scope="module")
def biased(cancer):
    _, p, site, corrupted = cancer
    return model_audit(corrupted, p, "binary", {"site": site})


def row(audit, group: str, metric: str) -> dict:
    (found,) = [r for r in audit.groups if r["group"] == group and r["metric"] == metric]
    return found


def test_injected_bias_is_flagged_in_that_group_only(biased):
    assert biased.reference == {"site": "A"}
    assert biased.flags and {f["group"] for f in biased.flags} == {"B"}
    assert {"auc", "fnr", "fpr"} <= {f["metric"] for f in biased.flags}
    auc = row(biased, "B", "auc")
    assert auc["verdict"] == FLAG
    assert auc["difference"] < -0.3 and auc["difference_ci95"][1] < 0  # CI excludes 0
    fnr = row(biased, "B", "fnr")
    assert fnr["verdict"] == FLAG and fnr["difference_ci95"][0] > 0 and fnr["ratio"] > 1.25
    assert all(r["verdict"] != FLAG for r in biased.groups if r["group"] == "C")
    assert "beyond ±0.05" in next(f["reason"] for f in biased.flags if f["metric"] == "auc")


def test_untouched_control_flags_nothing(control):
    assert control.flags == []
    assert all(r["verdict"] != FLAG for r in control.groups)
    for group in ("B", "C"):  # tested, not merely skipped
        assert row(control, group, "auc")["verdict"] == NO_DISPARITY
        assert (
            row(control, group, "auc")["difference_ci95"][0]
            < 0
            < (row(control, group, "auc")["difference_ci95"][1])
        )
    assert all(r["verdict"] == REFERENCE for r in control.groups if r["group"] == "A")


def test_tiny_group_is_insufficient_evidence_never_a_pass(cancer):
    y, p, _, _ = cancer
    labels = np.array(["common"] * len(y), dtype=object)
    labels[:5] = "tiny"
    labels[5:25] = "small"  # 20 samples: reported, but below min_group_size
    audit = model_audit(y, p, "binary", {"cohort": pd.Series(labels)}, n_bootstrap=200)
    for group in ("tiny", "small"):
        rows = [r for r in audit.groups if r["group"] == group]
        assert len(rows) == len(audit.metrics)
        assert all(r["verdict"] == INSUFFICIENT for r in rows)
    tiny = [r for r in audit.to_dict()["groups"] if r["group"] == "tiny"]
    assert all(r["n"] is None and r["value"] is None and r["ci95"] is None for r in tiny)
    assert all(r["suppressed"]["n"] == "<10" for r in tiny)
    # 'tiny' = n - 'common' - 'small': 'small' is hidden too, marked as not small
    small = row(audit, "small", "auc")
    assert small["n"] is None and small["value"] is None
    assert small["suppressed"]["n"] == "suppressed"


def test_overall_matches_sklearn_and_intervals_contain_estimates(cancer, control):
    y, p, site, _ = cancer
    cut = y.mean()  # default threshold: the prevalence
    assert control.overall["auc"]["value"] == pytest.approx(roc_auc_score(y, p[:, 0]))
    assert control.overall["tpr"]["value"] == pytest.approx(recall_score(y, p[:, 0] >= cut))
    assert control.overall["selection_rate"]["value"] == pytest.approx(np.mean(p >= cut))
    for est in control.overall.values():
        lo, hi = est["ci95"]
        assert lo <= est["value"] <= hi
    shown = [r for r in control.groups if r["value"] is not None and r["ci95"] is not None]
    assert len(shown) > 10
    assert all(r["ci95"][0] <= r["value"] <= r["ci95"][1] for r in shown)
    site_a, in_a = row(control, "A", "auc"), (site == "A").to_numpy()
    assert site_a["value"] == pytest.approx(roc_auc_score(y[in_a], p[in_a, 0]))  # MetricFrame
    assert site_a["n"] == int(in_a.sum())


def test_to_dict_has_the_agreed_shape(control):
    out = control.to_dict()
    json.dumps(out, allow_nan=False)
    assert set(out) == {"metrics", "reference", "overall", "groups", "flags", "thresholds"} | {
        "min_group_size",
        "notes",
    }
    assert out["metrics"][:5] == ["auc", "tpr", "fpr", "fnr", "selection_rate"]
    assert {"calibration_slope", "calibration_intercept", "calibration_in_the_large"} <= set(
        out["metrics"]
    )
    assert all(set(r) == ROW_KEYS for r in out["groups"])
    assert all(set(v) == {"value", "ci95"} for v in out["overall"].values())
    assert out["thresholds"]["ratio_band"]["value"] == [0.8, 1.25]
    assert "EEOC" in out["thresholds"]["ratio_band"]["source"]
    assert "choice" in out["thresholds"]["max_auc_difference"]["source"]
    assert out["min_group_size"] == 30
    assert any("decision threshold" in note for note in out["notes"])


def test_thresholds_are_configurable_and_recorded(cancer):
    _, p, site, corrupted = cancer
    lax = AuditThresholds(max_auc_difference=0.5, ratio_band=(0.1, 10.0))
    audit = model_audit(corrupted, p, "binary", {"site": site}, n_bootstrap=300, thresholds=lax)
    assert row(audit, "B", "auc")["verdict"] == NO_DISPARITY  # -0.38 is inside ±0.5
    assert row(audit, "B", "fnr")["verdict"] == FLAG  # ratio ≈ 13 is still outside
    assert audit.to_dict()["thresholds"]["max_auc_difference"] == {"value": 0.5, "source": USER_SET}
    with pytest.raises(UserError) as err:
        AuditThresholds(multiplicity="bonferroni")
    assert err.value.template == THRESHOLD_INVALID


def test_recalibration_matches_a_logistic_fit(cancer):
    y, p, _, _ = cancer
    clipped = np.clip(p[:, 0], LOGIT_CLIP, 1 - LOGIT_CLIP)  # some predictions are exactly 1
    logit = np.log(clipped / (1 - clipped))
    a, b = recalibration(y, p[:, 0], np.ones((1, len(y))), slope=True)[0]
    ref = LogisticRegression(C=1e10, max_iter=10_000).fit(logit[:, None], y)
    assert b == pytest.approx(ref.coef_[0, 0], rel=1e-3)
    assert a == pytest.approx(ref.intercept_[0], rel=1e-3, abs=1e-3)
    recalibrated = 1 / (1 + np.exp(-(a + b * logit)))
    a2, b2 = recalibration(y, recalibrated, np.ones((1, len(y))), slope=True)[0]
    assert (a2, b2) == pytest.approx((0.0, 1.0), abs=1e-4)


@pytest.fixture(scope="module")
def actg(actg175_path) -> pd.DataFrame:
    return pd.read_csv(actg175_path)


BASELINE = ["age", "wtkg", "hemo", "homo", "drugs", "karnof", "oprior", "z30", "preanti"]
BASELINE += ["symptom", "str2", "cd40", "cd80"]


def test_survival_and_regression_by_gender_on_actg175(actg):
    groups = group_labels(actg, ["gender"])
    signed = np.where(actg.cens == 1, actg.days, -actg.days).astype(float)
    cv = KFold(5, shuffle=True, random_state=0)
    model = make_pipeline(StandardScaler(), LinearRegression())
    risk = cross_val_predict(model, actg[BASELINE], actg.cens.astype(float), cv=cv)
    surv = model_audit(signed, risk, "survival", groups, n_bootstrap=200)
    assert surv.metrics == ("c_index",)
    expected = concordance_index(actg.days, -risk, actg.cens)
    assert surv.overall["c_index"]["value"] == pytest.approx(expected)
    assert row(surv, "0", "c_index")["verdict"] in (NO_DISPARITY, FLAG)

    cd4 = actg.cd420.to_numpy(float)
    pred = cross_val_predict(model, actg[BASELINE], cd4, cv=cv)
    reg = model_audit(cd4, pred, "regression", groups, n_bootstrap=200)
    assert reg.metrics == ("r2", "mae")
    assert reg.overall["r2"]["value"] == pytest.approx(r2_score(cd4, pred))
    women = (actg.gender == 0).to_numpy()
    assert row(reg, "0", "r2")["value"] == pytest.approx(r2_score(cd4[women], pred[women]))
    assert row(reg, "0", "r2")["ratio"] is None  # R² can be negative: no ratio


def test_warnings_of_undefined_bootstrap_resamples_are_told_in_the_notes():
    """A group with one positive case: many of its resamples hold none, so its AUC is
    undefined there — the audit says so in a note instead of hiding numpy's warnings."""
    rng = np.random.default_rng(0)
    n = 200
    y = (rng.random(n) < 0.3).astype(int)
    y[185:] = 0
    y[185] = 1
    pred = np.clip(0.3 + 0.3 * (y - 0.3) + rng.normal(0, 0.2, n), 0, 1)
    group = pd.Series(["A"] * 185 + ["B"] * 15)
    with np.errstate(all="ignore"):  # as lifelines leaves it: the count must not depend on it
        audit = model_audit(y, pred, "binary", {"g": group}, n_bootstrap=200, min_group_size=10)
    (note,) = [x for x in audit.notes if x.startswith("Bootstrap warnings: RuntimeWarning (")]
    assert "left out of that metric's interval" in note
    # without the one-positive group, fewer resamples leave a metric undefined
    without = model_audit(y[:185], pred[:185], "binary", {"g": group[:185]}, n_bootstrap=200)
    fewer = [x for x in without.notes if x.startswith("Bootstrap warnings: RuntimeWarning (")]

    def count(text: str) -> int:
        return int(re.search(r"RuntimeWarning \((\d+)\)", text)[1])

    assert all(count(x) < count(note) for x in fewer)
