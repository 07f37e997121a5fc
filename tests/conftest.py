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
