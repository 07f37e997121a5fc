"""Data audit: who is in the data, what is missing for whom, and what encodes whom.

For each sensitive attribute (labels from :func:`insightome.groups.labels.group_labels`):

1. **Representation.** Per group: the number and percentage of samples and an outcome
   summary — binary: prevalence of the positive class with a Wilson (1927) 95% score
   interval; multiclass: the class distribution; regression: mean and SD; survival: the
   number of events and the event rate (events / samples; not a survival probability).
2. **Missingness.** Per group, the mean percentage of missing values over the features; and
   the five features whose missingness differs most between groups, with the highest and
   lowest group rates. Missing-not-at-random by group is a classic route to biased models.
3. **Proxies.** A model can learn a sensitive attribute through features that encode it,
   even when the attribute itself is excluded ("fairness through unawareness" fails:
   Dwork et al. 2012; Pedreschi, Ruggieri & Turini 2008 on redlining). Per feature, the
   univariate AUC of the feature for the attribute (orientation-free: max(AUC, 1 − AUC);
   multi-level attributes: the largest one-vs-rest AUC); and the 5-fold cross-validated
   AUC of an L2 logistic regression (median imputation and scaling fitted in each training
   fold) on all features, with the same definition. AUCs ≥ ``proxy_auc`` (default 0.8) are
   flagged. Only known groups of at least ``min_group_size`` samples enter this analysis.
4. **Confounding with site/batch** (when ``site`` is given): the association of the outcome
   with site — chi-square test of independence and Cramér's V (binary/multiclass),
   Kruskal–Wallis (regression) or the multivariate log-rank test (survival). Sites with
   fewer than ``min_cell`` samples are pooled. A site-associated outcome lets a model score
   well by recognising the site (batch effects) rather than the biology.

With ``sample_groups`` (``--groups``: several samples per patient) the audit counts patients,
since copies of a patient add no information (:mod:`insightome.evaluate.group_level`).
Representation, outcome summaries with their Wilson intervals, missingness (a patient's
share of missing samples) and the site test run on one row per patient, each patient in the
group (and site) of most of their samples — a note says when an attribute varies within
patients. The univariate proxy AUCs use patient means of the features, groups are kept for
the proxy analysis by their number of patients, and the proxy model's folds keep a patient's
samples together (``StratifiedGroupKFold``): split by sample, a model that recognises the
patients would "predict" the attribute. When the outcome varies within patients there is no
per-patient outcome: representation, missingness and the site test then count samples, and
the notes say that groups were not respected there.

Privacy: only aggregates leave this module. Group sizes and outcome counts follow the one
suppression rule of :mod:`insightome.groups.disclosure`: a hidden count is ``None`` with its
marker under the row's ``suppressed`` (``<min_cell`` when small, "suppressed" when hidden so
that a small one cannot be recomputed), and every rate computed from a hidden count is
``None`` too. A proxy row whose groups include one of hidden size hides ``n_used`` and
rounds its AUCs (:func:`insightome.audit.proxies.publish_proxies`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from lifelines.statistics import multivariate_logrank_test
from scipy import stats

from insightome.audit.proxies import PROXY_AUC, TOP_FEATURES, proxy_analysis, publish_proxies
from insightome.errors import UserError
from insightome.evaluate.group_level import (
    NOT_RESPECTED,
    constant_within,
    group_codes,
    modal_per_group,
    one_row_per_group,
)
from insightome.evaluate.intervals import wilson_interval
from insightome.groups.disclosure import MIN_CELL, NOTE, SHOWN, GroupDisclosure, group_disclosure
from insightome.groups.labels import UNKNOWN, aligned_labels, group_counts

TASKS = ("binary", "multiclass", "regression", "survival")
OTHER_SITES = "other sites (<{min_cell} each)"

AUDIT_TASK_INVALID = "audit task must be binary, multiclass, regression or survival, not '{value}'."
AUDIT_LENGTH = (
    "{what} has {n_values} values for {n} samples. Give one value per sample, in the order of "
    "the features."
)


@dataclass(frozen=True)
class DataAudit:
    """Aggregate, privacy-preserving description of the data by sensitive group."""

    n: int
    task: str
    min_cell: int
    representation: list[dict[str, Any]]
    missingness: list[dict[str, Any]]
    proxies: dict[str, Any]
    confounding: dict[str, Any] | None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {
                "n": self.n,
                "task": self.task,
                "min_cell": self.min_cell,
                "representation": self.representation,
                "missingness": self.missingness,
                "proxies": self.proxies,
                "confounding": self.confounding,
                "notes": self.notes,
            }
        )


def data_audit(
    features: pd.DataFrame,
    y: np.ndarray,
    task: str,
    groups: Mapping[str, pd.Series],
    *,
    classes: Sequence[str] = (),
    site: pd.Series | None = None,
    min_cell: int = MIN_CELL,
    seed: int = 0,
    proxy_auc: float = PROXY_AUC,
    min_group_size: int = 30,
    sample_groups: np.ndarray | None = None,
) -> DataAudit:
    """Audit ``features``/``y`` by the groups in ``groups`` (see the module docstring).

    ``groups`` maps attribute → one label per sample (indexed like ``features``, or in its
    order), e.g. from :func:`insightome.groups.labels.group_labels`; ``site`` likewise.
    ``proxy_auc`` is the AUC at which proxies are flagged; groups smaller than
    ``min_group_size`` are left out of the proxy analysis (a tiny group's AUC is noise, and
    the largest of several noisy one-vs-rest AUCs is biased upwards). ``sample_groups``
    (one patient ID per sample, ``--groups``) makes the audit count patients.
    """
    if task not in TASKS:
        raise UserError(AUDIT_TASK_INVALID, value=task)
    y = np.asarray(y)
    n = len(features)
    if len(y) != n:
        raise UserError(AUDIT_LENGTH, what="the outcome", n_values=len(y), n=n)
    if sample_groups is not None and len(sample_groups) != n:
        raise UserError(AUDIT_LENGTH, what="the --groups column", n_values=len(sample_groups), n=n)
    labels = aligned_labels(groups, n, features.index)
    if task in ("binary", "multiclass") and not classes:
        classes = [str(c) for c in range(int(y.max()) + 1 if n else 0)]
    classes = list(classes)
    notes: list[str] = []
    representation, missingness = [], []
    # the float64 table and the missingness mask serve the by-group parts only: without
    # sensitive attributes they would be two whole-table copies (1.1 GB at 100,000 x 1,000)
    X = _numeric(features) if labels else None
    missing = features.isna().to_numpy() if labels else None
    site_values = None
    if site is not None:
        site_values = aligned_labels({"site": site}, n, features.index)["site"]
    # the by-group statistics below count units: samples, or patients with --groups
    unit, unit_labels, unit_y, unit_site = "samples", labels, y, site_values
    if sample_groups is not None and (labels or site_values is not None):
        unit, unit_labels, unit_y, unit_site, missing = _per_patient(
            labels, y, site_values, missing, sample_groups, notes
        )
    n_units = len(unit_y)
    # the proxy analysis (and the model audit, conformal) tell which groups reach the size
    shown = group_disclosure(unit_labels, unit_y, task, min_cell, min_group_size=min_group_size)
    for name, lab in unit_labels.items():
        values, counts = group_counts(lab)  # bands in age order
        small = [str(v) for v, c in zip(values, counts, strict=True) if c < min_cell]
        if small:
            notes.append(
                f"'{name}': {len(small)} group(s) with fewer than {min_cell} {unit}; their "
                "counts and estimates are suppressed."
            )
        if len(values) < 2:
            notes.append(f"'{name}' has a single group: nothing to compare.")
        n_unknown = int(np.sum(lab == UNKNOWN))
        if n_unknown:
            visible = shown.size_shown(name, UNKNOWN)
            share = f"{100 * n_unknown / n_units:.1f}%" if visible else "some"
            notes.append(f"'{name}' is unknown for {share} of {unit} (group 'unknown').")
        for v, c in zip(values, counts, strict=True):
            row = {"attribute": name, "group": str(v), "n": None, "percent": None}
            row["outcome"] = None
            if shown.size_shown(name, str(v)):
                row |= {"n": int(c), "percent": 100 * c / n_units}
                row["outcome"] = _outcome_summary(
                    unit_y[lab == v], task, classes, shown, name, str(v)
                )
            else:
                row["suppressed"] = dict.fromkeys(("n", "percent"), shown.size_marker(name, v))
            representation.append(row)
        missingness.append(_missingness(name, lab, values, counts, missing, features, shown))
    if any(s != SHOWN for s in shown.status.values()):
        notes.append(NOTE.format(k=min_cell))
    patients = None if sample_groups is None else group_codes(sample_groups)
    proxies = proxy_analysis(
        X, labels, max(min_cell, min_group_size), proxy_auc, seed, notes, patients
    )
    publish_proxies(proxies, shown, notes)
    confounding = None
    if unit_site is not None:
        confounding = _confounding(unit_y, task, unit_site, classes, min_cell, notes, unit)
    return DataAudit(n, task, min_cell, representation, missingness, proxies, confounding, notes)


def _per_patient(
    labels: Mapping[str, np.ndarray],
    y: np.ndarray,
    site: np.ndarray | None,
    missing: np.ndarray | None,
    sample_groups: np.ndarray,
    notes: list[str],
) -> tuple[str, dict[str, np.ndarray], np.ndarray, np.ndarray | None, np.ndarray | None]:
    """``(unit, labels, y, site, missing)`` with one row per patient (``--groups``).

    Each patient is in the group (and site) of most of their samples, and their missingness
    is the share of their samples missing each feature. When the outcome varies within
    patients, nothing changes and the notes say so.
    """
    codes = group_codes(sample_groups)
    n, g = len(codes), int(codes.max()) + 1
    if not constant_within(y, codes):
        notes.append(
            f"--groups: the outcome varies within patients, so there is no per-patient outcome: "
            f"representation, outcome rates with their intervals, missingness and the site "
            f"test count the {n} samples as independent ({NOT_RESPECTED}); their intervals "
            "are too narrow and their p-values too small."
        )
        return "samples", dict(labels), y, site, missing
    notes.append(
        f"--groups: representation, outcome rates with their Wilson intervals, missingness "
        f"and the site test count patients ({g} patients, {n} samples), each in the group "
        "of most of their samples; missingness is the share of a patient's samples."
    )

    def modal(name: str, values: np.ndarray) -> np.ndarray:
        if not constant_within(values, codes):
            spread = int((pd.Series(values).groupby(codes).nunique() > 1).sum())
            notes.append(
                f"'{name}' varies within {spread} patient(s) (--groups): each is counted in "
                "the group of most of their samples."
            )
        return modal_per_group(values, codes).to_numpy(str)

    per_patient = {name: modal(name, lab) for name, lab in labels.items()}
    site = modal("site", site) if site is not None else None
    if missing is not None:
        zeros = np.zeros(n)
        missing = one_row_per_group(pd.DataFrame(missing), zeros, codes, "")[0].to_numpy()
    first = np.unique(codes, return_index=True)[1]
    return "patients", per_patient, y[first], site, missing


def _outcome_summary(
    y: np.ndarray,
    task: str,
    classes: list[str],
    shown: GroupDisclosure,
    attribute: str,
    group: str,
) -> dict[str, Any]:
    """A shown group's outcome: counts the disclosure rule lets through, and rates only
    when every count they are computed from is shown (a rate and its n give a count)."""
    n = len(y)
    whole = shown.all_shown(attribute, group)
    if task == "binary":
        k = int(np.sum(y == 1))
        visible = shown.cell_shown(attribute, group, 1)
        out = {
            "positive_class": classes[1] if len(classes) > 1 else "1",
            "n_positive": k if visible else None,
            "prevalence": k / n if whole else None,
            "prevalence_ci95": list(wilson_interval(k, n)) if whole else None,
        }
        if not visible:
            out["suppressed"] = {"n_positive": shown.cell_marker(attribute, group, 1)}
        return out
    if task == "multiclass":
        counts = np.bincount(y.astype(int), minlength=len(classes))
        out: dict[str, Any] = {"classes": {}}
        for code, (name, c) in enumerate(zip(classes, counts, strict=False)):
            visible = shown.cell_shown(attribute, group, code)
            entry = {"n": int(c) if visible else None, "percent": 100 * c / n if whole else None}
            if not visible:
                entry["suppressed"] = {"n": shown.cell_marker(attribute, group, code)}
            out["classes"][name] = entry
        return out
    if task == "regression":
        v = y.astype(float)
        return {"mean": float(np.mean(v)), "sd": float(np.std(v, ddof=1)) if n > 1 else None}
    events = int(np.sum(y > 0))
    visible = shown.cell_shown(attribute, group, 1)
    out = {"events": events if visible else None, "event_rate": events / n if whole else None}
    if not visible:
        out["suppressed"] = {"events": shown.cell_marker(attribute, group, 1)}
    return out


def _missingness(
    name: str,
    lab: np.ndarray,
    values: np.ndarray,
    counts: np.ndarray,
    missing: np.ndarray,
    features: pd.DataFrame,
    disclosure: GroupDisclosure,
) -> dict[str, Any]:
    by_group, rates, shown = [], [], []
    for v, c in zip(values, counts, strict=True):
        ok = disclosure.size_shown(name, str(v))
        rate = 100 * missing[lab == v].mean(axis=0) if ok and missing.shape[1] else None
        mean = float(rate.mean()) if rate is not None else None
        entry = {"group": str(v), "n": int(c) if ok else None, "mean_percent_missing": mean}
        if not ok:
            entry["suppressed"] = {"n": disclosure.size_marker(name, str(v))}
        by_group.append(entry)
        if rate is not None and v != UNKNOWN:
            rates.append(rate)
            shown.append(str(v))
    most_different = []
    if len(rates) >= 2:
        R = np.vstack(rates)  # groups × features
        spread = R.max(axis=0) - R.min(axis=0)
        for j in np.argsort(-spread, kind="stable")[:TOP_FEATURES]:
            if spread[j] <= 0:
                break
            hi, lo = int(R[:, j].argmax()), int(R[:, j].argmin())
            most_different.append(
                {
                    "feature": str(features.columns[j]),
                    "highest": {"group": shown[hi], "percent_missing": float(R[hi, j])},
                    "lowest": {"group": shown[lo], "percent_missing": float(R[lo, j])},
                    "difference": float(spread[j]),
                }
            )
    return {"attribute": name, "by_group": by_group, "most_different": most_different}


def _numeric(features: pd.DataFrame) -> pd.DataFrame:
    """Numeric features; other columns one-hot encoded (missing stays missing)."""
    numeric = features.select_dtypes(include=["number", "bool"]).astype(float)
    other = features.drop(columns=numeric.columns)
    if other.shape[1] == 0:
        return numeric
    dummies = pd.get_dummies(other.astype("category"), prefix_sep="=", dtype=float)
    for col in other.columns:
        cols = [c for c in dummies.columns if str(c).startswith(f"{col}=")]
        dummies.loc[other[col].isna(), cols] = np.nan
    return pd.concat([numeric, dummies], axis=1)


def _confounding(
    y: np.ndarray,
    task: str,
    site: np.ndarray,
    classes: list[str],
    min_cell: int,
    notes: list[str],
    unit: str = "samples",
) -> dict[str, Any]:
    known = site != UNKNOWN
    values, counts = np.unique(site[known], return_counts=True)
    small = values[counts < min_cell]
    other = OTHER_SITES.format(min_cell=min_cell)
    site = np.where(np.isin(site, small), other, site)
    if len(small):
        notes.append(f"site: {len(small)} site(s) with fewer than {min_cell} {unit} pooled.")
    if 0 < int((site == other).sum()) < min_cell:  # the pool itself is too small to report
        known &= site != other
    if (~known).any():
        notes.append(f"site: {unit} of unknown (or too rare, pooled) sites left out of the test.")
    y_k, s_k = y[known], site[known]
    sites = sorted(np.unique(s_k))
    out: dict[str, Any] = {"n_used": int(known.sum()), "n_sites": len(sites), "sites": []}
    shown = group_disclosure({"site": s_k}, y_k, task, min_cell)
    for s in sites:
        row: dict[str, Any] = {"site": s, "n": None, "outcome": None}
        if shown.size_shown("site", s):
            row["n"] = int((s_k == s).sum())
            row["outcome"] = _outcome_summary(y_k[s_k == s], task, classes, shown, "site", s)
        else:
            row["suppressed"] = {"n": shown.size_marker("site", s)}
        out["sites"].append(row)
    out |= dict.fromkeys(("test", "statistic", "dof", "p_value", "cramers_v"))
    if len(sites) < 2:
        notes.append("site: fewer than two sites with enough samples; no confounding test.")
    elif task in ("binary", "multiclass"):
        table = pd.crosstab(s_k, y_k).to_numpy()
        chi2, p, dof, _ = stats.chi2_contingency(table, correction=False)
        v = math.sqrt(chi2 / (table.sum() * (min(table.shape) - 1))) if min(table.shape) > 1 else 0
        out |= {"test": "chi-square", "statistic": chi2, "dof": int(dof), "p_value": p}
        out["cramers_v"] = v
    elif task == "regression":
        res = stats.kruskal(*[y_k[s_k == s].astype(float) for s in sites])
        out |= {"test": "Kruskal–Wallis", "statistic": res.statistic, "p_value": res.pvalue}
        out["dof"] = len(sites) - 1
    else:
        res = multivariate_logrank_test(np.abs(y_k.astype(float)), s_k, y_k > 0)
        out |= {"test": "log-rank", "statistic": res.test_statistic, "p_value": res.p_value}
        out["dof"] = len(sites) - 1
    return out


def jsonable(obj: Any) -> Any:
    """Plain JSON types; NaN/inf become None."""
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | np.ndarray):
        return [jsonable(v) for v in obj]
    if isinstance(obj, bool | np.bool_):
        return bool(obj)
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        return float(obj) if math.isfinite(obj) else None
    return obj
