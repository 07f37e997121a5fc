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
  <insightome.apps.admet.bundle.AdmetBundle.profile>`, one row per input row (invalid rows
  included, with their reason), in input order; the caller's ``id`` and ``row`` columns
  come first when present.
* ``summary.json`` — the bundle (id, creation time, seed, preset, level, package versions,
  each endpoint's scaffold-CV estimate), the input file and its SHA-256, the counts, and
  per endpoint the share of predictions in the applicability domain, the share clipped to
  the physical range and the median interval width (regression) or the share of
  single-label prediction sets (binary); the invalid rows with their reasons.
* ``report.html`` — inline CSS, the approved-drug percentile heatmap as a PNG data URI and
  the structures as SVG data URIs: no scripts and nothing fetched, so it opens offline.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from insightome import __version__
from insightome.apps.admet.bundle import ADMET_PACKAGES
from insightome.apps.admet.endpoints import ENDPOINTS, Endpoint, endpoint
from insightome.apps.admet.optimize_report import _f, _json_ready, _structure
from insightome.errors import UserError
from insightome.io.atomic import replacing_directory
from insightome.report.html import template_environment
from insightome.run_record import versions

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

SCHEMA = "insightome.admet-predict/1"
TEMPLATE = "admet.html.j2"
PREDICTIONS_FILE = "predictions.csv"
SUMMARY_FILE = "summary.json"
REPORT_FILE = "report.html"
MAX_MOLECULES = 200  # molecule cards in the report (predictions.csv holds every row)
MAX_HEATMAP = 50  # molecules (rows) in the percentile heatmap
OOD_COLOUR = "#D55E00"  # Okabe–Ito vermillion: hatching of out-of-domain heatmap cells
PHYSCHEM = ("MW", "cLogP", "TPSA", "HBD", "HBA", "RotB", "QED")
DISCLAIMER = (
    "Every value here is a model's estimate; no assay has measured these molecules. A "
    "prediction outside its model's applicability domain is unreliable, and no prediction is "
    "evidence of safety or efficacy: do not base clinical or regulatory decisions on them."
)

OUT_NOT_OURS = (
    "{path}: exists and is not an insightome ADMET prediction output (no summary.json with "
    "schema {schema}). Choose another --out, or remove it."
)
OUT_IS_FILE = "{path}: is a file, not a directory. Choose another --out."

#: How a binary endpoint's conformal prediction set reads.
SET_LABELS = {
    "0": "{0}",
    "1": "{1}",
    "0,1": "{0, 1}: undecided",
    "": "∅: neither class",
}


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


# -- summary.json ----------------------------------------------------------------------


def _ordered(names: Sequence[str]) -> list[str]:
    """Endpoint stems in TDC's leaderboard order (absorption → toxicity)."""
    order = {e.stem: i for i, e in enumerate(ENDPOINTS.values())}
    return sorted(names, key=lambda n: order.get(n, len(order)))


def _share(mask: np.ndarray) -> float | None:
    return float(np.mean(mask)) if mask.size else None


def endpoint_statistics(table: pd.DataFrame, name: str, task: str) -> dict[str, Any]:
    """How one endpoint's predictions on this input look: domain, clipping, uncertainty."""
    ok = table["valid"].to_numpy(bool)
    in_domain = table[f"{name}_in_domain"].to_numpy(bool)[ok]
    stats: dict[str, Any] = {
        "n_predicted": int(ok.sum()),
        "share_in_domain": _share(in_domain),
        "n_out_of_domain": int((~in_domain).sum()),
        "share_clipped": _share(table[f"{name}_clipped"].to_numpy(bool)[ok]),
    }
    if task == "regression":
        width = (table[f"{name}_upper"] - table[f"{name}_lower"]).to_numpy(float)[ok]
        width = width[np.isfinite(width)]
        stats["median_interval_width"] = float(np.median(width)) if width.size else None
    else:
        sets = table[f"{name}_set"].fillna("").astype(str).to_numpy()[ok]
        stats["share_singleton_sets"] = _share(np.isin(sets, ["0", "1"]))
        stats["share_both_labels"] = _share(sets == "0,1")
        stats["share_empty_sets"] = _share(sets == "")
    return stats


def _bundle_sha256(bundle: AdmetBundle) -> str | None:
    """The bundle file's SHA-256 from the manifest (or the bundle's ``manifest.json``)."""
    found = bundle.manifest.get("bundle_sha256")
    if found is None and bundle.path is not None:
        try:
            found = json.loads((Path(bundle.path) / "manifest.json").read_text()).get(
                "bundle_sha256"
            )
        except (OSError, ValueError, AttributeError):
            found = None
    return found


def predictions_summary(
    table: pd.DataFrame,
    bundle: AdmetBundle,
    *,
    source: Path,
    input_sha256: str,
    invalid: Sequence[dict[str, Any]],
) -> dict[str, Any]:
    """What ``summary.json`` holds (plain data; NaN → null when written)."""
    manifest = bundle.manifest
    models = {s["endpoint"]: s for s in bundle.summary()}
    ok = table["valid"].to_numpy(bool)
    endpoints = {}
    for name in _ordered(bundle.endpoints):
        model = models[name]
        ep = endpoint(name)
        endpoints[name] = {
            "tdc_name": ep.name,
            "category": ep.category,
            "task": model["task"],
            "unit": ep.unit,
            "metric": ep.metric,
            "scaffold_cv_estimate": model["scaffold_cv_estimate"],
            "n_train": model["n_train"],
            "ad_threshold": model["ad_threshold"],
            "modelled_as": model["modelled_as"],
            **endpoint_statistics(table, name, model["task"]),
        }
    return {
        "schema": SCHEMA,
        "insightome_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "disclaimer": DISCLAIMER,
        "bundle": {
            "bundle_id": bundle.bundle_id,
            "created": manifest.get("created"),
            "path": None if bundle.path is None else str(Path(bundle.path).resolve()),
            "bundle_sha256": _bundle_sha256(bundle),
            "seed": manifest.get("seed"),
            "preset": manifest.get("preset"),
            "conformal_level": bundle.level,
            "versions": manifest.get("versions", {}),
            "drug_reference": manifest.get("drug_reference", {}),
        },
        "versions_at_prediction": versions(ADMET_PACKAGES),
        "input": {
            "path": str(Path(source).resolve()),
            "name": Path(source).name,
            "sha256": input_sha256,
        },
        "counts": {
            "molecules": len(table),
            "valid": int(ok.sum()),
            "invalid": int((~ok).sum()),
        },
        "level": bundle.level,
        "endpoints": endpoints,
        "invalid": [dict(item) for item in invalid],
        "files": {
            "predictions": PREDICTIONS_FILE,
            "summary": SUMMARY_FILE,
            "report": REPORT_FILE,
        },
    }


# -- HTML ------------------------------------------------------------------------------


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

    from insightome.report.plots import new_figure, to_data_uri

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
