"""Images in a run (results.json ``images``, ``--image-column``; docs/images.md): what was
read (how many images, formats, dimensions, shapes, spacing, scanners), the features made
from them (radiomics settings, the user's encoder, the CNN's input) and how long it took.
Counts and settings only: no pixels, no patient identifiers from DICOM headers; counts of
modalities and manufacturers under ``--min-cell`` are shown as ``"<N"``."""

from __future__ import annotations

from insightome.results.fields import Record, optional


class RadiomicsSummary(Record):
    columns: int
    undefined_columns: int  # undefined for every image (left out)
    families: list[str]
    discretisation: dict[str, float]  # {"bins": n} or {"bin_width": w}
    aggregation: str  # "2D merged" or "3D merged" (IBSI texture-matrix aggregation)


class EncoderSummary(Record):
    format: str  # torchscript, torch.export or onnx
    file: str
    sha256: str
    name: str | None
    input_size: list[int]
    channels: int
    mean: list[float]
    std: list[float]
    scale: float | str  # pixels divided by it first, or "minmax" per image
    output: str | None
    output_dim: int  # embedding size: encoder:0 … encoder:output_dim-1


class CNNInput(Record):
    size: int  # the square side the CNN sees
    channels: int
    settings: dict[str, float] = optional()  # epochs, patience … (the plan stage adds them)


class ImagesSummary(Record):
    column: str
    mask_column: str | None
    features: list[str]
    n_images: int
    ndim: int | None
    formats: dict[str, int | str]
    channels: dict[str, int | str]
    shape_min: list[int]
    shape_max: list[int]
    spacing_known: int  # images whose pixel spacing the file states
    spacing_min: list[float]
    spacing_max: list[float]
    modalities: dict[str, int | str]
    manufacturers: dict[str, int | str]
    with_patient_data: int  # DICOM files naming a patient (the report shows no image of them
    # unless --show-images)
    roi_voxels_median: float | None
    orientations: dict[str, int | str]  # axis codes (e.g. LPS, RAS) where the file states them
    intensity_min: float | None  # over all images, after the DICOM rescale
    intensity_max: float | None
    pixels_sha256: str
    seconds: float
    radiomics: RadiomicsSummary = optional()
    encoder: EncoderSummary = optional()
    cnn: CNNInput = optional()
    # --show-images only: PNG data URIs of example images per class and of the CNN's
    # occlusion maps (the user asked for pictures of the images in the report)
    figures: dict[str, str] = optional()
