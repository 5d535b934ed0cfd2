"""Section H: preprocessing, augmentation, time series and padding (questions 18-21)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tests.checks import conv2d, correlate_valid, random_array
from tests.strategies import conv_geometries

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
    for size, n in zip(out.shape, (g.height, g.width)):
        assert (size == n) == (g.span == 1 and (g.stride == 1 or n == 1))


@pytest.mark.claim("q19-same-keeps-size")
@given(geometry=conv_geometries())
def test_same_padding_keeps_the_input_size(keras, geometry):
    """The seed: with 'same' the output has the input's size."""
    g = geometry
    out = conv2d(keras, np.ones((g.height, g.width)), np.ones((g.kernel,) * 2), "same",
                 g.stride, g.dilation)
    assert out.shape == (g.height, g.width)


@pytest.mark.claim("q19-same-keeps-size", correction=True)
@given(geometry=conv_geometries())
def test_same_padding_gives_ceil_n_over_stride(keras, geometry):
    """'same' gives ceil(n / s) along each axis, hence the input size exactly at stride 1."""
    g = geometry
    out = conv2d(keras, np.ones((g.height, g.width)), np.ones((g.kernel,) * 2), "same",
                 g.stride, g.dilation)
    assert out.shape == (math.ceil(g.height / g.stride), math.ceil(g.width / g.stride))


def same_padding(size: int, span: int, stride: int) -> tuple[int, int]:
    """Zeros before and after along one axis for 'same': the odd one goes after."""
    total = max((math.ceil(size / stride) - 1) * stride + span - size, 0)
    return total // 2, total - total // 2


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
