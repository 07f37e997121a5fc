"""The leakage screen: columns that may carry the outcome into the model, found before any
model is fitted.

A model that sees follow-up time, a discharge date, a patient number or a recoding of the
outcome scores well for the wrong reason (heart failure's follow-up ``time`` lifts the AUC
from 0.78 to 0.90). :func:`screen_study` looks at every column the run models — and at the
sensitive, site and group columns, which are not features but say something about the
design when they predict the outcome — on the rows the run models, and lists:

* ``near_duplicate`` — the outcome again: a column whose levels map one to one onto the
  classes (a relabelling), or a text column whose levels (at least one per class, at most
  :data:`MAX_LEVELS`) each belong to one class (a refinement: a1/a2/b1/b2/c1/c2), in both
  cases on ≥ :data:`DUPLICATE_AGREEMENT` of the rows (the purity); or with
  ``|Spearman ρ|`` ≥ :data:`DUPLICATE_RHO` with a numeric outcome or survival time (a
  monotone transform);
* ``near_perfect`` — alone, it predicts the outcome almost perfectly: a statistic of
  :mod:`insightome.leakage_statistics` (AUC, pairwise AUC, C-index, ``|Spearman ρ|``;
  direction-free) ≥ :data:`NEAR_PERFECT` (``|ρ|`` ≥ :data:`NEAR_PERFECT_RHO`);
* ``name`` — a name made of a follow-up / time-to-event / after-baseline word
  (:data:`NAME_TOKENS`, matched on whole tokens split at ``_ . - /`` spaces and camelCase,
  so gene symbols such as TIMELESS or DATE1 never match; ``status`` alone or with a
  :data:`STATUS_WORDS` word; ``last`` with ``contact``; never with a
  :data:`BASELINE_TOKENS` word); with a statistic ≥ :data:`CORROBORATING` (AUC scale;
  ``|ρ|`` ≥ :data:`CORROBORATING_RHO`) the finding also has ``association``: the name and
  the data agree. A name that is one capitalised word (OS, EFS — EFS is also a gene) is
  flagged only when the data agree or it is a near duplicate;
* ``identifier`` — unique per row: text, or whole numbers with an identifier-like name,
  consecutive values or the row order.

The screen only warns: it never removes a column (the user decides, with ``--exclude``).
It reports statistics, never row values.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from insightome.leakage_statistics import (
    STATISTIC_NAMES,
    binary_auc,
    concordance,
    level_pairwise_auc,
    level_purity,
    level_scores,
    pairwise_auc,
    spearman,
)
from insightome.study import Study

# Genuine strong biomarkers reach AUC 0.975 (breast cancer's worst perimeter, a clean
# dataset); a column that errs on fewer than 1 in 100 pairs is rarely biology alone.
NEAR_PERFECT = 0.99  # AUC, pairwise AUC, C-index
NEAR_PERFECT_RHO = 0.95  # |Spearman rho| with a numeric outcome
CORROBORATING = 0.75  # AUC / C-index; a rank-biserial correlation of 0.5
CORROBORATING_RHO = 0.5
DUPLICATE_RHO = 0.99
DUPLICATE_AGREEMENT = 0.99
MAX_LEVELS = 10  # text columns with more levels get no statistic (ordering them overfits)
MIN_PER_LEVEL = 5  # rows per level, on average, for a text column refining the classes
PREFILTER = 0.9  # separation a relabelling (≥ 99% agreement) always has
MIN_ROWS_ID = 20
MAX_LISTED = 50  # findings kept in results.json (the count of all is kept too)

#: Words of follow-up, time-to-event and after-baseline columns (whole tokens).
NAME_TOKENS = frozenset(
    """time times days follow followup fu date dates death dead died deceased survival
    survived os pfs dfs dss efs rfs ttp discharge discharged outcome outcomes event events
    los mortality censor censored censoring censorship pfi dfi readmission readmitted
    recurrence relapse progression vital exitus""".split()
)
#: ``status`` is a follow-up word alone (vital status) or with one of these words (TCGA's
#: ``tumor_status``, the status at last contact), but ER/HER2/smoking status are not.
STATUS_WORDS = frozenset("vital tumor tumour disease survival contact".split())
#: A name with one of these words is a baseline measurement (TCGA's ``birth_days_to``).
BASELINE_TOKENS = frozenset("birth dob baseline".split())
ID_TOKENS = frozenset(
    "id ids pid no nr num number idx index key uuid mrn barcode accession".split()
)
REASON_ORDER = ("near_duplicate", "near_perfect", "association", "identifier", "name")


@dataclass
class LeakageFinding:
    """One column that may leak the outcome (statistics only, no row values)."""

    column: str
    role: str  # feature, sensitive, site or groups
    reasons: list[str]
    statistic: float | None
    detail: str
    suggestion: str


@dataclass
class LeakageScreen:
    """What the screen checked and found (results.json ``leakage_screen``)."""

    checked: int
    rows: int
    statistic: str
    thresholds: dict[str, float]
    findings: list[LeakageFinding] = field(default_factory=list)
    n_findings: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def warned(self) -> bool:
        return self.n_findings > 0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["warned"] = self.warned
        return d

    def lines(self) -> list[str]:
        """One plain line per listed finding (console and run log)."""
        return [f"{f.column}: {f.detail} — {f.suggestion}" for f in self.findings]


# a camelCase hump: lower → Upper (followUp), or the last capital of a run before a
# lowercase letter (HTTPServer); never at a digit
_HUMP = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def tokens(name: str) -> list[str]:
    """A column name's words: split at ``_ . - /`` and spaces, and at camelCase humps
    (``followUpTime`` → follow, up, time); never inside a run of capitals or at digits,
    so ``TIMELESS`` and ``DATE1`` stay one word each."""
    words = []
    for part in re.split(r"[\s_.\-/:()\[\]]+", str(name)):
        words.extend(_HUMP.sub(" ", part).split())
    return [w.lower() for w in words if w]


def name_match(name: str) -> str | None:
    """The follow-up word(s) the name is made of, or None (never for a name with a
    baseline word: ``birth_days_to`` is an age)."""
    words = tokens(name)
    if BASELINE_TOKENS.intersection(words):
        return None
    # a name mixing letters and digits in one word (DATE1, OS9) is not split: no match
    word = next((w for w in words if w in NAME_TOKENS), None)
    if word is not None:
        return word
    if "status" in words:
        qualifier = [w for w in words if w in STATUS_WORDS]
        if words == ["status"] or qualifier:
            return " ".join([*qualifier[:1], "status"])
    if "last" in words and "contact" in words:
        return "last contact"
    return None


def acronym(name: str) -> bool:
    """A name that is one word in capitals (OS, EFS, LOS): also a gene symbol's shape
    (EFS is one), so the name rule needs the data to agree (module docstring)."""
    text = str(name).strip()
    return len(tokens(text)) == 1 and text.isupper()


def _screened_columns(made: Study) -> tuple[pd.DataFrame, dict[str, str]]:
    """The features, plus the sensitive, site and group columns (not features unless
    ``--use-sensitive``), each with its role."""
    spec = made.spec
    roles = {str(c): "feature" for c in made.features.columns}
    extra = {}
    for col, role in [*((s, "sensitive") for s in spec.sensitive), (spec.site, "site"),
                      (spec.groups, "groups")]:  # fmt: skip
        if col and col in made.obs.columns and col not in roles:
            roles[col] = role
            extra[col] = made.obs[col]
    table = made.features
    if extra:
        table = pd.concat([table, pd.DataFrame(extra, index=made.features.index)], axis=1)
    return table, roles


def _numeric(
    table: pd.DataFrame, task: str, y: np.ndarray
) -> tuple[np.ndarray, list[int], list[str]]:
    """The columns as one float matrix (text columns by :func:`level_scores`, NaN when
    they have too many levels); the positions of the text columns scored, the names of
    those left unscored."""
    numeric = [pd.api.types.is_numeric_dtype(t) for t in table.dtypes]
    X = np.full(table.shape, np.nan)
    if all(numeric):
        return table.to_numpy(dtype=float, na_value=np.nan), [], []
    idx = np.flatnonzero(numeric)
    if len(idx):
        X[:, idx] = table.iloc[:, idx].to_numpy(dtype=float, na_value=np.nan)
    scored, unscored = [], []
    for j in np.flatnonzero(~np.asarray(numeric)):
        col = table.iloc[:, j]
        if col.nunique(dropna=True) > MAX_LEVELS:
            unscored.append(str(table.columns[j]))
            continue
        X[:, j] = level_scores(col.astype(object), task, y)
        scored.append(int(j))
    return X, scored, unscored


def _statistics(
    X: np.ndarray, table: pd.DataFrame, text: list[int], made: Study, notes: list[str],
    seed: int,
) -> np.ndarray:  # fmt: skip
    task, y = made.spec.task, made.y
    if task == "binary":
        return binary_auc(X, y == 1)
    if task == "multiclass":
        codes = np.asarray(y, dtype=int)
        stat = pairwise_auc(X, codes)
        for j in text:  # levels have no order: each pair of classes orders them its way
            stat[j] = level_pairwise_auc(table.iloc[:, j].astype(object), codes)
        return stat
    if task == "regression":
        return spearman(X, np.asarray(y, dtype=float))
    time, event = made.time_event
    stat, n_pairs, used = concordance(X, time.astype(float), event, seed)
    if used < n_pairs:
        notes.append(
            f"C-index from a fixed random sample of {used:,} of the {n_pairs:,} comparable "
            "pairs (standard error about 0.003)"
        )
    return stat


def _distinct(table: pd.DataFrame, X: np.ndarray) -> np.ndarray:
    """Distinct known values per column: sorted differences for the numeric columns
    (pandas' per-column nunique takes seconds on 20,000 features)."""
    numeric = np.array([pd.api.types.is_numeric_dtype(t) for t in table.dtypes], dtype=bool)
    out = np.zeros(table.shape[1], dtype=int)
    idx = np.flatnonzero(numeric)
    if len(idx) and len(table):
        s = np.sort(X[:, idx], axis=0)  # NaN last
        known = ~np.isnan(s)
        steps = (np.diff(s, axis=0) != 0) & known[1:]
        out[idx] = np.where(known[0], 1 + steps.sum(axis=0), 0)
    for j in np.flatnonzero(~numeric):
        out[j] = table.iloc[:, j].nunique(dropna=True)
    return out


def _duplicates(
    table: pd.DataFrame, X: np.ndarray, made: Study, distinct: np.ndarray, stat: np.ndarray
) -> dict[str, str]:
    """Columns equal to the outcome up to a relabelling or a monotone transform → why."""
    task, out = made.spec.task, {}
    if task in ("regression", "survival"):
        outcome = np.abs(made.y) if task == "survival" else np.asarray(made.y, dtype=float)
        what = "survival time" if task == "survival" else "the outcome"
        rho = spearman(X, outcome)
        for j in np.flatnonzero(rho >= DUPLICATE_RHO):
            out[str(table.columns[j])] = (
                f"a monotone transform of {what} (|Spearman rho| {rho[j]:.3f})"
            )
    labels = (made.y > 0).astype(int) if task == "survival" else made.y
    if task == "regression":
        return out
    k = len(np.unique(labels))
    what = "the event indicator" if task == "survival" else "the outcome"
    numeric = np.array([pd.api.types.is_numeric_dtype(t) for t in table.dtypes], dtype=bool)
    candidates = np.flatnonzero(numeric & (distinct == k))
    # a relabelling orders the classes (the event) perfectly: only near-perfect numeric
    # columns need the cross-table (20,000 binary mutation calls would take a minute)
    if task == "survival" and len(candidates):
        separation = binary_auc(X[:, candidates], labels == 1)
    else:
        separation = stat[candidates]
    candidates = candidates[np.nan_to_num(separation) >= PREFILTER]
    # text columns with a level or more per class (a few): all of them, since levels
    # refining the classes (a1/a2/b1/b2/c1/c2) need not order them; a refinement needs
    # MIN_PER_LEVEL rows a level on average (tiny levels are pure by chance)
    text = np.flatnonzero(
        ~numeric
        & ((distinct == k) | ((distinct > k) & (distinct * MIN_PER_LEVEL <= len(table))))
        & (distinct <= MAX_LEVELS)
    )
    for j in np.concatenate([candidates, text]).astype(int):
        purity, majorities = level_purity(table.iloc[:, j], labels)
        if majorities == k and purity >= DUPLICATE_AGREEMENT:
            out[str(table.columns[j])] = (
                f"{what} relabelled ({purity:.1%} of the rows with a value agree)"
                if distinct[j] == k
                else f"{what} refined: each of its {distinct[j]} levels is one class "
                f"({purity:.1%} of the rows with a value are in their level's class)"
            )
    return out


def _identifiers(
    table: pd.DataFrame, X: np.ndarray, roles: dict[str, str], distinct: np.ndarray
) -> dict[str, str]:
    """Columns unique per row that look like identifiers → why."""
    n, out = len(table), {}
    if n < MIN_ROWS_ID:
        return out
    numeric = np.array([pd.api.types.is_numeric_dtype(t) for t in table.dtypes], dtype=bool)
    candidates = np.flatnonzero(distinct == n)
    complete = table.iloc[:, candidates].notna().all().to_numpy()
    candidates = candidates[complete]
    whole = np.all(X[:, candidates] == np.round(X[:, candidates]), axis=0)
    # unique text, or unique whole numbers (unique measurements are not identifiers)
    for j in candidates[whole | ~numeric[candidates]]:
        name = str(table.columns[j])
        if roles[name] == "groups":
            continue  # an identifier by design
        if not numeric[j]:
            out[name] = "a different text value in every row (an identifier)"
            continue
        values = X[:, j]
        named = any(w in ID_TOKENS for w in tokens(name))
        consecutive = values.max() - values.min() + 1 == n
        ordered = abs(pd.Series(values).corr(pd.Series(np.arange(n)), method="spearman")) >= 0.99
        if named or consecutive or ordered:
            why = "an identifier-like name" if named else (
                "consecutive numbers" if consecutive else "numbers following the row order"
            )  # fmt: skip
            out[name] = f"a different whole number in every row ({why})"
    return out


def _suggestion(column: str, role: str, reasons: list[str]) -> str:
    if role != "feature":
        option = {"sensitive": "--sensitive", "site": "--site", "groups": "--groups"}[role]
        return (
            f"not a feature ({option} column): check the design — an outcome this well told "
            "by it can make the estimate reflect it rather than the biology"
        )
    if reasons == ["identifier"]:
        return f"give it with --id-column or leave it out with --exclude {column}"
    return (
        f"leave it out with --exclude {column}, unless it is measured at baseline "
        "(before the outcome could be known)"
    )


def screen_study(made: Study, seed: int = 0) -> LeakageScreen:
    """Screen the study's columns (module docstring); only statistics, never row values."""
    task = made.spec.task
    table, roles = _screened_columns(made)
    notes: list[str] = []
    X, text, unscored = _numeric(table, task, made.y)
    if unscored:
        notes.append(
            f"{len(unscored)} text column(s) with more than {MAX_LEVELS} levels have no "
            "statistic (ordering many levels by the outcome would overfit)"
        )
    stat = _statistics(X, table, text, made, notes, seed)
    regression = task == "regression"
    near_perfect = NEAR_PERFECT_RHO if regression else NEAR_PERFECT
    corroborating = CORROBORATING_RHO if regression else CORROBORATING
    distinct = _distinct(table, X)
    duplicates = _duplicates(table, X, made, distinct, stat)
    identifiers = _identifiers(table, X, roles, distinct)
    label = STATISTIC_NAMES[task]
    found: list[LeakageFinding] = []
    for j, column in enumerate(map(str, table.columns)):
        value = None if np.isnan(stat[j]) else float(stat[j])
        reasons, parts = [], []
        if column in duplicates:
            reasons.append("near_duplicate")
            parts.append(duplicates[column])
        if value is not None and value >= near_perfect:
            reasons.append("near_perfect")
            parts.append(f"alone predicts the outcome almost perfectly ({label} {value:.3f})")
        word = name_match(column)
        corroborated = value is not None and value >= corroborating
        if word is not None and acronym(column) and not (corroborated or reasons):
            word = None  # OS, EFS: also gene symbols; flagged when the data agree
        if word is not None:
            reasons.append("name")
            text = f"named like follow-up or time-to-event data ('{word}')"
            if corroborated and "near_perfect" not in reasons:
                reasons.append("association")
                text += f" and strongly associated with the outcome ({label} {value:.3f})"
            parts.append(text)
        if column in identifiers:
            reasons.append("identifier")
            parts.append(identifiers[column])
        if not reasons:
            continue
        if roles[column] != "feature":
            parts.append(f"{roles[column]} column")
        reasons.sort(key=REASON_ORDER.index)
        found.append(
            LeakageFinding(column, roles[column], reasons, value, "; ".join(parts),
                           _suggestion(column, roles[column], reasons))
        )  # fmt: skip
    found.sort(key=lambda f: (REASON_ORDER.index(f.reasons[0]), -(f.statistic or 0.0)))
    if len(found) > MAX_LISTED:
        notes.append(f"{len(found)} findings; the {MAX_LISTED} most serious are listed")
    return LeakageScreen(
        checked=table.shape[1],
        rows=made.n_samples,
        statistic=label,
        thresholds={
            "near_perfect": near_perfect,
            "corroborating": corroborating,
            "near_duplicate_rho": DUPLICATE_RHO,
            "near_duplicate_agreement": DUPLICATE_AGREEMENT,
        },
        findings=found[:MAX_LISTED],
        n_findings=len(found),
        notes=notes,
    )
