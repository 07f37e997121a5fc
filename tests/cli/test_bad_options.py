"""Every option out of range and every contradictory combination, for every command.

Each case: exit code 2, one line on stderr naming the option and what to do, no
traceback, and the runs folder exactly as it was (nothing written, not even a
``.partial`` directory). All of them fail before any model is fitted.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from insightome import errors
from insightome.errors import UserError
from insightome.options import COMBINATIONS, OPTION_RULES
from insightome.options.checks import NEW_DATA_COMBINATIONS
from tests.cli.conftest import FAST
from tests.cli.test_bad_input import assert_user_error


@pytest.fixture
def study_csv(tmp_path: Path) -> Path:
    """A valid 60-sample table: genes, a binary label, survival columns, a sensitive one."""
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(60, 4)), columns=[f"gene{i}" for i in range(4)])
    df.insert(0, "sample", [f"S{i}" for i in range(60)])
    df["label"] = ["yes", "no"] * 30
    df["os_months"] = rng.uniform(1, 60, 60).round(1)
    df["dead"] = rng.integers(0, 2, 60)
    df["sex"] = ["F", "M", "M"] * 20
    path = tmp_path / "study.csv"
    df.to_csv(path, index=False)
    return path


def snapshot(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    """A runs folder that already holds an earlier (fake) run: it must stay as it is."""
    folder = tmp_path / "runs"
    (folder / "earlier-run").mkdir(parents=True)
    (folder / "earlier-run" / "results.json").write_text("{}")
    return folder


# (option rule exercised, extra arguments, fragments of the one-line message)
RANGE_CASES = [
    ("folds", ["--folds", "1"], ["--folds", "at least 2 folds"]),
    ("folds", ["--folds", "0"], ["--folds", ">= 2"]),
    ("repeats", ["--repeats", "0"], ["--repeats", ">= 1"]),
    ("n_bootstrap", ["--bootstrap", "-5"], ["--bootstrap", ">= 100", "-5"]),
    ("n_bootstrap", ["--bootstrap", "99"], ["--bootstrap", ">= 100"]),
    ("permutations", ["--permutations", "-1"], ["--permutations", ">= 0"]),
    ("preset", ["--preset", "turbo"], ["--preset", "'turbo'", "'fast'"]),
    ("bbc_pooling", ["--bbc-pooling", "pooled"], ["--bbc-pooling", "'pooled'", "'all_repeats'"]),
    ("bbc_interval", ["--bbc-interval", "bca"], ["--bbc-interval", "'bca'", "'oob_scaled'"]),
    ("ensemble", ["--ensemble", "top5"], ["--ensemble", "'top5'", "'top3'"]),
    ("seed", ["--seed", "-1"], ["--seed", "between 0 and"]),
    ("seed", ["--seed", str(2**31)], ["--seed", "between 0 and"]),
    ("n_jobs", ["--n-jobs", "0"], ["--n-jobs", "-1 for all"]),
    ("budget", ["--budget", "soon"], ["--budget", "'soon'", "30min"]),
    ("budget", ["--budget", "0min"], ["--budget", "'0min'"]),
    ("carbon_intensity", ["--carbon-intensity", "-1"], ["--carbon-intensity", ">= 0"]),
    ("pue", ["--pue", "0.5"], ["--pue", ">= 1"]),
    ("signature_tolerance", ["--signature-tolerance", "1"], ["--signature-tolerance", "[0, 1)"]),
    ("signature_tolerance", ["--signature-tolerance", "-0.1"], ["--signature-tolerance"]),
    ("min_group_size", ["--min-group-size", "1"], ["--min-group-size", ">= 2"]),
    ("age_bands", ["--age-bands", "65,50"], ["--age-bands", "must increase", "65.0,50.0"]),
    ("age_bands", ["--age-bands", "50,old"], ["--age-bands", "e.g. 50,65,75", "old"]),
    ("age_bands", ["--age-bands", "0,200"], ["--age-bands", "between 0 and 150"]),
    ("value_labels", ["--value-labels", "sex=0:x,1:x"], ["--value-labels", "labelled 'x'"]),
    ("min_cell", ["--min-cell", "0"], ["--min-cell", ">= 1", "suppressed"]),
    ("conformal_level", ["--conformal-level", "0.4"], ["--conformal-level", "[0.5, 1)"]),
    ("conformal_level", ["--conformal-level", "1"], ["--conformal-level", "[0.5, 1)"]),
    ("max_features", ["--max-features", "0"], ["--max-features", ">= 1"]),
    (
        "learning_curve_sizes",
        ["--learning-curve", "--learning-curve-sizes", "0.5,0.2,1"],
        ["--learning-curve-sizes", "must increase", "0.5,0.2,1"],
    ),
    (
        "learning_curve_sizes",
        ["--learning-curve", "--learning-curve-sizes", "0.5,1"],
        ["--learning-curve-sizes", "at least 3"],
    ),
    (
        "learning_curve_sizes",
        ["--learning-curve", "--learning-curve-sizes", "0.2,0.5,0.8"],
        ["--learning-curve-sizes", "last fraction must be 1"],
    ),
    ("augment", ["--augment", "smote"], ["--augment", "'smote'", "'cart'", "'copula'"]),
    ("candidates", ["--candidates", "default,qsvm"], ["--candidates", "'qsvm'", "quantum"]),
    ("candidates", ["--candidates", "quantum,quantum"], ["--candidates", "each set once"]),
    ("candidates", ["--candidates", ","], ["--candidates", "at least one of default, quantum"]),
    (
        "augment_ratio",
        ["--augment", "cart", "--augment-ratio", "0"],
        ["--augment-ratio", "[0.1, 10]"],
    ),
    ("augment_ratio", ["--augment", "cart", "--augment-ratio", "20"], ["--augment-ratio", "20"]),
    ("task", ["--task", "ranking"], ["--task", "'ranking'", "'survival'"]),
    ("orient", ["--orient", "sideways"], ["--orient", "'sideways'"]),
    ("decimal", ["--decimal", ";"], ["--decimal", "';'", "','"]),
    (
        "notes_tfidf",
        ["--notes", "notes.csv", "--notes-tfidf", "-1"],
        ["--notes-tfidf", "between 0 and 100000"],
    ),
    (
        "notes_language",
        ["--notes", "notes.csv", "--notes-language", "fr"],
        ["--notes-language", "'fr'", "'es'"],
    ),
    (
        "image_features",
        ["--image-column", "image", "--image-features", "radiomics,pixels"],
        ["--image-features", "radiomics, cnn, encoder", "'pixels'"],
    ),
    (
        "image_features",
        ["--image-column", "image", "--image-features", "cnn,cnn"],
        ["--image-features", "each image feature once"],
    ),
    ("cnn_size", ["--image-column", "image", "--cnn-size", "4096"], ["--cnn-size", "0 and 512"]),
    ("radiomics_bins", ["--radiomics-bins", "1"], ["--radiomics-bins", "between 2 and 1024"]),
    ("radiomics_bin_width", ["--radiomics-bin-width", "0"], ["--radiomics-bin-width", "> 0"]),
    (
        "annotation_features",
        ["--annotations", "study.csv", "--annotation-features", "ALL"],
        ["--annotation-features", "one by one", "leak the outcome"],
    ),
]

COMBINATION_CASES = [
    (["--target", "label", "--task", "survival"], ["--task", "--time", "--event"]),
    (["--time", "os_months"], ["--time and --event"]),
    (["--event", "dead"], ["--time and --event"]),
    (["--target", "label", "--time", "os_months", "--event", "dead"], ["--target", "not both"]),
    (["--time", "os_months", "--event", "dead", "--task", "binary"], ["--task", "survival"]),
    (["--target", "gene0", "--task", "regression", "--positive-class", "1"], ["--positive-class"]),
    (["--time", "os_months", "--event", "dead", "--positive-class", "1"], ["--positive-class"]),
    (["--target", "label", "--use-sensitive"], ["--use-sensitive", "--sensitive"]),
    (["--target", "label", "--genesets", "sets.gmt", "--no-discover"], ["--genesets"]),
    (
        [
            "--target",
            "label",
            "--sensitive",
            "sex",
            "--justify",
            "sex=reference ranges",
            "--no-audit",
        ],
        ["--justify", "--no-audit"],
    ),
    (
        ["--target", "label", "--audit-threshold", "max_auc_difference=0.1", "--no-audit"],
        ["--audit-threshold", "--no-audit"],
    ),
    (["--target", "label", "--age-bands", "50,65", "--no-audit"], ["--age-bands", "--no-audit"]),
    (
        ["--target", "label", "--value-labels", "sex=F:female", "--no-audit"],
        ["--value-labels", "--no-audit"],
    ),
    (
        ["--target", "label", "--learning-curve-sizes", "0.25,0.5,1"],
        ["--learning-curve-sizes", "--learning-curve"],
    ),
    (
        ["--target", "label", "--augment-ratio", "2"],
        ["--augment-ratio", "give it with --augment cart"],
    ),
    (
        ["--target", "label", "--groups", "sex", "--augment", "cart"],
        ["--augment", "--groups", "one patient per row"],
    ),
    (
        ["--time", "os_months", "--event", "dead", "--augment", "copula"],
        ["--augment", "binary outcome only"],
    ),
    (
        ["--time", "os_months", "--event", "dead", "--candidates", "default,quantum"],
        ["--candidates quantum", "classifiers", "drop quantum"],
    ),
    (
        ["--target", "os_months", "--task", "regression", "--candidates", "quantum"],
        ["--candidates quantum", "binary or multiclass"],
    ),
    (
        ["--target", "label", "--scheduler", "tcp://127.0.0.1:1", "--slurm-queue", "short"],
        ["--scheduler", "not both"],
    ),
    (
        ["--target", "label", "--annotation-features", "gene0"],
        ["--annotation-features", "--annotations"],
    ),
    (
        ["--target", "label", "--annotations-id-column", "sample"],
        ["--annotations-id-column", "give the table with --annotations"],
    ),
    (["--target", "label", "--drop-unmatched"], ["--drop-unmatched", "--annotations"]),
    (["--target", "label", "--notes-id", "patient"], ["--notes-id", "give the table with --notes"]),
    (["--target", "label", "--notes-text", "body"], ["--notes-text", "with --notes"]),
    (["--target", "label", "--lexicon", "concepts.csv"], ["--lexicon", "with --notes"]),
    (["--target", "label", "--notes-language", "es"], ["--notes-language", "with --notes"]),
    (["--target", "label", "--notes-time", "written"], ["--notes-time", "with --notes"]),
    (["--target", "label", "--show-evidence"], ["--show-evidence", "with --notes"]),
    (["--target", "label", "--notes-tfidf", "100"], ["--notes-tfidf", "with --notes"]),
    (["--target", "label", "--mask-column", "roi"], ["--mask-column", "--image-column"]),
    (["--target", "label", "--image-features", "cnn"], ["--image-features", "--image-column"]),
    (["--target", "label", "--show-images"], ["--show-images", "--image-column"]),
    (
        ["--target", "label", "--image-column", "image", "--cnn-size", "32"],
        ["--cnn-size", "add cnn to --image-features"],
    ),
    (
        [
            "--target",
            "label",
            "--image-column",
            "image",
            "--radiomics-bins",
            "16",
            "--radiomics-bin-width",
            "25",
        ],
        ["--radiomics-bins/--radiomics-bin-width", "not both"],
    ),
    (
        ["--target", "label", "--image-column", "image", "--image-features", "encoder"],
        ["--image-encoder", "--image-features with encoder"],
    ),
    (
        ["--target", "label", "--image-column", "image", "--image-encoder", "model.onnx"],
        ["--image-encoder", "--image-features with encoder"],
    ),
    (
        [
            "--target",
            "label",
            "--image-column",
            "image",
            "--image-features",
            "cnn",
            "--augment",
            "cart",
        ],
        ["--image-features cnn", "synthetic rows have no images"],
    ),
    (
        [
            "--time",
            "os_months",
            "--event",
            "dead",
            "--image-column",
            "image",
            "--image-features",
            "cnn",
        ],
        ["--image-features cnn", "not a number or survival"],
    ),
    (
        ["--target", "label", "--notes", "notes.csv", "--notes-tfidf", "50", "--augment", "cart"],
        ["--notes-tfidf", "synthetic rows have no notes"],
    ),
    (
        [
            "--time",
            "os_months",
            "--event",
            "dead",
            "--notes",
            "notes.csv",
            "--notes-tfidf",
            "50",
        ],
        ["--notes-tfidf", "not with survival"],
    ),
    (
        ["--target", "label", "--notes", "notes.csv", "--notes-time", "written"],
        ["--notes-time/--index-time", "--index-time COLUMN or YYYY-MM-DD"],
    ),
    (
        ["--target", "label", "--notes", "notes.csv", "--index-time", "2020-01-01"],
        ["--notes-time/--index-time", "both"],
    ),
    (
        [
            "--target",
            "label",
            "--sensitive",
            "sex",
            "--annotations",
            "study.csv",
            "--annotation-features",
            "sex",
        ],
        ["--annotation-features", "'sex'", "--use-sensitive"],
    ),
    (
        [
            "--time",
            "os_months",
            "--event",
            "dead",
            "--annotations",
            "study.csv",
            "--annotation-features",
            "os_months",
        ],
        ["--annotation-features", "'os_months'", "outcome"],
    ),
]


def run_cli(cli, study_csv: Path, runs: Path, *args: str):
    before = snapshot(runs)
    result = cli("run", study_csv, *FAST, "--out", runs, *args)
    assert snapshot(runs) == before, "a refused run must write nothing"
    return result


@pytest.mark.parametrize(("rule", "args", "fragments"), RANGE_CASES)
def test_run_option_out_of_range(cli, study_csv, runs, rule, args, fragments):
    args = [str(study_csv) if a == "study.csv" else a for a in args]
    result = run_cli(cli, study_csv, runs, "--target", "label", *args)
    assert_user_error(result, OPTION_RULES[rule].option, *fragments)


@pytest.mark.parametrize(("args", "fragments"), COMBINATION_CASES)
def test_run_contradictory_options(cli, study_csv, runs, tmp_path, args, fragments):
    (tmp_path / "sets.gmt").write_text("SET\tdesc\tgene0\tgene1\n")
    args = [str(tmp_path / a) if a == "sets.gmt" else a for a in args]
    args = [str(study_csv) if a == "study.csv" else a for a in args]
    assert_user_error(run_cli(cli, study_csv, runs, *args), *fragments)


def test_every_option_and_combination_has_a_bad_input_case():
    """Adding an option (or a combination) to the table without a test here fails."""
    assert {rule for rule, _, _ in RANGE_CASES} | {"out_dir"} == set(OPTION_RULES)
    assert len(COMBINATION_CASES) >= len(COMBINATIONS)


def test_out_is_a_file(cli, study_csv, tmp_path):
    out = tmp_path / "runs.txt"
    out.write_text("not a folder")
    result = cli("run", study_csv, *FAST, "--target", "label", "--out", out)
    assert_user_error(result, "--out", "runs.txt", "is a file")
    assert out.read_text() == "not a folder"


def test_positive_class_on_a_detected_regression(cli, study_csv, runs):
    """Data-dependent: 'gene0' is detected as a regression outcome."""
    result = run_cli(cli, study_csv, runs, "--target", "gene0", "--positive-class", "1")
    assert_user_error(result, "--positive-class", "'gene0'", "regression")


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--slurm-queue", "short", "--slurm-cores", "0"], ["--slurm-cores", ">= 1"]),
        (["--slurm-queue", "short", "--slurm-memory", "lots"], ["--slurm-memory", "'lots'"]),
        (["--slurm-queue", "short", "--slurm-walltime", "2h"], ["--slurm-walltime", "'2h'"]),
        (["--slurm-cores", "4"], ["--slurm-queue", "partition"]),
        (["--audit-threshold", "max_auc_difference=-1"], ["max_auc_difference", ">= 0"]),
        (["--audit-threshold", "min_events=0"], ["min_events", "1 or more"]),
        (["--audit-threshold", "ratio_band=1.25,0.8"], ["ratio_band", "(low, high)"]),
        (["--audit-threshold", "loose"], ["--audit-threshold", "NAME=VALUE"]),
        (["--justify", "sex"], ["--justify", 'ATTRIBUTE="clinical reason"']),
        (["--sensitive", "sex", "--justify", "age=older"], ["--justify", "age"]),
        (["--value-labels", "sex"], ["--value-labels", "ATTRIBUTE=CODE:LABEL"]),
        (["--sensitive", "sex", "--value-labels", "race=1:white"], ["--value-labels", "race"]),
        (
            ["--sensitive", "sex", "--value-labels", "sex=0:female,1:male"],
            ["--value-labels", "sex has no value '0'", "F, M"],
        ),
        (["--sensitive", "sex", "--age-bands", "50,65"], ["--age-bands", "no sensitive", "age"]),
    ],
)
def test_run_compute_and_audit_options(cli, study_csv, runs, args, fragments):
    assert_user_error(run_cli(cli, study_csv, runs, "--target", "label", *args), *fragments)


def test_resume_with_data(cli, study_csv, runs, tmp_path):
    partial = tmp_path / "x.partial"
    result = run_cli(cli, study_csv, runs, "--resume", partial)
    assert_user_error(result, "--resume", "drop DATA")


#: predict, validate and monitor: a notes option (default: the run's) without --notes
SAVED_RUN_NOTES_CASES = [
    ("predict", ["COHORT", "--notes-id", "patient"], ["--notes-id", "give the table with --notes"]),
    ("validate", ["COHORT", "--notes-text", "body"], ["--notes-text", "with --notes"]),
    ("monitor", ["COHORT", "--notes-time", "written"], ["--notes-time", "with --notes"]),
    ("predict", ["COHORT", "--index-time", "2020-01-01"], ["--index-time", "with --notes"]),
]


def test_every_saved_run_notes_combination_has_a_bad_input_case():
    assert len(SAVED_RUN_NOTES_CASES) >= len(NEW_DATA_COMBINATIONS)


@pytest.mark.parametrize(
    ("command", "args", "fragments"),
    [
        ("discover", ["--signature-tolerance", "2"], ["--signature-tolerance", "[0, 1)"]),
        ("discover", ["--n-jobs", "0"], ["--n-jobs"]),
        ("audit", ["--min-cell", "0"], ["--min-cell", ">= 1"]),
        ("audit", ["--min-group-size", "0"], ["--min-group-size", ">= 2"]),
        ("audit", ["--conformal-level", "1.5"], ["--conformal-level", "[0.5, 1)"]),
        ("audit", ["--n-jobs", "0"], ["--n-jobs"]),
        ("audit", ["--audit-threshold", "max_r2_difference=-0.1"], ["max_r2_difference"]),
        ("audit", ["--age-bands", "70,60"], ["--age-bands", "must increase"]),
        ("audit", ["--value-labels", "sex=0"], ["--value-labels", "CODE:LABEL"]),
        ("validate", ["COHORT", "--seed", "-3"], ["--seed", "between 0 and"]),
        ("monitor", ["COHORT", "--seed", "-3"], ["--seed", "between 0 and"]),
        *SAVED_RUN_NOTES_CASES,
    ],
)
def test_saved_run_command_options(cli, study_csv, tmp_path, command, args, fragments):
    """Options are refused before the run directory is even opened (so it need not exist)."""
    run_dir = tmp_path / "runs" / "some-run"
    args = [str(study_csv) if a == "COHORT" else a for a in args]
    result = cli(command, run_dir, *args)
    assert_user_error(result, *fragments)
    assert not (tmp_path / "runs").exists()


# -- the Python API goes through the same table -------------------------------------------


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"n_bootstrap": -5}, "--bootstrap"),
        ({"folds": 2.5}, "--folds: must be a whole number"),
        ({"seed": True}, "--seed: must be a whole number"),
        ({"conformal_level": float("nan")}, "--conformal-level: must be a number"),
        ({"task": "survival"}, "--task"),
        ({"decimal": "comma"}, "--decimal"),
        ({"value_labels": {"sex": {"0": "x", "1": "x"}}}, "--value-labels: two codes of sex"),
        ({"value_labels": {"sex": "0:female"}}, "--value-labels: sex: expected {code: label}"),
    ],
)
def test_api_refuses_the_same_options(study_csv, runs, options, fragment):
    import insightome

    before = snapshot(runs)
    with pytest.raises(UserError) as info:
        insightome.run(study_csv, "label", out_dir=runs, **options)
    assert str(info.value).startswith(fragment) and "\n" not in str(info.value)
    assert snapshot(runs) == before


def test_user_error_after_the_checkpoint_leaves_nothing(study_csv, tmp_path, monkeypatch):
    """A refusal that comes late (here: from the estimation stage) removes the run's
    .partial directory and the runs folder it created."""
    import insightome
    from insightome.evaluate import search

    def refuse(*args, **kwargs):
        raise UserError(errors.OPTION_INVALID, option="--late", reason="refused late")

    monkeypatch.setattr(search, "bbc_cv", refuse)
    runs = tmp_path / "new-runs"
    with pytest.raises(UserError, match="refused late"):
        insightome.run(study_csv, "label", preset="fast", folds=3, repeats=1, n_bootstrap=100,
                       discover=False, audit=False, out_dir=runs)  # fmt: skip
    assert not runs.exists()
