"""Where the independent fits run: local processes, a Dask cluster, or SLURM via Dask.

Every unit of work (candidate × fold × repeat fit, permutation rerun) goes through joblib,
so the backend is a setting, not a code path:

* default — joblib's local process pool (loky), ``n_jobs`` workers;
* ``scheduler="tcp://host:8786"`` — an existing ``dask.distributed`` cluster;
* ``slurm=SlurmConfig(...)`` — a cluster of SLURM jobs started by ``dask-jobqueue``.

Each fit is seeded by the run's seed and its position in the plan, never by the worker,
so the same seed gives the same results on every backend (tested on a real LocalCluster
and on a real one-node SLURM cluster, ``tests/cluster/``).

A run makes its cluster once (:class:`FitBackend`, on the first stage that fits) and
releases it when the fits are done. On SLURM, worker jobs that end early — cancelled,
killed at their walltime, their node lost — are resubmitted (:mod:`.slurm_jobs`), and each
worker retires shortly before its walltime so that its fits move to the others; when
no worker is left and none may be resubmitted, the run stops with
:class:`~insightome.errors.WorkersLost` and keeps its checkpoint for ``--resume``.
Connections between the scheduler and the workers use TLS with temporary certificates
(only the run's own jobs can join); the scheduler's web server (its dashboard) listens
on 127.0.0.1 only. ``dask.distributed`` and ``dask-jobqueue`` are imported only when
asked for.
"""

from __future__ import annotations

import logging
import re
import signal
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

from insightome import errors
from insightome.compute.slurm_jobs import JobKeeper, walltime_seconds
from insightome.errors import UserError, WorkersLost

__all__ = ["FitBackend", "SlurmConfig", "WorkersLost", "slurm_from_options"]

T = TypeVar("T")

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
        ``shared_directory`` from the configuration, else the one given (the run's
        ``.partial`` directory), else the current directory."""
        return Path(self.shared_directory or shared_directory or Path.cwd()).resolve()

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


class _LostDataRecords(logging.Filter):
    """Drops distributed's "caused the cluster to lose scattered data" records: the event
    is expected when a worker job ends, and :meth:`FitBackend.call` logs it in its own
    words (the records list every lost key, hundreds of them on one console line)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "lose scattered data" not in record.getMessage()


_SCHEDULER_LOG = logging.getLogger("distributed.scheduler")


class FitBackend:
    """Where one run's fits go; a cluster is made on first use and kept until :meth:`close`.

    ``use(scatter)`` routes every joblib ``Parallel`` inside it to the backend. ``scatter``
    lists the large objects every task receives (the modelling table): on a Dask cluster
    they are sent to the workers once, not with each of the hundreds of fits (measured:
    without it, two workers were no faster than one).
    """

    def __init__(
        self,
        scheduler: str | None = None,
        slurm: SlurmConfig | None = None,
        *,
        n_jobs: int = 1,
        shared_directory: str | Path | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        if scheduler is not None and slurm is not None:
            raise UserError(
                errors.OPTION_INVALID, option="--scheduler", reason="give it or --slurm, not both"
            )
        self.scheduler, self.slurm, self.n_jobs = scheduler, slurm, n_jobs
        self.shared_directory = shared_directory
        self.log = log or (lambda message: None)
        self._client: Any = None
        self._cluster: Any = None
        self.keeper: JobKeeper | None = None
        self._quiet = _LostDataRecords()
        self.lost_data = 0  # times the workers lost the data sent to them (see call)
        # times call() sends the data again: SLURM jobs may be replaced that often
        self.retries = (slurm.replacements if slurm is not None else 2) + 1

    @property
    def name(self) -> str:
        return "SLURM" if self.slurm is not None else "Dask"

    @property
    def local(self) -> bool:
        return self.scheduler is None and self.slurm is None

    def _connect(self) -> Any:
        from distributed import Client

        if self._client is not None:
            return self._client
        _SCHEDULER_LOG.addFilter(self._quiet)
        if self.slurm is not None:
            self._cluster = self.slurm.make_cluster(self.shared_directory)
            self._cluster.scale(jobs=self.slurm.jobs)
            self._client = Client(self._cluster)
            self.keeper = JobKeeper(
                self._cluster, self._client, self.slurm.jobs, self.slurm.replacements, self.log,
                lifetime_s=self.slurm.worker_lifetime()[0],
                log_directory=str(self.slurm.folder(self.shared_directory) / "slurm-logs"),
            )  # fmt: skip
            self.keeper.start()
            self.log(
                f"SLURM: submitted {self.slurm.jobs} worker job(s) to partition "
                f"{self.slurm.queue} ({self.slurm.cores} core(s), {self.slurm.memory}, "
                f"walltime {self.slurm.walltime} each)"
            )
            return self._client
        try:
            self._client = Client(self.scheduler, timeout="10s")
        except OSError as exc:
            raise UserError(
                errors.OPTION_INVALID,
                option="--scheduler",
                reason=f"cannot reach the Dask scheduler at {self.scheduler} ({exc}); "
                "start it (dask scheduler) or check the address",
            ) from exc
        return self._client

    @contextmanager
    def use(self, scatter: list[Any] | None = None) -> Iterator[None]:
        if self.local:
            yield
            return
        from joblib import parallel_config

        self._connect()
        keeper = self.keeper
        if keeper is not None and keeper.lost is not None:
            raise WorkersLost(keeper.lost)
        try:
            if keeper is not None:
                keeper.in_use = True
            with parallel_config(backend="dask", scatter=scatter):
                yield
        except (KeyboardInterrupt, errors.Interrupted):
            # the job keeper interrupts the main thread when no worker is left to run the fits
            if keeper is not None and keeper.lost is not None:
                raise WorkersLost(keeper.lost) from None
            raise
        finally:
            if keeper is not None:
                keeper.in_use = False

    def call(self, fn: Callable[[], T], scatter: list[Any] | None = None) -> T:
        """``fn()`` with its joblib calls on this backend; run again when the workers lost
        what they were sent.

        Data sent to Dask workers (the modelling table, each task's arrays) is kept by
        those workers only; when a worker job ends, what only it held cannot be rebuilt
        and the fits that need it are cancelled. ``fn`` is then called again with the data
        sent afresh — the fit cache gives back every fit already finished — up to
        :attr:`retries` times. Any other loss (a fit that killed three workers in turn,
        the scheduler gone) is not retried: the :class:`WorkersLost` of
        :func:`~insightome.evaluate.engine.cross_validated_predictions` goes up as it is.
        """
        attempt = 0
        while True:
            try:
                return self._call_once(fn, scatter)
            except WorkersLost as exc:
                # the data lost with a worker cancels the fits that need it: send it again
                if not isinstance(exc.__cause__, CancelledError) or not self._workers_may_come():
                    raise
                attempt += 1
                if attempt > self.retries:
                    raise WorkersLost(
                        f"the data sent to the workers was lost {attempt} times, each time "
                        f"with a worker that ended ({exc.reason})"
                    ) from exc
                self.lost_data += 1
                self.log(
                    f"{self.name}: a worker that held the run's data ended; the data is "
                    f"sent again and the unfinished fits rerun (attempt {attempt + 1})"
                )

    def _call_once(self, fn: Callable[[], T], scatter: list[Any] | None) -> T:
        with ExitStack() as stack:
            try:
                stack.enter_context(self.use(scatter))
            except (CancelledError, OSError) as exc:
                if self.local:
                    raise
                raise WorkersLost(
                    f"the data could not be sent to the workers ({type(exc).__name__}: the "
                    "scheduler or its workers are gone)"
                ) from exc
            return fn()

    def _workers_may_come(self) -> bool:
        """Whether running the fits again can work: the scheduler still answers and has a
        worker, or (SLURM) the job keeper has not given up."""
        client = self._client
        if self.local or client is None or client.status != "running":
            return False
        if self.keeper is not None:
            return self.keeper.lost is None
        try:
            return bool(client.scheduler_info()["workers"])
        except (OSError, KeyError):
            return False

    def close(self) -> None:
        """Release the workers (SLURM jobs are cancelled); :meth:`describe` keeps the story."""
        if self.keeper is not None:
            self.keeper.stop()
        for part in (self._client, self._cluster):
            if part is not None:
                part.close()
        if self._cluster is not None:  # the TLS key files dask-jobqueue wrote for the workers
            for value in list(vars(self._cluster).values()):
                if isinstance(value, tempfile._TemporaryFileWrapper):
                    value.close()  # deletes the file
        self._client = self._cluster = None
        _SCHEDULER_LOG.removeFilter(self._quiet)

    def describe(self) -> dict[str, Any]:
        """What results.json records about where the fits ran and what the ledger measured."""
        here = socket.gethostname()
        measured = [f"{here} (this machine): the main process and the processes it started"]
        if self.slurm is not None:
            described: dict[str, Any] = {
                "backend": "dask-jobqueue SLURM",
                "slurm": asdict(self.slurm),
                "worker_lifetime_s": self.slurm.worker_lifetime()[0],
            }
            described["connections"] = "TLS, temporary certificates"
            if self.keeper is not None:
                described["slurm_jobs"] = self.keeper.summary()
                hosts = ", ".join(sorted(self.keeper.hosts)) or "nodes not seen"
                jobs = ", ".join(self.keeper.job_ids)
                described["machines"] = {
                    "measured": measured,
                    "not_measured": [f"SLURM worker job(s) {jobs} on {hosts}: the fits"],
                }
            return described
        if self.scheduler is not None:
            return {
                "backend": "dask.distributed",
                "scheduler": self.scheduler,
                "machines": {
                    "measured": measured,
                    "not_measured": [f"the workers of the Dask scheduler {self.scheduler}"],
                },
            }
        return {
            "backend": "joblib loky (local processes)",
            "n_jobs": self.n_jobs,
            "machines": {"measured": measured, "not_measured": []},
        }
