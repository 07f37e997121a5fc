"""Compare two result trees value by value: did a change of the code change any number?

    python benchmarks/diff_results.py OLD NEW            # exit 0: identical, 1: differences
    python benchmarks/diff_results.py OLD NEW --rtol 1e-12 --limit 0

OLD and NEW are folders written by the benchmarks' ``--results-dir`` (``result_trees.py``),
folders holding run directories (``insightome demo --out DIR``), two run directories, or
two files. Files are paired by their path relative to OLD and NEW; a run directory's
timestamp prefix (``20261205-212739-demo-actg175`` → ``<time>-demo-actg175``) is not part
of the pairing, so two demo runs pair up. Hidden entries (``.name``: unfinished atomic
writes) are skipped and counted.

- ``.json``: value by value, each difference named by its JSON path (``$.estimate.ci95[1]``);
  a key or list item present on one side only is a difference.
- ``.csv`` / ``.tsv``: cell by cell, by row number (and the row's first cell, its ID) and
  column name; cells that both read as numbers are compared as numbers.
- ``.md`` / ``.txt`` (the generated documents): line by line.
- any other file (pickled models, ``report.html``, ``run.log``, the training-row key and
  digests) is listed as not compared: their numbers are in the files above, or they are
  random or timed by design.

Numbers are equal only when equal exactly, unless ``--rtol`` is given (then
``|a - b| <= rtol * max(|a|, |b|)``). What legitimately differs between two runs of the
same code is ignored by the rules in ``JSON_RULES`` and ``TEXT_RULES`` below, no others;
the report says how often each rule matched and how often the values it hid differed, so
nothing is skipped silently. ``--ignore-key KEY`` adds a rule for one more JSON key or
table column (also reported).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

JsonPath = tuple[str | int, ...]
RUN_DIR_TIMESTAMP = re.compile(r"^\d{8}-\d{6}-")
NOT_COMPARED = {
    ".joblib": "pickled model (its bytes name module paths); its predictions are compared",
    ".html": "HTML report; its numbers come from results.json",
    ".log": "run log: every line is time-stamped",
    ".key": "training-row hash key: drawn at random for every run",
    ".hmac": "training-row hashes under that random key",
}


@dataclass(frozen=True)
class Rule:
    """What is ignored, why, and a test on a JSON path (keys and list indices)."""

    name: str
    why: str
    matches: Callable[[JsonPath, Any], bool]


def _last_key(path: JsonPath) -> str | None:
    keys = [k for k in path if isinstance(k, str)]
    return keys[-1] if keys else None


def _is_absolute_path(value: Any) -> bool:
    return isinstance(value, str) and os.path.isabs(value)


COMPUTE_MEASUREMENTS = {
    "wall_s",
    "cpu_s",
    "peak_memory_mb",
    "peak_rss_mb",
    "memory_measure",
    "energy_kwh",
    "carbon_g",
    "cpu_model",
    "n_cores_available",
}
JSON_RULES: tuple[Rule, ...] = (
    Rule(
        "timings",
        "wall-clock seconds per stage (results.json 'timings')",
        lambda p, v: _last_key(p) == "timings",
    ),
    Rule(
        "step seconds",
        "wall-clock seconds of a step ('seconds' of discovery and the audit, "
        "'fit_seconds' of each configuration)",
        lambda p, v: _last_key(p) in ("seconds", "fit_seconds"),
    ),
    Rule(
        "compute ledger",
        "measured time, CPU, memory, energy and carbon under 'compute', and "
        "the machine they were measured on (cpu_model, n_cores_available)",
        lambda p, v: "compute" in p and _last_key(p) in COMPUTE_MEASUREMENTS,
    ),
    Rule(
        "timestamps",
        "'created' / 'finished' / 'date' (text): when the run ran",
        lambda p, v: _last_key(p) in ("created", "finished", "date") and isinstance(v, str),
    ),
    Rule(
        "software versions",
        "'versions' and 'insightome_version'",
        lambda p, v: _last_key(p) in ("versions", "insightome_version"),
    ),
    Rule(
        "absolute paths",
        "absolute paths of the data or run directory ('path', "
        "'display_path', invocation 'data'), when they are absolute paths",
        lambda p, v: _last_key(p) in ("path", "display_path", "data") and _is_absolute_path(v),
    ),
    Rule("hostnames", "'hostname' / 'host'", lambda p, v: _last_key(p) in ("hostname", "host")),
    Rule(
        "model file sha256",
        "sha256 of a pickled model file (model.json 'model_sha256'): "
        "pickles name the modules of classes, which a refactor moves",
        lambda p, v: _last_key(p) == "model_sha256",
    ),
    Rule(
        "training-row digest",
        "sha256 of the keyed training-row hashes: the key is random for every run",
        lambda p, v: p[-2:] == ("training_rows", "sha256"),
    ),
)

TEXT_RULES: tuple[tuple[str, str, re.Pattern[str]], ...] = (
    (
        "timestamps in text",
        "ISO-8601 times in the documents ('Date:', 'created ...')",
        re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})?"),
    ),
    (
        "compute ledger in text",
        "the documents' compute sentence (energy, carbon, CPU and wall "
        "time, peak memory, CPU model)",
        re.compile(
            r"energy \S+ kWh, \S+ g CO2e, CPU time \S+ s, wall time \S+ s, peak memory "
            r"\S+ MB \(\w+\)(?:, on .*? \(\S+ cores available\))?"
        ),
    ),
)


@dataclass
class Report:
    """Differences per file, and how often each ignore rule matched (and hid a difference)."""

    rtol: float = 0.0
    differences: dict[str, list[str]] = field(default_factory=dict)
    rule_matches: Counter[str] = field(default_factory=Counter)
    rule_differed: Counter[str] = field(default_factory=Counter)
    rule_files: dict[str, set[str]] = field(default_factory=dict)

    def differ(self, file: str, text: str) -> None:
        self.differences.setdefault(file, []).append(text)

    def matched(self, rule: str, file: str, differed: bool) -> None:
        self.rule_matches[rule] += 1
        self.rule_differed[rule] += differed
        self.rule_files.setdefault(rule, set()).add(file)


# --------------------------------------------------------------------------------------
# values
# --------------------------------------------------------------------------------------
def numbers_equal(a: float, b: float, rtol: float) -> bool:
    if a == b or (math.isnan(a) and math.isnan(b)):
        return True
    return rtol > 0 and math.isclose(a, b, rel_tol=rtol, abs_tol=0.0)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def format_path(path: JsonPath) -> str:
    out = "$"
    for k in path:
        if isinstance(k, int):
            out += f"[{k}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k):
            out += f".{k}"
        else:
            out += f"[{json.dumps(k, ensure_ascii=False)}]"
    return out


def _short(v: Any, width: int = 80) -> str:
    text = repr(v) if _is_number(v) else json.dumps(v, ensure_ascii=False)
    return text if len(text) <= width else text[: width - 3] + "..."


def compare_json(
    a: Any, b: Any, file: str, report: Report, rules: Sequence[Rule], path: JsonPath = ()
) -> None:
    """Every difference between two parsed JSON values, each named by its path."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in [*a, *(k for k in b if k not in a)]:
            sub = (*path, key)
            values = [side[key] for side in (a, b) if key in side]
            rule = next((r for r in rules if all(r.matches(sub, v) for v in values)), None)
            if rule is not None:
                report.matched(rule.name, file, differed=a.get(key) != b.get(key))
            elif key not in b:
                report.differ(file, f"{format_path(sub)}: only in OLD ({_short(a[key])})")
            elif key not in a:
                report.differ(file, f"{format_path(sub)}: only in NEW ({_short(b[key])})")
            else:
                compare_json(a[key], b[key], file, report, rules, sub)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            report.differ(file, f"{format_path(path)}: {len(a)} items in OLD, {len(b)} in NEW")
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            compare_json(x, y, file, report, rules, (*path, i))
    elif _is_number(a) and _is_number(b):
        if not numbers_equal(float(a), float(b), report.rtol):
            report.differ(file, f"{format_path(path)}: {a!r} -> {b!r}")
    elif type(a) is not type(b) or a != b:
        report.differ(file, f"{format_path(path)}: {_short(a)} -> {_short(b)}")


# --------------------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------------------
def _read_table(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh, delimiter="\t" if path.suffix == ".tsv" else ","))


def _cells_equal(a: str, b: str, rtol: float) -> bool:
    if a == b:
        return True
    try:
        return numbers_equal(float(a), float(b), rtol)
    except ValueError:
        return False


def compare_tables(old: Path, new: Path, file: str, report: Report, ignored: set[str]) -> None:
    """Cell by cell: columns by name, rows by position (labelled by their first cell)."""
    a, b = _read_table(old), _read_table(new)
    head_a, head_b = (a[0] if a else []), (b[0] if b else [])
    for col in head_a:
        if col not in head_b:
            report.differ(file, f"column {col!r}: only in OLD")
    for col in head_b:
        if col not in head_a:
            report.differ(file, f"column {col!r}: only in NEW")
    if [c for c in head_a if c in head_b] != [c for c in head_b if c in head_a]:
        report.differ(file, "columns in a different order")
    if len(a) != len(b):
        report.differ(file, f"{len(a) - 1} rows in OLD, {len(b) - 1} in NEW")
    shared = [(col, head_a.index(col), head_b.index(col)) for col in head_a if col in head_b]
    for r, (row_a, row_b) in enumerate(zip(a[1:], b[1:], strict=False), start=1):
        label = f"row {r} ({row_a[0]!r})" if row_a else f"row {r}"
        for col, i, j in shared:
            x = row_a[i] if i < len(row_a) else ""
            y = row_b[j] if j < len(row_b) else ""
            if col in ignored:
                report.matched(f"--ignore-key {col}", file, differed=x != y)
            elif not _cells_equal(x, y, report.rtol):
                report.differ(file, f"{label}, column {col!r}: {x!r} -> {y!r}")


def _mask(line: str, counts: Counter[str]) -> str:
    for name, _, pattern in TEXT_RULES:
        line, n = pattern.subn(f"<{name}>", line)
        counts[name] += n
    return line


def compare_text(old: Path, new: Path, file: str, report: Report) -> None:
    """Line by line, after masking the TEXT_RULES patterns (counted per rule)."""
    a = old.read_text(encoding="utf-8").splitlines()
    b = new.read_text(encoding="utf-8").splitlines()
    if len(a) != len(b):
        report.differ(file, f"{len(a)} lines in OLD, {len(b)} in NEW")
    for n, (x, y) in enumerate(zip(a, b, strict=False), start=1):
        counts: Counter[str] = Counter()
        mx, my = _mask(x, counts), _mask(y, counts)
        for name, _, _ in TEXT_RULES:
            if counts[name]:
                report.matched(name, file, differed=x != y and mx == my)
        if mx != my:
            at = next(
                (i for i, (c, d) in enumerate(zip(mx, my, strict=False)) if c != d),
                min(len(mx), len(my)),
            )
            start = max(0, at - 40)
            report.differ(
                file,
                f"line {n}, from character {at + 1}: "
                f"{mx[start : at + 60]!r} -> {my[start : at + 60]!r}",
            )


def compare_files(old: Path, new: Path, file: str, report: Report, ignored: set[str]) -> None:
    suffix = old.suffix.lower()
    if suffix == ".json":
        try:
            a, b = json.loads(old.read_text()), json.loads(new.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            report.differ(file, f"cannot be read as JSON: {exc}")
            return
        rules = [
            *JSON_RULES,
            *(
                Rule(
                    f"--ignore-key {k}",
                    "given on the command line",
                    lambda p, v, k=k: _last_key(p) == k,
                )
                for k in sorted(ignored)
            ),
        ]
        compare_json(a, b, file, report, rules)
    elif suffix in (".csv", ".tsv"):
        compare_tables(old, new, file, report, ignored)
    else:
        compare_text(old, new, file, report)


# --------------------------------------------------------------------------------------
# trees
# --------------------------------------------------------------------------------------
class BadInput(Exception):
    """Bad input: one line on stderr, exit code 2."""


def collect(root: Path) -> tuple[dict[str, Path], int]:
    """Files under ``root`` by pairing key; also how many hidden entries were skipped."""
    if root.is_file():
        return {root.name: root}, 0
    files: dict[str, Path] = {}
    hidden = 0
    for dirpath, dirnames, filenames in os.walk(root):
        hidden += sum(n.startswith(".") for n in [*dirnames, *filenames])
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(n for n in filenames if not n.startswith(".")):
            path = Path(dirpath) / name
            parts = path.relative_to(root).parts
            key = "/".join(RUN_DIR_TIMESTAMP.sub("<time>-", p) for p in parts)
            if key in files:
                raise BadInput(
                    f"{root}: {files[key]} and {path} pair with the same file ({key}); "
                    "compare the two run directories themselves"
                )
            files[key] = path
    return files, hidden


def diff_trees(
    old: Path,
    new: Path,
    rtol: float = 0.0,
    ignored: Sequence[str] = (),
    limit: int = 20,
    out: Any = sys.stdout,
) -> int:
    """Print the comparison of ``old`` and ``new``; return 0 when identical, else 1."""
    for root in (old, new):
        if not root.exists():
            raise BadInput(f"{root}: no such file or directory")
    if old.is_file() != new.is_file():
        raise BadInput(f"{old} and {new}: compare two folders or two files, not one of each")
    files_old, hidden_old = collect(old)
    files_new, hidden_new = collect(new)
    if old.is_file():  # two files: compared with each other whatever their names
        files_new = {old.name: new}
    report = Report(rtol=rtol)
    only_old = sorted(set(files_old) - set(files_new))
    only_new = sorted(set(files_new) - set(files_old))
    not_compared: Counter[str] = Counter()
    compared: list[str] = []
    for key in sorted(set(files_old) & set(files_new)):
        suffix = files_old[key].suffix.lower()
        if suffix in (".json", ".csv", ".tsv", ".md", ".txt"):
            compared.append(key)
            compare_files(files_old[key], files_new[key], key, report, set(ignored))
        else:
            not_compared[suffix or Path(key).name] += 1

    print(f"OLD: {old}\nNEW: {new}", file=out)
    n_diff = sum(len(v) for v in report.differences.values())
    print(
        f"compared {len(compared)} file(s): {len(compared) - len(report.differences)} "
        f"identical, {len(report.differences)} differing ({n_diff} difference(s)); numbers "
        f"{'exactly' if rtol == 0 else f'within rtol={rtol:g}'}",
        file=out,
    )
    for key in compared:
        diffs = report.differences.get(key)
        if not diffs:
            continue
        print(f"\n{key}: {len(diffs)} difference(s)", file=out)
        shown = diffs if limit <= 0 else diffs[:limit]
        for line in shown:
            print(f"  {line}", file=out)
        if len(shown) < len(diffs):
            print(f"  ... and {len(diffs) - len(shown)} more (--limit 0 prints all)", file=out)
    for side, keys in (("OLD", only_old), ("NEW", only_new)):
        if keys:
            print(f"\nonly in {side} ({len(keys)}): " + ", ".join(keys), file=out)
    print("\nnot compared:", file=out)
    if not not_compared and not (hidden_old or hidden_new):
        print("  nothing", file=out)
    for kind, n in sorted(not_compared.items()):
        why = NOT_COMPARED.get(kind, "no value-level comparison for this kind of file")
        print(f"  {n} x {kind}: {why}", file=out)
    if hidden_old or hidden_new:
        print(f"  hidden entries skipped: {hidden_old} in OLD, {hidden_new} in NEW", file=out)
    print(
        "\nignore rules (matched = values not compared; differed = of those, not equal):", file=out
    )
    names = [(r.name, r.why) for r in JSON_RULES] + [(n, w) for n, w, _ in TEXT_RULES]
    names += [(f"--ignore-key {k}", "given on the command line") for k in sorted(set(ignored))]
    for name, why in names:
        n = report.rule_matches[name]
        used = (
            f"matched {n} in {len(report.rule_files[name])} file(s), "
            f"{report.rule_differed[name]} differed"
            if n
            else "not matched"
        )
        print(f"  {name}: {used} — {why}", file=out)
    same = not report.differences and not only_old and not only_new
    print(
        "\nIDENTICAL"
        if same
        else f"\nDIFFERENT: {n_diff} difference(s) in {len(report.differences)} file(s), "
        f"{len(only_old)} file(s) only in OLD, {len(only_new)} only in NEW",
        file=out,
    )
    return 0 if same else 1


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("old", type=Path, help="result tree, run directory or file before the change")
    ap.add_argument("new", type=Path, help="the same, after the change")
    ap.add_argument(
        "--rtol",
        type=float,
        default=0.0,
        help="relative tolerance for numbers (default 0: exactly equal)",
    )
    ap.add_argument(
        "--ignore-key",
        action="append",
        default=[],
        metavar="KEY",
        help="also ignore every JSON key or table column named KEY (reported)",
    )
    ap.add_argument(
        "--limit", type=int, default=20, help="differences printed per file (default 20; 0 = all)"
    )
    args = ap.parse_args(argv)
    if args.rtol < 0 or math.isnan(args.rtol):
        print(f"error: --rtol must be 0 or more, not {args.rtol}", file=sys.stderr)
        return 2
    try:
        return diff_trees(args.old, args.new, args.rtol, args.ignore_key, args.limit)
    except BadInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
