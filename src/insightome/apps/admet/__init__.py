"""ADMET prediction and molecular optimization app.

* :mod:`~insightome.apps.admet.endpoints` — the 22 TDC ADMET Benchmark Group endpoints
  (task, metric, unit, valid range).
* :mod:`~insightome.apps.admet.tdc_data` — loading TDC's files (benchmark-group layout or
  full datasets) and the leaderboard split.
* :mod:`~insightome.apps.admet.context` — structural alerts, synthesizability, drug-likeness.

Scaffold splits live in :mod:`insightome.evaluate.scaffold`.
"""

from insightome.apps.admet.endpoints import ENDPOINTS, Endpoint, endpoint

__all__ = ["ENDPOINTS", "Endpoint", "endpoint"]
