"""The HTML page of an ``insightome admet predict`` output (``report.html``).

Inline CSS, the approved-drug percentile heatmap as a PNG data URI and the structures as SVG
data URIs: no scripts and nothing fetched, so it opens offline. Rendered from the prediction
table and its :func:`~insightome.apps.admet.prediction_summary.predictions_summary`.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from insightome import __version__
from insightome.apps.admet.endpoints import Endpoint, endpoint
from insightome.apps.admet.optimize_report import _f, _structure
from insightome.apps.admet.prediction_summary import DISCLAIMER
from insightome.report.html import template_environment
from insightome.report.plots import new_figure, to_data_uri

TEMPLATE = "admet.html.j2"
MAX_MOLECULES = 200  # molecule cards in the report (predictions.csv holds every row)
MAX_HEATMAP = 50  # molecules (rows) in the percentile heatmap
OOD_COLOUR = "#D55E00"  # Okabe–Ito vermillion: hatching of out-of-domain heatmap cells
PHYSCHEM = ("MW", "cLogP", "TPSA", "HBD", "HBA", "RotB", "QED")

#: How a binary endpoint's conformal prediction set reads.
SET_LABELS = {
    "0": "{0}",
    "1": "{1}",
    "0,1": "{0, 1}: undecided",
    "": "∅: neither class",
}


def render_admet_html(
    table: pd.DataFrame,
    summary: dict[str, Any],
    *,
    max_molecules: int = MAX_MOLECULES,
) -> str:
    """The report as one self-contained HTML string (Jinja2 autoescaping on), from the
    prediction table and its :func:`predictions_summary`."""
    environment = template_environment()
    context = _context(table, summary, max_molecules)
    return environment.get_template(TEMPLATE).render(**context)


def _short_unit(ep: Endpoint) -> str:
    """The unit without its explanation ('logS', 'L/kg'); 'P(Y = 1)' for binary endpoints."""
    return "P(Y = 1)" if ep.is_binary else ep.unit.split(",")[0].strip()


def _ci(estimate: dict[str, Any]) -> str:
    lo, hi = (estimate.get("ci95") or [math.nan, math.nan])[:2]
    return f"{_f(estimate.get('value'))} ({_f(lo)}–{_f(hi)})"


def _pct(value: Any) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "–"
    return f"{number:.0f}" if math.isfinite(number) else "–"


def _probability(value: Any) -> str:
    """A probability with two decimals ('0.07', '1.00'); '–' when missing."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "–"
    return f"{number:.2f}" if math.isfinite(number) else "–"


def _share_text(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _labels(table: pd.DataFrame) -> list[str]:
    """A name for each row: its ID, else 'row N'."""
    rows = table["row"].tolist() if "row" in table else list(range(1, len(table) + 1))
    ids = table["id"].fillna("").astype(str).tolist() if "id" in table else [""] * len(table)
    return [i.strip() or f"row {r}" for i, r in zip(ids, rows, strict=True)]


def _context(table: pd.DataFrame, summary: dict[str, Any], max_molecules: int) -> dict[str, Any]:
    names = list(summary["endpoints"])
    level = summary["level"]
    thresholds = sorted({float(e["ad_threshold"]) for e in summary["endpoints"].values()})
    labels = _labels(table)
    ok = table["valid"].to_numpy(bool)
    valid_positions = np.flatnonzero(ok)
    shown = valid_positions[: max(0, max_molecules)]
    counts = summary["counts"]
    n_ood = sum(e["n_out_of_domain"] for e in summary["endpoints"].values())
    any_ood = 0
    if names and counts["valid"]:
        flags = np.column_stack([table[f"{n}_in_domain"].to_numpy(bool) for n in names])
        any_ood = int((~flags[ok]).any(axis=1).sum())
    return {
        "version": __version__,
        "created": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "disclaimer": DISCLAIMER,
        "source": summary["input"]["name"],
        "input_sha256": summary["input"]["sha256"],
        "bundle": {
            "id": summary["bundle"]["bundle_id"],
            "created": summary["bundle"]["created"] or "–",
            "preset": summary["bundle"]["preset"] or "–",
            "seed": summary["bundle"]["seed"],
            "n_endpoints": len(names),
            "drug_reference": (summary["bundle"]["drug_reference"] or {}).get("n_molecules"),
        },
        "level": f"{level:.0%}",
        "ad_threshold": " / ".join(f"{t:g}" for t in thresholds) or "–",
        "counts": counts,
        "n_predictions": counts["valid"] * len(names),
        "n_ood": n_ood,
        "n_molecules_ood": any_ood,
        "models": [_model_row(n, e) for n, e in summary["endpoints"].items()],
        "heatmap": _heatmap(table, names, labels, ok) if counts["valid"] and names else "",
        "n_heatmap": min(MAX_HEATMAP, counts["valid"]),
        "molecules": [_card(table, i, labels[i], names) for i in shown],
        "n_hidden": max(0, len(valid_positions) - len(shown)),
        "max_molecules": max(0, max_molecules),
        "invalid": [
            {
                "row": item.get("row", ""),
                "id": item.get("id", ""),
                "input": item.get("input", ""),
                "reason": item.get("reason", ""),
            }
            for item in summary["invalid"]
        ],
        "files": summary["files"],
    }


def _model_row(name: str, entry: dict[str, Any]) -> dict[str, Any]:
    ep = endpoint(name)
    if entry["task"] == "regression":
        spread = f"median width {_f(entry.get('median_interval_width'))}"
    else:
        spread = f"{_share_text(entry.get('share_singleton_sets'))} single-label sets"
    return {
        "name": ep.name,
        "category": ep.category,
        "description": ep.description,
        "unit": ep.unit,
        "task": entry["task"],
        "log": entry.get("modelled_as", "Y") != "Y",
        "metric": ep.metric + (" ↓" if not ep.higher_is_better else ""),
        "estimate": _ci(entry["scaffold_cv_estimate"]),
        "n_train": entry["n_train"],
        "ad_threshold": f"{float(entry['ad_threshold']):g}",
        "in_domain": _share_text(entry.get("share_in_domain")),
        "clipped": _share_text(entry.get("share_clipped")),
        "spread": spread,
    }


def _card(table: pd.DataFrame, position: int, label: str, names: list[str]) -> dict[str, Any]:
    """One molecule's formatted card: structure, identity, alerts, physchem, endpoints."""
    row = table.iloc[position].to_dict()
    smiles = str(row.get("smiles") or "")
    given = str(row.get("input") or "")
    physchem = [
        {"name": p, "value": _f(row.get(p)), "percentile": _pct(row.get(f"{p}_drug_percentile"))}
        for p in PHYSCHEM
        if p in row
    ]
    alerts = [a.strip() for a in str(row.get("alerts") or "").split(";") if a.strip()]
    return {
        "label": label,
        "row": row.get("row", position + 1),
        "smiles": smiles,
        "input": given if given and given != smiles else "",
        "image": _structure(smiles) if smiles else "",
        "alerts": alerts,
        "physchem": physchem,
        "sa": _f(row.get("SA"), 2),
        "endpoints": [_endpoint_cell(row, n) for n in names],
    }


def _endpoint_cell(row: dict[str, Any], name: str) -> dict[str, Any]:
    ep = endpoint(name)
    value = row.get(name)
    if ep.is_binary:
        shown = f"P = {_probability(value)}"
        detail = "set " + SET_LABELS.get(str(row.get(f"{name}_set") or ""), "?")
    else:
        shown = _f(value)
        detail = f"[{_f(row.get(f'{name}_lower'))}, {_f(row.get(f'{name}_upper'))}]"
    in_domain = bool(row.get(f"{name}_in_domain"))
    return {
        "name": ep.name,
        "category": ep.category,
        "unit": _short_unit(ep),
        "value": shown,
        "detail": detail,
        "percentile": _pct(row.get(f"{name}_drug_percentile")),
        "in_domain": in_domain,
        "similarity": _f(row.get(f"{name}_similarity"), 2),
        "clipped": bool(row.get(f"{name}_clipped")),
    }


def _heatmap(table: pd.DataFrame, names: list[str], labels: list[str], ok: np.ndarray) -> str:
    """Approved-drug percentiles of the first :data:`MAX_HEATMAP` valid molecules × endpoints;
    out-of-domain cells hatched, cells without a percentile white (PNG data URI)."""
    from matplotlib.patches import Rectangle

    rows = np.flatnonzero(ok)[:MAX_HEATMAP]
    values = np.full((len(rows), len(names)), np.nan)
    ood = np.zeros((len(rows), len(names)), dtype=bool)
    for j, name in enumerate(names):
        column = f"{name}_drug_percentile"
        if column in table:
            values[:, j] = table[column].to_numpy(float)[rows]
        ood[:, j] = ~table[f"{name}_in_domain"].to_numpy(bool)[rows]
    n_rows, n_cols = values.shape
    width = min(16.0, 2.6 + 0.42 * n_cols)
    height = min(16.0, 1.6 + 0.24 * n_rows)
    fig = new_figure((width, height))
    ax = fig.add_subplot()
    cmap = _colormap()
    image = ax.imshow(
        np.ma.masked_invalid(values),
        cmap=cmap,
        vmin=0,
        vmax=100,
        aspect="auto",
        interpolation="nearest",
    )
    for i, j in zip(*np.nonzero(ood), strict=True):
        ax.add_patch(
            Rectangle(
                (j - 0.5, i - 0.5),
                1,
                1,
                fill=False,
                hatch="///",
                hatchcolor=OOD_COLOUR,
                hatch_linewidth=1.4,
                edgecolor=OOD_COLOUR,
                linewidth=1.2,
            )
        )
    if n_rows <= 25 and n_cols <= 24:
        for i in range(n_rows):
            for j in range(n_cols):
                if np.isfinite(values[i, j]):
                    dark = values[i, j] < 60  # viridis is dark below ~60
                    ax.text(
                        j,
                        i,
                        f"{values[i, j]:.0f}",
                        ha="center",
                        va="center",
                        fontsize=6.5,
                        color="white" if dark else "#1f2328",
                    )
    ax.set_xticks(range(n_cols))
    ax.set_xticklabels([endpoint(n).name for n in names], rotation=55, ha="right", fontsize=7)
    ax.set_yticks(range(n_rows))
    ax.set_yticklabels([_clip_label(labels[r]) for r in rows], fontsize=7)
    ax.set_xticks(np.arange(-0.5, n_cols, 1), minor=True)
    ax.set_yticks(np.arange(-0.5, n_rows, 1), minor=True)
    ax.grid(which="minor", color="white", linewidth=0.8)
    ax.tick_params(which="minor", length=0)
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)
    bar = fig.colorbar(image, ax=ax, shrink=1.0 if n_rows <= 15 else 0.5, aspect=25)
    bar.set_label("percentile among approved drugs", fontsize=8)
    bar.ax.tick_params(labelsize=7)
    return to_data_uri(fig)


def _colormap() -> Any:
    """viridis (perceptually uniform, colour-blind safe); cells without a value white."""
    from matplotlib import colormaps

    return colormaps["viridis"].with_extremes(bad="white")


def _clip_label(label: str, width: int = 24) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"
