"""Write ADMET predictions: ``predictions.csv``, ``summary.json`` and a self-contained report.

:func:`write_admet_predictions` builds every file in a temporary directory next to
``out_dir`` and then renames it into place, so ``out_dir`` holds either the complete
previous output or the complete new one, never a mix (the pattern of
:mod:`insightome.apps.admet.optimize_report`). An existing ``out_dir`` is replaced only when
it is empty or is itself an ``insightome admet predict`` output (its ``summary.json``
carries :data:`SCHEMA`); anything else is left alone and reported as a
:class:`~insightome.errors.UserError`.

Files:

* ``predictions.csv`` — the full profile table of :meth:`AdmetBundle.profile
  <insightome.apps.admet.fitted_bundle.AdmetBundle.profile>`, one row per input row (invalid rows
  included, with their reason), in input order; the caller's ``id`` and ``row`` columns
  come first when present.
* ``summary.json`` — the bundle (id, creation time, seed, preset, level, package versions,
  each endpoint's scaffold-CV estimate), the input file and its SHA-256, the counts, and
  per endpoint the share of predictions in the applicability domain, the share clipped to
  the physical range and the median interval width (regression) or the share of
  single-label prediction sets (binary); the invalid rows with their reasons.
* ``report.html`` — inline CSS, the approved-drug percentile heatmap as a PNG data URI and
  the structures as SVG data URIs: no scripts and nothing fetched, so it opens offline.

``summary.json`` is built in :mod:`~insightome.apps.admet.prediction_summary`, ``report.html``
in :mod:`~insightome.apps.admet.prediction_html`; this module writes the three files.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from insightome.apps.admet.optimize_report import _json_ready
from insightome.apps.admet.prediction_html import MAX_HEATMAP, MAX_MOLECULES, render_admet_html
from insightome.apps.admet.prediction_summary import (
    DISCLAIMER,
    PREDICTIONS_FILE,
    REPORT_FILE,
    SCHEMA,
    SUMMARY_FILE,
    endpoint_statistics,
    predictions_summary,
)
from insightome.errors import UserError
from insightome.io.atomic import replacing_directory

if TYPE_CHECKING:
    from insightome.apps.admet.bundle import AdmetBundle

__all__ = [
    "DISCLAIMER",
    "MAX_HEATMAP",
    "MAX_MOLECULES",
    "SCHEMA",
    "check_out_dir",
    "endpoint_statistics",
    "predictions_summary",
    "render_admet_html",
    "write_admet_predictions",
]

OUT_NOT_OURS = (
    "{path}: exists and is not an insightome ADMET prediction output (no summary.json with "
    "schema {schema}). Choose another --out, or remove it."
)
OUT_IS_FILE = "{path}: is a file, not a directory. Choose another --out."


def check_out_dir(out_dir: str | Path) -> Path:
    """``out_dir`` as a Path; :class:`UserError` when it is a file, or a non-empty folder
    that is not an earlier ADMET prediction output (so it would not be replaced)."""
    final = Path(out_dir)
    if final.exists() and not final.is_dir():
        raise UserError(OUT_IS_FILE, path=final)
    if final.is_dir() and any(final.iterdir()) and not _is_ours(final):
        raise UserError(OUT_NOT_OURS, path=final, schema=SCHEMA)
    return final


def _is_ours(directory: Path) -> bool:
    try:
        return json.loads((directory / SUMMARY_FILE).read_text()).get("schema") == SCHEMA
    except (OSError, ValueError, AttributeError):
        return False


def write_admet_predictions(
    table: pd.DataFrame,
    bundle: AdmetBundle,
    out_dir: str | Path,
    *,
    source: Path,
    input_sha256: str,
    invalid: Sequence[dict[str, Any]],
    max_molecules: int = MAX_MOLECULES,
) -> Path:
    """Write the predictions into ``out_dir`` atomically and return the path of the report.

    ``table`` is :meth:`AdmetBundle.profile` output, optionally with ``id`` and ``row``
    (1-based row in ``source``) columns; ``invalid`` lists the rows that could not be
    predicted as dicts with ``row``, ``id``, ``input`` and ``reason``. Cards are drawn for
    the first ``max_molecules`` valid molecules; every row is in ``predictions.csv``.
    """
    final = check_out_dir(out_dir)
    summary = predictions_summary(
        table, bundle, source=source, input_sha256=input_sha256, invalid=invalid
    )
    with replacing_directory(final) as tmp:
        table.to_csv(tmp / PREDICTIONS_FILE, index=False)
        payload = json.dumps(_json_ready(summary), indent=2, allow_nan=False)
        (tmp / SUMMARY_FILE).write_text(payload + "\n", encoding="utf-8")
        html = render_admet_html(table, summary, max_molecules=max_molecules)
        (tmp / REPORT_FILE).write_text(html, encoding="utf-8")
    return final / REPORT_FILE
