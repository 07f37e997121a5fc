"""The audit with ``--groups``: whole patients are resampled and split, as in BBC-CV.

Breast cancer (scikit-learn) with a sensitive attribute assigned at random, audited once as
it is (one sample per patient) and once with every row present three times under one
patient ID. The copies add no information, so an audit that resamples whole patients gives
the same interval widths and verdicts; one that resamples samples gives intervals about √3
narrower, and disparities that pass by chance.
"""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import insightome
from insightome.audit.auditing import AuditSettings, audit_model
from insightome.evaluate.splitters import make_plan
from insightome.models.candidates import Candidate
from tests.conftest import breast_cancer_adata

COPIES = 3
WINNER = Candidate("ridge_logistic", {"C": 1.0}, None, "binary")


def _audit(adata: ad.AnnData, oof: np.ndarray, groups: str | None) -> dict:
    study = insightome.make_study(
        adata, target="diagnosis", sensitive=["site"], groups=groups, positive_class="malignant"
    )
    plan = make_plan(study.y, "binary", folds=5, repeats=1, seed=0, groups=study.groups)
    part, thresholds = audit_model(
        study, WINNER, plan, oof, AuditSettings(), ranking=list(study.features.columns[:2]),
        n_bootstrap=300, seed=0,
    )  # fmt: skip
    assert thresholds is not None
    return part


@pytest.fixture(scope="module")
def audits() -> tuple[dict, dict]:
    """(audit of the data, audit of the data with every patient present three times)."""
    adata = breast_cancer_adata()
    rng = np.random.default_rng(0)
    adata.obs["site"] = rng.choice(["A", "B", "C"], size=adata.n_obs, p=[0.5, 0.3, 0.2])
    y = (adata.obs["diagnosis"] == "malignant").to_numpy(int)
    model = make_pipeline(StandardScaler(), LogisticRegression())
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    p = cross_val_predict(model, adata.X, y, cv=cv, method="predict_proba")[:, 1]
    oof = p[None, :, None]  # (repeats, samples, 1)

    copies = ad.concat([adata] * COPIES, index_unique="_")
    copies.obs["patient"] = np.tile([f"p{i:04d}" for i in range(adata.n_obs)], COPIES)
    copies_oof = np.tile(oof, (1, COPIES, 1))
    return _audit(adata, oof, None), _audit(copies, copies_oof, "patient")


def _width(ci: list[float] | None) -> float:
    return np.nan if ci is None else ci[1] - ci[0]


def _widths(part: dict) -> dict[str, float]:
    """Every interval width of the model audit and the conformal audit, by name."""
    model, conformal = part["model"], part["conformal"]
    out = {f"overall {m}": _width(v["ci95"]) for m, v in model["overall"].items()}
    for r in model["groups"]:
        for key in ("ci95", "difference_ci95"):
            out[f"{r['group']} {r['metric']} {key}"] = _width(r[key])
    out["conformal marginal"] = _width(conformal["marginal"]["ci95"])
    for r in conformal["groups"]:
        out[f"conformal {r['group']}"] = _width(r["ci95"])
        out[f"conformal {r['group']} mondrian"] = _width(r["mondrian_ci95"])
    return {k: v for k, v in out.items() if np.isfinite(v) and v > 0}


def test_copies_of_a_patient_do_not_narrow_the_audit_intervals(audits) -> None:
    plain, copied = (_widths(a) for a in audits)
    assert len(plain) > 40 and plain.keys() == copied.keys()
    ratio = pd.Series({k: copied[k] / plain[k] for k in plain})
    # resampling samples instead of patients gives ~1/√3 = 0.58 here
    assert ratio.between(0.9, 1.1).all(), ratio[~ratio.between(0.9, 1.1)].to_dict()


def test_copies_of_a_patient_raise_no_new_flag(audits) -> None:
    plain, copied = ({(f["group"], f["metric"]) for f in a["model"]["flags"]} for a in audits)
    assert copied <= plain, copied - plain
    plain, copied = ({(r["group"], r["metric"]): r["verdict"] for r in a["model"]["groups"]}
                     for a in audits)  # fmt: skip
    assert plain == copied


def test_the_audit_says_it_resampled_patients(audits) -> None:
    _, copied = audits
    assert f"all {569} groups (--groups; {569 * COPIES} samples)" in copied["model"]["notes"][0]
    assert "whole groups (--groups, 569)" in copied["conformal"]["method"]


def test_large_cohort_subset_takes_whole_patients() -> None:
    """Above CONFORMAL_MAX_N samples the conformal audit subsets whole patients."""
    from insightome.audit.auditing import _subset

    patients = np.repeat(np.arange(400), np.tile([1, 2, 3, 6], 100))  # 1200 samples
    rows = _subset(len(patients), patients, 500, np.random.default_rng(0))
    kept = pd.Series(patients[rows]).value_counts()
    assert 494 <= len(rows) <= 500 and np.all(np.diff(rows) > 0)
    assert (kept == pd.Series(patients).value_counts()[kept.index]).all()  # whole patients
    plain = _subset(1200, None, 500, np.random.default_rng(0))
    assert len(plain) == 500 and len(np.unique(plain)) == 500
