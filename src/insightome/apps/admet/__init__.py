"""ADMET prediction and molecular optimization app.

* :mod:`~insightome.apps.admet.endpoints` — the 22 TDC ADMET Benchmark Group endpoints
  (task, metric, unit, valid range).
* :mod:`~insightome.apps.admet.tdc_data` — loading TDC's files (benchmark-group layout or
  full datasets) and the leaderboard split.
* :mod:`~insightome.apps.admet.context` — structural alerts, synthesizability, drug-likeness.
* :mod:`~insightome.apps.admet.inputs` — standardization, duplicate merging, features.
* :mod:`~insightome.apps.admet.model` — one endpoint's model: scaffold CV, selection,
  BBC-CV estimate, conformal calibration, applicability domain, clipping.
* :mod:`~insightome.apps.admet.similarity` — chunked Tanimoto search on Morgan bits.
* :mod:`~insightome.apps.admet.bundle` — the 22-endpoint bundle: fit, save (versioned), load,
  predict, profile against approved drugs.
* :mod:`~insightome.apps.admet.api` — ``admet_fit`` / ``admet_predict`` (what the CLI calls).
* :mod:`~insightome.apps.admet.objective`, :mod:`~insightome.apps.admet.mutations`,
  :mod:`~insightome.apps.admet.optimize` — the graph-based genetic algorithm
  (``insightome optimize``) and its report (:mod:`~insightome.apps.admet.optimize_report`).

Scaffold splits live in :mod:`insightome.evaluate.scaffold`.
"""

from insightome.apps.admet.endpoints import ENDPOINTS, Endpoint, endpoint

__all__ = ["ENDPOINTS", "Endpoint", "endpoint"]
