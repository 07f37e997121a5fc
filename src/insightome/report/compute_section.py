"""The report's "Compute cost" section, from ``results["compute"]`` (``docs/energy.md``).

The section exists only when the results carry an energy ledger (a ``method`` or
``stages``); a ``compute`` key holding only the backend description adds nothing. The
method label decides the colour of the tag and the wording: nothing estimated is ever
called measured.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from insightome.report.formatting import MISSING, as_float, as_mapping, fmt, fmt_sig

__all__ = ["CAR_G_PER_KM", "build_compute"]

#: g CO2e per km of an average European passenger car: the Green Algorithms reference
#: value ``passengerCar_EU_perkm`` (data v2.2), used there for the same comparison.
CAR_G_PER_KM = 175.0
CAR_SOURCE = (
    "an average European passenger car, 175 g CO2e/km, the comparison used by Green "
    "Algorithms (Lannelongue et al., Adv. Sci. 2021)"
)
MEASURED_TEXT = (
    "Measured with Intel RAPL: the counters cover the whole CPU package, so every process "
    "on the machine and its idle power, not this run alone; memory is not included. Carbon "
    "still uses an assumed grid carbon intensity."
)
ESTIMATED_TEXT = (
    "Estimated, not measured: no readable energy counter was found, so energy is computed "
    "from the CPU seconds and peak memory of the run's processes with the Green Algorithms "
    "model and the constants below. Read it as an order of magnitude."
)


def build_compute(results: Mapping[str, Any]) -> dict[str, Any] | None:
    """Everything the "Compute cost" section shows, or ``None`` when there is no ledger."""
    compute = as_mapping(results.get("compute"))
    stages = as_mapping(compute.get("stages"))
    if not compute.get("method") and not stages:
        return None
    method = str(compute.get("method") or "unknown method")
    measured = method.startswith("measured")
    total = as_mapping(compute.get("total"))
    return {
        "method": method,
        "measured": measured,
        "explanation": MEASURED_TEXT if measured else ESTIMATED_TEXT,
        "scope": fmt(compute.get("scope")) if compute.get("scope") else "",
        "stages": [_row(str(name), as_mapping(rec)) for name, rec in stages.items()],
        "total": _row("total", total) if total else None,
        "constants": _constants(compute, measured),
        "summary": _summary(total),
        "backend_note": _backend_note(as_mapping(compute.get("backend"))),
        "quantum": _quantum_share(results, total),
    }


def _quantum_share(results: Mapping[str, Any], total: Mapping[str, Any]) -> str:
    """``--candidates …,quantum``: the simulation's share of the run's CPU time and energy."""
    cost = as_mapping(as_mapping(results.get("quantum")).get("simulation_cost"))
    seconds, kwh = as_float(cost.get("fit_seconds")), as_float(cost.get("energy_kwh"))
    if math.isnan(seconds):
        return ""
    cpu = as_float(total.get("cpu_s"))
    share = (
        "" if math.isnan(cpu) or cpu <= 0 else f" (~{min(seconds / cpu, 1.0):.0%} of its CPU time)"
    )
    energy = "" if math.isnan(kwh) else f", about {fmt_sig(kwh * 1000)} Wh"
    return (
        "Of this, the quantum candidates' cross-validation fits took "
        f"{fmt(seconds, 1)} s on one core each{share}{energy} (their time x the power per core "
        "x PUE; the Quantum candidates section above shows them by family)."
    )


def _row(name: str, record: Mapping[str, Any]) -> dict[str, str]:
    energy_kwh = as_float(record.get("energy_kwh"))
    # PSS (shared pages counted once) where the run could read it; older runs: RSS
    peak = as_float(record.get("peak_memory_mb", record.get("peak_rss_mb")))
    return {
        "name": name,
        "wall": fmt(as_float(record.get("wall_s")), 2),
        "cpu": fmt(as_float(record.get("cpu_s")), 2),
        "memory": MISSING if math.isnan(peak) else f"{peak:,.0f}",
        "energy": fmt_sig(energy_kwh * 1000),  # Wh
        "carbon": fmt_sig(as_float(record.get("carbon_g"))),
    }


def _constants(compute: Mapping[str, Any], measured: bool) -> list[dict[str, str]]:
    c = as_mapping(compute.get("constants"))
    rows = [
        (
            "CPU",
            f"{fmt(compute.get('cpu_model'))}, {fmt(compute.get('n_cores_available'))} "
            "cores available to the run",
        ),
    ]
    if measured:
        domains = c.get("rapl_domains") or []
        rows.append(("Energy counters", "RAPL " + (", ".join(map(str, domains)) or MISSING)))
    else:
        rows += [
            (
                "Power per core",
                f"{fmt(as_float(c.get('core_power_w')), 2)} W — {fmt(c.get('core_power_source'))}",
            ),
            ("Power per GB of memory", f"{fmt(as_float(c.get('memory_power_w_per_gb')), 4)} W"),
        ]
    rows += [
        ("PUE (data-centre overhead)", fmt(as_float(c.get("pue")), 2)),
        (
            "Carbon intensity",
            f"{fmt(as_float(c.get('carbon_intensity_g_per_kwh')), 1)} "
            f"g CO2e/kWh — {fmt(c.get('carbon_intensity_source'))}",
        ),
        ("Formula", fmt(c.get("formula"))),
        ("Reference", fmt(c.get("reference"))),
    ]
    return [{"name": name, "value": value} for name, value in rows]


def _summary(total: Mapping[str, Any]) -> str:
    """One sentence in plain words, with a sourced everyday comparison."""
    energy_wh = as_float(total.get("energy_kwh")) * 1000
    carbon = as_float(total.get("carbon_g"))
    if math.isnan(energy_wh) or math.isnan(carbon):
        return ""
    text = f"In all, about {fmt_sig(energy_wh)} Wh and {fmt_sig(carbon)} g CO2e"
    if carbon > 0:
        km = carbon / CAR_G_PER_KM
        if km >= 1:
            distance = f"{fmt_sig(km)} km"
        elif km >= 0.001:
            distance = f"{fmt_sig(km * 1000)} m"
        else:
            distance = f"{fmt_sig(km * 1e5)} cm"
        text += f": about as much CO2e as driving {distance} in {CAR_SOURCE}"
    return text + "."


def _backend_note(backend: Mapping[str, Any]) -> str:
    name = str(backend.get("backend") or "")
    if not name or "loky" in name or "local" in name:
        return ""
    machines = as_mapping(backend.get("machines"))
    remote = [str(m) for m in machines.get("not_measured") or []]
    where = f" Not measured: {'; '.join(remote)}." if remote else ""
    ended = list(as_mapping(backend.get("slurm_jobs")).get("ended_early") or [])
    if ended:
        where += (
            f" {len(ended)} worker job(s) ended before the run finished; their fits were "
            "rerun elsewhere (run.log has each event)."
        )
    return (
        f"The fits ran on {name}: the ledger measured only this machine (the main process "
        f"and the processes it started), so the energy of remote workers is not included." + where
    )
