"""Write an optimization result: CSV tables, ``result.json`` and a self-contained HTML report.

:func:`write_optimization` builds every file in a temporary directory next to ``out_dir``
and then renames it into place, so ``out_dir`` holds either the complete previous output or
the complete new one, never a mix. An existing ``out_dir`` is replaced only when it is empty
or is itself an optimization output (its ``result.json`` carries :data:`SCHEMA`); anything else
is left alone and reported as a :class:`~insightome.errors.UserError`.

Files: ``pareto.csv`` (every Pareto molecule, best score first), ``history.csv`` (one row per
generation), ``seeds.csv`` (the seeds' scores), ``result.json`` (settings, counts, the three
tables) and ``report.html`` (inline CSS, the score-vs-generation plot as a PNG data URI and
the structures as SVG data URIs: no scripts and nothing fetched, so it opens offline).
"""

from __future__ import annotations

import base64
import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from insightome import __version__
from insightome.apps.admet.objective import ObjectiveTerm
from insightome.apps.admet.optimize import MORGAN_BITS, MORGAN_RADIUS, OptimizationResult
from insightome.errors import UserError
from insightome.io.atomic import replacing_directory
from insightome.report.html import template_environment
from insightome.report.plots import (
    BLUE,
    GREY,
    VERMILLION,
    new_figure,
    style_axes,
    to_data_uri,
)

__all__ = ["DISCLAIMER", "SCHEMA", "render_optimization_html", "write_optimization"]

SCHEMA = "insightome.optimize/1"
TEMPLATE = "optimize.html.j2"
TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "report" / "templates"
MAX_STRUCTURES = 50  # Pareto molecules drawn in the report (pareto.csv holds them all)
DISCLAIMER = (
    "These molecules are computational hypotheses: their properties are model predictions, "
    "unvalidated by synthesis or assay. Predictions outside a model's applicability domain "
    "are unreliable, and a high score is no evidence of activity, safety or synthesizability."
)

OUT_NOT_OURS = (
    "{path}: exists and is not an insightome optimize output (no result.json with schema "
    "{schema}). Choose another --out, or remove it."
)
OUT_IS_FILE = "{path}: is a file, not a directory. Choose another --out."


def write_optimization(
    result: OptimizationResult, out_dir: str | Path, *, max_structures: int = MAX_STRUCTURES
) -> Path:
    """Write the result into ``out_dir`` atomically and return the path of ``report.html``."""
    final = Path(out_dir)
    if final.exists() and not final.is_dir():
        raise UserError(OUT_IS_FILE, path=final)
    if final.is_dir() and any(final.iterdir()) and not _is_ours(final):
        raise UserError(OUT_NOT_OURS, path=final, schema=SCHEMA)
    with replacing_directory(final) as tmp:
        result.pareto.to_csv(tmp / "pareto.csv", index=False)
        result.history.to_csv(tmp / "history.csv", index=False)
        result.seeds.to_csv(tmp / "seeds.csv", index=False)
        payload = json.dumps(_json_ready(result_dict(result)), indent=2, allow_nan=False)
        (tmp / "result.json").write_text(payload + "\n", encoding="utf-8")
        html = render_optimization_html(result, max_structures=max_structures)
        (tmp / "report.html").write_text(html, encoding="utf-8")
    return final / "report.html"


def _is_ours(directory: Path) -> bool:
    try:
        return json.loads((directory / "result.json").read_text()).get("schema") == SCHEMA
    except (OSError, ValueError, AttributeError):
        return False


def result_dict(result: OptimizationResult) -> dict[str, Any]:
    """The result as plain data (what ``result.json`` holds)."""
    return {
        "schema": SCHEMA,
        "insightome_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "disclaimer": DISCLAIMER,
        "settings": result.settings,
        "counts": result.counts,
        "seconds": round(result.seconds, 3),
        "best_score": result.best_score,
        "best_seed_score": result.best_seed_score,
        "seeds": result.seeds.to_dict("records"),
        "history": result.history.to_dict("records"),
        "pareto": result.pareto.to_dict("records"),
    }


def _json_ready(obj: Any) -> Any:
    """numpy scalars → Python, NaN/inf → null."""
    if isinstance(obj, dict):
        return {str(k): _json_ready(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_ready(v) for v in obj]
    if isinstance(obj, np.integer | np.bool_):
        return obj.item()
    if isinstance(obj, float | np.floating):
        return None if not math.isfinite(float(obj)) else float(obj)
    return obj


# -- HTML ------------------------------------------------------------------------------


def render_optimization_html(
    result: OptimizationResult, *, max_structures: int = MAX_STRUCTURES
) -> str:
    """The report as one self-contained HTML string (Jinja2 autoescaping on)."""
    environment = template_environment()
    return environment.get_template(TEMPLATE).render(**_context(result, max_structures))


def _f(value: Any, digits: int = 3) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "–"
    return f"{number:.{digits}g}" if math.isfinite(number) else "–"


def _context(result: OptimizationResult, max_structures: int) -> dict[str, Any]:
    settings = result.settings
    objective = settings["objective"]
    terms = list(result.terms)
    predictor = settings.get("predictor")
    shown = result.pareto.head(max_structures)
    return {
        "version": __version__,
        "created": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "disclaimer": DISCLAIMER,
        "source": objective["source"],
        "headline": {
            "best": _f(result.best_score),
            "best_seed": _f(result.best_seed_score),
            "n_evaluated": result.counts["evaluated"],
            "n_pareto": len(result.pareto),
            "generations": objective["search"]["generations"],
            "seconds": f"{result.seconds:.1f}",
        },
        "objectives": [_objective_row(t) for t in terms],
        "penalties": _penalty_rows(objective["penalties"]),
        "search": [(k.replace("_", " "), v) for k, v in objective["search"].items()],
        "predictor": None
        if predictor is None
        else {
            "type": predictor["type"],
            "endpoints": ", ".join(predictor["endpoints"]),
            "level": f"{predictor['level']:.0%}",
        },
        "counts": result.counts,
        "columns": [t.property for t in terms],
        "seeds": [_molecule_row(r, terms) for r in result.seeds.to_dict("records")],
        "plot": _history_plot(result),
        "pareto": [_molecule_row(r, terms) for r in shown.to_dict("records")],
        "n_pareto_hidden": max(0, len(result.pareto) - len(shown)),
        "fingerprint": f"Morgan radius {MORGAN_RADIUS}, {MORGAN_BITS} bits",
    }


def _objective_row(term: ObjectiveTerm) -> dict[str, str]:
    found = term.endpoint
    if found is None:
        kind, unit = "built-in (RDKit)", ""
    else:
        kind = f"ADMET endpoint, {found.task}"
        unit = "P(Y = 1): " + found.unit if found.is_binary else found.unit
    return {
        "property": term.property,
        "kind": kind,
        "unit": unit,
        "ramp": term.describe(),
        "weight": _f(term.weight),
    }


def _penalty_rows(penalties: dict[str, Any]) -> list[tuple[str, str]]:
    ood, unc = penalties["out_of_domain"], penalties["uncertainty"]
    rows = [
        ("out of domain", f"× {1 - ood:g} per predicted objective out of domain"),
        ("uncertainty", f"× (1 − {unc:g}·u) per predicted objective, u ∈ [0, 1]"),
    ]
    if penalties["sa_max"] is None:
        rows.append(("synthetic accessibility", "off"))
    else:
        rows.append(
            (
                "synthetic accessibility",
                f"× 1 up to SA {penalties['sa_max']:g}, falling linearly to 0 at "
                f"{penalties['sa_zero']:g}",
            )
        )
    return rows


def _molecule_row(row: dict[str, Any], terms: list[ObjectiveTerm]) -> dict[str, Any]:
    """One molecule's formatted cells: value with interval or set, flags, score, similarity."""
    cells = []
    for term in terms:
        p = term.property
        value = _f(row.get(p))
        found = term.endpoint
        detail, flag = "", ""
        if found is not None:
            if found.is_binary:
                detail = f"set {{{row.get(f'{p}_set') or '∅'}}}"
            else:
                detail = f"[{_f(row.get(f'{p}_lower'))}, {_f(row.get(f'{p}_upper'))}]"
            flag = "" if row.get(f"{p}_in_domain") else "out of domain"
        cells.append(
            {
                "value": value,
                "detail": detail,
                "flag": flag,
                "desirability": _f(row.get(f"{p}_desirability"), 2),
            }
        )
    return {
        "name": row.get("name", ""),
        "smiles": row["smiles"],
        "image": _structure(row["smiles"]),
        "score": _f(row["score"]),
        "cells": cells,
        "sa": _f(row.get("SA")),
        "similarity": _f(row.get("similarity_to_seeds"), 2),
        "nearest": row.get("nearest_seed_name", ""),
        "is_seed": bool(row.get("is_seed", False)),
        "generation": row.get("generation", 0),
    }


def _structure(smiles: str, size: tuple[int, int] = (220, 160)) -> str:
    """A 2D depiction as an ``image/svg+xml`` data URI ('' if it cannot be drawn)."""
    from rdkit import Chem
    from rdkit.Chem.Draw import rdMolDraw2D

    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return ""
    drawer = rdMolDraw2D.MolDraw2DSVG(*size)
    drawer.drawOptions().clearBackground = False
    rdMolDraw2D.PrepareAndDrawMolecule(drawer, mol)
    drawer.FinishDrawing()
    svg = drawer.GetDrawingText().encode("utf-8")
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")


def _history_plot(result: OptimizationResult) -> str:
    history: pd.DataFrame = result.history
    fig = new_figure((6.0, 3.6))
    ax = fig.add_subplot()
    generation = history["generation"]
    ax.plot(
        generation, history["best_score"], color=VERMILLION, marker="o", ms=3, label="best so far"
    )
    ax.plot(
        generation,
        history["population_mean"],
        color=BLUE,
        marker="o",
        ms=3,
        label="population mean",
    )
    ax.axhline(result.best_seed_score, color=GREY, linestyle="--", label="best seed")
    ax.set_xlabel("generation")
    ax.set_ylabel("score")
    ax.set_ylim(0, 1.02)
    ax.legend(frameon=False, loc="lower right")
    style_axes(ax)
    return to_data_uri(fig)
