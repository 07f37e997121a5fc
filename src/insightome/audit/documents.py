"""Documentation generated from a run: model card, TRIPOD+AI, EU AI Act Annex IV, FUTURE-AI.

Pure functions from a run's ``results.json`` dict and its ``model.json`` dict (the model
card) to documents. Nothing is invented: every item the run can fill is filled from the
results with its numbers; every item it cannot fill reads exactly :data:`TO_COMPLETE`
("to be completed by the authors"), and an item filled in part says what is still missing.
Optional parts of the results (``audit``, ``discovery``, ``compute``, ``permutation``) may be
absent: the items that depend on them are then left to the authors or say "not run". Only
aggregates are written; per-group counts read as the audit recorded them (``<k`` for a small
count under ``--min-cell`` k, "suppressed" for a complementary one; docs/audit.md).

Documents (requirements are short paraphrases, not the guidelines' text):

* **Model card** — Mitchell M, Wu S, Zaldivar A, et al. Model Cards for Model Reporting.
  Proceedings of the Conference on Fairness, Accountability, and Transparency (FAT* '19),
  2019:220–229. doi:10.1145/3287560.3287596.
* **TRIPOD+AI** — Collins GS, Moons KGM, Dhiman P, et al. TRIPOD+AI statement: updated
  guidance for reporting clinical prediction models that use regression or machine learning
  methods. BMJ 2024;385:e078378. doi:10.1136/bmj-2023-078378.
* **EU AI Act Annex IV** — Regulation (EU) 2024/1689 of the European Parliament and of the
  Council (Artificial Intelligence Act), Annex IV: technical documentation referred to in
  Article 11(1).
* **FUTURE-AI** — Lekadir K, Frangi AF, Porras AR, et al. FUTURE-AI: international consensus
  guideline for trustworthy and deployable artificial intelligence in healthcare.
  BMJ 2025;388:e081554. doi:10.1136/bmj-2024-081554.

The item builders live in :mod:`insightome.audit.model_card_doc`,
:mod:`insightome.audit.tripod_ai`, :mod:`insightome.audit.ai_act` and
:mod:`insightome.audit.future_ai` and are re-exported here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from insightome.audit.ai_act import ai_act_annex_iv
from insightome.audit.audit_facts import flag_rows, group_rows, threshold_rows
from insightome.audit.checklist_items import (
    AI_ACT,
    FILLED,
    FUTURE_AI,
    MODEL_CARD,
    PARTIAL,
    STATUSES,
    TO_COMPLETE,
    TRIPOD_AI,
    ChecklistItem,
    count_cell,
    mapping_rows,
    metric_name,
    min_cell_of,
    nested,
    visible,
)
from insightome.audit.evidence import NONE, Evidence
from insightome.audit.future_ai import future_ai
from insightome.audit.model_card_doc import model_card
from insightome.audit.performance_figures import LABELS, reference
from insightome.audit.tripod_ai import tripod_ai
from insightome.groups.disclosure import NOTE

__all__ = [
    "DOCUMENTS",
    "NONE",
    "STATUSES",
    "TO_COMPLETE",
    "ChecklistItem",
    "Evidence",
    "ai_act_annex_iv",
    "documents_markdown",
    "documents_summary",
    "future_ai",
    "model_card",
    "to_markdown",
    "tripod_ai",
    "write_documents",
]

#: (results, model card, evidence after the run) → items
Builder = Callable[[Mapping[str, Any], Mapping[str, Any] | None, Evidence], list[ChecklistItem]]

#: key → (file name, title, builder)
DOCUMENTS: dict[str, tuple[str, str, Builder]] = {
    "model_card": ("MODEL_CARD.md", "Model card", model_card),
    "tripod_ai": ("TRIPOD_AI.md", "TRIPOD+AI checklist", tripod_ai),
    "ai_act_annex_iv": (
        "AI_ACT_ANNEX_IV.md",
        "EU AI Act Annex IV technical documentation",
        ai_act_annex_iv,
    ),
    "future_ai": ("FUTURE_AI.md", "FUTURE-AI checklist", future_ai),
}

REFERENCES = {
    MODEL_CARD: "Mitchell et al., Model Cards for Model Reporting, FAT* 2019",
    TRIPOD_AI: "Collins et al., TRIPOD+AI statement, BMJ 2024;385:e078378",
    AI_ACT: "Regulation (EU) 2024/1689 (AI Act), Annex IV — technical documentation",
    FUTURE_AI: "Lekadir et al., FUTURE-AI guideline, BMJ 2025;388:e081554",
}

GROUP_HEADER = [
    *("Attribute", "Group", "n", "Metric", "Value", "95% CI"),
    *("Difference", "95% CI", "Ratio", "95% CI", "Verdict"),
]

LEGEND = (
    f"**{FILLED}**: written from this run's results, with its numbers; "
    f"**{PARTIAL}**: the run's part is written, the rest is named as {TO_COMPLETE}; "
    f"**{TO_COMPLETE}**: the run cannot know it."
)


def cell(text: Any) -> str:
    """Text safe inside a Markdown table cell: pipes escaped, line breaks as ``<br>``."""
    value = "" if text is None else str(text)
    value = value.replace("\r\n", "\n").replace("\r", "\n").replace("|", "\\|")
    return value.replace("\n", "<br>").strip()


def _table(header: list[str], rows: Iterable[Iterable[Any]]) -> list[str]:
    lines = ["| " + " | ".join(cell(h) for h in header) + " |"]
    lines.append("|" + "---|" * len(header))
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return lines


def _num(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "n/a" if value is None else str(value)
    return f"{value:.3f}" if value == value else "n/a"


def _interval(ci: Any) -> str:
    if isinstance(ci, list | tuple) and len(ci) == 2:
        return f"[{_num(ci[0])}, {_num(ci[1])}]"
    return "n/a"


def _suppressed(row: Mapping[str, Any], key: str) -> str:
    """A group estimate, hidden when its count is suppressed (the audit leaves it None)."""
    return _num(row.get(key)) if visible(row) else "n/a"


def counts(items: Iterable[ChecklistItem]) -> dict[str, int]:
    """``n_items``, ``n_filled``, ``n_partial``, ``n_to_complete`` of a list of items."""
    items = list(items)
    return {
        "n_items": len(items),
        "n_filled": sum(i.status == FILLED for i in items),
        "n_partial": sum(i.status == PARTIAL for i in items),
        "n_to_complete": sum(i.status == TO_COMPLETE for i in items),
    }


#: an absolute POSIX path of two or more parts (not a URL, a DOI or a ratio such as 1/0.8)
ABSOLUTE_PATH = re.compile(r"(?<![\w.:/~-])/(?:[\w.+-]+/)+([\w.+-]+)")


def _recorded_paths(r: Mapping[str, Any]) -> list[str]:
    """The paths a run's results record (data files, annotations, gene sets, outputs)."""
    inv = r.get("invocation") if isinstance(r.get("invocation"), Mapping) else {}
    files = mapping_rows(nested(r, "data", "files"))
    found = [v for f in files for v in (f.get("path"), f.get("display_path"))]
    for key in ("data", "annotations", "out_dir", "genesets"):
        value = inv.get(key)
        found += value if isinstance(value, list) else [value]
    disc = r.get("discovery") if isinstance(r.get("discovery"), Mapping) else {}
    found += list(disc.get("gene_set_files") or [])
    return sorted({str(p) for p in found if p}, key=len, reverse=True)


def without_local_paths(text: str, results: Mapping[str, Any]) -> str:
    """``text`` with every absolute path of the machine written as its file name.

    The paths the run recorded are replaced first (they may hold spaces), then any other
    absolute POSIX path: a document is shared, the layout of the author's disk is not.
    """
    for path in _recorded_paths(results):
        if Path(path).is_absolute():
            text = text.replace(path, Path(path).name)
    return ABSOLUTE_PATH.sub(lambda m: m.group(1), text)


def to_markdown(title: str, items: Iterable[ChecklistItem], results: Mapping[str, Any]) -> str:
    """A Markdown document: header, legend, counts, one table per section, per-group tables.

    Absolute paths of the machine are written as file names (:func:`without_local_paths`).
    """
    items = list(items)
    r = results if isinstance(results, Mapping) else {}
    versions = r.get("versions") if isinstance(r.get("versions"), Mapping) else {}
    c = counts(items)
    lines = [f"# {cell(title)}", ""]
    lines.append(f"- Run: {cell(r.get('name', 'not recorded'))}")
    lines.append(f"- Date: {cell(r.get('created', 'not recorded'))}")
    lines.append(f"- insightome version: {cell(versions.get('insightome', 'not recorded'))}")
    docs = sorted({i.document for i in items if i.document in REFERENCES})
    for doc in docs:
        lines.append(f"- Guideline: {REFERENCES[doc]}")
    lines += [
        "",
        "Generated from the run's results.json and model.json; nothing is invented. "
        f'Every item marked "{TO_COMPLETE}" must be written by the authors before use.',
        "",
        f"Status legend — {LEGEND}",
        "",
        f"**{c['n_items']} item{'' if c['n_items'] == 1 else 's'}: {c['n_filled']} filled, "
        f"{c['n_partial']} partially filled, "
        f"{c['n_to_complete']} {TO_COMPLETE}.**",
    ]
    sections: dict[str, list[ChecklistItem]] = {}
    for item in items:
        sections.setdefault(item.section, []).append(item)
    for section, members in sections.items():
        lines += ["", f"## {cell(section) or 'Items'}", ""]
        lines += _table(
            ["Item", "Requirement", "Status", "Content"],
            ([i.item_id, i.requirement, i.status, i.content] for i in members),
        )
    groups = group_rows(r)
    if groups:
        lines += ["", "## Per-group performance", ""]
        label, why = LABELS["group"]
        lines.append(
            f"From the fairness audit: {label} — {why}. {reference(r)}. Differences and ratios "
            "are against the reference group. " + NOTE.format(k=min_cell_of(r))
        )
        lines.append("")
        lines += _table(
            GROUP_HEADER,
            (
                [
                    g.get("attribute"),
                    g.get("group"),
                    count_cell(g, min_cell_of(r)),
                    metric_name(g.get("metric")),
                    _suppressed(g, "value"),
                    _interval(g.get("ci95")) if visible(g) else "n/a",
                    _suppressed(g, "difference"),
                    _interval(g.get("difference_ci95")) if visible(g) else "n/a",
                    _suppressed(g, "ratio"),
                    _interval(g.get("ratio_ci95")) if visible(g) else "n/a",
                    g.get("verdict", "n/a"),
                ]
                for g in groups
            ),
        )
    flags = flag_rows(r)
    if flags:
        lines += ["", "## Audit flags", ""]
        lines += _table(
            ["Attribute", "Group", "Metric", "Reason"],
            (
                [f.get("attribute"), f.get("group"), metric_name(f.get("metric")), f.get("reason")]
                for f in flags
            ),
        )
    thresholds = threshold_rows(r)
    if thresholds:
        lines += ["", "## Audit thresholds", ""]
        lines += _table(["Threshold", "Value", "Source"], thresholds)
    return without_local_paths("\n".join(lines) + "\n", r)


def documents_markdown(
    results: Mapping[str, Any], card: Mapping[str, Any] | None, evidence: Evidence = NONE
) -> dict[str, str]:
    """File name (MODEL_CARD.md, TRIPOD_AI.md, AI_ACT_ANNEX_IV.md, FUTURE_AI.md) → Markdown.

    ``evidence``: the run's validations and monitoring checks so far (none at first).
    """
    return {
        name: to_markdown(title, build(results, card, evidence), results)
        for name, title, build in DOCUMENTS.values()
    }


def write_documents(
    results: Mapping[str, Any],
    card: Mapping[str, Any] | None,
    directory: str | Path,
    evidence: Evidence = NONE,
) -> dict[str, Path]:
    """Write MODEL_CARD.md, TRIPOD_AI.md, AI_ACT_ANNEX_IV.md and FUTURE_AI.md; key → path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    texts = documents_markdown(results, card, evidence)
    for key, (name, _, _) in DOCUMENTS.items():
        paths[key] = directory / name
        paths[key].write_text(texts[name], encoding="utf-8")
    return paths


def documents_summary(
    results: Mapping[str, Any], card: Mapping[str, Any] | None, evidence: Evidence = NONE
) -> dict[str, dict[str, int]]:
    """JSON-ready item counts per document, for results.json."""
    return {key: counts(build(results, card, evidence)) for key, (_, _, build) in DOCUMENTS.items()}
