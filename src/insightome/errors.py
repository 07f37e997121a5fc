"""User-facing errors.

A :class:`UserError` is a problem with what the user gave us (a file, a column, an
option), never a bug. The CLI prints its message as one line and exits with code 2,
without a traceback. Messages are module constants so tests assert on the same text
the user reads (the fairlearn convention). Every message names the file, column or row
and says what to do.
"""

from __future__ import annotations

import difflib
import shlex
from collections.abc import Iterable

EXIT_USER_ERROR = 2
EXIT_RUN_STOPPED = 3  # the run could not go on (not the user's input); its work is kept

# -- files ----------------------------------------------------------------------------
FILE_MISSING = "{path}: file not found. Check the path and try again."
FILE_IS_DIRECTORY = "{path}: is a directory, not a data file. Give the path of a file."
FILE_UNREADABLE = "{path}: cannot be read ({reason}). Check the file's permissions."
FILE_EMPTY = "{path}: the file is empty (no rows or no columns). Check the export."
FILE_CORRUPT = (
    "{path}: cannot be parsed as {kind} ({reason}). Re-export the file or check its format."
)
FILE_FORMAT_UNKNOWN = (
    "{path}: unknown file type '{suffix}'. Use .csv, .tsv, .txt, .parquet, .xlsx, .h5ad or .mat."
)
MAT_MISSING_KEYS = (
    "{path}: MATLAB file has no 'X' matrix (found: {keys}). Save the data as X (samples x "
    "features) and the labels as Y."
)

# -- identifiers and orientation ----------------------------------------------------------
DUPLICATE_IDS = (
    "{path}: duplicate sample ID{s} {examples} ({n} in all). Sample IDs must be unique; "
    "give each sample its own ID or aggregate the duplicates."
)
DUPLICATE_FEATURES = (
    "{path}: duplicate feature name{s} {examples} ({n} in all). Rename or aggregate them."
)
ID_COLUMN_MISSING = (
    "{path}: ID column '{column}' not found.{hint} Name the sample-ID column with --id-column."
)
ID_COLUMN_ONLY_IN_ANNOTATIONS = (
    "{path}: ID column '{column}' not found in the data file. It is the ID column of "
    "the annotation table {annotations}: name it with --annotations-id-column, and the data "
    "file's with --id-column (or leave --id-column out to use its first column)."
)
IDS_DO_NOT_MATCH = (
    "{path}: {n_missing} of {n_total} sample IDs in the data have no row in the annotation "
    "table {annotations} (e.g. {examples}). Make the IDs match, or leave those samples out "
    "with --drop-unmatched."
)
IDS_NONE_MATCH = (
    "{path}: none of its {n_total} sample IDs (e.g. {examples}) is in the annotation table "
    "{annotations} (IDs there, e.g. {theirs}). Check the ID columns (--id-column, "
    "--annotations-id-column)."
)
ANNOTATIONS_ID_COLUMN_MISSING = (
    "{path}: ID column '{column}' not found in the annotation table.{hint} Name its "
    "sample-ID column with --annotations-id-column."
)
ANNOTATION_FEATURE_MISSING = (
    "{path}: --annotation-features names column '{column}', which the annotation table does "
    "not have.{hint} Name columns of the annotation table."
)
ANNOTATION_FEATURE_CLASH = (
    "{path}: --annotation-features names '{column}', which is also a column of the data file "
    "{data}; it is a feature already. Drop it from --annotation-features or rename one."
)
ANNOTATION_FEATURES_NOT_GIVEN = (
    "{path}: the model uses annotation column(s) {examples} as features (--annotation-features "
    "of the run); give the new samples' annotation table with --annotations."
)
ORIENT_UNDECIDABLE = (
    "{path}: cannot tell whether rows are samples or features{why}. Say so with "
    "--orient samples-by-features or --orient features-by-samples."
)
ORIENT_INVALID = "--orient must be auto, samples-by-features or features-by-samples, not '{value}'."

# -- values ---------------------------------------------------------------------------
NON_NUMERIC = (
    "{path}: column '{column}' row {row} holds '{value}', which is not a number. Fix the value "
    "or mark it missing (empty or NA)."
)
INFINITE_VALUE = (
    "{path}: column '{column}' row {row} is infinite. Replace it with a finite value or "
    "mark it missing."
)
DECIMAL_MIXED = (
    "{path}: column '{comma_column}' holds numbers with a decimal comma (e.g. '{comma_value}') "
    "but column '{point_column}' numbers with a decimal point (e.g. {point_value}). Use one "
    "decimal mark in the file, or say which with --decimal , or --decimal ."
)
NO_FEATURES = (
    "{path}: no usable features remain after removing the outcome and annotation columns "
    "{removed}. Check the file and --exclude."
)

# -- study specification ----------------------------------------------------------------
TARGET_MISSING = "{path}: target column '{column}' not found.{hint} Choose it with --target."
TARGET_REQUIRED = (
    "{path}: no outcome given. Use --target COLUMN, or --time COLUMN --event COLUMN for survival."
)
TARGET_ALL_MISSING = "{path}: target column '{column}' has no values. Choose another --target."
TARGET_SINGLE_CLASS = (
    "{path}: target column '{column}' has a single class ('{value}'): there is nothing to "
    "predict. Choose another --target or add samples of another class."
)
CLASS_TOO_SMALL = (
    "{path}: class '{value}' of '{column}' has {count} {unit}; {folds}-fold CV needs at "
    "least {folds} per class. Use --folds {suggest} (the most the data allow), or leave "
    "--folds out to let insightome choose."
)
CLASSES_TOO_SMALL = (
    "{path}: '{column}' has too few classes large enough to learn: {left_out} cannot be "
    "learned ({rule}), and {remaining}. "
    "Add samples of these classes, merge them, or choose another --target."
)
FOLDS_IMPOSSIBLE = (
    "{path}: cross-validation needs at least 2 folds, but {why}: there is nothing to "
    "cross-validate."
)
TASK_MISMATCH = "{path}: target column '{column}' cannot be used for a {task} task: {reason}."
TASK_INVALID = "--task must be auto, binary, multiclass, regression or survival, not '{value}'."
SURVIVAL_NEEDS_BOTH = "Survival needs both --time and --event (got only --{given})."
TIME_NOT_POSITIVE = (
    "{path}: survival time column '{column}' row {row} is {value}; times must be > 0. "
    "Fix or remove that row."
)
EVENT_NOT_BINARY = (
    "{path}: event column '{column}' row {row} is '{value}'; events must be 0 (censored) or "
    "1 (event). Recode the column."
)
NO_EVENTS = "{path}: event column '{column}' has no events (all 0). Survival needs events."
COLUMN_MISSING = "{path}: {role} column '{column}' not found.{hint} Check --{option}."
ROLE_CONFLICT = (
    "Column '{column}' is given both as {first} and as {second}. Give each column one role."
)
GROUPS_TOO_FEW = (
    "{path}: --groups '{column}' has {n_groups} groups; {folds}-fold CV needs at least "
    "{folds}. Use --folds {suggest} (the most the data allow), or leave --folds out to let "
    "insightome choose."
)
OPTION_INVALID = "{option}: {reason}"

# -- reuse of a run ---------------------------------------------------------------------
RUN_DIR_INVALID = (
    "{path}: not an insightome run directory (no {missing}). Give a directory made by "
    "'insightome run'."
)
PREDICT_MISSING_FEATURES = (
    "{path}: {n} of the model's {n_expected} features are missing: {examples}. Add these "
    "columns (same names as in training)."
)
VALIDATE_MOST_MISSING = (
    "{path}: {n} of the model's {n_expected} features are missing (e.g. {examples}); a "
    "validation needs most of them. Check that the cohort uses the training feature names."
)
VALIDATE_UNKNOWN_CLASSES = (
    "{path}: column '{column}' has labels the model does not know: {unknown}. Recode them to "
    "the training classes ({classes})."
)
VALIDATE_EVENT_CODES = (
    "{path}: event column '{column}' has {n} value(s) other than 0/1. Code events as 1 and "
    "censoring as 0."
)
VALIDATE_TOO_FEW = (
    "{path}: only {n} samples have an outcome in '{column}'; a validation needs at least 10."
)
VALIDATE_ONE_CLASS = (
    "{path}: every sample with an outcome in '{column}' has the same class; discrimination "
    "cannot be validated on one class."
)

# -- synthetic cohorts ----------------------------------------------------------------------
SYNTHETIC_REFUSED = (
    "the synthetic table was not written: it failed the privacy gate ({reasons}). The report "
    "says why: {report}.{removed} Options: {advice}; fewer or coarser columns; a larger "
    "cohort; --force writes it anyway, every row labelled as failed."
)


# -- trial recruitment (issue 23) ----------------------------------------------------------
TRIALS_EXTRA_MISSING = (
    "Trial matching needs the trials extra (BM25 and spaCy): pip install 'insightome[trials]'."
)
TRIALS_FORMAT_UNKNOWN = (
    "{path}: unknown trial file type '{suffix}'. Use ClinicalTrials.gov records as .jsonl, "
    ".json (API v2) or .xml (legacy), optionally .gz, or a folder of them."
)
TRIALS_NO_PATIENT_ID = (
    "{path}: no patient ID column (columns: {columns}). Add a patient_id column, or name the "
    "column with --id-column: decisions are recorded against it."
)
TRIALS_TABLE_NOT_NUMBER = (
    "{path}: row {row}, column '{column}': '{value}' is not a finite number. Give numbers "
    "(use a decimal point) or leave the cell empty."
)
TRIALS_TABLE_NO_ID = (
    "{path}: no patient ID column (columns: {columns}). Name it patient_id, with the IDs of "
    "the notes."
)
TRIALS_TABLE_DUPLICATE = "{path}: patient '{id}' has more than one row. Give one row per patient."
TRIALS_TABLE_SAME_COLUMN = (
    "{path}: two columns have the same name apart from case or spaces (e.g. Age and AGE). Keep one."
)
TRIALS_TABLE_BAD_AGE = (
    "{path}: row {row}, column '{column}': '{value}' is not an age in years (0-125). Fix the "
    "value or leave the cell empty."
)
TRIALS_TABLE_BAD_SEX = (
    "{path}: row {row}, column '{column}': '{value}' is not a sex. Use female/male (or F/M), "
    "or leave the cell empty."
)
TRIALS_TOP_RANGE = (
    "--top must be at least 1 and --recall at least --top (got --top {top}, --recall {recall})."
)
TRIALS_SCREEN_TOP = "--top must be at least 1 (got {top}); leave it out to list every patient."
TRIALS_SCREEN_ONE = (
    "{path}: holds {n} trials; screen takes one. Give one record, or an NCT ID with --trials."
)
TRIALS_SCREEN_WHICH = (
    "'{trial}' is not a file; to screen a trial by its NCT ID, give the corpus with --trials."
)
TRIALS_NOT_IN_CORPUS = "{trial}: not in {path}. Check the NCT ID, or give the trial's own record."
TRIALS_DECISION = "--decision must be accept or reject, not '{decision}'."
TRIALS_OUTPUT_UNSAFE = (
    "-o {path}: {reason}; the output folder is replaced whole. Give a new folder (or an "
    "earlier output of insightome trials)."
)
TRIALS_NOT_SUGGESTED = (
    "{path}: patient '{patient}' × trial '{trial}' is not among its suggestions. Check both "
    "IDs against matches.csv."
)
TRIALS_NOT_OUTPUT = (
    "{path}: not the output of 'insightome trials match' or 'screen' (no summary.json). Give "
    "that folder."
)
TRIALS_NONE = (
    "{path}: no trial record could be read{first}. Give ClinicalTrials.gov records with an "
    "NCT ID each."
)


# -- clinical notes (issue 21) ------------------------------------------------------------
NOTES_EXTRA_MISSING = (
    "Clinical notes need the notes extra (spaCy): pip install 'insightome[notes]'."
)
NOTES_LANGUAGE_INVALID = "--language must be en, es or auto, not '{value}'."
NOTES_ID_COLUMN_MISSING = (
    "{path}: note ID column '{column}' not found (columns: {columns}).{hint} Name it with "
    "--id-column."
)
NOTES_TEXT_COLUMN_MISSING = (
    "{path}: text column '{column}' not found (columns: {columns}).{hint} Name it with "
    "--text-column."
)
NOTES_NO_TEXT_COLUMN = (
    "{path}: no text column found (columns: {columns}). Name the column holding the notes "
    "with --text-column."
)
NOTES_KEEP_MISSING = "{path}: column '{column}' to keep not found (columns: {columns}).{hint}"
NOTES_NOT_UTF8 = (
    "{path}: line {line} is not valid UTF-8 (byte {byte} at offset {offset}). Re-save the "
    "file as UTF-8 (e.g. in a spreadsheet: Save as CSV UTF-8)."
)
NOTES_NONE = (
    "{path}: no note has any text ({n_rows} rows, {n_empty} with an empty text in column "
    "'{column}'). Check the export and --text-column."
)
NOTES_MISSING_ID = "{path}: row {row} has no note ID in column '{column}'. Give every note an ID."
NOTES_FORMAT_UNKNOWN = "{path}: unknown notes file type '{suffix}'. Use .csv, .tsv, .txt or .jsonl."
NOTES_OUTPUT_FORMAT = "{path}: the mentions file must end in .csv or .tsv, not '{suffix}'."
LEXICON_FORMAT_UNKNOWN = (
    "{path}: unknown lexicon file type '{suffix}'. Use .csv, .tsv, .txt, .yaml or .yml."
)
LEXICON_COLUMN_MISSING = (
    "{path}: the lexicon has no '{column}' column (columns: {columns}). A lexicon needs "
    "concept_id and name (and optionally synonyms, regex, category)."
)
LEXICON_EMPTY = "{path}: the lexicon holds no concept. Give one concept per row."
LEXICON_DUPLICATE_ID = (
    "{path}, row {row}: concept_id '{concept}' is already used on row {first}. Give each "
    "concept its own ID (or merge the two rows' synonyms)."
)
LEXICON_NO_ID = "{path}, row {row}: the concept_id is empty. Give every concept an ID."
LEXICON_NO_NAME = (
    "{path}, row {row}: concept '{concept}' has no name, so no term to match. Give it a "
    "preferred name."
)
LEXICON_EMPTY_SYNONYM = (
    "{path}, row {row}: concept '{concept}' has an empty synonym (two '|' in a row, or a "
    "'|' at an end). Remove the extra '|'."
)
LEXICON_TERM_NO_WORD = (
    "{path}, row {row}: concept '{concept}' has the term '{term}', which holds no word or "
    "number to match. Fix or remove it."
)
LEXICON_BAD_REGEX = (
    "{path}, row {row}: concept '{concept}' has an invalid regex ({reason}). Fix the "
    "regular expression (Python syntax)."
)
LEXICON_BAD_YAML = (
    "{path}: {reason}. A YAML lexicon is a list of concepts (or 'concepts:' and the list), "
    "each with concept_id, name and optionally synonyms (a list), regex, category."
)
RULES_COLUMN_MISSING = "{path}: no '{column}' column in the header (columns: {columns})."
RULES_BAD_ROW = "{path}, line {line}: {reason}. Fix or remove the line."


class UserError(Exception):
    """A problem with the user's input. The CLI prints ``str(self)`` and exits 2."""

    exit_code = EXIT_USER_ERROR

    def __init__(self, template: str, **fields: object) -> None:
        self.template = template
        self.fields = fields
        super().__init__(template.format(**fields) if fields else template)


# -- a run that cannot go on ---------------------------------------------------------------
WORKERS_LOST = (
    "the workers running the fits were lost: {reason}. The {n_kept} finished fit(s) are kept "
    "in {partial}; finish the run with: insightome run --resume {command} (add --scheduler "
    "or --slurm-config to use a cluster again)"
)
WORKERS_LOST_NOTHING_KEPT = (
    "the workers running the fits were lost: {reason}. The run has no output folder "
    "(out_dir=None), so no finished fit was kept: run it again."
)
INTERRUPTED = (
    "interrupted: no run directory was written; the {n_kept} finished fit(s) are kept in "
    "{partial}; finish the run with: insightome run --resume {command}"
)
INTERRUPTED_NO_CHECKPOINT = "interrupted: no run directory was written."


class WorkersLost(Exception):
    """The processes running the fits died or became unreachable (a Dask worker killed, a
    SLURM job cancelled, the scheduler gone), on any backend. Not a problem with the
    input, so not a :class:`UserError`: the run's ``.partial`` directory is kept, and the
    stage runner fills in ``partial`` and ``n_kept`` so the message names the exact
    ``--resume`` command. The CLI prints it as one line and exits with
    :data:`EXIT_RUN_STOPPED`."""

    exit_code = EXIT_RUN_STOPPED

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.partial: object | None = None  # the run's .partial directory
        self.n_kept = 0  # finished fits in its cache

    def __str__(self) -> str:
        return stopped_message(self, WORKERS_LOST, WORKERS_LOST_NOTHING_KEPT, reason=self.reason)


class Interrupted(BaseException):
    """Ctrl-C in the command line (its SIGINT handler raises this rather than
    KeyboardInterrupt, which Typer turns into a silent exit 130): the stage runner gives
    it the run's ``.partial`` directory like :class:`WorkersLost`, and the CLI prints
    :data:`INTERRUPTED` with the exact ``--resume`` command."""


def stopped_message(exc: BaseException, kept: str, nothing_kept: str, **fields: object) -> str:
    """``kept`` with the ``.partial`` directory the stage runner gave ``exc`` (and the
    command that resumes it), or ``nothing_kept`` when the run had none."""
    partial = getattr(exc, "partial", None)
    if partial is None:
        return nothing_kept.format(**fields)
    n_kept = getattr(exc, "n_kept", 0)
    command = shlex.quote(str(partial))
    return kept.format(partial=partial, command=command, n_kept=n_kept, **fields)


def closest_names_hint(name: str, choices: Iterable[str], n: int = 3) -> str:
    """Return ' Did you mean: a, b?' for the names closest to ``name``, or ''."""
    choices = [str(c) for c in choices]
    lowered = {c.lower(): c for c in choices}
    matches = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.5)
    if not matches:
        return ""
    return " Did you mean: " + ", ".join(repr(lowered[m]) for m in matches) + "?"


def examples(values: Iterable[object], k: int = 5) -> str:
    """Format the first ``k`` values for a message: 'a', 'b', 'c', …"""
    values = list(values)
    shown = ", ".join(repr(str(v)) for v in values[:k])
    return shown + (", …" if len(values) > k else "")


# -- gene sets ---------------------------------------------------------------------------
GMT_NO_FILES = "no gene-set files given. Give at least one GMT file (e.g. from MSigDB or Reactome)."
GMT_EMPTY = (
    "{path}: the gene-set file is empty. Give a GMT file: one set per line, with the name, a "
    "description and the genes separated by tabs."
)
GMT_SHORT_LINE = (
    "{path}, line {line}: {n} field{s} found, but a GMT line needs a set name, a description "
    "and at least one gene, separated by tabs. Fix or remove the line."
)
GMT_NO_NAME = (
    "{path}, line {line}: the gene-set name (first field) is empty. Name the set or remove "
    "the line."
)
GMT_DUPLICATE_SET = (
    "{path}, line {line}: gene set '{name}' is already defined on line {first}. Rename or "
    "merge the two sets."
)
GMT_NO_SETS = (
    "{path}: no gene sets found (the file holds only blank lines). Give a GMT file with one "
    "gene set per line."
)


# -- clinical notes in a run (--notes) ----------------------------------------------------
NOTES_NO_MATCH = (
    "{path}: none of the {n} notes' sample IDs (column '{column}') is a sample of the data "
    "(e.g. '{example_sample}'). Name the notes' sample-ID column with --notes-id, or the "
    "data's with --id-column."
)
NOTES_SAMPLE_ID_MISSING = (
    "{path}: sample-ID column '{column}' not found (columns: {columns}).{hint} Name the "
    "notes' column of sample IDs with --notes-id."
)
NOTES_NO_SAMPLE_ID = (
    "{path}: which column holds each note's sample ID? Name it with --notes-id (the notes' "
    "IDs must be the data's sample IDs)."
)
NOTES_BAD_TIME = (
    "{where}, column '{column}', row {row}: the time is neither a number nor an ISO date "
    "(YYYY-MM-DD, optionally with a time; a UTC offset on every time or on none). Write "
    "dates as YYYY-MM-DD (day-first and month-first dates are not guessed) or leave the "
    "cell empty (a note without a time is left out)."
)
NOTES_TIME_KINDS = (
    "--notes-time '{notes_time}' and --index-time '{index_time}' must both be dates or both "
    "numbers (e.g. days from admission), and dates either both with a UTC offset or both "
    "without, to be compared. Give times of one kind."
)
NOTE_TERMS_UNKNOWN_SAMPLES = (
    "{n} sample(s) have no notes in this run's model: a model with note terms "
    "(--notes-tfidf) predicts only the samples whose notes it was given. Rerun insightome run "
    "with these samples' notes, or without --notes-tfidf."
)
NOTE_TERMS_NO_TEXTS = (
    "this model adds TF-IDF terms of each sample's notes (--notes-tfidf), and a saved model "
    "keeps no note text: give the samples' notes with insightome predict, validate or monitor "
    "RUN DATA --notes NOTES (insightome.predict(..., notes=NOTES))."
)
NOTE_TERMS_NOT_READ = (
    "this run's note terms (--notes-tfidf) need the notes, which were not read in this "
    "session: resume the run with insightome run --resume (it reads the notes again first)."
)
NOTES_INDEX_TIME_MISSING = (
    "--index-time '{value}' is neither a column of {data} nor a date written YYYY-MM-DD.{hint} "
    "Give the column of each sample's index time, or one ISO date for all."
)
NOTES_NONE_USED = (
    "{path}: no note is left to use ({reasons}). Check the notes' sample IDs and times "
    "against the data's."
)

# -- images in a run (--image-column; images_features, the read stage) ----------------------
IMAGE_COLUMN_MISSING = (
    "{path}: image column '{column}' not found.{hint} Name the manifest's column of image paths "
    "with --image-column."
)
MASK_COLUMN_MISSING = (
    "{path}: mask column '{column}' not found.{hint} Name the manifest's column of mask paths "
    "with --mask-column, or leave it out to use the whole image."
)
IMAGE_OUTSIDE_ROOT = (
    "image path {ref!r} lies outside this dataset's folder: in the browser workbench, images "
    "are the files of the dataset's uploaded zip, named relative to the manifest"
)
IMAGE_PATH_EMPTY = (
    "{path}: row '{row}' has no image path in column '{column}'. Give every sample an image "
    "(or leave the row out)."
)
IMAGE_CNN_NOT_2D = (
    "{path} (row '{row}'): {what} takes 2D images and this one is a 3D volume. Use radiomics "
    "for volumes, or give 2D slices."
)
IMAGE_NOT_FINITE = (
    "{path} (row '{row}'): the image has non-finite pixels (NaN or infinity), which the CNN "
    "cannot take. Fill or crop them, or use radiomics (which leaves them out of the region)."
)
IMAGE_RADIOMICS = (
    "{path} (row '{row}'): radiomics cannot be computed ({reason}). Change --radiomics-bins or "
    "--radiomics-bin-width."
)
IMAGES_MIXED_DIMENSIONS = (
    "{path}: the manifest mixes 2D images (e.g. row '{two}') and 3D volumes (e.g. row "
    "'{three}'); their features differ. Give one kind per run."
)

# -- images -----------------------------------------------------------------------------
# {where} is the file (with its #key/index for an .npz) and, from a manifest, its row.
IMAGE_MISSING = (
    "{where}: image file not found. Check the path (a relative path is read from the "
    "manifest's folder)."
)
IMAGE_UNREADABLE = (
    "{where}: cannot be read as {kind} ({reason}). Check that the file is complete and of "
    "that format, or re-export it."
)
IMAGE_FORMAT_UNKNOWN = (
    "{where}: unknown image type '{suffix}'. Use {supported}; a DICOM file may have any name "
    "when it starts with the DICM preamble."
)
IMAGE_NDIM = (
    "{where}: the image has {ndim} dimensions (shape {shape}); insightome reads 2D images "
    "(grey or RGB) and 3D grey volumes. Save each time point or channel of a 4D image as "
    "its own 3D file."
)
IMAGE_NPZ_AMBIGUOUS = (
    "{where}: the .npz holds {n} arrays ({keys}), not one image. Name the array in the ref: "
    "{name}#key (a whole array) or {name}#key/index (one image of a stack)."
)
IMAGE_NPZ_KEY_MISSING = (
    "{where}: the .npz has no array '{key}' (arrays: {keys}).{hint} Name one of its arrays "
    "after the '#'."
)
IMAGE_NPZ_INDEX = (
    "{where}: index {index} is out of range for array '{key}' ({n} images: 0 to {last}). "
    "Check the number after '#{key}/'."
)
IMAGE_NPZ_INDEX_INVALID = (
    "{where}: '{index}' after '#{key}/' is not an image number. Write file.npz#key/index "
    "with a whole number from 0."
)
IMAGE_DICOM_NONE = (
    "{where}: the folder holds no DICOM image ({n} files). Give a folder holding one DICOM "
    "series, or the image file itself."
)
IMAGE_DICOM_SERIES_MIXED = (
    "{where}: the folder is not one DICOM series ({reason}). Put each series in its own "
    "folder and name that folder."
)
IMAGE_MASK_SHAPE = (
    "{where}: the mask's shape {mask_shape} is not the image's {image_shape}. Give the mask "
    "drawn on this image (the same rows, columns and slices)."
)
IMAGE_MASK_EMPTY = (
    "{where}: the mask is empty (no voxel above 0). Check that it is this image's mask, or "
    "leave the mask out to use the whole image."
)
IMAGE_MEDMNIST_SPLIT = (
    "{where}: no array '{key}' (arrays: {keys}). A MedMNIST file holds train, val and test "
    "images and labels: choose among its splits with --splits."
)
IMAGE_MEDMNIST_LABELS = (
    "{where}: the {split} labels (shape {labels_shape}) do not match its {n_images} images "
    "(one integer label, or one row of labels, per image). Check the file."
)
IMAGE_MANIFEST_OUTPUT = (
    "{path}: cannot write a manifest as '{suffix}'. Name the output .csv or .tsv."
)

# -- images (learned) ------------------------------------------------------------------
# (learned image features: models.image_cnn, featurize.images.encoder)
IMAGES_EXTRA_MISSING = (
    "the learned image features (--image-features cnn, encoder; --image-encoder) need PyTorch "
    "and onnxruntime, which are not installed: pip install 'insightome[images]'"
)
IMAGES_UNKNOWN_SAMPLES = (
    "{n} sample(s) (e.g. {examples}) have no image in this model's image table: a model with "
    "a CNN score (--image-features cnn) predicts only the samples whose images it is given. "
    "Give these samples' images (a manifest row each), or rerun without cnn."
)
IMAGES_NOT_GIVEN = (
    "this model adds a CNN score of each sample's image (--image-features cnn), and a saved "
    "model keeps no image: give the samples' images with insightome predict, validate or "
    "monitor RUN MANIFEST --image-column COLUMN."
)
IMAGES_NOT_READ = (
    "this run's CNN score (--image-features cnn) needs the images, which were not read in this "
    "session: resume the run with insightome run --resume (it reads the images again first)."
)
ENCODER_FORMAT_UNKNOWN = (
    "{path}: unknown image-encoder format '{suffix}'. Give a TorchScript (.pt, .pth), "
    "torch.export (.pt2) or ONNX (.onnx) file with --image-encoder."
)
ENCODER_SIDECAR_MISSING = (
    "{path}: the image encoder's sidecar {sidecar} was not found. Write it next to the model: "
    'JSON with input_size [H, W], channels (1 or 3), mean, std and scale (e.g. {{"input_size": '
    '[224, 224], "channels": 3, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], '
    '"scale": 255}}).'
)
ENCODER_SIDECAR_INVALID = (
    "{path}: field '{field}' {problem}. Fix it in the encoder's sidecar (input_size [H, W], "
    "channels 1 or 3, mean and std one number per channel, scale a positive number or "
    '"minmax").'
)
ENCODER_UNREADABLE = (
    "{path}: cannot be loaded as {kind} ({reason}). Export the encoder with "
    "torch.jit.trace/script (.pt), torch.export.save (.pt2) or torch.onnx.export (.onnx)."
)
ENCODER_FAILED = (
    "{path}: the image encoder fails on an input of shape {shape} ({reason}). Check "
    "input_size and channels in its sidecar {sidecar}."
)
ENCODER_OUTPUT_SHAPE = (
    "{path}: the image encoder's output '{output}' has shape {shape} for {n} image(s); it must "
    "be embeddings of shape (N, d). Export the encoder up to its pooled features (field "
    "'output' of the sidecar names an ONNX output)."
)

# -- quantum candidates (issue 26) ---------------------------------------------------------
# (models.quantum; run --candidates default,quantum)
QUANTUM_EXTRA_MISSING = (
    "the quantum candidates (--candidates quantum; a saved quantum model) need PennyLane, "
    "which is not installed: pip install 'insightome[quantum]'"
)

# -- the browser workbench (insightome serve) -----------------------------------------------
WEB_EXTRA_MISSING = (
    "the browser workbench (insightome serve) needs FastAPI and Uvicorn, which are not "
    "installed: pip install 'insightome[web]'"
)
PORT_IN_USE = "--port {port}: {host}:{port} is in use ({reason}); choose another --port"

# -- the ambient scribe (issue 25) ---------------------------------------------------------
# (apps.scribe; insightome scribe transcribe / draft / approve)
SCRIBE_EXTRA_MISSING = (
    "speech recognition (insightome scribe transcribe) needs PocketSphinx, which is not "
    "installed: pip install 'insightome[scribe]'"
)
SCRIBE_TRANSCRIPT_MISSING = "{path}: no such transcript file; give a .txt or .json transcript"
SCRIBE_TRANSCRIPT_ENCODING = (
    "{path}: not UTF-8 text (byte {byte}); save the transcript as UTF-8 and try again"
)
SCRIBE_TRANSCRIPT_JSON = (
    "{path}: not a transcript written by 'insightome scribe transcribe' (format {format}); "
    "give that file, or the transcript as labelled text ('[doctor] ...' / 'Patient: ...')"
)
SCRIBE_TRANSCRIPT_EMPTY = (
    "{path}: no speech turn found; a transcript has one turn per line, e.g. "
    "'[doctor] how are you?' or 'Patient: my chest hurts'"
)
SCRIBE_UNKNOWN_SPEAKER = (
    "--roles: no speaker '{speaker}' in the transcript; its speakers are {speakers}"
)
SCRIBE_ROLES_SPEC = (
    "--roles: '{part}' is not SPEAKER=ROLE; write e.g. 'S1=doctor,S2=patient' (roles: {roles})"
)
SCRIBE_EDIT_SPEC = (
    "--edit number {number}: not LINE=TEXT with a line ID such as L003; write e.g. "
    "--edit 'L003=the new text of the line' (the line IDs are in draft.html)"
)
# (apps.scribe.api / review: the output folders and the clinician's approval)
SCRIBE_OUTPUT_UNSAFE = (
    "{path}: no place for the scribe's output folder: it {reason}; give another folder"
)
SCRIBE_AUDIO_LINK = (
    "{path}: a symbolic link; --delete-audio deletes the recording itself, so give the audio "
    "file's own path"
)
SCRIBE_DRAFT_EMPTY = (
    "{path}: nothing to draft: no symptom, finding, medication, test or plan was found in its "
    "{turns} turn(s); check that it is the consultation, in English, with speaker labels"
)
SCRIBE_NOT_DRAFT = (
    "{path}: not a draft folder written by 'insightome scribe draft' ({problem}); give the "
    "folder that holds draft.json and prediction_log.jsonl"
)
SCRIBE_CLINICIAN_EMPTY = (
    "--clinician is empty: give the ID of the clinician who made the decisions; the audit "
    "trail (EU AI Act Art. 14) records who approved each line"
)
SCRIBE_NO_DECISIONS = (
    "no decision given: accept, edit or reject lines in draft.html and press 'Save decisions' "
    "(then --decisions decisions.json), or use --accept, --reject, --edit, or a CSV with "
    "columns line,decision,text,reason"
)
SCRIBE_DECISIONS_FILE = (
    "{path}: {problem}; give the decisions.json that draft.html saves, or a CSV with columns "
    "line,decision,text,reason"
)
SCRIBE_DECISION_VALUE = (
    "line {line}: decision '{decision}' is not one of accepted, edited, rejected; write one of them"
)
SCRIBE_UNKNOWN_LINE = (
    "line {line}: no such line in the draft {path} (its lines are {first} to {last}); check "
    "the line ID"
)
SCRIBE_EDIT_NO_TEXT = (
    "line {line}: 'edited' without a text; give the line as it should read, or accept or reject it"
)
SCRIBE_TEXT_NOT_EDIT = (
    "line {line}: '{decision}' with a text that differs from the draft; mark the line "
    "'edited' to change its text"
)
SCRIBE_DECIDED_TWICE = (
    "line {line}: two decisions in one approval; give one decision per line (a later "
    "'insightome scribe approve' may change it while the note is not final)"
)
SCRIBE_OTHER_DRAFT = (
    "the decisions were saved from another draft (sha256 {given}), not from {path} (sha256 "
    "{actual}); open this folder's draft.html and save the decisions again"
)
SCRIBE_OTHER_CLINICIAN = (
    "the decisions were saved by clinician '{saved}', not '{clinician}'; approve with "
    "--clinician {saved}, or let {clinician} save their own decisions from draft.html"
)
SCRIBE_ALREADY_FINAL = (
    "{path}: the note is final (every line decided; last decision by {clinician} at {at}); "
    "a signed note does not change: draft again into a new folder to make another note"
)
SCRIBE_TEMPLATE_MISSING = (
    "{path}: no such note template; give a JSON template (docs: insightome.apps.scribe.template) "
    "or leave --template out for the default"
)
SCRIBE_TEMPLATE_INVALID = (
    "{path}: not a note template: {reason}; a template is JSON "
    '{{"format": "insightome-scribe-template/1", '
    '"sections": [{{"key", "title", "kinds"}}]}}'
)
SCRIBE_AUDIO_NOT_DELETED = (
    "{path}: could not be deleted ({reason}); the transcript is written in {out}: delete the "
    "audio file yourself"
)
# speech to text (apps.scribe.audio / asr / diarize)
SCRIBE_AUDIO_MISSING = "{path}: no such audio file; give the consultation's recording as a WAV file"
SCRIBE_AUDIO_FORMAT = (
    "{path}: not a WAV file that can be read ({reason}); convert it to PCM WAV first, e.g. "
    "ffmpeg -i INPUT -ac 1 -ar 16000 out.wav"
)
SCRIBE_AUDIO_EMPTY = "{path}: the WAV file holds no audio (0 samples); export the recording again"
SCRIBE_AUDIO_RATE = (
    "{path}: sampled at {rate} Hz, too low for speech recognition (at least 8000 Hz); "
    "record or export at 16000 Hz"
)
SCRIBE_NO_SPEECH = (
    "{path}: no speech recognized in its {duration:.1f} s of audio; check that the file is the "
    "consultation's recording and that it is not silent"
)
SCRIBE_DIARIZATION_METHOD = "--diarization {method}: choose one of {methods}"
SCRIBE_CHANNELS_NEEDED = (
    "{path}: --diarization channels needs a two-channel recording with one speaker per "
    "channel, and {why}; use --diarization voices (or auto)"
)
SCRIBE_SPEAKERS = "--speakers {speakers}: give a whole number of speakers from 1 to {most}"
