"""The run form, generated from the options schema (:class:`insightome.options.RunOptions`).

Every option of ``insightome run`` is a field, with the help text, default and menu of its
declaration; a field's text is read as the CLI reads it (its CLI type, then the
declaration's ``from_cli``) and checked by the same range and combination checks, so the
browser and the command line accept and refuse the same values with the same one-line
message. The few options the browser leaves out are in :data:`SERVER_SIDE` with the reason.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from insightome import errors
from insightome.errors import UserError
from insightome.options import RunOptions, check_run_options, declared

#: Options a browser user does not set, and why.
SERVER_SIDE = {
    "out_dir": "the server puts every run in your runs folder",
    "name": "the server names the run after the data, the outcome and the job",
    "n_jobs": "the server's setting (insightome serve --n-jobs)",
    "scheduler": "the server's setting (insightome serve --scheduler)",
    "lexicon": "a file on the server's disk: use the command line",
    "image_encoder": "a model file on the server's disk: use the command line",
}
#: Options whose value is a column of the data (a text field with the columns suggested).
COLUMN = (
    "target", "time_col", "event", "id_column", "groups", "site", "annotations_id_column",
    "image_column", "mask_column",
)  # fmt: skip
COLUMNS = ("sensitive", "exclude", "annotation_features")  # comma-separated columns
#: Options whose value is one of the dataset's uploaded files (option → upload role).
FILE = {"annotations": "annotations", "notes": "notes", "genesets": "genesets"}
#: The fields shown first, in this order; the rest are under "More options".
PRIMARY = (
    "target", "time_col", "event", "task", "positive_class", "sensitive", "groups", "site",
    "exclude", "id_column", "preset", "folds", "repeats", "permutations", "budget", "seed",
    "discover", "audit",
)  # fmt: skip


@dataclass(frozen=True)
class Field:
    name: str
    label: str  # the CLI flag, so a user can look it up in --help and the docs
    help: str
    kind: str  # column, columns, file, choice, bool, int, float, text, lines
    default: Any
    choices: tuple[str, ...] = ()
    role: str | None = None  # the upload role of a file field

    @property
    def shown_default(self) -> str:
        if self.default is None or self.kind == "bool":
            return ""
        return str(self.default)


def _base_type(cli_type: Any) -> Any:
    args = [a for a in typing.get_args(cli_type) if a is not type(None)]
    if isinstance(cli_type, types.UnionType) or typing.get_origin(cli_type) is typing.Union:
        return args[0] if len(args) == 1 else str
    return cli_type


@functools.cache
def fields() -> tuple[Field, ...]:
    """The form's fields: the primary ones first, then the rest in the schema's order (read
    off the schema once)."""
    hints = typing.get_type_hints(RunOptions)
    made: dict[str, Field] = {}
    for name, (field, option) in declared(RunOptions).items():
        if "run" not in option.commands or option.flags is None or name in SERVER_SIDE:
            continue
        cli_type = option.type_on("run", hints[name])
        flag = option.cli_flags(name, cli_type is bool)[0].split("/")[0]
        base = _base_type(cli_type)
        default = option.default_on("run", field.default)
        choices = getattr(option.check, "choices", None)
        if callable(choices):
            choices = choices()
        if name in FILE:
            kind = "file"
        elif name in COLUMN:
            kind = "column"
        elif name in COLUMNS:
            kind = "columns"
        elif choices:
            kind = "choice"
        elif base is bool:
            kind = "bool"
        elif base is int:
            kind = "int"
        elif base is float:
            kind = "float"
        elif typing.get_origin(base) is list:
            kind = "lines"
        else:
            kind = "text"
        made[name] = Field(
            name, flag, option.help_on("run"), kind,
            None if isinstance(default, Path) else default,
            tuple(choices or ()), FILE.get(name),
        )  # fmt: skip
    first = [made[n] for n in PRIMARY if n in made]
    return (*first, *(f for n, f in made.items() if n not in PRIMARY))


def _number(raw: str, f: Field) -> Any:
    try:
        return int(raw) if f.kind == "int" else float(raw)
    except ValueError:
        what = "a whole number" if f.kind == "int" else "a number"
        raise UserError(
            errors.OPTION_INVALID, option=f.label, reason=f"must be {what}, got {raw!r}"
        ) from None


def _cli_value(f: Field, raw: str | None, files: Mapping[str, Path]) -> Any:
    """What the CLI would receive for this field's text (None: not given)."""
    text = (raw or "").strip()
    if f.kind == "bool":
        return raw is not None and raw != ""
    if not text:
        return f.default
    if f.kind in ("int", "float"):
        return _number(text, f)
    if f.kind == "lines":
        return [line.strip() for line in text.splitlines() if line.strip()]
    if f.kind == "file":
        if f.role not in files or files[f.role].name != text:
            raise UserError(
                errors.OPTION_INVALID, option=f.label,
                reason=f"{text!r} is not a file of this dataset; upload it with the data",
            )  # fmt: skip
        path = files[f.role]
        return [path] if f.name == "genesets" else path
    return text


def parse(form: Mapping[str, str], files: Mapping[str, Path]) -> dict[str, Any]:
    """The form's values as ``insightome.run`` keywords, checked as the CLI checks them
    (a :class:`UserError` names the option by its flag). Only values that differ from the
    default are returned."""
    table = declared(RunOptions)
    values: dict[str, Any] = {}
    for f in fields():
        given = _cli_value(f, form.get(f.name), files)
        convert = table[f.name][1].from_cli
        value = given if convert is None else convert(given)
        if not _same(value, table[f.name][0].default):
            values[f.name] = value
    options = RunOptions.create(**values)
    check_run_options({x.name: getattr(options, x.name) for x in dataclasses.fields(options)})
    return values


def _same(value: Any, default: Any) -> bool:
    """A value equal to the default, or empty where the default is empty (``{}`` for None)."""
    if value == default:
        return True
    empty = (None, (), [], {})
    return not isinstance(value, bool | int | float) and value in empty and default in empty


def field_of(exc: UserError) -> str | None:
    """The form field a :class:`UserError` is about (from the flag it names), if any."""
    flag = str(exc.fields.get("option", "")).split(",")[0].strip()
    return next((f.name for f in fields() if f.label == flag), None)


def canonical(values: Mapping[str, Any]) -> str:
    """One string per set of options (what a check signs and a launch compares)."""
    return json.dumps(values, sort_keys=True, default=str)


def jsonable(values: Mapping[str, Any]) -> dict[str, Any]:
    """The options as JSON (tuples → lists, paths → strings), as a job file holds them."""
    return json.loads(json.dumps(values, default=str))
