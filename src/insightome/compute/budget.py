"""Compute budgets: ``--budget 30min`` (CPU time) or ``--budget 0.02kWh`` (energy).

A pilot fits every candidate once (the first fold of the first repeat — fits the full
run reuses) and measures each one's cost. From those costs the whole run is projected;
if it would exceed the budget, work is pruned in this documented order, each step only as
far as needed:

1. permutation reruns (fewest kept first: the p-value loses resolution, not validity);
2. CV repeats, down to one (the estimate's variance grows, not its bias);
3. candidate configurations, most expensive first, never below two (selection among
   fewer configurations is still honestly estimated by BBC-CV).

What was skipped is reported in results.json (``budget``) and in the report's warnings.
The projection uses fit seconds measured in the workers (≈ CPU seconds: fits are
single-threaded); energy budgets are converted to CPU seconds with the energy ledger's
per-core power and PUE.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from insightome import errors
from insightome.errors import UserError

if TYPE_CHECKING:  # numpy only annotates; the options check of --budget stays numpy-free
    import numpy as np

_BUDGET = re.compile(
    r"^\s*(?P<value>\d+(\.\d+)?)\s*(?P<unit>s|sec|min|m|h|kwh|wh)\s*$", re.IGNORECASE
)
_SECONDS = {"s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
MIN_CANDIDATES = 2


@dataclass(frozen=True)
class Budget:
    """A limit in CPU seconds (energy budgets are converted on construction)."""

    cpu_seconds: float
    text: str

    @classmethod
    def parse(cls, text: str, *, core_power_w: float, pue: float) -> Budget:
        m = _BUDGET.match(text)
        if not m or float(m["value"]) <= 0:
            raise UserError(
                errors.OPTION_INVALID,
                option="--budget",
                reason=f"'{text}' is not a budget like 30min, 2h, 900s (CPU time) or 0.05kWh",
            )
        value, unit = float(m["value"]), m["unit"].lower()
        if unit in ("kwh", "wh"):
            kwh = value / (1000.0 if unit == "wh" else 1.0)
            return cls(kwh * 3.6e6 / (core_power_w * pue), text)
        return cls(value * _SECONDS[unit], text)


@dataclass
class BudgetPlan:
    """What fits in the budget: kept candidates, repeats and permutations."""

    keep: list[int]
    repeats: int
    permutations: int
    projected_cpu_seconds: float
    skipped: list[str] = field(default_factory=list)

    def to_dict(self, budget: Budget, pilot_cpu_seconds: float) -> dict[str, object]:
        return {
            "budget": budget.text,
            "budget_cpu_seconds": budget.cpu_seconds,
            "pilot_cpu_seconds": pilot_cpu_seconds,
            "projected_cpu_seconds": self.projected_cpu_seconds,
            "repeats": self.repeats,
            "permutations": self.permutations,
            "skipped": list(self.skipped),
        }


def fit_to_budget(
    cost_per_fit: np.ndarray,
    names: list[str],
    *,
    folds: int,
    repeats: int,
    permutations: int,
    budget: Budget,
) -> BudgetPlan:
    """Prune permutations, then repeats, then the costliest candidates until it fits."""
    keep = list(range(len(cost_per_fit)))

    def projected(keep: list[int], repeats: int, permutations: int) -> float:
        return float(cost_per_fit[keep].sum()) * folds * repeats * (1 + permutations)

    skipped: list[str] = []
    wanted_perm, wanted_rep = permutations, repeats
    while permutations > 0 and projected(keep, repeats, permutations) > budget.cpu_seconds:
        permutations -= 1
    if permutations < wanted_perm:
        skipped.append(f"permutations: {permutations} of {wanted_perm} run")
    while repeats > 1 and projected(keep, repeats, permutations) > budget.cpu_seconds:
        repeats -= 1
    if repeats < wanted_rep:
        skipped.append(f"CV repeats: {repeats} of {wanted_rep} run")
    by_cost = sorted(keep, key=lambda c: -cost_per_fit[c])
    for c in by_cost:
        if (
            len(keep) <= MIN_CANDIDATES
            or projected(keep, repeats, permutations) <= budget.cpu_seconds
        ):
            break
        keep.remove(c)
        skipped.append(f"candidate {names[c]} ({cost_per_fit[c]:.2g} CPU-s per fit)")
    total = projected(keep, repeats, permutations)
    if total > budget.cpu_seconds:
        skipped.append(
            f"the minimum run (projected {total:.0f} CPU-s) still exceeds the budget "
            f"({budget.cpu_seconds:.0f} CPU-s); it was run anyway"
        )
    return BudgetPlan(keep, repeats, permutations, total, skipped)
