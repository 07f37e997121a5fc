"""Numbers written with a decimal comma ("1,5", "1.234,5"), read as numbers.

:func:`decimal_comma` is applied by :func:`insightome.io.formats.read_table` to every table
it reads (``--decimal``: ``auto``, ``.`` or ``,``; see ``docs/architecture.md``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from insightome import errors
from insightome.errors import UserError
from insightome.io.raw_table import RawTable

#: ``decimal`` values: detect the decimal comma, or take "." or "," as given.
DECIMALS = ("auto", ".", ",")
#: A number written with a decimal comma ("1,5", "-0,25", "1,5E-03"). Dots grouping
#: thousands are accepted in front of the comma only ("1.234,5"): "1.234" alone could be
#: either convention, so auto-detection leaves it to the decimal point.
_COMMA_NUMBER = r"[+-]?(?:\d+|[1-9]\d{0,2}(?:\.\d{3})+(?=,))(?:,\d+)?(?:[eE][+-]?\d+)?"
#: With ``--decimal ,`` a dot is a thousands separator wherever it groups three digits.
_COMMA_NUMBER_GIVEN = r"[+-]?(?:\d+|[1-9]\d{0,2}(?:\.\d{3})+)(?:,\d+)?(?:[eE][+-]?\d+)?"


def decimal_comma(
    table: RawTable, path: str, decimal: str = "auto", *, id_column: str | None = None
) -> None:
    """Read text columns of numbers written with a decimal comma as numbers, in place.

    ``decimal="auto"`` looks for them in files separated by something other than a
    comma (the ``;`` of a Spanish or Dutch Excel export, a tab): a text column whose
    values are all numbers such as "1,5" or "1.234,5" becomes a float column, with a
    note. A file that also holds numbers with a decimal point ("2.5") is ambiguous and
    refused (DECIMAL_MIXED). ``decimal=","`` converts such columns in any file and takes
    every dot grouping three digits as a thousands separator ("1.234" is 1234);
    ``decimal="."`` converts nothing.
    """
    if decimal == "." or (decimal == "auto" and table.options.get("sep", ",") == ","):
        return
    if decimal == ",":
        table.options["decimal"] = ","
    frame = table.frame
    pattern = _COMMA_NUMBER if decimal == "auto" else _COMMA_NUMBER_GIVEN
    converted: dict[int, str] = {}  # column position → an example value
    for i in range(frame.shape[1]):
        column = frame.iloc[:, i]
        if frame.columns[i] == id_column or not pd.api.types.is_object_dtype(column):
            continue
        present = column.dropna()
        if present.empty or not present.map(lambda v: isinstance(v, str)).all():
            continue
        text = present.str.strip()
        if not text.str.fullmatch(pattern).all():
            continue
        with_comma = text[text.str.contains(",", regex=False)]
        if with_comma.empty and decimal == "auto":
            continue
        example = with_comma.iloc[0] if len(with_comma) else text.iloc[0]
        numbers = column.str.strip().str.replace(".", "", regex=False)
        frame.isetitem(i, pd.to_numeric(numbers.str.replace(",", ".", regex=False)))
        converted[i] = example
    if not converted:
        return
    if decimal == "auto":
        _refuse_decimal_points(frame, path, converted)
    names = [str(frame.columns[i]) for i in converted]
    how = "detected" if decimal == "auto" else "(--decimal ,)"
    table.notes.append(
        f"{path}: decimal comma {how}: {len(names)} column(s) written like 1,5 read as "
        f"numbers ({errors.examples(names, 3)})"
        + ("; give --decimal . to keep them as text" if decimal == "auto" else "")
    )
    table.options["decimal"] = ","


def _refuse_decimal_points(frame: pd.DataFrame, path: str, converted: dict[int, str]) -> None:
    """DECIMAL_MIXED when another column holds numbers written with a decimal point."""
    for i in range(frame.shape[1]):
        column = frame.iloc[:, i]
        if i in converted or not pd.api.types.is_float_dtype(column):
            continue
        values = column.dropna().to_numpy()
        fractional = values[values != np.round(values)]
        if fractional.size:
            comma_at, comma_value = next(iter(converted.items()))
            raise UserError(
                errors.DECIMAL_MIXED,
                path=path,
                comma_column=frame.columns[comma_at],
                comma_value=comma_value,
                point_column=frame.columns[i],
                point_value=f"{fractional[0]:g}",
            )
