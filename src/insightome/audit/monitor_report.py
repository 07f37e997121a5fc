"""The monitoring report: :class:`MonitorReport` (JSON-ready), its Markdown, and writing both.

:func:`write_monitor_report` writes ``monitor.json`` and ``monitor.md`` into a new
``<timestamp>-<data file stem>/`` directory, atomically. :mod:`insightome.monitoring`
builds the report.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from insightome import errors
from insightome.audit.drift import PSI_MAJOR, PSI_MODERATE, SMD_THRESHOLD, THRESHOLDS
from insightome.errors import UserError
from insightome.groups.disclosure import MIN_CELL, count_text
from insightome.io.atomic import run_directory_name
from insightome.io.json_values import json_ready


@dataclass
class MonitorReport:
    """One monitoring check of a batch of new data: aggregates only, JSON-ready."""

    run: dict[str, Any]
    data: dict[str, Any]
    drift: dict[str, Any]
    performance: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    training_overlap: dict[str, Any] | None = None  # check against the training rows
    min_cell: int = MIN_CELL
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    thresholds: dict[str, Any] = field(default_factory=lambda: dict(THRESHOLDS))

    def to_dict(self) -> dict[str, Any]:
        return json_ready(asdict(self))

    def to_markdown(self) -> str:
        return _markdown(self.to_dict())


def _f(v: Any, spec: str = ".3f") -> str:
    return "—" if v is None else format(v, spec)


def _row(*cells: Any) -> str:
    return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"


def _overlap_line(overlap: dict[str, Any] | None) -> str:
    if not overlap or not overlap["checked"]:
        reason = (overlap or {}).get("reason", "no check was made")
        return f"Overlap with the training data not checked: {reason}.\n"
    n, n_rows = overlap["n_overlap"], overlap["n_rows"]
    if not n:
        return "No row equals a training row (checked with keyed hashes).\n"
    forced = " (--allow-training-overlap given)" if overlap["forced"] else ""
    return f"**{n} of {n_rows} rows are identical to training rows{forced}.**\n"


def _markdown(r: dict[str, Any]) -> str:
    s, d, feats = r["drift"]["summary"], r["data"], r["drift"]["features"]
    source = "in-memory data" if d["sha256"] is None else f"`{d['name']}` (sha256 "
    source += "" if d["sha256"] is None else f"`{d['sha256'][:16]}…`)"
    lines = [
        "# Deployment monitoring\n",
        f"Run `{r['run']['path']}` (model sha256 `{str(r['run']['model_sha256'])[:16]}…`); "
        f"{source}, {d['n_samples']} samples; {r['created']}.\n",
        _overlap_line(r.get("training_overlap")),
        "## Feature drift\n",
        f"**{s['status']}.** Moderate shift (PSI {PSI_MODERATE}–{PSI_MAJOR}): "
        f"{len(s['moderate'])} feature(s); |SMD| > {SMD_THRESHOLD}: "
        f"{_f(s['share_smd_above'], '.0%')} of numeric features (SD of the SMD by chance "
        f"≈ {_f(s['chance_smd_sd'], '.2f')}); mean PSI {_f(s['mean_psi'])}.\n",
    ]
    shown = sorted((k for k in feats if feats[k]["flags"]), key=lambda k: -(feats[k]["psi"] or 0))
    if shown:
        lines += ["| feature | PSI | SMD | missing (dev → new) | flags |", "|---|---|---|---|---|"]
        for k in shown[:25]:
            v = feats[k]
            missing = f"{v['missing_reference']:.0%} → {v['missing_new']:.0%}"
            lines.append(
                _row(k, _f(v["psi"]), _f(v.get("smd"), "+.2f"), missing, ", ".join(v["flags"]))
            )
        lines.append(f"\n{len(shown) - 25} more in monitor.json.\n" if len(shown) > 25 else "")
    lines.append(
        f"Thresholds: PSI {PSI_MODERATE}/{PSI_MAJOR} (Siddiqi 2006), |SMD| {SMD_THRESHOLD} "
        "(Austin 2009): conventions, not significance tests."
    )
    p = r["performance"]
    if p is not None:
        dev = p["development_estimate"]
        lines += [
            "\n## Performance\n",
            f"Development (BBC-CV) {dev['metric']}: {_f(dev['value'])} "
            f"({_f(dev['ci95'][0])}–{_f(dev['ci95'][1])}). BBC-CV is conservative (its models "
            "saw fewer samples than the final one), so new data may well score above it.\n",
            "| group | n | new | 95% CI | difference | status |",
            "|---|---|---|---|---|---|",
        ]
        groups = [(f"{c} = {k}", g) for c, gs in p["groups"].items() for k, g in gs.items()]
        for name, g in [("all", p), *groups]:
            ci = "—" if not g.get("ci95") else f"{_f(g['ci95'][0])}–{_f(g['ci95'][1])}"
            n = count_text(g, "n", r["min_cell"]) if g["n"] is None else g["n"]
            diff = _f(g.get("difference"), "+.3f")
            lines.append(_row(name, n, _f(g.get("value")), ci, diff, g["status"]))
    if r["notes"]:
        lines += ["\n## Notes\n", *(f"- {n}" for n in r["notes"])]
    return "\n".join(lines) + "\n"


def write_monitor_report(report: MonitorReport, out_dir: str | Path | None = None) -> Path:
    """Write ``monitor.json`` + ``monitor.md`` atomically; return their directory.

    The directory ``<timestamp>-<data file stem>/`` is made under ``out_dir`` (default
    ``<run>/monitoring/``): written in a temporary directory beside it, then renamed.
    """
    if out_dir is None and not report.run.get("path"):
        reason = "the run was not loaded from a directory; say where to write the report"
        raise UserError(errors.OPTION_INVALID, option="out_dir", reason=reason)
    parent = Path(out_dir) if out_dir is not None else Path(report.run["path"]) / "monitoring"
    parent.mkdir(parents=True, exist_ok=True)
    base = run_directory_name(str(report.data["name"]))
    final, suffix = parent / base, 1
    while final.exists():
        suffix += 1
        final = parent / f"{base}-{suffix}"
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=parent))
    try:
        (tmp / "monitor.json").write_text(json.dumps(report.to_dict(), indent=2))
        (tmp / "monitor.md").write_text(report.to_markdown(), encoding="utf-8")
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final
