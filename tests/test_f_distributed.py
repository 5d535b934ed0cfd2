"""Section F: distributed training, LLMs (questions 13, 14)."""

from __future__ import annotations

import importlib
import importlib.util

import pytest

from tests.checks import keras_submodule, run_child, skip_unless_trainable

# Data-parallel gradients are summed across devices in another order than on one device.
DISTRIBUTED_ATOL = 1e-5
HOST_DEVICES = 2


def host_devices_env(count: int) -> dict:
    """XLA_FLAGS that split the host CPU into `count` JAX devices (read at JAX's import)."""
    return {"XLA_FLAGS": f"--xla_force_host_platform_device_count={count}"}


# Runs in a fresh JAX process with several host devices: trains the same model with the same
# start on one device, under DataParallel and under ModelParallel, and reports where the
# weights and a batch live.
DISTRIBUTED_CHILD = """
import json

import numpy as np
from claims.target import load_keras

keras = load_keras()
dist = keras.distribution
devices = dist.list_devices()
rng = np.random.default_rng(0)
x = rng.uniform(-1, 1, (32, 4)).astype("float32")
y = rng.uniform(-1, 1, (32, 1)).astype("float32")


def build():
    model = keras.Sequential([keras.Input(shape=(4,)),
                              keras.layers.Dense(8, activation="tanh", name="hidden"),
                              keras.layers.Dense(1, name="out")])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    return model


def train(start):
    model = build()
    model.set_weights(start)
    model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    return model


def diff(a, b):
    return max(float(np.abs(p - q).max()) for p, q in zip(a.get_weights(), b.get_weights()))


def shards(model):
    kernel = model.get_layer("hidden").kernel
    return [[str(s.device), list(s.data.shape)] for s in kernel.value.addressable_shards]


keras.utils.set_random_seed(0)
start = build().get_weights()
one = train(start)

data_parallel = dist.DataParallel(devices=devices)
dist.set_distribution(data_parallel)
replicated = train(start)
batch = dist.distribute_tensor(x[:16], data_parallel.get_data_layout((16, 4)))

mesh = dist.DeviceMesh((1, len(devices)), ["batch", "model"], devices=devices)
layout_map = dist.LayoutMap(mesh)
layout_map[".*hidden/kernel"] = dist.TensorLayout([None, "model"])
dist.set_distribution(dist.ModelParallel(device_mesh=mesh, layout_map=layout_map,
                                         batch_dim_name="batch"))
split = train(start)
print(json.dumps({
    "devices": devices,
    "moved": max(float(np.abs(a - b).max()) for a, b in zip(start, one.get_weights())),
    "data_parallel_diff": diff(one, replicated),
    "data_parallel_kernel": shards(replicated),
    "batch_shards": [list(s.data.shape) for s in batch.addressable_shards],
    "model_parallel_diff": diff(one, split),
    "model_parallel_kernel": shards(split),
}))
"""


def distribution_unsupported(keras, environment) -> str | None:
    """Why keras.distribution cannot be checked here, recording what the backend does; None
    where it can (JAX, whose host CPU splits into several devices)."""
    skip_unless_trainable(environment)
    if not hasattr(keras, "distribution"):
        return f"{keras.__name__} {keras.__version__} has no keras.distribution (Keras 3 only)"
    if environment.backend == "jax":
        return None
    try:
        mesh = keras.distribution.DataParallel().device_mesh
    except Exception as exc:  # what the backend does is the finding reported in the skip
        return (f"keras.distribution on {environment.backend}: DataParallel() raises "
                f"{type(exc).__name__}: {exc}")
    lib = importlib.import_module(f"keras.src.backend.{environment.backend}.distribution_lib")
    status = (lib.__doc__ or "").strip().splitlines()[0]
    return (f"keras.distribution on {environment.backend}: DataParallel() builds a mesh of "
            f"shape {mesh.shape}; the backend's distribution_lib says {status!r}")


@pytest.fixture(scope="module")
def distributed(keras, environment):
    reason = distribution_unsupported(keras, environment)
    if reason:
        pytest.skip(reason)
    return run_child(DISTRIBUTED_CHILD, **host_devices_env(HOST_DEVICES))


@pytest.mark.claim("q13-pretrained-llama")
def test_keras_applications_has_a_llama(keras):
    """The seed: Keras 3.0 provides a pretrained Llama."""
    names = [n for n in dir(keras_submodule(keras, "applications")) if not n.startswith("_")]
    assert any("llama" in n.lower() for n in names), (
        f"keras.applications of {keras.__version__} has no Llama among its {len(names)} names"
    )


def tiny_llama(keras, keras_hub):
    """A Llama with one layer and a 64-token vocabulary, with random weights; its default loss
    is cross-entropy on the logits."""
    backbone = keras_hub.models.LlamaBackbone(
        vocabulary_size=64, num_layers=1, num_query_heads=2, num_key_value_heads=1,
        hidden_dim=16, intermediate_dim=32,
    )
    model = keras_hub.models.LlamaCausalLM(backbone=backbone, preprocessor=None)
    model.compile(optimizer=keras.optimizers.Adam(0.01))
    return model


def require_keras_hub(keras):
    if not keras.__version__.startswith("3"):
        pytest.skip("KerasHub requires Keras 3")
    if importlib.util.find_spec("keras_hub") is None:
        pytest.skip("keras-hub is not installed in this environment")
    return importlib.import_module("keras_hub")


@pytest.mark.claim("q13-pretrained-llama", correction=True)
def test_keras_hub_llama_builds_runs_and_trains_a_step(keras, environment):
    """KerasHub, not Keras, provides Llama: a tiny one builds, runs forward and trains a step."""
    skip_unless_trainable(environment)
    keras_hub = require_keras_hub(keras)
    import numpy as np

    model = tiny_llama(keras, keras_hub)
    tokens = np.random.default_rng(0).integers(0, 64, (4, 8))
    inputs = {"token_ids": tokens[:, :-1], "padding_mask": np.ones_like(tokens[:, :-1])}
    assert tuple(model(inputs).shape) == (4, 7, 64)
    history = model.fit(inputs, tokens[:, 1:], epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


LLAMA_CHILD = """
import json

import numpy as np
from claims.target import load_keras

keras = load_keras()
from tests.test_f_distributed import tiny_llama
import keras_hub

keras.distribution.set_distribution(keras.distribution.DataParallel())
model = tiny_llama(keras, keras_hub)
tokens = np.random.default_rng(0).integers(0, 64, (8, 9))
inputs = {"token_ids": tokens[:, :-1], "padding_mask": np.ones_like(tokens[:, :-1])}
losses = model.fit(inputs, tokens[:, 1:], batch_size=8, epochs=5, verbose=0).history["loss"]
embedding = model.backbone.token_embedding.embeddings.value
print(json.dumps({"losses": losses, "devices": len(embedding.sharding.device_set)}))
"""


@pytest.mark.claim("q13-train-llm-distributed")
def test_tiny_llama_trains_under_data_parallel(keras, environment, evidence):
    """The seed: an LLM such as Llama trains with Keras on data distributed over devices."""
    reason = distribution_unsupported(keras, environment)
    if reason:
        pytest.skip(reason)
    require_keras_hub(keras)
    run = run_child(LLAMA_CHILD, **host_devices_env(HOST_DEVICES))
    evidence(f"tiny Llama under DataParallel on {run['devices']} devices: losses {run['losses']}")
    assert run["devices"] == HOST_DEVICES
    assert run["losses"][-1] < run["losses"][0]


@pytest.mark.claim("q13-dataparallel-modelparallel")
def test_keras_distribution_has_dataparallel_and_modelparallel(keras):
    """The seed: Keras supports distributed training with DataParallel and ModelParallel."""
    distribution = getattr(keras, "distribution", None)
    assert distribution is not None, f"{keras.__name__} {keras.__version__} has no distribution"
    assert hasattr(distribution, "DataParallel") and hasattr(distribution, "ModelParallel")


@pytest.mark.claim("q13-dataparallel-modelparallel", correction=True)
def test_keras2_distributes_through_tf_distribute(keras):
    """Before Keras 3 the way to distribute is tf.distribute (MirroredStrategy and others)."""
    if keras.__version__.startswith("3"):
        pytest.skip("Keras 3 has keras.distribution: nothing to correct")
    import tensorflow as tf

    assert hasattr(tf.distribute, "MirroredStrategy")


@pytest.mark.claim("q14-one-program-many-devices")
def test_data_parallel_fit_equals_one_device_fit(distributed, evidence):
    """Unchanged single-device code under DataParallel: every device holds the whole kernel,
    each gets a slice of the batch, and fit reaches one device's weights."""
    d = distributed
    evidence(f"{len(d['devices'])} host devices; max |w_dp - w_one| = "
             f"{d['data_parallel_diff']:.2e} (tolerance {DISTRIBUTED_ATOL}); kernel copies "
             f"{d['data_parallel_kernel']}; batch of 16 split as {d['batch_shards']}")
    assert d["moved"] > 1e-3
    assert len(d["devices"]) == HOST_DEVICES
    assert [shape for _, shape in d["data_parallel_kernel"]] == [[4, 8]] * HOST_DEVICES
    assert len({device for device, _ in d["data_parallel_kernel"]}) == HOST_DEVICES
    assert d["batch_shards"] == [[16 // HOST_DEVICES, 4]] * HOST_DEVICES
    assert d["data_parallel_diff"] <= DISTRIBUTED_ATOL


@pytest.mark.claim("q14-model-parallel-shards")
def test_model_parallel_layout_map_splits_a_kernel(distributed, evidence):
    """ModelParallel with a LayoutMap puts one slice of the kernel on each device, and fit
    still reaches one device's weights."""
    d = distributed
    evidence(f"kernel (4, 8) over {HOST_DEVICES} devices as {d['model_parallel_kernel']}; "
             f"max |w_mp - w_one| = {d['model_parallel_diff']:.2e}")
    assert [shape for _, shape in d["model_parallel_kernel"]] == [[4, 8 // HOST_DEVICES]] * (
        HOST_DEVICES)
    assert len({device for device, _ in d["model_parallel_kernel"]}) == HOST_DEVICES
    assert d["model_parallel_diff"] <= DISTRIBUTED_ATOL


SCALE_CHILD = """
import json
import time

import numpy as np
from claims.target import load_keras

keras = load_keras()
rng = np.random.default_rng(0)
x = rng.uniform(-1, 1, (2048, 256)).astype("float32")
y = rng.uniform(-1, 1, (2048, 1)).astype("float32")


def train(start):
    model = keras.Sequential([keras.Input(shape=(256,)), keras.layers.Dense(512, "relu"),
                              keras.layers.Dense(512, "relu"), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    if start is not None:
        model.set_weights(start)
    model.fit(x[:256], y[:256], batch_size=256, epochs=1, shuffle=False, verbose=0)
    began = time.perf_counter()
    model.fit(x, y, batch_size=256, epochs=3, shuffle=False, verbose=0)
    return model, (time.perf_counter() - began) / 24


keras.utils.set_random_seed(0)
start = keras.Sequential([keras.Input(shape=(256,)), keras.layers.Dense(512, "relu"),
                          keras.layers.Dense(512, "relu"), keras.layers.Dense(1)]).get_weights()
one, one_step = train(start)
keras.distribution.set_distribution(keras.distribution.DataParallel())
many, step = train(start)
print(json.dumps({
    "devices": len(keras.distribution.list_devices()), "step_s": step, "one_step_s": one_step,
    "diff": max(float(np.abs(a - b).max()) for a, b in zip(one.get_weights(),
                                                         many.get_weights())),
}))
"""


@pytest.mark.bench
@pytest.mark.claim("q14-one-program-many-devices")
def test_data_parallel_step_time_over_host_devices(keras, environment, evidence):
    """Step time of data-parallel training over 1, 2, 4 and 8 host devices, and how far its
    weights end from one device's."""
    reason = distribution_unsupported(keras, environment)
    if reason:
        pytest.skip(reason)
    for count in (1, 2, 4, 8):
        run = run_child(SCALE_CHILD, **host_devices_env(count))
        evidence(f"{run['devices']} devices: {run['step_s'] * 1e3:.1f} ms/step (one device "
                 f"{run['one_step_s'] * 1e3:.1f}); max |w - w_one| = {run['diff']:.1e}")
        assert run["diff"] <= DISTRIBUTED_ATOL, f"{run['devices']} devices: {run['diff']:.1e}"
