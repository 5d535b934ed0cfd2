"""Section H: preprocessing, augmentation, time series and padding (questions 18-21)."""

from __future__ import annotations

import importlib.util
import inspect

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.checks import (
    conv2d,
    correlate_valid,
    random_array,
    same_output_size,
    same_padding,
    skip_unless_trainable,
    tensorflow_or_skip,
    to_numpy,
)
from tests.strategies import (
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


@pytest.mark.claim("q19-corner-pixels-fewer-windows")
@given(kernel=st.integers(2, 5), extra=st.integers(0, 4))
def test_corner_pixel_enters_one_window_and_centre_k_squared(keras, kernel, extra):
    """Without padding a corner pixel is in one k x k window, a central one in k*k windows."""
    size = 2 * kernel - 1 + extra
    ones = np.ones((kernel, kernel))

    def windows_covering(row, col):
        impulse = np.zeros((size, size), dtype="float32")
        impulse[row, col] = 1.0
        return round(float(conv2d(keras, impulse, ones, "valid", 1, 1).sum()))

    centre = size // 2
    assert (windows_covering(0, 0), windows_covering(centre, centre)) == (1, kernel * kernel)


@pytest.mark.claim("q19-valid-adds-no-padding")
@given(geometry=conv_geometries())
def test_valid_padding_is_the_unpadded_convolution(keras, geometry):
    """'valid' output is the plain cross-correlation of the unpadded image, of size
    floor((n - d(k-1) - 1)/s) + 1."""
    g = geometry
    image = random_array((g.height, g.width), seed=1)
    kernel = random_array((g.kernel, g.kernel), seed=2)
    out = conv2d(keras, image, kernel, "valid", g.stride, g.dilation)
    expected_size = tuple((n - g.span) // g.stride + 1 for n in (g.height, g.width))
    assert out.shape == expected_size
    np.testing.assert_allclose(out, correlate_valid(image, kernel, g.stride, g.dilation),
                               atol=CONV_ATOL)


@pytest.mark.claim("q19-valid-shrinks-output")
@given(geometry=conv_geometries())
def test_valid_padding_always_shrinks_the_output(keras, geometry):
    """The seed: with 'valid' the output is smaller than the input."""
    g = geometry
    out = conv2d(keras, np.ones((g.height, g.width)), np.ones((g.kernel,) * 2), "valid",
                 g.stride, g.dilation)
    assert out.shape[0] < g.height and out.shape[1] < g.width, (
        f"input {(g.height, g.width)} gave output {out.shape}"
    )


@pytest.mark.claim("q19-valid-shrinks-output", correction=True)
@given(geometry=conv_geometries())
def test_valid_padding_keeps_size_only_for_one_pixel_windows_at_stride_1(keras, geometry):
    """'valid' keeps an axis' size exactly when the window spans one pixel and the stride is 1
    (or the axis is one pixel long)."""
    g = geometry
    out = conv2d(keras, np.ones((g.height, g.width)), np.ones((g.kernel,) * 2), "valid",
                 g.stride, g.dilation)
    for size, n in zip(out.shape, (g.height, g.width), strict=True):
        assert (size == n) == (g.span == 1 and (g.stride == 1 or n == 1))


@pytest.mark.claim("q19-same-keeps-size")
@given(geometry=conv_geometries())
def test_same_padding_keeps_the_input_size(keras, geometry):
    """The seed: with 'same' the output has the input's size."""
    g = geometry
    out = conv2d(keras, np.ones((g.height, g.width)), np.ones((g.kernel,) * 2), "same",
                 g.stride, g.dilation)
    assert out.shape == (g.height, g.width), f"input {(g.height, g.width)} gave {out.shape}"


@pytest.mark.claim("q19-same-keeps-size", correction=True)
@given(geometry=conv_geometries())
def test_same_padding_gives_ceil_n_over_stride(keras, geometry):
    """'same' gives ceil(n / s) along each axis, hence the input size exactly at stride 1."""
    g = geometry
    out = conv2d(keras, np.ones((g.height, g.width)), np.ones((g.kernel,) * 2), "same",
                 g.stride, g.dilation)
    assert out.shape == tuple(same_output_size(n, g.stride) for n in (g.height, g.width))


@pytest.mark.claim("q19-same-pads-zeros")
@given(geometry=conv_geometries())
def test_same_padding_is_valid_convolution_of_zero_padded_image(keras, geometry):
    """'same' equals a 'valid' convolution of the image padded with zeros (extra at the end)."""
    g = geometry
    image = random_array((g.height, g.width), seed=3)
    kernel = random_array((g.kernel, g.kernel), seed=4)
    padded = np.pad(image, [same_padding(n, g.span, g.stride) for n in (g.height, g.width)])
    out = conv2d(keras, image, kernel, "same", g.stride, g.dilation)
    np.testing.assert_allclose(out, correlate_valid(padded, kernel, g.stride, g.dilation),
                               atol=CONV_ATOL)


# --- question 18: image augmentation ---------------------------------------------------------

AUGMENTATION_LAYERS = ("RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation",
                       "RandomContrast", "RandomCrop", "RandomBrightness")
# Layers whose strength is one `factor`; RandomFlip (a mode) and RandomCrop (a size) have none.
FACTOR_LAYERS = ("RandomRotation", "RandomZoom", "RandomTranslation", "RandomContrast",
                 "RandomBrightness")
CROP = 5  # RandomCrop's target side; every drawn image is at least 6 pixels wide
PIXEL_RANGE = (0.0, 255.0)  # the range the layers assume by default (value_range)


def augmentation_layer(keras, name: str, seed: int | None = None, factor: float = 0.3):
    """One of the seven layers, with a moderate setting (RandomFlip flips horizontally)."""
    layers = keras.layers
    if name == "RandomFlip":
        return layers.RandomFlip("horizontal", seed=seed)
    if name == "RandomCrop":
        return layers.RandomCrop(CROP, CROP, seed=seed)
    if name == "RandomTranslation":
        return layers.RandomTranslation(factor, factor, seed=seed)
    return getattr(layers, name)(factor, seed=seed)


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


@pytest.mark.claim("q18-training-only")
@settings(max_examples=examples(12))
@given(images=pixel_batches(),
       name=st.sampled_from([n for n in AUGMENTATION_LAYERS if n != "RandomCrop"]))
def test_augmentation_is_the_identity_at_inference(keras, images, name):
    """With training=False the six non-cropping layers return the images unchanged."""
    out = augment(keras, augmentation_layer(keras, name), images, training=False)
    np.testing.assert_array_equal(out, images)


@pytest.mark.claim("q18-training-only")
def test_random_crop_at_inference_is_deterministic(keras, evidence):
    """RandomCrop must give one size at inference, so it is deterministic there (its docstring
    promises a centre crop; the shape it gives is recorded)."""
    images = random_array((2, 8, 8, 3), seed=7) * 127.5 + 127.5
    layer = augmentation_layer(keras, "RandomCrop")
    first, second = (augment(keras, layer, images, training=False) for _ in range(2))
    unchanged = first.shape == images.shape and np.array_equal(first, images)
    evidence(f"RandomCrop({CROP}, {CROP}) at inference maps (2, 8, 8, 3) to {first.shape}"
             + (": the input unchanged" if unchanged else ""))
    np.testing.assert_array_equal(first, second)


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


def numpy_functions() -> set[str]:
    return {n for n in dir(np) if not n.startswith("_") and callable(getattr(np, n))
            and not isinstance(getattr(np, n), type)}


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


@pytest.mark.claim("q20-ops-fewer-than-numpy")
def test_keras_tensor_functions_cover_only_part_of_numpy(keras, evidence):
    """The tensor functions Keras offers are fewer than NumPy's: many NumPy functions have no
    Keras function of the same name."""
    where, namespace = tensor_functions(keras)
    numpy_names = numpy_functions()
    covered = {n for n in numpy_names if callable(getattr(namespace, n, None))}
    lacking = [n for n in TIME_SERIES_NUMPY if n not in covered]
    evidence(f"{where} has {len(covered)} of NumPy's {len(numpy_names)} functions "
             f"({len(covered) / len(numpy_names):.0%}); of {len(TIME_SERIES_NUMPY)} "
             f"time-series staples it lacks {len(lacking)}: {', '.join(lacking)}")
    assert len(covered) < len(numpy_names)


def timeseries_batches(keras, data, targets, w):
    """The batches of keras.utils.timeseries_dataset_from_array as NumPy pairs: a tf.data
    dataset by default; where TensorFlow is absent, a Grain one (format='grain', Keras 3.15+);
    not applicable where neither can be built."""
    make = keras.utils.timeseries_dataset_from_array
    options = {}
    if importlib.util.find_spec("tensorflow") is None:
        if "format" not in inspect.signature(make).parameters:
            pytest.skip("timeseries_dataset_from_array builds a tf.data dataset, and this "
                        "environment has no TensorFlow")
        if importlib.util.find_spec("grain") is None:
            pytest.skip("timeseries_dataset_from_array needs TensorFlow, or Grain for "
                        "format='grain'; this environment has neither")
        options["format"] = "grain"
    dataset = make(data, targets, sequence_length=w.sequence_length,
                   sampling_rate=w.sampling_rate, sequence_stride=w.sequence_stride,
                   batch_size=w.batch_size, **options)
    return [(np.asarray(x), np.asarray(y)) for x, y in dataset]


def what_timeseries_dataset_returns(keras) -> str:
    """What timeseries_dataset_from_array gives here for 8 steps, windows of 3 every 2nd step
    (4 fit; the older rule gives 3), or why it cannot run."""
    try:
        dataset = keras.utils.timeseries_dataset_from_array(
            np.arange(8.0), None, sequence_length=3, sampling_rate=2)
    except ImportError as exc:
        return f"it fails here: {exc}"
    count = sum(len(batch) for batch in dataset)
    return (f"it returns a {type(dataset).__module__.split('.')[0]} {type(dataset).__name__}; "
            f"8 steps, sequence_length 3, sampling_rate 2 give {count} windows (4 fit)")


@pytest.mark.claim("q20-preprocessing-outside-keras")
def test_keras_offers_no_time_series_preprocessing(keras):
    """The seed: time-series preprocessing is done outside Keras (NumPy, Pandas); Keras only
    takes the model's input."""
    assert not hasattr(keras.utils, "timeseries_dataset_from_array"), (
        "Keras ships keras.utils.timeseries_dataset_from_array (windows, sampling rate, stride, "
        f"targets, batches); {what_timeseries_dataset_returns(keras)}")


@pytest.mark.claim("q20-preprocessing-outside-keras", correction=True)
@settings(max_examples=examples(8))
@given(w=windowings())
def test_timeseries_dataset_yields_exact_strided_windows_with_targets(keras, w):
    """timeseries_dataset_from_array yields data[i : i + sequence_length * sampling_rate :
    sampling_rate] with targets[i], for i = 0, stride, 2 * stride ..., in batches of batch_size:
    every window that fits, or (the older rule) those with i + sequence_length * sampling_rate
    <= length."""
    data = np.arange(2 * w.length, dtype="float32").reshape(w.length, 2)
    targets = 10 * np.arange(w.length)
    batches = timeseries_batches(keras, data, targets, w)
    yielded = [pair for x, y in batches for pair in zip(x, y, strict=True)]
    count = len(yielded)
    assert count in (len(w.starts), len(w.legacy_starts)), f"{count} windows for {w}"
    assert [len(x) for x, _ in batches] == [min(w.batch_size, count - k)
                                            for k in range(0, count, w.batch_size)]
    for (window, target), i in zip(yielded, w.starts, strict=False):
        np.testing.assert_array_equal(
            window, data[i : i + w.sequence_length * w.sampling_rate : w.sampling_rate])
        assert target == targets[i]


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


def fit_side_by_side(keras, inputs, outputs, xs, ys, epochs: int, batch_size: int) -> dict:
    """Train several independent models as one: their weights are disjoint and Adam updates each
    weight from its own gradient, so each learns as if alone, at the cost of one compilation.
    Returns each output's MSE on its training data after training, by output layer name."""
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    model.fit(xs, ys, epochs=epochs, batch_size=batch_size, verbose=0)
    # predict, not the history: Keras 3.0 reports only the summed loss of several outputs
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
    mse = fit_side_by_side(keras, series, outputs, x, [y, y], RNN_EPOCHS, batch_size=16)
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
    mse = fit_side_by_side(keras, inputs, outputs, xs, ys, NORM_EPOCHS, batch_size=32)
    pairs = {s: (mse[f"raw_{s}"], mse[f"normalised_{s}"]) for s in NORM_SEEDS}
    evidence(f"training MSE after {NORM_EPOCHS} epochs, raw vs normalised: "
             + "; ".join(f"seed {s}: {r:.3g} vs {n:.3g} ({r / n:.0f}x lower)"
                         for s, (r, n) in pairs.items()))
    assert all(n < r for r, n in pairs.values())
