"""The report's "Leakage screen" section, from ``results["leakage_screen"]``: the columns
that may carry the outcome into the model, found before any model was fitted, each with
why, its statistic and what to do. Absent in runs made before the screen existed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from insightome.report.formatting import as_mapping, fmt, plural

__all__ = ["build_leakage"]

REASON_LABELS = {
    "near_duplicate": "the outcome again",
    "near_perfect": "near-perfect alone",
    "association": "name and data agree",
    "identifier": "identifier",
    "name": "follow-up name",
}
ROLE_LABELS = {
    "feature": "feature",
    "sensitive": "sensitive attribute (not a feature)",
    "site": "site (not a feature)",
    "groups": "groups (not a feature)",
}


def build_leakage(results: Mapping[str, Any]) -> dict[str, Any] | None:
    """Everything the section shows, or ``None`` for a run without a screen."""
    screen = as_mapping(results.get("leakage_screen"))
    if not screen:
        return None
    thresholds = as_mapping(screen.get("thresholds"))
    statistic = str(screen.get("statistic", "statistic"))
    rows = [
        {
            "column": str(f.get("column")),
            "role": ROLE_LABELS.get(str(f.get("role")), str(f.get("role"))),
            "reasons": ", ".join(REASON_LABELS.get(r, str(r)) for r in f.get("reasons") or []),
            "statistic": fmt(f.get("statistic")),
            "detail": str(f.get("detail", "")),
            "suggestion": str(f.get("suggestion", "")),
        }
        for f in screen.get("findings") or []
    ]
    n_findings = int(screen.get("n_findings", len(rows)))
    checked, n_rows = int(screen.get("checked", 0)), int(screen.get("rows", 0))
    return {
        "warned": bool(screen.get("warned", bool(rows))),
        "summary": (
            f"{plural(checked, 'column')} screened on the {plural(n_rows, 'row')} the run "
            f"models; {plural(n_findings, 'finding')}."
        ),
        "method": (
            f"Before any model was fitted, each column was checked alone ({statistic}, "
            f"direction-free: near-perfect at ≥ {fmt(thresholds.get('near_perfect'))}), by "
            "name (follow-up, time-to-event and after-baseline words, whole words only), for "
            "identifiers (a different value in every row) and for copies of the outcome "
            f"(relabelled, or |Spearman rho| ≥ {fmt(thresholds.get('near_duplicate_rho'))}). "
            "The screen only warns: every column stayed in the run as given."
        ),
        "statistic": statistic,
        "rows": rows,
        "more": max(0, n_findings - len(rows)),
        "notes": [str(n) for n in screen.get("notes") or []],
    }
