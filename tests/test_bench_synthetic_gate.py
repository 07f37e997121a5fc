"""The privacy-gate calibration (benchmarks/synthetic_gate.py): its design on real data,
and the shipped summary — the .md is exactly what the .json renders, the .json's summary
is exactly what its runs give, every copy of the training rows was refused, and the
defaults the study chose are the package's defaults."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from insightome.synthesis import SequentialCART
from insightome.synthetic.cohort import DEFAULT_HOLDOUT
from insightome.synthetic.privacy import PrivacyThresholds

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import synthetic_gate  # noqa: E402
from tests.conftest import shared_data  # noqa: E402

RESULTS = BENCH / "results" / "synthetic_gate.json"


@pytest.fixture(scope="module")
def shipped() -> dict:
    return json.loads(RESULTS.read_text())


def test_the_markdown_is_what_the_json_renders(shipped):
    assert synthetic_gate.summarize(shipped["runs"]) == shipped["summary"]
    markdown = RESULTS.with_suffix(".md").read_text()
    assert markdown == synthetic_gate.render(shipped["meta"], shipped["summary"])


def test_the_study_is_complete_and_every_copy_was_refused(shipped):
    runs, seeds = shipped["runs"], shipped["meta"]["seeds"]
    keys = {synthetic_gate.run_key(r) for r in runs}
    assert len(keys) == len(runs)  # no run counted twice
    planned = {
        (name, h, seed, g)
        for name, h, seed in synthetic_gate.plan(seeds)
        for g in synthetic_gate.GENERATORS
    }
    assert keys == planned
    copies = [r for r in runs if r["generator"] == "copy"]
    assert copies and not any(r["gate"] for r in copies)
    assert all(set(r["verdicts"].values()) == {"fail"} for r in copies)
    for cell in shipped["summary"]["cells"]:
        assert cell["runs"] == seeds
        if cell["generator"] == "copy":
            assert cell["gate"] == {"one-sided": 0.0, "point": 0.0}


def test_the_package_defaults_are_the_ones_the_study_chose(shipped):
    cells = {(c["cohort"], c["holdout"], c["generator"]): c for c in shipped["summary"]["cells"]}
    assert DEFAULT_HOLDOUT == 0.5 and SequentialCART().smoothing == "density"
    assert PrivacyThresholds().dcr_rule == "one-sided"
    for cohort in ("heart_failure", "actg175_300"):
        ideal = {h: cells[(cohort, h, "ideal")] for h in synthetic_gate.HOLDOUTS}
        # at n ~ 300 the larger hold-out lets real unseen patients through more often
        assert ideal[0.5]["gate"]["one-sided"] > ideal[0.3]["gate"]["one-sided"]
        # the rule read on the sample refuses more of them than the one-sided test
        for h in synthetic_gate.HOLDOUTS:
            assert ideal[h]["gate"]["point"] <= ideal[h]["gate"]["one-sided"]
        # smoothing: unsmoothed CART copies real values, univariate singling-out catches it
        for h in synthetic_gate.HOLDOUTS:
            plain = cells[(cohort, h, "cart")]["checks"]["SO-uni"]["pass"]
            smoothed = cells[(cohort, h, "cart+density")]["checks"]["SO-uni"]["pass"]
            assert smoothed > plain


def test_gate_under_each_distance_rule():
    row = {"gate": True, "dcr": {"rule": "one-sided", "point_rule_met": False}}
    assert synthetic_gate.gate_under(row, "one-sided")
    assert not synthetic_gate.gate_under(row, "point")
    assert synthetic_gate.gate_under(row | {"dcr": row["dcr"] | {"point_rule_met": True}}, "point")
    assert not synthetic_gate.gate_under(row | {"gate": False}, "one-sided")
    with pytest.raises(ValueError, match="one-sided"):
        synthetic_gate.gate_under(row | {"dcr": {"rule": "point"}}, "point")


@pytest.mark.parametrize("holdout", synthetic_gate.HOLDOUTS)
def test_the_ideal_table_is_real_patients_the_generator_never_saw(holdout):
    """Heart failure (reserved part) and the 300-patient ACTG 175 cohort (the others):
    ideal, training and hold-out rows disjoint, the ideal table as large as the hold-out,
    the hold-out the asked share of the cohort, both outcomes in each part."""
    shared_data("cohorts", "heart_failure", "heart_failure_clinical_records_dataset.csv")
    for name in ("heart_failure", "actg175_300"):
        frame, y, min_cell = synthetic_gate.cohort(name.removesuffix("_300"))
        design = synthetic_gate.designs(name, holdout, 3, frame, y, min_cell)
        rows = design["rows"]
        parts = [rows["train"], rows["holdout"], rows["ideal"]]
        assert sum(map(len, parts)) == len(np.unique(np.concatenate(parts)))  # disjoint
        assert len(rows["ideal"]) == len(rows["holdout"]) == len(design["holdout"])
        cohort_rows = len(rows["train"]) + len(rows["holdout"])
        assert design["n"] == cohort_rows
        assert len(rows["holdout"]) / cohort_rows == pytest.approx(holdout, abs=0.01)
        if name == "actg175_300":
            assert cohort_rows == 300
        for part in parts:
            assert set(y[part]) == set(y)
        assert list(design["ideal"].columns) == list(design["train"].columns)
