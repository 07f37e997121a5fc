"""The data audit with ``--groups``: patients, not samples, are counted and split.

Breast cancer (scikit-learn) with a sensitive attribute and a site assigned at random,
audited once as it is (one sample per patient) and once with every row present three times
under one patient ID. The copies add no information: prevalences with their Wilson CIs, the
site test and the proxy AUCs must be those of the data without copies (not √3 tighter), and
no new flag may appear. A second, generated cohort (several noisy visits per patient, many
features, an attribute unrelated to them) shows why the proxy model must be split by patient:
split by sample, it recognises the patients and "predicts" the attribute.
"""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest

import insightome
from insightome.audit.auditing import AuditSettings, audit_data
from insightome.audit.data_audit import data_audit
from insightome.groups.labels import group_labels
from tests.conftest import breast_cancer_adata

COPIES = 3


def _audit(adata: ad.AnnData, groups: str | None) -> dict:
    study = insightome.make_study(
        adata, target="diagnosis", sensitive=["sex"], site="centre", groups=groups,
        positive_class="malignant",
    )  # fmt: skip
    return audit_data(study, AuditSettings(), seed=0)


@pytest.fixture(scope="module")
def audits() -> tuple[dict, dict]:
    """(data audit of the data, of the data with every patient present three times)."""
    adata = breast_cancer_adata()
    rng = np.random.default_rng(0)
    adata.obs["sex"] = rng.choice(["F", "M"], size=adata.n_obs, p=[0.6, 0.4])
    # a site mildly associated with the outcome: p ≈ 0.1 on patients, < 0.01 on 3 copies
    malignant = (adata.obs["diagnosis"] == "malignant").to_numpy()
    adata.obs["centre"] = np.where(
        rng.random(adata.n_obs) < np.where(malignant, 0.40, 0.33), "north", "south"
    )
    copies = ad.concat([adata] * COPIES, index_unique="_")
    copies.obs["patient"] = np.tile([f"p{i:04d}" for i in range(adata.n_obs)], COPIES)
    return _audit(adata, None), _audit(copies, "patient")


def _representation(part: dict) -> dict[tuple[str, str], dict]:
    return {(r["attribute"], r["group"]): r for r in part["representation"]}


def test_prevalence_intervals_are_those_of_the_patients(audits) -> None:
    plain, copied = (_representation(a) for a in audits)
    assert plain.keys() == copied.keys() and len(plain) == 2
    for key, row in plain.items():
        assert copied[key]["n"] == row["n"]
        assert copied[key]["percent"] == pytest.approx(row["percent"])
        plain_outcome, copied_outcome = row["outcome"], copied[key]["outcome"]
        assert copied_outcome["n_positive"] == plain_outcome["n_positive"]
        assert copied_outcome["prevalence"] == pytest.approx(plain_outcome["prevalence"])
        ci = plain_outcome["prevalence_ci95"]
        assert copied_outcome["prevalence_ci95"] == pytest.approx(ci)  # not √3 narrower


def test_site_test_counts_patients(audits) -> None:
    plain, copied = (a["confounding"] for a in audits)
    assert copied["p_value"] == pytest.approx(plain["p_value"])
    assert copied["statistic"] == pytest.approx(plain["statistic"])
    assert copied["cramers_v"] == pytest.approx(plain["cramers_v"])
    assert plain["p_value"] > 0.05  # on samples the copies give p < 0.01


def test_proxy_aucs_and_flags_are_those_of_the_patients(audits) -> None:
    plain, copied = (a["proxies"]["attributes"][0] for a in audits)
    assert copied["max_univariate_auc"] == pytest.approx(plain["max_univariate_auc"])
    top = [(t["feature"], pytest.approx(t["auc"])) for t in plain["top_features"]]
    assert [(t["feature"], t["auc"]) for t in copied["top_features"]] == top
    assert copied["multivariate_auc"] == pytest.approx(plain["multivariate_auc"], abs=0.03)
    assert copied["flagged"] == plain["flagged"] is False


def test_the_data_audit_says_it_counted_patients(audits) -> None:
    _, copied = audits
    notes = " ".join(copied["notes"])
    assert "569 patients, 1707 samples" in notes
    assert "a patient's samples in one fold" in notes


def _visits(n_patients: int = 120, visits: int = 3, p: int = 400) -> tuple:
    """Patients with ``visits`` noisy samples each, ``p`` features, a random attribute."""
    rng = np.random.default_rng(1)
    base = rng.normal(size=(n_patients, p))
    patient = np.repeat(np.arange(n_patients), visits)
    X = pd.DataFrame(base[patient] + 0.3 * rng.normal(size=(len(patient), p)))
    X.columns = [f"g{j}" for j in range(p)]
    sex = rng.choice(["F", "M"], size=n_patients)[patient]
    y = rng.integers(0, 2, size=n_patients)[patient]
    return X, y, group_labels(pd.DataFrame({"sex": sex}), ["sex"]), patient


def test_proxy_model_is_split_by_patient() -> None:
    X, y, sex, patient = _visits()
    by_sample = data_audit(X, y, "binary", sex).proxies["attributes"][0]
    assert by_sample["multivariate_auc"] > 0.9 and by_sample["flagged"]  # it knows the patients
    by_patient = data_audit(X, y, "binary", sex, sample_groups=patient).proxies["attributes"][0]
    assert by_patient["multivariate_auc"] < 0.7 and not by_patient["flagged"]


def test_an_attribute_that_varies_within_patients_is_said() -> None:
    X, y, sex, patient = _visits(p=20)
    labels = sex["sex"].to_numpy(copy=True)
    labels[0] = "M" if labels[0] == "F" else "F"  # patient 0's first visit
    result = data_audit(X, y, "binary", {"sex": pd.Series(labels)}, sample_groups=patient)
    assert any("'sex' varies within 1 patient" in note for note in result.notes)
    assert sum(r["n"] for r in result.representation) == 120  # each patient counted once


def test_an_outcome_that_varies_within_patients_is_said() -> None:
    X, y, sex, patient = _visits(p=20)
    y = y.copy()
    y[0] = 1 - y[0]
    result = data_audit(X, y, "binary", sex, sample_groups=patient)
    assert any("groups not respected" in note for note in result.notes)
    assert sum(r["n"] for r in result.representation) == 360  # samples, as the note says
