"""The command line, in-process: exit codes, JSON schema, bad input."""

from __future__ import annotations

import csv
import io
import json
from fractions import Fraction

import pytest

from flopcalc import analyze
from flopcalc.cli import main


def test_table_json_schema(cli):
    code, out, err = cli("table", "mobilenet_v2", "--alpha", "0.75", "--format", "json")
    assert code == 0 and err == ""
    doc = json.loads(out)
    assert set(doc) == {"model", "config", "layers", "total", "by_kind"}
    assert doc["model"] == "mobilenet_v2"
    assert doc["config"] == {"alpha": 0.75, "resolution": 224, "num_classes": 1000}
    assert doc["total"] == {"params": 2_636_424, "macs": 209_069_792}
    for layer in doc["layers"]:
        assert set(layer) == {"name", "kind", "input_shape", "output_shape", "params", "macs"}
        assert all(type(d) is int for d in layer["input_shape"] + layer["output_shape"])
        assert type(layer["params"]) is int and type(layer["macs"]) is int
    assert doc["layers"][0]["input_shape"] == [3, 224, 224]
    assert doc["layers"][-1]["output_shape"] == [1000]
    assert sum(l["params"] for l in doc["layers"]) == doc["total"]["params"]
    assert sum(l["macs"] for l in doc["layers"]) == doc["total"]["macs"]
    assert sum(k["macs"] for k in doc["by_kind"].values()) == doc["total"]["macs"]
    assert sum(k["params"] for k in doc["by_kind"].values()) == doc["total"]["params"]
    names = [l["name"] for l in doc["layers"]]
    assert len(names) == len(set(names)) and "total" not in names


def test_table_plain_has_totals_and_notes(cli):
    code, out, _ = cli("table", "mobilenet_v1", "--rho", "0.857142857")
    assert code == 0
    assert "input=3x192x192" in out
    a = analyze("mobilenet_v1", resolution=192)
    assert f"{a.total.macs:,}" in out and f"{a.total.params:,}" in out
    assert "MAdds: multiply-adds of conv and fully connected layers" in out


def test_table_csv(cli):
    code, out, _ = cli("table", "mobilenet_v2", "--resolution", "160", "--classes", "10",
                       "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    a = analyze("mobilenet_v2", resolution=160, num_classes=10)
    assert [r["name"] for r in rows[:-1]] == [l.name for l in a.layers]
    assert rows[-1]["name"] == "total"
    assert int(rows[-1]["macs"]) == a.total.macs == sum(int(r["macs"]) for r in rows[:-1])


def test_table_github_is_markdown(cli):
    code, out, _ = cli("table", "mobilenet_v2", "--format", "github")
    assert code == 0 and "| features.0.0 " in out and "|---" in out.replace(":", "-")


def test_separable_plain(cli):
    code, out, _ = cli("separable", "--kernel", "3", "--in", "128", "--out", "256", "--size", "56")
    assert code == 0
    assert "924,844,032" in out and "106,373,120" in out
    assert "ratio separable / standard: 0.1150" in out


def test_separable_json(cli):
    code, out, _ = cli("separable", "--kernel", "3", "--in", "128", "--out", "256",
                       "--size", "56", "--format", "json")
    doc = json.loads(out)
    assert set(doc) == {"standard", "separable", "ratio", "closed_form"}
    assert doc["standard"] == {"params": 294_912, "macs": 924_844_032}
    assert doc["separable"] == {"params": 33_920, "macs": 106_373_120}
    assert doc["ratio"] == float(Fraction(106_373_120, 924_844_032))  # unrounded
    assert doc["closed_form"] == float(Fraction(1, 256) + Fraction(1, 9))


def test_models(cli):
    code, out, _ = cli("models")
    assert code == 0 and "mobilenet_v1" in out and "mobilenet_v2" in out and "--alpha" in out


BAD = [
    (["table", "mobilenet_v2", "--alpha", "0"], "'0'", "> 0"),
    (["table", "mobilenet_v2", "--alpha", "-1"], "'-1'", "> 0"),
    (["table", "mobilenet_v2", "--alpha", "nan"], "'nan'", "finite"),
    (["table", "mobilenet_v2", "--alpha", "inf"], "'inf'", "finite"),
    (["table", "mobilenet_v2", "--alpha", "wide"], "'wide'", "number"),
    (["table", "mobilenet_v2", "--alpha", "1e308"], "1e+308", "finite alpha"),
    (["table", "mobilenet_v2", "--resolution", "0"], "'0'", "integer >= 1"),
    (["table", "mobilenet_v2", "--resolution", "224.5"], "'224.5'", "integer >= 1"),
    (["table", "mobilenet_v2", "--resolution", "big"], "'big'", "integer >= 1"),
    (["table", "mobilenet_v2", "--rho", "0.001"], "'0.001'", "round(224 * rho) >= 1"),
    (["table", "mobilenet_v2", "--rho", "nan"], "'nan'", "finite"),
    (["table", "mobilenet_v2", "--rho", "1", "--resolution", "224"], "--resolution", "not allowed"),
    (["table", "mobilenet_v2", "--classes", "0"], "'0'", "integer >= 1"),
    (["table", "mobilenet_v2", "--classes", "1.5"], "'1.5'", "integer >= 1"),
    (["table", "resnet50"], "'resnet50'", "mobilenet_v1"),
    (["table"], "MODEL", "required"),
    (["table", "mobilenet_v2", "--format", "xml"], "'xml'", "json"),
    (["frobnicate"], "'frobnicate'", "table"),
    ([], "COMMAND", "required"),
    (["separable", "--kernel", "0", "--in", "8", "--out", "8", "--size", "8"], "'0'", ">= 1"),
    (["separable", "--kernel", "3", "--in", "-8", "--out", "8", "--size", "8"], "'-8'", ">= 1"),
    (["separable", "--kernel", "3", "--in", "8", "--out", "0", "--size", "8"], "'0'", ">= 1"),
    (["separable", "--kernel", "3", "--in", "8", "--out", "8", "--size", "0"], "'0'", ">= 1"),
    (["separable", "--kernel", "3", "--in", "8", "--out", "8", "--size", "8", "--stride", "0"], "'0'", ">= 1"),
    (["separable", "--kernel", "2", "--in", "8", "--out", "8", "--size", "1"], "--size 1", "vanishes"),
    (["separable", "--kernel", "3"], "--in", "required"),
    (["table", "mobilenet_v2", "--bogus"], "--bogus", "unrecognized"),
]


@pytest.mark.parametrize("argv, value, accepted", BAD)
def test_bad_input_is_one_line_exit_2(cli, argv, value, accepted):
    code, out, err = cli(*argv)
    assert code == 2
    assert out == ""
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert value in err and accepted in err
    assert "Traceback" not in err


def test_large_valid_values_answer(cli):
    code, out, _ = cli("table", "mobilenet_v1", "--alpha", "250", "--resolution", "50000",
                       "--classes", "1000000", "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["total"]["macs"] == analyze("mobilenet_v1", 250.0, 50_000, 1_000_000).total.macs


def test_help_exits_zero(capsys):
    with pytest.raises(SystemExit) as e:
        main(["table", "--help"])
    assert e.value.code == 0
    assert "--alpha" in capsys.readouterr().out


def test_python_dash_m_runs():
    import subprocess
    import sys
    r = subprocess.run([sys.executable, "-m", "flopcalc", "table", "mobilenet_v2", "--alpha", "nan"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and r.stdout == "" and r.stderr.count("\n") == 1


def test_closed_pipe_is_quiet():
    """`flopcalc table ... | head -n 1`: no traceback when the reader leaves early."""
    import subprocess
    import sys
    proc = subprocess.Popen([sys.executable, "-m", "flopcalc", "table", "mobilenet_v2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    with proc, proc.stderr:
        proc.stdout.close()  # before the process has written: its first write meets a closed pipe
        err = proc.stderr.read().decode()
        assert proc.wait() == 0 and err == ""
