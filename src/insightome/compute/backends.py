"""Where the independent fits run: local processes, a Dask cluster, or SLURM via Dask.

Every unit of work (candidate × fold × repeat fit, permutation rerun) goes through joblib,
so the backend is a setting, not a code path:

* default — joblib's local process pool (loky), ``n_jobs`` workers;
* ``scheduler="tcp://host:8786"`` — an existing ``dask.distributed`` cluster;
* ``slurm=SlurmConfig(...)`` — a cluster of SLURM jobs started by ``dask-jobqueue``.

Each fit is seeded by the run's seed and its position in the plan, never by the worker,
so the same seed gives the same results on every backend (tested on a real LocalCluster
and on a real one-node SLURM cluster, ``tests/cluster/``). This module describes the SLURM
jobs and checks them before anything is submitted; :mod:`.fit_backend` runs a run's fits
on the chosen backend and :mod:`.slurm_jobs` keeps its SLURM jobs alive.
``dask.distributed`` and ``dask-jobqueue`` are imported only when asked for.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from insightome import errors
from insightome.compute.slurm_jobs import walltime_seconds
from insightome.errors import UserError

__all__ = ["SlurmConfig", "slurm_from_options"]

# HH:MM:SS or D-HH:MM:SS only: SLURM reads "02:00" as two minutes, not two hours
_WALLTIME = re.compile(r"^(\d+-)?\d{1,3}:\d{2}:\d{2}$")
_MEMORY = re.compile(r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$", re.IGNORECASE)


@dataclass(frozen=True)
class SlurmConfig:
    """One SLURM job = one Dask worker process group; ``jobs`` jobs are requested."""

    queue: str = ""
    cores: int = 4
    memory: str = "16GB"
    walltime: str = "02:00:00"
    jobs: int = 2
    account: str | None = None
    processes: int = 1
    job_extra_directives: tuple[str, ...] = ()
    job_script_prologue: tuple[str, ...] = ()
    job_directives_skip: tuple[str, ...] = ()  # e.g. ["--mem"] where a site refuses it
    local_directory: str | None = None
    interface: str | None = None
    # where the TLS certificates and the worker jobs' logs go: a folder every node sees
    # (default: the run's .partial directory, else the current directory)
    shared_directory: str | None = None
    # worker jobs resubmitted after they end early (default: 2 per job asked for)
    max_replacements: int | None = None

    def __post_init__(self) -> None:
        def bad(option: str, reason: str) -> UserError:
            return UserError(errors.OPTION_INVALID, option=option, reason=reason)

        if not self.queue:
            raise bad("--slurm-queue", "name the partition (queue) to submit to")
        if self.max_replacements is not None and self.max_replacements < 0:
            raise bad("--slurm-config", "max_replacements must be >= 0")
        if self.cores < 1 or self.jobs < 1 or self.processes < 1:
            raise bad("--slurm-cores/--slurm-jobs", "cores, jobs and processes must be >= 1")
        if self.processes > self.cores:
            raise bad("--slurm-processes", f"{self.processes} processes > {self.cores} cores")
        if not _MEMORY.match(self.memory.strip()):
            raise bad("--slurm-memory", f"'{self.memory}' is not a size like 16GB or 3500MB")
        if not _WALLTIME.match(self.walltime.strip()):
            raise bad("--slurm-walltime", f"'{self.walltime}' is not HH:MM:SS or D-HH:MM:SS")

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides: Any) -> SlurmConfig:
        """Read a YAML file (keys as the fields of this class); ``overrides`` win."""
        import yaml

        path = Path(path)
        if not path.is_file():
            raise UserError(errors.FILE_MISSING, path=str(path))
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            reason = str(exc).splitlines()[0]
            raise UserError(
                errors.FILE_CORRUPT, path=str(path), kind="YAML", reason=reason
            ) from exc
        if not isinstance(data, dict):
            raise UserError(
                errors.FILE_CORRUPT, path=str(path), kind="YAML", reason="not a mapping"
            )
        data = data.get("slurm", data)
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise UserError(
                errors.OPTION_INVALID,
                option=str(path),
                reason=f"unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}",
            )
        merged = {**data, **{k: v for k, v in overrides.items() if v is not None}}
        for key in ("job_extra_directives", "job_script_prologue", "job_directives_skip"):
            if key in merged:
                merged[key] = tuple(merged[key])
        return cls(**merged)

    @property
    def replacements(self) -> int:
        """How many worker jobs may be resubmitted in one run."""
        return 2 * self.jobs if self.max_replacements is None else self.max_replacements

    def worker_lifetime(self) -> tuple[int, int]:
        """(lifetime, stagger) in seconds: a worker retires 10% of its walltime (30 s to
        10 min) before the walltime, give or take a third of that margin, so its fits move
        to the other workers instead of being killed with the job."""
        walltime = walltime_seconds(self.walltime)
        margin = min(max(walltime // 10, 30), 600)
        return max(walltime - margin, 1), margin // 3

    def folder(self, shared_directory: str | Path | None = None) -> Path:
        """The shared folder of the TLS certificates and the jobs' logs (``slurm-logs/``):
        ``shared_directory`` from the configuration (``~`` and ``$VARS`` expanded), else
        the one given (the run's ``.partial`` directory), else the current directory."""
        raw = str(self.shared_directory or shared_directory or Path.cwd())
        return Path(os.path.expandvars(os.path.expanduser(raw))).resolve()

    def check_submission(self, job_script: str, folder: Path) -> None:
        """Ask SLURM whether it would take the worker job (``sbatch --test-only``: nothing
        is submitted); a refusal — partition, account, QoS, sizes — is one line, exit 2."""

        def refused(reason: str) -> UserError:
            return UserError(errors.OPTION_INVALID, option="--slurm-config", reason=reason)

        if shutil.which("sbatch") is None:
            raise refused("sbatch is not on PATH: run insightome on a SLURM login node or job")
        try:
            (folder / "slurm-logs").mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile("w", dir=folder, prefix=".sbatch-test-") as script:
                script.write(job_script)
                script.flush()
                checked = subprocess.run(
                    ["sbatch", "--test-only", script.name],
                    capture_output=True, text=True, timeout=60,
                )  # fmt: skip
        except OSError as exc:
            reason = f"cannot write the worker jobs' files in {folder} ({exc.strerror})"
            raise refused(reason) from None
        except subprocess.TimeoutExpired:
            raise refused("sbatch --test-only did not answer in 60 s") from None
        if checked.returncode != 0:
            said = [line.strip() for line in checked.stderr.splitlines() if line.strip()]
            raise refused(f"SLURM refused the worker job: {' / '.join(said[-2:]) or 'no reason'}")

    def cluster_kwargs(self, shared_directory: str | Path | None = None) -> dict[str, Any]:
        """Keyword arguments for :class:`dask_jobqueue.SLURMCluster`."""
        own = {"jobs", "shared_directory", "max_replacements", "account"}
        kwargs = {k: v for k, v in asdict(self).items() if k not in own and v is not None}
        kwargs["job_extra_directives"] = list(self.job_extra_directives)
        kwargs["job_script_prologue"] = list(self.job_script_prologue)
        kwargs["job_directives_skip"] = list(self.job_directives_skip)
        if self.account is not None:
            kwargs["account"] = self.account
        shared = self.folder(shared_directory)
        lifetime, stagger = self.worker_lifetime()
        kwargs.update(
            worker_extra_args=["--lifetime", f"{lifetime}s", "--lifetime-stagger", f"{stagger}s"],
            security=True,  # temporary TLS certificates: only the run's own jobs can connect
            shared_temp_directory=str(shared),
            log_directory=str(shared / "slurm-logs"),
            # the scheduler's web server (dashboard, health) answers on this machine only
            scheduler_options={"dashboard_address": "127.0.0.1:0"},
        )
        return kwargs

    def make_cluster(self, shared_directory: str | Path | None = None) -> Any:
        """The (not yet scaled) SLURMCluster; ``job_script()`` shows what will be submitted."""
        return _slurm_cluster_class()(**self.cluster_kwargs(shared_directory))


def _slurm_cluster_class() -> Any:
    """dask_jobqueue's SLURMCluster, imported without its SIGINT handler.

    Importing dask_jobqueue (its ``runner`` module) replaces the SIGINT handler with one
    that calls ``sys.exit()``: Ctrl-C would then end a run with exit code 0 and no word,
    and the job keeper could not stop the run. The handler in place before is put back.
    """
    previous = signal.getsignal(signal.SIGINT)
    from dask_jobqueue import SLURMCluster

    if threading.current_thread() is threading.main_thread() and previous is not None:
        signal.signal(signal.SIGINT, previous)
    return SLURMCluster


def slurm_from_options(
    config: str | Path | None = None,
    *,
    queue: str | None = None,
    cores: int | None = None,
    memory: str | None = None,
    walltime: str | None = None,
    jobs: int | None = None,
) -> SlurmConfig | None:
    """A SlurmConfig from a YAML file and/or CLI options (options win); None if neither."""
    overrides = {
        "queue": queue,
        "cores": cores,
        "memory": memory,
        "walltime": walltime,
        "jobs": jobs,
    }
    if config is not None:
        return SlurmConfig.from_yaml(config, **overrides)
    if all(v is None for v in overrides.values()):
        return None
    return SlurmConfig(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]
