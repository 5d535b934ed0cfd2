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
def portable_model(keras):
    """The fixed model built here, the fixed input, and the model's predictions on it."""
    make = portability_model()
    model, x = make.build(keras), make.sample_input()
    return model, x, model.predict(x, verbose=0)


@pytest.mark.claim("q1-portable-files")
@pytest.mark.parametrize(("path", "label"), portability_files())
def test_a_file_saved_in_any_environment_loads_here_with_the_same_model(
        keras, measure, portable_model, path, label):
    """load_model reads the file another Keras version or backend saved (fixtures/portability,
    `nox -s portability`): the same weights, and the predictions of the same model built here."""
    try:
        model = keras.models.load_model(str(path), compile=False)
    except (ValueError, TypeError) as exc:  # how load_model refuses a file it cannot read
        measure(table=PORTABILITY_TABLE, row=label, cell="fails", verdict="refuted",
                detail=describe(exc))
        raise AssertionError(f"{path.name} does not load: {describe(exc)}") from exc
    reference, x, expected = portable_model
    weights = reference.get_weights()
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
def tfjs_model(portable_model):
    """The portability model, its input and predictions here, and the converter. Its tests
    run with --tfjs, which the tfjs sessions pass after installing the converter and TF.js."""
    if importlib.util.find_spec("tensorflowjs") is None:
        pytest.skip("the tensorflowjs converter is installed by the tfjs sessions only")
    if shutil.which("node") is None or not (TFJS / "node_modules" / "@tensorflow").is_dir():
        pytest.skip("needs Node.js and @tensorflow/tfjs: `npm ci` in tests/tfjs")
    return (*portable_model, tensorflowjs_converter())


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


# --- beyond the seed: loading untrusted files -------------------------------------------------
# Payloads are harmless by construction: each can only create a marker inside the test's
# temporary directory (a marshalled lambda opening a file, os.makedirs, get_file from a file://
# URL there, tf.io.write_file); no shell, no network. The memory bomb loads in a child process
# under an address-space limit.

SECURITY_TABLE = "Security: advisory (row) x environment (column)"


def keras_major(keras) -> int:
    return int(keras.__version__.split(".")[0])


def load_refusal(keras, path, **kwargs) -> str | None:
    """load_model's exception as text, or None when it loaded."""
    try:
        with contextlib.redirect_stdout(sys.stderr):
            keras.models.load_model(str(path), **kwargs)
    except Exception as exc:  # any refusal is the safe outcome
        return describe(exc)
    return None


def judge_advisory(measure, advisory: str, exploited: bool, evidence: str) -> None:
    """One cell of the security table; an exploited advisory refutes the claim."""
    cell, verdict = ("vulnerable", "refuted") if exploited else ("safe", "holds")
    measure(table=SECURITY_TABLE, row=advisory, cell=cell, verdict=verdict, detail=evidence)
    assert not exploited, f"{advisory}: {evidence}"


def advisory_needs(measure, advisory: str, present: bool, why: str) -> None:
    """Skip (not applicable) where this version lacks the mechanism the advisory abuses."""
    if not present:
        measure(table=SECURITY_TABLE, row=advisory, cell="n/a", verdict="not-applicable",
                detail=why)
        pytest.skip(why)


def marker_lambda(marker: Path):
    # The path is a constant of the code object, so it survives the marshalled bytecode.
    return eval(f"lambda x: (open({str(marker)!r}, 'w').close(), x)[1]")  # noqa: S307


def saved_lambda_model(keras, folder: Path, suffix: str) -> tuple[Path, Path]:
    """Input -> Lambda(payload) saved by model.save('x<suffix>'); the marker not yet made."""
    marker = folder / f"lambda{suffix}.marker"
    inputs = keras.Input((1,))
    path = folder / f"lambda_model{suffix}"
    with contextlib.redirect_stdout(sys.stderr):
        keras.Model(inputs, keras.layers.Lambda(marker_lambda(marker))(inputs)).save(str(path))
    marker.unlink(missing_ok=True)  # building the model ran the lambda once
    return path, marker


def keras_zip_members(keras, folder: Path) -> tuple[dict[str, bytes], dict]:
    """A real Input -> Dense .keras file: its members and its parsed config.json."""
    inputs = keras.Input((4,), name="inp")
    path = folder / "base.keras"
    keras.Model(inputs, keras.layers.Dense(4, name="dense")(inputs)).save(str(path))
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    return members, json.loads(members["config.json"])


def write_keras_zip(path: Path, members: dict[str, bytes], config: dict | None = None) -> Path:
    if config is not None:
        members = {**members, "config.json": json.dumps(config).encode()}
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def function_ref(module: str, name: str) -> dict:
    return {"module": module, "class_name": "function", "config": name, "registered_name": name}


def layer_entry(class_name: str, name: str, config: dict, inbound: list, **fields) -> dict:
    """A layer of a functional config.json with the dtype of the base model's Dense."""
    dtype = next(x for x in config["config"]["layers"] if x["class_name"] == "Dense")["config"][
        "dtype"]
    return {"module": "keras.layers", "class_name": class_name, "registered_name": None,
            "name": name, "inbound_nodes": inbound,
            "config": {"name": name, "trainable": True, "dtype": dtype, **fields}}


@pytest.mark.claim("q1-safe-mode-lambda")
def test_a_lambda_in_a_keras_file_is_refused_by_default_and_runs_with_safe_mode_off(
        keras, tmp_path):
    """load_model refuses the marshalled code of a Lambda layer in the file that
    model.save('x.keras') writes, unless safe_mode=False."""
    path, marker = saved_lambda_model(keras, tmp_path, ".keras")
    refusal = load_refusal(keras, path)
    assert not marker.exists(), f"the default load_model ran the file's code ({refusal})"
    load_refusal(keras, path, safe_mode=False)
    if not marker.exists():
        raise RuntimeError("with safe_mode=False the payload did not run: the check is broken")


@pytest.mark.claim("q1-load-untrusted-files")
def test_cve_2024_3660_a_keras_file_lambda_does_not_run_in_safe_mode(keras, tmp_path, measure):
    """CVE-2024-3660 (Keras < 2.13): the '.keras' file a version writes by default runs its
    Lambda code on load_model(safe_mode=True)."""
    path, marker = saved_lambda_model(keras, tmp_path, ".keras")
    refusal = load_refusal(keras, path, safe_mode=True)
    written = "zip" if zipfile.is_zipfile(path) else "HDF5"
    judge_advisory(measure, "CVE-2024-3660: Lambda code in a .keras file", marker.exists(),
                   f"{written} file: " + ("the Lambda ran" if marker.exists() else
                                          f"refused: {refusal}"))


@pytest.mark.claim("q1-load-untrusted-files")
def test_cve_2025_1550_config_json_cannot_call_any_function(keras, tmp_path, measure):
    """CVE-2025-1550 (Keras 3.0 to 3.8): config.json names os.makedirs as a layer and
    load_model(safe_mode=True) calls it with the node's arguments."""
    advisory = "CVE-2025-1550: config.json calls any module's function"
    advisory_needs(measure, advisory, keras_major(keras) >= 3, "the Keras 3 .keras loader only")
    members, config = keras_zip_members(keras, tmp_path)
    marker = tmp_path / "made_by_config"
    config["config"]["layers"].append({**function_ref("os", "makedirs"), "name": "evil",
                                       "inbound_nodes": [{"args": [str(marker)], "kwargs": {}}]})
    refusal = load_refusal(keras, write_keras_zip(tmp_path / "evil.keras", members, config))
    judge_advisory(measure, advisory, marker.exists(),
                   "os.makedirs ran" if marker.exists() else f"refused: {refusal}")


@pytest.mark.claim("q1-load-untrusted-files")
def test_cve_2025_8747_a_lambda_cannot_call_get_file(keras, tmp_path, measure):
    """CVE-2025-8747 (Keras 3.0 to 3.10): a Lambda whose function is keras.utils.get_file
    downloads (here: copies from a file:// URL in the temporary folder) during loading."""
    advisory = "CVE-2025-8747: a Lambda calls keras.utils.get_file"
    advisory_needs(measure, advisory, keras_major(keras) >= 3, "the Keras 3 .keras loader only")
    members, config = keras_zip_members(keras, tmp_path)
    source = tmp_path / "payload.txt"
    source.write_text("fetched during load_model\n")
    cache = tmp_path / "cache"
    cache.mkdir()  # get_file falls back to ~/.keras or /tmp/.keras when it is missing
    marker = cache / "datasets" / "fetched.marker"
    config["config"]["layers"].append(layer_entry(
        "Lambda", "fetch", config, [{"args": [], "kwargs": {"inputs": marker.name}}],
        function=function_ref("keras.utils", "get_file"),
        arguments={"origin": source.as_uri(), "cache_dir": str(cache)}))
    refusal = load_refusal(keras, write_keras_zip(tmp_path / "evil.keras", members, config))
    judge_advisory(measure, advisory, marker.exists(),
                   "get_file wrote into the cache" if marker.exists() else f"refused: {refusal}")


@pytest.mark.claim("q1-load-untrusted-files")
def test_cve_2025_9905_an_h5_lambda_does_not_run_in_safe_mode(keras, tmp_path, measure):
    """CVE-2025-9905 (Keras 3.0 to 3.11.2; tf.keras never checks): load_model of an .h5 file
    ignores safe_mode and runs its Lambda code."""
    path, marker = saved_lambda_model(keras, tmp_path, ".h5")
    refusal = load_refusal(keras, path, safe_mode=True)
    judge_advisory(measure, "CVE-2025-9905: Lambda code in an .h5 file", marker.exists(),
                   "the Lambda ran" if marker.exists() else f"refused: {refusal}")


@pytest.mark.claim("q1-load-untrusted-files")
def test_cve_2025_9906_config_json_cannot_turn_safe_mode_off(keras, tmp_path, measure):
    """CVE-2025-9906 (Keras 3.0 to 3.10): config.json calls
    keras.config.enable_unsafe_deserialization (through keras.ops.cond in a Lambda), after
    which a later layer's Lambda code is accepted."""
    advisory = "CVE-2025-9906: config.json turns safe_mode off"
    config_module = getattr(keras, "config", None)
    advisory_needs(measure, advisory, hasattr(config_module, "enable_unsafe_deserialization"),
                   "no keras.config.enable_unsafe_deserialization here")
    from keras.src.backend.common import global_state

    members, config = keras_zip_members(keras, tmp_path)
    marker = tmp_path / "lambda.marker"
    inputs = keras.Input((1,))
    payload = keras.saving.serialize_keras_object(
        keras.Model(inputs, keras.layers.Lambda(marker_lambda(marker))(inputs)))
    marker.unlink(missing_ok=True)
    unsafe = function_ref("keras.config", "enable_unsafe_deserialization")
    gadget = layer_entry("Lambda", "disable_safe_mode", config,
                         [{"args": [], "kwargs": {"inputs": True}}],
                         function=function_ref("keras.ops", "cond"),
                         arguments={"true_fn": unsafe, "false_fn": unsafe})
    # a node's arguments are deserialized when the node runs: after the gadget's
    carrier = layer_entry("Identity", "carrier", config,
                          [{"args": [], "kwargs": {"inputs": payload}}])
    layers = config["config"]["layers"]
    before = global_state.get_global_attribute("safe_mode_saving")
    try:
        config["config"]["layers"] = [*layers, carrier]
        load_refusal(keras, write_keras_zip(tmp_path / "control.keras", members, config))
        if marker.exists():
            raise RuntimeError("the payload ran without the gadget: the check is broken")
        config["config"]["layers"] = [*layers, gadget, carrier]
        refusal = load_refusal(keras, write_keras_zip(tmp_path / "evil.keras", members, config))
    finally:
        global_state.set_global_attribute("safe_mode_saving", before)
    judge_advisory(measure, advisory, marker.exists(),
                   "safe_mode turned off, then the Lambda ran" if marker.exists()
                   else f"refused: {refusal}")


@pytest.mark.claim("q1-load-untrusted-files")
def test_cve_2026_1462_a_tfsmlayer_does_not_load_a_savedmodel_in_safe_mode(
        keras, environment, tmp_path, measure):
    """CVE-2026-1462 (Keras 3 before 3.12.1 / 3.13.2): a TFSMLayer in the file loads an
    attacker's SavedModel with safe_mode=True, whose graph then runs."""
    advisory = "CVE-2026-1462: TFSMLayer loads any SavedModel"
    advisory_needs(measure, advisory, hasattr(keras.layers, "TFSMLayer")
                   and environment.backend == "tensorflow",
                   "TFSMLayer exists in Keras 3 on the TensorFlow backend only")
    import tensorflow as tf

    marker = tmp_path / "savedmodel.marker"

    class Payload(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 1], tf.float32)])
        def serve(self, x):
            tf.io.write_file(str(marker), "written by the SavedModel's graph")
            return x

    tf.saved_model.save(Payload(), str(tmp_path / "saved_model"))
    inputs = keras.Input((1,))
    outputs = keras.layers.TFSMLayer(str(tmp_path / "saved_model"), call_endpoint="serve")(inputs)
    keras.Model(inputs, outputs).save(str(tmp_path / "tfsm.keras"))
    marker.unlink(missing_ok=True)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            keras.models.load_model(str(tmp_path / "tfsm.keras"))(np.ones((1, 1), "float32"))
        refusal = None
    except Exception as exc:  # refused: the safe outcome
        refusal = describe(exc)
    judge_advisory(measure, advisory, marker.exists(),
                   "the SavedModel's graph ran" if marker.exists() else f"refused: {refusal}")


# In a child: cap the address space 2 GiB above what the imports took, then load the bomb.
LOAD_UNDER_LIMIT = """
import json, resource, sys
from claims.target import load_keras

keras = load_keras()
with open("/proc/self/status") as status:
    size = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))
resource.setrlimit(resource.RLIMIT_AS, (size + (2 << 30), resource.RLIM_INFINITY))
try:
    keras.models.load_model(sys.argv[1])
    outcome = "loaded"
except BaseException as exc:
    outcome = f"{type(exc).__name__}: {exc}"
print(json.dumps({"outcome": " ".join(outcome.split())[:400]}))
"""
ALLOCATION_FAILURES = ("MemoryError", "Unable to allocate", "Cannot allocate", "bad_alloc",
                       "Out of memory")


@pytest.mark.claim("q1-load-untrusted-files")
def test_cve_2026_0897_a_tiny_file_cannot_make_load_model_allocate_64_gib(
        keras, tmp_path, measure):
    """CVE-2026-0897 (fixed for load_model in 3.12.3 and 3.15.0): a 13 kB .keras file whose
    weights declare a 64 GiB dataset makes loading allocate it; in the child, under a memory
    limit, a vulnerable version fails to allocate instead of refusing the file."""
    import h5py

    advisory = "CVE-2026-0897: HDF5 weights declare 64 GiB"
    advisory_needs(measure, advisory, keras_major(keras) >= 3, "the Keras 3 .keras loader only")
    members, _ = keras_zip_members(keras, tmp_path)
    weights = tmp_path / "model.weights.h5"
    weights.write_bytes(members["model.weights.h5"])
    with h5py.File(weights, "r+") as h5:
        kernels = []
        h5.visititems(lambda name, obj: kernels.append(name)
                      if isinstance(obj, h5py.Dataset) and obj.shape == (4, 4) else None)
        del h5[kernels[0]]
        h5.create_dataset(kernels[0], shape=(1 << 17, 1 << 17), dtype="float32",
                          chunks=(1024, 1024), compression="gzip", fillvalue=0)
    bomb = write_keras_zip(tmp_path / "bomb.keras",
                           {**members, "model.weights.h5": weights.read_bytes()})
    proc = run_python(LOAD_UNDER_LIMIT, str(bomb), timeout=180)
    if proc.returncode:
        exploited, evidence = True, f"the child died (exit {proc.returncode}): {stderr_tail(proc)}"
    else:
        outcome = json.loads(proc.stdout.strip().splitlines()[-1])["outcome"]
        exploited = any(failure in outcome for failure in ALLOCATION_FAILURES)
        evidence = f"{bomb.stat().st_size:,}-byte file: {outcome}"
    judge_advisory(measure, advisory, exploited, evidence)


@pytest.mark.claim("q1-load-untrusted-files")
def test_ghsa_hqp4_2352_xf5r_get_file_extraction_stays_in_its_folder(keras, tmp_path, measure):
    """GHSA-hqp4-2352-xf5r (fixed in 3.12.2 and 3.14.0): get_file(extract=True) checks tar
    members against the current directory, not the extraction folder; run from '/', the member
    '../escaped.txt' lands outside the folder (here: still inside the temporary directory)."""
    import io
    import tarfile

    archive = tmp_path / "payload.tar"
    with tarfile.open(archive, "w") as tar:
        for name in ("inside.txt", "../escaped.txt"):
            info = tarfile.TarInfo(name)
            info.size = 4
            tar.addfile(info, io.BytesIO(b"data"))
    cache = tmp_path / "cache" / "deeper"
    cache.mkdir(parents=True)  # get_file falls back to ~/.keras or /tmp/.keras when it is missing
    here = os.getcwd()
    os.chdir("/")  # the advisory's precondition: containers and CI runners start there
    try:
        with contextlib.redirect_stdout(sys.stderr):
            keras.utils.get_file("payload.tar", origin=archive.as_uri(), extract=True,
                                 cache_dir=str(cache))
        refusal = None
    except Exception as exc:
        refusal = describe(exc)
    finally:
        os.chdir(here)
    inside = sorted(cache.rglob("inside.txt"))
    if not inside:
        raise RuntimeError(f"nothing was extracted: the check is broken ({refusal})")
    escaped = list(tmp_path.rglob("escaped.txt"))
    outside = [p for p in escaped if inside[0].parent not in p.parents]
    if outside:
        evidence = f"'../escaped.txt' written to <tmp>/{outside[0].relative_to(tmp_path)}"
    else:
        evidence = "'../escaped.txt' " + ("kept inside the folder" if escaped else "skipped")
    judge_advisory(measure, "GHSA-hqp4-2352-xf5r: archive extraction escapes its folder",
                   bool(outside), evidence)
