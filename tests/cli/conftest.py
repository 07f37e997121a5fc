"""Run the real CLI entry point in-process and capture what a user would see."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sklearn import datasets

from insightome.cli.app import main


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys, monkeypatch) -> Callable[..., Result]:
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
