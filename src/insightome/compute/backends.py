"""Where the independent fits run: local processes, a Dask cluster, or SLURM via Dask.

Every unit of work (candidate × fold × repeat fit, permutation rerun) goes through joblib,
so the backend is a setting, not a code path:

* default — joblib's local process pool (loky), ``n_jobs`` workers;
* ``scheduler="tcp://host:8786"`` — an existing ``dask.distributed`` cluster;
* ``slurm=SlurmConfig(...)`` — a cluster of SLURM jobs started by ``dask-jobqueue``.

Each fit is seeded by the run's seed and its position in the plan, never by the worker,
so the same seed gives the same results on every backend (tested on a real LocalCluster).
``dask.distributed`` and ``dask-jobqueue`` are imported only when asked for.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from insightome import errors
from insightome.errors import UserError

_WALLTIME = re.compile(r"^(\d+-)?\d{1,3}:\d{2}(:\d{2})?$")
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
    local_directory: str | None = None
    interface: str | None = None

    def __post_init__(self) -> None:
        def bad(option: str, reason: str) -> UserError:
            return UserError(errors.OPTION_INVALID, option=option, reason=reason)

        if not self.queue:
            raise bad("--slurm-queue", "name the partition (queue) to submit to")
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
        for key in ("job_extra_directives", "job_script_prologue"):
            if key in merged:
                merged[key] = tuple(merged[key])
        return cls(**merged)

    def cluster_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :class:`dask_jobqueue.SLURMCluster`."""
        kwargs = {k: v for k, v in asdict(self).items() if k != "jobs" and v is not None}
        kwargs["job_extra_directives"] = list(self.job_extra_directives)
        kwargs["job_script_prologue"] = list(self.job_script_prologue)
        if self.account is None:
            kwargs.pop("account", None)
        return kwargs

    def make_cluster(self) -> Any:
        """The (not yet scaled) SLURMCluster; ``job_script()`` shows what will be submitted."""
        from dask_jobqueue import SLURMCluster

        return SLURMCluster(**self.cluster_kwargs())


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


def describe_backend(scheduler: str | None, slurm: SlurmConfig | None, n_jobs: int) -> dict:
    """What results.json records about where the fits ran."""
    if slurm is not None:
        return {"backend": "dask-jobqueue SLURM", "slurm": asdict(slurm)}
    if scheduler is not None:
        return {"backend": "dask.distributed", "scheduler": scheduler}
    return {"backend": "joblib loky (local processes)", "n_jobs": n_jobs}


@contextmanager
def parallel_backend(
    scheduler: str | None = None,
    slurm: SlurmConfig | None = None,
    scatter: list[Any] | None = None,
) -> Iterator[None]:
    """Route every joblib ``Parallel`` inside the block to the chosen backend.

    ``scatter`` lists the large objects every task receives (the modelling table): on a
    Dask cluster they are sent to the workers once, not with each of the hundreds of fits
    (measured: without it, two workers were no faster than one).
    """
    if scheduler is None and slurm is None:
        yield
        return
    if scheduler is not None and slurm is not None:
        raise UserError(
            errors.OPTION_INVALID, option="--scheduler", reason="give it or --slurm, not both"
        )
    from distributed import Client
    from joblib import parallel_config

    cluster = None
    try:
        if slurm is not None:
            cluster = slurm.make_cluster()
            cluster.scale(jobs=slurm.jobs)
            client = Client(cluster)
        else:
            try:
                client = Client(scheduler, timeout="10s")
            except OSError as exc:
                raise UserError(
                    errors.OPTION_INVALID,
                    option="--scheduler",
                    reason=f"cannot reach the Dask scheduler at {scheduler} ({exc}); "
                    "start it (dask scheduler) or check the address",
                ) from exc
        with client, parallel_config(backend="dask", scatter=scatter):
            yield
    finally:
        if cluster is not None:
            cluster.close()
