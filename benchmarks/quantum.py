"""Quantum candidates benchmark: does a simulated quantum kernel beat a classical one?

On the six shared omics sets and two clinical cohorts (ACTG 175, heart failure), with the
omics suite's 50/50 splits (``peers.make_split``: stratified, ``random_state`` = split, the
same class-dropping rule), insightome runs once on each training half with
``candidates="default,quantum"`` and its defaults otherwise. From its results.json
``quantum.families`` every family (``default``: the preset's classical candidates;
``quantum_kernel_svm``; ``variational_quantum``; ``rbf_svm``: an RBF-kernel SVM on the same
PCA-reduced features as the quantum models) gives its own BBC-CV estimate [95% CI], plain CV,
best configuration and fit time. Each family's best configuration is then refitted on the
whole training half (the run's own encoded table and class order) and scored on the untouched
hold-out half (``peers.holdout_auc``: binary AUC, multiclass macro one-vs-rest), as is the
run's own winner (its saved model, ``insightome.predict``). Paired hold-out differences
(quantum - RBF, quantum - default) get a 95% CI from 2,000 stratified resamples of the
hold-out half (the same resamples for both models); over all splits, from a bootstrap over
datasets (``peers.paired_difference_ci``). Fit seconds (single-core fits) become Wh with
insightome's energy constants (``peers.energy_constants``).

The simulation is PennyLane's ``default.qubit`` in analytic mode: exact statevectors on 8
qubits, no shots, no noise. Results go to ``benchmarks/results/quantum.md`` (+ ``.json``).
Usage::

    python benchmarks/quantum.py                          # 8 datasets x 2 splits
    python benchmarks/quantum.py --datasets colon,actg175 --splits 1
    python benchmarks/quantum.py --quick --output /tmp/quantum.md   # smoke test (colon)
    python benchmarks/quantum.py --keep                   # rerun only the failed / missing splits
    python benchmarks/quantum.py --render                 # rewrite the .md from the .json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import statistics
import sys
import time
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

import omics_suite
import peers

REPO = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO / "benchmarks" / "results"
DATASETS: tuple[str, ...] = (*omics_suite.DATASETS, "actg175", "heart_failure")
QUICK_DATASETS = ("colon",)
FAMILIES = ("default", "quantum_kernel_svm", "variational_quantum", "rbf_svm")
QUANTUM = ("quantum_kernel_svm", "variational_quantum")
LABELS = {
    "default": "default (classical)",
    "quantum_kernel_svm": "quantum-kernel SVM",
    "variational_quantum": "variational quantum classifier",
    "rbf_svm": "RBF SVM (control)",
    "winner": "run's winner",
}
SHORT = {
    "default": "default",
    "quantum_kernel_svm": "QK",
    "variational_quantum": "VQ",
    "rbf_svm": "RBF",
}
#: the paired comparisons, quantum family first: (a, b) reads "a - b"
COMPARISONS: tuple[tuple[str, str], ...] = (
    ("quantum_kernel_svm", "rbf_svm"),
    ("quantum_kernel_svm", "default"),
    ("variational_quantum", "rbf_svm"),
    ("variational_quantum", "default"),
)
HOLDOUT_BOOTSTRAP = 2_000  # stratified resamples of a hold-out half, per split
BOOTSTRAP_SEED = 0
LEVEL = 0.005  # a dataset's mean difference within +-this counts as level
CANDIDATES = "default,quantum"


def comparison_key(a: str, b: str) -> str:
    return f"{a} - {b}"


# --------------------------------------------------------------------------------------
# hold-out AUC under stratified resampling (vectorized; equals peers.holdout_auc at weight 1)
# --------------------------------------------------------------------------------------
def auc_scores(proba: Any, n_classes: int) -> np.ndarray:
    """The scores ``peers.holdout_auc`` ranks: binary P(classes[1]) as one column;
    multiclass the probabilities, renormalized as it renormalizes them."""
    proba = np.asarray(proba, dtype=float)
    if n_classes == 2:
        return proba[:, [1]]
    sums = proba.sum(axis=1)
    if not np.allclose(sums, 1.0, atol=1e-6):
        proba = np.where((sums <= 0)[:, None], 1.0 / n_classes, proba)
        proba = proba / proba.sum(axis=1)[:, None]
    return proba


def resample_counts(codes: Any, n_boot: int, seed: int = BOOTSTRAP_SEED) -> np.ndarray:
    """(n_boot x n) multiplicities of a stratified bootstrap: each class's samples drawn
    with replacement within the class, so every resample keeps the class counts."""
    codes = np.asarray(codes)
    rng = np.random.default_rng(seed)
    counts = np.zeros((n_boot, len(codes)), dtype=np.int64)
    rows = np.arange(n_boot)
    for c in np.unique(codes):
        members = np.flatnonzero(codes == c)
        draws = members[rng.integers(0, len(members), size=(n_boot, len(members)))]
        np.add.at(counts, (np.repeat(rows, len(members)), draws.ravel()), 1)
    return counts


def resampled_auc(codes: Any, scores: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """AUC of each resample (row of ``counts``): binary (one score column) the AUC of
    class 1; multiclass the macro mean of the one-vs-rest AUCs. Ties count one half."""
    codes = np.asarray(codes)
    counts = np.asarray(counts, dtype=float)
    columns = [(0, 1)] if scores.shape[1] == 1 else [(k, k) for k in range(scores.shape[1])]
    total = np.zeros(len(counts))
    for col, cls in columns:
        pos = codes == cls
        s = scores[:, col]
        a, b = s[pos][:, None], s[~pos][None, :]
        wins = (a > b) + 0.5 * (a == b)
        cp, cn = counts[:, pos], counts[:, ~pos]
        total += ((cp @ wins) * cn).sum(axis=1) / (cp.sum(axis=1) * cn.sum(axis=1))
    return total / len(columns)


def paired_holdout(
    codes: Any, proba_a: Any, proba_b: Any, n_classes: int, counts: np.ndarray
) -> dict[str, Any]:
    """AUC(a) - AUC(b) on the hold-out half, with the 95% percentile CI of the same
    difference over the resamples ``counts`` (the same resamples for both models)."""
    sa, sb = auc_scores(proba_a, n_classes), auc_scores(proba_b, n_classes)
    ones = np.ones((1, len(np.asarray(codes))))
    point = float(resampled_auc(codes, sa, ones)[0] - resampled_auc(codes, sb, ones)[0])
    diffs = resampled_auc(codes, sa, counts) - resampled_auc(codes, sb, counts)
    lo, hi = np.percentile(diffs, [2.5, 97.5])
    return {
        "difference": point,
        "ci95": [float(lo), float(hi)],
        "share_above_zero": float(np.mean(diffs > 0)),
        "n_resamples": len(counts),
    }


# --------------------------------------------------------------------------------------
# one dataset x split
# --------------------------------------------------------------------------------------
def load_halves(name: str, split: int) -> tuple[peers.Dataset, peers.Split, Any, Any]:
    """The dataset, its split and the training / hold-out AnnData, built as the omics suite
    (omics: the .mat file as insightome reads it) and peers (cohorts) build them."""
    import anndata as ad
    import pandas as pd

    ds = peers.load_dataset(name)
    sp = peers.make_split(ds.labels, split)
    if name in peers.OMICS_DATASETS:
        from insightome.io import read

        adata = read(peers.dataset_path(name))
    else:
        adata = ad.AnnData(
            ds.X,
            obs=pd.DataFrame({ds.target: ds.y_raw}, index=pd.Index(ds.samples)),
            var=pd.DataFrame(index=pd.Index(ds.features)),
        )
    if [str(s) for s in adata.obs_names] != ds.samples:
        raise RuntimeError(f"{name}: the AnnData's samples differ from peers.load_dataset's")
    return ds, sp, adata[sp.train].copy(), adata[sp.hold].copy()


def fit_run(train: Any, target: str, *, quick: bool, n_jobs: int) -> tuple[Any, Any, list[Any]]:
    """insightome on the training half with the quantum set; returns the run, its study
    (encoded table, outcome codes, class order) and its candidates, read by a stage
    plugged in after refit."""
    import insightome
    from insightome.stages import Stage

    seen: dict[str, Any] = {}

    def keep(state: Any) -> None:
        seen["study"], seen["candidates"] = state.study, list(state.candidates)

    run = insightome.run(
        train,
        target=target,
        candidates=CANDIDATES,
        preset="fast" if quick else "default",
        repeats=1 if quick else omics_suite.REPEATS,
        n_bootstrap=omics_suite.N_BOOTSTRAP,
        seed=0,
        n_jobs=n_jobs,
        discover=False,
        audit=False,
        out_dir=None,
        stages=[Stage("bench_capture", keep, after="refit", saved=False)],
    )  # no folds: insightome's own choice (5, fewer when the smallest class asks)
    return run, seen["study"], seen["candidates"]


def refit(cand: Any, features: Any, y: Any, X_hold: Any, n_classes: int) -> dict[str, Any]:
    """One configuration fitted on the whole training half (one core, as every CV fit),
    and its (n_hold x n_classes) probabilities, columns in the run's class order."""
    from threadpoolctl import threadpool_limits

    from insightome.evaluate.engine import counted_warnings, describe_warnings

    wall, cpu = time.perf_counter(), time.process_time()
    with threadpool_limits(limits=1), counted_warnings() as raised:
        model = cand.build(features, seed=0).fit(features, y)
    fit_cpu, fit_wall = time.process_time() - cpu, time.perf_counter() - wall
    proba = np.zeros((len(X_hold), n_classes))
    with threadpool_limits(limits=1), counted_warnings() as raised_predict:
        proba[:, np.asarray(model.classes_, dtype=int)] = model.predict_proba(X_hold)
    raised.update(raised_predict)
    return {
        "proba": proba,
        "refit_cpu_s": fit_cpu,
        "refit_wall_s": fit_wall,
        "refit_warnings": describe_warnings(raised) if raised else "",
    }


def family_rows(
    res: dict[str, Any], cands: Sequence[Any], energy: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """Each family's record from results.json ``quantum.families`` (an ``error`` when the
    run left it out: no configuration fitted on every fold)."""
    given = {f["family"]: f for f in res["quantum"]["families"]}
    counts: dict[str, int] = {}
    for c in cands:
        fam = c.family if c.family in FAMILIES[1:] else "default"
        counts[fam] = counts.get(fam, 0) + 1
    out: dict[str, dict[str, Any]] = {}
    for fam in FAMILIES:
        f = given.get(fam)
        if f is None:
            out[fam] = {
                "error": "left out of results.json quantum.families (no configuration "
                "of the family was fitted on every fold)",
                "n_configurations": counts.get(fam, 0),
            }
            continue
        out[fam] = {
            "best": f["best"],
            "n_configurations": len(f["configurations"]),
            "estimate": f["value"],
            "ci95": list(f["ci95"]),
            "plain_cv": f["plain_cv_value"],
            "run_selection_frequency": f["run_selection_frequency"],
            "fit_seconds": f["fit_seconds"],
            "n_fits": f["n_fits"],
            "fit_energy_wh": peers.energy_wh(f["fit_seconds"], 0.0, 0.0, energy),
        }
    return out


def score_families(
    fams: dict[str, dict[str, Any]],
    cands: Sequence[Any],
    made: Any,
    X_hold: Any,
    y_hold: Any,
    classes: list[str],
    energy: dict[str, Any],
) -> dict[str, Any]:
    """Refit each family's best configuration and score the hold-out half; returns the
    hold-out probabilities by family (a failed refit is an ``error`` in its record)."""
    by_name = {c.name: c for c in cands}
    probas: dict[str, Any] = {}
    for fam, rec in fams.items():
        if "error" in rec:
            continue
        try:
            got = refit(by_name[rec["best"]], made.features, made.y, X_hold, len(classes))
        except Exception as exc:  # recorded in the row and printed, never dropped
            rec["error"] = f"refit failed: {type(exc).__name__}: {exc}".splitlines()[0][:300]
            print(f"  {fam}: {rec['error']}", flush=True)
            continue
        probas[fam] = got.pop("proba")
        rec.update(got)
        rec["holdout_auc"], note = peers.holdout_auc(y_hold, probas[fam], classes)
        rec["estimate_minus_holdout"] = rec["estimate"] - rec["holdout_auc"]
        rec["cpu_s"] = rec["fit_seconds"] + rec["refit_cpu_s"]
        rec["energy_wh"] = peers.energy_wh(rec["cpu_s"], 0.0, 0.0, energy)
        if note:
            rec["note"] = note
    return probas


def run_one(name: str, split: int, *, quick: bool, n_jobs: int, energy: dict[str, Any]) -> dict:
    """One dataset x split: the run, every family refitted and scored, paired differences."""
    import insightome
    from insightome.prediction import feature_table

    t0 = time.perf_counter()
    ds, sp, train, hold = load_halves(name, split)
    run, made, cands = fit_run(train, ds.target, quick=quick, n_jobs=n_jobs)
    res = run.results
    classes = [str(c) for c in res["outcome"]["classes"]]
    row = split_facts(ds, sp, split, res, quick)
    y_hold = ds.labels[sp.hold]
    learned = np.isin(y_hold, classes)
    if not learned.all():
        row["notes"].append(
            f"{int((~learned).sum())} hold-out sample(s) of the class(es) insightome left out "
            "not scored"
        )
    y_hold = y_hold[learned]
    X_hold = feature_table(hold, run, f"{name} hold-out half")
    if list(X_hold.columns) != [str(c) for c in made.features.columns]:
        raise RuntimeError(f"{name}: the hold-out table's columns differ from the study's")
    X_hold = X_hold[learned]
    fams = family_rows(res, cands, energy)
    probas = score_families(fams, cands, made, X_hold, y_hold, classes, energy)
    row["families"] = fams
    predict = insightome.predict
    if not callable(predict):  # older src: the submodule shadowed the function (as omics_suite)
        predict = predict.predict
    pred = predict(run, hold).loc[[str(s) for s in hold.obs_names]][learned]
    win_proba = pred[[f"prob_{c}" for c in classes]].to_numpy(float)
    win_auc, _ = peers.holdout_auc(y_hold, win_proba, classes)
    row["winner"]["holdout_auc"] = win_auc
    row["winner"]["estimate_minus_holdout"] = row["winner"]["estimate"] - win_auc
    win_family = res["winner"]["family"]
    same = fams.get(win_family if win_family in FAMILIES else "default", {})
    if same.get("best") == res["winner"]["name"] and "holdout_auc" in same:
        if abs(same["holdout_auc"] - win_auc) > 1e-9:
            row["notes"].append(
                f"the run's saved winner scored {win_auc:.4f} on the hold-out half, its refit "
                f"here {same['holdout_auc']:.4f}"
            )
    codes = np.array([classes.index(v) for v in y_hold])
    counts = resample_counts(codes, HOLDOUT_BOOTSTRAP)
    row["comparisons"] = {}
    for a, b in COMPARISONS:
        if a in probas and b in probas:
            row["comparisons"][comparison_key(a, b)] = paired_holdout(
                codes, probas[a], probas[b], len(classes), counts
            )
    row["n_holdout_scored"] = int(learned.sum())
    row["wall_s"] = time.perf_counter() - t0
    return row


def split_facts(
    ds: peers.Dataset, sp: peers.Split, split: int, res: dict[str, Any], quick: bool
) -> dict[str, Any]:
    """What the run decided and cost: task, classes, folds, winner, estimate, ledger."""
    notes = list(sp.notes)
    folds = int(res["resampling"]["folds"])
    if folds != omics_suite.FOLDS:
        notes.append(
            f"insightome chose {folds}-fold CV: {res['resampling']['fold_choice']['reason']}"
        )
    left_out = res["outcome"].get("classes_left_out") or []
    if left_out:
        listed = ", ".join(f"{c['label']} (n={c['n_samples']})" for c in left_out)
        notes.append(f"insightome left out class(es) {listed} of the training half (too small)")
    failed = {c["name"]: c["failed_folds"] for c in res["configurations"] if c["failed_folds"]}
    if failed:
        notes.append("failed folds: " + ", ".join(f"{k}: {v}" for k, v in failed.items()))
    notes += [n for n in res["notes"] if n.startswith("fit warnings")]
    est, total = res["estimate"], res["compute"]["total"]
    q = res["quantum"]
    qubits = sorted({int(c["qubits"]) for c in q["circuits"].values()})
    return {
        "dataset": ds.name,
        "split": split,
        "n": len(ds.labels),
        "n_used": int(sp.keep.sum()),
        "n_train": len(sp.train),
        "n_holdout": len(sp.hold),
        "p": int(ds.X.shape[1]),
        "p_used": int(res["n_features"]),
        "task": res["task"],
        "classes": [str(c) for c in res["outcome"]["classes"]],
        "folds": folds,
        "repeats": int(res["resampling"].get("repeats", 1 if quick else omics_suite.REPEATS)),
        "preset": "fast" if quick else "default",
        "winner": {
            "name": res["winner"]["name"],
            "family": res["winner"]["family"],
            "is_quantum": bool(q["winner_is_quantum"]),
            "estimate": float(est["value"]),
            "ci95": [float(x) for x in est["ci95"]],
            "plain_cv": float(est["plain_cv_value"]),
        },
        "simulation": {
            "library": q["library"],
            "simulator": q["simulator"],
            "mode": q["mode"],
            "shots": q["shots"],
            "qubits": qubits,
        },
        "run_wall_s": float(total["wall_s"]),
        "run_cpu_s": float(total["cpu_s"]),
        "run_energy_wh": 1000.0 * float(total["energy_kwh"]),
        "run_timings": res["timings"],
        "insightome_warnings": res["warnings"],
        "notes": notes,
    }


# --------------------------------------------------------------------------------------
# summaries (pure functions of the rows)
# --------------------------------------------------------------------------------------
def _ok(r: dict[str, Any]) -> bool:
    return "error" not in r


def _mean(values: Sequence[float]) -> float:
    return float(statistics.fmean(values)) if values else math.nan


def _entry(r: dict[str, Any], fam: str) -> dict[str, Any] | None:
    """A family's (or ``winner``'s) scored record in a row, or None."""
    if not _ok(r):
        return None
    e = r["winner"] if fam == "winner" else r["families"].get(fam, {})
    return e if e.get("holdout_auc") is not None else None


def family_summary(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per family (and the run's winner), over the splits where it was scored: mean
    hold-out AUC, mean BBC-CV estimate, mean estimate - hold-out; fit s and Wh in total
    over the successful splits, and as a ratio to the default family's."""
    ok = [r for r in rows if _ok(r)]
    out = []
    for fam in (*FAMILIES, "winner"):
        got = [e for e in (_entry(r, fam) for r in rows) if e is not None]
        s: dict[str, Any] = {
            "family": fam,
            "n_splits": len(got),
            "n_failed": len(ok) - len(got),
            "mean_holdout_auc": _mean([e["holdout_auc"] for e in got]),
            "mean_estimate": _mean([e["estimate"] for e in got]),
            "mean_estimate_minus_holdout": _mean([e["estimate_minus_holdout"] for e in got]),
        }
        if fam != "winner":
            recs = [r["families"][fam] for r in ok if fam in r["families"]]
            s["n_configurations"] = max((x.get("n_configurations", 0) for x in recs), default=0)
            s["cv_fit_s"] = float(sum(x.get("fit_seconds", 0.0) for x in recs))
            s["refit_cpu_s"] = float(sum(x.get("refit_cpu_s", 0.0) for x in recs))
            s["cpu_s"] = s["cv_fit_s"] + s["refit_cpu_s"]
            s["n_fits"] = int(sum(x.get("n_fits", 0) for x in recs))
        out.append(s)
    base = next(s for s in out if s["family"] == "default")
    for s in out:
        if "cpu_s" in s:
            s["cpu_ratio_to_default"] = s["cpu_s"] / base["cpu_s"] if base["cpu_s"] else math.nan
    return out


def add_energy(summary: list[dict[str, Any]], energy: dict[str, Any]) -> None:
    """Wh of each family's fit seconds (Green Algorithms' CPU term, insightome's constants)."""
    for s in summary:
        if "cpu_s" in s:
            s["energy_wh"] = peers.energy_wh(s["cpu_s"], 0.0, 0.0, energy)


def comparison_summary(
    rows: Sequence[dict[str, Any]],
    a: str,
    b: str,
    key: str = "holdout_auc",
    n_boot: int = peers.PAIRED_BOOTSTRAP,
) -> dict[str, Any]:
    """Mean of ``key`` of family a - family b over the splits where both were scored, the
    95% CI from a bootstrap over datasets (``peers.paired_difference_ci``: a dataset's
    splits resampled together), and on how many datasets a is above / level / below b."""
    pairs = []
    for r in rows:
        ea, eb = _entry(r, a), _entry(r, b)
        if ea is not None and eb is not None:
            pairs.append(
                ({"dataset": r["dataset"], "v": ea[key]}, {"dataset": r["dataset"], "v": eb[key]})
            )
    by_ds: dict[str, list[float]] = {}
    for x, y in pairs:
        by_ds.setdefault(x["dataset"], []).append(x["v"] - y["v"])
    means = {d: statistics.fmean(v) for d, v in by_ds.items()}
    lo, hi = peers.paired_difference_ci(pairs, lambda r: r["v"], n_boot=n_boot)
    return {
        "a": a,
        "b": b,
        "key": key,
        "n_splits": len(pairs),
        "n_datasets": len(by_ds),
        "mean_a": _mean([x["v"] for x, _ in pairs]),
        "mean_b": _mean([y["v"] for _, y in pairs]),
        "difference": _mean([x["v"] - y["v"] for x, y in pairs]),
        "ci95": [lo, hi],
        "datasets_above": sum(d > LEVEL for d in means.values()),
        "datasets_level": sum(abs(d) <= LEVEL for d in means.values()),
        "datasets_below": sum(d < -LEVEL for d in means.values()),
        "splits_ci_above": sum(
            1
            for r in rows
            if _ok(r) and _split_ci(r, a, b) is not None and _split_ci(r, a, b)[0] > 0
        ),
        "splits_ci_below": sum(
            1
            for r in rows
            if _ok(r) and _split_ci(r, a, b) is not None and _split_ci(r, a, b)[1] < 0
        ),
    }


def _split_ci(r: dict[str, Any], a: str, b: str) -> list[float] | None:
    c = r.get("comparisons", {}).get(comparison_key(a, b))
    return None if c is None else c["ci95"]


def dataset_summary(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per dataset, means over its scored splits: each family's hold-out AUC and estimate,
    the paired hold-out differences, and the fit seconds of each family."""
    out = []
    for name in dict.fromkeys(r["dataset"] for r in rows):
        mine = [r for r in rows if r["dataset"] == name]
        ok = [r for r in mine if _ok(r)]
        d: dict[str, Any] = {"dataset": name, "n_splits": len(ok), "n_failed": len(mine) - len(ok)}
        if ok:
            d["task"] = ok[0]["task"]
        for fam in (*FAMILIES, "winner"):
            got = [e for e in (_entry(r, fam) for r in mine) if e is not None]
            d[fam] = {
                "holdout_auc": _mean([e["holdout_auc"] for e in got]),
                "estimate": _mean([e["estimate"] for e in got]),
                "n": len(got),
            }
            if fam != "winner":
                d[fam]["cpu_s"] = float(sum(e.get("cpu_s", 0.0) for e in got))
        d["differences"] = {
            comparison_key(a, b): _mean(
                [
                    r["comparisons"][comparison_key(a, b)]["difference"]
                    for r in ok
                    if comparison_key(a, b) in r.get("comparisons", {})
                ]
            )
            for a, b in COMPARISONS
        }
        d["run_cpu_s"] = float(sum(r["run_cpu_s"] for r in ok))
        d["wall_s"] = float(sum(r["wall_s"] for r in mine))
        out.append(d)
    return out


def summarize(rows: Sequence[dict[str, Any]], energy: dict[str, Any]) -> dict[str, Any]:
    """Everything the tables and the found-paragraph read, from the rows alone."""
    fams = family_summary(rows)
    add_energy(fams, energy)
    ok = [r for r in rows if _ok(r)]
    qubits = sorted({q for r in ok for q in r["simulation"]["qubits"]})
    return {
        "families": fams,
        "comparisons": [comparison_summary(rows, a, b) for a, b in COMPARISONS],
        "estimate_comparisons": [
            comparison_summary(rows, a, b, key="estimate") for a, b in COMPARISONS
        ],
        "datasets": dataset_summary(rows),
        "n_splits": len(rows),
        "n_splits_ok": len(ok),
        "n_datasets": len({r["dataset"] for r in ok}),
        "qubits": qubits,
        "winner_quantum": sum(r["winner"]["is_quantum"] for r in ok),
        "winner_families": {
            fam: sum(1 for r in ok if r["winner"]["family"] == fam)
            for fam in dict.fromkeys(r["winner"]["family"] for r in ok)
        },
        "run_cpu_s": float(sum(r["run_cpu_s"] for r in ok)),
        "run_energy_wh": float(sum(r["run_energy_wh"] for r in ok)),
        "wall_s": float(sum(r["wall_s"] for r in rows)),
    }


def _signed(x: float) -> str:
    return omics_suite._f(x, 3, signed=True)


def _verdict(c: dict[str, Any]) -> str:
    lo, hi = c["ci95"]
    if c["n_datasets"] < 2 or math.isnan(lo):
        return f"no interval over datasets from {c['n_datasets']} dataset(s)"
    ci = f"95% CI {_signed(lo)} to {_signed(hi)} over datasets"
    # a percentile bootstrap over few datasets tends to be too narrow: say how few
    few = f"; a bootstrap over only {c['n_datasets']} datasets" if c["n_datasets"] < 20 else ""
    if lo > 0:
        return f"higher ({ci}{few})"
    if hi < 0:
        return f"lower ({ci}{few})"
    return f"within {max(abs(lo), abs(hi)):.3f} either way ({ci}, which includes 0)"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def found_paragraph(summary: dict[str, Any], simulation: dict[str, Any]) -> str:
    """The "What was found" text, every figure taken from ``summary``."""
    if not summary["n_splits_ok"]:
        return "No split completed; nothing was measured."
    fams = {s["family"]: s for s in summary["families"]}
    cmp = {(c["a"], c["b"]): c for c in summary["comparisons"]}
    q = "/".join(str(x) for x in summary["qubits"]) or "?"
    parts = [
        f"This is a noiseless simulation on {q} qubits ({simulation.get('library', '?')}, "
        f"`{simulation.get('simulator', '?')}`, {simulation.get('mode', '?')}): it measures "
        "what these circuits compute exactly, not what quantum hardware with shot noise and "
        f"gate errors would give. It covers {_plural(summary['n_splits_ok'], 'split')} of "
        f"{_plural(summary['n_datasets'], 'dataset')}."
    ]
    for fam in QUANTUM:
        r, d = cmp[(fam, "rbf_svm")], cmp[(fam, "default")]
        if not r["n_splits"] or not d["n_splits"]:
            parts.append(f"The {LABELS[fam]} has no complete comparison (never scored).")
            continue
        parts.append(
            f"The {LABELS[fam]}'s mean hold-out AUC was {r['mean_a']:.3f} against "
            f"{r['mean_b']:.3f} for the RBF SVM on the same reduced features: "
            f"{_signed(r['difference'])}, {_verdict(r)}; above on {r['datasets_above']}, level "
            f"(within {LEVEL}) on {r['datasets_level']} and below on {r['datasets_below']} of "
            f"{_plural(r['n_datasets'], 'dataset')}. Against insightome's default winner (the "
            f"default family's best configuration, {d['mean_b']:.3f}) it was "
            f"{_signed(d['difference'])}, {_verdict(d)}; above on {d['datasets_above']}, level "
            f"on {d['datasets_level']} and below on {d['datasets_below']}."
        )
    bias = ", ".join(
        f"{LABELS[f]} {_signed(fams[f]['mean_estimate_minus_holdout'])}"
        for f in (*FAMILIES, "winner")
        if fams[f]["n_splits"]
    )
    parts.append(f"Mean BBC-CV estimate minus hold-out AUC: {bias}.")
    cost = ", ".join(
        f"{LABELS[f]} {fams[f]['cpu_s']:.0f} fit s ({fams[f]['cpu_ratio_to_default']:.2f}x, "
        f"{fams[f]['energy_wh']:.2f} Wh, {fams[f]['n_configurations']} configuration(s))"
        for f in FAMILIES[1:]
    )
    parts.append(
        f"Fitting cost (cross-validation fits plus the refit, one core each), against the "
        f"default family's {fams['default']['cpu_s']:.0f} fit s for "
        f"{fams['default']['n_configurations']} configurations: {cost}."
    )
    parts.append(
        f"The run's overall winner (all candidates selected together) was a quantum "
        f"configuration in {summary['winner_quantum']} of {summary['n_splits_ok']} splits."
    )
    return " ".join(parts)


# --------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------
_f = omics_suite._f


def _ci(ci: Sequence[float]) -> str:
    return f"[{_f(ci[0])}, {_f(ci[1])}]"


def _cell(e: dict[str, Any] | None) -> str:
    """``hold-out (estimate)`` of a family in a split, or the reason it has none."""
    if e is None:
        return "n/a"
    if "error" in e:
        return "**failed**"
    if e.get("holdout_auc") is None:
        return f"n/a ({_f(e['estimate'])})"
    return f"{_f(e['holdout_auc'])} ({_f(e['estimate'])})"


def _diff(c: dict[str, Any] | None) -> str:
    if c is None:
        return "n/a"
    lo, hi = c["ci95"]
    return f"{_signed(c['difference'])} [{_signed(lo)}, {_signed(hi)}]"


def _header(meta: dict[str, Any]) -> list[str]:
    m, v, src, e = meta["machine"], meta["versions"], meta["source"], meta["energy"]
    lines = ["# Quantum candidates vs an RBF SVM and insightome's default winner", ""]
    if meta["quick"]:
        lines += [
            "> **QUICK SMOKE TEST** (`--quick`: preset `fast`, 1 repeat). These numbers are NOT "
            "the benchmark; rerun without `--quick`.",
            "",
        ]
    lines += [
        f"- Command: `{meta['command']}`",
        f"- Date: {meta['date']} (total {meta['total_seconds'] / 60:.1f} min"
        + (
            f"; {meta['resumed_splits']} split(s) reused from an earlier invocation (`--keep`), "
            "their time included"
            if meta.get("resumed_splits")
            else ""
        )
        + (f"; tables re-rendered {meta['rendered']}" if meta.get("rendered") else "")
        + ")",
        f"- Machine: {m['cpu']}, {m['logical_cores']} logical cores ({m['usable_cores']} "
        f"usable), {m['ram_gib']} GiB RAM; {m['os']}",
        "- Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
        f"- Source: git commit {src['commit']}"
        + (
            f" with uncommitted edits in {len(src['src_modified'])} file(s) under src/: "
            + ", ".join(src["src_modified"])
            if src["src_modified"]
            else " (src/ clean)"
        )
        + _source_change(meta["source_at_start"], src),
        f'- insightome settings: `candidates="{CANDIDATES}"`, preset={meta["preset"]}, '
        f"repeats={meta['repeats']}, folds=insightome's choice ({omics_suite.FOLDS}, fewer when "
        f"a class asks), n_bootstrap={omics_suite.N_BOOTSTRAP}, seed=0, n_jobs={meta['n_jobs']}, "
        "discover=False, audit=False",
        f"- Simulation: {meta['simulation'].get('library', '?')}, "
        f"`{meta['simulation'].get('simulator', '?')}`, {meta['simulation'].get('mode', '?')}; "
        f"qubits {meta['simulation'].get('qubits', '?')}",
        f"- Energy: fit s x {e['core_power_w']} W per core x PUE {e['pue']} "
        f"({e['core_power_source']})",
        f"- Datasets: {', '.join(meta['datasets'])}"
        + (f"; skipped: {'; '.join(meta['skipped'])}" if meta["skipped"] else ""),
        "",
    ]
    return lines


def _source_change(start: dict[str, Any], end: dict[str, Any]) -> str:
    """What changed under src/ between the start and the end of the benchmark: compared by
    file contents where both were recorded (a commit alone changes nothing), else by the
    diff against the commit."""
    at_start = f"git commit {start['commit']}" + (
        f" with uncommitted edits in {len(start['src_modified'])} file(s)"
        if start["src_modified"]
        else ""
    )
    if "src_content_sha256" in start and "src_content_sha256" in end:
        if start["src_content_sha256"] != end["src_content_sha256"]:
            return (
                f" **src/'s files changed while the benchmark ran** (at start: {at_start}): "
                "splits may have run different code."
            )
        if start["commit"] != end["commit"]:
            return f" (at start: {at_start}; committed during the run, src/'s files unchanged)"
        return ""
    if start["src_diff_sha256"] != end["src_diff_sha256"] or start["commit"] != end["commit"]:
        return (
            f" **the diff of src/ against the commit changed while the benchmark ran** (at "
            f"start: {at_start}; an edit or a commit in between): splits may have run "
            "different code."
        )
    return ""


def source_state() -> dict[str, Any]:
    """``omics_suite.source_state()`` plus a hash of the contents of src/'s files (tracked
    and untracked, not ignored), which a commit of unchanged files leaves as it is."""
    import hashlib
    import subprocess

    state = omics_suite.source_state()
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "--", "src"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    digest = hashlib.sha256()
    for rel in sorted(p for p in listed.stdout.splitlines() if p):
        path = REPO / rel
        if path.is_file():
            digest.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    state["src_content_sha256"] = digest.hexdigest()[:12]
    return state


def _protocol(meta: dict[str, Any]) -> list[str]:
    return [
        "## Protocol",
        "",
        "Each dataset is split into stratified 50/50 training and hold-out halves exactly as "
        "`benchmarks/omics_suite.py` does (`peers.make_split`: `random_state` = split number "
        f"0..{meta['splits'] - 1}; classes with fewer than {omics_suite.MIN_CLASS_TOTAL} samples "
        "dropped first when a training half would hold fewer than 2 of them). insightome runs "
        f'once on the training half with `candidates="{CANDIDATES}"`: the preset\'s classical '
        "candidates plus one quantum-kernel SVM (IQP feature map, fidelity kernel), one "
        "variational quantum classifier and one RBF-kernel SVM, the last three after PCA to the "
        "qubit count inside each training fold. Each family's **estimate** is results.json "
        "`quantum.families`: BBC-CV of selecting among that family's own configurations, on the "
        "run's out-of-fold predictions. Each family's best configuration is refitted on the whole "
        "training half (the run's encoded table and class order; one core) and predicts the "
        "hold-out half; **hold-out** is its AUC (`peers.holdout_auc`: binary AUC, multiclass "
        "macro one-vs-rest; hold-out samples of a class insightome left out are not scored). "
        "**run's winner** is the run's own selection among all candidates (its saved model, "
        "`insightome.predict`), with the run's BBC-CV estimate. Per split, a paired difference "
        f"of hold-out AUCs has a 95% CI from {meta['holdout_bootstrap']:,} stratified resamples "
        "of the hold-out half (the same resamples for both models, seed "
        f"{BOOTSTRAP_SEED}); over all splits, the CI is from {peers.PAIRED_BOOTSTRAP:,} "
        "bootstrap resamples of the datasets (a dataset's splits together, "
        f"`peers.paired_difference_ci`); a dataset is *level* when its mean difference is within "
        f"{LEVEL}. **fit s** of a family = the wall-clock time of its cross-validation fits "
        "(insightome's `fit_seconds`: each fit runs on one core, so on an otherwise idle "
        "machine this is its CPU time; under contention it is more) + the CPU time of its "
        "refit here; Wh = fit s x core power x PUE (CPU only). The run's CPU and Wh are "
        "insightome's energy ledger for the whole run (all candidates, process tree; its Wh "
        "include memory).",
        "",
    ]


def _overall(summary: dict[str, Any]) -> list[str]:
    lines = [
        f"## Over all {summary['n_splits_ok']} splits ({summary['n_datasets']} datasets)",
        "",
        "| family | configurations | splits scored | mean hold-out AUC | mean BBC-CV estimate "
        "| mean estimate - hold-out | fit s (CV + refit) | x default | Wh |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in summary["families"]:
        fam = s["family"]
        cost = (
            f"{s['cpu_s']:.0f} ({s['cv_fit_s']:.0f} + {s['refit_cpu_s']:.0f}) "
            f"| {_f(s['cpu_ratio_to_default'], 2)} | {_f(s['energy_wh'], 2)}"
            if "cpu_s" in s
            else f"{summary['run_cpu_s']:.0f} (whole runs) | | {_f(summary['run_energy_wh'], 2)}"
        )
        lines.append(
            f"| {LABELS[fam]} | {s.get('n_configurations', 'all')} | {s['n_splits']} "
            f"| {_f(s['mean_holdout_auc'])} | {_f(s['mean_estimate'])} "
            f"| {_signed(s['mean_estimate_minus_holdout'])} | {cost} |"
        )
    lines += [
        "",
        "Paired differences (a - b), mean over the splits both were scored on, 95% CI over "
        "datasets:",
        "",
        "| a - b | splits | hold-out AUC a / b | difference [95% CI] | datasets above / level "
        "/ below | splits whose CI is above / below 0 | BBC-CV estimate difference [95% CI] |",
        "|---|---|---|---|---|---|---|",
    ]
    for c, ce in zip(summary["comparisons"], summary["estimate_comparisons"], strict=True):
        lo, hi = c["ci95"]
        elo, ehi = ce["ci95"]
        lines.append(
            f"| {SHORT[c['a']]} - {SHORT[c['b']]} | {c['n_splits']} "
            f"| {_f(c['mean_a'])} / {_f(c['mean_b'])} "
            f"| {_signed(c['difference'])} [{_signed(lo)}, {_signed(hi)}] "
            f"| {c['datasets_above']} / {c['datasets_level']} / {c['datasets_below']} "
            f"| {c['splits_ci_above']} / {c['splits_ci_below']} "
            f"| {_signed(ce['difference'])} [{_signed(elo)}, {_signed(ehi)}] |"
        )
    won = ", ".join(f"{f} {n}" for f, n in summary["winner_families"].items())
    lines += ["", f"The run's overall winner, by family: {won}.", ""]
    return lines


def _per_dataset(summary: dict[str, Any]) -> list[str]:
    lines = [
        "## Per dataset (mean over its splits)",
        "",
        "Hold-out AUC (BBC-CV estimate) per family; paired hold-out differences; fit s of "
        "each family (CV + refit) and CPU s of the whole runs.",
        "",
        "| dataset | task | splits | default | QK | VQ | RBF | run's winner | QK - RBF "
        "| QK - default | VQ - RBF | VQ - default | fit s default / QK / VQ / RBF | run CPU s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for d in summary["datasets"]:
        if not d["n_splits"]:
            lines.append(f"| {d['dataset']} | all splits failed |" + " |" * 12)
            continue
        cells = " | ".join(
            f"{_f(d[f]['holdout_auc'])} ({_f(d[f]['estimate'])})" for f in (*FAMILIES, "winner")
        )
        diffs = " | ".join(_signed(d["differences"][comparison_key(a, b)]) for a, b in COMPARISONS)
        cpu = " / ".join(f"{d[f]['cpu_s']:.0f}" for f in FAMILIES)
        lines.append(
            f"| {d['dataset']} | {d['task']} | {d['n_splits']} | {cells} | {diffs} | {cpu} "
            f"| {d['run_cpu_s']:.0f} |"
        )
    return [*lines, ""]


def _per_split(rows: Sequence[dict[str, Any]]) -> list[str]:
    lines = [
        "## Per split",
        "",
        "Hold-out AUC (BBC-CV estimate) of each family's best configuration, refitted, and of "
        "the run's own winner.",
        "",
        "| dataset | split | n train/hold | classes | task | folds | default | QK | VQ | RBF "
        "| run's winner | winner configuration | wall s | notes |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if not _ok(r):
            err = (r["error"].strip().splitlines() or ["failed"])[-1].replace("|", "/")[:300]
            lines.append(
                f"| {r['dataset']} | {r['split']} | | | | | **ERROR** | | | | | "
                f"| {r['wall_s']:.0f} | {err} |"
            )
            continue
        cells = " | ".join(_cell(r["families"].get(f)) for f in FAMILIES)
        notes = "; ".join(r["notes"]).replace("|", "/")
        hold = f"{r['n_holdout']}" + (
            f" ({r['n_holdout_scored']} scored)" if r["n_holdout_scored"] != r["n_holdout"] else ""
        )
        lines.append(
            f"| {r['dataset']} | {r['split']} | {r['n_train']}/{hold} | {len(r['classes'])} "
            f"| {r['task']} | {r['folds']} | {cells} | {_cell(r['winner'])} "
            f"| `{r['winner']['name']}` | {r['wall_s']:.0f} | {notes} |"
        )
    lines += [
        "",
        f"Paired hold-out differences (a - b) [95% CI, {HOLDOUT_BOOTSTRAP:,} stratified "
        "resamples of the hold-out half]:",
        "",
        "| dataset | split | QK - RBF | QK - default | VQ - RBF | VQ - default |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        if _ok(r):
            cells = " | ".join(
                _diff(r["comparisons"].get(comparison_key(a, b))) for a, b in COMPARISONS
            )
            lines.append(f"| {r['dataset']} | {r['split']} | {cells} |")
    lines += [
        "",
        "BBC-CV estimates [95% CI] and plain CV of each family; its best configuration:",
        "",
        "| dataset | split | family | configurations | best | BBC-CV [95% CI] | plain CV "
        "| CV fits | CV fit s | refit CPU s | Wh | notes |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if not _ok(r):
            continue
        for fam in FAMILIES:
            e = r["families"].get(fam, {})
            if "estimate" not in e:
                lines.append(
                    f"| {r['dataset']} | {r['split']} | {LABELS[fam]} "
                    f"| {e.get('n_configurations', '')} | | | | | | | "
                    f"| {e.get('error', 'missing')} |"
                )
                continue
            note = "; ".join(
                x for x in (e.get("error", ""), e.get("refit_warnings", ""), e.get("note", "")) if x
            )
            refit_s = _f(e["refit_cpu_s"], 1) if "refit_cpu_s" in e else "n/a"
            wh = _f(e.get("energy_wh", e["fit_energy_wh"]), 3)
            lines.append(
                f"| {r['dataset']} | {r['split']} | {LABELS[fam]} | {e['n_configurations']} "
                f"| `{e['best']}` | {_f(e['estimate'])} {_ci(e['ci95'])} | {_f(e['plain_cv'])} "
                f"| {e['n_fits']} | {_f(e['fit_seconds'], 1)} | {refit_s} | {wh} "
                f"| {note.replace('|', '/')} |"
            )
    lines += [
        "",
        "The whole run per split (insightome's energy ledger) and the split's wall time here "
        "(load, run, refits, prediction, resampling):",
        "",
        "| dataset | split | run winner [95% CI] | run wall s | run CPU s | run Wh "
        "| split wall s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if _ok(r):
            w = r["winner"]
            lines.append(
                f"| {r['dataset']} | {r['split']} | {_f(w['estimate'])} {_ci(w['ci95'])} "
                f"| {r['run_wall_s']:.0f} | {r['run_cpu_s']:.0f} | {_f(r['run_energy_wh'], 3)} "
                f"| {r['wall_s']:.0f} |"
            )
    return [*lines, ""]


def render(payload: dict[str, Any]) -> str:
    """The Markdown report from the saved payload (``meta``, ``summary``, ``splits``)."""
    meta, summary, rows = payload["meta"], payload["summary"], payload["splits"]
    lines = _header(meta)
    lines += ["## What was found", "", payload["found"], ""]
    lines += _protocol(meta)
    lines += _overall(summary)
    lines += _per_dataset(summary)
    lines += _per_split(rows)
    warned = sorted({w for r in rows if _ok(r) for w in r["insightome_warnings"]})
    if warned:
        lines += ["## insightome's warnings (any split)", ""] + [f"- {w}" for w in warned] + [""]
    if meta["quick"]:
        lines += ["Produced with `--quick`: not a valid benchmark result.", ""]
    return "\n".join(lines)


def payload_for(meta: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    summary = summarize(rows, meta["energy"])
    return {
        "meta": meta,
        "found": found_paragraph(summary, meta["simulation"]),
        "summary": summary,
        "splits": rows,
    }


def write_results(payload: dict[str, Any], output: Path) -> None:
    """The .md and .json, each written to a temporary file and renamed."""
    output.parent.mkdir(parents=True, exist_ok=True)
    files = {
        output: render(payload),
        output.with_suffix(".json"): json.dumps(payload, indent=2) + "\n",
    }
    for path, text in files.items():
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    print(f"wrote {output} and {output.with_suffix('.json').name}", flush=True)


# --------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--datasets",
        default=None,
        help=f"comma-separated (default: {','.join(DATASETS)}; --quick: "
        f"{','.join(QUICK_DATASETS)})",
    )
    ap.add_argument(
        "--splits",
        type=int,
        default=None,
        help="number of 50/50 splits, seeds 0.. (default 2; --quick: 1)",
    )
    ap.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: preset fast, 1 repeat, colon (marked in results)",
    )
    ap.add_argument("--n-jobs", type=int, default=2, help="insightome n_jobs (default 2)")
    ap.add_argument(
        "--output",
        type=Path,
        default=RESULTS_DIR / "quantum.md",
        help="Markdown results file (JSON written beside it)",
    )
    ap.add_argument(
        "--keep",
        action="store_true",
        help="reuse the finished splits of <output>.partial.json (or else of "
        "<output>.json) and run only the failed or missing ones",
    )
    ap.add_argument(
        "--render", action="store_true", help="rewrite <output> from <output>.json, running nothing"
    )
    return ap.parse_args(argv)


def _kept_rows(output: Path) -> dict[tuple[str, int], dict[str, Any]]:
    partial = output.with_suffix(".partial.json")
    if partial.exists():
        rows = json.loads(partial.read_text())
    elif output.with_suffix(".json").exists():
        rows = json.loads(output.with_suffix(".json").read_text())["splits"]
    else:
        return {}
    return {(r["dataset"], int(r["split"])): r for r in rows if _ok(r)}


def _save_partial(path: Path, rows: list[dict[str, Any]]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(rows) + "\n")
    tmp.replace(path)


def _command(argv: list[str] | None) -> str:
    if argv is None:
        return "python " + shlex.join(
            [os.path.relpath(Path(sys.argv[0]).resolve(), REPO), *sys.argv[1:]]
        )
    return "python benchmarks/quantum.py " + shlex.join(argv)


def _one_line(row: dict[str, Any]) -> str:
    parts = []
    for fam in FAMILIES:
        e = row["families"][fam]
        got = (
            "failed" if "holdout_auc" not in e else f"{e['holdout_auc']:.3f} ({e['estimate']:.3f})"
        )
        parts.append(f"{SHORT[fam]} {got}")
    w = row["winner"]
    return (
        f"  {row['wall_s']:.0f} s; hold-out (estimate): {', '.join(parts)}; winner {w['name']} "
        f"{w['holdout_auc']:.3f} ({w['estimate']:.3f})"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.render:
        src = args.output.with_suffix(".json")
        if not src.exists():
            sys.exit(f"{src} not found: run the benchmark first")
        payload = json.loads(src.read_text())
        payload["meta"]["rendered"] = datetime.now(UTC).astimezone().isoformat(timespec="seconds")
        write_results(payload_for(payload["meta"], payload["splits"]), args.output)
        return 0
    names = [
        d.strip()
        for d in (args.datasets or ",".join(QUICK_DATASETS if args.quick else DATASETS)).split(",")
        if d.strip()
    ]
    unknown = [d for d in names if d not in DATASETS]
    if unknown:
        sys.exit(f"unknown dataset(s): {', '.join(unknown)} (known: {', '.join(DATASETS)})")
    splits = args.splits if args.splits is not None else (1 if args.quick else 2)
    if splits < 1:
        sys.exit("--splits must be at least 1")
    skipped = [
        f"{d} ({peers.dataset_path(d)} not found)" for d in names if not peers.dataset_available(d)
    ]
    for s in skipped:
        print(f"skipped {s}", flush=True)
    names = [d for d in names if peers.dataset_available(d)]
    energy = peers.energy_constants()
    kept = _kept_rows(args.output) if args.keep else {}
    partial = args.output.with_suffix(".partial.json")
    partial.parent.mkdir(parents=True, exist_ok=True)
    start, source_at_start = time.perf_counter(), source_state()
    rows: list[dict[str, Any]] = []
    resumed = 0
    for name in names:
        for split in range(splits):
            if (name, split) in kept:
                rows.append(kept[(name, split)])
                resumed += 1
                print(f"{name} split {split}: kept from an earlier invocation", flush=True)
                continue
            print(f"[{time.strftime('%H:%M:%S')}] {name} split {split} ...", flush=True)
            t0 = time.perf_counter()
            try:
                row = run_one(name, split, quick=args.quick, n_jobs=args.n_jobs, energy=energy)
            except Exception:  # a failed split is a row with its error, printed in full
                tb = traceback.format_exc()
                row = {
                    "dataset": name,
                    "split": split,
                    "error": tb,
                    "wall_s": time.perf_counter() - t0,
                }
                print(f"  FAILED after {row['wall_s']:.0f} s:\n{tb}", flush=True)
            else:
                print(_one_line(row), flush=True)
            rows.append(row)
            _save_partial(partial, rows)
    simulation = next((r["simulation"] for r in rows if _ok(r)), {})
    meta = {
        "command": _command(argv),
        "date": datetime.now(UTC).astimezone().isoformat(timespec="seconds"),
        "total_seconds": time.perf_counter()
        - start
        + sum(r["wall_s"] for r in rows if (r["dataset"], r["split"]) in kept),
        "resumed_splits": resumed,
        "quick": args.quick,
        "preset": "fast" if args.quick else "default",
        "repeats": 1 if args.quick else omics_suite.REPEATS,
        "holdout_bootstrap": HOLDOUT_BOOTSTRAP,
        "splits": splits,
        "n_jobs": args.n_jobs,
        "datasets": names,
        "skipped": skipped,
        "machine": omics_suite.machine_info(),
        "versions": {**omics_suite.versions(), "pennylane": peers._version("pennylane")},
        "source": source_state(),
        "source_at_start": source_at_start,
        "energy": energy,
        "simulation": simulation,
    }
    write_results(payload_for(meta, rows), args.output)
    partial.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
