"""Compute budgets: ``--budget 30min`` (CPU time) or ``--budget 0.02kWh`` (energy).

A pilot fits every candidate once (the first fold of the first repeat — fits the full
run reuses) and measures each one's cost. From those costs the whole run is projected;
if it would exceed the budget, work is pruned in this documented order, each step only as
far as needed:

1. permutation reruns (fewest kept first: the p-value loses resolution, not validity);
2. CV repeats, down to one (the estimate's variance grows, not its bias);
3. candidate configurations, most expensive first, never below two (selection among
   fewer configurations is still honestly estimated by BBC-CV).

The projection counts the work after the selection too (:class:`AfterSelection`): the
winner's refit on all samples and, with discovery on, the signature search and the
attributions. Their costs come from the same pilot fold: the search's stability ranking and
every candidate restricted to the largest signature size are timed there, and the
projection assumes every configuration is searched at that cost for every size (an upper
bound: only the configurations some bootstrap picks are, and smaller sizes cost less); the
attributions refit the winner on its signature in each fold of two repeats, projected at the
restricted cost of the costliest candidate kept (the winner is not known yet); the refit is
projected at the costliest candidate's fold cost, scaled to all samples. The audit refits
nothing (it reads the winner's out-of-fold predictions) and is not projected.

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


@dataclass(frozen=True)
class AfterSelection:
    """Pilot costs of the work after the selection (module docstring): the winner's refit on
    all samples (``refit_scale`` × its fold cost), and with discovery, per training fold of
    the search, the stability ranking (``stability_seconds``) and each candidate restricted to
    the largest signature size (``restricted_seconds``, one per candidate) times ``sizes``;
    ``search_folds`` folds searched, ``attribution_fits`` refits of the winner on its
    signature."""

    refit_scale: float
    discovery: bool = False
    stability_seconds: float = 0.0
    restricted_seconds: np.ndarray | None = None
    sizes: int = 0
    search_folds: int = 0
    attribution_fits: int = 0

    def seconds(self, cost_per_fit: np.ndarray, keep: list[int]) -> tuple[float, float]:
        """(refit, discovery) projected CPU seconds with the candidates ``keep``."""
        costliest = float(cost_per_fit[keep].max()) if keep else 0.0
        refit = costliest * self.refit_scale
        if not self.discovery:
            return refit, 0.0
        per = self.restricted_seconds
        if per is None or not keep:
            return refit, self.search_folds * self.stability_seconds
        search = self.search_folds * (self.stability_seconds + self.sizes * float(per[keep].sum()))
        return refit, search + self.attribution_fits * float(per[keep].max())


@dataclass
class BudgetPlan:
    """What fits in the budget: kept candidates, repeats and permutations."""

    keep: list[int]
    repeats: int
    permutations: int
    projected_cpu_seconds: float
    skipped: list[str] = field(default_factory=list)
    # the part of projected_cpu_seconds after the selection: the refit, and discovery
    projected_refit_cpu_seconds: float = 0.0
    projected_discovery_cpu_seconds: float = 0.0

    def to_dict(self, budget: Budget, pilot_cpu_seconds: float) -> dict[str, object]:
        return {
            "budget": budget.text,
            "budget_cpu_seconds": budget.cpu_seconds,
            "pilot_cpu_seconds": pilot_cpu_seconds,
            "projected_cpu_seconds": self.projected_cpu_seconds,
            "projected_refit_cpu_seconds": self.projected_refit_cpu_seconds,
            "projected_discovery_cpu_seconds": self.projected_discovery_cpu_seconds,
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
    after: AfterSelection | None = None,
) -> BudgetPlan:
    """Prune permutations, then repeats, then the costliest candidates until the whole run
    (with ``after``: the work after the selection too) fits."""
    keep = list(range(len(cost_per_fit)))

    def projected(keep: list[int], repeats: int, permutations: int) -> float:
        fits = float(cost_per_fit[keep].sum()) * folds * repeats * (1 + permutations)
        return fits + (sum(after.seconds(cost_per_fit, keep)) if after is not None else 0.0)

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
    refit, discovery = after.seconds(cost_per_fit, keep) if after is not None else (0.0, 0.0)
    return BudgetPlan(keep, repeats, permutations, total, skipped, refit, discovery)
