"""The screen stage: the leakage screen (:mod:`insightome.leakage_screen`), between study
and plan, so its warnings come before any model is fitted.

It only warns — no column is removed — and records what it found (results.json
``leakage_screen``, the run log; with progress output on, the console at once, so a user
can stop the run and rerun it with ``--exclude``).
"""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from insightome.leakage_screen import screen_study
from insightome.stages.state import RunState

SHOWN = 5  # findings printed while the run goes on (all of them after it, and in the report)


def screen(state: RunState) -> None:
    made = state.require("study")
    found = screen_study(made, seed=state.options.seed)
    state.leakage_screen = found
    state.log(
        f"leakage screen: {found.checked} column(s) on {found.rows} rows, "
        f"{found.n_findings} finding(s)"
    )
    for line in found.lines():
        state.log("warning: leakage screen: " + line)
    for note in found.notes:
        state.log("note: leakage screen: " + note)
    if found.warned and state.options.progress:
        console = Console(stderr=True)
        names = ", ".join(f.column for f in found.findings[:SHOWN])
        more = f" and {found.n_findings - SHOWN} more" if found.n_findings > SHOWN else ""
        console.print(
            f"[yellow]leakage screen:[/] {found.n_findings} column(s) may leak the outcome: "
            f"{escape(names)}{more} (the run goes on; details at the end and in the report)"
        )
