"""Low-level probes behind :class:`insightome.compute.ledger.EnergyLedger`.

* :func:`snapshot` — CPU seconds and resident memory of this process and all its live
  descendants, plus the cumulative CPU time of reaped children (``RUSAGE_CHILDREN``).
  On Linux it reads ``/proc/<pid>/stat`` directly (no dependency); elsewhere it uses
  ``psutil`` when importable; without either it sees this process only.
* :class:`RaplCounter` — Intel RAPL *package* energy counters under
  ``/sys/class/powercap`` (``intel-rapl:N``, whose ``name`` starts with ``package``),
  accumulated with wrap-around at ``max_energy_range_uj``. RAPL measures the whole CPU
  package: every process on the machine, and idle power, not this run alone.
* :func:`cpu_model`, :func:`core_power` — the CPU's name and its power per core from a
  small table of Green Algorithms' CPU data (its generic default otherwise).
"""

from __future__ import annotations

import os
import platform
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CORE_POWER_W",
    "DEFAULT_POWERCAP",
    "GENERIC_CORE_POWER_W",
    "ProcKey",
    "RaplCounter",
    "RaplDomain",
    "TreeSnapshot",
    "core_power",
    "cores_available",
    "cpu_model",
    "find_rapl_packages",
    "snapshot",
]

PROC = Path("/proc")
DEFAULT_POWERCAP = Path("/sys/class/powercap")
#: (pid, start time): a process identity that survives pid reuse.
ProcKey = tuple[int, int]

_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_USE_PROC = sys.platform.startswith("linux") and (PROC / "self" / "stat").exists()


@dataclass(frozen=True)
class TreeSnapshot:
    """One look at the process tree rooted at this process."""

    self_cpu_s: float  #: this process, all threads
    children_cpu_s: float  #: reaped (waited-for) children, cumulative since process start
    descendants: Mapping[ProcKey, float]  #: live descendants → CPU seconds (user + system)
    direct_children: frozenset[ProcKey]  #: the descendants whose parent is this process
    rss_bytes: int  #: resident memory of this process + live descendants (summed)
    #: proportional set size of the same processes: a page shared by k of them (libraries,
    #: memory-mapped data) counts 1/k in each, so the sum counts it once; None where
    #: ``/proc/<pid>/smaps_rollup`` is unreadable (not Linux, kernel < 4.14)
    pss_bytes: int | None = None


def snapshot() -> TreeSnapshot:
    """CPU time and resident memory of this process tree, now."""
    self_cpu, children_cpu = _rusage()
    pss: int | None = None
    try:
        if _USE_PROC:
            self_rss, desc, direct, desc_rss = _proc_tree(os.getpid())
            pss = _tree_pss(os.getpid(), desc)
        else:
            self_rss, desc, direct, desc_rss = _psutil_tree()
    except Exception:  # an unreadable /proc must not break a run: this process only
        self_rss, desc, direct, desc_rss = _self_maxrss(), {}, [], 0
    return TreeSnapshot(self_cpu, children_cpu, desc, frozenset(direct), self_rss + desc_rss, pss)


def _pss(pid: int) -> int | None:
    """Proportional set size of one process in bytes (``Pss:`` of smaps_rollup)."""
    try:
        with open(PROC / str(pid) / "smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _tree_pss(root: int, descendants: Mapping[ProcKey, float]) -> int | None:
    """Summed PSS of ``root`` and its descendants; None when the root's is unreadable.

    A descendant that exited between the scan and this read holds no memory any more.
    """
    own = _pss(root)
    if own is None:
        return None
    return own + sum(_pss(pid) or 0 for pid, _start in descendants)


def _rusage() -> tuple[float, float]:
    try:
        import resource
    except ImportError:  # Windows: no rusage; CPU of this process only
        import time

        return time.process_time(), 0.0
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


def _read_stat(pid: str) -> tuple[int, int, float, int] | None:
    """(ppid, start time, CPU seconds, RSS bytes) from ``/proc/<pid>/stat``."""
    try:
        with open(PROC / pid / "stat", "rb") as f:
            data = f.read()
    except OSError:  # exited meanwhile, or not ours to read
        return None
    # the command name is in parentheses and may contain spaces or ')'
    fields = data[data.rfind(b")") + 2 :].split()
    try:
        ppid, utime, stime = int(fields[1]), int(fields[11]), int(fields[12])
        start, rss = int(fields[19]), int(fields[21])
    except (IndexError, ValueError):
        return None
    return ppid, start, (utime + stime) / _CLK_TCK, rss * _PAGE


def _proc_tree(root: int) -> tuple[int, dict[ProcKey, float], list[ProcKey], int]:
    """Scan ``/proc/*/stat`` once and walk the parent links down from ``root``."""
    info: dict[int, tuple[int, int, float, int]] = {}
    for name in os.listdir(PROC):
        if name.isdigit():
            stat = _read_stat(name)
            if stat is not None:
                info[int(name)] = stat
    children: dict[int, list[int]] = {}
    for pid, (ppid, *_rest) in info.items():
        children.setdefault(ppid, []).append(pid)
    self_rss = info[root][3] if root in info else 0
    desc: dict[ProcKey, float] = {}
    direct: list[ProcKey] = []
    rss = 0
    stack = list(children.get(root, ()))
    direct_pids = set(stack)
    while stack:
        pid = stack.pop()
        _ppid, start, cpu, pid_rss = info[pid]
        key = (pid, start)
        desc[key] = cpu
        rss += pid_rss
        if pid in direct_pids:
            direct.append(key)
        stack.extend(children.get(pid, ()))
    return self_rss, desc, direct, rss


def _psutil_tree() -> tuple[int, dict[ProcKey, float], list[ProcKey], int]:
    """The same through psutil (macOS, Windows); this process only when it is absent."""
    try:
        import psutil
    except ImportError:
        return _self_maxrss(), {}, [], 0
    me = psutil.Process()
    desc: dict[ProcKey, float] = {}
    direct: list[ProcKey] = []
    rss = 0
    try:
        kids = me.children(recursive=True)
        direct_pids = {p.pid for p in me.children(recursive=False)}
    except psutil.Error:
        kids, direct_pids = [], set()
    for p in kids:
        try:
            with p.oneshot():
                t = p.cpu_times()
                key = (p.pid, int(p.create_time() * 1000))
                desc[key] = t.user + t.system
                rss += p.memory_info().rss
        except psutil.Error:
            continue
        if p.pid in direct_pids:
            direct.append(key)
    return me.memory_info().rss, desc, direct, rss


def _self_maxrss() -> int:
    """Peak RSS of this process since it started (the only figure without /proc or psutil)."""
    try:
        import resource
    except ImportError:
        return 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)  # bytes on macOS, KiB else


# -- RAPL -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RaplDomain:
    """One RAPL package zone: its counter file and the value at which it wraps."""

    name: str
    energy_file: Path
    max_uj: int


def find_rapl_packages(root: str | os.PathLike[str] = DEFAULT_POWERCAP) -> list[RaplDomain]:
    """The readable RAPL *package* zones under ``root`` (empty when there are none).

    Sub-zones (``intel-rapl:0:0`` = core, uncore, dram) are parts of a package or outside
    it and are skipped, as is ``psys``; a zone whose ``energy_uj`` cannot be read (root-only
    on most kernels since 2020) is skipped too.
    """
    base = Path(root)
    domains: list[RaplDomain] = []
    seen: set[Path] = set()
    try:
        zones = sorted(base.glob("intel-rapl:*"))
    except OSError:
        return []
    for zone in zones:
        if zone.name.count(":") != 1 or zone.resolve() in seen:
            continue
        try:
            name = (zone / "name").read_text().strip()
            if not name.startswith("package"):
                continue
            int((zone / "energy_uj").read_text())
            max_uj = int((zone / "max_energy_range_uj").read_text())
        except (OSError, ValueError):
            continue
        seen.add(zone.resolve())
        domains.append(RaplDomain(name, zone / "energy_uj", max_uj))
    return domains


class RaplCounter:
    """Energy (µJ) of the package zones since construction; call :meth:`poll` often enough
    that no counter wraps twice between two polls (minutes at full load)."""

    def __init__(self, domains: list[RaplDomain]) -> None:
        self.domains = domains
        self.total_uj = 0.0
        self._last = [self._read(d) for d in domains]

    @staticmethod
    def _read(domain: RaplDomain) -> int:
        return int(domain.energy_file.read_text())

    def poll(self) -> float:
        """Add each zone's increase since the last poll (handling one wrap); the total."""
        for i, domain in enumerate(self.domains):
            value = self._read(domain)
            last = self._last[i]
            delta = value - last if value >= last else domain.max_uj - last + value
            self.total_uj += delta
            self._last[i] = value
        return self.total_uj


# -- hardware -------------------------------------------------------------------------

#: W per core for a CPU not in the table: Green Algorithms' "Any" (TDP_cpu.csv, v2.2/v3.0).
GENERIC_CORE_POWER_W = 12.0
#: TDP per core (W) from Green Algorithms' TDP_cpu.csv (data v3.0): TDP / number of cores.
CORE_POWER_W: dict[str, float] = {
    "Xeon Gold 6142": 9.4,
    "Xeon Gold 6148": 7.5,
    "Xeon Gold 6248": 7.5,
    "Xeon Gold 6252": 6.3,
    "Xeon Platinum 8260": 6.9,
    "Xeon Platinum 8268": 8.5,
    "Xeon E5-2680 v3": 10.0,
    "Xeon E5-2690 v3": 11.3,
    "Xeon E5-2683 v4": 7.5,
    "Xeon E5-2695 v4": 6.7,
    "Xeon E5-2697 v4": 8.1,
    "Xeon E5-2699 v4": 6.6,
    "EPYC 7513": 6.3,
    "EPYC 7642": 4.7,
    "EPYC 7763": 4.4,
    "EPYC 7H12": 4.4,
    "Core i5-1145G7": 7.0,
    "Core i7-10700": 8.1,
    "Core i9-12900K": 7.8,
    "Ryzen 5 3600": 10.8,
    "Ryzen 7 3700X": 8.1,
    "Ryzen 9 3950X": 6.6,
    "Ryzen Threadripper 3990X": 4.4,
}


def cpu_model(cpuinfo: str | os.PathLike[str] = "/proc/cpuinfo") -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else what ``platform`` reports)."""
    try:
        text = Path(cpuinfo).read_text(errors="replace")
    except OSError:
        text = ""
    for key in ("model name", "Model", "Hardware", "cpu model"):  # x86, ARM boards, MIPS
        for line in text.splitlines():
            name, sep, value = line.partition(":")
            if sep and name.strip() == key and value.strip():
                return value.strip()
    return platform.processor() or platform.machine() or "unknown"


def _normalise(model: str) -> str:
    text = re.sub(r"\((r|tm)\)|\b(cpu|processor)\b", " ", model.lower())
    return " ".join(text.split())


def core_power(model: str) -> tuple[float, str]:
    """Power per core (W) for a CPU model, and where the figure comes from."""
    text = _normalise(model)
    for key, watts in CORE_POWER_W.items():
        if re.search(rf"(?<![a-z0-9]){re.escape(key.lower())}(?![a-z0-9])", text):
            return watts, (
                f"Green Algorithms CPU table (TDP_cpu.csv, data v3.0): {key}, TDP / cores "
                f"= {watts} W per core"
            )
    return GENERIC_CORE_POWER_W, (
        f"Green Algorithms generic default for a CPU not in its table ('Any', TDP_cpu.csv, "
        f"data v2.2/v3.0): {GENERIC_CORE_POWER_W} W per core; '{model}' is not in "
        "insightome's table"
    )


def cores_available() -> int:
    """Logical CPUs this process may run on (its affinity mask), else all of them."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1
