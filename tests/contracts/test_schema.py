"""Every command's JSON validates against the one schema, flopcalc/schema.json."""

from __future__ import annotations

import json

import pytest
from support import DATA, ROOT, SCHEMA_PATH, schema_errors, validator

jsonschema = pytest.importorskip("jsonschema")

SCHEMA = json.loads(SCHEMA_PATH.read_text())
VALIDATOR = validator()

# (argv, needs): every command that prints data, with the options that change its shape.
COMMANDS = [
    (["table", "mobilenet_v2", "--alpha", "0.75"], ()),
    (["table", "mobilenet_v1", "--resolution", "320x240", "--batch", "8", "--classes", "10"], ()),
    (["table", "mobilenet_v2", "--depth", "2"], ()),
    (["table", "mobilenet_v2", "--top", "5"], ()),
    (["table", "mobilenet_v3_large", "--memory", "--dtype", "int8", "--depth", "2"], ()),
    (["table", "mobilenet_v2", "--totals"], ()),
    (["separable", "--kernel", "3", "--in", "32", "--out", "64", "--size", "112", "--stride", "2"], ()),
    (["table", "mobilenet_v2", "--convention", "flop_counter"], ()),
    (["table", "mobilenet_v1", "--convention", "keras", "--full-conv", "--depth", "2"], ()),
    (["table", "mobilenet_v3_small", "--depth", "3"], ()),
    (["table", "examples/mnasnet_b1.toml", "--alpha", "0.5"], ()),
    (["models"], ()),
    (["conventions"], ()),
    (["reconcile", "mobilenet_v2", "--alpha", "0.6", "--resolution", "171"], ()),
    (["reconcile", "mobilenet_v1", "--alpha", "0.35", "--resolution", "64", "--live"], ("torch", "fvcore")),
    (["sweep", "mobilenet_v1", "--alpha", "0.25,1", "--resolution", "128,200x100", "--convention", "flop_counter"], ()),
    (["published"], ()),
    (["budget", "--madds", "50000000", "--resolution", "128,160"], ()),
    (["budget", "--near", "100000000", "--models", "mobilenet_v1,examples/mnasnet_b1.toml"], ()),
    (["separable", "--kernel", "3", "--in", "512", "--out", "512", "--size", "14", "--alpha", "0.75",
      "--rho", "0.714"], ()),
    (["verify", "mobilenet_v1", "--alpha", "0.35", "--resolution", "64"], ("torch", "fvcore")),
    (["verify", "mobilenet_v2", "--alpha", "0.35", "--resolution", "33", "--reference"], ("torch", "fvcore")),
    (["verify", "--grid", "--alpha", "0.35", "--resolution", "48"], ("torch", "fvcore")),
]


# Validated in their own tests (they need a trained checkpoint): tests/training/test_loop.py.
# machine and bench (they time this machine) in tests/nn/test_calibrate_bench.py; report in
# tests/contracts/test_reports.py.
ELSEWHERE = {"train", "evaluate", "predict", "experiment", "machine", "bench", "export", "report"}


def test_the_schema_is_a_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert set(SCHEMA["properties"]["command"]["enum"]) == {argv[0] for argv, _ in COMMANDS} | ELSEWHERE


@pytest.mark.parametrize("argv, needs", COMMANDS, ids=[" ".join(a) for a, _ in COMMANDS])
def test_command_json_validates(cli, argv, needs, monkeypatch):
    monkeypatch.chdir(ROOT)
    for module in needs:
        pytest.importorskip(module)
    code, out, err = cli(*argv, "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["command"] == argv[0]
    errors = sorted(VALIDATOR.iter_errors(doc), key=str)
    assert not errors, errors[0].message


def test_the_schema_rejects_what_it_should():
    """A float count, a missing key or a stray key is invalid: the schema is not a rubber stamp."""
    good = {"command": "models", "models": [{"name": "m", "title": "t", "source": "s"}]}
    assert VALIDATOR.is_valid(good)
    assert not VALIDATOR.is_valid({"command": "models", "models": [{"name": "m", "title": "t"}]})
    assert not VALIDATOR.is_valid({**good, "extra": 1})
    layer = {"name": "a", "kind": "conv", "op": "", "input_shape": [3, 8, 8], "output_shape": [8, 4, 4],
             "params": 216, "macs": 3456}
    pytorch = {"name": "pytorch", "key": "macs", "unit": "macs", "flops_per_mac": 1}
    table = {"command": "table", "model": "m", "config": {"resolution": [8, 8]}, "convention": pytorch,
             "layers": [layer], "total": {"params": 216, "macs": 3456},
             "by_kind": {"conv": {"params": 216, "macs": 3456}}}
    assert VALIDATOR.is_valid(table)
    # (JSON Schema counts 3456.0 as an integer, so the float must have a fraction)
    assert not VALIDATOR.is_valid({**table, "layers": [{**layer, "macs": 3456.5}]})
    assert not VALIDATOR.is_valid({**table, "layers": [{**layer, "MAdds": 1}]})
    assert not VALIDATOR.is_valid({**table, "config": {"resolution": 8}})
    assert not VALIDATOR.is_valid({**table, "config": {"resolution": [8, 8], "convention": "pytorch"}})
    no_count = {k: v for k, v in layer.items() if k != "macs"}
    assert not VALIDATOR.is_valid({**table, "layers": [no_count]})  # every layer carries one operation count
    assert VALIDATOR.is_valid({**table, "layers": [{**no_count, "fvcore_flops": 3456}]})


# ---------------------------------------------------------------- one vocabulary in every command's JSON

def _json(cli, *argv):
    code, out, err = cli(*argv, "--format", "json")
    assert code == 0, err
    return json.loads(out)


def _walk(value, path=()):
    """Every (path, key, value) in a JSON document."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield path, k, v
            yield from _walk(v, path + (k,))
    elif isinstance(value, list):
        for v in value:
            yield from _walk(v, path)


@pytest.mark.parametrize("argv, needs", COMMANDS, ids=[" ".join(a) for a, _ in COMMANDS])
def test_one_vocabulary(cli, argv, needs, monkeypatch):
    """resolution is always [height, width]; top1 always a fraction; convention always an object;
    alpha, resolution and num_classes only ever inside a config object (or a convention's own
    architecture, num_classes in reconcile)."""
    monkeypatch.chdir(ROOT)
    for module in needs:
        pytest.importorskip(module)
    doc = _json(cli, *argv)
    for path, key, value in _walk(doc):
        if key == "resolution":
            assert path and path[-1] == "config", (path, key)
            assert isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value)
        if key == "alpha":
            assert path and path[-1] == "config", (path, key)
        if key in ("top1", "top5") and value is not None:
            assert 0 <= value <= 1, (path, value)
        if key == "convention":
            assert isinstance(value, dict) and set(value) == {"name", "key", "unit", "flops_per_mac"}, (path, value)


def test_the_operation_count_is_named_for_what_it_is(cli):
    """Under a counter whose number is not multiply-adds the key says whose number it is; macs
    only where it is conv and fully connected multiply-adds (the default, the papers, TF-Slim)."""
    from flopcalc.conventions import CONVENTIONS
    schema_keys = set(SCHEMA["$defs"]["ops_keys"]["enum"])
    assert {c.key for c in CONVENTIONS.values()} == schema_keys
    # each counter's total on torchvision's MobileNetV2 0.5/128, from fvcore's per-operator counts run live
    # on it (tests/data/torchvision_mobilenet_v2.json) and hand arithmetic on the conventions' rules
    tv = json.loads((DATA / "torchvision_mobilenet_v2.json").read_text())["models"]
    fv = tv["0.5"]["fvcore"]["128"]
    mm = fv["conv"] + fv["linear"]  # conv and fully connected multiply-adds
    bn_channels = sum(shape[0] for key, shape in tv["0.5"]["state_dict"] if key.endswith("running_mean"))
    bn_elements = fv["batch_norm"] // 2  # fvcore: 2 per batch-norm output element
    # ReLU6 follows every batch norm but each block's projection: by hand, the block outputs
    # (channels _make_divisible(c * 0.5, 8) of Table 2's c, at 64, 32, 16, 8, 8, 4, 4 pixels a side)
    projections = (8 * 64**2 + 2 * 16 * 32**2 + 3 * 16 * 16**2 + 4 * 32 * 8**2 + 3 * 48 * 8**2
                   + 3 * 80 * 4**2 + 160 * 4**2)
    expected = {
        "pytorch": mm, "paper": mm,
        "tfslim": fv["conv"] + 1280 * 1001,  # 1001 classes
        "keras": None,  # Keras counts no operations
        "fvcore": fv["conv"] + fv["linear"] + fv["batch_norm"] + fv["adaptive_avg_pool2d"],  # fvcore's total
        "flop_counter": 2 * mm,  # 2 flops per multiply-add
        # + classifier bias, batch norm 2 per element, ReLU6 1 per element, pooling 1 per input element
        "ptflops": mm + 1000 + fv["batch_norm"] + (bn_elements - projections) + fv["adaptive_avg_pool2d"],
        "ptflops_aten": mm + 1000,  # + the classifier's bias
        "thop": mm + 2 * fv["batch_norm"],  # 4 per batch-norm element
        "torchinfo": mm + 1000 + 2 * bn_channels,  # + classifier bias + batch norm's 2C parameters
        # + affine batch norm 1 per output element; the 4x4 pool 1 per output element (fvcore's: per input)
        "torchprofile": mm + bn_elements + fv["adaptive_avg_pool2d"] // (4 * 4),
        "calflops": mm,  # F.conv2d and F.linear, biases left out
        # onnx-tool over these layers: + the classifier's bias adds, batch norm 31 per element, ReLU6 (a Clip)
        # 2, the pool 1 per input and 4 per output element (1280 of them), each residual add 1 per element:
        # the repeated blocks of stride 1 keep their input's shape (2, 3, 4, 3, 3 blocks at 32, 16, 8, 8
        # and 4 pixels, 16, 16, 32, 48 and 80 channels), so one add fewer than blocks in each stage
        "onnx_tool": mm + 1000 + 31 * bn_elements + 2 * (bn_elements - projections) + fv["adaptive_avg_pool2d"]
        + 4 * 1280 + (16 * 32**2 + 2 * 16 * 16**2 + 3 * 32 * 8**2 + 2 * 48 * 8**2 + 2 * 80 * 4**2),
    }
    assert set(expected) == set(CONVENTIONS)
    for name, conv in CONVENTIONS.items():
        doc = _json(cli, "table", "mobilenet_v2", "--alpha", "0.5", "--resolution", "128", "--convention", name)
        assert doc["convention"]["name"] == name and doc["convention"]["key"] == conv.key
        assert not schema_errors(doc)
        assert set(doc["total"]) == {"params", conv.key}
        assert all(conv.key in layer and "macs" not in layer or conv.key == "macs" for layer in doc["layers"])
        assert doc["total"][conv.key] == expected[name], name
        if conv.key == "macs" and expected[name] is not None and conv.classes == 1000:
            assert doc["total"]["macs"] == mm  # the same multiply-adds: the same name
    assert CONVENTIONS["fvcore"].key == "fvcore_flops" and CONVENTIONS["flop_counter"].key == "flop_counter_flops"
    doc = _json(cli, "sweep", "mobilenet_v2", "--alpha", "1", "--resolution", "224", "--convention", "flop_counter")
    fv = tv["1.0"]["fvcore"]["224"]
    assert doc["configs"][0]["flop_counter_flops"] == 2 * (fv["conv"] + fv["linear"])  # 2 per fvcore multiply-add
    assert "macs" not in doc["configs"][0]


def test_published_top1_is_the_printed_percentage_as_a_fraction(cli):
    doc = _json(cli, "sweep", "mobilenet_v2", "--alpha", "1", "--resolution", "224")
    assert doc["configs"][0]["top1"] == 0.71878  # torchvision's metadata prints acc@1 71.878
    code, out, err = cli("sweep", "mobilenet_v2", "--alpha", "1", "--resolution", "224")
    assert "71.9%" in out
    assert not VALIDATOR.is_valid({"command": "nope"})
