"""Section I: the demo (question 22, the validation set against the test set)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tests.checks import random_array, skip_unless_trainable
from tests.strategies import examples

COEFFICIENTS = np.array([[1.0], [-2.0], [0.5], [3.0]], dtype="float32")


def regression(n: int, seed: int):
    x = random_array((n, 4), seed=seed)
    return x, x @ COEFFICIENTS


def linear_model(keras, **dense):
    return keras.Sequential([keras.Input(shape=(dense.pop("inputs", 4),)),
                             keras.layers.Dense(1, **dense)])


@pytest.mark.claim("q22-validation-evaluated-each-epoch")
def test_validation_data_is_evaluated_after_every_epoch(keras, environment, evidence):
    """The seed: the validation set evaluates (e.g. accuracy of) the model during training, before
    the test set does; fit reports its metrics every epoch, for the weights the epoch ended with."""
    skip_unless_trainable(environment)
    model = linear_model(keras)
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse", metrics=["mae"],
                  run_eagerly=True)
    (x, y), validation = regression(32, seed=1), regression(16, seed=2)
    history = model.fit(x, y, validation_data=validation, epochs=3, batch_size=16, verbose=0)
    val_loss = history.history["val_loss"]
    evaluated = model.evaluate(*validation, verbose=0)[0]
    evidence(f"val_loss per epoch {[round(v, 4) for v in val_loss]}, evaluate() {evaluated:.4f}")
    assert len(val_loss) == len(history.history["val_mae"]) == 3
    assert val_loss[-1] == pytest.approx(evaluated, rel=1e-5)


VALIDATION_SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def validation_probe(keras, environment):
    """The linear model compiled once with fit's defaults (no run_eagerly): each run below sets
    its seed's initial weights into it, which plain SGD (no state but its step count) makes the
    same as a new model, with one compilation. One fit with validation data first: Keras 3 on
    JAX draws once more from NumPy's global random state on a model's first fit, which would
    otherwise fall inside whichever run below comes first."""
    skip_unless_trainable(environment)
    model = linear_model(keras)
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    model.fit(*regression(8, seed=3), validation_data=regression(8, seed=4), verbose=0)
    return model


def trained_weights(keras, model, seed: int, training, validation_data, **fit) -> np.ndarray:
    """The weights after fit's defaults (shuffle=True), or as `fit` says, from the initial
    weights and random state of `seed`."""
    keras.utils.set_random_seed(seed)
    model.set_weights(linear_model(keras).get_weights())
    model.fit(*training, validation_data=validation_data, epochs=fit.pop("epochs", 3),
              batch_size=8, verbose=0, **fit)
    return np.concatenate([w.ravel() for w in model.get_weights()])


@pytest.mark.claim("q22-validation-does-not-train")
def test_validation_data_leaves_the_trained_weights_unchanged(keras, evidence, validation_probe):
    """The seed: the model trains on the training set and is only tested on the validation set;
    so, under fit's defaults, the same seeded run with and without validation data ends with
    identical weights, for every seed."""
    training, validation = regression(32, seed=1), regression(16, seed=2)
    moved = {seed: float(np.abs(
        trained_weights(keras, validation_probe, seed, training, None)
        - trained_weights(keras, validation_probe, seed, training, validation)).max())
        for seed in VALIDATION_SEEDS}
    measured = ("largest weight change from passing validation_data, by seed: "
                + ", ".join(f"{seed}: {change:.2g}" for seed, change in moved.items()))
    evidence(measured)
    assert all(change == 0 for change in moved.values()), measured


@pytest.mark.claim("q22-validation-does-not-train")
def test_the_validation_values_never_reach_the_weights(keras, validation_probe):
    """The model never learns from the validation set: two validation sets of one size but other
    values leave identical weights, for every seed; changing the training targets instead
    changes them (the comparison can see data that trains)."""
    training, validation = regression(32, seed=1), regression(16, seed=2)
    opposite = (validation[0], -10 * validation[1])
    weights = {seed: trained_weights(keras, validation_probe, seed, training, validation)
               for seed in VALIDATION_SEEDS}
    flipped = (training[0], -training[1])
    if np.array_equal(weights[0], trained_weights(keras, validation_probe, 0, flipped,
                                                  validation)):
        raise RuntimeError("other training targets left the weights unchanged: no check")
    for seed in VALIDATION_SEEDS:
        np.testing.assert_array_equal(
            weights[seed], trained_weights(keras, validation_probe, seed, training, opposite))


@pytest.mark.claim("q22-validation-does-not-train", correction=True)
def test_validation_changes_the_batch_order_only_on_torch_with_shuffling(
        keras, environment, validation_probe):
    """On the PyTorch backend, with shuffle=True, passing validation data changes the weights
    from the second epoch on (evaluating draws from the generator that orders the next epoch's
    batches); with shuffle=False, or a single epoch, it does not. Elsewhere it never does."""
    training, validation = regression(32, seed=1), regression(16, seed=2)

    def changed(**fit) -> bool:
        return not np.array_equal(
            trained_weights(keras, validation_probe, 0, training, None, **fit),
            trained_weights(keras, validation_probe, 0, training, validation, **fit))

    assert (changed(), changed(shuffle=False), changed(epochs=1)) == (
        environment.backend == "torch", False, False)


@pytest.fixture(scope="module")
def tail_probe(keras):
    """y = w * x with w = 0: a sample with x = 0 gives no gradient, so w moves only if fit trains
    on a sample with x = 1. Reused across examples (one compiled step)."""
    model = linear_model(keras, inputs=1, use_bias=False, kernel_initializer="zeros")
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    return model


@pytest.mark.claim("q22-validation-split-from-train")
@settings(max_examples=examples(5))
@given(n=st.integers(2, 16), fraction=st.floats(0.05, 0.95))
def test_validation_split_holds_out_the_last_samples_and_never_trains_on_them(
    keras, environment, tail_probe, n, fraction
):
    """The seed: the validation set is split off the training set. validation_split holds out
    the last n - floor(n(1 - f)) samples, chosen before shuffling, and never trains on them."""
    skip_unless_trainable(environment)
    held_out = n - math.floor(n * (1.0 - fraction))
    assume(0 < held_out < n)
    # The last `held_out` samples are x = y = 1, the rest x = y = 0.
    marks = (np.arange(n) >= n - held_out).astype("float32").reshape(n, 1)
    steps = {"train": 0, "test": 0}

    class CountSteps(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            steps["train"] += 1

        def on_test_batch_end(self, batch, logs=None):
            steps["test"] += 1

    tail_probe.set_weights([np.zeros((1, 1), "float32")])
    history = tail_probe.fit(marks, marks, validation_split=fraction, batch_size=1,
                             validation_batch_size=1, shuffle=True, epochs=1, verbose=0,
                             callbacks=[CountSteps()])
    assert steps == {"train": n - held_out, "test": held_out}
    # w stayed 0: no sample of the tail was trained on; val_loss 1: every validated one is in it.
    assert float(tail_probe.get_weights()[0][0, 0]) == 0.0
    assert history.history["val_loss"][0] == pytest.approx(1.0)
