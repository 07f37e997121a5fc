"""Documents generated from a real run: model card, TRIPOD+AI, AI Act Annex IV, FUTURE-AI."""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest

import insightome
from insightome.audit.documents import (
    DOCUMENTS,
    STATUSES,
    TO_COMPLETE,
    ChecklistItem,
    ai_act_annex_iv,
    documents_summary,
    future_ai,
    model_card,
    to_markdown,
    tripod_ai,
    write_documents,
)

BUILDERS = (model_card, tripod_ai, ai_act_annex_iv, future_ai)
FILES = {"MODEL_CARD.md", "TRIPOD_AI.md", "AI_ACT_ANNEX_IV.md", "FUTURE_AI.md"}
SEPARATOR = re.compile(r"^\|(\s*:?-+:?\s*\|)+$")


@pytest.fixture(scope="module")
def run(actg175_path: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict]:
    """A real fast run on ACTG175 with two sensitive attributes: (results, model card)."""
    out = tmp_path_factory.mktemp("runs")
    result = insightome.run(
        str(actg175_path),
        "cens",
        id_column="pidnum",
        task="binary",
        sensitive=("gender", "race"),
        exclude=("days", "cd420", "cd496", "r", "cd820", "offtrt", "treat"),
        preset="fast",
        folds=3,
        repeats=1,
        n_bootstrap=200,
        out_dir=out,
    )
    path = Path(result.path)
    results = json.loads((path / "results.json").read_text())
    card = json.loads((path / "model.json").read_text())
    return results, card


def by_id(items: list[ChecklistItem]) -> dict[str, ChecklistItem]:
    return {i.item_id: i for i in items}


def cells(line: str) -> int:
    """Number of unescaped pipes in a table line."""
    return len(re.findall(r"(?<!\\)\|", line))


def tables(markdown: str) -> list[list[str]]:
    blocks, current = [], []
    for line in markdown.splitlines():
        if line.startswith("|"):
            current.append(line)
        elif current:
            blocks.append(current)
            current = []
    return [*blocks, current] if current else blocks


def assert_valid_tables(markdown: str) -> int:
    found = tables(markdown)
    for block in found:
        assert len(block) >= 3, block
        assert SEPARATOR.match(block[1]), block[1]
        width = cells(block[0])
        assert width >= 2
        for row in block:
            assert cells(row) == width, row
            assert row.endswith("|")
    return len(found)


def synthetic_audit() -> dict[str, Any]:
    return {
        "data": {
            "representation": [
                {"attribute": "gender", "group": "0", "n": 368, "percent": 17.2},
                {"attribute": "race", "group": "2", "n": None, "percent": None},
            ],
            "proxies": {"attributes": [{"attribute": "gender", "flagged": True}]},
        },
        "model": {
            "metrics": ["auc"],
            "reference": {"gender": "1"},
            "overall": {"auc": {"value": 0.6831, "ci95": [0.6485, 0.7214]}},
            "groups": [
                {
                    "attribute": "gender",
                    "group": "0",
                    "n": 368,
                    "metric": "auc",
                    "value": 0.6612,
                    "ci95": [0.6011, 0.7203],
                    "difference": -0.0254,
                    "difference_ci95": [-0.0911, 0.0402],
                    "ratio": 0.9627,
                    "ratio_ci95": [0.8712, 1.0615],
                    "verdict": "no evidence of a difference",
                },
                {
                    "attribute": "race",
                    "group": "2",
                    "n": None,
                    "metric": "auc",
                    "value": 0.4321,
                    "ci95": None,
                    "difference": None,
                    "difference_ci95": None,
                    "ratio": None,
                    "ratio_ci95": None,
                    "verdict": "insufficient evidence",
                },
            ],
            "flags": [
                {"attribute": "gender", "group": "0", "metric": "auc", "reason": "a|b\nwide CI"}
            ],
            "thresholds": {"difference": {"value": 0.05, "source": "insightome default"}},
            "min_group_size": 30,
            "notes": [],
        },
        "conformal": {
            "level": 0.9,
            "marginal": {"coverage": 0.9034, "ci95": [0.8901, 0.9156]},
            "groups": [],
        },
        "justifications": {"gender": "known differences in disease course"},
    }


def test_four_documents_written_as_valid_markdown(run: tuple[dict, dict], tmp_path: Path) -> None:
    results, card = run
    paths = write_documents(results, card, tmp_path / "docs")
    assert set(paths) == set(DOCUMENTS)
    assert {p.name for p in paths.values()} == FILES
    for path in paths.values():
        text = path.read_text(encoding="utf-8")
        assert text.startswith("# ")
        assert results["name"] in text and results["created"] in text
        assert f"insightome version: {results['versions']['insightome']}" in text
        assert assert_valid_tables(text) >= 4


def test_filled_items_carry_the_run_numbers(run: tuple[dict, dict]) -> None:
    results, card = run
    est = results["estimate"]
    value, (lo, hi) = f"{est['value']:.3f}", (f"{x:.3f}" for x in est["ci95"])
    sha = results["data"]["files"][0]["sha256"]
    n = results["n_samples"]

    mc = by_id(model_card(results, card))
    assert mc["4.1"].status == "filled"
    assert value in mc["4.1"].content and f"[{lo}, {hi}]" in mc["4.1"].content
    assert "BBC-CV" in mc["4.3"].content and "Tsamardinos" in mc["4.3"].content
    assert f"n = {n} samples" in mc["6.1"].content and sha[:16] in mc["6.1"].content
    assert "'0' 1618, '1' 521" in mc["6.1"].content
    assert card["model_sha256"] in mc["1.3"].content
    assert results["winner"]["family"] in mc["1.4"].content
    assert "gender, race" in mc["3.1"].content
    assert f"{results['decision_threshold']:.3f}" in mc["4.2"].content
    assert "data-driven, unvalidated" in mc["9.3"].content
    assert "BSD-3-Clause" in mc["1.7"].content

    tr = by_id(tripod_ai(results, card))
    assert value in tr["23a"].content and sha[:16] in tr["5a"].content
    assert "median" in tr["11"].content and tr["11"].status == "filled"
    assert "Label-permutation test: not run" in tr["12c"].content
    assert f"all {n} samples" in tr["21"].content

    ai = by_id(ai_act_annex_iv(results, card))
    kwh = results["compute"]["total"]["energy_kwh"]
    assert f"{kwh:.3g} kWh" in ai["2(c)"].content
    assert results["compute"]["method"] in ai["2(c)"].content
    assert "override" in ai["2(e)"].content and ai["2(e)"].status == "partially filled"
    assert sha[:16] in ai["2(d)"].content

    fa = by_id(future_ai(results, card))
    assert card["model_sha256"] in fa["T5"].content and "seed" in fa["T5"].content
    top = results["discovery"]["attribution"]["features"][0]
    assert top["feature"] in fa["E2"].content and f"{top['importance']:.3f}" in fa["E2"].content
    assert value in fa["R3"].content


def test_unknowable_items_are_left_to_the_authors(run: tuple[dict, dict]) -> None:
    results, card = run
    mc, tr = by_id(model_card(results, card)), by_id(tripod_ai(results, card))
    ai, fa = by_id(ai_act_annex_iv(results, card)), by_id(future_ai(results, card))
    for item in (mc["2.1"], mc["2.2"], mc["2.3"], tr["3b"], tr["17"], ai["8"], fa["U1"]):
        assert item.status == TO_COMPLETE
        assert item.content.startswith(TO_COMPLETE)
    assert ai["1(a)"].status == "partially filled"
    assert "intended purpose" in ai["1(a)"].content and TO_COMPLETE in ai["1(a)"].content
    assert fa["U3"].status == TO_COMPLETE  # external validations are not in results.json
    # without an audit, per-group results are left to the authors, saying why
    no_audit = {k: v for k, v in results.items() if k != "audit"}
    mc = by_id(model_card(no_audit, card))
    assert mc["7.2"].status == TO_COMPLETE and "audit was not run" in mc["7.2"].content
    assert by_id(tripod_ai(no_audit, card))["23a"].status == "partially filled"


def test_the_run_audit_is_documented(run: tuple[dict, dict]) -> None:
    results, card = run
    if not results.get("audit", {}).get("model"):
        pytest.skip("this run has no audit section")
    rows = results["audit"]["model"]["groups"]
    text = to_markdown("Model card", model_card(results, card), results)
    assert_valid_tables(text)
    assert "## Per-group performance" in text
    shown = [g for g in rows if g["n"] is not None and g["value"] is not None]
    g = shown[0]
    assert f"| {g['attribute']} | {g['group']} | {g['n']} |" in text
    assert f"{g['value']:.3f}" in text
    mc = by_id(model_card(results, card))
    assert mc["7.2"].status == "filled" and mc["3.2"].status == "partially filled"
    n_flags = len(results["audit"]["model"].get("flags") or [])
    assert f"raised {n_flags} group flag(s)" in mc["8.1"].content


def test_structure_and_summary(run: tuple[dict, dict]) -> None:
    results, card = run
    tr = tripod_ai(results, card)
    assert len(tr) == 52
    assert {re.match(r"\d+", i.item_id).group() for i in tr} == {str(k) for k in range(1, 28)}
    fa = future_ai(results, card)
    assert len(fa) == 30
    principles = {"Fairness", "Universality", "Traceability", "Usability", "Robustness"}
    assert principles | {"Explainability", "General"} == {i.section for i in fa}
    sections = {i.section.split(".")[0] for i in ai_act_annex_iv(results, card)}
    assert sections == {str(k) for k in range(1, 10)}
    summary = documents_summary(results, card)
    assert json.loads(json.dumps(summary)) == summary
    for key, build in zip(DOCUMENTS, BUILDERS, strict=True):
        items = build(results, card)
        assert all(i.status in STATUSES and i.requirement and i.content for i in items)
        assert len({i.item_id for i in items}) == len(items)
        s = summary[key]
        assert s["n_items"] == len(items)
        assert s["n_filled"] + s["n_partial"] + s["n_to_complete"] == len(items)
        assert s["n_filled"] > 0 and s["n_to_complete"] > 0


def test_audit_section_gives_per_group_tables(run: tuple[dict, dict], tmp_path: Path) -> None:
    results, card = run
    audited = copy.deepcopy(results)
    audited["audit"] = synthetic_audit()
    paths = write_documents(audited, card, tmp_path)
    for path in paths.values():
        text = path.read_text(encoding="utf-8")
        assert_valid_tables(text)
        assert "## Per-group performance" in text and "## Audit flags" in text
        assert "| gender | 0 | 368 | AUC | 0.661 | [0.601, 0.720] | -0.025 |" in text
        assert "| race | 2 | <10 | AUC | n/a |" in text
        assert "0.432" not in text  # the suppressed group's estimate never appears
        assert "a\\|b<br>wide CI" in text
    mc = by_id(model_card(audited, card))
    assert mc["7.2"].status == "filled" and "(n <10): suppressed" in mc["7.2"].content
    assert mc["3.2"].status == "partially filled"
    assert "0.903" in mc["7.1"].content  # conformal marginal coverage
    tr = by_id(tripod_ai(audited, card))
    assert tr["14"].status == "filled" and "1 group flag(s)" in tr["14"].content
    assert tr["23a"].status == "filled"
    assert "race = 2: n <10" in tr["20b"].content
    ai = by_id(ai_act_annex_iv(audited, card))
    assert "1 group flag(s)" in ai["5"].content and ai["5"].status == TO_COMPLETE
    assert by_id(future_ai(audited, card))["F3"].status == "filled"


def test_results_without_optional_keys_still_render(run: tuple[dict, dict], tmp_path: Path) -> None:
    results, card = run
    bare = {
        k: v
        for k, v in results.items()
        if k
        not in (
            "audit",
            "discovery",
            "compute",
            "permutation",
            "secondary",
            "warnings",
            "leakage_screen",
        )
    }
    mc = by_id(model_card(bare, card))
    assert mc["9.3"].content == "Discovery was not run."
    assert mc["9.1"].status == TO_COMPLETE
    ai = by_id(ai_act_annex_iv(bare, card))
    assert (
        ai["2(c)"].status == "partially filled" and "computational resources" in ai["2(c)"].content
    )
    fa = by_id(future_ai(bare, card))
    assert fa["G7"].status == TO_COMPLETE and fa["E2"].status == TO_COMPLETE
    assert "not run" in by_id(tripod_ai(bare, card))["12c"].content

    permuted = {**results, "permutation": {"n": 100, "p_value": 0.0099}}
    assert "p = 0.0099 over 100 permutations" in by_id(tripod_ai(permuted, card))["12c"].content

    for res, crd in ((bare, card), ({}, None), ({"estimate": None, "spec": None}, {})):
        paths = write_documents(res, crd, tmp_path / str(len(res)))
        for path in paths.values():
            assert_valid_tables(path.read_text(encoding="utf-8"))
        assert set(documents_summary(res, crd)) == set(DOCUMENTS)
    empty = by_id(model_card({}, None))
    assert empty["4.1"].status == TO_COMPLETE and empty["1.2"].status == TO_COMPLETE


def test_markdown_escaping_and_item_validation() -> None:
    item = ChecklistItem("Doc", "Sec | tion", "1", "a | requirement", "filled", "x|y\r\nz")
    text = to_markdown("Title", [item], {})
    assert_valid_tables(text)
    assert "x\\|y<br>z" in text and "**1 item: 1 filled" in text
    with pytest.raises(ValueError, match="status"):
        ChecklistItem("Doc", "Sec", "1", "req", "done", "x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        item.status = TO_COMPLETE  # type: ignore[misc]
