"""Shared fixtures for the insightome.io tests: a small mixed-type cohort."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

try:  # the package may not be installed in the environment running the tests
    import insightome.io  # noqa: F401
except ModuleNotFoundError:  # pragma: no cover - depends on the environment
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.fixture
def cohort() -> pd.DataFrame:
    """Eight samples: ID, two numeric features, a bool, a categorical, the target."""
    return pd.DataFrame(
        {
            "sample": [f"P{i}" for i in range(1, 9)],
            "age": [50.0, 61.5, 47.0, 70.0, 58.0, 66.0, 39.0, 55.0],
            "bmi": [22.1, np.nan, 30.2, 27.5, 24.0, 26.3, 21.8, 29.9],
            "smoker": [True, False, False, True, False, True, False, False],
            "stage": ["I", "II", "III", "II", None, "I", "IV", "III"],
            "label": [0, 1, 0, 1, 1, 0, 1, 0],
        }
    )


@pytest.fixture
def expected_x(cohort: pd.DataFrame) -> np.ndarray:
    """The numeric feature matrix the cohort should give (bool → 0/1)."""
    return cohort[["age", "bmi", "smoker"]].astype(float).to_numpy()
