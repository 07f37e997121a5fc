"""Univariate effects of every feature on the outcome: effect size, 95% CI, p- and q-value.

Everything is computed from column-wise ranks or risk-set sums, vectorized over blocks of
features (a few sorts per block, no per-feature loop): 20,000 features × 100 samples take about
a second, 1,000 features × 100,000 samples 10–60 s.

* **binary** — effect: AUC of the feature for the positive class (class code 1),
  ``P(x_pos > x_neg) + ½P(tie)`` = Mann–Whitney ``U₁ / (n₁n₀)``. CI: DeLong et al. (1988)
  variance from the placement values (a nonparametric, consistent estimate of the variance of
  the U-statistic; preferred to Hanley & McNeil 1982, which assumes exponential scores),
  Wald interval clipped to [0, 1]; at complete separation the variance is 0 and the interval
  degenerates to the point. Test: two-sided Mann–Whitney U, normal approximation with tie and
  continuity correction (scipy's ``method="asymptotic"``). ``mean_difference`` is
  ``mean(pos) − mean(neg)``; ``log2_fold_change`` is ``log2(mean(pos) / mean(neg))`` only for
  features without negative values and with both means > 0 (zeros are allowed: count data).
  Negative values mean centred, z-scored or log data, where a ratio of means is undefined, and
  a mean difference is a log fold change only if the log base is known — so it is NaN there.
  Non-negative data are assumed to be on a linear scale.
* **multiclass** — effect: the one-vs-rest AUC of the class whose AUC is farthest from 0.5
  (named in ``direction``), with its DeLong CI. Test: Kruskal–Wallis H (tie-corrected).
* **regression** — effect: Spearman ρ. CI: Fisher z with the Bonett & Wright (2000) standard
  error ``√((1 + ρ²/2)/(n − 3))``. Test: t approximation ``ρ√((n−2)/(1−ρ²))``, as scipy.
* **survival** — test: Cox partial-likelihood score test at β = 0 (Breslow ties, i.e. the
  log-rank test for a binary feature; the same statistic as
  :func:`insightome.models.survival.cox_score_test`, with missing values dropped per feature
  instead of mean-imputed). Effect: hazard ratio per 1 SD. For the features in ``detail`` it is
  lifelines' ``CoxPHFitter`` (Efron ties) with its Wald CI; for the others the one-step Newton
  estimate from the score test, ``β = U/I`` with ``SE = I^(-1/2)`` (both at β = 0, scaled by
  the SD): free, accurate for the small effects typical of omics, off by ~10% in HR for strong
  ones (Rossi ``prio``: 1.47 against 1.34). ``ci_method`` says which.
* **categorical** columns — chi-square test of independence (classes), Kruskal–Wallis
  (regression), multivariate log-rank (survival); effect NaN. Constant or all-missing
  columns get p = NaN and are left out of the multiple-testing correction.

``statistic`` is a signed z-score for pre-ranked GSEA: positive = higher in the positive
class / positively correlated / higher hazard (the Mann–Whitney z, ``Φ⁻¹`` of the Spearman t
p-value, the score z ``U/√I``). Multiclass has no sign: it is the z-equivalent of the
Kruskal–Wallis p-value (≥ 0). Categorical features get NaN. ``q_value``: Benjamini &
Hochberg (1995) over all tested features. For ``detail`` features of classification and
regression tasks a percentile bootstrap CI (``boot_ci_low``/``boot_ci_high``, ``n_bootstrap``
resamples, vectorized over features and resamples) is reported next to the analytic one.

**Groups** (several samples per patient, ``groups``): when the outcome is constant within
every patient, every statistic above runs on one row per patient (numeric features averaged
over the patient's samples; :func:`insightome.evaluate.group_level.one_row_per_group`), so
``n`` counts patients and the bootstrap resamples patients. When the outcome varies within
patients the samples are used and ``test`` ends in "(groups not respected)". Either way
``attrs["groups_note"]`` says which, for the run's notes.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import special, stats

from insightome.evaluate.group_level import NOT_RESPECTED, one_row_per_group
from insightome.models.survival import split_signed_time

COLUMNS = [
    "effect_name", "effect", "ci_low", "ci_high", "ci_method", "p_value", "q_value", "n",
    "direction", "statistic", "test", "mean_difference", "log2_fold_change",
    "boot_ci_low", "boot_ci_high",
]  # fmt: skip
Z95 = stats.norm.ppf(0.975)
_BLOCK_CELLS = 4_000_000  # samples × features per vectorized block (bounds memory)
_BOOT_CELLS = 50_000_000  # resamples × samples × detail features above which no bootstrap


def bh_adjust(p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg q-values; NaN stays NaN and does not count as a test."""
    p = np.asarray(p, dtype=float)
    q = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        q[ok] = stats.false_discovery_control(p[ok], method="bh")
    return q


def _rank(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Column-wise mid-ranks (NaN stays NaN), tie term ``Σ(t³ − t)``, number of distinct values."""
    Xt = np.ascontiguousarray(X.T)  # features × samples: sort along contiguous rows
    n = Xt.shape[1]
    order = np.argsort(Xt, axis=1)  # NaN sorts last; tie order is irrelevant for mid-ranks
    S = np.take_along_axis(Xt, order, axis=1)
    nan = np.isnan(S)
    new = np.ones(S.shape, dtype=bool)
    new[:, 1:] = S[:, 1:] != S[:, :-1]
    last = np.ones(S.shape, dtype=bool)
    last[:, :-1] = new[:, 1:]
    pos = np.arange(n)[None, :]
    start = np.maximum.accumulate(np.where(new, pos, 0), axis=1)
    end = np.minimum.accumulate(np.where(last, pos, n)[:, ::-1], axis=1)[:, ::-1]
    r = (start + end) * 0.5 + 1
    r[nan] = np.nan
    R = np.empty_like(r)
    np.put_along_axis(R, order, r, axis=1)
    t = (end - start + 1).astype(float)
    tie = np.where(last & ~nan, t**3 - t, 0).sum(axis=1)  # counted once per tie group
    return R.T, tie, (new & ~nan).sum(axis=1)


def _auc(X: np.ndarray, pos: np.ndarray, neg: np.ndarray, R: np.ndarray | None = None):
    """AUC of each column for ``pos`` vs ``neg`` rows (boolean, NaN rows in neither)."""
    R = _rank(np.where(pos | neg, X, np.nan))[0] if R is None else R
    n1, n0 = pos.sum(axis=0), neg.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (np.where(pos, R, 0).sum(axis=0) - n1 * (n1 + 1) / 2) / (n1 * n0)


def _within(X: np.ndarray, mask: np.ndarray, rows: np.ndarray | None) -> np.ndarray:
    """Ranks among the ``mask`` entries of each column (``rows``: the same rows in every column)."""
    if rows is None:
        return _rank(np.where(mask, X, np.nan))[0]
    out = np.full(X.shape, np.nan)
    out[rows] = _rank(X[rows])[0]
    return out


def _delong_ci(X, pos, neg, R, auc, rows=(None, None)):
    """DeLong (1988) 95% Wald CI of the AUC, from placement values, clipped to [0, 1]."""
    n1, n0 = pos.sum(axis=0), neg.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        v10 = (R - _within(X, pos, rows[0])) / n0
        v01 = 1 - (R - _within(X, neg, rows[1])) / n1
        s10 = np.where(pos, (v10 - auc) ** 2, 0).sum(axis=0) / (n1 - 1)
        s01 = np.where(neg, (v01 - auc) ** 2, 0).sum(axis=0) / (n0 - 1)
        se = np.sqrt(s10 / n1 + s01 / n0)
    return np.clip(auc - Z95 * se, 0, 1), np.clip(auc + Z95 * se, 0, 1)


def _spearman(X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spearman ρ of each column of X with Y (``(n, 1)`` or ``(n, m)``); pairwise complete."""
    valid = ~np.isnan(X) & ~np.isnan(Y)
    Rx, _, dx = _rank(np.where(valid, X, np.nan))
    if valid.all() and Y.shape[1] == 1:
        Ry, _, dy = _rank(Y)
    else:
        Ry, _, dy = _rank(np.where(valid, Y, np.nan))
    m = valid.sum(axis=0)
    rx, ry = np.where(valid, Rx - (m + 1) / 2, 0), np.where(valid, Ry - (m + 1) / 2, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = (rx * ry).sum(axis=0) / np.sqrt((rx**2).sum(axis=0) * (ry**2).sum(axis=0))
    return np.where((dx > 1) & (dy > 1), rho, np.nan), m, np.minimum(dx, dy)


def _binary(X: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    valid = ~np.isnan(X)
    pos, neg = valid & (y == 1)[:, None], valid & (y == 0)[:, None]
    R, tie, distinct = _rank(X)
    auc = _auc(X, pos, neg, R)
    lo, hi = _delong_ci(X, pos, neg, R, auc, rows=(y == 1, y == 0))
    n1, n0 = pos.sum(axis=0), neg.sum(axis=0)
    m = n1 + n0
    with np.errstate(divide="ignore", invalid="ignore"):
        u1 = auc * n1 * n0
        s = np.sqrt(n1 * n0 / 12 * ((m + 1) - tie / (m * (m - 1))))
        z, z_cc = (u1 - n1 * n0 / 2) / s, (np.maximum(u1, n1 * n0 - u1) - n1 * n0 / 2 - 0.5) / s
        mp = np.where(pos, X, 0).sum(axis=0) / n1
        mn = np.where(neg, X, 0).sum(axis=0) / n0
        nonneg = ~(np.where(valid, X, 0) < 0).any(axis=0)
        lfc = np.where(nonneg & (mp > 0) & (mn > 0), np.log2(mp / mn), np.nan)
    ok = (distinct > 1) & (n1 > 0) & (n0 > 0)
    out = {"effect": auc, "ci_low": lo, "ci_high": hi, "statistic": z, "log2_fold_change": lfc}
    out |= {"p_value": np.minimum(2 * stats.norm.sf(z_cc), 1.0), "mean_difference": mp - mn}
    return {k: np.where(ok, v, np.nan) for k, v in out.items()} | {"n": m}


def _multiclass(X: np.ndarray, y: np.ndarray, k: int) -> dict[str, np.ndarray]:
    valid = ~np.isnan(X)
    R, tie, distinct = _rank(X)
    m = valid.sum(axis=0)
    nk = np.stack([(valid & (y == c)[:, None]).sum(axis=0) for c in range(k)])
    R0 = np.nan_to_num(R)
    rk = np.stack([np.where(y[:, None] == c, R0, 0).sum(axis=0) for c in range(k)])
    with np.errstate(divide="ignore", invalid="ignore"):
        aucs = (rk - nk * (nk + 1) / 2) / (nk * (m - nk))
        h = 12 / (m * (m + 1)) * np.nansum(np.where(nk > 0, rk**2 / nk, 0), axis=0) - 3 * (m + 1)
        h = h / (1 - tie / (m**3 - m))
    df = (nk > 0).sum(axis=0) - 1
    ok = (distinct > 1) & (df > 0)
    best = np.argmax(np.nan_to_num(np.abs(aucs - 0.5), nan=-1), axis=0)
    pos = valid & (y[:, None] == best[None, :])
    auc = np.take_along_axis(aucs, best[None, :], axis=0)[0]
    lo, hi = _delong_ci(X, pos, valid & ~pos, R, auc)
    with np.errstate(divide="ignore", invalid="ignore"):
        logp = stats.chi2.logsf(h, np.maximum(df, 1))
        z = -special.ndtri_exp(logp - np.log(2))
    out = {"effect": auc, "ci_low": lo, "ci_high": hi, "p_value": np.exp(logp), "statistic": z}
    return {k_: np.where(ok, v, np.nan) for k_, v in out.items()} | {"n": m, "cls": best}


def _regression(X: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    rho, m, _ = _spearman(X, y[:, None])
    ok = ~np.isnan(rho) & (m > 3)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.clip(rho, -1 + 1e-15, 1 - 1e-15)
        t = np.abs(r) * np.sqrt((m - 2) / (1 - r**2))
        logp = stats.t.logsf(t, np.maximum(m - 2, 1))
        zf, se = np.arctanh(r), np.sqrt((1 + r**2 / 2) / (m - 3))
        out = {"effect": rho, "ci_low": np.tanh(zf - Z95 * se), "ci_high": np.tanh(zf + Z95 * se)}
        out |= {"p_value": np.minimum(2 * np.exp(logp), 1.0)}
        out |= {"statistic": -np.sign(r) * special.ndtri_exp(logp)}
    return {k: np.where(ok, v, np.nan) for k, v in out.items()} | {"n": m}


def _survival(X: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    time, event = split_signed_time(y)
    order = np.argsort(-time, kind="stable")  # descending: the risk set is a prefix
    t, e, Xs = time[order], event[order].astype(bool), X[order]
    valid = ~np.isnan(Xs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        Xc = np.where(valid, Xs - np.nanmean(Xs, axis=0), 0.0)
        sd = np.nanstd(Xs, axis=0, ddof=1)
        varies = np.nanmax(Xs, axis=0) > np.nanmin(Xs, axis=0)
    last = np.searchsorted(-t, -t, side="right") - 1  # Breslow: ties see the full risk set
    s0, s1 = np.cumsum(valid, axis=0)[last], np.cumsum(Xc, axis=0)[last]
    s2 = np.cumsum(Xc**2, axis=0)[last]
    ev = valid & e[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = s1 / s0
        U = np.where(ev, Xc - mean, 0).sum(axis=0)
        info = np.where(ev, np.maximum(s2 / s0 - mean**2, 0), 0).sum(axis=0)
        ok = varies & (info > 0)
        z = np.where(ok, U / np.sqrt(info), np.nan)
        beta, se = sd * U / info, sd / np.sqrt(info)
    out = {"effect": np.exp(beta), "ci_low": np.exp(beta - Z95 * se), "statistic": z}
    out |= {"ci_high": np.exp(beta + Z95 * se), "p_value": stats.chi2.sf(z**2, df=1)}
    return {k: np.where(ok, v, np.nan) for k, v in out.items()} | {"n": valid.sum(axis=0)}


def _cox_detail(x: pd.Series, y: np.ndarray) -> tuple[float, float, float] | None:
    """HR per SD and Wald 95% CI from lifelines' CoxPHFitter; None if the fit fails."""
    from lifelines import CoxPHFitter

    keep = x.notna().to_numpy()
    time, event = split_signed_time(y[keep])
    v = x.to_numpy(float)[keep]
    df = pd.DataFrame({"x": v / np.std(v, ddof=1), "_t": time, "_e": event})
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = CoxPHFitter().fit(df, duration_col="_t", event_col="_e")
    except (ValueError, np.linalg.LinAlgError):  # lifelines' ConvergenceError is a ValueError
        return None
    b, se = float(fit.params_["x"]), float(fit.standard_errors_["x"])
    return float(np.exp(b)), float(np.exp(b - Z95 * se)), float(np.exp(b + Z95 * se))


def _bootstrap(Xd: np.ndarray, y: np.ndarray, task: str, cls, n_boot: int, seed: int):
    """Percentile bootstrap 95% CI of the effect of the columns of ``Xd``."""
    rng = np.random.default_rng(seed)
    n, d = Xd.shape
    chunk, draws = max(1, _BLOCK_CELLS // (n * d)), []
    for b in [min(chunk, n_boot - i) for i in range(0, n_boot, chunk)]:
        idx = rng.integers(0, n, size=(b, n))
        Xb = Xd[idx].transpose(1, 0, 2).reshape(n, b * d)
        Yb = np.repeat(y[idx].T, d, axis=1)
        if task == "regression":
            draws.append(_spearman(Xb, Yb)[0])
        else:
            valid = ~np.isnan(Xb)
            pos = valid & (Yb == np.tile(cls, b)[None, :])
            draws.append(_auc(Xb, pos, valid & ~pos))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanpercentile(np.concatenate(draws).reshape(-1, d), [2.5, 97.5], axis=0)


def _categorical(x: pd.Series, y: np.ndarray, task: str) -> tuple[float, str, int]:
    """(p-value, test name, n) of a categorical column; p NaN if fewer than two levels."""
    keep = x.notna().to_numpy()
    g, yk = x[keep].astype(str).to_numpy(), y[keep]
    levels = np.unique(g)
    if len(levels) < 2:
        return np.nan, "", int(keep.sum())
    if task in ("binary", "multiclass"):
        table = pd.crosstab(g, yk).to_numpy()
        ok = table.shape[1] > 1
        p = stats.chi2_contingency(table, correction=False).pvalue if ok else np.nan
        return float(p), "chi-square", int(keep.sum())
    if task == "regression":
        ok = len(np.unique(yk)) > 1
        p = stats.kruskal(*[yk[g == lv] for lv in levels]).pvalue if ok else np.nan
        return float(p), "Kruskal–Wallis", int(keep.sum())
    from lifelines.statistics import multivariate_logrank_test

    time, event = split_signed_time(yk)
    p = multivariate_logrank_test(time, g, event).p_value if event.any() else np.nan
    return float(p), "log-rank", int(keep.sum())


_NAMES = {
    "binary": ("AUC", "DeLong", "Mann–Whitney U"),
    "multiclass": ("one-vs-rest AUC (most distinct class)", "DeLong", "Kruskal–Wallis"),
    "regression": ("Spearman rho", "Fisher z (Bonett–Wright SE)", "Spearman (t approximation)"),
    "survival": ("hazard ratio per SD", "one-step from score test", "Cox score test"),
}


def univariate_effects(
    features: pd.DataFrame,
    y: np.ndarray,
    task: str,
    *,
    classes: Sequence[str] = (),
    detail: Sequence[str] | None = None,
    n_bootstrap: int = 1000,
    groups: np.ndarray | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Effect, 95% CI, p- and BH q-value of every feature (rows, in column order of
    ``features``); ``y`` in the internal encoding of :mod:`insightome.study`. Columns: ``COLUMNS``.
    With ``groups`` (one code per sample) the tests count patients (module docstring).

    ``detail`` (the signature's features): lifelines Cox fits for survival, a percentile
    bootstrap CI (``n_bootstrap`` resamples, ``seed``) otherwise; the bootstrap is skipped
    when ``n_bootstrap`` is 0 or resamples × samples × features exceed ``_BOOT_CELLS``
    (~15 s of work; at that n the analytic interval is accurate anyway).
    """
    if task not in _NAMES:
        raise ValueError(f"unknown task {task!r}; expected one of {', '.join(_NAMES)}")
    features, y, groups_note = one_row_per_group(features, y, groups, "univariate effects")
    y = np.asarray(y, dtype=float if task in ("regression", "survival") else int)
    n_classes = max(len(classes), int(y.max()) + 1) if task == "multiclass" else 2
    labels = [*classes] + [f"class {i}" for i in range(len(classes), n_classes)]
    detail = [d for d in dict.fromkeys(detail or []) if d in features.columns]
    numeric = [c for c, dt in features.dtypes.items() if pd.api.types.is_numeric_dtype(dt)]
    res = pd.DataFrame(np.nan, index=features.columns, columns=COLUMNS).astype(
        {"effect_name": object, "ci_method": object, "direction": object, "test": object}
    )
    name, ci_method, test = _NAMES[task]
    res.loc[:, ["effect_name", "ci_method", "test", "direction"]] = [name, ci_method, test, ""]
    if numeric:
        func = {"binary": _binary, "regression": _regression, "survival": _survival}.get(task)
        step, parts = max(1, _BLOCK_CELLS // len(y)), []
        for i in range(0, len(numeric), step):
            X = features[numeric[i : i + step]].to_numpy(dtype=float)
            parts.append(_multiclass(X, y, n_classes) if func is None else func(X, y))
        out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        for col in set(out) & set(COLUMNS):
            res.loc[numeric, col] = out[col]
        up, down = {
            "binary": (f"higher in {labels[1]}", f"lower in {labels[1]}"),
            "multiclass": ("highest in ", "lowest in "),
            "regression": ("positively correlated", "negatively correlated"),
            "survival": ("higher hazard", "lower hazard"),
        }[task]
        s, cls = np.sign(out["statistic"]), ""
        if task == "multiclass":
            s, cls = np.sign(out["effect"] - 0.5), np.array(labels, dtype=object)[out["cls"]]
        res.loc[numeric, "direction"] = np.where(s > 0, up + cls, np.where(s < 0, down + cls, ""))
    for c in features.columns.difference(numeric, sort=False):
        p, cat_test, n = _categorical(features[c], y, task)
        res.loc[c, ["p_value", "n", "test"]] = [p, n, cat_test]
        res.loc[c, ["effect_name", "ci_method", "direction"]] = ["categorical (test only)", "", ""]
    num_detail = [d for d in detail if d in numeric and pd.notna(res.loc[d, "p_value"])]
    if task == "survival":
        for d in num_detail:
            fit = _cox_detail(features[d], y)
            if fit is not None:
                res.loc[d, ["effect", "ci_low", "ci_high"]] = fit
                res.loc[d, "ci_method"] = "Wald (lifelines CoxPHFitter)"
    elif num_detail and 0 < n_bootstrap * len(y) * len(num_detail) <= _BOOT_CELLS:
        cls = np.ones(len(num_detail), dtype=int)
        if task == "multiclass":
            cls = pd.Series(out["cls"], index=numeric)[num_detail].to_numpy()
        Xd = features[num_detail].to_numpy(dtype=float)
        res.loc[num_detail, ["boot_ci_low", "boot_ci_high"]] = _bootstrap(
            Xd, y, task, cls, n_bootstrap, seed
        ).T
    res["q_value"] = bh_adjust(res["p_value"].to_numpy(float))
    res["n"] = res["n"].fillna(0).astype(int)
    if NOT_RESPECTED in groups_note:
        res["test"] = res["test"].where(res["test"] == "", res["test"] + f" ({NOT_RESPECTED})")
    res.attrs["groups_note"] = groups_note
    return res
