"""The leakage screen as recorded (``leakage_screen.LeakageScreen.to_dict``): what was
checked before any model was fitted, what may leak the outcome, and that the user was
warned. Statistics only, never row values."""

from __future__ import annotations

from typing import Literal

from insightome.results.fields import MaybeNumber, Number, Record

Reason = Literal["near_duplicate", "near_perfect", "association", "identifier", "name"]
Role = Literal["feature", "sensitive", "site", "groups"]


class LeakageFinding(Record):
    """One column that may leak the outcome."""

    column: str
    role: Role  # a feature, or a sensitive / site / groups column (screened, not a feature)
    reasons: list[Reason]  # most serious first
    statistic: MaybeNumber  # the column alone (LeakageScreen.statistic); null: not computed
    detail: str  # why, in words, with the statistic
    suggestion: str  # what to do (--exclude COLUMN, or confirm it is a baseline measurement)


class LeakageScreen(Record):
    """results.json ``leakage_screen``."""

    checked: int  # columns screened (features + sensitive, site and groups columns)
    rows: int  # the rows the run models
    statistic: str  # AUC, pairwise AUC, |Spearman rho| or C-index (direction-free)
    thresholds: dict[str, Number]  # near_perfect, corroborating, near_duplicate_*
    findings: list[LeakageFinding]  # the most serious first (at most 50)
    n_findings: int  # all findings (findings may list fewer)
    notes: list[str]
    warned: bool  # the console, the run log and the report showed the findings
