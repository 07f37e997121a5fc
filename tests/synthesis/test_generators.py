"""The generators on real cohorts: kinds, ranges and missingness kept, seeds reproduce,
and the dependence between columns is learnt (checked against independent marginals, so
each check can fail)."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from insightome.synthesis import SYNTHESIZERS, GaussianCopula, SequentialCART, describe


def independent_marginals(frame: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """The baseline a generator must beat: each column bootstrapped on its own."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({c: frame[c].to_numpy()[rng.integers(0, len(frame), n)] for c in frame})


@pytest.mark.parametrize("method", sorted(SYNTHESIZERS))
def test_kinds_and_ranges_are_kept(method, heart_failure):
    synthesizer = SYNTHESIZERS[method]().fit(heart_failure, seed=0)
    synthetic = synthesizer.sample(1000, seed=1)
    assert synthesizer.name == method
    assert list(synthetic.columns) == list(heart_failure.columns)
    assert synthetic.dtypes.equals(heart_failure.dtypes)
    assert synthetic.index.equals(pd.RangeIndex(1000))  # never a real row's ID
    for spec in describe(heart_failure):
        values = synthetic[spec.name].to_numpy(float)
        assert values.min() >= spec.minimum and values.max() <= spec.maximum, spec.name
        assert np.allclose(values, np.round(values, spec.decimals)), spec.name
        if spec.kind == "binary":
            assert set(np.unique(values)) == {0.0, 1.0}, spec.name
    deaths = synthetic["DEATH_EVENT"].mean()
    assert deaths == pytest.approx(heart_failure["DEATH_EVENT"].mean(), abs=0.06)


@pytest.mark.parametrize("method", sorted(SYNTHESIZERS))
def test_categories_stay_among_the_observed(method, gbsg2):
    frame = gbsg2.assign(tgrade=gbsg2["tgrade"].astype("category"))
    synthetic = SYNTHESIZERS[method]().fit(frame, seed=0).sample(800, seed=2)
    assert synthetic.dtypes.equals(frame.dtypes)
    for column in ("horTh", "menostat", "tgrade"):
        real = frame[column].value_counts(normalize=True)
        fake = synthetic[column].value_counts(normalize=True).reindex(real.index, fill_value=0)
        assert set(synthetic[column].dropna()) <= set(real.index)
        assert np.abs(real - fake).max() < 0.06, column


@pytest.mark.parametrize("method", sorted(SYNTHESIZERS))
def test_missingness_is_modelled(method, lung):
    synthetic = SYNTHESIZERS[method]().fit(lung, seed=0).sample(2000, seed=3)
    share = synthetic.isna().mean()
    assert share["meal.cal"] == pytest.approx(lung["meal.cal"].isna().mean(), abs=0.04)
    assert share["wt.loss"] == pytest.approx(lung["wt.loss"].isna().mean(), abs=0.03)
    assert share["time"] == 0
    observed = synthetic["meal.cal"].dropna()
    assert observed.between(lung["meal.cal"].min(), lung["meal.cal"].max()).all()


@pytest.mark.parametrize("method", sorted(SYNTHESIZERS))
def test_seeds_reproduce_and_differ(method, heart_failure):
    first = SYNTHESIZERS[method]().fit(heart_failure, seed=4).sample(300, seed=5)
    again = SYNTHESIZERS[method]().fit(heart_failure, seed=4).sample(300, seed=5)
    other = SYNTHESIZERS[method]().fit(heart_failure, seed=4).sample(300, seed=6)
    pd.testing.assert_frame_equal(first, again)
    assert not first.equals(other)
    assert (first != other).any(axis=1).mean() > 0.9


def test_cart_learns_a_rule_that_independent_marginals_break(actg175):
    """ACTG 175: stratum 1 is exactly the antiretroviral-naive patients (str2 = 0)."""

    def broken(frame: pd.DataFrame) -> float:
        return float(((frame["strat"] == 1) != (frame["str2"] == 0)).mean())

    assert broken(actg175) == 0
    synthetic = SequentialCART().fit(actg175, seed=0).sample(2000, seed=1)
    assert broken(synthetic) < 0.01
    assert broken(independent_marginals(actg175, 2000, seed=1)) > 0.3


def test_cart_keeps_a_conditional_mean(heart_failure):
    """Follow-up is much shorter for those who died (70 vs 158 days)."""

    def gap(frame: pd.DataFrame) -> float:
        by_outcome = frame.groupby("DEATH_EVENT")["time"].mean()
        return float(by_outcome[0] - by_outcome[1])

    real = gap(heart_failure)
    assert real > 60
    synthetic = SequentialCART().fit(heart_failure, seed=0).sample(2000, seed=1)
    assert gap(synthetic) == pytest.approx(real, rel=0.25)
    assert abs(gap(independent_marginals(heart_failure, 2000, seed=1))) < real / 3


def test_copula_keeps_rank_correlations(heart_failure):
    real = heart_failure.corr("spearman").to_numpy()
    pairs = np.triu_indices_from(real, 1)
    assert np.abs(real[pairs]).max() > 0.5  # time vs death: a strong dependence to keep
    copula = GaussianCopula().fit(heart_failure, seed=0)
    fake = copula.sample(4000, seed=1).corr("spearman").to_numpy()
    assert np.abs(fake - real)[pairs].max() < 0.1
    assert np.abs(fake - real)[pairs].mean() < 0.03
    independent = independent_marginals(heart_failure, 4000, seed=1).corr("spearman").to_numpy()
    assert np.abs(independent - real)[pairs].max() > 0.4


def test_copula_shrinks_when_rows_are_few(heart_failure):
    small = heart_failure.sample(50, random_state=0)
    copula = GaussianCopula().fit(small, seed=0)
    assert any("Ledoit-Wolf shrinkage" in note for note in copula.notes)
    assert np.all(np.linalg.eigvalsh(copula.correlation_) > 0)
    assert not any("Ledoit-Wolf" in n for n in GaussianCopula().fit(heart_failure, 0).notes)


@pytest.mark.parametrize("method", sorted(SYNTHESIZERS))
def test_sampling_given_the_outcome(method, heart_failure):
    """Rows drawn given a fixed outcome keep it and its dependence (time is shorter for
    deaths)."""
    first = {"first": "DEATH_EVENT"} if method == "cart" else {}
    synthesizer = SYNTHESIZERS[method](**first).fit(heart_failure, seed=0)
    given = pd.Series(np.repeat([0, 1], [600, 400]), name="DEATH_EVENT")
    synthetic = synthesizer.sample(1000, seed=1, given=given)
    assert (synthetic["DEATH_EVENT"].to_numpy() == given.to_numpy()).all()
    by_outcome = synthetic.groupby("DEATH_EVENT")["time"].mean()
    assert by_outcome[0] - by_outcome[1] > 50
    with pytest.raises(ValueError, match="never seen"):
        synthesizer.sample(2, seed=1, given=pd.Series([0, 2], name="DEATH_EVENT"))


def test_constant_and_empty_columns_are_noted(heart_failure):
    frame = heart_failure.assign(site="A", unused=np.nan)
    for method, synthesizer in SYNTHESIZERS.items():
        fitted = synthesizer().fit(frame, seed=0)
        synthetic = fitted.sample(50, seed=0)
        assert (synthetic["site"] == "A").all() and synthetic["unused"].isna().all(), method
        assert "column site: constant, copied" in fitted.notes
        assert "column unused: all missing, synthesized as all missing" in fitted.notes


def test_cart_smoothing_makes_new_values_within_range(heart_failure):
    plain = SequentialCART(smoothing=None).fit(heart_failure, seed=0).sample(1000, seed=1)
    smoothed_cart = SequentialCART(smoothing="density").fit(heart_failure, seed=0)
    smoothed = smoothed_cart.sample(1000, seed=1)
    real = set(heart_failure["platelets"])
    assert set(plain["platelets"]) <= real  # every CART value is a donor's real value
    assert smoothed["platelets"].isin(real).mean() < 0.5
    assert smoothed["platelets"].between(25100, 850000).all()
    assert set(smoothed["sex"]) == {0, 1}  # binary columns are never smoothed
    assert any(note.startswith("smoothing density") for note in smoothed_cart.notes)


def test_fit_and_sample_of_a_2000_by_30_table_is_quick(actg175):
    wide = pd.concat([actg175, actg175.iloc[:, :11].add_suffix("_b")], axis=1)
    assert wide.shape == (2139, 30)
    for method, synthesizer in SYNTHESIZERS.items():
        start = time.perf_counter()
        synthesizer().fit(wide, seed=0).sample(2000, seed=0)
        assert time.perf_counter() - start < 10, method


def test_the_options_name_exactly_the_synthesizers():
    """--augment's choices are named in the options layer (no generator import at CLI
    start-up); they must be the synthesizers the package builds."""
    from insightome.options.checks import SYNTHESIZER_NAMES
    from insightome.synthesis import SYNTHESIZERS

    assert tuple(SYNTHESIZERS) == SYNTHESIZER_NAMES
