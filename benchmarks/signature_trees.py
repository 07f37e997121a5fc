"""Forests of 50 or 150 trees in the minimal-signature search: the two runs side by side.

``benchmarks/signatures.py`` was run twice on the same code (git commit 591a876, the class
rule of the time) with ``insightome.discover.signature.SIGNATURE_TREES`` set to 50 and to
150; their JSON files are kept as ``results/signature_trees_50.json`` and
``results/signature_trees_150.json``. This script only reads them and writes
``results/signature_trees.md``::

    python benchmarks/signature_trees.py
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
TREES = (50, 150)


def load(trees: int) -> dict:
    return json.loads((RESULTS / f"signature_trees_{trees}.json").read_text())


def render(runs: dict[int, dict]) -> str:
    rows = {t: runs[t]["rows"] for t in TREES}
    a, b = rows[50], rows[150]
    slower = sum(r["modelling_seconds"] for r in b) / sum(r["modelling_seconds"] for r in a) - 1
    lines = [
        "# Signature search: forests of 50 or 150 trees",
        "",
        "`benchmarks/signatures.py` on the same code (git commit 591a876) twice, "
        "`SIGNATURE_TREES` = 50 (run "
        f"{runs[50]['meta']['date']}) and 150 ({runs[150]['meta']['date']}), 2 cores; "
        "written by `python benchmarks/signature_trees.py` from the two runs' JSON files "
        "(`signature_trees_50.json`, `signature_trees_150.json`). The 150-tree run shared "
        "the machine with short test runs, which slowed its modelling by about "
        f"{slower:.0%} "
        "(the modelling stage does not depend on the setting), so compare discovery "
        "times with that in mind.",
        "",
        "| | 50 trees | 150 trees |",
        "|---|---|---|",
    ]

    def both(label: str, fn, fmt: str) -> None:  # type: ignore[no-untyped-def]
        lines.append(f"| {label} | {fn(a):{fmt}} | {fn(b):{fmt}} |")

    both(
        "mean hold-out AUC of the signature",
        lambda r: statistics.mean(x["holdout_auc_signature"] for x in r),
        ".3f",
    )
    both(
        "median hold-out AUC signature / full",
        lambda r: statistics.median(x["ratio"] for x in r),
        ".3f",
    )
    both(
        "mean BBC-CV estimate of the signature",
        lambda r: statistics.mean(x["signature_bbc"] for x in r),
        ".3f",
    )
    both(
        "discovery seconds, all 12 splits", lambda r: sum(x["discovery_seconds"] for x in r), ".0f"
    )
    both(
        "of which the signature search",
        lambda r: sum(x["discovery_steps"]["signature"] for x in r),
        ".0f",
    )
    both(
        "modelling seconds, all 12 splits", lambda r: sum(x["modelling_seconds"] for x in r), ".0f"
    )
    lines += [
        "",
        "| dataset | split | size 50 / 150 | hold-out signature AUC 50 / 150 "
        "| discovery s 50 / 150 |",
        "|---|---|---|---|---|",
    ]
    for x, y in zip(a, b, strict=True):
        lines.append(
            f"| {x['dataset']} | {x['split']} | {x['signature_size']} / {y['signature_size']} | "
            f"{x['holdout_auc_signature']:.3f} / {y['holdout_auc_signature']:.3f} | "
            f"{x['discovery_seconds']:.1f} / {y['discovery_seconds']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    out = RESULTS / "signature_trees.md"
    out.write_text(render({t: load(t) for t in TREES}))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
