"""The coverage study of the default run (benchmarks/coverage_defaults.py): the bootstraps it
keeps give back the run's own interval, it knows when the average won, its cells and its
narrowest multiple are what they say, and the README's figures come from its table."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

import insightome
from tests.conftest import breast_cancer_adata

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import coverage_defaults  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def test_the_kept_bootstraps_give_back_the_runs_interval():
    box: dict = {}
    run = insightome.run(
        breast_cancer_adata(n_rows=200, n_cols=6), "diagnosis", out_dir=None, discover=False,
        audit=False, repeats=2, n_bootstrap=300, seed=0,
        stages=[coverage_defaults._keep_bbc(box)],
    )  # fmt: skip
    est = run.results["estimate"]
    assert coverage_defaults.widened(box["oob"], 1.0) == pytest.approx(est["ci95"], abs=1e-12)
    lo, hi = est["ci95"]
    lo8, hi8 = coverage_defaults.widened(box["oob"], 0.8)
    assert lo < lo8 < hi8 < hi
    # the default preset offered the average of the top 3 (the last configuration)
    assert len(box["averaged"]) == 3
    assert box["n_configurations"] == len(run.results["configurations"])
    won = box["winner"] == box["n_configurations"] - 1
    assert won == (run.results["winner"]["family"] == "average")
    assert 0.0 <= box["average_chosen_share"] <= 1.0


def _row(n: int, rep: int, covered: dict[float, bool], task: str = "binary") -> dict:
    """A captured run whose held-out score 0.7 is inside exactly the intervals named."""

    def interval(inside: bool) -> list[float]:
        return [0.6, 0.8] if inside else [0.75, 0.8]

    return {
        "dataset": "x", "n": n, "rep": rep, "task": task, "heldout": 0.7, "estimate": 0.68,
        "ci95": interval(covered.get(1.0, True)), "averaged": [0, 1, 2] if task != "survival"
        else [], "average_won": rep % 2 == 0 and task != "survival", "cpu_seconds": 10.0,
        "intervals": {f"x{m:.2f}": interval(covered.get(m, True))
                      for m in coverage_defaults.MULTIPLES},
    }  # fmt: skip


def test_cells_coverage_and_the_narrowest_multiple():
    rows = []
    for rep in range(20):  # development: x0.60 misses 1 in 5 at n = 30, x0.65 1 in 20
        rows.append(_row(30, rep, {0.6: rep % 5 != 0, 0.65: rep != 0}))
        rows.append(_row(50, rep, {0.6: rep % 5 != 0}))
        rows.append(_row(100, rep, {}, task="survival"))
    rows.append(_row(30, 20, {0.6: False, 0.65: False, 0.7: False}))  # confirmation only
    summary = coverage_defaults.summarize(rows)
    dev30 = summary["development draws, n = 30"]
    assert dev30["runs"] == 20 and dev30["intervals"]["x0.60"]["coverage"] == 0.8
    assert dev30["intervals"]["x0.65"]["coverage"] == 0.95
    assert dev30["average_won"] == 10 and dev30["average_possible"] == 20
    assert summary["development draws, all n"]["runs"] == 60
    assert summary["development draws, survival (TCGA; no average)"]["runs"] == 20
    assert summary["development draws, runs the average won"]["runs"] == 20
    assert summary["confirmation draws, n = 30"]["intervals"]["x0.70"]["coverage"] == 0.0
    assert summary["development draws, all n"]["errors"]["mean_error"] == pytest.approx(-0.02)
    # x0.60 and x0.65 miss 90% at n = 30 (x0.65: 95%, but x0.60 80%); the confirmation draw
    # never chooses
    assert coverage_defaults.narrowest(summary) == "x0.65"
    text = coverage_defaults.render(summary, {"command": "c", "date": "d", "machine": "m",
                                              "runs": len(rows)})  # fmt: skip
    assert "`x0.65` on the development draws; confirmed on confirmation draws" in text
    assert "| development draws, n = 30 | 20 | 10 / 20 |" in text


def test_readme_coverage_figures_come_from_the_results_table():
    table = (REPO / "benchmarks" / "results" / "coverage_defaults.md").read_text()
    data = json.loads((REPO / "benchmarks" / "results" / "coverage_defaults.json").read_text())
    assert data["meta"]["runs"] >= 200
    readme = (REPO / "README.md").read_text().replace("−", "-")
    start = readme.index("* **The default run, the average included")
    section = readme[start : readme.index("* **Against the tools")]
    tokens = set(re.findall(r"(?<![\d.])[-+]?\d+\.\d+%?(?![\d])", table))
    tokens |= {t.strip("()") for t in re.findall(r"\(\d+\.\d+\)", table)}
    figures = re.findall(r"(?<![\d.])[-+]?\d+\.\d+%?(?![\d])", section)
    assert len(figures) >= 5
    for figure in figures:
        assert figure in tokens, figure
    runs = re.search(r"(\d+) runs of the default", section)
    assert runs and int(runs.group(1)) == data["meta"]["runs"]
    assert np.isfinite(data["summary"]["development draws, all n"]["errors"]["mean_error"])
