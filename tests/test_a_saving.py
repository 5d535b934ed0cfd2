"""Section A: saving and reloading models (questions 1, 2), and deploying the saved model to
TF-Serving and TFLite (question 1)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.checks import (
    GRAPH,
    assert_rejected,
    file_format,
    random_array,
    run_child,
    skip_unless_trainable,
    stderr_tail,
    tensorflow_or_skip,
    to_numpy,
)
from tests.strategies import examples, layer_stacks

# Exceptions that say a step cannot run in this environment, whatever the model.
ENVIRONMENT_FAILURES = (ImportError, MemoryError)
# Reloading restores the very same float32 weights and runs the same kernels in the same
# process, so predictions must be bit-identical: any tolerance would hide a lost weight.
EXACT = dict(rtol=0, atol=0)


def sample_input(stack, batch: int = 3) -> np.ndarray:
    return random_array((batch, *stack.input_shape), seed=1)


def saved_and_loaded(keras, model, path):
    model.save(str(path))
    return keras.models.load_model(str(path))


def register(keras):
    """`register_keras_serializable` lives in keras.saving from 2.13 and in keras.utils in 2.12."""
    saving = getattr(keras, "saving", None)
    return getattr(saving, "register_keras_serializable", keras.utils.register_keras_serializable)


def config_diff(a, b, path: str = "") -> list[str]:
    """Where two configs differ, as paths, for a readable assert. Tuples and lists compare alike:
    the saved JSON turns every tuple into a list."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in {*a, *b} for d in config_diff(a.get(k), b.get(k), f"{path}.{k}")]
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b):
        pairs = enumerate(zip(a, b, strict=True))
        return [d for i, (x, y) in pairs for d in config_diff(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def assert_same_weights(a, b) -> None:
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_allclose(wa, wb, **EXACT)


@pytest.mark.claim("q1-save-load-roundtrip")
@settings(max_examples=examples(6))
@given(stack=layer_stacks(), style=st.sampled_from(["sequential", "functional"]),
       compiled=st.booleans())
def test_keras_file_roundtrip_keeps_predictions_and_config(
        keras, tmp_path_factory, stack, style, compiled):
    """A Sequential or Functional model, compiled or not, reloaded from 'x.keras' predicts
    bit-identically and has the same config."""
    model = stack.build(keras, style)
    if compiled:  # as users save the model they trained
        model.compile(optimizer="adam", loss="mse")
    x = sample_input(stack)
    loaded = saved_and_loaded(keras, model, tmp_path_factory.mktemp("rt") / "model.keras")
    np.testing.assert_allclose(to_numpy(keras, loaded(x)), to_numpy(keras, model(x)), **EXACT)
    assert not config_diff(model.get_config(), loaded.get_config())


@pytest.mark.claim("q1-save-load-resumes-training")
# each example compiles two training steps: the slowest test here
@settings(max_examples=examples(2))
@given(stack=layer_stacks(dropout=False))
def test_reloaded_compiled_model_continues_training_identically(
    keras, environment, tmp_path_factory, stack
):
    """After one Adam step, save + reload, then one more step: the weights equal the original's
    (optimizer moments and step count were restored)."""
    skip_unless_trainable(environment)
    model = stack.build(keras)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    x = sample_input(stack, batch=4)
    y = random_array((4, *model.output_shape[1:]), seed=2)
    model.train_on_batch(x, y)
    loaded = saved_and_loaded(keras, model, tmp_path_factory.mktemp("fit") / "model.keras")
    model.train_on_batch(x, y)
    loaded.train_on_batch(x, y)
    assert_same_weights(model, loaded)


def subclass_model(keras, registered: bool):
    """A Model subclass with a required constructor argument, as users write them."""

    class Head(keras.Model):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.dense = keras.layers.Dense(units)

        def call(self, inputs):
            return self.dense(inputs)

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    if not registered:
        return Head(3)
    return register(keras)(package="claims_a")(Head)(3)


@pytest.mark.claim("q1-subclass-save-load")
def test_model_subclass_roundtrips_through_keras_file(keras, tmp_path):
    """The seed: `model.save('x.keras')` then `load_model` works for a Model subclass too."""
    model = subclass_model(keras, registered=False)
    x = random_array((2, 4))
    expected = to_numpy(keras, model(x))
    try:
        loaded = saved_and_loaded(keras, model, tmp_path / "sub.keras")
    except (TypeError, ValueError, NotImplementedError) as exc:
        raise AssertionError(f"round trip failed: {type(exc).__name__}: {exc}") from None
    np.testing.assert_allclose(to_numpy(keras, loaded(x)), expected, **EXACT)


@pytest.mark.claim("q1-subclass-save-load", correction=True)
def test_registered_subclass_with_get_config_roundtrips(keras, keras_name_writes_hdf5, tmp_path):
    """A subclass registered with register_keras_serializable and with a get_config round-trips
    (Keras 2.12: only with save_format='keras_v3', since '.keras' there means HDF5)."""
    model = subclass_model(keras, registered=True)
    x = random_array((2, 4))
    expected = to_numpy(keras, model(x))
    path = tmp_path / "sub.keras"
    model.save(str(path), **({"save_format": "keras_v3"} if keras_name_writes_hdf5 else {}))
    loaded = keras.models.load_model(str(path))
    assert type(loaded).__name__ == "Head" and loaded.units == 3
    np.testing.assert_allclose(to_numpy(keras, loaded(x)), expected, **EXACT)


@pytest.fixture(scope="module")
def tiny(keras):
    return keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(2)])


SUFFIXES = ["", ".foo", ".h5"]


@pytest.mark.claim("q1-keras-extension-required")
@pytest.mark.parametrize("suffix", SUFFIXES)
def test_save_rejects_names_not_ending_in_keras(tiny, tmp_path, suffix):
    """The seed: the file passed to model.save needs to end with .keras."""
    assert_rejected(lambda: tiny.save(str(tmp_path / f"model{suffix}")), f"save('model{suffix}')")


def expected_formats(environment, keras_name_writes_hdf5: bool) -> dict[str, str]:
    """The correction's table: what each file name gives, per Keras line."""
    if environment.major >= 3:
        return {".keras": "keras-zip", ".h5": "hdf5", ".hdf5": "hdf5", "": "rejected",
                ".foo": "rejected"}
    native = "hdf5" if keras_name_writes_hdf5 else "keras-zip"
    return {".keras": native, ".h5": "hdf5", ".hdf5": "hdf5", "": "savedmodel-dir",
            ".foo": "savedmodel-dir"}


@pytest.mark.claim("q1-keras-extension-required", correction=True)
def test_file_name_decides_the_format_per_version(
        tiny, environment, keras_name_writes_hdf5, tmp_path, evidence):
    """Keras 3: .keras -> zip, .h5/.hdf5 -> HDF5, other names rejected with a pointer to
    model.export; Keras 2: other names -> SavedModel directory, and 2.12 writes HDF5 even for
    '.keras'."""
    expected = expected_formats(environment, keras_name_writes_hdf5)
    observed, refusals = {}, []
    for suffix in expected:
        path = tmp_path / f"model{suffix}"
        try:
            tiny.save(str(path))
            observed[suffix] = file_format(path)
        except ValueError as exc:
            observed[suffix] = "rejected"
            refusals.append(str(exc))
    evidence(f"save formats {observed}")
    assert observed == expected
    assert all("export" in refusal for refusal in refusals), refusals


WEIGHT_NAMES = ["w.weights.h5", "w.h5", "w", "w.ckpt"]


@pytest.mark.claim("q1-save-weights")
def test_weights_alone_roundtrip_and_name_rules(keras, tiny, tmp_path, evidence):
    """save_weights / load_weights restore the weights into a fresh copy of the architecture;
    records which file names each version accepts."""
    accepted = []
    for name in WEIGHT_NAMES:
        try:
            tiny.save_weights(str(tmp_path / name))
            accepted.append(name)
        except ValueError:
            pass
    evidence(f"save_weights accepts {accepted} of {WEIGHT_NAMES}")
    fresh = keras.models.clone_model(tiny)
    fresh.load_weights(str(tmp_path / "w.weights.h5"))
    assert_same_weights(tiny, fresh)


@pytest.mark.claim("q1-json-roundtrip")
@settings(max_examples=examples(10))
@given(stack=layer_stacks(), style=st.sampled_from(["sequential", "functional"]))
def test_json_roundtrip_rebuilds_the_same_architecture(keras, stack, style):
    """model_from_json(model.to_json()) rebuilds the same config (architecture only, no weights)."""
    model = stack.build(keras, style)
    rebuilt = keras.models.model_from_json(model.to_json())
    assert not config_diff(model.get_config(), rebuilt.get_config())


@pytest.mark.claim("q1-yaml-format")
def test_model_saves_its_architecture_as_yaml(tiny):
    """The seed: a model can be saved in YAML format (model.to_yaml)."""
    assert hasattr(tiny, "to_yaml"), "the model has no to_yaml method"
    try:
        text = tiny.to_yaml()
    except RuntimeError as exc:
        raise AssertionError(f"to_yaml raised RuntimeError: {exc}") from None
    assert "Dense" in text


@pytest.mark.claim("q1-yaml-format", correction=True)
def test_yaml_is_gone_and_json_replaces_it(keras, tiny, environment):
    """Keras 2.6+ keeps to_yaml only to raise RuntimeError (arbitrary code execution risk);
    Keras 3 has no to_yaml at all; JSON is the text format that remains."""
    if environment.major >= 3:
        assert not hasattr(tiny, "to_yaml") and not hasattr(keras.models, "model_from_yaml")
    else:
        assert_rejected(tiny.to_yaml, "to_yaml", errors=(RuntimeError,))
    rebuilt = keras.models.model_from_json(tiny.to_json())
    assert not config_diff(tiny.get_config(), rebuilt.get_config())


@pytest.fixture(scope="module")
def deployed(keras, tmp_path_factory):
    """Export a small CNN with model.export, then serve it and run it in TFLite in a child
    process that cannot import Keras. Returns what happened; the tests judge it."""
    tensorflow_or_skip("serving with TF-Serving and converting to TFLite")
    root = tmp_path_factory.mktemp("deploy")
    model = keras.Sequential([
        keras.Input(shape=(6, 6, 2)),
        keras.layers.Conv2D(3, 3, padding="same", activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(2),
    ])
    model.compile(optimizer="adam", loss="mse")  # as users export the model they trained
    x = random_array((3, 6, 6, 2), seed=3)
    result = {"expected": to_numpy(keras, model(x)), "dir": root, "export_error": None,
              "model": model, "x": x}
    try:
        model.export(str(root / "exported"))
    except ENVIRONMENT_FAILURES:
        raise
    except Exception as exc:  # recorded, then judged by the tests
        result["export_error"] = f"model.export raised {type(exc).__name__}: {exc}"[:400]
        return result
    np.save(root / "x.npy", x)
    result["proc"] = run_child("serve_and_lite", str(root / "exported"), str(root / "x.npy"),
                               str(root), block_keras=True)
    return result


def deployed_output(deployed, name: str) -> np.ndarray:
    """What the serving or TFLite step computed: an AssertionError where the model could not be
    exported or the runtime refuses it, a RuntimeError where the step could not run here."""
    assert deployed["export_error"] is None, deployed["export_error"]
    root = deployed["dir"]
    if (root / f"{name}.npy").exists():
        return np.load(root / f"{name}.npy")
    if (root / f"{name}.error").exists():
        error = (root / f"{name}.error").read_text()
        if error.startswith(tuple(e.__name__ for e in ENVIRONMENT_FAILURES)):
            raise RuntimeError(f"the {name} step cannot run here: {error}")
        raise AssertionError(f"the {name} step refuses the exported model: {error}")
    proc = deployed["proc"]
    raise RuntimeError(f"the {name} step never finished (exit {proc.returncode}): "
                       f"{stderr_tail(proc)}")


@pytest.mark.claim("q1-tf-serving")
def test_exported_savedmodel_serves_without_keras(deployed):
    """The seed: TF-Serving deploys Keras models; here a process with TensorFlow and no Keras
    loads the exported SavedModel's serving_default signature and gets the same outputs."""
    np.testing.assert_allclose(deployed_output(deployed, "serving"), deployed["expected"], **GRAPH)


@pytest.fixture(scope="module")
def reexported(deployed, reexport):
    """Where model.export fails (torch): the model saved as .keras, exported by a
    TensorFlow-backend process, then served and converted by the Keras-free child."""
    if deployed["export_error"] is None:
        pytest.skip("model.export works here: nothing to work around")
    root = deployed["dir"]
    deployed["model"].save(str(root / "model.keras"))
    np.save(root / "x.npy", deployed["x"])
    refusal = reexport(root / "model.keras", root / "exported")
    if refusal:
        return {**deployed, "export_error": f"the TensorFlow backend cannot export it: {refusal}"}
    proc = run_child("serve_and_lite", str(root / "exported"), str(root / "x.npy"), str(root),
                     block_keras=True)
    return {**deployed, "export_error": None, "proc": proc}


@pytest.mark.claim("q1-tf-serving", correction=True)
def test_torch_model_serves_after_reexport_under_tensorflow(reexported):
    """The .keras file re-exported under the TensorFlow backend serves with the same outputs."""
    served = deployed_output(reexported, "serving")
    np.testing.assert_allclose(served, reexported["expected"], **GRAPH)


@pytest.mark.claim("q1-tflite", correction=True)
def test_torch_model_runs_in_tflite_after_reexport_under_tensorflow(reexported):
    """The .keras file re-exported under the TensorFlow backend converts to TFLite and gives the
    same outputs."""
    out = deployed_output(reexported, "tflite")
    np.testing.assert_allclose(out, reexported["expected"], **GRAPH)


@pytest.mark.claim("q1-tflite")
def test_tflite_conversion_runs_with_same_outputs(deployed, evidence):
    """The seed: 'TFLight' (TFLite, now LiteRT) deploys Keras models; the exported SavedModel
    converts and the TFLite interpreter gives the same outputs."""
    out = deployed_output(deployed, "tflite")
    if "ai_edge_litert" in deployed["proc"].stderr:
        evidence("tf.lite.Interpreter warns it is deprecated in favour of ai_edge_litert")
    np.testing.assert_allclose(out, deployed["expected"], **GRAPH)

