"""Images into a run (``insightome run manifest.csv --image-column path``; docs/images.md).

The data is an image **manifest**: one row per sample with the path of its image (and
optionally of a region-of-interest mask), next to any clinical columns, which stay features
like in any table. Each image is read (:mod:`insightome.io.images`: DICOM, NIfTI,
PNG/TIFF/JPEG, NumPy), one at a time in chunks, so a large manifest needs no more memory
than a chunk of images plus the feature table, and becomes, per sample:

- ``radiomics:<family>:<feature>`` — IBSI first-order, shape and texture features over the
  mask (or the whole image), :mod:`insightome.featurize.images.radiomics`. Each image is
  discretised on its own (a fixed number of bins over its region's range, or a fixed bin
  width), so nothing is learned across samples and the columns are built once, before
  resampling (a read-stage Featurizer);
- ``encoder:<i>`` — the embedding from the user's pretrained encoder (TorchScript or ONNX,
  :mod:`insightome.featurize.images.encoder`): fixed weights, also nothing learned here;
- for ``cnn``: the image resized to the CNN's input square, kept as the CNN's input table.
  The CNN itself learns, so it is fitted inside every training fold
  (:class:`insightome.models.image_cnn.CNNScore`), never here.

Per-sample metadata (format, modality, manufacturer, model) land in ``obs`` as
``image:<field>`` columns, so ``--site image:manufacturer`` audits by scanner. What the run
publishes: counts and settings (results.json ``images``); no pixels, no DICOM header
values that identify a patient.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from insightome import errors
from insightome.errors import UserError
from insightome.featurize.columns import append_columns
from insightome.featurize.images import RadiomicsSettings, feature_names, radiomics_features
from insightome.featurize.images.encoder import ImageEncoder
from insightome.groups.disclosure import MIN_CELL
from insightome.io.images import Image, read_image, read_mask

FEATURES = ("radiomics", "cnn", "encoder")
DEFAULT_FEATURES = ("radiomics",)
CHUNK = 64  # images read per task: the memory bound of the read (plus the encoder's batch)
CNN_MAX_SIZE = 64  # --cnn-size 0: the images' own size, at most this
META_FIELDS = ("format", "modality", "manufacturer", "model")  # → obs columns image:<field>
#: what the reader did to an image, counted in the run's notes: (meta key, value that counts,
#: what it means)
FLAG_NOTES = (
    (
        "slice_spacing_uniform",
        False,
        "DICOM series with uneven slice gaps (the slice spacing is "
        "their mean: volumes and shape features are approximate)",
    ),
    ("inverted", True, "MONOCHROME1 image(s) inverted over the stored range (higher = brighter)"),
    (
        "rescale_varies",
        True,
        "DICOM series whose slices have different rescale slopes or "
        "intercepts (each slice rescaled with its own)",
    ),
    ("alpha_dropped", True, "image(s) with an alpha channel dropped"),
)
FLAGS = tuple(key for key, _, _ in FLAG_NOTES)
META_PREFIX = "image:"
PIXELS_KEY = META_PREFIX + "sha256"  # obs: each sample's pixels (and mask), for the overlap check
#: The CNN's settings (models.image_cnn.SmallCNN) by --preset: "fast" trains fewer epochs
#: with less patience.
CNN_SETTINGS = {
    "fast": {"epochs": 25, "patience": 5},
    "default": {"epochs": 60, "patience": 8},
}


def cnn_settings(preset: str) -> dict[str, Any]:
    """The CNN's settings for ``--preset`` (recorded in results.json ``images.cnn``)."""
    return dict(CNN_SETTINGS.get(preset, CNN_SETTINGS["default"]))


@dataclass(frozen=True)
class ImagesSettings:
    """The ``--image-*`` options of a run."""

    column: str
    mask_column: str | None = None
    features: tuple[str, ...] = DEFAULT_FEATURES
    encoder: str | Path | None = None
    cnn_size: int = 0
    bins: int = 32
    bin_width: float | None = None
    base: Path | None = None  # the manifest's folder: relative paths start there
    source: str = "data"  # the manifest's name, for messages
    n_jobs: int = 1
    min_cell: int = MIN_CELL
    preset: str = "default"
    # a saved run's: keep every radiomics column (False), the run's CNN channels (1 or 3)
    drop_undefined: bool = True
    cnn_channels: int = 0

    def radiomics(self) -> RadiomicsSettings:
        if self.bin_width is not None:
            return RadiomicsSettings(bin_count=None, bin_width=float(self.bin_width))
        return RadiomicsSettings(bin_count=int(self.bins), bin_width=None)


@dataclass
class ImagesFeatures:
    """What the images give a run: feature columns per sample (radiomics, encoder), the
    per-sample metadata (``image:<field>``, for ``--site`` and the audit), the CNN's input
    table when asked (N, C, S, S) float16 in [0, 1], and the summary for results.json."""

    columns: pd.DataFrame
    metadata: pd.DataFrame
    summary: dict[str, Any]
    cnn_input: np.ndarray | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Chunk:
    radiomics: list[dict[str, float]]
    meta: list[dict[str, Any]]
    cnn: list[np.ndarray]
    grey: list[np.ndarray]  # for the encoder (read once, sent back in the chunk)


def _references(column: pd.Series, name: str, source: str) -> list[str]:
    refs: list[str] = []
    for sample, value in column.items():
        text = "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
        if not text.strip():
            raise UserError(errors.IMAGE_PATH_EMPTY, path=source, row=sample, column=name)
        refs.append(text.strip())
    return refs


def _grey(image: Image) -> np.ndarray:
    """The image's intensities as one channel (colour → ITU-R 601 luma, recorded)."""
    a = np.asarray(image.array, dtype=np.float32)
    if image.channels == 3 and a.ndim == 3 and a.shape[-1] == 3:
        return a @ np.asarray([0.299, 0.587, 0.114], dtype=np.float32)
    return a


def _cnn_square(image: Image, size: int) -> np.ndarray:
    """(C, S, S) in [0, 1]: resized with anti-aliasing, scaled by the image's own range."""
    from skimage.transform import resize  # only runs with the CNN pay for its import

    a = np.asarray(image.array, dtype=np.float32)
    a = a[..., None] if a.ndim == 2 else a
    out = resize(a, (size, size, a.shape[-1]), anti_aliasing=True, preserve_range=True)
    low, high = float(out.min()), float(out.max())
    out = (out - low) / (high - low) if high > low else np.zeros_like(out)
    return np.moveaxis(out, -1, 0).astype(np.float16)


def _read_chunk(
    rows: Sequence[tuple[str, str, str | None]],
    settings: ImagesSettings,
    size: int,
    want_grey: bool,
) -> _Chunk:
    out = _Chunk([], [], [], [])
    radiomics = settings.radiomics() if "radiomics" in settings.features else None
    for sample, ref, mask_ref in rows:
        image = read_image(ref, settings.base, row=sample)
        mask = read_mask(mask_ref, settings.base, image, row=sample) if mask_ref else None
        grey = _grey(image)
        digest = hashlib.sha256(np.ascontiguousarray(image.array).tobytes())
        if mask is not None:
            digest.update(np.packbits(mask).tobytes())
        meta = {k: image.meta.get(k) for k in (*META_FIELDS, "patient_data", *FLAGS)}
        meta["sha256"] = digest.hexdigest()
        meta |= {
            "ndim": image.ndim,
            "channels": image.channels,
            "shape": list(grey.shape),
            "spacing": list(image.spacing),
            "spacing_known": image.spacing_known,
            "roi_voxels": int(mask.sum()) if mask is not None else int(grey.size),
            "orientation": image.meta.get("orientation"),
            "intensity": _finite_range(image.array),
        }
        out.meta.append(meta)
        if radiomics is not None:
            try:
                out.radiomics.append(radiomics_features(grey, mask, image.spacing, radiomics))
            except ValueError as exc:  # e.g. a bin width giving more than 1024 grey levels
                raise UserError(errors.IMAGE_RADIOMICS, path=ref, row=sample, reason=exc) from None
        if size:
            if image.ndim != 2:
                raise UserError(errors.IMAGE_CNN_NOT_2D, path=ref, row=sample, what="the CNN")
            if not np.isfinite(image.array).all():
                raise UserError(errors.IMAGE_NOT_FINITE, path=ref, row=sample)
            out.cnn.append(_cnn_square(image, size))
        if want_grey:
            if image.ndim != 2:
                raise UserError(errors.IMAGE_CNN_NOT_2D, path=ref, row=sample, what="the encoder")
            out.grey.append(grey if image.channels == 1 else np.asarray(image.array))
    return out


def _chunks(rows: list[tuple[str, str, str | None]]) -> Iterator[list[tuple[str, str, str | None]]]:
    for start in range(0, len(rows), CHUNK):
        yield rows[start : start + CHUNK]


def cnn_size(settings: ImagesSettings, first: Image) -> int:
    """The CNN's input side: ``--cnn-size``, or the first image's largest side up to 64."""
    if settings.cnn_size:
        return int(settings.cnn_size)
    return int(min(max(first.array.shape[:2]), CNN_MAX_SIZE))


def images_features(
    settings: ImagesSettings, images: pd.Series, masks: pd.Series | None
) -> ImagesFeatures:
    """Read every sample's image (and mask) and build the run's image features.

    ``images`` (and ``masks``) are the manifest's columns, indexed by sample ID."""
    started = time.perf_counter()
    unknown = [f for f in settings.features if f not in FEATURES]
    if unknown:
        raise ValueError(f"unknown image features {unknown}")
    ids = [str(i) for i in images.index]
    refs = _references(images, settings.column, settings.source)
    mask_refs: list[str | None] = (
        _references(masks, str(settings.mask_column), settings.source)
        if masks is not None
        else [None] * len(refs)
    )
    encoder = ImageEncoder.load(settings.encoder) if "encoder" in settings.features else None
    size = 0
    if "cnn" in settings.features:
        first = read_image(refs[0], settings.base, row=ids[0])
        size = cnn_size(settings, first)
    rows = list(zip(ids, refs, mask_refs, strict=True))
    chunks = Parallel(n_jobs=settings.n_jobs, return_as="generator")(
        delayed(_read_chunk)(chunk, settings, size, encoder is not None) for chunk in _chunks(rows)
    )
    radiomics_rows: list[dict[str, float]] = []
    meta: list[dict[str, Any]] = []
    cnn: list[np.ndarray] = []
    embeddings: list[np.ndarray] = []
    for chunk in chunks:
        radiomics_rows += chunk.radiomics
        meta += chunk.meta
        cnn += chunk.cnn
        if encoder is not None:
            embeddings.append(encoder.encode(chunk.grey))
    ndims = {m["ndim"] for m in meta}
    if len(ndims) > 1:
        two = next(i for i, m in zip(ids, meta, strict=True) if m["ndim"] == 2)
        three = next(i for i, m in zip(ids, meta, strict=True) if m["ndim"] == 3)
        raise UserError(errors.IMAGES_MIXED_DIMENSIONS, path=settings.source, two=two, three=three)
    blocks: list[pd.DataFrame] = []
    summary = _summary(settings, meta)
    warnings: list[str] = []
    if "radiomics" in settings.features:
        names = feature_names(next(iter(ndims)), settings.radiomics())
        table = pd.DataFrame(radiomics_rows, index=ids).reindex(columns=names).astype(float)
        # a run leaves out what no image defines; a saved run keeps the run's columns (a
        # batch of new images may leave one undefined: missing, imputed as in training)
        empty = (
            [c for c in table.columns if table[c].isna().all()] if settings.drop_undefined else []
        )
        table = table.drop(columns=empty)
        blocks.append(table)
        summary["radiomics"] = {
            "columns": int(table.shape[1]),
            "undefined_columns": len(empty),
            "families": sorted({c.split(":")[1] for c in table.columns}),
            "discretisation": (
                {"bin_width": settings.bin_width}
                if settings.bin_width is not None
                else {"bins": settings.bins}
            ),
            "aggregation": "3D merged" if 3 in ndims else "2D merged",
        }
        if empty:
            warnings.append(
                f"images: {len(empty)} radiomics feature(s) undefined for every image and left "
                f"out (e.g. {empty[0]})"
            )
    if encoder is not None:
        values = np.vstack(embeddings) if embeddings else np.empty((0, 0))
        blocks.append(
            pd.DataFrame(
                values, index=ids, columns=[f"encoder:{i}" for i in range(values.shape[1])]
            )
        )
        summary["encoder"] = encoder.info()
    warnings += _reader_notes(meta)
    n_colour = sum(m["channels"] == 3 for m in meta)
    if n_colour and "radiomics" in settings.features:
        warnings.append(
            f"images: {n_colour} colour image(s) turned to grey (ITU-R 601 luma) for radiomics"
        )
    cnn_input = _cnn_table(cnn, settings.cnn_channels, warnings) if cnn else None
    if cnn_input is not None:
        summary["cnn"] = {
            "size": int(size),
            "channels": int(cnn_input.shape[1]),
            "settings": cnn_settings(settings.preset),
        }
    columns = pd.concat(blocks, axis=1) if blocks else pd.DataFrame(index=ids)
    metadata = pd.DataFrame(
        {
            META_PREFIX + k: [m.get(k) for m in meta]
            for k in META_FIELDS
            if any(m.get(k) not in (None, "") for m in meta)
        }
        | {PIXELS_KEY: [m["sha256"] for m in meta]},  # the training-row overlap check
        index=ids,
    )
    summary["seconds"] = round(time.perf_counter() - started, 2)
    return ImagesFeatures(columns, metadata, summary, cnn_input, warnings)


def _finite_range(array: np.ndarray) -> list[float] | None:
    finite = np.asarray(array, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    return [float(finite.min()), float(finite.max())] if finite.size else None


def _reader_notes(meta: list[dict[str, Any]]) -> list[str]:
    """What the reader did (inversion, uneven slices, …) and where the voxel grids differ,
    for the run's notes: texture features are computed on each image's grid as stored."""
    notes = []
    for key, value, what in FLAG_NOTES:
        n = sum(m.get(key) is value for m in meta)
        if n:
            notes.append(f"images: {n} {what}")
    known = [m["spacing"] for m in meta if m["spacing_known"]]
    if known and meta[0]["ndim"] == 3:
        ratio = max(max(sp) / min(sp) for sp in known if min(sp) > 0)
        if ratio > ANISOTROPY_NOTE:
            notes.append(
                f"images: voxels up to {ratio:.1f}× longer on one axis than another; texture "
                "features are computed on the voxel grid as stored (no resampling to isotropic "
                "voxels), so a slice-thickness difference between scanners can show in them"
            )
    if len({tuple(round(v, 3) for v in sp) for sp in known}) > 1:
        notes.append(
            "images: the pixel spacing differs between images; shape features are in mm, "
            "texture features on each image's own grid (they can carry the scanner: audit by "
            "site, e.g. --site image:manufacturer)"
        )
    return notes


ANISOTROPY_NOTE = 1.5  # voxel side ratio above which the run notes the anisotropy


def _cnn_table(squares: list[np.ndarray], channels: int, warnings: list[str]) -> np.ndarray:
    """The CNN's input (N, C, S, S): one channel count for all — ``channels`` (a saved
    run's), else 3 when any image is in colour; grey repeated to 3 channels, colour turned to
    luma for 1, each change said in ``warnings``."""
    counts = Counter(int(a.shape[0]) for a in squares)
    want = channels or (3 if 3 in counts else 1)
    if want == 3 and counts.get(1):
        squares = [np.repeat(a, 3, axis=0) if a.shape[0] == 1 else a for a in squares]
        warnings.append(f"images: {counts[1]} grey image(s) repeated to 3 channels for the CNN")
    elif want == 1 and counts.get(3):
        luma = np.asarray([0.299, 0.587, 0.114], dtype=np.float32)[:, None, None]
        squares = [
            (a.astype(np.float32) * luma).sum(0, keepdims=True).astype(np.float16)
            if a.shape[0] == 3
            else a
            for a in squares
        ]
        warnings.append(
            f"images: {counts[3]} colour image(s) turned to grey (luma) for the run's CNN"
        )
    return np.stack(squares)


def _counted(values: Sequence[Any], min_cell: int) -> dict[str, int | str]:
    """Counts of each value, those under ``min_cell`` shown as ``"<min_cell"``."""
    counts = Counter(str(v) for v in values if v not in (None, ""))
    return {k: (n if n >= min_cell else f"<{min_cell}") for k, n in sorted(counts.items())}


def _summary(settings: ImagesSettings, meta: list[dict[str, Any]]) -> dict[str, Any]:
    shapes = np.asarray([m["shape"] for m in meta], dtype=float)
    spacing_known = [m for m in meta if m["spacing_known"]]
    spacings = np.asarray([m["spacing"] for m in spacing_known], dtype=float)
    roi = np.asarray([m["roi_voxels"] for m in meta], dtype=float)
    return {
        "column": settings.column,
        "mask_column": settings.mask_column,
        "features": list(settings.features),
        "n_images": len(meta),
        "ndim": int(meta[0]["ndim"]) if meta else None,
        "formats": _counted([m["format"] for m in meta], 1),
        "channels": _counted([m["channels"] for m in meta], 1),
        "shape_min": shapes.min(axis=0).astype(int).tolist() if len(shapes) else [],
        "shape_max": shapes.max(axis=0).astype(int).tolist() if len(shapes) else [],
        "spacing_known": len(spacing_known),
        "spacing_min": spacings.min(axis=0).round(4).tolist() if len(spacings) else [],
        "spacing_max": spacings.max(axis=0).round(4).tolist() if len(spacings) else [],
        "modalities": _counted([m.get("modality") for m in meta], settings.min_cell),
        "manufacturers": _counted([m.get("manufacturer") for m in meta], settings.min_cell),
        "with_patient_data": sum(bool(m.get("patient_data")) for m in meta),
        "roi_voxels_median": float(np.median(roi)) if len(roi) else None,
        "orientations": _counted([m.get("orientation") for m in meta], 1),
        # over all images, after the DICOM rescale: the units the radiomics bins are in
        "intensity_min": min((m["intensity"][0] for m in meta if m["intensity"]), default=None),
        "intensity_max": max((m["intensity"][1] for m in meta if m["intensity"]), default=None),
        # the pixels (and masks) read, in manifest order: a resumed run must read the same
        "pixels_sha256": hashlib.sha256("".join(m["sha256"] for m in meta).encode()).hexdigest(),
    }


def paths_to_obs(adata: ad.AnnData, columns: list[str]) -> ad.AnnData:
    """The manifest's image and mask paths moved from the (categorical) features to ``obs``:
    read as features, so a manifest without clinical columns is not refused as featureless,
    and never modelled."""
    categorical = adata.obsm.get("categorical")
    if categorical is None or not any(c in categorical.columns for c in columns):
        return adata
    adata = adata.copy()
    categorical = adata.obsm["categorical"]
    for column in columns:
        if column in categorical.columns:
            adata.obs[column] = categorical[column].astype(str).to_numpy()
    adata.obsm["categorical"] = categorical.drop(columns=[c for c in columns if c in categorical])
    adata.uns["notes"] = [  # "has a different value for every sample, like an ID": a path does
        n for n in adata.uns.get("notes", []) if not any(f"column '{c}'" in n for c in columns)
    ]
    return adata


def with_image_columns(
    adata: ad.AnnData, made: ImagesFeatures, settings: ImagesSettings
) -> ad.AnnData:
    """``adata`` with the image features appended to ``X`` (each row from its own image, as
    a read-stage Featurizer appends), the metadata as ``image:<field>`` columns of ``obs``
    (for ``--site`` and the audit; not features) and the path columns dropped from ``obs``."""
    paths = [c for c in (settings.column, settings.mask_column) if c]
    kept = adata.copy()
    kept.obs = adata.obs.drop(columns=[c for c in paths if c in adata.obs.columns])
    for column in made.metadata.columns:
        kept.obs[column] = made.metadata[column].reindex(kept.obs.index.astype(str)).to_numpy()
    out = append_columns(kept, made.columns.reindex(adata.obs_names.astype(str)), "images")
    if "source" in out.var.columns:
        out.var["source"] = out.var["source"].fillna("images")
    out.uns["notes"] = [*out.uns["notes"], *made.warnings]
    return out
