"""Confirmation on data not used while developing issue 27's defaults.

The estimator study, the candidate study and the peers and omics benchmarks chose and
tuned insightome's defaults (the BBC-CV scoring, the candidate set, the forests' size, the
class rule) on the six omics sets, breast cancer, ACTG 175, heart failure and the small-n
study's four cohorts (ACTG 175, TCGA pan-cancer overall survival, diabetes 130-US
readmission, METABRIC ER status). This benchmark asks the same question — is the estimate
on the training half what the model scores on an untouched half? — of three outcomes none
of that work modelled (two of them from cohorts it used for other outcomes):

* **OASIS-2 dementia, by subject** (``../shared/data/cohorts/oasis``): demented vs
  nondemented at each MRI visit from age, sex, education, SES, MMSE and the brain volumes
  (eTIV, nWBV, ASF); CDR is left out (it is the rating that defines the groups), and the
  37 visits of subjects who converted are left out (their label changes over time). A
  subject's visits stay together: the split is by subject (stratified by group) and the
  run gets ``groups="Subject ID"``.
* **METABRIC 5-year breast-cancer death** (``cohorts/metabric``): died of the disease
  within 5 years of diagnosis vs alive at 5 years, from the clinical table (age, surgery,
  therapies, PAM50 + claudin-low subtype, ER, HER2, histology, menopause, laterality,
  positive nodes, NPI, three-gene class, cellularity); patients censored or dead of other
  causes before 5 years are left out (their 5-year status is unknown or not this outcome).
  The small-n study used this cohort only for ER status from mutation calls.
* **TCGA pan-cancer progression-free interval** (``cohorts/tcga_pancan_cdr``): survival
  (PFI, PFI.time) from cancer type, age, sex, race and stage; the development work used
  overall survival of the same table.

Protocol: ``--splits`` (default 5) stratified 50/50 splits per study (``random_state`` =
split number; by subject for OASIS); ``insightome.run`` with its defaults on the training
half (``n_jobs=2``, no output folder); its final model predicts the hold-out half through
``insightome.predict``; the harness scores it (AUC, or Harrell's C of the predicted risk by
lifelines). Results go to ``benchmarks/results/confirmation.md`` (+ ``.json``)::

    python benchmarks/confirmation.py                  # 3 studies x 5 splits, ~10 min
    python benchmarks/confirmation.py --studies oasis --splits 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from omics_suite import machine_info
from small_n_cohorts import tcga_cdr  # the small-n study's TCGA table, another endpoint

REPO = Path(__file__).resolve().parents[1]
COHORTS_DIR = REPO.parent / "shared" / "data" / "cohorts"
RESULTS = REPO / "benchmarks" / "results"
FIVE_YEARS_DAYS = 5 * 365.25
TARGETS = {"mean_error": 0.02, "median_abs_error": 0.02, "coverage": 0.90}


@dataclass(frozen=True)
class Study:
    name: str
    title: str
    metric: str  # "auc" or "c_index"
    load: Callable[[], pd.DataFrame]  # the modelling table, index = sample ID
    options: dict[str, Any]  # insightome.run's outcome options
    groups: str | None = None  # a column whose values stay on one side of the split
    source: str = ""


def _oasis() -> pd.DataFrame:
    df = pd.read_csv(COHORTS_DIR / "oasis" / "oasis_longitudinal.csv")
    df = df[df["Group"].isin(["Demented", "Nondemented"])]
    out = df[["Subject ID", "M/F", "Age", "EDUC", "SES", "MMSE", "eTIV", "nWBV", "ASF"]].copy()
    out["demented"] = (df["Group"] == "Demented").astype(int)
    return out.set_axis(df["MRI ID"].to_numpy())


def _metabric_5y() -> pd.DataFrame:
    folder = COHORTS_DIR / "metabric"
    clinical = pd.read_csv(folder / "metabric_clinical.tsv", sep="\t", index_col="patientId")
    survival = pd.read_csv(folder / "metabric_survival.tsv", sep="\t", index_col="patientId")
    died = (survival["event"] == 1) & (survival["time"] < FIVE_YEARS_DAYS)
    alive = survival["time"] >= FIVE_YEARS_DAYS
    known = survival.index[died | alive]
    out = clinical.loc[clinical.index.intersection(known)].copy()
    out["ER_IHC"] = out["ER_IHC"].replace({"Positve": "Positive"})  # sic in the source
    out["died_within_5y"] = died.loc[out.index].astype(int)
    return out.sort_index()


def _tcga_pfi() -> pd.DataFrame:
    return tcga_cdr("PFI")


STUDIES: dict[str, Study] = {
    "oasis": Study(
        "oasis", "OASIS-2 dementia (by subject)", "auc", _oasis,
        {"target": "demented", "task": "binary"}, groups="Subject ID",
        source="cohorts/oasis/oasis_longitudinal.csv",
    ),
    "metabric_5y": Study(
        "metabric_5y", "METABRIC 5-year breast-cancer death", "auc", _metabric_5y,
        {"target": "died_within_5y", "task": "binary"},
        source="cohorts/metabric/metabric_clinical.tsv + metabric_survival.tsv",
    ),
    "tcga_pfi": Study(
        "tcga_pfi", "TCGA pan-cancer progression-free interval", "c_index", _tcga_pfi,
        {"time_col": "PFI.time", "event": "PFI"},
        source="cohorts/tcga_pancan_cdr/TCGA-CDR_clinical.csv",
    ),
}  # fmt: skip


def split_halves(study: Study, table: pd.DataFrame, split: int) -> tuple[np.ndarray, np.ndarray]:
    """Row positions of the training and hold-out halves (whole groups with ``groups``)."""
    from sklearn.model_selection import StratifiedGroupKFold, train_test_split

    outcome = str(study.options.get("target") or study.options["event"])
    labels = table[outcome].to_numpy()
    if study.groups is None:
        rows = np.arange(len(table))
        train, hold = train_test_split(rows, test_size=0.5, stratify=labels, random_state=split)
        return np.sort(train), np.sort(hold)
    folds = StratifiedGroupKFold(n_splits=2, shuffle=True, random_state=split)
    train, hold = next(folds.split(table, labels, groups=table[study.groups].to_numpy()))
    return np.sort(train), np.sort(hold)


def holdout_score(study: Study, pred: pd.DataFrame, hold: pd.DataFrame) -> float:
    if study.metric == "auc":
        from sklearn.metrics import roc_auc_score

        return float(roc_auc_score(hold[study.options["target"]].to_numpy(), pred["prob_1"]))
    from lifelines.utils import concordance_index

    time_col, event = study.options["time_col"], study.options["event"]
    return float(concordance_index(hold[time_col], -pred["risk"], hold[event]))


def run_one(study: Study, table: pd.DataFrame, split: int, n_jobs: int) -> dict[str, Any]:
    import insightome

    train_idx, hold_idx = split_halves(study, table, split)
    train, hold = table.iloc[train_idx], table.iloc[hold_idx]
    with tempfile.TemporaryDirectory() as tmp:
        train_csv, hold_csv = Path(tmp) / "train.csv", Path(tmp) / "hold.csv"
        train.to_csv(train_csv, index_label="sample")
        hold.to_csv(hold_csv, index_label="sample")
        options: dict[str, Any] = {**study.options, "id_column": "sample", "seed": 0}
        if study.groups is not None:
            options["groups"] = study.groups
        start = time.perf_counter()
        run = insightome.run(train_csv, out_dir=None, n_jobs=n_jobs, **options)
        seconds = time.perf_counter() - start
        pred = insightome.predict(run, hold_csv, id_column="sample")
    pred = pred.loc[[str(s) for s in hold.index]]
    res = run.results
    est = res["estimate"]
    score = holdout_score(study, pred, hold)
    lo, hi = (float(x) for x in est["ci95"])
    stages = res["compute"]["stages"]
    return {
        "study": study.name,
        "split": split,
        "n_train": len(train),
        "n_holdout": len(hold),
        "n_features": int(res["n_features"]),
        "folds": int(res["resampling"]["folds"]),
        "repeats": int(res["resampling"]["repeats"]),
        "winner": res["winner"]["name"],
        "metric": est["metric"],
        "estimate": float(est["value"]),
        "ci95": [lo, hi],
        "plain_cv": float(est["plain_cv_value"]),
        "holdout": score,
        "error": float(est["value"]) - score,
        "covered": bool(lo <= score <= hi),
        "width": hi - lo,
        "seconds": seconds,
        "cpu_s": float(sum(s.get("cpu_s", 0.0) for s in stages.values())),
        "warnings": res["warnings"],
    }


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    errors = [r["error"] for r in rows]
    return {
        "runs": len(rows),
        "mean_holdout": statistics.mean(r["holdout"] for r in rows),
        "mean_estimate": statistics.mean(r["estimate"] for r in rows),
        "mean_error": statistics.mean(errors),
        "median_abs_error": statistics.median(abs(e) for e in errors),
        "mean_abs_error": statistics.mean(abs(e) for e in errors),
        "coverage": sum(r["covered"] for r in rows) / len(rows),
        "mean_width": statistics.mean(r["width"] for r in rows),
        "max_seconds": max(r["seconds"] for r in rows),
    }


def verdicts(overall: dict[str, Any]) -> list[tuple[str, str, bool]]:
    return [
        (f"mean error within ±{TARGETS['mean_error']}", f"{overall['mean_error']:+.3f}",
         abs(overall["mean_error"]) <= TARGETS["mean_error"]),
        (f"median \\|error\\| per split ≤ {TARGETS['median_abs_error']}",
         f"{overall['median_abs_error']:.3f}",
         overall["median_abs_error"] <= TARGETS["median_abs_error"]),
        (f"95% CI covers the hold-out score in ≥ {TARGETS['coverage']:.0%} of splits",
         f"{overall['coverage']:.1%}", overall["coverage"] >= TARGETS["coverage"]),
    ]  # fmt: skip


def render(payload: dict[str, Any]) -> str:
    meta, rows = payload["meta"], payload["rows"]
    lines = [
        "# Confirmation on data not used while developing (issue 27)",
        "",
        f"- Command: `{meta['command']}`",
        f"- Date: {meta['date']} (total {meta['seconds'] / 60:.1f} min)",
        f"- Machine: {meta['machine']}, {meta['cores']} cores; insightome {meta['insightome']}, "
        f"scikit-learn {meta['scikit_learn']}",
        f"- Source: git commit {meta['commit']}",
        "",
        "Why these studies, how they were made and scored: the docstring of "
        "`benchmarks/confirmation.py`. insightome runs with its defaults on the training "
        "half; **error** = its BBC-CV estimate − the score of its final model on the "
        "untouched half (AUC, or Harrell's C of the predicted risk); **covered**: the "
        "estimate's 95% interval holds the hold-out score. A hold-out half of a few hundred "
        "patients is itself uncertain by a few hundredths, which the per-split error "
        "includes.",
        "",
        "## Targets (issue 27), over all splits",
        "",
        "| target | value | verdict |",
        "|---|---|---|",
    ]
    for label, value, ok in verdicts(payload["overall"]):
        lines.append(f"| {label} | {value} | {'PASS' if ok else 'FAIL'} |")
    lines += [
        "",
        "## Per study",
        "",
        "| study | source | metric | splits | mean hold-out | mean estimate | mean error "
        "| median \\|error\\| | coverage | mean CI width | slowest run s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s in payload["per_study"].items():
        study = STUDIES[name]
        lines.append(
            f"| {study.title} | `{study.source}` | {rows_metric(rows, name)} | {s['runs']} | "
            f"{s['mean_holdout']:.3f} | {s['mean_estimate']:.3f} | {s['mean_error']:+.3f} | "
            f"{s['median_abs_error']:.3f} | {s['coverage']:.0%} | {s['mean_width']:.3f} | "
            f"{s['max_seconds']:.0f} |"
        )
    lines += [
        "",
        "## Per split",
        "",
        "| study | split | n train / hold-out | features | folds × repeats | winner "
        "| estimate [95% CI] | plain CV | hold-out | error | covered | s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lo, hi = r["ci95"]
        lines.append(
            f"| {r['study']} | {r['split']} | {r['n_train']} / {r['n_holdout']} | "
            f"{r['n_features']} | {r['folds']} × {r['repeats']} | `{r['winner']}` | "
            f"{r['estimate']:.3f} [{lo:.3f}, {hi:.3f}] | {r['plain_cv']:.3f} | "
            f"{r['holdout']:.3f} | {r['error']:+.3f} | {'yes' if r['covered'] else 'no'} | "
            f"{r['seconds']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def rows_metric(rows: list[dict[str, Any]], name: str) -> str:
    return next(r["metric"] for r in rows if r["study"] == name)


def _commit() -> str:
    out = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    dirty = subprocess.run(
        ["git", "-C", str(REPO), "status", "--porcelain", "src"], capture_output=True, text=True
    ).stdout.strip()
    return out.stdout.strip() + (" (src/ modified)" if dirty else " (src/ clean)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--studies", default=",".join(STUDIES), help=f"of {', '.join(STUDIES)}")
    ap.add_argument("--splits", type=int, default=5)
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--output", type=Path, default=RESULTS / "confirmation.md")
    ap.add_argument(
        "--rerender",
        action="store_true",
        help="rewrite the Markdown from the JSON beside --output, running nothing",
    )
    args = ap.parse_args(argv)
    if args.rerender:
        payload = json.loads(args.output.with_suffix(".json").read_text())
        args.output.write_text(render(payload))
        print(f"wrote {args.output}")
        return 0
    names = args.studies.split(",")
    missing = [n for n in names if n not in STUDIES]
    if missing:
        ap.error(f"unknown studies {missing}; choose from {list(STUDIES)}")
    if not COHORTS_DIR.is_dir():
        print(f"skipped: {COHORTS_DIR} not found (the shared data)", file=sys.stderr)
        return 0
    import sklearn

    import insightome

    machine = machine_info()
    start = time.perf_counter()
    rows = []
    for name in names:
        study = STUDIES[name]
        table = study.load()
        for split in range(args.splits):
            row = run_one(study, table, split, args.n_jobs)
            print(
                f"{name} split {split}: estimate {row['estimate']:.3f}, hold-out "
                f"{row['holdout']:.3f}, error {row['error']:+.3f}, {row['seconds']:.0f} s",
                flush=True,
            )
            rows.append(row)
    argv_shown = " ".join(sys.argv[1:] if argv is None else argv)
    payload = {
        "meta": {
            "command": f"python benchmarks/confirmation.py {argv_shown}".strip(),
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "seconds": time.perf_counter() - start,
            "machine": machine["cpu"],
            "cores": machine["usable_cores"],
            "insightome": insightome.__version__,
            "scikit_learn": sklearn.__version__,
            "commit": _commit(),
            "splits": args.splits,
        },
        "rows": rows,
        "per_study": {n: summarize([r for r in rows if r["study"] == n]) for n in names},
        "overall": summarize(rows),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.with_suffix(".json").write_text(json.dumps(payload, indent=2) + "\n")
    args.output.write_text(render(payload))
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
