"""The engines of ``bench --backend`` (flopcalc.nn.engines): each converts the same model, its outputs equal
torch's within the stated tolerance, the graph it runs carries the analyzer's multiply-adds, conversions
are cached and a corrupt one is rebuilt, int8 runs, and what cannot run is one line. No timing is asserted:
speed is measured by benchmarks/bench_engines.py."""

from __future__ import annotations

import json

import numpy as np
import pytest

import torch  # noqa: E402  (tests/nn/ is collected only where torch is installed)

from flopcalc.conventions import analyze
from flopcalc.nn import engines
from flopcalc.nn.builders import build

FLOAT_ENGINES = ("onnxruntime", "openvino", "executorch", "ncnn")


def _random_weights(net: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Weights and batch-norm statistics far from a fresh init's (whose logits are nearly zero), so that an
    engine that got a layer wrong cannot pass by outputs that are all tiny."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.2)
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
    return net.eval()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "flopcalc" / "engines"


@pytest.mark.parametrize("engine", FLOAT_ENGINES)
@pytest.mark.parametrize("model", ["mobilenet_v2", "mobilenet_v3_small"])
def test_each_engine_runs_the_model_as_torch_does_and_carries_the_analyzers_macs(engine, model, cache):
    """Outputs against torch's on the same random images (batch 2); the engine graph's multiply-adds,
    counted from the engine's own graph (ONNX or IR nodes, the exported program, ncnn's .param layers),
    against the analyzer's walk of the spec: two independent counts of the same network."""
    net = _random_weights(build(model, 0.5, 10))
    shape = (2, 3, 64, 64)
    compiled = engines.compile(engine, net, shape, threads=1)
    assert not compiled.cached and compiled.folder.parent == cache / engine
    x = torch.randn(shape, generator=torch.Generator().manual_seed(1))
    check = engines.check_outputs(compiled, net, x)
    assert check["equal"] and check["max_abs_output"] > 0.1, check  # outputs far from 0, equal within tolerance
    assert check["tolerance"] == pytest.approx(engines.RTOL * check["max_abs_output"] + engines.ATOL)
    assert compiled.graph_macs == analyze(model, 0.5, 64, 10, batch=2).total.macs


def test_a_conversion_is_cached_and_a_corrupt_one_is_rebuilt_not_trusted(cache):
    net = _random_weights(build("mobilenet_v1", 0.25, 10))
    first = engines.compile("openvino", net, (1, 3, 32, 32), threads=1)
    again = engines.compile("openvino", net, (1, 3, 32, 32), threads=1)
    assert (first.cached, again.cached, again.rebuilt) == (False, True, False) and again.folder == first.folder
    manifest = json.loads((first.folder / "manifest.json").read_text())
    assert set(manifest["files"]) == {"model.xml", "model.bin"}
    weights = first.folder / "model.bin"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte in the weights
    weights.write_bytes(bytes(data))
    healed = engines.compile("openvino", net, (1, 3, 32, 32), threads=1)
    assert (healed.cached, healed.rebuilt) == (False, True)
    assert engines.check_outputs(healed, net)["equal"]
    # other weights, another shape or another dtype: another conversion
    other = _random_weights(build("mobilenet_v1", 0.25, 10), seed=5)
    keys = {engines.model_key(n, "openvino", d, s) for n, d, s in
            ((net, "float32", (1, 3, 32, 32)), (other, "float32", (1, 3, 32, 32)), (net, "float32", (2, 3, 32, 32)),
             (net, "int8", (1, 3, 32, 32)))}
    assert len(keys) == 4


@pytest.mark.parametrize("engine", ["onnxruntime", "openvino", "executorch"])
def test_int8_runs_on_each_engine_that_has_it(engine, cache):
    """Post-training static int8, calibrated on the images it is then run on: most top classes agree with
    float32's, and the logits stay near (int8 rounds; it is not equal). ExecuTorch's quantized convs are
    delegated to XNNPACK, none left to the portable kernels."""
    net = _random_weights(build("mobilenet_v2", 0.5, 10))
    g = torch.Generator().manual_seed(2)
    calibration = [torch.randn(8, 3, 32, 32, generator=g) for _ in range(4)]
    compiled = engines.compile(engine, net, (8, 3, 32, 32), dtype="int8", threads=1, calibration=calibration)
    check = engines.check_outputs(compiled, net, calibration[0])
    assert check["equal"] is None and check["top1_agreement"] >= 0.5, check
    assert check["max_abs_diff"] < 0.5 * check["max_abs_output"], check
    if engine == "executorch":
        assert compiled.info["delegates"] >= 1
        assert not [op for op in compiled.info["not_delegated"] if "conv" in op], compiled.info
    else:
        # 7-bit weights (reduce_range): full-range int8 weights saturate the int16 sums of AVX2's u8 x s8
        # instruction, which cost V2 on the digits 7 points of top-1 (docs/latency.md)
        weights = _int8_weights(compiled)
        assert len(weights) >= 53 and max(int(np.abs(w.astype(int)).max()) for w in weights) == 64


def _int8_weights(compiled) -> list:
    """The int8 constants of a QDQ conversion: the ONNX file's initializers, or the OpenVINO IR's."""
    path = compiled.folder / compiled.info["file"]
    if path.suffix == ".onnx":
        import onnx
        from onnx import numpy_helper
        return [numpy_helper.to_array(t) for t in onnx.load(str(path)).graph.initializer
                if t.data_type == onnx.TensorProto.INT8]
    import openvino as ov
    return [op.get_data() for op in ov.Core().read_model(str(path)).get_ops()
            if op.get_type_name() == "Constant" and op.get_element_type() == ov.Type.i8]


@pytest.mark.parametrize("engine", ["openvino", "onnxruntime"])
def test_engines_report_per_layer_times_by_the_analyzers_row_names(engine, cache):
    """Every conv of V2 gets a time of its own (fused with its batch norm and activation: OpenVINO names the
    fused node after the conv, ONNX Runtime after the activation; both land on the conv)."""
    from flopcalc.nn.engines import engine_layer_seconds
    net = _random_weights(build("mobilenet_v2", 0.35, 10))
    compiled = engines.compile(engine, net, (1, 3, 64, 64), threads=1)
    rows = analyze("mobilenet_v2", 0.35, 64, 10).layers
    seconds = engine_layer_seconds(compiled, torch.randn(1, 3, 64, 64), [(r.name, r.kind) for r in rows])
    convs = [r.name for r in rows if r.kind in ("conv", "depthwise", "pointwise", "linear")]
    assert len(convs) == 53 and set(convs) <= set(seconds) and all(t > 0 for t in seconds.values())


def test_an_engine_that_is_not_installed_names_its_extra(monkeypatch):
    import importlib
    real = importlib.import_module

    def missing(name, *a, **k):
        if name == "openvino":
            raise ImportError("No module named 'openvino'")
        return real(name, *a, **k)
    monkeypatch.setattr(importlib, "import_module", missing)
    with pytest.raises(engines.EngineError) as e:
        engines.require("openvino")
    assert "pip install 'flopcalc[openvino]'" in str(e.value) and "\n" not in str(e.value)


def test_what_an_engine_cannot_run_is_one_line(cache):
    net = build("mobilenet_v1", 0.25, 10)
    with pytest.raises(engines.EngineError, match="ncnn runs float32 only"):
        engines.compile("ncnn", net, (1, 3, 32, 32), dtype="int8")
    with pytest.raises(engines.EngineError, match="unknown engine 'tvm'"):
        engines.compile("tvm", net, (1, 3, 32, 32))


class _DataDependent(torch.nn.Module):
    def forward(self, x):
        return x * 2 if x.sum() > 0 else x - 1


class _Unsupported(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)

    def forward(self, x):
        return torch.fft.rfft2(self.conv(x)).abs()


def test_a_model_the_engine_cannot_convert_is_one_line_naming_why(cache):
    with pytest.raises(engines.EngineError) as e:
        engines.compile("executorch", _DataDependent(), (1, 3, 8, 8))
    assert str(e.value).startswith("executorch cannot convert this model") and "\n" not in str(e.value)
    with pytest.raises(engines.EngineError) as e:
        engines.compile("ncnn", _Unsupported(), (1, 3, 8, 8))
    assert str(e.value).startswith("ncnn cannot convert this model") and "fft" in str(e.value).lower(), str(e.value)
    assert not list((cache / "ncnn").glob("*/manifest.json"))  # nothing half-made is left as a conversion


def test_an_engines_own_kernel_model_is_fitted_on_its_per_layer_times(cache):
    """``machine --backend openvino`` moves torch's kernel model to OpenVINO's per-layer times in the
    calibration networks: here V2 (alpha 0.35) twice (batch 1 and 2) and V1 (0.25), every heavy layer a
    sample. By hand: V2 has 34 pointwise and 17 depthwise layers, V1 13 of each; the stem conv and the
    classifier (3 of each) are under MIN_KERNEL_SAMPLES and keep torch's model. Every sample's log ratio,
    less its kind's median, is kept for the neighbours' correction (so they are centred on 0)."""
    import statistics
    from flopcalc.latency import MachineProfile
    from flopcalc.nn.calibrate import MIN_KERNEL_SAMPLES, engine_kernels
    from flopcalc.walk import count_layers
    from support import BANDWIDTH, PEAK, calibration
    machine = MachineProfile(PEAK, BANDWIDTH, 1, "test", calibration())
    compiled, analyses = [], []
    for model, alpha, batch in (("mobilenet_v2", 0.35, 1), ("mobilenet_v2", 0.35, 2), ("mobilenet_v1", 0.25, 1)):
        net = _random_weights(build(model, alpha, 10))
        x = torch.randn(batch, 3, 32, 32)
        compiled.append((engines.compile("openvino", net, tuple(x.shape), threads=1), x))
        analyses.append(count_layers(model, alpha, 32, 10, batch=batch))
    kernels, fit = engine_kernels(machine, compiled, analyses)
    assert MIN_KERNEL_SAMPLES > 3
    assert {k: fit["layer_samples"][k] for k in ("pointwise", "depthwise")} == {"pointwise": 81, "depthwise": 47}
    assert not {"conv", "linear"} & set(kernels["log_ratio"])
    for kind in kernels["log_ratio"]:
        deviations = [r for _, r in kernels["neighbours"][kind]]
        assert len(deviations) == fit["layer_samples"][kind] and abs(statistics.median(deviations)) < 1e-12
    # an engine that does not time its layers keeps torch's kernels
    ncnn = [(engines.compile("ncnn", _random_weights(build("mobilenet_v1", 0.25, 10)), (1, 3, 32, 32), threads=1),
             torch.randn(1, 3, 32, 32))]
    assert engine_kernels(machine, ncnn, analyses[2:]) == (None, {})
