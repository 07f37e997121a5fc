"""The report's "Quantum candidates" section, from ``results["quantum"]``
(``--candidates …,quantum``; docs/quantum.md): every family side by side — its BBC-CV
estimate of its own selection [95% CI], plain CV, share of the run's bootstraps it won, CPU
time of its fits — then each quantum circuit in words, the simulator and its mode, and what
the simulation cost. Absent without the option."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from insightome.audit.performance_figures import LABELS
from insightome.report.formatting import as_float, as_mapping, fmt

__all__ = ["build_quantum"]

FAMILY_LABELS = {
    "default": "Classical candidates (the preset's set)",
    "quantum_kernel_svm": "Quantum-kernel SVM",
    "variational_quantum": "Variational quantum classifier",
    "rbf_svm": "RBF SVM on the same reduced features (classical control)",
}
NOT_ESTIMATED = "not estimated"


def build_quantum(results: Mapping[str, Any]) -> dict[str, Any] | None:
    """Everything the section shows, or ``None`` for a run without quantum candidates."""
    q = as_mapping(results.get("quantum"))
    if not q:
        return None
    label, why = LABELS["quantum"]
    rows = []
    for f in (as_mapping(x) for x in q.get("families") or []):
        ci = f.get("ci95") or [None, None]
        share = as_float(f.get("run_selection_frequency"))
        rows.append(
            {
                "family": FAMILY_LABELS.get(str(f.get("family")), str(f.get("family"))),
                "best": str(f.get("best", "")),
                "n_configurations": len(f.get("configurations") or []),
                "estimate": f"{fmt(f.get('value'))} ({fmt(ci[0])} to {fmt(ci[1])})",
                "plain_cv": fmt(f.get("plain_cv_value")),
                "share": "–" if share != share else f"{share:.0%}",
                "seconds": fmt(f.get("fit_seconds"), 1),
                "n_fits": fmt(f.get("n_fits")),
            }
        )
    for f in (as_mapping(x) for x in q.get("families_not_estimated") or []):
        family = str(f.get("family"))
        rows.append(
            {
                "family": FAMILY_LABELS.get(family, family),
                "best": NOT_ESTIMATED,
                "n_configurations": 0,
                "estimate": str(f.get("reason", "")),
                "plain_cv": "–",
                "share": "–",
                "seconds": "–",
                "n_fits": "–",
            }
        )
    cost = as_mapping(q.get("simulation_cost"))
    kwh = as_float(cost.get("energy_kwh"))
    circuits = [
        {"name": name, **as_mapping(c)} for name, c in as_mapping(q.get("circuits")).items()
    ]
    winner = str(q.get("winner_family", ""))
    return {
        "label": label,
        "why": why,
        "rows": rows,
        "circuits": circuits,
        "simulator": f"{q.get('library', '')}, {q.get('simulator', '')}: {q.get('mode', '')}",
        "winner": (
            f"The run's winner is a quantum model ({FAMILY_LABELS.get(winner, winner)})."
            if q.get("winner_is_quantum")
            else "The run's winner is a classical model."
        ),
        "cost": (
            "The quantum configurations' cross-validation fits took "
            f"{fmt(cost.get('fit_seconds'), 1)} s on one core each"
            + (
                ""
                if kwh != kwh
                else f", about {kwh * 1000:.3g} Wh and {fmt(cost.get('carbon_g'), 2)} g CO2e"
            )
            + f" ({cost.get('method', '')})."
        ),
        "question": str(q.get("question", "")),
    }
