"""One helper per recurring check, shared by every section's tests."""

from __future__ import annotations

import fcntl
import importlib
import importlib.util
import json
import math
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from claims.target import detect
from claims.verdicts import MissingTool

ROOT = Path(__file__).resolve().parent.parent
CHILDREN = ROOT / "tests" / "children"
# One fixed model saved by every environment of the matrix (fixtures/portability/make.py).
PORTABILITY = ROOT / "fixtures" / "portability"
INFERENCE_ONLY_BACKENDS = ("numpy", "openvino")
# A SavedModel or TFLite graph is a different (traced, possibly fused) program from the model
# it came from: float32 rounding.
GRAPH = dict(rtol=1e-5, atol=1e-5)


def to_numpy(keras, tensor) -> np.ndarray:
    """A backend tensor as a NumPy array, on Keras 2 and 3 alike."""
    if detect().major >= 3:
        return np.asarray(keras.ops.convert_to_numpy(tensor))
    return np.asarray(tensor.numpy() if hasattr(tensor, "numpy") else tensor)


def skip_unless_trainable(environment) -> None:
    if environment.backend in INFERENCE_ONLY_BACKENDS:
        pytest.skip(f"the {environment.backend} backend is inference-only: it cannot train")


def assert_rejected(build, what: str, errors=(ValueError, TypeError)) -> BaseException:
    """The claim says `build()` must fail; if it returns, the claim is refuted."""
    try:
        result = build()
    except errors as exc:
        return exc
    raise AssertionError(f"{what} was accepted and gave {describe_value(result)}")


def describe_value(value) -> str:
    shape = getattr(value, "shape", None)
    return f"a tensor of shape {tuple(shape)}" if shape is not None else repr(value)


def random_array(shape, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, size=shape).astype("float32")


def correlate_valid(image: np.ndarray, kernel: np.ndarray, stride: int, dilation: int):
    """Reference 2-D cross-correlation with no padding, single channel, in plain NumPy."""
    k = kernel.shape[0]
    span = dilation * (k - 1) + 1
    rows = (image.shape[0] - span) // stride + 1
    cols = (image.shape[1] - span) // stride + 1
    out = np.zeros((rows, cols), dtype="float64")
    for i in range(rows):
        for j in range(cols):
            window = image[
                i * stride : i * stride + span : dilation, j * stride : j * stride + span : dilation
            ]
            out[i, j] = float((window * kernel).sum())
    return out


def same_output_size(size: int, stride: int) -> int:
    """Output length along an axis of size `size` under padding='same': ceil(n / s)."""
    return math.ceil(size / stride)


def same_padding(size: int, span: int, stride: int) -> tuple[int, int]:
    """Zeros before and after along one axis for 'same', so that a 'valid' pass over the padded
    axis gives same_output_size windows: the odd one goes after."""
    total = max((same_output_size(size, stride) - 1) * stride + span - size, 0)
    return total // 2, total - total // 2


def file_format(path) -> str:
    """What `save` actually wrote: the native zip, legacy HDF5, or a SavedModel directory."""
    if os.path.isdir(path):
        return "savedmodel-dir" if os.path.exists(os.path.join(path, "saved_model.pb")) else "dir"
    if zipfile.is_zipfile(path):
        return "keras-zip"
    with open(path, "rb") as fh:
        return "hdf5" if fh.read(4) == b"\x89HDF" else "other"


def conv2d(keras, image: np.ndarray, kernel: np.ndarray, padding: str, stride: int, dilation: int):
    """Run a single-channel Keras Conv2D with the given kernel on one (h, w) image."""
    layer = keras.layers.Conv2D(
        1, kernel.shape[0], strides=stride, dilation_rate=dilation, padding=padding,
        use_bias=False,
    )
    layer.build((1, *image.shape, 1))
    layer.set_weights([kernel.reshape(*kernel.shape, 1, 1).astype("float32")])
    out = layer(image.reshape(1, *image.shape, 1).astype("float32"))
    return to_numpy(keras, out)[0, :, :, 0]


def run_child(name: str, *args: str, block_keras: bool = False, timeout: float = 600,
              **env: str | None) -> subprocess.CompletedProcess:
    """Run the program tests/children/<name>.py in a fresh Python of this environment: `args`
    become its `sys.argv[1:]`, `env` changes variables (None unsets one), and with
    `block_keras` importing `keras` or `tf_keras` raises (children/_no_keras.py), as in a
    serving process."""
    environ = {k: v for k, v in os.environ.items() if k not in env}
    environ.update({k: v for k, v in env.items() if v is not None})
    # The children import `claims` and `tests` from this checkout, as the tests do.
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, (str(ROOT), environ.get("PYTHONPATH"))))
    launcher = [str(CHILDREN / "_no_keras.py")] if block_keras else []
    return subprocess.run([sys.executable, *launcher, str(CHILDREN / f"{name}.py"), *args],
                          env=environ, capture_output=True, text=True, timeout=timeout)


def once_per_run(tmp_path_factory, kind: str):
    """`compute(key, make)`: `make()`'s JSON value, made once in the whole run whichever
    pytest-xdist worker asks first (a locked file per key in a folder all the workers share);
    the others wait for it and read it. For what is costly and the same for every test file
    that needs it: a child's fresh import of the backend, a large model's build."""
    basetemp = tmp_path_factory.getbasetemp()
    folder = (basetemp.parent if "PYTEST_XDIST_WORKER" in os.environ else basetemp) / kind
    folder.mkdir(exist_ok=True)

    def compute(key: str, make):
        path = folder / f"{key}.json"
        with open(folder / f"{key}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not path.exists():
                path.write_text(json.dumps(make()))
            return json.loads(path.read_text())

    return compute


def stderr_tail(proc, lines: int = 3) -> str:
    """The last meaningful lines a child process wrote, for an assertion message."""
    text = [line for line in proc.stderr.splitlines() if line.strip()]
    return " | ".join(text[-lines:])


def child_report(proc: subprocess.CompletedProcess) -> dict:
    """The JSON object a child printed as its last line; a child that failed is an error."""
    if proc.returncode != 0 or not proc.stdout.strip():
        raise RuntimeError(f"child Python exited {proc.returncode}: {stderr_tail(proc, 5)}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def tensorflow_or_skip(what: str):
    """TensorFlow, for a check that needs it beside Keras (tf.data, SavedModel serving, TFLite);
    not installed here means not applicable."""
    if importlib.util.find_spec("tensorflow") is None:
        pytest.skip(f"{what} needs TensorFlow, which this environment does not install")
    import tensorflow as tf

    return tf


def keras_submodule(keras, name: str):
    """`keras.<name>` imported by name: Keras 2.12 does not load some submodules (applications,
    preprocessing.image) with the package."""
    return importlib.import_module(f"{keras.__name__}.{name}")


def require_graphviz() -> None:
    """plot_model and model_to_dot need the pydot package and Graphviz's `dot` program; without
    them this environment cannot check the claim, which is an error, never a refutation."""
    needed = (("the pydot package", "pip install pydot", importlib.util.find_spec("pydot")),
              ("Graphviz's dot program", "apt-get install graphviz", shutil.which("dot")))
    missing = [(what, install) for what, install, found in needed if not found]
    if missing:
        raise MissingTool(" and ".join(what for what, _ in missing),
                          "; ".join(install for _, install in missing))


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


def fit_side_by_side(keras, inputs, outputs, xs, ys, epochs: int, batch_size: int,
                     loss: str = "mse"):
    """Train several independent models as one: their weights are disjoint and Adam updates each
    weight from its own gradient, so each learns as if alone, at the cost of one compilation.
    Returns the trained joint model (its outputs named as the models' output layers)."""
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=loss)
    model.fit(xs, ys, epochs=epochs, batch_size=batch_size, verbose=0)
    return model


def training_mse(model, xs, ys) -> dict[str, float]:
    """Each output's MSE on its training data, by output name. From predict, not the history:
    Keras 3.0 reports only the summed loss of several outputs."""
    predictions = model.predict(xs, batch_size=256, verbose=0)
    return {name: float(np.mean((p - y) ** 2))
            for name, p, y in zip(model.output_names, predictions, ys, strict=True)}
