"""Radiomics on generated images with known answers: a uniform disc and sphere, a
checkerboard, permuted, translated and masked copies, degenerate ROIs, settings."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from insightome.featurize.images import (
    FAMILIES,
    RadiomicsSettings,
    feature_names,
    radiomics_features,
)

pytestmark = pytest.mark.filterwarnings("error")  # undefined features are NaN, not warnings


def _disc(n: int = 41, radius: float = 15.0) -> np.ndarray:
    yy, xx = np.mgrid[:n, :n]
    return (yy - n // 2) ** 2 + (xx - n // 2) ** 2 <= radius**2


def _blob(rng: np.random.Generator, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """A random-textured ellipsoidal ROI filling most of ``shape``."""
    grids = np.meshgrid(*[np.linspace(-1, 1, n) for n in shape], indexing="ij")
    mask = sum(g**2 for g in grids) <= 0.8
    return rng.normal(100.0, 15.0, shape), mask


def test_keys_are_feature_names_in_order():
    rng = np.random.default_rng(0)
    for shape, spacing in (((28, 28), (1.0, 1.0)), ((6, 12, 12), (3.0, 1.0, 1.0))):
        image, mask = _blob(rng, shape)
        features = radiomics_features(image, mask, spacing)
        assert list(features) == feature_names(len(shape))
        assert all(key.startswith("radiomics:") and key.count(":") == 2 for key in features)
        assert not any(math.isnan(v) for v in features.values())
    names2, names3 = feature_names(2), feature_names(3)
    assert len(names2) == 158 and len(names3) == 169
    assert "radiomics:glcm:contrast" in names2 and "radiomics:morphology:sphericity" in names3
    assert not any(":local_intensity:" in n for n in names2)


def test_families_subset_and_order():
    settings = RadiomicsSettings(families=("glcm", "statistics"))
    names = feature_names(2, settings)
    assert names[0] == "radiomics:statistics:mean"  # FAMILIES order, not the settings'
    assert {n.split(":")[1] for n in names} == {"statistics", "glcm"}
    image, mask = _blob(np.random.default_rng(1), (20, 20))
    assert list(radiomics_features(image, mask, (1, 1), settings)) == names


def test_uniform_disc_known_area_and_undefined_features():
    mask = _disc()
    image = np.where(mask, 7.0, 0.0)
    f = radiomics_features(image, mask, (0.5, 2.0))  # anisotropic pixels: 1 mm² each
    n = int(mask.sum())
    assert f["radiomics:morphology:area_pixels"] == pytest.approx(n * 1.0)
    # the marching-squares contour cuts the corners: close to π r² (r = 15 px)
    assert f["radiomics:morphology:area_mesh"] == pytest.approx(n, rel=0.03)
    assert f["radiomics:statistics:mean"] == 7.0
    assert f["radiomics:statistics:var"] == 0.0
    assert f["radiomics:statistics:cov"] == 0.0
    for undefined in ("statistics:skew", "statistics:kurt", "glcm:corr", "morphology:moran_i"):
        assert math.isnan(f[f"radiomics:{undefined}"]), undefined
    assert f["radiomics:glcm:joint_max"] == 1.0  # one grey level: one cell holds every pair
    assert f["radiomics:glcm:contrast"] == 0.0
    assert f["radiomics:histogram:entropy"] == 0.0
    assert f["radiomics:glszm:zsnu"] == 1.0  # a single zone
    assert f["radiomics:glszm:lze"] == pytest.approx(n**2)


def test_disc_shape_isotropic():
    mask = _disc(81, 30.0)
    image = np.where(mask, 1.0, 0.0) + np.random.default_rng(2).normal(0, 1, mask.shape)
    f = radiomics_features(image, mask, (1.0, 1.0))
    assert f["radiomics:morphology:area_mesh"] == pytest.approx(math.pi * 30**2, rel=0.02)
    # the contour follows the pixel staircase a little: its length exceeds 2π r by ~6 %
    assert 1.0 < f["radiomics:morphology:perimeter"] / (2 * math.pi * 30) < 1.08
    assert 0.85 < f["radiomics:morphology:circularity"] <= 1.0
    assert f["radiomics:morphology:diam"] == pytest.approx(60.0, rel=0.03)
    assert f["radiomics:morphology:pca_elongation"] == pytest.approx(1.0, abs=0.01)
    assert f["radiomics:morphology:pca_maj_axis"] == pytest.approx(60.0, rel=0.03)


def test_sphere_shape():
    zz, yy, xx = np.mgrid[:33, :33, :33] - 16
    mask = zz**2 + yy**2 + xx**2 <= 12**2
    image = np.random.default_rng(3).normal(0, 1, mask.shape)
    f = radiomics_features(image, mask, (1.0, 1.0, 1.0))
    assert f["radiomics:morphology:vol_approx"] == mask.sum()
    assert f["radiomics:morphology:volume"] == pytest.approx(4 / 3 * math.pi * 12**3, rel=0.03)
    assert f["radiomics:morphology:sphericity"] > 0.9
    assert f["radiomics:morphology:pca_flatness"] == pytest.approx(1.0, abs=0.01)
    # IBSI's ellipsoid has semi-axes 2√λ: for a solid ball 2R/√5, so the density is (√5/2)³
    assert f["radiomics:morphology:vol_dens_aee"] == pytest.approx(1.25**1.5, rel=0.03)
    assert f["radiomics:morphology:diam"] == pytest.approx(25.0, rel=0.02)  # mesh: r + ½
    # spacing scales lengths: (2, 1, 1) mm stretches z
    g = radiomics_features(image, mask, (2.0, 1.0, 1.0))
    assert g["radiomics:morphology:vol_approx"] == 2 * mask.sum()
    assert g["radiomics:morphology:pca_elongation"] == pytest.approx(0.5, abs=0.02)


def test_checkerboard_glcm_contrast():
    """Pixels alternate between two levels: horizontal and vertical neighbours always differ
    (|i - j| = 1), diagonal ones never, so the 4-direction merged contrast on an n × n board
    is 2n(n-1) / (2n(n-1) + 2(n-1)²) = n / (2n - 1)."""
    n = 8
    image = (np.indices((n, n)).sum(0) % 2).astype(float) + 1.0
    f = radiomics_features(image, None, (1.0, 1.0), RadiomicsSettings(bin_count=2))
    assert f["radiomics:glcm:contrast"] == pytest.approx(n / (2 * n - 1))
    assert f["radiomics:glcm:dissimilarity"] == pytest.approx(n / (2 * n - 1))
    # runs: n² of length 1 along each axis; along each diagonal direction one run per
    # diagonal, of lengths 1, 2, …, n, …, 2, 1
    diagonals = np.array([*range(1, n), n, *range(n - 1, 0, -1)], dtype=float)
    sre = (2 * n * n + 2 * np.sum(1 / diagonals**2)) / (2 * n * n + 2 * diagonals.size)
    assert f["radiomics:glrlm:sre"] == pytest.approx(sre)
    # 8-connected zones: each colour is one diagonally connected zone of n²/2 pixels
    assert f["radiomics:glszm:sze"] == pytest.approx(1 / (n * n / 2) ** 2)
    assert f["radiomics:glszm:zsnu"] == pytest.approx(2.0)
    assert f["radiomics:glszm:z_perc"] == pytest.approx(2 / n**2)
    # 3D: a 3D checkerboard's 13-direction merged contrast
    cube = (np.indices((4, 4, 4)).sum(0) % 2).astype(float)
    g = radiomics_features(cube, None, (1, 1, 1), RadiomicsSettings(bin_count=2))
    # 3 axis directions differ (48 pairs each), 6 face diagonals agree (36 each),
    # 4 body diagonals differ (27 each): contrast = (144 + 108) / (144 + 216 + 108)
    assert g["radiomics:glcm:contrast"] == pytest.approx(252 / 468)


def test_first_order_invariant_to_voxel_order():
    rng = np.random.default_rng(4)
    image = rng.gamma(2.0, 10.0, (24, 24))
    shuffled = rng.permutation(image.ravel()).reshape(image.shape)
    settings = RadiomicsSettings(families=("statistics", "histogram", "ivh"))
    a = radiomics_features(image, None, (1, 1), settings)
    b = radiomics_features(shuffled, None, (1, 1), settings)
    assert a == pytest.approx(b, rel=1e-12)
    c = radiomics_features(image, None, (1, 1), RadiomicsSettings(families=("glcm",)))
    d = radiomics_features(shuffled, None, (1, 1), RadiomicsSettings(families=("glcm",)))
    assert c != pytest.approx(d)  # texture does see the order


@pytest.mark.parametrize("ndim", [2, 3])
def test_translation_invariance(ndim):
    rng = np.random.default_rng(5)
    shape = (12, 14) if ndim == 2 else (8, 10, 12)
    patch, patch_mask = _blob(rng, shape)
    outputs = []
    for offset in (2, 9):
        big = np.zeros(tuple(s + 20 for s in shape))
        big_mask = np.zeros(big.shape, dtype=bool)
        where = tuple(slice(offset, offset + s) for s in shape)
        big[where], big_mask[where] = patch, patch_mask
        outputs.append(radiomics_features(big, big_mask, (1.5,) * ndim))
    assert outputs[0] == pytest.approx(outputs[1], rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("shape", [(16, 20), (5, 9, 11)])
def test_mask_none_is_the_full_mask(shape):
    image = np.random.default_rng(6).normal(size=shape)
    spacing = (1.0,) * len(shape)
    full = radiomics_features(image, np.ones(shape, dtype=bool), spacing)
    assert radiomics_features(image, None, spacing) == pytest.approx(full, nan_ok=True)


def test_degenerate_rois_are_all_nan():
    image = np.arange(25.0).reshape(5, 5)
    for mask in (np.zeros((5, 5), bool), np.eye(5, dtype=bool) & (image == 0)):
        features = radiomics_features(image, mask, (1, 1))
        assert list(features) == feature_names(2)
        assert all(math.isnan(v) for v in features.values())
    two = np.zeros((5, 5), bool)
    two[0, :2] = True  # two voxels are enough
    assert not math.isnan(radiomics_features(image, two, (1, 1))["radiomics:statistics:mean"])


def test_non_finite_intensities_leave_the_roi():
    image = np.random.default_rng(7).normal(size=(10, 10))
    holed = image.copy()
    holed[3, 4] = np.nan
    mask = np.ones(image.shape, dtype=bool)
    mask[3, 4] = False
    assert radiomics_features(holed, None, (1, 1)) == pytest.approx(
        radiomics_features(image, mask, (1, 1)), nan_ok=True
    )


def test_discretisation_settings():
    with pytest.raises(ValueError, match="exactly one"):
        RadiomicsSettings(bin_count=None, bin_width=None)
    with pytest.raises(ValueError, match="exactly one"):
        RadiomicsSettings(bin_count=16, bin_width=5.0)
    with pytest.raises(ValueError, match="exactly one"):
        RadiomicsSettings(bin_width=5.0)  # the default bin_count is still set
    with pytest.raises(ValueError, match="integer from 1 to 1024"):
        RadiomicsSettings(bin_count=0)
    with pytest.raises(ValueError, match="positive number"):
        RadiomicsSettings(bin_count=None, bin_width=-1.0)
    with pytest.raises(ValueError, match="unknown radiomics families"):
        RadiomicsSettings(families=("glcm", "wavelets"))
    image = np.arange(100.0).reshape(10, 10)  # intensities 0..99
    fbs = RadiomicsSettings(bin_count=None, bin_width=10.0, families=("histogram",))
    fbn = RadiomicsSettings(bin_count=4, families=("histogram",))
    assert radiomics_features(image, None, (1, 1), fbs)["radiomics:histogram:max"] == 10.0
    assert radiomics_features(image, None, (1, 1), fbn)["radiomics:histogram:max"] == 4.0
    tiny = RadiomicsSettings(bin_count=None, bin_width=0.01)
    with pytest.raises(ValueError, match="more than 1024; use a larger bin_width"):
        radiomics_features(image, None, (1, 1), tiny)
    # FBN uses each ROI's own range: a scaled and shifted image gets the same grey levels
    scaled = radiomics_features(3 * image + 50, None, (1, 1), fbn)
    assert scaled == radiomics_features(image, None, (1, 1), fbn)


def test_bad_inputs_raise_value_error():
    image = np.zeros((4, 4))
    with pytest.raises(ValueError, match="mask shape"):
        radiomics_features(image, np.ones((4, 5), bool), (1, 1))
    with pytest.raises(ValueError, match="spacing"):
        radiomics_features(image, None, (1, 1, 1))
    with pytest.raises(ValueError, match="2D or 3D"):
        radiomics_features(np.zeros(4), None, (1,))


def test_families_constant():
    assert FAMILIES[:3] == ("morphology", "local_intensity", "statistics")
    assert {"glcm", "glrlm", "glszm", "gldzm", "ngtdm", "ngldm"} <= set(FAMILIES)


def test_speed_28x28():
    """A MedMNIST-sized image: all families in well under 20 ms (loose bound for CI)."""
    image = np.random.default_rng(8).normal(size=(28, 28)).astype(np.float32)
    radiomics_features(image, None, (1, 1))
    times = []
    for _ in range(5):
        start = time.perf_counter()
        radiomics_features(image, None, (1, 1))
        times.append(time.perf_counter() - start)
    assert min(times) < 0.1


def test_non_finite_voxels_are_no_intensity_for_local_peaks_and_fbs_bins_are_exact():
    image = np.full((6, 20, 20), np.nan)
    image[2:4, 5:15, 5:15] = 100.0
    found = radiomics_features(image, np.isfinite(image), (2.0, 1.0, 1.0))
    assert found["radiomics:local_intensity:peak_glob"] == pytest.approx(100.0)
    # fixed bin width on real values: 0.3 is in bin 3 of width 0.1 from 0.1 (IBSI), not 2
    flat = np.array([[0.1, 0.2, 0.3, 0.7]])
    settings = RadiomicsSettings(bin_count=None, bin_width=0.1)
    stats = radiomics_features(flat, None, (1.0, 1.0), settings)
    assert stats["radiomics:histogram:max"] == pytest.approx(7.0)
