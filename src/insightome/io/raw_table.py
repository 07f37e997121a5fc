"""The table as read from a file, before any interpretation: :class:`RawTable`.

The readers of :mod:`insightome.io.formats` return one; :mod:`insightome.io.orientation` and
:mod:`insightome.io.tables` decide what its rows and columns mean.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd


@dataclass
class RawTable:
    """A table as read from disk, before any interpretation.

    ``frame`` has string column names (whitespace-stripped, duplicates kept as in the
    file). ``first_is_index`` is True when the first column holds row names: a stored
    index (Parquet) or a column whose header cell is blank.
    """

    frame: pd.DataFrame
    fmt: str
    options: dict[str, Any]
    first_is_index: bool = False
    row_offset: int = 2  # data row i (0-based, in the file) is line i + row_offset
    notes: list[str] = field(default_factory=list)
    positions: np.ndarray | None = None  # file positions of the kept rows

    def line(self, i: int) -> int:
        """The user-facing row number of the ``i``-th row of :attr:`frame`."""
        pos = int(self.positions[i]) if self.positions is not None else i
        return pos + self.row_offset
