"""One options schema: each option declared once on RunOptions reaches the CLI, the API,
the validation and the recorded invocation."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

import pytest
import typer
from typer.testing import CliRunner

import insightome
from insightome.cli.app import app
from insightome.cli.options import schema_options
from insightome.errors import UserError
from insightome.options import (
    COMMANDS,
    OPTION_RULES,
    RunOptions,
    check_options,
    check_run_options,
    declared,
    invocation,
    option,
)
from insightome.options.checks import integer

#: results.json["invocation"] of a run made before the schema (commit 3ea11f6): every key
#: must still be an option of insightome.run, so followup.reload and resume read it back.
OLD_INVOCATION = {
    "data": "/data/study.csv", "target": "label", "annotations": None, "id_column": "sample",
    "orient": "auto", "task": "auto", "time_col": None, "event": None, "sensitive": ["sex"],
    "use_sensitive": False, "groups": None, "site": None, "exclude": [],
    "positive_class": None, "folds": 5, "repeats": None, "n_bootstrap": 1000,
    "permutations": 0, "preset": "default", "seed": 0, "name": None, "budget": None,
    "carbon_intensity": None, "pue": None, "discover": True, "genesets": [],
    "signature_tolerance": 0.02, "audit": True, "justify": {}, "min_group_size": 30,
    "min_cell": 10, "conformal_level": 0.9, "audit_thresholds": {}, "max_features": None,
    "decimal": "auto",
}  # fmt: skip
#: recorded options added after that run (an old invocation without them reads as defaults)
ADDED_SINCE = {  # issue 17
    "age_bands",
    "value_labels",
    "annotations_id_column",
    "drop_unmatched",
    "annotation_features",
    "learning_curve",  # issue 19
    "learning_curve_sizes",
    "notes",  # issue 21
    "notes_id",
    "notes_text",
    "lexicon",
    "notes_language",
    "notes_time",
    "index_time",
    "show_evidence",
    "notes_tfidf",
    "augment",  # issue 20
    "augment_ratio",
    "image_column",  # issue 22
    "mask_column",
    "image_features",
    "image_encoder",
    "cnn_size",
    "radiomics_bins",
    "radiomics_bin_width",
    "show_images",
    "candidates",  # issue 26
    "bbc_pooling",  # issue 27
    "bbc_interval",
    "ensemble",
}


def help_text(*command: str) -> str:
    env = {**os.environ, "COLUMNS": "250", "NO_COLOR": "1", "TERM": "dumb"}
    result = CliRunner().invoke(app, [*command, "--help"], env=env, terminal_width=250)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_every_declared_option_is_on_its_commands(command):
    shown = help_text(command)
    for name, (_, declaration) in declared(RunOptions).items():
        if declaration.flags is None:
            continue  # API only (slurm: the CLI builds it; progress: the CLI's --quiet)
        if command not in declaration.commands:
            continue  # (validate's --out, monitor's --time are options of their own)
        flag = declaration.cli_flags(name, False)[0].split("/")[0]
        assert f" {flag} " in shown, (command, flag)
        assert declaration.help_on(command)[:40] in " ".join(shown.split()), (command, flag)


def test_every_declared_option_is_a_keyword_checked_and_recorded_as_declared():
    options = RunOptions.create()
    recorded = invocation("study.csv", options)
    for name, (_, declaration) in declared(RunOptions).items():
        assert name in insightome.run.__signature__.parameters  # help(insightome.run)
        assert (name in OPTION_RULES) == (declaration.check is not None)
        assert (name in recorded) == declaration.recorded, name
    assert set(recorded) == set(OLD_INVOCATION) | ADDED_SINCE


def test_an_old_invocation_is_read_back_as_options():
    values = {k: v for k, v in OLD_INVOCATION.items() if k != "data"}
    options = RunOptions.create(**values)
    again = invocation("/data/study.csv", options)
    assert {k: again[k] for k in values} == values


def test_an_unknown_keyword_is_refused_in_one_line_naming_it(tmp_path):
    with pytest.raises(UserError) as info:
        insightome.run(tmp_path / "none.csv", "label", bootstraps=200, fold=3)
    message = str(info.value)
    assert message.startswith("bootstraps, fold: not an option of insightome.run")
    assert "\n" not in message and not list(tmp_path.iterdir())


def test_skip_by_name_is_the_same_as_the_switches():
    assert RunOptions.create(skip=("discover", "audit")) == RunOptions.create(
        discover=False, audit=False
    )
    options = RunOptions.create(skip=["discover"])
    assert options.skipped() == {"discover", "learn"}  # learn: off without --learning-curve
    curve = RunOptions.create(learning_curve=True, skip=["learn"])
    assert curve == RunOptions.create(learning_curve=False) and curve.skipped() == {"learn"}
    assert invocation("x.csv", options) == invocation("x.csv", RunOptions.create(discover=False))
    with pytest.raises(UserError, match="--genesets: gene sets are used by discovery"):
        check_run_options(dataclasses.asdict(RunOptions.create(skip=["discover"], genesets=["g"])))


# -- an option added to the schema reaches all four without other edits ------------------


@dataclass(frozen=True)
class LouderOptions(RunOptions):
    """The schema with one more option, declared as any option is."""

    shout: int = option(
        3, "How loud to be.", check=integer(1, advice="0 is silence"), commands=("run", "audit")
    )


def test_a_new_option_reaches_the_cli_api_validation_and_invocation():
    received: dict[str, object] = {}
    louder = typer.Typer()

    @louder.command("run")
    @schema_options("run", options_class=LouderOptions)
    def run_command(**options: object) -> None:
        received.update(options)

    @louder.command("audit")
    @schema_options("audit", options_class=LouderOptions)
    def audit_command(**options: object) -> None:
        received.update(options)

    runner = CliRunner()
    # the CLI: the flag with its help text, on the commands that take it
    shown = runner.invoke(louder, ["run", "--help"], terminal_width=250).output
    assert "--shout" in shown and "How loud to be." in shown and "--bootstrap" in shown
    assert "--shout" in runner.invoke(louder, ["audit", "--help"], terminal_width=250).output
    result = runner.invoke(louder, ["run", "--shout", "7", "--sensitive", "sex,age"])
    assert result.exit_code == 0, result.output
    assert received["shout"] == 7 and received["sensitive"] == ("sex", "age")
    # the validation: the CLI and the API refuse the same value with the same line
    refused = runner.invoke(louder, ["audit", "--shout", "0"])
    assert isinstance(refused.exception, UserError)
    assert str(refused.exception) == "--shout: must be >= 1, got 0 (0 is silence)"
    with pytest.raises(UserError, match="--shout: must be >= 1"):
        check_options({"shout": 0}, options_class=LouderOptions)
    # the API: a keyword with its default; the invocation records it
    options = LouderOptions.create(shout=5)
    assert LouderOptions.create().shout == 3 and options.shout == 5
    assert invocation("x.csv", options)["shout"] == 5
