"""The imaging benchmark (benchmarks/imaging.py): its table, and the README's "Images"
figures, each of which must be a number of benchmarks/results/imaging.md."""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import imaging  # noqa: E402

ROW = {
    "dataset": "breastmnist", "arm": "radiomics+cnn", "preset": "default", "n_train": 624,
    "n_test": 156, "winner": "ridge_logistic(C=0.01,k=all)+cnn", "bbc_auc": 0.8413,
    "bbc_ci": [0.7884, 0.8937], "test_auc": 0.9071, "test_ci": [0.8532, 0.9609],
    "estimate_in_test_ci": False, "seconds": 470.2, "repeats": 3, "folds": 5,
    "images_seconds": 3.8, "peak_rss_mb": 2211.5,
}  # fmt: skip


def test_the_table_shows_estimate_test_auc_and_whether_one_is_in_the_others_ci():
    meta = {"commit": "abc1234", "date": "2026-12-06", "machine": "x86_64, 3.11", "partial": True}
    text = imaging.table([ROW], {**meta, "note": "Ran beside the test suite."})
    line = next(x for x in text.splitlines() if x.startswith("| BreastMNIST"))
    assert "0.841 (0.788–0.894)" in line and "0.907 (0.853–0.961)" in line
    assert "| no |" in line and "| 470 | 2212 |" in line and "default, 3 × 5-fold" in line
    assert "PARTIAL" in text and "Ran beside the test suite." in text
    assert "Google AutoML Vision 0.919" in text


def test_the_readme_images_figures_come_from_the_results_table():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("## Images")
    section = readme[start : readme.index("\n## ", start + 1)]
    measured = section[section.index("**Measured**") :]
    table = (ROOT / "benchmarks" / "results" / "imaging.md").read_text(encoding="utf-8")
    figures = set(re.findall(r"\b0\.\d{3}\b", measured))
    assert len(figures) >= 6
    missing = [f for f in sorted(figures) if f not in table]
    assert not missing, f"README figures not in benchmarks/results/imaging.md: {missing}"
