"""The ways a model of your own reaches flopcalc: the Python API (``flopcalc.analyze`` of a module, a
source or an ONNX file), several inputs with their dtypes, and ``flopcalc export`` of a module source,
whose file flopcalc's ONNX reader counts back to the module's own multiply-adds."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

import flopcalc
from flopcalc.nn.record import analyze_module
from support import ROOT

TINY = str(ROOT / "examples" / "tiny_resnet.py") + ":make"


class TwoInputs(nn.Module):
    """Token ids (int64) through an embedding, and a float vector: 16 x 8 + 10 x 8 multiply-adds
    per image by hand (the embedding looks up, it does not multiply)."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(50, 16)
        self.a = nn.Linear(16, 8)
        self.b = nn.Linear(10, 8, bias=False)

    def forward(self, ids, x):
        return self.a(self.embed(ids)).mean(1) + self.b(x)


def test_the_api_counts_a_module_a_source_and_an_onnx_file():
    net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU())
    a = flopcalc.analyze(net, input_shape=(1, 3, 10, 10))
    assert (a.total.params, a.total.macs) == (8 * 27 + 8, 8 * 8 * 8 * 27)  # 8x8 outputs, 27 products each
    assert flopcalc.analyze(net, input_shape=(1, 3, 10, 10), convention="fvcore").total == \
        analyze_module(net, (1, 3, 10, 10), convention="fvcore").total
    src = flopcalc.analyze(TINY, input_shape=(1, 3, 64, 64), model_args={"width": 8})
    onnx = flopcalc.analyze(str(ROOT / "examples" / "tiny_resnet.onnx"))
    assert src.total.macs == onnx.total.macs == 2_777_248  # the same model: tests/nn/test_onnx_record.py
    assert flopcalc.analyze("mobilenet_v2", 0.5).total == flopcalc.conventions.analyze("mobilenet_v2", 0.5).total


@pytest.mark.parametrize("call, words", [
    (lambda: flopcalc.analyze(nn.Linear(3, 3), alpha=0.5), "alpha describe a zoo model"),
    (lambda: flopcalc.analyze("mobilenet_v2", input_shape=(1, 3, 8, 8)), "input_shape and model_args are for"),
    (lambda: flopcalc.analyze(nn.Linear(3, 3), input_shape=[("x",)]), "give a shape"),
    (lambda: flopcalc.analyze(nn.Linear(3, 3), input_shape=[((1, 3), "int7")]), "each a shape"),
])
def test_the_api_refuses_in_one_line(call, words):
    with pytest.raises(flopcalc.SpecError if "zoo" in words or "input_shape" in words else Exception,
                       match=words):
        call()


class Declares(nn.Module):
    """A module that declares its input as timm's models do (``pretrained_cfg["input_size"]``)."""

    pretrained_cfg = {"input_size": (3, 40, 48)}

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)

    def forward(self, x):
        return self.conv(x)


def make_declares():
    return Declares()


def test_without_input_a_module_is_counted_on_the_input_it_declares(cli):
    a = flopcalc.analyze(Declares())
    assert a.config["input"] == [1, 3, 40, 48] and a.total.macs == 40 * 48 * 4 * 3  # a 1x1 conv, by hand
    assert flopcalc.analyze(nn.Conv2d(3, 1, 1)).config["input"] == [1, 3, 224, 224]  # it declares none
    code, out, _ = cli("table", f"{__file__}:make_declares", "--totals", "--format", "json")
    assert code == 0 and json.loads(out)["config"]["input"] == [1, 3, 40, 48]
    code, out, _ = cli("table", f"{__file__}:make_declares", "--input", "2x3x8x8", "--totals", "--format", "json")
    assert code == 0 and json.loads(out)["config"]["input"] == [2, 3, 8, 8]


def test_several_inputs_with_their_dtypes_by_hand(cli):
    a = flopcalc.analyze(TwoInputs(), input_shape=[((2, 5), "int64"), (2, 10)])
    assert a.config["inputs"] == ["2x5:int64", "2x10"] and a.config["batch"] == 2
    assert a.total.macs == 2 * (5 * 16 * 8 + 10 * 8)  # two images; five tokens each through a
    assert a.total.params == 50 * 16 + 16 * 8 + 8 + 10 * 8
    path = ROOT / "tests" / "nn" / "test_sources.py"
    code, out, err = cli("table", f"{path}:TwoInputs", "--input", "1x5:int64", "--input", "1x10", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["total"]["macs"] == 5 * 16 * 8 + 10 * 8
    code, out, err = cli("table", f"{path}:TwoInputs", "--input", "1x5:int9")
    assert code == 2 and "unknown dtype 'int9'" in err and len(err.strip().splitlines()) == 1
    code, out, err = cli("table", TINY, "--input", "1x3x64x64", "--input", "1x3x8x8")
    assert code == 2 and "takes 2 positional arguments but 3 were given" in err and "Traceback" not in err


@pytest.mark.parametrize("source, argv", [
    (TINY, ["--input", "1x3x64x64", "--model-arg", "width=8"]),
    (str(ROOT / "tests" / "nn" / "test_capture.py") + ":ViTLike", ["--input", "1x3x32x32"]),
])
def test_export_of_a_module_source_counts_back_to_the_module(cli, tmp_path, source, argv):
    """The file flopcalc export writes, read back by flopcalc's ONNX reader node by node (convolutions,
    Gemm and MatMul with weights, MatMul of two activations: the attention of a vision transformer
    written out by the exporter), has exactly the recorded module's multiply-adds."""
    out_file = tmp_path / "m.onnx"
    code, out, err = cli("export", source, *argv, "--onnx", str(out_file), "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["equal"] and doc["graph_macs"] == doc["macs"] > 0
    assert flopcalc.analyze(str(out_file), input_shape=tuple(int(d) for d in argv[1].split("x"))).total.macs == \
        doc["macs"]
    code, out, err = cli("export", source, "--alpha", "0.5", "--onnx", str(out_file))
    assert code == 2 and "--alpha describe a zoo model" in err


@pytest.mark.parametrize("size", [7, 8, 9, 13, 14, 112, 113])
@pytest.mark.parametrize("kernel, stride, padding", [(3, 2, 0), (3, 2, 1), (2, 2, 0), (3, 3, 1)])
def test_ceil_mode_pooling_is_torchs_own_shape(size, kernel, stride, padding):
    """A ceil-mode pool's output, by flopcalc's formula, against torch's own on a real tensor."""
    if padding > kernel // 2:
        pytest.skip("torch refuses padding over half the kernel")
    pool = nn.MaxPool2d(kernel, stride, padding, ceil_mode=True)
    a = analyze_module(pool, (1, 2, size, size))
    assert a.layers[0].output_shape == tuple(pool(torch.zeros(1, 2, size, size)).shape[1:])


def test_reductions_and_adaptive_pooling_are_rows_without_multiply_adds():
    class M(nn.Module):
        def forward(self, x):
            y = nn.functional.adaptive_avg_pool2d(x, (2, 3))
            return y.sum(1) + x.amax((2, 3)).norm(dim=1, keepdim=True).unsqueeze(-1)

    a = analyze_module(M(), (1, 4, 6, 9))
    kinds = [(r.kind, r.output_shape) for r in a.layers if r.kind in ("window_pool", "reduction")]
    assert kinds == [("window_pool", (4, 2, 3)), ("reduction", (2, 3)), ("reduction", (4,)), ("reduction", (1,))]
    assert a.uncounted == {} and a.total.macs == 0


def test_memory_of_a_recorded_model_by_hand(cli):
    """A residual block on a 1x8x4x4 input (128 values a map): the conv holds x and y (256), the ReLU x,
    y and z (384: x waits for the add), the add x, z and the sum (384). Peak 384 values, 1,536 bytes in
    float32, first reached at the ReLU. Traffic: each reads its input (the add its second map too)
    and its weights, and writes its output."""

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(8, 8, 3, padding=1, bias=False)

        def forward(self, x):
            return torch.relu(self.conv(x)) + x

    from flopcalc.memory import memory
    m = memory(analyze_module(Block(), (1, 8, 4, 4)))
    assert (m.peak_bytes, m.peak_at) == (384 * 4, "relu")
    assert [(t.name, t.bytes_read, t.bytes_written) for t in m.layers] == [
        ("conv", (128 + 8 * 8 * 9) * 4, 128 * 4), ("relu", 128 * 4, 128 * 4), ("add", 2 * 128 * 4, 128 * 4)]
    code, out, err = cli("table", TINY, "--input", "1x3x64x64", "--memory", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["memory"]["peak_activation_bytes"] > 0 and doc["memory"]["peak_at"]
