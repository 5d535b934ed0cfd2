"""Effects with their uncertainty, and the one rule that decides a claim read against a
threshold (a gap above 0, a speed ratio's spread above 1.5, a rank correlation of at least 0.7).

A claim test never compares two bare numbers: it measures the effect over replicates (seeds,
timing rounds, launches), gives it a 95% interval, and `decide` reads the interval:
- entirely on the claim's side of the threshold: the claim holds (the test passes);
- entirely on the other side: refuted (an AssertionError with the interval in its message);
- straddling the threshold: not-applicable, "inconclusive here", with the interval as the
  reason, since the machine's noise, not Keras, would decide it.

NumPy and the standard library only: the audit environments do not all have scipy."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pytest

CONFIDENCE = 0.95
# The first of an experiment's seeds: the stability session moves it, so that a verdict resting
# on the seeds the audit happens to use shows as unstable.
FIRST_SEED = int(os.environ.get("CLAIMS_EXPERIMENT_SEED") or 0)


def seeds(n: int) -> tuple[int, ...]:
    """An experiment's n seeds, from FIRST_SEED on."""
    return tuple(range(FIRST_SEED, FIRST_SEED + n))


@dataclass(frozen=True)
class Interval:
    """An effect's estimate and its two-sided confidence interval [lo, hi], from n replicates
    (`over` names them: "seeds", "timing rounds"); `fmt` formats its numbers in `text()`."""

    estimate: float
    lo: float
    hi: float
    n: int
    over: str
    confidence: float = CONFIDENCE
    fmt: str = "+.2f"

    def text(self) -> str:
        """'+0.06, 95% CI [+0.03, +0.09] over 12 seeds', for the evidence."""
        f = self.fmt
        return (f"{self.estimate:{f}}, {self.confidence:.0%} CI [{self.lo:{f}}, {self.hi:{f}}] "
                f"over {self.n} {self.over}")


def t_coverage(t: float, df: int) -> float:
    """P(|T| < t) for Student's t with `df` (a positive integer) degrees of freedom, by its
    closed form for integer df (Abramowitz & Stegun 26.7.3 and 26.7.4): finite sums of powers
    of cos(theta), theta = atan(t / sqrt(df))."""
    theta = math.atan(t / math.sqrt(df))
    cos2 = math.cos(theta) ** 2
    if df % 2:  # odd df: (2/pi) (theta + sin cos (1 + 2/3 cos^2 + 2*4/(3*5) cos^4 + ...))
        term = total = 1.0
        for k in range(1, (df - 1) // 2):
            term *= 2 * k / (2 * k + 1) * cos2
            total += term
        series = math.sin(theta) * math.cos(theta) * total if df > 1 else 0.0
        return 2 / math.pi * (theta + series)
    term = total = 1.0  # even df: sin (1 + 1/2 cos^2 + 1*3/(2*4) cos^4 + ...)
    for k in range(1, df // 2):
        term *= (2 * k - 1) / (2 * k) * cos2
        total += term
    return math.sin(theta) * total


def t_quantile(df: int, confidence: float = CONFIDENCE) -> float:
    """The two-sided Student-t critical value: P(|T| < t) = confidence (2.262 for df 9 at 95%).
    Bisection on t_coverage, which rises with t."""
    if df < 1 or not 0 < confidence < 1:
        raise ValueError(f"need df >= 1 and 0 < confidence < 1, not {df}, {confidence}")
    lo, hi = 0.0, 1.0
    while t_coverage(hi, df) < confidence:
        lo, hi = hi, 2 * hi
    for _ in range(100):
        middle = (lo + hi) / 2
        lo, hi = (middle, hi) if t_coverage(middle, df) < confidence else (lo, middle)
    return (lo + hi) / 2


def mean_interval(values, over: str, confidence: float = CONFIDENCE,
                  fmt: str = "+.2f") -> Interval:
    """Student-t interval of the mean of independent replicates, e.g. paired differences (one
    per seed, the two arms sharing that seed's data and initial weights): mean +- t * sd /
    sqrt(n), sd with n - 1 degrees of freedom."""
    values = np.asarray(values, dtype="float64")
    if values.ndim != 1 or len(values) < 2:
        raise ValueError(f"need at least 2 replicates in a flat array, not {values.shape}")
    mean = float(values.mean())
    half = t_quantile(len(values) - 1, confidence) * values.std(ddof=1) / math.sqrt(len(values))
    return Interval(mean, mean - half, mean + half, len(values), over, confidence, fmt)


def bootstrap_interval(samples, statistic: Callable[[np.ndarray], float], over: str,
                       confidence: float = CONFIDENCE, resamples: int = 2000, seed: int = 0,
                       fmt: str = "+.2f") -> Interval:
    """Percentile bootstrap of `statistic` over the replicates along `samples`' first axis (a
    replicate's row, e.g. one timing round of every model, is drawn whole). A fixed RNG seed:
    the same measurements always give the same interval. Estimate: the statistic of `samples`."""
    samples = np.asarray(samples, dtype="float64")
    n = len(samples)
    if n < 2:
        raise ValueError(f"need at least 2 replicates, not {n}")
    draws = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    values = [statistic(samples[rows]) for rows in draws]
    lo, hi = np.quantile(values, [(1 - confidence) / 2, (1 + confidence) / 2])
    return Interval(float(statistic(samples)), float(lo), float(hi), n, over, confidence, fmt)


def decide(interval: Interval, threshold: float, claim_side: Literal["above", "below"],
           what: str) -> None:
    """The claim says the effect lies `claim_side` of `threshold`. Returns (holds) when the
    whole interval does; raises AssertionError (refuted) when the whole interval lies on the
    other side; skips (not-applicable, inconclusive) when it straddles or touches the
    threshold. `what` names the effect in the message: 'gap plain - augmented'."""
    if claim_side not in ("above", "below"):
        raise ValueError(f"claim_side is 'above' or 'below', not {claim_side!r}")
    reading = f"{what}: {interval.text()}"
    above, below = interval.lo > threshold, interval.hi < threshold
    holds, refuted = (above, below) if claim_side == "above" else (below, above)
    if refuted:
        other = "below" if claim_side == "above" else "above"
        raise AssertionError(f"{reading}, entirely {other} {threshold:g}")
    if not holds:
        pytest.skip(f"inconclusive here: {reading} straddles {threshold:g}; the machine's noise "
                    "would decide it (more replicates or a quieter machine could)")
