"""Signature benchmark: are insightome's minimal signatures small, stable and as good as the model?

Protocol (the omics suite's): each public gene-expression dataset in ../shared/data/omics is
split 50/50, stratified, with seeds 0 and 1. ``insightome.run`` (defaults, discovery on)
runs on the training half; on the untouched hold-out half we score

* the full model (all features) and the minimal-signature model (the winning
  configuration refitted on the signature only), by AUC (macro one-vs-rest for multiclass);
* the signature's size, its stability across the CV training folds (Nogueira et al. 2018
  index of the per-fold signatures) and the stability-selection index over half-samples;
* discovery's time against the modelling time (resampling + estimation + final fit).

Targets (issue 3): median hold-out AUC of the signature ≥ 95% of the full model's; median
Nogueira stability ≥ 0.6; discovery adds ≤ 50% to the run time.

    python benchmarks/signatures.py                       # 6 datasets x 2 splits
    python benchmarks/signatures.py --datasets colon --splits 1
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = REPO.parent / "shared" / "data" / "omics"
RESULTS = REPO / "benchmarks" / "results" / "signatures"
DATASETS = ("ALLAML", "GLIOMA", "Prostate_GE", "colon", "leukemia", "lymphoma")
MIN_CLASS_TOTAL = 4
TARGET_RATIO, TARGET_STABILITY, TARGET_OVERHEAD = 0.95, 0.6, 0.5


def _label(v: object) -> str:
    f = float(v)  # type: ignore[arg-type]
    return str(int(f)) if f.is_integer() else str(v)


def _auc(task: str, y: Any, probs: Any, classes: list[str]) -> float:
    import numpy as np
    from sklearn.metrics import roc_auc_score

    if task == "binary":
        return float(roc_auc_score(np.asarray(y) == classes[1], probs[:, 1]))
    probs = probs / probs.sum(axis=1, keepdims=True)
    return float(roc_auc_score(y, probs, multi_class="ovr", average="macro", labels=classes))


def grouped_stability(features: Any, fold_sets: list[list[str]], threshold: float = 0.8) -> Any:
    """Nogueira index after merging chosen features with |Spearman ρ| ≥ ``threshold`` (on the
    training half) into one unit: how stable the signatures are up to swapping
    near-duplicates (the concern of Sechidis et al. 2020, "On the stability of feature
    selection in the presence of feature correlations")."""
    import numpy as np

    from insightome.discover.stability import nogueira_stability

    chosen = sorted({f for s in fold_sets for f in s})
    rho = features[chosen].rank().corr().abs().to_numpy()
    unit = {f: chosen[int(np.flatnonzero(rho[i] >= threshold)[0])] for i, f in enumerate(chosen)}
    units = sorted(set(unit.values()))
    pos = {u: i for i, u in enumerate(units)}
    # unchosen features stay as columns that no fold selected (p shrinks by the merges only)
    Z = np.zeros((len(fold_sets), features.shape[1] - len(chosen) + len(units)), dtype=bool)
    for i, s in enumerate(fold_sets):
        for f in s:
            Z[i, pos[unit[f]]] = True
    return nogueira_stability(Z)


def run_one(dataset: str, split: int, n_jobs: int) -> dict[str, Any]:
    import numpy as np
    from sklearn.model_selection import train_test_split

    import insightome
    from insightome.evaluate.engine import predict_matrix
    from insightome.io import read
    from insightome.prediction import feature_table

    adata = read(DATA_DIR / f"{dataset}.mat")
    labels = np.array([_label(v) for v in adata.obs["Y"]])
    values, counts = np.unique(labels, return_counts=True)
    keep = ~np.isin(labels, values[counts < MIN_CLASS_TOTAL])
    idx = np.flatnonzero(keep)
    train, hold = train_test_split(idx, test_size=0.5, stratify=labels[idx], random_state=split)
    start = time.perf_counter()
    # no --folds: insightome's own choice (5, fewer when the smallest class asks; a class
    # of 1 training sample, too small to give every training fold one, is left out with a note)
    run = insightome.run(adata[np.sort(train)].copy(), "Y", seed=0, n_jobs=n_jobs, out_dir=None)
    wall = time.perf_counter() - start
    res = run.results
    folds = int(res["resampling"]["folds"])
    found = res["discovery"]
    sig = found["signature"]
    classes = list(res["outcome"]["classes"])
    hold = np.sort(hold)
    hold = hold[np.isin(labels[hold], classes)]  # a left-out class's samples are not scored
    hold_data = adata[hold].copy()
    y_hold = labels[hold]
    X = feature_table(hold_data, run, dataset)
    full = insightome.predict(run, hold_data)[[f"prob_{c}" for c in classes]].to_numpy(float)
    pred = predict_matrix(run.signature_model, X[sig["features"]], res["task"], len(classes))
    sig_probs = np.column_stack([1 - pred[:, 0], pred[:, 0]]) if pred.shape[1] == 1 else pred
    t = res["timings"]
    modelling = t["select"] + t["estimate"] + t["refit"]  # the stages of insightome.workflow.STAGES
    full_auc = _auc(res["task"], y_hold, full, classes)
    sig_auc = _auc(res["task"], y_hold, sig_probs, classes)
    return {
        "dataset": dataset,
        "split": split,
        "n_train": len(train),
        "p": int(adata.n_vars),
        "classes": len(classes),
        "classes_left_out": [c["label"] for c in res["outcome"].get("classes_left_out") or []],
        "n_holdout_scored": len(hold),
        "folds": folds,
        "winner": res["winner"]["name"],
        "signature_size": sig["size"],
        "signature": sig["features"],
        "within_tolerance": sig["within_tolerance"],
        "signature_bbc": sig["estimate"]["value"],
        "signature_ci95": sig["estimate"]["ci95"],
        "full_bbc": res["estimate"]["value"],
        "holdout_auc_full": full_auc,
        "holdout_auc_signature": sig_auc,
        "ratio": sig_auc / full_auc,
        "signature_bias": sig["estimate"]["value"] - sig_auc,
        "nogueira_folds": sig["fold_signature_stability"],
        "nogueira_halves": found["stability"]["nogueira_stability"],
        "nogueira_folds_grouped": grouped_stability(
            run_features(adata[np.sort(train)]), sig["fold_signatures"]
        ),
        "n_stable": found["stability"]["n_stable"],
        "n_equivalents": len(found["equivalents"]),
        "n_hypotheses": found["hypotheses"]["n"],
        "modelling_seconds": modelling,
        "discovery_seconds": t["discover"],
        "discovery_steps": found["seconds"],
        "overhead": t["discover"] / modelling,
        "wall_seconds": wall,
    }


def run_features(adata: Any) -> Any:
    import numpy as np
    import pandas as pd

    return pd.DataFrame(np.asarray(adata.X, dtype=float), columns=adata.var_names.astype(str))


def _median(rows: list[dict[str, Any]], key: str) -> float:
    values = [r[key] for r in rows if r.get(key) is not None]
    return float(statistics.median(values)) if values else float("nan")


def render(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    ratio, stab = _median(rows, "ratio"), _median(rows, "nogueira_folds")
    overhead = _median(rows, "overhead")

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "FAIL"

    lines = [
        "# Minimal signatures on public omics data",
        "",
        f"Generated {meta['date']} by `{meta['command']}` on {meta['machine']} "
        f"({meta['cores']} cores); insightome {meta['versions']['insightome']}, "
        f"scikit-learn {meta['versions']['scikit-learn']}. Total {meta['seconds']:.0f} s.",
        "",
        "Protocol: two stratified 50/50 splits per dataset (seeds 0, 1); `insightome.run` "
        "with defaults on the training half (folds: insightome's choice, 5 or fewer when the "
        "smallest class asks; a class too small to learn is left out and its hold-out samples "
        "not scored); the full model and the minimal-signature model scored on the untouched "
        "half.",
        "",
        "| target | value | verdict |",
        "|---|---|---|",
        f"| median hold-out AUC signature / full ≥ {TARGET_RATIO} | {ratio:.3f} | "
        f"{verdict(ratio >= TARGET_RATIO)} |",
        f"| median Nogueira stability (per-fold signatures) ≥ {TARGET_STABILITY} | {stab:.3f} | "
        f"{verdict(stab >= TARGET_STABILITY)} |",
        f"| (reading) median Nogueira with near-duplicates merged (\\|ρ\\| ≥ 0.8) | "
        f"{_median(rows, 'nogueira_folds_grouped'):.3f} | — |",
        f"| median discovery time / modelling time ≤ {TARGET_OVERHEAD} | {overhead:.3f} | "
        f"{verdict(overhead <= TARGET_OVERHEAD)} |",
        "",
        "| dataset | split | n train | p | size | BBC sig. (95% CI) | hold-out sig. | "
        "hold-out full | ratio | Nogueira folds | merged | Nogueira halves | stable | "
        "modelling s | discovery s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lo, hi = r["signature_ci95"]
        nf = "–" if r["nogueira_folds"] is None else f"{r['nogueira_folds']:.2f}"
        nh = "–" if r["nogueira_halves"] is None else f"{r['nogueira_halves']:.2f}"
        ng = r.get("nogueira_folds_grouped")
        ng = "–" if ng is None else f"{ng:.2f}"
        lines.append(
            f"| {r['dataset']} | {r['split']} | {r['n_train']} | {r['p']} | "
            f"{r['signature_size']} | {r['signature_bbc']:.3f} ({lo:.3f}–{hi:.3f}) | "
            f"{r['holdout_auc_signature']:.3f} | {r['holdout_auc_full']:.3f} | "
            f"{r['ratio']:.3f} | {nf} | {ng} | {nh} | {r['n_stable']} | "
            f"{r['modelling_seconds']:.1f} | {r['discovery_seconds']:.1f} |"
        )
    lines += [
        "",
        "*Nogueira folds*: stability of the signatures chosen in the CV training folds (80% "
        "overlap, the resampling the signature estimate uses). *merged*: the same after "
        "counting features with |Spearman ρ| ≥ 0.8 between them as one (swapping "
        "near-duplicate genes is not instability in what the signature measures). "
        "*Nogueira halves*: stability "
        "selection's raw LARS selections over disjoint half-samples (the harshest reading; "
        "the stable set is what survives it). *stable*: features selected in ≥ 75% of halves.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--splits", type=int, default=2)
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args(argv)
    if not DATA_DIR.is_dir():
        print(f"skipped: {DATA_DIR} not found", file=sys.stderr)
        return 0
    start = time.perf_counter()
    rows = []
    for dataset in args.datasets.split(","):
        for split in range(args.splits):
            row = run_one(dataset, split, args.n_jobs)
            shown = ("dataset", "split", "signature_size", "ratio", "nogueira_folds", "overhead")
            print(json.dumps({k: row[k] for k in shown}), flush=True)
            rows.append(row)
    meta = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python benchmarks/signatures.py " + " ".join(argv or sys.argv[1:]),
        "machine": platform.processor() or platform.machine(),
        "cores": len(__import__("os").sched_getaffinity(0)),
        "versions": {p: metadata.version(p) for p in ("insightome", "scikit-learn")},
        "seconds": time.perf_counter() - start,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    RESULTS.with_suffix(".md").write_text(render(rows, meta))
    print(f"wrote {RESULTS.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
