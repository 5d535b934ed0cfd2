"""Trains one small model from the same start on one device and under each way Keras offers to
spread it over two devices of the host CPU, and prints as JSON how far each run's weights end
from one device's, where its weights live and what it warned. One process per run: the devices
are fixed when the backend starts (TensorFlow's CPU split in two logical devices, JAX's in two
host devices by XLA_FLAGS; PyTorch's CPU is one device).

`same_training.py [mirrored] [distribution]`, any backend:
`mirrored`: tf.distribute.MirroredStrategy over the two CPU devices, wherever TensorFlow can be
imported;
`distribution`: keras.distribution's DataParallel, ModelParallel with a LayoutMap key that
matches the hidden kernel, and ModelParallel with a key that matches no variable.
A part whose API is missing reports {"absent": why}; a call that raises reports {"error": ...}:
what Keras does there is the finding.
"""

import contextlib
import importlib.util
import json
import os
import sys
import warnings

import numpy as np

from claims.target import detect

HOST_DEVICES = 2
SAMPLES, BATCH, EPOCHS, RATE = 32, 16, 3, 0.1


def build(keras, rate=RATE):
    model = keras.Sequential([keras.Input(shape=(4,)),
                              keras.layers.Dense(8, activation="tanh", name="hidden"),
                              keras.layers.Dense(1, name="out")])
    model.compile(optimizer=keras.optimizers.SGD(rate), loss="mse")
    return model


def train(keras, start, data, rate=RATE, scope=None):
    """A model built from the `start` weights (inside a strategy's scope, if given), after
    three epochs of unshuffled SGD on `data`."""
    if scope is None:
        model = build(keras, rate)
        model.set_weights(start)
    else:
        with scope:
            model = build(keras, rate)
            model.set_weights(start)
    model.fit(*data, batch_size=BATCH, epochs=EPOCHS, shuffle=False, verbose=0)
    return model


def diff(a, b) -> float:
    """The largest difference between two lists of weights (arrays or nested lists)."""
    return max(float(np.abs(np.asarray(p) - np.asarray(q)).max())
               for p, q in zip(a, b, strict=True))


def weights_diff(a, b) -> float:
    return diff(a.get_weights(), b.get_weights())


def failure(exc) -> str:
    text = " ".join(str(exc).split())  # one line: some messages span several
    if len(text) > 240:  # a message quoting a tensor: its start and its verdict at the end
        text = f"{text[:120]} ... {text[-120:]}"
    return f"{type(exc).__name__}: {text}"


def placements(value) -> list:
    """[device, shape] of each copy or slice of a backend array or variable."""
    if hasattr(value, "addressable_shards"):  # a JAX array
        return [[str(s.device), list(s.data.shape)] for s in value.addressable_shards]
    copies = getattr(value, "values", None)
    if isinstance(copies, tuple | list):  # a tf.distribute variable: one copy per replica
        return [[c.device.split("device:")[-1], list(c.shape)] for c in copies]
    return [[str(value.device).split("device:")[-1], list(value.shape)]]


def whole_on_each_device(copies: list, shape) -> bool:
    """Replication: each of the HOST_DEVICES devices holds the whole array."""
    return (len({device for device, _ in copies}) == HOST_DEVICES
            and all(copy_shape == list(shape) for _, copy_shape in copies))


def weight_placements(variable) -> list:
    # a Keras 3 variable wraps the backend's; Keras 2 hands out TensorFlow's own
    return placements(variable.value if detect().major >= 3 else variable)


def mirrored(keras, start, data, one) -> dict:
    if importlib.util.find_spec("tensorflow") is None:
        return {"absent": "TensorFlow is not installed here"}
    import tensorflow as tf

    try:
        strategy = tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(HOST_DEVICES)])
        two = train(keras, start, data, scope=strategy.scope())
    except Exception as exc:
        return {"error": failure(exc)}
    # Summing the replicas' mean-loss gradients instead of averaging them would equal one
    # device at twice the learning rate.
    summed = train(keras, start, data, RATE * strategy.num_replicas_in_sync)
    return {
        "replicas": strategy.num_replicas_in_sync,
        "diff": weights_diff(one, two),
        "summed_diff": weights_diff(summed, two),
        "shapes": [list(w.shape) for w in two.get_weights()],
        "copies": [weight_placements(w) for w in two.weights],
    }


@contextlib.contextmanager
def fit_feeds(keras, note):
    """Call `note(batch, spread)` with each batch fit hands to the devices and what it became:
    the backend's distribute_data_input (which the trainer calls with every batch under a
    distribution) is wrapped. A backend with no such function, or a fit that never calls it,
    notes nothing: no batch was spread."""
    try:
        lib = importlib.import_module(
            f"{keras.__name__}.src.backend.{keras.backend.backend()}.distribution_lib")
    except ImportError:
        lib = None
    original = getattr(lib, "distribute_data_input", None)
    if original is None:
        yield
        return

    def spread(batch, *args, **kwargs):
        out = original(batch, *args, **kwargs)
        note(batch, out)
        return out

    lib.distribute_data_input = spread
    try:
        yield
    finally:
        lib.distribute_data_input = original


def under(keras, make, start, data, one) -> dict:
    """One run under the distribution `make()` returns: its weights against one device's,
    where the hidden kernel lives, where fit put the first batch's inputs, and what Keras
    warned."""
    dist = keras.distribution
    fed: list = []

    def note(_, spread):
        fed.extend(placements(part) for part in (
            spread if isinstance(spread, tuple | list) else [spread]))

    try:
        with warnings.catch_warnings(record=True) as caught, fit_feeds(keras, note):
            warnings.simplefilter("always")
            dist.set_distribution(make())
            model = train(keras, start, data)
    except Exception as exc:
        return {"error": failure(exc)}
    finally:
        dist.set_distribution(None)
    return {"diff": weights_diff(one, model),
            "kernel": weight_placements(model.get_layer("hidden").kernel),
            "fit_batch": fed[0] if fed else None,
            # a library's deprecation notices say nothing of the distribution
            "warnings": sorted({f"{w.category.__name__}: {str(w.message)[:200]}" for w in caught
                                if not issubclass(w.category, DeprecationWarning)})}


def model_parallel(dist, devices, key):
    """ModelParallel over a (1, n) mesh whose LayoutMap splits `key`'s columns over the
    'model' axis."""
    mesh = dist.DeviceMesh((1, len(devices)), ["batch", "model"], devices=devices)
    layout_map = dist.LayoutMap(mesh)
    layout_map[key] = dist.TensorLayout([None, "model"])
    return dist.ModelParallel(device_mesh=mesh, layout_map=layout_map, batch_dim_name="batch")


def distribution(keras, start, data, one) -> dict:
    dist = getattr(keras, "distribution", None)
    if dist is None:
        return {"absent": f"{keras.__name__} {keras.__version__} has no keras.distribution"}
    report = {}
    try:
        devices = dist.list_devices()
    except Exception as exc:
        report["list_devices_error"] = failure(exc)
        devices = [f"cpu:{i}" for i in range(HOST_DEVICES)]  # the names Keras documents
    report["devices"] = devices

    def data_parallel():
        try:
            return dist.DataParallel()  # as the guides set it up: every device found
        except Exception as exc:
            report["data_parallel_default_error"] = failure(exc)
            return dist.DataParallel(devices=devices)

    report["data_parallel"] = under(keras, data_parallel, start, data, one)
    report["model_parallel"] = under(
        keras, lambda: model_parallel(dist, devices, ".*hidden/kernel"), start, data, one)
    report["unmatched_key"] = under(
        keras, lambda: model_parallel(dist, devices, ".*no_such_layer/kernel"), start, data, one)
    return report


def split_host_cpu(count: int, mirrored: bool = False) -> None:
    """The host CPU as `count` devices, before the backend starts: JAX's for the JAX backend,
    TensorFlow's for its backend and for MirroredStrategy (importing TensorFlow costs seconds,
    so not otherwise). PyTorch's CPU is one device whatever is asked."""
    backend = detect().backend
    if backend == "jax":
        os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={count}"
    if ((backend == "tensorflow" or mirrored)
            and importlib.util.find_spec("tensorflow") is not None):
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * count)


def main(parts: list[str]) -> None:
    split_host_cpu(HOST_DEVICES, mirrored="mirrored" in parts)
    from claims.target import load_keras

    keras = load_keras()
    rng = np.random.default_rng(0)
    data = (rng.uniform(-1, 1, (SAMPLES, 4)).astype("float32"),
            rng.uniform(-1, 1, (SAMPLES, 1)).astype("float32"))
    start = [rng.uniform(-0.5, 0.5, w.shape).astype("float32")
             for w in build(keras).get_weights()]
    one = train(keras, start, data)
    report = {"moved": diff(start, one.get_weights())}
    for part in parts:
        report[part] = {"mirrored": mirrored, "distribution": distribution}[part](
            keras, start, data, one)
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1:])
