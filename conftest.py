"""Hypothesis profiles and per-test seeding for the audit.

Profiles (HYPOTHESIS_PROFILE or --hypothesis-profile): `dev` (default, fast), `ci`
(derandomised, reproduce blobs printed), `thorough` (many examples), `mutants` (no
shrinking). No profile has a deadline: a backend's first call compiles, and a
timing-dependent failure would be a flaky verdict. No profile explains a failure (see
_COMMON); every one shrinks it but `mutants`, so the evidence keeps its minimal example.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, Phase, settings

_COMMON = dict(
    # No explain phase: on a failure it traces every line TensorFlow runs (sys.settrace on
    # Python 3.11), minutes per refuted claim, for notes the evidence does not use.
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    deadline=None,
    report_multiple_bugs=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("dev", max_examples=15, **_COMMON)
settings.register_profile(
    "ci", max_examples=25, derandomize=True, database=None, print_blob=True, **_COMMON
)
settings.register_profile("thorough", max_examples=400, **_COMMON)
# The mutation check only needs to know that a fault is noticed, not its minimal example.
settings.register_profile(
    "mutants", **{**_COMMON, "max_examples": 10, "derandomize": True, "database": None,
                  "phases": [Phase.explicit, Phase.reuse, Phase.generate]},
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(autouse=True)
def _seeded(request):
    """Every test starts from the same random state, so a verdict never depends on order."""
    if "keras" in request.fixturenames:
        keras = request.getfixturevalue("keras")
        keras.utils.set_random_seed(0)
