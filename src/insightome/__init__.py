"""insightome: honest, audited, documented biomedical discovery.

Public API (mirrors the CLI)::

    import insightome

    adata = insightome.read("expression.csv", annotations="samples.tsv")
    run = insightome.run(adata, target="response", sensitive=["sex"])
    insightome.predict(run, "new_samples.csv")
    insightome.validate(run.path, "independent_cohort.csv")
    insightome.synthesize("cohort.csv", "synthetic.csv", target="response")  # + evidence

    search = insightome.BBCSearchCV([my_pipeline, other_pipeline]).fit(X, y)  # own pipelines
    search.bbc_estimate_, search.best_estimator_, search.cv_results_

    bundle = insightome.admet_fit("tdc_data/")          # 22 TDC ADMET endpoint models
    table = insightome.admet_predict(["CCO", "c1ccccc1O"])  # intervals, domain, alerts
    result = insightome.optimize(seeds, insightome.read_objective("objective.yaml"), bundle)

Heavy modules are imported on first use, so ``import insightome`` stays fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "read": ("insightome.io", "read"),
    "run": ("insightome.workflow", "run"),
    "BBCSearchCV": ("insightome.evaluate.search", "BBCSearchCV"),
    "resume": ("insightome.workflow", "resume"),
    "RunOptions": ("insightome.options", "RunOptions"),
    "Stage": ("insightome.stages", "Stage"),
    "Featurizer": ("insightome.stages", "Featurizer"),
    "Run": ("insightome.run_directory", "Run"),
    "predict": ("insightome.prediction", "predict"),
    "validate": ("insightome.validation", "validate"),
    "rediscover": ("insightome.followup", "rediscover"),
    "reaudit": ("insightome.followup", "reaudit"),
    "monitor": ("insightome.monitoring", "monitor"),
    "read_prediction_log": ("insightome.audit.prediction_log", "read_log"),
    "StudySpec": ("insightome.study", "StudySpec"),
    "make_study": ("insightome.study", "make_study"),
    "UserError": ("insightome.errors", "UserError"),
    "admet_fit": ("insightome.apps.admet.api", "admet_fit"),
    "admet_predict": ("insightome.apps.admet.api", "admet_predict"),
    "load_admet_bundle": ("insightome.apps.admet.bundle", "load_bundle"),
    "optimize": ("insightome.apps.admet.optimize", "optimize"),
    "synthesize": ("insightome.synthetic.cohort", "synthesize"),
    "read_objective": ("insightome.apps.admet.optimize", "read_objective"),
}

__all__ = [
    "BBCSearchCV",
    "Featurizer",
    "Run",
    "RunOptions",
    "Stage",
    "StudySpec",
    "UserError",
    "__version__",
    "admet_fit",
    "admet_predict",
    "load_admet_bundle",
    "make_study",
    "monitor",
    "optimize",
    "predict",
    "read",
    "read_objective",
    "read_prediction_log",
    "reaudit",
    "rediscover",
    "resume",
    "run",
    "synthesize",
    "validate",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'insightome' has no attribute {name!r}")
