"""Small-cell suppression cannot be undone (docs/audit.md, "Privacy").

A real run (scikit-learn's breast-cancer data with a synthetic race attribute whose groups
are 76 / 10 / 1 / 209 / 40 / 233 and a random sex) is attacked with everything it publishes
for sharing: results.json (the proxy analysis and model-audit verdicts included), model.json,
the report, the four documents and hypotheses.tsv. The attacker
knows n and the class totals, reads every count, percentage and rate that is shown
anywhere, and asks a linear programme how small each hidden small count could be and how
large: recovering it exactly, or narrowing it below the documented protection, fails the
test. The attacker is written here, independently of insightome.groups.disclosure.
"""

from __future__ import annotations

import html
import itertools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

import insightome
from tests.conftest import breast_cancer_adata

RACE_SIZES = {"A": 76, "B": 10, "C": 1, "D": 209, "E": 40}  # the rest is F (233)
MIN_GROUP_SIZE = 30  # insightome.run's default --min-group-size
TESTED = ("flag", "no disparity detected")  # model-audit verdicts of a tested group
SECONDARY = "suppressed"
CROSS = " × "


def cohort() -> tuple[Any, dict[str, np.ndarray], np.ndarray]:
    adata = breast_cancer_adata(n_cols=10)
    n = adata.n_obs
    rng = np.random.default_rng(7)
    race = np.array(
        [g for g, k in RACE_SIZES.items() for _ in range(k)]
        + ["F"] * (n - sum(RACE_SIZES.values())),
        dtype=object,
    )
    rng.shuffle(race)
    sex = rng.choice(["female", "male"], n)
    adata.obs["race"], adata.obs["sex"] = race, sex
    y = (adata.obs["diagnosis"] == "malignant").to_numpy().astype(int)
    return adata, {"race": race.astype(str), "sex": sex.astype(str)}, y


@pytest.fixture(scope="module", params=[5, 20], ids=["min_cell=5", "min_cell=20"])
def run(request, tmp_path_factory) -> tuple[Path, dict[str, np.ndarray], np.ndarray, int]:
    adata, attrs, y = cohort()
    out = tmp_path_factory.mktemp(f"run{request.param}")
    result = insightome.run(
        adata,
        target="diagnosis",
        sensitive=["race", "sex"],
        out_dir=out,
        seed=3,
        preset="fast",
        folds=3,
        repeats=1,
        n_bootstrap=200,
        min_cell=request.param,
    )
    return Path(result.path), attrs, y, request.param


# --------------------------------------------------------------------------- the attacker


class Attacker:
    """Linear constraints on the base cells (race × sex × outcome) from what is published."""

    def __init__(self, attrs: dict[str, np.ndarray], y: np.ndarray, k: int) -> None:
        self.k = k
        self.levels = {a: sorted(set(v)) for a, v in attrs.items()}
        self.shape = (*(len(v) for v in self.levels.values()), 2)
        codes = [np.searchsorted(self.levels[a], v) for a, v in attrs.items()]
        self.truth = np.bincount(
            np.ravel_multi_index((*codes, y), self.shape), minlength=int(np.prod(self.shape))
        )
        self.eq: list[tuple[np.ndarray, float, str]] = []
        self.ub: list[tuple[np.ndarray, float]] = []
        self.markers: list[tuple[np.ndarray, float]] = []  # what "<k" vs not says of each
        n = len(y)
        self.known(self.cells(), n, "n")
        for c in (0, 1):
            self.known(self.cells(cls=c), int((y == c).sum()), f"class {c} total")

    def cells(self, attribute: str | None = None, group: str | None = None, cls: int | None = None):
        grid = np.indices(self.shape).reshape(len(self.shape), -1)
        mask = np.ones(grid.shape[1], dtype=bool)
        if attribute is not None:
            parts = attribute.split(CROSS)
            values = str(group).split(CROSS)
            for a, v in zip(parts, values, strict=True):
                axis = list(self.levels).index(a)
                mask &= grid[axis] == self.levels[a].index(v)
        if cls is not None:
            mask &= grid[-1] == cls
        row = np.zeros(grid.shape[1])
        row[mask] = 1.0
        return row

    def true(self, row: np.ndarray) -> int:
        return int(row @ self.truth)

    def known(self, row: np.ndarray, value: float, where: str) -> None:
        self.eq.append((row, float(value), where))

    def read(self, row: np.ndarray, text: Any, where: str) -> None:
        """A published count: a number, ``<k`` or "suppressed"."""
        if isinstance(text, int | float) and not isinstance(text, bool):
            self.known(row, float(text), where)
            return
        text = str(text).strip()
        if re.fullmatch(r"\d+", text):
            self.known(row, float(text), where)
        elif text == f"<{self.k}":
            self.ub += [(row, self.k - 1)]
        elif text == SECONDARY:
            self.ub += [(-row, -self.k)]

    def range(self, row: np.ndarray, baseline: bool = False) -> tuple[float, float]:
        """How far the published numbers let a reader narrow ``row``; ``baseline``: with
        every count hidden, knowing only n, the class totals and which counts are small."""
        eq, ub = (self.eq[:3], self.markers) if baseline else (self.eq, self.ub)
        A_eq = np.array([r for r, _, _ in eq])
        b_eq = np.array([v for _, v, _ in eq])
        A_ub = np.array([r for r, _ in ub]) if ub else None
        b_ub = np.array([v for _, v in ub]) if ub else None
        out = []
        for sign in (1, -1):
            res = linprog(sign * row, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=b_eq, method="highs")
            assert res.status in (0, 3), res.message  # 3: unbounded
            out.append(sign * res.fun if res.status == 0 else np.inf)
        return out[0], out[1]

    def consistent(self) -> None:
        for row, value, where in self.eq:
            assert self.true(row) == round(value), f"{where}: published {value}"


def protected(lo: float, hi: float, floor: int, k: int) -> bool:
    """The documented protection: the range reaches k − 1 and starts in its lower half
    (docs/audit.md); a range no narrower than n and the class totals alone force passes too."""
    top = k - 1
    return hi >= top - 1e-6 and lo <= floor + (top - floor) // 2 + 1e-6


def groups_of(results: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for r in results["audit"]["data"]["representation"]:
        yield r["attribute"], r["group"]


def _num(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def read_everything(run_dir: Path, attacker: Attacker) -> None:
    """Every count the run publishes, and every count a rate and its n give back."""
    results = json.loads((run_dir / "results.json").read_text())
    N = results["n_samples"]
    a = attacker
    for r in results["audit"]["data"]["representation"]:
        attr, g = r["attribute"], r["group"]
        size = a.cells(attr, g)
        where = f"results.json representation {attr}={g}"
        a.read(size, r["n"] if r["n"] is not None else _marker(r, "n"), where)
        if r.get("percent") is not None:  # percent × n of the study
            a.known(size, round(r["percent"] * N / 100), where + " percent")
        out = r.get("outcome") or {}
        pos = a.cells(attr, g, 1)
        if out.get("n_positive") is not None:
            a.known(pos, out["n_positive"], where + " positives")
        elif out:
            a.read(pos, _marker(out, "n_positive"), where + " positives")
        if out.get("prevalence") is not None:  # a rate and its n
            n_g = r["n"] if r["n"] is not None else a.true(size)
            assert r["n"] is not None, f"{where}: prevalence shown, n hidden"
            a.known(pos, round(out["prevalence"] * n_g), where + " prevalence × n")
    for r in results["audit"]["model"]["groups"]:
        attr, g = r["attribute"], r["group"]
        a.read(a.cells(attr, g), r["n"] if r["n"] is not None else _marker(r, "n"), "model audit")
        if r["n"] is None:
            assert r["value"] is None, f"model audit {attr}={g}: {r['metric']} shown, n hidden"
        if r["metric"] == "selection_rate" and r["value"] is not None:
            pass  # predicted positives are not an outcome count
    for r in results["audit"]["conformal"]["groups"]:
        attr, g = r["attribute"], r["group"]
        a.read(a.cells(attr, g), r["n"] if r["n"] is not None else _marker(r, "n"), "conformal")
        if r["n"] is None:
            assert r["coverage"] is None, f"conformal {attr}={g}: coverage shown, n hidden"
    read_proxies(results, attacker)
    for r in results["audit"]["model"]["groups"]:  # a tested group has min_group_size or more
        if r["verdict"] in TESTED:
            a.ub.append((-a.cells(r["attribute"], r["group"]), -MIN_GROUP_SIZE))
    card = json.loads((run_dir / "model.json").read_text())
    for attr, thresholds in ((card.get("conformal") or {}).get("mondrian") or {}).items():
        for g in thresholds:  # a Mondrian threshold per group of min_group_size or more
            a.ub.append((-a.cells(attr, g), -MIN_GROUP_SIZE))
    for name in ("MODEL_CARD.md", "TRIPOD_AI.md", "AI_ACT_ANNEX_IV.md", "FUTURE_AI.md"):
        read_document((run_dir / name).read_text(), attacker, name)
    read_document((run_dir / "report.html").read_text(), attacker, "report.html")


def read_proxies(results: dict[str, Any], a: Attacker) -> None:
    """The proxy analysis: the groups it used (each of max(k, min_group_size) or more, the
    other known groups under it), the number of samples used (their sum), and the sizes its
    exact AUCs give back (a one-vs-rest AUC is a fraction over 2 × n_group × n_rest)."""
    threshold = max(a.k, MIN_GROUP_SIZE)
    listed = {(r["attribute"], r["group"]): r["n"] for r in groups_and_sizes(results)}
    for r in results["audit"]["data"]["proxies"]["attributes"]:
        attr, used = r["attribute"], [str(g) for g in r["groups"]]
        where = f"results.json proxies {attr}"
        for (at, g), _ in listed.items():
            if at != attr or g == "unknown":
                continue
            row = a.cells(at, g)
            a.ub.append((-row, -threshold) if g in used else (row, threshold - 1))
        if not used:
            continue
        total = sum((a.cells(attr, g) for g in used), np.zeros_like(a.cells()))
        if r["n_used"] is not None:
            a.known(total, r["n_used"], where + " n_used")
        hidden = [g for g in used if listed[(attr, g)] is None]
        by_group = r.get("multivariate_auc_by_group") or {}
        if len(hidden) == 1 and hidden[0] in by_group and by_group[hidden[0]] is not None:
            rest = sum(listed[(attr, g)] for g in used if g != hidden[0])
            sizes = auc_sizes(float(by_group[hidden[0]]), rest, threshold, len_n(a))
            if len(sizes) == 1:
                a.known(a.cells(attr, hidden[0]), sizes[0], where + " AUC denominator")


def auc_sizes(auc: float, rest: int, least: int, n: int) -> list[int]:
    """Group sizes s ≥ ``least`` for which ``auc`` is a half-integer over s × ``rest``
    (none for a value rounded to a few decimals: it is no exact fraction)."""
    found = []
    if round(auc, 3) == auc:
        return found
    for s in range(least, n - rest + 1):
        u = auc * s * rest
        if abs(2 * u - round(2 * u)) < 1e-6:
            found.append(s)
    return found


def groups_and_sizes(results: dict[str, Any]) -> list[dict[str, Any]]:
    return results["audit"]["data"]["representation"]


def _marker(row: dict[str, Any], key: str) -> str:
    return str((row.get("suppressed") or {}).get(key, ""))


def read_document(text: str, a: Attacker, where: str) -> None:
    """Group counts in a Markdown or HTML document: table rows (attribute | group | n) and
    sentences ("race = C: n <10 (…)", "race = A (n 76)")."""
    plain = html.unescape(re.sub(r"<[^>]+>", "|", text))
    groups = [
        (attr, g)
        for attr in [*a.levels, *(CROSS.join(p) for p in itertools.combinations(a.levels, 2))]
        for g in _labels(a, attr)
    ]
    for attr, g in groups:
        esc_a, esc_g = re.escape(attr), re.escape(g)
        row = a.cells(attr, g)
        for m in re.finditer(rf"\|\s*{esc_a}\s*\|+\s*{esc_g}\s*\|+\s*([^|]+?)\s*\|", plain):
            a.read(row, m.group(1), f"{where} table {attr}={g}")
        for m in re.finditer(rf"{esc_a} = {esc_g}(?::| \()\s*n\s+([^\s;:),]+)", plain):
            a.read(row, m.group(1), f"{where} text {attr}={g}")
            after = plain[m.end() : m.end() + 80]
            pct = re.match(r"\s*\(([\d.]+)%", after)
            if pct:
                a.known(row, round(float(pct.group(1)) * len_n(a) / 100), f"{where} % {attr}={g}")


def _labels(a: Attacker, attr: str) -> list[str]:
    parts = attr.split(CROSS)
    return [CROSS.join(c) for c in itertools.product(*(a.levels[p] for p in parts))]


def len_n(a: Attacker) -> int:
    return int(a.truth.sum())


def hidden_small_counts(a: Attacker) -> Iterator[tuple[str, np.ndarray, int]]:
    """Every group size and group × outcome count under k (the ones a reader must not learn)."""
    for attr in [*a.levels, *(CROSS.join(p) for p in itertools.combinations(a.levels, 2))]:
        for g in _labels(a, attr):
            size = a.cells(attr, g)
            for row in (size, a.cells(attr, g, 1)):
                small = a.true(row) < a.k
                a.markers.append((row, a.k - 1) if small else (-row, -a.k))
            if 0 < a.true(size) < a.k:
                yield f"{attr}={g}", size, 1
            if a.true(size) == 0:
                continue
            for c in (0, 1):
                cell = a.cells(attr, g, c)
                if a.true(cell) < a.k:
                    yield f"{attr}={g} class {c}", cell, 0


# --------------------------------------------------------------------------------- tests


def test_no_small_count_can_be_recomputed_from_what_the_run_publishes(run) -> None:
    run_dir, attrs, y, k = run
    attacker = Attacker(attrs, y, k)
    read_everything(run_dir, attacker)
    attacker.consistent()
    recovered = []
    for name, row, floor in list(hidden_small_counts(attacker)):
        lo, hi = attacker.range(row)
        if not protected(lo, hi, floor, k) and [lo, hi] != pytest.approx(
            attacker.range(row, baseline=True)
        ):
            recovered.append(f"{name} = {attacker.true(row)}: a reader narrows it to {lo:g}–{hi:g}")
    assert not recovered, "\n".join(recovered)


def test_documents_and_report_honour_min_cell(run) -> None:
    run_dir, _, _, k = run
    for name in ("MODEL_CARD.md", "TRIPOD_AI.md", "AI_ACT_ANNEX_IV.md", "FUTURE_AI.md"):
        text = (run_dir / name).read_text()
        assert "<10" not in text, f"{name} prints <10 with --min-cell {k}"
        assert f"<{k}" in text, f"{name} never marks a small count <{k}"
    report = (run_dir / "report.html").read_text()
    assert "&lt;10" not in report and "<10" not in report
    # race C holds one patient: it reads <k everywhere, never 1
    for name in ("MODEL_CARD.md", "TRIPOD_AI.md", "AI_ACT_ANNEX_IV.md", "FUTURE_AI.md"):
        for line in (run_dir / name).read_text().splitlines():
            assert not re.search(r"\|\s*race\s*\|\s*C\s*\|\s*1\s*\|", line), line


def test_secondary_cells_never_read_as_small(run) -> None:
    """A count hidden only because a neighbour is small is marked 'suppressed', not <k."""
    run_dir, attrs, y, k = run
    results = json.loads((run_dir / "results.json").read_text())
    attacker = Attacker(attrs, y, k)
    for r in results["audit"]["data"]["representation"]:
        true = attacker.true(attacker.cells(r["attribute"], r["group"]))
        marker = (r.get("suppressed") or {}).get("n")
        if r["n"] is None:
            assert marker == (f"<{k}" if true < k else SECONDARY), (r, true)


def test_hypotheses_table_publishes_no_small_subgroup_count(run) -> None:
    run_dir, _, _, k = run
    table = pd.read_csv(run_dir / "hypotheses.tsv", sep="\t")
    for statement in table.loc[table["kind"] == "subgroup", "statement"]:
        for n in re.findall(r"n = (\d+)", statement):
            assert int(n) >= k, statement


def test_reference_profile_and_monitoring_follow_the_runs_min_cell(run) -> None:
    """model.json's reference profile is made with the run's --min-cell, and monitoring
    reads it from the run: race B (10 patients) reads <20 under --min-cell 20."""
    from insightome.monitoring import monitor

    run_dir, attrs, _, k = run
    card = json.loads((run_dir / "model.json").read_text())
    assert card["reference_profile"]["min_cell"] == k
    adata, _, _ = cohort()
    report = monitor(run_dir, adata, labels="diagnosis", allow_training_overlap=True)
    assert report.min_cell == k
    for g, row in report.performance["groups"]["race"].items():
        if int((attrs["race"] == g).sum()) < k:
            assert row["n"] is None and row["suppressed"]["n"] == f"<{k}", (g, row)
        else:
            assert row["n"] is None or row["n"] >= k


# ------------------------------------------------------------------ the rule on its own


def test_the_issue_race_breakdown_cannot_be_undone() -> None:
    """76 / 10 / <10 / 209 / 40 beside 336 gave the hidden 1 away; now a second group is
    hidden, marked as not small, and 1 is as likely as 9 to a reader."""
    from insightome.groups.disclosure import group_disclosure

    sizes = {"A": 76, "B": 10, "C": 1, "D": 209, "E": 40}
    race = np.array([g for g, k in sizes.items() for _ in range(k)])
    shown = group_disclosure({"race": race}, None, "regression", 10)
    marks = {g: shown.size_marker("race", g) for g in sizes}
    assert marks["C"] == "<10"
    hidden = [g for g, m in marks.items() if m == SECONDARY]
    assert hidden and all(sizes[g] >= 10 for g in hidden)
    # the reader's linear programme: n, the shown sizes, '<10' and 'suppressed ≥ 10'
    eq = [np.ones(5)] + [np.eye(5)[i] for i, g in enumerate(sizes) if marks[g] is None]
    b_eq = [336] + [sizes[g] for g in sizes if marks[g] is None]
    ub = [np.eye(5)[2], -np.eye(5)[2]] + [-np.eye(5)[list(sizes).index(g)] for g in hidden]
    b_ub = [9, -1] + [-10] * len(hidden)
    lo = linprog(np.eye(5)[2], A_ub=ub, b_ub=b_ub, A_eq=eq, b_eq=b_eq).fun
    hi = -linprog(-np.eye(5)[2], A_ub=ub, b_ub=b_ub, A_eq=eq, b_eq=b_eq).fun
    assert (lo, hi) == pytest.approx((1, 9))


def test_count_text_honours_min_cell_and_the_recorded_marker() -> None:
    from insightome.groups.disclosure import count_text

    assert count_text({"n": None}, "n", 5) == "<5"
    assert count_text({"n": None, "suppressed": {"n": "suppressed"}}, "n", 5) == SECONDARY
    assert count_text({"n": 3}, "n", 5) == "<5"  # never a small count, whatever the row says
    assert count_text({"n": 12}, "n", 5) == "12"


def test_the_issue_proxy_row_does_not_give_back_the_hidden_groups() -> None:
    """76 / 10 / <10 / 209 / suppressed of 336: the proxy row printed n_used 325 for the
    groups A, D, E, so E = 325 − 76 − 209 = 40 and then C = 1. It hides n_used now."""
    from insightome.audit.data_audit import data_audit

    sizes = {"A": 76, "B": 10, "C": 1, "D": 209, "E": 40}
    race = pd.Series([g for g, k in sizes.items() for _ in range(k)])
    rng = np.random.default_rng(0)
    features = pd.DataFrame(rng.normal(size=(336, 4)), columns=list("wxyz"))
    audit = data_audit(features, rng.normal(size=336), "regression", {"race": race}).to_dict()
    shown = {r["group"]: r["n"] for r in audit["representation"]}
    assert shown["C"] is None and shown["E"] is None  # C small, E its complement
    (row,) = audit["proxies"]["attributes"]
    assert row["groups"] == ["A", "D", "E"]
    assert row["n_used"] is None and row["suppressed"] == {"n_used": SECONDARY}
    aucs = [f["auc"] for f in row["top_features"]] + list(row["multivariate_auc_by_group"].values())
    assert all(v == round(v, 2) for v in aucs if v is not None)  # no exact fraction over n_E


def test_the_rule_knows_which_groups_reach_min_group_size() -> None:
    """The proxy analysis, the model audit and conformal tell which groups have 30 or more
    samples. With A 100 / B 3 / D 200 / E 33, hiding E alone leaves B = 36 − E ≤ 6 to a
    reader who knows E ≥ 30: the rule, told so, hides another group instead."""
    from insightome.groups.disclosure import group_disclosure

    sizes = {"A": 100, "B": 3, "D": 200, "E": 33}
    race = np.array([g for g, k in sizes.items() for _ in range(k)])

    def reader_range(min_group_size: int) -> tuple[float, float]:
        """B's range for a reader of n, the shown sizes, '<10', 'suppressed ≥ 10', and
        which groups reach 30."""
        shown = group_disclosure(
            {"race": race}, None, "regression", 10, min_group_size=min_group_size
        )
        marks = {g: shown.size_marker("race", g) for g in sizes}
        assert marks["B"] == "<10" and SECONDARY in marks.values()
        eq = [np.ones(4)] + [np.eye(4)[i] for i, g in enumerate(sizes) if marks[g] is None]
        b_eq = [336] + [sizes[g] for g in sizes if marks[g] is None]
        ub, b_ub = [np.eye(4)[1], -np.eye(4)[1]], [9, -1]
        for i, g in enumerate(sizes):
            ub.append(-np.eye(4)[i] if sizes[g] >= 30 else np.eye(4)[i])
            b_ub.append(-30 if sizes[g] >= 30 else 29)
        lo = linprog(np.eye(4)[1], A_ub=ub, b_ub=b_ub, A_eq=eq, b_eq=b_eq).fun
        return lo, -linprog(-np.eye(4)[1], A_ub=ub, b_ub=b_ub, A_eq=eq, b_eq=b_eq).fun

    assert reader_range(0) == pytest.approx((1, 6))  # the rule unaware: E alone was hidden
    assert reader_range(30) == pytest.approx((1, 9))
