"""An objective of a molecular optimization, as read: its terms, penalties and search settings.

:class:`ObjectiveTerm` maps a property's values to a Derringer desirability in [0, 1] (the
one- and two-sided linear ramps of Derringer & Suich, J Qual Technol 1980, 12:214);
:class:`Penalties` holds the out-of-domain and uncertainty factors and the synthetic
accessibility ramp; :class:`SearchSettings` the genetic algorithm's settings. The YAML file
is read and validated by :mod:`insightome.apps.admet.objective`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from insightome.apps.admet.endpoints import ENDPOINTS, Endpoint

Goal = Literal["maximize", "minimize", "target"]
GOALS: tuple[str, ...] = ("maximize", "minimize", "target")

#: Properties computed with RDKit, no predictor needed (SA: Ertl & Schuffenhauer, 1-10).
BUILTIN_PROPERTIES: tuple[str, ...] = ("QED", "MW", "cLogP", "TPSA", "HBD", "HBA", "RotB", "SA")


@dataclass(frozen=True)
class ObjectiveTerm:
    """One property to optimize with its Derringer desirability ramp.

    ``property`` is a built-in name (``QED``, ``MW``, …, ``SA``) or an ADMET endpoint stem
    (``solubility_aqsoldb``); ``target`` is the plateau ``(from, to)`` of a ``target`` goal.
    """

    property: str
    goal: Goal
    low: float
    high: float
    weight: float = 1.0
    target: tuple[float, float] | None = None

    @property
    def is_builtin(self) -> bool:
        return self.property in BUILTIN_PROPERTIES

    @property
    def endpoint(self) -> Endpoint | None:
        """The ADMET endpoint predicted for this term (None for a built-in property)."""
        return None if self.is_builtin else ENDPOINTS_BY_STEM[self.property]

    def desirability(self, values: np.ndarray | list[float] | float) -> np.ndarray:
        """Desirability in [0, 1] of each value (NaN, i.e. no prediction, gives 0)."""
        v = np.asarray(values, dtype=float)
        span = self.high - self.low
        if self.goal == "maximize":
            d = (v - self.low) / span
        elif self.goal == "minimize":
            d = (self.high - v) / span
        else:
            start, end = self.target or (self.low + span / 2, self.low + span / 2)
            rising = (v - self.low) / (start - self.low)
            falling = (self.high - v) / (self.high - end)
            d = np.where(v < start, rising, np.where(v > end, falling, 1.0))
        return np.nan_to_num(np.clip(d, 0.0, 1.0), nan=0.0)

    def describe(self) -> str:
        """The ramp in words, e.g. 'maximize: 0 at ≤ 0.3, 1 at ≥ 0.8'."""
        if self.goal == "maximize":
            return f"maximize: 0 at ≤ {self.low:g}, 1 at ≥ {self.high:g}"
        if self.goal == "minimize":
            return f"minimize: 1 at ≤ {self.low:g}, 0 at ≥ {self.high:g}"
        start, end = self.target or (0.0, 0.0)
        plateau = f"{start:g}" if start == end else f"{start:g}–{end:g}"
        return f"target {plateau}: 0 at ≤ {self.low:g} and ≥ {self.high:g}"


@dataclass(frozen=True)
class Penalties:
    """Multiplicative penalties on the score (see :mod:`insightome.apps.admet.optimize`)."""

    out_of_domain: float = 0.5
    uncertainty: float = 0.5
    sa_max: float | None = 4.5
    sa_zero: float | None = 6.5

    def sa_factor(self, sa: np.ndarray | list[float] | float) -> np.ndarray:
        """1 up to ``sa_max``, falling linearly to 0 at ``sa_zero`` (all 1 when off)."""
        s = np.asarray(sa, dtype=float)
        if self.sa_max is None or self.sa_zero is None:
            return np.ones_like(s)
        factor = np.clip((self.sa_zero - s) / (self.sa_zero - self.sa_max), 0.0, 1.0)
        return np.nan_to_num(factor, nan=0.0)


@dataclass(frozen=True)
class SearchSettings:
    """Settings of the graph-based genetic algorithm."""

    generations: int = 30
    population: int = 100
    offspring: int = 200
    mutation_rate: float = 0.5
    elites: int | None = None
    seed: int = 0
    max_heavy_atoms: int = 50

    @property
    def n_elites(self) -> int:
        """Elites kept each generation: ``elites`` or, by default, a tenth of the population."""
        chosen = self.population // 10 if self.elites is None else self.elites
        return max(1, min(chosen, self.population))


@dataclass(frozen=True)
class Objective:
    """A validated objective file: the terms, the penalties and the search settings."""

    terms: tuple[ObjectiveTerm, ...]
    penalties: Penalties = field(default_factory=Penalties)
    search: SearchSettings = field(default_factory=SearchSettings)
    source: str = "objective"

    @property
    def endpoints(self) -> list[str]:
        """The ADMET endpoints (stems) the objective needs a predictor for."""
        return [t.property for t in self.terms if not t.is_builtin]

    def to_dict(self) -> dict[str, Any]:
        """The objective as plain data (the YAML layout, with every default filled in)."""
        terms = []
        for t in self.terms:
            row: dict[str, Any] = {
                "property": t.property,
                "goal": t.goal,
                "low": t.low,
                "high": t.high,
                "weight": t.weight,
            }
            if t.target is not None:
                row["target"] = list(t.target)
            terms.append(row)
        search = asdict(self.search) | {"elites": self.search.n_elites}
        return {
            "source": self.source,
            "objectives": terms,
            "penalties": asdict(self.penalties),
            "search": search,
        }


ENDPOINTS_BY_STEM: dict[str, Endpoint] = {e.stem: e for e in ENDPOINTS.values()}
BUILTIN_BY_LOWER: dict[str, str] = {p.lower(): p for p in BUILTIN_PROPERTIES}
