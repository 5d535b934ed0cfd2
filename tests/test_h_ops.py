"""Section H, question 20: tensor operations, time series and recurrent layers."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.version import Version

from claims.plugin import describe
from tests.checks import (
    fit_side_by_side,
    random_array,
    skip_unless_trainable,
    to_numpy,
    training_mse,
)
from tests.strategies import (
    Windowing,
    array_pairs,
    examples,
    matmul_pairs,
    windowings,
)


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
