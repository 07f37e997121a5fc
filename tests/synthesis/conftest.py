"""Real cohort tables for the generators' tests: shipped with lifelines, and heart failure
from ../shared/data when present."""

from __future__ import annotations

import pandas as pd
import pytest
from lifelines.datasets import load_gbsg2, load_lung

from tests.conftest import shared_data

HEART_FAILURE = ("cohorts", "heart_failure", "heart_failure_clinical_records_dataset.csv")
ACTG_EXCLUDE = ("days", "cd420", "cd496", "r", "cd820", "offtrt", "treat")  # post-baseline


@pytest.fixture(scope="session")
def heart_failure() -> pd.DataFrame:
    return pd.read_csv(shared_data(*HEART_FAILURE))


@pytest.fixture(scope="session")
def actg175(actg175_path) -> pd.DataFrame:
    """ACTG 175's baseline table (as benchmarks/small_n_cohorts.py reads it), no ID."""
    frame = pd.read_csv(actg175_path, index_col=0)
    return frame.drop(columns=[*ACTG_EXCLUDE, "pidnum"]).reset_index(drop=True)


@pytest.fixture(scope="session")
def gbsg2() -> pd.DataFrame:
    """German breast cancer study: text categories (horTh, menostat, tgrade)."""
    return load_gbsg2()


@pytest.fixture(scope="session")
def lung() -> pd.DataFrame:
    """NCCTG lung cancer: missing values in six columns (meal.cal: 21%)."""
    return load_lung()
