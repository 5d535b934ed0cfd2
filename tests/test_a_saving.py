"""Section A: saving and reloading models (questions 1, 2), and deploying the saved model to
TF-Serving and TFLite (question 1)."""

from __future__ import annotations

import contextlib
import importlib.util
import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.version import Version

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


# What a config records about its serialization, not the architecture: Keras 2.13's
# model_from_json rebuilds layers whose configs lack them (observed in 2.13.1).
SERIALIZATION_KEYS = ("module", "registered_name", "build_config")


def architecture(config):
    """The config without its serialization bookkeeping (SERIALIZATION_KEYS), at every depth."""
    if isinstance(config, dict):
        return {k: architecture(v) for k, v in config.items() if k not in SERIALIZATION_KEYS}
    if isinstance(config, (list, tuple)):
        return [architecture(v) for v in config]
    return config


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
    assert not config_diff(architecture(tiny.get_config()), architecture(rebuilt.get_config()))


# What model.export (the SavedModel, its default format in every release) raises where it cannot
# export: (backend, first release, last release) -> (exception class, a phrase of its message),
# each row observed (torch 2.13, TensorFlow 2.21, no torch-xla: no torch-xla release loads with
# torch 2.10 or later).
SAVEDMODEL_REFUSALS = [
    # 3.14 builds torch.export dynamic_shapes that torch.export rejects (keras-team/keras#22041)
    ("torch", "3.14", None, "UserError", "dynamic_shapes"),
    # before, the torch route goes straight to torch_xla (observed in 3.13.1)
    ("torch", "3.8", "3.13.99", "ImportError", "torch_xla"),
    ("numpy", "3.14", None, "AttributeError", "track_and_add_endpoint"),
    ("openvino", "3.14", None, "AttributeError", "track_and_add_endpoint"),
]


def recorded_refusal(environment) -> tuple[str, str] | None:
    """The failure the correction records for model.export's SavedModel here (None: it works)."""
    version = environment.version
    for backend, first, last, error, phrase in SAVEDMODEL_REFUSALS:
        if (environment.major >= 3 and backend == environment.backend
                and version >= Version(first) and (last is None or version <= Version(last))):
            return error, phrase
    return None


def expected_litert(environment) -> str:
    """What model.export('m.tflite', format='litert') does here, per the correction:
    'runs', 'absent' (no such format), 'ignored' (writes a SavedModel under that name),
    'refused' (Keras refuses the backend) or 'needs litert-torch'."""
    version, backend = environment.version, environment.backend
    if environment.major < 3 or Version("3.8") <= version < Version("3.13"):
        return "absent"  # Keras 2: no `format` argument; 3.8-3.12: "Unrecognized format"
    if version < Version("3.8"):
        return "ignored"  # 3.0-3.7 take `format` and ignore it
    if backend == "tensorflow":
        return "runs"
    if backend == "torch" and version >= Version("3.15"):
        return "runs" if importlib.util.find_spec("litert_torch") else "needs litert-torch"
    return "refused"  # 3.13-3.14: every backend but TensorFlow; 3.15+: JAX, NumPy, OpenVINO


def litert_outcome(model, path) -> tuple[str, str]:
    """Runs model.export(path, format='litert'): (what happened, the exception text)."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # it prints where it saved the artifact
            model.export(str(path), format="litert")
    except MemoryError:
        raise
    except Exception as exc:  # recorded, then judged by the tests
        text = " ".join(f"{type(exc).__name__}: {exc}".split())[:400]
        if isinstance(exc, TypeError) and "format" in str(exc):
            return "absent", text
        if "Unrecognized format" in str(exc):
            return "absent", text
        if "litert-torch" in str(exc) or "litert_torch" in str(exc):
            return "needs litert-torch", text
        if "LiteRT export requires" in str(exc):
            return "refused", text
        return "failed", text
    return ("ignored" if path.is_dir() else "runs"), ""


@pytest.fixture(scope="module")
def deployed(keras, tmp_path_factory):
    """Export a small CNN with model.export (a SavedModel) and with model.export(format='litert')
    where this Keras has it, then serve the SavedModel, convert it to TFLite and run both TFLite
    models in tf.lite and in ai_edge_litert, in a child process that cannot import Keras.
    Returns what happened; the tests judge it."""
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
              "model": model, "x": x, "proc": None}
    try:
        model.export(str(root / "exported"))
    except ImportError as exc:
        if "torch_xla" not in str(exc):  # the JAX backend converts through TensorFlow
            tensorflow_or_skip("exporting a SavedModel")
            raise
        # torch 3.8-3.13 converts through torch-xla, whose builds pair with torch 2.9 at most:
        # a refusal every user of a newer torch meets, recorded like the others
        result["export_error"] = f"model.export raised ImportError: {exc}"[:400]
    except MemoryError:
        raise
    except Exception as exc:  # recorded, then judged by the tests
        result["export_error"] = f"model.export raised {type(exc).__name__}: {exc}"[:400]
    result["litert"], result["litert_error"] = litert_outcome(model, root / "model.tflite")
    exported = "-" if result["export_error"] else str(root / "exported")
    tflite = [str(root / "model.tflite")] if result["litert"] == "runs" else []
    if exported != "-" or tflite:  # where both exports fail, the refusals are the verdict
        tensorflow_or_skip("serving with TF-Serving and running TFLite")
        np.save(root / "x.npy", x)
        result["proc"] = run_child("serve_and_lite", exported, str(root / "x.npy"), str(root),
                                   *tflite, block_keras=True)
    return result


def step_output(deployed, name: str) -> np.ndarray:
    """What one step of the Keras-free child computed: an AssertionError where the runtime
    refuses the model, a RuntimeError where the step could not run here."""
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


def deployed_output(deployed, name: str) -> np.ndarray:
    """A step on the exported SavedModel: an AssertionError where it could not be exported."""
    assert deployed["export_error"] is None, deployed["export_error"]
    return step_output(deployed, name)


def note(deployed, name: str) -> str:
    path = deployed["dir"] / f"{name}.note"
    return path.read_text() if path.exists() else ""


def assert_runs_in_both_runtimes(deployed, tf_step: str, litert_step: str, what: str,
                                 evidence) -> None:
    """The TFLite model gives the Keras model's outputs in tf.lite.Interpreter and, where LiteRT's
    ai_edge_litert is installed, in its Interpreter (the runtime TensorFlow 2.21 points to)."""
    runtimes = {"tf.lite.Interpreter": tf_step}
    if importlib.util.find_spec("ai_edge_litert") is not None:
        runtimes["ai_edge_litert"] = litert_step
    for runtime, step in runtimes.items():
        np.testing.assert_allclose(step_output(deployed, step), deployed["expected"], **GRAPH,
                                   err_msg=f"{what} in {runtime}")
    missing = "" if len(runtimes) == 2 else " (ai_edge_litert not installed)"
    checked = " and ".join(runtimes)
    evidence(f"{what}: same outputs in {checked}{missing}; {note(deployed, tf_step)}")
    if "ai_edge_litert" in deployed["proc"].stderr:
        evidence("tf.lite.Interpreter warns it is deprecated in favour of ai_edge_litert")


@pytest.mark.claim("q1-tf-serving")
def test_exported_savedmodel_serves_without_keras(deployed):
    """The seed: TF-Serving deploys Keras models; here a process with TensorFlow and no Keras
    loads the exported SavedModel's serving_default signature and gets the same outputs."""
    np.testing.assert_allclose(deployed_output(deployed, "serving"), deployed["expected"], **GRAPH)


@pytest.mark.claim("q1-tf-serving", correction=True)
def test_savedmodel_export_fails_as_recorded(deployed, environment, evidence):
    """Where model.export cannot write the SavedModel, it fails as the correction records for this
    backend and release (torch 3.14+: torch.export's UserError on dynamic_shapes, 3.8-3.13: no
    torch_xla; NumPy and OpenVINO 3.14+: AttributeError, no track_and_add_endpoint)."""
    recorded = recorded_refusal(environment)
    if deployed["export_error"] is None:
        assert recorded is None, f"model.export works here, but the correction records {recorded}"
        pytest.skip("model.export writes the SavedModel here")
    evidence(deployed["export_error"][:160])
    assert recorded is not None, f"an unrecorded failure: {deployed['export_error']}"
    error, phrase = recorded
    assert f"raised {error}:" in deployed["export_error"] and phrase in deployed["export_error"], (
        f"expected {error} ({phrase}), got: {deployed['export_error']}")


@pytest.fixture(scope="module")
def reexported(deployed, reexport):
    """Where model.export fails (torch, NumPy, OpenVINO): the model saved as .keras, exported by a
    TensorFlow-backend process, then served and converted by the Keras-free child."""
    if deployed["export_error"] is None:
        pytest.skip("model.export works here: nothing to work around")
    tensorflow_or_skip("re-exporting under the TensorFlow backend")
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
def test_torch_model_runs_in_tflite_after_reexport_under_tensorflow(reexported, evidence):
    """The .keras file re-exported under the TensorFlow backend converts to TFLite and gives the
    same outputs (tf.lite and ai_edge_litert)."""
    assert reexported["export_error"] is None, reexported["export_error"]
    assert_runs_in_both_runtimes(reexported, "tflite", "tflite_litert",
                                 "re-exported SavedModel converted", evidence)


@pytest.mark.claim("q1-tflite")
def test_model_reaches_tflite_with_same_outputs(deployed, evidence):
    """The seed: 'TFLight' (TFLite, now LiteRT) deploys Keras models: by model.export(format=
    'litert') where this Keras offers it for this backend, else by converting the exported
    SavedModel with tf.lite.TFLiteConverter; the TFLite runtime gives the same outputs."""
    if deployed["litert"] == "runs":
        assert_runs_in_both_runtimes(deployed, "litert_tf", "litert_litert",
                                     "model.export(format='litert')", evidence)
        return
    why = deployed["litert_error"] or "format='litert' is ignored: it writes a SavedModel"
    assert deployed["export_error"] is None, (
        f"no route reaches TFLite: format='litert': {why[:160]}; {deployed['export_error']}")
    assert_runs_in_both_runtimes(deployed, "tflite", "tflite_litert",
                                 "exported SavedModel converted", evidence)


@pytest.mark.claim("q1-tflite", correction=True)
def test_exported_savedmodel_converts_to_tflite_with_same_outputs(deployed, evidence):
    """Where model.export writes the SavedModel, tf.lite.TFLiteConverter converts it and the TFLite
    runtimes give the same outputs (where it cannot, test_savedmodel_export_fails_as_recorded
    checks how it fails)."""
    if deployed["export_error"] is not None:
        pytest.skip(f"no SavedModel to convert here: {deployed['export_error'][:160]}")
    assert_runs_in_both_runtimes(deployed, "tflite", "tflite_litert",
                                 "exported SavedModel converted", evidence)


@pytest.mark.claim("q1-tflite", correction=True)
def test_litert_format_does_what_the_correction_says(deployed, environment, evidence):
    """model.export('m.tflite', format='litert'): absent before Keras 3.13 (3.0-3.7 ignore
    `format` and write a SavedModel); 3.13-3.14 run it on TensorFlow only; 3.15 on TensorFlow
    and, with the litert-torch package, on torch; JAX, NumPy and OpenVINO are refused."""
    observed = deployed["litert"]
    evidence(f"format='litert': {observed}"
             + (f" ({deployed['litert_error'][:120]})" if deployed["litert_error"] else ""))
    assert observed == expected_litert(environment), deployed["litert_error"]


@pytest.mark.claim("q1-tflite", correction=True)
def test_litert_export_runs_with_same_outputs(deployed, evidence):
    """Where model.export(format='litert') writes a .tflite, it gives the Keras model's outputs in
    tf.lite and ai_edge_litert; under torch its batch size is fixed (at 1) unless an
    input_signature fixes another."""
    if deployed["litert"] != "runs":
        pytest.skip(f"format='litert' does not write a .tflite here ({deployed['litert']})")
    assert_runs_in_both_runtimes(deployed, "litert_tf", "litert_litert",
                                 "model.export(format='litert')", evidence)
