"""Typed results: the classes results.json is the serialization of, and its JSON Schema.

Why pydantic (2): the two needs that decide are a JSON Schema generated from the types
(``model_json_schema``) and validation that names the JSON path of a mismatch; pydantic
gives both, in strict mode keeps every number as written (so parsing and writing a run
changes no value), and is already installed with typer. Stdlib dataclasses would need a
hand-written schema generator and validator; attrs (with cattrs) has no schema generation.

``RunResults.from_dict(d)`` parses and validates a results.json dict, ``.to_dict()`` gives
the same dict back; :func:`validate_results` is what ``run_directory.write_run`` calls before a
run is renamed into place. The shipped schema is ``results.schema.json``
(``python -m insightome.results.schema`` regenerates it).
"""

from __future__ import annotations

from typing import Any

from insightome.results.audit import Audit, DataAudit, GroupMetric, ModelAudit
from insightome.results.augmentation import Augmentation
from insightome.results.compute import ComputeLedger, DocumentSummary, StageCost
from insightome.results.discovery import Discovery, Hypothesis, Signature
from insightome.results.estimate import (
    CandidateScore,
    Estimate,
    Permutation,
    Resampling,
    SecondaryEstimate,
    Seeds,
    Winner,
)
from insightome.results.leakage import LeakageFinding, LeakageScreen
from insightome.results.learning_curve import LearningCurve
from insightome.results.run import (
    KNOWN_SCHEMAS,
    RESULTS_SCHEMA,
    DataProvenance,
    Outcome,
    ResultsSchemaError,
    RunResults,
    Spec,
)


def validate_results(d: dict[str, Any], where: str = "results.json") -> RunResults:
    """``d`` as :class:`RunResults`; raises :class:`ResultsSchemaError` (with the JSON path)
    when it does not match the types or when parsing would not give ``d`` back."""
    parsed = RunResults.from_dict(d, where)
    if parsed.to_dict() != d:  # e.g. a number a type would coerce: refuse, never alter
        raise ResultsSchemaError("$", "does not serialize back to the same values", where)
    return parsed


__all__ = [
    "KNOWN_SCHEMAS",
    "RESULTS_SCHEMA",
    "Audit",
    "Augmentation",
    "CandidateScore",
    "ComputeLedger",
    "DataAudit",
    "DataProvenance",
    "Discovery",
    "DocumentSummary",
    "Estimate",
    "GroupMetric",
    "Hypothesis",
    "LeakageFinding",
    "LeakageScreen",
    "LearningCurve",
    "ModelAudit",
    "Outcome",
    "Permutation",
    "Resampling",
    "ResultsSchemaError",
    "RunResults",
    "SecondaryEstimate",
    "Seeds",
    "Signature",
    "Spec",
    "StageCost",
    "Winner",
    "validate_results",
]
