"""The candidates study (benchmarks/candidates_study.py) on a run captured here: the
ensemble rule is the honest in-bag one, successive halving counts what it would save and
lose, and the tables say what the rows hold; the README's figures come from its results."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

import insightome
from tests.conftest import breast_cancer_adata

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import candidates_study  # noqa: E402
import estimators  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def test_ensembles_and_halving_on_a_captured_run(tmp_path):
    box: dict = {}
    insightome.run(
        breast_cancer_adata(n_cols=8), "diagnosis", out_dir=None, discover=False, audit=False,
        preset="fast", repeats=3, n_bootstrap=200, seed=0, stages=[estimators._capture_stage(box)],
    )  # fmt: skip
    path = tmp_path / "cohorts" / "breast-n569-r0.npz"
    estimators._save(path, box, {"source": "cohorts", "n": 569, "rep": 0, "heldout": 0.9})
    row = candidates_study.ensembles_and_halving(path)
    assert candidates_study._source(row["run"]) == "cohorts"
    single = candidates_study._bbc(box["oof"], {**box}, "binary").estimate.value
    assert row["single"] == single  # the same bootstraps as the run's own kind of estimate
    assert 0.5 < row["ensemble"] <= 1.0 and 0.0 <= row["ensemble_share"] <= 1.0
    for delta in candidates_study.DELTAS:
        h = row[f"halving_{delta}"]
        assert 0.0 <= h["fits_saved"] < 2 / 3 and 0.0 <= h["picks_lost"] <= 1.0
    # a wider margin never drops more
    saved = [row[f"halving_{d}"]["fits_saved"] for d in sorted(candidates_study.DELTAS)]
    assert saved == sorted(saved, reverse=True)


def test_render_states_every_question():
    fam = {"run": "colon-s0", "base": 0.80, "with_extra_trees": 0.81, "with_knn": 0.79,
           "forest_cv": [0.8, 0.79, 0.81, 0.81], "forest_cpu": [5.0, 3.0, 4.0, 2.5]}  # fmt: skip
    light = {"run": "colon-s0", "single": 0.80, "ensemble": 0.802, "ensemble_share": 0.2,
             **{f"halving_{d}": {"fits_saved": 0.2, "winner_dropped": False, "picks_lost": 0.05}
                for d in candidates_study.DELTAS}}  # fmt: skip
    fits = {"cpu_s": 1.0, "objective": 5.0, "nonzero": 10, "iterations": 100, "converged": True}
    res = {
        "families_forests": [fam, {**fam, "run": "colon-s1", "with_extra_trees": 0.83},
                             {"run": "lymphoma-s0", "skipped": "x"}],
        "ensembles_halving": [light, {**light, "run": "colon-s1"}],
        "solver": {"training half, C=0.3": {"n": 25, "p": 4434, "fits": {"FISTA": fits}}},
    }  # fmt: skip
    meta = {"date": "d", "source": "git commit x", "machine": "m", "captures": "~/c"}
    md = candidates_study.render(res, meta)
    assert "| extremely randomized trees (500 trees, leaves of 1) | 2 | +0.0200 ± 0.0100" in md
    assert "Skipped: lymphoma" in md
    assert "| omics | 0.03 | 2 | 20.0% | 0 | 5.0% |" in md
    assert "| leaves of 1, all features | 2 | -0.0100" in md and "| 0.60 |" in md
    assert "could not be fitted on every fold counts as dropped" in md
    assert "| training half, C=0.3 (25 x 4434) | FISTA | 1.00 |" in md


def test_readme_and_code_figures_come_from_the_study():
    results = REPO / "benchmarks" / "results" / "candidates_study.json"
    if not results.exists():  # pragma: no cover - the study ships with the repository
        raise AssertionError("benchmarks/results/candidates_study.json is missing")
    res = json.loads(results.read_text())
    ok = [r for r in res["families_forests"] if "skipped" not in r]
    gain = np.mean([r["with_extra_trees"] - r["base"] for r in ok])
    text = (REPO / "src" / "insightome" / "models" / "candidates.py").read_text()
    assert f"by {gain:.3f} AUC on average" in text
    assert f"over the {len(ok)} captured omics runs" in text


def test_readme_study_figures_come_from_the_results():
    res = json.loads((REPO / "benchmarks" / "results" / "candidates_study.json").read_text())
    readme = " ".join((REPO / "README.md").read_text().split())

    def mean_se(values):
        a = np.asarray(values, dtype=float)
        return f"{a.mean():+.4f} ± {a.std(ddof=1) / np.sqrt(len(a)):.4f}".replace("-", "−")

    ok = [r for r in res["families_forests"] if "skipped" not in r]
    assert f"{mean_se([r['with_extra_trees'] - r['base'] for r in ok])} AUC over {len(ok)}" in (
        readme
    )
    assert mean_se([r["with_knn"] - r["base"] for r in ok]) in readme
    light = [r for r in res["ensembles_halving"] if "skipped" not in r]
    for source in ("omics", "cohorts"):
        rows = [r for r in light if candidates_study._source(r["run"]) == source]
        assert mean_se([r["ensemble"] - r["single"] for r in rows]) in readme
    omics = [r["halving_0.05"] for r in light if candidates_study._source(r["run"]) == "omics"]
    saved = np.mean([h["fits_saved"] for h in omics])
    assert f"would save {saved:.0%} of the fits on the omics runs" in readme
    cv = np.array([r["forest_cv"] for r in ok])
    cpu = np.array([r["forest_cpu"] for r in ok])
    assert f"out-of-fold AUC {mean_se(cv[:, 1] - cv[:, 0])}, CPU of the fits" in readme
    assert f"{cpu[:, 1].sum() / cpu[:, 0].sum():.2f}×" in readme


def test_rerender_rewrites_the_tables_from_the_saved_results(tmp_path, monkeypatch):
    saved = json.loads((REPO / "benchmarks" / "results" / "candidates_study.json").read_text())
    out = tmp_path / "candidates_study"
    out.with_suffix(".json").write_text(json.dumps(saved))
    monkeypatch.setattr(candidates_study, "RESULTS", out)
    assert candidates_study.main(["--rerender"]) == 0
    md = out.with_suffix(".md").read_text()
    assert md == (REPO / "benchmarks" / "results" / "candidates_study.md").read_text()
