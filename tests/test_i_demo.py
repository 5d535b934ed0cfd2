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


@pytest.mark.claim("q22-validation-does-not-train")
def test_validation_data_leaves_the_trained_weights_unchanged(keras, environment):
    """The seed: the model trains on the training set and is only tested on the validation set;
    so the same seeded run with and without validation data ends with identical weights."""
    skip_unless_trainable(environment)
    (x, y), validation = regression(32, seed=1), regression(16, seed=2)
    weights = []
    for validation_data in (None, validation):
        keras.utils.set_random_seed(0)
        model = linear_model(keras)
        model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse", run_eagerly=True)
        # No shuffling: on torch, validating draws from the RNG that orders the next epoch's
        # batches, which would change the weights without any training on validation data.
        model.fit(x, y, validation_data=validation_data, epochs=3, batch_size=8, shuffle=False,
                  verbose=0)
        weights.append(model.get_weights())
    assert all(np.array_equal(a, b) for a, b in zip(*weights, strict=True))


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
