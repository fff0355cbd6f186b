"""optimize_for_inference: the same outputs, without the batch norms; ONNX: the same outputs
under onnxruntime, and Conv/Gemm nodes that carry exactly the analyzer's multiply-adds."""

from __future__ import annotations

import pytest

import torch

import flopcalc  # noqa: E402
from flopcalc.nn import build  # noqa: E402
from flopcalc.nn.optimize import fold_conv_bn, optimize_for_inference  # noqa: E402

MODELS = [("mobilenet_v1", 0.5, 64), ("mobilenet_v2", 0.75, 96), ("mobilenet_v3_large", 0.5, 80),
          ("mobilenet_v3_small", 1.0, 72)]


def randomized(model, alpha):
    net = build(model, alpha)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():  # batch-norm statistics that make the fold matter
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5, generator=gen)
                m.bias.uniform_(-0.2, 0.2, generator=gen)
                m.running_mean.uniform_(-0.2, 0.2, generator=gen)
                m.running_var.uniform_(0.5, 1.5, generator=gen)
    return net.eval()


@pytest.mark.parametrize("model, alpha, resolution", MODELS)
def test_optimized_model_gives_the_same_outputs(model, alpha, resolution):
    net = randomized(model, alpha)
    fast = optimize_for_inference(net)
    x = torch.randn(3, 3, resolution, resolution, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want, got = net(x), fast(x)
    scale = want.abs().max()
    assert (got - want).abs().max() <= 1e-4 * scale
    n_bn = sum(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())
    assert fast.model.folded == n_bn and not any(isinstance(m, torch.nn.BatchNorm2d) for m in fast.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())  # the original is untouched
    conv = next(m for m in fast.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)


def test_fold_of_one_conv_and_batch_norm():
    conv = torch.nn.Conv2d(4, 6, 3, padding=1, groups=2, bias=True)
    bn = torch.nn.BatchNorm2d(6, eps=1e-3)
    with torch.no_grad():
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        bn.weight.uniform_(0.5, 2)
        bn.bias.uniform_(-1, 1)
    bn.eval()
    x = torch.randn(2, 4, 7, 7)
    with torch.no_grad():
        torch.testing.assert_close(fold_conv_bn(conv, bn)(x), bn(conv(x)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("model, alpha, resolution", MODELS)
def test_onnx_export_runs_the_same_and_carries_the_analyzers_macs(model, alpha, resolution, tmp_path):
    onnx = pytest.importorskip("onnx")  # here, not at the top: the folding tests above need no ONNX
    ort = pytest.importorskip("onnxruntime")
    from flopcalc.nn.onnx_export import export, graph_macs
    net = randomized(model, alpha)
    path = export(net, resolution, tmp_path / "m.onnx")
    x = torch.randn(4, 3, resolution, resolution, generator=torch.Generator().manual_seed(2))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = torch.from_numpy(session.run(None, {"input": x.numpy()})[0])  # a dynamic batch of 4
    with torch.no_grad():
        want = net(x)
    assert (got - want).abs().max() <= 1e-4 * want.abs().max()
    a = flopcalc.analyze(model, alpha, resolution)
    assert sum(graph_macs(path).values()) == a.total.macs
    assert sum(graph_macs(path, batch=4).values()) == 4 * a.total.macs
    assert not [n for n in onnx.load(str(path)).graph.node if n.op_type == "BatchNormalization"]
