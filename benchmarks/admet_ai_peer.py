#!/usr/bin/env python
"""Throughput benchmark of the ADMET-AI peer package (``admet-ai`` on PyPI).

Standalone: run it with the peer virtual environment's interpreter, never with the
project's (it does not import insightome). Set-up, torch first so pip keeps the local
CPU build instead of pulling a CUDA one::

    python3 -m venv benchmarks/.venv-admet-ai
    benchmarks/.venv-admet-ai/bin/pip install torch==2.13.0
    benchmarks/.venv-admet-ai/bin/pip install -r benchmarks/admet_ai_peer_requirements.txt

Usage::

    benchmarks/.venv-admet-ai/bin/python benchmarks/admet_ai_peer.py \
        --smiles /tmp/admet_peer_1000.smi --out /tmp/admet_peer.json --threads 2

The model weights ship inside the ``admet_ai`` wheel (``admet_ai/resources/models``).
Hub/offline switches are set, and by default every outbound socket connection is
refused and counted (``network_attempts`` in the JSON), so a run that tried to download
anything at load or predict time is visible in its output.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "WANDB_MODE": "disabled",
    "TQDM_DISABLE": "1",  # tqdm >= 4.66 reads TQDM_* env defaults: keeps stderr readable
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--smiles",
        required=True,
        type=Path,
        help="one SMILES per line, or a CSV with a 'smiles' column",
    )
    p.add_argument("--out", required=True, type=Path, help="JSON result file")
    p.add_argument("--threads", type=int, default=2, help="torch/OMP/MKL threads (default 2)")
    p.add_argument(
        "--warmup", type=int, default=10, help="molecules in the warm-up call (default 10)"
    )
    p.add_argument(
        "--allow-network",
        action="store_true",
        help="do not refuse outbound socket connections (they are refused and counted by default)",
    )
    p.add_argument(
        "--predictions-csv",
        type=Path,
        default=None,
        help="optionally write the prediction table here",
    )
    return p.parse_args(argv)


def read_smiles(path: Path) -> list[str]:
    """One SMILES per line, or a CSV whose header has a 'smiles' column (case-insensitive)."""
    text = path.read_text().splitlines()
    lines = [ln.strip() for ln in text if ln.strip()]
    if not lines:
        return []
    header = [h.strip().lower() for h in lines[0].split(",")]
    if "smiles" in header and ("," in lines[0] or lines[0].strip().lower() == "smiles"):
        import csv

        with path.open(newline="") as fh:
            reader = csv.DictReader(fh)
            col = next(c for c in reader.fieldnames or [] if c.strip().lower() == "smiles")
            return [row[col].strip() for row in reader if row.get(col) and row[col].strip()]
    # plain .smi: first whitespace-separated token is the SMILES (a name may follow)
    return [ln.split()[0] for ln in lines]


class NetworkGuard:
    """Refuse and count outbound connections (AF_INET/AF_INET6) made by this process."""

    def __init__(self) -> None:
        self.attempts: list[str] = []

    def install(self) -> None:
        import socket

        guard = self
        orig_connect = socket.socket.connect
        orig_connect_ex = socket.socket.connect_ex

        def _check(sock, address):
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                guard.attempts.append(repr(address))
                raise OSError(f"admet_ai_peer: network access refused ({address!r})")

        def connect(sock, address):
            _check(sock, address)
            return orig_connect(sock, address)

        def connect_ex(sock, address):
            _check(sock, address)
            return orig_connect_ex(sock, address)

        socket.socket.connect = connect  # type: ignore[method-assign]
        socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]


def cpu_seconds() -> float:
    import resource

    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    t_start = time.perf_counter()
    load_avg_start = os.getloadavg()

    # Threads and offline switches must be set before torch / numpy are imported.
    n = str(args.threads)
    for var in (
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "NUMEXPR_NUM_THREADS",
    ):
        os.environ[var] = n
    for k, v in OFFLINE_ENV.items():
        os.environ.setdefault(k, v)

    guard = NetworkGuard()
    if not args.allow_network:
        guard.install()

    smiles = read_smiles(args.smiles)
    if not smiles:
        print(f"no SMILES read from {args.smiles}", file=sys.stderr)
        return 2

    t_imp = time.perf_counter()
    import logging
    import warnings

    import torch

    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(args.threads)
    except RuntimeError:
        pass
    import admet_ai
    import chemprop
    import rdkit
    from admet_ai import ADMETModel
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    for name in ("lightning", "lightning.pytorch", "pytorch_lightning", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    import_seconds = time.perf_counter() - t_imp

    def version(mod, dist: str) -> str:
        v = getattr(mod, "__version__", None)
        if v:
            return str(v)
        from importlib.metadata import version as _v

        return _v(dist)

    versions = {
        "admet_ai": version(admet_ai, "admet-ai"),
        "chemprop": version(chemprop, "chemprop"),
        "torch": version(torch, "torch"),
        "rdkit": version(rdkit, "rdkit"),
        "python": platform.python_version(),
    }
    try:
        from importlib.metadata import version as _v

        versions["lightning"] = _v("lightning")
        versions["numpy"] = _v("numpy")
        versions["pandas"] = _v("pandas")
    except Exception:  # pragma: no cover - informational only
        pass

    # Validity the way ADMET-AI itself filters (RDKit MolFromSmiles is not None).
    n_valid = sum(Chem.MolFromSmiles(s) is not None for s in smiles)

    # --- model loading -----------------------------------------------------------
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    model = ADMETModel()
    load_seconds = time.perf_counter() - t0
    load_cpu = cpu_seconds() - cpu0
    net_after_load = len(guard.attempts)

    # --- warm-up -------------------------------------------------------------------
    warm = smiles[: max(1, args.warmup)]
    t0 = time.perf_counter()
    model.predict(smiles=list(warm))
    warmup_seconds = time.perf_counter() - t0

    # --- timed prediction over the whole list --------------------------------------
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    preds = model.predict(smiles=list(smiles))
    predict_seconds = time.perf_counter() - t0
    predict_cpu = cpu_seconds() - cpu0

    if args.predictions_csv:
        preds.to_csv(args.predictions_csv)

    cols = list(preds.columns)
    admet_tasks = [t for tasks in model.task_lists for t in tasks]
    drugbank_cols = [c for c in cols if "drugbank" in c.lower()]
    result = {
        "tool": "admet-ai",
        "versions": versions,
        "n_molecules": len(smiles),
        "n_valid": n_valid,
        "n_predicted_rows": len(preds),
        "load_seconds": round(load_seconds, 4),
        "load_cpu_seconds": round(load_cpu, 3),
        "import_seconds": round(import_seconds, 4),
        "warmup_molecules": len(warm),
        "warmup_seconds": round(warmup_seconds, 4),
        "predict_seconds": round(predict_seconds, 4),
        "molecules_per_second": round(len(smiles) / predict_seconds, 3)
        if predict_seconds > 0
        else None,
        "valid_molecules_per_second": round(n_valid / predict_seconds, 3)
        if predict_seconds > 0
        else None,
        "predict_cpu_seconds": round(predict_cpu, 3),
        "cpu_seconds": round(cpu_seconds(), 3),  # whole process, self + children
        "wall_seconds_total": round(time.perf_counter() - t_start, 3),
        "n_properties": len(cols),
        "n_properties_breakdown": {
            "admet_model_tasks": len(admet_tasks),
            "drugbank_percentile_columns": len(drugbank_cols),
            "physchem_columns": len(cols) - len(admet_tasks) - len(drugbank_cols),
        },
        "n_model_ensembles": model.num_ensembles,
        "n_models": sum(len(m) for m in model.model_lists),
        "threads": args.threads,
        "torch_num_threads": torch.get_num_threads(),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "cpu_affinity": len(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity")
            else None,
            "load_average_start": [round(x, 2) for x in load_avg_start],
            "load_average_end": [round(x, 2) for x in os.getloadavg()],
        },
        "network_guard": not args.allow_network,
        "network_attempts": len(guard.attempts),
        "network_attempts_during_load": net_after_load,
        "network_attempt_targets": guard.attempts[:10],
        "offline_env": {k: os.environ.get(k) for k in OFFLINE_ENV},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        json.dumps(
            {
                k: result[k]
                for k in (
                    "n_molecules",
                    "n_valid",
                    "load_seconds",
                    "predict_seconds",
                    "molecules_per_second",
                    "cpu_seconds",
                    "n_properties",
                    "network_attempts",
                )
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
