"""Standardize molecules with RDKit's MolStandardize and merge duplicates, reporting both.

Each molecule goes through RDKit's ``rdMolStandardize`` (a C++ port of MolVS):
``Cleanup`` (remove explicit H, disconnect metals, normalize functional groups, reionize),
``LargestFragmentChooser`` (drop salts and solvents), ``Uncharger`` (neutralize acids and
bases where a neutral form exists) and, with ``tautomers=True``, ``TautomerEnumerator``
canonicalization. Its canonical SMILES and standard InChIKey identify it.

Nothing is silently dropped: every input row is in :attr:`StandardizeResult.records`, and
every row that cannot be used is in :attr:`StandardizeResult.invalid` with its row number
(1-based data row as in the file), the input text and the reason (RDKit's parse or
sanitization message, or "empty"). Rows with the same standardized InChIKey (the
canonical SMILES where RDKit cannot make an InChI) are merged into one molecule: a
regression label is averaged (the spread is reported), a class label takes the majority
vote, and disagreeing rows are reported as conflicts; a tie leaves the label missing.
Note that the standard InChIKey does not tell apart mobile-H tautomers
(2-hydroxypyridine / 2-pyridone), so such pairs merge even with ``tautomers=False``.
The merging is in :mod:`insightome.featurize.duplicates`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from insightome import errors
from insightome.errors import UserError
from insightome.featurize.duplicates import MOLECULE_COLUMNS, Task, infer_task, merge_duplicates
from insightome.featurize.molecules import MoleculeTable, cell_text, require_rdkit, sanitize_error

LABEL_COLUMN_MISSING = (
    "{path}: label column '{column}' not found.{hint} Pass one of the file's columns as labels."
)

EMPTY = "empty (no SMILES)"
NO_ATOMS = "empty molecule (no atoms)"
NO_MOLECULE = "no molecule given (None)"
RECORD_INVALID = "the SD record cannot be parsed"
RECORD_COLUMNS = ("row", "id", "input", "smiles", "inchikey", "valid", "reason")
RESERVED = {*RECORD_COLUMNS, *MOLECULE_COLUMNS, "inputs", "labels", "spread", "conflict"}


@dataclass
class StandardizeResult:
    """Standardized molecules, the rows that could not be used, and the merged duplicates.

    * ``records`` — one row per input row (index aligned with the input): ``row``, ``id``,
      ``input``, ``smiles``, ``inchikey``, ``valid``, ``reason`` and the label, if any.
    * ``molecules`` — one row per unique valid molecule, in order of first appearance:
      ``id`` (of the first row), ``smiles``, ``inchikey``, ``n_rows``, ``rows`` (the
      file rows merged into it) and the (merged) label; ``mols`` holds its RDKit molecule.
    * ``invalid`` — the report of unusable rows: ``row``, ``id``, ``input``, ``reason``.
    * ``duplicates`` — one row per merged group: ``inchikey``, ``smiles``, ``rows``,
      ``inputs`` and, with labels, ``labels`` plus ``spread`` (regression) or
      ``conflict`` (classification).
    """

    records: pd.DataFrame
    molecules: pd.DataFrame
    mols: list[Any]
    invalid: pd.DataFrame
    duplicates: pd.DataFrame
    label_column: str | None = None
    task: str | None = None
    source: str = "<input>"
    notes: list[str] = field(default_factory=list)

    @property
    def valid(self) -> pd.DataFrame:
        """The input rows that standardized (duplicates not yet merged)."""
        return self.records[self.records["valid"]]

    @property
    def n_input(self) -> int:
        return len(self.records)

    def report(self) -> str:
        """A plain-text summary: counts, notes and the invalid rows."""
        lines = [
            f"{self.source}: {self.n_input} rows → {len(self.molecules)} unique molecules "
            f"({len(self.valid)} valid rows, {len(self.invalid)} invalid)",
            *(f"  note: {n}" for n in self.notes),
        ]
        for item in self.invalid.itertuples(index=False):
            lines.append(f"  row {item.row}: {item.input!r}: {item.reason}")
        return "\n".join(lines)


def standardize(
    smiles_or_mols: MoleculeTable | Sequence[Any] | pd.Series,
    *,
    tautomers: bool = False,
    labels: str | Sequence[Any] | pd.Series | None = None,
    task: Task = "auto",
    ids: Sequence[Any] | None = None,
    inchikeys: bool = True,
    keep_fragments: bool = False,
) -> StandardizeResult:
    """Standardize molecules (SMILES, RDKit molecules or a :class:`MoleculeTable`).

    ``labels`` is a column of the table (by name) or values aligned with the input;
    ``task`` says how duplicate labels merge ("auto": integer labels with at most
    ten values are classes, other numbers are regression). ``ids`` names the rows
    when the input is not a table. ``inchikeys=False`` skips the InChIKey (0.73 instead of
    1.01 s per 1,000 AqSolDB molecules); duplicates are then merged by canonical SMILES.
    ``keep_fragments=True`` skips the largest-fragment step, for properties of the whole
    substance as measured (a salt's solubility depends on its counter-ion).
    See the module docstring for the steps.
    """
    require_rdkit()
    from rdkit import rdBase
    from rdkit.Chem.MolStandardize import rdMolStandardize

    items, row_numbers, row_ids, texts, source = _inputs(smiles_or_mols, ids)
    label_name, label_values = _labels(smiles_or_mols, labels, len(items))
    steps = _Steps(
        None if keep_fragments else rdMolStandardize.LargestFragmentChooser(),
        rdMolStandardize.Uncharger(),
        rdMolStandardize.TautomerEnumerator() if tautomers else None,
    )
    out: list[tuple[str, str, Any, str | None]] = []
    with rdBase.BlockLogs():
        for value, preset in items:
            out.append(_standardize_one(value, preset, steps, inchikeys))
    records = pd.DataFrame(
        {
            "row": row_numbers,
            "id": row_ids,
            "input": texts,
            "smiles": [o[0] for o in out],
            "inchikey": [o[1] for o in out],
            "valid": [o[3] is None for o in out],
            "reason": [o[3] or "" for o in out],
        }
    )
    mols = [o[2] for o in out]
    resolved = None
    if label_name is not None:
        records[label_name] = label_values
        resolved = infer_task(records.loc[records["valid"], label_name], task)
    invalid = records.loc[~records["valid"], ["row", "id", "input", "reason"]]
    invalid = invalid.reset_index(drop=True)
    molecules, kept, duplicates, notes = merge_duplicates(records, mols, label_name, resolved)
    if len(invalid):
        notes.insert(0, f"{len(invalid)} of {len(records)} rows are invalid (see .invalid)")
    return StandardizeResult(
        records=records,
        molecules=molecules,
        mols=kept,
        invalid=invalid,
        duplicates=duplicates,
        label_column=label_name,
        task=resolved,
        source=source,
        notes=notes,
    )


@dataclass
class _Steps:
    largest: Any
    uncharger: Any
    tautomers: Any


def _inputs(
    given: MoleculeTable | Sequence[Any] | pd.Series, ids: Sequence[Any] | None
) -> tuple[list[tuple[Any, str | None]], list[int], list[str], list[str], str]:
    """(value, preset reason) per row, row numbers, IDs, input texts and the source name."""
    from rdkit import Chem

    if isinstance(given, MoleculeTable):
        rows = [int(r) for r in given.rows]
        row_ids = given.ids or [""] * len(given)
        if given.mols is None:
            texts = given.smiles
            return [(s, None) for s in texts], rows, row_ids, texts, str(given.path)
        errs = given.read_errors or [None] * len(given)
        items = [
            (mol, None if mol is not None else (err or RECORD_INVALID))
            for mol, err in zip(given.mols, errs, strict=True)
        ]
        texts = [
            s or (f"record {r} '{i}'" if i else f"record {r}")
            for s, r, i in zip(given.smiles, rows, row_ids, strict=True)
        ]
        return items, rows, row_ids, texts, str(given.path)
    values = list(given.tolist() if isinstance(given, pd.Series) else given)
    if ids is not None and len(ids) != len(values):
        raise ValueError(f"ids has {len(ids)} values for {len(values)} molecules")
    row_ids = [cell_text(i) for i in ids] if ids is not None else [""] * len(values)
    texts = [Chem.MolToSmiles(v) if isinstance(v, Chem.Mol) else cell_text(v) for v in values]
    rows = list(range(1, len(values) + 1))
    return [(v, None) for v in values], rows, row_ids, texts, "<input>"


def _labels(
    given: MoleculeTable | Sequence[Any] | pd.Series,
    labels: str | Sequence[Any] | pd.Series | None,
    n: int,
) -> tuple[str | None, list[Any] | None]:
    if labels is None:
        return None, None
    if isinstance(labels, str):
        if not isinstance(given, MoleculeTable):
            raise ValueError("labels given by column name need a MoleculeTable as input")
        if labels not in given.data.columns:
            hint = errors.closest_names_hint(labels, map(str, given.data.columns))
            raise UserError(LABEL_COLUMN_MISSING, path=given.path, column=labels, hint=hint)
        name: str | None = labels
        values = given.data[labels].tolist()
    else:
        values = labels.tolist() if isinstance(labels, pd.Series) else list(labels)
        if len(values) != n:
            raise ValueError(f"labels has {len(values)} values for {n} molecules")
        name = str(labels.name) if isinstance(labels, pd.Series) and labels.name else None
    if not name or name in RESERVED:  # keep the result's own columns unambiguous
        name = "label"
    return name, values


def _parse_reason(text: str, captured: str) -> str:
    """A one-line reason from RDKit's captured log for a SMILES that did not parse."""
    from rdkit import Chem

    messages = [re.sub(r"^\[[\d:]+\]\s*", "", m).strip() for m in captured.splitlines()]
    messages = [m for m in messages if m]
    raw = Chem.MolFromSmiles(text, sanitize=False)
    if raw is not None:  # the syntax is fine; sanitization (valence, aromaticity) failed
        return sanitize_error(raw) or "sanitization error: " + (messages or ["unknown"])[0]
    if not messages:  # RDKit < 2026.03 cannot hand us its message
        return f"parse failure: {_syntax_problem(text)}"
    first = messages[0].replace("SMILES Parse Error: ", "")
    first = re.sub(r"\s*for input: '.*'$", "", first)
    return f"parse failure: {first}"


def _syntax_problem(text: str) -> str:
    """The commonest SMILES syntax errors, found without RDKit's log."""
    if text.count("(") != text.count(")"):
        return "unbalanced parentheses"
    if text.count("[") != text.count("]"):
        return "unbalanced brackets"
    outside = re.sub(r"\[[^\]]*\]", "", text)  # ring-bond digits live outside brackets
    labels = re.findall(r"%\d\d|\d", outside)
    if any(labels.count(label) % 2 for label in set(labels)):
        return "unclosed ring"
    return "syntax error"


def _to_mol(value: Any) -> tuple[Any, str | None]:
    """An RDKit molecule (a copy) from SMILES text or a molecule, or (None, reason)."""
    from rdkit import Chem, rdBase

    if isinstance(value, Chem.Mol):
        mol = Chem.Mol(value)
        return (mol, None) if mol.GetNumAtoms() else (None, NO_ATOMS)
    if value is None:
        return None, NO_MOLECULE
    text = cell_text(value)
    if not text:
        return None, EMPTY
    capture = getattr(rdBase, "CaptureErrorLog", None)  # RDKit ≥ 2026.03: keep the message
    if capture is None:  # pragma: no cover - depends on the RDKit version
        mol, captured = Chem.MolFromSmiles(text), ""
    else:
        with capture() as log:
            mol = Chem.MolFromSmiles(text)
        captured = log.messages
    if mol is None:
        return None, _parse_reason(text, captured)
    return (mol, None) if mol.GetNumAtoms() else (None, NO_ATOMS)


def _standardize_one(
    value: Any, preset: str | None, steps: _Steps, inchikeys: bool = True
) -> tuple[str, str, Any, str | None]:
    """(canonical SMILES, InChIKey, standardized molecule, reason it failed or None)."""
    from rdkit import Chem
    from rdkit.Chem.MolStandardize import rdMolStandardize

    if preset is not None:
        return "", "", None, preset
    mol, reason = _to_mol(value)
    if mol is None:
        return "", "", None, reason
    try:
        mol = rdMolStandardize.Cleanup(mol)
        if steps.largest is not None:
            mol = steps.largest.choose(mol)
        mol = steps.uncharger.uncharge(mol)
        if steps.tautomers is not None:
            mol = steps.tautomers.Canonicalize(mol)
        Chem.SanitizeMol(mol)
    except Exception as exc:  # RDKit raises several exception types here
        return "", "", None, f"standardization error: {str(exc).strip()}"
    if mol.GetNumAtoms() == 0:
        return "", "", None, NO_ATOMS
    smiles = Chem.MolToSmiles(mol)
    if not inchikeys:
        return smiles, "", mol, None
    try:
        inchikey = Chem.MolToInchiKey(mol) or ""
    except Exception:  # InChI cannot represent some structures (e.g. dummy atoms)
        inchikey = ""
    return smiles, inchikey, mol, None
