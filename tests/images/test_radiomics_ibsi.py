"""The radiomics families against the IBSI-1 digital phantom's consensus reference values
(../shared/data/imaging/ibsi; PROVENANCE.md section 10a): every reference value whose tag
:func:`ibsi_features` computes must match within IBSI's tolerance."""

from __future__ import annotations

import csv
import math
import re
from collections import Counter
from decimal import Decimal

import numpy as np
import pytest

from insightome.featurize.images.radiomics import (
    NOT_IMPLEMENTED,
    RadiomicsSettings,
    ibsi_features,
    radiomics_features,
)
from tests.conftest import shared_data

REFERENCE = "ibsi1_digital_phantom_reference_values.csv"
SPACING = (2.0, 2.0, 2.0)
# reference values checked per IBSI family (tag prefix): what this implementation claims
CLAIMED = {
    "morph": 25,
    "loc": 2,
    "stat": 18,
    "ih": 23,
    "ivh": 6,
    "cm": 150,
    "rlm": 96,
    "szm": 48,
    "dzm": 48,
    "ngt": 15,
    "ngl": 51,
}
# every tag ibsi_features returns (a degenerate ROI gives the keys, all NaN)
IMPLEMENTED = list(ibsi_features(np.zeros((1, 1, 1)), None, (1.0, 1.0, 1.0)))


def _read_nifti(name: str) -> np.ndarray:
    nib = pytest.importorskip("nibabel")
    data = np.asarray(nib.load(shared_data("imaging", "ibsi", name)).dataobj)
    return data.transpose(2, 1, 0)  # NIfTI (x, y, z) → (z, y, x)


@pytest.fixture(scope="module")
def phantom() -> tuple[np.ndarray, np.ndarray]:
    return _read_nifti("phantom.nii.gz").astype(float), _read_nifti("mask.nii.gz") > 0


@pytest.fixture(scope="module")
def computed(phantom) -> dict[str, float]:
    image, mask = phantom
    return ibsi_features(image, mask, SPACING)


@pytest.fixture(scope="module")
def reference() -> dict[str, dict[str, str]]:
    with shared_data("imaging", "ibsi", REFERENCE).open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 482
    return {row["tag"]: row for row in rows}


def _matches(value: float, printed: str, tolerance: float) -> bool:
    """Within the tolerance; tolerance 0: equal to the printed value once rounded to its
    last printed digit (e.g. '0.0411' → 4 decimals, '1.2e3' → hundreds)."""
    if math.isnan(value):
        return False
    if tolerance > 0:
        return abs(value - float(printed)) <= tolerance
    exponent = Decimal(printed).as_tuple().exponent  # '1.2e3' → 2, '0.0411' → -4
    assert isinstance(exponent, int)
    step = Decimal((0, (1,), exponent))  # 1 in the last printed place
    return Decimal(repr(value)).quantize(step) == Decimal(printed).quantize(step)


def test_matches_rounds_to_the_printed_digits():
    assert _matches(0.04114, "0.0411", 0) and not _matches(0.04116, "0.0411", 0)
    assert _matches(1249.0, "1.2e3", 0) and not _matches(1251.0, "1.2e3", 0)
    assert _matches(-50.0, "-50", 0) and not _matches(-50.6, "-50", 0)
    assert _matches(557.9, "556", 4) and not _matches(560.1, "556", 4)
    assert not _matches(math.nan, "1", 0)


@pytest.mark.parametrize("tag", IMPLEMENTED)
def test_phantom_value(tag, computed, reference):
    row = reference.get(tag)
    if row is None:
        pytest.skip(f"IBSI gives no phantom reference value for {tag}")
    value = computed[tag]
    assert _matches(value, row["reference_value"], float(row["tolerance"])), (
        f"{tag} ({row['feature']}, {row['aggregation'] or 'no aggregation'}): "
        f"{value!r} vs IBSI {row['reference_value']} ± {row['tolerance']}"
    )


def test_checked_values_per_family(computed, reference):
    """A silently empty or NaN result cannot pass: count the values actually compared."""
    checked = Counter(
        tag.split("_")[0] for tag in reference if tag in computed and not math.isnan(computed[tag])
    )
    for family, claimed in CLAIMED.items():
        assert checked[family] >= claimed, (family, checked[family], claimed)
    assert sum(checked.values()) == 482


def test_not_implemented_is_listed_honestly(reference):
    missing = sorted(set(reference) - set(IMPLEMENTED))
    assert missing == sorted(NOT_IMPLEMENTED)


def test_tags_follow_the_reference_naming(reference):
    """Every computed tag is a reference tag: no misnamed feature escapes the comparison."""
    assert set(IMPLEMENTED) <= set(reference)


@pytest.mark.parametrize(
    "settings",
    [RadiomicsSettings(bin_count=6), RadiomicsSettings(bin_count=None, bin_width=1.0)],
    ids=["FBN 6", "FBS 1"],
)
def test_fbn6_and_fbs1_leave_the_phantom_unchanged(settings, phantom, computed):
    """Per the IBSI manual, discretising the phantom with 6 bins (or width 1) changes
    nothing: the run's 3D merged features equal the IBSI 3D values."""
    image, mask = phantom
    run = radiomics_features(image, mask, SPACING, settings)
    prefixes = {"glcm": "cm", "glrlm": "rlm", "glszm": "szm", "gldzm": "dzm"}
    prefixes |= {"ngtdm": "ngt", "ngldm": "ngl", "histogram": "ih", "ivh": "ivh"}
    compared = 0
    for key, value in run.items():
        _, family, name = key.split(":")
        if family not in prefixes:
            continue
        suffix = "_3D_comb" if family in ("glcm", "glrlm") else "_3D"
        tag = f"{prefixes[family]}_{name}" + ("" if family in ("histogram", "ivh") else suffix)
        assert value == pytest.approx(computed[tag], rel=1e-9, abs=1e-12, nan_ok=True), tag
        compared += 1
    assert compared == 23 + 6 + 25 + 16 + 16 + 16 + 5 + 17
    assert re.match(r"radiomics:morphology:", next(iter(run)))
