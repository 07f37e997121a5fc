"""Values as JSON writes them: numpy scalars and arrays as Python numbers and lists, NaN as null.

Every JSON file insightome writes (results.json, model.json, audit and monitoring reports, the
prediction log) passes its content through :func:`json_ready`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def json_ready(obj: Any) -> Any:
    """Convert numpy scalars/arrays and NaN to JSON-safe values (NaN → null)."""
    if isinstance(obj, dict):
        return {str(k): json_ready(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_ready(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_ready(obj.tolist())
    if isinstance(obj, np.integer | np.bool_):
        return obj.item()
    if isinstance(obj, float | np.floating):
        v = float(obj)
        return None if math.isnan(v) or math.isinf(v) else v
    return obj
