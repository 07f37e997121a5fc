"""A run's log lines, its progress bars and its live progress file.

While a run works with an output folder, its ``.partial`` directory holds
``progress.json`` (:data:`PROGRESS_FILE`): which stage runs, which have finished, the
current progress bar, the candidates, the projected and spent compute. It is rewritten
atomically (a temporary file in the same directory, then ``os.replace``), at every stage's
start and end and, at most once a second, when a progress bar advances (shown or not),
and a last time with ``"state": "stopped"`` when the run ends by an exception. A web page,
or ``cat``, reads it (:func:`read_progress`); a failure to write it never stops a run.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PROGRESS_FILE = "progress.json"
PROGRESS_VERSION = 1
WRITE_EVERY_S = 1.0  # a progress bar's advances are written at most this often

Advance = Callable[[int], None]
Bar = Callable[[str, int], Advance | None]


class RunLog:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, message: str) -> None:
        self.lines.append(f"{datetime.now(UTC).isoformat(timespec='seconds')} {message}")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class RunProgress:
    """What ``progress.json`` says about a run, kept up to date by the runner and the bars.

    ``directory`` is the run's ``.partial`` directory (None until the study stage made it,
    and without an output folder: then nothing is written). ``facts`` are the run's
    numbers as of the last stage start or end: ``candidates``, ``projected_cpu_seconds``,
    ``energy_kwh`` and ``cpu_seconds`` (the energy ledger's, over the finished stages).
    """

    def __init__(self) -> None:
        self.started = _now()  # this process's start (a resumed run: when it was resumed)
        self._start = time.perf_counter()
        self.directory: Path | None = None
        self.stages: list[str] = []
        self.stage: str | None = None
        self.finished: list[str] = []
        self.facts: dict[str, int | float | None] = {
            "candidates": None,
            "projected_cpu_seconds": None,
            "energy_kwh": None,
            "cpu_seconds": None,
        }
        self._step: dict[str, Any] | None = None  # the latest bar (it outlives its stage)
        self._step_start = 0.0
        self._last_write = -math.inf
        self._lock = threading.RLock()  # a bar may advance from another thread

    def stage_started(self, name: str) -> None:
        with self._lock:
            self.stage = name
        self.write()

    def stage_finished(self, name: str, *, write: bool = True) -> None:
        """``name`` finished (``write=False``: restored from the checkpoint, said with the
        next stage's start)."""
        with self._lock:
            self.stage = None
            if name not in self.finished:
                self.finished.append(name)
        if write:
            self.write()

    def step(self, description: str, total: int) -> Advance:
        """A new progress bar of ``total`` units; returns its ``advance(k)``."""
        with self._lock:
            self._step = {"description": description, "done": 0, "total": int(total)}
            self._step_start = time.perf_counter()
        self.write()
        return self._advance

    def _advance(self, k: int) -> None:
        with self._lock:
            if self._step is None:
                return
            self._step["done"] += int(k)
            due = time.monotonic() - self._last_write >= WRITE_EVERY_S
        if due:
            self.write()

    def stopped(self) -> None:
        """The run ended by an exception: the last word in its ``.partial`` directory."""
        self.write("stopped")

    def record(self, state: str = "running") -> dict[str, Any]:
        """The contents of ``progress.json`` (module docstring; schema in docs/compute.md)."""
        with self._lock:
            step = None if self._step is None else dict(self._step)
            step_elapsed = time.perf_counter() - self._step_start
        if step is not None:
            done, total = step["done"], step["total"]
            rate = done / step_elapsed if done > 0 and step_elapsed > 0 else 0.0
            step["eta_s"] = max(total - done, 0) / rate if rate > 0 else None
        return {
            "version": PROGRESS_VERSION,
            "state": state,
            "pid": os.getpid(),
            "started": self.started,
            "updated": _now(),
            "elapsed_s": time.perf_counter() - self._start,
            "stages": list(self.stages),
            "stage": self.stage,
            "finished_stages": list(self.finished),
            "step": step,
            **self.facts,
        }

    def write(self, state: str = "running") -> None:
        """``progress.json`` rewritten whole in ``directory`` (none: nothing is written).

        Only an ``OSError`` is caught (a full disk, a removed directory): it never stops the
        run, which keeps going without its progress file."""
        directory = self.directory
        if directory is None or not directory.is_dir():
            return  # no checkpoint yet, or it was removed (the run was written)
        with self._lock:
            self._last_write = time.monotonic()
            try:
                text = json.dumps(self.record(state), indent=2)
                _write_atomically(directory / PROGRESS_FILE, text)
            except OSError:
                pass


def _write_atomically(path: Path, text: str) -> None:
    """``text`` in ``path`` through a temporary file beside it and ``os.replace``: a reader
    sees the old file or the new one, never half of one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_progress(partial_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The ``progress.json`` of a run's ``.partial`` directory; None when there is none
    (yet), it cannot be read or it is not a JSON object."""
    try:
        text = (Path(partial_dir) / PROGRESS_FILE).read_text(encoding="utf-8")
        record = json.loads(text)
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return record if isinstance(record, dict) else None


@contextmanager
def progress_bar(enabled: bool, progress: RunProgress | None = None) -> Iterator[Bar]:
    """Yield ``bar(description, total) -> advance`` (a rich progress bar when ``enabled``).

    With ``progress`` every bar also reports to the run's progress file, shown or not;
    without either, ``advance`` is None."""
    if not enabled:
        if progress is None:
            yield lambda description, total: None
        else:
            yield progress.step
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=False,
    ) as prog:

        def bar(description: str, total: int) -> Advance:
            task_id = prog.add_task(description, total=total)
            report = None if progress is None else progress.step(description, total)

            def advance(k: int) -> None:
                prog.advance(task_id, k)
                if report is not None:
                    report(k)

            return advance

        yield bar
