"""Section H, question 21: standardised inputs."""

from __future__ import annotations

import numpy as np
import pytest

from tests.checks import (
    fit_side_by_side,
    skip_unless_trainable,
    training_mse,
)

NORM_SEEDS = (0, 1, 2)
NORM_EPOCHS = 5
# Three features on very different scales and offsets, as raw measurements often are.
FEATURE_SCALES = np.array([1000.0, 1.0, 0.001])
FEATURE_OFFSETS = np.array([5000.0, 0.0, 0.01])


def badly_scaled_task(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(256, 3))
    y = np.tanh(z @ np.array([1.0, -2.0, 0.5]))[:, None]
    return (z * FEATURE_SCALES + FEATURE_OFFSETS).astype("float32"), y.astype("float32")


def small_mlp(keras, features, name: str):
    return keras.layers.Dense(1, name=name)(keras.layers.Dense(16, activation="relu")(features))


@pytest.mark.claim("q21-normalisation-helps")
def test_adapted_normalization_reaches_lower_loss_on_badly_scaled_features(
        keras, environment, evidence):
    """Standardising the input helps: per seed, the same small MLP (same data, same initial
    weights) ends NORM_EPOCHS epochs with a lower loss behind an adapted Normalization layer
    than on the raw features."""
    skip_unless_trainable(environment)
    inputs, outputs, xs, ys = [], [], [], []
    for seed in NORM_SEEDS:
        x, y = badly_scaled_task(seed)
        for kind in ("raw", "normalised"):
            keras.utils.set_random_seed(seed)  # the pair starts from the same weights
            features = keras.Input(shape=(3,))
            front = features
            if kind == "normalised":
                normalization = keras.layers.Normalization()
                normalization.adapt(x)
                front = normalization(features)
            inputs.append(features)
            outputs.append(small_mlp(keras, front, f"{kind}_{seed}"))
            xs.append(x)
            ys.append(y)
    model = fit_side_by_side(keras, inputs, outputs, xs, ys, NORM_EPOCHS, batch_size=32)
    mse = training_mse(model, xs, ys)
    pairs = {s: (mse[f"raw_{s}"], mse[f"normalised_{s}"]) for s in NORM_SEEDS}
    evidence(f"training MSE after {NORM_EPOCHS} epochs, raw vs normalised: "
             + "; ".join(f"seed {s}: {r:.3g} vs {n:.3g} ({r / n:.0f}x lower)"
                         for s, (r, n) in pairs.items()))
    assert all(n < r for r, n in pairs.values())
