"""The quantum candidates benchmark (benchmarks/quantum.py): its resampled hold-out AUC and
paired CI on small inline examples, its summaries and "What was found" text on hand-made
rows, and its saved results (quantum.md is what ``render`` makes of quantum.json, with 8
datasets x 2 splits). No benchmark run: fast."""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
RESULTS = BENCH / "results"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import peers  # noqa: E402
import quantum  # noqa: E402

ENERGY = {"core_power_w": 10.0, "pue": 1.5, "memory_power_w_per_gb": 0.3725}


# --------------------------------------------------------------------------------------
# the hold-out AUC under stratified resampling
# --------------------------------------------------------------------------------------
def _probs(n: int, k: int, seed: int) -> np.ndarray:
    p = np.random.default_rng(seed).random((n, k))
    return p / p.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("k", [2, 4])
def test_resampled_auc_at_weight_one_is_peers_holdout_auc(k: int) -> None:
    codes = np.repeat(np.arange(k), [7, 5, 6, 4][:k])
    proba = _probs(len(codes), k, seed=k)
    proba[3, :] = proba[4, :]  # a tie
    classes = [f"c{i}" for i in range(k)]
    labels = np.array(classes)[codes]
    expected, _ = peers.holdout_auc(labels, proba, classes)
    ones = np.ones((1, len(codes)))
    got = quantum.resampled_auc(codes, quantum.auc_scores(proba, k), ones)[0]
    assert got == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("k", [2, 3])
def test_a_resample_is_the_auc_of_the_repeated_samples(k: int) -> None:
    codes = np.repeat(np.arange(k), [9, 6, 5][:k])
    proba = _probs(len(codes), k, seed=10 + k)
    counts = quantum.resample_counts(codes, 5, seed=3)
    scores = quantum.auc_scores(proba, k)
    got = quantum.resampled_auc(codes, scores, counts)
    for b in range(5):
        idx = np.repeat(np.arange(len(codes)), counts[b])
        if k == 2:
            want = roc_auc_score(codes[idx] == 1, proba[idx, 1])
        else:
            want = roc_auc_score(codes[idx], proba[idx], multi_class="ovr", average="macro")
        assert got[b] == pytest.approx(want, abs=1e-12)


def test_resamples_are_stratified_and_seeded() -> None:
    codes = np.array([0] * 6 + [1] * 3 + [2] * 4)
    counts = quantum.resample_counts(codes, 200)
    for c in (0, 1, 2):
        assert (counts[:, codes == c].sum(axis=1) == (codes == c).sum()).all()
    assert (counts == quantum.resample_counts(codes, 200)).all()
    assert not (counts == quantum.resample_counts(codes, 200, seed=1)).all()


def test_paired_difference_uses_the_same_resamples_for_both_models() -> None:
    codes = np.array([0] * 15 + [1] * 15)
    proba = _probs(30, 2, seed=0)
    counts = quantum.resample_counts(codes, 500)
    same = quantum.paired_holdout(codes, proba, proba, 2, counts)
    assert same["difference"] == 0.0 and same["ci95"] == [0.0, 0.0]
    perfect = np.column_stack([1.0 - codes, codes]).astype(float)
    out = quantum.paired_holdout(codes, perfect, proba, 2, counts)
    auc = roc_auc_score(codes, proba[:, 1])
    assert out["difference"] == pytest.approx(1.0 - auc)
    assert out["ci95"][0] <= out["difference"] <= out["ci95"][1]
    assert out["n_resamples"] == 500


# --------------------------------------------------------------------------------------
# summaries on hand-made rows
# --------------------------------------------------------------------------------------
def _row(dataset: str, split: int, auc: dict[str, float], est: dict[str, float]) -> dict[str, Any]:
    fams = {}
    for fam in quantum.FAMILIES:
        fams[fam] = {
            "best": f"{fam}()",
            "n_configurations": 10 if fam == "default" else 1,
            "estimate": est[fam],
            "ci95": [est[fam] - 0.1, est[fam] + 0.05],
            "plain_cv": est[fam] + 0.01,
            "fit_seconds": 100.0 if fam == "default" else 50.0,
            "n_fits": 150 if fam == "default" else 15,
            "refit_cpu_s": 2.0,
            "cpu_s": (100.0 if fam == "default" else 50.0) + 2.0,
            "holdout_auc": auc[fam],
            "estimate_minus_holdout": est[fam] - auc[fam],
        }
    comparisons = {
        quantum.comparison_key(a, b): {"difference": auc[a] - auc[b], "ci95": [-0.1, 0.1]}
        for a, b in quantum.COMPARISONS
    }
    return {
        "dataset": dataset,
        "split": split,
        "task": "binary",
        "families": fams,
        "comparisons": comparisons,
        "winner": {
            "name": "default()",
            "family": "l1_logistic",
            "is_quantum": False,
            "estimate": est["default"],
            "holdout_auc": auc["default"],
            "estimate_minus_holdout": est["default"] - auc["default"],
        },
        "simulation": {
            "qubits": [8],
            "library": "pennylane 0",
            "simulator": "default.qubit",
            "mode": "analytic",
        },
        "run_cpu_s": 300.0,
        "run_energy_wh": 1.0,
        "wall_s": 60.0,
    }


def _rows() -> list[dict[str, Any]]:
    est = {"default": 0.85, "quantum_kernel_svm": 0.80, "variational_quantum": 0.7, "rbf_svm": 0.8}
    return [
        _row(
            "a",
            0,
            {
                "default": 0.9,
                "quantum_kernel_svm": 0.8,
                "variational_quantum": 0.7,
                "rbf_svm": 0.82,
            },
            est,
        ),
        _row(
            "a",
            1,
            {
                "default": 0.9,
                "quantum_kernel_svm": 0.84,
                "variational_quantum": 0.7,
                "rbf_svm": 0.82,
            },
            est,
        ),
        _row(
            "b",
            0,
            {
                "default": 0.7,
                "quantum_kernel_svm": 0.75,
                "variational_quantum": 0.6,
                "rbf_svm": 0.75,
            },
            est,
        ),
        {"dataset": "b", "split": 1, "error": "Traceback ...\nValueError: boom", "wall_s": 3.0},
    ]


def test_family_means_skip_failed_splits_and_compare_cpu_with_default() -> None:
    fams = {s["family"]: s for s in quantum.family_summary(_rows())}
    qk = fams["quantum_kernel_svm"]
    assert qk["n_splits"] == 3 and qk["n_failed"] == 0
    assert qk["mean_holdout_auc"] == pytest.approx((0.8 + 0.84 + 0.75) / 3)
    assert qk["mean_estimate"] == pytest.approx(0.8)
    assert qk["mean_estimate_minus_holdout"] == pytest.approx(0.8 - (0.8 + 0.84 + 0.75) / 3)
    assert qk["cpu_s"] == pytest.approx(3 * 52.0) and qk["n_fits"] == 45
    assert qk["cpu_ratio_to_default"] == pytest.approx(52.0 / 102.0)
    assert fams["default"]["cpu_ratio_to_default"] == 1.0
    assert fams["winner"]["mean_holdout_auc"] == pytest.approx((0.9 + 0.9 + 0.7) / 3)
    quantum.add_energy(list(fams.values()), ENERGY)
    assert qk["energy_wh"] == pytest.approx(3 * 52.0 * 10.0 * 1.5 / 3600)


def test_a_family_that_failed_in_one_split_is_counted_as_failed_there() -> None:
    rows = _rows()
    rows[0]["families"]["variational_quantum"] = {"error": "refit failed: X", "n_configurations": 1}
    fams = {s["family"]: s for s in quantum.family_summary(rows)}
    assert fams["variational_quantum"]["n_splits"] == 2
    assert fams["variational_quantum"]["n_failed"] == 1
    c = quantum.comparison_summary(rows, "variational_quantum", "rbf_svm", n_boot=200)
    assert c["n_splits"] == 2


def test_paired_comparison_over_datasets() -> None:
    c = quantum.comparison_summary(_rows(), "quantum_kernel_svm", "default", n_boot=2000)
    diffs = [0.8 - 0.9, 0.84 - 0.9, 0.75 - 0.7]
    assert c["n_splits"] == 3 and c["n_datasets"] == 2
    assert c["difference"] == pytest.approx(np.mean(diffs))
    assert c["mean_a"] == pytest.approx((0.8 + 0.84 + 0.75) / 3)
    # per dataset: a -0.08 (below), b +0.05 (above)
    assert (c["datasets_above"], c["datasets_level"], c["datasets_below"]) == (1, 0, 1)
    lo, hi = c["ci95"]
    assert lo == pytest.approx(-0.08) and hi == pytest.approx(0.05)  # two clusters: the extremes
    r = quantum.comparison_summary(_rows(), "quantum_kernel_svm", "rbf_svm", n_boot=200)
    # a: (-0.02 + 0.02) / 2 = 0 -> level; b: 0 -> level
    assert (r["datasets_above"], r["datasets_level"], r["datasets_below"]) == (0, 2, 0)
    e = quantum.comparison_summary(_rows(), "quantum_kernel_svm", "default", key="estimate")
    assert e["difference"] == pytest.approx(-0.05)


def test_per_dataset_means() -> None:
    by = {d["dataset"]: d for d in quantum.dataset_summary(_rows())}
    assert by["a"]["n_splits"] == 2 and by["b"]["n_splits"] == 1 and by["b"]["n_failed"] == 1
    assert by["a"]["quantum_kernel_svm"]["holdout_auc"] == pytest.approx(0.82)
    key = quantum.comparison_key("quantum_kernel_svm", "rbf_svm")
    assert by["a"]["differences"][key] == pytest.approx(0.0)
    assert by["b"]["wall_s"] == pytest.approx(63.0)


def test_the_found_paragraph_is_made_of_the_summary_figures() -> None:
    summary = quantum.summarize(_rows(), ENERGY)
    text = quantum.found_paragraph(summary, _rows()[0]["simulation"])
    assert "noiseless simulation on 8 qubits" in text
    assert "It covers 3 splits of 2 datasets." in text
    qk_default = summary["comparisons"][1]
    assert f"{qk_default['difference']:+.3f}" in text
    assert "within" in text  # the CI over datasets includes 0
    fams = {s["family"]: s for s in summary["families"]}
    assert f"{fams['variational_quantum']['cpu_ratio_to_default']:.2f}x" in text
    assert "a quantum configuration in 0 of 3 splits" in text
    # every decimal figure in the text is one the summary holds (formatted as printed)
    figures = set(re.findall(r"[+-]?\d+\.\d+", text))
    known = set()
    for c in summary["comparisons"]:
        known |= {f"{c['mean_a']:.3f}", f"{c['mean_b']:.3f}", f"{c['difference']:+.3f}"}
        known |= {f"{x:+.3f}" for x in c["ci95"]}
        known |= {f"{max(abs(x) for x in c['ci95']):.3f}"}
    for s in summary["families"]:
        known.add(f"{s['mean_estimate_minus_holdout']:+.3f}")
        if "cpu_s" in s:
            known |= {f"{s['cpu_ratio_to_default']:.2f}", f"{s['energy_wh']:.2f}"}
    known.add(f"{quantum.LEVEL}")
    assert figures <= known, figures - known


def test_no_interval_from_one_dataset_and_a_lower_verdict() -> None:
    rows = [r for r in _rows() if r["dataset"] == "a"]
    summary = quantum.summarize(rows, ENERGY)
    text = quantum.found_paragraph(summary, rows[0]["simulation"])
    assert "no interval over datasets from 1 dataset" in text
    c = {"n_datasets": 8, "ci95": [-0.09, -0.01]}
    assert quantum._verdict(c).startswith("lower")
    assert quantum._verdict({"n_datasets": 8, "ci95": [0.01, 0.02]}).startswith("higher")
    assert quantum.found_paragraph({"n_splits_ok": 0}, {}).startswith("No split completed")


# --------------------------------------------------------------------------------------
# the saved results
# --------------------------------------------------------------------------------------
def _saved() -> dict[str, Any]:
    saved = RESULTS / "quantum.json"
    if not saved.exists():
        pytest.skip("benchmarks/results/quantum.json not written yet")
    return json.loads(saved.read_text(encoding="utf-8"))


def test_saved_results_cover_eight_datasets_by_two_splits() -> None:
    payload = _saved()
    assert not payload["meta"]["quick"]
    got = {(r["dataset"], r["split"]) for r in payload["splits"]}
    assert got == {(d, s) for d in quantum.DATASETS for s in (0, 1)}
    assert len(payload["splits"]) == 16


def test_the_markdown_is_what_render_makes_of_the_json() -> None:
    payload = _saved()
    text = (RESULTS / "quantum.md").read_text(encoding="utf-8")
    assert text == quantum.render(payload)
    assert payload["found"] == quantum.found_paragraph(
        payload["summary"], payload["meta"]["simulation"]
    )
    # the per-split table, read back, holds the json's hold-out AUCs and estimates
    start = text.index("| dataset | split | n train/hold |")
    table = text[start:].split("\n\n")[0].splitlines()[2:]
    assert len(table) == len(payload["splits"])
    for line, row in zip(table, payload["splits"], strict=True):
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[0] == row["dataset"] and cells[1] == str(row["split"])
        if "error" in row:
            assert cells[6] == "**ERROR**"
            continue
        for cell, fam in zip(cells[6:10], quantum.FAMILIES, strict=True):
            e = row["families"][fam]
            if "holdout_auc" in e:
                assert cell == f"{e['holdout_auc']:.3f} ({e['estimate']:.3f})"
        w = row["winner"]
        assert cells[10] == f"{w['holdout_auc']:.3f} ({w['estimate']:.3f})"
    # and the overall table, the summary's means
    for s in payload["summary"]["families"]:
        line = next(
            ln for ln in text.splitlines() if ln.startswith(f"| {quantum.LABELS[s['family']]} |")
        )
        assert f"| {s['mean_holdout_auc']:.3f} | {s['mean_estimate']:.3f} |" in line
        assert not math.isnan(s["mean_holdout_auc"])


def test_a_commit_during_the_run_is_not_a_code_change() -> None:
    start = {
        "commit": "aaa",
        "src_modified": ["src/x.py"],
        "src_diff_sha256": "d1",
        "src_content_sha256": "c1",
    }
    committed = {
        "commit": "bbb",
        "src_modified": [],
        "src_diff_sha256": "d0",
        "src_content_sha256": "c1",
    }
    assert "files unchanged" in quantum._source_change(start, committed)
    assert "**" not in quantum._source_change(start, committed)
    edited = {**committed, "src_content_sha256": "c2"}
    assert "changed while the benchmark ran" in quantum._source_change(start, edited)
    assert quantum._source_change(start, start) == ""
    old = {k: v for k, v in start.items() if k != "src_content_sha256"}
    assert "changed while" in quantum._source_change(old, {**old, "src_diff_sha256": "d0"})


FIGURE = re.compile(r"(?<![\w.])[-+]?\d+\.\d+(?![\w.])")
NUMBER = r"(?<![\d.]){}(?![\d])"


def test_the_readme_quantum_figures_come_from_the_results_table() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.find("\n## Quantum candidates")
    if start < 0:
        pytest.skip("README has no '## Quantum candidates' section yet")
    end = readme.find("\n## ", start + 1)
    section = readme[start : end if end > 0 else len(readme)]
    table = (RESULTS / "quantum.md").read_text(encoding="utf-8")
    assert "changed while the benchmark ran" not in table, "quote a run of one code version"
    figures = set(FIGURE.findall(section))
    assert figures, "the README's Quantum candidates section quotes no figure"
    missing = [f for f in sorted(figures) if not re.search(NUMBER.format(re.escape(f)), table)]
    assert not missing, f"README figures not in benchmarks/results/quantum.md: {missing}"
