"""Clinical-trial recruitment (issue 23): patients to trials and trials to patients.

* :mod:`~insightome.apps.trials.records` — ClinicalTrials.gov records in (JSON lines, API v2
  JSON, legacy XML via :mod:`~insightome.apps.trials.registry_formats`).
* :mod:`~insightome.apps.trials.items`, :mod:`~insightome.apps.trials.checks`,
  :mod:`~insightome.apps.trials.criteria` — eligibility text → inclusion/exclusion items →
  checks (age, sex, measures with comparators and units, conditions with time windows).
* :mod:`~insightome.apps.trials.patients` — patients' notes (and a structured row) in.
* :mod:`~insightome.apps.trials.judge` — one criterion × one patient: met / not met /
  unknown, with the evidence.
* :mod:`~insightome.apps.trials.retrieval` — BM25 recall (bm25s).
* :mod:`~insightome.apps.trials.matcher` — one vocabulary for both sides; the score.
* :mod:`~insightome.apps.trials.api` — ``match`` and ``screen`` (what the CLI calls), the
  tables and the coordinator's decisions; :mod:`~insightome.apps.trials.report` — the HTML
  report.
"""
