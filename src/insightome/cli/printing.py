"""Console summaries of a run's leakage screen, learning curve, augmentation comparison,
discovery and audit (rich markup, user text escaped)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from insightome.number_format import fmt_number

out = Console()


def _metric(key: object) -> str:
    """A metric's display name (imported here: the CLI imports domain code when it runs)."""
    from insightome.evaluate.metrics import metric_label

    return escape(metric_label(key))


def print_discovery(found: dict | None) -> None:
    if not found:
        return
    sig = found.get("signature")
    if sig:
        est = sig["estimate"]
        lo, hi = est["ci95"]
        shown = ", ".join(sig["features"][:8]) + (" …" if len(sig["features"]) > 8 else "")
        out.print(
            f"[bold]Minimal signature[/] ({sig['size']} feature(s)): {escape(shown)} — its "
            f"own BBC-CV estimate, {_metric(est['metric'])} {fmt_number(est['value'])} "
            f"(95% CI {fmt_number(lo)}–{fmt_number(hi)})"
        )
    hyp = found.get("hypotheses") or {}
    kinds = ", ".join(f"{n} {k}" for k, n in (hyp.get("by_kind") or {}).items())
    out.print(
        f"[bold]Hypotheses[/]: {hyp.get('n', 0)} ({kinds}) — data-driven, unvalidated; "
        "see hypotheses.tsv"
    )


def print_learning_curve(curve: dict | None) -> None:
    """``--learning-curve``: what doubling the cohort would buy (or why the curve cannot
    say), and the signature's stability versus n when discovery ran."""
    if not curve:
        return
    sentence = escape(str(curve.get("sentence", "")))
    out.print(f"[bold]Learning curve[/]: {sentence}", soft_wrap=True)  # one line, for grep
    stability = curve.get("signature_stability")
    if stability:
        out.print(f"  {escape(str(stability.get('summary', '')))}", soft_wrap=True)


def print_augmentation(aug: dict | None) -> None:
    """``--augment``: the verdict (one line, for grep), then each metric of the best
    real-only and the best augmented candidate with the paired difference, and the caveat."""
    if not aug:
        return
    out.print(f"[bold]Augmentation[/] ({escape(str(aug.get('method')))}, "
              f"{fmt_number(aug.get('ratio'), 'g')} synthetic row(s) per real row): "
              f"{escape(str(aug.get('verdict', '')))}", soft_wrap=True)  # fmt: skip
    for m in aug.get("metrics") or []:
        out.print(
            f"  {_metric(m['metric'])}: real-only {_value_ci(m['real_only'], m['real_only_ci95'])}"
            f", augmented {_value_ci(m['augmented'], m['augmented_ci95'])}, difference "
            f"{_value_ci(m['difference'], m['difference_ci95'], '+.3f')}: {m['finding']}"
            + _distance(m),
            soft_wrap=True,
        )
    out.print(f"  {escape(str(aug.get('caveat', '')))}", soft_wrap=True)


def _distance(m: dict) -> str:
    """The calibration slope's finding reads the change in its distance from 1."""
    if "distance_from_1_change" not in m:
        return ""
    change = _value_ci(m["distance_from_1_change"], m["distance_from_1_change_ci95"], "+.3f")
    return f" (|slope − 1| changed by {change})"


def _value_ci(value: object, ci: list, spec: str = ".3f") -> str:
    lo, hi = ci
    return f"{fmt_number(value, spec)} ({fmt_number(lo, spec)} to {fmt_number(hi, spec)})"


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
            f"{escape(str(f.get('group')))}, {_metric(f.get('metric'))}: "
            f"{escape(str(f.get('reason')))}"
        )


def print_leakage_screen(screen: dict | None, shown: int = 10) -> None:
    """The leakage screen's findings (column, why, the statistic, what to do)."""
    if not screen or not screen.get("findings"):
        return
    n = screen.get("n_findings", len(screen["findings"]))
    out.print(
        f"[bold yellow]Leakage screen[/]: {n} column(s) may leak the outcome "
        f"({screen.get('checked')} checked before fitting; nothing was removed):"
    )
    for f in screen["findings"][:shown]:
        out.print(
            f"  [yellow]leakage:[/] {escape(str(f['column']))}: {escape(str(f['detail']))}\n"
            f"    → {escape(str(f['suggestion']))}"
        )
    if n > shown:
        out.print(f"  … and {n - shown} more (report.html, results.json leakage_screen)")
