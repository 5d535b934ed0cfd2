"""Section D: debugging (questions 8, 9, 10): summary, plot_model, run_eagerly, error messages,
callbacks and EarlyStopping."""

from __future__ import annotations

import inspect
import re

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from packaging.version import Version

from tests.checks import (
    INFERENCE_ONLY_BACKENDS,
    random_array,
    require_graphviz,
    skip_unless_trainable,
    to_numpy,
)
from tests.strategies import LayerStack, examples, feature_shapes, layer_stacks

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def dense_model(keras, input_shape=(4,), run_eagerly=False):
    model = keras.Sequential([keras.Input(shape=input_shape), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse", run_eagerly=run_eagerly)
    return model


def summary_text(model) -> str:
    lines: list[str] = []
    model.summary(print_fn=lambda line, *args, **kwargs: lines.append(line))
    return ANSI.sub("", "\n".join(lines))


def shape_pattern(dims) -> str:
    """A shape as Keras prints it, with any batch entry: (None, 4, 3) or (2, 4, 3)."""
    return r"\((?:None|\d+), " + ", ".join(str(d) for d in dims) + r",?\)"


def callback(keras, on_epoch_end):
    """A Callback whose on_epoch_end is the given function of (callback, epoch, logs)."""

    class Hook(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            on_epoch_end(self, epoch, logs)

    return Hook()


class LossScript:
    """Forces each epoch's loss to a scripted value before the later callbacks read it, and
    keeps the weights at every epoch's end, so EarlyStopping is tested on exact loss curves."""

    def __init__(self, keras, losses):
        self.losses = list(losses)
        self.weights: list = []
        self.callback = callback(keras, self._on_epoch_end)

    def _on_epoch_end(self, hook, epoch, logs):
        logs["loss"] = self.losses[epoch]
        self.weights.append(hook.model.get_weights())

    @property
    def epochs_run(self) -> int:
        return len(self.weights)


@pytest.fixture(scope="module")
def trainer(keras, environment):
    """One compiled one-batch model reused by every callback test: fit(losses, *callbacks)
    trains len(losses) epochs at most under a LossScript and returns the script."""
    skip_unless_trainable(environment)
    model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
    x, y = random_array((8, 2), seed=1), random_array((8, 1), seed=2)

    def fit(losses, *callbacks):
        script = LossScript(keras, losses)
        model.fit(x, y, batch_size=8, epochs=len(script.losses), verbose=0,
                  callbacks=[script.callback, *callbacks])
        return script

    return fit


@pytest.mark.claim("q9-plot-summary-function")
def test_keras_has_a_plot_summary_function(keras, evidence):
    """The seed: Keras provides a `plot.summary()` function."""
    namespaces = {"keras": keras, "keras.utils": keras.utils}
    found = [f"{name}.plot.summary" for name, module in namespaces.items()
             if hasattr(getattr(module, "plot", None), "summary")]
    plotting = sorted(n for n in dir(keras.utils) if "plot" in n or "summary" in n)
    evidence(f"plot/summary names in keras.utils: {plotting}")
    assert found, "neither keras.plot nor keras.utils.plot exists, so there is no plot.summary()"


@pytest.mark.claim("q9-plot-summary-function", correction=True)
def test_summary_is_a_model_method_and_plot_model_a_utility(keras):
    """The real names: Model.summary() and keras.utils.plot_model()."""
    assert callable(keras.Model.summary) and callable(keras.utils.plot_model)


@pytest.mark.claim("q9-summary-params-and-shapes")
@settings(max_examples=examples(8))
@given(stack=layer_stacks(), compiled=st.booleans())
def test_summary_lists_each_layer_shape_and_params_and_totals(keras, stack, compiled):
    """model.summary() shows every layer's output shape and parameter count, and its total is
    count_params(), compiled or not."""
    model = stack.build(keras)
    if compiled:
        model.compile(optimizer="sgd", loss="mse")
    text = summary_text(model)
    for layer in model.layers:
        # a long "name (Type)" cell wraps; the name's first line also holds shape and count
        name = re.compile(rf"(?<!\w){re.escape(layer.name)}(?!\w)")
        row = next((line for line in text.splitlines() if name.search(line)), "")
        shape = re.search(shape_pattern(layer.output.shape[1:]), row)
        assert shape, (layer.name, row)
        params = row[shape.end():].replace(",", "")
        assert re.search(rf"\b{layer.count_params()}\b", params), (layer.name, row)
    total = re.search(r"Total params: ([\d,]+)", text)
    assert total and int(total.group(1).replace(",", "")) == model.count_params()


def dot_options(keras) -> dict[str, bool]:
    """Every show_* option of model_to_dot in this Keras (shapes, names, dtype, activations,
    trainable, and a parameter option wherever one exists), switched on."""
    names = inspect.signature(keras.utils.model_to_dot).parameters
    return {name: True for name in names if name.startswith("show_")}


@pytest.fixture(scope="module")
def graphviz():
    """model_to_dot needs pydot and Graphviz: checked once, before any example is drawn, so a
    missing one is an error at once, not a failure Hypothesis shrinks."""
    require_graphviz()


def dot_labels(keras, model) -> dict[str, str]:
    """What plot_model draws for each layer, as plain text keyed by str(id(layer)) (every Keras
    names a layer's node so): the labels of model_to_dot's graph, which plot_model renders, with
    every show_* option on. Keras 3 labels are HTML tables, Keras 2 labels Graphviz records."""
    graph = keras.utils.model_to_dot(model, **dot_options(keras))
    labels = {}
    for node in graph.get_nodes():
        text = re.sub(r"<[^<>]*>", " ", str(node.get("label") or ""))
        labels[node.get_name()] = " ".join(re.sub(r"[<>|{}]", " ", text).split())
    return labels


SHAPE = re.compile(r"\[?\((?:None|\d+)(?:, (?:None|\d+))*,?\)\]?")


def shows_parameter_count(label: str, layer) -> bool:
    """The label has the layer's parameter count (plain or with thousands commas) outside its
    name and its shapes."""
    rest = SHAPE.sub(" ", label.replace(layer.name, " "))
    count = layer.count_params()
    return any(re.search(rf"(?<![\w.,]){re.escape(form)}(?![\w.,])", rest)
               for form in {f"{count}", f"{count:,}"})


@pytest.mark.claim("q9-plot-model-params-and-shapes")
@settings(max_examples=examples(6))
@given(stack=layer_stacks(), compiled=st.booleans())
# one Dense layer on 4 features, tried first: a failure there is reported without shrinking
@example(stack=LayerStack((4,), (("Dense", (("units", 3),)),)), compiled=True)
def test_plot_model_labels_each_layer_with_its_output_shape_and_parameter_count(
    keras, graphviz, stack, compiled
):
    """The seed: plot_model() lets us check each layer's number of parameters and size; here
    each layer's node, drawn with every show_* option on, must give its output shape and (for a
    layer with weights) its parameter count."""
    model = stack.build(keras)
    if compiled:
        model.compile(optimizer="sgd", loss="mse")
    labels = dot_labels(keras, model)
    for layer in model.layers:
        label = labels.get(str(id(layer)), "")
        assert re.search(shape_pattern(layer.output.shape[1:]), label), (
            f"{layer.name}: no output shape {tuple(layer.output.shape)} in its node {label!r}")
        assert not layer.count_params() or shows_parameter_count(label, layer), (
            f"{layer.name} has {layer.count_params():,} parameters; its node shows {label!r}")


@pytest.mark.claim("q9-plot-model-params-and-shapes", correction=True)
def test_plot_model_and_model_to_dot_have_no_parameter_option(keras, evidence):
    """Neither plot_model nor model_to_dot has an option for parameter counts."""
    options = {*inspect.signature(keras.utils.plot_model).parameters, *dot_options(keras)}
    evidence(f"model_to_dot show_* options: {sorted(dot_options(keras))}")
    assert not [option for option in options if "param" in option]


@pytest.mark.claim("q9-plot-model-params-and-shapes", correction=True)
@settings(max_examples=examples(6))
@given(stack=layer_stacks(), compiled=st.booleans())
def test_plot_model_draws_each_layers_shapes_but_no_parameter_count(
    keras, environment, graphviz, stack, compiled
):
    """With show_shapes=True each layer's node gives its output shape, and its input shape too in
    Keras 2 and from Keras 3.3 on, but never its parameter count."""
    model = stack.build(keras)
    if compiled:
        model.compile(optimizer="sgd", loss="mse")
    labels = dot_labels(keras, model)
    shows_input = environment.major < 3 or environment.version >= Version("3.3")
    for layer in model.layers:
        label = labels[str(id(layer))]
        assert re.search(shape_pattern(layer.output.shape[1:]), label), label
        if layer.input.shape != layer.output.shape:
            found = bool(re.search(shape_pattern(layer.input.shape[1:]), label))
            assert found == shows_input, label
        assert not shows_parameter_count(label, layer), label
        # the check does see a count where a label has one
        assert shows_parameter_count(f"{label} Param #: {layer.count_params():,}", layer)


@pytest.mark.claim("q9-run-eagerly-in-fit")
def test_fit_accepts_run_eagerly(keras, evidence):
    """The seed: Keras supports `run_eagerly=True` in the fit() call."""
    model = dense_model(keras)
    try:
        model.fit(random_array((4, 4)), random_array((4, 2)), run_eagerly=True, verbose=0)
    except TypeError as exc:
        evidence(f"fit(run_eagerly=True): TypeError: {exc}")
        raise AssertionError(f"fit() rejects run_eagerly: {exc}") from None


@pytest.mark.claim("q9-run-eagerly-in-fit", correction=True)
@pytest.mark.parametrize("how", ["compile", "attribute"])
def test_run_eagerly_runs_call_as_python_once_per_batch(keras, environment, evidence, how):
    """compile(run_eagerly=True), or model.run_eagerly = True, runs call() as plain Python for
    every batch, where a tensor's concrete value can be read."""
    skip_unless_trainable(environment)

    class Probe(keras.layers.Layer):
        """Identity that, once armed, reads the concrete sum of every batch it sees."""

        armed = False

        def call(self, inputs):
            if self.armed:
                self.sums.append(float(to_numpy(keras, inputs).sum()))
            return inputs

    probe = Probe()
    probe.sums = []
    model = keras.Sequential([keras.Input(shape=(2,)), probe, keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", run_eagerly=how == "compile")
    if how == "attribute":
        model.run_eagerly = True
    x, y = random_array((12, 2)), random_array((12, 1))
    model.fit(x, y, batch_size=4, verbose=0)  # builds optimizer and metrics, unarmed
    probe.armed = True
    model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    batch_sums = [float(x[i:i + 4].sum()) for i in range(0, 12, 4)] * 2
    evidence(f"call() ran {len(probe.sums)} times for 6 batches")
    np.testing.assert_allclose(probe.sums, batch_sums, rtol=1e-5)


EXPECTED_SHAPE = (4, 3)


def wrong_shape_message(keras, environment, wrong) -> str:
    """Feed a (None, 4, 3) model a batch of per-sample shape `wrong` (fit, or predict on the
    inference-only backends) and return the error message; being accepted fails the claim."""
    model = dense_model(keras, input_shape=EXPECTED_SHAPE)
    x = random_array((2, *wrong))
    try:
        if environment.backend in INFERENCE_ONLY_BACKENDS:
            model.predict(x, verbose=0)
        else:
            model.fit(x, random_array((2, *wrong[:-1], 2)), verbose=0)
    except Exception as exc:  # any error type: the claim is about its message
        return " ".join(ANSI.sub("", str(exc)).split())
    raise AssertionError(f"a batch of shape {x.shape} was accepted silently")


def names_shapes(message: str, wrong) -> bool:
    """The message gives the expected shape (or the expected last-axis value) and the received
    one."""
    expected = re.search(shape_pattern(EXPECTED_SHAPE), message) or re.search(
        rf"value {EXPECTED_SHAPE[-1]}\b", message)
    return bool(expected and re.search(shape_pattern(wrong), message))


@pytest.mark.claim("q9-clear-error-messages")
@settings(max_examples=examples(10))
@given(wrong=feature_shapes(min_rank=1, max_rank=3, max_side=6))
@example(wrong=(1, 3))  # a wrong axis other than the last: always tried, whatever the budget
def test_wrong_input_shape_error_names_expected_and_received_shape(keras, environment, wrong):
    """The seed: an error during training comes with a detailed message; here any batch of the
    wrong shape must raise an error naming the expected (None, 4, 3) and the received shape."""
    assume(wrong != EXPECTED_SHAPE)
    message = wrong_shape_message(keras, environment, wrong)
    assert names_shapes(message, wrong), message[:400]


@pytest.mark.claim("q9-clear-error-messages", correction=True)
@settings(max_examples=examples(4))
@given(last=st.integers(1, 6).filter(lambda n: n != EXPECTED_SHAPE[-1]))
def test_wrong_last_axis_error_names_expected_value_and_received_shape(
    keras, environment, last
):
    """A batch whose last axis is wrong is rejected with a message naming the expected value
    and the received shape."""
    wrong = (*EXPECTED_SHAPE[:-1], last)
    message = wrong_shape_message(keras, environment, wrong)
    assert names_shapes(message, wrong), message[:400]


@pytest.mark.claim("q9-callback-is-a-function")
def test_a_plain_function_can_be_a_callback(keras, trainer):
    """The seed: a callback is a function, so a plain function can be passed as one."""
    try:
        trainer([1.0], lambda epoch, logs: None)
    except (AttributeError, TypeError) as exc:
        raise AssertionError(f"a plain function in callbacks= fails: {exc!r}") from None


@pytest.mark.claim("q9-callback-is-a-function", correction=True)
def test_lambda_callback_wraps_a_function_that_stops_training(keras, trainer):
    """A callback is a Callback object; LambdaCallback wraps plain functions as its hooks."""
    seen: list[int] = []
    trainer([1.0] * 3, keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(e)))
    assert seen == [0, 1, 2]


REGRESSION_EPOCHS = 8


@pytest.fixture(scope="module")
def regression(keras, environment):
    """A compiled linear model that really learns (full-batch SGD, no shuffling, so a run is
    fixed by its data and starting weights): fit(seed, *callbacks) trains it from seeded weights
    on a seeded linear problem for REGRESSION_EPOCHS at most and returns the epochs' losses."""
    skip_unless_trainable(environment)
    model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.3), loss="mse")

    def fit(seed, *callbacks):
        x = random_array((16, 3), seed=seed)
        y = x @ random_array((3, 1), seed=seed + 1) + 0.5
        model.set_weights([random_array((3, 1), seed=seed + 2), np.zeros(1, "float32")])
        return model.fit(x, y, batch_size=16, epochs=REGRESSION_EPOCHS, shuffle=False,
                         verbose=0, callbacks=list(callbacks)).history["loss"]

    return fit


@pytest.mark.claim("q9-callback-acts-on-a-condition")
@settings(max_examples=examples(3))
@given(seed=st.integers(0, 2**16), fraction=st.sampled_from([0.5, 0.3]))
def test_callback_stops_training_at_the_first_epoch_its_condition_holds(
    keras, regression, seed, fraction
):
    """The seed: a callback manages training and acts when a condition holds. A Callback that
    sets model.stop_training once the epoch's loss is at most `fraction` of the first epoch's
    stops real training at exactly that epoch; the same run without it (the control) trains on
    past it."""
    control = regression(seed)
    reached = [e for e, loss in enumerate(control) if loss <= fraction * control[0]]
    # a run whose loss gets that low only in its last epoch, or never, cannot show the stop
    assume(reached and reached[0] < REGRESSION_EPOCHS - 1)
    assert len(control) == REGRESSION_EPOCHS, f"the control stopped by itself: {control}"

    def stop_at_fraction(hook, epoch, logs):
        if epoch == 0:
            hook.first_loss = logs["loss"]
        if logs["loss"] <= fraction * hook.first_loss:
            hook.model.stop_training = True

    stopped = regression(seed, callback(keras, stop_at_fraction))
    assert len(stopped) == reached[0] + 1, (stopped, control)
    np.testing.assert_allclose(stopped, control[:len(stopped)], rtol=1e-5)


def falling_losses(epochs: int = 12, step: float = 0.05) -> list[float]:
    """A loss that improves by `step` every epoch: 1.0, 0.95, ... down through 0.5."""
    return [1.0 - step * epoch for epoch in range(epochs)]


@pytest.mark.claim("q9-early-stopping-at-loss-level")
def test_early_stopping_stops_once_loss_reaches_a_level(keras, trainer):
    """The seed: EarlyStopping stops training once the loss has fallen to a certain level; here
    the loss falls by 0.05 an epoch, from 1.0 through 0.5 to 0.45."""
    losses = falling_losses()
    script = trainer(losses, keras.callbacks.EarlyStopping(monitor="loss", patience=1))
    assert script.epochs_run < len(losses), (
        f"trained all {len(losses)} epochs while the loss fell to {losses[-1]:.2f}")


@pytest.mark.claim("q9-early-stopping-at-loss-level", correction=True)
@settings(max_examples=examples(4))
@given(patience=st.integers(0, 3), min_delta=st.sampled_from([0.0, 0.01, 0.04]))
def test_early_stopping_never_stops_a_loss_that_keeps_improving(
    keras, trainer, patience, min_delta
):
    """A loss that beats its best by more than min_delta every epoch trains every epoch, whatever
    the patience and whatever level it reaches."""
    losses = falling_losses(6)
    stopper = keras.callbacks.EarlyStopping(monitor="loss", patience=patience,
                                            min_delta=min_delta)
    assert trainer(losses, stopper).epochs_run == len(losses)


@pytest.mark.claim("q9-early-stopping-at-loss-level", correction=True)
@settings(max_examples=examples(4))
@given(improving=st.integers(1, 3), patience=st.integers(1, 3),
       min_delta=st.sampled_from([0.0, 0.01, 0.04]))
def test_early_stopping_stops_after_patience_epochs_without_improvement(
    keras, trainer, improving, patience, min_delta
):
    """After `improving` epochs that beat the best by more than min_delta, a plateau (gains of
    min_delta / 2 at most) stops training after exactly `patience` more epochs."""
    best = 1.0 - 0.1 * (improving - 1)
    losses = [1.0 - 0.1 * e for e in range(improving)] + [
        best - min_delta / 2 * (e + 1) / 10 for e in range(10)]
    stopper = keras.callbacks.EarlyStopping(monitor="loss", patience=patience,
                                            min_delta=min_delta)
    assert trainer(losses, stopper).epochs_run == improving + patience


@pytest.mark.claim("q9-early-stopping-at-loss-level", correction=True)
@pytest.mark.parametrize(("baseline", "floor", "epochs"), [(None, 0.8, 6), (0.5, 0.8, 4),
                                                          (0.5, 0.4, 6)])
def test_early_stopping_baseline_counts_epochs_above_it_as_waiting(
    keras, trainer, baseline, floor, epochs
):
    """baseline is a level the loss must get below: until it does, even improving epochs count
    toward patience (3 here), so the plateau after a fall to 0.8 stops training two epochs
    sooner; a fall to 0.4 behaves as with no baseline. Reaching it never stops training."""
    losses = [1.0, round(1.0 - (1.0 - floor) / 2, 2)] + [floor] * 8
    stopper = keras.callbacks.EarlyStopping(monitor="loss", patience=3, baseline=baseline)
    assert trainer(losses, stopper).epochs_run == epochs


@pytest.mark.claim("q9-early-stopping-at-loss-level", correction=True)
def test_early_stopping_restores_the_best_epochs_weights(keras, trainer):
    """restore_best_weights=True puts back the weights of the epoch with the lowest loss."""
    losses = [1.0, 0.5, 0.2, 0.6, 0.7, 0.8, 0.9, 1.0]
    stopper = keras.callbacks.EarlyStopping(monitor="loss", patience=3,
                                            restore_best_weights=True)
    script = trainer(losses, stopper)
    assert script.epochs_run == 6
    for restored, best in zip(stopper.model.get_weights(), script.weights[2], strict=True):
        np.testing.assert_array_equal(restored, best)


@pytest.mark.claim("q9-early-stopping-at-loss-level", correction=True)
@given(level=st.sampled_from([0.82, 0.5]))
def test_custom_callback_stops_training_when_loss_reaches_a_level(keras, trainer, level):
    """A callback that sets model.stop_training when the loss is at most `level` stops training
    at the first such epoch."""

    def stop_at_level(hook, epoch, logs):
        if logs["loss"] <= level:
            hook.model.stop_training = True

    losses = falling_losses(8, step=0.1)
    first = next(e for e, loss in enumerate(losses) if loss <= level)
    assert trainer(losses, callback(keras, stop_at_level)).epochs_run == first + 1
