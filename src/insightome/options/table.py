"""The options table of the README, rendered from the options schema.

Every option of :class:`~insightome.options.RunOptions` is one row: its CLI flag, its
Python keyword, its default, the commands that take it and its help text (with the
variant a saved-run command reads and the environment variable, where there is one), in
the order ``insightome run --help`` lists them. The README holds this table between
:data:`START` and :data:`END`; ``tests/test_readme.py`` fails when the two differ, so a new
option is documented by regenerating it::

    python -m insightome.options.table                  # print the table
    python -m insightome.options.table --update README.md
    python -m insightome.options.table --check README.md  # exit 1 when README differs

Options a command declares by itself (``run --resume``, ``validate --out``, …) are not in
the schema and not in this table; the README lists them in a table of their own.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from insightome.options.declaration import COMMANDS, Option, declared
from insightome.options.schema import RunOptions

__all__ = ["END", "START", "OptionRow", "markdown", "option_rows", "replace_block"]

START = "<!-- options:start -->"
END = "<!-- options:end -->"
HEADER = (
    "| option | Python keyword | default | commands | meaning |",
    "|---|---|---|---|---|",
)
NONE = "—"  # no default, or not on the command line


@dataclass(frozen=True)
class OptionRow:
    """One option as the table shows it (cells without Markdown escaping)."""

    flag: str  # "--time", "--discover / --no-discover", or "" (Python API only)
    keyword: str
    default: str
    commands: tuple[str, ...]
    meaning: str


def option_rows(options_class: type = RunOptions) -> list[OptionRow]:
    """One row per declared option of ``options_class``, in declaration order."""
    rows = []
    for name, (field, declaration) in declared(options_class).items():
        commands = tuple(c for c in COMMANDS if c in declaration.commands)
        primary = commands[0]
        is_switch = isinstance(field.default, bool)
        rows.append(
            OptionRow(
                flag=_flag(name, declaration, is_switch),
                keyword=name,
                default=_default(declaration.default_on(primary, field.default)),
                commands=commands,
                meaning=_meaning(field, declaration, primary),
            )
        )
    return rows


def _flag(name: str, declaration: Option, is_switch: bool) -> str:
    if declaration.flags is None:
        return ""
    return " / ".join(
        " / ".join(f"`{spelling}`" for spelling in flag.split("/"))
        for flag in declaration.cli_flags(name, is_switch)
    )


def _default(value: Any) -> str:
    """A default as the table writes it: on/off for a switch, — for none."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if value is None or (isinstance(value, Sequence | Mapping) and not value):
        return NONE
    if isinstance(value, Sequence) and not isinstance(value, str):
        return ", ".join(f"`{v}`" for v in value)
    return f"`{value}`"


def _meaning(field: dataclasses.Field[Any], declaration: Option, primary: str) -> str:
    """The help text, then how a saved-run command reads the option differently, then
    its environment variable."""
    main_help = declaration.help_on(primary)
    base_default = declaration.default_on(primary, field.default)
    differences: dict[str, list[str]] = {}  # what a command reads differently → commands
    for command in COMMANDS:
        if command == primary or command not in declaration.commands:
            continue
        default = declaration.default_on(command, field.default)
        if declaration.help_on(command) != main_help:
            differences.setdefault(declaration.help_on(command), []).append(command)
        elif default != base_default:
            differences.setdefault(f"default {_default(default)}.", []).append(command)
    parts = [main_help]
    for text, commands in differences.items():
        parts.append(f"On {', '.join(f'`{c}`' for c in commands)}: {text}")
    if declaration.flags is None:
        parts.append("Python API only.")
    if declaration.envvar:
        parts.append(f"Also the environment variable `{declaration.envvar}`.")
    return " ".join(parts)


def _cell(text: str) -> str:
    """A table cell: pipes escaped, line breaks joined."""
    return " ".join(text.split()).replace("|", "\\|")


def markdown(options_class: type = RunOptions) -> str:
    """The options table as Markdown (no trailing newline)."""
    lines = list(HEADER)
    for row in option_rows(options_class):
        cells = (
            row.flag or NONE,
            f"`{row.keyword}`",
            row.default,
            ", ".join(row.commands),
            row.meaning,
        )
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines)


def replace_block(text: str, table: str) -> str:
    """``text`` with everything between :data:`START` and :data:`END` replaced by
    ``table``; a ValueError when the markers are missing or out of order."""
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start or text.count(START) != 1 or text.count(END) != 1:
        raise ValueError(f"expected one {START} followed by one {END}")
    return f"{text[: start + len(START)]}\n{table}\n{text[end:]}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m insightome.options.table",
        description="Print the options table (Markdown), or put it into a file between "
        f"{START} and {END}.",
    )
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--update", type=Path, metavar="FILE", help="rewrite FILE's table")
    action.add_argument(
        "--check", type=Path, metavar="FILE", help="exit 1 when FILE's table is not current"
    )
    args = parser.parse_args(argv)
    table = markdown()
    target = args.update or args.check
    if target is None:
        print(table)
        return 0
    text = target.read_text(encoding="utf-8")
    try:
        current = replace_block(text, table)
    except ValueError as exc:
        print(f"{target}: {exc}", file=sys.stderr)
        return 2
    if args.check:
        if current != text:
            print(
                f"{target}: the options table is out of date; run "
                f"python -m insightome.options.table --update {target}",
                file=sys.stderr,
            )
            return 1
        return 0
    if current != text:
        target.write_text(current, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
