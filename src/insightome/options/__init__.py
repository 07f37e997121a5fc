"""The options schema: every option of ``insightome run`` and the saved-run commands,
declared once on a field of :class:`RunOptions` (see :mod:`insightome.options.schema`)."""

from insightome.options.checks import COMBINATIONS, MAX_SEED, MIN_BOOTSTRAP, check_combinations
from insightome.options.declaration import COMMANDS, Option, Variant, declared, option
from insightome.options.schema import (
    OPTION_RULES,
    RunOptions,
    check_options,
    check_run_options,
    invocation,
    recorded_options,
)

__all__ = [
    "COMBINATIONS",
    "COMMANDS",
    "MAX_SEED",
    "MIN_BOOTSTRAP",
    "OPTION_RULES",
    "Option",
    "RunOptions",
    "Variant",
    "check_combinations",
    "check_options",
    "check_run_options",
    "declared",
    "invocation",
    "option",
    "recorded_options",
]
