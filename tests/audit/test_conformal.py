"""Conformal coverage audit on real data: ACTG175 (binary), diabetes (regression), iris/wine."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from crepes import ConformalClassifier, ConformalRegressor
from sklearn.datasets import load_diabetes, load_iris, load_wine
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from insightome.audit.conformal import (
    BELOW,
    CONSISTENT,
    SMALL,
    apply_thresholds,
    conformal_audit,
    conformal_quantile,
)

LEVEL = 0.9
ACTG_BASELINE = [
    "age", "wtkg", "hemo", "homo", "drugs", "karnof", "oprior", "z30", "zprior", "preanti",
    "race", "gender", "str2", "strat", "symptom", "treat", "cd40", "cd80",
]  # fmt: skip


def _oof_proba(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    return cross_val_predict(model, X, y, cv=cv, method="predict_proba")


@pytest.fixture(scope="module")
def actg(actg175_path: Path) -> tuple[np.ndarray, np.ndarray, dict[str, pd.Series]]:
    """OOF P(event) of ACTG175 ``cens`` from baseline columns; gender and race groups."""
    df = pd.read_csv(actg175_path)
    y = df["cens"].to_numpy()
    pred = _oof_proba(df[ACTG_BASELINE].to_numpy(float), y)[:, 1:]
    groups = {
        "gender": pd.Series(np.where(df["gender"] == 1, "male", "female")),
        "race": pd.Series(np.where(df["race"] == 0, "white", "non-white")),
    }
    return y, pred, groups


@pytest.fixture(scope="module")
def diabetes() -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    data = load_diabetes(as_frame=True, scaled=False)
    model = make_pipeline(StandardScaler(), RidgeCV())
    pred = cross_val_predict(
        model, data.data, data.target, cv=KFold(5, shuffle=True, random_state=0)
    )
    return data.target.to_numpy(float), pred[:, None], data.data


def _sex(frame: pd.DataFrame) -> pd.Series:
    return pd.Series(np.where(frame["sex"] == 1, "sex1", "sex2"))


def _contains(ci: list[float], value: float) -> bool:
    return ci[0] <= value <= ci[1]


def _assert_covered(audit, n_groups: int) -> None:
    assert _contains(audit.marginal["ci95"], LEVEL)
    assert len(audit.groups) == n_groups
    for row in audit.groups:
        assert row["n"] >= 30 and not row["small"]
        assert _contains(row["ci95"], LEVEL), row
        assert _contains(row["mondrian_ci95"], LEVEL), row
        assert row["verdict"] == row["mondrian_verdict"] == CONSISTENT
    json.dumps(audit.to_dict(), allow_nan=False)


def test_binary_coverage_per_group_actg175(actg) -> None:
    y, pred, groups = actg
    audit = conformal_audit(y, pred, "binary", groups, classes=("censored", "event"), level=LEVEL)
    _assert_covered(audit, 4)
    assert audit.marginal["n"] == len(y) and 1.0 < audit.marginal["mean_size"] < 2.0
    th = audit.thresholds()
    assert th["score"] == "1 - p(true class)" and set(th["mondrian"]) == {"gender", "race"}
    assert set(th["mondrian"]["gender"]) == {"female", "male"}


def test_regression_coverage_per_group_diabetes(diabetes) -> None:
    y, pred, frame = diabetes
    audit = conformal_audit(y, pred, "regression", {"sex": _sex(frame)}, level=LEVEL)
    _assert_covered(audit, 2)
    assert audit.marginal["mean_width"] > 0 and "mean_size" not in audit.marginal
    assert audit.to_dict()["thresholds"]["score"] == "absolute residual"


def test_mondrian_restores_coverage_of_noisy_group(diabetes) -> None:
    y, pred, frame = diabetes
    sex = _sex(frame)
    noisy = pred.copy()
    hit = (sex == "sex2").to_numpy()
    spread = np.std(y - pred[:, 0])
    noisy[hit, 0] += np.random.default_rng(1).normal(0.0, 1.5 * spread, hit.sum())
    audit = conformal_audit(y, noisy, "regression", {"sex": sex}, level=LEVEL)
    rows = {r["group"]: r for r in audit.groups}
    assert rows["sex2"]["ci95"][1] < LEVEL and rows["sex2"]["verdict"] == BELOW
    assert _contains(rows["sex2"]["mondrian_ci95"], LEVEL)
    assert rows["sex2"]["mondrian_verdict"] == CONSISTENT
    assert rows["sex1"]["ci95"][0] > LEVEL  # the quiet group is over-covered marginally
    assert rows["sex1"]["mondrian_mean_width"] < rows["sex1"]["mean_width"]
    th = audit.thresholds()
    assert th["mondrian"]["sex"]["sex1"] < th["marginal"] < th["mondrian"]["sex"]["sex2"]
    assert any("restore coverage" in note for note in audit.notes)


def test_small_groups_are_insufficient_evidence(diabetes) -> None:
    y, pred, frame = diabetes
    order = np.argsort(-frame["age"].to_numpy(), kind="stable")
    band = np.full(len(y), "rest", dtype=object)
    band[order[:5]], band[order[5:25]] = "oldest5", "next20"
    band[order[25:39]] = "next14"  # hidden with the 5, so that n - the others cannot give it
    audit = conformal_audit(y, pred, "regression", {"age_band": pd.Series(band)}, level=LEVEL)
    rows = {r["group"]: r for r in audit.groups}
    tiny, small = rows["oldest5"], rows["next20"]
    assert tiny["n"] is None and tiny["coverage"] is None and tiny["ci95"] is None
    assert tiny["verdict"] == SMALL and tiny["small"] and tiny["suppressed"]["n"] == "<10"
    assert rows["next14"]["n"] is None and rows["next14"]["coverage"] is None
    assert rows["next14"]["suppressed"]["n"] == "suppressed"
    assert small["n"] == 20 and small["coverage"] is not None and small["ci95"] is not None
    assert small["verdict"] == SMALL and small["mondrian_coverage"] is None
    assert rows["rest"]["verdict"] == CONSISTENT and rows["rest"]["mondrian_coverage"] is not None
    th = audit.thresholds()
    assert set(th["mondrian"]["age_band"]) == {"rest"}
    iv = apply_thresholds(pred, "regression", th, group=("age_band", band))
    np.testing.assert_allclose(iv[order[:5], 1] - pred[order[:5], 0], th["marginal"])


def _calibration(labels: np.ndarray, sizes: dict[str, int]) -> np.ndarray:
    """Calibration mask with fixed per-group sizes, chosen so that (n+1)(1-level) is never an
    integer: there crepes' p-value rule (p >= 1 - level) is one rank more conservative than
    the textbook ceil((n+1)level)-th score used by the stored thresholds."""
    rng = np.random.default_rng(0)
    cal = np.zeros(len(labels), dtype=bool)
    for group, k in sizes.items():
        cal[rng.permutation(np.flatnonzero(labels == group))[:k]] = True
    return cal


def _crepes_sets(scores_cal, alphas_test, names, bins_cal=None, bins_test=None) -> list[str]:
    cc = ConformalClassifier().fit(scores_cal, bins=bins_cal)
    sets = cc.predict_set(alphas_test, bins=bins_test, confidence=LEVEL, smoothing=False)
    return [";".join(np.array(names)[row.astype(bool)]) for row in sets]


def test_apply_thresholds_equals_crepes_binary(actg) -> None:
    y, pred, groups = actg
    gender = groups["gender"].to_numpy()
    cal = _calibration(gender, {"female": 150, "male": 700})
    names = ("censored", "event")
    audit = conformal_audit(y[cal], pred[cal], "binary", {"gender": gender[cal]}, classes=names)
    th = json.loads(json.dumps(audit.thresholds()))  # survives a round trip to disk
    proba = np.column_stack([1 - pred[:, 0], pred[:, 0]])
    scores = 1 - proba[np.flatnonzero(cal), y[cal]]
    test = ~cal
    expected = _crepes_sets(scores, 1 - proba[test], names)
    assert apply_thresholds(pred[test], "binary", th) == expected
    assert th["marginal"] == conformal_quantile(scores, LEVEL)
    expected = _crepes_sets(scores, 1 - proba[test], names, gender[cal], gender[test])
    got = apply_thresholds(pred[test], "binary", th, names, group=("gender", gender[test]))
    assert got == expected and {len(s.split(";")) for s in got} == {1, 2}


def test_apply_thresholds_equals_crepes_regression(diabetes) -> None:
    y, pred, frame = diabetes
    sex = _sex(frame).to_numpy()
    cal = _calibration(sex, {"sex1": 100, "sex2": 90})
    res = y[cal] - pred[cal, 0]
    difficulty = 1 + np.abs(pred[:, 0] - pred[:, 0].mean()) / pred[:, 0].std()
    for sig in (None, difficulty):
        s_cal, s_test = (None, None) if sig is None else (sig[cal], sig[~cal])
        audit = conformal_audit(
            y[cal], pred[cal], "regression", {"sex": sex[cal]}, difficulty=s_cal
        )
        th = audit.thresholds()
        for bins in (None, sex):
            b_cal, b_test = (None, None) if bins is None else (bins[cal], bins[~cal])
            cr = ConformalRegressor().fit(res, sigmas=s_cal, bins=b_cal)
            expected = cr.predict_int(pred[~cal, 0], sigmas=s_test, bins=b_test, confidence=LEVEL)
            group = None if bins is None else ("sex", b_test)
            got = apply_thresholds(pred[~cal], "regression", th, group=group, difficulty=s_test)
            np.testing.assert_allclose(got, expected, rtol=1e-12)


@pytest.mark.parametrize(
    ("loader", "columns", "kind"), [(load_iris, [1], "full"), (load_wine, None, "empty")]
)
def test_multiclass_sets(loader, columns, kind) -> None:
    data = loader()
    X = data.data if columns is None else data.data[:, columns]
    proba = _oof_proba(X, data.target)
    names = list(data.target_names)
    audit = conformal_audit(data.target, proba, "multiclass", {}, classes=names, level=LEVEL)
    m, k = audit.marginal, len(names)
    assert _contains(m["ci95"], LEVEL)
    assert m["coverage"] <= 1 - m["empty_fraction"] + 1e-12  # an empty set never covers
    assert m["coverage"] >= m["full_fraction"] - 1e-12  # a full set always covers
    assert k * m["full_fraction"] <= m["mean_size"] <= k * (1 - m["empty_fraction"])
    assert m[f"{kind}_fraction"] > 0
    sets = apply_thresholds(proba, "multiclass", audit.thresholds())
    assert all(s == "" or set(s.split(";")) <= set(names) for s in sets)
    assert (kind == "empty") == any(s == "" for s in sets)
    assert (kind == "full") == any(len(s.split(";")) == k for s in sets)


def test_survival_not_supported(actg) -> None:
    y, pred, groups = actg
    audit = conformal_audit(y, pred, "survival", groups)
    assert not audit.supported and audit.groups == [] and "not supported" in audit.notes[0]
    assert audit.to_dict()["method"] == "not supported"
    with pytest.raises(ValueError, match="not available"):
        apply_thresholds(pred, "survival", {"marginal": 1.0})


def test_audit_is_reproducible(diabetes) -> None:
    y, pred, frame = diabetes
    first = conformal_audit(y, pred, "regression", {"sex": _sex(frame)}, n_splits=5, seed=3)
    again = conformal_audit(y, pred, "regression", {"sex": _sex(frame)}, n_splits=5, seed=3)
    assert first.to_dict() == again.to_dict()
