"""Energy and carbon of a run, stage by stage: measured when the CPU allows, else estimated.

>>> ledger = EnergyLedger()                      # doctest: +SKIP
>>> with ledger.stage("resampling"):             # doctest: +SKIP
...     cross_validate(...)
>>> results["compute"] = ledger.to_dict()        # doctest: +SKIP

Each stage records its wall time, the CPU seconds of the whole process tree (this process
and every descendant, including joblib/loky workers that outlive the stage), the peak
resident memory of that tree (sampled by a daemon thread), its energy and its carbon.

Energy is **measured** from Intel RAPL package counters when they are readable — the whole
CPU package, so every process on the machine and idle power, not this run alone — and
otherwise **estimated** with the Green Algorithms model (Lannelongue, Grealey & Inouye,
*Adv. Sci.* 2021). Every output is labelled with its method; the choice, the constants and
their sources are in ``docs/energy.md``.
"""

from __future__ import annotations

import dataclasses
import math
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from insightome.compute import probes
from insightome.compute.probes import GENERIC_CORE_POWER_W, core_power, cpu_model

__all__ = [
    "CARBON_INTENSITY_SOURCE",
    "DEFAULT_CARBON_INTENSITY",
    "DEFAULT_PUE",
    "GENERIC_CORE_POWER_W",
    "MEMORY_POWER_W_PER_GB",
    "METHOD_ESTIMATED",
    "METHOD_MEASURED",
    "EnergyLedger",
    "core_power",
    "cpu_model",
]

METHOD_MEASURED = "measured (RAPL)"
METHOD_ESTIMATED = "estimated (Green Algorithms)"

REFERENCE = (
    "Lannelongue L, Grealey J, Inouye M. Green Algorithms: Quantifying the Carbon Footprint "
    "of Computation. Adv. Sci. 2021;8:2100707. doi:10.1002/advs.202100707"
)
#: W per GB of memory: Green Algorithms reference value ``memoryPower`` (data v2.2).
MEMORY_POWER_W_PER_GB = 0.3725
#: the memory sampler's wait grows by this factor after each sample of a stage, from
#: ``sample_interval`` up to ``max_sample_interval``
SAMPLE_BACKOFF = 1.5
MAX_SAMPLE_INTERVAL = 2.0
#: Power usage effectiveness: Green Algorithms default for an unknown data centre, the
#: Uptime Institute 2019 global average (data v2.2 ``defaults_PUE.csv``). Use 1.0 for a
#: laptop or desktop, which has no data-centre overhead.
DEFAULT_PUE = 1.67
#: gCO2e/kWh: world average used by Green Algorithms (data v2.2 ``CI_aggregated.csv``,
#: ``WORLD``) and by CodeCarbon when a location is unknown.
DEFAULT_CARBON_INTENSITY = 475.0
CARBON_INTENSITY_SOURCE = (
    "world average, 475 gCO2e/kWh (IEA Global Energy & CO2 Status Report 2019), as used "
    "by Green Algorithms (data v2.2) for an unknown location; set carbon_intensity for "
    "your grid"
)
FORMULA_ESTIMATED = (
    "energy_kwh = (cpu_s * core_power_w + wall_s * peak_memory_gb * memory_power_w_per_gb) "
    "* pue / 3.6e6; carbon_g = energy_kwh * carbon_intensity_g_per_kwh"
)
FORMULA_MEASURED = (
    "energy_kwh = (increase of the RAPL package counters, uJ) / 3.6e12 * pue; "
    "carbon_g = energy_kwh * carbon_intensity_g_per_kwh"
)
SCOPE_ESTIMATED = (
    "this process and its descendants: CPU seconds and peak memory of the run (summed "
    "proportional set size, PSS, which counts pages shared between the processes once; "
    "summed resident set size where PSS is unreadable); memory is a measured lower bound "
    "of what Green Algorithms calls memory requested"
)
SCOPE_MEASURED = (
    "the whole CPU package(s), read from Intel RAPL: every process on the machine and idle "
    "power, not this run alone; memory (DRAM) energy is not included"
)
_MIB = 2**20
_GIB = 2**30


# -- one stage occurrence -------------------------------------------------------------


@dataclass
class _Totals:
    """What a stage name has accumulated over its occurrences."""

    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_rss_bytes: int = 0
    peak_pss_bytes: int | None = 0  # None once an occurrence could not read PSS
    mem_gb_s: float = 0.0  # sum over occurrences of wall_s * peak GB (the memory term)
    rapl_uj: float | None = 0.0  # None once an occurrence could not be measured


class _Recorder:
    """Measures one occurrence of a stage; a daemon thread samples memory (and RAPL)."""

    def __init__(
        self, interval: float, rapl: list[probes.RaplDomain], max_interval: float | None = None
    ) -> None:
        self._interval = interval
        self._max_interval = interval if max_interval is None else max(max_interval, interval)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._t0 = time.perf_counter()
        self._start = probes.snapshot()
        self._seen: dict[probes.ProcKey, float] = dict(self._start.descendants)
        self._peak = self._start.rss_bytes
        self._peak_pss = self._start.pss_bytes
        self._rapl: probes.RaplCounter | None = None
        if rapl:
            try:
                self._rapl = probes.RaplCounter(rapl)
            except (OSError, ValueError):
                self._rapl = None
        self._rapl_ok = self._rapl is not None
        self._thread = threading.Thread(target=self._run, name="insightome-ledger", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        # the wait grows by SAMPLE_BACKOFF after each sample, up to the longest interval: a
        # short stage is sampled finely, a long one without a scan of /proc every 0.25 s (at
        # a fixed 0.25 s the samples cost 9% of a 45-CPU-s run's CPU, by an A/B run)
        wait = self._interval
        while not self._stop.wait(wait):
            try:
                self._sample()
            except Exception:  # accounting must never break a run
                pass
            wait = min(wait * SAMPLE_BACKOFF, self._max_interval)

    def _sample(self) -> probes.TreeSnapshot:
        snap = probes.snapshot()
        with self._lock:
            self._peak = max(self._peak, snap.rss_bytes)
            if self._peak_pss is not None:
                self._peak_pss = (
                    None if snap.pss_bytes is None else max(self._peak_pss, snap.pss_bytes)
                )
            self._seen.update(snap.descendants)
            if self._rapl is not None:
                try:
                    self._rapl.poll()
                except (OSError, ValueError):
                    self._rapl, self._rapl_ok = None, False
        return snap

    def finish(self) -> tuple[float, float, int, int | None, float | None]:
        """(wall s, CPU s, peak RSS bytes, peak PSS bytes or None, RAPL µJ or None)."""
        wall = time.perf_counter() - self._t0
        self._stop.set()
        self._thread.join()
        end = self._sample()
        cpu = _tree_cpu(self._start, end, self._seen)
        energy = self._rapl.total_uj if self._rapl is not None and self._rapl_ok else None
        return wall, cpu, self._peak, self._peak_pss, energy


def _tree_cpu(
    start: probes.TreeSnapshot, end: probes.TreeSnapshot, seen: dict[probes.ProcKey, float]
) -> float:
    """CPU seconds the process tree spent between two snapshots.

    This process, plus every descendant alive at the end (its increase since the start, or
    all of it when it started during the stage), plus the descendants that exited. For the
    latter two partial views exist: the last value the sampler saw (misses work after the
    last sample, and processes that lived less than one interval: up to
    ``max_sample_interval`` late in a long stage), and the increase of
    ``RUSAGE_CHILDREN`` (exact for children this process reaped, with what they reaped,
    minus what those children had already used at the start). They overlap, so the larger
    is taken rather than their sum. Approximate at the edges: a grandchild that lived less
    than one interval and was not reaped here is missed; when a worker is reaped, what its
    own reaped children used in *earlier* stages is counted again.
    """
    before = start.descendants
    own = end.self_cpu_s - start.self_cpu_s
    live = sum(cpu - before.get(key, 0.0) for key, cpu in end.descendants.items())
    exited = [key for key in seen if key not in end.descendants]
    sampled = sum(seen[key] - before.get(key, 0.0) for key in exited)
    reaped = (end.children_cpu_s - start.children_cpu_s) - sum(
        before[key] for key in exited if key in start.direct_children
    )
    return max(own, 0.0) + max(live, 0.0) + max(sampled, reaped, 0.0)


# -- the ledger -----------------------------------------------------------------------


class EnergyLedger:
    """Wall time, CPU time, peak memory, energy and carbon of named stages of a run.

    ``carbon_intensity`` (gCO2e/kWh) and ``pue`` default to the Green Algorithms world
    average (475) and global data-centre average (1.67); ``sample_interval`` is how long
    (s) after a stage starts the memory of the process tree is first sampled, the wait
    then growing by :data:`SAMPLE_BACKOFF` per sample up to ``max_sample_interval``.
    ``core_power_w`` overrides the power per
    core looked up from the CPU model; ``powercap_root`` is where RAPL zones are looked for
    (a directory without readable package zones means "estimated").
    """

    def __init__(
        self,
        carbon_intensity: float | None = None,
        pue: float | None = None,
        sample_interval: float = 0.25,
        *,
        max_sample_interval: float = MAX_SAMPLE_INTERVAL,
        core_power_w: float | None = None,
        powercap_root: str | os.PathLike[str] = probes.DEFAULT_POWERCAP,
    ) -> None:
        if carbon_intensity is not None and not (
            math.isfinite(carbon_intensity) and carbon_intensity >= 0
        ):
            raise ValueError(f"carbon_intensity must be >= 0 gCO2e/kWh, got {carbon_intensity}")
        if pue is not None and not (math.isfinite(pue) and pue >= 1.0):
            raise ValueError(f"pue must be >= 1.0 (1.0 = no overhead), got {pue}")
        if not (math.isfinite(sample_interval) and sample_interval > 0):
            raise ValueError(f"sample_interval must be > 0 s, got {sample_interval}")
        if not (math.isfinite(max_sample_interval) and max_sample_interval > 0):
            raise ValueError(f"max_sample_interval must be > 0 s, got {max_sample_interval}")
        if core_power_w is not None and not (math.isfinite(core_power_w) and core_power_w > 0):
            raise ValueError(f"core_power_w must be > 0 W, got {core_power_w}")
        self.carbon_intensity = (
            DEFAULT_CARBON_INTENSITY if carbon_intensity is None else float(carbon_intensity)
        )
        self.carbon_intensity_source = (
            CARBON_INTENSITY_SOURCE if carbon_intensity is None else "given by the user"
        )
        self.pue = DEFAULT_PUE if pue is None else float(pue)
        self.sample_interval = float(sample_interval)
        self.max_sample_interval = max(float(max_sample_interval), self.sample_interval)
        self.cpu_model = cpu_model()
        self.n_cores_available = probes.cores_available()
        if core_power_w is None:
            self.core_power_w, self.core_power_source = core_power(self.cpu_model)
        else:
            self.core_power_w, self.core_power_source = float(core_power_w), "given by the user"
        self._rapl = probes.find_rapl_packages(powercap_root)
        self._stages: dict[str, _Totals] = {}
        self._active: str | None = None
        self._lock = threading.Lock()

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Measure the ``with`` block as stage ``name``; a repeated name accumulates.

        Stages do not nest (the totals are sums); a nested one raises ``RuntimeError``.
        """
        with self._lock:
            if self._active is not None:
                raise RuntimeError(
                    f"stage '{name}' started inside stage '{self._active}'; "
                    "ledger stages cannot nest"
                )
            self._active = name
        try:
            recorder = _Recorder(self.sample_interval, self._rapl, self.max_sample_interval)
        except BaseException:
            self._active = None
            raise
        try:
            yield
        finally:
            try:
                wall, cpu, peak, peak_pss, energy_uj = recorder.finish()
            except BaseException:
                self._active = None
                raise
            with self._lock:
                t = self._stages.setdefault(name, _Totals())
                t.wall_s += wall
                t.cpu_s += cpu
                t.peak_rss_bytes = max(t.peak_rss_bytes, peak)
                t.peak_pss_bytes = (
                    None
                    if peak_pss is None or t.peak_pss_bytes is None
                    else max(t.peak_pss_bytes, peak_pss)
                )
                t.mem_gb_s += wall * (peak if peak_pss is None else peak_pss) / _GIB
                t.rapl_uj = (
                    None if energy_uj is None or t.rapl_uj is None else (t.rapl_uj + energy_uj)
                )
                self._active = None

    def snapshot(self) -> dict[str, Any]:
        """The per-stage totals so far (a stage checkpoint keeps them, so a resumed run's
        ledger also covers the stages it restores instead of redoing)."""
        with self._lock:
            return {name: dataclasses.replace(t) for name, t in self._stages.items()}

    def restore(self, totals: dict[str, Any]) -> None:
        """Put back the per-stage totals of :meth:`snapshot`."""
        with self._lock:
            self._stages = {name: dataclasses.replace(t) for name, t in totals.items()}

    @property
    def method(self) -> str:
        """``"measured (RAPL)"`` only when every recorded stage was read from RAPL."""
        with self._lock:
            stages = list(self._stages.values())
        measured = bool(self._rapl) and all(t.rapl_uj is not None for t in stages)
        return METHOD_MEASURED if measured else METHOD_ESTIMATED

    def _energy_kwh(self, t: _Totals, method: str) -> float:
        if method == METHOD_MEASURED and t.rapl_uj is not None:
            return t.rapl_uj / 3.6e12 * self.pue
        joules = t.cpu_s * self.core_power_w + t.mem_gb_s * MEMORY_POWER_W_PER_GB
        return joules * self.pue / 3.6e6

    def _records(self) -> tuple[str, dict[str, dict[str, float]]]:
        method = self.method
        with self._lock:
            stages = dict(self._stages)
        out = {}
        for name, t in stages.items():
            energy = self._energy_kwh(t, method)
            out[name] = {
                "wall_s": t.wall_s,
                "cpu_s": t.cpu_s,
                "peak_rss_mb": t.peak_rss_bytes / _MIB,
                "peak_memory_mb": (
                    t.peak_rss_bytes if t.peak_pss_bytes is None else t.peak_pss_bytes
                )
                / _MIB,
                "memory_measure": "RSS" if t.peak_pss_bytes is None else "PSS",
                "energy_kwh": energy,
                "carbon_g": energy * self.carbon_intensity,
            }
        return method, out

    @property
    def total_kwh(self) -> float:
        """Energy of all recorded stages (kWh)."""
        return sum(r["energy_kwh"] for r in self._records()[1].values())

    @property
    def total_cpu_seconds(self) -> float:
        """CPU seconds of the process tree over all recorded stages."""
        with self._lock:
            return sum(t.cpu_s for t in self._stages.values())

    def to_dict(self) -> dict[str, Any]:
        """The ledger as JSON-ready data (``results.json`` key ``compute``; docs/energy.md)."""
        method, stages = self._records()
        measured = method == METHOD_MEASURED
        constants: dict[str, Any] = {
            "core_power_w": self.core_power_w,
            "core_power_source": self.core_power_source,
            "memory_power_w_per_gb": MEMORY_POWER_W_PER_GB,
            "pue": self.pue,
            "carbon_intensity_g_per_kwh": self.carbon_intensity,
            "carbon_intensity_source": self.carbon_intensity_source,
            "formula": FORMULA_MEASURED if measured else FORMULA_ESTIMATED,
            "reference": REFERENCE,
            "sample_interval_s": self.sample_interval,
            "max_sample_interval_s": self.max_sample_interval,
        }
        if measured:
            constants["rapl_domains"] = [d.name for d in self._rapl]
        rows = list(stages.values())
        total = {
            "wall_s": sum(r["wall_s"] for r in rows),
            "cpu_s": sum(r["cpu_s"] for r in rows),
            "peak_rss_mb": max((r["peak_rss_mb"] for r in rows), default=0.0),
            "peak_memory_mb": max((r["peak_memory_mb"] for r in rows), default=0.0),
            "memory_measure": "PSS"
            if rows and all(r["memory_measure"] == "PSS" for r in rows)
            else "RSS",
            "energy_kwh": sum(r["energy_kwh"] for r in rows),
            "carbon_g": sum(r["carbon_g"] for r in rows),
        }
        return {
            "method": method,
            "scope": SCOPE_MEASURED if measured else SCOPE_ESTIMATED,
            "constants": constants,
            "cpu_model": self.cpu_model,
            "n_cores_available": self.n_cores_available,
            "stages": stages,
            "total": total,
        }
