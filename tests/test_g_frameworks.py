"""Section G: Keras against other frameworks (15 use cases, 16 backends, speed, 17 TensorFlow)."""

from __future__ import annotations

import inspect
import time

import numpy as np
import pytest

from tests.checks import (
    child_report,
    keras_submodule,
    random_array,
    run_child,
    skip_unless_trainable,
)

# Transfer-learning bases at the smallest input each application accepts.
TRANSFER_BASES = ("MobileNetV2", "ResNet50", "EfficientNetB0")
TRANSFER_INPUT = (32, 32, 3)


@pytest.fixture(scope="module")
def probe():
    """children/backend_probe.py's report with the given modules unimportable and the given
    environment changes, each run once per module."""
    seen: dict[tuple, dict] = {}

    def run(*blocked: str, **env: str | None) -> dict:
        key = (blocked, tuple(sorted(env.items())))
        if key not in seen:
            seen[key] = child_report(run_child("backend_probe", *blocked, **env))
        return seen[key]

    return run


def outcome(report: dict) -> str:
    return report.get("error") or f"ran on {report['backend']}, Dense gave {report['output']}"


# --- question 15: transfer learning ---------------------------------------------------------


@pytest.mark.claim("q15-pretrained-models-available")
@pytest.mark.parametrize("name", ["VGG16", "ResNet50", "InceptionV3"])
def test_applications_offer_imagenet_pretrained_models(keras, name):
    """The seed: Keras provides pre-trained models such as VGG16, ResNet and Inception."""
    apps = keras_submodule(keras, "applications")
    assert hasattr(apps, name), f"keras.applications has no {name}"
    default = inspect.signature(getattr(apps, name)).parameters["weights"].default
    assert default == "imagenet", f"{name} defaults to weights={default!r}"


@pytest.mark.claim("q15-transfer-learning-new-head")
@pytest.mark.parametrize("name", TRANSFER_BASES)
def test_frozen_base_keeps_its_weights_while_the_new_head_trains(
    keras, environment, name, evidence
):
    """A frozen application (include_top=False) with new layers at its end: fit trains only the
    new head, every base weight (BatchNormalization statistics included) stays as it was."""
    skip_unless_trainable(environment)
    base = getattr(keras_submodule(keras, "applications"), name)(
        include_top=False, weights=None, input_shape=TRANSFER_INPUT
    )
    base.trainable = False
    pooled = keras.layers.GlobalAveragePooling2D()(base.output)
    model = keras.Model(base.input, keras.layers.Dense(3, activation="softmax")(pooled))
    # One eager step: the claim is about which weights move, and tracing a 50-layer graph would
    # cost seconds.
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", run_eagerly=True)
    base_before = base.get_weights()
    head_before = model.layers[-1].get_weights()
    x = random_array((4, *TRANSFER_INPUT))
    model.fit(x, np.array([0, 1, 2, 0]), batch_size=4, epochs=1, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(base_before, base.get_weights(), strict=True))
    # Untrained bases give near-zero features, so the head's bias may be all that moves.
    head_after = model.layers[-1].get_weights()
    moved = [float(np.abs(a - b).max()) for a, b in zip(head_before, head_after, strict=True)]
    evidence(f"{name}: {len(base_before)} base arrays unchanged, head kernel/bias moved by "
             f"{moved[0]:.1e}/{moved[1]:.1e}")
    assert any(moved)


# --- question 16: backends and speed --------------------------------------------------------


@pytest.fixture(scope="module")
def without_tensorflow(probe, environment) -> dict:
    """The probe with TensorFlow unimportable, on the environment's backend (numpy for a
    TensorFlow environment, the one Keras 3 backend that needs no extra framework)."""
    backend = environment.backend if environment.backend != "tensorflow" else "numpy"
    report = probe("tensorflow", KERAS_BACKEND=backend)
    if "error" in report and "tensorflow" not in report["error"]:
        pytest.skip(f"the {backend} backend cannot run here either: {report['error']}")
    return report


@pytest.mark.claim("q16-built-on-tensorflow")
def test_keras_cannot_run_without_tensorflow(without_tensorflow, evidence):
    """The seed: Keras is built on TensorFlow (and runs directly on it)."""
    evidence(f"TensorFlow unimportable: {outcome(without_tensorflow)}")
    assert "error" in without_tensorflow, (
        f"with TensorFlow unimportable Keras still {outcome(without_tensorflow)}"
    )


@pytest.mark.claim("q16-built-on-tensorflow", correction=True)
def test_only_keras2_needs_tensorflow(environment, without_tensorflow):
    """Keras 2 and tf_keras fail without TensorFlow; Keras 3 computes on another backend."""
    if environment.major >= 3:
        assert without_tensorflow.get("output") == [[3.0, 3.0]], outcome(without_tensorflow)
    else:
        assert "tensorflow" in without_tensorflow["error"]


@pytest.mark.claim("q16-theano-cntk-backends")
@pytest.mark.parametrize("name", ["theano", "cntk"])
def test_keras_runs_on_theano_or_cntk_when_asked(probe, name, evidence):
    """The seed: Keras can also use Theano or CNTK as its backend."""
    report = probe(KERAS_BACKEND=name)
    evidence(f"KERAS_BACKEND={name}: {outcome(report)}")
    assert report.get("backend") == name, f"KERAS_BACKEND={name}: {outcome(report)}"


@pytest.mark.claim("q16-theano-cntk-backends", correction=True)
@pytest.mark.parametrize("name", ["theano", "cntk"])
def test_theano_and_cntk_are_rejected_by_keras3_and_ignored_by_keras2(
    probe, environment, name
):
    """Keras 3 refuses an unknown backend at import; Keras 2.4+ ignores it and runs TensorFlow."""
    report = probe(KERAS_BACKEND=name)
    if environment.major >= 3:
        # the wording changes between releases ("Unable to import", "Unsupported"): the fact is
        # a ValueError at import that names the backend
        error = report.get("error", "")
        assert error.startswith("ValueError") and name in error, outcome(report)
    else:
        assert report.get("backend") == "tensorflow", outcome(report)


@pytest.mark.claim("q16-tensorflow-main-backend")
def test_unconfigured_keras_imports_tensorflow(probe, tmp_path, evidence):
    """The seed: TensorFlow is Keras's main backend; checked as the backend Keras loads when
    nothing (no KERAS_BACKEND, no keras.json) chooses one."""
    # TensorFlow is made unimportable so the probe stops, cheaply, at the backend it reaches for.
    report = probe("tensorflow", KERAS_BACKEND=None, KERAS_HOME=str(tmp_path))
    evidence(f"no backend configured, TensorFlow unimportable: {outcome(report)}")
    assert "tensorflow" in report.get("error", ""), outcome(report)


SPEED_SAMPLES, SPEED_BATCH, SPEED_EPOCHS, SPEED_REPEATS = 4096, 64, 2, 3
# "About the same speed" (the catalog statement of q16-speed-on-par-with-tensorflow).
SAME_SPEED = (0.67, 1.5)


def speed_data():
    x = random_array((SPEED_SAMPLES, 32), seed=1)
    return x, x.sum(axis=1, keepdims=True)


def assert_about_as_fast(speed: float, reference: float, what: str) -> None:
    """The catalog's rule for "about the same speed", applied to one run's measured ratio."""
    low, high = SAME_SPEED
    assert low <= speed / reference <= high, (
        f"{what}: ratio {speed / reference:.2f} is outside {low}-{high}")


def best_steps_per_second(train_epochs) -> float:
    """Steps/s of the fastest of SPEED_REPEATS timed runs, after one warm-up epoch (which
    compiles): the best run is the one least disturbed by other work on the machine."""
    train_epochs(1)
    seconds = []
    for _ in range(SPEED_REPEATS):
        start = time.perf_counter()
        train_epochs(SPEED_EPOCHS)
        seconds.append(time.perf_counter() - start)
    return SPEED_EPOCHS * SPEED_SAMPLES / SPEED_BATCH / min(seconds)


def fit_steps_per_second(keras) -> float:
    """Training steps per second of `fit` on a small MLP."""
    x, y = speed_data()
    model = keras.Sequential([
        keras.Input(shape=(32,)),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(1),
    ])
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    return best_steps_per_second(
        lambda epochs: model.fit(x, y, batch_size=SPEED_BATCH, epochs=epochs, verbose=0)
    )


def tensorflow_steps_per_second(tf) -> float:
    """The same model and data trained by a GradientTape step in tf.function."""
    x, y = speed_data()
    sizes = [32, 64, 64, 1]
    weights = [tf.Variable(tf.random.normal((a, b), stddev=(2 / a) ** 0.5))
               for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
    biases = [tf.Variable(tf.zeros(b)) for b in sizes[1:]]
    variables = weights + biases

    @tf.function
    def step(xb, yb):
        with tf.GradientTape() as tape:
            h = tf.nn.relu(xb @ weights[0] + biases[0])
            h = tf.nn.relu(h @ weights[1] + biases[1])
            loss = tf.reduce_mean((h @ weights[2] + biases[2] - yb) ** 2)
        for v, g in zip(variables, tape.gradient(loss, variables), strict=True):
            v.assign_sub(0.01 * g)
        return loss

    data = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(SPEED_SAMPLES).batch(SPEED_BATCH)

    def train_epochs(epochs):
        for _ in range(epochs):
            for xb, yb in data:
                step(xb, yb)

    return best_steps_per_second(train_epochs)


@pytest.mark.bench
@pytest.mark.claim("q16-speed-on-par-with-tensorflow")
def test_fit_speed_against_a_plain_tensorflow_loop(keras, environment, evidence):
    """The seed: Keras trains about as fast as TensorFlow; the steps/s ratio is the evidence."""
    skip_unless_trainable(environment)
    tf = pytest.importorskip("tensorflow", reason="no TensorFlow here to compare with")
    fit, plain = fit_steps_per_second(keras), tensorflow_steps_per_second(tf)
    evidence(f"{environment.backend} fit {fit:.0f} steps/s, plain TensorFlow loop {plain:.0f} "
             f"steps/s: ratio {fit / plain:.2f}")
    assert_about_as_fast(fit, plain, "fit against the plain TensorFlow loop")


@pytest.mark.bench
@pytest.mark.claim("q16-speed-on-par-with-tensorflow")
def test_fit_speed_on_each_installed_backend(environment, evidence):
    """The same model's fit speed on every trainable Keras 3 backend installed here, one run."""
    skip_unless_trainable(environment)
    if environment.major < 3:
        pytest.skip("Keras 2 has TensorFlow as its only backend")
    from importlib.util import find_spec

    speeds = {b: child_report(run_child("fit_speed", KERAS_BACKEND=b))["steps_per_s"]
              for b in ("tensorflow", "jax", "torch") if find_spec(b)}
    evidence("fit steps/s by backend: " + ", ".join(f"{b} {s:.0f}" for b, s in speeds.items()))
    for backend, speed in speeds.items():
        assert_about_as_fast(speed, speeds["tensorflow"], f"fit on {backend} against tensorflow")


# --- question 17: TensorFlow for beginners ----------------------------------------------------


def train_with_keras(keras, x, y):
    model = keras.Sequential([keras.Input(shape=(8,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    return model.fit(x, y, batch_size=16, epochs=10, verbose=0).history["loss"]


def train_with_tensorflow(tf, x, y):
    w1 = tf.Variable(tf.random.normal((8, 16), stddev=0.5))
    b1 = tf.Variable(tf.zeros(16))
    w2 = tf.Variable(tf.random.normal((16, 1), stddev=0.25))
    b2 = tf.Variable(tf.zeros(1))
    variables = [w1, b1, w2, b2]
    losses = []
    for _ in range(10):
        for xb, yb in tf.data.Dataset.from_tensor_slices((x, y)).batch(16):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean((tf.nn.relu(xb @ w1 + b1) @ w2 + b2 - yb) ** 2)
            for v, g in zip(variables, tape.gradient(loss, variables), strict=True):
                v.assign_sub(0.05 * g)
        losses.append(float(tf.reduce_mean((tf.nn.relu(x @ w1 + b1) @ w2 + b2 - y) ** 2)))
    return losses


def code_lines(function) -> int:
    """Lines of a function's body, blank lines excluded."""
    source = inspect.getsource(function).splitlines()[1:]
    return sum(1 for line in source if line.strip())


@pytest.mark.claim("q17-keras-few-lines")
def test_keras_trains_in_a_few_lines_and_fewer_than_tensorflow(keras, environment, evidence):
    """The seed: creating and training a model in Keras takes a few lines; TensorFlow's API needs
    more code for the same task. Both versions must train."""
    skip_unless_trainable(environment)
    tf = pytest.importorskip("tensorflow", reason="no TensorFlow here to compare with")
    x = random_array((64, 8), seed=3)
    y = x[:, :1] - 0.5 * x[:, 1:2]
    tf.random.set_seed(0)
    histories = {"keras": train_with_keras(keras, x, y),
                 "tensorflow": train_with_tensorflow(tf, x, y)}
    lines = {"keras": code_lines(train_with_keras), "tensorflow": code_lines(train_with_tensorflow)}
    evidence(f"lines of code: Keras {lines['keras']}, plain TensorFlow {lines['tensorflow']}; "
             + ", ".join(f"{k} loss {h[0]:.3f} -> {h[-1]:.3f}" for k, h in histories.items()))
    assert all(h[-1] < 0.5 * h[0] for h in histories.values()), "a version did not train"
    assert lines["keras"] <= 5 < lines["tensorflow"]


@pytest.mark.claim("q17-tensorflow-graph-session")
def test_tensorflow_needs_graphs_and_sessions(evidence):
    """The seed: TensorFlow makes users understand graphs and sessions."""
    tf = pytest.importorskip("tensorflow", reason="TensorFlow is not installed here")
    eager, session = tf.executing_eagerly(), hasattr(tf, "Session")
    evidence(f"TensorFlow {tf.__version__}: executing_eagerly()={eager}, tf.Session exists: "
             f"{session}")
    assert not eager or session, "TensorFlow runs eagerly by default and has no tf.Session"


@pytest.mark.claim("q17-tensorflow-graph-session", correction=True)
def test_tensorflow_runs_eagerly_and_builds_graphs_with_tf_function():
    """TF2 computes eagerly; tf.function builds the graph itself; Session is only in compat.v1."""
    tf = pytest.importorskip("tensorflow", reason="TensorFlow is not installed here")
    assert float(tf.constant(2.0) * 3.0) == 6.0
    traced = tf.function(lambda v: v * 3.0).get_concrete_function(tf.TensorSpec((), tf.float32))
    assert traced.graph.get_operations()
    assert hasattr(tf.compat.v1, "Session") and not hasattr(tf, "Session")
