"""Every metric a run reports has one readable name (``metric_label``), used by the console,
the report and the documents; results.json keeps the keys."""

from __future__ import annotations

import numpy as np

from insightome.audit.disparity_metrics import metrics_for_task
from insightome.evaluate.metrics import METRIC_LABELS, PRIMARY, SECONDARY, metric_label
from insightome.report import formatting


def _every_metric_key() -> set[str]:
    keys = {spec.name for spec in PRIMARY.values()}
    keys |= {spec.name for specs in SECONDARY.values() for spec in specs}
    pred = np.column_stack([np.linspace(0.1, 0.9, 10), np.full(10, 0.5)])
    for task in ("binary", "multiclass", "regression", "survival"):
        keys |= {m.name for m in metrics_for_task(task, pred)}
    return keys


def test_every_estimated_reported_and_audited_metric_has_a_readable_name() -> None:
    keys = _every_metric_key()
    assert {"auc", "auc_macro_ovr", "c_index", "r2", "tpr", "calibration_slope"} <= keys
    for key in keys:
        assert key in METRIC_LABELS, key
        label = metric_label(key)
        assert "_" not in label and label != "", (key, label)
    assert metric_label("auc_macro_ovr") == "AUC (macro, one-vs-rest)"
    assert metric_label("c_index") == "C-index" and metric_label("r2") == "R²"
    assert metric_label("balanced_accuracy") == "balanced accuracy"


def test_unknown_and_missing_keys() -> None:
    assert metric_label("my_custom_score") == "my custom score"
    assert metric_label(None) == "score" and metric_label("") == "score"


def test_the_report_uses_the_same_table() -> None:
    assert formatting.metric_label is metric_label and formatting.METRIC_LABELS is METRIC_LABELS
