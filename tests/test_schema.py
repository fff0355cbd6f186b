"""Every command's JSON validates against the one schema, flopcalc/schema.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

jsonschema = pytest.importorskip("jsonschema")

SCHEMA = json.loads((Path(__file__).resolve().parent.parent / "flopcalc" / "schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)

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
    (["separable", "--kernel", "3", "--in", "512", "--out", "512", "--size", "14", "--alpha", "0.75", "--rho", "0.714"], ()),
    (["verify", "mobilenet_v1", "--alpha", "0.35", "--resolution", "64"], ("torch", "fvcore")),
    (["verify", "mobilenet_v2", "--alpha", "0.35", "--resolution", "33", "--reference"], ("torch", "fvcore")),
    (["verify", "--grid", "--alpha", "0.35", "--resolution", "48"], ("torch", "fvcore")),
]


# Validated in their own tests (they need a trained checkpoint): tests/test_training.py.
# machine and bench (they time this machine) in tests/test_latency.py; report in tests/test_reports.py.
ELSEWHERE = {"train", "evaluate", "predict", "experiment", "machine", "bench", "export", "report"}


def test_the_schema_is_a_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert set(SCHEMA["properties"]["command"]["enum"]) == {argv[0] for argv, _ in COMMANDS} | ELSEWHERE


@pytest.mark.parametrize("argv, needs", COMMANDS, ids=[" ".join(a) for a, _ in COMMANDS])
def test_command_json_validates(cli, argv, needs, monkeypatch):
    monkeypatch.chdir(Path(__file__).resolve().parent.parent)
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
    table = {"command": "table", "model": "m", "config": {"resolution": [8, 8]}, "layers": [layer],
             "total": {"params": 216, "macs": 3456}, "by_kind": {"conv": {"params": 216, "macs": 3456}}}
    assert VALIDATOR.is_valid(table)
    assert not VALIDATOR.is_valid({**table, "layers": [{**layer, "macs": 3456.5}]})  # JSON Schema counts 3456.0 as an integer
    assert not VALIDATOR.is_valid({**table, "layers": [{**layer, "MAdds": 1}]})
    assert not VALIDATOR.is_valid({**table, "config": {"resolution": 8}})
    assert not VALIDATOR.is_valid({"command": "nope"})
