"""Section E: Sequential vs Functional API (questions 11, 12)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

from tests.checks import assert_rejected, random_array, skip_unless_trainable, to_numpy
from tests.strategies import examples, layer_stacks


def two_output_layer(keras):
    class Split(keras.layers.Layer):
        """Returns two tensors: the input and its negation."""

        def call(self, inputs):
            return inputs, -inputs

        def compute_output_shape(self, input_shape):
            return input_shape, input_shape

    return Split()


def vqa_model(keras):
    """A Visual-Question-Answering-like model: an 8x8 RGB image and a 6-token question in, an
    answer class (3) and a confidence score out."""
    image = keras.Input(shape=(8, 8, 3), name="image")
    question = keras.Input(shape=(6,), dtype="int32", name="question")
    seen = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(image))
    asked = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(20, 4)(question))
    joint = keras.layers.Dense(8, activation="relu")(keras.layers.Concatenate()([seen, asked]))
    answer = keras.layers.Dense(3, activation="softmax", name="answer")(joint)
    score = keras.layers.Dense(1, name="score")(joint)
    return keras.Model([image, question], [answer, score])


def vqa_data(n: int = 32):
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (n, 8, 8, 3)).astype("float32")
    questions = rng.integers(0, 20, (n, 6)).astype("int32")
    answers = rng.integers(0, 3, (n,)).astype("int32")
    scores = images.mean(axis=(1, 2, 3))[:, None]
    return [images, questions], [answers, scores]


@pytest.mark.claim("q11-sequential-single-io")
@pytest.mark.parametrize("layer", ["Add", "Concatenate", "MultiHeadAttention"])
def test_sequential_rejects_a_layer_with_several_inputs(keras, evidence, layer):
    """The seed: in a Sequential model each layer has exactly one input."""
    kwargs = {"num_heads": 2, "key_dim": 2} if layer == "MultiHeadAttention" else {}
    exc = assert_rejected(
        lambda: keras.Sequential([keras.Input(shape=(4, 4)), getattr(keras.layers, layer)(
            **kwargs)]), f"Sequential with {layer}")
    evidence(f"{layer}: {type(exc).__name__}: {str(exc).splitlines()[0][:160]}")


@pytest.mark.claim("q11-sequential-single-io")
@pytest.mark.parametrize("position", ["middle", "last"])
def test_sequential_rejects_a_layer_with_two_outputs(keras, evidence, position):
    """The seed: in a Sequential model each layer has exactly one output."""
    layers = [keras.Input(shape=(4,)), keras.layers.Dense(4), two_output_layer(keras)]
    if position == "middle":
        layers.append(keras.layers.Dense(2))

    def build_and_call():
        model = keras.Sequential(layers)
        return model(random_array((2, 4)))

    exc = assert_rejected(build_and_call, f"Sequential with a two-output layer ({position})",
                          errors=(ValueError, TypeError, AttributeError))
    evidence(f"{position}: {type(exc).__name__}: {str(exc).splitlines()[0][:160]}")


@pytest.mark.claim("q11-sequential-single-io", correction=True)
def test_two_output_layer_is_rejected_before_another_layer_but_kept_at_the_end(keras):
    """A two-output layer cannot feed the next layer of a Sequential model, but as its last layer
    it makes a model with two outputs."""
    assert_rejected(lambda: keras.Sequential([keras.Input(shape=(4,)), two_output_layer(keras),
                                              keras.layers.Dense(2)]),
                    "a two-output layer feeding Dense", errors=(ValueError, TypeError))
    try:
        model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(4),
                                  two_output_layer(keras)])
        first, second = model(random_array((2, 4)))
    except (ValueError, TypeError) as exc:
        pytest.skip(f"this Keras rejects a two-output layer in last place too (the claim "
                    f"holds): {str(exc).splitlines()[0][:160]}")
    np.testing.assert_array_equal(to_numpy(keras, first), -to_numpy(keras, second))


@pytest.mark.claim("q11-sequential-linear-stack")
@settings(max_examples=examples(8))
@given(stack=layer_stacks())
def test_sequential_equals_functional_chain_of_the_same_layers(keras, stack):
    """Each layer takes the previous layer's output only: a Sequential model computes exactly
    what the Functional chain of its own layers computes."""
    sequential = stack.build(keras)
    inputs = x = keras.Input(shape=stack.input_shape)
    for layer in sequential.layers:
        x = layer(x)
    functional = keras.Model(inputs, x)
    batch = random_array((3, *stack.input_shape))
    np.testing.assert_allclose(to_numpy(keras, functional(batch, training=False)),
                               to_numpy(keras, sequential(batch, training=False)), rtol=1e-6,
                               atol=1e-6)


@pytest.mark.claim("q11-functional-multi-io")
def test_functional_model_takes_several_inputs_and_gives_several_outputs(keras):
    """Two inputs, two outputs, and one layer's output feeding two layers."""
    model = vqa_model(keras)
    assert (len(model.inputs), len(model.outputs)) == (2, 2)
    joint = model.get_layer("answer").input
    assert model.get_layer("score").input is joint
    answer, score = model(vqa_data(4)[0])
    assert (tuple(answer.shape), tuple(score.shape)) == ((4, 3), (4, 1))


@pytest.mark.claim("q11-functional-multi-io")
def test_functional_layer_may_return_two_tensors(keras):
    """A layer with two outputs, each feeding its own layer, is fine in a Functional model."""
    inputs = keras.Input(shape=(4,))
    plus, minus = two_output_layer(keras)(inputs)
    model = keras.Model(inputs, [keras.layers.Dense(2)(plus), keras.layers.Dense(3)(minus)])
    assert [tuple(o.shape) for o in model.outputs] == [(None, 2), (None, 3)]


@pytest.mark.claim("q11-functional-multi-io")
def test_shared_layer_applies_one_set_of_weights_to_both_inputs(keras):
    """A layer called on two inputs keeps one kernel and bias, so equal inputs give equal
    outputs and count_params counts it once."""
    shared = keras.layers.Dense(3, name="shared")
    left, right = keras.Input(shape=(4,)), keras.Input(shape=(4,))
    model = keras.Model([left, right], [shared(left), shared(right)])
    assert len(model.weights) == 2 and model.count_params() == 4 * 3 + 3
    x = random_array((2, 4))
    a, b = model([x, x])
    np.testing.assert_array_equal(to_numpy(keras, a), to_numpy(keras, b))


@pytest.mark.claim("q11-functional-multi-io")
def test_functional_model_trains_with_a_loss_per_output(keras, environment, evidence):
    """compile() takes one loss per output; fit lowers their weighted sum."""
    skip_unless_trainable(environment)
    model = vqa_model(keras)
    model.compile(optimizer=keras.optimizers.Adam(0.02),
                  loss=["sparse_categorical_crossentropy", "mse"], loss_weights=[1.0, 0.5])
    x, y = vqa_data()
    history = model.fit(x, y, epochs=6, batch_size=32, verbose=0).history
    loss = history["loss"]
    evidence(f"loss {loss[0]:.3f} -> {loss[-1]:.3f}; logged: {sorted(history)}")
    assert np.isfinite(loss).all() and loss[-1] < loss[0]


@pytest.mark.claim("q12-vqa-image-and-question")
def test_vqa_answer_depends_on_both_image_and_question(keras):
    """An image-and-question model answers from both: changing either input changes the
    answer."""
    model = vqa_model(keras)
    (images, questions), _ = vqa_data(4)

    def answer(images, questions):
        return to_numpy(keras, model([images, questions])[0])

    base = answer(images, questions)
    other_image = answer(images[::-1], questions)
    other_question = answer(images, (questions + 1) % 20)
    assert not np.allclose(base, other_image) and not np.allclose(base, other_question)


@pytest.mark.claim("q12-transformer-needs-functional")
def test_transformer_block_builds_with_functional_api(keras):
    """A transformer encoder block (self-attention on query = value, residual Add, LayerNorm,
    feed-forward) is a Functional graph that keeps the sequence shape."""
    tokens = keras.Input(shape=(5, 8))
    attended = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4)(tokens, tokens)
    x = keras.layers.LayerNormalization()(keras.layers.Add()([tokens, attended]))
    ff = keras.layers.Dense(8)(keras.layers.Dense(16, activation="relu")(x))
    block = keras.Model(tokens, keras.layers.LayerNormalization()(keras.layers.Add()([x, ff])))
    out = block(random_array((2, 5, 8)))
    assert tuple(out.shape) == (2, 5, 8)
