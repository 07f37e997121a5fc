"""How one option is declared: :class:`Option`, put on a dataclass field by :func:`option`.

An option is written once, on its field of :class:`insightome.options.RunOptions`: the
field's name and type are the Python API's, its default the API's default, and the
:class:`Option` in the field's metadata says everything else — its help text, its CLI
spelling and environment variable, its range check, which commands take it, whether
``results.json["invocation"]`` records it, and how a CLI value becomes the API value.
The Typer commands (:mod:`insightome.cli.options`), the validation
(:func:`insightome.options.check_options`) and the recorded invocation
(:func:`insightome.options.invocation`) are read off these declarations.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from insightome.options.checks import Check

#: The commands an option can belong to.
COMMANDS = ("run", "discover", "audit", "validate", "monitor", "predict", "synthesize")


class _Unset:
    """The default of a :class:`Variant` or CLI spelling that does not change the default."""

    def __repr__(self) -> str:
        return "<unset>"


_UNSET: Any = _Unset()


@dataclass(frozen=True)
class Variant:
    """How an option reads on another command than ``run``: e.g. ``discover``'s
    ``--signature-tolerance`` defaults to None ("the run's own") with its own help text."""

    help: str | None = None
    default: Any = _UNSET
    cli_type: Any = None


@dataclass(frozen=True)
class Option:
    """Everything about one option except its name, type and API default (the field's)."""

    help: str
    flags: tuple[str, ...] | None = ()  # () = derived from the name; None = not on the CLI
    check: Check | None = None  # why a value is out of range, or None
    commands: frozenset[str] = frozenset({"run"})
    recorded: bool = True  # kept in results.json["invocation"] (and a checkpoint's)
    envvar: str | None = None
    cli_type: Any = None  # the Typer type when the CLI value differs from the API's
    cli_default: Any = _UNSET  # the CLI default when it differs from the API's
    from_cli: Callable[[Any], Any] | None = None  # CLI value → API value
    record: Callable[[Any], Any] | None = None  # API value → its JSON form in the invocation
    variants: Mapping[str, Variant] = field(default_factory=dict)

    def cli_flags(self, name: str, is_bool: bool) -> tuple[str, ...]:
        """The CLI spelling: ``--folds``; ``--discover/--no-discover`` for a switch."""
        if self.flags:
            return self.flags
        flag = "--" + name.replace("_", "-")
        return (f"{flag}/--no-{flag[2:]}",) if is_bool else (flag,)

    def help_on(self, command: str) -> str:
        variant = self.variants.get(command)
        return variant.help if variant is not None and variant.help else self.help

    def default_on(self, command: str, api_default: Any) -> Any:
        """The CLI default on ``command`` (a variant's, the CLI's, or the API's)."""
        variant = self.variants.get(command)
        if variant is not None and variant.default is not _UNSET:
            return variant.default
        return api_default if self.cli_default is _UNSET else self.cli_default

    def type_on(self, command: str, api_type: Any) -> Any:
        variant = self.variants.get(command)
        if variant is not None and variant.cli_type is not None:
            return variant.cli_type
        return api_type if self.cli_type is None else self.cli_type


def option(
    default: Any,
    help: str,
    *,
    flags: tuple[str, ...] | None = (),
    check: Check | None = None,
    commands: tuple[str, ...] = ("run",),
    recorded: bool = True,
    envvar: str | None = None,
    cli_type: Any = None,
    cli_default: Any = _UNSET,
    from_cli: Callable[[Any], Any] | None = None,
    record: Callable[[Any], Any] | None = None,
    variants: Mapping[str, Variant] | None = None,
) -> Any:
    """A dataclass field carrying its :class:`Option` declaration (``metadata["option"]``)."""
    unknown = set(commands) - set(COMMANDS)
    if unknown:
        raise ValueError(f"unknown command(s) {sorted(unknown)}; known: {COMMANDS}")
    declared = Option(
        help=help,
        flags=flags,
        check=check,
        commands=frozenset(commands),
        recorded=recorded,
        envvar=envvar,
        cli_type=cli_type,
        cli_default=cli_default,
        from_cli=from_cli,
        record=record,
        variants=dict(variants or {}),
    )
    return field(default=default, metadata={"option": declared})


def declared(options_class: type) -> dict[str, tuple[dataclasses.Field[Any], Option]]:
    """Field name → (the field, its declaration), in declaration order."""
    return {
        f.name: (f, f.metadata["option"])
        for f in dataclasses.fields(options_class)
        if "option" in f.metadata
    }
