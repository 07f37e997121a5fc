"""The report's "Compute cost" section: both method labels, the table, sources, absence."""

from __future__ import annotations

import copy
import os
import re
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from insightome.compute import EnergyLedger
from insightome.report import render_html
from insightome.report.compute_section import CAR_G_PER_KM
from insightome.report.formatting import fmt_sig

Run = tuple[dict[str, Any], pd.DataFrame]
SECTION = re.compile(r'<section id="compute">(.*?)</section>', re.S)


def _busy(seconds: float) -> None:
    start = time.process_time()
    while time.process_time() - start < seconds:
        pass


def _with_compute(run: Run, compute: dict[str, Any]) -> tuple[dict[str, Any], str]:
    results, predictions = run
    results = copy.deepcopy(results)
    results["compute"] = compute
    html = render_html(results, predictions)
    match = SECTION.search(html)
    assert match, "no Compute cost section"
    return results, match.group(1)


def _ledger(powercap: Path, **kwargs: float) -> EnergyLedger:
    ledger = EnergyLedger(
        sample_interval=0.05, max_sample_interval=0.05, powercap_root=powercap, **kwargs
    )
    for name in ("load", "resampling", "final_fit"):
        with ledger.stage(name):
            _busy(0.05)
    return ledger


def test_estimated_section(tmp_path: Path, binary_run: Run) -> None:
    compute = {
        "backend": {"backend": "joblib loky (local processes)", "n_jobs": 2},
        **_ledger(tmp_path).to_dict(),
    }
    _, section = _with_compute(binary_run, compute)
    assert (
        '<h2>Compute cost <span class="tag tag-estimated">estimated (Green Algorithms)</span></h2>'
    ) in section
    assert "tag-measured" not in section and "Estimated, not measured" in section
    rows = re.findall(
        r"<tr(?: class=\"total\")?><td>([^<]+)</td>((?:<td class=\"num\">"
        r"[^<]*</td>){5})</tr>",
        section,
    )
    assert [name for name, _ in rows] == ["load", "resampling", "final_fit", "Total"]
    total = compute["total"]
    cells = re.findall(r'<td class="num">([^<]*)</td>', rows[-1][1])
    assert cells[3] == fmt_sig(total["energy_kwh"] * 1000)  # Wh
    assert cells[4] == fmt_sig(total["carbon_g"])
    assert float(cells[1]) >= 0.1  # three busy stages of 0.05 s CPU each
    # constants with their sources, the formula and the reference
    for text in (
        "Power per core",
        "Green Algorithms generic default",
        "0.3725 W",
        "1.67",
        "475.0 g CO2e/kWh",
        "IEA Global Energy &amp; CO2 Status Report 2019",
        "cpu_s * core_power_w",
        "doi:10.1002/advs.202100707",
    ):
        assert text in section
    # the everyday comparison states its factor and source
    cm = total["carbon_g"] / CAR_G_PER_KM * 1e5
    assert f"driving {fmt_sig(cm)} cm in an average European passenger car, 175 g CO2e/km" in (
        section
    )
    assert "remote workers" not in section  # local backend: nothing escapes the ledger


def _fake_rapl(root: Path) -> Path:
    zone = root / "intel-rapl:0"
    zone.mkdir()
    (zone / "name").write_text("package-0\n")
    (zone / "max_energy_range_uj").write_text("262143328850\n")
    (zone / "energy_uj").write_text("1000\n")
    return zone / "energy_uj"


def test_measured_section(tmp_path: Path, binary_run: Run) -> None:
    counter = _fake_rapl(tmp_path)
    ledger = EnergyLedger(
        sample_interval=10, pue=1.0, carbon_intensity=200.0, powercap_root=tmp_path
    )
    with ledger.stage("resampling"):
        tmp = counter.with_name("energy_uj.tmp")
        tmp.write_text(str(1000 + 36_000_000))  # 36 J = 0.01 Wh
        os.replace(tmp, counter)
    compute = {
        "backend": {"backend": "dask.distributed", "scheduler": "tcp://h:8786"},
        **ledger.to_dict(),
    }
    _, section = _with_compute(binary_run, compute)
    assert '<span class="tag tag-measured">measured (RAPL)</span>' in section
    assert "tag-estimated" not in section and "Estimated, not measured" not in section
    assert "whole CPU package" in section and "not this run alone" in section
    assert "RAPL package-0" in section
    assert "Power per core" not in section  # the estimate's constants are not shown
    assert "<td>resampling</td>" in section
    assert '<td class="num">0.0100</td><td class="num">0.00200</td></tr>' in section  # Wh, g
    assert "200.0 g CO2e/kWh — given by the user" in section
    assert "energy of remote workers is not included" in section  # dask backend


def test_no_section_without_a_ledger(binary_run: Run) -> None:
    results, predictions = binary_run
    assert "Compute cost" not in render_html(results, predictions)
    backend_only = {**results, "compute": {"backend": {"backend": "joblib loky", "n_jobs": 1}}}
    assert "Compute cost" not in render_html(backend_only, predictions)


def test_partial_compute_renders_dashes(binary_run: Run) -> None:
    compute = {
        "method": "estimated (Green Algorithms)",
        "stages": {"load": {"wall_s": None, "cpu_s": float("nan")}},
    }
    _, section = _with_compute(binary_run, compute)
    assert "tag-estimated" in section
    assert re.search(r"<td>load</td>(<td class=\"num\">–</td>){5}</tr>", section)
    assert not re.search(r"\b(nan|NaN|None)\b", section)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.0000123456, "0.0000123"),
        (1234.6, "1,235"),
        (0.9995, "1.00"),
        (0.00557, "0.00557"),
        (0, "0"),
        (None, "–"),
        (float("nan"), "–"),
        (2.5e-15, "2.50e-15"),
    ],
)
def test_fmt_sig(value: object, text: str) -> None:
    assert fmt_sig(value) == text
