"""Repeatable ``NAME=VALUE`` options: ``--justify`` and ``--audit-threshold``.

Parsed here, with the options schema, so reading the command line imports no audit code
(``insightome --help`` stays fast); :mod:`insightome.audit.auditing` checks the values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from insightome import errors
from insightome.errors import UserError


def parse_justifications(items: Sequence[str]) -> dict[str, str]:
    """``['sex=reference ranges differ', ...]`` → ``{'sex': 'reference ranges differ'}``."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, reason = item.partition("=")
        reason = reason.strip().strip('"').strip("'")
        if not sep or not name.strip() or not reason:
            raise UserError(
                errors.OPTION_INVALID,
                option="--justify",
                reason=f'expected ATTRIBUTE="clinical reason", got {item!r}',
            )
        out[name.strip()] = reason
    return out


def parse_thresholds(items: Sequence[str]) -> dict[str, Any]:
    """``['max_auc_difference=0.03', 'ratio_band=0.75,1.33']`` → override values."""
    out: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            parts = [float(v) for v in value.split(",")] if value not in ("holm", "none") else []
        except ValueError:
            parts = []
        if not sep or (not parts and value not in ("holm", "none")):
            raise UserError(
                errors.OPTION_INVALID,
                option="--audit-threshold",
                reason=f"expected NAME=VALUE (e.g. max_auc_difference=0.03), got {item!r}",
            )
        out[name.strip()] = value if not parts else (tuple(parts) if len(parts) > 1 else parts[0])
    return out
