"""Reading images and masks (insightome.io.images) from real files written here: DICOM
single files and series (pydicom), NIfTI (nibabel), PNG/TIFF/JPEG/BMP, .npy, .npz and the
real MedMNIST BreastMNIST file; and every bad input as one UserError line naming the file."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import tifffile
from PIL import Image as PILImage
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from insightome.errors import UserError
from insightome.io import images
from insightome.io.images import (
    META_KEYS,
    image_header,
    medmnist_manifest,
    read_image,
    read_mask,
)
from tests.conftest import shared_data

ROWS, COLUMNS = 4, 5


def raises(match_start: str, name: str, call, *args, **kwargs) -> str:
    """Call, expect a one-line UserError starting with ``match_start`` and naming ``name``."""
    with pytest.raises(UserError) as caught:
        call(*args, **kwargs)
    text = str(caught.value)
    assert text.startswith(match_start), text
    assert name in text, text
    assert "\n" not in text
    return text


# -- DICOM --------------------------------------------------------------------------------


def write_dicom(
    path: Path,
    stored: np.ndarray,
    *,
    series_uid: str = "1.2.3.4",
    position: tuple[float, float, float] | None = (0.0, 0.0, 0.0),
    orientation: tuple[float, ...] | None = (1, 0, 0, 0, 1, 0),
    spacing: tuple[float, float] | None = (0.7, 0.8),
    slope: float = 2.0,
    intercept: float = -1024.0,
    instance: int = 1,
    photometric: str = "MONOCHROME2",
    bits_stored: int = 16,
    patient: bool = True,
    thickness: float | None = 2.5,
    frames: int = 1,
    between: float | None = None,
) -> Path:
    """A real DICOM file (Explicit VR Little Endian, uint16 pixels) as a scanner writes it."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.SeriesInstanceUID = series_uid
    ds.Modality = "CT"
    ds.Manufacturer = "ACME Medical"
    ds.ManufacturerModelName = "Scanner 3000"
    if patient:
        ds.PatientName = "Doe^Jane"
        ds.PatientID = "P0001"
    else:
        ds.PatientName = ""
        ds.PatientID = ""
    ds.InstanceNumber = instance
    if position is not None:
        ds.ImagePositionPatient = list(position)
    if orientation is not None:
        ds.ImageOrientationPatient = list(orientation)
    if spacing is not None:
        ds.PixelSpacing = list(spacing)
    if thickness is not None:
        ds.SliceThickness = thickness
    if between is not None:
        ds.SpacingBetweenSlices = between
    ds.RescaleSlope = slope
    ds.RescaleIntercept = intercept
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.Rows, ds.Columns = stored.shape[-2:]
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.BitsAllocated = 16
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 0
    ds.PixelData = stored.astype("<u2").tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def plane(k: int) -> np.ndarray:
    return (np.arange(ROWS * COLUMNS, dtype=np.uint16).reshape(ROWS, COLUMNS) + 100 * k).astype(
        np.uint16
    )


def test_dicom_single_file_rescaled_with_spacing_and_scanner(tmp_path):
    path = write_dicom(tmp_path / "ct.dcm", plane(3))
    image = read_image("ct.dcm", tmp_path)
    assert image.array.dtype == np.float32 and image.array.shape == (ROWS, COLUMNS)
    np.testing.assert_array_equal(image.array, plane(3) * 2.0 - 1024.0)
    assert image.spacing == (0.7, 0.8) and image.spacing_known
    assert (image.ndim, image.channels) == (2, 1)
    meta = image.meta
    assert set(META_KEYS) <= set(meta)
    assert meta["format"] == "dicom" and meta["modality"] == "CT"
    assert (meta["manufacturer"], meta["model"]) == ("ACME Medical", "Scanner 3000")
    assert (meta["rescale_slope"], meta["rescale_intercept"]) == (2.0, -1024.0)
    assert meta["orientation"] == "LPS" and meta["slice_thickness"] == 2.5
    assert meta["patient_data"] is True and meta["photometric"] == "MONOCHROME2"
    assert meta["bits_stored"] == 16 and meta["dtype"] == "uint16" and meta["n_slices"] == 1
    header = image_header(str(path))
    assert header == {
        **meta,
        "ndim": 2,
        "channels": 1,
        "spacing": [0.7, 0.8],
        "spacing_known": True,
    }


def test_dicom_without_name_is_found_by_its_preamble_and_without_patient_data(tmp_path):
    write_dicom(tmp_path / "IM0001", plane(1), patient=False, spacing=None)
    image = read_image("IM0001", tmp_path)
    assert image.meta["format"] == "dicom" and image.meta["patient_data"] is False
    assert image.spacing == (1.0, 1.0) and not image.spacing_known


def test_dicom_monochrome1_is_inverted_and_recorded(tmp_path):
    stored = plane(0)
    write_dicom(
        tmp_path / "cr.dcm", stored, photometric="MONOCHROME1", bits_stored=12, slope=1, intercept=0
    )
    image = read_image("cr.dcm", tmp_path)
    np.testing.assert_array_equal(image.array, 4095.0 - stored)
    assert image.meta["inverted"] is True and image.meta["photometric"] == "MONOCHROME1"


def test_dicom_series_sorted_along_the_slice_normal_not_by_file_name(tmp_path):
    folder = tmp_path / "series"
    folder.mkdir()
    # file names, instance numbers and positions all in different orders
    for name, z, instance in (("a.dcm", 15.0, 1), ("b.dcm", 10.0, 3), ("c.dcm", 12.5, 2)):
        write_dicom(
            folder / name, plane(int(z * 10)), position=(-50.0, -60.0, z), instance=instance
        )
    (folder / "README.txt").write_text("not an image")
    image = read_image("series", tmp_path, row="4")
    assert image.array.shape == (3, ROWS, COLUMNS) and image.ndim == 3
    for k, z in enumerate((10.0, 12.5, 15.0)):
        np.testing.assert_array_equal(image.array[k], plane(int(z * 10)) * 2.0 - 1024.0)
    assert image.spacing == pytest.approx((2.5, 0.7, 0.8)) and image.spacing_known
    meta = image.meta
    assert meta["format"] == "dicom-series" and meta["n_slices"] == 3
    assert meta["slice_order"] == "position" and meta["slice_spacing_uniform"] is True
    assert meta["n_files_skipped"] == 1 and meta["orientation"] == "LPS"
    assert meta["axes"] == "ZYX" and meta["shape"] == [3, ROWS, COLUMNS]
    json.dumps(meta, allow_nan=False)  # JSON-safe: goes into results.json as it is
    header = image_header("series", tmp_path)
    assert header["shape"] == [3, ROWS, COLUMNS] and header["spacing"] == pytest.approx(
        [2.5, 0.7, 0.8]
    )
    assert header["manufacturer"] == "ACME Medical" and header["patient_data"] is True


def test_dicom_sagittal_series_is_sorted_by_the_projection_on_its_normal(tmp_path):
    """Rows along P, columns along I: the normal points to R (−x), so the slice at the
    largest x comes first; the orientation codes say so."""
    folder = tmp_path / "sag"
    folder.mkdir()
    for name, x in (("1.dcm", -3.0), ("2.dcm", 3.0), ("3.dcm", 0.0)):
        write_dicom(
            folder / name,
            plane(int(x) + 10),
            position=(x, 0.0, 0.0),
            orientation=(0, 1, 0, 0, 0, -1),
        )
    image = read_image(str(folder))
    firsts = [float(image.array[k, 0, 0]) for k in range(3)]
    assert firsts == [(100 * (x + 10)) * 2.0 - 1024.0 for x in (3, 0, -3)]
    assert image.meta["orientation"] == "PIR" and image.spacing[0] == pytest.approx(3.0)


def test_dicom_series_without_positions_is_sorted_by_instance_number(tmp_path):
    folder = tmp_path / "old"
    folder.mkdir()
    for name, instance in (("x.dcm", 2), ("y.dcm", 3), ("z.dcm", 1)):
        write_dicom(
            folder / name, plane(instance), position=None, orientation=None, instance=instance
        )
    image = read_image("old", tmp_path)
    assert [float(image.array[k, 0, 0]) for k in range(3)] == [
        100 * k * 2.0 - 1024.0 for k in (1, 2, 3)
    ]
    assert image.meta["slice_order"] == "instance number" and image.meta["orientation"] is None
    assert image.spacing == (2.5, 0.7, 0.8)  # the slice thickness when nothing better is known


def test_dicom_multiframe_file_is_a_volume(tmp_path):
    stack = np.stack([plane(k) for k in range(3)])
    write_dicom(tmp_path / "mf.dcm", stack, frames=3, between=1.5)
    image = read_image("mf.dcm", tmp_path)
    assert image.array.shape == (3, ROWS, COLUMNS)
    assert image.spacing == (1.5, 0.7, 0.8)
    assert image_header("mf.dcm", tmp_path)["shape"] == [3, ROWS, COLUMNS]


def test_dicom_header_does_not_read_the_pixels(tmp_path):
    path = write_dicom(tmp_path / "cut.dcm", plane(0))
    raw = path.read_bytes()
    path.write_bytes(raw[:-10])  # the pixel data cut short
    header = image_header("cut.dcm", tmp_path)
    assert header["shape"] == [ROWS, COLUMNS] and header["manufacturer"] == "ACME Medical"
    text = raises(f"{path} (manifest row 9): cannot be read as DICOM", "cut.dcm", read_image,
                  "cut.dcm", tmp_path, row="9")  # fmt: skip
    assert "re-export" in text


def test_dicom_errors(tmp_path):
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(b"this is not DICOM at all")
    raises(f"{bad} (manifest row 2): cannot be read as DICOM (", "bad.dcm", read_image,
           "bad.dcm", tmp_path, row="2")  # fmt: skip

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("x")
    raises(f"{empty}: the folder holds no DICOM image (1 files)", "empty", read_image, str(empty))

    mixed = tmp_path / "mixed"
    mixed.mkdir()
    write_dicom(mixed / "a.dcm", plane(0), position=(0, 0, 0))
    write_dicom(mixed / "b.dcm", plane(1), position=(0, 0, 1), series_uid="9.9")
    text = raises(f"{mixed} (manifest row 5): the folder is not one DICOM series (two series",
                  "mixed", read_image, "mixed", tmp_path, row="5")  # fmt: skip
    assert "a.dcm" in text and "b.dcm" in text

    sizes = tmp_path / "sizes"
    sizes.mkdir()
    write_dicom(sizes / "a.dcm", plane(0), position=(0, 0, 0))
    write_dicom(sizes / "b.dcm", np.zeros((3, 3), np.uint16), position=(0, 0, 1))
    raises(f"{sizes}: the folder is not one DICOM series (different image sizes: a.dcm has 4×5, "
           "b.dcm has 3×3", "sizes", read_image, str(sizes))  # fmt: skip

    twice = tmp_path / "twice"
    twice.mkdir()
    write_dicom(twice / "a.dcm", plane(0), position=(0, 0, 0))
    write_dicom(twice / "b.dcm", plane(1), position=(0, 0, 0))
    raises(f"{twice}: the folder is not one DICOM series (a.dcm and b.dcm lie at the same "
           "position", "twice", read_image, str(twice))  # fmt: skip


# -- NIfTI --------------------------------------------------------------------------------


def nifti_volume() -> np.ndarray:
    return np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)  # (x, y, z)


def test_nifti_is_transposed_to_slices_first_with_spacing_and_orientation(tmp_path):
    data = nifti_volume()
    img = nib.Nifti1Image(data, np.diag([0.5, 0.6, 2.0, 1.0]))
    img.header.set_xyzt_units("mm")
    img.header.set_slope_inter(2.0, 1.0)
    nib.save(img, tmp_path / "ct.nii.gz")
    image = read_image("ct.nii.gz", tmp_path)
    assert image.array.shape == (6, 5, 4) and image.array.dtype == np.float32
    for x, y, z in ((0, 0, 0), (3, 1, 5), (2, 4, 1)):
        assert image.array[z, y, x] == data[x, y, z] * 2.0 + 1.0
    assert image.spacing == pytest.approx((2.0, 0.6, 0.5)) and image.spacing_known
    assert image.meta["orientation"] == "RAS" and image.meta["format"] == "nifti"
    assert image.meta["rescale_slope"] == 2.0 and image.meta["dtype"] == "int16"
    json.dumps(image.meta, allow_nan=False)
    header = image_header("ct.nii.gz", tmp_path)
    assert header["shape"] == [6, 5, 4] and header["spacing"] == pytest.approx([2.0, 0.6, 0.5])


def test_nifti_flipped_axis_orientation_and_microns(tmp_path):
    img = nib.Nifti1Image(nifti_volume().astype(np.float32), np.diag([-500.0, 600.0, 2000.0, 1]))
    img.header.set_xyzt_units("micron")
    nib.save(img, tmp_path / "flip.nii")
    image = read_image(str(tmp_path / "flip.nii"))
    assert image.meta["orientation"] == "LAS"
    assert image.spacing == pytest.approx((2.0, 0.6, 0.5))


def test_nifti_single_volume_4d_and_single_slice(tmp_path):
    nib.save(nib.Nifti1Image(nifti_volume()[..., None], np.eye(4)), tmp_path / "t1.nii")
    assert read_image("t1.nii", tmp_path).array.shape == (6, 5, 4)
    nib.save(nib.Nifti1Image(nifti_volume()[:, :, :1], np.eye(4)), tmp_path / "one.nii")
    single = read_image("one.nii", tmp_path)
    assert single.array.shape == (5, 4) and single.ndim == 2 and single.spacing == (1.0, 1.0)
    four = tmp_path / "fmri.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((4, 5, 6, 3), np.float32), np.eye(4)), four)
    raises(f"{four} (manifest row 3): the image has 4 dimensions (shape 4×5×6×3)", "fmri.nii.gz",
           read_image, "fmri.nii.gz", tmp_path, row="3")  # fmt: skip


def test_nifti_header_only_and_a_truncated_file(tmp_path):
    path = tmp_path / "cut.nii"
    nib.save(nib.Nifti1Image(nifti_volume().astype(np.float32), np.eye(4)), path)
    path.write_bytes(path.read_bytes()[:400])  # header kept, most voxels lost
    assert image_header("cut.nii", tmp_path)["shape"] == [6, 5, 4]
    raises(f"{path}: cannot be read as a NIfTI image (", "cut.nii", read_image, str(path))
    gz = tmp_path / "junk.nii.gz"
    gz.write_bytes(gzip.compress(b"not a nifti header")[:-4])
    raises(f"{gz}: cannot be read as a NIfTI image (", "junk.nii.gz", read_image, str(gz))


# -- PNG, TIFF, JPEG, BMP ------------------------------------------------------------------


def test_png_grey_8_and_16_bit_keep_their_values(tmp_path):
    grey = np.arange(30, dtype=np.uint8).reshape(5, 6) * 8
    PILImage.fromarray(grey).save(tmp_path / "g8.png")
    image = read_image("g8.png", tmp_path)
    np.testing.assert_array_equal(image.array, grey)
    assert (image.channels, image.ndim, image.spacing_known) == (1, 2, False)
    assert image.meta["format"] == "png" and image.meta["dtype"] == "uint8"

    deep = (np.arange(30, dtype=np.uint16).reshape(5, 6) * 2000).astype(np.uint16)
    PILImage.fromarray(deep).save(tmp_path / "g16.png")
    image = read_image("g16.png", tmp_path)
    assert image.array.max() == 58000.0
    np.testing.assert_array_equal(image.array, deep)
    assert image.meta["dtype"] == "uint16"
    assert image_header("g16.png", tmp_path)["dtype"] == "uint16"


def test_png_rgb_and_rgba_become_rgb(tmp_path):
    rng = np.random.default_rng(0)
    rgba = rng.integers(0, 256, size=(7, 8, 4), dtype=np.uint8)
    PILImage.fromarray(rgba[..., :3]).save(tmp_path / "rgb.png")
    PILImage.fromarray(rgba, mode="RGBA").save(tmp_path / "rgba.png")
    rgb = read_image("rgb.png", tmp_path)
    assert rgb.array.shape == (7, 8, 3) and rgb.channels == 3 and rgb.ndim == 2
    assert rgb.meta["axes"] == "YXC" and rgb.meta["alpha_dropped"] is False
    np.testing.assert_array_equal(rgb.array, rgba[..., :3])
    dropped = read_image("rgba.png", tmp_path)
    np.testing.assert_array_equal(dropped.array, rgba[..., :3])
    assert dropped.meta["alpha_dropped"] is True and dropped.meta["mode"] == "RGBA"
    header = image_header("rgba.png", tmp_path)
    assert header["shape"] == [7, 8, 3] and header["channels"] == 3
    assert header["alpha_dropped"] is True


def test_palette_and_grey_alpha_png(tmp_path):
    palette = PILImage.fromarray(np.arange(20, dtype=np.uint8).reshape(4, 5) * 10).convert(
        "P", palette=PILImage.Palette.ADAPTIVE, colors=8
    )
    palette.save(tmp_path / "p.png")
    assert read_image("p.png", tmp_path).array.shape == (4, 5, 3)
    grey = np.full((4, 5), 77, np.uint8)
    PILImage.fromarray(np.dstack([grey, grey]), mode="LA").save(tmp_path / "la.png")
    la = read_image("la.png", tmp_path)
    assert la.array.shape == (4, 5) and la.channels == 1 and la.meta["alpha_dropped"] is True
    assert (la.array == 77).all()


def test_tiff_grey_float_rgb_and_a_page_stack(tmp_path):
    values = np.linspace(-1.5, 3.0, 20, dtype=np.float32).reshape(4, 5)
    tifffile.imwrite(tmp_path / "f.tif", values)
    np.testing.assert_array_equal(read_image("f.tif", tmp_path).array, values)
    rgb = np.random.default_rng(1).integers(0, 256, (6, 7, 3), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "rgb.tiff", rgb, photometric="rgb")
    image = read_image("rgb.tiff", tmp_path)
    assert image.channels == 3 and image.meta["format"] == "tiff"
    np.testing.assert_array_equal(image.array, rgb)
    stack = np.arange(3 * 4 * 5, dtype=np.uint16).reshape(3, 4, 5)
    tifffile.imwrite(tmp_path / "stack.tif", stack, photometric="minisblack")
    volume = read_image("stack.tif", tmp_path)
    assert volume.array.shape == (3, 4, 5) and volume.ndim == 3
    assert image_header("stack.tif", tmp_path)["shape"] == [3, 4, 5]
    planar = np.moveaxis(rgb, -1, 0)  # (3, 6, 7): colour planes stored one after another
    tifffile.imwrite(tmp_path / "planar.tif", planar, photometric="rgb", planarconfig="separate")
    image = read_image("planar.tif", tmp_path)
    assert image.channels == 3 and image.meta["tiff_axes"] == "SYX"
    np.testing.assert_array_equal(image.array, rgb)
    assert image_header("planar.tif", tmp_path)["shape"] == [6, 7, 3]


def test_jpeg_and_bmp(tmp_path):
    flat = np.full((8, 8), 120, np.uint8)
    PILImage.fromarray(flat).save(tmp_path / "x.jpg", quality=95)
    jpeg = read_image("x.jpg", tmp_path)
    assert jpeg.array.shape == (8, 8) and np.abs(jpeg.array - 120).max() <= 2
    assert jpeg.meta["format"] == "jpeg"
    colour = np.zeros((8, 8, 3), np.uint8)
    colour[..., 0] = 200
    PILImage.fromarray(colour).save(tmp_path / "c.jpeg", quality=95)
    assert read_image("c.jpeg", tmp_path).array.shape == (8, 8, 3)
    PILImage.fromarray(colour).save(tmp_path / "c.bmp")
    bmp = read_image("c.bmp", tmp_path)
    np.testing.assert_array_equal(bmp.array, colour)
    assert bmp.meta["format"] == "bmp"


def test_raster_errors(tmp_path):
    bad = tmp_path / "scan.png"
    bad.write_bytes(b"not a png")
    raises(f"{bad} (manifest row 12): cannot be read as a PNG image (", "scan.png", read_image,
           "scan.png", tmp_path, row="12")  # fmt: skip
    cut = tmp_path / "cut.png"
    PILImage.fromarray(np.zeros((64, 64), np.uint8) + 3).save(cut)
    cut.write_bytes(cut.read_bytes()[:60])
    raises(f"{cut}: cannot be read as a PNG image (", "cut.png", read_image, str(cut))
    tif = tmp_path / "bad.tiff"
    tif.write_bytes(b"II*\0garbage")
    raises(f"{tif}: cannot be read as a TIFF image (", "bad.tiff", read_image, str(tif))


# -- NumPy ------------------------------------------------------------------------------


def test_npy_grey_colour_volume(tmp_path):
    grey = np.arange(12, dtype=np.int32).reshape(3, 4) - 5
    np.save(tmp_path / "g.npy", grey)
    image = read_image("g.npy", tmp_path)
    np.testing.assert_array_equal(image.array, grey)
    assert image.array.dtype == np.float32 and image.meta["dtype"] == "int32"
    colour = np.zeros((10, 12, 3), np.uint8)
    np.save(tmp_path / "c.npy", colour)
    assert read_image("c.npy", tmp_path).channels == 3
    volume = np.zeros((6, 10, 12), np.float64)
    np.save(tmp_path / "v.npy", volume)
    image = read_image("v.npy", tmp_path)
    assert image.ndim == 3 and image.array.shape == (6, 10, 12)
    assert image_header("v.npy", tmp_path)["shape"] == [6, 10, 12]


def test_npy_errors(tmp_path):
    four = tmp_path / "four.npy"
    np.save(four, np.zeros((2, 3, 4, 5)))
    raises(f"{four} (manifest row 1): the image has 4 dimensions (shape 2×3×4×5); insightome "
           "reads 2D images", "four.npy", read_image, "four.npy", tmp_path, row="1")  # fmt: skip
    line = tmp_path / "line.npy"
    np.save(line, np.zeros(7))
    raises(f"{line}: the image has 1 dimensions", "line.npy", read_image, str(line))
    objects = tmp_path / "obj.npy"
    np.save(objects, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    raises(f"{objects}: cannot be read as a NumPy .npy file (", "obj.npy", read_image, str(objects))
    text = tmp_path / "text.npy"
    np.save(text, np.array([["a", "b"], ["c", "d"]]))
    raises(f"{text}: cannot be read as an image array (values of type <U1 are not numbers)",
           "text.npy", read_image, str(text))  # fmt: skip


def test_npz_one_array_key_and_index(tmp_path):
    stack = np.arange(5 * 6 * 7, dtype=np.uint8).reshape(5, 6, 7)
    np.savez_compressed(tmp_path / "one.npz", scans=stack)
    whole = read_image("one.npz", tmp_path)
    assert whole.array.shape == (5, 6, 7) and whole.meta["npz_key"] == "scans"
    np.savez(tmp_path / "two.npz", images=stack, labels=np.arange(5))
    third = read_image("two.npz#images/3", tmp_path)
    np.testing.assert_array_equal(third.array, stack[3])
    assert (third.meta["npz_key"], third.meta["npz_index"]) == ("images", 3)
    assert read_image("two.npz#images", tmp_path).array.shape == (5, 6, 7)
    header = image_header("two.npz#images/4", tmp_path)
    assert header["shape"] == [6, 7] and header["dtype"] == "uint8"


def test_npz_errors(tmp_path):
    np.savez(tmp_path / "two.npz", images=np.zeros((5, 6, 7)), labels=np.arange(5))
    path = tmp_path / "two.npz"
    text = raises(f"{path} (manifest row 8): the .npz holds 2 arrays ('images', 'labels'), not "
                  "one image", "two.npz", read_image, "two.npz", tmp_path, row="8")  # fmt: skip
    assert "two.npz#key/index" in text
    text = raises(f"{path}#imgs/1 (manifest row 8): the .npz has no array 'imgs' (arrays: "
                  "'images', 'labels').", "two.npz", read_image, "two.npz#imgs/1", tmp_path,
                  row="8")  # fmt: skip
    assert "Did you mean: 'images'" in text
    raises(f"{path}#images/5: index 5 is out of range for array 'images' (5 images: 0 to 4)",
           "two.npz", read_image, "two.npz#images/5", tmp_path)  # fmt: skip
    raises(f"{path}#images/-1: '-1' after '#images/' is not an image number", "two.npz",
           read_image, "two.npz#images/-1", tmp_path)  # fmt: skip
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"PK not really a zip")
    raises(f"{broken}#images/0: cannot be read as a NumPy .npz file (", "broken.npz",
           read_image, "broken.npz#images/0", tmp_path)  # fmt: skip


def test_npz_arrays_are_opened_once_for_many_rows(tmp_path):
    stack = np.random.default_rng(2).integers(0, 255, (300, 8, 8), dtype=np.uint8)
    np.savez_compressed(tmp_path / "many.npz", train_images=stack, train_labels=np.zeros(300))
    images._npz_array.cache_clear()
    for i in range(300):
        image = read_image(f"many.npz#train_images/{i}", tmp_path, row=str(i + 2))
        assert image.array[0, 0] == stack[i, 0, 0]
    info = images._npz_array.cache_info()
    assert (info.misses, info.hits) == (1, 299)
    assert info.maxsize == images.NPZ_CACHE_ARRAYS
    image.array[0, 0] = -1  # the caller's copy, not the cached array
    assert read_image("many.npz#train_images/299", tmp_path).array[0, 0] == stack[299, 0, 0]
    # a file written again is read again
    np.savez_compressed(tmp_path / "many.npz", train_images=stack[:10] + 1, train_labels=[0] * 10)
    assert read_image("many.npz#train_images/0", tmp_path).array[0, 0] == stack[0, 0, 0] + 1


def test_medmnist_layout_from_the_real_breastmnist_file():
    npz = shared_data("medmnist", "breastmnist.npz")
    manifest = medmnist_manifest(npz)
    assert list(manifest.columns) == ["id", "image", "label", "split"]
    assert manifest["split"].value_counts().to_dict() == {"train": 546, "test": 156, "val": 78}
    assert manifest["id"].iloc[7] == "train-0007" and manifest["id"].is_unique
    assert manifest["image"].iloc[7] == "breastmnist.npz#train_images/7"
    with np.load(npz) as data:
        labels = np.concatenate([data[f"{s}_labels"].ravel() for s in ("train", "val", "test")])
        np.testing.assert_array_equal(manifest["label"].to_numpy(), labels)
        first_test = manifest.index[manifest["split"] == "test"][0]
        image = read_image(manifest["image"][first_test], npz.parent, row="626")
        np.testing.assert_array_equal(image.array, data["test_images"][0])
    assert image.array.shape == (28, 28) and manifest["label"].dtype == np.int64
    only = medmnist_manifest(npz, ("test",))
    assert len(only) == 156 and only["id"].iloc[0] == "test-0000"


def test_medmnist_label_columns_and_errors(tmp_path):
    path = tmp_path / "multi.npz"
    np.savez(
        path,
        train_images=np.zeros((3, 4, 4), np.uint8),
        train_labels=np.array([[1, 0, 2], [0, 1, 0], [1, 1, 1]]),
        val_images=np.zeros((2, 4, 4), np.uint8),
        val_labels=np.array([[1], [0]]),
    )
    frame = medmnist_manifest(path, ("train",))
    assert list(frame.columns) == ["id", "image", "label_0", "label_1", "label_2", "split"]
    assert frame["label_2"].tolist() == [2, 0, 1]
    assert medmnist_manifest(path, ("val",))["label"].tolist() == [1, 0]
    raises(f"{path}: no array 'test_images' (arrays: ", "multi.npz", medmnist_manifest, path)
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, train_images=np.zeros((3, 4, 4)), train_labels=np.zeros(2, np.uint8))
    raises(f"{wrong}: the train labels (shape 2) do not match its 3 images", "wrong.npz",
           medmnist_manifest, wrong, ("train",))  # fmt: skip
    missing = tmp_path / "gone.npz"
    raises(f"{missing}: file not found", "gone.npz", medmnist_manifest, missing)
    rel = medmnist_manifest(path, ("val",), relative_to=tmp_path / "sub" / "dir")
    assert rel["image"].iloc[0] == "../../multi.npz#val_images/0"


# -- masks and the remaining errors ----------------------------------------------------------


def test_masks_have_the_image_spatial_shape(tmp_path):
    np.save(tmp_path / "img.npy", np.ones((6, 7)))
    mask = np.zeros((6, 7), np.uint8)
    mask[2:4, 3:5] = 255
    PILImage.fromarray(mask).save(tmp_path / "mask.png")
    image = read_image("img.npy", tmp_path)
    values = read_mask("mask.png", tmp_path, image)
    assert values.dtype == bool and values.shape == (6, 7) and values.sum() == 4
    rgb = np.zeros((6, 7, 3), np.uint8)
    PILImage.fromarray(rgb).save(tmp_path / "rgb.png")
    rgb_image = read_image("rgb.png", tmp_path)
    assert read_mask("mask.png", tmp_path, rgb_image).shape == (6, 7)
    rgb_mask = np.zeros((6, 7, 3), np.uint8)
    rgb_mask[1, 1, 2] = 9
    PILImage.fromarray(rgb_mask).save(tmp_path / "rgbmask.png")
    assert read_mask("rgbmask.png", tmp_path, image).sum() == 1


def test_nifti_mask_with_labels_on_a_nifti_volume(tmp_path):
    nib.save(nib.Nifti1Image(nifti_volume().astype(np.float32), np.eye(4)), tmp_path / "v.nii.gz")
    labels = np.zeros((4, 5, 6), np.uint8)
    labels[1, 2, 3] = 1
    labels[2, 2, 3] = 2
    nib.save(nib.Nifti1Image(labels, np.eye(4)), tmp_path / "m.nii.gz")
    image = read_image("v.nii.gz", tmp_path)
    mask = read_mask("m.nii.gz", tmp_path, image, row="3")
    assert mask.shape == (6, 5, 4) and mask.sum() == 2 and mask[3, 2, 1] and mask[3, 2, 2]


def test_mask_errors(tmp_path):
    np.save(tmp_path / "img.npy", np.ones((6, 7)))
    image = read_image("img.npy", tmp_path)
    np.save(tmp_path / "small.npy", np.ones((6, 6)))
    small = tmp_path / "small.npy"
    raises(f"{small} (manifest row 4): the mask's shape 6×6 is not the image's 6×7", "small.npy",
           read_mask, "small.npy", tmp_path, image, row="4")  # fmt: skip
    np.save(tmp_path / "empty.npy", np.zeros((6, 7)))
    empty = tmp_path / "empty.npy"
    raises(f"{empty} (manifest row 4): the mask is empty (no voxel above 0)", "empty.npy",
           read_mask, "empty.npy", tmp_path, image, row="4")  # fmt: skip
    raises(f"{tmp_path / 'nomask.png'} (manifest row 4): image file not found", "nomask.png",
           read_mask, "nomask.png", tmp_path, image, row="4")  # fmt: skip


def test_missing_and_unknown_files(tmp_path):
    raises(f"{tmp_path / 'gone.png'} (manifest row 7): image file not found. Check the path",
           "gone.png", read_image, "gone.png", tmp_path, row="7")  # fmt: skip
    raises(f"{tmp_path / 'gone.npz'}#train_images/1: image file not found", "gone.npz",
           image_header, "gone.npz#train_images/1", tmp_path)  # fmt: skip
    odd = tmp_path / "scan.xyz"
    odd.write_text("hello")
    text = raises(f"{odd} (manifest row 2): unknown image type '.xyz'. Use DICOM (.dcm",
                  "scan.xyz", read_image, "scan.xyz", tmp_path, row="2")  # fmt: skip
    for listed in (".nii.gz", ".png", ".tiff", ".jpeg", ".bmp", ".npy", ".npz"):
        assert listed in text
    plain = tmp_path / "README"
    plain.write_text("no preamble here")
    raises(f"{plain}: unknown image type '(none)'", "README", read_image, str(plain))


def test_absolute_refs_ignore_the_base(tmp_path):
    np.save(tmp_path / "a.npy", np.ones((3, 3)))
    other = tmp_path / "elsewhere"
    other.mkdir()
    assert read_image(str(tmp_path / "a.npy"), other).array.shape == (3, 3)
    shutil.copy(tmp_path / "a.npy", other / "a.npy")
    assert read_image("a.npy", other).array.shape == (3, 3)
