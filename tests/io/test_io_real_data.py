"""Real public data sets load as documented (skipped when the data are absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from insightome.io import read

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _lifelines_dataset(name: str) -> Path:
    lifelines = pytest.importorskip("lifelines")
    path = Path(lifelines.__file__).parent / "datasets" / name
    if not path.is_file():
        pytest.skip(f"{name} not shipped with this lifelines")
    return path


def _shared(relative: str) -> Path:
    path = SHARED_DATA / relative
    if not path.is_file():
        pytest.skip(f"{path} not available")
    return path


def test_actg175_keeps_outcomes_in_obs() -> None:
    adata = read(_lifelines_dataset("ACTG175.csv"), keep_in_obs=["cens", "days", "gender"])
    assert adata.n_obs == 2139
    assert list(adata.obs.columns) == ["cens", "days", "gender"]
    assert not {"cens", "days", "gender"} & set(adata.var_names)
    assert "pidnum" in adata.var_names
    assert list(adata.obs_names[:3]) == ["1", "2", "3"]
    assert adata.n_vars == 27 - 3
    assert np.isnan(adata.X[:, list(adata.var_names).index("cd496")]).any()
    assert set(adata.obs["cens"].unique()) == {0, 1}


def test_colon_mat() -> None:
    adata = read(_shared("omics/colon.mat"))
    assert adata.shape == (62, 2000)
    assert adata.X.dtype == np.float64
    assert adata.obs["Y"].nunique() == 2
    assert adata.obs["Y"].dtype == np.int64


@pytest.mark.parametrize(
    ("name", "shape", "n_classes"),
    [
        ("ALLAML.mat", (72, 7129), 2),
        ("GLIOMA.mat", (50, 4434), 4),
        ("Prostate_GE.mat", (102, 5966), 2),
        ("leukemia.mat", (72, 7070), 2),
        ("lymphoma.mat", (96, 4026), 9),
    ],
)
def test_other_omics_mat(name: str, shape: tuple[int, int], n_classes: int) -> None:
    adata = read(_shared(f"omics/{name}"))
    assert adata.shape == shape
    assert adata.obs["Y"].nunique() == n_classes


def test_tcga_stad_expression_with_clinical_annotations() -> None:
    expression = _shared("cohorts/tcga_stad/expression_xena_stad_1577genes.csv")
    clinical = _shared("cohorts/tcga_stad/cohort_stad_patients.csv")
    adata = read(expression, annotations=clinical)
    assert adata.shape == (336, 1577)
    assert adata.obs_names[0].startswith("TCGA-")
    assert adata.uns["provenance"]["orientation"] == "samples-by-features"
    assert {"OS", "OS.time", "gender"} <= set(adata.obs.columns)
    assert not np.isnan(adata.X).any()
