"""Console summaries of a run's discovery and audit (rich markup, user text escaped)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

out = Console()


def print_discovery(found: dict | None) -> None:
    if not found:
        return
    sig = found.get("signature")
    if sig:
        est = sig["estimate"]
        lo, hi = est["ci95"]
        shown = ", ".join(sig["features"][:8]) + (" …" if len(sig["features"]) > 8 else "")
        out.print(
            f"[bold]Minimal signature[/] ({sig['size']} feature(s)): {escape(shown)} — "
            f"{est['metric']} {est['value']:.3f} (95% CI {lo:.3f}–{hi:.3f})"
        )
    hyp = found.get("hypotheses") or {}
    kinds = ", ".join(f"{n} {k}" for k, n in (hyp.get("by_kind") or {}).items())
    out.print(
        f"[bold]Hypotheses[/]: {hyp.get('n', 0)} ({kinds}) — data-driven, unvalidated; "
        "see hypotheses.tsv"
    )


def print_audit(audit: dict | None) -> None:
    if not audit:
        return
    model = audit.get("model") or {}
    flags = model.get("flags") or []
    verdicts: dict[str, int] = {}
    for row in model.get("groups") or []:
        verdicts[row.get("verdict")] = verdicts.get(row.get("verdict"), 0) + 1
    shown = ", ".join(f"{n} {v}" for v, n in verdicts.items()) or "no sensitive groups"
    out.print(f"[bold]Audit[/]: {len(flags)} flag(s); group checks: {escape(shown)}")
    for coding in (audit.get("codings") or {}).values():  # codes, value labels, bands
        if coding.get("kind") != "categories":
            out.print(f"  groups: {escape(str(coding.get('text')))}")
    for f in flags[:5]:
        out.print(
            f"  [yellow]flag:[/] {escape(str(f.get('attribute')))} = "
            f"{escape(str(f.get('group')))}, {escape(str(f.get('metric')))}: "
            f"{escape(str(f.get('reason')))}"
        )
