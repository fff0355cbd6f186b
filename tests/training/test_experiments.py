"""Every experiment with tiny settings (one epoch, a small subset, one seed): the results'
structure, counts equal to the analyzer's, the int8 model measured and compared with the float
one, resumption, and bad input."""

from __future__ import annotations

import json

import pytest

import torch

import flopcalc  # noqa: E402
from flopcalc.experiments import EXPERIMENTS, relu_v2, trials  # noqa: E402
from flopcalc.training.data import open_source  # noqa: E402

pytestmark = pytest.mark.slow  # every experiment trains (seconds each)
TINY = ["--epochs", "1", "--seeds", "1", "--subset", "64", "--quiet"]


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_runs_and_counts_what_it_trained(name, tmp_path, cli, monkeypatch):
    out = tmp_path / name
    code, stdout, err = cli("experiment", name, "--out", str(out), *TINY, "--format", "json")
    assert code == 0, err
    doc = json.loads(stdout)
    from support import schema_errors
    assert not schema_errors(doc)
    plan = trials(name, open_source("digits"))
    records = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    trained = [line for line in err.splitlines() if line.startswith("[")]  # "[i/N] group seed s: top-1 ..."
    assert len(records) == len(plan) == len(doc["groups"]) and len(trained) == len(plan)
    for rec, trial in zip(records, plan):
        model = trial.model
        assert rec["config"]["alpha"] == trial.alpha and rec["config"]["num_classes"] == 10
        a = flopcalc.analyze(model, trial.alpha, tuple(rec["config"]["resolution"]), 10, small_input=True)
        assert (rec["params"], rec["macs"]) == (a.total.params, a.total.macs), rec["group"]
        assert 0 <= rec["top1"] <= 1 and rec["seed"] == 0
    assert (out / "README.md").read_text().startswith(f"# experiment {name}")
    assert (out / "accuracy_vs_macs.png").read_bytes()[:4] == b"\x89PNG"
    if name == "relu6-int8":
        for rec in records:
            assert {"float_top1", "int8_top1", "int8_fixed_top1", "int8_agreement", "int8_size_bytes"} <= set(rec)
            assert rec["int8_drop"] == pytest.approx(rec["float_top1"] - rec["int8_top1"])
            assert 0 <= rec["int8_agreement"] <= 1 and rec["int8_max_logit_error"] >= 0
            assert rec["int8_size_bytes"] < rec["float_size_bytes"] / 2  # int8 weights
    # a second run finds every trial done: nothing is trained again, and with nothing timed, a busy
    # machine (made so here: other processes' load reads 1.5 CPUs) is recorded but not warned about
    from flopcalc import cpuload
    monkeypatch.setattr(cpuload, "measure_load", lambda seconds=0: 1.5)
    monkeypatch.setattr(cpuload, "others", lambda since, until=None: 1.5)
    code, stdout2, err2 = cli("experiment", name, "--out", str(out), *TINY, "--format", "json")
    assert code == 0 and err2 == "" and json.loads(stdout2)["groups"] == doc["groups"]
    assert json.loads(stdout2)["load"]["busy"] is True
    readme = (out / "README.md").read_text()
    assert "the first 64 training images only" in readme and "--epochs 1 --seeds 1 --subset 64" in readme
    assert all(r["subset"] == 64 and r["epochs"] == 1 for r in records) and doc["subset"] == 64
    assert all(g["top1_std"] is None for g in doc["groups"])  # one seed: no spread, not a spread of 0


def test_other_settings_are_refused_not_relabelled(cli, tmp_path):
    out = tmp_path / "augment"
    out.mkdir()
    (out / "README.md").symlink_to(tmp_path / "kept_elsewhere.md")  # what the user pointed at stays a link
    code, _, err = cli("experiment", "augment", "--out", str(out), *TINY)
    assert code == 0, err
    assert (out / "README.md").is_symlink() and (tmp_path / "kept_elsewhere.md").read_text().startswith("# experiment")
    before = (out / "results.jsonl").read_text()
    for change in (["--epochs", "2", "--seeds", "1", "--subset", "64"], ["--epochs", "1", "--seeds", "1"]):
        code, _, err = cli("experiment", "augment", "--out", str(out), *change, "--quiet")
        assert code == 2 and err.count("\n") == 1 and "holds results of another setting" in err, err
    assert (out / "results.jsonl").read_text() == before


def test_v1_vs_v2_pairs_are_matched_in_macs():
    plan = trials("v1-vs-v2", open_source("digits"))
    pairs = list(zip(plan[::2], plan[1::2]))
    assert len(pairs) == 3
    for v1, v2 in pairs:
        assert (v1.model, v2.model) == ("mobilenet_v1", "mobilenet_v2")
        a1 = flopcalc.analyze(v1.model, v1.alpha, 8, 10, small_input=True).total.macs
        a2 = flopcalc.analyze(v2.model, v2.alpha, 8, 10, small_input=True).total.macs
        assert abs(a1 - a2) / a2 < 0.05  # V1 searched in width steps of 0.01


def test_relu_variant_differs_only_in_its_activations():
    from flopcalc.spec import Act
    f = relu_v2()
    assert flopcalc.analyze(f, 0.5).total == flopcalc.analyze("mobilenet_v2", 0.5).total
    acts = {r.spec.fn for r in flopcalc.analyze(f, 0.5).layers if r.kind == "activation"}
    assert acts == {Act.RELU}


def test_quantized_model_outputs_track_the_float_model(tmp_path):
    """A trained model (3 epochs on the digits), not a random one: a randomly initialized deep
    net amplifies any perturbation layer after layer, so int8 error on it says nothing."""
    from torch.utils.data import DataLoader
    from flopcalc.experiments.quantize import quantize
    from flopcalc.training import checkpoint as ckpt
    from flopcalc.training.checkpoint import build_model
    from flopcalc.training.evaluate import evaluate_model
    from flopcalc.training.loop import Recipe, RunConfig, train
    train(RunConfig("mobilenet_v2", "digits", str(tmp_path / "run"), 0.5, recipe=Recipe(epochs=3), progress=False))
    doc = ckpt.load(tmp_path / "run" / "checkpoint.pt")
    net = build_model(doc["config"])
    net.load_state_dict(doc["model"])
    net.eval()
    source = open_source("digits")
    train_set, test_set = source.with_transforms(8)
    calib = [x for x, _ in DataLoader(train_set, batch_size=64)][:4]
    x = torch.cat([b for b, _ in DataLoader(test_set, batch_size=400)])
    q = quantize(net, calib)
    with torch.inference_mode():
        ref, y = net(x), q(x)
    assert not any(type(m) is torch.nn.Conv2d for m in q.modules())  # every conv became an int8 one
    assert 0 < (y - ref).abs().max() < 0.25 * ref.abs().max()  # close to, not equal to, the float model
    assert (y.argmax(1) == ref.argmax(1)).float().mean() > 0.9
    loader = DataLoader(test_set, batch_size=400)
    assert evaluate_model(q, loader)["top1"] > evaluate_model(net, loader)["top1"] - 0.05


def test_no_quantization_engine_is_one_line_before_training(cli, tmp_path, monkeypatch):
    from flopcalc.experiments import quantize
    monkeypatch.setattr(quantize, "supported_engines", lambda: ["none"])
    code, out, err = cli("experiment", "relu6-int8", "--out", str(tmp_path / "q"), *TINY)
    assert code == 2 and err.count("\n") == 1 and "no int8 quantization engine" in err, err
    assert not (tmp_path / "q" / "runs").exists()


@pytest.mark.parametrize("argv, words", [
    (["experiment", "depth", "--out", "{tmp}/x"], ["'depth'", "'width', 'resolution', 'v1-vs-v2'"]),
    (["experiment", "width", "--out", "{tmp}/file.txt"], ["is a file"]),
    (["experiment", "width", "--out", "{tmp}/x", "--seeds", "0"], ["'0'", ">= 1"]),
])
def test_bad_experiment_input(argv, words, cli, tmp_path):
    (tmp_path / "file.txt").write_text("x")
    code, out, err = cli(*[a.format(tmp=tmp_path) for a in argv])
    assert code == 2 and err.count("\n") == 1
    for w in words:
        assert w in err, err
