"""insightome: honest, audited, documented biomedical discovery.

Public API (mirrors the CLI)::

    import insightome

    adata = insightome.read("expression.csv", annotations="samples.tsv")
    run = insightome.run(adata, target="response", sensitive=["sex"])
    insightome.predict(run, "new_samples.csv")
    insightome.validate(run.path, "independent_cohort.csv")

Heavy modules are imported on first use, so ``import insightome`` stays fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "read": ("insightome.io", "read"),
    "run": ("insightome.api", "run"),
    "Run": ("insightome.runs", "Run"),
    "predict": ("insightome.scoring", "predict"),
    "validate": ("insightome.followup", "validate"),
    "rediscover": ("insightome.followup", "rediscover"),
    "reaudit": ("insightome.followup", "reaudit"),
    "monitor": ("insightome.audit.monitor", "monitor"),
    "read_prediction_log": ("insightome.audit.prediction_log", "read_log"),
    "StudySpec": ("insightome.study", "StudySpec"),
    "make_study": ("insightome.study", "make_study"),
    "UserError": ("insightome.errors", "UserError"),
}

__all__ = [
    "Run",
    "StudySpec",
    "UserError",
    "__version__",
    "make_study",
    "monitor",
    "predict",
    "read",
    "read_prediction_log",
    "reaudit",
    "rediscover",
    "run",
    "validate",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'insightome' has no attribute {name!r}")
