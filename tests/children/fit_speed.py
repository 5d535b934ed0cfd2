"""test_g's speed curve, one side in a process of its own: `fit_speed.py fit|loop|torch
<rounds> <batch> <width>:<steps>...` trains, per point, an MLP of 32 inputs, two hidden layers
of `width` and one output on `steps` shuffled batches, with SGD(0.01) and MSE: by Keras' fit
(the Keras under audit, on KERAS_BACKEND), by a plain TensorFlow loop (variables, a
GradientTape step in tf.function, tf.data) or by a plain PyTorch loop (nn.Linear, optim.SGD),
the last two never importing Keras. One warm-up epoch (which compiles), then the fastest of
`rounds` timed runs of 2 epochs. Prints {"side", "backend", "tensorflow_loaded", "ms_per_step"}
as JSON.

Each side runs in a process of its own, its math on one thread: the same hardware for every
side, whatever the machine's other load. With two math threads on a busy shared machine, torch's
OpenMP waits made fit on torch ten times slower (one thread: 8 ms a step, two: 63 to 126 ms), and
TensorFlow's loop slowed too (4096 wide: 146 ms a step on one thread, 252 on two)."""

import json
import os
import sys
import time

from claims.machine import ONE_THREAD

EPOCHS = 2


def data(batch: int, steps: int):
    import numpy as np

    x = np.random.default_rng(1).uniform(-1, 1, (batch * steps, 32)).astype("float32")
    return x, x.sum(axis=1, keepdims=True)


def keras_fit(keras, batch: int, width: int, steps: int):
    x, y = data(batch, steps)
    model = keras.Sequential([
        keras.Input(shape=(32,)),
        keras.layers.Dense(width, activation="relu"),
        keras.layers.Dense(width, activation="relu"),
        keras.layers.Dense(1),
    ])
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    return lambda epochs: model.fit(x, y, batch_size=batch, epochs=epochs, verbose=0)


def tensorflow_loop(tf, batch: int, width: int, steps: int):
    x, y = data(batch, steps)
    sizes = [32, width, width, 1]
    weights = [tf.Variable(tf.random.normal((a, b), stddev=(2 / a) ** 0.5))
               for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
    biases = [tf.Variable(tf.zeros(b)) for b in sizes[1:]]
    variables = weights + biases

    @tf.function
    def step(xb, yb):
        with tf.GradientTape() as tape:
            h = tf.nn.relu(xb @ weights[0] + biases[0])
            h = tf.nn.relu(h @ weights[1] + biases[1])
            loss = tf.reduce_mean((h @ weights[2] + biases[2] - yb) ** 2)
        for v, g in zip(variables, tape.gradient(loss, variables), strict=True):
            v.assign_sub(0.01 * g)
        return loss

    batches = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x)).batch(batch)

    def train(epochs):
        for _ in range(epochs):
            for xb, yb in batches:
                step(xb, yb)

    return train


def torch_loop(torch, batch: int, width: int, steps: int):
    x, y = (torch.from_numpy(a) for a in data(batch, steps))
    model = torch.nn.Sequential(
        torch.nn.Linear(32, width), torch.nn.ReLU(),
        torch.nn.Linear(width, width), torch.nn.ReLU(),
        torch.nn.Linear(width, 1),
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)

    def train(epochs):
        for _ in range(epochs):
            for batch_indices in torch.randperm(len(x)).split(batch):
                optimizer.zero_grad()
                loss = ((model(x[batch_indices]) - y[batch_indices]) ** 2).mean()
                loss.backward()
                optimizer.step()

    return train


def ms_per_step(train, steps: int, rounds: int) -> float:
    train(1)
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        train(EPOCHS)
        best = min(best, time.perf_counter() - start)
    return 1000 * best / (EPOCHS * steps)


def main(side: str, rounds: int, batch: int, points: list[str]) -> dict:
    os.environ.update(ONE_THREAD)
    if side == "fit":
        from claims.target import load_keras

        library, make = load_keras(), keras_fit
        backend = library.backend.backend()
    elif side == "loop":
        import tensorflow as library

        make, backend = tensorflow_loop, "tensorflow"
    else:
        import torch as library

        make, backend = torch_loop, "torch"
    times = []
    for point in points:
        width, steps = map(int, point.split(":"))
        times.append(ms_per_step(make(library, batch, width, steps), steps, rounds))
    return {"side": side, "backend": backend, "tensorflow_loaded": "tensorflow" in sys.modules,
            "ms_per_step": times}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:])))
