"""The peers benchmark's harness (benchmarks/peers.py): its pure parts, on real data.

No peer tool and no peers venv is needed: these check that the harness gives every tool
exactly omics_suite's splits, computes AUCs and energy right, measures a process tree, and
turns a results list into the summary and the three targets.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import omics_suite  # noqa: E402
import peers  # noqa: E402
import peers_runner  # noqa: E402
from tests.conftest import shared_data  # noqa: E402


# --------------------------------------------------------------------------------------
# splits: the same halves as omics_suite.run_one
# --------------------------------------------------------------------------------------
class _Captured(Exception):
    def __init__(self, names: list[str]) -> None:
        super().__init__("captured")
        self.names = names


@pytest.mark.parametrize("dataset", ["colon", "GLIOMA", "lymphoma"])
@pytest.mark.parametrize("split", [0, 1])
def test_split_equals_omics_suite(dataset: str, split: int, monkeypatch) -> None:
    shared_data("omics", f"{dataset}.mat")
    import insightome

    def capture(train: Any, **_options: Any) -> None:
        raise _Captured([str(s) for s in train.obs_names])

    monkeypatch.setattr(insightome, "run", capture)
    with pytest.raises(_Captured) as got:
        omics_suite.run_one(dataset, split, quick=True, n_jobs=1)
    ds = peers.load_dataset(dataset)
    sp = peers.make_split(ds.labels, split)
    assert [ds.samples[i] for i in sp.train] == got.value.names
    assert len(sp.train) + len(sp.hold) == int(sp.keep.sum())
    assert not set(sp.train) & set(sp.hold)
    if dataset == "lymphoma":  # classes 8 and 9 (2 samples each) are dropped, as omics_suite does
        assert int((~sp.keep).sum()) == 4 and sp.notes
        assert peers.cv_folds(ds.labels[sp.train]) == 2
    else:
        assert sp.keep.all() and not sp.notes


def test_npz_holds_no_holdout_labels(tmp_path: Path) -> None:
    shared_data("omics", "lymphoma.mat")
    ds = peers.load_dataset("lymphoma")
    sp = peers.make_split(ds.labels, 0)
    info = peers.write_npz(ds, sp, tmp_path / "d.npz")
    with np.load(tmp_path / "d.npz") as z:
        assert set(z.files) == {"X_train", "y_train", "X_hold", "classes", "folds"}
        classes = [str(c) for c in z["classes"]]
        assert classes == sorted(set(ds.labels[sp.keep].tolist())) == info["classes"]
        assert [classes[k] for k in z["y_train"]] == ds.labels[sp.train].tolist()
        assert z["X_hold"].shape == (len(sp.hold), ds.X.shape[1])
        assert int(z["folds"]) == info["folds"] == 2


def test_clinical_cohorts_load_as_audit_frames_them() -> None:
    bc = peers.load_dataset("breast_cancer")
    assert bc.X.shape == (569, 30) and sorted(set(bc.labels)) == ["benign", "malignant"]
    actg = peers.load_dataset("actg175")
    assert actg.X.shape == (2139, 16)
    for col in ("cens", "gender", "race", "treat", "days", "cd420", "Unnamed: 0"):
        assert col not in actg.features
    assert sorted(set(actg.labels)) == ["0", "1"] and not np.isnan(actg.X).any()
    sp = peers.make_split(actg.labels, 0)
    assert len(sp.train) == 1069 and len(sp.hold) == 1070


# --------------------------------------------------------------------------------------
# AUC, probabilities, energy
# --------------------------------------------------------------------------------------
def test_holdout_auc_binary_and_multiclass() -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    y = np.array(["a", "b"] * 20)
    p1 = rng.random(40) * 0.5 + (y == "b") * 0.3
    auc, note = peers.holdout_auc(y, np.c_[1 - p1, p1], ["a", "b"])
    assert auc == pytest.approx(roc_auc_score(y == "b", p1)) and note == ""

    y3 = np.array(["x", "y", "z"] * 10)
    raw = rng.random((30, 3)) + np.eye(3)[[0, 1, 2] * 10]
    proba = raw / raw.sum(axis=1, keepdims=True)
    want = roc_auc_score(y3, proba, multi_class="ovr", average="macro", labels=["x", "y", "z"])
    assert peers.holdout_auc(y3, proba, ["x", "y", "z"])[0] == pytest.approx(want)
    # a tool that dropped class "z": its column is 0, rows are renormalized, and it says so
    aligned = peers.align_proba(proba[:, :2], ["x", "y"], ["x", "y", "z"])
    assert np.all(aligned[:, 2] == 0)
    auc, note = peers.holdout_auc(y3, aligned, ["x", "y", "z"])
    assert "renormalized" in note and 0 <= auc <= 1
    # column order follows the tool's class names, not positions
    swapped = peers.align_proba(proba[:, ::-1], ["z", "y", "x"], ["x", "y", "z"])
    assert np.allclose(swapped, proba)


def test_runner_ovr_auc_matches_sklearn_and_skips_absent_classes() -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(1)
    y = np.array([0, 1, 2, 3] * 6)
    p = rng.dirichlet(np.ones(4), size=24)
    want = roc_auc_score(y, p, multi_class="ovr", average="macro")
    assert peers_runner.ovr_auc(y, p, 4) == pytest.approx(want)
    keep = y != 3  # class 3 absent from a validation split: averaged over the other three
    per = [roc_auc_score(y[keep] == k, p[keep, k]) for k in range(3)]
    assert peers_runner.ovr_auc(y[keep], p[keep], 4) == pytest.approx(np.mean(per))
    full = peers_runner._proba_full(np.array([[0.2, 0.8]]), [3, 1], 4)
    assert full.tolist() == [[0.0, 0.8, 0.0, 0.2]]


def test_network_guard_allows_only_loopback() -> None:
    ok = peers_runner.NetworkGuard._loopback
    assert ok(("127.0.0.1", 8786)) and ok(("localhost", 1)) and ok(("::1", 80, 0, 0))
    assert not ok(("151.101.0.223", 443)) and not ok(("pypi.org", 443))


def test_energy_uses_insightome_green_algorithms_constants() -> None:
    from insightome.compute.ledger import DEFAULT_PUE, MEMORY_POWER_W_PER_GB
    from insightome.compute.probes import core_power, cpu_model

    c = peers.energy_constants()
    assert c["pue"] == DEFAULT_PUE and c["memory_power_w_per_gb"] == MEMORY_POWER_W_PER_GB
    assert c["core_power_w"] == core_power(cpu_model())[0]
    fixed = {"core_power_w": 12.0, "memory_power_w_per_gb": 0.3725, "pue": 1.67}
    # 100 CPU s x 12 W + 50 s x 2 GB x 0.3725 W/GB = 1237.25 J; x 1.67; / 3600 J per Wh
    assert peers.energy_wh(100.0, 50.0, 2.0, fixed) == pytest.approx(1237.25 * 1.67 / 3600)
    assert peers.energy_wh(0.0, 0.0, 5.0, fixed) == 0.0


# --------------------------------------------------------------------------------------
# measuring a process tree from outside
# --------------------------------------------------------------------------------------
def test_measure_counts_cpu_and_memory_of_descendants(tmp_path: Path) -> None:
    grandchild = tmp_path / "grandchild.py"
    grandchild.write_text(
        textwrap.dedent(
            """
            import time
            buffer = bytearray(60 * 2**20)  # 60 MiB, touched
            start = time.process_time()
            while time.process_time() - start < 0.6:
                pass
            time.sleep(0.8)
            """
        )
    )
    child = (
        "import subprocess, sys\n"
        f"subprocess.run([sys.executable, {str(grandchild)!r}], check=True)\n"
        "print('PEERS_RESULT {}')\n"
    )
    m = peers.measure([sys.executable, "-c", child], env=dict(os.environ), timeout=60)
    assert m.returncode == 0 and not m.timed_out
    assert m.cpu_s >= 0.55  # the grandchild's busy loop, reaped by its parent
    assert m.peak_mem_mb >= 55  # its 60 MiB buffer, seen while it slept
    assert m.mem_method in ("PSS", "RSS", "PSS+RSS") and m.max_processes >= 2
    assert peers._marker_json(m.stdout, peers.RESULT_MARKER) == {}


def test_measure_kills_a_run_past_its_timeout() -> None:
    cmd = [sys.executable, "-c", "import time; time.sleep(30)"]
    m = peers.measure(cmd, env=dict(os.environ), timeout=1)
    assert m.timed_out and m.wall_s < 10


# --------------------------------------------------------------------------------------
# summary, targets, report
# --------------------------------------------------------------------------------------
def _row(tool: str, ds: str, split: int, auc: float | None, est: float | None,
         cpu: float, **extra: Any) -> dict[str, Any]:  # fmt: skip
    r: dict[str, Any] = {
        "tool": tool, "dataset": ds, "split": split, "n_train": 10, "n_holdout": 10, "p": 5,
        "n_classes": 2, "task": "binary", "wall_s": cpu / 2, "cpu_s": cpu, "cpu_sampled_s": cpu,
        "peak_mem_mb": 100.0 + cpu, "mem_method": "PSS", "max_processes": 1,
        "energy_wh": cpu / 100, "notes": [],
    }  # fmt: skip
    if auc is None:
        r["error"] = "exit code 1\nboom"
    else:
        r.update(holdout_auc=auc, estimate=est, error_est=None if est is None else est - auc,
                 estimate_kind="k", version="v", details={})  # fmt: skip
    r.update(extra)
    return r


ROWS = [
    _row("insightome", "a", 0, 0.90, 0.88, 10.0),
    _row("insightome", "b", 0, 0.80, 0.81, 20.0),
    _row("autogluon_best", "a", 0, 0.92, 0.99, 100.0),
    _row("autogluon_best", "b", 0, 0.80, 0.90, 110.0),
    _row("rf_grid", "a", 0, 0.85, 0.95, 5.0),
    _row("rf_grid", "b", 0, None, None, 7.0),  # failed
]


def test_summary_per_tool() -> None:
    s = {x["tool"]: x for x in peers.summarize(ROWS, ["insightome", "autogluon_best", "rf_grid"])}
    ins = s["insightome"]
    assert ins["n_ok"] == 2 and ins["mean_holdout_auc"] == pytest.approx(0.85)
    assert ins["mean_abs_error"] == pytest.approx(0.015)
    assert ins["mean_signed_error"] == pytest.approx(-0.005)
    assert ins["total_cpu_s"] == 30.0 and ins["mean_wall_s"] == 7.5
    assert ins["max_peak_mem_mb"] == 120.0 and ins["total_energy_wh"] == pytest.approx(0.3)
    rf = s["rf_grid"]
    assert (rf["n_ok"], rf["n_failed"], rf["n_runs"]) == (1, 1, 2)
    assert rf["mean_holdout_auc"] == pytest.approx(0.85) and rf["total_cpu_s"] == 12.0


def test_targets_pairwise() -> None:
    t = peers.targets(ROWS, ["insightome", "autogluon_best", "rf_grid"])
    auc = {c["peer"]: c for c in t["auc"]["comparisons"]}
    # vs AutoGluon on a and b: 0.85 vs 0.86 -> -0.01, within the margin
    assert auc["autogluon_best"]["difference"] == pytest.approx(-0.01)
    assert auc["autogluon_best"]["pass"]
    # vs RF only on a (RF failed on b): 0.90 vs 0.85
    assert auc["rf_grid"]["n_pairs"] == 1 and auc["rf_grid"]["pass"] and t["auc"]["pass"]
    err = {c["peer"]: c for c in t["estimate_error"]["comparisons"]}
    assert err["autogluon_best"]["insightome"] == pytest.approx(0.015)
    assert err["autogluon_best"]["peer_value"] == pytest.approx(0.085)
    assert err["rf_grid"]["insightome"] == pytest.approx(0.02) and t["estimate_error"]["pass"]
    cpu = t["cpu"]
    assert cpu["insightome_cpu_s"] == 30.0 and cpu["autogluon_best_cpu_s"] == 210.0
    assert cpu["ratio"] == pytest.approx(30 / 210) and cpu["pass"]

    worse = [*ROWS[:2], _row("autogluon_best", "a", 0, 0.99, 0.99, 40.0)]
    t = peers.targets(worse, ["insightome", "autogluon_best"])
    assert not t["auc"]["pass"] and not t["estimate_error"]["pass"] and not t["cpu"]["pass"]
    assert t["cpu"]["n_pairs"] == 1 and t["cpu"]["ratio"] == pytest.approx(0.25)

    only = peers.targets(ROWS[:2], ["insightome"])
    assert not only["auc"]["evaluated"] and not only["cpu"]["evaluated"]
    assert "without_discovery_audit" not in cpu  # the rows record no stage CPU


def test_the_cpu_target_is_also_reported_without_discovery_and_audit() -> None:
    """Each insightome run records its stages' CPU (the energy ledger's); the CPU target is
    also given with the discovery and audit stages, which no peer runs, subtracted."""
    rows = copy.deepcopy(ROWS)
    for r in rows:
        if r["tool"] == "insightome":
            r["details"]["stage_cpu_s"] = {"select": 5.0, "discover": 4.0, "audit": 1.0}
    cpu = peers.targets(rows, ["insightome", "autogluon_best"])["cpu"]
    w = cpu["without_discovery_audit"]
    assert w["discovery_audit_cpu_s"] == 10.0  # two runs x (4 + 1)
    assert w["insightome_cpu_s"] == cpu["insightome_cpu_s"] - 10.0
    assert w["ratio"] == pytest.approx(20 / 210) and w["pass"]
    tools = ["insightome", "autogluon_best"]
    tgt = peers.targets(rows, tools)
    md = peers.render_markdown(_meta(tools), rows, peers.summarize(rows, tools), tgt)
    assert "without discovery and the model audit (their stages' 10 CPU-s" in md
    assert cpu["insightome_stage_cpu_s"] == {"select": 10.0, "discover": 8.0, "audit": 2.0}
    assert "summed over the runs (energy ledger" in md and ": select 10, discover 8, audit 2" in md
    del rows[0]["details"]["stage_cpu_s"]  # a run resumed from an older file records none
    tgt = peers.targets(rows, tools)
    assert "without_discovery_audit" not in tgt["cpu"]
    md = peers.render_markdown(_meta(tools), rows, peers.summarize(rows, tools), tgt)
    assert "model audit: not evaluated (1 insightome runs record no stage CPU)" in md


def _meta(tools: list[str]) -> dict[str, Any]:
    """The results header render_markdown reads."""
    return {
        "command": "python benchmarks/peers.py", "date": "d", "total_seconds": 60.0,
        "projected_seconds": 60.0, "quick": False, "splits": 1, "n_jobs": 2,
        "datasets": ["a", "b"], "skipped": ["heart_failure (x not found)"], "tools": tools,
        "budget_text": {t: peers.describe_budget(t, peers.BUDGETS.get(
            t, {"preset": "default", "repeats": 3}), 2) for t in tools},
        "machine": {"cpu": "cpu", "logical_cores": 2, "usable_cores": 2, "ram_gib": 8.0,
                    "os": "linux"},
        "versions": {"insightome": "0"}, "peer_versions": {"TPOT": "1"}, "peers_venv_mb": 1.0,
        "source": "git commit x", "mem_methods": "PSS", "plot": "peers.png", "notes": ["n"],
        "energy": {"core_power_w": 12.0, "core_power_source": "s", "memory_power_w_per_gb": 0.3725,
                   "pue": 1.67},
    }  # fmt: skip


def test_report_and_plot(tmp_path: Path) -> None:
    tools = ["insightome", "autogluon_best", "rf_grid"]
    summary = peers.summarize(ROWS, tools)
    tgt = peers.targets(ROWS, tools)
    meta = _meta(tools)
    md = peers.render_markdown(meta, ROWS, summary, tgt)
    assert "![mean hold-out AUC against total CPU time](peers.png)" in md
    assert md.count("**PASS**") == 3 and "**FAILED**" in md and "time_limit=120" in md
    assert "skipped: heart_failure" in md and "| RF GridSearchCV | 1/2 |" in md
    peers.plot(summary, tmp_path / "p.png", quick=False)
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_paired_ci_resamples_datasets_not_splits() -> None:
    # dataset a: insightome ahead by 0.10 on both splits; b: behind by 0.02 on both
    rows = [
        _row("insightome", "a", 0, 0.90, 0.9, 1.0), _row("rf_grid", "a", 0, 0.80, 0.8, 1.0),
        _row("insightome", "a", 1, 0.95, 0.9, 1.0), _row("rf_grid", "a", 1, 0.85, 0.8, 1.0),
        _row("insightome", "b", 0, 0.70, 0.7, 1.0), _row("rf_grid", "b", 0, 0.72, 0.7, 1.0),
        _row("insightome", "b", 1, 0.60, 0.7, 1.0), _row("rf_grid", "b", 1, 0.62, 0.7, 1.0),
    ]  # fmt: skip
    pairs = peers._paired(rows, "insightome", "rf_grid")
    lo, hi = peers.paired_difference_ci(pairs, lambda r: r["holdout_auc"])
    # resampling whole datasets: the mean difference is -0.02, +0.04 or +0.10
    assert lo == pytest.approx(-0.02) and hi == pytest.approx(0.10)
    assert peers.paired_difference_ci(pairs, lambda r: r["holdout_auc"]) == (lo, hi)
    c = peers.targets(rows, ["insightome", "rf_grid"])["auc"]["comparisons"][0]
    assert c["difference"] == pytest.approx(0.04) and c["ci95"] == [lo, hi]
    assert (c["datasets_ahead"], c["datasets_level"], c["datasets_behind"]) == (1, 0, 1)
    assert c["n_datasets"] == 2
    assert "95% CI -0.020 to +0.100" in peers._ci_text(c)


def test_per_dataset_table_marks_best_and_failures() -> None:
    table = peers.per_dataset_table(ROWS, ["insightome", "autogluon_best", "rf_grid"])
    assert table[2] == "| a | 0.900 | **0.920** | 0.850 |"
    assert table[3] == "| b | **0.800** | **0.800** | failed |"


def test_rerender_rewrites_results_from_saved_runs(tmp_path: Path) -> None:
    tools = ["insightome", "autogluon_best", "rf_grid"]
    meta = {
        "command": "python benchmarks/peers.py", "date": "d", "total_seconds": 60.0,
        "projected_seconds": 60.0, "quick": False, "splits": 1, "n_jobs": 2,
        "datasets": ["a", "b"], "skipped": [], "tools": tools,
        "budget_text": dict.fromkeys(tools, "b"),
        "machine": {"cpu": "cpu", "logical_cores": 2, "usable_cores": 2, "ram_gib": 8.0,
                    "os": "linux"},
        "versions": {"insightome": "0"}, "peer_versions": {}, "peers_venv_mb": None,
        "source": "s", "mem_methods": "PSS", "plot": "peers.png", "notes": [],
        "energy": {"core_power_w": 12.0, "core_power_source": "s", "memory_power_w_per_gb": 0.3725,
                   "pue": 1.67},
    }  # fmt: skip
    out = tmp_path / "peers.md"
    out.with_suffix(".json").write_text(json.dumps({"meta": meta, "runs": ROWS}))
    assert peers.main(["--rerender", "--output", str(out)]) == 0
    md = out.read_text()
    assert "re-rendered" in md and "95% CI" in md and "## Per dataset: mean hold-out AUC" in md
    saved = json.loads(out.with_suffix(".json").read_text())
    assert saved["targets"]["auc"]["comparisons"][0]["peer"] == "autogluon_best"
    assert out.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"
    assert not list(tmp_path.glob("*.tmp*"))


def test_budgets_fit_two_hours() -> None:
    full = peers.projected_seconds(dict.fromkeys(peers.DATASETS, 2), peers.TOOLS)
    assert full < 2 * 3600
    for tool, budget in peers.BUDGETS.items():
        assert peers.hard_timeout(tool, budget) >= peers.budget_seconds(tool, budget) + 300


def test_cli_rejects_unknown_names() -> None:
    out = subprocess.run(
        [sys.executable, str(BENCH / "peers.py"), "--tools", "insightome", "--datasets", "nope"],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert out.returncode != 0 and "nope" in out.stderr


def test_reuse_peers_takes_only_the_peers_runs_and_says_where_from(tmp_path: Path) -> None:
    earlier = tmp_path / "old.json"
    meta = {
        "date": "2026-11-29", "source": "git commit abc", "peer_versions": {"TPOT": "1.1.0"},
        "peers_venv_mb": 1088.0, "quick": False, "budgets": dict(peers.BUDGETS),
        "machine": {"cpu": "Xeon", "logical_cores": 2, "usable_cores": 2, "ram_gib": 23.5,
                    "os": "linux"},
    }  # fmt: skip
    earlier.write_text(json.dumps({"meta": meta, "runs": ROWS}))
    runs, where = peers._earlier_peer_runs(earlier, ["autogluon_best"])
    assert runs and {tool for _, _, tool in runs} == {"autogluon_best"}  # not rf_grid, not ours
    assert all(r["tool"] == "autogluon_best" for r in runs.values())
    assert where["date"] == "2026-11-29" and where["peer_versions"] == {"TPOT": "1.1.0"}
    assert peers._earlier_peer_runs(None, ["autogluon_best"]) == ({}, None)
    (line,) = peers._reuse_line({**where, "runs": len(runs)})
    assert f"{len(runs)} runs of the peers from the run of 2026-11-29" in line
    assert "only insightome's runs are new" in line and "Xeon" in line
    assert peers._reuse_line(None) == []
    line = peers._reuse_line({**where, "runs": 3, "run_now": 2})[0]
    assert "2 peers' runs missing there were run now" in line
    # a file that reused them in turn still says where they were run
    chained = {**meta, "date": "2026-12-07", "source": "git commit def",
               "reused_peer_runs": {**where, "runs": len(runs), "run_now": 0}}  # fmt: skip
    earlier.write_text(json.dumps({"meta": chained, "runs": ROWS}))
    _, again = peers._earlier_peer_runs(earlier, ["autogluon_best"])
    assert (again["date"], again["source"]) == ("2026-11-29", "git commit abc")
    mixed = {**chained, "reused_peer_runs": {**where, "runs": 1, "run_now": 2}}
    earlier.write_text(json.dumps({"meta": mixed, "runs": ROWS}))
    with pytest.raises(SystemExit, match="come from two runs"):
        peers._earlier_peer_runs(earlier, ["autogluon_best"])
    # runs made with other settings are refused
    earlier.write_text(json.dumps({"meta": {**meta, "quick": True}, "runs": ROWS}))
    with pytest.raises(SystemExit, match="other settings"):
        peers._earlier_peer_runs(earlier, ["autogluon_best"])
    other = {**meta, "budgets": {**meta["budgets"], "autogluon_best": {"time_limit": 5}}}
    earlier.write_text(json.dumps({"meta": other, "runs": ROWS}))
    with pytest.raises(SystemExit, match="budgets differ for \\['autogluon_best'\\]"):
        peers._earlier_peer_runs(earlier, ["autogluon_best"])


def test_readme_peers_figures_come_from_the_results() -> None:
    """The README's peers paragraph quotes benchmarks/results/peers.json."""
    repo = BENCH.parent
    readme = " ".join((repo / "README.md").read_text().split())
    res = json.loads((repo / "benchmarks" / "results" / "peers.json").read_text())
    by = {s["tool"]: s for s in res["summary"]}
    auc = {t: f"{by[t]['mean_holdout_auc']:.3f}" for t in by}
    assert (
        f"Mean hold-out AUC over the 18 splits: insightome {auc['insightome']}, AutoGluon "
        f"{auc['autogluon_medium']} (medium) and {auc['autogluon_best']} (best), TPOT "
        f"{auc['tpot']}, forest grid {auc['rf_grid']}, OmicLearn-style {auc['omiclearn']}."
    ) in readme
    cpu = by["insightome"]["total_cpu_s"]
    assert f"insightome used {cpu:.0f} CPU-seconds over the 18 runs" in readme
    assert f"{cpu / by['autogluon_best']['total_cpu_s']:.2f}× AutoGluon `best_quality`" in readme
    assert f"{cpu / by['rf_grid']['total_cpu_s']:.2f}× the forest grid" in readme
    reused = res["meta"]["reused_peer_runs"]
    assert f"the peers' {reused['runs']} runs are reused" in readme
