"""Budgets prune work in the documented order and say what they skipped."""

from __future__ import annotations

import numpy as np
import pytest

from insightome.compute.budget import Budget, fit_to_budget
from insightome.errors import UserError

NAMES = ["cheap_a", "cheap_b", "costly", "medium"]
COST = np.array([0.1, 0.1, 2.0, 0.5])  # CPU seconds per fit


def plan(seconds: float, repeats: int = 3, permutations: int = 4):
    return fit_to_budget(
        COST,
        NAMES,
        folds=5,
        repeats=repeats,
        permutations=permutations,
        budget=Budget(seconds, f"{seconds}s"),
    )


@pytest.mark.parametrize(
    ("text", "seconds"), [("30min", 1800), ("2h", 7200), ("900s", 900), ("90 m", 5400)]
)
def test_parse_cpu_time(text, seconds):
    assert Budget.parse(text, core_power_w=10, pue=1.5).cpu_seconds == seconds


def test_energy_budget_converts_with_core_power_and_pue():
    # 0.01 kWh at 10 W per busy core and PUE 1.5 = 36,000 J / 15 W = 2,400 CPU seconds
    assert Budget.parse("0.01kWh", core_power_w=10, pue=1.5).cpu_seconds == pytest.approx(2400)
    assert Budget.parse("10Wh", core_power_w=10, pue=1.5).cpu_seconds == pytest.approx(2400)


@pytest.mark.parametrize("text", ["", "fast", "-5min", "0s", "3 parsecs"])
def test_bad_budget_is_a_user_error(text):
    with pytest.raises(UserError, match="--budget"):
        Budget.parse(text, core_power_w=10, pue=1.5)


def test_generous_budget_skips_nothing():
    full = 2.7 * 5 * 3 * 5
    p = plan(full + 1)
    assert p.keep == [0, 1, 2, 3] and p.repeats == 3 and p.permutations == 4 and not p.skipped


def test_permutations_go_first_then_repeats_then_costliest_candidates():
    p = plan(2.7 * 5 * 3 * 2)  # room for one permutation rerun at full size
    assert (p.permutations, p.repeats, p.keep) == (1, 3, [0, 1, 2, 3])
    p = plan(2.7 * 5 * 2)  # no permutations, two repeats
    assert (p.permutations, p.repeats, p.keep) == (0, 2, [0, 1, 2, 3])
    p = plan(0.7 * 5)  # one repeat; drop the 2.0 s candidate
    assert (p.repeats, p.keep) == (1, [0, 1, 3])
    assert p.skipped == [
        "permutations: 0 of 4 run",
        "CV repeats: 1 of 3 run",
        "candidate costly (2 CPU-s per fit)",
    ]


def test_never_fewer_than_two_candidates_and_says_when_over():
    p = plan(0.01)
    assert p.keep == [0, 1] and p.repeats == 1 and p.permutations == 0
    assert "still exceeds the budget" in p.skipped[-1]


def test_budget_in_a_real_run_is_reported():
    import insightome
    from tests.conftest import breast_cancer_adata

    adata = breast_cancer_adata()
    run = insightome.run(
        adata,
        target="diagnosis",
        out_dir=None,
        preset="fast",
        folds=3,
        repeats=3,
        n_bootstrap=200,
        budget="1s",
    )
    info = run.results["compute"]["budget"]
    assert info["repeats"] < 3 and info["skipped"]
    assert info["projected_discovery_cpu_seconds"] > 0 and info["projected_refit_cpu_seconds"] > 0
    assert info["projected_audit_cpu_seconds"] > 0 and info["pilot_after_selection_cpu_seconds"] > 0
    assert run.results["resampling"]["repeats"] == info["repeats"]
    assert len(run.results["configurations"]) >= 2
    assert any(w.startswith("compute budget 1s: skipped") for w in run.results["warnings"])


def test_work_after_the_selection_is_projected_and_leaves_room():
    from insightome.compute.budget import AfterSelection

    after = AfterSelection(
        1.25, folds=5, audit=True, discovery=True, stability_seconds=0.4,
        restricted_seconds=(0.01, 0.01, 0.3, 0.05), sizes=8, search_repeats=1,
        attribution_repeats=2, pilot_seconds=0.77,
    )  # fmt: skip
    refit, audit, discovery = after.seconds(COST, [0, 1, 2, 3], 3)
    assert refit == pytest.approx(2.0 * 1.25)  # the costliest candidate, on all samples
    assert audit == pytest.approx(2.0 * 5)  # the explanations refit it on 5 folds
    # 5 folds x (stability 0.4 + 8 sizes x 0.37), the ranking (2 x 0.4) and the signature's
    # model (0.3) on all samples, 5 folds x 2 repeats of attributions at 0.3
    search, whole, attributions = 5 * (0.4 + 8 * 0.37), 1.25 * (0.8 + 0.3), 10 * 0.3
    assert discovery == pytest.approx(search + whole + attributions)
    # one repeat left: half the attributions
    assert after.seconds(COST, [0, 1, 2, 3], 1)[2] == pytest.approx(search + whole + 5 * 0.3)
    full = 2.7 * 5 * 3 * 5
    p = fit_to_budget(
        COST, NAMES, folds=5, repeats=3, permutations=4, budget=Budget(full + 1, "x"),
        after=after,
    )  # fmt: skip
    # the CV alone fits; with the work after the selection it does not: a permutation goes
    assert p.permutations == 3
    assert p.projected_cpu_seconds == pytest.approx(2.7 * 5 * 3 * 4 + refit + audit + discovery)
    info = p.to_dict(Budget(full + 1, "x"), 1.0)
    assert info["projected_refit_cpu_seconds"] == refit
    assert info["projected_audit_cpu_seconds"] == audit
    assert info["projected_discovery_cpu_seconds"] == pytest.approx(discovery)
    assert info["pilot_after_selection_cpu_seconds"] == 0.77
    # without discovery and audit only the refit is added; nothing kept, nothing added
    assert AfterSelection(1.25, folds=5).seconds(COST, [0, 1], 3) == (
        pytest.approx(0.125), 0.0, 0.0,
    )  # fmt: skip
    assert after.seconds(COST, [], 3) == (0.0, 0.0, pytest.approx(5 * 0.4 + 1.25 * 0.8))
    no_sizes = AfterSelection(1.25, folds=5, discovery=True, stability_seconds=0.0, sizes=0)
    assert no_sizes.seconds(COST, [0, 1, 2, 3], 3)[2] == 0.0
