"""Image features: IBSI radiomics computed per image over its region of interest."""

from insightome.featurize.images.radiomics import (
    FAMILIES,
    RadiomicsSettings,
    feature_names,
    ibsi_features,
    radiomics_features,
)

__all__ = [
    "FAMILIES",
    "RadiomicsSettings",
    "feature_names",
    "ibsi_features",
    "radiomics_features",
]
