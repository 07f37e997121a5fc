"""One run's fits on its backend: local processes, a Dask scheduler, or SLURM jobs.

A run makes its cluster once (:class:`FitBackend`, on the first stage that fits) and
releases it when the resampled fits are done. What can go wrong on a real cluster, and
what happens then:

* **Worker jobs wait in the queue.** Nothing is sent before a worker has joined; the wait
  has no limit on SLURM (queues take hours) and is reported every minute with squeue's
  reason. A ``--scheduler`` without a worker for 2 minutes stops the run.
* **sbatch refuses the job script** (partition, account, QoS, sizes): checked with
  ``sbatch --test-only`` before anything is submitted — one line, exit code 2.
* **A worker job ends early**: :class:`~insightome.compute.slurm_jobs.JobKeeper` submits
  another; Dask reruns the fits it had in flight.
* **The data went with it**: data sent to Dask workers lives only there; the fits that
  need it are cancelled. :meth:`FitBackend.call` runs the stage's fits again with the data
  sent afresh — the fit cache gives back every fit already finished.
* **No worker is left and none may come**: the keeper gives up, the fits are stopped and
  :class:`~insightome.errors.WorkersLost` names the ``--resume`` command; the run keeps
  its checkpoint.

Every such event is logged (run.log), printed to stderr as it happens when the run shows
progress, and recorded in results.json ``compute.backend``. The scheduler and the SLURM
workers talk over TLS with certificates made for the run; the scheduler's web server
(its dashboard) listens on 127.0.0.1 only.
"""

from __future__ import annotations

import logging
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError
from contextlib import ExitStack, contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

from insightome import errors
from insightome.compute.backends import SlurmConfig
from insightome.compute.slurm_jobs import JobKeeper
from insightome.errors import UserError, WorkersLost

__all__ = ["FitBackend"]

T = TypeVar("T")
SCHEDULER_WAIT_S = 120.0  # a --scheduler with no worker this long stops the run
WAIT_SLICE_S = 5.0
TELL_EVERY_S = 60.0


class _LostDataRecords(logging.Filter):
    """Drops two records of distributed's scheduler that :class:`FitBackend` reports in
    its own words: "caused the cluster to lose scattered data" (expected when a worker
    job ends; :meth:`FitBackend.call` sends the data again; the record lists every lost
    key, hundreds of them on one console line) and "Couldn't gather keys … 'forgotten'"
    (fits cancelled because the run stops; the run's own line says so)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "lose scattered data" in message:
            return False
        return not (message.startswith("Couldn't gather keys") and "'forgotten'" in message)


class _ClosedUnderJoblib(logging.Filter):
    """Drops tornado's "Exception in callback … as_completed._track_future …" records.
    joblib's Dask backend tracks its futures with ``as_completed``; when the run stops
    part-way (SIGTERM, Ctrl-C, lost workers) and the client closes, the tracker's gathers
    in flight fail (CommClosedError, "ConnectionPool is closed", …) and tornado printed
    their tracebacks after the run's own one-line message (seen on the test cluster). A
    failure of the connection in a run that goes on reaches joblib through the futures
    themselves (and becomes :class:`~insightome.errors.WorkersLost`); other tornado errors
    are kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "as_completed._track_future" not in record.getMessage()


class _SchedulerGoneRecords(logging.Filter):
    """Drops the client's "Failed to reconnect to scheduler after 10.00 seconds, closing
    client". When the scheduler goes away, the futures of the fits in flight are cancelled
    at once and the run stops with :class:`~insightome.errors.WorkersLost` ("the scheduler
    dropped the fits"); the client keeps trying to reconnect for its timeout (10 s) in the
    background, and a process still stopping after that (writing its ``.partial`` on a
    loaded machine) printed this record after the run's own one line (seen once in the
    test suite; reproduced by keeping a client alive past the timeout). A scheduler lost
    while no fit needs it loses nothing; the next stage with fits stops the same way. Only
    while a run holds a client (:data:`_RUN_CLIENTS`): another client of the same process
    (a notebook's own) keeps the record."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (_RUN_CLIENTS and record.getMessage().startswith("Failed to reconnect"))


class _RescheduledGathers(logging.Filter):
    """Drops the client's "Couldn't gather N keys, rescheduling …" while a run holds a
    client. The client asks the scheduler to compute the keys again by itself; if they are
    lost for good (the cluster closed, every worker gone) the run stops with its own one
    line (:class:`~insightome.errors.WorkersLost`), which this record preceded on the
    console (seen once in the test suite, a cluster closed mid-run). Another client of the
    same process keeps the record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (
            _RUN_CLIENTS and message.startswith("Couldn't gather") and "rescheduling" in message
        )


_RUN_CLIENTS: set[int] = set()  # id() of the clients FitBackends hold open


# installed once, for the process: each drops only records of events this module reports
logging.getLogger("distributed.scheduler").addFilter(_LostDataRecords())
logging.getLogger("tornado.application").addFilter(_ClosedUnderJoblib())
logging.getLogger("distributed.client").addFilter(_SchedulerGoneRecords())
logging.getLogger("distributed.client").addFilter(_RescheduledGathers())
_DASK_BACKEND = "insightome-dask"


def _dask_backend() -> str:
    """joblib's Dask backend, except that it never reports one worker core.

    joblib runs a ``Parallel`` whose backend reports one core *sequentially in this
    process* (its shortcut for ``n_jobs == 1``), and the Dask backend reports the cores of
    the workers connected at that moment: a cluster of one 1-core worker — or of two
    SLURM jobs of which one is still queued — silently ran every fit on the machine
    running insightome (seen on the test cluster). With no worker at all it gave up after
    10 s. This backend reports at least 2, so the fits always go to the cluster and wait
    there for workers. (``joblib._dask`` is private; the subclass only overrides that
    one method.)
    """
    from joblib import register_parallel_backend
    from joblib._dask import DaskDistributedBackend

    class ClusterOnly(DaskDistributedBackend):  # type: ignore[misc]
        def effective_n_jobs(self, n_jobs: int | None) -> int:
            return max(2, sum(self.client.ncores().values()))

    register_parallel_backend(_DASK_BACKEND, ClusterOnly)
    return _DASK_BACKEND


class FitBackend:
    """Where one run's fits go; a cluster is made on first use and kept until :meth:`close`.

    ``use(scatter)`` routes every joblib ``Parallel`` inside it to the backend. ``scatter``
    lists the large objects every task receives (the modelling table): on a Dask cluster
    they are sent to the workers once, not with each of the hundreds of fits (measured:
    without it, two workers were no faster than one). ``log`` gets every event (the run
    log); ``say``, when given, prints it as it happens.
    """

    def __init__(
        self,
        scheduler: str | None = None,
        slurm: SlurmConfig | None = None,
        *,
        n_jobs: int = 1,
        shared_directory: str | Path | None = None,
        log: Callable[[str], None] | None = None,
        say: Callable[[str], None] | None = None,
    ) -> None:
        if scheduler is not None and slurm is not None:
            raise UserError(
                errors.OPTION_INVALID, option="--scheduler", reason="give it or --slurm, not both"
            )
        self.scheduler, self.slurm, self.n_jobs = scheduler, slurm, n_jobs
        self.shared_directory = shared_directory
        self._log, self._say = log, say
        self.events: list[str] = []  # what happened to the workers, in order
        self._client: Any = None
        self._cluster: Any = None
        self.keeper: JobKeeper | None = None
        self.data_resent = 0  # times the workers lost the data sent to them (see call)
        # times call() sends the data again: SLURM jobs may be replaced that often
        self.retries = (slurm.replacements if slurm is not None else 2) + 1

    @property
    def local(self) -> bool:
        return self.scheduler is None and self.slurm is None

    @property
    def name(self) -> str:
        return "SLURM" if self.slurm is not None else "Dask"

    def log(self, message: str) -> None:
        self.events.append(message)
        if self._log is not None:
            self._log(message)
        if self._say is not None:
            self._say(message)

    # -- connecting ------------------------------------------------------------------
    def _connect(self) -> Any:
        from distributed import Client

        if self._client is not None:
            return self._client
        if self.slurm is not None:
            return self._start_slurm(Client)
        try:
            self._client = Client(self.scheduler, timeout="10s")
            _RUN_CLIENTS.add(id(self._client))
        except OSError as exc:
            raise UserError(
                errors.OPTION_INVALID,
                option="--scheduler",
                reason=f"cannot reach the Dask scheduler at {self.scheduler} ({exc}); "
                "start it (dask scheduler) or check the address",
            ) from exc
        return self._client

    def _start_slurm(self, client_class: Any) -> Any:
        slurm = self.slurm
        assert slurm is not None
        folder = slurm.folder(self.shared_directory)
        cluster = slurm.make_cluster(folder)
        try:
            slurm.check_submission(cluster.job_script(), folder)
        except BaseException:
            for step in _cluster_closers(cluster):
                step()
            raise
        self._cluster = cluster
        cluster.scale(jobs=slurm.jobs)
        self._client = client_class(cluster)
        _RUN_CLIENTS.add(id(self._client))
        self.keeper = JobKeeper(
            cluster, slurm.jobs, slurm.replacements, self.log,
            on_lost=self._stop_fits, log_directory=str(folder / "slurm-logs"),
        )  # fmt: skip
        self.keeper.start()
        self.log(
            f"SLURM: submitted {slurm.jobs} worker job(s) to partition {slurm.queue} "
            f"({slurm.cores} core(s), {slurm.memory}, walltime {slurm.walltime} each)"
        )
        return self._client

    def _stop_fits(self) -> None:
        """Called by the job keeper when it gives up: the run's pending fits are cancelled,
        so the main thread's wait ends and :meth:`call` says why (WorkersLost). (Closing
        the client instead would not do: joblib then runs the remaining fits in this
        process, silently — seen on a LocalCluster.)"""
        client = self._client
        if client is None:
            return
        from distributed import Future

        try:
            pending = [Future(key, client) for key in list(client.futures)]
            if pending:
                client.cancel(pending, reason=f"{self.name}: no worker left")
        except Exception as exc:  # the client is closing already: nothing to stop
            self.log(f"{self.name}: stopping the fits: {exc!r}")

    def _lost(self) -> str | None:
        return None if self.keeper is None else self.keeper.lost

    def _wait_for_workers(self, client: Any) -> None:
        """Until one worker has joined; on SLURM as long as the keeper has not given up."""
        start = told = time.monotonic()
        while True:
            try:
                client.wait_for_workers(1, timeout=WAIT_SLICE_S)
                return
            except TimeoutError:
                pass
            except (OSError, CancelledError, RuntimeError) as exc:  # the scheduler is gone
                reason = self._lost() or f"the scheduler stopped answering ({exc!r})"
                raise WorkersLost(reason) from exc
            now = time.monotonic()
            if self.keeper is not None:
                if self.keeper.lost is None and not self.keeper.is_alive():
                    self.keeper.lost = "the SLURM job keeper stopped"
                if self.keeper.lost is not None:
                    raise WorkersLost(self.keeper.lost)
                if now - told >= TELL_EVERY_S:
                    told = now
                    self.log(
                        f"SLURM: waited {now - start:.0f} s for a worker job to start "
                        f"({self.keeper.pending_reasons()})"
                    )
            elif now - start >= SCHEDULER_WAIT_S:
                raise WorkersLost(
                    f"the Dask scheduler at {self.scheduler} has had no worker for "
                    f"{SCHEDULER_WAIT_S:.0f} s (start some: dask worker {self.scheduler})"
                )

    # -- running fits ----------------------------------------------------------------
    @contextmanager
    def use(self, scatter: list[Any] | None = None) -> Iterator[None]:
        if self.local:
            yield
            return
        from joblib import parallel_config

        client = self._connect()
        if self._lost() is not None:
            raise WorkersLost(str(self._lost()))
        self._wait_for_workers(client)
        with ExitStack() as stack:
            try:  # joblib sends the scattered data to the workers here
                config = parallel_config(backend=_dask_backend(), scatter=scatter)
                stack.enter_context(config)
            except (CancelledError, OSError, TimeoutError) as exc:
                raise WorkersLost(
                    f"the data could not be sent to the workers ({type(exc).__name__}: {exc})"
                ) from exc
            yield

    def call(self, fn: Callable[[], T], scatter: list[Any] | None = None) -> T:
        """``fn()`` with its joblib calls on this backend; run again when the workers lost
        what they were sent.

        Data sent to Dask workers (the modelling table) is kept by those workers only;
        when a worker ends, what only it held cannot be rebuilt and the fits that need it
        are cancelled. ``fn`` is then called again with the data sent afresh — the fit
        cache gives back every fit already finished — up to :attr:`retries` times, as
        long as a worker is there or (SLURM) may come. Any other loss goes up as the
        :class:`WorkersLost` it is; when the job keeper gave up, its reason is given.
        """
        attempt = 0
        while True:
            try:
                with self.use(scatter):
                    return fn()
            except WorkersLost as exc:
                if self._lost() is not None:
                    raise WorkersLost(str(self._lost())) from exc
                if not isinstance(exc.__cause__, CancelledError) or not self._workers_may_come():
                    raise
                attempt += 1
                if attempt > self.retries:
                    raise WorkersLost(
                        f"the data sent to the workers was lost {attempt} times, each time "
                        f"with a worker that ended ({exc.reason})"
                    ) from exc
            except Exception as exc:  # the client closed under the fits by the keeper
                if self._lost() is not None:
                    raise WorkersLost(str(self._lost())) from exc
                raise
            self.data_resent += 1
            self.log(
                f"{self.name}: a worker that held the run's data ended; the data is sent "
                f"again and the unfinished fits rerun (attempt {attempt + 1})"
            )

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

    # -- the end -----------------------------------------------------------------------
    def close(self) -> None:
        """Release the workers (SLURM jobs are cancelled); :meth:`describe` keeps the story.
        Each step runs even when one before it failed (and says so in the log)."""
        keeper, client, cluster = self.keeper, self._client, self._cluster
        self._client = self._cluster = None
        steps: list[Callable[[], object]] = []
        if keeper is not None:
            steps.append(keeper.stop)
        if client is not None:
            steps += [client.close, lambda: _RUN_CLIENTS.discard(id(client))]
        if cluster is not None:
            steps += _cluster_closers(cluster)
        first: BaseException | None = None
        for step in steps:  # every step, even after a failed one or a second Ctrl-C
            try:
                step()
            except Exception as exc:
                self.log(f"{self.name}: closing the cluster: {type(exc).__name__}: {exc}")
            except BaseException as exc:
                first = first or exc
        if first is not None:
            raise first

    def describe(self) -> dict[str, Any]:
        """What results.json records about where the fits ran and what the ledger measured."""
        measured = [
            f"{socket.gethostname()} (this machine): the main process and the processes it started"
        ]
        if self.slurm is not None:
            described: dict[str, Any] = {
                "backend": "dask-jobqueue SLURM",
                "slurm": asdict(self.slurm),
                "worker_lifetime_s": self.slurm.worker_lifetime()[0],
                "connections": "TLS, temporary certificates",
                "data_resent": self.data_resent,
                "events": list(self.events),
            }
            if self.keeper is None:
                remote = "SLURM worker jobs: none started by this process (its fits came from "
                remote += "the checkpoint)"
            else:
                described["slurm_jobs"] = self.keeper.summary()
                hosts = ", ".join(sorted(self.keeper.hosts)) or "nodes not seen"
                remote = f"SLURM worker job(s) {', '.join(self.keeper.job_ids)} on {hosts}"
            described["machines"] = {"measured": measured, "not_measured": [remote]}
            return described
        if self.scheduler is not None:
            return {
                "backend": "dask.distributed",
                "scheduler": self.scheduler,
                "data_resent": self.data_resent,
                "events": list(self.events),
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


def _cluster_closers(cluster: Any) -> list[Callable[[], object]]:
    """Closing a SLURMCluster: the cluster (its jobs are cancelled), then the TLS key files
    dask-jobqueue wrote for the workers (closing each deletes it; left to the garbage
    collector, they would be deleted at exit, after the run's folder is gone)."""
    keys = [v for v in vars(cluster).values() if isinstance(v, tempfile._TemporaryFileWrapper)]
    return [cluster.close, *(key.close for key in keys)]
