"""``--learning-curve`` on a run: the learn stage fits the winner on a fresh plan like the
run's (every size fitted anew, 3 repeats when the run has 1), gives the doubling gain from
N to 2N on a learnable outcome and the honest sentence on a shuffled one, validates as
results.json, shows in the report (its figure ends at the 2N of the sentence) and the
console, and resumes from the fit cache."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, make_regression

import insightome
from insightome.audit.performance_figures import LABELS
from insightome.evaluate import engine
from insightome.evaluate.learning_curve import curve_seed
from insightome.evaluate.power_law import fit_curve, power_law
from insightome.report import render_html
from insightome.report.learning_curve_section import learning_curve_figure
from insightome.results import validate_results
from insightome.stages import RunState, Stage
from insightome.stages.learning import sentence
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
    """60 informative features, 200 samples: a linear signal the winner still learns at full
    size, so the gain from N = 200 to 2N = 400 is pinned down (a real cohort such as
    sklearn's diabetes, 200 rows, plateaus: its gain's interval, 0.004 to 0.042, is too wide
    for the relative rule of evaluate.power_law)."""
    import anndata as ad

    X, target = make_regression(n_samples=200, n_features=60, n_informative=60, noise=100,
                                random_state=0)  # fmt: skip
    names = [f"g{i}" for i in range(60)]
    obs = pd.DataFrame({"progression": target}, index=[f"s{i}" for i in range(200)])
    data = ad.AnnData(X, obs=obs, var=pd.DataFrame(index=names))
    run = insightome.run(data, "progression", out_dir=None, learning_curve=True, audit=False,
                         discover=False, **{**FAST, "folds": 5, "seed": 1})  # fmt: skip
    lc = run.results["learning_curve"]
    assert lc["metric"] == "r2" and lc["verdict"] == "estimated"
    lo, hi = lc["doubling_gain_ci95"]
    assert lo <= lc["doubling_gain"] <= hi and 0 <= lc["doubling_gain"] < 0.2
    # the cohort (N = 200, the final model's training set) doubled, not the CV training size
    assert lc["doubling_from"] == 200 and lc["doubling_to"] == 400
    assert lc["sentence"] == (
        f"Doubling the cohort from 200 to 400 samples is expected to raise the R² by "
        f"{lc['doubling_gain']:.3f} (95% interval {lo:.3f} to {hi:.3f})"
    )
    a, b, c = (lc["fit"][k] for k in "abc")
    gain = (a - b * 400 ** (-c)) - (a - b * 200 ** (-c))
    assert lc["doubling_gain"] == pytest.approx(gain, rel=1e-6)
    assert lc["rise_ci95"][0] > 0  # the scores rose beyond noise from 20% to 100%
    scores = [p["score"] for p in lc["points"]]
    assert scores[-1] > scores[0]
    # a fresh plan: 100% is not the CV that chose the winner (the run has 1 repeat; the
    # curve's own plan has 3, with a seed derived from the run's)
    assert lc["resampling"] == {"folds": 5, "repeats": 3, "run_repeats": 1,
                                "seed": curve_seed(1), "grouped": False}  # fmt: skip
    assert len(lc["points"][-1]["repeat_scores"]) == 3 and not lc["band_conditional"]
    assert scores[-1] != pytest.approx(run.results["estimate"]["plain_cv_value"], abs=1e-9)
    assert any("the curve's own plan has 3 repeats (the run has 1)" in n for n in lc["notes"])
    # 2N = 2.5 × the largest training size with 5 folds; never beyond
    assert lc["curve"]["n"][-1] == pytest.approx(400) == pytest.approx(2.5 * lc["n_full"])
    # 20% … 100% of 160 training samples (rounded per outcome quintile)
    expected = [32, 48, 72, 96, 128, 160]
    assert [p["n_train"] for p in lc["points"]] == pytest.approx(expected, abs=2)
    # the figure ends where the sentence does: the dashed line and the 2N mark at 400
    fig = learning_curve_figure(lc, "R²")
    (ax,) = fig.axes
    (dashed,) = [line for line in ax.lines if line.get_gid() == "extrapolated"]
    assert dashed.get_xdata()[-1] == pytest.approx(lc["doubling_to"])
    (mark,) = [line for line in ax.lines if line.get_gid() == "cohort-2N"]
    assert mark.get_xdata()[0] == pytest.approx(400) and ax.get_xlim()[1] >= 400
    assert f"to {mark.get_xdata()[0]:.0f} samples" in lc["sentence"]


def test_a_shuffled_outcome_gets_the_too_flat_or_noisy_sentence(shuffled):
    lc = shuffled.results["learning_curve"]
    assert lc["verdict"] != "estimated"
    assert lc["doubling_gain"] is None and lc["doubling_gain_ci95"] is None
    assert lc["sentence"].startswith(
        "The learning curve is too flat or too noisy to say what doubling the cohort from 120 "
        "to 240 samples would buy: "
    )
    assert lc["reason"] in lc["sentence"]
    assert "signature_stability" not in lc  # discovery was off
    validate_results(shuffled.results)


def test_results_report_console_and_log(breast, tmp_path, monkeypatch):
    """One run: with discovery, the stability versus n; results.json validates; the report
    has the section, its figure and the sentence; run.log and the console get the line;
    every size is fitted anew (100% too: a fresh plan, not the winner's own CV), on 3
    repeats of 3 folds."""
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
    # all 6 sizes are new fits on each of the 3 folds of 3 repeats (was: 5 sizes, 1 repeat,
    # with 100% from the cache: the winner's own, optimistic CV)
    assert seen["after"] - seen["before"] == len(lc["points"]) * 3 * 3
    assert lc["failed_fits"] == 0 and lc["failed_bootstrap_fits"] <= lc["n_bootstrap"]
    stability = lc["signature_stability"]
    assert stability["points"] and all(p["n"] <= 60 for p in stability["points"])
    assert stability["summary"].startswith("signature stability at n = 60: ")
    change = stability["change"]
    assert change["n_to"] == pytest.approx(60, abs=0.5)  # half of 120 (odd classes: 59.5)
    assert change["ci95"][0] <= change["change"] <= change["ci95"][1]
    assert ("still rising" in stability["summary"]) == change["rising"]
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


def test_the_sentence_counts_patients_with_groups_and_says_when_it_is_conditional():
    n = np.array([20, 30, 45, 60, 80], dtype=float)
    observed = power_law(n, 0.9, 2.0, 0.7)
    boot = observed + np.random.default_rng(1).normal(0, 0.004, (200, len(n)))
    fitted = fit_curve(n, observed, boot, chance=0.5, n_cohort=100)
    lo, hi = fitted.gain_ci95
    text = sentence(fitted, "auc", 100, n_groups=25, repeats=3)
    assert text == (
        f"Doubling the cohort from 25 to 50 patients (100 to 200 samples) is expected to raise "
        f"the AUC by {fitted.gain:.3f} (95% interval {lo:.3f} to {hi:.3f})"
    )
    text = sentence(fitted, "auc", 100, n_groups=None, repeats=1)
    assert text.startswith("Doubling the cohort from 100 to 200 samples is expected")
    assert text.endswith(
        f"(95% interval {lo:.3f} to {hi:.3f}; conditional on the one set of training "
        "subsamples drawn (1 CV repeat))"
    )
