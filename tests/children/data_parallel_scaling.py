"""Times training of one MLP on one device, then under keras.distribution.DataParallel over
every device (JAX, its host CPU split by XLA_FLAGS), from the same start; prints as JSON the
device count, the seconds per step of each, and how far the two end apart."""

import json
import time

import numpy as np

from claims.target import load_keras


def mlp(keras):
    return keras.Sequential([keras.Input(shape=(256,)), keras.layers.Dense(512, "relu"),
                             keras.layers.Dense(512, "relu"), keras.layers.Dense(1)])


def train(keras, start, x, y):
    """The model from `start` after one warm-up step (which compiles) and three timed epochs
    of 8 steps each, and its seconds per step."""
    model = mlp(keras)
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    model.set_weights(start)
    model.fit(x[:256], y[:256], batch_size=256, epochs=1, shuffle=False, verbose=0)
    began = time.perf_counter()
    model.fit(x, y, batch_size=256, epochs=3, shuffle=False, verbose=0)
    return model, (time.perf_counter() - began) / 24


def main() -> None:
    keras = load_keras()
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (2048, 256)).astype("float32")
    y = rng.uniform(-1, 1, (2048, 1)).astype("float32")
    keras.utils.set_random_seed(0)
    start = mlp(keras).get_weights()
    one, one_step = train(keras, start, x, y)
    keras.distribution.set_distribution(keras.distribution.DataParallel())
    many, step = train(keras, start, x, y)
    print(json.dumps({
        "devices": len(keras.distribution.list_devices()), "step_s": step,
        "one_step_s": one_step,
        "diff": max(float(np.abs(a - b).max())
                    for a, b in zip(one.get_weights(), many.get_weights(), strict=True)),
    }))


if __name__ == "__main__":
    main()
