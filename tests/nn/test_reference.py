"""NumPy reference kernels: torch's outputs, and executed multiply-adds equal to the formula."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

import torch
import numpy as np

from torch.nn import functional as F  # noqa: E402

from flopcalc import analyze, get_spec  # noqa: E402
from flopcalc.costs import conv2d_padding_macs, layer_cost  # noqa: E402
from flopcalc.nn import build  # noqa: E402
from flopcalc.nn import reference as ref  # noqa: E402
from flopcalc.spec import JOIN_LAYERS, LAYER_TYPES, SKIP_LAYERS  # noqa: E402
from strategies import conv_case  # noqa: E402


def test_every_layer_type_has_a_reference_kernel():
    assert set(ref.REFERENCE_KERNELS) | set(SKIP_LAYERS) | set(JOIN_LAYERS) == set(LAYER_TYPES)


@settings(max_examples=80, deadline=None)
@given(conv_case(max_channels=12, max_size=24), st.integers(1, 3))
def test_conv2d_matches_torch_and_counts_what_it_executes(case, batch):
    conv, (c, h, w) = case
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, c, h, w, generator=gen, dtype=torch.float64)
    weight = torch.randn(conv.out_c, c // conv.groups, conv.kernel, conv.kernel, generator=gen,
                         dtype=torch.float64)
    bias = torch.randn(conv.out_c, generator=gen, dtype=torch.float64) if conv.bias else None
    expected = F.conv2d(x, weight, bias, conv.stride, conv.padding, conv.dilation, conv.groups)
    ex = ref.Executed()
    got = ref.conv2d(x.numpy(), weight.numpy(), None if bias is None else bias.numpy(), conv.stride,
                     conv.padding, conv.dilation, conv.groups, ex)
    np.testing.assert_allclose(got, expected.numpy(), rtol=1e-10, atol=1e-10)
    assert ex.macs == batch * layer_cost(conv, (c, h, w)).macs
    assert ex.padding_macs == batch * conv2d_padding_macs(conv, (c, h, w))


def test_padding_share_is_large_on_small_maps():
    from flopcalc.spec import Conv2d
    dw = Conv2d(960, 960, 3, groups=960)
    # 7x7 map: along an axis 19 of the 21 (position, tap) pairs are inside, so 80 of 441 taps pad
    assert conv2d_padding_macs(dw, (960, 7, 7)) == 960 * (9 * 49 - 19 * 19)
    assert conv2d_padding_macs(dw, (960, 112, 112)) / layer_cost(dw, (960, 112, 112)).macs < 0.02


def test_linear_batchnorm_pool_match_torch():
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(3, 40, dtype=torch.float64, generator=gen)
    w = torch.randn(7, 40, dtype=torch.float64, generator=gen)
    b = torch.randn(7, dtype=torch.float64, generator=gen)
    ex = ref.Executed()
    np.testing.assert_allclose(ref.linear(x.numpy(), w.numpy(), b.numpy(), ex), F.linear(x, w, b).numpy())
    assert ex.macs == 3 * 7 * 40

    x = torch.randn(2, 5, 4, 3, dtype=torch.float64, generator=gen)
    g, beta, mean = (torch.randn(5, dtype=torch.float64, generator=gen) for _ in range(3))
    var = torch.rand(5, dtype=torch.float64, generator=gen) + 0.5
    ex = ref.Executed()
    got = ref.batch_norm(x.numpy(), g.numpy(), beta.numpy(), mean.numpy(), var.numpy(), 1e-5, ex)
    np.testing.assert_allclose(got, F.batch_norm(x, mean, var, g, beta, False, 0.0, 1e-5).numpy(), rtol=1e-12)
    assert ex.macs == x.numel()  # folded: one multiply-add per element

    ex = ref.Executed()
    np.testing.assert_allclose(ref.global_avg_pool(x.numpy(), False, ex),
                               F.adaptive_avg_pool2d(x, 1).flatten(1).numpy(), rtol=1e-12)
    assert ex.macs == 0 and ex.adds == 2 * 5 * (12 - 1)


def randomize(net):
    """Batch-norm statistics and weights that make every stored value matter."""
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.Conv2d) and m.bias is not None:
                m.bias.uniform_(-0.5, 0.5, generator=gen)
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5, generator=gen)
                m.bias.uniform_(-0.2, 0.2, generator=gen)
                m.running_mean.uniform_(-0.2, 0.2, generator=gen)
                m.running_var.uniform_(0.5, 1.5, generator=gen)
            if isinstance(m, torch.nn.Linear):
                m.weight.normal_(0, 0.1, generator=gen)
            if isinstance(getattr(m, "gamma", None), torch.nn.Parameter):  # a layer scale, 1e-5 at first: large
                m.gamma.uniform_(0.1, 0.3, generator=gen)  # enough to matter, small enough that float32's
                #                                            softmax over the growing map stays within tolerance
    return net


@pytest.mark.parametrize("model, alpha, resolution", [
    ("mobilenet_v1", 0.25, 64), ("mobilenet_v2", 0.35, 64), ("mobilenet_v2", 1.0, 96),
    ("mobilenet_v3_small", 0.75, 64), ("mobilenet_v3_large", 0.5, 96),
    ("mobilenet_v4_hybrid_medium", 0.5, 64), ("mobilenet_v4_hybrid_large", 0.25, 64)])  # attention, GELU
def test_whole_network_matches_torch_layer_by_layer(model, alpha, resolution):
    spec = get_spec(model, alpha)
    net = randomize(build(spec)).eval()
    x = torch.randn(2, 3, resolution, resolution, generator=torch.Generator().manual_seed(2))
    outs = {}
    for name, m in net.named_modules():
        m.register_forward_hook(lambda mod, i, o, name=name: outs.__setitem__(name, o.detach().clone()))
    with torch.no_grad():
        net(x)
    state = {k: v.double().numpy() for k, v in net.state_dict().items()}
    run = ref.forward(spec, state, x.double().numpy(), keep_outputs=True)
    a = analyze(model, alpha, resolution)
    for row in a.layers:
        t = outs[row.name].double().numpy()
        np.testing.assert_allclose(run.outputs[row.name], t, rtol=1e-4, atol=1e-4 * abs(t).max(),
                                   err_msg=row.name)
        if row.kind in ("conv", "depthwise", "pointwise", "linear", "attention"):
            assert run.executed[row.name].macs == 2 * row.macs, row.name
            if row.kind not in ("linear", "attention"):
                assert run.executed[row.name].padding_macs == 2 * conv2d_padding_macs(row.spec, row.input_shape)
        else:
            assert run.executed[row.name].padding_macs == 0
    t = outs[""].double().numpy()  # float32's rounding grows with the outputs (the hybrids' reach thousands)
    np.testing.assert_allclose(run.output, t, rtol=1e-4, atol=1e-4 * abs(t).max())
