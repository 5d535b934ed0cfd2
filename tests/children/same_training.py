"""Trains one small model from the same start on one device and distributed, and prints as JSON
how far the distributed weights end from one device's and where they live. One process per
run: the devices are fixed when the backend starts.

`same_training.py mirrored`: tf.distribute.MirroredStrategy over the host CPU split in two
logical devices, against OneDeviceStrategy (TensorFlow backend).
`same_training.py distribution`: keras.distribution's DataParallel and ModelParallel, against
no distribution (JAX, its host CPU split into devices by XLA_FLAGS).
"""

import contextlib
import json
import sys

import numpy as np

from claims.target import detect, load_keras

SAMPLES = {"mirrored": 64, "distribution": 32}


def build(keras, rate=0.1):
    model = keras.Sequential([keras.Input(shape=(4,)),
                              keras.layers.Dense(8, activation="tanh", name="hidden"),
                              keras.layers.Dense(1, name="out")])
    model.compile(optimizer=keras.optimizers.SGD(rate), loss="mse")
    return model


def train(keras, start, data, rate=0.1, scope=None):
    """A model built from the `start` weights (inside a strategy's scope, if given), after
    three epochs of unshuffled SGD on `data`."""
    with scope or contextlib.nullcontext():
        model = build(keras, rate)
        model.set_weights(start)
    model.fit(*data, batch_size=16, epochs=3, shuffle=False, verbose=0)
    return model


def diff(a, b) -> float:
    return max(float(np.abs(p - q).max()) for p, q in zip(a, b, strict=True))


def weights_diff(a, b) -> float:
    return diff(a.get_weights(), b.get_weights())


def mirrored(keras, tf, start, data) -> dict:
    one_device = tf.distribute.OneDeviceStrategy("/cpu:0")
    one = train(keras, start, data, scope=one_device.scope())
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    two = train(keras, start, data, scope=strategy.scope())
    # Summing the replicas' mean-loss gradients instead of averaging them would equal one
    # device at twice the learning rate.
    summed = train(keras, start, data, 0.1 * strategy.num_replicas_in_sync, one_device.scope())
    copies = []
    for weight in two.weights:
        # a Keras 3 variable wraps the distributed TensorFlow variable that Keras 2 hands out
        variable = weight.value if detect().major >= 3 else weight
        copies.append([[c.device.split("device:")[-1], list(c.shape)] for c in variable.values])
    return {
        "replicas": strategy.num_replicas_in_sync,
        "max_diff": weights_diff(one, two),
        "summed_diff": weights_diff(summed, two),
        "moved": diff(start, two.get_weights()),
        "shapes": [list(w.shape) for w in two.get_weights()],
        "copies": copies,
    }


def distribution(keras, start, data) -> dict:
    dist = keras.distribution
    devices = dist.list_devices()

    def shards(model):
        kernel = model.get_layer("hidden").kernel
        return [[str(s.device), list(s.data.shape)] for s in kernel.value.addressable_shards]

    one = train(keras, start, data)
    data_parallel = dist.DataParallel(devices=devices)
    dist.set_distribution(data_parallel)
    replicated = train(keras, start, data)
    x = data[0]
    batch = dist.distribute_tensor(x[:16], data_parallel.get_data_layout((16, 4)))
    mesh = dist.DeviceMesh((1, len(devices)), ["batch", "model"], devices=devices)
    layout_map = dist.LayoutMap(mesh)
    layout_map[".*hidden/kernel"] = dist.TensorLayout([None, "model"])
    dist.set_distribution(dist.ModelParallel(device_mesh=mesh, layout_map=layout_map,
                                             batch_dim_name="batch"))
    split = train(keras, start, data)
    return {
        "devices": devices,
        "moved": diff(start, one.get_weights()),
        "data_parallel_diff": weights_diff(one, replicated),
        "data_parallel_kernel": shards(replicated),
        "batch_shards": [list(s.data.shape) for s in batch.addressable_shards],
        "model_parallel_diff": weights_diff(one, split),
        "model_parallel_kernel": shards(split),
    }


def split_host_cpu():
    """TensorFlow with the host CPU as two logical devices, configured before any op runs."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    return tf


def main(mode: str) -> None:
    tf = split_host_cpu() if mode == "mirrored" else None
    keras = load_keras()
    rng = np.random.default_rng(0)
    data = (rng.uniform(-1, 1, (SAMPLES[mode], 4)).astype("float32"),
            rng.uniform(-1, 1, (SAMPLES[mode], 1)).astype("float32"))
    keras.utils.set_random_seed(0)
    start = build(keras).get_weights()
    if mode == "mirrored":
        print(json.dumps(mirrored(keras, tf, start, data)))
    else:
        print(json.dumps(distribution(keras, start, data)))


if __name__ == "__main__":
    main(sys.argv[1])
