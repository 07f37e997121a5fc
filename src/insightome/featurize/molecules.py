"""Read molecules from SMILES tables and SD files into a :class:`MoleculeTable`.

Supported inputs:

* CSV / TSV (``.csv``, ``.tsv``, ``.tab``; ``.txt`` is sniffed): one molecule per row. The
  SMILES column is found by name (``smiles``, ``Drug``, ``canonical_smiles``, …, any case)
  or, failing that, as the text column whose values mostly parse as SMILES.
* SMILES files (``.smi``, ``.smiles``, ``.ism``): whitespace-separated ``SMILES [ID]`` per
  line, with an optional header line (``SMILES Name``).
* SD files (``.sdf``, ``.sd``), read with RDKit's ``SDMolSupplier``: the record title
  (``_Name``) is the ID, the data fields become columns and ``_SMILES`` holds the
  record's canonical SMILES.

All of them may be gzip-compressed (``.gz``). Rows are numbered as in the file: data rows
from 1 (the header, if any, is not counted; so in a CSV row *n* is line *n* + 1), SD
records from 1. Blank lines inside a file are kept as rows (and reported as empty by
:func:`insightome.featurize.standardize`), so row numbers never drift from the file.
RDKit is imported lazily: ``import insightome.featurize`` works without it.
"""

from __future__ import annotations

import gzip
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from insightome import errors
from insightome.errors import UserError

# -- messages (one line each: the file, the problem, what to do) -------------------------
MOLECULE_FORMAT_UNKNOWN = (
    "{path}: unknown molecule file type '{suffix}'. Use .csv, .tsv, .smi or .sdf "
    "(optionally gzipped, e.g. .sdf.gz)."
)
NO_SMILES_COLUMN = (
    "{path}: no SMILES column found (columns: {columns}); no column is named like 'smiles' and "
    "no text column holds mostly valid SMILES. Name the column 'smiles' or pass smiles_column."
)
SMILES_COLUMN_MISSING = (
    "{path}: SMILES column '{column}' not found.{hint} Pass one of the file's columns as "
    "smiles_column."
)
MOLECULE_ID_COLUMN_MISSING = (
    "{path}: ID column '{column}' not found.{hint} Pass one of the file's columns as "
    "id_column, or leave it out."
)
NO_MOLECULES = "{path}: the file holds no molecules (no data rows or SD records). Check the export."
RDKIT_MISSING = (
    "RDKit is not installed, but reading and featurizing molecules needs it. Install the "
    "chemistry extra: pip install 'insightome[chem]'."
)

TEXT_SUFFIXES = {".csv": ",", ".tsv": "\t", ".tab": "\t", ".txt": None}
SMI_SUFFIXES = {".smi", ".smiles", ".ism"}
SDF_SUFFIXES = {".sdf", ".sd"}

# Column names that hold SMILES, most specific first (compared lower-case, punctuation-free).
SMILES_NAMES = (
    "smiles",
    "canonicalsmiles",
    "isomericsmiles",
    "smilesstring",
    "molsmiles",
    "moleculesmiles",
    "cansmiles",
    "drug",
    "smi",
    "molecule",
    "structure",
    "compound",
)
ID_NAMES = (
    "id",
    "drugid",
    "molid",
    "moleculeid",
    "compoundid",
    "cmpdid",
    "chemblid",
    "moleculechemblid",
    "name",
    "compoundname",
    "compound",
    "moleculename",
    "molname",
    "title",
    "cid",
    "identifier",
)
SNIFF_VALUES = 100  # values per column parsed to decide whether it holds SMILES
SMILES_SHARE = 0.5  # a column holds SMILES when at least this share of its values parse
SDF_NAME = "_Name"  # SD record title, RDKit's name for it
SDF_SMILES = "_SMILES"  # canonical SMILES of each SD record


def require_rdkit() -> None:
    """Raise a :class:`UserError` that says how to install RDKit when it is missing."""
    try:
        import rdkit  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise UserError(RDKIT_MISSING) from exc


@dataclass
class MoleculeTable:
    """Molecules read from one file, one entry per data row or SD record, in file order.

    ``data`` holds every column of the file (for SD files: ``_Name``, ``_SMILES`` and the
    data fields); ``rows`` the 1-based row (or record) number of each entry in the file.
    For SD files ``mols`` holds the parsed RDKit molecules (``None`` where a record failed)
    and ``read_errors`` why each failed record could not be used.
    """

    path: Path
    format: str
    data: pd.DataFrame
    smiles_column: str
    id_column: str | None
    rows: np.ndarray
    mols: list[Any] | None = None
    read_errors: list[str | None] | None = None
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.data)

    @property
    def smiles(self) -> list[str]:
        """The SMILES text of each entry ('' where missing)."""
        return [cell_text(v) for v in self.data[self.smiles_column].tolist()]

    @property
    def ids(self) -> list[str] | None:
        """The ID of each entry ('' where missing), or None without an ID column."""
        if self.id_column is None:
            return None
        return [cell_text(v) for v in self.data[self.id_column].tolist()]


def read_molecules(
    path: str | Path, *, smiles_column: str | None = None, id_column: str | None = None
) -> MoleculeTable:
    """Read the molecules in a CSV/TSV, SMILES (.smi) or SD file.

    ``smiles_column`` and ``id_column`` name the columns to use; by default they are
    detected (see the module docstring). Raises :class:`UserError` for a missing, empty or
    unreadable file and when no SMILES column can be found. Molecules that do not parse
    are kept: :func:`insightome.featurize.standardize` reports them by row.
    """
    require_rdkit()
    path = Path(path)
    if not path.exists():
        raise UserError(errors.FILE_MISSING, path=path)
    if path.is_dir():
        raise UserError(errors.FILE_IS_DIRECTORY, path=path)
    suffixes = [s.lower() for s in path.suffixes]
    compressed = bool(suffixes) and suffixes[-1] == ".gz"
    suffix = suffixes[-2] if compressed and len(suffixes) > 1 else (suffixes or [""])[-1]
    if suffix in SDF_SUFFIXES:
        table = _read_sdf(path, compressed)
    else:
        if suffix in SMI_SUFFIXES:
            data, fmt = _read_smi(path, compressed), "smi"
        elif suffix in TEXT_SUFFIXES:
            data, fmt = _read_delimited(path, TEXT_SUFFIXES[suffix], compressed)
        else:
            raise UserError(MOLECULE_FORMAT_UNKNOWN, path=path, suffix="".join(path.suffixes))
        table = MoleculeTable(
            path=path,
            format=fmt,
            data=data,
            smiles_column="",
            id_column=None,
            rows=np.arange(1, len(data) + 1),
        )
    if len(table.data) == 0:
        raise UserError(NO_MOLECULES, path=path)
    _choose_columns(table, smiles_column, id_column)
    return table


# -- text formats ------------------------------------------------------------------------


def _read_text(path: Path, compressed: bool) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UserError(errors.FILE_UNREADABLE, path=path, reason=exc.strerror) from exc
    try:
        return (gzip.decompress(raw) if compressed else raw).decode("utf-8-sig")
    except (OSError, EOFError, UnicodeDecodeError) as exc:  # bad gzip or not UTF-8 text
        kind = "gzip-compressed UTF-8 text" if compressed else "UTF-8 text"
        raise UserError(errors.FILE_CORRUPT, path=path, kind=kind, reason=exc) from exc


def _drop_trailing_blank(text: str) -> str:
    """The text without its trailing blank lines (they are not data rows)."""
    return re.sub(r"(?:\r?\n[ \t]*)+\Z", "", text)


def _read_smi(path: Path, compressed: bool) -> pd.DataFrame:
    lines = _drop_trailing_blank(_read_text(path, compressed)).splitlines()
    if not "".join(lines).strip():
        raise UserError(errors.FILE_EMPTY, path=path)
    names = ["smiles", "id"]
    first = lines[0].split(None, 1)
    if first and _normal(first[0]) in SMILES_NAMES:
        names = [first[0], first[1].strip() if len(first) > 1 else "id"]
        lines = lines[1:]
    records = []
    for line in lines:
        parts = line.split(None, 1)
        smiles = parts[0] if parts else ""
        records.append((smiles, parts[1].strip() if len(parts) > 1 else ""))
    data = pd.DataFrame.from_records(records, columns=names) if records else pd.DataFrame()
    if len(data) and not (data[names[1]] != "").any():
        data = data.drop(columns=names[1])
    return data


def _read_delimited(path: Path, sep: str | None, compressed: bool) -> tuple[pd.DataFrame, str]:
    text = _drop_trailing_blank(_read_text(path, compressed))
    if not text.strip():
        raise UserError(errors.FILE_EMPTY, path=path)
    if sep is None:  # .txt: tab- or comma-separated table, else a SMILES file
        first = text.split("\n", 1)[0]
        sep = "\t" if "\t" in first else "," if "," in first else None
        if sep is None:
            return _read_smi(path, compressed), "smi"
    try:
        data = pd.read_csv(io.StringIO(text), sep=sep, skip_blank_lines=False, low_memory=False)
    except pd.errors.EmptyDataError as exc:
        raise UserError(errors.FILE_EMPTY, path=path) from exc
    except (pd.errors.ParserError, ValueError) as exc:
        kind = "TSV" if sep == "\t" else "CSV"
        reason = str(exc).strip().splitlines()[0]
        raise UserError(errors.FILE_CORRUPT, path=path, kind=kind, reason=reason) from exc
    data.columns = [str(c).strip() for c in data.columns]
    return data, "tsv" if sep == "\t" else "csv"


# -- SD files ----------------------------------------------------------------------------


def _read_sdf(path: Path, compressed: bool) -> MoleculeTable:
    from rdkit import Chem, rdBase

    text = _read_text(path, compressed)
    if not text.strip():
        raise UserError(errors.FILE_EMPTY, path=path)
    supplier = Chem.SDMolSupplier()
    supplier.SetData(text, sanitize=True, removeHs=True)
    records: list[dict[str, Any]] = []
    mols: list[Any] = []
    read_errors: list[str | None] = []
    with rdBase.BlockLogs():
        for i in range(len(supplier)):
            mol = supplier[i]
            reason = None
            if mol is None:
                block = supplier.GetItemText(i)
                raw = Chem.MolFromMolBlock(block, sanitize=False, removeHs=False)
                reason = sanitize_error(raw) if raw is not None else None
                reason = reason or "the record's connection table cannot be parsed"
                props = raw.GetPropsAsDict() if raw is not None else _block_fields(block)
                name = raw.GetProp("_Name") if raw is not None and raw.HasProp("_Name") else ""
                if raw is None:
                    name = block.split("\n", 1)[0].strip()
                smiles = ""
            else:
                props = mol.GetPropsAsDict()
                name = mol.GetProp("_Name") if mol.HasProp("_Name") else ""
                smiles = Chem.MolToSmiles(mol)
            mols.append(mol)
            read_errors.append(reason)
            records.append({SDF_NAME: name.strip(), SDF_SMILES: smiles, **props})
    data = pd.DataFrame.from_records(records) if records else pd.DataFrame()
    table = MoleculeTable(
        path=path,
        format="sdf",
        data=data,
        smiles_column=SDF_SMILES,
        id_column=None,
        rows=np.arange(1, len(data) + 1),
        mols=mols,
        read_errors=read_errors,
    )
    return table


def _block_fields(block: str) -> dict[str, str]:
    """The ``> <name>`` data fields of an SD record whose connection table is unreadable."""
    fields = {}
    for match in re.finditer(r"^>\s*.*?<([^>]+)>.*?\n(.*?)(?:\n\s*\n|\Z)", block, re.M | re.S):
        fields[match.group(1)] = match.group(2).strip()
    return fields


def sanitize_error(mol: Any) -> str | None:
    """Why RDKit cannot sanitize an unsanitized molecule (a copy is tried), or None."""
    from rdkit import Chem

    try:
        Chem.SanitizeMol(Chem.Mol(mol))
    except Exception as exc:  # RDKit raises MolSanitizeException subclasses
        return f"sanitization error: {str(exc).strip()}"
    return None


# -- column choice -----------------------------------------------------------------------


def _choose_columns(table: MoleculeTable, smiles_column: str | None, id_column: str | None) -> None:
    data, path = table.data, table.path
    columns = [str(c) for c in data.columns]
    if smiles_column is not None:
        if smiles_column not in columns:
            hint = errors.closest_names_hint(smiles_column, columns)
            raise UserError(SMILES_COLUMN_MISSING, path=path, column=smiles_column, hint=hint)
        if table.format == "sdf" and smiles_column != SDF_SMILES:  # SMILES from a data field
            table.mols, table.read_errors = None, None
        table.smiles_column = smiles_column
    elif table.format != "sdf":
        table.smiles_column = _detect_smiles_column(data, path)
    if id_column is not None:
        if id_column not in columns:
            hint = errors.closest_names_hint(id_column, columns)
            raise UserError(MOLECULE_ID_COLUMN_MISSING, path=path, column=id_column, hint=hint)
        table.id_column = id_column
    else:
        table.id_column = _detect_id_column(data, table.smiles_column)
    if table.id_column is not None:
        table.notes.append(f"IDs from column '{table.id_column}'")
    table.notes.insert(0, f"SMILES from column '{table.smiles_column}'")


def _normal(name: object) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def _parse_share(values: pd.Series) -> tuple[float, float]:
    """(share of values that parse as SMILES, mean text length) over the first values."""
    from rdkit import Chem, rdBase

    texts = [cell_text(v) for v in values.dropna().head(SNIFF_VALUES).tolist()]
    texts = [t for t in texts if t]
    if not texts:
        return 0.0, 0.0
    with rdBase.BlockLogs():
        parsed = sum(Chem.MolFromSmiles(t) is not None for t in texts)
    return parsed / len(texts), float(np.mean([len(t) for t in texts]))


def _detect_smiles_column(data: pd.DataFrame, path: Path) -> str:
    numeric = pd.api.types.is_numeric_dtype
    text_columns = [c for c in data.columns if not numeric(data[c]) or data[c].isna().all()]
    named = sorted(
        (c for c in data.columns if _normal(c) in SMILES_NAMES or "smiles" in _normal(c)),
        key=lambda c: SMILES_NAMES.index(_normal(c)) if _normal(c) in SMILES_NAMES else 0.5,
    )
    shares = {c: _parse_share(data[c]) for c in dict.fromkeys([*named, *text_columns])}
    for column in named:
        if shares[column][0] >= SMILES_SHARE:
            return str(column)
    best = max(text_columns, key=lambda c: shares[c], default=None)
    if best is not None and shares[best][0] >= SMILES_SHARE:
        return str(best)
    explicit = [c for c in named if "smiles" in _normal(c)]
    if explicit:  # named SMILES but (nearly) nothing parses: standardize reports every row
        return str(explicit[0])
    shown = errors.examples(data.columns, k=8)
    raise UserError(NO_SMILES_COLUMN, path=path, columns=shown or "none")


def _detect_id_column(data: pd.DataFrame, smiles_column: str) -> str | None:
    candidates = [c for c in data.columns if c != smiles_column]
    if SDF_NAME in candidates and data[SDF_NAME].astype(str).str.strip().ne("").any():
        return SDF_NAME
    for name in ID_NAMES:
        for column in candidates:
            if _normal(column) == name:
                return str(column)
    for column in candidates:
        if _normal(column).endswith("id") and not pd.api.types.is_float_dtype(data[column]):
            return str(column)
    return None


def cell_text(value: object) -> str:
    """A cell as stripped text; missing values become ''."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()
