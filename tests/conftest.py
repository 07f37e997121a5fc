"""Shared fixtures: real data shipped inside dependencies, and ../shared/data when present."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data; skip the test cleanly when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data not available: {path}")
    return path


@pytest.fixture(scope="session")
def actg175_path() -> Path:
    return Path(str(resources.files("lifelines.datasets").joinpath("ACTG175.csv")))


def breast_cancer_adata(n_rows: int | None = None, n_cols: int | None = None):
    """scikit-learn's breast-cancer data as an AnnData; obs['diagnosis'] is the outcome."""
    import anndata as ad
    import numpy as np
    import pandas as pd
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    X = bunch.data.iloc[:n_rows, :n_cols]
    labels = np.where(bunch.target.iloc[:n_rows] == 0, "malignant", "benign")
    obs = pd.DataFrame({"diagnosis": labels}, index=X.index.astype(str))
    return ad.AnnData(X.to_numpy(float), obs=obs, var=pd.DataFrame(index=X.columns))
