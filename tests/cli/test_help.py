"""``--help`` is readable in an 80-column terminal: every description column is at least
35 characters wide (rich's boxed tables left 20 for ``insightome run --help``), no line is
wider than the terminal, and the command list shows each command's whole first line."""

from __future__ import annotations

import os
import re

import pytest
import typer
from typer.testing import CliRunner

from insightome.cli.app import app

WIDTH = 80
MIN_DESCRIPTION = 35
BOX = re.compile(r"[│╭╮╰╯─┃━]")


def _command_paths() -> list[tuple[str, ...]]:
    """Every command and sub-command of the ``insightome`` CLI, as argument tuples."""
    root = typer.main.get_command(app)
    paths: list[tuple[str, ...]] = [()]

    def walk(group: object, prefix: tuple[str, ...]) -> None:
        # a group by what it has (Typer may vendor its own copy of click's classes)
        for name, command in getattr(group, "commands", {}).items():
            paths.append((*prefix, name))
            walk(command, (*prefix, name))

    walk(root, ())
    assert len(paths) > 10, paths
    return paths


def help_at_80(*command: str) -> str:
    env = {**os.environ, "COLUMNS": str(WIDTH), "NO_COLOR": "1", "TERM": "xterm"}
    env.pop("TYPER_USE_RICH", None)
    result = CliRunner().invoke(app, [*command, "--help"], env=env, terminal_width=WIDTH)
    assert result.exit_code == 0, result.output
    return result.output


def description_columns(text: str) -> list[tuple[int, str]]:
    """(start column, line) of every description fragment in the Options, Arguments and
    Commands lists: the text after the first gap of two or more spaces on an entry line, or
    a continuation line's text. Box-drawing characters are read as blanks, so a boxed table
    is measured by where its text actually starts."""
    found, in_list = [], False
    for raw in text.splitlines():
        line = BOX.sub(" ", raw).rstrip()
        if re.match(r"^(Options|Arguments|Commands):$", line.strip()) or re.match(
            r"^\s*(Options|Arguments|Commands)\s*$", line
        ):
            in_list = True
            continue
        if not line.strip():
            continue
        if not line.startswith(" "):
            in_list = False  # a new section (Usage, a paragraph of the docstring)
            continue
        if not in_list:
            continue
        body = line.lstrip()
        indent = len(line) - len(body)
        if body.startswith("-") or re.match(r"^[a-z][\w-]*\s{2,}", body):
            gap = re.search(r"\S\s{2,}(\S)", line[indent:])
            if gap:  # an entry with its description on the same line
                found.append((indent + gap.start(1), raw))
            continue  # an entry whose description starts on the next line
        found.append((indent, raw))  # a continuation of a description
    return found


@pytest.mark.parametrize("command", _command_paths(), ids=lambda c: " ".join(c) or "insightome")
def test_help_descriptions_are_at_least_35_characters_wide_at_80_columns(command):
    text = help_at_80(*command)
    columns = description_columns(text)
    assert columns, text  # every help page lists options or commands with descriptions
    narrow = [(WIDTH - start, line) for start, line in columns if WIDTH - start < MIN_DESCRIPTION]
    assert not narrow, "\n".join(f"{w:2d} chars: {line}" for w, line in narrow[:5])
    too_wide = [line for line in text.splitlines() if len(line) > WIDTH]
    assert not too_wide, too_wide[:3]


def test_run_help_descriptions_use_the_width_they_are_given():
    """A long description is wrapped to the width of the terminal, not to a narrow column:
    its longest line reaches at least 70 of the 80 columns."""
    text = help_at_80("run")
    block = text[text.index("--decimal") :].split("\n  --", 1)[0]
    assert max(len(line) for line in block.splitlines()) >= 70, block
    assert "comma as in 1,5 is detected" in " ".join(block.split())


def test_command_list_shows_each_commands_whole_first_line():
    """click cuts a command's short help at 45 characters or its first full stop
    ("Rerun discovery on a saved run (e.g."); the list shows the whole first line."""
    listing = " ".join(help_at_80().split("Commands", 1)[1].split())
    assert "Rerun discovery on a saved run (e.g. with gene sets); rewrites it in place." in listing
    assert "Select and honestly evaluate a model; write a run directory with report.html." in (
        listing
    )
    assert "..." not in listing
