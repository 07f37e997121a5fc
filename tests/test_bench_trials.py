"""The trial-recruitment benchmark (benchmarks/trials.py): its measures on small inline
examples, its table (trials.md is what ``--render`` makes of trials.json), and the README's
"Trial recruitment" figures, each of which must be a number of benchmarks/results/trials.md.
No benchmark run: fast."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
RESULTS = BENCH / "results"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import trials  # noqa: E402

FIGURE = re.compile(r"(?<![\w.])\d+(?:,\d{3})*\.\d+")


def test_ndcg_and_precision_at_10():
    assert trials.ndcg([1, 0, 0]) == pytest.approx(1.0)
    assert trials.ndcg([0, 1]) == pytest.approx(1 / np.log2(3))  # a pool of two: at least 0.63
    assert trials.ndcg([1, 2, 0]) == pytest.approx((1 + 2 / np.log2(3)) / (2 + 1 / np.log2(3)))
    assert np.isnan(trials.ndcg([0, 0]))
    assert trials.ndcg([0] * 10 + [1]) == 0.0  # the 11th place is outside the cut
    assert trials.precision([True, False, True]) == pytest.approx(0.2)  # divided by 10


def test_bootstrap_is_seeded_and_paired_differences_use_the_same_draws():
    values = np.array([0.2, 0.4, 0.6, 0.8])
    first, second = trials.mean_ci(values), trials.mean_ci(values)
    assert first == second and first["mean"] == pytest.approx(0.5) and first["n"] == 4
    assert first["ci95"][0] < 0.5 < first["ci95"][1]
    draws = trials.resamples(4)
    assert draws.shape == (trials.N_BOOTSTRAP, 4)
    same = trials.mean_ci(values - values, draws)
    assert same["ci95"] == [0.0, 0.0]


def test_clustered_auc_pools_pairs_and_resamples_topics():
    topics = ["a", "a", "b", "b", "c", "c"]
    labels = [True, False, True, False, True, False]
    scores = {"ranker": np.array([0.9, 0.1, 0.8, 0.2, 0.7, 0.3]), "without criteria": np.zeros(6)}
    out = trials.clustered_auc(topics, labels, scores, n_boot=200)
    assert out["ranker"]["auc"] == 1.0 and out["ranker"]["ci95"] == [1.0, 1.0]
    assert out["without criteria"]["auc"] == 0.5  # all tied
    assert out["ranker - without criteria"]["auc"] == pytest.approx(0.5)


def _run(grades, relevance, topic, met, failed, orders=None):
    n = len(grades)
    ids = [f"NCT{i:08d}" for i in range(n)]
    return trials.TopicRun(
        "t", ids, np.array(grades), np.zeros(n), np.array(relevance, float),
        np.array(topic, float), np.array(met, float), np.array(failed), np.zeros(n),
        orders or {},
    )  # fmt: skip


def test_the_grid_scores_every_setting_and_breaks_ties_by_nct_id():
    run = _run([0, 2, 1], relevance=[1.0, 0.5, 0.5], topic=[0, 0, 0], met=[0, 1, 0],
               failed=[0, 0, 3])  # fmt: skip
    settings = np.array([[0.0, 0.0, 0.0], [0.0, 1.0, 0.6], [0.0, 0.0, 1.0]])
    got = trials.grid_ndcg([run], settings)[:, 0]
    # no weights: trial 0 first, then 1 and 2 tied at 0.5 → NCT ID order puts 1 second
    assert got[0] == pytest.approx(1 / np.log2(3))
    assert got[1] == pytest.approx(1.0)  # the met inclusion lifts the eligible trial
    assert got[2] == pytest.approx(1 / np.log2(3))  # a failure (capped at 2) drops trial 2
    scores = trials.weighted(run, settings[:, 0], settings[:, 1], settings[:, 2])
    assert scores[2, 2] == pytest.approx(0.5 - 2.0)


def test_gains_follow_each_systems_order():
    run = _run([0, 2, 1], [1, 1, 1], [0, 0, 0], [0, 0, 0], [0, 0, 0])
    run.orders = {"bm25": ["NCT00000002", "NCT00000001", "NCT00000000"]}
    assert list(run.gains("bm25")) == [0.0, 1.0, 0.0]
    assert list(run.gains("bm25", graded=True)) == [1.0, 2.0, 0.0]


def test_the_table_is_what_render_makes_of_the_saved_numbers():
    saved = RESULTS / "trials.json"
    if not saved.exists():
        pytest.skip("benchmarks/results/trials.json not written yet")
    payload = json.loads(saved.read_text(encoding="utf-8"))
    text = trials.render(payload)
    assert text == (RESULTS / "trials.md").read_text(encoding="utf-8")
    for name in ("TREC 2021", "TREC 2022", "SIGIR 2016"):
        assert f"## {name}" in text
    assert "id2queries.json" in text and "evaluations/s" in text


def test_the_readme_trial_recruitment_figures_come_from_the_results_table():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.find("\n## Trial recruitment")
    if start < 0:
        pytest.skip("README has no '## Trial recruitment' section yet")
    end = readme.find("\n## ", start + 1)
    section = readme[start : end if end > 0 else len(readme)]
    table = (RESULTS / "trials.md").read_text(encoding="utf-8")
    figures = set(FIGURE.findall(section))
    assert figures, "the README's Trial recruitment section quotes no figure"
    missing = [f for f in sorted(figures) if f not in table]
    assert not missing, f"README figures not in benchmarks/results/trials.md: {missing}"
