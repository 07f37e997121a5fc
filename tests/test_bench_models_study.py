"""The models study (benchmarks/models_study.py): the sizes it tries are what it says, its
configurations are the capture's, its tables say what the rows hold, and the README's
figures come from its results."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pandas as pd
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import models_study  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def test_the_sizes_tried_follow_sqrt_p():
    assert models_study.sqrt_sizes(2000) == (89, 270)
    assert models_study.sqrt_sizes(7129) == (170, 510)
    assert models_study.sqrt_sizes(4434) == (130, 400)


def test_the_configurations_are_the_captures_or_the_study_stops():
    from insightome.models.candidates import candidates

    X = pd.DataFrame(0.0, index=range(40), columns=[f"g{i}" for i in range(2000)])
    names = [c.name for c in candidates("binary", 2000, "default", n_samples=40)]
    made = models_study._configurations("binary", X, names)
    assert [c.name for c in made] == names
    assert {c.k for c in made} >= {200, 500}  # the fixed sizes the study replaces
    with pytest.raises(AssertionError, match="differ"):
        models_study._configurations("binary", X, names[:-1])


def _row(run: str, base: float, **changes: float) -> dict:
    return {
        "run": run, "task": "binary", "p": 2000, "sqrt_sizes": [89, 270],
        "control_vs_captured_max_abs": 0.002, "base": base,
        **{k: base + changes.get(k, 0.0) for k in ("lightgbm_added",
           "lightgbm_instead_of_depth4", "sizes_instead", "sizes_added")},
        "cv_lightgbm": 0.80, "cv_xgboost": {"xgboost(max_depth=2,k=all)": 0.78,
                                            "xgboost(max_depth=4,k=500)": 0.82},
        "cv_sized": {"linear_svm(C=1.0,k=200)": [0.80, 0.79]},
        "cpu_lightgbm": 3.0, "cpu_xgboost_depth2": 1.0,
    }  # fmt: skip


def test_render_states_every_change_against_the_control():
    rows = [
        _row("colon-s0", 0.80, lightgbm_added=0.01, sizes_instead=-0.02),
        _row("colon-s1", 0.70, lightgbm_added=0.03, sizes_instead=0.0),
        {"run": "lymphoma-s0", "skipped": "x"},
    ]
    text = models_study.render(rows, {"date": "d", "source": "s", "machine": "m",
                                      "captures": "~/c"})  # fmt: skip
    assert "| LightGBM added | 2 | +0.0200 ± 0.0100 (min +0.010, max +0.030) |" in text
    assert "| sizes 2 and 6 × sqrt(p) instead of 200 and 500 | 2 | -0.0100 ± 0.0100" in text
    # LightGBM 0.80 against the better XGBoost 0.82, in both runs; 3 CPU-s against 1
    assert "-0.0200 ± 0.0000 (min -0.020, max -0.020); LightGBM higher in 0 of 2" in text
    assert "LightGBM / XGBoost depth 2: 3.00" in text
    assert "higher in 0 of 2" in text and "Skipped: lymphoma-s0" in text


def test_readme_figures_come_from_the_results_table():
    results = REPO / "benchmarks" / "results"
    # the study's table, and the omics suite run with the sqrt(p) sizes
    table = (results / "models_study.md").read_text()
    table += (results / "omics_suite_sqrt_sizes.md").read_text()
    data = json.loads((results / "models_study.json").read_text())
    assert len([r for r in data["runs"] if "skipped" not in r]) >= 20
    readme = (REPO / "README.md").read_text().replace("−", "-")
    start = readme.index("  - *LightGBM")
    section = readme[start : readme.index("\n  - *Successive halving")]
    tokens = set(re.findall(r"(?<![\d.])[-+]?\d+\.\d+%?(?![\d])", table))
    figures = re.findall(r"(?<![\d.])[-+]?\d+\.\d+%?(?![\d])", section)
    assert len(figures) >= 4
    for figure in figures:
        assert figure in tokens, figure
