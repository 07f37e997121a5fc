"""The ADMET endpoint registry and the TDC data loader (insightome.apps.admet).

Real data: ../shared/data/tdc_admet_full (skipped cleanly when absent), checked against the
row counts and SHA-256 sums of ../shared/data/PROVENANCE.md section 1.
"""

from __future__ import annotations

import functools
import math
import re

import numpy as np
import pandas as pd
import pytest

from insightome.apps.admet import tdc_data
from insightome.apps.admet.endpoints import ENDPOINTS, Endpoint, endpoint
from insightome.apps.admet.tdc_data import benchmark_split, load_endpoint, tdc_original_order
from insightome.errors import UserError
from tests.conftest import shared_data

# TDC's leaderboard metrics (tdc/metadata.py::admet_metrics).
TDC_METRICS = {
    "Caco2_Wang": "MAE",
    "HIA_Hou": "AUROC",
    "Pgp_Broccatelli": "AUROC",
    "Bioavailability_Ma": "AUROC",
    "Lipophilicity_AstraZeneca": "MAE",
    "Solubility_AqSolDB": "MAE",
    "BBB_Martins": "AUROC",
    "PPBR_AZ": "MAE",
    "VDss_Lombardo": "Spearman",
    "CYP2C9_Veith": "AUPRC",
    "CYP2D6_Veith": "AUPRC",
    "CYP3A4_Veith": "AUPRC",
    "CYP2C9_Substrate_CarbonMangels": "AUPRC",
    "CYP2D6_Substrate_CarbonMangels": "AUPRC",
    "CYP3A4_Substrate_CarbonMangels": "AUROC",
    "Half_Life_Obach": "Spearman",
    "Clearance_Hepatocyte_AZ": "Spearman",
    "Clearance_Microsome_AZ": "Spearman",
    "LD50_Zhu": "MAE",
    "hERG": "AUROC",
    "AMES": "AUROC",
    "DILI": "AUROC",
}


def full_dir():
    return shared_data("tdc_admet_full")


@functools.cache
def provenance_table() -> dict[str, tuple[int, str]]:
    """``stem -> (rows, sha256)`` from PROVENANCE.md section 1."""
    text = shared_data("PROVENANCE.md").read_text()
    rows = re.findall(
        r"^\| tdc_admet_full/(\w+)\.csv \| (\d+) \| \d+ \| ([0-9a-f]{64}) \|$", text, re.M
    )
    return {stem: (int(n), sha) for stem, n, sha in rows}


@functools.cache
def loaded(name: str) -> pd.DataFrame:
    return load_endpoint(name, full_dir())


# -- registry ---------------------------------------------------------------------------


def test_registry_has_the_22_tdc_endpoints_with_tdc_metrics():
    assert len(ENDPOINTS) == 22
    assert {name: e.metric for name, e in ENDPOINTS.items()} == TDC_METRICS
    for name, e in ENDPOINTS.items():
        assert isinstance(e, Endpoint) and e.name == name and e.stem == name.lower()
        assert e.task == ("regression" if e.metric in ("MAE", "Spearman") else "binary")
        assert e.unit and e.description and e.reference
        low, high = e.valid_range
        assert low < high
        if e.is_binary:
            assert e.valid_range == (0.0, 1.0)
    assert ENDPOINTS["PPBR_AZ"].valid_range == (0.0, 100.0)
    for name in ("VDss_Lombardo", "Half_Life_Obach", "Clearance_Hepatocyte_AZ"):
        assert ENDPOINTS[name].valid_range == (0.0, math.inf)
    assert ENDPOINTS["Caco2_Wang"].tdc_metric == "mae"
    assert ENDPOINTS["CYP2D6_Veith"].tdc_metric == "pr-auc"
    assert not ENDPOINTS["LD50_Zhu"].higher_is_better
    assert ENDPOINTS["hERG"].higher_is_better


def test_endpoint_lookup_and_typo_hint():
    assert endpoint("caco2_wang") is ENDPOINTS["Caco2_Wang"]
    assert endpoint("HERG") is ENDPOINTS["hERG"]
    assert endpoint("ames.csv") is ENDPOINTS["AMES"]
    with pytest.raises(UserError, match=r"Did you mean: 'Caco2_Wang'"):
        endpoint("Caco2_Wnag")


def test_endpoint_is_frozen_and_clips_to_the_valid_range():
    ppbr = ENDPOINTS["PPBR_AZ"]
    with pytest.raises(AttributeError):
        ppbr.metric = "AUROC"  # type: ignore[misc]
    assert ppbr.clip([-5.0, 50.0, 120.0, np.nan]).tolist()[:3] == [0.0, 50.0, 100.0]
    assert np.isnan(ppbr.clip([np.nan])[0])
    assert ENDPOINTS["VDss_Lombardo"].clip(-0.2) == 0.0
    assert ENDPOINTS["LD50_Zhu"].clip(-3.0) == -3.0
    assert ENDPOINTS["AMES"].clip([1.3]).tolist() == [1.0]


# -- the full-dataset files ------------------------------------------------------------------


def test_every_local_file_maps_to_one_endpoint_and_back():
    stems = sorted(p.stem for p in full_dir().glob("*.csv"))
    assert len(stems) == 22
    mapped = [endpoint(stem).name for stem in stems]
    assert sorted(mapped) == sorted(ENDPOINTS)


@pytest.mark.parametrize("name", list(ENDPOINTS))
def test_loaded_data_matches_task_range_and_provenance(name):
    frame = loaded(name)
    e = ENDPOINTS[name]
    assert list(frame.columns[:3]) == ["Drug_ID", "Drug", "Y"]
    assert frame["Y"].dtype == float and frame["Drug"].str.len().min() > 0
    if e.is_binary:
        assert set(frame["Y"].unique()) == {0.0, 1.0}
    else:
        assert frame["Y"].nunique() > 2
    low, high = e.valid_range
    assert frame["Y"].between(low, high).all(), (frame["Y"].min(), frame["Y"].max())
    assert np.array_equal(e.clip(frame["Y"]), frame["Y"].to_numpy())
    rows, sha = provenance_table()[e.stem]
    (record,) = frame.attrs["files"]
    assert (record["n_rows"], record["sha256"]) == (rows, sha) == (len(frame), sha)
    assert frame.attrs["layout"] == tdc_data.FULL_LAYOUT
    assert frame.attrs["endpoint"] == name
    assert frame.attrs["row_order"].startswith("TDC's original")


def test_restored_row_order_is_tdcs():
    """TDC's AMES and DILI files are sorted by numeric ID; the restored order must be too."""
    ames = loaded("AMES")["Drug_ID"].str.removeprefix("Drug ").astype(int)
    assert ames.is_monotonic_increasing and ames.is_unique
    dili = loaded("DILI")["Drug_ID"].astype(float)
    assert dili.is_monotonic_increasing


def test_tdc_original_order_inverts_tdcs_random_split():
    """Replay TDC's create_fold (pandas sample, seeds 42 and 1) and invert it."""
    n = 137
    original = pd.DataFrame({"row": np.arange(n)})
    test = original.sample(frac=0.2, replace=False, random_state=42)
    rest = original[~original.index.isin(test.index)]
    valid = rest.sample(frac=0.1 / (1 - 0.2), replace=False, random_state=1)
    train = rest[~rest.index.isin(valid.index)]
    shuffled = pd.concat([train, valid, test], ignore_index=True)
    labels = ["train"] * len(train) + ["valid"] * len(valid) + ["test"] * len(test)
    positions = tdc_original_order(np.array(labels))
    assert positions is not None
    assert np.array_equal(positions, shuffled["row"].to_numpy())
    assert tdc_original_order(np.array(["train"] * 10 + ["test"] * 5)) is None


def test_reproduced_benchmark_split_of_a_full_file():
    pytest.importorskip("rdkit")
    labels = benchmark_split(loaded("CYP2D6_Substrate_CarbonMangels"))
    assert labels.attrs["source"] == "reproduced"
    assert labels.value_counts().to_dict() == {"train_val": 532, "test": 135}


# -- the benchmark-group layout ---------------------------------------------------------------


@pytest.fixture
def benchmark_dir(tmp_path):
    """TDC's admet_group layout for Caco2_Wang, written from the real data."""
    pytest.importorskip("rdkit")
    frame = loaded("Caco2_Wang")[["Drug_ID", "Drug", "Y"]]
    labels = benchmark_split(frame)
    folder = tmp_path / "admet_group" / "caco2_wang"
    folder.mkdir(parents=True)
    frame[labels == "train_val"].to_csv(folder / "train_val.csv", index=False)
    frame[labels == "test"].to_csv(folder / "test.csv", index=False)
    return tmp_path


def test_benchmark_layout_is_read_with_its_split(benchmark_dir):
    frame = load_endpoint("Caco2_Wang", benchmark_dir)
    assert frame.attrs["layout"] == tdc_data.BENCHMARK_LAYOUT
    assert frame["tdc_split"].value_counts().to_dict() == {"train_val": 728, "test": 182}
    assert [r["n_rows"] for r in frame.attrs["files"]] == [728, 182]
    assert all(len(r["sha256"]) == 64 for r in frame.attrs["files"])
    labels = benchmark_split(frame)
    assert labels.attrs["source"] == "official"
    # The admet_group folder itself is accepted as data_dir too.
    again = load_endpoint("caco2_wang", benchmark_dir / "admet_group")
    assert again["Drug"].tolist() == frame["Drug"].tolist()


def test_benchmark_layout_needs_both_files(benchmark_dir):
    (benchmark_dir / "admet_group" / "caco2_wang" / "test.csv").unlink()
    with pytest.raises(UserError, match=r"test\.csv: file not found; TDC's benchmark-group"):
        load_endpoint("Caco2_Wang", benchmark_dir)


# -- errors -----------------------------------------------------------------------------------


def test_missing_directory_and_file(tmp_path):
    with pytest.raises(UserError, match="data directory not found"):
        load_endpoint("AMES", tmp_path / "nowhere")
    (tmp_path / "a_file.txt").write_text("x")
    with pytest.raises(UserError, match="is a file, not a directory"):
        load_endpoint("AMES", tmp_path / "a_file.txt")
    with pytest.raises(UserError, match=r"no data for AMES: expected .*ames\.csv"):
        load_endpoint("AMES", tmp_path)
    with pytest.raises(UserError, match="not one of the 22"):
        load_endpoint("AMESS_typo_endpoint", tmp_path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("Drug,Y\nCCO,1\n", r"missing column 'Drug_ID' \(found: 'Drug', 'Y'\)"),
        ("Drug_ID,Drug,Y\n", "the file is empty"),
        ("", "the file is empty"),
        ("Drug_ID,Drug,Y\na,CCO,0\nb,CCN,high\n", r"column 'Y' row 2 holds 'high'"),
        ("Drug_ID,Drug,Y\na,CCO,0\nb,CCN,\n", r"column 'Y' row 2 is empty"),
        ("Drug_ID,Drug,Y\na,,0\n", r"column 'Drug' row 1 is empty"),
        ("Drug_ID,Drug,Y\na,CCO,0\nb,CCN,2\n", r"binary endpoint but column 'Y' holds '2\.0'"),
    ],
)
def test_bad_files_give_one_line_user_errors(tmp_path, content, message):
    (tmp_path / "ames.csv").write_text(content)
    with pytest.raises(UserError, match=message) as info:
        load_endpoint("AMES", tmp_path)
    assert "\n" not in str(info.value)


def test_full_file_without_split_column_keeps_file_order(tmp_path):
    (tmp_path / "caco2_wang.csv").write_text("Drug_ID,Drug,Y\nb,CCN,-5.1\na,CCO,-4.2\n")
    frame = load_endpoint("Caco2_Wang", tmp_path)
    assert frame["Drug_ID"].tolist() == ["b", "a"]
    assert frame.attrs["row_order"] == "as in the file"
