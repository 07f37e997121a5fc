"""pyproject.toml: what pip resolves on each platform, and the floors the code needs."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from insightome.models.candidates import SKLEARN_MIN

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"

# the marker environments of a Mac laptop (Apple silicon), a Linux server and Windows
PLATFORMS = {
    "Darwin": {"platform_system": "Darwin", "sys_platform": "darwin", "platform_machine": "arm64"},
    "Linux": {"platform_system": "Linux", "sys_platform": "linux", "platform_machine": "x86_64"},
    "Windows": {"platform_system": "Windows", "sys_platform": "win32", "platform_machine": "AMD64"},
}


def _project() -> dict:
    with PYPROJECT.open("rb") as f:
        return tomllib.load(f)


def _resolved(platform: str) -> dict[str, Requirement]:
    """The dependencies pip installs on ``platform``: those whose marker holds there."""
    out = {}
    for line in _project()["project"]["dependencies"]:
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate(PLATFORMS[platform]):
            assert req.name not in out, f"{req.name} is required twice on {platform}"
            out[req.name] = req
    return out


def _floor(req: Requirement) -> Version:
    (floor,) = [Version(s.version) for s in req.specifier if s.operator == ">="]
    return floor


@pytest.mark.parametrize(
    ("platform", "xgboost"),
    [("Darwin", "xgboost"), ("Linux", "xgboost-cpu"), ("Windows", "xgboost-cpu")],
)
def test_each_platform_gets_an_xgboost_that_has_wheels_for_it(platform, xgboost):
    """xgboost-cpu ships Linux and Windows wheels only: a Mac gets xgboost (same module)."""
    deps = _resolved(platform)
    names = {n for n in deps if n.startswith("xgboost")}
    assert names == {xgboost}
    assert _floor(deps[xgboost]) == Version("2.1")


def test_build_backend_understands_the_spdx_licence_string():
    """``license = "BSD-3-Clause"`` (PEP 639) needs setuptools 77 or later."""
    project = _project()
    assert isinstance(project["project"]["license"], str)
    (setuptools,) = [
        Requirement(r)
        for r in project["build-system"]["requires"]
        if Requirement(r).name == "setuptools"
    ]
    assert _floor(setuptools) >= Version("77")
    assert not setuptools.specifier.contains("76.9")


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_scikit_learn_floor_is_the_version_the_candidates_need(platform):
    """candidates.py takes the logistic penalty from l1_ratio (scikit-learn 1.8 on)."""
    sklearn = _resolved(platform)["scikit-learn"]
    assert _floor(sklearn) == Version(SKLEARN_MIN)
    assert not sklearn.specifier.contains("1.7.2")
