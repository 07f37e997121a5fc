"""Compute budgets: ``--budget 30min`` (CPU time) or ``--budget 0.02kWh`` (energy).

A pilot fits every candidate once (the first fold of the first repeat — fits the full
run reuses) and measures each one's cost. From those costs the whole run is projected;
if it would exceed the budget, work is pruned in this documented order, each step only as
far as needed:

1. permutation reruns (fewest kept first: the p-value loses resolution, not validity);
2. CV repeats, down to one (the estimate's variance grows, not its bias);
3. candidate configurations, most expensive first, never below two (selection among
   fewer configurations is still honestly estimated by BBC-CV).

The projection counts the model fits after the selection too (:class:`AfterSelection`),
the winner's at the cost of the costliest candidate kept (it is not known yet): its refit on
all samples; with the audit on, the explanations' refit in every fold of one repeat (the
rest of the audit reads the winner's out-of-fold predictions); with discovery on, the
signature search, the signature's ranking and model on all samples, and the attributions.
The search's costs come from the same pilot fold: its stability ranking and every candidate
restricted to the largest signature size are timed there, and the projection assumes every
configuration is searched at that cost for every size (an upper bound: only the
configurations some bootstrap picks are, and smaller sizes cost less). Discovery's effects,
equivalents, subgroups and pathways are not projected (per-feature tests and one-feature
fits on at most 100 features, and small trees on the signature's features).

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
    """Pilot costs of the work after the selection (module docstring), per CV fold: the
    winner's refit on all samples is ``refit_scale`` fold fits; with ``audit``, its
    explanations refit the winner on every fold of one repeat; with ``discovery``, each
    training fold of the search ranks the features (``stability_seconds``) and fits every
    candidate restricted to each of ``sizes`` sizes (``restricted_seconds``, one per
    candidate, at the largest size), the ranking on all samples draws twice the pairs, the
    signature's model is refitted, and the attributions refit the winner on its signature in
    every fold of up to ``attribution_repeats`` repeats. ``folds`` and ``search_repeats`` are
    the plan's; ``pilot_seconds`` is what timing the discovery part cost."""

    refit_scale: float
    folds: int
    audit: bool = False
    discovery: bool = False
    stability_seconds: float = 0.0
    restricted_seconds: tuple[float, ...] = ()
    sizes: int = 0
    search_repeats: int = 1
    attribution_repeats: int = 2
    pilot_seconds: float = 0.0

    def seconds(
        self, cost_per_fit: np.ndarray, keep: list[int], repeats: int
    ) -> tuple[float, float, float]:
        """(refit, audit, discovery) projected CPU seconds with the candidates ``keep`` and
        ``repeats`` CV repeats; the winner is not known yet, so it costs what the costliest
        kept candidate costs."""
        costliest = float(cost_per_fit[keep].max()) if keep else 0.0
        refit = costliest * self.refit_scale
        audit = costliest * self.folds if self.audit else 0.0
        if not self.discovery:
            return refit, audit, 0.0
        restricted = [self.restricted_seconds[c] for c in keep if c < len(self.restricted_seconds)]
        search_folds = self.folds * min(self.search_repeats, repeats)
        search = search_folds * (self.stability_seconds + self.sizes * sum(restricted))
        widest = max(restricted, default=0.0)
        whole = self.refit_scale * (2 * self.stability_seconds + widest)
        attributions = self.folds * min(self.attribution_repeats, repeats) * widest
        return refit, audit, search + whole + attributions


@dataclass
class BudgetPlan:
    """What fits in the budget: kept candidates, repeats and permutations."""

    keep: list[int]
    repeats: int
    permutations: int
    projected_cpu_seconds: float
    skipped: list[str] = field(default_factory=list)
    # the part of projected_cpu_seconds after the selection: the refit, the audit, discovery
    projected_refit_cpu_seconds: float = 0.0
    projected_audit_cpu_seconds: float = 0.0
    projected_discovery_cpu_seconds: float = 0.0
    pilot_after_selection_cpu_seconds: float = 0.0

    def to_dict(self, budget: Budget, pilot_cpu_seconds: float) -> dict[str, object]:
        return {
            "budget": budget.text,
            "budget_cpu_seconds": budget.cpu_seconds,
            "pilot_cpu_seconds": pilot_cpu_seconds,
            "projected_cpu_seconds": self.projected_cpu_seconds,
            "projected_refit_cpu_seconds": self.projected_refit_cpu_seconds,
            "projected_audit_cpu_seconds": self.projected_audit_cpu_seconds,
            "projected_discovery_cpu_seconds": self.projected_discovery_cpu_seconds,
            "pilot_after_selection_cpu_seconds": self.pilot_after_selection_cpu_seconds,
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
        return fits + (sum(after.seconds(cost_per_fit, keep, repeats)) if after else 0.0)

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
    parts = after.seconds(cost_per_fit, keep, repeats) if after is not None else (0.0, 0.0, 0.0)
    pilot = after.pilot_seconds if after is not None else 0.0
    return BudgetPlan(keep, repeats, permutations, total, skipped, *parts, pilot)
