"""Discovery (results.json ``discovery``, docs/hypotheses.md): the minimal signature,
stability selection, univariate effects, attribution, equivalents, pathways, subgroups and
the ranked hypotheses. Tables whose columns depend on the data (per-class outcome counts,
per-group composition cells, enrichment tables) are typed as rows of JSON values."""

from __future__ import annotations

from pydantic import JsonValue

from insightome.results.fields import CI95, MaybeNumber, Number, Record, Row, optional


class SizeScore(Record):
    size: int
    cv_value: MaybeNumber
    bbc_selection_frequency: MaybeNumber


class SignatureEstimate(Record):
    """BBC-CV of "the best configuration, then its smallest size within tolerance"."""

    metric: str
    value: MaybeNumber
    ci95: CI95
    plain_cv_value: MaybeNumber
    method: str
    corrects_for: list[str] = optional()


class Signature(Record):
    """The minimal signature (``discover.signature.SignatureResult.to_dict``)."""

    method: str
    sizes: list[int]
    cv_by_size: list[SizeScore]
    bbc_configuration_frequency: dict[str, MaybeNumber] = optional()
    full_model_cv_value: MaybeNumber
    tolerance: Number
    size: int
    within_tolerance: bool
    features: list[str]
    estimate: SignatureEstimate
    fold_signature_stability: MaybeNumber
    fold_signatures: list[list[str]]
    notes: list[str]


class StableFeature(Record):
    feature: str
    frequency: MaybeNumber
    score: MaybeNumber


class StabilitySelection(Record):
    """Complementary-pairs stability selection (``discover.stability``)."""

    method: str
    q: int
    path_length: int
    threshold: Number
    n_subsamples: int
    expected_false_stable_bound: MaybeNumber
    n_stable: int
    stable: list[str]
    nogueira_stability: MaybeNumber
    top: list[StableFeature]


class Effects(Record):
    """Univariate effects; ``top`` holds the 50 smallest p-values, with columns that
    depend on the task (``discover.effects``)."""

    n_tested: int
    n_fdr_0_05: int
    top: list[Row]


class FeatureAttribution(Record):
    feature: str
    importance: MaybeNumber
    sd: MaybeNumber
    positive_fraction: MaybeNumber
    negative_fraction: MaybeNumber = optional()  # absent in runs made before it was kept
    rank: MaybeNumber


class Attribution(Record):
    metric: str | None
    method: str
    features: list[FeatureAttribution]


class Equivalent(Record):
    """A feature interchangeable with a signature member."""

    member: str
    equivalent: str
    correlation: MaybeNumber
    member_strength: MaybeNumber
    strength: MaybeNumber
    diff_ci95: CI95


class Pathways(Record):
    """ORA and pre-ranked GSEA over the gene-set files (``discover.pathways``)."""

    ora: list[Row]
    prerank: list[Row]
    mapping: dict[str, JsonValue]
    warnings: list[str]


class Subgroups(Record):
    """Outcome-blind subgroups (``discover.subgroups``); never per-sample labels. Hidden
    cells are null with their marker under the row's ``suppressed`` (docs/audit.md)."""

    k: int | None
    stability: list[Row]
    cluster_stability: list[Row]
    sizes: list[Row]
    outcome: dict[str, JsonValue]  # {"table": rows, "test": {name, statistic, p_value}}
    profile: list[Row]
    composition: dict[str, dict[str, JsonValue]]  # attribute → {table, test, suppressed_below}
    features_used: list[str]
    notes: list[str]
    settings: dict[str, JsonValue]


class Hypothesis(Record):
    """A row of hypotheses.tsv (``discover.hypotheses.COLUMNS``)."""

    rank: int
    kind: str
    candidate: str
    statement: str
    score: MaybeNumber
    stability: MaybeNumber
    effect_name: str | None
    effect: MaybeNumber
    effect_ci_low: MaybeNumber
    effect_ci_high: MaybeNumber
    fdr: MaybeNumber
    enrichment: JsonValue
    attribution: MaybeNumber
    in_signature: bool
    equivalents: str | None
    status: str
    how_to_test: str


class HypothesesSummary(Record):
    n: int
    by_kind: dict[str, int]
    top: list[Hypothesis]  # the first 30 rows of hypotheses.tsv


class GeneSetFile(Record):
    path: str
    absolute_path: str = optional()
    sha256: str
    n_sets: int = optional()
    n_genes: int = optional()


class Discovery(Record):
    """Everything discovery found (``discover.discovery.Discovery.to_dict``), plus the
    gene-set files it read."""

    status: str
    signature: Signature | None
    stability: StabilitySelection | None
    effects: Effects | None
    attribution: Attribution | None
    equivalents: list[Equivalent]
    pathways: Pathways | None
    subgroups: Subgroups | None
    hypotheses: HypothesesSummary
    notes: list[str]
    seconds: dict[str, Number]
    gene_set_files: list[GeneSetFile] = optional()
