"""Molecules in, features out: the chemistry front end of the drug-discovery (ADMET) app.

* :func:`read_molecules` — SMILES tables (CSV/TSV/.smi) and SD files → :class:`MoleculeTable`.
* :func:`standardize` — RDKit MolStandardize (cleanup, largest fragment, neutralization,
  optional tautomer canonicalization), InChIKeys, a per-row report of invalid molecules
  and merged duplicates → :class:`StandardizeResult`.
* :func:`featurize` — RDKit 2D descriptors and fingerprints (Morgan/ECFP counts, MACCS,
  Avalon, ErG) as a DataFrame, cached per InChIKey, kind and RDKit version.

RDKit is an optional dependency (``pip install 'insightome[chem]'``); it is imported only
when these functions run, so ``import insightome.featurize`` works without it.
"""

from insightome.featurize.descriptors import (
    FEATURE_KINDS,
    default_cache_dir,
    feature_columns,
    featurize,
)
from insightome.featurize.molecules import MoleculeTable, read_molecules
from insightome.featurize.standardization import StandardizeResult, standardize

__all__ = [
    "FEATURE_KINDS",
    "MoleculeTable",
    "StandardizeResult",
    "default_cache_dir",
    "feature_columns",
    "featurize",
    "read_molecules",
    "standardize",
]
