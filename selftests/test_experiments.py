"""tests/experiments.py, checked without Keras: the Student-t critical values against the
published table (and scipy where it is installed), the two intervals, and the rule that turns
an interval into holds / refuted / inconclusive."""

from __future__ import annotations

import numpy as np
import pytest

from tests.experiments import (
    Interval,
    bootstrap_interval,
    decide,
    mean_interval,
    t_coverage,
    t_quantile,
)

# Two-sided critical values of Student's t, as printed in statistics tables.
PUBLISHED_T = {(1, 0.95): 12.706, (2, 0.95): 4.303, (5, 0.95): 2.571, (9, 0.95): 2.262,
               (11, 0.95): 2.201, (30, 0.95): 2.042, (60, 0.95): 2.000, (9, 0.99): 3.250,
               (9, 0.90): 1.833, (4, 0.80): 1.533}


@pytest.mark.parametrize(("df", "confidence"), sorted(PUBLISHED_T))
def test_t_quantile_matches_the_published_table(df, confidence):
    assert t_quantile(df, confidence) == pytest.approx(PUBLISHED_T[df, confidence], abs=6e-4)


def test_t_quantile_tends_to_the_normal_one_for_many_degrees_of_freedom():
    assert t_quantile(10_000) == pytest.approx(1.95996, abs=5e-4)


def test_t_quantile_agrees_with_scipy_for_every_df_up_to_100():
    stats = pytest.importorskip("scipy.stats")
    for df in range(1, 101):
        for confidence in (0.5, 0.9, 0.95, 0.99):
            expected = stats.t.ppf((1 + confidence) / 2, df)
            assert t_quantile(df, confidence) == pytest.approx(expected, rel=1e-9), df


def test_t_coverage_is_the_two_sided_probability_of_the_cauchy_and_df_2_closed_forms():
    # df 1 is the Cauchy distribution: P(|T| < 1) = 1/2; df 2: P(|T| < t) = t / sqrt(2 + t^2).
    assert t_coverage(1.0, 1) == pytest.approx(0.5)
    assert t_coverage(3.0, 2) == pytest.approx(3 / np.sqrt(11))


@pytest.mark.parametrize(("df", "confidence"), [(0, 0.95), (3, 1.0), (3, 0.0)])
def test_t_quantile_rejects_an_impossible_request(df, confidence):
    with pytest.raises(ValueError):
        t_quantile(df, confidence)


def test_mean_interval_is_the_mean_plus_or_minus_t_times_the_standard_error():
    interval = mean_interval([1, 2, 3, 4, 5], over="seeds")
    half = 2.776 * np.std([1, 2, 3, 4, 5], ddof=1) / np.sqrt(5)
    assert (interval.estimate, interval.n) == (3, 5)
    assert interval.lo == pytest.approx(3 - half, abs=1e-3)
    assert interval.hi == pytest.approx(3 + half, abs=1e-3)


def test_mean_interval_needs_two_replicates():
    with pytest.raises(ValueError):
        mean_interval([0.1], over="seeds")


def test_interval_text_gives_the_estimate_the_bounds_and_the_replicates():
    interval = Interval(0.06, 0.03, 0.09, 12, "seeds")
    assert interval.text() == "+0.06, 95% CI [+0.03, +0.09] over 12 seeds"
    assert Interval(2.5, 1.9, 3.1, 3, "launches", fmt=".1f").text() == (
        "2.5, 95% CI [1.9, 3.1] over 3 launches")


def test_bootstrap_interval_is_reproducible_and_brackets_its_estimate():
    samples = np.random.default_rng(1).normal(1.0, 0.5, 40)
    first = bootstrap_interval(samples, np.mean, over="rounds")
    assert first == bootstrap_interval(samples, np.mean, over="rounds")
    assert first.estimate == pytest.approx(samples.mean())
    assert first.lo < first.estimate < first.hi
    # close to the t interval for the mean of a normal sample of 40
    t = mean_interval(samples, over="rounds")
    assert (first.lo, first.hi) == pytest.approx((t.lo, t.hi), abs=0.05)


def test_bootstrap_interval_draws_each_replicate_row_whole():
    rows = np.array([[v, -v] for v in range(10)], dtype="float64")
    interval = bootstrap_interval(rows, lambda s: float(np.abs(s.sum(axis=1)).max()), over="rounds")
    assert (interval.lo, interval.hi) == (0, 0)


def test_decide_passes_when_the_interval_lies_on_the_claims_side():
    decide(Interval(0.06, 0.03, 0.09, 6, "seeds"), 0, "above", "gap")
    decide(Interval(-0.06, -0.09, -0.03, 6, "seeds"), 0, "below", "gap")


def test_decide_refutes_with_the_interval_when_it_lies_on_the_other_side():
    with pytest.raises(AssertionError, match=r"gap: -0.06, 95% CI \[-0.09, -0.03\] .*below 0"):
        decide(Interval(-0.06, -0.09, -0.03, 6, "seeds"), 0, "above", "gap")
    with pytest.raises(AssertionError, match="entirely above 1.5"):
        decide(Interval(2.0, 1.8, 2.2, 3, "launches"), 1.5, "below", "spread")


@pytest.mark.parametrize("lo", [-0.01, 0.0])
def test_decide_calls_an_interval_that_straddles_or_touches_the_threshold_inconclusive(lo):
    with pytest.raises(pytest.skip.Exception,
                       match=r"inconclusive here: gap: \+0.02, 95% CI \[.0.0\d, \+0.05\] over"
                             r" 6 seeds straddles 0;"):
        decide(Interval(0.02, lo, 0.05, 6, "seeds"), 0, "above", "gap")


def test_decide_rejects_an_unknown_side():
    with pytest.raises(ValueError):
        decide(Interval(0.02, 0.01, 0.05, 6, "seeds"), 0, "over", "gap")


def test_an_experiments_seeds_start_where_the_stability_session_puts_them(monkeypatch):
    import importlib

    import tests.experiments

    monkeypatch.setenv("CLAIMS_EXPERIMENT_SEED", "1000")
    moved = importlib.reload(tests.experiments)
    assert moved.seeds(3) == (1000, 1001, 1002)
    monkeypatch.delenv("CLAIMS_EXPERIMENT_SEED")
    assert importlib.reload(tests.experiments).seeds(2) == (0, 1)
