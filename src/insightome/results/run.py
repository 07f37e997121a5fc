"""The run results as a whole (results.json): what was studied, the estimate, the
candidates, provenance, seeds, timings, and the optional discovery, audit, documents and
compute ledger. ``RunResults.from_dict`` parses and validates a results.json dict;
``to_dict`` gives the same dict back (keys absent in the input stay absent, numbers keep
their type and value)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, JsonValue, ValidationError

from insightome.results.audit import Audit
from insightome.results.augmentation import Augmentation
from insightome.results.compute import ComputeLedger, DocumentSummary
from insightome.results.discovery import Discovery
from insightome.results.estimate import (
    CandidateScore,
    Estimate,
    Permutation,
    Resampling,
    SecondaryEstimate,
    Seeds,
    Winner,
)
from insightome.results.fields import MaybeNumber, Number, Record, optional
from insightome.results.images import ImagesSummary
from insightome.results.leakage import LeakageScreen
from insightome.results.learning_curve import LearningCurve
from insightome.results.notes import ClinicalNotes
from insightome.results.quantum import QuantumCandidates

RESULTS_SCHEMA = "insightome.results/1"
KNOWN_SCHEMAS = (RESULTS_SCHEMA,)

Task = Literal["binary", "multiclass", "regression", "survival"]


class ResultsSchemaError(ValueError):
    """A results dict that does not match the results types (a bug when writing a run)."""

    def __init__(self, path: str, message: str, where: str = "results.json") -> None:
        self.path = path
        self.message = message
        super().__init__(f"{where}: {path}: {message}")


class Spec(Record):
    """The frozen study specification (``study.StudySpec.to_dict``)."""

    task: Task
    target: str | None
    time: str | None
    event: str | None
    sensitive: list[str]
    use_sensitive: bool
    groups: str | None
    site: str | None
    exclude: list[str]
    positive_class: str | None
    task_detected: bool


class RegressionSummary(Record):
    mean: MaybeNumber
    sd: MaybeNumber
    min: MaybeNumber
    max: MaybeNumber


class TaskDetection(Record):
    """How the task was read from the outcome when --task was not given
    (``outcome_encoding.TaskDecision``): the decision, what was seen, the rule, the
    override; and, when the study models another task (a multiclass outcome left with 2
    classes once the classes too small to learn are left out is binary), that task and
    why (the run's ``task`` is always the task modelled)."""

    task: Task
    reason: str
    rule: str
    override: str
    final_task: Task = optional()  # the task modelled, when it is not ``task``
    changed_because: str = optional()  # why the modelled task is not ``task``


class LeftOutClass(Record):
    """A class too small to be learned, left out of the study (``fold_design``): its label,
    its samples and, with --groups, the groups it was seen in."""

    label: str
    n_samples: int
    n_groups: int = optional()


class Outcome(Record):
    """The outcome as studied (``study.Study.outcome_summary``); which keys are present
    depends on the task."""

    target: str | None
    time: str | None
    event: str | None
    task_detection: TaskDetection = optional()  # --task not given
    classes_left_out: list[LeftOutClass] = optional()  # classes too small to learn
    # classification: the samples (groups) of a class every training fold had to hold;
    # absent from runs before issue 27, which used 2 (fold_design)
    min_training_per_class: int = optional()
    classes: list[str] = optional()  # classification
    class_counts: dict[str, int] = optional()  # classification
    positive_class: str = optional()  # binary
    summary: RegressionSummary = optional()  # regression
    n_events: int = optional()  # survival
    median_time: MaybeNumber = optional()  # survival
    time_dependent_auc_horizon: MaybeNumber = optional()  # survival


class DataFile(Record):
    """One input file (or the AnnData given in memory) and how it was read."""

    role: str
    path: str
    display_path: str = optional()
    sha256: str
    format: str
    n_rows: int
    n_cols: int
    read_options: dict[str, JsonValue]


class AnnotationJoin(Record):
    """How the annotation table (sample sheet) was joined onto the data's samples."""

    path: str
    id_column: str  # the table's sample-ID column
    n_matched: int  # data samples with a row (the samples read)
    data_without_annotations: list[str]  # data samples left out (--drop-unmatched)
    annotations_without_data: int  # table rows without a data sample (ignored): a count
    features: list[str]  # table columns used as features (--annotation-features)
    not_features: list[str]  # the table's other columns


class DataProvenance(Record):
    files: list[DataFile]
    orientation: str | None
    orientation_reason: str | None
    annotations: AnnotationJoin = optional()  # with an annotation table


class RunResults(Record):
    """results.json: one run, typed. docs/results-schema.md describes every key."""

    schema_: str = Field(default=None, alias="schema")  # absent in a run: version 1
    schema_doc: str = optional()
    name: str
    created: str
    task: Task
    task_detected: bool
    n_samples: int
    n_features: int
    n_features_dropped: int
    outcome: Outcome
    spec: Spec
    winner: Winner
    estimate: Estimate
    secondary: dict[str, SecondaryEstimate]  # metric name → its BBC-CV estimate
    decision_threshold: MaybeNumber  # binary only
    configurations: list[CandidateScore]
    resampling: Resampling
    permutation: Permutation
    warnings: list[str]
    notes: list[str]
    data: DataProvenance
    versions: dict[str, str]  # package → version
    seeds: Seeds
    timings: dict[str, Number]  # stage → seconds
    # every option the run was called with (insightome.run's keyword arguments), as
    # followup.reload needs them; kept open while the options get their own schema
    invocation: dict[str, JsonValue] = optional()
    clinical_notes: ClinicalNotes = optional()  # --notes
    images: ImagesSummary = optional()  # --image-column
    leakage_screen: LeakageScreen = optional()  # the screen stage (runs from issue 17 on)
    learning_curve: LearningCurve = optional()  # --learning-curve
    augmentation: Augmentation = optional()  # --augment
    quantum: QuantumCandidates = optional()  # --candidates …,quantum
    discovery: Discovery = optional()
    audit: Audit = optional()
    documents: dict[str, DocumentSummary] = optional()
    compute: ComputeLedger = optional()
    # what plugged-in stages (insightome.stages.Stage) stored: stage name → its JSON values
    extras: dict[str, JsonValue] = optional()

    @property
    def schema_version(self) -> int:
        """1 for ``insightome.results/1`` and for runs that name no schema."""
        return int((self.schema_ or RESULTS_SCHEMA).rsplit("/", 1)[1])

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "results.json") -> RunResults:
        """Parse and validate; a mismatch raises :class:`ResultsSchemaError` naming the
        JSON path of the first difference (``$.estimate.ci95[1]``)."""
        if not isinstance(d, dict):
            raise ResultsSchemaError("$", "expected a JSON object", where)
        schema = d.get("schema", RESULTS_SCHEMA)
        if schema not in KNOWN_SCHEMAS:
            raise ResultsSchemaError(
                "$.schema", f"unknown schema {schema!r} (this version reads {RESULTS_SCHEMA})",
                where,
            )  # fmt: skip
        try:
            return cls.model_validate(d)
        except ValidationError as exc:
            errors = exc.errors()
            path = json_path(d, errors[0]["loc"])
            # a union (int | float) reports one error per member at the same path
            messages = dict.fromkeys(e["msg"] for e in errors if json_path(d, e["loc"]) == path)
            raise ResultsSchemaError(path, " or ".join(messages), where) from None

    def to_dict(self) -> dict[str, Any]:
        """The results.json dict this object was parsed from (or would be written as)."""
        return self.model_dump(by_alias=True, exclude_unset=True)


def json_path(data: Any, loc: tuple[int | str, ...]) -> str:
    """The JSON path (``$.a.b[0]``) of a pydantic error location in ``data``; the tags
    pydantic adds for the members of a union (``int``, ``float``) are not part of it."""
    path = "$"
    node = data
    for part in loc:
        if isinstance(node, dict) and isinstance(part, str):
            path += f".{part}" if part.isidentifier() else f"[{part!r}]"
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int):
            path += f"[{part}]"
            node = node[part] if part < len(node) else None
        else:
            continue  # a union member's tag, not a key
    return path
