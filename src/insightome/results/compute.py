"""What a run cost (the energy ledger, results.json ``compute``, docs/energy.md) and how
complete its generated documents are (``documents``)."""

from __future__ import annotations

from pydantic import JsonValue

from insightome.results.fields import Number, Record, optional


class StageCost(Record):
    """Time, CPU, memory, energy and carbon of one stage (or of the whole run)."""

    wall_s: Number
    cpu_s: Number
    peak_rss_mb: Number
    peak_memory_mb: Number
    memory_measure: str  # "PSS" (summed over the process tree) or "RSS"
    energy_kwh: Number
    carbon_g: Number


class LedgerConstants(Record):
    """The constants the energy and carbon figures rest on, each with its source."""

    core_power_w: Number
    core_power_source: str
    memory_power_w_per_gb: Number
    pue: Number
    carbon_intensity_g_per_kwh: Number
    carbon_intensity_source: str
    formula: str
    reference: str
    sample_interval_s: Number
    max_sample_interval_s: Number = optional()  # absent before the sampler backed off
    rapl_domains: list[str] = optional()  # measured (RAPL) runs only


class Machines(Record):
    """Which machines the energy ledger measured and which it did not (named plainly)."""

    measured: list[str]
    not_measured: list[str]


class SlurmJobs(Record):
    """The run's SLURM worker jobs (``compute.slurm_jobs.JobKeeper``)."""

    submitted: list[str]  # job ids, in order
    retired_at_lifetime: list[str]  # left shortly before their walltime, as planned; replaced
    ended_early: list[str]  # cancelled, killed or their node lost
    submissions_refused: int = optional()  # sbatch refused a replacement mid-run
    squeue_failures: int = optional()  # looks at the queue that failed (jobs unwatched)
    nodes: list[str]


class Backend(Record):
    """Where the fits ran (docs/compute.md)."""

    backend: str
    n_jobs: int = optional()  # local joblib processes
    scheduler: str = optional()  # dask.distributed scheduler address
    slurm: dict[str, JsonValue] = optional()  # dask-jobqueue SLURM settings
    worker_lifetime_s: int = optional()  # SLURM workers retire this long after they start
    connections: str = optional()  # how the scheduler and SLURM workers talk (TLS)
    slurm_jobs: SlurmJobs = optional()
    data_resent: int = optional()  # stages whose fits ran again: a worker took the data along
    events: list[str] = optional()  # what happened to the workers, as the run log says it
    machines: Machines = optional()


class ComputeLedger(Record):
    """The run's cost: per stage and in total (``compute.ledger.EnergyLedger.to_dict``);
    ``insightome.run`` adds ``backend`` and ``budget`` (null without ``--budget``)."""

    method: str
    scope: str
    constants: LedgerConstants
    cpu_model: str
    n_cores_available: int
    stages: dict[str, StageCost]
    total: StageCost
    backend: Backend = optional()
    # the budget pilot's projection and what was pruned (``stages.budget_pilot.fit_budget``)
    budget: dict[str, JsonValue] | None = optional()


class DocumentSummary(Record):
    """How many of a generated document's checklist items the run could fill."""

    n_items: int
    n_filled: int
    n_partial: int
    n_to_complete: int
