"""The building blocks every results type uses: the base record and the value types.

``Record`` is a frozen pydantic model in strict mode that forbids unknown keys, so a
results.json that drifts from its types is refused with the JSON path of the first
difference. Numbers keep the type they were written with (an ``int`` stays an ``int``, a
``float`` a ``float``): parsing and serializing a run never changes a value.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue, WithJsonSchema

# A JSON number, int or float, kept as written (a float field would turn 1 into 1.0);
# bools are refused (strict mode). NaN and infinities are written as null
# (io.json_values.json_ready), so a statistic that can be undefined is ``MaybeNumber``.
Number = Annotated[int | float, WithJsonSchema({"type": "number"})]
MaybeNumber = Number | None

# A 95% interval [low, high]; either end is null when undefined (too few samples).
CI95 = Annotated[list[MaybeNumber], Field(min_length=2, max_length=2)]

# One row of a table whose columns depend on the data (per-class counts, per-group cells):
# column name → JSON value. Used only where the columns cannot be named in advance.
Row = dict[str, JsonValue]

# "suppressed": column → the marker of the small-cell rule that hid it (`<k`, `suppressed`)
Suppressed = dict[str, str]


def optional() -> Any:
    """A key that may be absent. Absent keys stay absent when serialized (``exclude_unset``);
    an explicit null is refused unless the field's type allows it."""
    return Field(default=None)


class Record(BaseModel):
    """Base of every results type: immutable, strict, no unknown keys."""

    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        protected_namespaces=(),
    )


__all__ = ["CI95", "JsonValue", "MaybeNumber", "Number", "Record", "Row", "Suppressed", "optional"]
