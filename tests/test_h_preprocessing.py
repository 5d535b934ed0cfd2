"""Section H: preprocessing, augmentation, time series and padding (questions 18-21)."""

from __future__ import annotations

import inspect
import time

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from packaging.version import Version

from claims.plugin import describe
from tests.checks import (
    assert_rejected,
    conv2d,
    correlate_valid,
    keras_submodule,
    random_array,
    same_output_size,
    same_padding,
    skip_unless_trainable,
    tensorflow_or_skip,
    to_numpy,
)
from tests.experiments import decide, mean_interval, seeds
from tests.strategies import (
    ConvGeometry,
    Windowing,
    array_pairs,
    conv_geometries,
    examples,
    matmul_pairs,
    pixel_batches,
    windowings,
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


# --- question 18: image augmentation ---------------------------------------------------------

# The seven layers of Keras 3.0 (q18-augmentation-layers-exist): every version has them.
AUGMENTATION_LAYERS = ("RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation",
                       "RandomContrast", "RandomCrop", "RandomBrightness")
# Layers whose strength is one `factor`; RandomFlip (a mode) and RandomCrop (a size) have none.
FACTOR_LAYERS = ("RandomRotation", "RandomZoom", "RandomTranslation", "RandomContrast",
                 "RandomBrightness")
CROP = 5  # RandomCrop's target side; every drawn image is at least 6 pixels wide
PIXEL_RANGE = (0.0, 255.0)  # the range the layers assume by default (value_range)


# Random* layers that are no image augmentation (Keras 2.12's kernel approximation).
NOT_AUGMENTATION = ("RandomFourierFeatures",)
# How each layer takes a strength `f`, where not as one `factor`.
LAYER_ARGUMENTS = {
    "RandomFlip": lambda f: (("horizontal",), {}),
    "RandomCrop": lambda f: ((CROP, CROP), {}),
    "RandomTranslation": lambda f: ((f, f), {}),
    "RandomShear": lambda f: ((), {"x_factor": f, "y_factor": f}),
    "RandomColorJitter": lambda f: ((), {f"{part}_factor": f for part in
                                         ("brightness", "contrast", "saturation", "hue")}),
    "RandomPosterization": lambda f: ((4,), {}),  # an integer: the bits kept, at most
}


def image_augmentation_layers(keras) -> list[str]:
    """Every image augmentation layer this Keras has: its Random* layers (7 in Keras 3.0; 9 in
    Keras 2, with RandomHeight and RandomWidth; 20 in Keras 3.15)."""
    return sorted(n for n in dir(keras.layers)
                  if n.startswith("Random") and n not in NOT_AUGMENTATION)


def augmentation_layer(keras, name: str, seed: int | None = None, factor: float = 0.3):
    """One augmentation layer with a moderate setting (RandomFlip flips horizontally)."""
    args, kwargs = LAYER_ARGUMENTS.get(name, lambda f: ((f,), {}))(factor)
    return getattr(keras.layers, name)(*args, seed=seed, **kwargs)


def augment(keras, layer, images: np.ndarray, training: bool) -> np.ndarray:
    return to_numpy(keras, layer(images, training=training))


@pytest.mark.claim("q18-augmentation-layers-exist")
def test_keras_has_the_seven_image_augmentation_layers(keras, evidence):
    """Keras provides preprocessing layers for image augmentation: RandomFlip, RandomRotation,
    RandomZoom, RandomTranslation, RandomContrast, RandomCrop and RandomBrightness."""
    found = sorted(n for n in dir(keras.layers) if n.startswith("Random"))
    evidence(f"{len(found)} Random* layers: {', '.join(found)}")
    missing = [n for n in AUGMENTATION_LAYERS if n not in found]
    assert not missing, f"no keras.layers.{', '.join(missing)}"


@pytest.mark.claim("q18-augmentation-layers-exist")
def test_augmentation_layers_run_inside_a_tf_data_pipeline(keras, evidence):
    """Each layer also works as a tf.data map step, where TensorFlow is installed."""
    tf = tensorflow_or_skip("a tf.data pipeline")
    images = random_array((4, 8, 8, 3)) * 127.5 + 127.5
    shapes = {}
    missing = [name for name in AUGMENTATION_LAYERS if not hasattr(keras.layers, name)]
    assert not missing, f"no keras.layers.{', '.join(missing)}"
    for name in AUGMENTATION_LAYERS:
        layer = augmentation_layer(keras, name, seed=1)
        pipeline = tf.data.Dataset.from_tensor_slices(images).batch(2).map(
            lambda x, layer=layer: layer(x, training=True))
        shapes[name] = [tuple(batch.shape) for batch in pipeline]
    evidence(f"tf.data map on the {keras.backend.backend()} backend: all 7 layers ran")
    side = {name: CROP if name == "RandomCrop" else 8 for name in AUGMENTATION_LAYERS}
    assert shapes == {name: [(2, side[name], side[name], 3)] * 2 for name in AUGMENTATION_LAYERS}


@pytest.mark.claim("q18-layers-configurable")
@pytest.mark.parametrize("name", FACTOR_LAYERS)
def test_larger_factor_makes_stronger_variants(keras, evidence, name):
    """Each layer's own parameter sets how far a variant strays: factor 0.5 changes the
    pixels more, on average, than factor 0.05."""
    images = random_array((16, 8, 8, 3), seed=5) * 127.5 + 127.5

    def mean_change(factor):
        layer = augmentation_layer(keras, name, seed=3, factor=factor)
        return float(np.abs(augment(keras, layer, images, training=True) - images).mean())

    weak, strong = mean_change(0.05), mean_change(0.5)
    evidence(f"{name} mean |change| {weak:.1f} at factor 0.05, {strong:.1f} at 0.5")
    assert weak < strong, f"{name}: mean change {weak:.2f} at factor 0.05, {strong:.2f} at 0.5"


@pytest.mark.claim("q18-random-variants")
@settings(max_examples=examples(14))
@given(images=pixel_batches(), name=st.sampled_from(AUGMENTATION_LAYERS))
def test_variants_keep_shape_and_pixel_range(keras, images, name):
    """In training each layer returns finite pixels in [0, 255] of the input's shape
    (RandomCrop: the requested CROP x CROP)."""
    out = augment(keras, augmentation_layer(keras, name), images, training=True)
    batch, height, width, channels = images.shape
    size = (CROP, CROP) if name == "RandomCrop" else (height, width)
    assert out.shape == (batch, *size, channels)
    assert np.isfinite(out).all()
    # 1e-3 absorbs float32 rounding in interpolation and clipping.
    assert PIXEL_RANGE[0] - 1e-3 <= out.min() and out.max() <= PIXEL_RANGE[1] + 1e-3


@pytest.mark.claim("q18-random-variants")
@pytest.mark.parametrize("name", AUGMENTATION_LAYERS)
def test_unseeded_layer_gives_a_new_variant_on_later_calls(keras, name):
    """Without a seed, repeated calls on the same images give different variants (8 calls,
    so that even a coin-flip layer repeats itself with probability 2**-7)."""
    images = random_array((1, 8, 8, 3), seed=6) * 127.5 + 127.5
    layer = augmentation_layer(keras, name)
    variants = {augment(keras, layer, images, training=True).tobytes() for _ in range(8)}
    assert len(variants) > 1, f"{name} returned the same image on 8 calls"


@pytest.mark.claim("q18-random-variants")
@settings(max_examples=examples(10))
@given(images=pixel_batches(), name=st.sampled_from(AUGMENTATION_LAYERS),
       seed=st.integers(0, 2**16))
def test_same_seed_gives_the_same_variants(keras, images, name, seed):
    """Two layers built with the same seed produce identical variants, call after call."""
    first, second = (augmentation_layer(keras, name, seed=seed) for _ in range(2))
    for _ in range(2):
        np.testing.assert_array_equal(augment(keras, first, images, training=True),
                                      augment(keras, second, images, training=True))


def assert_unchanged_at_inference(keras, images: np.ndarray) -> None:
    """Every image augmentation layer but RandomCrop returns `images` unchanged with
    training=False."""
    for name in image_augmentation_layers(keras):
        if name != "RandomCrop":
            out = augment(keras, augmentation_layer(keras, name), images, training=False)
            np.testing.assert_array_equal(out, images, err_msg=name)


@pytest.mark.claim("q18-training-only")
@settings(max_examples=examples(8))
@given(images=pixel_batches())
def test_augmentation_is_the_identity_at_inference(keras, images):
    """With training=False every image augmentation layer but RandomCrop returns the images
    unchanged."""
    assert_unchanged_at_inference(keras, images)


@pytest.mark.claim("q18-training-only", correction=True)
def test_every_augmentation_but_random_crop_is_the_identity_at_inference_in_every_version(keras):
    """The correction's first sentence, checked where the claim is refuted too, so that a layer
    that starts augmenting at inference shows as drift there."""
    assert_unchanged_at_inference(keras, random_array((2, 8, 8, 3), seed=8) * 127.5 + 127.5)


def crop_probe_images() -> np.ndarray:
    """Two 8 x 12 RGB images: wider than RandomCrop's CROP x CROP, and of another aspect."""
    return random_array((2, 8, 12, 3), seed=7) * 127.5 + 127.5


@pytest.mark.claim("q18-training-only")
def test_random_crop_gives_its_fixed_size_at_inference_too(keras, evidence):
    """RandomCrop crops to its fixed size in training; at inference (a call with
    training=False, and predict) it must give that size too, deterministically, so that a model
    trained on its crops can take what it gives. The evidence lists every layer whose output size
    differs between training and inference."""
    images = crop_probe_images()
    differ = []
    for name in image_augmentation_layers(keras):
        layer = augmentation_layer(keras, name, seed=1)
        sizes = [augment(keras, layer, images, training).shape[1:3] for training in (True, False)]
        if sizes[0] != sizes[1]:
            differ.append(f"{name} {sizes[0]} in training, {sizes[1]} at inference")
    evidence("output size differs between training and inference on (8, 12) images: "
             + ("; ".join(differ) or "no layer"))
    layer = augmentation_layer(keras, "RandomCrop")
    first, second = (augment(keras, layer, images, training=False) for _ in range(2))
    model = keras.Sequential([keras.Input(shape=images.shape[1:]), layer])
    predicted = model.predict(images, verbose=0)
    assert first.shape == predicted.shape == (2, CROP, CROP, 3), (
        f"RandomCrop({CROP}, {CROP}) at inference maps {images.shape} to {first.shape} "
        f"(predict: {predicted.shape}); in training to (2, {CROP}, {CROP}, 3)")
    np.testing.assert_array_equal(first, second)


# Keras 3.8 made RandomCrop pass images through at inference (observed: 3.7.0 resizes them to
# the crop size, 3.8.0 returns them unchanged).
CROP_PASSES_THROUGH_FROM = Version("3.8")


@pytest.mark.claim("q18-training-only", correction=True)
def test_random_crop_at_inference_resizes_up_to_keras_3_7_and_passes_through_from_3_8(
        keras, environment):
    """Up to Keras 3.7 (and in Keras 2, tf-keras) RandomCrop at inference gives its fixed size:
    the largest centred window of its aspect ratio, resized, as Resizing(crop_to_aspect_ratio)
    does. From 3.8 it returns the images unchanged, so a model built on the cropped size
    (Flatten, Dense) fails in predict."""
    images = crop_probe_images()
    out = augment(keras, augmentation_layer(keras, "RandomCrop"), images, training=False)
    if environment.package == "keras" and environment.version >= CROP_PASSES_THROUGH_FROM:
        np.testing.assert_array_equal(out, images)
        model = keras.Sequential([keras.Input(shape=images.shape[1:]),
                                  keras.layers.RandomCrop(CROP, CROP), keras.layers.Flatten(),
                                  keras.layers.Dense(1)])
        assert_rejected(lambda: model.predict(images, verbose=0),
                        "predict through RandomCrop, Flatten and Dense", errors=(ValueError,))
    else:
        resized = keras.layers.Resizing(CROP, CROP, crop_to_aspect_ratio=True)(images)
        np.testing.assert_allclose(out, to_numpy(keras, resized), atol=1e-3)


def right_arrow(size: int = 9) -> np.ndarray:
    """A single-channel image of an arrow pointing right: a shaft and a head on the right."""
    image = np.zeros((size, size), dtype="float32")
    middle = size // 2
    image[middle, 1 : size - 1] = 255.0
    for step in range(1, 3):
        image[middle - step, size - 2 - step] = image[middle + step, size - 2 - step] = 255.0
    return image


@pytest.mark.claim("q18-unwanted-variants")
def test_horizontal_flip_turns_a_right_arrow_into_a_left_arrow(keras, evidence):
    """Illustration: RandomFlip('horizontal') turns some 'points right' images into exact
    'points left' images, so a variant can carry the other class's meaning."""
    arrow = right_arrow()
    batch = np.repeat(arrow[None, :, :, None], 16, axis=0)
    out = augment(keras, keras.layers.RandomFlip("horizontal", seed=2), batch, training=True)
    left = np.fliplr(arrow)
    flipped = sum(np.array_equal(image[:, :, 0], left) for image in out)
    evidence(f"{flipped} of 16 augmented right arrows point left")
    assert not np.array_equal(arrow, left) and flipped > 0


@pytest.mark.claim("q18-enlarges-training-set")
def test_augmentation_layers_add_samples(keras):
    """The seed: augmentation increases the size of the training set; so a layer in training
    returns more images than it is given."""
    images = random_array((4, 8, 8, 3), seed=8) * 127.5 + 127.5
    counts = {name: len(augment(keras, augmentation_layer(keras, name, seed=1), images, True))
              for name in AUGMENTATION_LAYERS}
    assert all(count > len(images) for count in counts.values()), (
        "images out for 4 in, in training: "
        + ", ".join(f"{name} {count}" for name, count in counts.items()))


@pytest.mark.claim("q18-enlarges-training-set")
def test_image_data_generator_adds_samples_per_epoch(keras, environment):
    """Question 5 says the same of ImageDataGenerator: an epoch of flow() over n images holds
    more than n."""
    if environment.major >= 3:
        pytest.skip("no ImageDataGenerator in Keras 3 (see q5-image-data-generator)")
    images = random_array((10, 8, 8, 3), seed=8) * 127.5 + 127.5
    flow = keras_submodule(keras, "preprocessing.image").ImageDataGenerator(
        rotation_range=20, horizontal_flip=True).flow(images, batch_size=4, seed=1)
    per_epoch = sum(len(flow[i]) for i in range(len(flow)))
    assert per_epoch > len(images), (
        f"flow() over 10 images: {len(flow)} batches per epoch, {per_epoch} images")


@pytest.mark.claim("q18-enlarges-training-set", correction=True)
def test_each_epoch_replaces_every_image_by_one_variant_and_variety_grows(keras):
    """An epoch through RandomFlip holds n images for n, each the original or its mirror image
    at the same place; over 8 epochs the model sees more than n distinct images."""
    images = random_array((4, 8, 8, 3), seed=9) * 127.5 + 127.5
    layer = keras.layers.RandomFlip("horizontal", seed=3)
    epochs = [augment(keras, layer, images, training=True) for _ in range(8)]
    for epoch in epochs:
        assert epoch.shape == images.shape
        for image, variant in zip(images, epoch, strict=True):
            assert np.array_equal(variant, image) or np.array_equal(variant, image[:, ::-1])
    distinct = {variant.tobytes() for epoch in epochs for variant in epoch}
    assert len(distinct) > len(images)


# q18-reduces-overfitting: a controlled experiment. The label (is the top half of a noise image
# brighter than the bottom half?) is kept by a horizontal flip, so RandomFlip makes true new
# samples; few training images, so the model overfits without it.
# Each claim is decided by the 95% Student-t interval of the effect paired by seed (the two
# arms share a seed's data and initial weights), not by two bare means. Seeds and validation
# size come from a run of 12 seeds (Keras 3.15.1, TensorFlow, 2 shared cores): the paired
# effect was +0.07 with a per-seed sd of 0.039 on 512 validation images and 0.030 on 4096 (the
# drop was the validation sample's own noise; predicting is cheap). The fixture took 6.5 s
# with 3 seeds on 512 images, 10.2 s with 5 on 4096 and 13.5 s with 6 (tracing and stepping
# grow with the models): 5 seeds give a half-width of 2.776 * 0.03 / sqrt(5) = 0.037, half
# the effect, for under 4 s more.
OVERFIT_SEEDS = seeds(5)
OVERFIT_TRAIN, OVERFIT_VALIDATION, OVERFIT_EPOCHS, OVERFIT_SIDE = 32, 4096, 30, 8
OVERFIT_MIN_GAP = 0.1  # below it, the plain model did not overfit: no experiment


def flip_invariant_images(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, OVERFIT_SIDE, OVERFIT_SIDE, 1)).astype("float32")
    half = OVERFIT_SIDE // 2
    y = x[:, :half].mean(axis=(1, 2, 3)) > x[:, half:].mean(axis=(1, 2, 3))
    return x, y.astype("float32")[:, None]


def small_cnn(keras, name: str) -> list:
    return [keras.layers.Conv2D(4, 3, activation="relu"), keras.layers.Flatten(),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid", name=name)]


def accuracy(model, xs, ys) -> dict[str, float]:
    predictions = model.predict(xs, batch_size=OVERFIT_VALIDATION, verbose=0)
    return {name: float(((p > 0.5) == y).mean())
            for name, p, y in zip(model.output_names, predictions, ys, strict=True)}


AUGMENTATION_KINDS = ("plain", "augmented")


@pytest.fixture(scope="module")
def flip_experiment(keras, environment) -> dict[str, dict[str, list[float]]]:
    """The controlled experiment of q18-reduces-overfitting and
    q18-augmentation-improves-generalisation, run once for both: per seed, the same small CNN
    from the same initial weights, trained with and without RandomFlip('horizontal') in front.
    Returns the accuracy by split ('training', 'validation'), then kind, one value per seed."""
    skip_unless_trainable(environment)
    inputs, outputs, train, validation = [], [], ([], []), ([], [])
    for seed in OVERFIT_SEEDS:
        data = flip_invariant_images(seed, OVERFIT_TRAIN)
        held_out = flip_invariant_images(100 + seed, OVERFIT_VALIDATION)
        keras.utils.set_random_seed(seed)
        bodies = {kind: small_cnn(keras, f"{kind}_{seed}") for kind in AUGMENTATION_KINDS}
        for kind, body in bodies.items():
            image = keras.Input(shape=data[0].shape[1:])
            h = image
            if kind == "augmented":
                h = keras.layers.RandomFlip("horizontal", seed=seed)(image)
            for layer in body:
                h = layer(h)
            inputs.append(image)
            outputs.append(h)
            for split, (x, y) in ((train, data), (validation, held_out)):
                split[0].append(x)
                split[1].append(y)
        for copy, original in zip(bodies["augmented"], bodies["plain"], strict=True):
            copy.set_weights(original.get_weights())  # the same initial weights
    model = fit_side_by_side(keras, inputs, outputs, *train, OVERFIT_EPOCHS, batch_size=16,
                             loss="binary_crossentropy")
    return {split: {kind: [accuracies[f"{kind}_{s}"] for s in OVERFIT_SEEDS]
                    for kind in AUGMENTATION_KINDS}
            for split, accuracies in (("training", accuracy(model, *train)),
                                      ("validation", accuracy(model, *validation)))}


def per_seed(values: dict[str, list[float]]) -> str:
    """'plain 0.62, 0.60, 0.65 (mean 0.62); augmented ...' for the evidence."""
    return "; ".join(f"{kind} {', '.join(f'{v:.2f}' for v in vs)} (mean {np.mean(vs):.2f})"
                     for kind, vs in values.items())


@pytest.mark.claim("q18-reduces-overfitting")
def test_random_flip_narrows_the_train_validation_gap(flip_experiment, evidence):
    """Augmentation reduces overfitting: per seed, the same small CNN from the same initial
    weights, trained with and without RandomFlip('horizontal') in front; the gap between
    training and validation accuracy is smaller with augmentation (the 95% interval of the
    paired gap plain - augmented lies above 0)."""
    fitted, held = flip_experiment["training"], flip_experiment["validation"]
    gaps = {kind: np.subtract(fitted[kind], held[kind]) for kind in AUGMENTATION_KINDS}
    effect = mean_interval(gaps["plain"] - gaps["augmented"], over="seeds")
    evidence(f"train - validation accuracy after {OVERFIT_EPOCHS} epochs on {OVERFIT_TRAIN} "
             f"images, gap plain - augmented (paired by seed): {effect.text()}; per seed: "
             + per_seed(gaps) + "; validation accuracy " + "; ".join(
                 f"{kind} {np.mean(held[kind]):.2f}" for kind in AUGMENTATION_KINDS))
    if np.mean(gaps["plain"]) < OVERFIT_MIN_GAP:
        raise RuntimeError(f"the plain model did not overfit (gap {np.mean(gaps['plain']):.2f})"
                           ": no experiment")
    decide(effect, 0, "above", "train - validation gap, plain - augmented")


# Below it on average, neither model learned the task: no experiment (chance is 0.5).
GENERALISATION_MIN_ACCURACY = 0.55


@pytest.mark.claim("q18-augmentation-improves-generalisation")
def test_random_flip_raises_the_validation_accuracy(flip_experiment, evidence):
    """Augmentation can improve how the model generalises: in q18-reduces-overfitting's
    experiment, the accuracy on held-out images is higher with RandomFlip('horizontal') than
    without it (the 95% interval of the paired difference augmented - plain lies above 0)."""
    held = flip_experiment["validation"]
    effect = mean_interval(np.subtract(held["augmented"], held["plain"]), over="seeds")
    evidence(f"accuracy on {OVERFIT_VALIDATION} held-out images after {OVERFIT_EPOCHS} epochs "
             f"on {OVERFIT_TRAIN}, augmented - plain (paired by seed): {effect.text()}; per "
             "seed: " + per_seed(held))
    mean = {kind: float(np.mean(values)) for kind, values in held.items()}
    if max(mean.values()) < GENERALISATION_MIN_ACCURACY:
        raise RuntimeError(f"neither model learned the task (validation accuracy {mean}): "
                           "no experiment")
    decide(effect, 0, "above", "validation accuracy, augmented - plain")


# q18-adds-compute-cost: training steps per second with and without augmentation layers.
COST_SAMPLES, COST_BATCH, COST_EPOCHS, COST_REPEATS = 256, 32, 2, 3


def cost_model(keras, augmentation: list):
    """A small CNN on 32 x 32 RGB images behind the `augmentation` layers, compiled."""
    model = keras.Sequential([
        keras.Input(shape=(32, 32, 3)), *augmentation, keras.layers.Rescaling(1 / 255),
        keras.layers.Conv2D(16, 3, activation="relu"), keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(32, 3, activation="relu"), keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model


def steps_per_second(models: dict) -> dict[str, float]:
    """Fit steps/s of each model: the fastest of COST_REPEATS timed runs after a warm-up epoch
    (which compiles), the models' runs taking turns so that a change in the machine's load
    falls on both."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (COST_SAMPLES, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 2, (COST_SAMPLES, 1)).astype("float32")
    seconds: dict[str, list[float]] = {name: [] for name in models}
    for model in models.values():
        model.fit(x, y, batch_size=COST_BATCH, epochs=1, verbose=0)
    for _ in range(COST_REPEATS):
        for name, model in models.items():
            start = time.perf_counter()
            model.fit(x, y, batch_size=COST_BATCH, epochs=COST_EPOCHS, verbose=0)
            seconds[name].append(time.perf_counter() - start)
    return {name: COST_EPOCHS * COST_SAMPLES / COST_BATCH / min(s) for name, s in seconds.items()}


@pytest.mark.bench
@pytest.mark.claim("q18-adds-compute-cost")
def test_augmentation_layers_slow_training_down(keras, environment, evidence):
    """The seed: making more versions of the data costs computation. Training steps/s with the
    usual augmentation layers in the model (flip, rotation, zoom, translation, contrast) against
    without, in one run."""
    skip_unless_trainable(environment)
    speed = steps_per_second({"plain": cost_model(keras, []), "augmented": cost_model(keras, [
        keras.layers.RandomFlip("horizontal"), keras.layers.RandomRotation(0.1),
        keras.layers.RandomZoom(0.1), keras.layers.RandomTranslation(0.1, 0.1),
        keras.layers.RandomContrast(0.1)])})
    ratio = speed["augmented"] / speed["plain"]
    evidence(f"fit {speed['plain']:.0f} steps/s without augmentation, {speed['augmented']:.0f} "
             f"with: ratio {ratio:.2f}")
    # The stated reading of 'more costly': fewer steps/s with augmentation (ratio below 1).
    assert ratio < 1, f"with augmentation {ratio:.2f} of the steps/s"


# --- question 20: tensor operations and time series ------------------------------------------


def _one(x, y):
    return (x,), {}


def _positive(x, y):
    return (np.abs(x) + 0.5,), {}


def _two(x, y):
    return (x, y), {}


def _last_axis(x, y):
    return (x,), {"axis": -1}


# NumPy functions and how to call them, on a pair of same-shape arrays (dot and matmul take an
# (n, k), (k, m) pair). The Keras function of the same name must give the same result.
COMMON_OPS = {
    "abs": _one, "negative": _one, "square": _one, "sign": _one, "floor": _one, "ceil": _one,
    "exp": _one, "sin": _one, "cos": _one, "tanh": _one, "transpose": _one,
    "log": _positive, "sqrt": _positive,
    "add": _two, "subtract": _two, "multiply": _two, "maximum": _two, "minimum": _two,
    "divide": lambda x, y: ((x, np.abs(y) + 0.5), {}),
    "power": lambda x, y: ((np.abs(x) + 0.5, y), {}),
    "clip": lambda x, y: ((x, -1.0, 1.0), {}),
    "concatenate": lambda x, y: (([x, y],), {"axis": -1}),
    "sum": _last_axis, "mean": _last_axis, "max": _last_axis, "min": _last_axis,
    "prod": _last_axis, "std": _last_axis, "var": _last_axis, "argmax": _last_axis,
    "argmin": _last_axis, "cumsum": _last_axis, "cumprod": _last_axis, "sort": _last_axis,
    "dot": _two, "matmul": _two,
}
MATRIX_OPS = ("dot", "matmul")
# float32 results against float64 NumPy on values within [-5, 5] (products up to ~5**4).
OPS_RTOL, OPS_ATOL = 1e-4, 1e-4
# NumPy functions a time-series workflow reaches for, shown when Keras lacks them.
TIME_SERIES_NUMPY = ("interp", "convolve", "correlate", "gradient", "polyfit", "nanmean",
                     "percentile", "diff", "histogram")


def tensor_functions(keras):
    """Where a version keeps its tensor functions: keras.ops (Keras 3), else keras.backend."""
    return ("keras.ops", keras.ops) if hasattr(keras, "ops") else ("keras.backend", keras.backend)


def as_tensors(keras, value):
    """NumPy arrays (alone or in a list) as backend tensors: keras.backend functions in Keras 2
    want tensors; keras.ops takes either."""
    if isinstance(value, list):
        return [as_tensors(keras, v) for v in value]
    if not isinstance(value, np.ndarray):
        return value
    return keras.ops.convert_to_tensor(value) if hasattr(keras, "ops") else (
        keras.backend.constant(value))


def assert_op_equals_numpy(keras, namespace, name: str, x: np.ndarray, y: np.ndarray) -> None:
    args, kwargs = COMMON_OPS[name](x, y)
    expected = getattr(np, name)(*args, **kwargs)
    tensors = [as_tensors(keras, a) for a in args]
    actual = to_numpy(keras, getattr(namespace, name)(*tensors, **kwargs))
    assert actual.shape == np.shape(expected), f"{name}: shape {actual.shape}"
    np.testing.assert_allclose(actual, expected, rtol=OPS_RTOL, atol=OPS_ATOL, err_msg=name)


# NumPy functions on arrays that write files: no tensor library offers them.
FILE_WRITERS = {"save", "savez", "savez_compressed", "savetxt"}


def numpy_array_functions() -> set[str]:
    """NumPy's functions on arrays, what keras.ops could offer: its ufuncs and the functions
    that dispatch on their array arguments (NEP 18), less those that write files. Its
    configuration, printing, I/O and test-runner functions are not among them."""
    return {n for n in dir(np) if not n.startswith("_")
            and (isinstance(getattr(np, n), np.ufunc) or hasattr(getattr(np, n), "_implementation"))
            } - FILE_WRITERS


def numpy_computes(name: str, x: np.ndarray, y: np.ndarray):
    """numpy_call on copies (a few NumPy functions write into their argument), where NumPy
    computes numbers or truth values (not text: array_repr, array2string); None also where
    NumPy raises anything else on these arrays."""
    try:
        call = numpy_call(name, x.copy(), y.copy())
    except Exception:  # an IndexError, a NotImplementedError: NumPy computes nothing here
        return None
    numeric = call is not None and all(
        np.issubdtype(part.dtype, np.number) or part.dtype == bool
        for part in result_parts(call[1]))
    return call if numeric else None


@pytest.mark.claim("q20-ops-api-exists")
def test_keras_has_an_ops_api(keras, evidence):
    """Keras has an Ops API, keras.ops, of basic tensor operations."""
    assert hasattr(keras, "ops"), f"Keras {keras.__version__} has no keras.ops"
    evidence(f"keras.ops has {len([n for n in dir(keras.ops) if not n.startswith('_')])} names")


@pytest.mark.claim("q20-ops-api-exists", correction=True)
@settings(max_examples=examples(4))
@given(data=st.data())
def test_keras_2_backend_functions_equal_numpy(keras, data):
    """Without keras.ops, keras.backend holds at least 20 of the common operations, and they
    equal NumPy's."""
    if hasattr(keras, "ops"):
        pytest.skip("this Keras has keras.ops; the correction is about Keras 2")
    present = [n for n in COMMON_OPS if hasattr(keras.backend, n)]
    assert len(present) >= 20, f"keras.backend has only {present}"
    for name in present:
        x, y = data.draw(matmul_pairs() if name in MATRIX_OPS else array_pairs(), label=name)
        assert_op_equals_numpy(keras, keras.backend, name, x, y)


@pytest.mark.claim("q20-ops-equal-numpy")
@settings(max_examples=examples(5))
@pytest.mark.parametrize("name", COMMON_OPS)
@given(data=st.data())
def test_ops_equal_numpy_on_random_arrays(keras, name, data):
    """keras.ops.<name> equals numpy.<name> on random float32 arrays, for 36 common operations."""
    if not hasattr(keras, "ops"):
        pytest.skip("no keras.ops in Keras 2 (see q20-ops-api-exists)")
    assert hasattr(keras.ops, name), f"no keras.ops.{name}"
    x, y = data.draw(matmul_pairs() if name in MATRIX_OPS else array_pairs())
    assert_op_equals_numpy(keras, keras.ops, name, x, y)


def _counts(x):
    """Positive integers from a float array, for NumPy's integer-only functions."""
    return (np.floor(np.abs(x)) + 1).astype("int32")


# How to call the NumPy functions that take other than one or two arrays of one shape, on a
# pair (x, y) of float32 arrays of shape (3, 4).
NUMPY_CALLS = {
    "arange": lambda x, y: (5,), "eye": lambda x, y: (3,), "identity": lambda x, y: (3,),
    "tri": lambda x, y: (3,), "ones": lambda x, y: ((2, 3),), "zeros": lambda x, y: ((2, 3),),
    "empty": lambda x, y: ((2, 3),), "full": lambda x, y: ((2, 3), 1.5),
    "bartlett": lambda x, y: (5,), "blackman": lambda x, y: (5,), "hamming": lambda x, y: (5,),
    "hanning": lambda x, y: (5,), "kaiser": lambda x, y: (5, 2.5),
    "geomspace": lambda x, y: (1.0, 1000.0, 4), "clip": lambda x, y: (x, -1.0, 1.0),
    "concatenate": lambda x, y: ([x, y],), "stack": lambda x, y: ([x, y],),
    "hstack": lambda x, y: ([x, y],), "vstack": lambda x, y: ([x, y],),
    "dstack": lambda x, y: ([x, y],), "meshgrid": lambda x, y: (x.ravel(), y.ravel()),
    "dot": lambda x, y: (x, y.T), "matmul": lambda x, y: (x, y.T),
    "einsum": lambda x, y: ("ij,kj->ik", x, y), "cross": lambda x, y: (x[:, :3], y[:, :3]),
    "correlate": lambda x, y: (x.ravel(), y.ravel()[:3]), "reshape": lambda x, y: (x, (-1,)),
    "expand_dims": lambda x, y: (x, 0), "moveaxis": lambda x, y: (x, 0, -1),
    "swapaxes": lambda x, y: (x, 0, -1), "broadcast_to": lambda x, y: (x, (2, *x.shape)),
    "repeat": lambda x, y: (x, 2), "tile": lambda x, y: (x, 2), "roll": lambda x, y: (x, 1),
    "pad": lambda x, y: (x, 1), "split": lambda x, y: (x, 2, -1),
    "array_split": lambda x, y: (x, 3, -1), "hsplit": lambda x, y: (x, 2),
    "vsplit": lambda x, y: (x, 3), "dsplit": lambda x, y: (np.stack([x, y], axis=-1), 2),
    "take_along_axis": lambda x, y: (x, np.argsort(y, axis=-1), -1),
    "argpartition": lambda x, y: (x, 0, -1),
    "searchsorted": lambda x, y: (np.sort(x.ravel()), y.ravel()),
    "digitize": lambda x, y: (x, np.sort(y.ravel())),
    "bincount": lambda x, y: (_counts(x).ravel(),), "quantile": lambda x, y: (x, 0.3),
    "nanquantile": lambda x, y: (x, 0.3), "percentile": lambda x, y: (x, 30.0),
    "nanpercentile": lambda x, y: (x, 30.0), "histogram": lambda x, y: (x.ravel(),),
    "select": lambda x, y: ([x > 0], [y]), "vander": lambda x, y: (x.ravel(),),
    "unravel_index": lambda x, y: (_counts(x).ravel(), (3, 10)),
}
OPS_SHAPE = (3, 4)
UNINITIALISED = ("empty", "empty_like")  # arbitrary contents: only the shape can agree


def numpy_call(name: str, x: np.ndarray, y: np.ndarray):
    """The first way of calling numpy.<name> on x, y that NumPy accepts (its table entry, else
    one or two float arrays, else one or two integer arrays): (args, result), or None."""
    if name in NUMPY_CALLS:
        options = [NUMPY_CALLS[name](x, y)]
    else:
        options = [(x,), (x, y), (_counts(x),), (_counts(x), _counts(y))]
    for args in options:
        try:
            with np.errstate(all="ignore"):
                result = getattr(np, name)(*args)
        except (TypeError, ValueError):
            continue
        if all(part.dtype != object for part in result_parts(result)):
            return args, result
    return None


def result_parts(result) -> list[np.ndarray]:
    if isinstance(result, (tuple, list)):
        return [np.asarray(part) for part in result]
    return [np.asarray(result)]


def results_agree(name: str, args, expected, actual) -> bool:
    """Same shapes and values (float32 rounding, NaN where NumPy has NaN); argpartition is
    judged by what it promises, since NumPy fixes no order within each side."""
    expected, actual = result_parts(expected), result_parts(actual)
    if len(expected) != len(actual):
        # A tuple of equal-shape arrays and their stack unpack alike (rows, cols = ...).
        try:
            expected, actual = ([parts[0] if len(parts) == 1 else np.stack(parts)]
                                for parts in (expected, actual))
        except ValueError:
            return False
    if any(e.shape != a.shape for e, a in zip(expected, actual, strict=True)):
        return False
    if name in UNINITIALISED:
        return True
    if name == "argpartition":
        x, kth, axis = args
        picked, ordered = np.take_along_axis(x, actual[0], axis), np.sort(x, axis)
        pivot = ordered[..., kth : kth + 1]
        return bool((np.sort(picked, axis) == ordered).all() and (picked[..., :kth] <= pivot).all()
                    and (picked[..., kth:] >= pivot).all())
    return all(np.allclose(a.astype("complex128"), e.astype("complex128"), rtol=OPS_RTOL,
                           atol=OPS_ATOL, equal_nan=True)
               for e, a in zip(expected, actual, strict=True))


def compare_with_numpy(keras, namespace, name: str, call) -> str:
    """'same', 'differs' or 'raises <error>': the Keras function of `name` on the arguments of
    NumPy's `call` (args, result)."""
    args, expected = call
    try:
        result = getattr(namespace, name)(*[as_tensors(keras, a) for a in args])
        actual = [to_numpy(keras, part) for part in result] if isinstance(
            result, (tuple, list)) else to_numpy(keras, result)
    except Exception as exc:  # noqa: BLE001 - any refusal is the measured outcome
        return f"raises {type(exc).__name__}"
    return "same" if results_agree(name, args, expected, actual) else "differs"


@pytest.mark.claim("q20-ops-fewer-than-numpy")
def test_keras_tensor_functions_give_numpys_results_for_only_part_of_numpy(keras, evidence):
    """The seed: Keras' tensor operations are limited, fewer than NumPy's. Like with like: of
    NumPy's functions on arrays (numpy_array_functions), those NumPy computes on the drawn
    arrays (Hypothesis draws the values) are the ones Keras could match; a Keras function of
    the same name counts only where every result equals NumPy's, and the count is fewer than
    NumPy's. A keras.ops that matched every one would refute the claim."""
    where, namespace = tensor_functions(keras)
    array_functions = sorted(numpy_array_functions())
    outcomes: dict[str, str] = {}

    @settings(max_examples=examples(3))
    @given(pair=array_pairs(shape=OPS_SHAPE))
    def compare(pair):
        for name in array_functions:
            call = numpy_computes(name, *pair)
            if call is None:
                outcomes.setdefault(name, "refused by NumPy")
                continue
            # The comparison's own check: NumPy against itself agrees wherever it is called.
            with np.errstate(all="ignore"):
                again = getattr(np, name)(*call[0])
            if not results_agree(name, *call, again):
                raise RuntimeError(f"the comparison rejects numpy.{name} against itself")
            if not callable(getattr(namespace, name, None)):
                outcomes[name] = "absent"
            elif outcomes.get(name, "same") in ("same", "refused by NumPy"):
                outcomes[name] = compare_with_numpy(keras, namespace, name, call)

    compare()
    computed = [n for n in array_functions if outcomes[n] != "refused by NumPy"]
    same = [n for n in computed if outcomes[n] == "same"]
    others = {n: o for n, o in outcomes.items() if o not in ("same", "absent", "refused by NumPy")}
    lacking = [n for n in TIME_SERIES_NUMPY if n not in same]
    evidence(f"of NumPy's {len(array_functions)} functions on arrays, NumPy computes "
             f"{len(computed)} on the drawn arrays; {where} gives NumPy's result for {len(same)} "
             f"of them ({len(same) / len(computed):.0%}), lacks "
             f"{sum(outcomes[n] == 'absent' for n in computed)}, and differs or fails for: "
             + (", ".join(f"{n} {o}" for n, o in sorted(others.items())) or "none")
             + f"; of {len(TIME_SERIES_NUMPY)} time-series staples it lacks {len(lacking)}: "
             + ", ".join(lacking))
    assert len(same) < len(computed), f"{where} matches all {len(computed)} of them"


def timeseries_batches(keras, data, targets, w):
    """The batches of keras.utils.timeseries_dataset_from_array as NumPy pairs: a tf.data
    dataset by default; where that cannot be built here, a Grain one (format='grain', Keras
    3.14+); not applicable where neither can, with what the function said."""
    def make(**options):
        return keras.utils.timeseries_dataset_from_array(
            data, targets, sequence_length=w.sequence_length, sampling_rate=w.sampling_rate,
            sequence_stride=w.sequence_stride, batch_size=w.batch_size, **options)

    try:
        dataset = make()
    except ImportError as exc:  # the module it builds with is missing: run the alternative
        try:
            dataset = make(format="grain")
        except (ImportError, TypeError) as grain:  # TypeError: no format= before 3.14
            pytest.skip(f"timeseries_dataset_from_array cannot build its dataset here: "
                        f"{describe(exc)}; with format='grain': {describe(grain)}")
    return [(np.asarray(x), np.asarray(y)) for x, y in dataset]


@pytest.mark.claim("q20-preprocessing-outside-keras")
def test_keras_offers_no_time_series_preprocessing(keras):
    """The seed: time-series preprocessing is done outside Keras (NumPy, Pandas); Keras only
    takes the model's input. Observed by what keras.utils.timeseries_dataset_from_array does
    here, where it exists, to 8 steps (windows of 3, every 2nd step): a Keras that cuts the
    series into windows with their targets does time-series preprocessing. Where it cannot
    build its dataset here (neither TensorFlow nor Grain) the claim is not checked."""
    if not hasattr(keras.utils, "timeseries_dataset_from_array"):
        return  # nothing in Keras cuts a series into windows
    w = Windowing(length=8, sequence_length=3, sampling_rate=2, sequence_stride=1,
                  batch_size=4)
    data, targets = np.arange(8, dtype="float32")[:, None], 10 * np.arange(8)
    windows = [(x.ravel().tolist(), int(y))
               for xs, ys in timeseries_batches(keras, data, targets, w)
               for x, y in zip(xs, ys, strict=True)]
    assert not windows, (
        f"keras.utils.timeseries_dataset_from_array cut 8 steps into {len(windows)} windows of "
        f"3 every 2nd step, each with its target: {windows[:2]} ...")


# Keras 2.13 counts every window that fits; 2.12 and older want sequence_length * sampling_rate
# steps from each start (observed: 2.12.0 the older rule, 2.15.0 and every later version the
# newer; the change is in 2.13's source).
WINDOWS_THAT_FIT_FROM = Version("2.13")


@pytest.mark.claim("q20-preprocessing-outside-keras", correction=True)
@settings(max_examples=examples(8))
@given(w=windowings())
def test_timeseries_dataset_yields_exact_strided_windows_with_targets(keras, environment, w):
    """timeseries_dataset_from_array yields data[i : i + sequence_length * sampling_rate :
    sampling_rate] with targets[i], for i = 0, stride, 2 * stride ..., in batches of batch_size:
    every window that fits, or in Keras 2.12 those with i + sequence_length * sampling_rate <=
    length."""
    data = np.arange(2 * w.length, dtype="float32").reshape(w.length, 2)
    targets = 10 * np.arange(w.length)
    batches = timeseries_batches(keras, data, targets, w)
    yielded = [pair for x, y in batches for pair in zip(x, y, strict=True)]
    starts = w.starts if environment.version >= WINDOWS_THAT_FIT_FROM else w.legacy_starts
    assert len(yielded) == len(starts), f"{len(yielded)} windows for {w}"
    assert [len(x) for x, _ in batches] == [min(w.batch_size, len(starts) - k)
                                            for k in range(0, len(starts), w.batch_size)]
    for (window, target), i in zip(yielded, starts, strict=True):
        np.testing.assert_array_equal(
            window, data[i : i + w.sequence_length * w.sampling_rate : w.sampling_rate])
        assert target == targets[i]


GRAIN_TIMESERIES_FROM = Version("3.14")  # observed: absent in 3.13.1, there in 3.14.0


@pytest.mark.claim("q20-preprocessing-outside-keras", correction=True)
def test_timeseries_dataset_offers_grain_from_keras_3_14(keras, environment, evidence):
    """The correction: from Keras 3.14 timeseries_dataset_from_array takes format='grain', to
    build its dataset without TensorFlow; before, it takes no format argument."""
    parameters = inspect.signature(keras.utils.timeseries_dataset_from_array).parameters
    evidence("format: " + (str(parameters["format"]) if "format" in parameters else "absent"))
    assert ("format" in parameters) == (environment.version >= GRAIN_TIMESERIES_FROM)


RECURRENT = ("LSTM", "GRU")


@pytest.mark.claim("q20-recurrent-layers-exist")
@pytest.mark.parametrize("name", RECURRENT)
def test_recurrent_layer_reads_a_sequence(keras, name):
    """LSTM ('LMTS' in the seed) and GRU exist and read a (batch, time, features) series:
    (batch, units) out, or (batch, time, units) with return_sequences."""
    assert hasattr(keras.layers, name), f"no keras.layers.{name}"
    series = random_array((3, 7, 2))
    last = getattr(keras.layers, name)(4)(series)
    every = getattr(keras.layers, name)(4, return_sequences=True)(series)
    assert (to_numpy(keras, last).shape, to_numpy(keras, every).shape) == ((3, 4), (3, 7, 4))


# A task only a sequence model can learn: from a noisy sine window, predict the next value.
SINE_WINDOW, SINE_SAMPLES = 12, 128
RNN_EPOCHS = 10
RNN_MAX_RESIDUAL = 0.1  # the stated margin: the MSE ends below 10% of the targets' variance


def sine_task(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    phase = rng.uniform(0, 2 * np.pi, size=(SINE_SAMPLES, 1))
    steps = np.arange(SINE_WINDOW + 1) * 0.5
    wave = np.sin(phase + steps) + rng.normal(0, 0.05, size=(SINE_SAMPLES, SINE_WINDOW + 1))
    return wave[:, :-1, None].astype("float32"), wave[:, -1:].astype("float32")


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


@pytest.mark.claim("q20-recurrent-layers-learn")
def test_lstm_and_gru_learn_the_next_value_of_a_sine(keras, environment, evidence):
    """An LSTM model and a GRU model learn to predict the next value of a noisy sine window:
    their MSE ends below RNN_MAX_RESIDUAL of the targets' variance."""
    skip_unless_trainable(environment)
    x, y = sine_task()
    series = keras.Input(shape=(SINE_WINDOW, 1))
    outputs = [keras.layers.Dense(1, name=f"{name.lower()}_next")(
        getattr(keras.layers, name)(8)(series)) for name in RECURRENT]
    model = fit_side_by_side(keras, series, outputs, x, [y, y], RNN_EPOCHS, batch_size=16)
    mse = training_mse(model, x, [y, y])
    variance = float(y.var())
    evidence(f"after {RNN_EPOCHS} epochs, MSE / target variance {variance:.3f}: "
             + ", ".join(f"{n.removesuffix('_next').upper()} {v:.4f} ({v / variance:.1%})"
                         for n, v in mse.items()))
    assert all(v < RNN_MAX_RESIDUAL * variance for v in mse.values()), mse


# --- question 21: standardised inputs --------------------------------------------------------

NORM_SEEDS = (0, 1, 2)
NORM_EPOCHS = 5
# Three features on very different scales and offsets, as raw measurements often are.
FEATURE_SCALES = np.array([1000.0, 1.0, 0.001])
FEATURE_OFFSETS = np.array([5000.0, 0.0, 0.01])


def badly_scaled_task(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(256, 3))
    y = np.tanh(z @ np.array([1.0, -2.0, 0.5]))[:, None]
    return (z * FEATURE_SCALES + FEATURE_OFFSETS).astype("float32"), y.astype("float32")


def small_mlp(keras, features, name: str):
    return keras.layers.Dense(1, name=name)(keras.layers.Dense(16, activation="relu")(features))


@pytest.mark.claim("q21-normalisation-helps")
def test_adapted_normalization_reaches_lower_loss_on_badly_scaled_features(
        keras, environment, evidence):
    """Standardising the input helps: per seed, the same small MLP (same data, same initial
    weights) ends NORM_EPOCHS epochs with a lower loss behind an adapted Normalization layer
    than on the raw features."""
    skip_unless_trainable(environment)
    inputs, outputs, xs, ys = [], [], [], []
    for seed in NORM_SEEDS:
        x, y = badly_scaled_task(seed)
        for kind in ("raw", "normalised"):
            keras.utils.set_random_seed(seed)  # the pair starts from the same weights
            features = keras.Input(shape=(3,))
            front = features
            if kind == "normalised":
                normalization = keras.layers.Normalization()
                normalization.adapt(x)
                front = normalization(features)
            inputs.append(features)
            outputs.append(small_mlp(keras, front, f"{kind}_{seed}"))
            xs.append(x)
            ys.append(y)
    model = fit_side_by_side(keras, inputs, outputs, xs, ys, NORM_EPOCHS, batch_size=32)
    mse = training_mse(model, xs, ys)
    pairs = {s: (mse[f"raw_{s}"], mse[f"normalised_{s}"]) for s in NORM_SEEDS}
    evidence(f"training MSE after {NORM_EPOCHS} epochs, raw vs normalised: "
             + "; ".join(f"seed {s}: {r:.3g} vs {n:.3g} ({r / n:.0f}x lower)"
                         for s, (r, n) in pairs.items()))
    assert all(n < r for r, n in pairs.values())
