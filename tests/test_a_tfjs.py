"""Section A: TF.js deploys Keras models (question 1): the tensorflowjs converter, then TF.js
itself under Node.js. Runs with --tfjs (the tfjs sessions install the converter and TF.js)."""

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

from claims.plugin import describe
from tests.checks import run_child, stderr_tail

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
            step = run_child("reexport", str(tmp_path / "model.keras"), str(exported),
                             KERAS_BACKEND="tensorflow")
            assert step.returncode == 0, f"export under TensorFlow failed: {stderr_tail(step)}"
        tensorflowjs_converter("--input_format=tf_saved_model",
                               "--output_format=tfjs_graph_model", str(exported),
                               str(tmp_path / "tfjs"))

    assert_runs_in_tfjs(tmp_path, "model.export SavedModel (TensorFlow) -> graph model", convert,
                        x, expected, measure)

