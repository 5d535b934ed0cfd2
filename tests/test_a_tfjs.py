"""Section A: TF.js deploys Keras models (question 1): the tensorflowjs converter, then TF.js
itself under Node.js. Runs with --tfjs (the tfjs sessions install the converter and TF.js).

Only the route can refute: the converter rejecting the file, TF.js rejecting the converted
model, or TF.js predicting otherwise. Before any route, the converter and TF.js run controls
they are known to handle; where Node.js, TF.js or the converter fail on their own, the cell is
an error, never a verdict."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import shutil
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from claims.plugin import MissingTool, describe
from tests.checks import stderr_tail

TFJS = Path(__file__).resolve().parent / "tfjs"
TFJS_TABLE = "TF.js: conversion route (row) x environment (column)"
# Pure-JS float32 kernels against oneDNN's: a few ulps per op, observed up to 4.8e-7 on outputs
# of scale 2. 1e-4 is far above that and still catches a conversion fault: BatchNormalization's
# epsilon 0.001 read as 0.002 alone moves these outputs by 7.8e-4.
TFJS_TOLERANCE = dict(rtol=0, atol=1e-4)
# The controls compute x @ CONTROL_KERNEL + CONTROL_BIAS.
CONTROL_KERNEL = [[1.0, -2.0], [0.5, 3.0], [-1.0, 0.25]]
CONTROL_BIAS = [0.5, -1.0]
CONTROLS = ("controls: a tf_keras .h5 (layers model) and a TensorFlow SavedModel (graph model) "
            "ran in TF.js with their known outputs")
# Converter exceptions that say the converter cannot run here, whatever its input.
CONVERTER_BROKEN = (ImportError, MemoryError)


def tensorflowjs_converter():
    """The function the `tensorflowjs_converter` command runs. `import tensorflowjs` imports TF
    Decision Forests, TF Hub and jax2tf at module level though its Keras and SavedModel
    converters never call them, and their wheels pin the full `tensorflow`: empty stand-ins
    replace the absent ones. Not importable: an environment failure (RuntimeError)."""
    def stand_in(name: str, **attrs) -> None:
        module = types.ModuleType(name)
        module.__dict__.update(attrs)
        sys.modules[name] = module

    if importlib.util.find_spec("tensorflowjs") is None:
        raise RuntimeError("--tfjs needs the tensorflowjs converter (the tfjs sessions install it)")
    for name in ("tensorflow_decision_forests", "tensorflow_hub"):
        if name not in sys.modules and importlib.util.find_spec(name) is None:
            stand_in(name)
    try:
        jax2tf = importlib.util.find_spec("jax.experimental.jax2tf") is not None
    except ImportError:  # no jax at all
        jax2tf = False
    if not jax2tf:
        stand_in("tensorflowjs.converters.jax_conversion", convert_jax=None)
    try:
        from tensorflowjs.converters import converter
    except Exception as exc:
        raise RuntimeError(f"the converter cannot be imported: {describe(exc)}") from exc
    return converter.convert


def converting(convert, *argv: str) -> None:
    """`convert(argv)`: an AssertionError where the converter rejects its input, a RuntimeError
    where it cannot run at all."""
    try:
        with contextlib.redirect_stdout(sys.stderr):
            convert(list(argv))
    except CONVERTER_BROKEN as exc:
        raise RuntimeError(f"the converter cannot run here: {describe(exc)}") from exc
    except Exception as exc:  # judged: the controls showed the converter working here
        raise AssertionError(f"the converter rejects it: {describe(exc)}") from exc


def tfjs_error(stderr: str) -> str | None:
    """The message of the Error that TF.js's own code threw (its innermost stack frame lies in
    @tensorflow), or None where the failure came from elsewhere (Node.js, a missing module)."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    frames = [i for i, line in enumerate(lines) if line.lstrip().startswith("at ")]
    if not frames or frames[0] == 0 or "Cannot find module" in stderr:
        return None
    if "node_modules/@tensorflow/" not in lines[frames[0]]:
        return None
    return lines[frames[0] - 1].strip()


def tfjs_predictions(folder: Path, x: np.ndarray) -> np.ndarray:
    """Predictions of the model converted into folder/tfjs, by TF.js under Node.js
    (tests/tfjs/predict.js): an AssertionError where TF.js itself throws while loading or
    running it, a RuntimeError where Node.js fails otherwise."""
    if not (folder / "tfjs" / "model.json").is_file():
        raise AssertionError("the converter wrote no model.json")
    (folder / "inputs.json").write_text(json.dumps([x.tolist()]))
    proc = subprocess.run(["node", str(TFJS / "predict.js"), str(folder / "tfjs"),
                           str(folder / "inputs.json")], capture_output=True, text=True,
                          timeout=120)
    if proc.returncode == 0:
        return np.asarray(json.loads(proc.stdout.splitlines()[-1])["outputs"][0], "float32")
    thrown = tfjs_error(proc.stderr)
    if proc.returncode == 1 and thrown:
        raise AssertionError(f"TF.js rejects the converted model: {thrown[:400]}")
    raise RuntimeError(f"Node.js exited {proc.returncode}: {stderr_tail(proc)}")


def write_controls(folder: Path) -> dict[str, tuple[str, ...]]:
    """Two models computing x @ CONTROL_KERNEL + CONTROL_BIAS that the toolchain is known to
    handle: a tf_keras Dense model as .h5 (the converter's native input, a layers model) and a
    Keras-free TensorFlow SavedModel (a graph model). tf_keras is what the converter imports,
    so it is there wherever the converter is. Returns each one's converter arguments."""
    import tensorflow as tf
    import tf_keras

    kernel, bias = np.asarray(CONTROL_KERNEL, "float32"), np.asarray(CONTROL_BIAS, "float32")
    model = tf_keras.Sequential([tf_keras.Input((3,)), tf_keras.layers.Dense(2)])
    model.set_weights([kernel, bias])
    model.save(str(folder / "control.h5"))
    module = tf.Module()
    module.serve = tf.function(lambda x: {"y": tf.matmul(x, kernel) + bias},
                               input_signature=[tf.TensorSpec([None, 3], tf.float32)])
    tf.saved_model.save(module, str(folder / "control_savedmodel"),
                        signatures={"serving_default": module.serve})
    return {"layers": ("--input_format=keras", "--output_format=tfjs_layers_model",
                       str(folder / "control.h5")),
            "graph": ("--input_format=tf_saved_model", "--output_format=tfjs_graph_model",
                      str(folder / "control_savedmodel"))}


@pytest.fixture(scope="module")
def toolchain(tmp_path_factory):
    """The converter, shown working here with TF.js, or an error (an environment failure):
    each control converts and TF.js runs it with its known outputs."""
    if shutil.which("node") is None:
        raise MissingTool("Node.js (node)", "apt-get install nodejs npm")
    if not (TFJS / "node_modules" / "@tensorflow" / "tfjs").is_dir():
        raise MissingTool("@tensorflow/tfjs", "npm ci --prefix tests/tfjs")
    convert = tensorflowjs_converter()
    root = tmp_path_factory.mktemp("controls")
    x = np.random.default_rng(2).uniform(-1, 1, (4, 3)).astype("float32")
    expected = x @ np.asarray(CONTROL_KERNEL, "float32") + np.asarray(CONTROL_BIAS, "float32")
    for kind, argv in write_controls(root).items():
        folder = root / kind
        folder.mkdir()
        try:
            converting(convert, *argv, str(folder / "tfjs"))
            got = tfjs_predictions(folder, x)
        except AssertionError as exc:
            raise RuntimeError(f"the {kind}-model control fails: {exc}") from exc
        if got.shape != expected.shape or not np.allclose(got, expected, **TFJS_TOLERANCE):
            raise RuntimeError(f"the {kind}-model control predicts {got.tolist()}")
    return convert


def assert_runs_in_tfjs(folder: Path, route: str, convert_route, x, expected, measure) -> None:
    """`convert_route()` writes folder/tfjs; TF.js must load it and predict `expected`. Each
    outcome is one cell of the TF.js table: an AssertionError (the converter or TF.js rejects
    the model, or TF.js predicts otherwise) refutes, anything else is an error."""
    try:
        with contextlib.redirect_stdout(sys.stderr):  # model.export prints its signature
            convert_route()
        got = tfjs_predictions(folder, x)
        assert got.shape == expected.shape and np.allclose(got, expected, **TFJS_TOLERANCE), (
            f"TF.js predicts differently: max abs difference {np.max(np.abs(got - expected))}")
    except AssertionError as exc:
        measure(table=TFJS_TABLE, row=route, cell="fails", verdict="refuted",
                detail=f"{exc}; {CONTROLS}")
        raise AssertionError(f"{route}: {exc}") from exc
    except Exception as exc:
        measure(table=TFJS_TABLE, row=route, cell="error", verdict="error",
                detail=f"{type(exc).__name__}: {exc}"[:600])
        raise
    measure(table=TFJS_TABLE, row=route, cell="runs, same predictions", verdict="holds",
            detail=CONTROLS)


@pytest.mark.tfjs
@pytest.mark.claim("q1-tfjs")
@pytest.mark.parametrize(("suffix", "input_format"), [(".keras", "keras_keras"), (".h5", "keras")])
def test_a_saved_model_file_converts_and_predicts_the_same_in_tfjs(
        portable_model, toolchain, tmp_path, measure, suffix, input_format):
    """The seed: TF.js deploys Keras models; the file model.save writes converts with
    tensorflowjs_converter to a layers model, which TF.js loads and runs with Keras' outputs."""
    model, x, expected = portable_model
    source = tmp_path / "saved" / f"model{suffix}"  # the converter unpacks beside the file
    source.parent.mkdir()

    def convert_route():
        model.save(str(source))
        converting(toolchain, f"--input_format={input_format}",
                   "--output_format=tfjs_layers_model", str(source), str(tmp_path / "tfjs"))

    assert_runs_in_tfjs(tmp_path, f"{suffix} file -> layers model", convert_route, x, expected,
                        measure)


@pytest.mark.tfjs
@pytest.mark.claim("q1-tfjs", correction=True)
def test_a_savedmodel_exported_under_tensorflow_predicts_the_same_in_tfjs(
        environment, portable_model, toolchain, reexport, tmp_path, measure):
    """The correction: model.export's SavedModel (exported by a TensorFlow-backend process
    where another backend runs) converts to a graph model that TF.js runs with the same outputs."""
    model, x, expected = portable_model

    def convert_route():
        exported = tmp_path / "exported"
        if environment.backend == "tensorflow":
            model.export(str(exported))
        else:
            model.save(str(tmp_path / "model.keras"))
            refusal = reexport(tmp_path / "model.keras", exported)
            assert refusal is None, f"the TensorFlow backend cannot export it: {refusal}"
        converting(toolchain, "--input_format=tf_saved_model",
                   "--output_format=tfjs_graph_model", str(exported), str(tmp_path / "tfjs"))

    assert_runs_in_tfjs(tmp_path, "model.export SavedModel (TensorFlow) -> graph model",
                        convert_route, x, expected, measure)
