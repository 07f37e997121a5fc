"""How a run computes, and what it costs.

* :mod:`insightome.compute.backends` — where the fits run (local processes, Dask, SLURM);
* :mod:`insightome.compute.cache`, :mod:`insightome.compute.checkpoint` — resumable runs;
* :mod:`insightome.compute.budget` — `--budget`: a pilot, a projection, documented pruning;
* :mod:`insightome.compute.ledger` — time, CPU, memory, energy and carbon per stage
  (``EnergyLedger``; method, constants and sources in ``docs/energy.md``).

Submodules are imported on use; importing this package loads only the (stdlib-only)
ledger.
"""

from insightome.compute.ledger import METHOD_ESTIMATED, METHOD_MEASURED, EnergyLedger

__all__ = ["METHOD_ESTIMATED", "METHOD_MEASURED", "EnergyLedger"]
