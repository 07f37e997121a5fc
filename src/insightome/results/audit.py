"""The audit (results.json ``audit``, docs/audit.md): data audit, model audit by group,
conformal coverage, explanations. Rows whose columns depend on the task or on the groups
(representation, missingness, conformal coverage per group) are rows of JSON values."""

from __future__ import annotations

from pydantic import JsonValue

from insightome.results.fields import (
    CI95,
    MaybeNumber,
    Number,
    Record,
    Row,
    Suppressed,
    optional,
)


class ProxyAudit(Record):
    """Features that predict a sensitive attribute (proxies)."""

    threshold: Number
    rationale: str
    method: str
    attributes: list[Row]


class DataAudit(Record):
    n: int
    task: str
    min_cell: int
    representation: list[Row]  # attribute × group: n, percent, outcome
    missingness: list[Row]  # attribute: by_group, most_different
    proxies: ProxyAudit
    confounding: dict[str, JsonValue] | None  # null without --site
    notes: list[str]
    seconds: Number


class MetricValue(Record):
    value: MaybeNumber
    ci95: CI95


class GroupMetric(Record):
    """One row of the model audit: a metric in one group, against the reference group."""

    attribute: str
    group: str
    n: int | None
    metric: str
    value: MaybeNumber
    ci95: CI95 | None
    difference: MaybeNumber
    difference_ci95: CI95 | None
    ratio: MaybeNumber
    ratio_ci95: CI95 | None
    verdict: str
    suppressed: Suppressed = optional()


class DisparityFlag(Record):
    attribute: str
    group: str
    metric: str
    reason: str


class Threshold(Record):
    """A verdict threshold and where its value comes from (default or ``--audit-threshold``)."""

    value: JsonValue
    source: str


class ModelAudit(Record):
    metrics: list[str]
    reference: dict[str, str]  # attribute → reference group
    overall: dict[str, MetricValue]
    groups: list[GroupMetric]
    flags: list[DisparityFlag]
    thresholds: dict[str, Threshold]
    min_group_size: int
    notes: list[str]


class ConformalAudit(Record):
    """Conformal coverage, marginal and per group (absent parts: too few samples)."""

    level: Number = optional()
    method: str = optional()
    marginal: dict[str, JsonValue] = optional()
    groups: list[Row] = optional()
    thresholds: dict[str, JsonValue] = optional()  # also in model.json → conformal
    notes: list[str]


class ExplainedFeature(Record):
    feature: str
    importance: MaybeNumber
    sd: MaybeNumber
    positive_fraction: MaybeNumber
    negative_fraction: MaybeNumber = optional()  # absent in runs made before it was kept
    stable: bool | None  # None: no fold with a non-zero drop, so no sign to be stable
    sensitive: bool


class Explanations(Record):
    metric: str | None
    method: str
    features: list[ExplainedFeature]
    flags: list[Row]  # sensitive attributes relied on: status, reason
    justifications: dict[str, str]
    notes: list[str]


class AuditSettings(Record):
    min_group_size: int
    min_cell: int
    conformal_level: Number
    justify: dict[str, str]
    thresholds: dict[str, JsonValue]
    age_bands: list[Number] | None = optional()  # --age-bands; null: bands fit the cohort
    value_labels: dict[str, dict[str, str]] = optional()  # --value-labels


class AgeBands(Record):
    """The cut points of an age attribute's bands (a band is [cut, next cut)) and the rule
    that chose them: "set by --age-bands", "standard", "quantiles" or "insufficient"
    (docs/audit.md, groups/age_bands.py)."""

    cuts: list[Number]
    rule: str
    explanation: str


class AttributeCoding(Record):
    """How one sensitive attribute became its groups: "categories", "codes" (numbers whose
    coding was not given), "labelled codes" (--value-labels), "age bands" or "tertiles";
    ``text`` is the line the console and the report show."""

    kind: str
    groups: list[str]
    text: str
    value_labels: dict[str, str] = optional()
    age_bands: AgeBands = optional()


class Audit(Record):
    """The whole audit: the data half (run before resampling) and the model half."""

    data: DataAudit
    model: ModelAudit
    conformal: ConformalAudit
    explanations: Explanations
    attributes: dict[str, list[str]]  # attribute → its group labels
    codings: dict[str, AttributeCoding] = optional()  # attribute → how it became its groups
    settings: AuditSettings
    notes: list[str]
    seconds: dict[str, Number]
