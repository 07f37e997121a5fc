"""The checks behind the options schema: ranges (one :data:`Check` per option, declared
on its field of :class:`insightome.options.RunOptions`) and the contradictory combinations
of ``insightome run``'s options (:data:`COMBINATIONS`).

A check returns why a value is out of range, or None; :func:`insightome.options.check_options`
turns that into one clear line (a :class:`UserError`, exit code 2 in the CLI), before
anything is read or written.
"""

from __future__ import annotations

import itertools
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from insightome import errors
from insightome.compute.budget import Budget
from insightome.errors import UserError

#: The largest seed: derived seeds (seed + repeat, seed + 1000 · repeat + fold, …) must
#: stay below 2**32, the limit of numpy's and scikit-learn's integer seeds.
MAX_SEED = 2**31 - 1
PRESETS = ("default", "fast")  # --preset's choices; models.candidates builds each
#: --bbc-pooling's and --bbc-interval's choices and defaults (evaluate.bbc defines each;
#: benchmarks/results/estimators.md compares them)
POOLINGS = ("one_repeat", "all_repeats", "per_fold")
INTERVALS = ("percentile", "calibrated", "oob_scaled")
# the defaults are benchmarks/results/estimators.md's choice: all_repeats reduces
# one_repeat's bias (-0.009 vs -0.016) with a 15% narrower percentile interval that still
# covered >= 94% of held-out scores in every cell, the omics splits included; calibrated
# is narrower but covered 72% of the omics splits, so it stays an option
DEFAULT_POOLING = "all_repeats"
DEFAULT_INTERVAL = "percentile"
#: what a run recorded before --bbc-pooling and --bbc-interval existed used (Tsamardinos et
#: al.'s BBC-CV): a saved run or table that does not name its estimator was made with these
LEGACY_POOLING = "one_repeat"
LEGACY_INTERVAL = "percentile"
#: --ensemble's choices: auto = top3 with the default preset for a classification outcome
#: (without --augment), else off; a run recorded before the option made no average
ENSEMBLES = ("auto", "top3", "off")
LEGACY_ENSEMBLE = "off"
ENSEMBLE_SIZE = 3  # top3: the configurations averaged
#: ``calibrated``: the out-of-bag scores' spread around their mean times this multiple (per
#: --bbc-pooling), then their 2.5th and 97.5th percentiles: the narrowest multiple of the
#: grid 0.6-0.9 that kept coverage of held-out scores >= 90% at every n of the development
#: draws of benchmarks/estimators.py (per_fold's is the grid's smallest: its narrowest may be
#: lower). Studied on the primary metric of binary and survival tasks only.
CALIBRATED_WIDTH = {"one_repeat": 0.7, "all_repeats": 0.8, "per_fold": 0.6}
#: --candidates' sets: the preset's classical candidates and the quantum set
#: (models.candidates.quantum_candidates; the quantum extra)
CANDIDATE_SETS = ("default", "quantum")
#: --augment's synthesizers; insightome.synthesis.SYNTHESIZERS builds each (named here so
#: that reading the options does not import the generators and scikit-learn)
SYNTHESIZER_NAMES = ("cart", "copula")
MIN_BOOTSTRAP = 100  # fewer bootstrap samples do not give a usable 95% percentile interval
TASK_CHOICES = ("auto", "binary", "multiclass", "regression", "survival")
ORIENT_CHOICES = ("auto", "samples-by-features", "features-by-samples")
DECIMAL_CHOICES = ("auto", ".", ",")
NOTES_LANGUAGES = ("auto", "en", "es")  # --notes-language (featurize.notes.LANGUAGES + auto)
MAX_AGE = 150  # --age-bands: cut points are ages in years
# --augment-ratio: below 0.1 synthetic rows barely change a fit; above 10 they swamp the
# real rows and every augmented fit costs 11 times a real-only one
MIN_AUGMENT_RATIO, MAX_AUGMENT_RATIO = 0.1, 10.0

Check = Callable[[Any], str | None]  # why a value is out of range, or None


def integer(low: int, high: int | None = None, *, advice: str = "") -> Check:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            return f"must be a whole number, got {value!r}"
        if value < low or (high is not None and value > high):
            span = f">= {low}" if high is None else f"between {low} and {high}"
            return f"must be {span}, got {value}" + (f" ({advice})" if advice else "")
        return None

    return check


def number(low: float, high: float | None = None, *, high_open: bool = False) -> Check:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or value != value:
            return f"must be a number, got {value!r}"
        if value < low or (high is not None and (value >= high if high_open else value > high)):
            if high is None:
                return f"must be >= {low:g}, got {value}"
            return f"must be in [{low:g}, {high:g}{')' if high_open else ']'}, got {value}"
        return None

    return check


def positive(value: Any) -> str | None:
    """A number > 0 (a bin width)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or value != value:
        return f"must be a number, got {value!r}"
    return None if value > 0 else f"must be > 0, got {value}"


IMAGE_FEATURES = ("radiomics", "cnn", "encoder")  # --image-features


def image_features(value: Any) -> str | None:
    """``--image-features``: some of radiomics, cnn, encoder, each once."""
    parts = [value] if isinstance(value, str) else list(value)
    unknown = [p for p in parts if p not in IMAGE_FEATURES]
    if unknown:
        return f"choose among {', '.join(IMAGE_FEATURES)} (comma-separated), not {unknown[0]!r}"
    if len(set(parts)) != len(parts):
        return f"each image feature once, got {','.join(parts)!r}"
    return None


def candidate_set_names(value: str) -> list[str]:
    """``"default, quantum"`` → ``["default", "quantum"]`` (the names as given, unchecked)."""
    return [p.strip() for p in value.split(",") if p.strip()]


def candidate_sets(value: Any) -> str | None:
    """``--candidates``: some of default, quantum, comma-separated, each once."""
    if not isinstance(value, str):
        return f"expected a comma-separated text such as 'default,quantum', got {value!r}"
    parts = candidate_set_names(value)
    if not parts:
        return f"name at least one of {', '.join(CANDIDATE_SETS)}"
    unknown = [p for p in parts if p not in CANDIDATE_SETS]
    if unknown:
        return f"choose among {', '.join(CANDIDATE_SETS)} (comma-separated), not {unknown[0]!r}"
    if len(set(parts)) != len(parts):
        return f"each set once, got {value!r}"
    return None


def value_labels(value: Any) -> str | None:
    """``{attribute: {code: label}}`` (``--value-labels``; the API passes it as is): every
    label a non-empty text, and no two codes of one attribute with one label (that would
    merge two groups unnoticed)."""
    example = "e.g. {'sex': {'0': 'female', '1': 'male'}}"
    if not isinstance(value, Mapping):
        return f"expected attribute → {{code: label}}, {example}; got {value!r}"
    for attribute, coding in value.items():
        if not isinstance(coding, Mapping) or not coding:
            return f"{attribute}: expected {{code: label}}, {example}; got {coding!r}"
        labels = [str(label).strip() for label in coding.values()]
        if not all(labels):
            return f"{attribute}: a label is empty"
        repeated = sorted({label for label in labels if labels.count(label) > 1})
        if repeated:
            return f"two codes of {attribute} are labelled {repeated[0]!r} (it would merge them)"
    return None


def cut_points(value: Any) -> str | None:
    """Age cut points in years (``--age-bands 50,65,75``): increasing numbers in (0, 150)."""
    parts = list(value) if isinstance(value, Sequence) and not isinstance(value, str) else [value]
    shown = ",".join(str(v) for v in parts)
    numbers_only = all(
        isinstance(v, numbers.Real) and not isinstance(v, bool) and v == v for v in parts
    )
    if not parts or not numbers_only:
        return f"expected cut points in years, e.g. 50,65,75; got {shown!r}"
    if any(not 0 < v < MAX_AGE for v in parts):
        return f"cut points are ages in years, between 0 and {MAX_AGE}; got {shown!r}"
    if any(b <= a for a, b in itertools.pairwise(parts)):
        return f"cut points must increase, e.g. 50,65,75; got {shown!r}"
    return None


def fractions(value: Any) -> str | None:
    """Learning-curve training fractions (``--learning-curve-sizes 0.25,0.5,0.75,1``): at
    least 3 increasing numbers in (0, 1], the last 1 (the full training fold)."""
    parts = list(value) if isinstance(value, Sequence) and not isinstance(value, str) else [value]
    shown = ",".join(str(v) for v in parts)
    numbers_only = all(
        isinstance(v, numbers.Real) and not isinstance(v, bool) and v == v for v in parts
    )
    if not numbers_only:
        return f"expected fractions of the training folds, e.g. 0.25,0.5,0.75,1; got {shown!r}"
    if len(parts) < 3:
        return f"a power law needs at least 3 training sizes; got {shown!r}"
    if any(not 0 < v <= 1 for v in parts) or any(b <= a for a, b in itertools.pairwise(parts)):
        return f"fractions must increase within (0, 1], e.g. 0.25,0.5,0.75,1; got {shown!r}"
    if parts[-1] != 1:
        return f"the last fraction must be 1 (the full training fold); got {shown!r}"
    return None


def choice(choices: Sequence[str] | Callable[[], Sequence[str]]) -> Check:
    """One of ``choices`` (or of what ``choices()`` returns, read when a value is checked)."""

    def check(value: Any) -> str | None:
        allowed = choices() if callable(choices) else choices
        if value not in allowed:
            return f"choose {', '.join(repr(c) for c in allowed)}, not {value!r}"
        return None

    check.choices = choices  # type: ignore[attr-defined]  (a form's menu reads them)
    return check


def augment_methods() -> Sequence[str]:
    """``--augment``'s choices: off, or a synthesizer of :mod:`insightome.synthesis`."""
    return ("off", *SYNTHESIZER_NAMES)


def presets() -> Sequence[str]:
    """The candidate presets (``--preset``; :func:`insightome.models.candidates` builds them)."""
    return PRESETS


def n_jobs(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        return f"must be a whole number, got {value!r}"
    if value == 0:
        return "0 is not a number of workers (use 1, 2, … or -1 for all cores)"
    return None


def directory(value: Any) -> str | None:
    path = Path(value)
    if path.exists() and not path.is_dir():
        return f"{path} is a file; give the directory to write runs into"
    return None


def budget(value: Any) -> str | None:
    try:
        Budget.parse(str(value), core_power_w=1.0, pue=1.0)
    except UserError as exc:
        return str(exc.fields.get("reason", exc))
    return None


def named_columns(value: Any) -> str | None:
    """Columns named one by one (``--annotation-features``): no ``all``, since a sample
    sheet usually carries follow-up columns (survival time, later events) that would
    leak the outcome."""
    if isinstance(value, str) or not all(isinstance(v, str) for v in value):
        return f"must be column names, got {value!r}"
    if any(v.lower() == "all" for v in value):
        return (
            "name the columns one by one: 'all' is not offered, since a sample sheet usually "
            "holds follow-up columns (survival time, later events) that leak the outcome"
        )
    return None


@dataclass(frozen=True)
class Combination:
    """Options that contradict each other: ``applies(values)`` is True when they do."""

    options: str
    applies: Callable[[Mapping[str, Any]], bool]
    reason: str | Callable[[Mapping[str, Any]], str]  # fixed, or from the values

    def why(self, values: Mapping[str, Any]) -> str:
        return self.reason(values) if callable(self.reason) else self.reason


def _given(values: Mapping[str, Any], name: str) -> bool:
    value = values.get(name)
    return value not in (None, "", (), [], {}, False)


def _unused_without(name: str, stage: str, reason: str, flag: str | None = None) -> Combination:
    """An option only the ``stage`` (discover, audit) uses, given with that stage off."""
    return Combination(
        flag or "--" + name.replace("_", "-"),
        lambda v: _given(v, name) and v.get(stage) is False,
        reason,
    )


def _needs_annotations(name: str, reason: str) -> Combination:
    """An option about the annotation table, given without --annotations."""
    return Combination(
        "--" + name.replace("_", "-"),
        lambda v: _given(v, name) and not _given(v, "annotations"),
        reason,
    )


def _needs_notes(name: str, reason: str) -> Combination:
    """An option about the notes, given without --notes (``auto`` counts as not given)."""
    return Combination(
        "--" + name.replace("_", "-"),
        lambda v: _given(v, name) and v.get(name) != "auto" and not _given(v, "notes"),
        reason,
    )


def _needs_images(name: str, reason: str) -> Combination:
    """An option about the images, given without --image-column (defaults count as not
    given)."""
    return Combination(
        "--" + name.replace("_", "-"),
        lambda v: _given(v, name) and not _given(v, "image_column"),
        reason,
    )


def _image_features(values: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(values.get("image_features") or ())


def _role_features(values: Mapping[str, Any]) -> list[str]:
    """Annotation features that are outcome, group, site or excluded columns, or
    sensitive ones without --use-sensitive."""
    roles = {values.get(k) for k in ("target", "time_col", "event", "groups", "site")}
    roles |= set(values.get("exclude") or ())
    if not values.get("use_sensitive"):
        roles |= set(values.get("sensitive") or ())
    return [c for c in values.get("annotation_features") or () if c in roles - {None}]


COMBINATIONS: tuple[Combination, ...] = (
    Combination(
        "--time/--event",
        lambda v: _given(v, "time_col") != _given(v, "event"),
        "survival needs both --time and --event; give the other one too",
    ),
    Combination(
        "--target",
        lambda v: _given(v, "target") and (_given(v, "time_col") or _given(v, "event")),
        "give either --target (classification, regression) or --time and --event "
        "(survival), not both",
    ),
    Combination(
        "--task",
        lambda v: (
            v.get("task") == "survival" and not (_given(v, "time_col") and _given(v, "event"))
        ),
        "a survival task needs --time COLUMN and --event COLUMN instead of --target",
    ),
    Combination(
        "--task",
        lambda v: (
            v.get("task") in ("binary", "multiclass", "regression")
            and (_given(v, "time_col") or _given(v, "event"))
        ),
        "--time/--event imply a survival task; use --task survival (or auto)",
    ),
    Combination(
        "--positive-class",
        lambda v: (
            _given(v, "positive_class")
            and (v.get("task") in ("multiclass", "regression", "survival") or _given(v, "time_col"))
        ),
        "applies to a binary outcome only; drop it for this task",
    ),
    Combination(
        "--use-sensitive",
        lambda v: _given(v, "use_sensitive") and not _given(v, "sensitive"),
        "needs --sensitive to name the attributes to use as features",
    ),
    _needs_annotations(
        "annotation_features", "names columns of the annotation table; give it with --annotations"
    ),
    _needs_annotations(
        "annotations_id_column",
        "names the annotation table's ID column; give the table with --annotations",
    ),
    _needs_annotations(
        "drop_unmatched",
        "leaves out samples without a row in the annotation table; give it with --annotations",
    ),
    Combination(
        "--annotation-features",
        lambda v: bool(_role_features(v)),
        lambda v: (
            f"'{_role_features(v)[0]}' is an outcome, group, site, excluded or "
            "sensitive column and cannot be a feature (a sensitive one only with --use-sensitive); "
            "drop it from --annotation-features"
        ),
    ),
    *(
        _needs_notes(name, reason)
        for name, reason in (
            ("notes_id", "names the notes table's sample-ID column; give the table with --notes"),
            ("notes_text", "names the notes table's text column; give the table with --notes"),
            ("lexicon", "is the concept lexicon of the notes; give them with --notes"),
            ("notes_language", "is the language of the notes; give them with --notes"),
            ("notes_time", "is a column of the notes table; give it with --notes"),
            ("show_evidence", "shows note text from --notes; give the notes with --notes"),
            ("notes_tfidf", "adds TF-IDF terms of the notes; give them with --notes"),
        )
    ),
    Combination(
        "--notes-tfidf",
        lambda v: _given(v, "notes_tfidf") and v.get("augment", "off") != "off",
        "synthetic rows have no notes to take terms from; drop --augment or --notes-tfidf",
    ),
    Combination(
        "--notes-tfidf",
        lambda v: (
            _given(v, "notes_tfidf") and (v.get("task") == "survival" or _given(v, "time_col"))
        ),
        "selects terms by their association with a class or a number, not with survival; "
        "drop --notes-tfidf (the concept features stay)",
    ),
    Combination(
        "--notes-time/--index-time",
        lambda v: _given(v, "notes_time") != _given(v, "index_time"),
        "keeping only the notes written before the prediction moment needs both the notes' "
        "time column (--notes-time) and the index time (--index-time COLUMN or YYYY-MM-DD)",
    ),
    *(
        _needs_images(name, reason)
        for name, reason in (
            (
                "mask_column",
                "names the manifest's mask column; name its image column with --image-column",
            ),
            (
                "image_features",
                "chooses the features of the images; name the manifest's image "
                "column with --image-column",
            ),
            (
                "image_encoder",
                "embeds the images; name the manifest's image column with --image-column",
            ),
            (
                "show_images",
                "shows images of the manifest; name its image column with --image-column",
            ),
        )
    ),
    Combination(
        "--cnn-size",
        lambda v: v.get("cnn_size", 0) != 0 and "cnn" not in _image_features(v),
        "sets the CNN's input size; add cnn to --image-features or drop --cnn-size",
    ),
    Combination(
        "--radiomics-bins/--radiomics-bin-width",
        lambda v: v.get("radiomics_bins", 32) != 32 and _given(v, "radiomics_bin_width"),
        "give one discretisation: a fixed number of bins or a fixed bin width, not both",
    ),
    Combination(
        "--image-encoder",
        lambda v: _given(v, "image_encoder") != ("encoder" in _image_features(v)),
        "the encoder features need both: --image-features with encoder and the model file "
        "with --image-encoder",
    ),
    Combination(
        "--image-features cnn",
        lambda v: "cnn" in _image_features(v) and _given(v, "notes_tfidf"),
        "one learned text or image step per candidate: the CNN and --notes-tfidf are not "
        "combined yet; drop one (the notes' concept features stay with the CNN)",
    ),
    Combination(
        "--candidates quantum",
        lambda v: (
            "quantum" in str(v.get("candidates", ""))
            and (v.get("task") in ("survival", "regression") or _given(v, "time_col"))
        ),
        "the quantum candidates are classifiers (binary or multiclass outcomes); drop quantum "
        "from --candidates",
    ),
    Combination(
        "--image-features cnn",
        lambda v: "cnn" in _image_features(v) and v.get("augment", "off") != "off",
        "synthetic rows have no images for the CNN; drop --augment or cnn",
    ),
    Combination(
        "--image-features cnn",
        lambda v: (
            "cnn" in _image_features(v)
            and (v.get("task") in ("survival", "regression") or _given(v, "time_col"))
        ),
        "the CNN learns a class from the images, not a number or survival; drop cnn (radiomics "
        "and encoder features stay)",
    ),
    _unused_without(
        "genesets", "discover", "gene sets are used by discovery; drop --no-discover or --genesets"
    ),
    _unused_without(
        "justify", "audit", "justifications are used by the audit; drop --no-audit or --justify"
    ),
    _unused_without(
        "audit_thresholds",
        "audit",
        "thresholds are used by the audit; drop --no-audit or --audit-threshold",
        flag="--audit-threshold",
    ),
    _unused_without(
        "age_bands",
        "audit",
        "age bands group the audit's sensitive attributes; drop --no-audit or --age-bands",
    ),
    _unused_without(
        "value_labels",
        "audit",
        "value labels name the audit's groups; drop --no-audit or --value-labels",
    ),
    Combination(
        "--learning-curve-sizes",
        lambda v: _given(v, "learning_curve_sizes") and not v.get("learning_curve"),
        "sets the sizes of the learning curve; give it with --learning-curve",
    ),
    Combination(
        "--augment-ratio",
        lambda v: v.get("augment_ratio", 1.0) != 1.0 and v.get("augment", "off") == "off",
        "sets how many synthetic rows --augment adds per real row; give it with "
        "--augment cart or --augment copula",
    ),
    Combination(
        "--augment",
        lambda v: v.get("augment", "off") != "off" and _given(v, "groups"),
        "synthesizes one patient per row, so with --groups (several rows per patient) a "
        "synthetic row would mix a patient's samples and the patient's rows would count "
        "several times; drop --groups or --augment",
    ),
    Combination(
        "--augment",
        lambda v: (
            v.get("augment", "off") != "off"
            and (
                v.get("task") in ("multiclass", "regression", "survival")
                or _given(v, "time_col")
                or _given(v, "event")
            )
        ),
        "is offered for a binary outcome only (its comparison reads AUC, Brier score and "
        "calibration slope); drop --augment for this task",
    ),
    Combination(
        "--scheduler",
        lambda v: _given(v, "scheduler") and _given(v, "slurm"),
        "give a Dask scheduler or SLURM options, not both",
    ),
)


#: predict, validate and monitor: the notes options (whose defaults are the run's) need the
#: new samples' notes
NEW_DATA_COMBINATIONS: tuple[Combination, ...] = tuple(
    _needs_notes(name, reason)
    for name, reason in (
        ("notes_id", "names the notes table's sample-ID column; give the table with --notes"),
        ("notes_text", "names the notes table's text column; give the table with --notes"),
        ("notes_time", "is a column of the notes table; give it with --notes"),
        ("index_time", "is the prediction moment of the notes; give them with --notes"),
    )
)


def check_new_data_combinations(values: Mapping[str, Any]) -> None:
    """:func:`check_combinations` for the commands that read new samples for a saved run."""
    for combination in NEW_DATA_COMBINATIONS:
        if combination.applies(values):
            raise UserError(
                errors.OPTION_INVALID, option=combination.options, reason=combination.why(values)
            )


def check_combinations(values: Mapping[str, Any]) -> None:
    """Raise :class:`UserError` for the first contradictory combination in ``values``."""
    for combination in COMBINATIONS:
        if combination.applies(values):
            raise UserError(
                errors.OPTION_INVALID, option=combination.options, reason=combination.why(values)
            )
