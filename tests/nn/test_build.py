"""The PyTorch models built from the specs: names, state_dict, torchvision checkpoints, inference."""

from __future__ import annotations

import json

import pytest

import torch

from flopcalc import analyze, get_spec  # noqa: E402
from flopcalc.costs import COST_FORMULAS  # noqa: E402
from flopcalc.nn import BUILDERS, build  # noqa: E402
from flopcalc.nn.builders import Block, builder  # noqa: E402
from flopcalc.operations import OP_TYPES  # noqa: E402
from flopcalc.spec import BLOCK_TYPES, LAYER_TYPES, Conv2d  # noqa: E402
from support import DATA

MODELS = ["mobilenet_v1", "mobilenet_v2"]


def test_every_spec_kind_has_a_cost_formula_and_a_builder():
    assert set(LAYER_TYPES) == set(BUILDERS) == set(COST_FORMULAS) - set(OP_TYPES)  # operations are recorded, not built
    for block in BLOCK_TYPES:  # blocks have no formula of their own: they expand
        assert callable(block.children) and block not in BUILDERS


def test_a_second_builder_is_refused():
    with pytest.raises(RuntimeError, match="already registered"):
        builder(Conv2d)(lambda s: None)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("alpha", [0.35, 1.0, 1.4])
def test_analyzer_names_are_module_names_in_execution_order(model, alpha):
    net = build(model, alpha=alpha).eval()
    leaves = {n for n, m in net.named_modules() if not isinstance(m, Block)}
    order: list[str] = []
    for name, m in net.named_modules():
        if name in leaves:
            m.register_forward_hook(lambda mod, i, o, name=name: order.append(name))
    with torch.no_grad():
        net(torch.zeros(1, 3, 64, 64))
    assert order == [r.name for r in analyze(model, alpha, 64).layers]


def torchvision_v2_state_dict(alpha: float) -> list[tuple[str, tuple[int, ...]]]:
    """torchvision's MobileNetV2 state_dict, written from its published architecture
    (torchvision/models/mobilenetv2.py), independently of flopcalc's zoo and builder."""
    def div8(v: float) -> int:
        new_v = max(8, int(v + 4) // 8 * 8)
        return new_v + 8 if new_v < 0.9 * v else new_v

    def conv_bn(prefix: str, out_c: int, in_per_group: int, k: int) -> list:
        return [(f"{prefix}.0.weight", (out_c, in_per_group, k, k))] + bn(f"{prefix}.1", out_c)

    def bn(prefix: str, c: int) -> list:
        return [(f"{prefix}.weight", (c,)), (f"{prefix}.bias", (c,)), (f"{prefix}.running_mean", (c,)),
                (f"{prefix}.running_var", (c,)), (f"{prefix}.num_batches_tracked", ())]

    keys = []
    c_in = div8(32 * alpha)
    keys += conv_bn("features.0", c_in, 3, 3)
    i = 1
    for t, c, n, _s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                        (6, 160, 3, 2), (6, 320, 1, 1)]:
        c_out = div8(c * alpha)
        for _ in range(n):
            hidden, j = c_in * t, 0
            p = f"features.{i}.conv"
            if t != 1:
                keys += conv_bn(f"{p}.0", hidden, c_in, 1)
                j = 1
            keys += conv_bn(f"{p}.{j}", hidden, 1, 3)
            keys += [(f"{p}.{j + 1}.weight", (c_out, hidden, 1, 1))] + bn(f"{p}.{j + 2}", c_out)
            c_in, i = c_out, i + 1
    last = div8(1280 * max(1.0, alpha))
    keys += conv_bn(f"features.{i}", last, c_in, 1)
    keys += [("classifier.1.weight", (1000, last)), ("classifier.1.bias", (1000,))]
    return keys


@pytest.mark.parametrize("alpha", [0.35, 0.5, 0.75, 1.0, 1.3, 1.4])
def test_v2_state_dict_is_torchvisions(alpha):
    mine = [(k, tuple(v.shape)) for k, v in build("mobilenet_v2", alpha=alpha).state_dict().items()]
    assert mine == torchvision_v2_state_dict(alpha)
    # ... and what torchvision 0.29.1 itself produced (tests/data, tools/make_torchvision_fixtures.py)
    live = json.loads((DATA / "torchvision_mobilenet_v2.json").read_text())["models"][str(alpha)]
    assert mine == [(k, tuple(s)) for k, s in live["state_dict"]]


def test_v2_state_dict_spot_checks():
    sd = build("mobilenet_v2").state_dict()
    assert len(sd) == 314  # 52 convs + 52 batch norms x 5 entries + classifier weight and bias
    assert sd["features.0.0.weight"].shape == (32, 3, 3, 3)
    assert sd["features.1.conv.0.0.weight"].shape == (32, 1, 3, 3)   # t = 1: no expansion
    assert sd["features.1.conv.1.weight"].shape == (16, 32, 1, 1)
    assert sd["features.2.conv.0.0.weight"].shape == (96, 16, 1, 1)
    assert sd["features.17.conv.2.weight"].shape == (320, 960, 1, 1)
    assert sd["features.18.0.weight"].shape == (1280, 320, 1, 1)
    assert sd["classifier.1.weight"].shape == (1000, 1280)


def test_torchvision_checkpoint_loads_strictly_and_gives_the_same_outputs():
    """A checkpoint torchvision 0.29.1 saved (width 0.35, 10 classes, random weights and
    batch-norm statistics) with its own outputs for a fixed input batch."""
    ckpt = torch.load(DATA / "torchvision_mobilenet_v2_035_c10.pt", weights_only=True)
    net = build("mobilenet_v2", alpha=0.35, num_classes=10).eval()
    result = net.load_state_dict(ckpt["state_dict"], strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    with torch.no_grad():
        out = net(ckpt["input"])
    torch.testing.assert_close(out, ckpt["output"], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("model", MODELS)
def test_v1_follows_the_same_naming_pattern(model):
    sd = build(model).state_dict()
    assert all(k.startswith(("features.", "classifier.1.")) for k in sd)
    if model == "mobilenet_v1":
        assert sd["features.1.conv.0.0.weight"].shape == (32, 1, 3, 3)  # depthwise
        assert sd["features.1.conv.1.0.weight"].shape == (64, 32, 1, 1)  # pointwise
        assert sd["features.13.conv.1.0.weight"].shape == (1024, 1024, 1, 1)
        assert sd["classifier.1.weight"].shape == (1000, 1024)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("resolution", [1, 7, 33, 96, 224])
def test_inference_at_any_resolution(model, resolution):
    net = build(model, alpha=0.5, num_classes=17).eval()
    with torch.no_grad():
        out = net(torch.randn(2, 3, resolution, resolution))
    assert out.shape == (2, 17)
    assert torch.isfinite(out).all()


def test_params_equal_numel():
    for model in MODELS:
        for alpha in (0.35, 1.0):
            net = build(model, alpha=alpha)
            assert sum(p.numel() for p in net.parameters()) == analyze(model, alpha).total.params


def test_custom_spec_builds():
    from support import tiny
    net = build(tiny()).eval()
    x = torch.randn(1, 3, 16, 16)
    with torch.no_grad():
        stem = net.stem(x)
        expected = net.fc(net.pool(stem + getattr(net.block, "0")(stem)))  # the residual, written out
        assert torch.equal(net(x), expected)
    assert "Sequential" in repr(net) and "ConvBNAct" in repr(net)
    assert get_spec("mobilenet_v2") is get_spec("mobilenet_v2", 1.0, 1000)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("variant", [{"full_conv": True}, {"rounding": "keras"}, {"rounding": "tfslim"}],
                         ids=lambda v: str(v))
def test_architecture_variants_build_what_the_analyzer_counts(model, variant):
    """--full-conv and the conventions' channel rules are specs like any other: the built model
    has the analyzer's layers, shapes and parameter count."""
    from flopcalc.walk import count_layers as plain
    spec = get_spec(model, 0.6, 10, **variant)
    a = plain(model, 0.6, 40, 10, **variant)
    net = build(spec).eval()
    assert sum(p.numel() for p in net.parameters()) == a.total.params
    shapes = {}
    for r in a.layers:
        net.get_submodule(r.name).register_forward_hook(
            lambda m, i, o, name=r.name: shapes.__setitem__(name, tuple(o.shape[1:])))
    with torch.no_grad():
        net(torch.zeros(1, 3, 40, 40))
    assert shapes == {r.name: r.output_shape for r in a.layers}


def test_efficientnet_parameters_have_torchvisions_shapes():
    """The same tensors as torchvision's efficientnet_b0, whose module names differ (its stages
    nest one level deeper): the multiset of learnable parameter shapes is equal."""
    from flopcalc.specfile import read
    from support import ROOT
    tv = json.loads((DATA / "torchvision_examples.json").read_text())["models"]
    net = build(read(ROOT / "examples" / "efficientnet_b0.toml"))
    ours = sorted(tuple(p.shape) for p in net.parameters())
    theirs = sorted(tuple(shape) for key, shape in tv["efficientnet_b0"]["state_dict"]
                    if not key.endswith(("running_mean", "running_var", "num_batches_tracked")))
    assert ours == theirs and torch.is_tensor(net(torch.zeros(1, 3, 64, 64)))
