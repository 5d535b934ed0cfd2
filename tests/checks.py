"""One helper per recurring check, shared by every section's tests."""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

INFERENCE_ONLY_BACKENDS = ("numpy", "openvino")


def to_numpy(keras, tensor) -> np.ndarray:
    """A backend tensor as a NumPy array, on Keras 2 and 3 alike."""
    if hasattr(keras, "ops"):
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


_KERAS_BLOCKER = """
import importlib.abc
import importlib.machinery
import sys


class _Refuse(importlib.abc.Loader):
    def create_module(self, spec):
        raise ImportError(f"{spec.name} imported in a process that must run without Keras")

    def exec_module(self, module):
        pass


class _NoKeras(importlib.abc.MetaPathFinder):
    # TensorFlow may look Keras up (find_spec) while importing, but a serving process has no
    # Keras: finding it is allowed, importing it raises.
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] not in ("keras", "tf_keras"):
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None:
            spec.loader = _Refuse()
        return spec


sys.meta_path.insert(0, _NoKeras())
"""


def run_python(code: str, *args: str, block_keras: bool = False, timeout: float = 600,
               **env: str | None) -> subprocess.CompletedProcess:
    """Run `code` in a fresh Python of this environment: `args` become `sys.argv[1:]`, `env`
    changes variables (None unsets one), and with `block_keras` importing `keras` or
    `tf_keras` raises, as in a serving process."""
    environ = {k: v for k, v in os.environ.items() if k not in env}
    environ.update({k: v for k, v in env.items() if v is not None})
    script = (_KERAS_BLOCKER if block_keras else "") + textwrap.dedent(code)
    return subprocess.run([sys.executable, "-c", script, *args], env=environ,
                          capture_output=True, text=True, timeout=timeout)


def stderr_tail(proc, lines: int = 3) -> str:
    """The last meaningful lines a child process wrote, for an assertion message."""
    text = [line for line in proc.stderr.splitlines() if line.strip()]
    return " | ".join(text[-lines:])


def run_child(code: str, **env: str | None) -> dict:
    """`run_python` for code that reports by printing one JSON object as its last line."""
    proc = run_python(code, **env)
    if proc.returncode != 0 or not proc.stdout.strip():
        raise RuntimeError(f"child Python exited {proc.returncode}: {stderr_tail(proc, 5)}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def tensorflow_or_skip(what: str):
    """TensorFlow, for a check that needs tf.data; not installed here means not applicable."""
    if importlib.util.find_spec("tensorflow") is None:
        pytest.skip(f"{what} needs TensorFlow (tf.data), which this environment does not install")
    import tensorflow as tf

    return tf


def keras_submodule(keras, name: str):
    """`keras.<name>` imported by name: Keras 2.12 does not load some submodules (applications,
    preprocessing.image) with the package."""
    return importlib.import_module(f"{keras.__name__}.{name}")


def require_graphviz() -> None:
    """plot_model and model_to_dot need the pydot package and Graphviz's `dot` program; without
    them this environment cannot check the claim, which is an error, never a refutation."""
    missing = [what for what, found in (("the pydot package", importlib.util.find_spec("pydot")),
                                        ("Graphviz's dot program", shutil.which("dot")))
               if not found]
    if missing:
        raise RuntimeError(f"{' and '.join(missing)} missing: plot_model and model_to_dot need "
                           "both (pip install pydot; apt-get install graphviz)")
