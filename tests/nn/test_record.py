"""Any module, recorded on fake tensors (flopcalc/nn/record.py): flopcalc's own MobileNets give
exactly the analytical rows; hand-written models give the rows their formulas say, worked out
here by hand; shared modules, functional calls, ops without a formula and a failing forward."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from flopcalc.conventions import CONVENTIONS, count
from flopcalc.nn import build
from flopcalc.nn.record import RecordError, analyze_module, record
from flopcalc.walk import count_layers

CONFIGS = [(1.0, 224, 1), (0.5, 96, 1), (0.75, (160, 128), 2)]


def _rows(layers):
    return [(r.name, r.kind, tuple(r.input_shape), tuple(r.output_shape), r.params, r.macs) for r in layers]


@pytest.mark.parametrize("model", ["mobilenet_v1", "mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small"])
@pytest.mark.parametrize("alpha, resolution, batch", CONFIGS, ids=str)
def test_the_mobilenets_recorded_are_their_analytical_rows(model, alpha, resolution, batch):
    """The built model run on fake tensors gives the analyzer's rows exactly (names, kinds, shapes,
    params, multiply-adds), nothing uncounted, and every convention's totals are the analyzer's."""
    h, w = (resolution, resolution) if isinstance(resolution, int) else resolution
    recorded = record(build(model, alpha, 1000), (batch, 3, h, w), model)
    assert recorded.uncounted == {}
    a = count_layers(model, alpha, (h, w), batch=batch)
    r = recorded.analysis()
    assert _rows(r.layers) == _rows(a.layers)
    assert (r.total, r.by_kind) == (a.total, a.by_kind)
    for conv in CONVENTIONS.values():
        assert count(r, conv).total == count(a, conv).total, conv.name
    # memory: the recorded tensors' own lifetimes give the walk's traffic and peak exactly
    from flopcalc.memory import memory
    assert memory(r) == memory(a)


class Basic(nn.Module):
    """A ResNet basic block: the residual add and the last ReLU are functional calls."""

    def __init__(self, c: int):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.relu = nn.ReLU(inplace=True)
        self.conv2, self.bn2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + x)


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.block = Basic(8)
        self.fc = nn.Linear(8, 8)
        self.head = nn.Linear(8, 10)

    def forward(self, x):
        x = self.block(self.stem(x)).mean((2, 3))
        return self.head(self.fc(self.fc(x)))  # fc shared: called twice


def test_a_hand_written_model_by_hand():
    """32x32 input. stem 3x3/2, 3 -> 8 with bias: 16x16 out, 9*3*8*256 = 55,296 macs, 224 params.
    Each block conv 3x3 8 -> 8: 9*8*8*256 = 147,456 macs, 576 params; each batch norm 16 params.
    fc 8 -> 8 twice: 64 macs a call, its 72 params charged once; head 8 -> 10: 80 macs, 90 params."""
    r = record(Tiny(), (1, 3, 32, 32))
    rows = {x.name: x for x in r.rows}
    assert [x.name for x in r.rows] == ["stem", "block.conv1", "block.bn1", "block.relu", "block.conv2",
                                        "block.bn2", "block.add", "block.relu.1", "mean", "fc", "fc.1", "head"]
    assert (rows["stem"].macs, rows["stem"].params, rows["stem"].output_shape) == (55_296, 224, (8, 16, 16))
    assert rows["block.conv1"].macs == rows["block.conv2"].macs == 147_456
    assert (rows["block.add"].kind, rows["block.relu.1"].kind, rows["mean"].kind) == ("add", "activation", "pool")
    assert (rows["fc"].params, rows["fc.1"].params, rows["fc"].macs, rows["fc.1"].macs) == (72, 0, 64, 64)
    a = r.analysis()
    assert a.total.macs == 55_296 + 2 * 147_456 + 64 + 64 + 80
    assert a.total.params == sum(p.numel() for p in Tiny().parameters()) == 224 + 2 * (576 + 16) + 72 + 90
    assert r.uncounted == {}


class Unknown(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm = nn.LayerNorm(8)
        self.conv = nn.Conv2d(8, 8, (1, 3), padding=(0, 1))

    def forward(self, x):
        return self.conv(self.norm(x)).cumsum(-1)


def test_an_op_without_a_formula_is_listed_never_a_silent_zero():
    """The layer norm (16 params) and the 1x3 convolution (200) have formulas; cumsum has none: listed."""
    r = record(Unknown(), (1, 8, 4, 8))
    assert [(x.name, x.kind, x.params) for x in r.rows] == [("norm", "norm", 16), ("conv", "conv", 8 * 8 * 3 + 8)]
    assert r.uncounted == {"cumsum": {"calls": 1, "modules": [""], "params": 0}}


class HoldsParameter(nn.Module):
    def __init__(self):
        super().__init__()
        self.p = nn.Parameter(torch.zeros(8))

    def forward(self, x):
        return x + self.p.cumsum(0)


def test_an_op_without_a_formula_keeps_its_parameters_in_the_total():
    """cumsum (no formula) reads the model's 8 parameters: listed with them, and a row of kind
    'uncounted' holds them, so the parameter total is still sum(p.numel())."""
    r = record(HoldsParameter(), (1, 8))
    assert r.uncounted == {"cumsum": {"calls": 1, "modules": [""], "params": 8}}
    assert [(x.name, x.kind, x.params, x.macs) for x in r.rows if x.kind == "uncounted"] == [
        ("cumsum", "uncounted", 8, 0)]
    assert r.analysis().total.params == 8


class Broken(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = nn.Linear(4, 4)

    def forward(self, x):
        return self.inner(x.view(-1, 5))


def test_a_forward_that_raises_is_one_line_naming_the_module():
    with pytest.raises(RecordError) as e:
        record(Broken(), (1, 8))
    line = str(e.value)
    assert "\n" not in line and line.startswith("running the model on a fake input of shape 1x8 failed: ")


def test_nothing_is_computed_or_changed():
    """Fake tensors: no output values exist, the weights are untouched and the mode is restored."""
    net = Tiny().train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    record(net, (1, 3, 32, 32))
    assert net.training and all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_analyze_module_under_a_convention():
    """fvcore counts a batch norm's elements and the add; the analyzer's own count does not."""
    own = analyze_module(Tiny(), (1, 3, 32, 32))
    fv = analyze_module(Tiny(), (1, 3, 32, 32), convention="fvcore")
    assert own.convention == "pytorch" and fv.convention == "fvcore"
    assert own.total.macs == 55_296 + 2 * 147_456 + 64 + 64 + 80
    assert fv.total.macs > own.total.macs


MODEL_FILE = '''
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, padding=1)
        self.norm = nn.LayerNorm(16)
        self.fc = nn.Linear(16, classes)

    def forward(self, x):
        x = torch.relu(self.conv(x)).mean((2, 3))
        return self.fc(self.norm(x).cumsum(-1))


def make(classes=10):
    return Net(classes)


def not_a_module():
    return 42


def broken():
    net = Net()
    net.forward = lambda x: x.view(-1, 7)
    return net
'''


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "mymodel.py"
    path.write_text(MODEL_FILE)
    return path


def test_table_of_a_file_source_names_what_it_did_not_count(cli, model_file):
    """conv 3x3 3 -> 16 on 32x32: 9*3*16*1024 = 442,368 macs, 448 params; the layer norm 32 params;
    fc 16 -> 5: 80 macs, 85 params; cumsum has no formula here: listed, and --strict exits 1."""
    import json
    from support import schema_errors
    code, out, err = cli("table", f"{model_file}:make", "--input", "1x3x32x32", "--model-arg", "classes=5",
                         "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert not schema_errors(doc)
    assert doc["model"] == f"{model_file}:make" and doc["config"]["input"] == [1, 3, 32, 32]
    assert doc["total"] == {"params": 448 + 32 + 85, "macs": 442_368 + 80}
    assert doc["uncounted"] == [{"op": "cumsum", "calls": 1, "modules": [""], "params": 0}]
    code, out, err = cli("table", f"{model_file}:make", "--input", "1x3x32x32")
    assert code == 0 and "NOT COUNTED" in out and "cumsum x1 in (the model itself)" in out
    code, out, err = cli("table", f"{model_file}:make", "--input", "1x3x32x32", "--strict")
    assert code == 1


def test_a_module_source_built_on_the_meta_device_is_the_analytical_model(cli, monkeypatch):
    """flopcalc's own builder named as package.module:callable, its keyword arguments from --model-arg:
    built on the meta device (no weight memory), recorded, and equal to the analyzer's table."""
    import json
    code, out, err = cli("table", "flopcalc.nn:build", "--model-arg", "model='mobilenet_v2'",
                         "--model-arg", "alpha=0.5", "--format", "json")
    assert code == 0, err
    recorded = json.loads(out)
    code, out, err = cli("table", "mobilenet_v2", "--alpha", "0.5", "--format", "json")
    analytical = json.loads(out)
    assert recorded["layers"] == analytical["layers"] and recorded["total"] == analytical["total"]


BAD = [
    (["{file}:nope"], ["has no callable 'nope'"]),
    (["{file}:not_a_module"], ["returned int, not a torch.nn.Module"]),
    (["{file}:broken", "--input", "1x3x8x8"], ["running the model on a fake input of shape 1x3x8x8 failed",
                                               "RuntimeError"]),
    (["{tmp}/missing.py:make"], ["no file"]),
    (["flopcalc_no_such_package.models:make"], ["cannot import flopcalc_no_such_package.models"]),
    (["{file}:make", "--alpha", "0.5"], ["--alpha describes a zoo model or a spec file"]),
    (["{file}:make", "--input", "1x3x"], ["--input '1x3x'", "such as 1x3x224x224"]),
    (["{file}:make", "--model-arg", "=1"], ["--model-arg '=1'"]),
    (["mobilenet_v2", "--input", "1x3x32x32"], ["--input and --model-arg are for a recorded module"]),
    (["nope:"], ["give the callable after the colon"]),
]


@pytest.mark.parametrize("argv, words", BAD, ids=lambda v: " ".join(v) if isinstance(v[0], str) else "")
def test_bad_sources_are_one_line(cli, model_file, argv, words):
    argv = [a.format(file=model_file, tmp=model_file.parent) for a in argv]
    code, out, err = cli("table", *argv)
    assert code == 2 and err.count("\n") == 1 and out == "", err
    assert all(w in err for w in words), err


@pytest.mark.parametrize("package", ["torchvision", "timm"])
def test_a_source_of_a_package_not_installed_is_one_line(cli, package):
    import importlib.util
    if importlib.util.find_spec(package) is not None:
        pytest.skip(f"{package} is installed here")
    code, out, err = cli("table", f"{package}:resnet18")
    assert code == 2 and err.count("\n") == 1
    assert f"cannot import {package}" in err and f"pip install {package}" in err


def test_a_shared_module_counts_its_parameters_once_under_every_convention():
    """fc runs twice; its 72 parameters sit on its first row. Under every convention with a parameter
    count, no part is negative and flopcalc's own total is sum(p.numel())."""
    a = record(Tiny(), (1, 3, 32, 32)).analysis()
    for conv in CONVENTIONS.values():
        c = count(a, conv)
        for parts in c.parts:
            for p in (parts[0] or {}).values():
                assert p >= 0, conv.name
    assert count(a, CONVENTIONS["pytorch"]).total.params == sum(p.numel() for p in Tiny().parameters())


class Attention(nn.Module):
    def __init__(self, d: int, heads: int, fused: bool):
        super().__init__()
        self.heads, self.fused = heads, fused
        self.norm1, self.qkv, self.proj = nn.LayerNorm(d), nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.norm2, self.fc1, self.fc2 = nn.LayerNorm(d), nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).reshape(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        if self.fused:
            y = F.scaled_dot_product_attention(q, k, v)
        else:
            y = ((q @ k.transpose(-2, -1)) * (d // self.heads) ** -0.5).softmax(-1) @ v
        x = x + self.proj(y.transpose(1, 2).reshape(b, t, d))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


class ViT(nn.Module):
    """A vision transformer in miniature: 8x8 patches of a 32x32 image, a class token, one block."""

    def __init__(self, fused: bool, d: int = 32, heads: int = 4, patch: int = 8, size: int = 32):
        super().__init__()
        self.patch = nn.Conv2d(3, d, patch, stride=patch)
        self.cls = nn.Parameter(torch.zeros(1, 1, d))
        self.pos = nn.Parameter(torch.zeros(1, (size // patch) ** 2 + 1, d))
        self.block = Attention(d, heads, fused)
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, 10)

    def forward(self, x):
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], 1) + self.pos
        return self.head(self.norm(self.block(x))[:, 0])


@pytest.mark.parametrize("fused", [False, True], ids=["matmul", "sdpa"])
def test_a_vision_transformer_by_hand(fused):
    """17 tokens of 32 (16 patches and the class token), 4 heads of 8. patch 8x8/8 3 -> 32: 8*8*3*32*16
    = 98,304; qkv 17*32*96 = 52,224; Q K^T and A V 4*17*17*8 = 9,248 each (fused: one row of 18,496);
    proj 17*32*32 = 17,408; fc1 and fc2 17*32*128 = 69,632 each; head on the class token 320.
    Parameters: every one, the class token and the position table (32 + 544, on the add) included."""
    net = ViT(fused)
    r = record(net, (2, 3, 32, 32))
    assert r.uncounted == {}
    rows = {x.name: x for x in r.rows}
    assert rows["block.qkv"].output_shape == (17, 96) and rows["block.qkv"].macs == 52_224
    if fused:
        assert (rows["block.scaled_dot_product_attention"].kind,
                rows["block.scaled_dot_product_attention"].macs) == ("attention", 18_496)
    else:
        assert [x.macs for x in r.rows if x.kind == "matmul"] == [9_248, 9_248]
    assert rows["add"].params == 32 + 17 * 32
    a = r.analysis()
    per_image = 98_304 + 52_224 + 2 * 9_248 + 17_408 + 2 * 69_632 + 320
    assert a.total.macs == 2 * per_image
    assert a.total.params == sum(p.numel() for p in net.parameters())


def test_convolutions_beyond_the_family_by_hand():
    """1x7 8 -> 16 on 10x12 (padding 0, 3): 7*8*16*120 = 107,520 macs, 896 + 16 params. Transposed 4x4/2
    16 -> 8 (padding 1): 20x24 out, each input position spread: 16*16*8*120 = 245,760 macs, 2,048 + 8
    params. 3x3 "same" with dilation 2: the family's Conv2d, 9*8*8*480 = 276,480. 3-D 3x3x3 2 -> 4 on
    4x8x8 (padding 1): 27*2*4*256 = 55,296, 216 + 4 params. 1-D 5/2 2 -> 4 on 20: 8 out, 5*2*4*8 = 320."""
    m = nn.Sequential(nn.Conv2d(8, 16, (1, 7), padding=(0, 3)), nn.ConvTranspose2d(16, 8, 4, stride=2, padding=1),
                      nn.Conv2d(8, 8, 3, padding="same", dilation=2))
    got = [(x.kind, type(x.spec).__name__, x.output_shape, x.params, x.macs) for x in record(m, (1, 8, 10, 12)).rows]
    assert got == [("conv", "ConvNd", (16, 10, 12), 912, 107_520), ("conv", "ConvNd", (8, 20, 24), 2_056, 245_760),
                   ("conv", "Conv2d", (8, 20, 24), 584, 276_480)]
    (r,) = record(nn.Conv3d(2, 4, 3, padding=1), (1, 2, 4, 8, 8)).rows
    assert (r.output_shape, r.params, r.macs) == ((4, 4, 8, 8), 220, 55_296)
    (r,) = record(nn.Conv1d(2, 4, 5, stride=2), (1, 2, 20)).rows
    assert (r.output_shape, r.params, r.macs) == ((4, 8), 44, 320)
    # padding "same" with an even kernel pads unevenly: no formula here (a trace calls it _convolution_mode)
    assert record(nn.Conv2d(2, 2, 2, padding="same"), (1, 2, 5, 5)).uncounted["_convolution_mode"]["calls"] == 1


def _live_flop_counter(m: nn.Module, shape) -> int:
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        m.eval()(torch.randn(shape))
    return counter.get_total_flops()


LIVE = {
    "tiny": (Tiny, (2, 3, 32, 32)),
    "vit_matmul": (lambda: ViT(False), (2, 3, 32, 32)),
    "vit_sdpa": (lambda: ViT(True), (2, 3, 32, 32)),
    "convolutions": (lambda: nn.Sequential(nn.Conv2d(8, 16, (1, 7), padding=(0, 3)),
                                           nn.ConvTranspose2d(16, 8, 4, stride=2, padding=1),
                                           nn.Conv2d(8, 8, 3, padding="same", dilation=2)), (2, 8, 10, 12)),
    "mobilenet_v3_small": (lambda: build("mobilenet_v3_small", 0.5, 10), (2, 3, 64, 64)),
}


@pytest.mark.parametrize("name", LIVE)
def test_the_flop_counter_convention_is_flop_counter_modes_live_total(name):
    """torch's FlopCounterMode run for real on models written here: the flop_counter convention over
    the recorded rows prints exactly its total, the attention it cannot see on CPU included."""
    make, shape = LIVE[name]
    a = analyze_module(make(), shape, convention="flop_counter")
    assert a.total.macs * CONVENTIONS["flop_counter"].flops_per_mac == _live_flop_counter(make(), shape)


@pytest.mark.parametrize("name", [n for n in LIVE if n != "convolutions"])
def test_the_fvcore_convention_is_fvcores_live_total(name):
    """fvcore's FlopCountAnalysis run for real: the fvcore convention over the recorded rows prints exactly
    its total: its layer-norm handle (5 per element), the attention and x.mean((2, 3)) it does not support
    (0) included. Left out here: a convolution with padding="same", which fvcore sees as an op it does not
    support (aten::_convolution_mode) while flopcalc records an ordinary convolution."""
    import logging
    import warnings
    from fvcore.nn import FlopCountAnalysis
    make, shape = LIVE[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.disable(logging.WARNING)
        try:
            live = FlopCountAnalysis(make().eval(), torch.randn(shape))
            live.unsupported_ops_warnings(False)
            total = live.total()
        finally:
            logging.disable(logging.NOTSET)
    assert analyze_module(make(), shape, convention="fvcore").total.macs == total


def test_reconcile_of_a_recorded_model_adds_up_by_cause(cli):
    """examples/tiny_resnet.py at its default width 16 (64x64 input): its layer norm over 32 values has
    64 weights the paper convention leaves out, and fvcore charges it 5 per element (160); every
    line's reasons add up exactly to its difference, in JSON as in the tables."""
    import json
    from support import ROOT, schema_errors
    code, out, err = cli("reconcile", str(ROOT / "examples" / "tiny_resnet.py") + ":make", "--input", "1x3x64x64",
                         "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert not schema_errors(doc)
    lines = {c["name"]: c for c in doc["conventions"]}
    base = lines["pytorch"]
    for c in doc["conventions"]:
        if c["params_difference"] is not None:
            assert sum(c["params_difference"].values()) == c["params"] - base["params"], c["name"]
        if c["ops_difference"] is not None:
            assert sum(c["ops_difference"].values()) == c["reported"] - base["reported"], c["name"]
    assert lines["paper"]["params_difference"]["weights"] == -64
    assert lines["fvcore"]["ops_difference"]["norm"] == 5 * 32
    for argv, words in ((["--alpha", "2"], "--alpha describes a zoo model"),):
        code, out, err = cli("reconcile", str(ROOT / "examples" / "tiny_resnet.py") + ":make", *argv)
        assert code == 2 and words in err, err
    code, out, err = cli("reconcile", "mobilenet_v2", "--input", "1x3x8x8")
    assert code == 2 and "are for a recorded module" in err


def test_reconcile_live_runs_the_tools_on_the_recorded_module(cli):
    """--live on a module source: each installed tool run for real on the module; fvcore's and
    FlopCounterMode's totals are the conventions' predictions exactly (the hook-based tools may
    differ on modules like this one: the run then exits 1 and says DIFFERS beside them)."""
    import json
    from support import ROOT
    code, out, err = cli("reconcile", str(ROOT / "examples" / "tiny_resnet.py") + ":make", "--input", "1x3x64x64",
                         "--model-arg", "width=8", "--live", "--format", "json")
    assert code in (0, 1), err
    lines = {c["name"]: c for c in json.loads(out)["conventions"]}
    assert lines["fvcore"]["live"] == {"params": lines["fvcore"]["params"], "reported": lines["fvcore"]["reported"],
                                       "ok": True}
    assert lines["flop_counter"]["live"]["reported"] == lines["flop_counter"]["reported"] == 5_554_496
    # an ONNX file is read, not run: --live runs the tools that read files (onnx-tool), the others n/a
    code, out, err = cli("reconcile", str(ROOT / "examples" / "tiny_resnet.onnx"), "--live", "--format", "json")
    assert code == 0, err
    lines = {c["name"]: c for c in json.loads(out)["conventions"]}
    assert lines["fvcore"]["live"] is None and lines["onnx_tool"]["live"]["ok"] in (True,)


def test_einsum_and_interpolation_by_hand():
    """einsum("bchw,bc->bhw") of a 4x6x8 map and a 4-vector: 4*6*8 = 192 multiply-adds an image;
    interpolation to 12x16 and to 5x7: rows of their own, no multiply-adds, the new sizes."""
    class M(nn.Module):
        def forward(self, x):
            y = torch.einsum("bchw,bc->bhw", x, x.mean((2, 3)))
            return y, F.interpolate(x, scale_factor=2), F.interpolate(x, size=(5, 7), mode="bilinear")

    r = record(M(), (2, 4, 6, 8))
    got = [(x.name, x.kind, x.output_shape, x.macs) for x in r.rows]
    assert got == [("mean", "pool", (4,), 0), ("einsum", "matmul", (6, 8), 192),
                   ("upsample_nearest2d", "resize", (4, 12, 16), 0), ("upsample_bilinear2d", "resize", (4, 5, 7), 0)]
    assert r.uncounted == {} and r.analysis().total.macs == 2 * 192
    assert _live_flop_counter(M(), (2, 4, 6, 8)) == 2 * 2 * 192  # FlopCounterMode: 2 flops per multiply-add


@pytest.mark.parametrize("source", ["examples/tiny_resnet.py:make", "examples/tiny_resnet.onnx"])
@pytest.mark.parametrize("depth", [1, 2])
def test_depth_sums_a_recorded_model_by_module_names(cli, source, depth, monkeypatch):
    """--depth on a recorded model (it has no spec tree): rows summed by the first parts of their names,
    which still add up to the total; the stem and the blocks are rows of their own at depth 1."""
    import json
    from support import ROOT
    monkeypatch.chdir(ROOT)
    code, out, err = cli("table", source, "--input", "1x3x64x64", "--depth", str(depth), "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert sum(r["macs"] for r in doc["layers"]) == doc["total"]["macs"]
    assert sum(r["params"] for r in doc["layers"]) == doc["total"]["params"]
    if source.endswith(".py:make") and depth == 1:
        assert [r["name"] for r in doc["layers"]][:2] == ["stem", "blocks"]
