"""``--augment`` on a run: the comparison of the best real-only and the best augmented
candidate in results.json (schema-valid), the report and the console, on the UCI
heart-failure cohort; a run without it is the run it was; an outcome it cannot judge is
refused with one line."""

from __future__ import annotations

import json

import pytest

import insightome
from insightome.errors import UserError
from insightome.models.candidates import candidates
from insightome.results import validate_results
from tests.cli.conftest import FAST, invoke, run_dirs
from tests.conftest import breast_cancer_adata, shared_data

API_FAST = {"preset": "fast", "folds": 3, "repeats": 1, "n_bootstrap": 200, "seed": 0}


def test_a_run_with_augment_cart_writes_the_comparison(tmp_path):
    data = shared_data("cohorts", "heart_failure", "heart_failure_clinical_records_dataset.csv")
    runs = tmp_path / "runs"
    printed = invoke(
        "run", data, "--target", "DEATH_EVENT", "--exclude", "time", "--augment", "cart",
        *[a for a in FAST if a != "--quiet"], "--no-audit", "--out", runs,
    )  # fmt: skip
    (run_dir,) = run_dirs(runs)
    results = json.loads((run_dir / "results.json").read_text())
    validate_results(results)
    aug = results["augmentation"]
    assert aug["method"] == "cart" and aug["ratio"] == 1.0 and aug["compared"]
    assert [m["metric"] for m in aug["metrics"]] == ["auc", "brier", "calibration_slope"]
    names = [c["name"] for c in results["configurations"]]
    twins = [n for n in names if n.endswith("+synthetic(cart,ratio=1)")]
    assert len(set(names)) == len(names) == 2 * len(twins) == 12
    assert aug["real_only"]["name"] in set(names) - set(twins)
    assert aug["augmented"]["name"] in twins
    assert aug["winner"] == results["winner"]["name"]
    assert aug["winner_augmented"] == (results["winner"]["name"] in twins)
    for m in aug["metrics"]:
        lo, hi = m["difference_ci95"]
        assert lo <= hi and m["finding"] in ("better", "worse", "no evidence")
    if all(m["finding"] == "no evidence" for m in aug["metrics"]):
        assert aug["verdict"].startswith("no evidence augmentation helps here")
    assert results["invocation"]["augment"] == "cart"
    html = (run_dir / "report.html").read_text()
    assert 'id="augmentation"' in html and aug["real_only"]["name"] in html
    assert "Augmentation (cart, 1 synthetic row(s) per real row):" in printed
    assert aug["verdict"][:40] in " ".join(printed.split())


@pytest.fixture(scope="module")
def breast():
    return breast_cancer_adata(n_rows=120, n_cols=8)


def test_a_run_without_augment_is_unchanged(breast):
    """No twins, no comparison; and the twins of an augmented run leave the real-only
    candidates' cross-validated scores exactly as a run without them has them."""
    plain = insightome.run(breast, "diagnosis", out_dir=None, discover=False, audit=False,
                           **API_FAST)  # fmt: skip
    names = [c["name"] for c in plain.results["configurations"]]
    assert names == [c.name for c in candidates("binary", 8, "fast")]
    assert "augmentation" not in plain.results
    assert plain.results["invocation"]["augment"] == "off"
    augmented = insightome.run(breast, "diagnosis", out_dir=None, discover=False, audit=False,
                               augment="copula", augment_ratio=0.5, **API_FAST)  # fmt: skip
    scores = {c["name"]: c["cv_value"] for c in augmented.results["configurations"]}
    assert {c["name"]: c["cv_value"] for c in plain.results["configurations"]} == {
        n: scores[n] for n in names
    }
    assert sum(n.endswith("+synthetic(copula,ratio=0.5)") for n in scores) == len(names)
    validate_results(augmented.results)
    assert augmented.results["augmentation"]["method"] == "copula"


def test_augment_on_an_outcome_it_cannot_judge_is_refused(breast):
    data = breast.copy()
    data.obs["size"] = data.X[:, 0]
    with pytest.raises(UserError) as refused:
        insightome.run(data, "size", out_dir=None, augment="cart", **API_FAST)
    message = str(refused.value)
    assert message.startswith("--augment: 'size' is a regression outcome")
    assert "binary outcome only" in message and "drop --augment" in message
