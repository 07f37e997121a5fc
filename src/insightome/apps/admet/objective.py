"""The objective of a molecular optimization: what to maximize, what to penalize, how to search.

An objective is a YAML file with three sections (only ``objectives`` is required)::

    objectives:                      # one entry per property, at least one
      - property: solubility_aqsoldb # an ADMET endpoint (TDC name or file stem, any case)
        goal: maximize               # or a built-in: QED MW cLogP TPSA HBD HBA RotB SA
        low: -6                      # desirability 0 at/below low ...
        high: -2                     # ... rising linearly to 1 at/above high
        weight: 1                    # relative weight in the geometric mean (> 0, default 1)
      - property: herg               # binary endpoints are scored on P(Y=1), so low/high
        goal: minimize               # must lie in [0, 1]; minimize: 1 at/below low,
        low: 0.2                     # 0 at/above high
        high: 0.6
      - property: cLogP
        goal: target                 # 0 outside (low, high), 1 on the target plateau,
        low: 0                       # linear in between; target is a number or a
        high: 5                      # [from, to] pair (default: the midpoint of low, high)
        target: [2, 3]
    penalties:
      out_of_domain: 0.5             # factor (1 - 0.5) per predicted objective out of domain
      uncertainty: 0.5               # factor (1 - 0.5 u) per predicted objective, u in [0, 1]
      sa_max: 4.5                    # SA score above this ramps the score down ...
      sa_zero: 6.5                   # ... to 0 here (default sa_max + 2); sa_max: null = off
    search:
      generations: 30
      population: 100                # molecules kept from one generation to the next
      offspring: 200                 # new molecules tried per generation
      mutation_rate: 0.5             # chance that a crossover child is also mutated
      elites: 10                     # best molecules always kept (default population // 10)
      seed: 0
      max_heavy_atoms: 50

Desirabilities are the one- and two-sided linear ramps of Derringer & Suich (J Qual Technol
1980, 12:214, doi:10.1080/00224065.1980.11980968); the overall score is their weighted geometric
mean times the penalty factors (see :mod:`insightome.apps.admet.optimize`). Every problem with
the file raises a :class:`~insightome.errors.UserError` naming the file and the key.

The objects it reads into (:class:`Objective`, :class:`ObjectiveTerm`, :class:`Penalties`,
:class:`SearchSettings`) are in :mod:`insightome.apps.admet.objective_spec`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import yaml

from insightome import errors
from insightome.apps.admet.objective_spec import (
    BUILTIN_BY_LOWER,
    BUILTIN_PROPERTIES,
    ENDPOINTS_BY_STEM,
    GOALS,
    Objective,
    ObjectiveTerm,
    Penalties,
    SearchSettings,
)
from insightome.errors import UserError, closest_names_hint

SECTION_KEYS: dict[str, tuple[str, ...]] = {
    "top": ("objectives", "penalties", "search"),
    "objective": ("property", "goal", "low", "high", "target", "weight"),
    "penalties": ("out_of_domain", "uncertainty", "sa_max", "sa_zero"),
    "search": (
        "generations",
        "population",
        "offspring",
        "mutation_rate",
        "elites",
        "seed",
        "max_heavy_atoms",
    ),
}

# -- messages (one line each: the file, the key, what to do) ----------------------------
OBJECTIVE_YAML_INVALID = "{path}: not valid YAML ({reason}). Fix the syntax (indentation, colons)."
OBJECTIVE_NOT_MAPPING = (
    "{path}: {where} must be a mapping of keys to values, not {kind}. See docs/optimize.md."
)
OBJECTIVE_NOT_LIST = (
    "{path}: 'objectives' must be a list of '- property: …' entries, not {kind}. See "
    "docs/optimize.md."
)
OBJECTIVE_UNKNOWN_KEY = "{path}: unknown key '{key}' in {where}.{hint} Allowed keys: {allowed}."
OBJECTIVE_NO_OBJECTIVES = (
    "{path}: 'objectives' is missing or empty. List at least one property to optimize, "
    "e.g. '- {{property: QED, goal: maximize, low: 0.3, high: 0.8}}'."
)
OBJECTIVE_KEY_MISSING = "{path}: {where} has no '{key}'. Add it (see docs/optimize.md)."
OBJECTIVE_NOT_NUMBER = "{path}: {where}.{key} is {value!r}, not a number. Give a number."
OBJECTIVE_NOT_INTEGER = "{path}: {where}.{key} is {value!r}, not a whole number. Give an integer."
OBJECTIVE_OUT_OF_RANGE = "{path}: {where}.{key} is {value}; it must be {rule}."
OBJECTIVE_UNKNOWN_PROPERTY = (
    "{path}: {where}.property '{name}' is neither a built-in property nor an ADMET endpoint."
    "{hint} Choose from the built-ins {builtins} or the endpoints {endpoints}."
)
OBJECTIVE_BAD_GOAL = "{path}: {where}.goal is {value!r}.{hint} Use maximize, minimize or target."
OBJECTIVE_LOW_HIGH = (
    "{path}: {where} has low = {low} >= high = {high}. Give low < high (the desirability "
    "ramps from low to high)."
)
OBJECTIVE_TARGET_ONLY = (
    "{path}: {where}.target is only used with goal: target (goal is {goal}). Remove it or "
    "set goal: target."
)
OBJECTIVE_BAD_TARGET = (
    "{path}: {where}.target is {value!r}; give a number or a [from, to] pair with "
    "low < from <= to < high ({low} < … < {high})."
)
OBJECTIVE_PROBABILITY = (
    "{path}: {where} ({name} is binary, scored on the predicted probability of Y = 1) has "
    "low/high outside [0, 1]. Give probabilities."
)
OBJECTIVE_OUTSIDE_VALID = (
    "{path}: {where}.{key} = {value} lies outside the valid range of {name} "
    "[{lower}, {upper}] ({unit}). Give a value in that range."
)
OBJECTIVE_DUPLICATE = (
    "{path}: {where}.property '{name}' is already an objective ({first}). List each property once."
)


def read_objective(path: str | Path) -> Objective:
    """Read and validate an objective YAML file (layout in the module docstring)."""
    path = Path(path)
    if not path.exists():
        raise UserError(errors.FILE_MISSING, path=path)
    if path.is_dir():
        raise UserError(errors.FILE_IS_DIRECTORY, path=path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(errors.FILE_UNREADABLE, path=path, reason=exc.strerror) from exc
    except UnicodeDecodeError as exc:
        raise UserError(OBJECTIVE_YAML_INVALID, path=path, reason="not UTF-8 text") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        reason = " ".join(str(exc).split())
        raise UserError(OBJECTIVE_YAML_INVALID, path=path, reason=reason) from exc
    return objective_from_dict(data, source=str(path))


def objective_from_dict(data: Any, source: str = "objective") -> Objective:
    """Validate plain data (as loaded from YAML) into an :class:`Objective`."""
    _check_keys(data, "top", "the file", source)
    raw_terms = data.get("objectives")
    if not raw_terms:
        raise UserError(OBJECTIVE_NO_OBJECTIVES, path=source)
    if not isinstance(raw_terms, list):
        raise UserError(OBJECTIVE_NOT_LIST, path=source, kind=_kind(raw_terms))
    terms: list[ObjectiveTerm] = []
    first: dict[str, str] = {}
    for i, raw in enumerate(raw_terms):
        term = _term(raw, f"objectives[{i}]", source)
        if term.property in first:
            raise UserError(
                OBJECTIVE_DUPLICATE,
                path=source,
                where=f"objectives[{i}]",
                name=term.property,
                first=first[term.property],
            )
        first[term.property] = f"objectives[{i}]"
        terms.append(term)
    return Objective(
        terms=tuple(terms),
        penalties=_penalties(data.get("penalties"), source),
        search=_search(data.get("search"), source),
        source=source,
    )


def resolve_property(name: Any, where: str, source: str) -> str:
    """The canonical name of a built-in property or ADMET endpoint stem; UserError if unknown."""
    key = str(name).strip()
    lowered = key.lower()
    if lowered in BUILTIN_BY_LOWER:
        return BUILTIN_BY_LOWER[lowered]
    if lowered in ENDPOINTS_BY_STEM:
        return lowered
    choices = [*BUILTIN_PROPERTIES, *ENDPOINTS_BY_STEM]
    raise UserError(
        OBJECTIVE_UNKNOWN_PROPERTY,
        path=source,
        where=where,
        name=key,
        hint=closest_names_hint(key, choices),
        builtins=", ".join(BUILTIN_PROPERTIES),
        endpoints=", ".join(ENDPOINTS_BY_STEM),
    )


# -- validation helpers -----------------------------------------------------------------


def _kind(value: Any) -> str:
    if value is None:
        return "empty"
    return {list: "a list", str: f"the text {value!r}"}.get(type(value), type(value).__name__)


def _check_keys(data: Any, section: str, where: str, source: str) -> None:
    if not isinstance(data, dict):
        raise UserError(OBJECTIVE_NOT_MAPPING, path=source, where=where, kind=_kind(data))
    allowed = SECTION_KEYS[section]
    for key in data:
        if key not in allowed:
            raise UserError(
                OBJECTIVE_UNKNOWN_KEY,
                path=source,
                key=key,
                where=where,
                hint=closest_names_hint(str(key), allowed),
                allowed=", ".join(allowed),
            )


def _number(data: dict[str, Any], key: str, where: str, source: str, default: Any = ...) -> Any:
    if data.get(key) is None:
        if default is ...:
            raise UserError(OBJECTIVE_KEY_MISSING, path=source, where=where, key=key)
        return default
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise UserError(OBJECTIVE_NOT_NUMBER, path=source, where=where, key=key, value=value)
    return float(value)


def _integer(data: dict[str, Any], key: str, where: str, source: str, default: Any) -> Any:
    if data.get(key) is None:
        return default
    value = data[key]
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise UserError(OBJECTIVE_NOT_INTEGER, path=source, where=where, key=key, value=value)
    return value


def _require(ok: bool, source: str, where: str, key: str, value: Any, rule: str) -> None:
    if not ok:
        raise UserError(
            OBJECTIVE_OUT_OF_RANGE, path=source, where=where, key=key, value=value, rule=rule
        )


def _term(raw: Any, where: str, source: str) -> ObjectiveTerm:
    _check_keys(raw, "objective", where, source)
    if raw.get("property") is None:
        raise UserError(OBJECTIVE_KEY_MISSING, path=source, where=where, key="property")
    name = resolve_property(raw["property"], where, source)
    goal = raw.get("goal")
    if goal is None:
        raise UserError(OBJECTIVE_KEY_MISSING, path=source, where=where, key="goal")
    if str(goal).strip().lower() not in GOALS:
        hint = closest_names_hint(str(goal), GOALS)
        raise UserError(OBJECTIVE_BAD_GOAL, path=source, where=where, value=goal, hint=hint)
    goal = str(goal).strip().lower()
    low = _number(raw, "low", where, source)
    high = _number(raw, "high", where, source)
    if low >= high:
        raise UserError(OBJECTIVE_LOW_HIGH, path=source, where=where, low=low, high=high)
    weight = _number(raw, "weight", where, source, default=1.0)
    _require(weight > 0, source, where, "weight", weight, "> 0")
    target = _target(raw, goal, low, high, where, source)
    found = ENDPOINTS_BY_STEM.get(name)
    if found is not None and found.is_binary and (low < 0 or high > 1):
        raise UserError(OBJECTIVE_PROBABILITY, path=source, where=where, name=found.name)
    if found is not None and not found.is_binary:
        lower, upper = found.valid_range
        for key, value in (("low", low), ("high", high)):
            if not lower <= value <= upper:
                raise UserError(
                    OBJECTIVE_OUTSIDE_VALID,
                    path=source,
                    where=where,
                    key=key,
                    value=value,
                    name=found.name,
                    lower=lower,
                    upper=upper,
                    unit=found.unit,
                )
    return ObjectiveTerm(name, goal, low, high, weight, target)  # type: ignore[arg-type]


def _target(
    raw: dict[str, Any], goal: str, low: float, high: float, where: str, source: str
) -> tuple[float, float] | None:
    value = raw.get("target")
    if goal != "target":
        if value is not None:
            raise UserError(OBJECTIVE_TARGET_ONLY, path=source, where=where, goal=goal)
        return None
    if value is None:
        middle = (low + high) / 2
        return (middle, middle)
    pair = value if isinstance(value, list) else [value]
    numeric = all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in pair
    )
    if not numeric or len(pair) not in (1, 2) or not low < pair[0] <= pair[-1] < high:
        raise UserError(
            OBJECTIVE_BAD_TARGET, path=source, where=where, value=value, low=low, high=high
        )
    return (float(pair[0]), float(pair[-1]))


def _penalties(raw: Any, source: str) -> Penalties:
    if raw is None:
        return Penalties()
    where = "penalties"
    _check_keys(raw, "penalties", where, source)
    out_of_domain = _number(raw, "out_of_domain", where, source, default=0.5)
    uncertainty = _number(raw, "uncertainty", where, source, default=0.5)
    for key, value in (("out_of_domain", out_of_domain), ("uncertainty", uncertainty)):
        _require(0 <= value <= 1, source, where, key, value, "between 0 and 1")
    if "sa_max" in raw and raw["sa_max"] is None:
        if raw.get("sa_zero") is not None:
            raise UserError(
                OBJECTIVE_OUT_OF_RANGE,
                path=source,
                where=where,
                key="sa_zero",
                value=raw["sa_zero"],
                rule="left out when sa_max is null (the SA penalty is off)",
            )
        return Penalties(out_of_domain, uncertainty, None, None)
    sa_max = _number(raw, "sa_max", where, source, default=4.5)
    _require(1 <= sa_max < 10, source, where, "sa_max", sa_max, "in [1, 10) (SA runs 1-10)")
    sa_zero = _number(raw, "sa_zero", where, source, default=sa_max + 2)
    _require(sa_zero > sa_max, source, where, "sa_zero", sa_zero, f"> sa_max ({sa_max:g})")
    return Penalties(out_of_domain, uncertainty, sa_max, sa_zero)


def _search(raw: Any, source: str) -> SearchSettings:
    if raw is None:
        return SearchSettings()
    where = "search"
    _check_keys(raw, "search", where, source)
    defaults = SearchSettings()
    values: dict[str, Any] = {}
    for key, minimum in (
        ("generations", 1),
        ("population", 2),
        ("offspring", 1),
        ("seed", 0),
        ("max_heavy_atoms", 3),
    ):
        value = _integer(raw, key, where, source, getattr(defaults, key))
        _require(value >= minimum, source, where, key, value, f">= {minimum}")
        values[key] = value
    rate = _number(raw, "mutation_rate", where, source, default=defaults.mutation_rate)
    _require(0 <= rate <= 1, source, where, "mutation_rate", rate, "between 0 and 1")
    elites = _integer(raw, "elites", where, source, None)
    if elites is not None:
        rule = f"between 1 and the population ({values['population']})"
        _require(1 <= elites <= values["population"], source, where, "elites", elites, rule)
    return SearchSettings(mutation_rate=rate, elites=elites, **values)
