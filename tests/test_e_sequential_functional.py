"""Section E: Sequential vs Functional API (questions 11, 12)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.checks import (
    INFERENCE_ONLY_BACKENDS,
    assert_rejected,
    random_array,
    skip_unless_trainable,
    to_numpy,
)
from tests.strategies import examples, layer_stacks


def error_text(exc: BaseException) -> str:
    """An error as evidence: its type and the start of its message on one line (Keras 2 puts
    the reason below a first line that only names the layer)."""
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"


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
    evidence(f"{layer}: {error_text(exc)}")


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
    evidence(f"{position}: {error_text(exc)}")


@pytest.mark.claim("q11-sequential-single-io", correction=True)
def test_two_output_layer_is_rejected_before_another_layer_and_kept_last_in_keras_3(
    keras, environment
):
    """A two-output layer cannot feed the next layer of a Sequential model; as its last layer it
    makes a model with two outputs in Keras 3, and is rejected there too in Keras 2."""
    assert_rejected(lambda: keras.Sequential([keras.Input(shape=(4,)), two_output_layer(keras),
                                              keras.layers.Dense(2)]),
                    "a two-output layer feeding Dense", errors=(ValueError, TypeError))

    def last_place():
        model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(4),
                                  two_output_layer(keras)])
        return model(random_array((2, 4)))

    if environment.major < 3:
        assert_rejected(last_place, "a two-output layer in last place",
                        errors=(ValueError, TypeError, AttributeError))
        return
    first, second = last_place()
    np.testing.assert_array_equal(to_numpy(keras, first), -to_numpy(keras, second))


def sequential_of(keras, stack, built: str):
    """The stack as a Sequential model, built the three usual ways: from a keras.Input, by
    build(input_shape), or by its first call on data."""
    if built == "input":
        return stack.build(keras)
    model = keras.Sequential(stack.make_layers(keras))
    if built == "build":
        model.build((None, *stack.input_shape))
    else:
        model(random_array((1, *stack.input_shape)))
    return model


@pytest.mark.claim("q11-sequential-linear-stack")
@settings(max_examples=examples(8))
@given(stack=layer_stacks(), built=st.sampled_from(["input", "build", "call"]),
       compiled=st.booleans(), batch=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_sequential_is_the_plain_chain_of_its_layers(keras, stack, built, compiled, batch, seed):
    """The seed: each layer takes its input from the one layer before it and passes its output
    to one layer only. The model has one input and one output; each layer has one inbound node,
    fed by the previous layer's output, and one consumer, the next layer; and the model computes
    what fresh layers made from its layers' configs and weights compute applied one after
    another, eagerly or as a Functional chain."""
    model = sequential_of(keras, stack, built)
    if compiled:
        model.compile(optimizer="sgd", loss="mse")
    assert (len(model.inputs), len(model.outputs)) == (1, 1)
    previous = model.inputs[0]
    for position, layer in enumerate(model.layers):
        assert len(layer._inbound_nodes) == 1, (layer.name, layer._inbound_nodes)
        assert layer.input is previous, f"{layer.name} is not fed by the layer before it"
        consumers = 0 if position == len(model.layers) - 1 else 1
        assert len(layer._outbound_nodes) == consumers, (layer.name, layer._outbound_nodes)
        previous = layer.output
    assert model.outputs[0] is previous

    fresh = [type(layer).from_config(layer.get_config()) for layer in model.layers]
    inputs = x = keras.Input(shape=stack.input_shape)
    for layer in fresh:
        x = layer(x)
    chain = keras.Model(inputs, x)
    for copy, layer in zip(fresh, model.layers, strict=True):
        copy.set_weights(layer.get_weights())
    data = random_array((batch, *stack.input_shape), seed=seed)
    stepped = data
    for layer in fresh:
        stepped = layer(stepped)
    expected = to_numpy(keras, model(data, training=False))
    for other in (chain(data, training=False), stepped):
        np.testing.assert_allclose(to_numpy(keras, other), expected, rtol=1e-5, atol=1e-6)


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


# --- question 11: data of several forms --------------------------------------------------

COLOURS = ("red", "green", "blue")
COLOUR_EFFECT = {"red": -1.0, "green": 0.0, "blue": 1.0}


def table_data(n: int = 64):
    """A table as pandas reads it: two numeric (float) columns and an object column of strings;
    the target depends on both kinds."""
    rng = np.random.default_rng(0)
    numeric = rng.uniform(-1, 1, (n, 2)).astype("float32")
    colour = rng.choice(COLOURS, size=(n, 1)).astype(object)
    effect = np.vectorize(COLOUR_EFFECT.get, otypes=["float32"])(colour)
    return numeric, colour, numeric.sum(axis=1, keepdims=True) + effect


def table_model(keras, lookup=None):
    """A numeric input and a categorical one, embedded and joined: the categorical input takes
    the strings themselves through `lookup` (a StringLookup) inside the model, or, without
    `lookup`, the integer ids a lookup in the data pipeline gave."""
    numeric = keras.Input(shape=(2,), name="numeric")
    if lookup is not None:
        colour = keras.Input(shape=(1,), dtype="string", name="colour")
        ids = lookup(colour)
    else:
        colour = ids = keras.Input(shape=(1,), dtype="int32", name="colour")
    embedded = keras.layers.Flatten()(keras.layers.Embedding(len(COLOURS) + 1, 3)(ids))
    joint = keras.layers.Concatenate()([numeric, embedded])
    out = keras.layers.Dense(1)(keras.layers.Dense(8, activation="relu")(joint))
    return keras.Model([numeric, colour], out)


def fit_losses(keras, model, x, y, epochs: int = 20) -> list[float]:
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="mse")
    return model.fit(x, y, batch_size=16, epochs=epochs, verbose=0).history["loss"]


@pytest.mark.claim("q11-data-of-several-forms")
def test_functional_model_trains_on_a_tables_numeric_and_string_columns_as_two_inputs(
    keras, environment, evidence
):
    """The seed: data comes in several forms (a table with numeric and object columns), which
    the Functional API takes as separate inputs: the numeric columns as one input, the string
    column as another (StringLookup and Embedding), joined; fit lowers the loss and the
    prediction depends on the string column. Where fit refuses the object column, the lookup
    runs in the data pipeline and the model takes its integer ids (the evidence says which)."""
    skip_unless_trainable(environment)
    numeric, colour, y = table_data()
    lookup = keras.layers.StringLookup(vocabulary=list(COLOURS))
    recoloured = np.vectorize(dict(zip(COLOURS, COLOURS[1:] + COLOURS[:1], strict=True)).get,
                              otypes=[object])(colour)
    try:
        model = table_model(keras, lookup)
        losses = fit_losses(keras, model, [numeric, colour], y)
        route = "the object column into the model, StringLookup inside it"
        columns = colour, recoloured
    except Exception as exc:  # what fit does with the object column here is the evidence
        route = (f"fit on the object column fails ({error_text(exc)}): StringLookup in the "
                 "data pipeline, integer ids into the model")
        columns = [to_numpy(keras, lookup(c)).astype("int32") for c in (colour, recoloured)]
        model = table_model(keras)
        losses = fit_losses(keras, model, [numeric, columns[0]], y)
    predictions = [model.predict([numeric, c], verbose=0) for c in columns]
    moved = float(np.abs(predictions[0] - predictions[1]).max())
    evidence(f"{route}; loss {losses[0]:.3f} -> {losses[-1]:.3f}; another colour moves the "
             f"prediction by up to {moved:.3f}")
    assert np.isfinite(losses).all() and losses[-1] < 0.5 * losses[0], f"loss {losses}"
    assert moved > 1e-3, "the prediction ignores the string column"


def two_resolutions(n: int, seed: int = 0):
    """n random 16x16 grey images and the same images at half the resolution (2x2 means)."""
    full = random_array((n, 16, 16, 1), seed=seed)
    return full, full.reshape(n, 8, 2, 8, 2, 1).mean(axis=(2, 4))


def two_resolution_model(keras):
    """One image at two resolutions as two inputs, each through its own Conv2D branch, the
    branches merged into one prediction."""
    full = keras.Input(shape=(16, 16, 1), name="full")
    half = keras.Input(shape=(8, 8, 1), name="half")
    branches = [keras.layers.GlobalAveragePooling2D()(
        keras.layers.Conv2D(4, 3, activation="tanh")(image)) for image in (full, half)]
    joint = keras.layers.Concatenate()(branches)
    return keras.Model([full, half], keras.layers.Dense(1)(joint))


@pytest.mark.claim("q11-data-of-several-forms")
def test_two_resolution_model_predicts_from_each_resolution(keras, evidence):
    """The seed: an image split into several resolutions. Given as two inputs of a Functional
    model, each resolution counts: changing either one alone changes the prediction."""
    model = two_resolution_model(keras)
    full, half = two_resolutions(4)
    other_full, other_half = two_resolutions(4, seed=1)

    def predict(*images):
        return to_numpy(keras, model(list(images)))

    base = predict(full, half)
    changes = [float(np.abs(predict(other_full, half) - base).max()),
               float(np.abs(predict(full, other_half) - base).max())]
    evidence(f"another full-resolution image moves the prediction by up to {changes[0]:.2e}, "
             f"another half-resolution one by up to {changes[1]:.2e}")
    assert changes[0] > 1e-6, "the prediction ignores the full-resolution input"
    assert changes[1] > 1e-6, "the prediction ignores the half-resolution input"


@pytest.mark.claim("q11-data-of-several-forms")
def test_two_resolution_model_trains(keras, environment, evidence):
    """The two-resolution model trains: fit on both inputs lowers the loss."""
    skip_unless_trainable(environment)
    model = two_resolution_model(keras)
    full, half = two_resolutions(32)
    # the fine detail the half resolution loses, and the coarse brightness it keeps
    target = (full.std(axis=(1, 2, 3)) + half.mean(axis=(1, 2, 3)))[:, None]
    losses = fit_losses(keras, model, [full, half], target, epochs=10)
    evidence(f"loss {losses[0]:.4f} -> {losses[-1]:.4f}")
    assert np.isfinite(losses).all() and losses[-1] < losses[0], f"loss {losses}"


@pytest.mark.claim("q11-data-of-several-forms")
def test_sequential_model_cannot_use_two_resolutions_as_two_inputs(keras, evidence):
    """Sequential has one input: given the two resolutions as a list of two inputs, a
    Sequential model of the full-resolution branch either rejects them or computes from the
    first alone, the second changing nothing."""
    model = keras.Sequential([keras.Input(shape=(16, 16, 1)),
                              keras.layers.Conv2D(4, 3, activation="tanh"),
                              keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(1)])
    full, half = two_resolutions(4)
    _, other_half = two_resolutions(4, seed=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            both = model.predict([full, half], verbose=0)
        except (ValueError, TypeError) as exc:
            # Keras 2 wraps the reason, on the message's last line, in the traced code's frames
            reason = " ".join(str(exc).strip().splitlines()[-1].split())[:160]
            kind = type(exc).__name__
            evidence(f"rejected: {reason if reason.startswith(kind) else f'{kind}: {reason}'}")
            return
        other = model.predict([full, other_half], verbose=0)
        alone = model.predict(full, verbose=0)
    warned = [" ".join(str(w.message).split())[:80] for w in caught
              if not issubclass(w.category, DeprecationWarning)]
    evidence(f"accepted, {'warning ' + repr(warned[0]) if warned else 'without a warning'}: "
             f"another half-resolution image moves the prediction by "
             f"{float(np.abs(other - both).max()):.1e}, the full-resolution image alone by "
             f"{float(np.abs(alone - both).max()):.1e}")
    assert np.array_equal(both, other), "the Sequential model used the second input"
    np.testing.assert_allclose(both, alone, rtol=1e-6, atol=1e-6)


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


def encoder_layers(keras) -> dict:
    """The layers of a transformer encoder block on (5, 8) token sequences."""
    return {"attention": keras.layers.MultiHeadAttention(num_heads=2, key_dim=4),
            "residual": keras.layers.Add(), "norm": keras.layers.LayerNormalization(),
            "hidden": keras.layers.Dense(16, activation="relu"),
            "project": keras.layers.Dense(8), "residual2": keras.layers.Add(),
            "norm2": keras.layers.LayerNormalization()}


def encoder_block(layers: dict, tokens):
    """The block's graph: self-attention (query = value = tokens), residual add and norm, then a
    feed-forward pair, residual add and norm."""
    x = layers["norm"](layers["residual"]([tokens, layers["attention"](tokens, tokens)]))
    ff = layers["project"](layers["hidden"](x))
    return layers["norm2"](layers["residual2"]([x, ff]))


TOKENS = (5, 8)


@pytest.mark.claim("q12-transformer-needs-functional")
def test_functional_api_builds_a_transformer_block_with_its_residual_connections(keras):
    """A transformer encoder block is a Functional graph: the input feeds the attention and the
    first residual add, and each add joins two tensors."""
    layers = encoder_layers(keras)
    tokens = keras.Input(shape=TOKENS)
    block = keras.Model(tokens, encoder_block(layers, tokens))
    assert layers["residual"].input[0] is tokens
    assert all(len(layers[add].input) == 2 for add in ("residual", "residual2"))
    assert tuple(block(random_array((2, *TOKENS))).shape) == (2, *TOKENS)


@pytest.mark.claim("q12-transformer-needs-functional")
@pytest.mark.parametrize("first", ["attention", "residual"])
def test_sequential_rejects_a_transformer_blocks_layers_in_a_stack(keras, evidence, first):
    """The block's layers in order as a Sequential stack: the attention (query and value) or,
    without it, the residual add (two tensors) is rejected."""
    layers = encoder_layers(keras)
    names = list(layers)[list(layers).index(first):]
    exc = assert_rejected(
        lambda: keras.Sequential([keras.Input(shape=TOKENS), *(layers[n] for n in names)]),
        f"a Sequential stack of {names}")
    evidence(f"from {first}: {error_text(exc)}")


@pytest.mark.claim("q12-transformer-needs-functional")
def test_self_attention_in_a_lambda_does_not_make_a_trainable_sequential_block(
    keras, environment, evidence
):
    """The tempting way round, Lambda(lambda t: attention(t, t)) in a Sequential model, is
    rejected (Keras 2) or accepted without the attention's weights (Keras 3): the model does
    not own them, so training leaves them as they were."""
    attention = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4)
    try:
        model = keras.Sequential([keras.Input(shape=TOKENS),
                                  keras.layers.Lambda(lambda t: attention(t, t)),
                                  keras.layers.Dense(8)])
    except (ValueError, TypeError) as exc:
        evidence(f"rejected: {error_text(exc)}")
        return
    owned = {id(w) for w in model.trainable_weights}
    tracked = sum(id(w) in owned for w in attention.trainable_weights)
    evidence(f"accepted: the model owns {tracked} of the attention's "
             f"{len(attention.trainable_weights)} weights")
    assert tracked < len(attention.trainable_weights)
    if environment.backend not in INFERENCE_ONLY_BACKENDS:
        before = [to_numpy(keras, w) for w in attention.trainable_weights]
        model.compile(optimizer="sgd", loss="mse")
        model.fit(random_array((4, *TOKENS)), random_array((4, *TOKENS), seed=1), verbose=0)
        after = [to_numpy(keras, w) for w in attention.trainable_weights]
        assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))


@pytest.mark.claim("q12-transformer-needs-functional")
def test_transformer_block_hidden_in_one_subclassed_layer_fits_in_sequential(keras):
    """Subclassing is the other way: the block written as one Layer sits in a Sequential model,
    owns every weight, and computes what the Functional block with the same layers computes."""
    layers = encoder_layers(keras)

    class EncoderBlock(keras.layers.Layer):
        def __init__(self):
            super().__init__()
            for name, layer in layers.items():
                setattr(self, name, layer)

        def call(self, tokens):
            return encoder_block(layers, tokens)

    tokens = keras.Input(shape=TOKENS)
    functional = keras.Model(tokens, encoder_block(layers, tokens))
    sequential = keras.Sequential([keras.Input(shape=TOKENS), EncoderBlock()])
    assert {id(w) for w in sequential.weights} == {id(w) for w in functional.weights}
    data = random_array((2, *TOKENS))
    np.testing.assert_allclose(to_numpy(keras, sequential(data)),
                               to_numpy(keras, functional(data)), rtol=1e-5, atol=1e-6)
