"""Shared fixtures: real data shipped inside dependencies, and ../shared/data when present."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pytest


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys, monkeypatch) -> Callable[..., Result]:
    """``cli(*args)`` runs ``insightome ARGS`` through the real entry point, in-process:
    exit code, stdout and stderr, as a user would see them."""
    from insightome.cli.app import main

    def invoke(*args: object) -> Result:
        monkeypatch.setattr(sys, "argv", ["insightome", *map(str, args)])
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return invoke


# INSIGHTOME_SHARED_DATA=/nonexistent simulates a clone without ../shared (a user's, a CI's)
SHARED_DATA = Path(
    os.environ.get("INSIGHTOME_SHARED_DATA")
    or Path(__file__).resolve().parents[1].parent / "shared" / "data"
)


def without_module(name: str) -> str:
    """Python code that makes ``import name`` fail from then on, as if it were not installed
    (a finder first on ``sys.meta_path``; ``sys.modules[name] = None`` would break SciPy,
    which looks some optional modules up there). Put it first in a subprocess's code."""
    return (
        "import sys\n"
        "class _NotInstalled:\n"
        "    def find_spec(self, fullname, path=None, target=None):\n"
        f"        if fullname == {name!r} or fullname.startswith({name + '.'!r}):\n"
        f'            raise ModuleNotFoundError("No module named {name!r}")\n'
        "sys.meta_path.insert(0, _NotInstalled())\n"
    )


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


def invalid_results_files(root: Path) -> list[str]:
    """One line per results.json of a run directory (beside model.json) under ``root``
    that does not match the results types: the file, the JSON path and what is wrong."""
    import json

    from insightome.results import ResultsSchemaError, validate_results

    problems = []
    for path in sorted(root.rglob("results.json")):
        if not (path.parent / "model.json").is_file():
            continue  # not a run directory (a test's stand-in file)
        try:
            validate_results(json.loads(path.read_text(encoding="utf-8")), where=str(path))
        except (ResultsSchemaError, ValueError) as exc:
            problems.append(str(exc))
    return problems


@pytest.fixture(scope="session", autouse=True)
def every_written_results_json_is_valid(tmp_path_factory):
    """After the session, every results.json the tests wrote under this session's (or this
    xdist worker's) base temporary directory matches the results types."""
    yield
    problems = invalid_results_files(tmp_path_factory.getbasetemp())
    if problems:
        pytest.fail("results.json not matching its schema:\n" + "\n".join(problems))
