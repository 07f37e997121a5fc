"""``--learning-curve`` on a run: the learn stage is nested in the run's plan and reuses its
fits, gives the doubling gain on a learnable outcome and the honest sentence on a shuffled
one, validates as results.json, shows in the report and the console, and resumes from
the fit cache."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes

import insightome
from insightome.audit.performance_figures import LABELS
from insightome.evaluate import engine
from insightome.report import render_html
from insightome.results import validate_results
from insightome.stages import RunState, Stage
from tests.conftest import breast_cancer_adata

FAST = {"preset": "fast", "folds": 3, "repeats": 1, "n_bootstrap": 200, "seed": 2}


@pytest.fixture(scope="module")
def breast():
    return breast_cancer_adata(n_rows=120, n_cols=8)


@pytest.fixture(scope="module")
def shuffled(breast):
    data = breast.copy()
    data.obs["diagnosis"] = np.random.default_rng(5).permutation(data.obs["diagnosis"].to_numpy())
    return insightome.run(data, "diagnosis", out_dir=None, learning_curve=True, audit=False,
                          discover=False, **FAST)  # fmt: skip


def test_a_learnable_outcome_gets_what_doubling_would_buy():
    import anndata as ad

    bunch = load_diabetes(as_frame=True)
    X = bunch.data.iloc[:200].astype(float)
    obs = pd.DataFrame({"progression": bunch.target[:200].to_numpy()}, index=X.index.astype(str))
    data = ad.AnnData(X.to_numpy(), obs=obs, var=pd.DataFrame(index=X.columns))
    run = insightome.run(data, "progression", out_dir=None, learning_curve=True, audit=False,
                         discover=False, **{**FAST, "folds": 5, "seed": 1})  # fmt: skip
    lc = run.results["learning_curve"]
    assert lc["metric"] == "r2" and lc["verdict"] == "estimated"
    lo, hi = lc["doubling_gain_ci95"]
    assert lo <= lc["doubling_gain"] <= hi and 0 <= lc["doubling_gain"] < 0.2
    assert lc["sentence"] == (
        f"Doubling the cohort to 400 is expected to raise the R² by {lc['doubling_gain']:.3f} "
        f"(95% interval {lo:.3f} to {hi:.3f})"
    )
    assert lc["rise_ci95"][0] > 0  # the scores rose beyond noise from 20% to 100%
    scores = [p["score"] for p in lc["points"]]
    assert scores[-1] > scores[0]
    # 100% of each training fold is the run's own cross-validation of the winner
    assert scores[-1] == pytest.approx(run.results["estimate"]["plain_cv_value"])
    assert lc["curve"]["n"][-1] == pytest.approx(2 * lc["n_full"])  # never beyond 2n
    # 20% … 100% of 160 training samples (rounded per outcome quintile)
    expected = [32, 48, 72, 96, 128, 160]
    assert [p["n_train"] for p in lc["points"]] == pytest.approx(expected, abs=2)


def test_a_shuffled_outcome_gets_the_too_flat_or_noisy_sentence(shuffled):
    lc = shuffled.results["learning_curve"]
    assert lc["verdict"] != "estimated"
    assert lc["doubling_gain"] is None and lc["doubling_gain_ci95"] is None
    assert lc["sentence"].startswith(
        "The learning curve is too flat or too noisy to say what doubling the cohort to 240 "
        "would buy: "
    )
    assert lc["reason"] in lc["sentence"]
    assert "signature_stability" not in lc  # discovery was off
    validate_results(shuffled.results)


def test_results_report_console_and_log(breast, tmp_path, monkeypatch):
    """One run: with discovery, the stability versus n; results.json validates; the report
    has the section, its figure and the sentence; run.log and the console get the line;
    the curve's fits at 100% are the run's own (fit cache), the others are new."""
    fits = {"n": 0}
    real = engine._fit_predict

    def counted(*args, **kwargs):
        fits["n"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(engine, "_fit_predict", counted)
    seen: dict[str, int] = {}

    def before(state: RunState) -> None:
        seen["before"] = fits["n"]

    def after(state: RunState) -> None:
        seen["after"] = fits["n"]

    run = insightome.run(breast, "diagnosis", out_dir=tmp_path, learning_curve=True, audit=False,
                         stages=[Stage("before", before, after="estimate"),
                                 Stage("after", after, after="learn")], **FAST)  # fmt: skip
    lc = run.results["learning_curve"]
    # 5 of the 6 sizes are new fits on each of the 3 folds; 100% came from the cache
    assert seen["after"] - seen["before"] == (len(lc["points"]) - 1) * 3
    assert lc["failed_fits"] == 0 and lc["failed_bootstrap_fits"] <= lc["n_bootstrap"]
    stability = lc["signature_stability"]
    assert stability["points"] and all(p["n"] <= 60 for p in stability["points"])
    assert stability["summary"].startswith("signature stability at n = 60: ")
    stages = list(run.results["timings"])
    assert stages.index("estimate") < stages.index("learn") < stages.index("refit")
    validate_results(run.results)
    html = (run.path / "report.html").read_text()
    assert '<section id="learning-curve">' in html and 'id="fig-learning-curve"' in html
    assert 'src="data:image/png;base64,' in html.split('id="fig-learning-curve"')[1][:400]
    assert lc["sentence"].replace("'", "&#39;") in html
    assert "Signature stability versus n" in html
    # the curve's scores are labelled (audit.performance_figures): the full-size one is
    # quoted right after its label, as every figure that is not the estimate
    full = f"{lc['points'][-1]['score']:.3f}"
    label = LABELS["learning_curve"][0]
    assert label in html
    row = html[html.index(f"<th>{label[0].upper()}{label[1:]}</th>") :]
    assert full in row[: row.index("</tr>")]
    log = (run.path / "run.log").read_text()
    assert f"learning curve: {lc['sentence']}" in log


def test_without_the_option_there_is_no_learn_stage(breast):
    run = insightome.run(breast, "diagnosis", out_dir=None, audit=False, discover=False, **FAST)
    assert "learning_curve" not in run.results and "learn" not in run.results["timings"]
    assert "learning-curve" not in render_html(run.results, run.predictions)


class Interrupted(Exception):
    pass


def interrupt(state: RunState) -> None:
    raise Interrupted


def test_a_resumed_learn_stage_takes_every_fit_from_the_cache(breast, tmp_path, monkeypatch):
    data = tmp_path / "breast.h5ad"
    breast.write_h5ad(data)
    options = {**FAST, "learning_curve": True, "audit": False, "discover": False}
    with pytest.raises(Interrupted):
        insightome.run(data, "diagnosis", out_dir=tmp_path / "runs",
                       stages=[Stage("crash", interrupt, after="learn")], **options)  # fmt: skip
    (partial,) = (tmp_path / "runs").iterdir()
    assert "learn" in {p.stem for p in (partial / "stages").iterdir()}
    reference = insightome.run(breast, "diagnosis", out_dir=None, **options)

    def no_fit(*args, **kwargs):
        raise AssertionError("a fit ran again on resume")

    monkeypatch.setattr(engine, "_fit_predict", no_fit)
    resumed = insightome.resume(partial, from_stage="learn")
    assert resumed.results["learning_curve"] == reference.results["learning_curve"]


def test_the_console_prints_the_sentence(cli, tmp_path):
    bunch = load_breast_cancer(as_frame=True)
    df = bunch.data.iloc[:120, :8].copy()
    df["diagnosis"] = bunch.target[:120].map({0: "malignant", 1: "benign"}).to_numpy()
    df.insert(0, "sample", [f"T{i:03d}" for i in range(120)])
    path = tmp_path / "breast.csv"
    df.to_csv(path, index=False)
    result = cli("run", path, "--target", "diagnosis", "--preset", "fast", "--folds", "3",
                 "--repeats", "1", "--bootstrap", "200", "--no-discover", "--no-audit",
                 "--learning-curve", "--learning-curve-sizes", "0.3,0.6,1",
                 "--out", tmp_path / "runs")  # fmt: skip
    assert result.code == 0, result.err
    (run_dir,) = (tmp_path / "runs").iterdir()
    lc = json.loads((run_dir / "results.json").read_text())["learning_curve"]
    assert [p["fraction"] for p in lc["points"]] == [0.3, 0.6, 1.0]
    assert json.loads((run_dir / "results.json").read_text())["invocation"][
        "learning_curve_sizes"
    ] == [0.3, 0.6, 1.0]
    lines = [line for line in result.out.splitlines() if line.startswith("Learning curve: ")]
    assert lines == [f"Learning curve: {lc['sentence']}"]
