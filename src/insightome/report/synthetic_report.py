"""The report of ``insightome synthesize``: one self-contained HTML page from the evidence.

Like the run report: inline CSS, figures as PNG data URIs, no scripts or links, Jinja2
autoescaping on. It holds aggregates only (the evidence has no row of the real cohort):
the gate and the choice first, then utility, privacy and fidelity of every generator
judged, the design (rows, hold-out, merged categories, columns left out), the compute cost
and the limits a reader must know.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from insightome import __version__
from insightome.number_format import MISSING, fmt_number
from insightome.report.html import template_environment

TEMPLATE = "synthetic.html.j2"

#: What the evidence cannot show, in the report's last section (docs/synthetic.md).
LIMITS = (
    "Synthetic rows are drawn from patterns learned from real patients: rare combinations "
    "that the privacy checks cannot see (a pattern shared by only a few patients) may still "
    "carry information about them. The gate is evidence, not a guarantee (no differential "
    "privacy).",
    "Every check compares the synthetic table with the real training rows using the real "
    "hold-out as the yardstick; at small n each interval is wide, and a check that cannot "
    "decide says 'insufficient evidence' and fails the gate.",
    "Utility is measured for the study's outcome only (TSTR by BBC-CV); other questions asked "
    "of the synthetic table (other outcomes, subgroups, rare events) are not validated by it.",
    "Results computed on synthetic data are hypotheses: confirm them on the real cohort "
    "before they are reported.",
)


#: The association measures' names as people read them.
MEASURES = {
    "spearman": "Spearman ρ",
    "cramers_v": "Cramér's V",
    "correlation_ratio": "correlation ratio η",
}


def render_report(evidence: Mapping[str, Any], figures: Sequence[Mapping[str, str]] = ()) -> str:
    """The report as a self-contained HTML string; ``figures`` are dicts with ``title``,
    ``uri`` (a PNG data URI) and ``caption``."""
    methods = evidence["methods"]
    context = {
        "version": __version__,
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "e": evidence,
        "gate": evidence["gate"],
        "chosen": evidence["chosen"],
        "utility": [_utility_row(m, j.get("utility")) for m, j in methods.items()],
        "privacy": {m: j["privacy"]["checks"] for m, j in methods.items()},
        "fidelity": {m: _fidelity(j["fidelity"]) for m, j in methods.items()},
        "generator_notes": {m: j.get("notes", []) for m, j in methods.items()},
        "figures": list(figures),
        "compute": _compute(evidence.get("compute") or {}),
        "limits": LIMITS,
        "measures": MEASURES,
        "n": fmt_number,
        "missing": MISSING,
    }
    return template_environment().get_template(TEMPLATE).render(**context)


def _estimate(e: Mapping[str, Any] | None) -> str:
    if not e or e.get("value") is None:
        return MISSING
    lo, hi = e["ci95"]
    return f"{fmt_number(e['value'])} ({fmt_number(lo)} to {fmt_number(hi)})"


def _utility_row(method: str, u: Mapping[str, Any] | None) -> dict[str, Any]:
    if not u:
        return {"method": method, "metric": MISSING, "real": MISSING, "synthetic": MISSING,
                "retained": MISSING, "secondary": []}  # fmt: skip
    secondary = [
        {"name": name, "real": _estimate(v["real"]), "synthetic": _estimate(v["synthetic"])}
        for name, v in (u.get("secondary") or {}).items()
    ]
    retained = u.get("retained")
    return {
        "method": method,
        "metric": u["metric"],
        "real": _estimate(u["real"]),
        "synthetic": _estimate(u["synthetic"]),
        "retained": MISSING if retained is None else f"{100 * retained:.0f}%",
        "secondary": secondary,
        "winners": (u.get("winner_real"), u.get("winner_synthetic")),
        "notes": u.get("notes", []),
    }


def _fidelity(f: Mapping[str, Any]) -> dict[str, Any]:
    pairs = f.get("pairs") or {}
    return {
        "summary": f.get("summary", ""),
        "columns": f.get("columns", []),
        "worst": pairs.get("worst", []),
        "pairs": pairs,
        "separation": f.get("distinguishability") or {},
        "groups": f.get("groups", []),
        "notes": f.get("notes", []),
    }


def _compute(c: Mapping[str, Any]) -> dict[str, str]:
    total = c.get("total") or {}
    if not total:
        return {}
    return {
        "wall": f"{fmt_number(total.get('wall_s'), '.1f')} s",
        "cpu": f"{fmt_number(total.get('cpu_s'), '.1f')} CPU-s",
        "energy": f"{fmt_number(1000 * (total.get('energy_kwh') or 0.0), '.3g')} Wh",
        "carbon": f"{fmt_number(total.get('carbon_g'), '.3g')} gCO2e",
        "method": str(c.get("method", "")),
    }
