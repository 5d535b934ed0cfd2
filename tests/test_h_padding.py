"""Section H, question 19: padding in convolutions, valid and same."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from packaging.version import Version

from tests.checks import (
    assert_rejected,
    conv2d,
    correlate_valid,
    random_array,
    same_output_size,
    same_padding,
    tensorflow_or_skip,
    to_numpy,
)
from tests.strategies import (
    ConvGeometry,
    conv_geometries,
    examples,
)

# float32 convolution against a float64 reference: at most 25 products of values in [-1, 1],
# so rounding stays far below 1e-5.
CONV_ATOL = 1e-5


def windows_covering(keras, shape: tuple[int, int], pixels, kernel: int, padding: str,
                     stride: int = 1, dilation: int = 1) -> list[int]:
    """How many windows of a k x k Conv2D take each of `pixels` of a `shape` image: the sum of
    the output of an all-ones kernel over an image that is 1 at that pixel alone (one such
    image per pixel, in one batch)."""
    impulses = np.zeros((len(pixels), *shape, 1), dtype="float32")
    for i, (row, col) in enumerate(pixels):
        impulses[i, row, col, 0] = 1.0
    layer = keras.layers.Conv2D(1, kernel, strides=stride, dilation_rate=dilation,
                                padding=padding, use_bias=False, kernel_initializer="ones")
    out = to_numpy(keras, layer(impulses)).reshape(len(pixels), -1)
    return [round(float(total)) for total in out.sum(axis=1)]


@pytest.mark.claim("q19-corner-pixels-fewer-windows")
@given(kernel=st.integers(2, 5), extra=st.integers(0, 4))
def test_corner_pixel_enters_one_window_and_centre_k_squared(keras, kernel, extra):
    """Without padding a corner pixel is in one k x k window, a central one in k*k windows."""
    size = 2 * kernel - 1 + extra
    centre = size // 2
    assert windows_covering(keras, (size, size), [(0, 0), (centre, centre)], kernel,
                            "valid") == [1, kernel * kernel]


def corners(g: ConvGeometry) -> dict[str, tuple[int, int]]:
    return {"top-left": (0, 0), "top-right": (0, g.width - 1),
            "bottom-left": (g.height - 1, 0), "bottom-right": (g.height - 1, g.width - 1)}


def corner_windows(keras, g: ConvGeometry, padding: str) -> dict[str, int]:
    """How many convolution windows of geometry `g` take each corner pixel of the image."""
    named = corners(g)
    counts = windows_covering(keras, (g.height, g.width), list(named.values()), g.kernel,
                              padding, g.stride, g.dilation)
    return dict(zip(named, counts, strict=True))


@pytest.mark.claim("q19-padding-corners-more-windows")
@given(geometry=conv_geometries())
def test_same_padding_puts_every_corner_in_more_windows_than_valid(keras, geometry):
    """The seed: padding moves the corner pixels inward, so that less of their information is
    lost; so with 'same' each corner of the image enters more convolution windows than with
    'valid', for any kernel larger than one pixel (a 1x1 kernel has nothing to pad)."""
    g = geometry
    assume(g.kernel > 1)
    same, valid = corner_windows(keras, g, "same"), corner_windows(keras, g, "valid")
    assert all(same[corner] > valid[corner] for corner in same), (
        f"windows per corner: 'same' {same}, 'valid' {valid}")


def corner_windows_by_rule(g: ConvGeometry, padding: str) -> dict[str, int]:
    """The correction's rule, per axis of n pixels and a window of span pixels: 'same' pads b
    zeros before and a after (same_padding); a pixel at the start is then in b // (s*d) + 1
    windows, one at the end in a // (s*d) + 1, or in none where the last window stops short of
    the end ((ceil(n/s) - 1) * s + span < n). 'valid': 1 at the start; 1 at the end where
    n - span is a multiple of s, else none. A corner's count is the product over its axes."""
    step = g.stride * g.dilation

    def per_axis(n: int, at_end: bool) -> int:
        if padding == "valid":
            return int(not at_end or (n - g.span) % g.stride == 0)
        before, after = same_padding(n, g.span, g.stride)
        if not at_end:
            return before // step + 1
        reaches_end = (same_output_size(n, g.stride) - 1) * g.stride + g.span >= n
        return (after // step + 1) if reaches_end else 0

    return {corner: per_axis(g.height, row > 0) * per_axis(g.width, col > 0)
            for corner, (row, col) in corners(g).items()}


@pytest.mark.claim("q19-padding-corners-more-windows", correction=True)
@given(geometry=conv_geometries())
def test_corner_windows_follow_the_zeros_before_and_after_each_axis(keras, geometry):
    """A corner gains windows from 'same' only along an axis where its own padding reaches
    stride x dilation: the top-left is in (b // (s*d) + 1) windows per axis, the bottom-right
    in (a // (s*d) + 1), or none where the last window stops short of the image's end; 'valid'
    puts the top-left in one window and the bottom-right in one or none."""
    g = geometry
    for padding in ("same", "valid"):
        counted = corner_windows(keras, g, padding)
        assert counted == corner_windows_by_rule(g, padding), f"'{padding}': {counted}"


# How a user meets a convolution: a layer built for the image's own size, or a fully
# convolutional model built for any size (Input(shape=(None, None, 1))), each called eagerly.
BUILT_FOR = ("this size", "any size")


def convolve(keras, image, kernel, padding: str, stride: int, dilation: int, built_for: str):
    """A single-channel Conv2D with `kernel` on one (h, w) image, built as `built_for` says."""
    if built_for == "this size":
        return conv2d(keras, image, kernel, padding, stride, dilation)
    model = keras.Sequential([keras.Input(shape=(None, None, 1)), keras.layers.Conv2D(
        1, kernel.shape[0], strides=stride, dilation_rate=dilation, padding=padding,
        use_bias=False)])
    model.set_weights([kernel.reshape(*kernel.shape, 1, 1).astype("float32")])
    return to_numpy(keras, model(image.reshape(1, *image.shape, 1).astype("float32")))[0, :, :, 0]


def window_refusals(keras) -> tuple[type[BaseException], ...]:
    """How a backend refuses a convolution over an input smaller than its window: ValueError
    (Keras, JAX, NumPy), RuntimeError (PyTorch, OpenVINO), InvalidArgumentError (TensorFlow)."""
    refusals: tuple[type[BaseException], ...] = (ValueError, RuntimeError)
    if keras.backend.backend() == "tensorflow":
        refusals += (tensorflow_or_skip("TensorFlow's errors").errors.InvalidArgumentError,)
    return refusals


def valid_output(keras, g, image, kernel, built_for: str):
    """The 'valid' convolution's output, or None where Keras refuses an input smaller than the
    window (the claims speak of those inputs: they hold no window). Refusing an input that does
    hold a window is an error, never a verdict."""
    try:
        return convolve(keras, image, kernel, "valid", g.stride, g.dilation, built_for)
    except window_refusals(keras):
        if min(g.height, g.width) >= g.span:
            raise
        return None


def valid_size(g) -> tuple[int, int]:
    """'valid' positions along each axis: floor((n - span) / s) + 1, none where n < span."""
    return tuple(max(0, (n - g.span) // g.stride + 1) for n in (g.height, g.width))


@pytest.mark.claim("q19-valid-adds-no-padding")
@given(geometry=conv_geometries(smaller_inputs=True), built_for=st.sampled_from(BUILT_FOR))
# an input short of the window by less than the stride, which a random draw may miss: every
# profile and seed reaches the same verdict
@example(geometry=ConvGeometry(height=2, width=2, kernel=3, stride=2, dilation=1),
         built_for="any size")
def test_valid_padding_is_the_unpadded_convolution(onednn, geometry, built_for):
    """'valid' output is the plain cross-correlation of the unpadded image, of size
    floor((n - d(k-1) - 1)/s) + 1: no output (empty, or refused) where the input is smaller
    than the window. With TensorFlow's oneDNN on and off (tests/switches.py)."""
    g = geometry
    image = random_array((g.height, g.width), seed=1)
    kernel = random_array((g.kernel, g.kernel), seed=2)
    out = onednn.call(valid_output, g, image, kernel, built_for)
    if out is None:
        return  # refused: no window, no output
    assert out.shape == valid_size(g), (
        f"a layer built for {built_for} gave {out.shape} for input {(g.height, g.width)} and a "
        f"{g.span}-pixel window at stride {g.stride} (expected {valid_size(g)}), values "
        f"{np.array2string(out.ravel()[:3], precision=2)}")
    if min(g.height, g.width) >= g.span:
        np.testing.assert_allclose(out, correlate_valid(image, kernel, g.stride, g.dilation),
                                   atol=CONV_ATOL)


# Keras 3.14 checks the output size when a convolution layer is built (observed: 3.13.1 does
# not, 3.15.1 does); a layer built for any size is not checked.
CONV_SIZE_CHECKED_FROM = Version("3.14")


def predict_refusal(keras, g, image) -> str:
    """What predict (a compiled graph) says of an input smaller than the window, in a model
    built for any size; an output instead refutes."""
    model = keras.Sequential([keras.Input(shape=(None, None, 1)), keras.layers.Conv2D(
        1, g.kernel, strides=g.stride, dilation_rate=g.dilation, padding="valid")])
    exc = assert_rejected(lambda: model.predict(image[None, :, :, None], verbose=0),
                          "predict on an input smaller than the window", errors=(ValueError,))
    return type(exc).__name__


@pytest.mark.claim("q19-valid-adds-no-padding", correction=True)
@settings(max_examples=examples(10))
@given(geometry=conv_geometries(smaller_inputs=True))
def test_valid_padding_on_an_input_smaller_than_the_window_per_backend(
        environment, onednn, geometry):
    """On an input smaller than the window: every backend but TensorFlow refuses it or returns
    an empty output, and so does TensorFlow with oneDNN off. On TensorFlow with oneDNN on an
    eager call returns an output of the input's size holding arbitrary values wherever the
    formula gives 0 positions (the input falls short of the window by less than the stride),
    except for a Keras 3.14+ layer built for that size, which is refused; predict refuses it
    with oneDNN on and off."""
    g = geometry
    assume(min(g.height, g.width) < g.span)
    image, kernel = random_array((g.height, g.width), seed=1), random_array((g.kernel,) * 2)
    tensorflow = environment.backend == "tensorflow"
    for built_for in BUILT_FOR:
        out = onednn.call(valid_output, g, image, kernel, built_for)
        if not (tensorflow and onednn.facts["onednn"] == "on"):
            assert out is None or 0 in out.shape, f"built for {built_for}: {out.shape}"
            continue
        checked = (built_for == "this size" and environment.package == "keras"
                   and environment.version >= CONV_SIZE_CHECKED_FROM)
        if checked:
            assert out is None, f"a Keras {environment.keras} layer gave {out.shape}"
        elif all(n - g.span >= -g.stride for n in (g.height, g.width)):
            assert out is not None and out.shape == (g.height, g.width), (
                f"built for {built_for}: {None if out is None else out.shape}")
        else:  # further short: refused, or the input's size again
            assert out is None or out.shape == (g.height, g.width), out.shape
    if tensorflow:
        onednn.call(predict_refusal, g, image)


@pytest.mark.claim("q19-valid-shrinks-output")
@given(geometry=conv_geometries(smaller_inputs=True), built_for=st.sampled_from(BUILT_FOR))
def test_valid_padding_always_shrinks_the_output(keras, geometry, built_for):
    """The seed: with 'valid' the output is smaller than the input (no output at all, where
    Keras refuses an input smaller than the window, counts as smaller)."""
    g = geometry
    out = valid_output(keras, g, np.ones((g.height, g.width)), np.ones((g.kernel,) * 2),
                       built_for)
    assert out is None or (out.shape[0] < g.height and out.shape[1] < g.width), (
        f"input {(g.height, g.width)} gave output {out.shape} (built for {built_for})"
    )


@pytest.mark.claim("q19-valid-shrinks-output", correction=True)
@given(geometry=conv_geometries())
def test_valid_padding_keeps_size_only_for_one_pixel_windows_at_stride_1(keras, geometry):
    """On an input at least one window wide, 'valid' keeps an axis' size exactly when the window
    spans one pixel and the stride is 1 (or the axis is one pixel long)."""
    g = geometry
    out = conv2d(keras, np.ones((g.height, g.width)), np.ones((g.kernel,) * 2), "valid",
                 g.stride, g.dilation)
    for size, n in zip(out.shape, (g.height, g.width), strict=True):
        assert (size == n) == (g.span == 1 and (g.stride == 1 or n == 1))


@pytest.mark.claim("q19-same-keeps-size")
@given(geometry=conv_geometries(smaller_inputs=True), built_for=st.sampled_from(BUILT_FOR))
def test_same_padding_keeps_the_input_size(keras, geometry, built_for):
    """The seed: with 'same' the output has the input's size."""
    g = geometry
    out = convolve(keras, np.ones((g.height, g.width)), np.ones((g.kernel,) * 2), "same",
                   g.stride, g.dilation, built_for)
    assert out.shape == (g.height, g.width), f"input {(g.height, g.width)} gave {out.shape}"


@pytest.mark.claim("q19-same-keeps-size", correction=True)
@given(geometry=conv_geometries(smaller_inputs=True), built_for=st.sampled_from(BUILT_FOR))
def test_same_padding_gives_ceil_n_over_stride(keras, geometry, built_for):
    """'same' gives ceil(n / s) along each axis, hence the input size exactly at stride 1, also
    on inputs smaller than the window."""
    g = geometry
    out = convolve(keras, np.ones((g.height, g.width)), np.ones((g.kernel,) * 2), "same",
                   g.stride, g.dilation, built_for)
    assert out.shape == tuple(same_output_size(n, g.stride) for n in (g.height, g.width))


@pytest.mark.claim("q19-same-pads-zeros")
@given(geometry=conv_geometries(smaller_inputs=True), built_for=st.sampled_from(BUILT_FOR))
def test_same_padding_is_valid_convolution_of_zero_padded_image(keras, geometry, built_for):
    """'same' equals a 'valid' convolution of the image padded with zeros (extra at the end),
    also where the zeros outnumber the image's pixels (an input smaller than the window)."""
    g = geometry
    image = random_array((g.height, g.width), seed=3)
    kernel = random_array((g.kernel, g.kernel), seed=4)
    padded = np.pad(image, [same_padding(n, g.span, g.stride) for n in (g.height, g.width)])
    out = convolve(keras, image, kernel, "same", g.stride, g.dilation, built_for)
    np.testing.assert_allclose(out, correlate_valid(padded, kernel, g.stride, g.dilation),
                               atol=CONV_ATOL)


# Padding values to try beside arbitrary text: the two of the seed, other letter cases, and
# names other libraries or other Keras layers use.
PADDING_NAMES = ("valid", "same", "VALID", "Same", "causal", "full", "reflect", "symmetric",
                 "constant", "zeros", "")


def conv_accepts(keras, layer: str, padding: str, shape=(1, 6, 6, 1)) -> bool:
    """Whether the convolution layer takes `padding` (an accepted value must then convolve)."""
    try:
        conv = getattr(keras.layers, layer)(1, 3, padding=padding)
    except ValueError:
        return False
    conv(np.ones(shape, "float32"))
    return True


@pytest.mark.claim("q19-padding-two-choices")
@given(padding=st.text(max_size=8))
def test_conv2d_padding_refuses_any_other_text(keras, padding):
    """The seed: Conv2D's padding parameter has two choices, 'valid' and 'same'; any other
    text is refused (letter case aside)."""
    accepted = conv_accepts(keras, "Conv2D", padding)
    assert accepted == (padding.lower() in ("valid", "same")), (
        f"Conv2D(padding={padding!r}) was {'accepted' if accepted else 'refused'}")


@pytest.mark.claim("q19-padding-two-choices")
def test_conv2d_padding_takes_valid_and_same_of_the_usual_names(keras, evidence):
    """Of the padding names in use ('causal', 'full', 'reflect' ...), Conv2D takes exactly
    'valid' and 'same' (any case); the evidence adds what Conv1D takes."""
    taken = [p for p in PADDING_NAMES if conv_accepts(keras, "Conv2D", p)]
    conv1d = [p for p in PADDING_NAMES if conv_accepts(keras, "Conv1D", p, shape=(1, 6, 1))]
    evidence(f"of {list(PADDING_NAMES)}: Conv2D takes {taken}; Conv1D takes {conv1d}")
    assert taken == ["valid", "same", "VALID", "Same"]
