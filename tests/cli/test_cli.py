"""The command line, in-process: exit codes, JSON schema, bad input."""

from __future__ import annotations

import csv
import io
import json
from fractions import Fraction

import pytest

from flopcalc.cli import main
from support import DATA, ROOT, v1_counts, v2_counts

# Expected counts come from sources independent of flopcalc.analyze: fvcore run live on torchvision's
# MobileNetV2 (tests/data/torchvision_mobilenet_v2.json, tools/make_torchvision_fixtures.py), the
# papers' layer tables written out below, and hand arithmetic.
TV2 = json.loads((DATA / "torchvision_mobilenet_v2.json").read_text())["models"]


def tv2_macs(alpha: str, res: int) -> int:
    """fvcore's conv + linear count of torchvision's MobileNetV2 (its multiply-adds), from the fixture."""
    f = TV2[alpha]["fvcore"][str(res)]
    return f["conv"] + f["linear"]


def test_the_hand_formulas_match_the_recorded_sources():
    """The two layer tables above reproduce the live and published counts, so the tests below can use
    them where no recording exists (non-square, huge sizes)."""
    for alpha, model in TV2.items():
        for res in model["fvcore"]:
            assert v2_counts(float(alpha), int(res)) == (model["params"], tv2_macs(alpha, int(res))), (alpha, res)
    keras = json.loads((DATA / "keras_counts.json").read_text())["configs"]
    v1_keras = next(c for c in keras if c["model"] == "MobileNet" and c["kwargs"]["alpha"] == 1.0)
    # Keras' trainable weights at 1.0 (torchvision-style params) and the paper's 569M (568,740,352)
    assert v1_counts() == (v1_keras["trainable"], 568_740_352)


def test_table_json(cli):
    code, out, err = cli("table", "mobilenet_v2", "--alpha", "0.75", "--format", "json")
    assert code == 0 and err == ""
    doc = json.loads(out)
    assert list(doc) == ["command", "model", "config", "convention", "layers", "total", "by_kind"]
    assert doc["command"] == "table" and doc["model"] == "mobilenet_v2"
    assert doc["config"] == {"alpha": 0.75, "resolution": [224, 224], "num_classes": 1000, "batch": 1}
    # fvcore live on torchvision's MobileNetV2 0.75 at 224: its params and conv + linear
    assert doc["total"] == {"params": TV2["0.75"]["params"], "macs": tv2_macs("0.75", 224)}
    for layer in doc["layers"]:
        assert list(layer) == ["name", "kind", "op", "input_shape", "output_shape", "params", "macs"]
        assert all(type(d) is int for d in layer["input_shape"] + layer["output_shape"])
        assert type(layer["params"]) is int and type(layer["macs"]) is int
    assert doc["layers"][0]["input_shape"] == [3, 224, 224] and doc["layers"][0]["op"] == "3x3/2"
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
    params, macs = v1_counts(res=192)  # V1 Table 1 by hand at 192 (params: Keras' live 4,231,976)
    assert f"{macs:,}" in out and f"{params:,}" in out
    assert "macs: multiply-adds of conv and fully connected layers" in out


def test_table_csv_layer_rows_sum_to_the_total(cli):
    code, out, _ = cli("table", "mobilenet_v2", "--resolution", "160", "--classes", "10", "--format", "csv")
    assert code == 0 and '"' not in out and "," in out
    rows = list(csv.DictReader(io.StringIO(out)))
    tv = TV2["1.0"]
    assert list(rows[0]) == ["name", "kind", "op", "input_shape", "output_shape", "params", "macs"]
    names = [r["name"] for r in rows]
    assert len(names) == len(set(names)) and "total" not in names  # no total row among the layers
    # the rows with parameters are torchvision's modules with parameters, in its state_dict's order
    modules = list(dict.fromkeys(key.rsplit(".", 1)[0] for key, _ in tv["state_dict"]))
    assert [r["name"] for r in rows if int(r["params"])] == modules
    # fvcore live at 1.0/160, the 1280 -> 1000 classifier swapped for 1280 -> 10 by hand
    assert sum(int(r["macs"]) for r in rows) == tv["fvcore"]["160"]["conv"] + 1280 * 10
    assert sum(int(r["params"]) for r in rows) == tv["params"] - (1280 * 1000 + 1000) + (1280 * 10 + 10)
    assert rows[0]["input_shape"] == "3x160x160" and rows[0]["op"] == "3x3/2"


def test_table_totals_csv(cli):
    code, out, _ = cli("table", "mobilenet_v2", "--totals", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    macs, params = tv2_macs("1.0", 224), TV2["1.0"]["params"]  # fvcore live on torchvision's V2 1.0/224
    assert list(rows[0]) == ["kind", "description", "macs", "params"]
    assert rows[-1] == {"kind": "total", "description": "", "macs": str(macs), "params": str(params)}
    assert sum(int(r["macs"]) for r in rows[:-1]) == macs
    # the kinds with weights in MobileNetV2 (by hand: its stem conv, 1x1s, 3x3 depthwise, batch norm, classifier)
    assert {r["kind"] for r in rows[:-1]} == {"conv", "pointwise", "depthwise", "batchnorm", "linear"}


def test_non_square_resolution(cli):
    code, out, _ = cli("table", "mobilenet_v2", "--resolution", "320x240", "--format", "json")
    doc = json.loads(out)
    assert doc["config"]["resolution"] == [320, 240] and doc["layers"][0]["input_shape"] == [3, 320, 240]
    assert doc["total"]["macs"] == v2_counts(res=(320, 240))[1]  # V2 Table 2 by hand at 320x240
    assert doc["layers"][0]["output_shape"] == [32, 160, 120]


def test_batch_scales_macs_not_params(cli):
    one = json.loads(cli("table", "mobilenet_v1", "--format", "json")[1])
    many = json.loads(cli("table", "mobilenet_v1", "--batch", "32", "--format", "json")[1])
    assert many["total"] == {"params": one["total"]["params"], "macs": 32 * one["total"]["macs"]}
    assert [l["macs"] for l in many["layers"]] == [32 * l["macs"] for l in one["layers"]]
    assert many["layers"][0]["input_shape"] == [3, 224, 224] and many["config"]["batch"] == 32
    assert "batch=32" in cli("table", "mobilenet_v1", "--batch", "32")[1].splitlines()[0]


@pytest.mark.parametrize("depth, first, count", [(1, "features", 3), (2, "features.0", 19 + 3)])
def test_depth_rows_are_blocks_that_add_up(cli, depth, first, count):
    doc = json.loads(cli("table", "mobilenet_v2", "--depth", str(depth), "--format", "json")[1])
    names = [l["name"] for l in doc["layers"]]
    assert names[0] == first and len(names) == count and doc["config"]["depth"] == depth
    # fvcore live on torchvision's V2 1.0/224: conv + linear
    assert sum(l["macs"] for l in doc["layers"]) == doc["total"]["macs"] == tv2_macs("1.0", 224)
    assert sum(l["params"] for l in doc["layers"]) == doc["total"]["params"]
    if depth == 2:
        # by hand: 3x3 depthwise on 32 (288) + its batch norm (64) + 1x1 32 -> 16 (512) + batch norm (32);
        # macs: each conv's weights times the 112x112 output
        assert doc["layers"][1] == {"name": "features.1", "kind": "inverted_residual", "op": "t=1 3x3/1",
                                    "input_shape": [32, 112, 112], "output_shape": [16, 112, 112],
                                    "params": 288 + 64 + 512 + 32,
                                    "macs": 9 * 32 * 112**2 + 32 * 16 * 112**2}
        assert doc["layers"][-3]["name"] == "avgpool"  # a layer above the depth stays itself


def test_top_lists_the_most_expensive_layers(cli):
    doc = json.loads(cli("table", "mobilenet_v2", "--top", "3", "--format", "json")[1])
    assert [l["name"] for l in doc["layers"]] == ["features.18.0", "features.2.conv.0.0", "features.17.conv.2"]
    # by hand: 1x1 320 -> 1280 at 7x7, 1x1 16 -> 96 at 112x112, 1x1 960 -> 320 at 7x7 (the next, 1x1
    # 24 -> 144 at 56x56, is 10,838,016)
    assert [l["macs"] for l in doc["layers"]] == [320 * 1280 * 7**2, 16 * 96 * 112**2, 960 * 320 * 7**2]


def test_any_tabulate_format(cli):
    pytest.importorskip("tabulate")
    code, out, _ = cli("table", "mobilenet_v1", "--format", "rst")
    assert code == 0 and out.count("====") > 4 and "568,740,352" in out
    code, out, _ = cli("separable", "--kernel", "3", "--in", "8", "--out", "16", "--size", "8", "--format", "html")
    assert code == 0 and "<table>" in out


def test_table_github_is_markdown(cli):
    code, out, _ = cli("table", "mobilenet_v2", "--format", "github")
    assert code == 0 and "| features.0.0 " in out and "|---" in out.replace(":", "-")


def test_separable_plain(cli):
    code, out, _ = cli("separable", "--kernel", "3", "--in", "128", "--out", "256", "--size", "56")
    assert code == 0
    # by hand: standard 3x3 128 -> 256 at 56x56; separable 3x3 depthwise on 128 + 1x1 128 -> 256
    assert f"{9 * 128 * 256 * 56**2:,}" in out and f"{9 * 128 * 56**2 + 128 * 256 * 56**2:,}" in out
    assert "ratio separable / standard: 0.1150" in out


def test_separable_json_and_csv_carry_every_row_and_the_inputs(cli):
    args = ("separable", "--kernel", "3", "--in", "128", "--out", "256", "--size", "56")
    doc = json.loads(cli(*args, "--format", "json")[1])
    assert doc["config"] == {"kernel": 3, "in_channels": 128, "out_channels": 256, "size": 56, "stride": 1,
                             "alpha": 1.0, "rho": 1.0}
    rows = {r["name"]: r for r in doc["layers"]}
    assert list(rows) == ["standard", "depthwise", "pointwise", "separable"]
    standard, separable = 9 * 128 * 256 * 56**2, 9 * 128 * 56**2 + 128 * 256 * 56**2  # by hand, eq. (1) and (3)
    assert (rows["standard"]["params"], rows["standard"]["macs"]) == (9 * 128 * 256, standard)
    assert (rows["separable"]["params"], rows["separable"]["macs"]) == (9 * 128 + 128 * 256, separable)
    assert rows["depthwise"]["macs"] + rows["pointwise"]["macs"] == rows["separable"]["macs"]
    # eq. (5), exact and as a float, each in its own field
    assert doc["ratio_exact"] == doc["closed_form_exact"] == "265/2304" == str(Fraction(1, 256) + Fraction(1, 9))
    assert doc["ratio"] == float(Fraction(separable, standard)) == doc["closed_form"]
    table = list(csv.DictReader(io.StringIO(cli(*args, "--format", "csv")[1])))
    assert [r["name"] for r in table] == list(rows)
    assert table[3]["macs"] == str(separable) and table[3]["ratio_exact"] == "265/2304"
    assert table[1]["input_shape"] == "128x56x56" and table[1]["op"] == "3x3/1 g=128"


def test_models(cli):
    code, out, _ = cli("models")
    assert code == 0 and "mobilenet_v1" in out and "mobilenet_v2" in out and "--alpha" in out
    doc = json.loads(cli("models", "--format", "json")[1])
    assert [m["name"] for m in doc["models"]] == ["mobilenet_v1", "mobilenet_v2", "mobilenet_v3_large",
                                                  "mobilenet_v3_small", *(f"efficientnet_b{i}" for i in range(8)),
                                                  "mnasnet", "mobilenet_v4_conv_small", "mobilenet_v4_conv_medium",
                                                  "mobilenet_v4_conv_large", "mobilenet_v4_hybrid_medium",
                                                  "mobilenet_v4_hybrid_large"]


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
    (["table", "mobilenet_v2", "--resolution", "320x"], "'320x'", "HEIGHTxWIDTH"),
    (["table", "mobilenet_v2", "--resolution", "320x0"], "'320x0'", "HEIGHTxWIDTH"),
    (["table", "mobilenet_v2", "--resolution", "3x4x5"], "'3x4x5'", "HEIGHTxWIDTH"),
    (["table", "mobilenet_v2", "--batch", "0"], "'0'", "integer >= 1"),
    (["table", "mobilenet_v2", "--depth", "-1"], "'-1'", "integer >= 1"),
    (["table", "mobilenet_v2", "--top", "x"], "'x'", "integer >= 1"),
    (["table", "mobilenet_v2", "--top", "3", "--depth", "2"], "--depth", "not allowed"),
    (["table", "mobilenet_v2", "--rho", "0.001"], "'0.001'", "round(224 * rho) >= 1"),
    (["table", "mobilenet_v2", "--rho", "nan"], "'nan'", "finite"),
    (["table", "mobilenet_v2", "--rho", "1", "--resolution", "224"], "--resolution", "not allowed"),
    (["table", "mobilenet_v2", "--classes", "0"], "'0'", "integer >= 1"),
    (["table", "mobilenet_v2", "--classes", "1.5"], "'1.5'", "integer >= 1"),
    (["table", "resnet50"], "'resnet50'", "mobilenet_v1"),
    (["table"], "MODEL", "required"),
    (["table", "mobilenet_v2", "--format", "xml"], "'xml'", "json"),
    (["separable", "--kernel", "3", "--in", "8", "--out", "8", "--size", "8", "--format", "xml"], "'xml'", "latex"),
    (["models", "--format", "yaml"], "'yaml'", "csv"),
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


HUGE = [["--alpha", "1e200"], ["--alpha", "1e150"], ["--rho", "1e200"], ["--resolution", "9" * 160]]


@pytest.mark.parametrize("model", ["mobilenet_v1", "mobilenet_v2"])
@pytest.mark.parametrize("size", HUGE, ids=lambda a: " ".join(a)[:20])
@pytest.mark.parametrize("fmt", ["plain", "github", "csv", "json", "grid"])
def test_sizes_beyond_floats_print_exactly(cli, model, size, fmt):
    """Counts far past what a float holds (10^400 macs) are printed exactly in every format."""
    code, out, err = cli("table", model, *size, "--format", fmt)
    assert code == 0 and err == "", err
    alpha = float(size[1]) if size[0] == "--alpha" else 1.0
    res = round(224 * 1e200) if size[0] == "--rho" else int(size[1]) if size[0] == "--resolution" else 224
    # the paper's layer table by hand (v1_counts / v2_counts above), in exact integers
    params, macs = (v1_counts if model == "mobilenet_v1" else v2_counts)(alpha, res)
    if fmt == "json":
        assert json.loads(out)["total"] == {"params": params, "macs": macs}
    elif fmt == "csv":
        assert sum(int(r["macs"]) for r in csv.DictReader(io.StringIO(out))) == macs
    else:
        assert f"{macs:,}" in out


def test_verify_refuses_a_model_too_large_in_one_line(cli):
    pytest.importorskip("torch")
    code, out, err = cli("verify", "mobilenet_v2", "--alpha", "1e200")
    assert code == 2 and out == "" and err.count("\n") == 1 and "bytes (" in err and "E+" in err
    assert "over the limit of" in err and "Traceback" not in err


def test_large_valid_values_answer(cli):
    code, out, _ = cli("table", "mobilenet_v1", "--alpha", "250", "--resolution", "50000",
                       "--classes", "1000000", "--format", "json")
    doc = json.loads(out)
    # V1 Table 1 by hand at alpha 250, 50000 px, a million classes
    assert code == 0 and doc["total"]["macs"] == v1_counts(250.0, 50_000, 1_000_000)[1]


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


def test_every_option_has_help():
    from flopcalc.cli import build_parser
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command").choices
    for name, sub in subparsers.items():
        for action in sub._actions:
            if action.dest != "help":
                assert action.help, (name, action.option_strings or action.dest)


def test_full_disk_is_one_line_exit_2():
    """`flopcalc table ... > /dev/full`: the write fails; exit 2, one line, no traceback."""
    import subprocess
    import sys
    with open("/dev/full", "w") as full:
        r = subprocess.run([sys.executable, "-m", "flopcalc", "table", "mobilenet_v2"], stdout=full,
                           stderr=subprocess.PIPE, text=True)
    assert r.returncode == 2
    assert r.stderr == "flopcalc: error: cannot write output: No space left on device\n"


def test_main_job_runs_from_a_clone_with_nothing_installed():
    """The README's main job, `python3 -m flopcalc table ...` in the repository root, with
    site-packages switched off (-S): the standard library alone, and this checkout's flopcalc."""
    import subprocess
    import sys
    root = ROOT
    r = subprocess.run([sys.executable, "-S", "-c", "import sys; print(sys.path)"], capture_output=True,
                       text=True, cwd=root)
    assert "site-packages" not in r.stdout
    r = subprocess.run([sys.executable, "-S", "-m", "flopcalc", "table", "mobilenet_v2", "--alpha", "0.75"],
                       capture_output=True, text=True, cwd=root)
    assert r.returncode == 0 and r.stderr == ""
    # fvcore live on torchvision's V2 0.75/224: conv + linear, and its params
    macs, params = tv2_macs("0.75", 224), TV2["0.75"]["params"]
    assert f"total: {macs:,} macs ({macs / 1e6:.2f} M), {params:,} params ({params / 1e6:.2f} M)" in r.stdout
    r = subprocess.run([sys.executable, "-S", "-m", "flopcalc", "table", "mobilenet_v2", "--format", "grid"],
                       capture_output=True, text=True, cwd=root)
    assert r.returncode == 2 and "pip install tabulate" in r.stderr and r.stderr.count("\n") == 1


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


# ------------------------------------------------------------------ what --out does to what is there

def _flopcalc(*argv, **kw):
    import subprocess
    import sys
    return subprocess.run([sys.executable, "-m", "flopcalc", *argv], capture_output=True, text=True, **kw)


def test_spec_out_into_the_null_device_keeps_it_a_device():
    import os
    import stat
    before = os.stat("/dev/null")
    r = _flopcalc("spec", "mobilenet_v2", "--out", "/dev/null")
    assert r.returncode == 0 and r.stderr == "wrote /dev/null\n"
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)


@pytest.mark.skipif(__import__("os").geteuid() != 0, reason="making a device node needs root (CI runs as root)")
def test_spec_out_into_a_full_device_is_one_line_and_the_device_stays(tmp_path):
    """The issue's case: `--out /dev/full` printed "wrote", exited 0 and made the device a text file."""
    import os
    import stat
    full = tmp_path / "full"
    os.mknod(full, stat.S_IFCHR | 0o666, os.makedev(1, 7))
    r = _flopcalc("spec", "mobilenet_v2", "--out", str(full))
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr == f"flopcalc: error: cannot write {str(full)!r}: No space left on device\n"
    assert stat.S_ISCHR(os.lstat(full).st_mode) and os.listdir(tmp_path) == ["full"]


def test_spec_out_through_a_fifo_and_a_symlink(tmp_path):
    import os
    import stat
    import threading
    expected = _flopcalc("spec", "mobilenet_v2").stdout
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()))
    reader.start()
    assert _flopcalc("spec", "mobilenet_v2", "--out", str(fifo)).returncode == 0
    reader.join(30)
    assert got == [expected] and stat.S_ISFIFO(os.lstat(fifo).st_mode)
    real, link = tmp_path / "real.toml", tmp_path / "link.toml"
    real.write_text("old")
    link.symlink_to(real.name)
    assert _flopcalc("spec", "mobilenet_v2", "--out", str(link)).returncode == 0
    assert os.path.islink(link) and real.read_text() == expected


@pytest.mark.parametrize("target, words", [(".", "it is a folder; give a file name"),
                                           ("nowhere/x.toml", "folder 'nowhere' does not exist")])
def test_spec_out_that_cannot_be_written_is_one_line(cli, tmp_path, monkeypatch, target, words):
    monkeypatch.chdir(tmp_path)
    code, out, err = cli("spec", "mobilenet_v2", "--out", target)
    assert code == 2 and out == "" and err == f"flopcalc: error: cannot write {target!r}: {words}\n"


def test_help_choices_come_from_the_constants_they_describe():
    """The parser's choice lists equal their owners' (the torch-side owners are read here, not at
    start-up: the parser must not import torch)."""
    pytest.importorskip("torch")
    from flopcalc.cli import build_parser
    from flopcalc.conventions import CONVENTIONS
    from flopcalc.experiments import EXPERIMENTS
    from flopcalc.memory import DTYPES
    from flopcalc.nn.engines import ENGINES
    from flopcalc.training.loop import SCHEDULES
    from flopcalc.training.schedule import AUGMENTS
    subs = next(a for a in build_parser()._actions if a.dest == "command").choices

    def choices(command, dest):
        return set(next(a for a in subs[command]._actions if a.dest == dest).choices)
    assert choices("table", "dtype") == set(DTYPES)
    for command in ("bench", "machine", "budget"):  # the parser's torch-free copy of the engines
        assert choices(command, "backend") == set(ENGINES), command
    assert choices("train", "schedule") == set(SCHEDULES) and choices("train", "augment") == set(AUGMENTS)
    assert choices("experiment", "name") == set(EXPERIMENTS) | {"backends"}
    help_text = next(a for a in subs["table"]._actions if a.dest == "convention").help
    assert all(name in help_text for name in CONVENTIONS)


def test_the_one_door_names_what_is_missing_and_the_one_install_line():
    """A torch command whose optional module is missing: one line naming it and the extra to install
    (the same install line every missing dependency gets, errors.install_hint)."""
    import argparse
    pytest.importorskip("torch")
    from flopcalc.commands.runtime import torch_door
    from flopcalc.errors import UsageError, install_hint
    with pytest.raises(UsageError) as e:
        torch_door(argparse.Namespace(command="verify"), "torch", needs=("flopcalc_no_such_module",))
    line = str(e.value)
    assert "\n" not in line and line.startswith("flopcalc verify: error: needs torch, flopcalc_no_such_module (")
    assert line.endswith("install with: pip install torch==2.13.0 'flopcalc[torch]'")
    assert install_hint("plots") == "pip install 'flopcalc[plots]'"


@pytest.mark.parametrize("convention", ["keras", "flop_counter"])
def test_top_under_a_convention_without_a_count(cli, convention):
    """keras reports no operation count and FlopCounterMode no parameters: --top sorts those as nothing
    instead of failing with a traceback (it did, before)."""
    code, out, err = cli("table", "mobilenet_v2", "--convention", convention, "--top", "3", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert len(doc["layers"]) == 3 and doc["config"]["top"] == 3
