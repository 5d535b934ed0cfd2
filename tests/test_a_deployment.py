"""Section A: model deployment (1 serialising for production, 2 saving and reloading)."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claims.plugin import describe
from tests.checks import (
    assert_rejected,
    random_array,
    run_python,
    skip_unless_trainable,
    stderr_tail,
    to_numpy,
)
from tests.strategies import layer_stacks

# Reloading restores the very same float32 weights and runs the same kernels in the same
# process, so predictions must be bit-identical: any tolerance would hide a lost weight.
EXACT = dict(rtol=0, atol=0)
# A SavedModel or TFLite graph is a different (traced, possibly fused) program: float32 rounding.
GRAPH = dict(rtol=1e-5, atol=1e-5)


def file_format(path) -> str:
    """What `save` actually wrote: the native zip, legacy HDF5, or a SavedModel directory."""
    if os.path.isdir(path):
        return "savedmodel-dir" if os.path.exists(os.path.join(path, "saved_model.pb")) else "dir"
    if zipfile.is_zipfile(path):
        return "keras-zip"
    with open(path, "rb") as fh:
        return "hdf5" if fh.read(4) == b"\x89HDF" else "other"


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
@settings(max_examples=6)
@given(stack=layer_stacks(), style=st.sampled_from(["sequential", "functional"]))
def test_keras_file_roundtrip_keeps_predictions_and_config(keras, tmp_path_factory, stack, style):
    """A Sequential or Functional model reloaded from 'x.keras' predicts bit-identically and has
    the same config."""
    model = stack.build(keras, style)
    x = sample_input(stack)
    loaded = saved_and_loaded(keras, model, tmp_path_factory.mktemp("rt") / "model.keras")
    np.testing.assert_allclose(to_numpy(keras, loaded(x)), to_numpy(keras, model(x)), **EXACT)
    assert not config_diff(model.get_config(), loaded.get_config())


@pytest.mark.claim("q1-save-load-resumes-training")
@settings(max_examples=2)  # each example compiles two training steps: the slowest test here
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
def test_registered_subclass_with_get_config_roundtrips(keras, environment, tmp_path):
    """A subclass registered with register_keras_serializable and with a get_config round-trips
    (Keras 2.12: only with save_format='keras_v3', since '.keras' there means HDF5)."""
    model = subclass_model(keras, registered=True)
    x = random_array((2, 4))
    expected = to_numpy(keras, model(x))
    path = tmp_path / "sub.keras"
    legacy = environment.package == "keras" and environment.keras.startswith("2.12.")
    model.save(str(path), **({"save_format": "keras_v3"} if legacy else {}))
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


def expected_formats(environment) -> dict[str, str]:
    """The correction's table: what each file name gives, per Keras line."""
    if environment.package == "keras" and environment.keras.startswith("3."):
        return {".keras": "keras-zip", ".h5": "hdf5", ".hdf5": "hdf5", "": "rejected",
                ".foo": "rejected"}
    native = "hdf5" if environment.keras.startswith("2.12.") else "keras-zip"
    return {".keras": native, ".h5": "hdf5", ".hdf5": "hdf5", "": "savedmodel-dir",
            ".foo": "savedmodel-dir"}


@pytest.mark.claim("q1-keras-extension-required", correction=True)
def test_file_name_decides_the_format_per_version(tiny, environment, tmp_path, evidence):
    """Keras 3: .keras -> zip, .h5/.hdf5 -> HDF5, other names rejected; Keras 2: other names ->
    SavedModel directory, and 2.12 writes HDF5 even for '.keras'."""
    observed = {}
    for suffix in expected_formats(environment):
        path = tmp_path / f"model{suffix}"
        try:
            tiny.save(str(path))
            observed[suffix] = file_format(path)
        except ValueError:
            observed[suffix] = "rejected"
    evidence(f"save formats {observed}")
    assert observed == expected_formats(environment)


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
@settings(max_examples=10)
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
    if environment.package == "keras" and environment.keras.startswith("3."):
        assert not hasattr(tiny, "to_yaml") and not hasattr(keras.models, "model_from_yaml")
    else:
        assert_rejected(tiny.to_yaml, "to_yaml", errors=(RuntimeError,))
    rebuilt = keras.models.model_from_json(tiny.to_json())
    assert not config_diff(tiny.get_config(), rebuilt.get_config())


# The child plays TF-Serving (TensorFlow, no Keras), then the TFLite runtime. It writes each
# result as soon as it has it, since a converter crash can abort the process.
SERVE_AND_LITE = """
import os, sys
import numpy as np
import tensorflow as tf

exported, x_file, out = sys.argv[1:4]
x = np.load(x_file)
serve = tf.saved_model.load(exported).signatures["serving_default"]
(name,) = serve.structured_input_signature[1]
(y,) = serve(**{name: tf.constant(x)}).values()
np.save(os.path.join(out, "serving.npy"), y.numpy())
lite = tf.lite.TFLiteConverter.from_saved_model(exported).convert()
interpreter = tf.lite.Interpreter(model_content=lite)
interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], x.shape)
interpreter.allocate_tensors()
interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
interpreter.invoke()
np.save(os.path.join(out, "tflite.npy"),
        interpreter.get_tensor(interpreter.get_output_details()[0]["index"]))
"""


@pytest.fixture(scope="module")
def deployed(keras, environment, tmp_path_factory):
    """Export a small CNN with model.export, then serve it and run it in TFLite in a child
    process that cannot import Keras. Returns what happened; the tests judge it."""
    if importlib.util.find_spec("tensorflow") is None:
        pytest.skip(f"TensorFlow is not installed with the {environment.backend} backend here: "
                    "TF-Serving and TFLite need it")
    root = tmp_path_factory.mktemp("deploy")
    model = keras.Sequential([
        keras.Input(shape=(6, 6, 2)),
        keras.layers.Conv2D(3, 3, padding="same", activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(2),
    ])
    x = random_array((3, 6, 6, 2), seed=3)
    result = {"expected": to_numpy(keras, model(x)), "dir": root, "export_error": None,
              "model": model, "x": x}
    try:
        model.export(str(root / "exported"))
    except Exception as exc:  # recorded, then judged by the tests
        result["export_error"] = f"model.export raised {type(exc).__name__}: {exc}"[:400]
        return result
    np.save(root / "x.npy", x)
    result["proc"] = run_python(SERVE_AND_LITE, str(root / "exported"), str(root / "x.npy"),
                                str(root), block_keras=True)
    return result


# Re-export a .keras file under the TensorFlow backend, in its own process (a backend is fixed
# per process).
REEXPORT = """
import sys
import keras

keras.models.load_model(sys.argv[1]).export(sys.argv[2])
"""


def deployed_output(deployed, name: str) -> np.ndarray:
    assert deployed["export_error"] is None, deployed["export_error"]
    path = deployed["dir"] / f"{name}.npy"
    assert path.exists(), f"{name} step failed: {stderr_tail(deployed['proc'])}"
    return np.load(path)


@pytest.mark.claim("q1-tf-serving")
def test_exported_savedmodel_serves_without_keras(deployed):
    """The seed: TF-Serving deploys Keras models; here a process with TensorFlow and no Keras
    loads the exported SavedModel's serving_default signature and gets the same outputs."""
    np.testing.assert_allclose(deployed_output(deployed, "serving"), deployed["expected"], **GRAPH)


@pytest.fixture(scope="module")
def reexported(deployed):
    """Where model.export fails (torch): the model saved as .keras, exported by a
    TensorFlow-backend process, then served and converted by the Keras-free child."""
    if deployed["export_error"] is None:
        pytest.skip("model.export works here: nothing to work around")
    root = deployed["dir"]
    deployed["model"].save(str(root / "model.keras"))
    np.save(root / "x.npy", deployed["x"])
    step = run_python(REEXPORT, str(root / "model.keras"), str(root / "exported"),
                      KERAS_BACKEND="tensorflow")
    proc = step if step.returncode else run_python(
        SERVE_AND_LITE, str(root / "exported"), str(root / "x.npy"), str(root), block_keras=True)
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


# --- beyond the seed: files moved between environments ---------------------------------------

PORTABILITY = Path(__file__).resolve().parent.parent / "fixtures" / "portability"
PORTABILITY_TABLE = "Portability: file saved by (row) x loaded by (column)"
# What each name holds when `save` writes the format the name promises.
PROMISED_FORMAT = {".keras": "keras-zip", ".h5": "hdf5"}


def portability_model():
    """fixtures/portability/make.py, which builds the fixed model every file holds."""
    spec = importlib.util.spec_from_file_location("portability_make", PORTABILITY / "make.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def portability_files():
    """Every file of fixtures/portability/, labelled by the environment that saved it (and the
    format, where it is not the one the name promises)."""
    params = []
    for record_path in sorted(PORTABILITY.glob("*.json")):
        record = json.loads(record_path.read_text())
        for suffix, written in record["files"].items():
            name = f"{record['environment']}{suffix}"
            label = name + ("" if written == PROMISED_FORMAT[suffix] else f" ({written})")
            params.append(pytest.param(PORTABILITY / name, label, id=name))
    return params


@pytest.fixture(scope="module")
def portable_reference(keras):
    """The fixed model built here, and its predictions on the fixed input."""
    make = portability_model()
    model = make.build(keras)
    return model.get_weights(), model.predict(make.sample_input(), verbose=0), make.sample_input()


@pytest.mark.claim("q1-portable-files")
@pytest.mark.parametrize(("path", "label"), portability_files())
def test_a_file_saved_in_any_environment_loads_here_with_the_same_model(
        keras, measure, portable_reference, path, label):
    """load_model reads the file another Keras version or backend saved (fixtures/portability,
    `nox -s portability`): the same weights, and the predictions of the same model built here."""
    try:
        model = keras.models.load_model(str(path), compile=False)
    except Exception as exc:  # failing to load is this claim's refutation, recorded per cell
        measure(table=PORTABILITY_TABLE, row=label, cell="fails", verdict="refuted",
                detail=describe(exc))
        raise AssertionError(f"{path.name} does not load: {describe(exc)}") from exc
    weights, expected, x = portable_reference
    got = model.predict(x, verbose=0)
    same_weights = len(weights) == len(model.get_weights()) and all(
        np.array_equal(a, b) for a, b in zip(weights, model.get_weights(), strict=True))
    # the same weights through the same kernels: only a different graph could round otherwise
    same = same_weights and got.shape == expected.shape and np.allclose(got, expected, **GRAPH)
    detail = ("weights differ" if not same_weights
              else f"max abs prediction difference {np.max(np.abs(got - expected)):.1e}")
    if same:
        measure(table=PORTABILITY_TABLE, row=label, cell="loads and matches", verdict="holds")
    else:
        measure(table=PORTABILITY_TABLE, row=label, cell="loads but differs", verdict="refuted",
                detail=detail)
    assert same, f"{path.name} loads but holds another model: {detail}"


# --- TF.js: the tensorflowjs converter, then TF.js itself under Node.js -----------------------

TFJS = Path(__file__).resolve().parent / "tfjs"
TFJS_TABLE = "TF.js: conversion route (row) x environment (column)"
# Pure-JS float32 kernels against oneDNN's: a few ulps per op, observed up to 4.8e-7 on outputs
# of scale 2. 1e-4 is far above that and still catches a conversion fault: BatchNormalization's
# epsilon 0.001 read as 0.002 alone moves these outputs by 7.8e-4.
TFJS_TOLERANCE = dict(rtol=0, atol=1e-4)


def tensorflowjs_converter():
    """The function the `tensorflowjs_converter` command runs. `import tensorflowjs` imports TF
    Decision Forests, TF Hub and jax2tf at module level though its Keras and SavedModel
    converters never call them, and their wheels pin the full `tensorflow`: empty stand-ins
    replace the absent ones."""
    def stand_in(name: str, **attrs) -> None:
        module = types.ModuleType(name)
        module.__dict__.update(attrs)
        sys.modules[name] = module

    for name in ("tensorflow_decision_forests", "tensorflow_hub"):
        if name not in sys.modules and importlib.util.find_spec(name) is None:
            stand_in(name)
    try:
        jax2tf = importlib.util.find_spec("jax.experimental.jax2tf") is not None
    except ImportError:  # no jax at all
        jax2tf = False
    if not jax2tf:
        stand_in("tensorflowjs.converters.jax_conversion", convert_jax=None)
    from tensorflowjs.converters import converter

    return lambda *argv: converter.convert(list(argv))


@pytest.fixture(scope="module")
def tfjs_model(keras):
    """The portability model, its input and predictions here, and the converter. The tfjs
    sessions install the converter and TF.js; elsewhere the claim is not checked."""
    if importlib.util.find_spec("tensorflowjs") is None:
        pytest.skip("the tensorflowjs converter is installed by the tfjs sessions only")
    if shutil.which("node") is None or not (TFJS / "node_modules" / "@tensorflow").is_dir():
        pytest.skip("needs Node.js and @tensorflow/tfjs: `npm ci` in tests/tfjs")
    make = portability_model()
    model = make.build(keras)
    x = make.sample_input()
    return model, x, model.predict(x, verbose=0), tensorflowjs_converter()


def tfjs_predictions(folder: Path, x: np.ndarray) -> np.ndarray:
    """Predictions of the converted model in `folder`, by TF.js under Node.js."""
    (folder / "inputs.json").write_text(json.dumps([x.tolist()]))
    proc = subprocess.run(["node", str(TFJS / "predict.js"), str(folder / "tfjs"),
                           str(folder / "inputs.json")], capture_output=True, text=True,
                          timeout=120)
    if proc.returncode:
        errors = [line for line in proc.stderr.splitlines() if "Error" in line] or [proc.stderr]
        raise AssertionError(f"TF.js cannot load or run it: {errors[0].strip()[:400]}")
    return np.asarray(json.loads(proc.stdout)["outputs"][0], dtype="float32")


def assert_runs_in_tfjs(folder: Path, route: str, convert, x, expected, measure) -> None:
    """`convert()` writes folder/tfjs; TF.js must load it and predict `expected`. Each outcome
    is one cell of the TF.js table."""
    try:
        with contextlib.redirect_stdout(sys.stderr):  # model.export prints its signature
            convert()
        got = tfjs_predictions(folder, x)
        assert got.shape == expected.shape and np.allclose(got, expected, **TFJS_TOLERANCE), (
            f"TF.js predicts differently: max abs difference {np.max(np.abs(got - expected))}")
    except Exception as exc:  # every failure on the way is this route's refutation
        detail = str(exc) if isinstance(exc, AssertionError) else describe(exc)
        measure(table=TFJS_TABLE, row=route, cell="fails", verdict="refuted", detail=detail)
        raise AssertionError(f"{route}: {detail}") from exc
    measure(table=TFJS_TABLE, row=route, cell="runs, same predictions", verdict="holds")


@pytest.mark.tfjs
@pytest.mark.claim("q1-tfjs")
@pytest.mark.parametrize(("suffix", "input_format"), [(".keras", "keras_keras"), (".h5", "keras")])
def test_a_saved_model_file_converts_and_predicts_the_same_in_tfjs(
        tfjs_model, tmp_path, measure, suffix, input_format):
    """The seed: TF.js deploys Keras models; the file model.save writes converts with
    tensorflowjs_converter to a layers model, which TF.js loads and runs with Keras' outputs."""
    model, x, expected, tensorflowjs_converter = tfjs_model
    source = tmp_path / "saved" / f"model{suffix}"  # the converter unpacks beside the file
    source.parent.mkdir()

    def convert():
        model.save(str(source))
        tensorflowjs_converter(f"--input_format={input_format}",
                               "--output_format=tfjs_layers_model", str(source),
                               str(tmp_path / "tfjs"))

    assert_runs_in_tfjs(tmp_path, f"{suffix} file -> layers model", convert, x, expected,
                        measure)


@pytest.mark.tfjs
@pytest.mark.claim("q1-tfjs", correction=True)
def test_a_savedmodel_exported_under_tensorflow_predicts_the_same_in_tfjs(
        keras, environment, tfjs_model, tmp_path, measure):
    """The correction: model.export's SavedModel (exported by a TensorFlow-backend process
    where another backend runs) converts to a graph model that TF.js runs with the same outputs."""
    model, x, expected, tensorflowjs_converter = tfjs_model

    def convert():
        exported = tmp_path / "exported"
        if environment.backend == "tensorflow":
            model.export(str(exported))
        else:
            model.save(str(tmp_path / "model.keras"))
            step = run_python(REEXPORT, str(tmp_path / "model.keras"), str(exported),
                              KERAS_BACKEND="tensorflow")
            assert step.returncode == 0, f"export under TensorFlow failed: {stderr_tail(step)}"
        tensorflowjs_converter("--input_format=tf_saved_model",
                               "--output_format=tfjs_graph_model", str(exported),
                               str(tmp_path / "tfjs"))

    assert_runs_in_tfjs(tmp_path, "model.export SavedModel (TensorFlow) -> graph model", convert,
                        x, expected, measure)
