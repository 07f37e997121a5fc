"""Scale: time, peak memory and energy of a default run against n_samples and n_features.

Simulated data with realistic correlation structure (a 10-factor latent model plus
independent noise, as gene-expression modules are), a binary outcome driven by 10
features. Each point is a default ``insightome.run`` (5-fold CV, repeats chosen by
insightome, BBC-CV with 1,000 bootstraps) in a fresh subprocess with ``n_jobs=2``;
memory is the peak summed RSS of the run's process tree sampled by the energy ledger
(shared pages of memory-mapped data are counted once per process, so it is an upper
bound). Also measured: the speed-up from one to two Dask workers on the same point.

    python benchmarks/scale.py                 # the full grid (several hours on 2 cores)
    python benchmarks/scale.py --quick         # a smoke test of the script (~10 minutes)
Writes benchmarks/results/scale.md and scale.json.
"""

from __future__ import annotations

import argparse
import json
import platform
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
        "workers": scheduler_workers or "loky-2",
        "wall_s": wall,
        "cpu_s": total["cpu_s"],
        "peak_rss_mb": total["peak_rss_mb"],
        "energy_kwh": total["energy_kwh"],
        "carbon_g": total["carbon_g"],
        "energy_method": run.results["compute"]["method"],
        "matrix_mb_float64": n * p * 8 / 2**20,
        "repeats": run.results["resampling"]["repeats"],
        "n_candidates": len(run.results["configurations"]),
        "auc": run.results["estimate"]["value"],
        "stages_s": {k: v["wall_s"] for k, v in run.results["compute"]["stages"].items()},
    }


def in_subprocess(n: int, p: int, workers: int = 0) -> dict:
    cmd = [sys.executable, __file__, "--one", str(n), str(p), str(workers)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=4 * 3600)
    if proc.returncode:
        return {"n": n, "p": p, "workers": workers, "error": proc.stderr.strip()[-400:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def exponent(points: list[dict], axis: str) -> float | None:
    ok = [pt for pt in points if "error" not in pt]
    if len(ok) < 3:
        return None
    x = np.log([pt[axis] for pt in ok])
    t = np.log([pt["wall_s"] for pt in ok])
    return float(np.polyfit(x, t, 1)[0])


def write(
    points_n: list[dict], points_p: list[dict], dask: list[dict], args, seconds: float
) -> None:
    from importlib import metadata

    def row(pt: dict) -> str:
        if "error" in pt:
            return f"| {pt['n']:,} | {pt['p']:,} | failed: {pt['error'][:120]} |||||||||"
        ratio = pt["peak_rss_mb"] / pt["matrix_mb_float64"]
        return (
            f"| {pt['n']:,} | {pt['p']:,} | {pt['matrix_mb_float64']:,.0f} | {pt['repeats']} | "
            f"{pt['n_candidates']} | {pt['wall_s']:,.0f} | {pt['cpu_s']:,.0f} | "
            f"{pt['peak_rss_mb']:,.0f} | {ratio:.1f} | {pt['energy_kwh'] * 1000:.2f} | "
            f"{pt['auc']:.3f} |"
        )

    head = (
        "| n | p | matrix MB (float64) | repeats | candidates | wall s | CPU s | peak tree MB "
        "| peak / matrix | energy Wh | BBC AUC |\n|---|---|---|---|---|---|---|---|---|---|---|"
    )
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in open("/proc/cpuinfo")
            if ln.startswith("model name")
        ),
        "?",
    )
    versions = ", ".join(
        f"{pkg} {metadata.version(pkg)}"
        for pkg in ("insightome", "numpy", "scikit-learn", "xgboost-cpu")
    )
    big = next((pt for pt in points_n if pt["n"] == TARGET_N and pt["p"] == TARGET_P), None)
    e_n, e_p = exponent(points_n, "n"), exponent(points_p, "p")
    lines = [
        "# insightome scale benchmark",
        "",
        f"- Command: `python benchmarks/scale.py{' --quick' if args.quick else ''}`",
        f"- Date: {datetime.now(UTC).isoformat(timespec='seconds')} (total {seconds / 60:.1f} min)",
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
        "## Dask workers (same point, LocalCluster, processes, 1 thread each)",
        "",
        head,
        *[row(pt) for pt in dask],
        "",
        "## Targets",
        "",
    ]
    if big and "error" not in big:
        ok_t = big["wall_s"] <= 1800
        ok_m = big["peak_rss_mb"] <= 24 * 1024
        lines.append(
            f"- 100k x 1k run: {big['wall_s'] / 60:.1f} min (target <= 30): "
            f"**{'PASS' if ok_t else 'FAIL'}**; peak {big['peak_rss_mb'] / 1024:.1f} GB "
            f"(target <= 24 GB): **{'PASS' if ok_m else 'FAIL'}**"
        )
        ratio = big["peak_rss_mb"] / big["matrix_mb_float64"]
        lines.append(
            f"- peak memory / matrix size (float64) at 100k x 1k = {ratio:.1f} (target <= 3): "
            f"**{'PASS' if ratio <= 3 else 'FAIL'}**"
        )
    else:
        lines.append("- 100k x 1k: not run (--quick) or failed")
    if e_n is not None:
        lines.append(f"- time ~ n^{e_n:.2f} (log-log fit over the n grid; target close to 1)")
    if e_p is not None:
        lines.append(f"- time ~ p^{e_p:.2f} (log-log fit over the p grid)")
    ok_dask = [pt for pt in dask if "error" not in pt]
    if len(ok_dask) == 2:
        speedup = ok_dask[0]["wall_s"] / ok_dask[1]["wall_s"]
        lines.append(f"- speed-up from 1 to 2 Dask workers: {speedup:.2f}x")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "scale.md").write_text("\n".join(lines) + "\n")
    (RESULTS / "scale.json").write_text(
        json.dumps({"n_grid": points_n, "p_grid": points_p, "dask": dask}, indent=2)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--one", nargs=3, type=int, metavar=("N", "P", "WORKERS"))
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_point(*args.one)))
        return
    start = time.perf_counter()
    n_grid, p_grid = (QUICK_N, QUICK_P) if args.quick else (N_GRID, P_GRID)
    points_n, points_p, dask = [], [], []
    for n in n_grid:
        points_n.append(in_subprocess(n, 1_000))
        print(points_n[-1], flush=True)
    for p in p_grid:
        if p == 1_000 and any(pt["n"] == 1_000 and pt["p"] == 1_000 for pt in points_n):
            points_p.append(next(pt for pt in points_n if pt["n"] == 1_000))
            continue
        points_p.append(in_subprocess(1_000, p))
        print(points_p[-1], flush=True)
    dask_n = 500 if args.quick else 3_000
    for workers in (1, 2):
        dask.append(in_subprocess(dask_n, 1_000, workers))
        print(dask[-1], flush=True)
    write(points_n, points_p, dask, args, time.perf_counter() - start)
    print(f"wrote {RESULTS / 'scale.md'}")


if __name__ == "__main__":
    main()
