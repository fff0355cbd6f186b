"""The model zoo: MobileNet V1, V2 and V3, EfficientNet B0-B7 and MnasNet written once, as the papers' tables.

Each model is a :class:`~flopcalc.family.Family` (stem, stage rows in the paper's notation,
head); :func:`get_spec` builds the concrete :class:`~flopcalc.spec.Network` for a width
multiplier, a class count and a channel rule. Resolution is not part of a spec (parameters do
not depend on it): it is the input shape the analyzer walks with. A spec file
(:mod:`flopcalc.specfile`) is a Family too, and goes through the same :func:`get_spec`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

from .family import DEFAULT_RULE, MAX_DEPTH, SE, Family, Head, Stage, Stem, WidthRule, build_network
from .scaling import DEFAULT_RESOLUTION, make_divisible
from .spec import Act, Network, Norm, SpecError, check_number

DEFAULT_CLASSES = 1000
__all__ = ["DEFAULT_CLASSES", "DEFAULT_RESOLUTION", "MODELS", "get_spec", "family_of"]

RE, R6, HS = Act.RELU, Act.RELU6, Act.HARDSWISH

# MobileNets (Howard et al. 2017), Table 1: a full 3x3 conv at stride 2 to 32 channels, then
# depthwise-separable blocks (c: pointwise output channels, n: repeats, s: depthwise stride).
# The table prints s2 for the last depthwise layer; that is a misprint: the reference
# implementation and every published count use s1 (7x7 stays 7x7).
MOBILENET_V1 = Family(
    "mobilenet_v1", Stem(32, 3, 2, RE),
    tuple(Stage("depthwise_separable", c, n, s, act=RE) for c, n, s in (
        # c,   n, s     input size at 224
        (64, 1, 1),     # 112
        (128, 1, 2),    # 112
        (128, 1, 1),    # 56
        (256, 1, 2),    # 56
        (256, 1, 1),    # 28
        (512, 1, 2),    # 28
        (512, 5, 1),    # 14
        (1024, 1, 2),   # 14
        (1024, 1, 1),   # 7
    )),
    Head(dropout=0.001),  # TF-Slim's reference implementation keeps 0.999
    "MobileNet V1", "Howard et al. 2017, MobileNets, Table 1")

# MobileNetV2 (Sandler et al. 2018), Table 2: stem conv 3x3/2 to 32, bottleneck stages
# (t: expansion, c, n, s), then a 1x1 conv to 1280 channels, scaled only for alpha > 1.
MOBILENET_V2 = Family(
    "mobilenet_v2", Stem(32, 3, 2, R6),
    tuple(Stage("inverted_residual", c, n, s, t=t, act=R6) for t, c, n, s in (
        # t, c,   n, s    input size at 224
        (1, 16, 1, 1),    # 112
        (6, 24, 2, 2),    # 112
        (6, 32, 3, 2),    # 56
        (6, 64, 4, 2),    # 28
        (6, 96, 3, 1),    # 14
        (6, 160, 3, 2),   # 14
        (6, 320, 1, 1),   # 7
    )),
    Head(conv=1280, conv_scale="up", conv_act=R6, dropout=0.2),  # dropout as torchvision
    "MobileNet V2", "Sandler et al. 2018, MobileNetV2, Table 2")

# Searching for MobileNetV3 (Howard et al. 2019), Tables 1 and 2: bneck rows as
# (k, exp size, #out, SE, NL, s), as torchvision 0.29 builds them; the last 1x1 conv has six
# times its input's channels, then pooling, a fully connected layer (1280 / 1024, scaled with
# alpha), hard-swish, dropout 0.2 and the classifier. Batch norm eps 0.001, momentum 0.01.
V3_NORM = Norm(eps=0.001, momentum=0.01)
V3_SE = SE(reduction=4, of="expanded", divisor=8, act=RE, gate=Act.HARDSIGMOID)


def _v3_rows(rows) -> tuple[Stage, ...]:
    return tuple(Stage("mbconv", c, 1, s, k, exp=exp, se=se, act=act) for k, exp, c, se, act, s in rows)


MOBILENET_V3_LARGE = Family(
    "mobilenet_v3_large", Stem(16, 3, 2, HS),
    _v3_rows((
        # k, exp,  c,   SE,    NL, s     input size at 224
        (3, 16, 16, False, RE, 1),     # 112
        (3, 64, 24, False, RE, 2),     # 112
        (3, 72, 24, False, RE, 1),     # 56
        (5, 72, 40, True, RE, 2),      # 56
        (5, 120, 40, True, RE, 1),     # 28
        (5, 120, 40, True, RE, 1),     # 28
        (3, 240, 80, False, HS, 2),    # 28
        (3, 200, 80, False, HS, 1),    # 14
        (3, 184, 80, False, HS, 1),    # 14
        (3, 184, 80, False, HS, 1),    # 14
        (3, 480, 112, True, HS, 1),    # 14
        (3, 672, 112, True, HS, 1),    # 14
        (5, 672, 160, True, HS, 2),    # 14
        (5, 960, 160, True, HS, 1),    # 7
        (5, 960, 160, True, HS, 1),    # 7
    )),
    Head(conv_expand=6, conv_act=HS, hidden=1280, hidden_scale="always", hidden_act=HS, dropout=0.2),
    "MobileNet V3 Large", "Howard et al. 2019, Searching for MobileNetV3, Table 1", se=V3_SE, norm=V3_NORM)

MOBILENET_V3_SMALL = Family(
    "mobilenet_v3_small", Stem(16, 3, 2, HS),
    _v3_rows((
        # k, exp, c,   SE,    NL, s     input size at 224
        (3, 16, 16, True, RE, 2),     # 112
        (3, 72, 24, False, RE, 2),    # 56
        (3, 88, 24, False, RE, 1),    # 28
        (5, 96, 40, True, HS, 2),     # 28
        (5, 240, 40, True, HS, 1),    # 14
        (5, 240, 40, True, HS, 1),    # 14
        (5, 120, 48, True, HS, 1),    # 14
        (5, 144, 48, True, HS, 1),    # 14
        (5, 288, 96, True, HS, 2),    # 14
        (5, 576, 96, True, HS, 1),    # 7
        (5, 576, 96, True, HS, 1),    # 7
    )),
    Head(conv_expand=6, conv_act=HS, hidden=1024, hidden_scale="always", hidden_act=HS, dropout=0.2),
    "MobileNet V3 Small", "Howard et al. 2019, Searching for MobileNetV3, Table 2", se=V3_SE, norm=V3_NORM)


# EfficientNet (Tan & Le 2019), Table 1: B0, MBConv stages (t: expansion, k, c, n, s) with
# squeeze-and-excitation on every block (squeeze = block input // 4, SiLU, a sigmoid gate), SiLU
# everywhere, expanded widths make_divisible(input * t, 8), the last 1x1 conv 4x its input. B1-B7
# scale it by compound scaling (section 3.3): width and depth multipliers and a resolution per variant,
# with repeats ceil(n * depth); dropout and batch norm as torchvision builds each (B5-B7 from TF ports:
# eps 0.001, momentum 0.01). Stochastic depth has no parameters and is the identity at inference.
SI = Act.SILU
EFFICIENTNET_B0 = Family(
    "efficientnet_b0", Stem(32, 3, 2, SI),
    tuple(Stage("mbconv", c, n, s, k, t=t, se=True, act=SI) for t, k, c, n, s in (
        # t, k, c,   n, s    input size at 224
        (1, 3, 16, 1, 1),    # 112
        (6, 3, 24, 2, 2),    # 112
        (6, 5, 40, 2, 2),    # 56
        (6, 3, 80, 3, 2),    # 28
        (6, 5, 112, 3, 1),   # 14
        (6, 5, 192, 4, 2),   # 14
        (6, 3, 320, 1, 1),   # 7
    )),
    Head(conv_expand=4, conv_act=SI, dropout=0.2),
    "EfficientNet-B0", "Tan & Le 2019, EfficientNet, Table 1", round_expansion=True,
    se=SE(reduction=4, of="input", divisor=1, act=SI, gate=Act.SIGMOID), layout="stages")
TF_NORM = Norm(eps=0.001, momentum=0.01)
# Table 2's variants: width, depth, resolution (the paper's; torchvision's B2 weights take 288), dropout
EFFICIENTNET_SCALING = {
    "b0": (1.0, 1.0, 224, 0.2), "b1": (1.0, 1.1, 240, 0.2), "b2": (1.1, 1.2, 260, 0.3), "b3": (1.2, 1.4, 300, 0.3),
    "b4": (1.4, 1.8, 380, 0.4), "b5": (1.6, 2.2, 456, 0.4), "b6": (1.8, 2.6, 528, 0.5), "b7": (2.0, 3.1, 600, 0.5)}
EFFICIENTNETS = tuple(
    replace(EFFICIENTNET_B0, name=f"efficientnet_{v}", title=f"EfficientNet-{v.upper()}",
            source=f"Tan & Le 2019, EfficientNet, Tables 1 and 2 ({v.upper()}: width {w:g}, depth {d:g}, {r}x{r})",
            alpha=w, depth=d, resolution=r, head=replace(EFFICIENTNET_B0.head, dropout=p),
            norm=TF_NORM if v in ("b5", "b6", "b7") else EFFICIENTNET_B0.norm)
    for v, (w, d, r, p) in EFFICIENTNET_SCALING.items())

# MnasNet-B1 (Tan et al. 2019, the searched model without squeeze-and-excitation), as torchvision
# builds mnasnet0_5 .. mnasnet1_3: a 3x3 stem, a separable conv (depthwise 3x3, linear 1x1 to 16),
# inverted residuals with 3x and 6x expansions and 3x3 / 5x5 kernels, a 1x1 conv to 1280 that alpha
# does not narrow; ReLU throughout, batch norm momentum 1 - 0.9997 (TensorFlow's decay).
MNASNET = Family(
    "mnasnet", Stem(32, 3, 2, RE),
    tuple(Stage("inverted_residual", c, n, s, k, t=t, act=RE) for t, k, c, n, s in (
        # t, k, c,   n, s    input size at 224
        (1, 3, 16, 1, 1),    # 112: the separable conv
        (3, 3, 24, 3, 2),    # 112
        (3, 5, 40, 3, 2),    # 56
        (6, 5, 80, 3, 2),    # 28
        (6, 3, 96, 2, 1),    # 14
        (6, 5, 192, 4, 2),   # 14
        (6, 3, 320, 1, 1),   # 7
    )),
    Head(conv=1280, conv_scale="never", conv_act=RE, dropout=0.2),
    "MnasNet-B1", "Tan et al. 2019, MnasNet (torchvision mnasnet1_0)", norm=Norm(momentum=1 - 0.9997),
    layout="mnasnet")


# MobileNetV4 (Qin et al. 2024), the convolutional models of Tables 8-10 as timm 1.0 builds them
# (mobilenetv4_conv_small / _medium / _large): rows (stage, block, a, k, t, c, n, s). "cn" is a plain conv
# (timm's ConvBnAct), "er" the fused inverted bottleneck (FusedIB), "uib" the universal one: a, the
# depthwise kernel before the expansion, k the middle one (0: none; both: ExtraDW, a only: ConvNeXt-like,
# k only: IB, neither: FFN). The last stage's 1x1 conv to 960, then the pool, a 1x1 conv to 1280 with
# batch norm and ReLU on the pooled map, the classifier; the stem keeps its width below alpha 1 (timm's
# fix_stem), the 1280 never scales.
def _v4_rows(rows) -> tuple[Stage, ...]:
    kinds = {"cn": "conv_bn_act", "er": "fused_ib", "uib": "uib"}
    return tuple(Stage(kinds[b], c, n, s, k, t=None if b == "cn" else t, act=RE, a=a, stage=stage)
                 for stage, b, a, k, t, c, n, s in rows)


V4_HEAD = Head(hidden=1280, hidden_scale="never", hidden_act=RE, dropout=0.0, hidden_conv=True)
MOBILENET_V4_CONV_SMALL = Family(
    "mobilenet_v4_conv_small", Stem(32, 3, 2, RE, scale="up"),
    _v4_rows((
        # stage, block, a, k, t, c, n, s     input size at 224
        (0, "cn", 0, 3, 1, 32, 1, 2),        # 112
        (0, "cn", 0, 1, 1, 32, 1, 1),        # 56
        (1, "cn", 0, 3, 1, 96, 1, 2),        # 56
        (1, "cn", 0, 1, 1, 64, 1, 1),        # 28
        (2, "uib", 5, 5, 3, 96, 1, 2),       # 28: ExtraDW
        (2, "uib", 0, 3, 2, 96, 4, 1),       # 14: IB
        (2, "uib", 3, 0, 4, 96, 1, 1),       # 14: ConvNeXt-like
        (3, "uib", 3, 3, 6, 128, 1, 2),      # 14
        (3, "uib", 5, 5, 4, 128, 1, 1),      # 7
        (3, "uib", 0, 5, 4, 128, 1, 1),      # 7
        (3, "uib", 0, 5, 3, 128, 1, 1),      # 7
        (3, "uib", 0, 3, 4, 128, 2, 1),      # 7
        (4, "cn", 0, 1, 1, 960, 1, 1),       # 7
    )),
    V4_HEAD, "MobileNetV4 Conv-S", "Qin et al. 2024, MobileNetV4, Table 8 (timm mobilenetv4_conv_small)")
MOBILENET_V4_CONV_MEDIUM = Family(
    "mobilenet_v4_conv_medium", Stem(32, 3, 2, RE, scale="up"),
    _v4_rows((
        # stage, block, a, k, t, c, n, s     input size at 256
        (0, "er", 0, 3, 4, 48, 1, 2),        # 128: FusedIB
        (1, "uib", 3, 5, 4, 80, 1, 2),       # 64
        (1, "uib", 3, 3, 2, 80, 1, 1),       # 32
        (2, "uib", 3, 5, 6, 160, 1, 2),      # 32
        (2, "uib", 3, 3, 4, 160, 2, 1),      # 16
        (2, "uib", 3, 5, 4, 160, 1, 1),
        (2, "uib", 3, 3, 4, 160, 1, 1),
        (2, "uib", 3, 0, 4, 160, 1, 1),
        (2, "uib", 0, 0, 2, 160, 1, 1),      # FFN
        (2, "uib", 3, 0, 4, 160, 1, 1),
        (3, "uib", 5, 5, 6, 256, 1, 2),      # 16
        (3, "uib", 5, 5, 4, 256, 1, 1),      # 8
        (3, "uib", 3, 5, 4, 256, 2, 1),
        (3, "uib", 0, 0, 4, 256, 1, 1),
        (3, "uib", 3, 0, 4, 256, 1, 1),
        (3, "uib", 3, 5, 2, 256, 1, 1),
        (3, "uib", 5, 5, 4, 256, 1, 1),
        (3, "uib", 0, 0, 4, 256, 2, 1),
        (3, "uib", 5, 0, 2, 256, 1, 1),
        (4, "cn", 0, 1, 1, 960, 1, 1),       # 8
    )),
    V4_HEAD, "MobileNetV4 Conv-M", "Qin et al. 2024, MobileNetV4, Table 9 (timm mobilenetv4_conv_medium)",
    resolution=256)
MOBILENET_V4_CONV_LARGE = Family(
    "mobilenet_v4_conv_large", Stem(24, 3, 2, RE, scale="up"),
    _v4_rows((
        # stage, block, a, k, t, c, n, s     input size at 384
        (0, "er", 0, 3, 4, 48, 1, 2),        # 192: FusedIB
        (1, "uib", 3, 5, 4, 96, 1, 2),       # 96
        (1, "uib", 3, 3, 4, 96, 1, 1),       # 48
        (2, "uib", 3, 5, 4, 192, 1, 2),      # 48
        (2, "uib", 3, 3, 4, 192, 3, 1),      # 24
        (2, "uib", 3, 5, 4, 192, 1, 1),
        (2, "uib", 5, 3, 4, 192, 5, 1),
        (2, "uib", 3, 0, 4, 192, 1, 1),
        (3, "uib", 5, 5, 4, 512, 4, 2),      # 24
        (3, "uib", 5, 0, 4, 512, 1, 1),      # 12
        (3, "uib", 5, 3, 4, 512, 1, 1),
        (3, "uib", 5, 0, 4, 512, 2, 1),
        (3, "uib", 5, 3, 4, 512, 1, 1),
        (3, "uib", 5, 5, 4, 512, 1, 1),
        (3, "uib", 5, 0, 4, 512, 3, 1),
        (4, "cn", 0, 1, 1, 960, 1, 1),       # 12
    )),
    V4_HEAD, "MobileNetV4 Conv-L", "Qin et al. 2024, MobileNetV4, Table 10 (timm mobilenetv4_conv_large)",
    resolution=384)


# The hybrids add Mobile MQA rows (stage, "mqa", heads, key_dim, kv_stride, k, c): multi-query attention
# with ``heads`` query heads of ``key_dim`` channels and one key and value head, the keys and values
# downsampled by a k x k depthwise conv at ``kv_stride`` where it is 2; their uib and mqa blocks end in a
# layer scale. Hybrid-L runs GELU everywhere.
def _hybrid_rows(rows, act: Act) -> tuple[Stage, ...]:
    out = []
    for row in rows:
        if row[1] == "mqa":
            stage, _, heads, key_dim, kv_stride, k, c = row
            out.append(Stage("mqa", c, 1, 1, k, stage=stage, heads=heads, key_dim=key_dim, kv_stride=kv_stride))
        else:
            out.append(replace(_v4_rows((row,))[0], act=act))
    return tuple(out)


MOBILENET_V4_HYBRID_MEDIUM = Family(
    "mobilenet_v4_hybrid_medium", Stem(32, 3, 2, RE, scale="up"),
    _hybrid_rows((
        # stage, block, a, k, t, c, n, s     input size at 256
        (0, "er", 0, 3, 4, 48, 1, 2),        # 128: FusedIB
        (1, "uib", 3, 5, 4, 80, 1, 2),       # 64
        (1, "uib", 3, 3, 2, 80, 1, 1),       # 32
        (2, "uib", 3, 5, 6, 160, 1, 2),      # 32
        (2, "uib", 0, 0, 2, 160, 1, 1),      # 16: FFN
        (2, "uib", 3, 3, 4, 160, 1, 1),
        (2, "uib", 3, 5, 4, 160, 1, 1),
        (2, "mqa", 4, 64, 2, 3, 160),        # stage, mqa, heads, key_dim, kv_stride, k, c
        (2, "uib", 3, 3, 4, 160, 1, 1),
        (2, "mqa", 4, 64, 2, 3, 160),
        (2, "uib", 3, 0, 4, 160, 1, 1),
        (2, "mqa", 4, 64, 2, 3, 160),
        (2, "uib", 3, 3, 4, 160, 1, 1),
        (2, "mqa", 4, 64, 2, 3, 160),
        (2, "uib", 3, 0, 4, 160, 1, 1),
        (3, "uib", 5, 5, 6, 256, 1, 2),      # 16
        (3, "uib", 5, 5, 4, 256, 1, 1),      # 8
        (3, "uib", 3, 5, 4, 256, 2, 1),
        (3, "uib", 0, 0, 2, 256, 1, 1),
        (3, "uib", 3, 5, 2, 256, 1, 1),
        (3, "uib", 0, 0, 2, 256, 1, 1),
        (3, "uib", 0, 0, 4, 256, 1, 1),
        (3, "mqa", 4, 64, 1, 3, 256),
        (3, "uib", 3, 0, 4, 256, 1, 1),
        (3, "mqa", 4, 64, 1, 3, 256),
        (3, "uib", 5, 5, 4, 256, 1, 1),
        (3, "mqa", 4, 64, 1, 3, 256),
        (3, "uib", 5, 0, 4, 256, 1, 1),
        (3, "mqa", 4, 64, 1, 3, 256),
        (3, "uib", 5, 0, 4, 256, 1, 1),
        (4, "cn", 0, 1, 1, 960, 1, 1),       # 8
    ), RE),
    V4_HEAD, "MobileNetV4 Hybrid-M", "Qin et al. 2024, MobileNetV4 (timm mobilenetv4_hybrid_medium)",
    resolution=256, layer_scale=True)
MOBILENET_V4_HYBRID_LARGE = Family(
    "mobilenet_v4_hybrid_large", Stem(24, 3, 2, Act.GELU, scale="up"),
    _hybrid_rows((
        # stage, block, a, k, t, c, n, s     input size at 384
        (0, "er", 0, 3, 4, 48, 1, 2),        # 192: FusedIB
        (1, "uib", 3, 5, 4, 96, 1, 2),       # 96
        (1, "uib", 3, 3, 4, 96, 1, 1),       # 48
        (2, "uib", 3, 5, 4, 192, 1, 2),      # 48
        (2, "uib", 3, 3, 4, 192, 3, 1),      # 24
        (2, "uib", 3, 5, 4, 192, 1, 1),
        (2, "uib", 5, 3, 4, 192, 2, 1),
        (2, "mqa", 8, 48, 2, 3, 192),        # stage, mqa, heads, key_dim, kv_stride, k, c
        (2, "uib", 5, 3, 4, 192, 1, 1),
        (2, "mqa", 8, 48, 2, 3, 192),
        (2, "uib", 5, 3, 4, 192, 1, 1),
        (2, "mqa", 8, 48, 2, 3, 192),
        (2, "uib", 5, 3, 4, 192, 1, 1),
        (2, "mqa", 8, 48, 2, 3, 192),
        (2, "uib", 3, 0, 4, 192, 1, 1),
        (3, "uib", 5, 5, 4, 512, 4, 2),      # 24
        (3, "uib", 5, 0, 4, 512, 1, 1),      # 12
        (3, "uib", 5, 3, 4, 512, 1, 1),
        (3, "uib", 5, 0, 4, 512, 2, 1),
        (3, "uib", 5, 3, 4, 512, 1, 1),
        (3, "uib", 5, 5, 4, 512, 1, 1),
        (3, "mqa", 8, 64, 1, 3, 512),
        (3, "uib", 5, 0, 4, 512, 1, 1),
        (3, "mqa", 8, 64, 1, 3, 512),
        (3, "uib", 5, 0, 4, 512, 1, 1),
        (3, "mqa", 8, 64, 1, 3, 512),
        (3, "uib", 5, 0, 4, 512, 1, 1),
        (3, "mqa", 8, 64, 1, 3, 512),
        (3, "uib", 5, 0, 4, 512, 1, 1),
        (4, "cn", 0, 1, 1, 960, 1, 1),       # 12
    ), Act.GELU),
    replace(V4_HEAD, hidden_act=Act.GELU), "MobileNetV4 Hybrid-L",
    "Qin et al. 2024, MobileNetV4 (timm mobilenetv4_hybrid_large)", resolution=384, layer_scale=True)
MOBILENET_V4S = tuple(replace(f, layout="timm") for f in (
    MOBILENET_V4_CONV_SMALL, MOBILENET_V4_CONV_MEDIUM, MOBILENET_V4_CONV_LARGE, MOBILENET_V4_HYBRID_MEDIUM,
    MOBILENET_V4_HYBRID_LARGE))


# ------------------------------------------------------------------- other implementations' rules

def _v1_tfslim(f, c, a, role):  # TF-Slim's V1: max(int(depth * multiplier), min_depth = 8)
    return max(int(c * a), 8)


def _v1_keras(f, c, a, role):  # keras.applications.MobileNet: int(filters * alpha)
    return int(c * a)


def _v2_keras(f, c, a, role):
    # keras.applications.MobileNetV2: block outputs _make_divisible(int(filters * alpha), 8);
    # the stem and the last conv _make_divisible(c * alpha, 8), without the int()
    return make_divisible(int(c * a)) if role == "block" else make_divisible(c * a)


def _v3_relative(f, exp, in_paper, in_actual, a):
    # TF-Slim's and Keras' V3 give each expansion as a ratio of the block's input (the paper's
    # exp / input), applied to the block's actual input: _make_divisible(in * ratio, 8)
    return make_divisible(in_actual * exp / in_paper)


def _v3_tfslim(f, c, a, role):
    # TF-Slim's V3 scales every width with _make_divisible(c * multiplier, 8); its checkpoint
    # table's rows are for the fully connected layer kept at 1280 below 1.0
    # (finegrain_classification_mode), scaled above.
    return make_divisible(c * (max(a, 1.0) if role == "hidden" else a))


def _v3_keras(f, c, a, role):
    # keras.applications.MobileNetV3: the stem is 16 whatever alpha; last_point_ch is scaled
    # only for alpha > 1
    if role == "stem":
        return make_divisible(c)
    return make_divisible(c * (max(a, 1.0) if role == "hidden" else a))


def _squeeze_times_quarter(f, base):  # _make_divisible(channels * 0.25, 8): a float, not base // 4
    return make_divisible(base * 0.25)


WIDTH_RULES: dict[str, dict[str, WidthRule]] = {
    "mobilenet_v1": {
        "torchvision": DEFAULT_RULE,
        "tfslim": WidthRule("tfslim", "max(int(c * alpha), 8): truncation, at least 8", _v1_tfslim),
        "keras": WidthRule("keras", "int(c * alpha): truncation, no floor", _v1_keras),
    },
    "mobilenet_v2": {
        "torchvision": DEFAULT_RULE,
        "tfslim": WidthRule("tfslim", "make_divisible(c * alpha, 8), as torchvision"),
        "keras": WidthRule("keras", "blocks make_divisible(int(c * alpha), 8), stem and last conv "
                                    "make_divisible(c * alpha, 8)", _v2_keras),
    },
    **{name: {
        "torchvision": DEFAULT_RULE,
        "tfslim": WidthRule("tfslim", "make_divisible(c * alpha, 8); expansions relative to the block's input; "
                                      "the 1280 / 1024 layer not narrowed below 1.0", _v3_tfslim,
                            _v3_relative, _squeeze_times_quarter),
        "keras": WidthRule("keras", "make_divisible(c * alpha, 8); stem 16; expansions relative to the block's "
                                    "input; the 1280 / 1024 layer scaled only above 1.0", _v3_keras,
                           _v3_relative, _squeeze_times_quarter),
    } for name in ("mobilenet_v3_large", "mobilenet_v3_small")},
}


@dataclass(frozen=True)
class ModelInfo:
    """Every per-model fact in one record: the architecture, where it is published, and its
    counterparts in other libraries."""

    name: str
    title: str
    source: str
    family: Family
    published_alphas: tuple[float, ...] = ()  # the widths of the published checkpoints (TF-Slim, torchvision)
    torchvision: str | None = None  # the torchvision.models builder whose state_dict flopcalc's model matches
    keras: str | None = None        # the keras.applications class


MODELS: dict[str, ModelInfo] = {
    f.name: ModelInfo(f.name, f.title, f.source, f, alphas, torchvision, keras)
    for f, alphas, torchvision, keras in (
        (MOBILENET_V1, (0.25, 0.5, 0.75, 1.0), None, "MobileNet"),
        (MOBILENET_V2, (0.35, 0.5, 0.75, 1.0, 1.3, 1.4), "mobilenet_v2", "MobileNetV2"),
        (MOBILENET_V3_LARGE, (0.75, 1.0), "mobilenet_v3_large", "MobileNetV3Large"),
        (MOBILENET_V3_SMALL, (0.75, 1.0), "mobilenet_v3_small", "MobileNetV3Small"),
        *((f, (f.alpha,), f.name, None) for f in EFFICIENTNETS),
        (MNASNET, (0.5, 0.75, 1.0, 1.3), "mnasnet1_0", None),
        *((f, (1.0,), None, None) for f in MOBILENET_V4S),
    )
}


def check_alpha(alpha: object) -> float:
    a = check_number("alpha", alpha, accepted="a finite number > 0")
    if a <= 0:
        raise SpecError(f"alpha must be a finite number > 0, got {alpha!r}")
    return float(a)


def check_depth(depth: object) -> float:
    """A depth multiplier: a finite number > 0, at most MAX_DEPTH."""
    d = check_number("depth multiplier", depth, accepted=f"a finite number > 0 and at most {MAX_DEPTH:g}")
    if not 0 < d <= MAX_DEPTH:
        raise SpecError(f"depth multiplier must be a finite number > 0 and at most {MAX_DEPTH:g}, got {depth!r}")
    return float(d)


def with_depth(model: str | Family, depth: object) -> Family:
    """A zoo model's or a spec file's Family at depth multiplier ``depth`` (each stage's repeats
    ``ceil(n * depth)``; EfficientNet's compound scaling)."""
    return replace(family_of(model), depth=check_depth(depth))


def resolution_or_default(model: str | Family | None, resolution):
    """``resolution`` when given, else the model's own (EfficientNet-B3's 300; 224 for the others)."""
    if resolution is not None:
        return resolution
    return family_of(model).resolution if isinstance(model, (str, Family)) else DEFAULT_RESOLUTION


def check_classes(num_classes: object) -> int:
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise SpecError(f"classes must be an integer >= 1, got {num_classes!r}")
    return num_classes


def check_model(model: object) -> ModelInfo:
    info = MODELS.get(model) if isinstance(model, str) else None
    if info is None:
        raise SpecError(f"unknown model {model!r}; available: {', '.join(MODELS)}, or a spec file (.toml)")
    return info


def family_of(model: str | Family) -> Family:
    """A zoo name's Family, or the Family itself (a spec file's)."""
    return model if isinstance(model, Family) else check_model(model).family


def model_name(model: str | Family) -> str:
    """A zoo name as it is, a spec file's Family by its name."""
    return model if isinstance(model, str) else model.name


def alpha_or_default(model: str | Family | None, alpha: float | None) -> float:
    """``alpha`` when given, else the model's own (a spec file records one; the zoo's is 1)."""
    if alpha is not None:
        return alpha
    return family_of(model).alpha if isinstance(model, (str, Family)) else 1.0  # a Network: its own business


def width_rule(family: Family, rounding: str) -> WidthRule:
    """A family's channel rule by implementation name; a spec file's family has only its own
    (any name gives it: the other implementations' rules are written for the zoo's models)."""
    info = MODELS.get(family.name)  # the zoo's model, at another default width, depth or resolution too
    if info is None or family.name not in WIDTH_RULES or replace(
            info.family, alpha=family.alpha, depth=family.depth, resolution=family.resolution) != family:
        return DEFAULT_RULE  # EfficientNet and MnasNet have one rule, whatever the name
    rules = WIDTH_RULES[family.name]
    if rounding not in rules:
        raise SpecError(f"unknown channel rounding {rounding!r} for {family.name}; available: {', '.join(rules)}")
    return rules[rounding]


@lru_cache(maxsize=256)
def _cached(family: Family, alpha: float, num_classes: int, rounding: str, full_conv: bool,
            small_input: bool) -> Network:
    return build_network(family, alpha, num_classes, width_rule(family, rounding),
                         small_input=small_input, full_conv=full_conv)


def get_spec(model: str | Family, alpha: float = 1.0, num_classes: int = DEFAULT_CLASSES,
             rounding: str = "torchvision", full_conv: bool = False, small_input: bool = False) -> Network:
    """The spec of a zoo model (or of a spec file's Family); specs are immutable, so equal
    configs share one. ``rounding`` names the implementation whose channel rule to use;
    ``full_conv`` replaces each depthwise + pointwise pair by one standard convolution;
    ``small_input`` runs the stem and the first strided stage at stride 1 (8x8 or 32x32 images)."""
    f = family_of(model)
    width_rule(f, rounding)
    return _cached(f, check_alpha(alpha), check_classes(num_classes), rounding, bool(full_conv), bool(small_input))
