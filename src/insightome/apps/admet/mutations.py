"""Graph operators of the genetic algorithm: mutations and crossover on RDKit molecules.

The operators follow the graph-based genetic algorithm (GB-GA) of Jensen (Chem Sci 2019,
10:3567, doi:10.1039/C8SC05372C) in spirit; this is an independent implementation that edits
RDKit graphs directly instead of applying reaction SMARTS. Molecules are edited in their
Kekulé form (explicit single and double bonds) and re-sanitized afterwards, so aromaticity is
re-perceived on every child.

Mutations: change an atom's element, append an atom, insert an atom into a bond, delete an
atom (a chain end, or a two-connected atom whose neighbours are then joined), raise or lower a
bond order, close a ring (3-7 atoms) between two atoms, and open a ring by deleting a ring
bond. Crossover: cut a non-ring single bond in both parents and join one piece of each, or cut
one ring of each parent at two bonds and join a piece of each into a new ring.

A child is kept only if it sanitizes and passes :func:`acceptable`: one fragment, no radical,
no ring larger than 7 atoms, no triple bond or allene in a ring, no double or aromatic bond in a
3- or 4-membered ring, and at most ``max_heavy_atoms`` heavy atoms. Stereochemistry is dropped:
the search works on constitution only. Every random choice is drawn from the
:class:`numpy.random.Generator` passed in, so a seeded run is reproducible.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from rdkit import Chem, rdBase

__all__ = ["OPERATIONS", "acceptable", "crossover", "editable", "finish", "mutate"]

#: Elements a mutation may introduce, with their weights (carbon-rich, like drug molecules).
APPEND_ELEMENTS: tuple[tuple[int, float], ...] = (
    (6, 0.5),
    (7, 0.18),
    (8, 0.15),
    (9, 0.06),
    (16, 0.04),
    (17, 0.05),
    (35, 0.02),
)
INSERT_ELEMENTS: tuple[tuple[int, float], ...] = ((6, 0.55), (7, 0.22), (8, 0.18), (16, 0.05))
CHANGE_ELEMENTS: tuple[int, ...] = (6, 7, 8, 9, 16, 17, 35)
MAX_RING_SIZE = 7
ATTEMPTS = 10  # operator draws per mutation or crossover before giving up

_SINGLE = Chem.BondType.SINGLE
_BY_ORDER = {1: Chem.BondType.SINGLE, 2: Chem.BondType.DOUBLE, 3: Chem.BondType.TRIPLE}
_RING_ALLENE = Chem.MolFromSmarts("[R]=[R]=[R]")
_SMALL_RING_DOUBLE = Chem.MolFromSmarts("[r3,r4]=[r3,r4]")
_RING_TRIPLE = Chem.MolFromSmarts("[R]#[R]")
_SMALL_RING_AROMATIC = Chem.MolFromSmarts("[a;r3,r4]")


def editable(mol: Chem.Mol) -> Chem.RWMol:
    """A Kekulé copy of ``mol`` without stereochemistry whose neutral atoms take implicit Hs."""
    copy = Chem.RWMol(mol)
    Chem.RemoveStereochemistry(copy)
    Chem.Kekulize(copy, clearAromaticFlags=True)
    for atom in copy.GetAtoms():
        if atom.GetFormalCharge() == 0 and atom.GetNumRadicalElectrons() == 0:
            atom.SetNumExplicitHs(0)
            atom.SetNoImplicit(False)
    return copy


def finish(mol: Chem.Mol, max_heavy_atoms: int) -> Chem.Mol | None:
    """The sanitized molecule if it is an acceptable child, else None."""
    try:
        with rdBase.BlockLogs():
            child = Chem.Mol(mol)
            child.UpdatePropertyCache(strict=False)
            Chem.SanitizeMol(child)
            smiles = Chem.MolToSmiles(child)
            child = Chem.MolFromSmiles(smiles)
    except (Chem.rdchem.MolSanitizeException, RuntimeError, ValueError):
        return None
    if child is None or not acceptable(child, max_heavy_atoms):
        return None
    return child


def acceptable(mol: Chem.Mol, max_heavy_atoms: int) -> bool:
    """Whether a sanitized molecule passes the chemistry filters (see the module docstring)."""
    n_heavy = mol.GetNumHeavyAtoms()
    if n_heavy == 0 or n_heavy > max_heavy_atoms:
        return False
    if len(Chem.GetMolFrags(mol)) != 1:
        return False
    if any(a.GetNumRadicalElectrons() for a in mol.GetAtoms()):
        return False
    rings = mol.GetRingInfo().AtomRings()
    if rings and max(len(r) for r in rings) > MAX_RING_SIZE:
        return False
    return not (
        mol.HasSubstructMatch(_RING_ALLENE)
        or mol.HasSubstructMatch(_SMALL_RING_DOUBLE)
        or mol.HasSubstructMatch(_RING_TRIPLE)
        or mol.HasSubstructMatch(_SMALL_RING_AROMATIC)
    )


def _element(rng: np.random.Generator, table: tuple[tuple[int, float], ...]) -> int:
    weights = np.array([w for _, w in table])
    return table[int(rng.choice(len(table), p=weights / weights.sum()))][0]


def _fresh(atom: Chem.Atom) -> None:
    """Let RDKit recompute the atom's hydrogens after an edit."""
    if atom.GetFormalCharge() == 0:
        atom.SetNumExplicitHs(0)
        atom.SetNoImplicit(False)


def _with_h(mol: Chem.RWMol) -> list[int]:
    """Indices of atoms that still carry a hydrogen (so they can take another bond)."""
    mol.UpdatePropertyCache(strict=False)
    return [a.GetIdx() for a in mol.GetAtoms() if a.GetTotalNumHs() > 0]


# -- mutations (each edits ``mol`` in place; False when it does not apply) -----------------


def _change_atom(mol: Chem.RWMol, rng: np.random.Generator) -> bool:
    atom = mol.GetAtomWithIdx(int(rng.integers(mol.GetNumAtoms())))
    choices = [z for z in CHANGE_ELEMENTS if z != atom.GetAtomicNum()]
    atom.SetAtomicNum(int(rng.choice(choices)))
    atom.SetFormalCharge(0)
    _fresh(atom)
    return True


def _append_atom(mol: Chem.RWMol, rng: np.random.Generator) -> bool:
    sites = _with_h(mol)
    if not sites:
        return False
    site = int(rng.choice(sites))
    element = _element(rng, APPEND_ELEMENTS)
    order = 1
    free = mol.GetAtomWithIdx(site).GetTotalNumHs()
    if element in (6, 7, 8) and free >= 2 and rng.random() < 0.2:
        order = 2 if element == 8 or rng.random() < 0.7 else 3
        if element == 7 and order == 3 and free < 3:
            order = 2
    new = mol.AddAtom(Chem.Atom(element))
    mol.AddBond(site, new, _BY_ORDER[order])
    _fresh(mol.GetAtomWithIdx(site))
    return True


def _insert_atom(mol: Chem.RWMol, rng: np.random.Generator) -> bool:
    if mol.GetNumBonds() == 0:
        return False
    bond = mol.GetBondWithIdx(int(rng.integers(mol.GetNumBonds())))
    begin, end = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
    mol.RemoveBond(begin, end)
    new = mol.AddAtom(Chem.Atom(_element(rng, INSERT_ELEMENTS)))
    mol.AddBond(begin, new, _SINGLE)
    mol.AddBond(new, end, _SINGLE)
    for idx in (begin, end):
        _fresh(mol.GetAtomWithIdx(idx))
    return True


def _delete_atom(mol: Chem.RWMol, rng: np.random.Generator) -> bool:
    if mol.GetNumAtoms() < 2:
        return False
    candidates = [a.GetIdx() for a in mol.GetAtoms() if a.GetDegree() <= 2]
    if not candidates:
        return False
    idx = int(rng.choice(candidates))
    neighbours = [n.GetIdx() for n in mol.GetAtomWithIdx(idx).GetNeighbors()]
    if len(neighbours) == 2 and mol.GetBondBetweenAtoms(*neighbours) is None:
        mol.AddBond(neighbours[0], neighbours[1], _SINGLE)
    for n in neighbours:
        _fresh(mol.GetAtomWithIdx(n))
    mol.RemoveAtom(idx)
    return True


def _change_bond_order(mol: Chem.RWMol, rng: np.random.Generator) -> bool:
    if mol.GetNumBonds() == 0:
        return False
    bond = mol.GetBondWithIdx(int(rng.integers(mol.GetNumBonds())))
    order = int(bond.GetBondTypeAsDouble())
    if order not in (1, 2, 3):
        return False
    options = [o for o in (order - 1, order + 1) if 1 <= o <= 3]
    bond.SetBondType(_BY_ORDER[int(rng.choice(options))])
    for atom in (bond.GetBeginAtom(), bond.GetEndAtom()):
        _fresh(atom)
    return True


def _add_ring(mol: Chem.RWMol, rng: np.random.Generator) -> bool:
    sites = _with_h(mol)
    if len(sites) < 2:
        return False
    distances = Chem.GetDistanceMatrix(mol)
    pairs = [
        (a, b)
        for i, a in enumerate(sites)
        for b in sites[i + 1 :]
        if 2 <= distances[a, b] <= MAX_RING_SIZE - 1
    ]
    if not pairs:
        return False
    a, b = pairs[int(rng.integers(len(pairs)))]
    mol.AddBond(a, b, _SINGLE)
    for idx in (a, b):
        _fresh(mol.GetAtomWithIdx(idx))
    return True


def _delete_ring_bond(mol: Chem.RWMol, rng: np.random.Generator) -> bool:
    ring_bonds = [b.GetIdx() for b in mol.GetBonds() if b.IsInRing()]
    if not ring_bonds:
        return False
    bond = mol.GetBondWithIdx(int(rng.choice(ring_bonds)))
    begin, end = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
    mol.RemoveBond(begin, end)
    for idx in (begin, end):
        _fresh(mol.GetAtomWithIdx(idx))
    return True


Operation = Callable[[Chem.RWMol, np.random.Generator], bool]

#: The mutation operators, drawn with equal probability.
OPERATIONS: dict[str, Operation] = {
    "change_atom": _change_atom,
    "append_atom": _append_atom,
    "insert_atom": _insert_atom,
    "delete_atom": _delete_atom,
    "change_bond_order": _change_bond_order,
    "add_ring": _add_ring,
    "delete_ring_bond": _delete_ring_bond,
}
_OPERATION_LIST = tuple(OPERATIONS.values())


def mutate(mol: Chem.Mol, rng: np.random.Generator, max_heavy_atoms: int) -> Chem.Mol | None:
    """One random mutation of ``mol`` that gives an acceptable molecule, or None."""
    for _ in range(ATTEMPTS):
        child = editable(mol)
        operation = _OPERATION_LIST[int(rng.integers(len(_OPERATION_LIST)))]
        if not operation(child, rng):
            continue
        result = finish(child.GetMol(), max_heavy_atoms)
        if result is not None:
            return result
    return None


# -- crossover ---------------------------------------------------------------------------


def _label_dummies(fragment: Chem.Mol, swap: bool = False) -> Chem.Mol:
    """Copy of a fragment whose dummy atoms carry atom-map numbers for ``Chem.molzip``."""
    labelled = Chem.RWMol(fragment)
    for atom in labelled.GetAtoms():
        if atom.GetAtomicNum() == 0:
            label = atom.GetIsotope()
            atom.SetAtomMapNum(3 - label if swap else label)
            atom.SetIsotope(0)
    return labelled.GetMol()


def _cut(mol: Chem.Mol, bonds: list[int], rng: np.random.Generator) -> Chem.Mol | None:
    """Cut ``bonds`` and return one of the two pieces (labelled dummies), or None."""
    labels = [(k + 1, k + 1) for k in range(len(bonds))]
    pieces = Chem.FragmentOnBonds(mol, bonds, addDummies=True, dummyLabels=labels)
    fragments = Chem.GetMolFrags(pieces, asMols=True, sanitizeFrags=False)
    if len(fragments) != 2:
        return None
    chosen = fragments[int(rng.integers(2))]
    dummies = sorted(a.GetIsotope() for a in chosen.GetAtoms() if a.GetAtomicNum() == 0)
    if dummies != list(range(1, len(bonds) + 1)):
        return None
    return chosen


def _non_ring_piece(mol: Chem.Mol, rng: np.random.Generator) -> Chem.Mol | None:
    bonds = [b.GetIdx() for b in mol.GetBonds() if not b.IsInRing() and b.GetBondType() == _SINGLE]
    if not bonds:
        return None
    piece = _cut(mol, [int(rng.choice(bonds))], rng)
    return None if piece is None else _label_dummies(piece)


def _ring_piece(mol: Chem.Mol, rng: np.random.Generator, swap: bool) -> Chem.Mol | None:
    rings = mol.GetRingInfo().BondRings()
    if not rings:
        return None
    ring = rings[int(rng.integers(len(rings)))]
    first, second = rng.choice(len(ring), size=2, replace=False)
    piece = _cut(mol, [int(ring[first]), int(ring[second])], rng)
    return None if piece is None else _label_dummies(piece, swap)


def crossover(
    first: Chem.Mol, second: Chem.Mol, rng: np.random.Generator, max_heavy_atoms: int
) -> Chem.Mol | None:
    """A child joining a piece of each parent (ring or non-ring cut, as in GB-GA), or None.

    When both parents have rings, half of the attempts cut a ring of each parent at two bonds
    and join the two pieces into a new ring; otherwise a non-ring single bond is cut in each
    and one piece of each is joined by a single bond.
    """
    a, b = editable(first), editable(second)
    both_rings = a.GetRingInfo().NumRings() > 0 and b.GetRingInfo().NumRings() > 0
    for _ in range(ATTEMPTS):
        if both_rings and rng.random() < 0.5:
            piece_a = _ring_piece(a, rng, swap=False)
            piece_b = _ring_piece(b, rng, swap=bool(rng.random() < 0.5))
        else:
            piece_a, piece_b = _non_ring_piece(a, rng), _non_ring_piece(b, rng)
        if piece_a is None or piece_b is None:
            continue
        try:
            with rdBase.BlockLogs():
                joined = Chem.molzip(piece_a, piece_b)
        except (RuntimeError, ValueError):
            continue
        for atom in joined.GetAtoms():
            _fresh(atom)
        child = finish(joined, max_heavy_atoms)
        if child is not None:
            return child
    return None
