"""Checkpoints: what an interrupted run leaves behind so ``--resume`` can finish it.

While a run works, ``runs/<timestamp>-<name>.partial/`` holds ``invocation.json`` (the
data file, its sha256 and every option) and ``cache/`` (one entry per finished fit, see
:mod:`insightome.compute.cache`). A finished run is written atomically to
``runs/<timestamp>-<name>/`` and its ``.partial`` directory is removed; after Ctrl-C or
kill -9 the ``.partial`` directory stays, and ``insightome run --resume`` on it reruns the
same invocation, reusing every cached fit. A ``.partial`` directory is never mistaken for a
run: it has no results.json.

A kill at any moment leaves the runs folder readable (``benchmarks/faults.py`` kills runs
at random moments and checks it):

* the ``.partial`` directory appears whole: it is made under a hidden temporary name with
  its ``invocation.json`` and renamed into place, so every ``.partial`` resumes;
* it is removed by a rename to a hidden name first (then deleted), so it never lies
  half-deleted beside the finished run; a kill between the run directory's rename and
  this one leaves both whole, and resuming such a ``.partial`` (:meth:`Checkpoint.finished`)
  just removes it;
* hidden temporaries a kill leaves (a half-written run directory, a stage file, a
  ``.partial`` being made or deleted) are removed when the run is resumed, or, for runs
  that finished or never started, by the next run made in the same folder;
* one process at a time works in a ``.partial``: the one that made or resumed it holds
  an exclusive lock on its ``.lock`` file until it ends (the system drops the lock of a
  killed process), and a second ``--resume`` of the same directory is refused in one
  line (a batch script submitted again while its first job still ends, say).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from insightome import errors
from insightome.compute.cache import FitCache
from insightome.errors import UserError

PARTIAL_SUFFIX = ".partial"
INVOCATION = "invocation.json"
REMOVED = ".removed"  # a .partial renamed to ``.<name>.partial.removed`` before deletion
NEW = ".new-"  # a .partial being made: ``.<name>.partial.new-XXXX``
STALE_NEW_S = 3600.0  # a .partial still being made after an hour was abandoned by a kill
LOCK = ".lock"
LOCK_WAIT_S = 2.0  # a lock held this long is another process's run, not a probe
_HELD: dict[Path, int] = {}  # .partial directories this process holds the lock of → fd


@dataclass(frozen=True)
class Checkpoint:
    directory: Path

    @property
    def final_name(self) -> str:
        return self.directory.name.removesuffix(PARTIAL_SUFFIX)

    @classmethod
    def create(cls, out_dir: str | Path, dirname: str, invocation: dict[str, Any]) -> Checkpoint:
        """The run's ``.partial`` directory, made whole under a hidden name and renamed
        into place (``-2``, ``-3``, … when another run already has the name)."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        _remove_abandoned(out_dir)
        tmp = Path(tempfile.mkdtemp(prefix=f".{dirname}{PARTIAL_SUFFIX}{NEW}", dir=out_dir))
        try:
            (tmp / "cache").mkdir()
            (tmp / INVOCATION).write_text(json.dumps(invocation, indent=2, default=str))
            suffix = 1
            while True:
                name = dirname if suffix == 1 else f"{dirname}-{suffix}"
                directory = out_dir / f"{name}{PARTIAL_SUFFIX}"
                if not directory.exists() and not (out_dir / name).exists():
                    try:
                        os.rename(tmp, directory)  # fails if another run took it meanwhile
                    except OSError:
                        if not directory.exists():
                            raise
                    else:
                        _lock(directory)  # a new directory: no other process knows it
                        return cls(directory)
                suffix += 1
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    @classmethod
    def open(cls, path: str | Path) -> Checkpoint:
        """An interrupted run's ``.partial`` directory, cleared of the temporaries a kill
        may have left (a stage file being written, the run directory being written)."""
        directory = Path(path)
        if not (directory / INVOCATION).is_file():
            raise UserError(
                errors.RUN_DIR_INVALID,
                path=str(directory),
                missing=f"{INVOCATION}: only an interrupted run's .partial directory resumes",
            )
        checkpoint = cls(directory)
        _lock(directory)  # before anything is removed: another process may be writing
        for stale in (directory / "stages").glob(".*.tmp"):
            stale.unlink(missing_ok=True)
        for stale in directory.parent.glob(f".{checkpoint.final_name}.*"):
            shutil.rmtree(stale, ignore_errors=True)
        return checkpoint

    @property
    def invocation(self) -> dict[str, Any]:
        return json.loads((self.directory / INVOCATION).read_text())

    def cache(self, fingerprint: str) -> FitCache:
        return FitCache(self.directory / "cache", fingerprint)

    def finished(self) -> Path | None:
        """The run directory, when the run was written whole and only the removal of this
        ``.partial`` was interrupted (then there is nothing to resume)."""
        final = self.directory.parent / self.final_name
        return final if (final / "results.json").is_file() else None

    def release(self) -> None:
        """Let go of the lock (the run stopped; another process may now resume it)."""
        fd = _HELD.pop(self.directory.resolve(), None)
        if fd is not None:
            os.close(fd)

    def discard(self) -> None:
        """Remove the directory: renamed to a hidden name first, so a kill never leaves a
        half-deleted ``.partial`` that looks resumable."""
        trash = self.directory.parent / f".{self.directory.name}{REMOVED}"
        self.release()  # the lock goes with it
        try:
            os.replace(self.directory, trash)
        except FileNotFoundError:
            return
        except OSError:  # a trash of an earlier interrupted removal is in the way
            shutil.rmtree(trash, ignore_errors=True)
            os.replace(self.directory, trash)
        shutil.rmtree(trash, ignore_errors=True)


def _lock(directory: Path) -> None:
    """Hold the ``.partial``'s lock for the rest of this process (module docstring)."""
    if sys.platform == "win32" or directory.resolve() in _HELD:
        return

    try:
        fd = os.open(directory / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return  # a read-only or foreign folder: the run itself will say what is wrong
    try:
        held = _wait_for_lock(fd, directory)
    except BaseException:  # refused, or Ctrl-C while waiting: the file is not left open
        os.close(fd)
        raise
    if held:
        _HELD[directory.resolve()] = fd
    else:
        os.close(fd)  # no locks on this file system (NFS without lockd, Lustre noflock)


def _wait_for_lock(fd: int, directory: Path) -> bool:
    """Take the lock on ``fd``, waiting :data:`LOCK_WAIT_S` for a probe (:func:`is_held`)
    to let go; False where the file system has no locks."""
    import fcntl

    deadline = time.monotonic() + LOCK_WAIT_S
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return False
            if time.monotonic() >= deadline:
                raise UserError(
                    errors.OPTION_INVALID,
                    option="--resume",
                    reason=f"another insightome process is working in {directory} now; "
                    "resume it once that one has ended",
                ) from None
        time.sleep(0.05)


def is_held(directory: str | Path) -> bool:
    """Whether a process is working in the ``.partial`` ``directory`` now (holds its lock):
    a running run, as opposed to an interrupted one that may be resumed."""
    directory = Path(directory)
    if directory.resolve() in _HELD:
        return True
    if sys.platform == "win32" or not (directory / LOCK).exists():
        return False
    import fcntl

    try:
        fd = os.open(directory / LOCK, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        return exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES)
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def _remove_abandoned(out_dir: Path) -> None:
    """``.partial`` directories a kill left half-deleted (their run was written), or
    half-made long ago (their run never started)."""
    for trash in out_dir.glob(f".*{PARTIAL_SUFFIX}{REMOVED}"):
        shutil.rmtree(trash, ignore_errors=True)
    for new in out_dir.glob(f".*{PARTIAL_SUFFIX}{NEW}*"):
        try:
            abandoned = time.time() - new.stat().st_mtime > STALE_NEW_S
        except OSError:
            continue
        if abandoned:
            shutil.rmtree(new, ignore_errors=True)
