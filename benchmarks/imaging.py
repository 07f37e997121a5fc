"""Images as a modality (issue 22): BreastMNIST and PneumoniaMNIST end to end.

For each data set and arm (radiomics, cnn, radiomics + cnn) a fresh process runs
``insightome.run`` on an image manifest of the official train + val images (the run's own CV,
BBC-CV estimate, discovery and audit; ``--n-jobs 2``), then predicts the official test images
with the final model and reports the test AUC with DeLong's 95% CI, the BBC-CV estimate and
whether it lies inside that CI, the wall time and the peak memory (max RSS of the process,
children included) of the run.

Data (``../shared/data/medmnist/``, see PROVENANCE.md): ``breastmnist.npz`` (train 546, val 78,
test 156, 28×28) and ``pneumoniamnist_modified.npz`` (train 3,882 — 388 normal instead of the
official 1,214 —, val 524, test 624). Reference test AUCs (MedMNIST v2, Yang et al., Sci Data
2023): BreastMNIST ResNet-18 (28) 0.901, ResNet-50 (28) 0.857, auto-sklearn 0.836, AutoKeras
0.871, Google AutoML Vision 0.919; PneumoniaMNIST ResNet-18 (28) 0.944 (on the official
train set).

Writes ``benchmarks/results/imaging.md`` and ``imaging.json``::

    python benchmarks/imaging.py                      # both data sets, every arm
    python benchmarks/imaging.py --datasets breastmnist --arms radiomics   # part (PARTIAL)
    python benchmarks/imaging.py --render --note "…"   # the table again from imaging.json
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "medmnist"
RESULTS = REPO / "benchmarks" / "results"
DATASETS = {
    "breastmnist": ("breastmnist.npz", "BreastMNIST"),
    "pneumoniamnist": ("pneumoniamnist_modified.npz", "PneumoniaMNIST (modified train set)"),
}
ARMS = {
    "radiomics": ("radiomics",),
    "cnn": ("cnn",),
    "radiomics+cnn": ("radiomics", "cnn"),
}
REFERENCE = {
    "breastmnist": [
        ("ResNet-18 (28)", 0.901), ("ResNet-50 (28)", 0.857), ("auto-sklearn", 0.836),
        ("AutoKeras", 0.871), ("Google AutoML Vision", 0.919),
    ],
    "pneumoniamnist": [("ResNet-18 (28), official train set", 0.944)],
}  # fmt: skip


def manifest(npz: Path, folder: Path, splits: tuple[str, ...]) -> Path:
    """A manifest of ``splits`` with refs into a link to ``npz`` inside ``folder``."""
    from insightome.io.images import medmnist_manifest

    link = folder / npz.name
    if not link.exists():
        link.symlink_to(npz)
    table = medmnist_manifest(link, splits=splits)
    path = folder / f"manifest_{'_'.join(splits)}.csv"
    table.drop(columns=["split"]).to_csv(path, index=False)
    return path


def one(
    dataset: str, arm: str, preset: str, out: Path, repeats: int | None = None
) -> dict[str, Any]:
    """One run in this process: fit on train+val, predict test (called in a subprocess)."""
    import insightome
    from insightome.images_features import ImagesSettings, images_features
    from insightome.models.image_cnn import ImageBank, with_images
    from insightome.synthetic.privacy import delong_auc

    npz = DATA / DATASETS[dataset][0]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        train = manifest(npz, folder, ("train", "val"))
        test = manifest(npz, folder, ("test",))
        started = time.perf_counter()
        run = insightome.run(
            str(train), "label", image_column="image", image_features=ARMS[arm],
            preset=preset, n_jobs=2, seed=0, out_dir=str(folder / "runs"), progress=False,
            repeats=repeats,
        )  # fmt: skip
        seconds = time.perf_counter() - started
        images = run.results["images"]
        frame = pd.read_csv(test)
        settings = ImagesSettings(
            column="image", features=ARMS[arm], base=folder, source=str(test), n_jobs=2,
            cnn_size=int((images.get("cnn") or {}).get("size", 0)),
        )  # fmt: skip
        ids = frame["id"].astype(str)
        made = images_features(settings, pd.Series(frame["image"].to_numpy(), index=ids), None)
        columns = run.model_card["features"]
        x_test = made.columns.reindex(columns=columns)
        model = run.model
        if made.cnn_input is not None:
            model = with_images(model, ImageBank(list(ids), made.cnn_input))
        proba = model.predict_proba(x_test)[:, 1]
        y = frame["label"].to_numpy()
        auc, low, high = delong_auc(proba[y == 1], proba[y == 0])
    estimate = run.results["estimate"]
    peak_mb = (
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    ) / 1024
    row = {
        "dataset": dataset,
        "arm": arm,
        "preset": preset,
        "repeats": int(run.results["resampling"]["repeats"]),
        "folds": int(run.results["resampling"]["folds"]),
        "n_train": int(run.results["n_samples"]),
        "n_test": len(y),
        "winner": run.results["winner"]["name"],
        "bbc_auc": float(estimate["value"]),
        "bbc_ci": [float(estimate["ci95"][0]), float(estimate["ci95"][1])],
        "test_auc": float(auc),
        "test_ci": [float(low), float(high)],
        "estimate_in_test_ci": bool(low <= estimate["value"] <= high),
        "seconds": round(seconds, 1),
        "images_seconds": images["seconds"],
        "peak_rss_mb": round(peak_mb, 1),
    }
    out.write_text(json.dumps(row))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--arms", default=",".join(ARMS))
    parser.add_argument("--preset", default="default")
    parser.add_argument("--one", nargs=3, metavar=("DATASET", "ARM", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--render", action="store_true", help="rewrite imaging.md from .json")
    parser.add_argument("--repeats", type=int, default=None, help="CV repeats (default: run's)")
    parser.add_argument(
        "--merge", action="store_true", help="replace only these rows in imaging.json/.md"
    )
    parser.add_argument("--note", default="", help="a line on how the rows were run")
    args = parser.parse_args()
    if args.one:
        one(args.one[0], args.one[1], args.preset, Path(args.one[2]), args.repeats)
        return
    if args.render:
        saved = json.loads((RESULTS / "imaging.json").read_text())
        meta = {**saved["meta"], "note": args.note or saved["meta"].get("note", "")}
        (RESULTS / "imaging.json").write_text(json.dumps({**saved, "meta": meta}, indent=1))
        (RESULTS / "imaging.md").write_text(table(saved["rows"], meta))
        return
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO
    ).stdout.strip()
    rows = []
    datasets = [d for d in args.datasets.split(",") if d]
    arms = [a for a in args.arms.split(",") if a]
    for dataset in datasets:
        for arm in arms:
            with tempfile.NamedTemporaryFile(suffix=".json") as f:
                print(f"{dataset} / {arm} …", flush=True)
                subprocess.run(
                    [sys.executable, __file__, "--preset", args.preset,
                     *(["--repeats", str(args.repeats)] if args.repeats else []),
                     "--one", dataset, arm, f.name],
                    check=True,
                )  # fmt: skip
                row = json.loads(Path(f.name).read_text())
            row["commit"] = commit
            print(json.dumps(row), flush=True)
            rows.append(row)
    partial = set(datasets) != set(DATASETS) or set(arms) != set(ARMS)
    meta = {
        "commit": commit,
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "partial": partial,
    }
    if args.merge:  # these rows replace their namesakes in the saved table; the rest stay
        saved = json.loads((RESULTS / "imaging.json").read_text())
        new = {(r["dataset"], r["arm"]) for r in rows}
        kept = [r for r in saved["rows"] if (r["dataset"], r["arm"]) not in new]
        order = [(d, a) for d in DATASETS for a in ARMS]
        rows = sorted([*kept, *rows], key=lambda r: order.index((r["dataset"], r["arm"])))
        done = {(r["dataset"], r["arm"]) for r in rows}
        meta = {**saved["meta"], "partial": set(order) != done, "note": args.note}
    (RESULTS / "imaging.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    (RESULTS / "imaging.md").write_text(table(rows, meta))


def _ci(ci: list[float]) -> str:
    return f"{ci[0]:.3f}–{ci[1]:.3f}"


def table(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    lines = [
        "# Images: BreastMNIST and PneumoniaMNIST end to end (benchmarks/imaging.py)",
        "",
        f"Commit {meta['commit']}, {meta['date']}, {meta['machine']}, 2 CPU cores "
        "(`--n-jobs 2`), no GPU."
        + (" PARTIAL: not every data set and arm." if meta["partial"] else ""),
        "",
        "Each row: `insightome run` on a manifest of the official train + val images (its own "
        "CV, BBC-CV selection and estimate, discovery, audit), then the final model on the "
        "official test images. Test AUC with DeLong's 95% CI; *in CI*: the BBC-CV estimate "
        "lies inside the test AUC's CI. Time: the whole run (reading the images included); "
        "memory: peak RSS of the process and its workers.",
        *(["", meta["note"]] if meta.get("note") else []),
        "",
        "| data | arm | preset, CV repeats | n train | n test | winner | BBC-CV AUC (95% CI) "
        "| test AUC (95% CI) | in CI | time (s) | peak memory (MB) | commit |",
        "|---|---|---|---:|---:|---|---|---|---|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {DATASETS[r['dataset']][1]} | {r['arm']} | "
            f"{r['preset']}, {r['repeats']} × {r['folds']}-fold | "
            f"{r['n_train']} | {r['n_test']} | "
            f"`{r['winner']}` | {r['bbc_auc']:.3f} ({_ci(r['bbc_ci'])}) | "
            f"{r['test_auc']:.3f} ({_ci(r['test_ci'])}) | "
            f"{'yes' if r['estimate_in_test_ci'] else 'no'} | {r['seconds']:.0f} | "
            f"{r['peak_rss_mb']:.0f} | {r.get('commit', meta['commit'])} |"
        )
    lines += ["", "Published test AUCs (MedMNIST v2, Yang et al., Sci Data 2023; GPU-trained):", ""]
    for dataset, refs in REFERENCE.items():
        lines.append(
            f"- {DATASETS[dataset][1]}: " + "; ".join(f"{name} {auc:.3f}" for name, auc in refs)
        )
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
