"""Data input: read a user's data file (and optional annotation table) into an AnnData.

Samples are rows of the result. ``X`` holds the numeric features (float64, NaN =
missing), ``obsm['categorical']`` the non-numeric features, ``obs`` the columns kept
out of the features (target, survival, groups, ...) plus the annotation table, and
``uns['provenance']`` / ``uns['notes']`` say what was read and how. Every problem with
the user's files is raised as a one-line :class:`insightome.errors.UserError`.
"""

from insightome.io.loader import read
from insightome.io.provenance import file_sha256

__all__ = ["file_sha256", "read"]
