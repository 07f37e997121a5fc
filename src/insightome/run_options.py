"""Validation of the options of ``insightome.run`` and the saved-run commands, in one table.

Every option has one row in :data:`OPTION_RULES` (its CLI spelling, its range and what
to write instead) and every contradictory combination one row in :data:`COMBINATIONS`.
:func:`check_run_options` applies them all before anything is read or written, so a bad
value is one clear line (a :class:`UserError`, exit code 2 in the CLI) and no run
directory is left behind. The CLI (``insightome run``, ``discover``, ``audit``,
``validate``, ``monitor``) and the Python API go through the same table: :func:`check_options`
checks just the options a command takes.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from insightome import errors
from insightome.errors import UserError
from insightome.models.candidates import PRESETS

#: The largest seed: derived seeds (seed + repeat, seed + 1000 · repeat + fold, …) must
#: stay below 2**32, the limit of numpy's and scikit-learn's integer seeds.
MAX_SEED = 2**31 - 1
MIN_BOOTSTRAP = 100  # fewer bootstrap samples do not give a usable 95% percentile interval
TASK_CHOICES = ("auto", "binary", "multiclass", "regression", "survival")
ORIENT_CHOICES = ("auto", "samples-by-features", "features-by-samples")
DECIMAL_CHOICES = ("auto", ".", ",")

Check = Callable[[Any], str | None]  # why a value is out of range, or None


def _integer(low: int, high: int | None = None, *, advice: str = "") -> Check:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            return f"must be a whole number, got {value!r}"
        if value < low or (high is not None and value > high):
            span = f">= {low}" if high is None else f"between {low} and {high}"
            return f"must be {span}, got {value}" + (f" ({advice})" if advice else "")
        return None

    return check


def _number(low: float, high: float | None = None, *, high_open: bool = False) -> Check:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or value != value:
            return f"must be a number, got {value!r}"
        if value < low or (high is not None and (value >= high if high_open else value > high)):
            if high is None:
                return f"must be >= {low:g}, got {value}"
            return f"must be in [{low:g}, {high:g}{')' if high_open else ']'}, got {value}"
        return None

    return check


def _choice(choices: Sequence[str]) -> Check:
    def check(value: Any) -> str | None:
        if value not in choices:
            return f"choose {', '.join(repr(c) for c in choices)}, not {value!r}"
        return None

    return check


def _n_jobs(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        return f"must be a whole number, got {value!r}"
    if value == 0:
        return "0 is not a number of workers (use 1, 2, … or -1 for all cores)"
    return None


def _directory(value: Any) -> str | None:
    path = Path(value)
    if path.exists() and not path.is_dir():
        return f"{path} is a file; give the directory to write runs into"
    return None


def _budget(value: Any) -> str | None:
    from insightome.compute.budget import Budget

    try:
        Budget.parse(str(value), core_power_w=1.0, pue=1.0)
    except UserError as exc:
        return str(exc.fields.get("reason", exc))
    return None


@dataclass(frozen=True)
class Rule:
    """One option: its CLI spelling and its range. ``None`` is "not given" when optional."""

    option: str
    check: Check
    optional: bool = False


#: Parameter of ``insightome.run`` (or of a saved-run command) → its rule.
OPTION_RULES: dict[str, Rule] = {
    "task": Rule("--task", _choice(TASK_CHOICES)),
    "orient": Rule("--orient", _choice(ORIENT_CHOICES)),
    "decimal": Rule("--decimal", _choice(DECIMAL_CHOICES)),
    "folds": Rule("--folds", _integer(2, advice="cross-validation needs at least 2 folds")),
    "repeats": Rule("--repeats", _integer(1), optional=True),
    "n_bootstrap": Rule(
        "--bootstrap", _integer(MIN_BOOTSTRAP, advice="fewer give no usable 95% CI")
    ),
    "permutations": Rule("--permutations", _integer(0, advice="0 turns the test off")),
    "preset": Rule("--preset", _choice(PRESETS)),
    "seed": Rule("--seed", _integer(0, MAX_SEED)),
    "n_jobs": Rule("--n-jobs", _n_jobs),
    "budget": Rule("--budget", _budget, optional=True),
    "carbon_intensity": Rule("--carbon-intensity", _number(0.0), optional=True),
    "pue": Rule("--pue", _number(1.0), optional=True),
    "signature_tolerance": Rule(
        "--signature-tolerance", _number(0.0, 1.0, high_open=True), optional=True
    ),
    "min_group_size": Rule("--min-group-size", _integer(2)),
    "min_cell": Rule("--min-cell", _integer(1, advice="small cells are always suppressed")),
    "conformal_level": Rule("--conformal-level", _number(0.5, 1.0, high_open=True)),
    "max_features": Rule("--max-features", _integer(1), optional=True),
    "out_dir": Rule("--out", _directory, optional=True),
}


@dataclass(frozen=True)
class Combination:
    """Options that contradict each other: ``applies(values)`` is True when they do."""

    options: str
    applies: Callable[[Mapping[str, Any]], bool]
    reason: str


def _given(values: Mapping[str, Any], name: str) -> bool:
    value = values.get(name)
    return value not in (None, "", (), [], {}, False)


COMBINATIONS: tuple[Combination, ...] = (
    Combination(
        "--time/--event",
        lambda v: _given(v, "time_col") != _given(v, "event"),
        "survival needs both --time and --event; give the other one too",
    ),
    Combination(
        "--target",
        lambda v: _given(v, "target") and (_given(v, "time_col") or _given(v, "event")),
        "give either --target (classification, regression) or --time and --event "
        "(survival), not both",
    ),
    Combination(
        "--task",
        lambda v: v.get("task") == "survival"
        and not (_given(v, "time_col") and _given(v, "event")),
        "a survival task needs --time COLUMN and --event COLUMN instead of --target",
    ),
    Combination(
        "--task",
        lambda v: v.get("task") in ("binary", "multiclass", "regression")
        and (_given(v, "time_col") or _given(v, "event")),
        "--time/--event imply a survival task; use --task survival (or auto)",
    ),
    Combination(
        "--positive-class",
        lambda v: _given(v, "positive_class")
        and (v.get("task") in ("multiclass", "regression", "survival") or _given(v, "time_col")),
        "applies to a binary outcome only; drop it for this task",
    ),
    Combination(
        "--use-sensitive",
        lambda v: _given(v, "use_sensitive") and not _given(v, "sensitive"),
        "needs --sensitive to name the attributes to use as features",
    ),
    Combination(
        "--genesets",
        lambda v: _given(v, "genesets") and v.get("discover") is False,
        "gene sets are used by discovery; drop --no-discover or --genesets",
    ),
    Combination(
        "--justify",
        lambda v: _given(v, "justify") and v.get("audit") is False,
        "justifications are used by the audit; drop --no-audit or --justify",
    ),
    Combination(
        "--audit-threshold",
        lambda v: _given(v, "audit_thresholds") and v.get("audit") is False,
        "thresholds are used by the audit; drop --no-audit or --audit-threshold",
    ),
    Combination(
        "--scheduler",
        lambda v: _given(v, "scheduler") and _given(v, "slurm"),
        "give a Dask scheduler or SLURM options, not both",
    ),
)


def check_options(values: Mapping[str, Any]) -> None:
    """Raise :class:`UserError` for the first option of ``values`` out of its range.

    ``values`` maps parameter names (as in :data:`OPTION_RULES`) to values; names without
    a rule are ignored, so a command passes just the options it takes.
    """
    for name, value in values.items():
        rule = OPTION_RULES.get(name)
        if rule is None or (rule.optional and value is None):
            continue
        if (reason := rule.check(value)) is not None:
            raise UserError(errors.OPTION_INVALID, option=rule.option, reason=reason)


def check_combinations(values: Mapping[str, Any]) -> None:
    """Raise :class:`UserError` for the first contradictory combination in ``values``."""
    for combination in COMBINATIONS:
        if combination.applies(values):
            raise UserError(
                errors.OPTION_INVALID, option=combination.options, reason=combination.reason
            )


def check_run_options(values: Mapping[str, Any]) -> None:
    """Every range and every combination of ``insightome.run``'s options."""
    check_options(values)
    check_combinations(values)
