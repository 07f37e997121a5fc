"""Scale: time, peak memory and energy of a default run against n_samples and n_features.

Simulated data with realistic correlation structure (a 10-factor latent model plus
independent noise, as gene-expression modules are), a binary outcome driven by 10
features. Each point is a default ``insightome.run`` (5-fold CV, repeats chosen by
insightome, BBC-CV with 1,000 bootstraps) in a fresh subprocess with ``n_jobs=2``;
memory is the peak summed PSS (proportional set size: pages shared by the processes,
such as libraries and memory-mapped data, counted once) of the run's process tree,
sampled by the energy ledger (0.25 s after each stage starts, then at most every 2 s);
summed RSS is shown beside it. Also measured:
the speed-up from one to two Dask workers on the same point.

    python benchmarks/scale.py                 # full grid: about 3 h on 2 cores (1k x 50k: 80 min)
    python benchmarks/scale.py --quick         # a smoke test of the script (~10 minutes)
    python benchmarks/scale.py --only 100000x1000 --keep   # one point, others kept
    python benchmarks/scale.py --only 100000x1000 --keep --redo   # measure it again
    python benchmarks/scale.py --survival   # the survival points (the others kept)
    python benchmarks/scale.py --survival --keep   # only the survival points not measured

Survival (``--survival``): a whole default run (discovery and audit on) on the TCGA
pan-cancer clinical table (10,986 patients, overall survival; ``../shared/data``) and on
simulated registries of 10,000 and 100,000 patients x 35 variables (a Cox model on the
same latent-factor features, 48% events).

Every finished point is saved at once in scale.json; ``--keep`` reuses the points already
there (same n, p and workers), so an interrupted grid resumes.
Writes benchmarks/results/scale.md and scale.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
N_GRID = (1_000, 3_000, 10_000, 30_000, 100_000)  # at 1,000 features
P_GRID = (1_000, 5_000, 20_000, 50_000)  # at 1,000 samples
QUICK_N, QUICK_P = (500, 1_000), (500, 2_000)
TARGET_N, TARGET_P = 100_000, 1_000


def simulate(n: int, p: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """float32 X (n x p) from 10 latent factors + noise; y from 10 informative features."""
    rng = np.random.default_rng(seed)
    X = np.empty((n, p), dtype=np.float32)
    loadings = rng.normal(size=(10, p)).astype(np.float32) * 0.7
    for start in range(0, n, 10_000):  # in blocks, so the generator never holds 2 copies
        stop = min(start + 10_000, n)
        factors = rng.normal(size=(stop - start, 10)).astype(np.float32)
        X[start:stop] = factors @ loadings + rng.normal(size=(stop - start, p)).astype(np.float32)
    logit = X[:, :10].sum(axis=1) / np.sqrt(10 * 1.5)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y


SURVIVAL_POINTS = ("tcga", "10000x35", "100000x35")
SURVIVAL_TARGET_S = 300  # the TCGA run, whole, on 2 cores (issue 27)


def simulate_survival(n: int, p: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """float32 X as :func:`simulate`; survival times from a Cox model on 10 features
    (exponential baseline), uniform censoring: 48% events."""
    X, _ = simulate(n, p, seed)
    rng = np.random.default_rng(seed + 1)
    risk = X[:, :10].sum(axis=1) / np.sqrt(10 * 1.5)
    event_time = rng.exponential(np.exp(-risk)) * 365
    censor_time = rng.uniform(0, 500, n)
    time_ = np.maximum(np.round(np.minimum(event_time, censor_time)), 1.0)
    return X, time_, (event_time <= censor_time).astype(int)


def tcga_table() -> tuple[object, dict]:
    """The TCGA pan-cancer table as the small-n study defines it, and the run's options."""
    sys.path.insert(0, str(HERE))
    from small_n_cohorts import _tcga_pancan

    frame = _tcga_pancan()
    frame.index.name = "patient"
    options = {"time_col": "OS.time", "event": "OS", "sensitive": ["gender", "race"]}
    return frame, options


def survival_point(name: str) -> dict:
    """One survival point: a whole default run (discovery and audit on), n_jobs=2."""
    import tempfile

    import anndata as ad
    import pandas as pd

    import insightome

    if name == "tcga":
        frame, options = tcga_table()
        folder = Path(tempfile.mkdtemp())
        frame.to_csv(folder / "tcga.csv")
        data: object = folder / "tcga.csv"
        options["id_column"] = "patient"
        n, p = frame.shape[0], frame.shape[1] - 2
    else:
        n, p = (int(v) for v in name.split("x"))
        X, time_, event = simulate_survival(n, p)
        data = ad.AnnData(
            X,
            obs=pd.DataFrame({"time": time_, "event": event}, index=[f"s{i}" for i in range(n)]),
            var=pd.DataFrame(index=[f"g{j}" for j in range(p)]),
        )
        options = {"time_col": "time", "event": "event"}
    start = time.perf_counter()
    run = insightome.run(data, out_dir=None, n_jobs=2, **options)
    wall = time.perf_counter() - start
    if name == "tcga":
        shutil.rmtree(folder, ignore_errors=True)
    res, total = run.results, run.results["compute"]["total"]
    return {
        "name": name,
        "n": n,
        "p": p,
        "columns": int(res["n_features"]),
        "wall_s": wall,
        "cpu_s": total["cpu_s"],
        "peak_memory_mb": total.get("peak_memory_mb", total["peak_rss_mb"]),
        "repeats": res["resampling"]["repeats"],
        "n_candidates": len(res["configurations"]),
        "winner": res["winner"]["name"],
        "c_index": res["estimate"]["value"],
        "ci95": res["estimate"]["ci95"],
        "stages_s": {k: v["wall_s"] for k, v in res["compute"]["stages"].items()},
        "discovery_s": (res.get("discovery") or {}).get("seconds", {}),
    }


def survival_in_subprocess(name: str, timeout: float = 2 * 3600) -> dict:
    code, stdout, stderr = run_child([sys.executable, __file__, "--one-survival", name], timeout)
    if code:
        return {"name": name, "error": stderr.strip()[-400:]}
    return json.loads(stdout.strip().splitlines()[-1])


def survival_lines(points: dict) -> list[str]:
    """The survival section of scale.md."""
    if not points:
        return []
    lines = [
        "## Survival (a whole default run: discovery and audit on)",
        "",
        "Variables: the table's columns besides the outcome; features modelled: those left"
        " after the sensitive attributes (TCGA: gender and race, audited, not modelled).",
        "",
        "| data | n | variables | features modelled | repeats | candidates | winner | wall s "
        "| CPU s "
        "| peak PSS MB | C-index [95% CI] |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in SURVIVAL_POINTS:
        pt = points.get(name)
        if pt is None:
            continue
        label = "TCGA pan-cancer (overall survival)" if name == "tcga" else "simulated"
        if "error" in pt:
            lines.append(f"| {label} | failed: {pt['error'][:120]} ||||||||||")
            continue
        lo, hi = pt["ci95"]
        lines.append(
            f"| {label} | {pt['n']:,} | {pt['p']} | {pt['columns']} | {pt['repeats']} | "
            f"{pt['n_candidates']} | `{pt['winner']}` | {pt['wall_s']:,.0f} | "
            f"{pt['cpu_s']:,.0f} | {pt['peak_memory_mb']:,.0f} | "
            f"{pt['c_index']:.3f} [{lo:.3f}, {hi:.3f}] |"
        )
    lines.append("")
    for name in SURVIVAL_POINTS:
        pt = points.get(name)
        if pt is None or "error" in pt:
            continue
        parts = ", ".join(f"{k} {v:,.0f}" for k, v in pt["stages_s"].items())
        inner = ", ".join(f"{k} {v:,.0f}" for k, v in pt.get("discovery_s", {}).items())
        lines.append(f"- {name}: wall s per stage: {parts} (discovery, s: {inner})")
    tcga = points.get("tcga")
    if tcga and "error" not in tcga:
        ok = tcga["wall_s"] <= SURVIVAL_TARGET_S
        lines.append(
            f"- TCGA pan-cancer whole run: {tcga['wall_s']:.0f} s (target <= "
            f"{SURVIVAL_TARGET_S} s on 2 cores): **{'PASS' if ok else 'FAIL'}**"
        )
    return [*lines, ""]


def one_point(n: int, p: int, scheduler_workers: int = 0) -> dict:
    """Run insightome on one simulated dataset (in this process) and report its costs."""
    import anndata as ad
    import pandas as pd

    import insightome

    X, y = simulate(n, p)
    adata = ad.AnnData(
        X,
        obs=pd.DataFrame({"y": y.astype(str)}, index=[f"s{i}" for i in range(n)]),
        var=pd.DataFrame(index=[f"g{j}" for j in range(p)]),
    )
    del X
    start = time.perf_counter()
    if scheduler_workers:
        from distributed import LocalCluster

        with LocalCluster(
            n_workers=scheduler_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            host="127.0.0.1",
        ) as cluster:
            run = insightome.run(
                adata, target="y", out_dir=None, scheduler=cluster.scheduler_address
            )
    else:
        run = insightome.run(adata, target="y", out_dir=None, n_jobs=2)
    wall = time.perf_counter() - start
    total = run.results["compute"]["total"]
    return {
        "n": n,
        "p": p,
        "wall_s": wall,
        "cpu_s": total["cpu_s"],
        "peak_rss_mb": total["peak_rss_mb"],
        "peak_memory_mb": total.get("peak_memory_mb", total["peak_rss_mb"]),
        "memory_measure": total.get("memory_measure", "RSS"),
        "energy_kwh": total["energy_kwh"],
        "carbon_g": total["carbon_g"],
        "energy_method": run.results["compute"]["method"],
        "matrix_mb_float64": n * p * 8 / 2**20,
        "repeats": run.results["resampling"]["repeats"],
        "n_candidates": len(run.results["configurations"]),
        "auc": run.results["estimate"]["value"],
        "stages_s": {k: v["wall_s"] for k, v in run.results["compute"]["stages"].items()},
        "stages_peak_mb": {
            k: v.get("peak_memory_mb", v["peak_rss_mb"])
            for k, v in run.results["compute"]["stages"].items()
        },
        "discovery_s": (run.results.get("discovery") or {}).get("seconds", {}),
    }


def run_child(cmd: list[str], timeout: float) -> tuple[int, str, str]:
    """Run ``cmd`` in a fresh process group (return code, stdout, stderr): on a timeout or
    Ctrl-C the whole group (joblib/Dask workers too) is killed with it."""
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    return proc.returncode, stdout, stderr


def in_subprocess(n: int, p: int, workers: int = 0, timeout: float = 4 * 3600) -> dict:
    """One point in a fresh process group: on a timeout or Ctrl-C its joblib/Dask workers
    are killed with it instead of running on as orphans."""
    cmd = [sys.executable, __file__, "--one", str(n), str(p), str(workers)]
    code, stdout, stderr = run_child(cmd, timeout)
    if code:
        return {"n": n, "p": p, "workers": workers, "error": stderr.strip()[-400:]}
    out = json.loads(stdout.strip().splitlines()[-1])
    out["workers"] = workers
    return out


def key(pt: dict) -> tuple[int, int, int]:
    return int(pt["n"]), int(pt["p"]), int(pt["workers"])


def exponent(points: list[dict], axis: str, value=lambda pt: pt["wall_s"]) -> float | None:
    """Slope of log(value) against log(axis): the growth exponent."""
    ok = [pt for pt in points if "error" not in pt]
    if len(ok) < 3:
        return None
    x = np.log([pt[axis] for pt in ok])
    t = np.log([value(pt) for pt in ok])
    return float(np.polyfit(x, t, 1)[0])


def per_repeat(pt: dict) -> float:
    """Resampling wall seconds per CV repeat (insightome runs 3 repeats below 20k samples,
    1 from there on, so total time is not the same amount of work along the n grid)."""
    stages = pt["stages_s"]  # "select" since the run has stages; "resampling" before
    key = "select" if "select" in stages else "resampling"  # KeyError if neither: no silent 0
    return stages[key] / pt["repeats"]


def memory_slope(points: list[dict]) -> float | None:
    """Extra peak memory per extra MB of float64 matrix (least squares over the points)."""
    ok = [pt for pt in points if "error" not in pt]
    if len(ok) < 3:
        return None
    x = np.array([pt["matrix_mb_float64"] for pt in ok])
    y = np.array([pt["peak_memory_mb"] for pt in ok])
    return float(np.polyfit(x, y, 1)[0])


def machine() -> tuple[str, str]:
    """The CPU's model name and the versions of the packages that set the speed."""
    from importlib import metadata

    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in open("/proc/cpuinfo")
            if ln.startswith("model name")
        ),
        "?",
    )
    packages = ("insightome", "numpy", "scikit-learn", "xgboost-cpu")
    return cpu, ", ".join(f"{pkg} {metadata.version(pkg)}" for pkg in packages)


def write(
    points: dict,
    notes: list[str],
    n_grid,
    p_grid,
    dask_n: int,
    args,
    seconds: float,
    survival: dict | None = None,
) -> None:

    def row(pt: dict) -> str:
        if "error" in pt:
            return f"| {pt['n']:,} | {pt['p']:,} | failed: {pt['error'][:120]} ||||||||||"
        ratio = pt["peak_memory_mb"] / pt["matrix_mb_float64"]
        return (
            f"| {pt['n']:,} | {pt['p']:,} | {pt['matrix_mb_float64']:,.0f} | {pt['repeats']} | "
            f"{pt['n_candidates']} | {pt['wall_s']:,.0f} | {pt['cpu_s']:,.0f} | "
            f"{pt['peak_memory_mb']:,.0f} | {pt['peak_rss_mb']:,.0f} | {ratio:.1f} | "
            f"{pt['energy_kwh'] * 1000:.2f} | {pt['auc']:.3f} |"
        )

    def stages(pt: dict) -> str:
        if "error" in pt:
            return ""
        peaks = pt.get("stages_peak_mb", {})
        parts = ", ".join(
            f"{k} {v:,.0f} s" + (f" / {peaks[k]:,.0f} MB" if k in peaks else "")
            for k, v in pt["stages_s"].items()
        )
        inner = ", ".join(f"{k} {v:,.0f}" for k, v in pt.get("discovery_s", {}).items())
        where = f" ({pt['workers']} Dask worker(s))" if pt.get("workers") else ""
        return f"- {pt['n']:,} x {pt['p']:,}{where}: {parts}" + (
            f" (discovery, s: {inner})" if inner else ""
        )

    head = (
        "| n | p | matrix MB (float64) | repeats | candidates | wall s | CPU s | peak PSS MB "
        "| peak RSS MB (summed) | PSS / matrix | energy Wh | BBC AUC |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|"
    )
    cpu, versions = machine()
    points_n = [points[k] for k in ((n, TARGET_P, 0) for n in n_grid) if k in points]
    points_p = [points[k] for k in ((1_000, p, 0) for p in p_grid) if k in points]
    dask = [points[k] for k in ((dask_n, 1_000, w) for w in (1, 2)) if k in points]
    big = points.get((TARGET_N, TARGET_P, 0))
    e_n, e_p = exponent(points_n, "n"), exponent(points_p, "p")
    lines = [
        "# insightome scale benchmark",
        "",
        f"- Command: `python benchmarks/scale.py{' --quick' if args.quick else ''}`"
        + (
            " (points measured in several invocations with `--only ... --keep`)"
            if args.keep
            else ""
        ),
        f"- Date: {datetime.now(UTC).isoformat(timespec='seconds')} "
        f"(this invocation {seconds / 60:.1f} min)",
        f"- Machine: {cpu}, 2 cores, {platform.platform()}",
        f"- Versions: python {platform.python_version()}, {versions}",
        "",
        __doc__.split("\n\n")[1].replace("\n", " "),
        "",
        "## Against n_samples (1,000 features)",
        "",
        head,
        *[row(pt) for pt in points_n],
        "",
        "## Against n_features (1,000 samples)",
        "",
        head,
        *[row(pt) for pt in points_p],
        "",
        f"## Dask workers ({dask_n:,} x 1,000, LocalCluster, processes, 1 thread each)",
        "",
        head,
        *[row(pt) for pt in dask],
        "",
        "## Wall seconds and peak memory (PSS) per stage",
        "",
        *[stages(pt) for pt in [*points_n, *points_p[1:], *dask]],
        "",
        *survival_lines(survival),
        "## Targets",
        "",
    ]
    if big and "error" not in big:
        ok_t = big["wall_s"] <= 1800
        ok_m = big["peak_memory_mb"] <= 24 * 1024
        lines.append(
            f"- 100k x 1k run: {big['wall_s'] / 60:.1f} min (target <= 30): "
            f"**{'PASS' if ok_t else 'FAIL'}**; peak {big['peak_memory_mb'] / 1024:.1f} GB "
            f"(target <= 24 GB): **{'PASS' if ok_m else 'FAIL'}**"
        )
        ratio = big["peak_memory_mb"] / big["matrix_mb_float64"]
        lines.append(
            f"- peak memory (PSS) / matrix size (float64) at 100k x 1k = {ratio:.1f} "
            f"(target <= 3): **{'PASS' if ratio <= 3 else 'FAIL'}**"
        )
    else:
        lines.append("- 100k x 1k: not run (--quick) or failed")
    slope = memory_slope(points_n)
    if slope is not None:
        lines.append(
            f"- extra peak memory per extra MB of matrix over the n grid: {slope:.2f} MB "
            "(least-squares slope; the intercept is the fixed cost of the interpreters)"
        )
    if e_n is not None:
        lines.append(
            f"- time ~ n^{e_n:.2f} (log-log fit of total wall time over the n grid; target "
            "close to 1)"
        )
        small = [pt for pt in points_n if pt["n"] < 20_000]
        large = [pt for pt in points_n if pt["n"] >= 20_000 and "error" not in pt]
        e_small = exponent(small, "n", per_repeat)
        if e_small is not None:
            lines.append(
                f"- resampling time per CV repeat ~ n^{e_small:.2f} below 20,000 samples "
                "(total time mixes two regimes: below 20,000 samples insightome runs 3 CV "
                "repeats and full random forests; from 20,000 on, 1 repeat and forests of "
                "100 trees on 20% subsamples)"
            )
        if len(large) == 2:
            a, b = large
            e_large = np.log(per_repeat(b) / per_repeat(a)) / np.log(b["n"] / a["n"])
            lines.append(
                f"- resampling time per CV repeat ~ n^{e_large:.2f} from "
                f"{a['n']:,} to {b['n']:,} samples (two points)"
            )
    if e_p is not None:
        lines.append(f"- time ~ p^{e_p:.2f} (log-log fit over the p grid)")
    ok_dask = [pt for pt in dask if "error" not in pt]
    if len(ok_dask) == 2:
        speedup = ok_dask[0]["wall_s"] / ok_dask[1]["wall_s"]
        lines.append(f"- speed-up from 1 to 2 Dask workers: {speedup:.2f}x")
    if notes:
        lines += ["", "## Notes", "", *[f"- {note}" for note in notes]]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "scale.md").write_text("\n".join(lines) + "\n")


def save(points: dict, notes: list[str], survival: dict | None = None) -> None:
    RESULTS.mkdir(exist_ok=True)
    tmp = RESULTS / "scale.json.tmp"
    data = {
        "points": sorted(points.values(), key=key),
        "survival_points": list((survival or {}).values()),
        "notes": notes,
    }
    tmp.write_text(json.dumps(data, indent=2))
    tmp.replace(RESULTS / "scale.json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--one", nargs=3, type=int, metavar=("N", "P", "WORKERS"))
    parser.add_argument("--one-survival", choices=SURVIVAL_POINTS)
    parser.add_argument(
        "--survival",
        action="store_true",
        help="measure the survival points (only them; the others are kept)",
    )
    parser.add_argument(
        "--only", default="", help="comma-separated NxP[xWORKERS] points, e.g. 100000x1000"
    )
    parser.add_argument("--keep", action="store_true", help="reuse points in scale.json")
    parser.add_argument(
        "--redo", action="store_true", help="with --only and --keep: measure those points again"
    )
    parser.add_argument(
        "--note", action="append", default=[], help="a note for the results file (repeatable)"
    )
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_point(*args.one)))
        return
    if args.one_survival:
        print(json.dumps(survival_point(args.one_survival)))
        return
    start = time.perf_counter()
    n_grid, p_grid = (QUICK_N, QUICK_P) if args.quick else (N_GRID, P_GRID)
    dask_n = 500 if args.quick else 1_000
    wanted = [(n, 1_000, 0) for n in n_grid] + [(1_000, p, 0) for p in p_grid]
    wanted += [(dask_n, 1_000, w) for w in (1, 2)]
    if args.only:
        wanted = [(*(int(v) for v in item.split("x")), 0)[:3] for item in args.only.split(",")]
    if args.survival:
        wanted = []
    points: dict = {}
    survival: dict = {}
    notes: list[str] = []
    saved: dict = {"points": [], "notes": []}
    if (RESULTS / "scale.json").exists():
        saved = json.loads((RESULTS / "scale.json").read_text())
        if isinstance(saved, list):  # the first format: a list of points
            saved = {"points": saved, "notes": []}
    # the grid's points are kept with --keep (or while measuring the survival points); the
    # survival points always, unless they are what is being measured
    if args.keep or args.survival:
        points = {key(pt): pt for pt in saved["points"] if "error" not in pt}
        notes = list(saved.get("notes", []))
    if args.keep or not args.survival:
        survival = {pt["name"]: pt for pt in saved.get("survival_points", []) if "error" not in pt}
    notes += [note for note in args.note if note not in notes]
    for n, p, w in dict.fromkeys(wanted):
        if (n, p, w) in points and not (args.redo and args.only):
            continue
        points[(n, p, w)] = in_subprocess(n, p, w)
        print(points[(n, p, w)], flush=True)
        save(points, notes, survival)
    for name in SURVIVAL_POINTS if args.survival else ():
        if name in survival and args.keep and not args.redo:
            continue
        survival[name] = survival_in_subprocess(name)
        print(survival[name], flush=True)
        save(points, notes, survival)
    save(points, notes, survival)
    write(points, notes, n_grid, p_grid, dask_n, args, time.perf_counter() - start, survival)
    print(f"wrote {RESULTS / 'scale.md'}")


if __name__ == "__main__":
    main()
