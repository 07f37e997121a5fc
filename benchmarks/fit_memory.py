"""Fit memory: peak memory of one fit of each default candidate, as a multiple of the fold.

One training fold of a large run (16,000 x 1,000 float32: 5-fold CV at 20,000 samples,
where the large-n candidate set starts; simulated as in ``scale.py``), fitted by each
default binary candidate in a fresh process. The fold is read from a ``.npy`` file, so the
process's resting memory holds it once and nothing else. Just before the fit the kernel's
high-water mark of the resident set is reset (``/proc/self/clear_refs``); the peak is that
mark after the fit (``VmHWM``, which sees C/C++ allocations such as liblinear's and
XGBoost's) minus the resting size, divided by the fold's size.

Two pipelines per candidate, side by side:

- **before**: the preprocessing of insightome <= 6ea2544, a ColumnTransformer around
  median imputation and scikit-learn's ``StandardScaler``, and liblinear for binary L1
  (the univariate F-tests are today's, by blocks of columns, in both);
- **now**: ``Candidate.build`` as it is, for a run of 20,000 samples.

Also per candidate: CPU seconds of the fit and the AUC on 4,000 held-out samples (the two
pipelines should agree). The CPU seconds are for reading beside each other, on a machine
that may have been busy.

    python benchmarks/fit_memory.py        # ~5 minutes on 2 cores

Writes benchmarks/results/fit_memory.md and fit_memory.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
N_TRAIN, N_TEST, P = 16_000, 4_000, 1_000
N_RUN = 20_000  # the run size the candidates are built for (LARGE_N)


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as f:
        return int(f.read().split(f"{field}:")[1].split()[0]) / 1024


def _reset_peak() -> bool:
    """Reset the kernel's high-water mark (VmHWM) to the current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_mb(reset: bool) -> float:
    if reset:
        return _status_mb("VmHWM")
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one(index: int, variant: str, folder: str) -> dict:
    """Fit candidate ``index`` (``variant``: before/now) on the saved fold; in this process."""
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import StandardScaler

    from insightome.models.candidates import candidates
    from insightome.models.imputation import MedianImputer

    X = np.load(Path(folder) / "X.npy")
    y = np.load(Path(folder) / "y.npy")
    columns = [f"g{j}" for j in range(P)]
    train = pd.DataFrame(X[:N_TRAIN], columns=columns)  # views: no copies
    test = pd.DataFrame(X[N_TRAIN:], columns=columns)
    cand = candidates("binary", P, n_samples=N_RUN)[index]
    pipe = cand.build(train, seed=0)
    if variant == "before":
        steps = list(pipe.steps)
        steps[0] = (
            "preprocess",
            ColumnTransformer(
                [("numeric", make_pipeline(MedianImputer(), StandardScaler()), columns)],
                sparse_threshold=0.0,
                verbose_feature_names_out=False,
            ),
        )
        pipe = Pipeline(steps)
        if cand.params.get("solver") == "saga":
            pipe.set_params(model__solver="liblinear")
    # the high-water mark is reset here, so earlier peaks (reading the file, imports) do
    # not hide the fit's; where it cannot be reset, ru_maxrss is used and flagged
    reset = _reset_peak()
    resting = _status_mb("VmRSS")
    peak_before = _peak_mb(reset)
    cpu = time.process_time()
    pipe.fit(train, y[:N_TRAIN])
    cpu = time.process_time() - cpu
    peak = (
        _status_mb("VmHWM") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    )
    auc = roc_auc_score(y[N_TRAIN:], pipe.predict_proba(test)[:, 1])
    fold_mb = X[:N_TRAIN].nbytes / 2**20
    return {
        "candidate": cand.name,
        "variant": variant,
        "fold_mb": fold_mb,
        "resting_mb": resting,
        "peak_before_fit_mb": peak_before,
        "peak_above_mb": peak - resting,
        "times_fold": (peak - resting) / fold_mb,
        "cpu_s": cpu,
        "auc": float(auc),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--one", nargs=3, metavar=("INDEX", "VARIANT", "FOLDER"))
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(int(args.one[0]), args.one[1], args.one[2])))
        return
    sys.path.insert(0, str(HERE))
    from insightome.models.candidates import candidates
    from scale import simulate

    start = time.perf_counter()
    commit = subprocess.run(
        ["git", "describe", "--always", "--dirty"], capture_output=True, text=True, cwd=HERE
    ).stdout.strip()
    names = [c.name for c in candidates("binary", P, n_samples=N_RUN)]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        X, y = simulate(N_TRAIN + N_TEST, P)
        np.save(Path(folder) / "X.npy", X)
        np.save(Path(folder) / "y.npy", y)
        del X
        for i, name in enumerate(names):
            for variant in ("before", "now"):
                out = subprocess.run(
                    [sys.executable, __file__, "--one", str(i), variant, folder],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                row = json.loads(out.stdout.strip().splitlines()[-1])
                rows.append(row)
                print(f"{name} {variant}: {row['times_fold']:.2f}x fold", flush=True)
    meta = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "minutes": (time.perf_counter() - start) / 60,
        "git": commit,
    }
    write(rows, meta)


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next(ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name"))
    except (OSError, StopIteration):
        return platform.machine()


def write(rows: list[dict], meta: dict) -> None:
    """The Markdown and JSON results (``meta``: date, minutes and git of the measurement)."""
    from importlib import metadata

    versions = ", ".join(
        f"{pkg} {metadata.version(pkg)}"
        for pkg in ("insightome", "numpy", "scikit-learn", "xgboost-cpu", "lightgbm")
    )
    by = {(r["candidate"], r["variant"]): r for r in rows}
    names = list(dict.fromkeys(r["candidate"] for r in rows))
    fold = rows[0]["fold_mb"]
    lines = [
        "# insightome fit-memory benchmark",
        "",
        "- Command: `python benchmarks/fit_memory.py`",
        f"- Date: {meta['date']} ({meta['minutes']:.1f} min)",
        f"- Machine: {_cpu_name()}, {os.cpu_count()} cores, {platform.platform()}; "
        f"git {meta['git']}",
        f"- Versions: python {platform.python_version()}, {versions}",
        "",
        __doc__.split("\n\n")[1].replace("\n", " "),
        "",
        f"Fold: {N_TRAIN:,} x {P:,} float32 = {fold:,.0f} MB.",
        "",
        "| candidate | peak / fold, before | peak / fold, now | ratio now / before "
        "| CPU s before | CPU s now | AUC before | AUC now |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in names:
        b, n = by[(name, "before")], by[(name, "now")]
        lines.append(
            f"| {name} | {b['times_fold']:.2f} | {n['times_fold']:.2f} | "
            f"{n['times_fold'] / b['times_fold']:.2f} | {b['cpu_s']:.1f} | {n['cpu_s']:.1f} | "
            f"{b['auc']:.4f} | {n['auc']:.4f} |"
        )
    worst_b = max(by[(m, "before")]["times_fold"] for m in names)
    worst_n = max(by[(m, "now")]["times_fold"] for m in names)
    understated = [r for r in rows if r["peak_before_fit_mb"] - r["resting_mb"] > 20]
    if understated:
        lines += ["", f"Warning: {len(understated)} measurement(s) peaked before the fit."]
    lines += [
        "",
        f"Worst candidate: {worst_b:.2f}x the fold before, {worst_n:.2f}x now. With two "
        "workers, each holds its fold (1x) plus the worst fit in flight.",
    ]
    RESULTS.mkdir(exist_ok=True)
    for suffix, text in (
        (".md", "\n".join(lines) + "\n"),
        (".json", json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n"),
    ):
        target = RESULTS / f"fit_memory{suffix}"
        tmp = target.with_suffix(suffix + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, target)
    print(f"wrote {RESULTS / 'fit_memory.md'}")


if __name__ == "__main__":
    main()
