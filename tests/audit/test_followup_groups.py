"""``validate`` and ``monitor`` of a run made with ``--groups`` resample whole patients.

A run on breast cancer (scikit-learn) with a patient column; the remaining tumours are a new
cohort, given once and with every row present three times under one patient ID. The copies
add no information, so the bootstrap CIs must be those of the cohort without copies (a
bootstrap of rows gives them about √3 narrower). A cohort without the run's groups column
is scored row by row, with a warning that says so. The same run also records that the
linear SVM's internal calibration split cannot keep a patient's samples together.
"""

from __future__ import annotations

from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest

import insightome
from insightome.monitoring import monitor
from insightome.run_directory import Run
from insightome.validation import validate
from tests.conftest import breast_cancer_adata

COPIES = 3


@pytest.fixture(scope="module")
def setting(tmp_path_factory) -> tuple[Run, ad.AnnData, Path]:
    """(run with --groups, the new cohort as AnnData, a folder for files)."""
    full = breast_cancer_adata()
    order = np.random.default_rng(0).permutation(full.n_obs)
    dev, new = full[order[:340]].copy(), full[order[340:]].copy()
    dev.obs["patient"] = [f"d{i:04d}" for i in range(dev.n_obs)]
    new.obs["patient"] = [f"n{i:04d}" for i in range(new.n_obs)]
    run = insightome.run(
        dev, "diagnosis", groups="patient", positive_class="malignant", preset="fast",
        folds=3, repeats=1, n_bootstrap=200, out_dir=tmp_path_factory.mktemp("runs"),
        discover=False, audit=False,
    )  # fmt: skip
    return Run.load(run.path), new, tmp_path_factory.mktemp("cohorts")


def _copies(adata: ad.AnnData) -> ad.AnnData:
    return ad.concat([adata] * COPIES, index_unique="_")


def _csv(adata: ad.AnnData, path: Path, columns: tuple[str, ...]) -> Path:
    table = pd.DataFrame(adata.X, columns=adata.var_names)
    for c in columns:
        table[c] = adata.obs[c].to_numpy()
    table.insert(0, "sample", [f"s{i:05d}" for i in range(adata.n_obs)])
    table.to_csv(path, index=False)
    return path


def _validate(setting, adata: ad.AnnData, name: str, columns: tuple[str, ...]) -> dict:
    run, _, folder = setting
    path = _csv(adata, folder / f"{name}.csv", columns)
    return validate(run.path, path, id_column="sample", out_dir=folder / name)


def _widths(report: dict) -> dict[str, float]:
    return {m: v["ci95"][1] - v["ci95"][0] for m, v in report["models"]["full"]["metrics"].items()}


def test_validate_resamples_patients(setting) -> None:
    _, new, _ = setting
    once = _validate(setting, new, "once", ("diagnosis", "patient"))
    thrice = _validate(setting, _copies(new), "thrice", ("diagnosis", "patient"))
    plain, copied = _widths(once), _widths(thrice)
    assert len(plain) >= 3 and all(w > 0 for w in plain.values())
    for metric, width in plain.items():  # rows resampled: about 1/√3 = 0.58
        assert copied[metric] == pytest.approx(width, rel=0.1), metric
    assert "229 patients" in thrice["bootstrap"] and "687 samples" in thrice["bootstrap"]
    assert not any("independent" in w for w in thrice["warnings"])


def test_validate_warns_without_the_groups_column(setting) -> None:
    _, new, _ = setting
    report = _validate(setting, _copies(new), "no-groups", ("diagnosis",))
    assert any("'patient'" in w and "independent" in w for w in report["warnings"])
    assert "687 samples" in report["bootstrap"] and "patients" not in report["bootstrap"]


def test_monitor_resamples_patients(setting) -> None:
    run, new, _ = setting
    once = monitor(run, new, labels="diagnosis", n_bootstrap=300).performance
    copied = monitor(run, _copies(new), labels="diagnosis", n_bootstrap=300)
    width = once["ci95"][1] - once["ci95"][0]
    assert copied.performance["ci95"][1] - copied.performance["ci95"][0] == pytest.approx(
        width, rel=0.1
    )
    assert any("whole patients" in note and "'patient'" in note for note in copied.notes)


def test_monitor_warns_without_the_groups_column(setting) -> None:
    run, new, _ = setting
    without = _copies(new)
    del without.obs["patient"]
    report = monitor(run, without, labels="diagnosis", n_bootstrap=300)
    assert any("'patient'" in n and "independent" in n for n in report.notes)


def test_run_notes_that_the_svm_calibration_split_ignores_groups(setting) -> None:
    run, _, _ = setting
    assert any(c["family"] == "linear_svm" for c in run.results["configurations"])
    notes = [n for n in run.results["notes"] if "linear_svm" in n and "--groups" in n]
    assert len(notes) == 1 and "calibration" in notes[0]
