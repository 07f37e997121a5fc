"""Validation of ``insightome.run``'s options: one clear line per bad value, before any work."""

from __future__ import annotations

from insightome import errors
from insightome.errors import UserError
from insightome.models.candidates import PRESETS


def check_run_options(
    *,
    folds: int,
    repeats: int | None,
    n_bootstrap: int,
    permutations: int,
    n_jobs: int,
    preset: str,
    signature_tolerance: float,
    min_group_size: int,
    min_cell: int,
    conformal_level: float,
    pue: float | None,
    carbon_intensity: float | None,
) -> None:
    """Raise :class:`UserError` naming the first option out of range."""
    _core_options(folds, repeats, n_bootstrap, permutations, n_jobs, preset)
    if not 0 <= signature_tolerance < 1:
        raise UserError(
            errors.OPTION_INVALID,
            option="--signature-tolerance",
            reason=f"must be in [0, 1), got {signature_tolerance}",
        )
    for option, value, low, high in (
        ("--min-group-size", min_group_size, 2, 10**9),
        ("--min-cell", min_cell, 0, 10**9),
    ):
        if not low <= value <= high:
            raise UserError(
                errors.OPTION_INVALID, option=option, reason=f"must be >= {low}, got {value}"
            )
    if not 0.5 <= conformal_level < 1:
        raise UserError(
            errors.OPTION_INVALID,
            option="--conformal-level",
            reason=f"must be in [0.5, 1), got {conformal_level}",
        )
    for option, value, low in (("--pue", pue, 1.0), ("--carbon-intensity", carbon_intensity, 0.0)):
        if value is not None and not value >= low:
            raise UserError(
                errors.OPTION_INVALID, option=option, reason=f"must be >= {low:g}, got {value}"
            )


def _core_options(
    folds: int, repeats: int | None, n_bootstrap: int, permutations: int, n_jobs: int, preset: str
) -> None:
    """One clear line for an option out of range (before anything is read or written)."""
    problems = [
        ("--folds", folds < 2, f"needs at least 2 folds, got {folds}"),
        ("--repeats", repeats is not None and repeats < 1, f"needs at least 1, got {repeats}"),
        ("--bootstrap", n_bootstrap < 100, f"use at least 100 for a CI, got {n_bootstrap}"),
        ("--permutations", permutations < 0, f"cannot be negative, got {permutations}"),
        ("--n-jobs", n_jobs == 0, "0 is not a number of workers (use 1, 2, … or -1 for all)"),
        ("--preset", preset not in PRESETS, f"choose {' or '.join(PRESETS)}, not '{preset}'"),
    ]
    for option, bad, reason in problems:
        if bad:
            raise UserError(errors.OPTION_INVALID, option=option, reason=reason)
