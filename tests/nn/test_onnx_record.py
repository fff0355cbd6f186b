"""ONNX files counted (flopcalc/nn/onnx_record.py): a file flopcalc export wrote counts the same
multiply-adds as its torch model, layer by layer, for every zoo model; its parameters are the
file's own initializers (batch norm folded into the convs by the exporter); free dimensions and
files that are not ONNX are one line."""

from __future__ import annotations

import json
import math

import pytest

onnx = pytest.importorskip("onnx")

from flopcalc.nn import build  # noqa: E402
from flopcalc.nn.onnx_export import export  # noqa: E402
from flopcalc.nn.onnx_record import OnnxError, record_onnx  # noqa: E402
from flopcalc.walk import count_layers  # noqa: E402

MULTIPLY_ADD = ("conv", "pointwise", "depthwise", "linear")


@pytest.mark.parametrize("model", ["mobilenet_v1", "mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small"])
@pytest.mark.parametrize("alpha, resolution", [(1.0, 224), (0.5, 96)])
def test_an_exported_file_counts_as_its_torch_model(model, alpha, resolution, tmp_path):
    path = export(build(model, alpha, 1000), resolution, tmp_path / "m.onnx")
    recorded = record_onnx(path)
    assert recorded.uncounted == {}
    a = count_layers(model, alpha, resolution)
    r = recorded.analysis()
    assert r.total.macs == a.total.macs
    # every conv and fully connected layer, in order, with the same multiply-adds
    assert [x.macs for x in r.layers if x.kind in MULTIPLY_ADD] == [x.macs for x in a.layers if x.kind in MULTIPLY_ADD]
    # parameters: the file's initializers, read independently of flopcalc
    assert r.total.params == sum(math.prod(t.dims) for t in onnx.load(str(path)).graph.initializer)
    # onnx-tool, run live on the file, prints the onnx_tool convention's numbers exactly
    from flopcalc.conventions import counted_as
    from flopcalc.nn import peers
    if peers.available()["onnx_tool"]:
        c = counted_as(r, "onnx_tool")
        assert peers.onnx_tool(path, (1, 3, resolution, resolution)) == (c.total.params, c.total.macs)


@pytest.mark.parametrize("source, shape", [("tiny_resnet.py:make", (1, 3, 64, 64)),
                                           ("tiny_vit.py:make", (1, 3, 32, 32))])
def test_onnx_tool_on_files_of_models_nobody_wrote_for_it(cli, tmp_path, source, shape):
    """A ResNet and a vision transformer exported, and examples/tiny_resnet.onnx as committed: onnx-tool's live
    total is the onnx_tool convention's over the file's rows (a division 4 per element, a square root 24, an
    exponential 32, a layer norm 7 per element and 29 per row, a scalar computed from sizes 0), and reconcile
    --live on the file runs it and agrees."""
    from flopcalc.nn import peers
    from support import ROOT
    if not peers.available()["onnx_tool"]:
        pytest.skip("onnx-tool is not installed")
    path = tmp_path / "m.onnx"
    code, out, err = cli("export", str(ROOT / "examples" / source), "--input", "x".join(map(str, shape)),
                         "--onnx", str(path))
    assert code == 0, err
    for file in (path, ROOT / "examples" / "tiny_resnet.onnx"):
        file_shape = shape if file == path else (1, 3, 64, 64)
        from flopcalc.nn.onnx_record import analyze_onnx
        a = analyze_onnx(file, file_shape, convention="onnx_tool")
        assert peers.onnx_tool(file, file_shape) == (a.total.params, a.total.macs)
    code, out, err = cli("reconcile", str(path), "--input", "x".join(map(str, shape)), "--live", "--format", "json")
    assert code == 0, err
    line = {c["name"]: c for c in json.loads(out)["conventions"]}["onnx_tool"]
    assert line["live"] == {"params": line["params"], "reported": line["reported"], "ok": True}


def test_the_table_of_an_onnx_file(cli, tmp_path):
    path = tmp_path / "v2.onnx"
    code, _, err = cli("export", "mobilenet_v2", "--alpha", "0.5", "--resolution", "96", "--onnx", str(path))
    assert code == 0, err
    code, out, err = cli("table", str(path), "--format", "json")  # the batch is free: taken as 1
    assert code == 0, err
    doc = json.loads(out)
    from support import schema_errors
    assert not schema_errors(doc)
    code, out, err = cli("table", "mobilenet_v2", "--alpha", "0.5", "--resolution", "96", "--format", "json")
    assert doc["total"]["macs"] == json.loads(out)["total"]["macs"] == 18_885_440
    assert doc["config"]["input"] == [1, 3, 96, 96]
    code, out, err = cli("table", str(path), "--input", "4x3x96x96", "--format", "json")
    assert code == 0 and json.loads(out)["total"]["macs"] == 4 * 18_885_440


def test_bad_onnx_input_is_one_line(cli, tmp_path):
    path = export(build("mobilenet_v3_small", 0.5, 10), 64, tmp_path / "m.onnx", dynamic_batch=False)
    (tmp_path / "bad.onnx").write_text("not a model")
    for argv, words in ((["--input", "1x3x32x32"], "does not fit"), (["--input", "1x3"], "does not fit"),
                        (["--model-arg", "a=1"], "--model-arg is for a module's builder")):
        code, out, err = cli("table", str(path), *argv)
        assert code == 2 and err.count("\n") == 1 and words in err, err
    code, out, err = cli("table", str(tmp_path / "bad.onnx"))
    assert code == 2 and err.count("\n") == 1 and ("not an ONNX" in err), err
    code, out, err = cli("table", str(tmp_path / "missing.onnx"))
    assert code == 2 and "no file" in err


def test_free_dimensions_other_than_the_batch_need_input(tmp_path):
    from onnx import TensorProto, helper
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, "h", "w"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="relu")], "g", [x], [y])
    path = tmp_path / "free.onnx"
    onnx.save(helper.make_model(graph), str(path))
    with pytest.raises(OnnxError, match=r"free dimensions \(h, w\); give them with --input"):
        record_onnx(path)
    r = record_onnx(path, (1, 3, 8, 8))
    assert [(x.name, x.kind, x.output_shape) for x in r.rows] == [("relu", "activation", (3, 8, 8))]


def test_convolutions_beyond_the_family_read_from_onnx_as_recorded_from_torch(tmp_path):
    """The same rectangular and transposed convolutions, exported: the file's rows count what the
    module's do (tests/nn/test_record.py works them out by hand)."""
    import torch
    from torch import nn
    from flopcalc.nn.record import record
    m = nn.Sequential(nn.Conv2d(8, 16, (1, 7), padding=(0, 3)),
                      nn.ConvTranspose2d(16, 8, 4, stride=2, padding=1)).eval()
    path = tmp_path / "c.onnx"
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter announces its deprecation
        torch.onnx.export(m, (torch.zeros(1, 8, 10, 12),), str(path), opset_version=17, dynamo=False)
    from_file = [(x.kind, x.output_shape, x.params, x.macs) for x in record_onnx(path).rows]
    from_torch = [(x.kind, x.output_shape, x.params, x.macs) for x in record(m, (1, 8, 10, 12)).rows]
    assert from_file == from_torch == [("conv", (16, 10, 12), 912, 107_520), ("conv", (8, 20, 24), 2_056, 245_760)]
