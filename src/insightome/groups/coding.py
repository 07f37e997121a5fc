"""How each sensitive attribute became its groups, said in one line wherever groups are shown.

A table of groups "0" and "1" does not say which is which: the reader guesses, and a
guess about sex is a wrong finding half the time. Each attribute therefore carries an
:class:`AttributeCoding`:

* **categories** written as text (``female``, ``male``) are their own labels;
* **codes** (groups that are numbers, e.g. sex as 0/1) are shown with their coding stated:
  ``sex: 0, 1 (coding not given; set --value-labels sex=0:…,1:…)`` — never guessed;
* **labelled codes** (``--value-labels sex=0:female,1:male``) become the labels
  ``female``/``male`` in every table, and the coding is stated: ``sex: 0 = female, 1 = male``;
* **age bands** and **tertiles** of numeric attributes state their bands and how they were
  chosen (:mod:`insightome.groups.age_bands`).

Value labels are checked against the data: a code the attribute does not hold, or a
label that is also one of its unlabelled values, is refused in one line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from insightome import errors
from insightome.errors import UserError
from insightome.groups.age_bands import AgeBanding

CATEGORIES, CODES, LABELLED = "categories", "codes", "labelled codes"
AGE_BANDS, TERTILES = "age bands", "tertiles"
NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")


@dataclass(frozen=True)
class AttributeCoding:
    """One attribute's groups (known labels, in order) and how they were made."""

    attribute: str
    kind: str
    groups: tuple[str, ...]
    text: str  # the one line shown in the console and the report
    value_labels: dict[str, str] | None = None
    age_bands: AgeBanding | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "groups": list(self.groups), "text": self.text}
        if self.value_labels is not None:
            out["value_labels"] = dict(self.value_labels)
        if self.age_bands is not None:
            bands = self.age_bands
            out["age_bands"] = {
                "cuts": list(bands.cuts),
                "rule": bands.rule,
                "explanation": bands.explanation,
            }
        return out


def age_coding(attribute: str, banding: AgeBanding, present: set[str]) -> AttributeCoding:
    """The bands that hold someone (``present``), youngest first."""
    labels = tuple(label for label in banding.labels() if label in present)
    text = f"{attribute}: {', '.join(labels)} years ({banding.explanation})"
    return AttributeCoding(attribute, AGE_BANDS, labels, text, age_bands=banding)


def tertile_coding(attribute: str, labels: list[str]) -> AttributeCoding:
    text = f"{attribute}: tertiles {', '.join(labels)} (a band a–b holds values in (a, b])"
    return AttributeCoding(attribute, TERTILES, tuple(labels), text)


def value_coding(
    attribute: str,
    labels: pd.Series,
    unknown: str,
    given: Mapping[str, str] | None,
    *,
    strict: bool = True,
) -> tuple[pd.Series, AttributeCoding]:
    """The labels of a non-banded attribute with ``given`` value labels applied, and its
    coding (see the module docstring); ``strict``: a labelled code the data lacks is an
    error (not for a saved run's labels on new data)."""
    values = sorted({str(v) for v in labels if v != unknown}, key=_order)
    given = {code_text(c): str(label) for c, label in (given or {}).items()}
    if given:
        if strict:
            _check_value_labels(attribute, values, given)
        given = {code: label for code, label in given.items() if code in values}
        named = [f"{v} = {given[v]}" if v in given else f"{v} (no label given)" for v in values]
        shown = tuple(given.get(v, v) for v in values)
        text = f"{attribute}: {', '.join(named)} (--value-labels)"
        coding = AttributeCoding(attribute, LABELLED, shown, text, value_labels=dict(given))
        return labels.map(lambda v: given.get(v, v)), coding
    if values and all(NUMBER.match(v) for v in values):
        example = ",".join(f"{v}:…" for v in values[:3]) + ("…" if len(values) > 3 else "")
        text = (
            f"{attribute}: {', '.join(values)} (coding not given; set --value-labels "
            f"{attribute}={example})"
        )
        return labels, AttributeCoding(attribute, CODES, tuple(values), text)
    text = f"{attribute}: {', '.join(values) or 'no known values'}"
    return labels, AttributeCoding(attribute, CATEGORIES, tuple(values), text)


def _check_value_labels(attribute: str, values: list[str], given: Mapping[str, str]) -> None:
    absent = [code for code in given if code not in values]
    clash = [label for code, label in given.items() if label in values and label != code]
    clash = [label for label in clash if label not in given]  # a relabelled value is fine
    if absent:
        reason = (
            f"{attribute} has no value {absent[0]!r} (its values: {', '.join(values[:12])}); "
            "give the codes as the data writes them"
        )
    elif clash:
        reason = f"label {clash[0]!r} of {attribute} is also one of its values; choose another"
    else:
        return
    raise UserError(errors.OPTION_INVALID, option="--value-labels", reason=reason)


def code_text(code: object) -> str:
    """A code as the group labels write it: ``1``, ``1.0`` and ``"1.0"`` → ``"1"``."""
    text = str(code).strip()
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() else text


def _order(value: str) -> tuple[int, float, str]:
    """Numbers in numeric order, then text."""
    return (0, float(value), "") if NUMBER.match(value) else (1, 0.0, value)
