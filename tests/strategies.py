"""Hypothesis strategies shared by the tests: single layers and the shapes they accept."""

from __future__ import annotations

from hypothesis import strategies as st

from flopcalc.costs import out_size
from flopcalc.spec import Conv2d


@st.composite
def conv_case(draw, max_channels: int = 16, max_size: int = 64):
    """A Conv2d over kernel 1-7, stride 1-3, padding 0-3, dilation 1-3 and groups that
    divide the channels (depthwise included), with an input map it leaves at least 1x1."""
    kernel = draw(st.integers(1, 7))
    stride = draw(st.integers(1, 3))
    padding = draw(st.integers(0, 3))
    dilation = draw(st.integers(1, 3))
    groups = draw(st.integers(1, max_channels))
    in_c = groups * draw(st.integers(1, max(1, max_channels // groups)))
    out_c = groups * draw(st.integers(1, max(1, max_channels // groups)))
    depthwise = draw(st.booleans())
    if depthwise:
        in_c = out_c = groups
    span = dilation * (kernel - 1) + 1 - 2 * padding  # smallest input that leaves one output
    top = max(max_size, span)
    h = draw(st.integers(max(1, span), top))
    w = draw(st.integers(max(1, span), top))
    bias = draw(st.booleans())
    conv = Conv2d(in_c, out_c, kernel, stride, padding, dilation, groups, bias)
    assert out_size(h, kernel, stride, padding, dilation) >= 1
    return conv, (in_c, h, w)


separable_args = st.tuples(
    st.integers(1, 11),      # D_K
    st.integers(1, 4096),    # M
    st.integers(1, 4096),    # N
    st.integers(1, 512),     # D_F
    st.integers(1, 4),       # stride
)
