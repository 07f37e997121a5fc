"""Render a run's ``results.json`` and out-of-fold predictions to one HTML file.

The page is self-contained: CSS is inline, figures are PNG data URIs, and there are no
scripts, fonts or links to fetch, so the file can be mailed, archived or opened offline.
Jinja2 autoescaping is on: every string from the results (names, warnings, paths) is
escaped, never interpreted as HTML.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from insightome.audit.evidence import NONE, Evidence
from insightome.errors import UserError
from insightome.report.context import build_context

__all__ = ["SCHEMA", "SCHEMA_UNKNOWN", "render_html", "write_report"]

SCHEMA = "insightome.results/1"
SCHEMA_UNKNOWN = (
    "results.json has schema '{schema}', but this insightome reads '{expected}'. Render it "
    "with the insightome version that made the run."
)
TEMPLATE = "report.html.j2"
TEMPLATES_DIR = Path(__file__).parent / "templates"


def template_environment() -> jinja2.Environment:
    """The Jinja2 environment of every insightome report template (autoescaping on)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    # Jinja's capitalize lowers the rest ("CV" → "cv"); labels keep their capitals
    env.filters["first_upper"] = lambda text: str(text)[:1].upper() + str(text)[1:]
    return env


def render_html(
    results: Mapping[str, Any], predictions: pd.DataFrame | None, evidence: Evidence = NONE
) -> str:
    """The report of one run as a self-contained HTML string.

    ``results`` is the ``results.json`` dict (``docs/results-schema.md``); optional keys
    may be missing. ``predictions`` are the winner's out-of-fold predictions indexed by
    sample ID; they are used only for aggregated figures, never printed row by row.
    ``evidence`` holds the run's validations and monitoring checks (read from the run
    directory by :func:`insightome.living_documents.read_evidence`).
    Raises :class:`~insightome.errors.UserError` for a schema this version cannot read.
    """
    schema = results.get("schema")
    if schema is not None and schema != SCHEMA:
        raise UserError(SCHEMA_UNKNOWN, schema=schema, expected=SCHEMA)
    context = build_context(results, predictions, evidence)
    return template_environment().get_template(TEMPLATE).render(**context)


def write_report(
    path: str | os.PathLike[str], results: Mapping[str, Any], predictions: pd.DataFrame | None
) -> None:
    """Render the report and write it to ``path`` as UTF-8."""
    Path(path).write_text(render_html(results, predictions), encoding="utf-8")
