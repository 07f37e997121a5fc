"""The report's "Images" section, from ``results["images"]`` (``--image-column``): what was
read, the features made from the images and, only when the run was asked with
``--show-images``, example images per class and the CNN's occlusion-sensitivity maps on
held-out images. Absent without images.

The pictures are made once, when the run is documented (:func:`image_figures`), from the
images themselves; they are stored in ``results["images"]["figures"]`` (PNG data URIs) so a
re-rendered report shows the same. Without ``--show-images`` no pixel leaves the images.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from insightome.groups.disclosure import MIN_CELL
from insightome.io.images import read_image
from insightome.models.image_cnn import SmallCNN, max_folds, occlusion_map
from insightome.report.figure_style import new_figure, to_data_uri
from insightome.report.formatting import as_float, as_mapping

__all__ = ["build_images", "image_figures"]

EXAMPLES_PER_CLASS = 4
OCCLUSION_EXAMPLES = 4


def build_images(results: Mapping[str, Any]) -> dict[str, Any] | None:
    """Everything the section shows, or ``None`` for a run without images."""
    images = as_mapping(results.get("images"))
    if not images:
        return None
    min_cell = int(as_float(as_mapping(results.get("invocation")).get("min_cell")) or MIN_CELL)
    formats = ", ".join(f"{k} {v}" for k, v in as_mapping(images.get("formats")).items())
    shape = _span(images.get("shape_min"), images.get("shape_max"), "×")
    spacing = _span(images.get("spacing_min"), images.get("spacing_max"), " × ", " mm")
    radiomics = as_mapping(images.get("radiomics"))
    encoder = as_mapping(images.get("encoder"))
    cnn = as_mapping(images.get("cnn"))
    discretisation = as_mapping(radiomics.get("discretisation"))
    return {
        "read": f"{images.get('n_images')} {images.get('ndim')}D images ({formats}) from "
        f"column '{images.get('column')}'"
        + (f", masks from '{images.get('mask_column')}'" if images.get("mask_column") else "")
        + f"; size {shape}",
        "spacing": (
            f"pixel spacing stated for {images.get('spacing_known')} of "
            f"{images.get('n_images')} images ({spacing})"
            if images.get("spacing_known")
            else "no pixel spacing stated: shape features are in pixels, not mm"
        ),
        "scanners": _counts(images.get("manufacturers")),
        "orientations": _counts(images.get("orientations")),
        "intensity": _intensity(images),
        "modalities": _counts(images.get("modalities")),
        "patient_data": int(as_float(images.get("with_patient_data")) or 0),
        "radiomics": (
            {
                "columns": radiomics.get("columns"),
                "families": ", ".join(radiomics.get("families") or []),
                "discretisation": (
                    f"fixed bin width {discretisation['bin_width']:g}"
                    if "bin_width" in discretisation
                    else f"{discretisation.get('bins')} bins over each region's range"
                ),
                "aggregation": radiomics.get("aggregation"),
                "undefined": radiomics.get("undefined_columns") or 0,
            }
            if radiomics
            else None
        ),
        "encoder": encoder or None,
        "cnn": cnn or None,
        "examples": as_mapping(images.get("figures")).get("examples"),
        "occlusion": as_mapping(images.get("figures")).get("occlusion"),
        "seconds": images.get("seconds"),
        "min_cell": min_cell,
    }


def _intensity(images: Mapping[str, Any]) -> str:
    low, high = as_float(images.get("intensity_min")), as_float(images.get("intensity_max"))
    return "" if math.isnan(low) or math.isnan(high) else f"{low:g} to {high:g}"


def _span(low: Any, high: Any, sep: str, unit: str = "") -> str:
    low, high = list(low or []), list(high or [])
    a = sep.join(f"{v:g}" for v in low)
    b = sep.join(f"{v:g}" for v in high)
    return f"{a}{unit}" if a == b else f"{a} to {b}{unit}"


def _counts(value: Any) -> str:
    counts = as_mapping(value)
    return ", ".join(f"{k} ({v})" for k, v in counts.items())


# -- the pictures (--show-images) -------------------------------------------------------


def _grid(
    rows: Sequence[tuple[str, Sequence[np.ndarray]]],
    overlays: Sequence[Sequence[np.ndarray]] | None = None,
) -> str:
    n_cols = max(len(images) for _, images in rows)
    fig = new_figure((1.6 * n_cols + 0.8, 1.7 * len(rows)))
    axes = fig.subplots(len(rows), n_cols, squeeze=False)
    for r, (label, images) in enumerate(rows):
        for c in range(n_cols):
            ax = axes[r][c]
            ax.set_axis_off()
            if c >= len(images):
                continue
            image = images[c]
            ax.imshow(image, cmap="gray" if image.ndim == 2 else None)
            if overlays is not None:
                heat = overlays[r][c]
                ax.imshow(heat, cmap="magma", alpha=0.45, vmin=0, vmax=max(heat.max(), 1e-6))
            if c == 0:
                ax.set_title(label, fontsize=8, loc="left")
    return to_data_uri(fig)


def _shown(ref: str, base: Path | None, sample: str) -> np.ndarray:
    """A picture of the image: 2D as is, a volume's middle slice; scaled to [0, 1]."""
    image = read_image(ref, base, row=sample)
    a = np.asarray(image.array, dtype=np.float32)
    if image.ndim == 3:
        a = a[a.shape[0] // 2]
    low, high = float(np.nanmin(a)), float(np.nanmax(a))
    return (a - low) / (high - low) if high > low else np.zeros_like(a)


def image_figures(
    refs: pd.Series,
    base: Path | None,
    y: pd.Series,
    classes: Sequence[Any],
    *,
    cnn_input: tuple[list[str], np.ndarray] | None,
    cnn_params: Mapping[str, Any] | None,
    groups: pd.Series | None,
    seed: int,
) -> dict[str, str]:
    """Example images per class and, with the CNN, its occlusion maps on held-out images
    (a CNN fitted on about 80% of the samples, shown on images it did not see).

    ``refs`` and ``y`` (class codes 0..k-1, ``classes`` their names) are indexed by sample
    ID; only for runs with ``--show-images``."""
    rng = np.random.default_rng(seed)
    rows: list[tuple[str, list[np.ndarray]]] = []
    for code, name in enumerate(classes):
        members = [str(i) for i in y.index[y.to_numpy() == code]]
        if not members:
            continue
        chosen = rng.choice(members, size=min(EXAMPLES_PER_CLASS, len(members)), replace=False)
        rows.append((str(name), [_shown(refs[s], base, s) for s in chosen]))
    figures = {"examples": _grid(rows)} if rows else {}
    if cnn_input is not None and len(classes) >= 2:
        occlusion = _occlusion_figure(cnn_input, y, classes, cnn_params or {}, groups, seed)
        if occlusion is not None:  # else too few samples (or patients) per class to hold out
            figures["occlusion"] = occlusion
    return figures


def _occlusion_figure(
    cnn_input: tuple[list[str], np.ndarray],
    y: pd.Series,
    classes: Sequence[Any],
    params: Mapping[str, Any],
    groups: pd.Series | None,
    seed: int,
) -> str | None:
    ids, arrays = cnn_input
    position = pd.Index(ids).get_indexer(y.index.astype(str))
    x = arrays[position].astype(np.float32)
    labels = y.to_numpy()
    group_of = None if groups is None else groups.reindex(y.index.astype(str)).to_numpy()
    k = min(5, max_folds(labels, group_of))
    if k < 2:
        return None
    if group_of is not None:
        split = StratifiedGroupKFold(k, shuffle=True, random_state=seed)
        train, test = next(split.split(x, labels, group_of))
    else:
        train, test = next(StratifiedKFold(k, shuffle=True, random_state=seed).split(x, labels))
    model = SmallCNN(**dict(params), seed=seed).fit(
        x[train], labels[train], None if group_of is None else group_of[train]
    )
    rng = np.random.default_rng(seed)
    picked = rng.choice(test, size=min(OCCLUSION_EXAMPLES, len(test)), replace=False)
    images = [np.moveaxis(x[i], 0, -1).squeeze(-1) if x.shape[1] == 1 else
              np.moveaxis(x[i], 0, -1) for i in picked]  # fmt: skip
    heat = [occlusion_map(model, x[i]) for i in picked]
    predicted = model.predict(x[picked])
    label = "held-out, class → predicted: " + ", ".join(
        f"{classes[int(labels[i])]} → {classes[int(p)]}"
        for i, p in zip(picked, predicted, strict=True)
    )
    return _grid([(label, images)], [[np.clip(h, 0, None) for h in heat]])
