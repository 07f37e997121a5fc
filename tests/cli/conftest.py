"""CLI test data; the in-process runner ``cli`` is in tests/conftest.py."""

from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path

import pytest
from sklearn import datasets

from insightome.cli.app import main

FAST = (
    "--preset", "fast", "--folds", "3", "--repeats", "1", "--bootstrap", "200", "--quiet",
    "--no-discover",
)  # fmt: skip


@pytest.fixture(scope="session")
def breast_csv(tmp_path_factory) -> Path:
    """scikit-learn's Wisconsin breast-cancer data (569 tumours) as a clinical-style CSV."""
    bunch = datasets.load_breast_cancer(as_frame=True)
    df = bunch.frame.rename(columns=lambda c: c.replace(" ", "_"))
    df["diagnosis"] = df.pop("target").map({0: "malignant", 1: "benign"})
    df.insert(0, "sample", [f"T{i:03d}" for i in range(len(df))])
    path = tmp_path_factory.mktemp("data") / "breast.csv"
    df.to_csv(path, index=False)
    return path


def run_dirs(parent: Path) -> list[Path]:
    return [p for p in parent.glob("*") if p.is_dir()] if parent.exists() else []


def split_csv(
    source: Path, folder: Path, n_first: int, names: tuple[str, str]
) -> tuple[Path, Path]:
    """The first ``n_first`` rows and the rest of a CSV, as two cohorts (e.g. dev / new)."""
    import pandas as pd

    df = pd.read_csv(source)
    first, rest = folder / names[0], folder / names[1]
    df.iloc[:n_first].to_csv(first, index=False)
    df.iloc[n_first:].to_csv(rest, index=False)
    return first, rest


def invoke(*args: object) -> str:
    """``insightome ARGS`` through the real entry point (in this process); its stdout.
    A non-zero exit fails the test with what was printed."""
    argv, buffer = sys.argv, io.StringIO()
    sys.argv = ["insightome", *map(str, args)]
    try:
        with contextlib.redirect_stdout(buffer):
            main()
    except SystemExit as exc:
        assert not exc.code, f"insightome {args[0]} exited with {exc.code}: {buffer.getvalue()}"
    finally:
        sys.argv = argv
    return buffer.getvalue()


def run_once(out: Path, *args: object) -> Path:
    """``insightome run ARGS --out OUT`` through the real entry point; its run directory.

    For module-scoped fixtures, where the function-scoped ``cli`` fixture is not available.
    """
    invoke("run", *args, "--out", out)
    (found,) = run_dirs(out)
    return found
