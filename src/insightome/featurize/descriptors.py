"""Molecular features for ADMET models, computed with RDKit and cached on disk.

Kinds (each a block of columns named ``"{kind}__{name}"``):

* ``rdkit2d`` — RDKit's 2D descriptors (``Descriptors._descList``, 217 in RDKit 2026.09:
  MolWt, MolLogP (Wildman & Crippen 1999), TPSA (Ertl et al. 2000), QED, EState, fragment
  counts, …), float64; ±inf and absurd values (|x| > 1e30, e.g. ``Ipc`` of large
  molecules) become NaN so that float32 models (scikit-learn trees, XGBoost) can use them.
* ``morgan_counts`` — Morgan / ECFP4 count fingerprint (Rogers & Hahn, J. Chem. Inf. Model.
  50:742, 2010): radius 2, 2048 bins, counts of atom environments, float32.
* ``maccs`` — the 166 MACCS structural keys (bit 0 unused, kept so column *k* is key *k*).
* ``avalon`` — Avalon fingerprint (Gedeck et al. 2006), 512 bins, counts.
* ``erg`` — Extended reduced graph (ErG) pharmacophore pair descriptor (Stiefl et al.
  2006), 315 values.

Rows align with the input; a molecule that is missing (invalid) or that RDKit cannot
featurize gets a row of NaN (listed in ``frame.attrs["failed"]``). Features are cached per
molecule under ``cache_dir/{kind}-rdkit{version}-v{N}/`` in ``.npz`` parts (rows stored
sparse) keyed by the InChIKey and the canonical SMILES (the standard InChIKey alone merges
mobile-H tautomers, whose features differ), so a new RDKit version or featurizer change
never reads stale values. ``frame.attrs["cache"]`` counts hits and computed molecules per kind.
"""

from __future__ import annotations

import itertools
import os
import sys
import uuid
import warnings
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from insightome.featurize.molecules import MoleculeTable, cell_text, require_rdkit
from insightome.featurize.standardization import StandardizeResult

FEATURE_KINDS = ("rdkit2d", "morgan_counts", "maccs", "avalon", "erg")
DEFAULT_KINDS = ("rdkit2d", "morgan_counts")
SEPARATOR = "__"  # column = kind + SEPARATOR + feature name
MORGAN_RADIUS = 2
MORGAN_BITS = 2048
AVALON_BITS = 512
HUGE = 1e30  # larger descriptor values are numerical garbage (float32 overflows at 3.4e38)
# bump when a kind's definition changes: old cache entries are unused. v2: every kind sees a
# fresh copy of the molecule (descriptor calculators leave computed properties on it, which
# changed ErG fingerprints computed afterwards in the same process)
FEATURIZER_VERSION = 2
MIN_PARALLEL = 64  # fewer molecules than this are featurized in-process whatever n_jobs
CHUNKS_PER_JOB = 4
MAX_CACHE_PARTS = 16  # merge a kind's cache parts into one beyond this many

KIND_UNKNOWN = "unknown feature kind '{kind}'. Choose from {kinds}."


def default_cache_dir() -> Path:
    """The user cache directory for features: ``$INSIGHTOME_CACHE_DIR/features`` if set,
    else ``~/.cache/insightome/features`` (XDG; ``~/Library/Caches`` on macOS,
    ``%LOCALAPPDATA%`` on Windows)."""
    if os.environ.get("INSIGHTOME_CACHE_DIR"):
        return Path(os.environ["INSIGHTOME_CACHE_DIR"]) / "features"
    home = Path.home()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = home / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or home / ".cache")
    return base / "insightome" / "features"


def _check_kind(kind: str) -> None:
    if kind not in FEATURE_KINDS:
        raise ValueError(KIND_UNKNOWN.format(kind=kind, kinds=", ".join(FEATURE_KINDS)))


@cache
def _names(kind: str) -> tuple[str, ...]:
    """Feature names of a kind, without the kind prefix."""
    _check_kind(kind)
    if kind == "rdkit2d":
        from rdkit.Chem import Descriptors

        return tuple(name for name, _ in Descriptors._descList)
    size = {"morgan_counts": MORGAN_BITS, "maccs": 167, "avalon": AVALON_BITS, "erg": 315}[kind]
    return tuple(str(i) for i in range(size))


def feature_columns(kind: str) -> list[str]:
    """The column names ``featurize`` gives a kind, e.g. ``rdkit2d__MolWt``."""
    return [f"{kind}{SEPARATOR}{name}" for name in _names(kind)]


def _version(kind: str) -> str:
    """Identifies the featurizer of a kind: its name, the RDKit version and ours."""
    import rdkit

    return f"{kind}-rdkit{rdkit.__version__}-v{FEATURIZER_VERSION}"


def _calculator(kind: str) -> Callable[[Any], np.ndarray]:
    """A function molecule → feature vector for a kind (built in the calling process)."""
    from rdkit import DataStructs

    if kind == "rdkit2d":
        from rdkit.Chem import Descriptors

        names = _names(kind)

        def rdkit2d(mol: Any) -> np.ndarray:
            values = Descriptors.CalcMolDescriptors(mol, missingVal=np.nan, silent=True)
            return np.array([values.get(n, np.nan) for n in names], dtype=float)

        return rdkit2d
    if kind == "morgan_counts":
        from rdkit.Chem import rdFingerprintGenerator

        generator = rdFingerprintGenerator.GetMorganGenerator(
            radius=MORGAN_RADIUS, fpSize=MORGAN_BITS
        )
        return generator.GetCountFingerprintAsNumPy
    if kind == "maccs":
        from rdkit.Chem import MACCSkeys

        def maccs(mol: Any) -> np.ndarray:
            out = np.zeros(167)
            DataStructs.ConvertToNumpyArray(MACCSkeys.GenMACCSKeys(mol), out)
            return out

        return maccs
    if kind == "avalon":
        from rdkit.Avalon import pyAvalonTools

        def avalon(mol: Any) -> np.ndarray:
            out = np.zeros(AVALON_BITS)
            DataStructs.ConvertToNumpyArray(pyAvalonTools.GetAvalonCountFP(mol, AVALON_BITS), out)
            return out

        return avalon
    from rdkit.Chem import rdReducedGraphs

    return rdReducedGraphs.GetErGFingerprint


def _compute(kind: str, mols: Sequence[Any]) -> tuple[np.ndarray, list[int]]:
    """Features of one kind for molecules (a chunk), and the positions that failed."""
    from rdkit import Chem, rdBase

    calculate = _calculator(kind)
    out = np.full((len(mols), len(_names(kind))), np.nan, dtype=_dtype(kind))
    failed = []
    with rdBase.BlockLogs(), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # e.g. overflow inside Ipc
        for i, mol in enumerate(mols):
            try:
                # a copy: calculators cache properties on the molecule they are given
                out[i] = calculate(Chem.Mol(mol))
            except Exception:  # RDKit raises assorted errors on exotic structures
                failed.append(i)
    if kind == "rdkit2d":
        out[~np.isfinite(out) | (np.abs(out) > HUGE)] = np.nan
    return out, failed


def _dtype(kind: str) -> type:
    return np.float64 if kind == "rdkit2d" else np.float32


def _compute_parallel(kind: str, mols: list[Any], n_jobs: int) -> tuple[np.ndarray, list[int]]:
    from joblib import Parallel, delayed, effective_n_jobs

    jobs = effective_n_jobs(n_jobs)
    if jobs <= 1 or len(mols) < MIN_PARALLEL:
        return _compute(kind, mols)
    bounds = np.linspace(0, len(mols), min(len(mols), jobs * CHUNKS_PER_JOB) + 1).astype(int)
    chunks = [(a, b) for a, b in itertools.pairwise(bounds) if b > a]
    results = Parallel(n_jobs=jobs)(delayed(_compute)(kind, mols[a:b]) for a, b in chunks)
    values = np.vstack([r[0] for r in results])
    failed = [a + i for (a, _), (_, f) in zip(chunks, results, strict=True) for i in f]
    return values, failed


class FeatureCache:
    """Cached feature vectors of one kind, keyed by molecule, in ``.npz`` parts."""

    def __init__(self, root: str | Path, kind: str) -> None:
        self.kind = kind
        self.directory = Path(root) / _version(kind)
        self.columns = np.array(_names(kind))

    def _parts(self) -> list[Path]:
        return sorted(self.directory.glob("part-*.npz")) if self.directory.is_dir() else []

    def load(self) -> tuple[pd.Index, np.ndarray]:
        """All cached (keys, values) of this kind; unreadable parts are skipped."""
        keys, values = [], []
        for part in self._parts():
            try:
                with np.load(part, allow_pickle=False) as stored:
                    if not np.array_equal(stored["columns"], self.columns):
                        continue
                    keys.append(stored["keys"])
                    values.append(self._dense(stored))
            except (OSError, ValueError, KeyError, EOFError) as exc:
                warnings.warn(f"feature cache part {part} skipped: {exc}", stacklevel=3)
        if not keys:
            return pd.Index([]), np.empty((0, len(self.columns)), dtype=_dtype(self.kind))
        index = pd.Index(np.concatenate(keys))
        stacked = np.vstack(values)
        first = ~index.duplicated()  # concurrent writers may store a molecule twice
        return index[first], stacked[first]

    def lookup(self, keys: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(position in ``keys`` of each hit, their values)."""
        index, values = self.load()
        if not len(index):
            return np.array([], dtype=int), values
        where = index.get_indexer(list(keys))
        hits = np.flatnonzero(where >= 0)
        return hits, values[where[hits]]

    def store(self, keys: Sequence[str], values: np.ndarray) -> None:
        """Add entries as a new part (written to a temporary file, then renamed)."""
        if not len(keys):
            return
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._write(f"part-{uuid.uuid4().hex}.npz", np.asarray(keys, dtype=str), values)
            parts = self._parts()
            if len(parts) > MAX_CACHE_PARTS:
                index, merged = self.load()
                self._write(f"part-{uuid.uuid4().hex}.npz", index.to_numpy(str), merged)
                for part in parts:
                    part.unlink(missing_ok=True)
        except OSError as exc:  # a read-only or full disk must not stop featurization
            warnings.warn(f"feature cache not written ({self.directory}): {exc}", stacklevel=3)

    def _write(self, name: str, keys: np.ndarray, values: np.ndarray) -> None:
        """One part: the values stored sparse (CSR), as fingerprints are mostly zeros."""
        rows, cols = np.nonzero(values)  # NaN counts as non-zero, so it is kept
        indptr = np.concatenate([[0], np.cumsum(np.count_nonzero(values, axis=1))])
        temporary = self.directory / f".{name}.{os.getpid()}.tmp.npz"
        np.savez(
            temporary,
            keys=keys,
            indptr=indptr.astype(np.int64),
            indices=cols.astype(np.min_scalar_type(len(self.columns))),
            data=values[rows, cols],
            columns=self.columns,
        )
        os.replace(temporary, self.directory / name)

    def _dense(self, stored: Any) -> np.ndarray:
        indptr = stored["indptr"]
        values = np.zeros((len(indptr) - 1, len(self.columns)), dtype=_dtype(self.kind))
        rows = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
        values[rows, stored["indices"]] = stored["data"]
        return values


def _molecules(given: Any) -> tuple[list[Any], list[str] | None, list[str] | None, pd.Index]:
    """(molecules or None, canonical SMILES, InChIKeys, row index) for featurize's input."""
    from rdkit import Chem, rdBase

    if isinstance(given, StandardizeResult):
        table = given.molecules
        return list(given.mols), table["smiles"].tolist(), table["inchikey"].tolist(), table.index
    if isinstance(given, MoleculeTable):
        index = pd.RangeIndex(len(given))
        values: list[Any] = list(given.mols) if given.mols is not None else given.smiles
    elif isinstance(given, pd.Series):
        index, values = given.index, given.tolist()
    else:
        values = list(given)
        index = pd.RangeIndex(len(values))
    mols = []
    with rdBase.BlockLogs():
        for value in values:
            if isinstance(value, Chem.Mol):
                mols.append(value if value.GetNumAtoms() else None)
            else:
                text = cell_text(value)
                mols.append(Chem.MolFromSmiles(text) if text else None)
    return mols, None, None, index


def _keys(mols: list[Any], smiles: list[str] | None, inchikeys: list[str] | None) -> list[str]:
    """Cache key per molecule ('' for a missing one): InChIKey and canonical SMILES."""
    from rdkit import Chem, rdBase

    if smiles is None or inchikeys is None:
        smiles, inchikeys = [], []
        with rdBase.BlockLogs():
            for mol in mols:
                if mol is None:
                    smiles.append("")
                    inchikeys.append("")
                    continue
                smiles.append(Chem.MolToSmiles(mol))
                try:
                    inchikeys.append(Chem.MolToInchiKey(mol) or "")
                except Exception:  # no InChI for some structures: the SMILES still keys it
                    inchikeys.append("")
    return [
        f"{k} {s}" if m is not None else "" for m, s, k in zip(mols, smiles, inchikeys, strict=True)
    ]


def featurize(
    mols: StandardizeResult | MoleculeTable | Sequence[Any] | pd.Series,
    *,
    kinds: Sequence[str] = DEFAULT_KINDS,
    n_jobs: int = 1,
    cache_dir: str | Path | Literal[False] | None = None,
) -> pd.DataFrame:
    """Features of molecules as a DataFrame whose rows align with the input.

    ``mols`` is a :class:`StandardizeResult` (one row per unique molecule of
    ``result.molecules``), a :class:`MoleculeTable`, or RDKit molecules / SMILES (not
    standardized here; ``None`` or unparsable entries give NaN rows). ``kinds`` picks
    blocks from :data:`FEATURE_KINDS`. ``n_jobs`` > 1 (or -1 for all cores) computes chunks
    of molecules in parallel with joblib. ``cache_dir`` is where features are cached
    (default :func:`default_cache_dir`; ``False`` turns the cache off).
    """
    require_rdkit()
    kinds = [kinds] if isinstance(kinds, str) else list(dict.fromkeys(kinds))
    for kind in kinds:
        _check_kind(kind)
    molecules, smiles, inchikeys, index = _molecules(mols)
    root = None if cache_dir is False else Path(cache_dir or default_cache_dir())
    keys = _keys(molecules, smiles, inchikeys) if root is not None else None
    blocks, failed, stats = [], {}, {}
    for kind in kinds:
        store = FeatureCache(root, kind) if root is not None else None
        values, failed[kind], stats[kind] = _featurize_kind(kind, molecules, keys, store, n_jobs)
        blocks.append(pd.DataFrame(values, index=index, columns=feature_columns(kind)))
    frame = pd.concat(blocks, axis=1) if blocks else pd.DataFrame(index=index)
    frame.attrs["missing"] = [i for i, m in enumerate(molecules) if m is None]
    frame.attrs["failed"] = {k: v for k, v in failed.items() if v}
    frame.attrs["cache"] = stats if root is not None else {}
    return frame


def _featurize_kind(
    kind: str,
    molecules: list[Any],
    keys: list[str] | None,
    store: FeatureCache | None,
    n_jobs: int,
) -> tuple[np.ndarray, list[int], dict[str, int]]:
    """(values, positions RDKit failed on, cache hits / computed) for one kind."""
    values = np.full((len(molecules), len(_names(kind))), np.nan, dtype=_dtype(kind))
    todo = [i for i, m in enumerate(molecules) if m is not None]
    hits = 0
    if store is not None and keys is not None and todo:
        positions, cached = store.lookup([keys[i] for i in todo])
        hit_rows = [todo[p] for p in positions]
        values[hit_rows] = cached
        hits = len(hit_rows)
        done = set(hit_rows)
        todo = [i for i in todo if i not in done]
    # one computation per distinct molecule: rows with the same key share it
    group = [keys[i] if keys is not None else str(i) for i in todo]
    firsts: dict[str, int] = {}
    for i, g in zip(todo, group, strict=True):
        firsts.setdefault(g, i)
    first = list(firsts.values())
    failed: list[int] = []
    if first:
        computed, bad = _compute_parallel(kind, [molecules[i] for i in first], n_jobs)
        slot = {g: j for j, g in enumerate(firsts)}
        values[todo] = computed[[slot[g] for g in group]]
        bad_groups = {list(firsts)[b] for b in bad}
        failed = [i for i, g in zip(todo, group, strict=True) if g in bad_groups]
        if store is not None and keys is not None:
            good = [j for j in range(len(first)) if j not in set(bad)]
            store.store([keys[first[j]] for j in good], computed[good])
    return values, failed, {"hits": hits, "computed": len(first)}
