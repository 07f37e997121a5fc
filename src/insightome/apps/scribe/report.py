"""``draft.html``: the draft note for the clinician, every line with the words it came from.

One self-contained page (inline CSS and one small inline script, no external resource; it
works opened as a file, with no server), rendered with Jinja2 and autoescaping, so every
string of the transcript and the note is escaped. Per section, its lines; per line its
findings (concept, assertion, who said it), its evidence (the transcript's words with the
cited span marked, the speaker and role, a link to the turn in the full transcript at the
bottom, where the cited spans are marked too) and, until the note is final, accept / edit /
reject controls. "Save decisions" downloads ``decisions.json`` (what
:func:`insightome.apps.scribe.api.read_decisions` reads) with the clinician's ID and the
draft's sha256, and shows the ``insightome scribe approve`` command to record it. A banner
says where the approval stands. A Content-Security-Policy allows only the page's own style
and script (by their sha256) and nothing else: no request leaves the page.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import re
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from insightome.apps.scribe.note import ASSERTIONS, Draft, DraftLine, Evidence

__all__ = ["CONTEXT", "check_evidence", "excerpt", "render_page", "segments"]

CONTEXT = 80  # characters of the turn shown on each side of a cited span
_CSP_MARK = "<!--csp-->"  # in the template as written; autoescaped data has no '<' to collide
_INLINE = re.compile(r"<(script|style)>(.*?)</\1>", re.DOTALL)


def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("insightome.apps.scribe", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def excerpt(text: str, start: int, end: int) -> tuple[str, str, str]:
    """The span ``text[start:end]`` with up to CONTEXT characters each side (before, span,
    after), an ellipsis where the turn goes on."""
    before = text[max(0, start - CONTEXT) : start]
    after = text[end : end + CONTEXT]
    return (
        ("…" if start > CONTEXT else "") + before,
        text[start:end],
        after + ("…" if end + CONTEXT < len(text) else ""),
    )


def segments(text: str, spans: Sequence[tuple[int, int, str]]) -> list[dict[str, Any]]:
    """``text`` cut at the spans' ends: ``[{"text", "lines"}]``, ``lines`` the IDs of the
    draft lines citing that piece (none: plain transcript)."""
    cuts = sorted({0, len(text), *(s for s, _, _ in spans), *(e for _, e, _ in spans)})
    out: list[dict[str, Any]] = []
    for a, b in itertools.pairwise(cuts):
        ids = sorted({line for s, e, line in spans if s <= a and b <= e})
        if out and out[-1]["lines"] == ids:
            out[-1]["text"] += text[a:b]
        else:
            out.append({"text": text[a:b], "lines": ids})
    return out


def _check(draft: Draft, line: DraftLine, evidence: Evidence) -> None:
    turns = draft.transcript.turns
    if not (0 <= evidence.turn < len(turns)) or not (
        0 <= evidence.start < evidence.end <= len(turns[evidence.turn].text)
    ):
        raise ValueError(f"draft line {line.id[:40]}: evidence outside the transcript")


def check_evidence(draft: Draft) -> None:
    """A :class:`ValueError` naming the first line whose evidence is outside the transcript
    (a turn that does not exist, or a span outside its turn's text)."""
    for line in draft.lines:
        for evidence in line.evidence:
            _check(draft, line, evidence)


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return ""
    whole = int(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def _when(stamp: str | None) -> str:
    """An ISO time as ``YYYY-MM-DD HH:MM UTC`` (the log's times are UTC)."""
    return f"{stamp[:10]} {stamp[11:16]} UTC" if stamp else ""


def _views(draft: Draft, approval: Mapping[str, Any]) -> tuple[list[Any], list[Any]]:
    """The sections with their lines, and the transcript's turns cut into marked pieces."""
    decided = approval.get("decisions", {})
    spans: dict[int, list[tuple[int, int, str]]] = {}
    sections = []
    for section in draft.sections:
        lines = []
        for line in draft.lines_of(section.key):
            evidence = []
            for e in line.evidence:
                _check(draft, line, e)
                spans.setdefault(e.turn, []).append((e.start, e.end, line.id))
                text = draft.transcript.turns[e.turn].text
                evidence.append({"e": e, "parts": excerpt(text, e.start, e.end)})
            record = decided.get(line.id)
            lines.append(
                {
                    "line": line,
                    "evidence": evidence,
                    "record": {**record, "when": _when(record["at"])} if record else None,
                }
            )
        if lines:
            sections.append({"section": section, "lines": lines})
    turns = [
        {"turn": t, "clock": _clock(t.start), "pieces": segments(t.text, spans.get(i, []))}
        for i, t in enumerate(draft.transcript.turns)
    ]
    return sections, turns


def _csp(html: str) -> str:
    """The policy for ``html``: its one inline style and one inline script, by sha256."""
    found = _INLINE.findall(html)
    kinds = sorted(kind for kind, _ in found)
    if kinds != ["script", "style"] or html.count("<script") != 1 or html.count("<style") != 1:
        raise ValueError("draft.html must hold exactly one inline <style> and one <script>")
    digest = {
        kind: base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode("ascii")
        for kind, body in found
    }
    return (
        f"default-src 'none'; style-src 'sha256-{digest['style']}'; "
        f"script-src 'sha256-{digest['script']}'; img-src data:; base-uri 'none'; "
        "form-action 'none'"
    )


def render_page(
    draft: Draft, approval: Mapping[str, Any], *, draft_sha256: str, folder: Path
) -> str:
    """The page of ``draft`` with the decisions and status of ``approval`` (the content of
    ``approval.json``); ``folder`` is named in the approve command it shows."""
    sections, turns = _views(draft, approval)
    template = _environment().get_template("draft.html.j2")
    html = template.render(
        sections=sections,
        turns=turns,
        approval=approval,
        final=approval["status"] == "final",
        approved_at=_when(approval.get("approved_at")),
        draft_sha256=draft_sha256,
        command_folder=shlex.quote(str(folder.resolve())),
        transcript=draft.transcript,
        method=draft.method,
        assertions=ASSERTIONS,
    )
    head, mark, rest = html.partition(_CSP_MARK)
    if not mark:
        raise ValueError("draft.html.j2 has no Content-Security-Policy placeholder")
    return head + _csp(html) + rest
