"""``insightome samplesize`` against the published worked examples and the reference R
packages' own test values: writes ``benchmarks/results/samplesize.md`` and ``.json``.

    .venv/bin/python benchmarks/samplesize_examples.py

Each row: the inputs, the published or reference sample sizes per criterion, insightome's,
and why they differ where they do (``docs/samplesize.md``). It takes a second; the same
inputs and values are asserted in ``tests/evaluate/test_samplesize.py``.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from insightome.evaluate import samplesize as ss

RESULTS = Path(__file__).resolve().parent / "results"

#: (source, calculation, inputs, reference sizes per criterion, why they may differ)
EXAMPLES: list[tuple[str, str, dict[str, Any], list[int | None], str]] = [
    (
        "Riley et al., BMJ 2020;368:m441 (binary)",
        "development_binary",
        {"parameters": 24, "prevalence": 0.174, "r2_cs": 0.288},
        [623, 662, 221],
        "",
    ),
    (
        "pmsampsize 1.1.3 test 4.1 (the same inputs)",
        "development_binary",
        {"parameters": 24, "prevalence": 0.174, "r2_cs": 0.288},
        [623, 668, 221],
        "pmsampsize rounds the maximum R² to 2 decimals and criterion 2's shrinkage to 3",
    ),
    (
        "Riley et al., BMJ 2020 (time-to-event)",
        "development_survival",
        {"parameters": 30, "rate": 0.065, "timepoint": 2, "mean_follow_up": 2.07,
         "r2_cs": 0.051},
        [5143, None, 5143],
        "(the paper gives n = 5,143 with 692 events; criterion 2 is not quoted here)",
    ),
    (
        "pmsampsize 1.1.3 test 3.1 (time-to-event)",
        "development_survival",
        {"parameters": 25, "rate": 0.065, "timepoint": 2, "mean_follow_up": 2.07,
         "r2_cs": 0.051},
        [4286, 875, 4286],
        "pmsampsize's roundings (as above)",
    ),
    (
        "pmsampsize 1.1.3 test 2.1 (continuous)",
        "development_continuous",
        {"parameters": 25, "r2_adj": 0.2, "mean": 1.9, "sd": 0.6},
        [918, 401, 259, 918],
        "",
    ),
    (
        "pmsampsize 1.1.3 test 2.7 (continuous)",
        "development_continuous",
        {"parameters": 30, "r2_adj": 0.89, "mean": 3.3, "sd": 1.1, "shrinkage": 0.84},
        [32, 67, 264, 264],
        "",
    ),
    (
        "pmvalsampsize test 4.1 (binary validation)",
        "validation_binary",
        {"prevalence": 0.018, "c_statistic": 0.8, "lp_mean": -5, "lp_sd": 2.5,
         "oe_ci_width": 1},
        [905, 4501, 4252],
        "O/E: pmvalsampsize steps the SE by 0.0001; slope: it simulates 1,000 values, "
        "integrated here",
    ),
]  # fmt: skip


def main() -> int:
    rows = []
    for source, name, inputs, reference, why in EXAMPLES:
        result = getattr(ss, name)(**inputs)
        ours = [c.n for c in result.criteria]
        rows.append(
            {
                "source": source,
                "calculation": name,
                "inputs": inputs,
                "reference": reference,
                "insightome": ours,
                "reference_n": max(r for r in reference if r is not None),
                "insightome_n": result.n,
                "equal": all(r is None or r == o for r, o in zip(reference, ours, strict=True)),
                "why_different": why,
            }
        )
    stamp = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "command": " ".join(sys.argv)}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "samplesize.json").write_text(json.dumps({**stamp, "rows": rows}, indent=1) + "\n")
    lines = [
        "# `insightome samplesize` against the worked examples",
        "",
        f"Made by `benchmarks/samplesize_examples.py` on {stamp['date']}; the same inputs "
        "and values are asserted in `tests/evaluate/test_samplesize.py`.",
        "",
        "| example | inputs | reference (per criterion → n) | insightome | equal | why not |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        inputs = ", ".join(f"{k} {v}" for k, v in r["inputs"].items())
        given = ", ".join("–" if v is None else str(v) for v in r["reference"])
        ref = f"{given} → **{r['reference_n']}**"
        ours = f"{', '.join(map(str, r['insightome']))} → **{r['insightome_n']}**"
        lines.append(
            f"| {r['source']} | {inputs} | {ref} | {ours} | {'yes' if r['equal'] else 'no'} "
            f"| {r['why_different'] or '–'} |"
        )
    (RESULTS / "samplesize.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
