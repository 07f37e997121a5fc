"""The images of samples scored by a saved run made with ``--image-column``.

``predict``, ``validate`` and ``monitor`` read the new samples' manifest as the run read
its own: the run's image (and mask) column holds each sample's image, paths relative to
the new manifest's folder. The image features are made by the same
:func:`insightome.images_features.images_features`, with the **run's** settings (results.json
``invocation`` and ``images``), so they match the model's features by name:

* radiomics with the run's discretisation (bins or bin width);
* the run's encoder file, which must still have the sha256 the run recorded (another
  encoder's embeddings would not mean what the model learned);
* with the CNN, the images resized to the run's CNN input size, given to the saved model
  (:class:`~insightome.models.image_cnn.CNNScore`) for this prediction only: the saved model
  keeps no image.

No pixel and no path reaches a result here: counts only.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anndata as ad

from insightome import errors
from insightome.errors import UserError
from insightome.images_features import (
    ImagesSettings,
    images_features,
    paths_to_obs,
    with_image_columns,
)
from insightome.models.image_cnn import CNNScore, ImageBank, with_images
from insightome.run_directory import file_sha256

IMAGES_NEEDED = (
    "{path}: the run's model was trained on images (insightome run --image-column {column}); "
    "the new manifest has no column '{column}'. Give each sample's image path in that column."
)
ENCODER_CHANGED = (
    "{path}: the run's image encoder changed since the run (sha256 differs), so its "
    "embeddings would not be the ones the model learned; restore the file or make a new run."
)
ENCODER_GONE = (
    "{path}: the run's image encoder is not there any more; restore it (the same file: its "
    "sha256 is checked) to use the run on new images."
)
CNN_INPUT_KEY = "image_cnn_input"  # adata.uns: (sample IDs, (N, C, S, S)) for the CNN
SUMMARY_KEY = "new_images"  # adata.uns: the new images' summary (counts)


def run_made_with_images(results: Mapping[str, Any]) -> bool:
    return bool(results.get("images"))


def _settings(results: Mapping[str, Any], base: Path | None, source: str) -> ImagesSettings:
    invocation = results.get("invocation") or {}
    summary = results["images"]
    encoder = invocation.get("image_encoder")
    if encoder:
        recorded = (summary.get("encoder") or {}).get("sha256")
        if not Path(encoder).is_file():
            raise UserError(ENCODER_GONE, path=encoder)
        if recorded and file_sha256(encoder) != recorded:
            raise UserError(ENCODER_CHANGED, path=encoder)
    return ImagesSettings(
        column=str(summary["column"]), mask_column=summary.get("mask_column"),
        features=tuple(summary.get("features") or ("radiomics",)), encoder=encoder,
        cnn_size=int((summary.get("cnn") or {}).get("size") or 0),
        bins=int(invocation.get("radiomics_bins") or 32),
        bin_width=invocation.get("radiomics_bin_width"), base=base, source=source,
        min_cell=int(invocation.get("min_cell") or 5), drop_undefined=False,
        cnn_channels=int((summary.get("cnn") or {}).get("channels") or 0),
    )  # fmt: skip


def with_new_images(results: Mapping[str, Any], adata: ad.AnnData, path: str | None) -> ad.AnnData:
    """``adata`` (the new samples) with the run's image features appended, the CNN's input
    kept in ``uns`` for :func:`model_with_images`; as it is for a run without images."""
    if not run_made_with_images(results):
        return adata
    source = path or "data"
    base = Path(path).resolve().parent if path else None
    settings = _settings(results, base, source)
    adata = paths_to_obs(adata, [c for c in (settings.column, settings.mask_column) if c])
    for column in (settings.column, settings.mask_column):
        if column and column not in adata.obs.columns:
            raise UserError(IMAGES_NEEDED, path=source, column=column)
    made = images_features(
        settings,
        adata.obs[settings.column],
        adata.obs[settings.mask_column] if settings.mask_column else None,
    )
    adata = with_image_columns(adata, made, settings)
    if made.cnn_input is not None:
        adata.uns[CNN_INPUT_KEY] = (list(map(str, adata.obs_names)), made.cnn_input)
    adata.uns[SUMMARY_KEY] = {
        k: made.summary[k] for k in ("n_images", "formats", "seconds", "pixels_sha256")
    }
    return adata


def check_run_images(results: Mapping[str, Any], adata: ad.AnnData, command: str) -> None:
    """A rerun on the run's own manifest (``discover``, ``audit``): its images must be the
    ones the run read (pixels and masks, by SHA-256)."""
    summary = adata.uns.get(SUMMARY_KEY)
    if summary is None or not run_made_with_images(results):
        return
    if summary["pixels_sha256"] != results["images"]["pixels_sha256"]:
        raise UserError(
            errors.OPTION_INVALID,
            option=command,
            reason="the run's images changed since the run (the SHA-256 of their pixels and "
            "masks differs); restore them or start a new run",
        )


def model_with_images(model: Any, adata: ad.AnnData) -> Any:
    """A saved CNN model given ``adata``'s images for this prediction (a copy: the saved
    model keeps none); any other model as it is."""
    if not isinstance(model, CNNScore):
        return model
    given = adata.uns.get(CNN_INPUT_KEY)
    if given is None:
        raise UserError(errors.IMAGES_NOT_GIVEN)
    ids, arrays = given
    return with_images(model, ImageBank(ids, arrays))


def new_images_line(adata: ad.AnnData) -> str:
    """The line on the new samples' images ('' without images)."""
    summary = adata.uns.get(SUMMARY_KEY)
    if summary is None:
        return ""
    kinds = ", ".join(f"{k} {v}" for k, v in summary["formats"].items())
    return f"images: {summary['n_images']} read ({kinds}) with the run's image settings"
