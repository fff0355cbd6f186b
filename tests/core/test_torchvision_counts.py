"""MobileNetV3 Large and Small against torchvision 0.29.1, recorded live by
tools/make_torchvision_v3_fixtures.py (tests/data/torchvision_mobilenet_v3*.json / .pt):
parameters, FlopCounterMode and fvcore counts at 4 widths x 5 resolutions, module names,
state_dict keys and shapes, and a checkpoint torchvision wrote, loaded strictly."""

from __future__ import annotations


import pytest

import flopcalc
from flopcalc.walk import count_layers as plain
from flopcalc.conventions import FVCORE

from support import torchvision_v3

TV = torchvision_v3()
CASES = [(m, w) for m in TV for w in TV[m]]


@pytest.mark.parametrize("model, width", CASES)
def test_counts_equal_torchvisions(model, width):
    tv = TV[model][width]
    for res, flops in tv["flop_counter"].items():
        a = plain(model, float(width), int(res))
        assert a.total.params == tv["params"]
        assert 2 * a.total.macs == flops, (res, a.total.macs)  # FlopCounterMode: 2 per multiply-add
        ops = tv["fvcore"][res]
        of = lambda *kinds: [r for r in a.layers if r.kind in kinds]  # noqa: E731
        assert FVCORE.total(of("batchnorm")) == ops["batch_norm"]
        assert FVCORE.total(of("pool")) == ops["adaptive_avg_pool2d"]  # the SE pools and the head's
        assert FVCORE.total(of("conv", "depthwise", "pointwise")) == ops["conv"]  # SE 1x1 convs included
        assert FVCORE.total(of("linear")) == ops["linear"]


def test_published_torchvision_figures():
    """torchvision's weights metadata: 5,483,032 params and _ops 0.217 (Large), 2,542,856 and 0.057 (Small)."""
    for model, params, gflops in (("mobilenet_v3_large", 5_483_032, "0.217"),
                                  ("mobilenet_v3_small", 2_542_856, "0.057")):
        a = flopcalc.analyze(model)
        live = TV[model]["1.0"]["flop_counter"]["224"] // 2  # FlopCounterMode's, recorded live
        assert a.total == flopcalc.Total(params, live) and a.total.params == TV[model]["1.0"]["params"]
        assert f"{a.total.macs / 1e9:.3f}" == gflops


def test_leaf_modules_are_torchvisions():
    """Every torchvision leaf module, by name, in flopcalc's analysis; flopcalc adds only the
    parameter-free residual adds (features.N.add) and SE multiplies (....scale) as modules."""
    for model in TV:
        tv = [name for name, _ in TV[model]["1.0"]["structure"]["leaf_modules"]]
        ours = [r.name for r in plain(model).layers]
        extra = [n for n in ours if n not in set(tv)]
        assert set(tv) <= set(ours)
        assert all(n.endswith((".add", ".scale")) for n in extra)
        # the V3 paper's Table 1 and 2: Large has 10 residual blocks and 8 SE blocks, Small 6 and 9
        adds, scales = {"mobilenet_v3_large": (10, 8), "mobilenet_v3_small": (6, 9)}[model]
        assert (sum(n.endswith(".add") for n in extra), sum(n.endswith(".scale") for n in extra)) == (adds, scales)
        # the same order, except that torchvision registers an SE's activation after fc2 and runs it before
        assert [n for n in ours if n in set(tv) and "fc" not in n and "activation" not in n] == \
            [n for n in tv if "fc" not in n and "activation" not in n]
