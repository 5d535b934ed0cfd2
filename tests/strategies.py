"""Hypothesis strategies shared by every section's tests."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import settings
from hypothesis import strategies as st


def examples(in_ci: int) -> int:
    """A test's example budget: `in_ci` examples under the `ci` profile, scaled by the active
    profile (fewer in `dev` and `mutants`, many more in `thorough`). A test whose examples each
    build and train a model asks for few, but never pins them against the profile."""
    scale = settings.default.max_examples / settings.get_profile("ci").max_examples
    return max(1, round(in_ci * scale))


@dataclass(frozen=True)
class ConvGeometry:
    """One spatial axis pair of a 2-D convolution: input size, kernel, stride, dilation."""

    height: int
    width: int
    kernel: int
    stride: int
    dilation: int

    @property
    def span(self) -> int:
        """How many input pixels one kernel window covers along an axis."""
        return self.dilation * (self.kernel - 1) + 1


@st.composite
def conv_geometries(draw, max_extra: int = 10, max_stride: int = 3,
                    smaller_inputs: bool = False) -> ConvGeometry:
    """Convolution geometries: stride > 1 comes with dilation 1 (TensorFlow rejects both at
    once). Each side is at least one window wide and at most `max_extra` pixels more; with
    `smaller_inputs` a side may be anything from 1 pixel, so some inputs are smaller than the
    window, which the padding claims speak of too."""
    kernel = draw(st.integers(1, 5))
    stride = draw(st.integers(1, max_stride))
    dilation = 1 if stride > 1 else draw(st.integers(1, 3))
    span = dilation * (kernel - 1) + 1
    shortest = 1 if smaller_inputs else span
    height = draw(st.integers(shortest, span + max_extra))
    width = draw(st.integers(shortest, span + max_extra))
    return ConvGeometry(height, width, kernel, stride, dilation)


def feature_shapes(min_rank: int = 1, max_rank: int = 4, max_side: int = 6):
    """Per-sample shapes (no batch axis) with 1..max_rank axes."""
    return st.lists(st.integers(1, max_side), min_size=min_rank, max_size=max_rank).map(tuple)


batch_sizes = st.integers(1, 5)


@dataclass(frozen=True)
class LayerStack:
    """A small random architecture: an input shape and (layer class name, kwargs) pairs.

    `build(keras, "sequential" | "functional")` makes the model with whichever Keras is under
    audit; the repr is what Hypothesis prints as a counterexample.
    """

    input_shape: tuple[int, ...]
    layers: tuple[tuple[str, tuple[tuple[str, object], ...]], ...]

    def make_layers(self, keras) -> list:
        return [getattr(keras.layers, name)(**dict(kwargs)) for name, kwargs in self.layers]

    def build(self, keras, style: str = "sequential"):
        if style == "sequential":
            return keras.Sequential([keras.Input(shape=self.input_shape), *self.make_layers(keras)])
        inputs = x = keras.Input(shape=self.input_shape)
        for layer in self.make_layers(keras):
            x = layer(x)
        return keras.Model(inputs, x)

    @property
    def has_dropout(self) -> bool:
        return any(name == "Dropout" for name, _ in self.layers)


def _layer(name: str, **kwargs) -> tuple[str, tuple[tuple[str, object], ...]]:
    return name, tuple(sorted(kwargs.items()))


_units = st.integers(1, 4)
_activations = st.sampled_from([None, "relu", "tanh"])


def _dense():
    return st.builds(lambda u, a: _layer("Dense", units=u, activation=a), _units, _activations)


def _extras():
    """Shape-preserving layers that may follow any layer."""
    return st.one_of(
        st.builds(lambda r: _layer("Dropout", rate=r), st.sampled_from([0.1, 0.5])),
        st.just(_layer("BatchNormalization")),
    )


@st.composite
def layer_stacks(draw, dropout: bool = True) -> LayerStack:
    """Random Dense / Conv2D+Flatten / LSTM stacks ending in a Dense head; `dropout=False` keeps
    training deterministic across models (each Dropout layer draws its own seed)."""
    extras = _extras() if dropout else st.just(_layer("BatchNormalization"))
    kind = draw(st.sampled_from(["dense", "conv", "lstm"]))
    body: list = []
    if kind == "conv":
        shape = (draw(st.integers(3, 6)), draw(st.integers(3, 6)), draw(st.integers(1, 3)))
        for _ in range(draw(st.integers(1, 2))):
            body.append(_layer("Conv2D", filters=draw(_units), kernel_size=draw(st.integers(1, 3)),
                               padding="same", activation=draw(_activations)))
            body += draw(st.lists(extras, max_size=1))
        body.append(_layer("Flatten"))
    elif kind == "lstm":
        shape = (draw(st.integers(2, 5)), draw(st.integers(1, 3)))
        depth = draw(st.integers(1, 2))
        for i in range(depth):
            body.append(_layer("LSTM", units=draw(_units), return_sequences=i < depth - 1))
    else:
        shape = (draw(st.integers(1, 6)),)
    for _ in range(draw(st.integers(0, 2))):
        body.append(draw(_dense()))
        body += draw(st.lists(extras, max_size=1))
    body.append(draw(_dense()))
    return LayerStack(shape, tuple(body))


# --- arrays, images and series (section H) --------------------------------------------------
# Finite float32 values away from subnormals (some backends flush those to zero), bounded so
# that exp, power and prod stay well inside float32.
_array_values = st.floats(-5, 5, width=32, allow_subnormal=False)


@st.composite
def array_pairs(draw, max_rank: int = 3, max_side: int = 4, shape: tuple[int, ...] | None = None):
    """Two float32 arrays of one shape (rank 1..max_rank, or the given `shape`), all values
    distinct so that argmax, argmin and sort have a single right answer."""
    from hypothesis.extra.numpy import arrays

    if shape is None:
        shape = draw(st.lists(st.integers(1, max_side), min_size=1, max_size=max_rank)
                     .map(tuple))
    both = draw(arrays("float32", (2, *shape), elements=_array_values, unique=True))
    return both[0], both[1]


@st.composite
def matmul_pairs(draw, max_side: int = 4):
    """A float32 (n, k) and (k, m) pair."""
    from hypothesis.extra.numpy import arrays

    n, k, m = (draw(st.integers(1, max_side)) for _ in range(3))
    return (draw(arrays("float32", (n, k), elements=_array_values)),
            draw(arrays("float32", (k, m), elements=_array_values)))


@st.composite
def pixel_batches(draw, sides=(6, 9)):
    """A batch of random float32 images with values in [0, 255], channels last. Few distinct
    shapes, since the JAX backend compiles anew for each."""
    import numpy as np

    shape = (draw(st.integers(1, 2)), draw(st.sampled_from(sides)), draw(st.sampled_from(sides)),
             draw(st.sampled_from([1, 3])))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return rng.uniform(0, 255, size=shape).astype("float32")


@dataclass(frozen=True)
class Windowing:
    """Arguments of keras.utils.timeseries_dataset_from_array over a series of `length` steps."""

    length: int
    sequence_length: int
    sampling_rate: int
    sequence_stride: int
    batch_size: int

    @property
    def starts(self) -> range:
        """Start indices of the windows that fit: the last one ends at or before length - 1."""
        last = self.length - 1 - (self.sequence_length - 1) * self.sampling_rate
        return range(0, last + 1, self.sequence_stride)

    @property
    def legacy_starts(self) -> range:
        """Start indices under the older rule that wants sequence_length * sampling_rate steps
        from each start, one sampling_rate - 1 more than the window spans."""
        last = self.length - self.sequence_length * self.sampling_rate
        return range(0, last + 1, self.sequence_stride)


@st.composite
def windowings(draw, max_length: int = 40) -> Windowing:
    """Windowing arguments Keras accepts, for which at least one window fits in the series."""
    sequence_length = draw(st.integers(1, 6))
    sampling_rate = draw(st.integers(1, 3))
    sequence_stride = draw(st.integers(1, 4))
    # Keras also requires sampling_rate and sequence_stride below the length.
    shortest = max((sequence_length - 1) * sampling_rate + 1, sampling_rate + 1,
                   sequence_stride + 1)
    return Windowing(
        length=draw(st.integers(shortest, max(shortest, max_length))),
        sequence_length=sequence_length,
        sampling_rate=sampling_rate,
        sequence_stride=sequence_stride,
        batch_size=draw(st.integers(1, 8)),
    )
