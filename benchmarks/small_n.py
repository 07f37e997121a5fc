"""Small-n coverage study: do insightome's 95% intervals hold at n = 20, 30, 50, 100?

From four cohorts that leave at least 1,000 samples to score (ACTG 175, TCGA pan-cancer
clinical data, diabetes 130-US hospitals: weak signal, few predictors; METABRIC ER status
from 173 mutation indicators and age: strong signal, p = 174 > n), many small training
subsamples are drawn at each n; insightome runs on each one in-process (``insightome.run``,
preset ``fast``, otherwise its defaults at that n: folds, repeats, bootstraps), and its
refitted winner is scored on ALL the remaining samples with the run's own primary metric
(AUC; C-index for survival). A run's 95% BBC-CV interval "covers" when it contains that
held-out score. Measured per cohort x n and pooled per n: coverage with its Wilson 95%
interval, how many intervals were [0, 1] or included chance and the coverage among those
that excluded it, coverage of the cell-mean held-out score, interval width, bias (estimate
minus held-out) and plain-CV optimism. Target (issue 19): coverage >= 90% at every n >= 30.

Every finished run is appended at once as one JSON line to the runs file (default
``~/.cache/insightome/small_n.jsonl``); a rerun skips the runs already there or among the
compact runs of ``benchmarks/results/small_n.json``, so the study resumes where it stopped
even when the runs file is lost. The plan is interleaved (replicate-major over the cohort x
n cells), so a partial study is balanced. ``--summarize`` writes
``benchmarks/results/small_n.md`` and ``.json`` and, from the full default plan only, the
package's coverage table (``src/insightome/evaluate/small_n_coverage.json``, read by the
estimate stage's small-n note); it refuses to replace either by one with fewer runs::

    python benchmarks/small_n.py                          # the full plan, 2 workers
    python benchmarks/small_n.py --runs /tmp/small_n.jsonl
    python benchmarks/small_n.py --summarize --runs /tmp/small_n.jsonl
    python benchmarks/small_n.py --quick                  # smoke test: 2 runs per cell
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import hashlib
import json
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

import omics_suite
from small_n_cohorts import COHORTS, REPO, Cohort, cohort_data, draw_seed, draw_subsample
from small_n_summary import (
    HELDOUT_BOOTSTRAPS,
    QUICK_PER_CELL,
    TARGET_COVERAGE,
    projected_hours,
    render,
    summarize,
)

RESULTS_DIR = REPO / "benchmarks" / "results"
PACKAGE_TABLE = REPO / "src" / "insightome" / "evaluate" / "small_n_coverage.json"
#: the runs file: outside /tmp (which a reboot may wipe) and outside the repository (it
#: holds every run's training IDs); the compact runs in RESULTS_DIR/small_n.json are read
#: too, so a lost runs file costs only the training IDs, never a finished run
CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
DEFAULT_RUNS = CACHE_DIR / "insightome" / "small_n.jsonl"
SIZES = (20, 30, 50, 100)
PER_CELL = 68  # x 4 cohorts = 272 subsamples per n
PER_CELL_BY_COHORT: dict[str, int] = {}  # a cohort's own count, where the budget asks


# --------------------------------------------------------------------------------------
# one run
# --------------------------------------------------------------------------------------
def _cpu() -> float:
    """CPU seconds of this process and its finished children."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def heldout_score(
    run: Any, scoring: Any, cohort: Cohort, bootstraps: int = 0, seed: int = 0
) -> tuple[float, float | None]:
    """The refitted winner's primary metric on the scoring rows (insightome's own metric),
    and its bootstrap SE over the scored patients (None without ``bootstraps``)."""
    import insightome
    from insightome.evaluate.metrics import PRIMARY, plain

    pred = insightome.predict(run, scoring, log=False)
    pred = pred.loc[[str(s) for s in scoring.obs_names]]
    obs = scoring.obs
    if cohort.task == "survival":
        time_, event = obs[cohort.options["time_col"]].to_numpy(float), obs[cohort.options["event"]]
        y = np.where(event.to_numpy(int) == 1, time_, -time_)
        scores = pred[["risk"]].to_numpy(float)
    else:
        positive = run.results["outcome"]["positive_class"]
        y = (obs[cohort.options["target"]].astype(str).to_numpy() == str(positive)).astype(int)
        scores = pred[[f"prob_{positive}"]].to_numpy(float)
    fn = PRIMARY[cohort.task].fn
    value = plain(fn, y, scores)
    if not bootstraps:
        return value, None
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(len(y), np.full(len(y), 1 / len(y)), size=bootstraps)
    return value, float(np.nanstd(fn(y, scores, weights.astype(float)), ddof=1))


def run_one(cohort_name: str, n: int, rep: int, preset: str = "fast") -> dict[str, Any]:
    """Draw one subsample, run insightome on it, score the refitted winner on the rest."""
    import insightome

    cohort, data = COHORTS[cohort_name], cohort_data(cohort_name)
    seed = draw_seed(cohort_name, n, rep)
    train, score = draw_subsample(data.strata, data.groups, n, np.random.default_rng(seed))
    ids = sorted(str(s) for s in data.adata.obs_names[train])
    row: dict[str, Any] = {
        "cohort": cohort_name,
        "n": n,
        "rep": rep,
        "draw_seed": seed,
        "train_ids_sha256": hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16],
        "train_ids": ids,
        "n_train_rows": len(train),
        "n_scored": len(score),
        "train_events": int(data.strata[train].sum()),
        "preset": preset,
    }
    cpu0, wall0 = _cpu(), time.perf_counter()
    try:
        run = insightome.run(
            data.adata[train].copy(), **cohort.options, preset=preset, seed=rep, n_jobs=1,
            out_dir=None, discover=False, audit=False, progress=False,
        )  # fmt: skip
        run_cpu = _cpu() - cpu0
        heldout, heldout_se = heldout_score(
            run, data.adata[score].copy(), cohort, HELDOUT_BOOTSTRAPS, seed
        )
    except Exception as exc:  # a run that stops is a result of the study, not hidden
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        row.update(error=f"{type(exc).__name__}: {message}"[:500])
        row.update(cpu_seconds=_cpu() - cpu0, wall_seconds=time.perf_counter() - wall0)
        return row
    res, est = run.results, run.results["estimate"]
    lo, hi = (float(x) for x in est["ci95"])
    row.update(
        task=res["task"],
        metric=est["metric"],
        folds=int(res["resampling"]["folds"]),
        fold_reason=res["resampling"]["fold_choice"]["reason"],
        repeats=int(res["resampling"]["repeats"]),
        n_bootstrap=int(est["n_bootstrap"]),
        classes_left_out=[c["label"] for c in res["outcome"].get("classes_left_out") or []],
        winner=res["winner"]["name"],
        estimate=float(est["value"]),
        pooling=est["pooling"],
        interval=est["interval"],
        ci95=[lo, hi],
        plain_cv=float(est["plain_cv_value"]),
        heldout=heldout,
        heldout_se=heldout_se,
        covers=bool(lo <= heldout <= hi),
        n_features=int(res["n_features"]),
        notes=list(res["notes"]),
        warnings=list(res["warnings"]),
        run_cpu_seconds=run_cpu,
        cpu_seconds=_cpu() - cpu0,
        wall_seconds=time.perf_counter() - wall0,
    )
    return row


def _worker_init() -> None:
    import warnings

    warnings.filterwarnings("ignore")  # fits' warnings are counted in the run's notes


def _run_task(task: tuple[str, int, int, str]) -> dict[str, Any]:
    return run_one(*task)


# --------------------------------------------------------------------------------------
# the plan, the runs file
# --------------------------------------------------------------------------------------
def make_plan(
    cohorts: Iterable[str], sizes: Iterable[int], per_cell: int | dict[str, int]
) -> list[tuple[str, int, int]]:
    """Replicate-major: every cohort x n cell gets its k-th run before any gets its k+1-th
    (``per_cell`` may differ per cohort: a cohort with fewer stops earlier)."""
    cohorts, sizes = list(cohorts), list(sizes)
    count = per_cell if isinstance(per_cell, dict) else dict.fromkeys(cohorts, per_cell)
    reps = max(count.values(), default=0)
    return [(c, n, rep) for rep in range(reps) for n in sizes for c in cohorts if rep < count[c]]


def read_runs(path: Path) -> list[dict[str, Any]]:
    """The finished runs (a torn last line, from a killed writer, is ignored)."""
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


#: what a compact run (benchmarks/results/small_n.json) must hold to be summarised and
#: skipped on resume: the run key and the numbers the summary reads
COMPACT_KEYS = ("cohort", "n", "rep", "cpu_seconds", "wall_seconds")
COMPACT_DONE_KEYS = ("estimate", "ci95", "plain_cv", "heldout", "covers", "folds")


def read_compact_runs(path: Path) -> list[dict[str, Any]]:
    """The compact runs stored in a results JSON (none when it is absent or unreadable)."""
    try:
        runs = json.loads(path.read_text()).get("runs", [])
    except (OSError, json.JSONDecodeError, AttributeError):
        return []
    need = [*COMPACT_KEYS]
    return [r for r in runs if all(k in r for k in need)
            and ("error" in r or all(k in r for k in COMPACT_DONE_KEYS))]  # fmt: skip


def run_estimator(row: dict[str, Any]) -> tuple[str, str]:
    """The BBC-CV pooling and interval a run used (none recorded: made before they were
    options, with Tsamardinos et al.'s)."""
    return str(row.get("pooling") or "one_repeat"), str(row.get("interval") or "percentile")


def gather_runs(
    runs: Path, results: Path | None, estimator: tuple[str, str] | None = None
) -> list[dict[str, Any]]:
    """Every finished run: the runs file's, then the results JSON's compact runs that the
    runs file lacks (a wiped /tmp loses the training IDs, not the runs); with
    ``estimator``, only the runs made with that BBC-CV pooling and interval (a failed run
    records none and is kept)."""
    latest: dict[tuple[str, int, int], dict[str, Any]] = {}
    for r in read_runs(runs):  # a run redone (another estimator) keeps its last row only
        if _made_with(r, estimator):
            latest[(r["cohort"], r["n"], r["rep"])] = r
    rows = list(latest.values())
    seen = {(r["cohort"], r["n"], r["rep"]) for r in rows}
    for r in read_compact_runs(results) if results is not None else []:
        if (r["cohort"], r["n"], r["rep"]) not in seen and _made_with(r, estimator):
            rows.append(r)
            seen.add((r["cohort"], r["n"], r["rep"]))
    return rows


def _made_with(row: dict[str, Any], estimator: tuple[str, str] | None) -> bool:
    return estimator is None or "error" in row or run_estimator(row) == estimator


def default_estimator() -> tuple[str, str]:
    """The estimator a run of the working tree uses (insightome's defaults)."""
    from insightome.options.checks import DEFAULT_INTERVAL, DEFAULT_POOLING

    return DEFAULT_POOLING, DEFAULT_INTERVAL


def source_state() -> dict[str, Any]:
    """The commit and the uncommitted edits under src/, the package's coverage table (which
    this script writes) not counted as an edit."""
    state = omics_suite.source_state()
    modified = [f for f in state["src_modified"] if not f.endswith(PACKAGE_TABLE.name)]
    return {"commit": state["commit"], "src_modified": modified}


def append_run(path: Path, row: dict[str, Any]) -> None:
    with path.open("a") as fh:
        fh.write(json.dumps(row) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def available(cohorts: list[str]) -> list[str]:
    kept = []
    for c in cohorts:
        if COHORTS[c].source.exists():
            kept.append(c)
        else:
            print(f"skipped {c}: {COHORTS[c].source} not found", file=sys.stderr)
    return kept


def execute(
    plan: list[tuple[str, int, int]], runs: Path, workers: int, preset: str,
    results: Path | None = None,
) -> None:  # fmt: skip
    done = {
        (r["cohort"], r["n"], r["rep"]) for r in gather_runs(runs, results, default_estimator())
    }
    todo = [(c, n, rep, preset) for c, n, rep in plan if (c, n, rep) not in done]
    print(
        f"{len(done & set(plan))} of {len(plan)} runs already in {runs} or {results}; "
        f"{len(todo)} to go",
        flush=True,
    )
    if not todo:
        return
    source = source_state()  # recorded in every run: the code that made it
    runs.parent.mkdir(parents=True, exist_ok=True)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"  # one core per run: workers are the parallelism
    context = multiprocessing.get_context("spawn")
    start = time.perf_counter()
    with cf.ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_init) as pool:
        pending = {pool.submit(_run_task, t): t for t in todo[: workers * 2]}
        queue = todo[workers * 2 :]
        finished = 0
        while pending:
            ready, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
            for fut in ready:
                task = pending.pop(fut)
                row = {
                    **fut.result(),
                    "commit": source["commit"],
                    "src_dirty": bool(source["src_modified"]),
                }
                append_run(runs, row)
                finished += 1
                status = (
                    f"ERROR {row['error']}"
                    if "error" in row
                    else f"{row['estimate']:.3f} [{row['ci95'][0]:.3f}, {row['ci95'][1]:.3f}] "
                    f"held-out {row['heldout']:.3f}"
                )
                rate = (time.perf_counter() - start) / finished
                print(
                    f"[{finished}/{len(todo)}] {task[0]} n={task[1]} rep={task[2]}: {status} "
                    f"({row['cpu_seconds']:.0f} CPU-s; "
                    f"~{rate * (len(todo) - finished) / 3600:.1f} h left)",
                    flush=True,
                )
                if queue:
                    nxt = queue.pop(0)
                    pending[pool.submit(_run_task, nxt)] = nxt


# --------------------------------------------------------------------------------------
# writing: never a smaller table over a larger one
# --------------------------------------------------------------------------------------
class Refused(Exception):
    """A write that would lose results; the message is the one line to print."""


def compact_runs(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The runs as stored in the results JSON: everything but the training IDs and the
    message texts (their counts kept); enough to summarise and to resume."""
    out = []
    for full in rows:
        r = {k: v for k, v in full.items() if k not in ("train_ids", "notes", "warnings")}
        if "notes" in full:
            r["notes_count"], r["warnings_count"] = len(full["notes"]), len(full["warnings"])
        out.append(r)
    return out


def _run_commits(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    counts: dict[tuple[str, bool], int] = {}
    for r in rows:
        if "commit" in r:
            key = (str(r["commit"]), bool(r.get("src_dirty")))
            counts[key] = counts.get(key, 0) + 1
    return [{"commit": c, "src_dirty": d, "runs": k} for (c, d), k in counts.items()]


def estimators_used(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The BBC-CV pooling and interval of the finished runs (a run that records none was
    made before they were options: Tsamardinos et al.'s BBC-CV)."""
    return sorted({run_estimator(r) for r in rows if "error" not in r})


def full_default_plan(
    args: argparse.Namespace, cohorts: list[str], rows: list[dict[str, Any]] | None = None
) -> str | None:
    """Why this invocation may not write the package's table (None: it may)."""
    if rows is not None and len(used := estimators_used(rows)) > 1:
        return "its runs used different estimators (" + "; ".join(map(" + ".join, used)) + ")"
    if args.quick:
        return "a --quick smoke test"
    if cohorts != list(COHORTS):
        return f"not every cohort ({', '.join(cohorts)} of {', '.join(COHORTS)})"
    if args.size_list != list(SIZES):
        return f"not the default sizes ({args.sizes})"
    if args.per_cell_given is not None:
        return "--per-cell set"
    return None


def check_overwrite(path: Path, new_runs: int, new_entries: int | None, force: bool) -> None:
    """Refuse to replace ``path`` by one with fewer runs or entries, unless ``force``."""
    if force or not path.exists():
        return
    try:
        old = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return
    entries = old.get("entries")
    if entries is not None:  # the package's table
        old_runs, old_entries = sum(int(e["runs"]) for e in entries), len(entries)
    else:
        old_runs, old_entries = len(old.get("runs", [])), None
    if new_runs < old_runs or (new_entries is not None and new_entries < (old_entries or 0)):
        what, had = f"{new_runs} runs", f"{old_runs} runs"
        if new_entries is not None:
            what, had = f"{what} in {new_entries} entries", f"{had} in {old_entries} entries"
        raise Refused(
            f"refusing to overwrite {path}: it holds {had}, this summary {what}; pass the "
            "runs file that made it with --runs, or --force to replace it"
        )


def write_outputs(
    rows: list[dict[str, Any]], plan: list[tuple[str, int, int]], args: argparse.Namespace,
    cohorts: list[str] | None = None,
) -> None:  # fmt: skip
    """The results Markdown and JSON, and (full default plan only) the package's table;
    every refusal is checked before anything is written."""
    summary = summarize(rows, plan)
    commits = _run_commits(rows)
    meta = {
        "command": "python benchmarks/small_n.py " + " ".join(args.argv),
        "runs": str(args.runs),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": omics_suite.machine_info(),
        "versions": omics_suite.versions(),
        "source": source_state(),
        "run_commits": commits,
        "runs_without_commit": sum(1 for r in rows if "commit" not in r),
        "quick": args.quick,
        "preset": args.preset,
        "cohorts": args.cohort_list if cohorts is None else cohorts,
        "sizes": args.size_list,
        "per_cell": args.per_cell,
        "per_cell_by_cohort": {c: per_cell_for(c, args) for c in args.cohort_list},
        "projected_hours_2_cores": projected_hours(summary),
    }
    out, results = args.output, args.output.with_suffix(".json")
    why_not = full_default_plan(args, meta["cohorts"], rows)
    used = estimators_used(rows)
    if len(used) == 1:
        meta["estimate"] = {"pooling": used[0][0], "interval": used[0][1]}
    table = package_table(meta, summary) if why_not is None else None
    check_overwrite(results, len(rows), None, args.force)
    if table is not None and args.package_table is not None:
        n_runs = sum(e["runs"] for e in table["entries"])
        check_overwrite(args.package_table, n_runs, len(table["entries"]), args.force)
    out.parent.mkdir(parents=True, exist_ok=True)
    head = json.dumps({"meta": meta, "summary": summary}, indent=1).removesuffix("\n}")
    lines = ",\n".join("  " + json.dumps(r) for r in compact_runs(rows))  # one line per run
    results.write_text(f'{head},\n "runs": [\n{lines}\n ]\n}}\n')
    out.write_text(render(meta, summary))
    print(f"wrote {out} and {results}")
    if args.package_table is None:
        return
    if table is None:
        print(f"package table not written ({why_not}): it holds the full default plan only")
        return
    args.package_table.write_text(json.dumps(table, indent=1) + "\n")
    print(f"wrote {args.package_table}")


def package_table(meta: dict[str, Any], summary: dict[str, Any]) -> dict[str, Any]:
    """What the package reads: the pooled coverage per metric x n, the regime it was
    measured in, and where it came from."""
    return {
        "source": "benchmarks/results/small_n.md",
        "date": meta["date"],
        "commit": meta["source"]["commit"],
        "run_commits": sorted({c["commit"] for c in meta["run_commits"]}),
        "target": TARGET_COVERAGE,
        "partial": summary["partial"],
        "preset": meta["preset"],
        "estimate": meta.get("estimate"),
        "one_sample_per_patient": True,
        "entries": summary["coverage_table"],
    }


def per_cell_for(cohort: str, args: argparse.Namespace) -> int:
    if args.per_cell_given is not None or args.quick:
        return int(args.per_cell)
    return PER_CELL_BY_COHORT.get(cohort, PER_CELL)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cohorts", default=",".join(COHORTS))
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)))
    ap.add_argument(
        "--per-cell", type=int, default=None,
        help=f"runs per cohort x n (default {PER_CELL}; {PER_CELL_BY_COHORT or 'no'} overrides)",
    )  # fmt: skip
    ap.add_argument("--workers", type=int, default=2, help="processes, one run (n_jobs=1) each")
    ap.add_argument(
        "--runs", type=Path, default=None,
        help=f"JSONL of runs, appended to as they finish (default {DEFAULT_RUNS}; --quick: "
        "/tmp/small_n_quick.jsonl); the results JSON's compact runs are read too",
    )  # fmt: skip
    ap.add_argument("--output", type=Path, default=None, help="Markdown results (JSON beside)")
    ap.add_argument("--summarize", action="store_true", help="only write the results files")
    ap.add_argument("--quick", action="store_true", help="smoke test: 2 runs per cell")
    ap.add_argument("--preset", default="fast", choices=("fast", "default"))
    ap.add_argument(
        "--package-table", type=Path, default=PACKAGE_TABLE,
        help="the package's coverage table, written with the results (full default plan only)",
    )  # fmt: skip
    ap.add_argument(
        "--force", action="store_true",
        help="overwrite results or a package table holding more runs or entries than this one",
    )  # fmt: skip
    args = ap.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    args.cohort_list = [c.strip() for c in args.cohorts.split(",") if c.strip()]
    unknown = [c for c in args.cohort_list if c not in COHORTS]
    if unknown:
        ap.error(f"unknown cohort(s) {', '.join(unknown)}; choose from {', '.join(COHORTS)}")
    args.size_list = [int(s) for s in args.sizes.split(",")]
    args.per_cell_given = args.per_cell
    if args.per_cell is None:
        args.per_cell = QUICK_PER_CELL if args.quick else PER_CELL
    tmp = Path(tempfile.gettempdir())
    if args.runs is None:
        args.runs = tmp / "small_n_quick.jsonl" if args.quick else DEFAULT_RUNS
    if args.output is None:
        args.output = tmp / "small_n_quick.md" if args.quick else RESULTS_DIR / "small_n.md"
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cohorts = available(args.cohort_list)
    plan = make_plan(cohorts, args.size_list, {c: per_cell_for(c, args) for c in cohorts})
    results = args.output.with_suffix(".json")
    if not args.summarize:
        execute(plan, args.runs, args.workers, args.preset, results)
    keys = set(plan)
    made = None if args.summarize else default_estimator()  # --summarize: whatever is there
    rows = [
        r for r in gather_runs(args.runs, results, made) if (r["cohort"], r["n"], r["rep"]) in keys
    ]
    try:
        write_outputs(rows, plan, args, cohorts)
    except Refused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
