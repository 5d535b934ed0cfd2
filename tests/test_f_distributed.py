"""Section F: distributed training, LLMs (questions 13, 14)."""

from __future__ import annotations

import importlib
import importlib.util
import re

import pytest
from packaging.version import Version

from tests.checks import (
    child_report,
    keras_submodule,
    run_child,
    skip_unless_trainable,
    tiny_llama,
)
from tests.children.same_training import HOST_DEVICES, whole_on_each_device

# Data-parallel gradients are summed across devices in another order than on one device.
DISTRIBUTED_ATOL = 1e-5
RUNS = {"data_parallel": "DataParallel", "model_parallel": "ModelParallel"}


def host_devices_env(count: int) -> dict:
    """XLA_FLAGS that split the host CPU into `count` JAX devices (read at JAX's import), for
    the children that leave the split to their caller."""
    return {"XLA_FLAGS": f"--xla_force_host_platform_device_count={count}"}


@pytest.fixture(scope="module")
def distributed(environment, shared_child):
    """One model trained on one device and under DataParallel, ModelParallel (a LayoutMap key
    matching the hidden kernel) and ModelParallel with a key matching nothing, over the host
    CPU split in two devices, in a fresh process: how far the weights end from one device's,
    where they live and what Keras warned. Keras 2 has no keras.distribution: there the same
    process trains under MirroredStrategy instead, what its correction names. The run
    test_c_big_data reads too."""
    skip_unless_trainable(environment)
    return shared_child("same_training", "mirrored", "distribution")


def keras_distribution(keras, run: dict) -> dict:
    if "absent" in run.get("distribution", {"absent": "not run"}):
        pytest.skip(f"{keras.__name__} {keras.__version__} has no keras.distribution "
                    "(Keras 3 only)")
    return run["distribution"]


def describe(run: dict) -> str:
    """What one keras.distribution run did, for the evidence."""
    if "error" in run:
        return f"raises {run['error']}"
    warned = "; warned: " + " | ".join(run["warnings"]) if run["warnings"] else ", no warning"
    return (f"kernel (4, 8) held as {run['kernel']}, max |w - w_one| = {run['diff']:.1e}"
            f"{warned}")


def by_name(d: dict) -> str:
    """Where list_devices() raises, the runs were given the devices by name: say so."""
    error = d.get("list_devices_error")
    return f"list_devices() raises {error}; given {d['devices']} by name, " if error else ""


def holds_whole_on_each_device(run: dict) -> bool:
    """DataParallel's layout: each of the host devices holds the whole kernel."""
    return "error" not in run and whole_on_each_device(run["kernel"], (4, 8))


def splits_columns_over_devices(run: dict) -> bool:
    """ModelParallel's layout for the matching key: each device holds half the columns."""
    return ("error" not in run and len({device for device, _ in run["kernel"]}) == HOST_DEVICES
            and all(shape == [4, 8 // HOST_DEVICES] for _, shape in run["kernel"]))


def rule_here(environment) -> str:
    """What keras.distribution does in this environment, as the corrections record it:
    it distributes on JAX; with TensorFlow creating DataParallel or ModelParallel raises up to
    Keras 3.13.1 and both are ignored from 3.15.1; on PyTorch both are ignored (given the
    devices by name: finding them raises)."""
    if environment.backend == "jax":
        return "distributes"
    if environment.backend == "tensorflow" and environment.version < Version("3.15"):
        return "raises"
    return "ignored"


def follows(run: dict, rule: str, spread) -> bool:
    """The run did what `rule` says; `spread` tells the layout of a distributing run."""
    if rule == "distributes":
        return spread(run) and run["diff"] <= DISTRIBUTED_ATOL
    if rule == "raises":
        return "error" in run
    # ignored: trained as if no distribution were set, without a word
    return ("error" not in run and len(run["kernel"]) == 1
            and run["diff"] <= DISTRIBUTED_ATOL and not run["warnings"])


@pytest.mark.claim("q13-pretrained-llama")
def test_keras_applications_has_a_llama(keras):
    """The seed: Keras 3.0 provides a pretrained Llama."""
    names = [n for n in dir(keras_submodule(keras, "applications")) if not n.startswith("_")]
    assert any("llama" in n.lower() for n in names), (
        f"keras.applications of {keras.__version__} has no Llama among its {len(names)} names"
    )


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


def data_parallel_spreads(keras, distributed) -> None:
    """The children that train a bigger model under DataParallel read its layout the JAX way:
    they run where DataParallel was seen to spread the small model over the host devices, and
    elsewhere what it did instead is the finding."""
    d = keras_distribution(keras, distributed)
    assert holds_whole_on_each_device(d["data_parallel"]), (
        f"{by_name(d)}DataParallel {describe(d['data_parallel'])}")


@pytest.mark.claim("q13-train-llm-distributed")
def test_tiny_llama_trains_under_data_parallel(keras, environment, distributed, evidence):
    """The seed: an LLM such as Llama trains with Keras on data distributed over devices."""
    require_keras_hub(environment)
    data_parallel_spreads(keras, distributed)
    run = child_report(run_child("llama_data_parallel", **host_devices_env(HOST_DEVICES)))
    evidence(f"tiny Llama under DataParallel on {run['devices']} devices: losses {run['losses']}")
    assert run["devices"] == HOST_DEVICES
    assert run["losses"][-1] < run["losses"][0]


@pytest.mark.claim("q13-dataparallel-modelparallel")
def test_dataparallel_replicates_and_modelparallel_splits_over_two_devices(keras, distributed,
                                                                            evidence):
    """The seed: Keras supports distributed training with DataParallel and ModelParallel. Under
    each, fit spreads the model over the two host devices (the whole kernel on each, or half
    its columns on each) and reaches one device's weights."""
    assert hasattr(keras, "distribution"), (
        f"{keras.__name__} {keras.__version__} has no keras.distribution")
    d = distributed["distribution"]
    evidence(by_name(d) + " | ".join(f"{name}: {describe(d[key])}"
                                     for key, name in RUNS.items()))
    dp, mp = d["data_parallel"], d["model_parallel"]
    assert holds_whole_on_each_device(dp) and dp["diff"] <= DISTRIBUTED_ATOL, (
        f"{by_name(d)}DataParallel {describe(dp)}")
    assert splits_columns_over_devices(mp) and mp["diff"] <= DISTRIBUTED_ATOL, (
        f"{by_name(d)}ModelParallel {describe(mp)}")


@pytest.mark.claim("q13-dataparallel-modelparallel", correction=True)
def test_only_jax_distributes_with_keras_distribution_keras2_uses_tf_distribute(
        keras, environment, distributed, evidence):
    """keras.distribution exists from Keras 3.0 and distributes on JAX only: with TensorFlow
    DataParallel and ModelParallel raise (to 3.13.1) or are ignored without a warning (3.15.1);
    on PyTorch finding the devices raises and, given them by name, both are ignored. Keras 2
    and tf_keras distribute through tf.distribute.MirroredStrategy."""
    if not hasattr(keras, "distribution"):
        m = distributed["mirrored"]
        evidence(f"MirroredStrategy: {m['replicas']} replicas, max |w - w_one| = "
                 f"{m['diff']:.1e}")
        assert all(whole_on_each_device(c, s) for c, s in zip(m["copies"], m["shapes"],
                                                               strict=True))
        assert m["diff"] <= DISTRIBUTED_ATOL
        return
    d, rule = distributed["distribution"], rule_here(environment)
    assert follows(d["data_parallel"], rule, holds_whole_on_each_device), (
        f"{rule}: {describe(d['data_parallel'])}")
    assert follows(d["model_parallel"], rule, splits_columns_over_devices), (
        f"{rule}: {describe(d['model_parallel'])}")
    if environment.backend == "torch":
        assert "list_devices_error" in d and "data_parallel_default_error" in d


@pytest.fixture(scope="module")
def on_jax(probe) -> dict:
    """The backend probe in a fresh process with KERAS_BACKEND=jax, fitting a small model too
    (children/backend_probe.py with PROBE_FIT). A child that could not import JAX shows an
    environment without it: not applicable, whatever Keras this is."""
    report = probe(KERAS_BACKEND="jax", PROBE_FIT="1")
    if re.match(r"ModuleNotFoundError: No module named '(jax|jaxlib)[.']", report.get("error", "")):
        pytest.skip(f"JAX is not installed here: KERAS_BACKEND=jax gave {report['error']}")
    return report


def jax_outcome(report: dict) -> str:
    """What Keras did when asked for JAX, for the evidence."""
    if "error" in report:
        return f"raises {report['error']}"
    losses = report["losses"]
    return (f"backend {report['backend']!r}, a Dense layer returned {report['tensor_type']}, "
            f"fit loss {losses[0]:.3f} -> {losses[-1]:.3f}")


def trains(report: dict) -> bool:
    return "error" not in report and report["losses"][-1] < 0.5 * report["losses"][0]


@pytest.mark.claim("q13-keras3-jax-backend")
def test_keras_runs_and_trains_on_jax_when_asked(on_jax, evidence):
    """The seed: Keras 3.0 has several backends, JAX among them. In a fresh process with
    KERAS_BACKEND=jax, Keras reports the jax backend, its layers return JAX arrays and fit
    trains a small model."""
    evidence(f"KERAS_BACKEND=jax: {jax_outcome(on_jax)}")
    assert on_jax.get("backend") == "jax", f"KERAS_BACKEND=jax: {jax_outcome(on_jax)}"
    assert on_jax["jax_array"], f"a Dense layer returned {on_jax['tensor_type']}"
    assert on_jax["output"] == [[3.0, 3.0]]
    assert trains(on_jax), f"fit loss {on_jax['losses']}"


@pytest.mark.claim("q13-keras3-jax-backend", correction=True)
def test_jax_backend_from_keras3_keras2_ignores_it_and_runs_on_tensorflow(on_jax, environment):
    """From Keras 3.0 KERAS_BACKEND=jax runs Keras on JAX; Keras 2 and tf_keras ignore it: they
    compute and train on TensorFlow."""
    expected = "jax" if environment.major >= 3 else "tensorflow"
    assert on_jax.get("backend") == expected, jax_outcome(on_jax)
    assert on_jax["jax_array"] == (expected == "jax"), jax_outcome(on_jax)
    assert trains(on_jax), jax_outcome(on_jax)


@pytest.mark.claim("q14-one-program-many-devices")
def test_data_parallel_fit_equals_one_device_fit(keras, distributed, evidence):
    """Unchanged single-device code under DataParallel: every device holds the whole kernel,
    fit hands each device a slice of every batch (observed where fit hands the batch over, not
    on a tensor of our own), and fit reaches one device's weights."""
    d = keras_distribution(keras, distributed)
    dp = d["data_parallel"]
    fed = dp.get("fit_batch")
    evidence(f"DataParallel over {d['devices']}: {describe(dp)}; fit handed the devices its "
             f"first batch of 16 as {fed or 'one unsplit batch (no distribution of the data)'}")
    assert "data_parallel_default_error" not in d, (
        f"DataParallel() raises {d['data_parallel_default_error']}; given the devices by name, "
        f"{describe(dp)}")
    assert distributed["moved"] > 1e-3
    assert holds_whole_on_each_device(dp), f"DataParallel {describe(dp)}"
    assert fed is not None and sorted(shape for _, shape in fed) == (
        [[16 // HOST_DEVICES, 4]] * HOST_DEVICES), (
        f"fit did not split its batches over the devices: {fed}")
    assert len({device for device, _ in fed}) == HOST_DEVICES, f"one device twice: {fed}"
    assert dp["diff"] <= DISTRIBUTED_ATOL


@pytest.mark.claim("q14-one-program-many-devices", correction=True)
def test_only_jax_spreads_unchanged_code_over_devices(keras, environment, distributed):
    """Only the JAX backend spreads the unchanged code under DataParallel; with TensorFlow it
    raises (to 3.13.1) or trains as on one device without a warning (3.15.1), and on PyTorch
    DataParallel() raises and, given the devices by name, is ignored."""
    d, rule = keras_distribution(keras, distributed), rule_here(environment)
    assert follows(d["data_parallel"], rule, holds_whole_on_each_device), (
        f"{rule}: {describe(d['data_parallel'])}")
    if environment.backend == "torch":
        assert "data_parallel_default_error" in d


@pytest.mark.claim("q14-model-parallel-shards")
def test_model_parallel_layout_map_splits_a_kernel(keras, distributed, evidence):
    """ModelParallel with a LayoutMap puts one slice of the kernel on each device, and fit
    still reaches one device's weights. A key that matches no variable is reported beside it:
    what Keras does with the kernel then (error, warning, or replicated in silence)."""
    d = keras_distribution(keras, distributed)
    mp = d["model_parallel"]
    evidence(f"{by_name(d)}key '.*hidden/kernel': {describe(mp)} | key matching no variable: "
             f"{describe(d['unmatched_key'])}")
    assert splits_columns_over_devices(mp), f"{by_name(d)}ModelParallel {describe(mp)}"
    assert mp["diff"] <= DISTRIBUTED_ATOL


@pytest.mark.claim("q14-model-parallel-shards", correction=True)
def test_only_jax_splits_a_kernel_under_model_parallel(keras, environment, distributed):
    """Only the JAX backend splits the kernel a LayoutMap key matches; with TensorFlow
    ModelParallel raises (to 3.13.1) or leaves every weight whole on one device without a
    warning (3.15.1), and on PyTorch, given the devices by name, it is ignored."""
    mp = keras_distribution(keras, distributed)["model_parallel"]
    rule = rule_here(environment)
    assert follows(mp, rule, splits_columns_over_devices), f"{rule}: {describe(mp)}"


@pytest.mark.bench
@pytest.mark.claim("q14-one-program-many-devices")
def test_data_parallel_step_time_over_host_devices(keras, distributed, evidence):
    """Step time of data-parallel training over 1, 2, 4 and 8 host devices, and how far its
    weights end from one device's."""
    data_parallel_spreads(keras, distributed)
    for count in (1, 2, 4, 8):
        run = child_report(run_child("data_parallel_scaling", **host_devices_env(count)))
        evidence(f"{run['devices']} devices: {run['step_s'] * 1e3:.1f} ms/step (one device "
                 f"{run['one_step_s'] * 1e3:.1f}); max |w - w_one| = {run['diff']:.1e}")
        assert run["diff"] <= DISTRIBUTED_ATOL, f"{run['devices']} devices: {run['diff']:.1e}"
