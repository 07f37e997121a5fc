"""EnergyLedger: CPU of the process tree, peak memory, the Green Algorithms formula, RAPL."""

from __future__ import annotations

import json
import math
import mmap
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from insightome.compute import METHOD_ESTIMATED, METHOD_MEASURED, EnergyLedger, probes
from insightome.compute.ledger import (
    DEFAULT_CARBON_INTENSITY,
    DEFAULT_PUE,
    GENERIC_CORE_POWER_W,
    MEMORY_POWER_W_PER_GB,
    core_power,
)

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def burn(seconds: float) -> float:
    """Spin until this process has used ``seconds`` of CPU; the CPU time actually used."""
    start = time.process_time()
    while time.process_time() - start < seconds:
        pass
    return time.process_time() - start


def _estimated(tmp_path: Path, **kwargs: float) -> EnergyLedger:
    """A ledger that cannot see RAPL (an empty powercap directory): estimated everywhere."""
    return EnergyLedger(
        sample_interval=0.05, max_sample_interval=0.05, powercap_root=tmp_path, **kwargs
    )


def _expected_kwh(stage: dict[str, float], constants: dict[str, float]) -> float:
    """Green Algorithms by hand: (CPU s x W/core + wall s x GB x W/GB) x PUE, in kWh."""
    joules = (
        stage["cpu_s"] * constants["core_power_w"]
        + stage["wall_s"] * stage["peak_memory_mb"] / 1024 * constants["memory_power_w_per_gb"]
    )
    return joules * constants["pue"] / 3.6e6


def test_busy_stage_is_counted_and_labelled_estimated(tmp_path: Path) -> None:
    ledger = _estimated(tmp_path)
    with ledger.stage("busy"):
        burn(0.3)
    out = ledger.to_dict()
    busy = out["stages"]["busy"]
    assert out["method"] == METHOD_ESTIMATED == "estimated (Green Algorithms)"
    assert 0.2 <= busy["cpu_s"] <= busy["wall_s"] * out["n_cores_available"] + 0.05
    assert busy["energy_kwh"] > 0 and busy["carbon_g"] > 0
    assert out["constants"]["pue"] == DEFAULT_PUE == 1.67
    assert out["constants"]["carbon_intensity_g_per_kwh"] == DEFAULT_CARBON_INTENSITY == 475
    assert out["constants"]["memory_power_w_per_gb"] == MEMORY_POWER_W_PER_GB == 0.3725
    assert "Lannelongue" in out["constants"]["reference"]
    assert out["cpu_model"] and out["n_cores_available"] >= 1
    assert ledger.total_cpu_seconds == pytest.approx(busy["cpu_s"])
    assert ledger.total_kwh == pytest.approx(busy["energy_kwh"])
    json.dumps(out, allow_nan=False)  # JSON-ready, no NaN


def _burn_in_child(seconds: float) -> None:
    burn(seconds)


@linux_only
def test_cpu_of_a_child_process_is_counted(tmp_path: Path) -> None:
    ledger = _estimated(tmp_path)
    with ledger.stage("child"):
        child = multiprocessing.get_context("fork").Process(target=_burn_in_child, args=(0.4,))
        child.start()
        child.join()  # reaped inside the stage: counted through RUSAGE_CHILDREN
    assert child.exitcode == 0
    assert ledger.to_dict()["stages"]["child"]["cpu_s"] >= 0.8 * 0.4


@linux_only
def test_cpu_of_a_persistent_loky_worker_is_counted(tmp_path: Path) -> None:
    from joblib.externals.loky import get_reusable_executor

    def work() -> float:  # defined here so loky pickles it by value
        import time

        start = time.process_time()
        while time.process_time() - start < 0.4:
            pass
        return time.process_time() - start

    executor = get_reusable_executor(max_workers=1, timeout=60)
    executor.submit(time.sleep, 0.01).result()  # the worker exists before the stage...
    ledger = _estimated(tmp_path)
    with ledger.stage("workers"):
        used = executor.submit(work).result()
    # ...and outlives it: RUSAGE_CHILDREN never sees it, the /proc tree does
    assert ledger.to_dict()["stages"]["workers"]["cpu_s"] >= 0.8 * used
    executor.shutdown(wait=True)


@linux_only
def test_peak_memory_of_an_allocation_inside_a_stage(tmp_path: Path) -> None:
    ledger = _estimated(tmp_path)
    with ledger.stage("baseline"):
        time.sleep(0.1)
    with ledger.stage("allocate"):
        block = np.ones(200 * 2**20 // 8)  # 200 MiB, every page touched
        time.sleep(0.25)  # several samples while it is held...
        del block  # ...and freed before the stage ends: only the sampler saw the peak
    stages = ledger.to_dict()["stages"]
    assert stages["allocate"]["peak_rss_mb"] - stages["baseline"]["peak_rss_mb"] >= 150


@linux_only
def test_memory_shared_with_a_worker_counts_once(tmp_path: Path) -> None:
    """PSS counts a page mapped by two processes once; summed RSS counts it twice."""
    if probes._pss(os.getpid()) is None:
        pytest.skip("no /proc/<pid>/smaps_rollup on this kernel")
    size = 200 * 2**20
    path = tmp_path / "shared.bin"
    path.write_bytes(b"\1" * size)
    child_code = (
        "import mmap, sys, time\n"
        f"f = open({str(path)!r}, 'rb'); m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)\n"
        "sum(m[i] for i in range(0, len(m), 4096)); print('ready', flush=True); time.sleep(30)"
    )
    ledger = _estimated(tmp_path)
    with ledger.stage("baseline"):
        time.sleep(0.2)
    with ledger.stage("shared"):
        child = subprocess.Popen([sys.executable, "-c", child_code], stdout=subprocess.PIPE)
        try:
            assert child.stdout is not None and child.stdout.readline().startswith(b"ready")
            with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
                sum(m[i] for i in range(0, len(m), 4096))  # touch every page here too
                time.sleep(0.4)  # several samples while both processes map it
        finally:
            child.kill()
            child.wait()
    stages = ledger.to_dict()["stages"]
    assert stages["shared"]["memory_measure"] == "PSS"
    extra_rss = stages["shared"]["peak_rss_mb"] - stages["baseline"]["peak_rss_mb"]
    extra_pss = stages["shared"]["peak_memory_mb"] - stages["baseline"]["peak_memory_mb"]
    assert extra_rss >= 380  # 200 MiB in each of the two processes
    # 200 MiB once, plus the child interpreter; counted twice it would be 400 or more. The
    # bound leaves room for the test worker's other children (idle joblib workers of earlier
    # tests, in the same process tree) growing a little while the stage runs: a full-suite
    # run once measured 303.
    assert 180 <= extra_pss <= 340


def test_repeated_stage_names_accumulate(tmp_path: Path) -> None:
    ledger = _estimated(tmp_path)
    with ledger.stage("fit"):
        burn(0.15)
    first = ledger.to_dict()["stages"]["fit"]
    with ledger.stage("other"):
        pass
    with ledger.stage("fit"):
        burn(0.15)
    out = ledger.to_dict()
    both = out["stages"]["fit"]
    assert list(out["stages"]) == ["fit", "other"]
    assert both["wall_s"] > first["wall_s"] + 0.1
    assert both["cpu_s"] >= first["cpu_s"] + 0.1
    assert both["energy_kwh"] > first["energy_kwh"]
    assert both["peak_rss_mb"] >= first["peak_rss_mb"]
    other = out["stages"]["other"]
    assert out["total"]["wall_s"] == pytest.approx(both["wall_s"] + other["wall_s"])


def test_formula_matches_a_hand_computation(tmp_path: Path) -> None:
    ledger = _estimated(tmp_path, pue=1.2, carbon_intensity=100.0, core_power_w=5.0)
    with ledger.stage("work"):
        burn(0.2)
        time.sleep(0.1)
    out = ledger.to_dict()
    constants, work = out["constants"], out["stages"]["work"]
    assert (
        constants["pue"],
        constants["carbon_intensity_g_per_kwh"],
        constants["core_power_w"],
    ) == (1.2, 100.0, 5.0)
    assert (
        constants["core_power_source"]
        == constants["carbon_intensity_source"]
        == ("given by the user")
    )
    assert work["energy_kwh"] == pytest.approx(_expected_kwh(work, constants), rel=1e-12)
    assert work["carbon_g"] == pytest.approx(work["energy_kwh"] * 100.0, rel=1e-12)
    total = out["total"]
    assert total["carbon_g"] == pytest.approx(total["energy_kwh"] * 100.0, rel=1e-12)
    assert total["energy_kwh"] == pytest.approx(work["energy_kwh"])
    # in joules: the CPU term (>= 0.2 s x 5 W x 1.2) plus a positive memory term
    cpu_joules = work["cpu_s"] * 5.0 * 1.2
    assert cpu_joules >= 0.2 * 5.0 * 1.2 * 0.95
    assert work["energy_kwh"] * 3.6e6 - cpu_joules == pytest.approx(
        work["wall_s"] * work["peak_memory_mb"] / 1024 * 0.3725 * 1.2, rel=1e-9
    )


def test_default_carbon_is_energy_times_intensity(tmp_path: Path) -> None:
    ledger = _estimated(tmp_path)
    with ledger.stage("a"):
        burn(0.05)
    with ledger.stage("b"):
        time.sleep(0.05)
    out = ledger.to_dict()
    for record in [*out["stages"].values(), out["total"]]:
        assert record["carbon_g"] == pytest.approx(record["energy_kwh"] * 475.0, rel=1e-12)
    for stage in out["stages"].values():
        assert stage["energy_kwh"] == pytest.approx(_expected_kwh(stage, out["constants"]))


# -- RAPL -----------------------------------------------------------------------------


def _write(path: Path, value: int | str) -> None:
    """Replace a counter file atomically, as the sampler thread may read it any time."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(f"{value}\n")
    os.replace(tmp, path)


def _zone(root: Path, zone: str, name: str, energy: int | None, max_uj: int) -> Path:
    directory = root / zone
    directory.mkdir()
    _write(directory / "name", name)
    _write(directory / "max_energy_range_uj", max_uj)
    if energy is not None:
        _write(directory / "energy_uj", energy)
    return directory / "energy_uj"


def test_rapl_is_measured_with_wraparound(tmp_path: Path) -> None:
    big = 10_000_000
    pkg0 = _zone(tmp_path, "intel-rapl:0", "package-0", 1_000_000, big)
    core = _zone(tmp_path, "intel-rapl:0:0", "core", 0, big)  # part of package-0: ignored
    pkg1 = _zone(tmp_path, "intel-rapl:1", "package-1", 9_000_000, big)
    psys = _zone(tmp_path, "intel-rapl:2", "psys", 0, big)  # whole platform: ignored
    ledger = EnergyLedger(pue=1.0, sample_interval=0.02, powercap_root=tmp_path)
    with ledger.stage("quiet"):
        time.sleep(0.05)
    with ledger.stage("work"):
        for p0, p1 in [(2_000_000, 9_500_000), (4_600_000, 600_000), (4_600_000, 2_600_000)]:
            _write(pkg0, p0)
            _write(pkg1, p1)  # 9.5e6 -> 0.6e6: the counter wrapped at 1e7
            _write(core, p0)
            _write(psys, p1)
            time.sleep(0.06)  # the sampler polls in between
    out = ledger.to_dict()
    assert out["method"] == METHOD_MEASURED == "measured (RAPL)"
    assert out["constants"]["rapl_domains"] == ["package-0", "package-1"]
    assert "RAPL" in out["constants"]["formula"] and "whole CPU package" in out["scope"]
    # package-0: 3.6e6 uJ; package-1: 0.5e6 + (1e7 - 9.5e6 + 0.6e6) + 2.0e6 = 3.6e6 uJ
    assert out["stages"]["work"]["energy_kwh"] == pytest.approx(7.2 / 3.6e6, rel=1e-12)
    assert out["stages"]["quiet"]["energy_kwh"] == 0.0
    assert out["stages"]["work"]["carbon_g"] == pytest.approx(7.2 / 3.6e6 * 475.0)
    assert out["stages"]["work"]["wall_s"] > 0.15  # the tree is still measured alongside
    # PUE scales measured energy too
    assert out["total"]["energy_kwh"] == pytest.approx(2e-6)
    facility = EnergyLedger(pue=1.5, sample_interval=10, powercap_root=tmp_path)
    with facility.stage("work"):
        _write(pkg0, 4_600_000 + 3_600_000)
    assert facility.total_kwh == pytest.approx(1.5 * 3.6 / 3.6e6)


def test_without_readable_package_zones_it_is_estimated(tmp_path: Path) -> None:
    _zone(tmp_path, "intel-rapl:0:0", "core", 5, 100)
    _zone(tmp_path, "intel-rapl:1", "psys", 5, 100)
    _zone(tmp_path, "intel-rapl:2", "package-0", None, 100)  # energy_uj not readable
    ledger = EnergyLedger(powercap_root=tmp_path)
    with ledger.stage("s"):
        pass
    out = ledger.to_dict()
    assert out["method"] == METHOD_ESTIMATED
    assert "rapl_domains" not in out["constants"]
    assert "RAPL" not in out["constants"]["formula"]


def test_rapl_that_fails_mid_run_falls_back_to_estimated(tmp_path: Path) -> None:
    pkg = _zone(tmp_path, "intel-rapl:0", "package-0", 0, 100)
    ledger = EnergyLedger(sample_interval=10, powercap_root=tmp_path)
    with ledger.stage("one"):
        _write(pkg, 50)
    assert ledger.method == METHOD_MEASURED
    with ledger.stage("two"):
        pkg.unlink()
    out = ledger.to_dict()
    assert out["method"] == METHOD_ESTIMATED  # never a mix, never "measured" for a guess
    assert out["stages"]["one"]["energy_kwh"] == pytest.approx(
        _expected_kwh(out["stages"]["one"], out["constants"])
    )


# -- constants, misuse ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "watts"),
    [
        ("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz", 7.5),
        ("Intel(R) Xeon(R) CPU E5-2683 v4 @ 2.10GHz", 7.5),
        ("AMD EPYC 7763 64-Core Processor", 4.4),
        ("AMD Ryzen 5 3600 6-Core Processor", 10.8),
        ("Intel(R) Xeon(R) Gold 6248R CPU @ 3.00GHz", GENERIC_CORE_POWER_W),  # a different CPU
        ("AMD Ryzen 5 3600X 6-Core Processor", GENERIC_CORE_POWER_W),
        ("Intel(R) Xeon(R) Processor", GENERIC_CORE_POWER_W),
    ],
)
def test_core_power_table(model: str, watts: float) -> None:
    value, source = core_power(model)
    assert value == watts
    assert "Green Algorithms" in source
    assert ("generic default" in source) == (watts == GENERIC_CORE_POWER_W)


def test_stages_do_not_nest_and_failures_are_still_recorded(tmp_path: Path) -> None:
    ledger = _estimated(tmp_path)
    with (
        pytest.raises(RuntimeError, match="cannot nest"),
        ledger.stage("outer"),
        ledger.stage("inner"),
    ):
        pass
    with pytest.raises(ZeroDivisionError), ledger.stage("fails"):
        _ = 1 / 0
    with ledger.stage("after"):
        pass
    assert list(ledger.to_dict()["stages"]) == ["outer", "fails", "after"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"pue": 0.9},
        {"carbon_intensity": -1.0},
        {"sample_interval": 0.0},
        {"pue": math.nan},
        {"core_power_w": 0.0},
    ],
)
def test_invalid_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        EnergyLedger(**kwargs)


def test_without_proc_or_psutil_only_this_process_is_seen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from insightome.compute import probes

    monkeypatch.setattr(probes, "_USE_PROC", False)
    monkeypatch.setitem(sys.modules, "psutil", None)  # import psutil -> ImportError
    ledger = _estimated(tmp_path)
    with ledger.stage("alone"):
        burn(0.1)
    alone = ledger.to_dict()["stages"]["alone"]
    assert alone["cpu_s"] >= 0.08
    assert alone["peak_rss_mb"] > 10  # this process's peak RSS (ru_maxrss)
    assert alone["energy_kwh"] > 0


def test_the_memory_sampler_backs_off_within_a_stage(tmp_path: Path) -> None:
    """The sampler's waits grow 1.5x from sample_interval to max_sample_interval, so a long
    stage is not sampled (a scan of /proc) every 0.25 s; each wait is a real sample."""
    from insightome.compute.ledger import SAMPLE_BACKOFF, _Recorder

    recorder = _Recorder(0.1, [], max_interval=0.5)
    recorder.finish()  # its own thread is done: _run is driven below

    class Waits:
        def __init__(self) -> None:
            self.seen: list[float] = []

        def wait(self, timeout: float) -> bool:
            self.seen.append(timeout)
            return len(self.seen) > 8  # stop after 8 samples

    waits, sampled = Waits(), []
    recorder._stop = waits  # type: ignore[assignment]
    recorder._sample = lambda: sampled.append(1)  # type: ignore[method-assign]
    recorder._run()
    assert SAMPLE_BACKOFF == 1.5
    assert waits.seen[:5] == pytest.approx([0.1, 0.15, 0.225, 0.3375, 0.5])
    assert waits.seen[5:] == [0.5] * 4 and len(sampled) == 8
    ledger = EnergyLedger(sample_interval=0.25, powercap_root=tmp_path)
    with ledger.stage("s"):
        pass
    constants = ledger.to_dict()["constants"]
    assert (constants["sample_interval_s"], constants["max_sample_interval_s"]) == (0.25, 2.0)
    with pytest.raises(ValueError, match="max_sample_interval"):
        EnergyLedger(max_sample_interval=0.0)
