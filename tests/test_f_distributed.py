"""Section F: distributed training, LLMs (questions 13, 14)."""

from __future__ import annotations

import importlib
import importlib.util

import pytest

from tests.checks import child_report, keras_submodule, run_child, skip_unless_trainable

# Data-parallel gradients are summed across devices in another order than on one device.
DISTRIBUTED_ATOL = 1e-5
HOST_DEVICES = 2


def host_devices_env(count: int) -> dict:
    """XLA_FLAGS that split the host CPU into `count` JAX devices (read at JAX's import)."""
    return {"XLA_FLAGS": f"--xla_force_host_platform_device_count={count}"}


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
    """One model trained on one device, under DataParallel and under ModelParallel over the
    host devices, in a fresh JAX process: how far the weights end apart and where they live."""
    reason = distribution_unsupported(keras, environment)
    if reason:
        pytest.skip(reason)
    return child_report(run_child("same_training", "distribution",
                                  **host_devices_env(HOST_DEVICES)))


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


def require_keras_hub(environment):
    if environment.major < 3:
        pytest.skip("KerasHub requires Keras 3")
    if importlib.util.find_spec("keras_hub") is None:
        pytest.skip("keras-hub is not installed in this environment")
    return importlib.import_module("keras_hub")


@pytest.mark.claim("q13-pretrained-llama", correction=True)
def test_keras_hub_llama_builds_runs_and_trains_a_step(keras, environment):
    """KerasHub, not Keras, provides Llama: a tiny one builds, runs forward and trains a step."""
    skip_unless_trainable(environment)
    keras_hub = require_keras_hub(environment)
    import numpy as np

    model = tiny_llama(keras, keras_hub)
    tokens = np.random.default_rng(0).integers(0, 64, (4, 8))
    inputs = {"token_ids": tokens[:, :-1], "padding_mask": np.ones_like(tokens[:, :-1])}
    assert tuple(model(inputs).shape) == (4, 7, 64)
    history = model.fit(inputs, tokens[:, 1:], epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


@pytest.mark.claim("q13-train-llm-distributed")
def test_tiny_llama_trains_under_data_parallel(keras, environment, evidence):
    """The seed: an LLM such as Llama trains with Keras on data distributed over devices."""
    reason = distribution_unsupported(keras, environment)
    if reason:
        pytest.skip(reason)
    require_keras_hub(environment)
    run = child_report(run_child("llama_data_parallel", **host_devices_env(HOST_DEVICES)))
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
def test_keras2_distributes_through_tf_distribute(environment):
    """Before Keras 3 the way to distribute is tf.distribute (MirroredStrategy and others)."""
    if environment.major >= 3:
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


@pytest.mark.bench
@pytest.mark.claim("q14-one-program-many-devices")
def test_data_parallel_step_time_over_host_devices(keras, environment, evidence):
    """Step time of data-parallel training over 1, 2, 4 and 8 host devices, and how far its
    weights end from one device's."""
    reason = distribution_unsupported(keras, environment)
    if reason:
        pytest.skip(reason)
    for count in (1, 2, 4, 8):
        run = child_report(run_child("data_parallel_scaling", **host_devices_env(count)))
        evidence(f"{run['devices']} devices: {run['step_s'] * 1e3:.1f} ms/step (one device "
                 f"{run['one_step_s'] * 1e3:.1f}); max |w - w_one| = {run['diff']:.1e}")
        assert run["diff"] <= DISTRIBUTED_ATOL, f"{run['devices']} devices: {run['diff']:.1e}"
