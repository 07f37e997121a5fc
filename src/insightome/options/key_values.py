"""Repeatable ``NAME=VALUE`` options: ``--justify``, ``--audit-threshold``, ``--value-labels``;
and ``--age-bands``' list of cut points.

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


def parse_value_labels(items: Sequence[str]) -> dict[str, dict[str, str]]:
    """``['sex=0:female,1:male']`` → ``{'sex': {'0': 'female', '1': 'male'}}``.

    A code written as a whole number (``1.0``) is the group label ``1``, as the groups
    write it. A code given twice, or two codes with one label (which would merge two groups
    unnoticed), is refused.
    """
    out: dict[str, dict[str, str]] = {}
    for item in items:
        name, sep, pairs = item.partition("=")
        coding = out.setdefault(name.strip(), {})
        for pair in pairs.split(","):
            code, colon, label = (p.strip().strip('"').strip("'") for p in pair.partition(":"))
            problem = ""
            if not sep or not name.strip() or not colon or not code or not label:
                problem = "expected ATTRIBUTE=CODE:LABEL,CODE:LABEL (e.g. sex=0:female,1:male), "
                problem += f"got {item!r}"
            elif _code(code) in coding:
                problem = f"code {code!r} of {name.strip()} is given twice"
            elif label in coding.values():
                problem = (
                    f"two codes of {name.strip()} are labelled {label!r} (it would merge them)"
                )
            if problem:
                raise UserError(errors.OPTION_INVALID, option="--value-labels", reason=problem)
            coding[_code(code)] = label
    return out


def _code(code: str) -> str:
    """A code as the group labels write it: ``1.0`` → ``1``."""
    try:
        number = float(code)
    except ValueError:
        return code
    return str(int(number)) if number.is_integer() else code


def parse_cut_points(value: str) -> tuple[Any, ...]:
    """``"50,65,75"`` → ``(50.0, 65.0, 75.0)``; a part that is not a number stays text, so
    the option's check names it (``--age-bands``)."""
    parts: list[Any] = []
    for part in value.split(","):
        try:
            parts.append(float(part))
        except ValueError:
            parts.append(part.strip())
    return tuple(parts)
