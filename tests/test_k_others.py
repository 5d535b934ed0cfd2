"""Section K: other questions (23 plotting, 24 other languages, 25 Flatten)."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.checks import assert_rejected, random_array, require_graphviz, to_numpy
from tests.strategies import batch_sizes, examples, feature_shapes


def seminar_cnn(keras):
    """The seed's summary: Conv2D(64, 3x3, 'same') on 14x14x32, MaxPooling2D, Dropout, Flatten."""
    return keras.Sequential([
        keras.Input(shape=(14, 14, 32)),
        keras.layers.Conv2D(64, (3, 3), padding="same", name="conv2d_1"),
        keras.layers.MaxPooling2D((2, 2), name="max_pooling2d_1"),
        keras.layers.Dropout(0.25, name="dropout"),
        keras.layers.Flatten(name="flatten"),
    ])


@pytest.fixture(scope="module")
def cnn(keras):
    return seminar_cnn(keras)


def image_data_format(keras) -> tuple[str, str]:
    """Where this Keras tells its default image data format, and the format it tells:
    keras.config.image_data_format() in Keras 3, keras.backend.image_data_format() in Keras 2."""
    config = getattr(keras, "config", None)
    if callable(getattr(config, "image_data_format", None)):
        return "keras.config.image_data_format()", config.image_data_format()
    return "keras.backend.image_data_format()", keras.backend.image_data_format()


@pytest.mark.claim("q25-conv-pool-output-channels-last")
def test_default_image_data_format_is_channels_last(keras, evidence):
    """The seed's (batch_size, height, width, channels) is Keras' default image data format:
    channels_last."""
    where, data_format = image_data_format(keras)
    evidence(f"{where} = {data_format!r}")
    assert data_format == "channels_last"


@pytest.mark.claim("q25-conv-pool-output-channels-last")
@settings(max_examples=examples(15))
@given(height=st.integers(4, 9), width=st.integers(4, 9), channels=st.integers(1, 4),
       filters=st.integers(1, 6), kernel=st.integers(1, 3),
       padding=st.sampled_from(["valid", "same"]), batch=batch_sizes)
def test_conv2d_and_max_pooling_give_batch_height_width_channels(
        keras, height, width, channels, filters, kernel, padding, batch):
    """The seed: after Conv2D and MaxPooling2D the output has shape (batch_size, height, width,
    channels): under the default data format both layers' outputs are 4-D with the filters on
    the last axis, as declared for a symbolic input and as computed on a batch (filter f
    outputs f everywhere, so the values show which axis holds the filters)."""
    trim = kernel - 1 if padding == "valid" else 0
    convolved = (height - trim, width - trim)
    pooled = (convolved[0] // 2, convolved[1] // 2)  # MaxPooling2D(2): 2x2 windows, stride 2
    conv = keras.layers.Conv2D(filters, kernel, padding=padding)
    pool = keras.layers.MaxPooling2D(2)
    symbolic = conv(keras.Input(shape=(height, width, channels)))
    assert tuple(symbolic.shape) == (None, *convolved, filters)
    assert tuple(pool(symbolic).shape) == (None, *pooled, filters)
    weights, _ = conv.get_weights()
    conv.set_weights([np.zeros_like(weights), np.arange(filters, dtype="float32")])
    images = random_array((batch, height, width, channels))
    for out, size in ((conv(images), convolved), (pool(conv(images)), pooled)):
        np.testing.assert_array_equal(to_numpy(keras, out), np.broadcast_to(
            np.arange(filters, dtype="float32"), (batch, *size, filters)))


@pytest.mark.claim("q25-flatten-to-1d")
@settings(max_examples=examples(60))
@given(shape=feature_shapes(min_rank=1, max_rank=5), batch=batch_sizes)
def test_flatten_output_shape_is_batch_by_product_of_axes(keras, shape, batch):
    """Flatten's output shape is (batch, d1*...*dk): as Keras declares it for a symbolic input,
    and as it computes on a real batch."""
    flatten = keras.layers.Flatten()
    assert tuple(flatten.compute_output_shape((None, *shape))) == (None, math.prod(shape))
    assert tuple(flatten(keras.Input(shape=shape)).shape) == (None, math.prod(shape))
    assert to_numpy(keras, flatten(random_array((batch, *shape)))).shape == (
        batch, math.prod(shape))


@pytest.mark.claim("q25-flatten-keeps-batch")
@given(batch=batch_sizes, shape=feature_shapes(min_rank=1, max_rank=4))
def test_flatten_keeps_batch_and_reshapes_each_sample_in_c_order(keras, batch, shape):
    """Flatten keeps the batch size and equals NumPy's row-major reshape of each sample."""
    x = random_array((batch, *shape))
    out = to_numpy(keras, keras.layers.Flatten()(x))
    np.testing.assert_array_equal(out, x.reshape(batch, -1))


ZERO_PARAM_LAYERS = ("max_pooling2d_1", "dropout", "flatten")


@pytest.mark.claim("q25-summary-zero-param-layers")
def test_seminar_cnn_pooling_dropout_and_flatten_have_no_weights(keras, cnn, evidence):
    """The seed's summary: max_pooling2d_1, dropout and flatten have 0 parameters (no weights
    at all), and dropout's output is (None, 7, 7, 64), its input's shape, in training too."""
    params = {name: cnn.get_layer(name).count_params() for name in ZERO_PARAM_LAYERS}
    weights = {name: len(cnn.get_layer(name).weights) for name in ZERO_PARAM_LAYERS}
    dropout = cnn.get_layer("dropout")
    shapes = (tuple(dropout.input.shape), tuple(dropout.output.shape))
    features = random_array((2, 7, 7, 64))
    trained = to_numpy(keras, dropout(features, training=True))
    evidence(f"parameters {params}, weight tensors {weights} (conv2d_1: "
             f"{cnn.get_layer('conv2d_1').count_params():,} in "
             f"{len(cnn.get_layer('conv2d_1').weights)}); dropout {shapes[0]} -> {shapes[1]}")
    assert params == dict.fromkeys(ZERO_PARAM_LAYERS, 0)
    assert weights == dict.fromkeys(ZERO_PARAM_LAYERS, 0)
    assert shapes == ((None, 7, 7, 64), (None, 7, 7, 64))
    assert trained.shape == features.shape


@pytest.mark.claim("q25-flatten-3136")
def test_seminar_cnn_has_18496_conv_parameters_and_3136_features(cnn, evidence):
    """The seed's numbers: 18,496 Conv2D parameters, 14x14 kept, 7x7 after pooling, 3136 out."""
    shapes = [tuple(layer.output.shape) for layer in cnn.layers]
    params = cnn.get_layer("conv2d_1").count_params()
    evidence(f"Conv2D params {params:,}; shapes {shapes}")
    assert params == 3 * 3 * 32 * 64 + 64 == 18_496
    assert shapes == [(None, 14, 14, 64), (None, 7, 7, 64), (None, 7, 7, 64), (None, 3136)]


@pytest.mark.claim("q25-none-is-batch")
@settings(max_examples=examples(5))
@given(batch=batch_sizes)
def test_none_in_output_shape_is_a_batch_of_any_size(keras, cnn, batch):
    """The None in (None, 3136) is the batch axis: any batch size goes through."""
    assert tuple(cnn.layers[-1].output.shape) == (None, 3136)
    out = to_numpy(keras, cnn(random_array((batch, 14, 14, 32)), training=False))
    assert out.shape == (batch, 3136)


@pytest.mark.claim("q25-flatten-required-before-dense")
def test_dense_rejects_a_conv_output_without_flatten(keras):
    """The seed: Flatten is necessary between the convolutional layers and Dense."""
    features = keras.Input(shape=(7, 7, 64))
    assert_rejected(lambda: keras.layers.Dense(10)(features), "Dense on a (None, 7, 7, 64) input")


@pytest.mark.claim("q25-flatten-required-before-dense", correction=True)
def test_dense_acts_on_last_axis_and_global_pooling_also_collapses(keras):
    """Dense maps (None, 7, 7, 64) to (None, 7, 7, 10); GlobalAveragePooling2D then Dense gives
    (None, 10) with 650 parameters instead of Flatten's 31,370."""
    features = keras.Input(shape=(7, 7, 64))
    assert tuple(keras.layers.Dense(10)(features).shape) == (None, 7, 7, 10)
    pooled = keras.Model(features, keras.layers.Dense(10)(
        keras.layers.GlobalAveragePooling2D()(features)))
    flat = keras.Model(features, keras.layers.Dense(10)(keras.layers.Flatten()(features)))
    assert tuple(pooled.output.shape) == tuple(flat.output.shape) == (None, 10)
    assert (pooled.count_params(), flat.count_params()) == (650, 31_370)


# --- question 23: plot_model and model_to_dot ---------------------------------------------------


def scoring_model(keras):
    inputs = keras.Input(shape=(4,), name="features")
    hidden = keras.layers.Dense(3, name="hidden")(inputs)
    return keras.Model(inputs, keras.layers.Dense(1, name="score")(hidden))


@pytest.mark.claim("q23-plot-model-and-model-to-dot-exist")
def test_keras_utils_has_plot_model_and_model_to_dot(keras):
    """The seed: Keras visualises a model with plot_model and model_to_dot."""
    for name in ("plot_model", "model_to_dot"):
        assert callable(getattr(keras.utils, name, None)), f"keras.utils has no {name}"


@pytest.mark.claim("q23-plot-model-writes-png")
@pytest.mark.parametrize("to_file", [None, "drawing.png"])
def test_plot_model_writes_a_png_file(keras, tmp_path, monkeypatch, evidence, to_file):
    """The seed: plot_model saves a PNG picture of the model, by default as model.png in the
    working folder, or to the file named."""
    import struct

    require_graphviz()
    monkeypatch.chdir(tmp_path)
    keras.utils.plot_model(scoring_model(keras), **({"to_file": to_file} if to_file else {}))
    written = tmp_path / (to_file or "model.png")
    assert written.exists(), f"plot_model wrote no {written.name}: {sorted(os.listdir())}"
    data = written.read_bytes()
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk follows the signature
    evidence(f"plot_model wrote {to_file or 'model.png (default)'}: a {width}x{height} PNG of "
             f"{len(data):,} bytes")
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and width > 0 and height > 0


@pytest.mark.claim("q23-model-to-dot-writes-nothing")
def test_model_to_dot_returns_a_graph_with_a_node_per_layer_and_writes_nothing(
    keras, tmp_path, monkeypatch, evidence
):
    """The seed: unlike plot_model, model_to_dot saves no file; it returns the pydot graph."""
    require_graphviz()
    monkeypatch.chdir(tmp_path)
    model = scoring_model(keras)
    graph = keras.utils.model_to_dot(model)
    # "node", "edge" and "graph" are pydot's default-attribute statements, not layers.
    labels = [str(node.get("label")) for node in graph.get_nodes()
              if node.get_name() not in ("node", "edge", "graph")]
    evidence(f"model_to_dot gave a {type(graph).__name__} with {len(labels)} layer nodes, "
             f"{len(graph.get_edges())} edges; files written: {len(list(tmp_path.iterdir()))}")
    assert list(tmp_path.iterdir()) == []
    assert type(graph).__name__ == "Dot" and len(labels) == len(model.layers)
    assert all(any(layer.name in label for label in labels) for layer in model.layers)
