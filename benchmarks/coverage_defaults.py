"""Does insightome's default run — the average of the top 3 in the selection included —
keep its 95% interval's coverage, and how narrow may it be? (issue 27, point 2)

benchmarks/estimators.py chose the estimator and measured the intervals on the small-n
cohorts with the ``fast`` preset, which selects single configurations. The default preset
adds the average of the top 3 configurations to the selection (``--ensemble auto``), and
BBC-CV re-picks both the top 3 and average-or-single in every bootstrap. This study runs
**the default preset** (every option at its default: ``all_repeats`` pooling, the
``percentile`` interval, ``--ensemble auto``) on the coverage study's cohorts and draws
(benchmarks/small_n.py: ACTG 175, TCGA pan-cancer survival, diabetes 130-US, METABRIC;
n = 30, 50, 100; the refitted winner scored on > 1,000 patients it never saw) and records,
per run:

- the run's estimate and 95% interval against the held-out score (the run as a user gets
  it);
- the interval read off the same bootstraps with their spread multiplied by 0.9 ... 0.6
  (``benchmarks/estimators.py``'s multiples), to find the narrowest that keeps >= 90%;
- whether the average won the run's selection, and the CPU seconds.

Survival outcomes never average (``--ensemble auto`` averages probabilities); TCGA's runs
measure the default preset's single-configuration selection. Draws 0-19 choose; draws
20-29 (``--first-rep 20 --reps 10``) confirm. One JSON file per run under ``--captures``
(default ``~/.cache/insightome/coverage_defaults/``); a rerun skips the runs there.
``--summarize`` writes ``benchmarks/results/coverage_defaults.md`` and ``.json``::

    python benchmarks/coverage_defaults.py --reps 20 --workers 2
    python benchmarks/coverage_defaults.py --summarize
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import multiprocessing
import os
import platform
import sys
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from estimators import (
    CACHE_DIR,
    CONFIRM_FROM_REP,
    MULTIPLES,
    RESULTS_DIR,
    SIZES,
    TARGET_COVERAGE,
    _f,
    error_stats,
    interval_stats,
    widened,
)
from small_n_cohorts import COHORTS, draw

DEFAULT_CAPTURES = CACHE_DIR / "insightome" / "coverage_defaults"


def _keep_bbc(box: dict[str, Any]) -> Any:
    """A stage after ``estimate`` that keeps the run's bootstraps and what it chose."""
    from insightome.stages import Stage

    def keep(state: Any) -> None:
        bbc = state.require("bbc")
        box.update(
            oob=np.asarray(bbc.oob_scores, dtype=float),
            winner=int(bbc.winner),
            averaged=[int(i) for i in bbc.averaged],
            n_configurations=len(state.require("candidates")),
            average_chosen_share=(float(bbc.selection_frequency[-1]) if bbc.averaged else 0.0),
        )

    return Stage("keep_bbc_for_coverage", keep, after="estimate", saved=False)


def capture(cohort_name: str, n: int, rep: int, captures: Path) -> str:
    """One draw of the coverage study, run with the default preset."""
    import insightome
    from small_n import heldout_score

    path = captures / f"{cohort_name}-n{n}-r{rep}.json"
    if path.exists():
        return f"{path.name}: kept"
    cohort, data, seed, train, score = draw(cohort_name, n, rep)
    box: dict[str, Any] = {}
    start = time.process_time()
    run = insightome.run(
        data.adata[train].copy(), **cohort.options, seed=rep, n_jobs=1, out_dir=None,
        discover=False, audit=False, progress=False, stages=[_keep_bbc(box)],
    )  # fmt: skip
    cpu = time.process_time() - start
    heldout, heldout_se = heldout_score(run, data.adata[score].copy(), cohort, 200, seed)
    est = run.results["estimate"]
    oob = box.pop("oob")
    row = {
        "dataset": cohort_name, "n": n, "rep": rep, "task": cohort.task,
        "heldout": heldout, "heldout_se": heldout_se, "n_scored": len(score),
        "estimate": float(est["value"]), "ci95": [float(v) for v in est["ci95"]],
        "intervals": {f"x{m:.2f}": widened(oob, m) for m in MULTIPLES},
        "average_won": bool(box["averaged"]) and box["winner"] == box["n_configurations"] - 1,
        **box, "cpu_seconds": cpu,
    }  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.partial")
    partial.write_text(json.dumps(row) + "\n")
    partial.replace(path)
    return f"{path.name}: heldout {heldout:.3f}, estimate {row['estimate']:.3f}"


def _task(job: tuple[str, int, int, str]) -> str:
    warnings.filterwarnings("ignore")  # fits' warnings are counted in the run's notes
    name, n, rep, captures = job
    try:
        return capture(name, n, rep, Path(captures))
    except Exception as exc:  # a run that stops is recorded and counted; the others go on
        message = f"{type(exc).__name__}: {exc}"[:300]
        path = Path(captures) / f"{name}-n{n}-r{rep}.failed.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"dataset": name, "n": n, "rep": rep, "failed": message}))
        return f"{name} n={n} rep={rep}: FAILED {message}"


def cells_of(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    cells: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        part = "development" if row["rep"] < CONFIRM_FROM_REP else "confirmation"
        binary = row["task"] != "survival"
        for key in (
            f"{part} draws, n = {row['n']}",
            f"{part} draws, all n",
            f"{part} draws, binary outcomes (the average in the selection)"
            if binary
            else f"{part} draws, survival (TCGA; no average)",
            f"{part} draws, binary outcomes, n = {row['n']}" if binary else "",
            f"{part} draws, runs the average won",
        ):
            if not key:
                continue
            if key.endswith("won") and not row["average_won"]:
                continue
            cells.setdefault(key, []).append(row)
    return cells


def _errors(errors: np.ndarray) -> dict[str, float]:
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        # a cell of one run has no SE (NaN, shown "—")
        warnings.filterwarnings("ignore", "Degrees of freedom", RuntimeWarning)
        return error_stats(errors)


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, cell in cells_of(rows).items():
        truth = np.array([r["heldout"] for r in cell])
        estimate = np.array([r["estimate"] for r in cell])
        entry: dict[str, Any] = {
            "runs": len(cell),
            "average_won": sum(r["average_won"] for r in cell),
            "average_possible": sum(bool(r["averaged"]) for r in cell),
            "cpu_seconds_mean": float(np.mean([r["cpu_seconds"] for r in cell])),
            "errors": _errors(estimate - truth),
            "intervals": {},
        }
        for name in ["run"] + [f"x{m:.2f}" for m in MULTIPLES if m != 1.0]:
            pairs = [r["ci95"] if name == "run" else r["intervals"][name] for r in cell]
            lo, hi = np.array(pairs).T
            entry["intervals"][name] = interval_stats(lo, hi, truth)
        out[key] = entry
    return out


def narrowest(summary: dict[str, Any]) -> str | None:
    """The smallest multiple whose interval covered >= 90% at every n of the development
    draws (``run``: the run's own interval, x1.00; None: not even that)."""
    cells = [k for k in summary if k.startswith("development draws, n = ")]
    names = [f"x{m:.2f}" for m in sorted(MULTIPLES) if m != 1.0] + ["run"]  # run: x1.00
    for name in names:
        if cells and all(
            summary[k]["intervals"][name]["coverage"] >= TARGET_COVERAGE for k in cells
        ):
            return name
    return None


def _order(key: str) -> tuple[int, int, str]:
    part = 0 if key.startswith("development") else 1
    n = int(key.rsplit("= ", 1)[1]) if "n = " in key else 0 if key.endswith("all n") else 999
    return (part, n, key)


def render(summary: dict[str, Any], meta: dict[str, Any]) -> str:
    keys = sorted(summary, key=_order)
    names = list(summary[keys[0]]["intervals"]) if keys else []
    picked = narrowest(summary)
    lines = [
        "# Coverage of the default run, the average of the top 3 included",
        "",
        f"- Command: `{meta['command']}`",
        f"- Date: {meta['date']}; machine: {meta['machine']}",
        f"- Runs: {meta['runs']} (the coverage study's cohorts and draws, preset `default`, "
        "every option at its default; discovery and audit off)",
        f"- Left out: {'; '.join(meta.get('left_out', [])) or 'none'} (a run that failed, or "
        "whose held-out score is not finite)",
        "",
        "Each run is insightome's default run on a training draw; its refitted model is scored "
        "on the cohort's > 1,000 other patients (**held-out**); **error** = estimate − "
        "held-out. `run` is the 95% interval the run reported (BBC-CV, `all_repeats`, "
        "`percentile`); `xM` the same bootstraps' interval with their spread multiplied by M. "
        "Draws 0–19 choose (**development**), draws 20–29 confirm. TCGA is a survival outcome "
        "and never averages.",
        "",
        "## Estimates",
        "",
        "| cell | runs | average won / possible | mean error ± SE | median \\|error\\| "
        "| mean \\|error\\| | CPU-s per run |",
        "|---|---|---|---|---|---|---|",
    ]
    for k in keys:
        s, e = summary[k], summary[k]["errors"]
        lines.append(
            f"| {k} | {s['runs']} | {s['average_won']} / {s['average_possible']} | "
            f"{e['mean_error']:+.3f} ± {_f(e['mean_error_se'])} | {e['median_abs_error']:.3f} "
            f"| {e['mean_abs_error']:.3f} | {s['cpu_seconds_mean']:.1f} |"
        )
    lines += [
        "",
        "## 95% intervals: coverage of the held-out score (mean width)",
        "",
        "| cell | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for k in keys:
        iv = summary[k]["intervals"]
        lines.append(
            f"| {k} | "
            + " | ".join(f"{iv[n]['coverage']:.1%} ({iv[n]['mean_width']:.2f})" for n in names)
            + " |"
        )
    lines += ["", "## The narrowest interval that kept coverage >= 90% at every n", ""]
    if picked is None:
        lines.append("- None of the multiples kept 90% at every n of the development draws.")
    else:
        confirm = [k for k in keys if k.startswith("confirmation")]
        lines.append(
            f"- `{picked}` on the development draws; confirmed on "
            + "; ".join(
                f"{k}: {summary[k]['intervals'][picked]['coverage']:.1%} (Wilson "
                f"{summary[k]['intervals'][picked]['coverage_wilson'][0]:.1%}–"
                f"{summary[k]['intervals'][picked]['coverage_wilson'][1]:.1%}), width "
                f"{summary[k]['intervals'][picked]['mean_width']:.3f}"
                for k in confirm
            )
            if confirm
            else f"- `{picked}` on the development draws (no confirmation draws yet)"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=0, help="draws per cohort x n")
    parser.add_argument("--first-rep", type=int, default=0, help="the first draw's number")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--cohorts", default=",".join(COHORTS))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--captures", type=Path, default=DEFAULT_CAPTURES)
    parser.add_argument("--summarize", action="store_true")
    args = parser.parse_args(argv)
    jobs = [
        (c, int(n), rep, str(args.captures))
        for rep in range(args.first_rep, args.first_rep + args.reps)
        for n in args.sizes.split(",")
        for c in args.cohorts.split(",")
    ]
    if jobs:
        ctx = multiprocessing.get_context("spawn")
        with cf.ProcessPoolExecutor(args.workers, mp_context=ctx) as pool:
            for i, line in enumerate(pool.map(_task, jobs), 1):
                print(f"[{i}/{len(jobs)}] {line}", flush=True)
    if not args.summarize:
        return 0
    found = [json.loads(p.read_text()) for p in sorted(args.captures.glob("*.json"))]
    rows = [r for r in found if "failed" not in r and np.isfinite(r["heldout"])]
    summary = summarize(rows)
    meta = {
        "command": "python benchmarks/coverage_defaults.py " + " ".join(argv or sys.argv[1:]),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "runs": len(rows),
        "left_out": [
            f"{r['dataset']} n={r['n']} rep={r['rep']}: "
            + (r["failed"] if "failed" in r else "no finite held-out score")
            for r in found
            if "failed" in r or not np.isfinite(r["heldout"])
        ],
    }
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "coverage_defaults.json").write_text(
        json.dumps({"meta": meta, "summary": summary, "runs": rows}, separators=(",", ":")) + "\n"
    )
    (RESULTS_DIR / "coverage_defaults.md").write_text(render(summary, meta))
    print(f"wrote {RESULTS_DIR / 'coverage_defaults.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
