"""The options of ``insightome run`` (and of the commands on a saved run), declared once.

Each field of :class:`RunOptions` is one option: its name, type and default are the Python
API's; the :class:`~insightome.options.declaration.Option` in its metadata holds its help
text, CLI spelling, check, commands and whether it is recorded. From these fields come
``insightome.run``'s keywords (:meth:`RunOptions.create`), the Typer options of every
command (:mod:`insightome.cli.options`), the validation (:func:`check_options`,
:func:`check_run_options`) and the recorded invocation (:func:`invocation`). To add an
option, add a field here (docs/architecture.md, "Adding an option").

The fields are in the order ``insightome run --help`` lists them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from insightome import errors
from insightome.compute.backends import SlurmConfig
from insightome.errors import UserError
from insightome.options import checks
from insightome.options.declaration import Variant, declared, option
from insightome.options.key_values import (
    parse_cut_points,
    parse_justifications,
    parse_thresholds,
    parse_value_labels,
)

SAVED_RUN_DECIMAL = Variant(
    help="Decimal mark of the new data's numbers: auto, '.' or ',' (default: the run's own "
    "--decimal).",
    default=None,
    cli_type=str | None,
)
NEW_DATA = ("predict", "validate", "monitor")  # commands that read new samples for a saved run


def saved_run_default(help: str, cli_type: Any = str | None) -> dict[str, Variant]:
    """The variant of a reading option on the new-data commands: default None, i.e. the
    run's own value (results.json ``invocation``), said in the help."""
    return {c: Variant(help=help, default=None, cli_type=cli_type) for c in NEW_DATA}


def comma_list(value: str | None) -> tuple[str, ...]:
    """``"sex, race"`` → ``("sex", "race")`` (a CLI list option)."""
    return tuple(v.strip() for v in value.split(",") if v.strip()) if value else ()


def repeated(values: Sequence[Any] | None) -> tuple[Any, ...]:
    """A repeatable CLI option (None when not given) → a tuple."""
    return tuple(values or ())


def justifications(items: Sequence[str] | None) -> dict[str, str]:
    """``--justify sex="reason"`` (repeatable) → ``{"sex": "reason"}``."""
    return parse_justifications(items or [])


def audit_thresholds(items: Sequence[str] | None) -> dict[str, Any]:
    """``--audit-threshold max_auc_difference=0.03`` (repeatable) → overrides."""
    return parse_thresholds(items or [])


def cut_points(value: str | None) -> tuple[Any, ...] | None:
    """``--age-bands 50,65,75`` → ``(50.0, 65.0, 75.0)`` (None when not given)."""
    return None if value is None else parse_cut_points(value)


def value_labels(items: Sequence[str] | None) -> dict[str, dict[str, str]] | None:
    """``--value-labels sex=0:female,1:male`` (repeatable) → ``{"sex": {"0": "female", …}}``
    (None when not given: ``audit`` then keeps the run's own)."""
    return None if items is None else parse_value_labels(items)


def nested_dict(value: Mapping[str, Mapping[str, str]] | None) -> Any:
    if not isinstance(value or {}, Mapping) or not all(
        isinstance(m, Mapping) for m in (value or {}).values()
    ):
        return value  # not {attribute: {code: label}}: checks.value_labels refuses it
    return {str(k): {str(c): str(v) for c, v in m.items()} for k, m in (value or {}).items()}


def listed(value: Sequence[Any] | None) -> list[Any] | None:
    return None if value is None else list(value)


def resolved_path(value: str | Path | None) -> str | None:
    return None if value is None else str(Path(value).resolve())


def resolved_paths(values: Sequence[str | Path]) -> list[str]:
    return [str(Path(v).resolve()) for v in values]


def as_dict(value: Mapping[str, Any] | None) -> dict[str, Any]:
    return dict(value or {})


@dataclass(frozen=True)
class RunOptions:
    """Every option of :func:`insightome.run`; see the module docstring."""

    target: str | None = option(
        None,
        "Outcome column (classification or regression).",
        commands=("run", "validate", "synthesize"),
        variants={"validate": Variant(help="Outcome column of the cohort (default: the run's).")},
    )
    time_col: str | None = option(
        None,
        "Survival time column (with --event).",
        flags=("--time",),
        commands=("run", "validate", "monitor", "synthesize"),
        variants={
            "validate": Variant(help="Survival time column of the cohort (default: the run's)."),
            "monitor": Variant(help="Survival time column of the new data, if known."),
        },
    )
    event: str | None = option(
        None,
        "Survival event column, 1 = event, 0 = censored.",
        commands=("run", "validate", "monitor", "synthesize"),
        variants={
            "validate": Variant(help="Survival event column of the cohort (default: the run's)."),
            "monitor": Variant(help="Survival event column of the new data, if known."),
        },
    )
    task: str = option(
        "auto",
        "auto, binary, multiclass, regression or survival.",
        check=checks.choice(checks.TASK_CHOICES),
        commands=("run", "synthesize"),
    )
    annotations: str | Path | None = option(  # noqa: RUF009 (option() returns a dataclass field)
        None,
        "Sample-annotation table (sample sheet) joined on sample ID.",
        commands=("run", *NEW_DATA, "synthesize"),
        cli_type=Path | None,
        record=resolved_path,
        variants={
            c: Variant(help="Sample-annotation table of the new samples, joined on sample ID.")
            for c in NEW_DATA
        },
    )
    id_column: str | None = option(
        None,
        "Sample-ID column of the data file.",
        commands=("run", *NEW_DATA, "synthesize"),
        variants=saved_run_default("Sample-ID column of the data file (default: the run's)."),
    )
    annotations_id_column: str | None = option(
        None,
        "Sample-ID column of the annotation table (default: the --id-column name if the "
        "table has it, else its first column).",
        commands=("run", *NEW_DATA, "synthesize"),
        variants=saved_run_default(
            "Sample-ID column of the annotation table (default: the run's)."
        ),
    )
    drop_unmatched: bool = option(
        False,
        "Leave out data samples without a row in the annotation table (noted: how many and "
        "which) instead of stopping.",
        flags=("--drop-unmatched/--no-drop-unmatched",),
        commands=("run", *NEW_DATA, "synthesize"),
        variants=saved_run_default(
            "Leave out samples without a row in the annotation table (default: the run's).",
            bool | None,
        ),
    )
    annotation_features: Sequence[str] = option(
        (),
        "Annotation-table columns to use as features, comma-separated (numeric or "
        "categorical; not outcome, group, site or sensitive columns).",
        check=checks.named_columns,
        cli_type=str | None,
        cli_default=None,
        from_cli=comma_list,
        record=list,
        commands=("run", "synthesize"),
    )
    notes: str | Path | None = option(  # noqa: RUF009 (option() returns a dataclass field)
        None,
        "Clinical notes table (one row per note, several per sample allowed; docs/notes.md): "
        "per lexicon concept, counts of affirmed, negated, uncertain, historical and family "
        "mentions become features.",
        cli_type=Path | None,
        record=resolved_path,
        commands=("run", *NEW_DATA),
        variants={
            c: Variant(
                help="Clinical notes of the new samples (one row per note): needed when the run "
                "was made with --notes; its lexicon, language and settings are the run's."
            )
            for c in NEW_DATA
        },
    )
    notes_id: str | None = option(
        None,
        "Column of the notes table holding each note's sample ID (default: the --id-column "
        "name; never guessed).",
        commands=("run", *NEW_DATA),
        variants=saved_run_default(
            "Column of the notes table holding each note's sample ID (default: the run's)."
        ),
    )
    notes_text: str | None = option(
        None,
        "Text column of the notes table (default: found by its name, else the longest).",
        commands=("run", *NEW_DATA),
        variants=saved_run_default("Text column of the notes table (default: the run's)."),
    )
    lexicon: str | Path | None = option(  # noqa: RUF009 (option() returns a dataclass field)
        None,
        "Concept lexicon for --notes: CSV, TSV or YAML with concept_id, name, synonyms, "
        "regex, category (default: the starter lexicon of the notes' language).",
        cli_type=Path | None,
        record=resolved_path,
    )
    notes_language: str = option(
        "auto",
        "Language of the notes: auto (detected and recorded), en or es.",
        check=checks.choice(checks.NOTES_LANGUAGES),
    )
    notes_time: str | None = option(
        None,
        "Time column of the notes table (dates or numbers): with --index-time, only notes "
        "written before each sample's index time are used; the report says how many were left "
        "out.",
        commands=("run", *NEW_DATA),
        variants=saved_run_default(
            "Time column of the notes table: only notes written before each sample's index time "
            "are used (default: the run's)."
        ),
    )
    index_time: str | None = option(
        None,
        "The prediction moment for --notes-time: a column of the data (dates or numbers, one "
        "per sample; not a feature) or one date for all (YYYY-MM-DD).",
        commands=("run", *NEW_DATA),
        variants=saved_run_default(
            "The prediction moment for --notes-time: a column of the new data or one date for "
            "all, YYYY-MM-DD (default: the run's)."
        ),
    )
    notes_tfidf: int = option(
        0,
        "With --notes: also the K TF-IDF word 1-2-grams of each sample's notes most associated "
        "with the outcome (tokens in a negation scope marked neg_), the vocabulary, IDF and "
        "selection fitted inside every training fold (0 = off; binary, multiclass or "
        "regression).",
        flags=("--notes-tfidf",),
        check=checks.integer(0, 100_000, advice="0 turns the terms off"),
    )
    show_evidence: bool = option(
        False,
        "Put a few evidence snippets per concept (note text around a mention) in the report "
        "and results.json; off by default, so no note text leaves the notes.",
    )
    image_column: str | None = option(
        None,
        "Column of the data (an image manifest, one row per sample) holding each sample's "
        "image: a DICOM file or series folder, NIfTI, PNG/TIFF/JPEG, .npy, or FILE.npz#key/i "
        "(docs/images.md); paths relative to the manifest's folder.",
        commands=("run",),
    )
    mask_column: str | None = option(
        None,
        "Column of the manifest holding each image's region-of-interest mask (same shape; "
        "radiomics are computed inside it; default: the whole image).",
        commands=("run",),
    )
    image_features: Sequence[str] = option(
        (),
        "Image features, comma-separated: radiomics (IBSI first-order, shape and texture; the "
        "default), cnn (a small CNN trained inside every training fold; the images extra), "
        "encoder (embeddings from --image-encoder).",
        cli_type=str | None,
        cli_default=None,
        from_cli=comma_list,
        record=list,
        check=checks.image_features,
        commands=("run",),
    )
    image_encoder: str | Path | None = option(  # noqa: RUF009 (option() returns a dataclass field)
        None,
        "Your pretrained image encoder for --image-features encoder: TorchScript (.pt) or ONNX "
        "(.onnx) with a sidecar JSON (input size, channels, normalisation; docs/images.md).",
        cli_type=Path | None,
        record=resolved_path,
        commands=("run",),
    )
    cnn_size: int = option(
        0,
        "Side in pixels of the square images the CNN sees (0 = the images' own size, at most 64).",
        check=checks.integer(0, 512, advice="0 takes the images' own size"),
        commands=("run",),
    )
    radiomics_bins: int = option(
        32,
        "Radiomics: grey levels per region (IBSI fixed bin number over each region's range).",
        check=checks.integer(2, 1024),
        commands=("run",),
    )
    radiomics_bin_width: float | None = option(
        None,
        "Radiomics: fixed bin width in the image's units instead of --radiomics-bins (e.g. 25 "
        "HU for CT).",
        check=checks.positive,
        commands=("run",),
    )
    show_images: bool = option(
        False,
        "Put example images per class (and, with cnn, occlusion maps) in the report; off by "
        "default, so no image leaves the data.",
        commands=("run",),
    )
    orient: str = option(
        "auto",
        "auto, samples-by-features or features-by-samples.",
        check=checks.choice(checks.ORIENT_CHOICES),
        commands=("run", *NEW_DATA, "synthesize"),
        variants=saved_run_default(
            "auto, samples-by-features or features-by-samples (default: the run's)."
        ),
    )
    decimal: str = option(
        "auto",
        "Decimal mark of the numbers: auto (a decimal comma as in 1,5 is detected in ;- or "
        "tab-separated files), '.' or ','.",
        check=checks.choice(checks.DECIMAL_CHOICES),
        commands=("run", *NEW_DATA, "synthesize"),
        variants={c: SAVED_RUN_DECIMAL for c in NEW_DATA},
    )
    sensitive: Sequence[str] = option(
        (),
        "Sensitive attributes, comma-separated (kept out of the features).",
        cli_type=str | None,
        cli_default=None,
        from_cli=comma_list,
        record=list,
        commands=("run", "synthesize"),
        variants={
            "synthesize": Variant(
                help="Sensitive attributes, comma-separated: fidelity is judged per group "
                "(they stay in the synthetic table)."
            )
        },
    )
    use_sensitive: bool = option(
        False, "Also use the sensitive attributes as features.", commands=("run", "synthesize")
    )
    groups: str | None = option(
        None,
        "Group column (e.g. patient ID): a group never straddles folds.",
        commands=("run", "synthesize"),
        variants={
            "synthesize": Variant(
                help="Patient column: synthesize needs one row per patient (repeated values "
                "are refused; distinct ones are an identifier, left out)."
            )
        },
    )
    site: str | None = option(
        None,
        "Site/batch column (kept out of the features).",
        commands=("run", "synthesize"),
        variants={
            "synthesize": Variant(
                help="Site/batch column (kept in the synthetic table, judged like a sensitive "
                "attribute)."
            )
        },
    )
    exclude: Sequence[str] = option(
        (),
        "Columns to leave out of the features, comma-separated.",
        cli_type=str | None,
        cli_default=None,
        from_cli=comma_list,
        record=list,
        commands=("run", "synthesize"),
        variants={
            "synthesize": Variant(
                help="Columns to leave out of the synthetic table, comma-separated."
            )
        },
    )
    positive_class: str | None = option(
        None, "Positive class label for a binary outcome.", commands=("run", "synthesize")
    )
    folds: int | None = option(
        None,
        "Cross-validation folds (default 5, or as many as the smallest class allows).",
        check=checks.integer(2, advice="cross-validation needs at least 2 folds"),
        commands=("run", "synthesize"),
    )
    repeats: int | None = option(
        None,
        "Cross-validation repeats (default 3; 1 from 20,000 samples on).",
        check=checks.integer(1),
        commands=("run", "synthesize"),
    )
    n_bootstrap: int = option(
        1000,
        "BBC-CV bootstrap samples.",
        flags=("--bootstrap",),
        check=checks.integer(checks.MIN_BOOTSTRAP, advice="fewer give no usable 95% CI"),
        commands=("run", "synthesize"),
    )
    bbc_pooling: str = option(
        checks.DEFAULT_POOLING,
        "How each BBC-CV bootstrap scores a candidate: all_repeats (the mean over every CV "
        "repeat of the metric of that repeat's pooled out-of-fold predictions, same weights), "
        "one_repeat (one repeat per bootstrap: Tsamardinos et al.'s BBC-CV, more "
        "conservative) or per_fold (the mean over one repeat's folds of the metric within "
        "each fold); benchmarks/results/estimators.md compares them.",
        check=checks.choice(checks.POOLINGS),
        commands=("run",),
    )
    bbc_interval: str = option(
        checks.DEFAULT_INTERVAL,
        "How the interval is read off the bootstraps' out-of-bag scores: percentile (their "
        "2.5th and 97.5th percentiles: a 95% interval), calibrated (the same after multiplying "
        "their spread around the estimate by 0.7, 0.8 or 0.6 for one_repeat, all_repeats or "
        "per_fold: the narrowest multiple that kept >= 90% coverage of held-out scores in "
        "benchmarks/results/estimators.md; it targets 90%) or oob_scaled (by the square root "
        "of the out-of-bag fraction, ~0.61: under 90% there).",
        check=checks.choice(checks.INTERVALS),
        commands=("run",),
    )
    ensemble: str = option(
        "auto",
        "Average of the top configurations: top3 (the average of the three with the best CV "
        "scores joins the selection; it wins when its score is higher, and BBC-CV repeats "
        "both choices in every bootstrap, so the estimate is corrected for it), off, or "
        "auto (top3 with the default preset for a binary or multiclass outcome without "
        "--augment, --notes-tfidf or the CNN; off otherwise). top3 is refused with --augment "
        "and for a regression or survival outcome.",
        check=checks.choice(checks.ENSEMBLES),
        commands=("run",),
    )
    permutations: int = option(
        0,
        "Label permutations for an empirical p-value (0 = off).",
        check=checks.integer(0, advice="0 turns the test off"),
    )
    preset: str = option(
        "default",
        "Candidate set: default, or fast (one configuration per family; no extremely "
        "randomized trees).",
        check=checks.choice(checks.presets),
        commands=("run", "synthesize"),
    )
    candidates: str = option(
        "default",
        "Candidate sets, comma-separated: default (the preset's classical candidates), quantum "
        "(a quantum-kernel SVM and a variational quantum classifier on a local simulator, with "
        "an RBF SVM on the same reduced features as their classical control; the quantum "
        "extra; docs/quantum.md).",
        check=checks.candidate_sets,
    )
    augment: str = option(
        "off",
        "Augmented twins: every candidate is also trained on its training fold plus "
        "synthetic rows made from that fold only (cart: sequential CART; copula: Gaussian "
        "copula); BBC-CV selects among both, and the best of each are compared "
        "(docs/augmentation.md).",
        check=checks.choice(checks.augment_methods),
    )
    augment_ratio: float = option(
        1.0,
        "With --augment: synthetic rows per real training row.",
        check=checks.number(checks.MIN_AUGMENT_RATIO, checks.MAX_AUGMENT_RATIO),
    )
    out_dir: str | Path | None = option(  # noqa: RUF009 (option() returns a dataclass field)
        "runs",
        "Parent directory of the run directory.",
        flags=("--out",),
        check=checks.directory,
        recorded=False,
        cli_type=Path,
        cli_default=Path("runs"),
    )
    name: str | None = option(None, "Run name (default: data file and outcome).")
    seed: int = option(
        0,
        "Master random seed (splits, bootstraps, models).",
        check=checks.integer(0, checks.MAX_SEED),
        commands=("run", "validate", "monitor", "synthesize"),
        envvar="INSIGHTOME_SEED",
    )
    n_jobs: int = option(
        1,
        "Parallel workers (-1 = all cores).",
        check=checks.n_jobs,
        commands=("run", "discover", "audit", "synthesize"),
        recorded=False,
        envvar="INSIGHTOME_N_JOBS",
    )
    scheduler: str | None = option(
        None,
        "Dask scheduler address (tcp://host:8786) to run the fits on.",
        recorded=False,
        envvar="INSIGHTOME_SCHEDULER",
    )
    slurm: SlurmConfig | None = option(  # noqa: RUF009 (option() returns a dataclass field)
        None,
        "SLURM jobs to run the fits on (the CLI builds it from --slurm-config/--slurm-*).",
        flags=None,
        recorded=False,
    )
    budget: str | None = option(
        None,
        "Compute budget: CPU time (30min, 2h, 900s) or energy (0.05kWh).",
        check=checks.budget,
    )
    carbon_intensity: float | None = option(
        None,
        "Grid carbon intensity, gCO2e/kWh (default: world average, see docs).",
        check=checks.number(0.0),
        commands=("run", "synthesize"),
    )
    pue: float | None = option(
        None,
        "Power usage effectiveness (1.0 for a laptop; default 1.67).",
        check=checks.number(1.0),
        commands=("run", "synthesize"),
    )
    genesets: Sequence[str | Path] = option(
        (),
        "Gene-set file (.gmt) for pathway enrichment; repeat for several.",
        commands=("run", "discover"),
        cli_type=list[Path] | None,
        cli_default=None,
        from_cli=repeated,
        record=resolved_paths,
    )
    discover: bool = option(
        True, "Discovery: signature, effects, subgroups, pathways, hypotheses.tsv."
    )
    signature_tolerance: float = option(
        0.02,
        "Minimal signature: largest allowed drop of the CV metric vs the full model.",
        check=checks.number(0.0, 1.0, high_open=True),
        commands=("run", "discover"),
        variants={
            "discover": Variant(
                help="Signature tolerance (default: the run's own).",
                default=None,
                cli_type=float | None,
            )
        },
    )
    audit: bool = option(True, "Audit: data, model per group, conformal coverage, documents.")
    learning_curve: bool = option(
        False,
        "Learning curve: the winner refitted on subsamples of every training fold (20% to "
        "100%), an inverse power law with a bootstrap band, what doubling n would buy; with "
        "discovery, signature stability versus n (docs/learning-curves.md).",
    )
    learning_curve_sizes: Sequence[float] | None = option(
        None,
        "Learning-curve training fractions, e.g. 0.25,0.5,0.75,1 (default 0.2,0.3,0.45,0.6,0.8,1).",
        check=checks.fractions,
        cli_type=str | None,
        from_cli=cut_points,
        record=listed,
    )
    justify: Mapping[str, str] | None = option(
        None,
        'Declare a sensitive attribute\'s use clinically justified: sex="reason". Repeatable.',
        commands=("run", "audit"),
        cli_type=list[str] | None,
        from_cli=justifications,
        record=as_dict,
    )
    min_group_size: int = option(
        30,
        "Groups smaller than this get 'insufficient evidence' in the audit.",
        check=checks.integer(2),
        commands=("run", "audit"),
    )
    age_bands: Sequence[float] | None = option(
        None,
        "Age bands of every age attribute: cut points in years, e.g. 50,65,75 for <50, 50–64, "
        "65–74, ≥75 (default: bands that fit the cohort, docs/audit.md).",
        check=checks.cut_points,
        commands=("run", "audit"),
        cli_type=str | None,
        from_cli=cut_points,
        record=listed,
        variants={
            "audit": Variant(
                help="Age bands, cut points in years, e.g. 50,65,75 (default: the run's own)."
            )
        },
    )
    value_labels: Mapping[str, Mapping[str, str]] | None = option(
        None,
        "Name the codes of a sensitive attribute: sex=0:female,1:male. Repeatable.",
        check=checks.value_labels,
        commands=("run", "audit"),
        cli_type=list[str] | None,
        from_cli=value_labels,
        record=nested_dict,
        variants={
            "audit": Variant(
                help="Name the codes of a sensitive attribute: sex=0:female,1:male (default: "
                "the run's own). Repeatable."
            )
        },
    )
    min_cell: int = option(
        10,
        "Table cells with fewer samples are suppressed.",
        check=checks.integer(1, advice="small cells are always suppressed"),
        commands=("run", "audit", "monitor", "synthesize"),
        variants={
            "monitor": Variant(
                help="Table cells with fewer samples are suppressed (default: the run's).",
                default=None,
                cli_type=int | None,
            )
        },
    )
    conformal_level: float = option(
        0.9,
        "Coverage of the conformal prediction sets / intervals.",
        check=checks.number(0.5, 1.0, high_open=True),
        commands=("run", "audit"),
    )
    audit_thresholds: Mapping[str, Any] | None = option(
        None,
        "Override a verdict band, e.g. max_auc_difference=0.03 (docs/audit.md). Repeatable.",
        flags=("--audit-threshold",),
        commands=("run", "audit"),
        cli_type=list[str] | None,
        from_cli=audit_thresholds,
        record=as_dict,
    )
    max_features: int | None = option(
        None,
        "Keep the N features with the largest variance (outcome-blind); .h5ad is then read "
        "from disk in blocks, so it may be larger than memory.",
        check=checks.integer(1),
    )
    skip: Sequence[str] = option(
        (),
        "Skip an optional stage by name: learn, discover, audit (as --no-learning-curve, "
        "--no-discover, --no-audit). Repeatable.",
        recorded=False,  # skipping a stage is recorded as learning_curve/discover/audit: false
        cli_type=list[str] | None,
        cli_default=None,
        from_cli=repeated,
    )
    progress: bool = option(False, "Show progress bars.", flags=None, recorded=False)

    @classmethod
    def create(cls, **keywords: Any) -> RunOptions:
        """The options from ``insightome.run``'s keywords; an unknown keyword is refused
        with one line naming it. ``skip`` naming learn, discover or audit is the same as
        ``learning_curve=False``, ``discover=False`` / ``audit=False`` (that is what is
        recorded)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(keywords) - names)
        if unknown:
            raise UserError(
                errors.OPTION_INVALID,
                option=", ".join(unknown),
                reason="not an option of insightome.run (its options: the fields of "
                "insightome.RunOptions)",
            )
        options = cls(**keywords)
        skip = tuple(options.skip)
        return dataclasses.replace(
            options,
            discover=options.discover and "discover" not in skip,
            audit=options.audit and "audit" not in skip,
            learning_curve=options.learning_curve and "learn" not in skip,
            skip=tuple(s for s in skip if s not in ("discover", "audit", "learn")),
        )

    def sheet_features(self) -> list[str]:
        """The ``--annotation-features`` copied into the features when the data are read:
        all but the sensitive attributes, which ``--use-sensitive`` makes features from
        ``obs`` (where the audit needs them too)."""
        return [c for c in self.annotation_features if c not in set(self.sensitive)]

    def skipped(self) -> frozenset[str]:
        """The names of the stages not to run."""
        off = {name for name in ("discover", "audit") if not getattr(self, name)}
        if not self.learning_curve:
            off.add("learn")  # off by default: --learning-curve runs it
        return frozenset(off | set(self.skip))


def invocation(data: Any, options: Any) -> dict[str, Any]:
    """What ``results.json["invocation"]`` records: the data file and every recorded
    option, in its JSON form (``resume`` and ``followup.reload`` read it back)."""
    in_memory = not isinstance(data, str | Path)  # an AnnData
    record: dict[str, Any] = {"data": None if in_memory else str(Path(data).resolve())}
    for name, (_, declared_option) in declared(type(options)).items():
        if declared_option.recorded:
            value = getattr(options, name)
            convert = declared_option.record
            record[name] = value if convert is None else convert(value)
    return record


def recorded_options(recorded: Mapping[str, Any], options_class: type = RunOptions) -> Any:
    """The options of a saved run from its recorded invocation (results.json or a
    checkpoint's invocation.json): what it does not record (an older run) is the default,
    except the BBC-CV estimator, whose default changed (an older run's was
    ``checks.LEGACY_POOLING`` / ``LEGACY_INTERVAL``); what is not an option (``data``,
    ``data_sha256``) is left out."""
    names = {f.name for f in dataclasses.fields(options_class)}
    given = {k: v for k, v in recorded.items() if k in names}
    if "bbc_pooling" in names and "bbc_pooling" not in given:
        # a run older than these options used Tsamardinos et al.'s BBC-CV, not today's default
        given["bbc_pooling"] = checks.LEGACY_POOLING
        given["bbc_interval"] = checks.LEGACY_INTERVAL
    if "ensemble" in names and "ensemble" not in given:
        given["ensemble"] = checks.LEGACY_ENSEMBLE  # a run older than the option averaged none
    return options_class(**given)


def check_options(
    values: Mapping[str, Any], *, command: str = "run", options_class: type = RunOptions
) -> None:
    """Raise :class:`UserError` for the first option of ``values`` out of its range.

    ``values`` maps option names to values; names without a check are ignored, so a
    command passes just the options it takes. None passes where it is the option's
    default on ``command`` ("not given").
    """
    table = declared(options_class)
    for name, value in values.items():
        if name not in table:
            continue
        field, declared_option = table[name]
        if declared_option.check is None:
            continue
        if value is None and _none_allowed(field, declared_option, command):
            continue
        if (reason := declared_option.check(value)) is not None:
            flag = declared_option.cli_flags(name, isinstance(field.default, bool))[0]
            raise UserError(errors.OPTION_INVALID, option=flag.split("/")[0], reason=reason)


def _none_allowed(field: dataclasses.Field[Any], declared_option: Any, command: str) -> bool:
    """None is "not given" where the option's type allows it or it is the default."""
    return "None" in str(field.type) or declared_option.default_on(command, field.default) is None


def check_run_options(values: Mapping[str, Any], *, options_class: type = RunOptions) -> None:
    """Every range and every combination of ``insightome.run``'s options."""
    check_options(values, options_class=options_class)
    checks.check_combinations(values)


@dataclass(frozen=True)
class Rule:
    """An option's CLI spelling and range check (a view of its declaration)."""

    option: str
    check: checks.Check
    optional: bool


def option_rules(options_class: type = RunOptions) -> dict[str, Rule]:
    """Option name → its rule, for every option with a range check."""
    return {
        name: Rule(
            declared_option.cli_flags(name, isinstance(field.default, bool))[0],
            declared_option.check,
            _none_allowed(field, declared_option, "run"),
        )
        for name, (field, declared_option) in declared(options_class).items()
        if declared_option.check is not None
    }


#: Option name → rule: one row per option with a range check (tests/cli/test_bad_options.py
#: holds a bad-input case for each).
OPTION_RULES = option_rules()
