"""The reference calculations the claim tests judge Keras by, checked without Keras: the plain
cross-correlation, the 'same' padding rule, the time-series windows, the strategies' promises,
and the seed's model table as the tests read it."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from tests.checks import correlate_valid, same_output_size, same_padding
from tests.seed import ModelRow, model_table
from tests.strategies import ConvGeometry, Windowing, conv_geometries, windowings

ROOT = Path(__file__).resolve().parent.parent


def correlate_by_loops(image, kernel, stride: int, dilation: int) -> list[list[float]]:
    """out[i][j] = sum over a, b of image[i*s + a*d][j*s + b*d] * kernel[a][b], for every
    output position whose kernel taps all fall inside the image."""
    k = len(kernel)
    rows = [i for i in range(len(image)) if i + dilation * (k - 1) < len(image)][::stride]
    cols = [j for j in range(len(image[0])) if j + dilation * (k - 1) < len(image[0])][::stride]
    return [[sum(image[i + a * dilation][j + b * dilation] * kernel[a][b]
                 for a in range(k) for b in range(k)) for j in cols] for i in rows]


# --- checks.correlate_valid ---------------------------------------------------------------------


def test_correlate_valid_sums_each_two_by_two_window():
    image = np.arange(9.0).reshape(3, 3)
    # windows [[0, 1], [3, 4]], [[1, 2], [4, 5]], [[3, 4], [6, 7]], [[4, 5], [7, 8]]
    assert correlate_valid(image, np.ones((2, 2)), 1, 1).tolist() == [[8, 12], [20, 24]]


def test_correlate_valid_does_not_flip_the_kernel():
    """Cross-correlation, as Keras computes: the kernel's top-left tap reads each window's
    top-left pixel (a convolution would read the bottom-right one)."""
    image = np.arange(16.0).reshape(4, 4)
    top_left = np.array([[1.0, 0.0], [0.0, 0.0]])
    assert correlate_valid(image, top_left, 1, 1).tolist() == image[:3, :3].tolist()


def test_correlate_valid_strides_and_dilates():
    image = np.arange(25.0).reshape(5, 5)
    # stride 2: windows start at rows and columns 0 and 2
    assert correlate_valid(image, np.ones((3, 3)), 2, 1).tolist() == [[54, 72], [144, 162]]
    # dilation 2: a 2x2 kernel reads pixels two apart; 3 windows per axis fit in 5
    assert correlate_valid(image, np.ones((2, 2)), 1, 2).tolist() == [
        [24, 28, 32], [44, 48, 52], [64, 68, 72]]
    # dilation 2 on 3x3: the one window reads the four corners
    assert correlate_valid(np.arange(9.0).reshape(3, 3), np.ones((2, 2)), 1, 2).tolist() == [[16]]


@given(geometry=conv_geometries(max_extra=4), seed=st.integers(0, 2**16))
def test_correlate_valid_equals_the_direct_loop(geometry, seed):
    g = geometry
    rng = np.random.default_rng(seed)
    image = rng.integers(-3, 4, (g.height, g.width)).astype("float64")
    kernel = rng.integers(-3, 4, (g.kernel, g.kernel)).astype("float64")
    out = correlate_valid(image, kernel, g.stride, g.dilation)
    assert out.tolist() == correlate_by_loops(image.tolist(), kernel.tolist(), g.stride,
                                              g.dilation)
    # the 'valid' size rule test_h states: floor((n - d(k-1) - 1) / s) + 1
    assert out.shape == tuple((n - g.span) // g.stride + 1 for n in (g.height, g.width))


# --- the 'same' padding rule (checks.same_output_size, checks.same_padding) --------------------


def test_same_padding_hand_worked_examples():
    # n=5, k=3, s=2: outputs at 0, 2, 4 need one zero each side
    assert (same_output_size(5, 2), same_padding(5, 3, 2)) == (3, (1, 1))
    # n=6, k=3, s=2: outputs at 0, 2, 4; the last window needs one zero after
    assert (same_output_size(6, 2), same_padding(6, 3, 2)) == (3, (0, 1))
    # n=4, k=4, s=1: three zeros, the odd one after
    assert (same_output_size(4, 1), same_padding(4, 4, 1)) == (4, (1, 2))
    # a one-pixel window at stride 3 needs no padding: outputs at 0, 3, 6
    assert (same_output_size(7, 3), same_padding(7, 1, 3)) == (3, (0, 0))


def test_same_output_size_is_the_number_of_stride_steps_over_the_input():
    for n in range(1, 30):
        for s in range(1, 6):
            assert same_output_size(n, s) == len(range(0, n, s)) == math.ceil(n / s)
        assert same_output_size(n, 1) == n


def test_same_padding_gives_exactly_same_output_size_windows():
    """A 'valid' pass over the padded axis yields ceil(n/s) windows; one zero less would lose a
    window; the zeros split evenly, the odd one after."""
    for n in range(1, 20):
        for span in range(1, 10):
            for s in range(1, 5):
                before, after = same_padding(n, span, s)
                padded = np.zeros((span, n + before + after))
                windows = correlate_valid(padded, np.zeros((span, span)), s, 1).shape[1]
                assert windows == same_output_size(n, s), (n, span, s)
                assert after - before in (0, 1)
                if before + after:
                    assert (n + before + after - 1 - span) // s + 1 < windows


# --- strategies.Windowing --------------------------------------------------------------------


def test_windowing_starts_hand_worked_examples():
    # a window spans (3 - 1) * 2 + 1 = 5 steps: starts 0..5 fit in 10; stride 3 takes 0 and 3
    w = Windowing(length=10, sequence_length=3, sampling_rate=2, sequence_stride=3, batch_size=1)
    assert list(w.starts) == [0, 3] and list(w.legacy_starts) == [0, 3]
    # in 7 steps, windows of 5 start at 0, 1, 2; the legacy rule wants 6 steps, so stops at 1
    w = Windowing(length=7, sequence_length=3, sampling_rate=2, sequence_stride=1, batch_size=1)
    assert list(w.starts) == [0, 1, 2] and list(w.legacy_starts) == [0, 1]
    # a window as long as the series: one start under either rule
    w = Windowing(length=5, sequence_length=5, sampling_rate=1, sequence_stride=2, batch_size=4)
    assert list(w.starts) == [0] and list(w.legacy_starts) == [0]


@given(w=windowings())
def test_windowing_starts_are_every_stride_whose_window_fits(w):
    def fits(start, steps):
        return all(start + j * w.sampling_rate < w.length for j in range(steps))

    candidates = range(0, w.length, w.sequence_stride)
    assert list(w.starts) == [s for s in candidates if fits(s, w.sequence_length)]
    # the legacy rule: sequence_length * sampling_rate steps from the start must fit
    assert list(w.legacy_starts) == [
        s for s in candidates if s + w.sequence_length * w.sampling_rate <= w.length]


@given(data=st.data(), max_length=st.integers(1, 60))
def test_windowings_are_arguments_keras_accepts_with_a_window(data, max_length):
    w = data.draw(windowings(max_length=max_length))
    assert 1 <= w.sequence_length <= 6 and 1 <= w.sampling_rate <= 3
    assert 1 <= w.sequence_stride <= 4 and 1 <= w.batch_size <= 8
    assert w.sampling_rate < w.length and w.sequence_stride < w.length
    assert len(w.starts) >= 1
    # longer than max_length only where the shortest series Keras accepts is longer
    shortest = max((w.sequence_length - 1) * w.sampling_rate + 1, w.sampling_rate + 1,
                   w.sequence_stride + 1)
    assert w.length <= max(max_length, shortest)


# --- strategies.conv_geometries ----------------------------------------------------------------


@given(data=st.data(), max_extra=st.integers(0, 12), max_stride=st.integers(1, 4))
def test_conv_geometries_keep_their_promises(data, max_extra, max_stride):
    g = data.draw(conv_geometries(max_extra=max_extra, max_stride=max_stride))
    assert isinstance(g, ConvGeometry)
    assert 1 <= g.kernel <= 5 and 1 <= g.stride <= max_stride and 1 <= g.dilation <= 3
    assert g.stride == 1 or g.dilation == 1, "TensorFlow rejects stride > 1 with dilation > 1"
    assert g.span == g.dilation * (g.kernel - 1) + 1
    # at least one window wide, at most max_extra more
    assert g.span <= g.height <= g.span + max_extra and g.span <= g.width <= g.span + max_extra


# --- the seed's model table (tests.seed.model_table) -------------------------------------------

# Question 4's table as the seed prints it: name, size (MB), top-1 and top-5 accuracy (%),
# parameters (millions), depth, CPU and GPU time (ms) per inference step.
SEED_TABLE = """
Xception            88  79.0  94.5   22.9   81  109.4   8.1
VGG16              528  71.3  90.1  138.4   16   69.5   4.2
VGG19              549  71.3  90.0  143.7   19   84.8   4.4
ResNet50            98  74.9  92.1   25.6  107   58.2   4.6
ResNet50V2          98  76.0  93.0   25.6  103   45.6   4.4
ResNet101          171  76.4  92.8   44.7  209   89.6   5.2
ResNet101V2        171  77.2  93.8   44.7  205   72.7   5.4
ResNet152          232  76.6  93.1   60.4  311  127.4   6.5
ResNet152V2        232  78.0  94.2   60.4  307  107.5   6.6
InceptionV3         92  77.9  93.7   23.9  189   42.2   6.9
InceptionResNetV2  215  80.3  95.3   55.9  449  130.2  10.0
MobileNet           16  70.4  89.5    4.3   55   22.6   3.4
MobileNetV2         14  71.3  90.1    3.5  105   25.9   3.8
DenseNet121         33  75.0  92.3    8.1  242   77.1   5.4
DenseNet169         57  76.2  93.2   14.3  338   96.4   6.3
DenseNet201         80  77.3  93.6   20.2  402  127.2   6.7
NASNetMobile        23  74.4  91.9    5.3  389   27.0   6.7
NASNetLarge        343  82.5  96.0   88.9  533  344.5  20.0
EfficientNetB0      29  77.1  93.3    5.3  132   46.0   4.9
EfficientNetB1      31  79.1  94.4    7.9  186   60.2   5.6
EfficientNetB2      36  80.1  94.9    9.2  186   80.8   6.5
EfficientNetB3      48  81.6  95.7   12.3  210  140.0   8.8
EfficientNetB4      75  82.9  96.4   19.5  258  308.3  15.1
"""


def test_model_table_reads_every_row_of_the_seed_with_its_values():
    expected = tuple(
        ModelRow(name, float(size), float(top1), float(top5), float(params), int(depth),
                 float(cpu), float(gpu))
        for name, size, top1, top5, params, depth, cpu, gpu
        in map(str.split, SEED_TABLE.strip().splitlines()))
    assert model_table() == expected


def test_model_table_stops_at_the_blank_line_and_refuses_another_header():
    header = "Model\tSize (MB)\tTop-1 Accuracy\tTop-5 Accuracy\tParameters\tDepth\t" \
        "Time (ms) per inference step (CPU)\tTime (ms) per inference step (GPU)"
    text = f"intro\n\n{header}\nA\t1\t2.0%\t3.0%\t4.5M\t6\t7.5\t8.5\n\nB\t9\t9%\t9%\t9M\t9\t9\t9\n"
    assert model_table(text) == (ModelRow("A", 1, 2, 3, 4.5, 6, 7.5, 8.5),)
    with pytest.raises(ValueError):
        model_table(text.replace("Depth", "Layers"))


# --- the shared test modules import without Keras ----------------------------------------------


def test_test_helpers_import_no_framework():
    """checks, strategies and seed are imported at collection in every environment, and here
    without Keras: none may import Keras or a backend at module import."""
    frameworks = ("keras", "tf_keras", "tensorflow", "jax", "torch", "openvino")
    code = ("import sys, tests.checks, tests.strategies, tests.seed; "
            f"print(sorted({{m.partition('.')[0] for m in sys.modules}} & set({frameworks!r})))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


@pytest.mark.parametrize("profile", ["dev", "ci", "thorough", "mutants"])
def test_no_profile_explains_a_failure_and_only_mutants_skips_shrinking(profile):
    """Hypothesis' explain phase traces every line Keras runs after a failure (minutes per
    refuted claim); shrinking gives the evidence its minimal example."""
    phases = settings.get_profile(profile).phases
    assert Phase.explain not in phases
    assert (Phase.shrink in phases) == (profile != "mutants")
