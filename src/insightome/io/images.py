"""Reading images and masks named in a manifest, and the manifest of a MedMNIST file.

A manifest names each sample's image (and optional mask) by a *ref*: a path relative to
the manifest's folder (``base``) or absolute. :func:`read_image` reads it as a float32
array in one layout whatever the format (issue 22's array conventions):

* 2D grey ``(H, W)``; 2D colour ``(H, W, 3)`` (RGBA → RGB, recorded); 3D ``(Z, Y, X)``,
  slices first (NIfTI's ``(x, y, z)`` is transposed);
* ``spacing`` in mm per spatial axis, in the array's axis order (2D ``(dy, dx)``, 3D
  ``(dz, dy, dx)``); 1.0 each, with ``spacing_known`` False, where the format has none;
* ``meta``: JSON-safe metadata (:data:`META_KEYS` always, ``None`` where not applicable).
  ``orientation`` gives the patient direction each voxel axis points to for the columns,
  rows and slices (the x, y, z of DICOM and NIfTI, i.e. the array's axes reversed), as
  nibabel's axis codes: ``"LPS"`` for an axial DICOM series, ``"RAS"`` for a canonical
  NIfTI.

Formats: DICOM (a file with the ``DICM`` preamble or a ``.dcm``/``.dicom`` name; a
folder = one series), NIfTI (``.nii``, ``.nii.gz``), PNG/TIFF/JPEG/BMP, ``.npy``, ``.npz``
holding one array, and ``file.npz#key`` or ``file.npz#key/index`` (the MedMNIST layout:
``train_images``, ``val_images``, ``test_images`` with ``*_labels``). Arrays opened from an
``.npz`` are kept in a small cache (:data:`NPZ_CACHE_ARRAYS`), so a 10,000-row manifest of
``file.npz#train_images/i`` refs decompresses each array once, not once per row.

:func:`read_mask` reads a mask (any of these formats) as a bool array of the image's
spatial shape (voxels above 0). :func:`image_header` gives the metadata without reading
pixels where the format allows (DICOM headers, NIfTI headers, PNG/TIFF headers, ``.npy``
headers), for checking a manifest and taking ``--site`` from the scanner.

Every problem with a file is one :class:`~insightome.errors.UserError` line naming the
file (and the manifest row, ``row``) and saying what to do; never a traceback.
"""

from __future__ import annotations

import functools
import math
import os
import struct
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from insightome import errors
from insightome.errors import UserError
from insightome.io.atomic import write_table_file

#: The environment variable that confines image paths to one folder (the web workbench's).
IMAGE_ROOT = "INSIGHTOME_IMAGE_ROOT"

__all__ = [
    "DICOM_SUFFIXES",
    "META_KEYS",
    "NPZ_CACHE_ARRAYS",
    "RASTER_SUFFIXES",
    "SUPPORTED",
    "Image",
    "image_header",
    "medmnist_manifest",
    "read_image",
    "read_mask",
    "write_manifest",
]

DICOM_SUFFIXES = (".dcm", ".dicom")
RASTER_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp")
#: What the unknown-type error lists.
SUPPORTED = (
    "DICOM (.dcm, or a folder holding one series), NIfTI (.nii, .nii.gz), .png, .tif, .tiff, "
    ".jpg, .jpeg, .bmp, .npy, or .npz (one array, or file.npz#key/index)"
)
#: Keys every ``meta`` (and :func:`image_header`) has; ``None`` where not applicable.
META_KEYS = (
    "format",
    "shape",
    "dtype",
    "axes",
    "modality",
    "manufacturer",
    "model",
    "orientation",
    "rescale_slope",
    "rescale_intercept",
    "photometric",
    "bits_stored",
    "n_slices",
    "patient_data",
)
#: How many arrays opened from .npz files are kept (the MedMNIST layout has 3 image arrays).
NPZ_CACHE_ARRAYS = 4
MEDMNIST_SPLITS = ("train", "val", "test")
_DICM_OFFSET = 128


@dataclass(frozen=True)
class Image:
    """An image read from a manifest: the pixels in the shared layout and what is known."""

    array: np.ndarray  # float32: (H, W), (H, W, 3) or (Z, Y, X)
    spacing: tuple[float, ...]  # mm per spatial axis, in array order
    spacing_known: bool
    ndim: int  # spatial dimensions: 2 or 3
    channels: int  # 1 grey, 3 colour
    meta: dict[str, Any]

    @property
    def spatial_shape(self) -> tuple[int, ...]:
        """The shape without the colour axis (a mask's shape)."""
        return tuple(self.array.shape[: self.ndim])


@dataclass
class _Raw:
    """What a format reader found, before the shared layout is applied."""

    array: np.ndarray | None  # None for a header
    shape: tuple[int, ...]
    spacing: tuple[float, ...] | None  # per spatial axis in array order; None: unknown
    colour: bool | None  # the last axis is colour; None: guess from the shape
    meta: dict[str, Any]


# -- entry points ---------------------------------------------------------------------


def read_image(ref: str, base: Path | None = None, *, row: str | None = None) -> Image:
    """Read the image ``ref`` names (relative to ``base``) in the shared layout."""
    path, fragment = resolve_ref(ref, base)
    where = _where(path, row, fragment)
    raw = _read(path, fragment, where, pixels=True)
    return _finish(raw, where)


def read_mask(ref: str, base: Path | None, image: Image, *, row: str | None = None) -> np.ndarray:
    """Read a mask as a bool array of ``image``'s spatial shape (True: voxel above 0).

    A colour mask counts a pixel in when any channel is above 0. A mask whose shape is
    not the image's, or with no voxel above 0, is refused."""
    path, fragment = resolve_ref(ref, base)
    where = _where(path, row, fragment)
    mask = _finish(_read(path, fragment, where, pixels=True), where)
    values = mask.array > 0
    if mask.channels > 1:
        values = values.any(axis=-1)
    if values.shape != image.spatial_shape:
        raise UserError(
            errors.IMAGE_MASK_SHAPE,
            where=where,
            mask_shape=_shape_text(values.shape),
            image_shape=_shape_text(image.spatial_shape),
        )
    if not values.any():
        raise UserError(errors.IMAGE_MASK_EMPTY, where=where)
    return values


def image_header(ref: str, base: Path | None = None, *, row: str | None = None) -> dict[str, Any]:
    """The metadata of the image ``ref`` names, without reading its pixels where the format
    allows: :data:`META_KEYS` plus ``ndim``, ``channels``, ``spacing`` and ``spacing_known``
    (the values :func:`read_image` would give)."""
    path, fragment = resolve_ref(ref, base)
    where = _where(path, row, fragment)
    raw = _read(path, fragment, where, pixels=False)
    spatial, spacing, channels, stored = _layout(raw.shape, raw.spacing, raw.colour, where)
    meta = _meta(raw.meta, spatial, channels)
    if stored:
        meta["alpha_dropped"] = stored in (2, 4)
    ndim = len(spatial)
    return {
        **meta,
        "ndim": ndim,
        "channels": channels,
        "spacing": list(spacing) if spacing is not None else [1.0] * ndim,
        "spacing_known": spacing is not None,
    }


def medmnist_manifest(
    npz: Path,
    splits: Sequence[str] = MEDMNIST_SPLITS,
    *,
    relative_to: Path | None = None,
) -> pd.DataFrame:
    """One row per image of a MedMNIST ``.npz``: ``id`` (``train-0007``), ``image``
    (``breastmnist.npz#train_images/7``), the label (``label``; ``label_0``… when the
    labels have several columns) and ``split``.

    The ``image`` refs are relative to the npz's folder, or to ``relative_to`` (the folder
    of the manifest that will hold them; absolute when no relative path exists, e.g. on
    another drive)."""
    npz = Path(npz)
    where = str(npz)
    if npz.is_dir():
        raise UserError(errors.FILE_IS_DIRECTORY, path=npz)
    if not npz.is_file():
        raise UserError(errors.FILE_MISSING, path=npz)
    keys = _npz_keys_checked(npz, where)
    for split in splits:
        for kind in ("images", "labels"):
            if f"{split}_{kind}" not in keys:
                raise UserError(
                    errors.IMAGE_MEDMNIST_SPLIT,
                    where=where,
                    key=f"{split}_{kind}",
                    keys=errors.examples(keys, 10),
                )
    prefix = _ref_prefix(npz, relative_to)
    frames = []
    for split in splits:
        shape, _ = _npz_member_header(npz, f"{split}_images", where)
        labels = np.asarray(_npz_array_checked(npz, f"{split}_labels", where))
        n = shape[0] if shape else 0
        if labels.ndim == 0 or labels.shape[0] != n or labels.ndim > 2:
            raise UserError(
                errors.IMAGE_MEDMNIST_LABELS,
                where=where,
                split=split,
                n_images=n,
                labels_shape=_shape_text(labels.shape),
            )
        labels = labels.reshape(n, -1)
        if not np.issubdtype(labels.dtype, np.integer):
            if not (np.isfinite(labels).all() and (labels == np.round(labels)).all()):
                raise UserError(
                    errors.IMAGE_MEDMNIST_LABELS,
                    where=where,
                    split=split,
                    n_images=n,
                    labels_shape=f"{_shape_text(labels.shape)} of non-integer values",
                )
        labels = labels.astype(np.int64)
        width = max(4, len(str(max(n - 1, 0))))
        frame = pd.DataFrame(
            {
                "id": [f"{split}-{i:0{width}d}" for i in range(n)],
                "image": [f"{prefix}#{split}_images/{i}" for i in range(n)],
            }
        )
        if labels.shape[1] == 1:
            frame["label"] = labels[:, 0]
        else:
            for j in range(labels.shape[1]):
                frame[f"label_{j}"] = labels[:, j]
        frame["split"] = split
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def write_manifest(frame: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a manifest as CSV or TSV (by suffix), atomically: a temporary file beside
    ``path`` renamed into place, so a crash never leaves half a file."""
    return write_table_file(frame, path, errors.IMAGE_MANIFEST_OUTPUT)


# -- refs, dispatch and the shared layout ----------------------------------------------


def resolve_ref(ref: str, base: Path | None) -> tuple[Path, str | None]:
    """The file a ref names and its ``#key/index`` fragment (``.npz`` only): the one rule
    every reader here follows (the web workbench checks the same paths with it). With the
    environment variable ``INSIGHTOME_IMAGE_ROOT`` set (the workbench sets it for its
    workers to the dataset's folder), a path that resolves outside that folder is refused."""
    text = str(ref).strip()
    fragment = None
    head, sep, tail = text.rpartition("#")
    if sep and head.lower().endswith(".npz"):
        text, fragment = head, tail
    try:
        path = Path(text).expanduser()
    except RuntimeError:  # "~someone" with no such user: the path as written
        path = Path(text)
    if not path.is_absolute() and base is not None:
        path = Path(base) / path
    root = os.environ.get(IMAGE_ROOT)
    if root:
        try:
            inside = path.resolve().is_relative_to(Path(root).resolve())
        except (OSError, ValueError):  # a NUL byte, a loop of links
            inside = False
        if not inside:
            raise UserError(errors.IMAGE_OUTSIDE_ROOT, ref=str(ref))
    return path, fragment


def _where(path: Path, row: str | None, fragment: str | None = None) -> str:
    name = f"{path}#{fragment}" if fragment is not None else str(path)
    return f"{name} (manifest row {row})" if row is not None else name


def _kind(path: Path, where: str) -> str:
    name = path.name.lower()
    if path.is_dir():
        return "dicom-series"
    if name.endswith((".nii", ".nii.gz")):
        return "nifti"
    if name.endswith(DICOM_SUFFIXES):
        return "dicom"
    if name.endswith(RASTER_SUFFIXES):
        return "raster"
    if name.endswith(".npy"):
        return "npy"
    if name.endswith(".npz"):
        return "npz"
    if _has_dicm_preamble(path):
        return "dicom"
    suffix = "".join(path.suffixes[-2:]) if path.suffixes else "(none)"
    raise UserError(errors.IMAGE_FORMAT_UNKNOWN, where=where, suffix=suffix, supported=SUPPORTED)


def _has_dicm_preamble(path: Path) -> bool:
    try:
        with path.open("rb") as stream:
            head = stream.read(_DICM_OFFSET + 4)
    except OSError:
        return False
    return head[_DICM_OFFSET : _DICM_OFFSET + 4] == b"DICM"


def _read(path: Path, fragment: str | None, where: str, *, pixels: bool) -> _Raw:
    if not path.exists():
        raise UserError(errors.IMAGE_MISSING, where=where)
    if not path.is_dir() and not os.access(path, os.R_OK):
        raise UserError(errors.IMAGE_UNREADABLE, where=where, kind="a file", reason="no access")
    if fragment is not None:
        return _read_npz(path, fragment, where, pixels=pixels)
    kind = _kind(path, where)
    if kind == "dicom-series":
        return _read_dicom_series(path, where, pixels=pixels)
    if kind == "dicom":
        return _read_dicom_file(path, where, pixels=pixels)
    if kind == "nifti":
        return _read_nifti(path, where, pixels=pixels)
    if kind == "raster":
        if path.name.lower().endswith((".tif", ".tiff")):
            return _read_tiff(path, where, pixels=pixels)
        return _read_pil(path, where, pixels=pixels)
    if kind == "npy":
        return _read_npy(path, where, pixels=pixels)
    return _read_npz(path, None, where, pixels=pixels)


def _layout(
    shape: tuple[int, ...],
    spacing: tuple[float, ...] | None,
    colour: bool | None,
    where: str,
) -> tuple[tuple[int, ...], tuple[float, ...] | None, int, int]:
    """The shared layout for a reader's array shape: the spatial shape (singleton axes of
    a 3D or larger array dropped), its spacing, the channels kept (1 or 3) and the
    channels stored (0: no colour axis). Refuses what is not a 2D or 3D grey image or a
    2D colour image."""
    shape = tuple(int(s) for s in shape)
    if colour is None:  # arrays without a stated layout: a last axis of 3 or 4 is colour
        colour = len(shape) == 3 and shape[-1] in (3, 4) and min(shape[:2]) > 4
    stored = shape[-1] if colour and shape else 0
    spatial = list(shape[:-1] if colour else shape)
    spaced = list(spacing) if spacing is not None else None
    while len(spatial) > 2 and 1 in spatial:  # a single slice (or frame) is a 2D image
        k = spatial.index(1)
        del spatial[k]
        if spaced is not None and len(spaced) > k:
            del spaced[k]
    if (colour and len(spatial) != 2) or len(spatial) not in (2, 3) or stored > 4:
        raise UserError(errors.IMAGE_NDIM, where=where, ndim=len(shape), shape=_shape_text(shape))
    if 0 in spatial:
        raise UserError(
            errors.IMAGE_UNREADABLE,
            where=where,
            kind="an image",
            reason=f"no pixels: shape {_shape_text(shape)}",
        )
    if spaced is not None and len(spaced) != len(spatial):
        spaced = None
    channels = 3 if stored >= 3 else 1  # RGBA → RGB; grey + alpha → grey
    return tuple(spatial), (tuple(spaced) if spaced is not None else None), channels, stored


def _finish(raw: _Raw, where: str) -> Image:
    assert raw.array is not None
    spatial, spacing, channels, stored = _layout(raw.array.shape, raw.spacing, raw.colour, where)
    array = raw.array
    meta = dict(raw.meta)
    if stored:
        array = array[..., :channels]
        meta["alpha_dropped"] = stored in (2, 4)
    shape = (*spatial, 3) if channels == 3 else spatial
    array = np.ascontiguousarray(array.reshape(shape), dtype=np.float32)
    ndim = len(spatial)
    return Image(
        array=array,
        spacing=spacing if spacing is not None else (1.0,) * ndim,
        spacing_known=spacing is not None,
        ndim=ndim,
        channels=channels,
        meta=_meta(meta, spatial, channels),
    )


def _meta(found: dict[str, Any], spatial: tuple[int, ...], channels: int) -> dict[str, Any]:
    meta: dict[str, Any] = dict.fromkeys(META_KEYS)
    meta["patient_data"] = False
    meta.update(found)
    meta["shape"] = [int(s) for s in spatial] + ([channels] if channels > 1 else [])
    meta["axes"] = ("ZYX" if len(spatial) == 3 else "YX") + ("C" if channels > 1 else "")
    meta["n_slices"] = int(spatial[0]) if len(spatial) == 3 else 1
    return meta


def _shape_text(shape: Sequence[int]) -> str:
    return "×".join(str(int(s)) for s in shape) if len(shape) else "scalar"


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text and text[0] else type(exc).__name__


# -- NumPy ------------------------------------------------------------------------------

_NPY_ERRORS = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, KeyError)


def _read_npy(path: Path, where: str, *, pixels: bool) -> _Raw:
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except _NPY_ERRORS as exc:
        raise UserError(
            errors.IMAGE_UNREADABLE, where=where, kind="a NumPy .npy file", reason=_reason(exc)
        ) from None
    meta = {"format": "npy", "dtype": str(array.dtype)}
    _check_numeric(array.dtype, where)
    return _Raw(np.asarray(array) if pixels else None, array.shape, None, None, meta)


def _check_numeric(dtype: np.dtype, where: str) -> None:
    if not (np.issubdtype(dtype, np.number) or np.issubdtype(dtype, np.bool_)):
        raise UserError(
            errors.IMAGE_UNREADABLE,
            where=where,
            kind="an image array",
            reason=f"values of type {dtype} are not numbers",
        )


def _stat(path: Path) -> tuple[str, int, int]:
    info = path.stat()
    return str(path.resolve()), info.st_mtime_ns, info.st_size


@functools.lru_cache(maxsize=16)
def _npz_keys(resolved: str, mtime_ns: int, size: int) -> tuple[str, ...]:
    with zipfile.ZipFile(resolved) as archive:
        names = archive.namelist()
    return tuple(n[: -len(".npy")] for n in names if n.endswith(".npy"))


@functools.lru_cache(maxsize=NPZ_CACHE_ARRAYS)
def _npz_array(resolved: str, mtime_ns: int, size: int, key: str) -> np.ndarray:
    """One array of an .npz, decompressed once and kept (read-only) for the next rows."""
    with np.load(resolved, allow_pickle=False) as archive:
        array = archive[key]
    array.flags.writeable = False
    return array


def _npz_keys_checked(path: Path, where: str) -> tuple[str, ...]:
    try:
        return _npz_keys(*_stat(path))
    except _NPY_ERRORS as exc:
        raise UserError(
            errors.IMAGE_UNREADABLE, where=where, kind="a NumPy .npz file", reason=_reason(exc)
        ) from None


def _npz_array_checked(path: Path, key: str, where: str) -> np.ndarray:
    try:
        return _npz_array(*_stat(path), key)
    except _NPY_ERRORS as exc:
        raise UserError(
            errors.IMAGE_UNREADABLE, where=where, kind="a NumPy .npz file", reason=_reason(exc)
        ) from None


def _npz_member_header(path: Path, key: str, where: str) -> tuple[tuple[int, ...], np.dtype]:
    """The shape and dtype of one array of an .npz from its header (nothing decompressed
    beyond it)."""
    try:
        return _npz_header(*_stat(path), key)
    except _NPY_ERRORS as exc:
        raise UserError(
            errors.IMAGE_UNREADABLE, where=where, kind="a NumPy .npz file", reason=_reason(exc)
        ) from None


@functools.lru_cache(maxsize=64)
def _npz_header(
    resolved: str, mtime_ns: int, size: int, key: str
) -> tuple[tuple[int, ...], np.dtype]:
    with zipfile.ZipFile(resolved) as archive, archive.open(f"{key}.npy") as stream:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(stream)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(stream)
    return tuple(shape), dtype


def _read_npz(path: Path, fragment: str | None, where: str, *, pixels: bool) -> _Raw:
    keys = _npz_keys_checked(path, where)
    index: int | None = None
    if fragment is None:
        if len(keys) != 1:
            raise UserError(
                errors.IMAGE_NPZ_AMBIGUOUS,
                where=where,
                n=len(keys),
                keys=errors.examples(keys, 8),
                name=path.name,
            )
        key = keys[0]
    else:
        key, slash, number = fragment.rpartition("/")
        if not slash:
            key, number = fragment, ""
        if key not in keys:
            raise UserError(
                errors.IMAGE_NPZ_KEY_MISSING,
                where=where,
                key=key,
                keys=errors.examples(keys, 8),
                hint=errors.closest_names_hint(key, keys),
            )
        if slash:
            if not number.isdigit():
                raise UserError(errors.IMAGE_NPZ_INDEX_INVALID, where=where, index=number, key=key)
            index = int(number)
    shape, dtype = _npz_member_header(path, key, where)
    _check_numeric(dtype, where)
    if index is not None:
        n = shape[0] if shape else 0
        if index >= n:
            raise UserError(
                errors.IMAGE_NPZ_INDEX, where=where, index=index, key=key, n=n, last=n - 1
            )
        shape = shape[1:]
    meta = {"format": "npz", "dtype": str(dtype), "npz_key": key, "npz_index": index}
    array = None
    if pixels:
        array = _npz_array_checked(path, key, where)
        if index is not None:
            array = array[index]
    return _Raw(array, shape, None, None, meta)


# -- PNG, JPEG, BMP (Pillow) and TIFF (tifffile) ---------------------------------------

#: Pillow modes → (channels after conversion, colour)
_PIL_GREY = ("1", "L", "I", "I;16", "I;16B", "I;16L", "I;16N", "F")


def _read_pil(path: Path, where: str, *, pixels: bool) -> _Raw:
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    kind = f"a {path.suffix.lstrip('.').upper()} image"
    failures = (OSError, ValueError, SyntaxError, struct.error, zlib.error, EOFError)
    try:
        with PILImage.open(path) as opened:
            mode = opened.mode
            fmt = (opened.format or path.suffix.lstrip(".")).lower()
            width, height = opened.size
            if mode in _PIL_GREY:
                shape: tuple[int, ...] = (height, width)
                colour = False
            elif mode in ("LA", "La"):
                shape, colour = (height, width, 2), True
            elif mode in ("RGBA", "RGBa") or (mode == "P" and "transparency" in opened.info):
                shape, colour = (height, width, 4), True
            else:
                shape, colour = (height, width, 3), True
            array = None
            if pixels:
                if mode == "P":
                    converted = opened.convert("RGBA" if shape[-1] == 4 else "RGB")
                elif mode in ("1",):
                    converted = opened.convert("L")
                elif mode in ("CMYK", "YCbCr", "LAB", "HSV", "RGBX"):
                    converted = opened.convert("RGB")
                elif mode in ("RGBa", "La"):
                    converted = opened.convert("RGBA" if mode == "RGBa" else "LA")
                else:
                    converted = opened
                array = np.asarray(converted)
    except (UnidentifiedImageError, PILImage.DecompressionBombError, *failures) as exc:
        raise UserError(
            errors.IMAGE_UNREADABLE, where=where, kind=kind, reason=_reason(exc)
        ) from None
    meta = {"format": fmt, "dtype": str(array.dtype) if array is not None else _pil_dtype(mode)}
    meta["mode"] = mode
    return _Raw(array, shape, None, colour, meta)


def _pil_dtype(mode: str) -> str:
    if mode.startswith("I;16"):
        return "uint16"
    return {"I": "int32", "F": "float32", "1": "bool"}.get(mode, "uint8")


def _read_tiff(path: Path, where: str, *, pixels: bool) -> _Raw:
    import tifffile

    failures = (OSError, ValueError, KeyError, IndexError, struct.error, zlib.error, EOFError)
    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            shape, axes, dtype = tuple(series.shape), series.axes, str(series.dtype)
            array = series.asarray() if pixels else None
    except (tifffile.TiffFileError, *failures) as exc:
        raise UserError(
            errors.IMAGE_UNREADABLE, where=where, kind="a TIFF image", reason=_reason(exc)
        ) from None
    stored_axes = axes
    if axes.startswith("S") and len(axes) == 3:  # planar colour: samples first
        shape, axes = (*shape[1:], shape[0]), axes[1:] + "S"
        array = np.moveaxis(array, 0, -1) if array is not None else None
    colour = axes.endswith("S") and shape[-1] in (3, 4)
    if axes.endswith("S") and not colour:
        raise UserError(errors.IMAGE_NDIM, where=where, ndim=len(shape), shape=_shape_text(shape))
    meta = {"format": "tiff", "dtype": dtype, "tiff_axes": stored_axes}
    return _Raw(array, shape, None, colour, meta)


# -- NIfTI (nibabel) ---------------------------------------------------------------------

#: NIfTI spatial units → mm
_NIFTI_UNITS = {"mm": 1.0, "meter": 1000.0, "micron": 0.001}


def _read_nifti(path: Path, where: str, *, pixels: bool) -> _Raw:
    import nibabel as nib
    from nibabel.filebasedimages import ImageFileError

    failures = (OSError, ValueError, EOFError, zlib.error, struct.error, ImageFileError)
    try:
        img = nib.load(path)
        shape = tuple(int(s) for s in img.shape)
        header = img.header
        zooms = [float(z) for z in header.get_zooms()[: min(len(shape), 3)]]
        unit = header.get_xyzt_units()[0]
        axcodes = nib.aff2axcodes(img.affine)
        dtype = str(header.get_data_dtype())
        # nibabel moves scl_slope/scl_inter from the loaded header to the data proxy
        slope = getattr(img.dataobj, "slope", None)
        intercept = getattr(img.dataobj, "inter", None)
        data = None
        if pixels:
            data = np.asarray(img.get_fdata(dtype=np.float32))
    except failures as exc:
        raise UserError(
            errors.IMAGE_UNREADABLE, where=where, kind="a NIfTI image", reason=_reason(exc)
        ) from None
    extra = shape[3:]
    if any(s != 1 for s in extra):
        raise UserError(errors.IMAGE_NDIM, where=where, ndim=len(shape), shape=_shape_text(shape))
    shape = shape[:3]
    if data is not None:
        data = np.transpose(data.reshape(shape))  # (x, y, z) → (z, y, x)
    factor = _NIFTI_UNITS.get(unit, 1.0)
    spacing = tuple(z * factor for z in reversed(zooms[: len(shape)]))
    known = all(math.isfinite(z) and z > 0 for z in spacing)
    meta = {
        "format": "nifti",
        "dtype": dtype,
        "orientation": "".join(str(c) for c in axcodes) if None not in axcodes else None,
        "rescale_slope": _json_float(slope),
        "rescale_intercept": _json_float(intercept),
        "spacing_unit": unit,
    }
    return _Raw(data, tuple(reversed(shape)), spacing if known else None, False, meta)


def _json_float(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


# -- DICOM (pydicom) ----------------------------------------------------------------------

_LPS = (("R", "L"), ("A", "P"), ("I", "S"))  # DICOM's +x, +y, +z point to L, P, S


def _dicom_failures() -> tuple[type[BaseException], ...]:
    from pydicom.errors import InvalidDicomError

    return (
        InvalidDicomError,
        OSError,
        ValueError,
        EOFError,
        KeyError,
        IndexError,
        TypeError,
        AttributeError,
        NotImplementedError,  # pydicom: no decoder for the file's transfer syntax
        RuntimeError,
        struct.error,
        zlib.error,
    )


def _dcmread(path: Path, where: str, *, pixels: bool) -> Any:
    import pydicom

    try:
        return pydicom.dcmread(path, stop_before_pixels=not pixels)
    except _dicom_failures() as exc:
        raise UserError(
            errors.IMAGE_UNREADABLE, where=where, kind="DICOM", reason=_reason(exc)
        ) from None


def _floats(value: object, n: int) -> np.ndarray | None:
    try:
        numbers = np.array([float(v) for v in value], dtype=float)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        return None
    return numbers if numbers.shape == (n,) and np.isfinite(numbers).all() else None


def _first_group_item(ds: Any, sequence: str, keyword: str) -> Any:
    """``ds.SharedFunctionalGroupsSequence[0].<sequence>[0]`` when it holds ``keyword``
    (enhanced multi-frame DICOM keeps spacing and rescale there)."""
    for group in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
        items = ds.get(group)
        if items:
            inner = items[0].get(sequence)
            if inner and keyword in inner[0]:
                return inner[0]
    return None


def _dicom_pixel_spacing(ds: Any) -> tuple[float, float] | None:
    """(dy, dx) in mm: PixelSpacing (row spacing, column spacing), else the enhanced
    multi-frame's, else ImagerPixelSpacing (projection radiographs)."""
    for source in (ds, _first_group_item(ds, "PixelMeasuresSequence", "PixelSpacing")):
        if source is not None and "PixelSpacing" in source:
            values = _floats(source.PixelSpacing, 2)
            if values is not None and (values > 0).all():
                return float(values[0]), float(values[1])
    if "ImagerPixelSpacing" in ds:
        values = _floats(ds.ImagerPixelSpacing, 2)
        if values is not None and (values > 0).all():
            return float(values[0]), float(values[1])
    return None


def _dicom_rescale(ds: Any) -> tuple[float, float]:
    source = ds
    if "RescaleSlope" not in ds and "RescaleIntercept" not in ds:
        found = _first_group_item(ds, "PixelValueTransformationSequence", "RescaleSlope")
        source = found if found is not None else ds
    slope = _json_float(source.get("RescaleSlope", 1.0))
    intercept = _json_float(source.get("RescaleIntercept", 0.0))
    return (slope if slope is not None else 1.0), (intercept if intercept is not None else 0.0)


def _text(ds: Any, keyword: str) -> str | None:
    value = ds.get(keyword)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _patient_data(ds: Any) -> bool:
    return any(_text(ds, k) for k in ("PatientName", "PatientID", "PatientBirthDate"))


def _axis_code(vector: np.ndarray) -> str:
    axis = int(np.argmax(np.abs(vector)))
    return _LPS[axis][1 if vector[axis] > 0 else 0]


def _dicom_geometry(ds: Any) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The row and column direction cosines and the slice normal, or Nones."""
    orientation = _floats(ds.get("ImageOrientationPatient"), 6)
    if orientation is None:
        return None, None
    normal = np.cross(orientation[:3], orientation[3:])
    if not np.linalg.norm(normal) > 0.5:
        return None, None
    return orientation, normal / np.linalg.norm(normal)


def _dicom_meta(ds: Any, fmt: str) -> dict[str, Any]:
    slope, intercept = _dicom_rescale(ds)
    orientation, normal = _dicom_geometry(ds)
    codes = None
    if orientation is not None and normal is not None:
        codes = _axis_code(orientation[:3]) + _axis_code(orientation[3:]) + _axis_code(normal)
    bits = ds.get("BitsStored")
    thickness = _json_float(ds.get("SliceThickness"))
    pixel_representation = ds.get("PixelRepresentation")
    return {
        "format": fmt,
        "dtype": _dicom_dtype(ds.get("BitsAllocated"), pixel_representation),
        "modality": _text(ds, "Modality"),
        "manufacturer": _text(ds, "Manufacturer"),
        "model": _text(ds, "ManufacturerModelName"),
        "orientation": codes,
        "rescale_slope": slope,
        "rescale_intercept": intercept,
        "photometric": _text(ds, "PhotometricInterpretation"),
        "bits_stored": int(bits) if bits is not None else None,
        "slice_thickness": thickness,
        "patient_data": _patient_data(ds),
        "inverted": _text(ds, "PhotometricInterpretation") == "MONOCHROME1",
    }


def _dicom_dtype(allocated: object, representation: object) -> str | None:
    if allocated is None:
        return None
    kind = "int" if representation == 1 else "uint"
    return f"{kind}{int(allocated)}"  # type: ignore[call-overload]


def _dicom_shape(ds: Any, where: str) -> tuple[tuple[int, ...], bool]:
    if "Rows" not in ds or "Columns" not in ds:
        raise UserError(
            errors.IMAGE_UNREADABLE,
            where=where,
            kind="DICOM",
            reason="no image in it (no Rows/Columns: a report, a DICOMDIR or a structured "
            "document?)",
        )
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    shape: tuple[int, ...] = (int(ds.Rows), int(ds.Columns))
    if frames > 1:
        shape = (frames, *shape)
    if samples > 1:
        shape = (*shape, samples)
    return shape, samples > 1


def _dicom_pixels(ds: Any, where: str) -> np.ndarray:
    """Stored values → rescaled float32, MONOCHROME1 inverted (so higher is brighter)."""
    try:
        stored = ds.pixel_array
    except _dicom_failures() as exc:
        reason = _reason(exc)
        syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
        if syntax is not None:
            reason = f"{reason}; transfer syntax {syntax.name}"
        raise UserError(errors.IMAGE_UNREADABLE, where=where, kind="DICOM", reason=reason) from None
    values = stored.astype(np.float32)
    if _text(ds, "PhotometricInterpretation") == "MONOCHROME1":  # recorded in meta
        bits = int(ds.get("BitsStored", 16))
        if ds.get("PixelRepresentation") == 1:
            values = -values
        else:
            values = np.float32(2**bits - 1) - values
    slope, intercept = _dicom_rescale(ds)
    if slope != 1.0 or intercept != 0.0:
        values = values * np.float32(slope) + np.float32(intercept)
    return values


def _read_dicom_file(path: Path, where: str, *, pixels: bool) -> _Raw:
    ds = _dcmread(path, where, pixels=pixels)
    shape, colour = _dicom_shape(ds, where)
    meta = _dicom_meta(ds, "dicom")
    spacing2 = _dicom_pixel_spacing(ds)
    spacing: tuple[float, ...] | None = spacing2
    if len(shape) - colour == 3:  # multi-frame: the frames are slices
        between = _json_float(ds.get("SpacingBetweenSlices"))
        if between is None:
            item = _first_group_item(ds, "PixelMeasuresSequence", "SpacingBetweenSlices")
            between = _json_float(item.SpacingBetweenSlices) if item is not None else None
        dz = between if between is not None and between > 0 else meta["slice_thickness"]
        spacing = (dz, *spacing2) if spacing2 is not None and dz and dz > 0 else None
    array = _dicom_pixels(ds, where) if pixels else None
    return _Raw(array, shape, spacing, colour, meta)


def _read_dicom_series(folder: Path, where: str, *, pixels: bool) -> _Raw:
    """One DICOM series from a folder: its slices sorted along the slice normal."""
    import pydicom

    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    slices: list[tuple[Path, Any]] = []
    skipped = 0
    for file in files:
        if not (file.name.lower().endswith(DICOM_SUFFIXES) or _has_dicm_preamble(file)):
            skipped += 1
            continue
        file_where = _where(file, None)
        try:
            ds = pydicom.dcmread(file, stop_before_pixels=not pixels)
        except _dicom_failures() as exc:
            raise UserError(
                errors.IMAGE_UNREADABLE,
                where=f"{file_where} in {where}",
                kind="DICOM",
                reason=_reason(exc),
            ) from None
        if "Rows" not in ds or "Columns" not in ds:  # DICOMDIR, reports
            skipped += 1
            continue
        slices.append((file, ds))
    if not slices:
        raise UserError(errors.IMAGE_DICOM_NONE, where=where, n=len(files))
    first = slices[0][1]
    _check_one_series(slices, where)
    _, normal = _dicom_geometry(first)
    positions = [_floats(ds.get("ImagePositionPatient"), 3) for _, ds in slices]
    order_by = "file name"
    spacing_z: float | None = None
    extra: dict[str, Any] = {}
    if normal is not None and all(p is not None for p in positions):
        along = np.array([float(np.dot(p, normal)) for p in positions])  # type: ignore[arg-type]
        order = np.argsort(along, kind="stable")
        along = along[order]
        gaps = np.diff(along)
        if len(gaps) and not (gaps > 1e-4).all():
            k = int(np.argmin(gaps))
            raise UserError(
                errors.IMAGE_DICOM_SERIES_MIXED,
                where=where,
                reason=f"{slices[order[k]][0].name} and {slices[order[k + 1]][0].name} lie at "
                "the same position: two series, echoes or time points?",
            )
        slices = [slices[i] for i in order]
        order_by = "position"
        if len(gaps):
            spacing_z = float(np.mean(gaps))
            uniform = bool(np.ptp(gaps) <= max(0.01 * spacing_z, 1e-3))
            extra["slice_spacing_uniform"] = uniform
            if not uniform:
                extra["slice_spacing_range"] = [float(gaps.min()), float(gaps.max())]
    else:
        numbers = [ds.get("InstanceNumber") for _, ds in slices]
        if all(n is not None for n in numbers):
            values = [int(n) for n in numbers]
            if len(set(values)) != len(values):
                raise UserError(
                    errors.IMAGE_DICOM_SERIES_MIXED,
                    where=where,
                    reason="two slices have the same InstanceNumber and no positions tell them "
                    "apart",
                )
            slices = [s for _, s in sorted(zip(values, slices, strict=True), key=lambda t: t[0])]
            order_by = "instance number"
        between = _json_float(first.get("SpacingBetweenSlices"))
        thickness = _json_float(first.get("SliceThickness"))
        spacing_z = between if between and between > 0 else thickness
    meta = _dicom_meta(first, "dicom-series")
    meta["patient_data"] = any(_patient_data(ds) for _, ds in slices)
    meta["slice_order"] = order_by
    meta["n_files_skipped"] = skipped
    meta.update(extra)
    rows, columns = int(first.Rows), int(first.Columns)
    pixel_spacing = _dicom_pixel_spacing(first)
    spacing = (
        (spacing_z, *pixel_spacing)
        if pixel_spacing is not None and spacing_z is not None and spacing_z > 0
        else None
    )
    if len(slices) == 1:
        spacing = pixel_spacing
    shape: tuple[int, ...] = (len(slices), rows, columns)
    array = None
    if pixels:
        planes = [_dicom_pixels(ds, f"{_where(file, None)} in {where}") for file, ds in slices]
        slopes = {_dicom_rescale(ds) for _, ds in slices}
        if len(slopes) > 1:
            meta["rescale_varies"] = True
        array = np.stack(planes)
    return _Raw(array, shape, spacing, False, meta)


def _check_one_series(slices: list[tuple[Path, Any]], where: str) -> None:
    """Refuse a folder whose images are not one series of equal, single-frame grey slices."""
    first_file, first = slices[0]

    def differ(what: str, file: Path, mine: object, theirs: object) -> UserError:
        return UserError(
            errors.IMAGE_DICOM_SERIES_MIXED,
            where=where,
            reason=f"{what}: {first_file.name} has {mine}, {file.name} has {theirs}",
        )

    uid = first.get("SeriesInstanceUID")
    shape = (first.Rows, first.Columns)
    orientation = _floats(first.get("ImageOrientationPatient"), 6)
    for file, ds in slices[1:]:
        if ds.get("SeriesInstanceUID") != uid:
            raise differ("two series (SeriesInstanceUID)", file, uid, ds.get("SeriesInstanceUID"))
        if (ds.Rows, ds.Columns) != shape:
            raise differ(
                "different image sizes",
                file,
                _shape_text(shape),
                _shape_text((ds.Rows, ds.Columns)),
            )
        theirs = _floats(ds.get("ImageOrientationPatient"), 6)
        if (orientation is None) != (theirs is None) or (
            orientation is not None
            and theirs is not None
            and not np.allclose(orientation, theirs, atol=1e-3)
        ):
            raise differ("different slice orientations", file, orientation, theirs)
    for file, ds in slices:
        if int(ds.get("NumberOfFrames", 1) or 1) > 1 or int(ds.get("SamplesPerPixel", 1)) > 1:
            raise UserError(
                errors.IMAGE_DICOM_SERIES_MIXED,
                where=where,
                reason=f"{file.name} is a multi-frame or colour image; a folder is read as a "
                "series of single grey slices (give the file itself)",
            )


# -- manifests --------------------------------------------------------------------------


def _ref_prefix(npz: Path, relative_to: Path | None) -> str:
    if relative_to is None:
        return npz.name
    try:
        return Path(os.path.relpath(npz.resolve(), Path(relative_to).resolve())).as_posix()
    except ValueError:  # another drive (Windows): no relative path
        return npz.resolve().as_posix()
