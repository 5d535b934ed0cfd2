"""One helper per recurring check, shared by every section's tests."""

from __future__ import annotations

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


def correlate_valid(image: np.ndarray, kernel: np.ndarray, stride: int, dilation: int) -> np.ndarray:
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
