"""The Typer options of the commands, generated from the options schema.

:func:`schema_options` gives a command function the options of
:class:`insightome.options.RunOptions` that the command takes (``Option.commands``): each
becomes an ``Annotated[type, typer.Option(...)]`` parameter of the function's
``__signature__`` (its CLI spelling, help text, default and environment variable from the
declaration), in the schema's order. Before the command body runs, each CLI value is
turned into the API value (``Option.from_cli``) and checked
(:func:`insightome.options.check_options`), so the body receives what the Python API takes.
A few Typer types used by commands on their own (run directories, ``--quiet``) are here too.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from insightome.options import RunOptions, check_options, declared

__all__ = [
    "ConformalLevel",
    "NJobs",
    "Quiet",
    "RunDir",
    "Seed",
    "cli_parameters",
    "schema_options",
]

RunDir = Annotated[Path, typer.Argument(help="A run directory made by 'insightome run'.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print only the run directory.")]


def _api_types(options_class: type) -> dict[str, Any]:
    return typing.get_type_hints(options_class)


def cli_parameters(command: str, options_class: type = RunOptions) -> list[inspect.Parameter]:
    """The Typer parameters of the schema's options that ``command`` takes, in order."""
    types = _api_types(options_class)
    parameters = []
    for name, (field, declaration) in declared(options_class).items():
        if command not in declaration.commands or declaration.flags is None:
            continue
        cli_type = declaration.type_on(command, types[name])
        flags = declaration.cli_flags(name, cli_type is bool)
        info = typer.Option(*flags, help=declaration.help_on(command), envvar=declaration.envvar)
        parameters.append(
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                default=declaration.default_on(command, field.default),
                annotation=Annotated[cli_type, info],
            )
        )
    return parameters


def schema_options(
    command: str,
    *,
    after: Mapping[str, str] | None = None,
    options_class: type = RunOptions,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a command function ``fn(<its own parameters>, **options)``: its Typer
    signature gains the schema's options of ``command``.

    The function's own parameters come first (its arguments and options), then the
    schema's; an option named in ``after`` (its own or the schema's → the option it
    follows) is placed there instead, so ``--help`` lists them where they belong. A
    schema option the function names as a keyword-only parameter (for its type) is the
    schema's."""
    placed = dict(after or {})

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        generated = cli_parameters(command, options_class)
        schema_names = [p.name for p in generated]
        own = [
            p
            for p in inspect.signature(fn, eval_str=True).parameters.values()
            if p.kind is not inspect.Parameter.VAR_KEYWORD and p.name not in schema_names
        ]
        first = [p.replace(kind=p.POSITIONAL_OR_KEYWORD) for p in own if p.name not in placed]
        options = [p for p in generated if p.name not in placed]
        movable = {p.name: p.replace(kind=p.KEYWORD_ONLY) for p in [*own, *generated]}
        for name, anchor in placed.items():
            names = [q.name for q in options]
            options.insert(names.index(anchor) + 1, movable[name])
        signature = inspect.Signature([*first, *options])
        table = declared(options_class)

        @functools.wraps(fn)
        def with_options(**values: Any) -> Any:
            given = {name: values.pop(name) for name in schema_names}
            api_values = {}
            for name, value in given.items():
                convert = table[name][1].from_cli
                api_values[name] = value if convert is None else convert(value)
            check_options(api_values, command=command, options_class=options_class)
            return fn(**values, **api_values)

        with_options.__signature__ = signature  # type: ignore[attr-defined]
        with_options.__annotations__ = {p.name: p.annotation for p in signature.parameters.values()}
        return with_options

    return decorate


def _single(command: str, name: str, flag: str | None = None) -> Any:
    """One schema option's Typer type, for a command that declares it by hand (under its
    own ``flag`` when the command spells it differently, e.g. ``admet fit --level``)."""
    (parameter,) = [p for p in cli_parameters(command) if p.name == name]
    if flag is None:
        return parameter.annotation
    cli_type, info = typing.get_args(parameter.annotation)
    return Annotated[cli_type, typer.Option(flag, help=info.help, envvar=info.envvar)]


Seed = _single("run", "seed")
NJobs = _single("run", "n_jobs")
ConformalLevel = _single("run", "conformal_level", "--level")  # admet fit
