"""Audit benchmark: per-group tables on real cohorts, and what the audit costs.

For each cohort with sex/gender and race columns, ``insightome.run`` runs with its defaults
(discovery off, so the timings isolate the audit). We record the per-group primary metric
with its CI and verdict, the flags, and the audit's time (data audit + model audit +
conformal + explanations) against the modelling time (resampling + estimation + final
fit). Target (issue 4): audit overhead ≤ 30% of the modelling time.

    python benchmarks/audit.py            # all cohorts available
    python benchmarks/audit.py --cohorts actg175,kidney_transplant
    python benchmarks/audit.py --results-dir DIR --output /tmp/audit.md

``--results-dir DIR`` also saves every run's results (results.json, model card, out-of-fold
predictions) under ``DIR/<cohort>/`` (``result_trees.py``), for
``benchmarks/diff_results.py``; ``--output`` writes the tables elsewhere than
``benchmarks/results/audit.md`` (+ ``.json``).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata, resources
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data" / "cohorts"
RESULTS = REPO / "benchmarks" / "results" / "audit"
TARGET_OVERHEAD = 0.30


def actg175() -> tuple[Any, dict[str, Any]]:
    import pandas as pd

    path = Path(str(resources.files("lifelines.datasets").joinpath("ACTG175.csv")))
    df = pd.read_csv(path, index_col=0)  # the first column is the CSV's row number
    df["gender"] = df["gender"].map({0: "female", 1: "male"})
    df["race"] = df["race"].map({0: "white", 1: "non-white"})
    exclude = ("days", "cd420", "cd496", "r", "cd820", "offtrt", "treat")
    return df, {"target": "cens", "task": "binary", "id_column": "pidnum",
                "sensitive": ("gender", "race"), "exclude": exclude}  # fmt: skip


def kidney_transplant() -> tuple[Any, dict[str, Any]]:
    from lifelines.datasets import load_kidney_transplant

    df = load_kidney_transplant()
    white_female = (df["black_male"] + df["white_male"] + df["black_female"]) == 0
    female = (df["black_female"] == 1) | white_female
    black = (df["black_male"] + df["black_female"]) > 0
    out = pd_frame(
        {"time": df["time"], "death": df["death"], "age": df["age"],
         "sex": female.map({True: "female", False: "male"}),
         "race": black.map({True: "black", False: "white"})}
    )  # fmt: skip
    # the recipient's sex and race are allowed as features here, to exercise the flags
    return out, {"time_col": "time", "event": "death", "sensitive": ("sex", "race"),
                 "use_sensitive": True}  # fmt: skip


def heart_failure() -> tuple[Any, dict[str, Any]]:
    import pandas as pd

    df = pd.read_csv(SHARED / "heart_failure" / "heart_failure_clinical_records_dataset.csv")
    df["sex"] = df["sex"].map({0: "female", 1: "male"})
    return df, {"target": "DEATH_EVENT", "task": "binary", "sensitive": ("sex",),
                "exclude": ("time",)}  # fmt: skip


def tcga_stad() -> tuple[Any, dict[str, Any]]:
    import pandas as pd

    expr = pd.read_csv(SHARED / "tcga_stad" / "expression_xena_stad_1577genes.csv", index_col=0)
    cohort = pd.read_csv(SHARED / "tcga_stad" / "cohort_stad_patients.csv", index_col=0)
    cohort = cohort.loc[expr.index, ["gender", "race", "age", "OS", "OS.time"]]
    df = expr.join(cohort)
    df = df[df["OS.time"].notna() & (df["OS.time"] > 0)]
    return df, {"time_col": "OS.time", "event": "OS", "sensitive": ("gender", "race", "age")}


def pd_frame(columns: dict[str, Any]) -> Any:
    import pandas as pd

    return pd.DataFrame(columns)


COHORTS: dict[str, tuple[Callable[[], tuple[Any, dict[str, Any]]], bool]] = {
    "actg175": (actg175, False),
    "kidney_transplant": (kidney_transplant, False),
    "heart_failure": (heart_failure, True),
    "tcga_stad": (tcga_stad, True),
}


def run_one(name: str, n_jobs: int, results_dir: Path | None = None) -> dict[str, Any]:
    import anndata as ad
    import numpy as np

    import insightome

    frame, options = COHORTS[name][0]()
    id_column = options.pop("id_column", None)
    if id_column:
        frame = frame.set_index(id_column)
    roles = [options.get(k) for k in ("target", "time_col", "event")]
    roles += list(options.get("sensitive", ())) + list(options.get("exclude", ()))
    obs = frame[[c for c in frame.columns if c in set(roles)]].copy()
    X = frame.drop(columns=obs.columns).select_dtypes("number")
    options.pop("exclude", None)
    adata = ad.AnnData(
        X.to_numpy(float),
        obs=obs.set_axis(frame.index.astype(str)),
        var=pd_frame({}).set_axis(pd_index(X.columns)),
    )
    start = time.perf_counter()
    run = insightome.run(adata, **options, discover=False, seed=0, n_jobs=n_jobs, out_dir=None)
    wall = time.perf_counter() - start
    if results_dir is not None:
        from result_trees import save_run

        save_run(run, results_dir / name)
    res = run.results
    t = res["timings"]
    modelling = t["select"] + t["estimate"] + t["refit"]  # the stages of insightome.workflow.STAGES
    audit = res["audit"]
    # the model audit is its own stage; the data audit runs in the study stage
    audit_seconds = t["audit"] + (audit["data"].get("seconds") or 0.0)
    primary = audit["model"]["metrics"][0]
    rows = [r for r in audit["model"]["groups"] if r["metric"] == primary]
    return {
        "cohort": name,
        "n": res["n_samples"],
        "p": res["n_features"],
        "task": res["task"],
        "metric": primary,
        "estimate": res["estimate"]["value"],
        "groups": rows,
        "n_flags": len(audit["model"]["flags"]),
        "flags": audit["model"]["flags"],
        "conformal": audit["conformal"].get("marginal"),
        "proxies": [
            {k: a.get(k) for k in ("attribute", "multivariate_auc", "max_univariate_auc")}
            for a in (audit["data"].get("proxies") or {}).get("attributes") or []
        ],
        "modelling_seconds": modelling,
        "audit_seconds": audit_seconds,
        "audit_steps": {**audit["seconds"], "data": audit["data"].get("seconds")},
        "overhead": audit_seconds / modelling,
        "wall_seconds": wall,
        "verdicts": {
            v: int(np.sum([r["verdict"] == v for r in audit["model"]["groups"]]))
            for v in {r["verdict"] for r in audit["model"]["groups"]}
        },
    }


def pd_index(columns: Any) -> Any:
    import pandas as pd

    return pd.Index([str(c) for c in columns])


def _f(v: Any) -> str:
    return "–" if v is None else f"{v:.3f}"


def _count(row: dict[str, Any]) -> str:
    """A group's n, or the marker the run's small-cell rule put in its place ('<k' for a
    small count, 'suppressed' for one hidden so that a small one cannot be recomputed)."""
    if row["n"] is not None:
        return str(row["n"])
    return str((row.get("suppressed") or {}).get("n", "hidden"))


def render(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    median = statistics.median(r["overhead"] for r in rows)
    lines = [
        "# Audit on real cohorts",
        "",
        f"Generated {meta['date']} by `{meta['command']}` on {meta['machine']} "
        f"({meta['cores']} cores); insightome {meta['insightome']}, fairlearn "
        f"{meta['fairlearn']}. Total {meta['seconds']:.0f} s.",
        "",
        "| target | value | verdict |",
        "|---|---|---|",
        f"| median audit time / modelling time ≤ {TARGET_OVERHEAD} | {median:.3f} | "
        f"{'PASS' if median <= TARGET_OVERHEAD else 'FAIL'} |",
        "",
        "| cohort | n | p | task | estimate | flags | conformal coverage | modelling s | "
        "audit s | overhead |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        cov = r["conformal"] or {}
        shown = "–" if not cov.get("coverage") else f"{cov['coverage']:.3f}"
        lines.append(
            f"| {r['cohort']} | {r['n']} | {r['p']} | {r['task']} | {r['estimate']:.3f} | "
            f"{r['n_flags']} | {shown} | {r['modelling_seconds']:.1f} | "
            f"{r['audit_seconds']:.1f} | {r['overhead']:.2f} |"
        )
    for r in rows:
        lines += [
            "",
            f"## {r['cohort']}: {r['metric']} by group (out-of-fold, 95% CI)",
            "",
            "| attribute | group | n | value | 95% CI | difference vs reference | verdict |",
            "|---|---|---|---|---|---|---|",
        ]
        for g in r["groups"]:
            ci = g.get("ci95") or [None, None]
            lines.append(
                f"| {g['attribute']} | {g['group']} | {_count(g)} "
                f"| {_f(g['value'])} | {_f(ci[0])}–{_f(ci[1])} | {_f(g.get('difference'))} "
                f"| {g['verdict']} |"
            )
        for f in r["flags"]:
            lines.append(f"\n* flag: {f['attribute']} = {f['group']}, {f['metric']}: {f['reason']}")
        for p in r["proxies"]:
            lines.append(
                f"\n* proxy check, {p['attribute']}: all features predict it with CV AUC "
                f"{_f(p['multivariate_auc'])}; best single feature {_f(p['max_univariate_auc'])}"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cohorts", default=",".join(COHORTS))
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=None,
        help="also save every run's results under DIR/<cohort>/ (for diff_results.py)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=RESULTS.with_suffix(".md"),
        help="Markdown results file (JSON written beside it)",
    )
    args = parser.parse_args(argv)
    start = time.perf_counter()
    rows = []
    for name in args.cohorts.split(","):
        if COHORTS[name][1] and not SHARED.is_dir():
            print(f"skipped {name}: {SHARED} not found", file=sys.stderr)
            continue
        row = run_one(name, args.n_jobs, args.results_dir)
        print(json.dumps({k: row[k] for k in ("cohort", "n_flags", "overhead")}), flush=True)
        rows.append(row)
    import os

    meta = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python benchmarks/audit.py " + " ".join(argv or sys.argv[1:]),
        "machine": platform.processor() or platform.machine(),
        "cores": len(os.sched_getaffinity(0)),
        **{p: metadata.version(p) for p in ("insightome", "fairlearn")},
        "seconds": time.perf_counter() - start,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    args.output.write_text(render(rows, meta))
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
