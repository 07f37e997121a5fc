"""A run's log lines and progress bars."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime


class RunLog:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, message: str) -> None:
        self.lines.append(f"{datetime.now(UTC).isoformat(timespec='seconds')} {message}")


@contextmanager
def progress_bar(enabled: bool):  # type: ignore[no-untyped-def]
    """Yield ``bar(description, total) -> advance`` (a rich progress bar, or nothing)."""
    if not enabled:
        yield lambda description, total: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=False,
    ) as prog:

        def bar(description: str, total: int):  # type: ignore[no-untyped-def]
            task_id = prog.add_task(description, total=total)
            return lambda k: prog.advance(task_id, k)

        yield bar
