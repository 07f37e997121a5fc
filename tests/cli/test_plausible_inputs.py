"""Plausible inputs that used to end in a traceback: they run end to end, with notes.

* a table whose features are all categorical (every stage that needs numbers skips
  with a note: subgroups, the equivalents screen, pathways);
* a European CSV export (';' separator, decimal comma), whose numbers were read as
  categories before.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from insightome.discover.subgroups import find_subgroups
from tests.cli.conftest import run_dirs

QUICK = ("--preset", "fast", "--folds", "3", "--repeats", "1", "--bootstrap", "100", "--quiet")


@pytest.fixture(scope="module")
def graded() -> pd.DataFrame:
    """The breast-cancer tumours described by categories only (tertiles of 4 measurements,
    as a pathologist's grades), plus an age-like sensitive category."""
    bunch = load_breast_cancer(as_frame=True)
    df = pd.DataFrame({"sample": [f"T{i:03d}" for i in range(len(bunch.frame))]})
    for name in ("mean radius", "mean texture", "worst concave points", "worst area"):
        df[name.replace(" ", "_")] = pd.qcut(bunch.frame[name], 3, labels=["low", "mid", "high"])
    df["site"] = np.where(np.arange(len(df)) % 3 == 0, "north", "south")
    df["diagnosis"] = bunch.frame["target"].map({0: "malignant", 1: "benign"})
    return df


def test_find_subgroups_without_numeric_features(graded):
    features = graded.drop(columns=["sample", "diagnosis"]).astype("category")
    y = (graded["diagnosis"] == "malignant").to_numpy(int)
    result = find_subgroups(features, y, "binary", n_resamples=2)
    assert result.k is None
    assert any("0 usable numeric feature" in n for n in result.notes)


def test_all_categorical_table_end_to_end(cli, tmp_path, graded):
    path = tmp_path / "graded.csv"
    graded.to_csv(path, index=False)
    gmt = tmp_path / "sets.gmt"
    gmt.write_text("GRADES\tdemo\tmean_radius\tworst_area\tmean_texture\n")
    out = tmp_path / "runs"
    r = cli("run", path, "--target", "diagnosis", "--sensitive", "site", "--genesets", gmt,
            "--out", out, *QUICK)  # fmt: skip
    assert r.code == 0, r.err
    (run_dir,) = run_dirs(out)
    assert (run_dir / "report.html").is_file() and (run_dir / "MODEL_CARD.md").is_file()
    results = json.loads((run_dir / "results.json").read_text())
    assert results["n_features"] == 4
    notes = results["discovery"]["notes"]
    assert any("no numeric features" in n and "subgroup" in n for n in notes), notes
    assert results["discovery"]["pathways"] is None
    assert results["discovery"]["subgroups"]["k"] is None
    assert results["discovery"]["effects"]["n_tested"] == 4
    assert results["audit"]["model"] is not None
    assert "no numeric features" in (run_dir / "run.log").read_text()


def test_european_csv_end_to_end(cli, tmp_path: Path):
    bunch = load_breast_cancer(as_frame=True)
    df = bunch.frame.rename(columns=lambda c: c.replace(" ", "_"))
    df["diagnosis"] = df.pop("target").map({0: "malignant", 1: "benign"})
    path = tmp_path / "mama.csv"
    df.to_csv(path, sep=";", decimal=",", index=False)
    out = tmp_path / "runs"
    r = cli("run", path, "--target", "diagnosis", "--no-discover", "--no-audit", "--out", out,
            *QUICK)  # fmt: skip
    assert r.code == 0, r.err
    (run_dir,) = run_dirs(out)
    results = json.loads((run_dir / "results.json").read_text())
    assert results["n_features"] == 30
    assert any("decimal comma detected" in n for n in results["notes"])
    assert results["estimate"]["value"] > 0.9  # numbers, not 569 categories per column
    assert results["invocation"]["decimal"] == "auto"


def test_saved_run_reads_new_data_with_its_own_decimal_mark(cli, tmp_path: Path):
    """A run trained with ``--decimal ,`` (thousands written 1.234, decimals 0,5 — which
    'auto' refuses as mixed marks) scores, validates and monitors the same export without
    being told again; ``--decimal`` on those commands still overrides."""
    bunch = load_breast_cancer(as_frame=True)
    df = bunch.frame.rename(columns=lambda c: c.replace(" ", "_"))
    df["diagnosis"] = df.pop("target").map({0: "malignant", 1: "benign"})
    df.insert(0, "sample", [f"S{i}" for i in range(len(df))])
    # worst_area as a whole number with a thousands point (2.019), as such exports write it
    whole = df["worst_area"].round().astype(int)
    df["worst_area"] = whole.map(lambda v: f"{v:,}".replace(",", "."))
    train, new = tmp_path / "train.csv", tmp_path / "new.csv"
    df.iloc[:400].to_csv(train, sep=";", decimal=",", index=False)
    df.iloc[400:].to_csv(new, sep=";", decimal=",", index=False)
    assert ";17,99;" in train.read_text()  # the other measurements have a decimal comma
    out = tmp_path / "runs"
    auto = cli("run", train, "--target", "diagnosis", "--id-column", "sample", "--out", out,
               "--no-discover", "--no-audit", *QUICK)  # fmt: skip
    assert auto.code == 2 and "worst_area" in auto.err  # 'auto' refuses the mixed marks
    r = cli("run", train, "--target", "diagnosis", "--id-column", "sample", "--decimal", ",",
            "--out", out, "--no-discover", "--no-audit", *QUICK)  # fmt: skip
    assert r.code == 0, r.err
    (run_dir,) = run_dirs(out)
    predicted = cli("predict", run_dir, new, "--id-column", "sample", "-o", tmp_path / "p.csv")
    assert predicted.code == 0, predicted.err
    assert len(pd.read_csv(tmp_path / "p.csv")) == len(df) - 400
    validated = cli("validate", run_dir, new, "--id-column", "sample", "--out", tmp_path / "v")
    assert validated.code == 0, validated.err
    overridden = cli("predict", run_dir, new, "--id-column", "sample", "--decimal", "auto")
    assert overridden.code == 2 and "worst_area" in overridden.err
