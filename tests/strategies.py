"""Hypothesis strategies shared by every section's tests."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st


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
def conv_geometries(draw, max_extra: int = 10, max_stride: int = 3) -> ConvGeometry:
    """Geometries every backend accepts: the input is at least one window wide, and stride > 1
    comes with dilation 1 (TensorFlow rejects both at once)."""
    kernel = draw(st.integers(1, 5))
    stride = draw(st.integers(1, max_stride))
    dilation = 1 if stride > 1 else draw(st.integers(1, 3))
    span = dilation * (kernel - 1) + 1
    height = draw(st.integers(span, span + max_extra))
    width = draw(st.integers(span, span + max_extra))
    return ConvGeometry(height, width, kernel, stride, dilation)


def feature_shapes(min_rank: int = 1, max_rank: int = 4, max_side: int = 6):
    """Per-sample shapes (no batch axis) with 1..max_rank axes."""
    return st.lists(st.integers(1, max_side), min_size=min_rank, max_size=max_rank).map(tuple)


batch_sizes = st.integers(1, 5)
