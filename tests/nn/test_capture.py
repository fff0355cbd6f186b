"""Every peer tool, run live on models written here (none of them flopcalc's), prints exactly what its
convention predicts over the recorded rows: the module hooks (thop, torchinfo, ptflops), the functions
replaced by name (ptflops, calflops: ``F.relu`` inside ``nn.ReLU`` counted twice, ``x + y`` not at all,
``x.add(y)`` yes), the ATen operations (fvcore, FlopCounterMode, ptflops' aten backend, torchprofile)
and the parameters each counts. The expected numbers are the tools' own live totals; nothing here is
hard-coded. Skipped per tool when it is not installed (CI installs flopcalc[peers]).

The same check over every torchvision classification model is tools/model_counts.py, whose tables
are reports/torchvision_counts.md and reports/timm_counts.md."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from flopcalc.conventions import CONVENTIONS
from flopcalc.nn import peers
from flopcalc.nn.record import analyze_module, record

HERE = peers.available()


class ResNetLike(nn.Module):
    """A stem with a ceil-mode max pool, a block with ``+=`` and ``torch.add`` and ``x.add``, ReLU as a
    module and as F.relu, an adaptive average pool module and a classifier."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 7, 2, 3, bias=False), nn.BatchNorm2d(16), nn.ReLU(inplace=True),
                                  nn.MaxPool2d(3, 2, ceil_mode=True))
        self.conv1 = nn.Conv2d(16, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 16, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(16, affine=False)
        self.relu = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = self.stem(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        y += x
        y = F.relu(torch.add(y, x))
        y = y.add(x)
        return self.fc(torch.flatten(self.pool(y), 1))


class ViTLike(nn.Module):
    """Patches, a class token and position embedding (parameters of the model itself), nn.LayerNorm,
    nn.MultiheadAttention (batch first), nn.GELU, a hand-written attention with torch.matmul, F.softmax
    and ``@``, and a token mean."""

    def __init__(self, dim=32, heads=4):
        super().__init__()
        self.patch = nn.Conv2d(3, dim, 8, 8)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.zeros(1, 17, dim))
        self.ln1 = nn.LayerNorm(dim)
        self.mha = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.ln2 = nn.LayerNorm(dim, elementwise_affine=False)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
        self.head = nn.Linear(dim, 10)
        self.heads = heads

    def forward(self, x):
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], 1) + self.pos
        h = self.ln1(x)
        x = x + self.mha(h, h, h, need_weights=False)[0]
        b, n, c = x.shape
        q, k, v = self.qkv(self.ln2(x)).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        attn = F.softmax(torch.matmul(q, k.transpose(-2, -1)) * (c // self.heads) ** -0.5, dim=-1)
        x = x + (attn @ v).transpose(1, 2).reshape(b, n, c)
        x = x + self.mlp(x)
        return self.head(x.mean(1))


class ConvNeXtLike(nn.Module):
    """A depthwise 7x7, channels-last layer norm, an MLP of nn.Linear, a layer scale (``gamma * x``) and
    an upsampling module."""

    def __init__(self, dim=16):
        super().__init__()
        self.stem = nn.Conv2d(3, dim, 4, 4)
        self.dw = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pw1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.pw2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(torch.ones(dim))
        self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.head = nn.Linear(dim, 10)

    def forward(self, x):
        x = self.stem(x)
        y = self.norm(self.dw(x).permute(0, 2, 3, 1))
        y = self.gamma * self.pw2(self.act(self.pw1(y)))
        x = x + y.permute(0, 3, 1, 2)
        x = self.up(x)
        return self.head(F.adaptive_avg_pool2d(x, 1).flatten(1))


class EfficientNetLike(nn.Module):
    """SiLU and Hardswish modules, squeeze-and-excitation (an adaptive pool module, two convs, a
    sigmoid and a product), a grouped conv, a group norm and an average pool."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.SiLU())
        self.grouped = nn.Conv2d(16, 32, 3, padding=1, groups=4)
        self.gn = nn.GroupNorm(4, 32)
        self.hs = nn.Hardswish()
        self.se = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(32, 8, 1), nn.ReLU(), nn.Conv2d(8, 32, 1),
                                nn.Sigmoid())
        self.avg = nn.AvgPool2d(2)
        self.head = nn.Linear(32 * 4 * 4, 10)

    def forward(self, x):
        x = self.hs(self.gn(self.grouped(self.stem(x))))
        x = x * self.se(x)
        return self.head(self.avg(x).flatten(1))


class Shared(nn.Module):
    """One nn.Linear called three times, and a functional-only path: F.conv2d and F.linear on the
    model's own parameters, F.interpolate, F.avg_pool2d, torch.mul."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(8, 3, 3, 3))
        self.fc_w = nn.Parameter(torch.zeros(16, 8 * 4 * 4))
        self.block = nn.Linear(16, 16)

    def forward(self, x):
        x = F.relu(F.conv2d(x, self.w, padding=1))
        x = F.interpolate(x, scale_factor=0.5, mode="bilinear", align_corners=False)
        x = torch.mul(F.avg_pool2d(x, 2), 2.0)
        x = F.linear(x.flatten(1), self.fc_w)
        for _ in range(3):
            x = self.block(x)
        return x


class WindowsLike(nn.Module):
    """Window attention written on sizes, as Swin's and MaxViT's are: products of sizes that reach a
    reshape or a slice (a torch.jit trace records each as an ``aten::mul``, which torchprofile charges 1
    per run), one through ``x.numel()``, and one that only steers Python (a comparison), which a trace
    drops as dead code; MViTv2's ``(k - 1) * ratio`` with a float ratio of sizes, a product in a trace,
    and MobileViT's ``math.ceil(H / p) * p``, not one (a trace's size becomes a number in ``math.ceil``)."""

    def __init__(self, dim=16, window=4, heads=2):
        super().__init__()
        self.embed = nn.Conv2d(3, dim, 2, 2)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.head = nn.Linear(dim, 10)
        self.window, self.heads = window, heads

    def forward(self, x):
        x = F.pad(x, (0, 0, 0, math.ceil(x.shape[-2] / 2) * 2 - x.shape[-2]))  # MobileViT's rounding: 0
        x = self.embed(x).permute(0, 2, 3, 1)
        B, H, W, C = x.shape
        x = x * ((H - 1) * max(H / W, 1.0) / max(H - 1, 1))  # 1.0, by a product of sizes and a float
        P = self.window
        windows = (H // P) * (W // P)
        if H * W < P * P:
            raise ValueError("smaller than a window")
        x = x.reshape(B, H // P, P, W // P, P, C).permute(0, 1, 3, 2, 4, 5).reshape(B * windows, P * P, C)
        qkv = self.qkv(x).reshape(x.size(0), x.size(1), 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        attn = (qkv[0] @ qkv[1].transpose(-2, -1)).softmax(-1)
        x = self.proj((attn @ qkv[2]).transpose(1, 2).reshape(B * windows, P * P, C))
        x = x.reshape(B, x.numel() // (B * C), C)[:, : 2 * P]
        return self.head(x.mean(1))


class TimmLike(nn.Module):
    """What timm's families run that torchvision's do not: a convolution with padding "same" (a trace
    records aten::_convolution_mode, which fvcore and torchprofile have no handle for), a weight
    standardized by F.batch_norm in training mode (NF-Net: fvcore charges it as a norm, once per run
    whatever the batch), a convolution per head over B * heads maps (MViT's pooling), attention over
    B * windows, with and without a bias of 3 dimensions (TinyViT's: torch runs it as two bmm then,
    which the dispatch-level tools count) or of 4 computed from parameters (BEiT's: two bmm in a run
    with gradients, as ptflops' aten backend runs it), BatchNorm1d over tokens and over B * L rows
    (LeViT), a class token joined after the position embedding and read first by a LayerNorm (DeiT III:
    thop counts a module's own parameters, not the token), addcmul with parameters (ConvNeXt V2's GRN),
    leaky ReLU in place and not (CSPNet's: torchprofile has a handler for the second only), and an
    activation over B * windows (MobileViT's MLP: ptflops charges F.silu every element of the windows),
    and tokens viewed as a map for a depthwise convolution and back (PVTv2's MLP: at a batch of 1 the
    convolution's output is not channels last, by the strides torch gives a view's dimension of size 1,
    so the next linear's input is not contiguous and ptflops' aten backend sees no bias)."""

    def __init__(self, dim=16, heads=2):
        super().__init__()
        self.stem = nn.Conv2d(3, dim, 4, 4)
        self.same = nn.Conv2d(dim, dim, 3, padding="same", groups=dim)
        self.act = nn.LeakyReLU(0.1, inplace=True)  # in place: torchprofile has no handler for it
        self.std_w = nn.Parameter(torch.randn(dim, dim, 1, 1))
        self.gain = nn.Parameter(torch.ones(dim))
        self.pool = nn.Conv2d(dim // heads, dim // heads, 3, 2, 1, groups=dim // heads, bias=False)
        self.gamma = nn.Parameter(torch.zeros(1, 1, 1, dim))
        self.beta = nn.Parameter(torch.zeros(1, 1, 1, dim))
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.zeros(1, 16, dim))
        self.norm = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.rel = nn.Parameter(torch.zeros(heads, 4, 4))  # a relative-position bias per head
        self.table = nn.Parameter(torch.zeros(7, heads))  # BEiT's: a table indexed by relative position
        self.register_buffer("index", (torch.arange(4)[:, None] - torch.arange(4)[None, :] + 3).flatten())
        self.fc1, self.fc2 = nn.Linear(dim, 2 * dim), nn.Linear(2 * dim, dim)
        self.dw = nn.Conv2d(2 * dim, 2 * dim, 3, 1, 1, groups=2 * dim)
        self.bn_tokens = nn.BatchNorm1d(dim)
        self.bn_rows = nn.BatchNorm1d(dim)
        self.bn_vec = nn.BatchNorm1d(dim)
        self.head = nn.Linear(dim, 10)
        self.heads = heads

    def forward(self, x):
        x = F.leaky_relu(self.act(self.same(self.stem(x))), 0.2)  # (B, C, 8, 8)
        w = F.batch_norm(self.std_w.reshape(1, self.std_w.shape[0], -1), None, None, weight=self.gain,
                         training=True, momentum=0.0).reshape_as(self.std_w)
        x = F.conv2d(x, w)
        B, C, H, W = x.shape
        p = self.pool(x.reshape(B * self.heads, C // self.heads, H, W))  # per head: (B * heads, C / heads, 4, 4)
        x = p.reshape(B, C, H // 2, W // 2).permute(0, 2, 3, 1)  # (B, 4, 4, C)
        x = torch.addcmul(self.beta, self.gamma, x) + x
        t = x.reshape(B, -1, C) + self.pos
        t = self.norm(torch.cat([self.cls.expand(B, -1, -1), t], 1))  # (B, 17, C)
        win = F.silu(t[:, 1:].reshape(B * 4, 4, C))  # 4 windows of 4 tokens, an activation over all (MobileViT's)
        q, k, v = self.qkv(win).reshape(B * 4, 4, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(B, 16, C)
        a = a + F.scaled_dot_product_attention(q, k, v, attn_mask=self.rel).transpose(1, 2).reshape(B, 16, C)
        bias = self.table[self.index].reshape(4, 4, -1).permute(2, 0, 1).unsqueeze(0)  # (1, heads, 4, 4)
        a = a + F.scaled_dot_product_attention(q, k, v, attn_mask=bias).transpose(1, 2).reshape(B, 16, C)
        m = self.dw(self.fc1(a).transpose(1, 2).view(B, 2 * C, 4, 4)).flatten(2).transpose(1, 2)  # PVTv2's MLP
        a = a + self.fc2(F.gelu(m))
        a = self.bn_tokens(a.transpose(1, 2)).transpose(1, 2)  # over (B, C, L)
        a = self.bn_rows(a.reshape(B * 16, C)).reshape(B, 16, C)  # over B * L rows of C (LeViT's)
        return self.head(self.bn_vec(a.mean(1) + t[:, 0]))  # over (B, C)


class SequencerLike(nn.Module):
    """Recurrent layers over a map's rows and columns (timm's Sequencer2d): a bidirectional LSTM over the
    B * H rows, batch first (torch runs it as one oneDNN kernel on the CPU), a two-layer GRU over the W
    columns, steps first, and a ReLU RNN (torch runs both as linear products, per step)."""

    def __init__(self, dim=8, hidden=6):
        super().__init__()
        self.stem = nn.Conv2d(3, dim, 4, 4)
        self.rows = nn.LSTM(dim, hidden, batch_first=True, bidirectional=True)
        self.cols = nn.GRU(2 * hidden, hidden, num_layers=2, bidirectional=True)
        self.rnn = nn.RNN(2 * hidden, hidden, nonlinearity="relu", batch_first=True)
        self.head = nn.Linear(hidden, 10)

    def forward(self, x):
        x = self.stem(x).permute(0, 2, 3, 1)  # (B, H, W, C)
        B, H, W, C = x.shape
        r, _ = self.rows(x.reshape(B * H, W, C))  # B * H sequences of W steps
        c, _ = self.cols(r.reshape(B, H, W, -1).permute(1, 0, 2, 3).reshape(H, B * W, -1))  # H steps
        y, _ = self.rnn(c.reshape(H, B, W, -1).permute(1, 0, 2, 3).reshape(B, H * W, -1))
        return self.head(y.mean(1))


MODELS = {"resnet_like": (ResNetLike, (1, 3, 64, 64)), "vit_like": (ViTLike, (1, 3, 32, 32)),
          "convnext_like": (ConvNeXtLike, (1, 3, 32, 32)), "efficientnet_like": (EfficientNetLike, (1, 3, 16, 16)),
          "shared": (Shared, (1, 3, 16, 16)), "windows_like": (WindowsLike, (1, 3, 32, 32)),
          # a batch: ptflops averages its module hooks' counts over the images but not its functions';
          # torch's linear folds a bias into the product only for a contiguous input (ptflops' aten)
          "windows_like_batch_2": (WindowsLike, (2, 3, 16, 32)), "vit_like_batch_3": (ViTLike, (3, 3, 32, 32)),
          "resnet_like_batch_2": (ResNetLike, (2, 3, 64, 64)), "timm_like": (TimmLike, (1, 3, 32, 32)),
          "timm_like_batch_2": (TimmLike, (2, 3, 32, 32)), "sequencer_like": (SequencerLike, (1, 3, 16, 24)),
          "sequencer_like_batch_2": (SequencerLike, (2, 3, 16, 24))}
LIVE = [c for c in CONVENTIONS.values() if c.live in peers.MODULE_TOOLS]


@pytest.mark.peers
@pytest.mark.parametrize("conv", LIVE, ids=lambda c: c.name)
@pytest.mark.parametrize("name", MODELS)
def test_every_tool_prints_its_conventions_total_on_models_nobody_wrote_for_it(conv, name):
    if not HERE[conv.live]:
        pytest.skip(f"{conv.live} is not installed")
    make, shape = MODELS[name]
    torch.manual_seed(0)
    params, ops = peers.measure_module(conv.live, make, shape)
    a = analyze_module(make(), shape, convention=conv.name)
    assert a.uncounted == {}
    assert params == a.total.params
    assert ops == (None if a.total.macs is None else a.total.macs * conv.flops_per_mac)


def test_what_each_mechanism_sees_is_recorded():
    """The origin of each row: the module's class, the torch function called, and whether a Python
    operator reached it (x + y runs Tensor.add, which ptflops and calflops replace by name and so never
    see through the operator)."""
    rows = {r.name: r for r in record(ResNetLike(), (1, 3, 64, 64)).rows}
    assert rows["stem.2"].origin.type == "torch.nn.modules.activation.ReLU"
    assert rows["stem.2"].origin.api == "torch.nn.functional.relu"
    adds = [r for r in rows.values() if r.kind in ("add", "elementwise")]
    assert [(r.origin.api, r.origin.operator) for r in adds] == [
        ("torch.Tensor.add_", False), ("torch.add", False), ("torch.Tensor.add", False)]
    vit = record(ViTLike(), (1, 3, 32, 32)).rows
    ops = [(r.origin.api, r.origin.operator) for r in vit if r.kind == "matmul"]
    assert ops == [("torch.matmul", False), ("torch.Tensor.matmul", True)]
    # inside F.multi_head_attention_forward the projections go through F.linear, by name
    assert {r.origin.api for r in vit if r.origin.type.endswith("MultiheadAttention") and r.kind == "linear"} == {
        "torch.nn.functional.linear"}


@pytest.mark.parametrize("name", MODELS)
def test_a_module_on_the_meta_device_records_as_its_real_twin(name):
    """A module built on the meta device runs on meta inputs (no fake tensors); one with real weights
    on fake tensors: the same rows, origins, lifetimes and uncounted operations."""
    make, shape = MODELS[name]
    with torch.device("meta"):
        meta = record(make(), shape)
    real = record(make(), shape)

    def rows(r):
        return [(x.name, x.kind, x.spec, x.input_shape, x.output_shape, x.params, x.macs, x.origin) for x in r.rows]
    assert rows(meta) == rows(real) and meta.alive == real.alive and meta.uncounted == real.uncounted


def test_products_of_sizes_are_counted_where_they_reach_an_operation():
    """WindowsLike's forward, counted by hand: ``(H - 1) * ratio`` (a float, 1, reaching the mul), ``(H //
    P) * (W // P)`` and ``B * windows`` reach the first reshape, ``B * windows`` again the second, ``B * C``
    the last through ``x.numel() // (B * C)``; ``math.ceil(H / 2) * 2`` is of a plain int, ``H * W`` only
    meets a comparison and ``2 * P`` is of plain integers. So 5, on the rows of the operations fed."""
    rows = record(WindowsLike(), (1, 3, 32, 32)).rows
    assert sum(r.origin.size_products for r in rows) == 5
    assert [(r.name, r.origin.size_products) for r in rows if r.origin.size_products] == [
        ("mul", 1), ("qkv", 2), ("proj", 1), ("mean", 1)]  # a free operation's go to the next row
    assert all(isinstance(d, int) and type(d) is int for r in rows for d in r.output_shape + r.origin.module_input)


def test_parameters_the_forward_never_uses_are_a_row_of_their_own():
    """An auxiliary head that eval mode skips (GoogLeNet's): its parameters are one row, so the
    parameter total is sum(p.numel()); thop, which counts only the modules it saw run, leaves it out."""

    class Aux(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Conv2d(3, 4, 3)
            self.aux = nn.Sequential(nn.Conv2d(4, 4, 1), nn.Linear(4, 2))

        def forward(self, x):
            return self.body(x)

    m = Aux()
    a = analyze_module(m, (1, 3, 8, 8))
    unused = [r for r in a.layers if r.kind == "unused"]
    assert [(r.name, r.params) for r in unused] == [("aux (not run)", 4 * 4 + 4 + 4 * 2 + 2)]
    assert a.total.params == sum(p.numel() for p in m.parameters())
    assert analyze_module(m, (1, 3, 8, 8), convention="thop").total.params == 4 * 3 * 9 + 4


@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU, nn.RNN])
@pytest.mark.parametrize("layers,bidirectional,bias", [(1, False, True), (2, True, True), (3, True, False)])
def test_a_recurrent_formulas_parameters_are_torchs(cls, layers, bidirectional, bias):
    """The formula's parameters (gates * H * (I + H + 2 biases) per layer and direction) against what
    torch allocates; the multiply-adds are checked against the tools live (SequencerLike)."""
    from flopcalc.costs import layer_cost
    m = cls(5, 7, num_layers=layers, bidirectional=bidirectional, bias=bias, batch_first=True)
    row, = record(m, (2, 3, 5)).rows
    assert row.kind == "recurrent" and row.output_shape == (3, 7 * (2 if bidirectional else 1))
    assert row.params == layer_cost(row.spec, row.input_shape).params == sum(p.numel() for p in m.parameters())


def test_recurrent_layers_without_a_formula_are_listed():
    """An LSTM with projections and the cells are listed with their parameters, never a silent zero."""
    class Cells(nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = nn.LSTM(4, 6, proj_size=3, batch_first=True)
            self.cell = nn.LSTMCell(3, 5)

        def forward(self, x):
            y, _ = self.proj(x)
            return self.cell(y[:, -1])[0]
    m = Cells()
    r = record(m, (1, 2, 4))
    assert set(r.uncounted) == {"lstm", "lstm_cell"}
    assert sum(row.params for row in r.rows) == sum(p.numel() for p in m.parameters())
