"""Every experiment with tiny settings (one epoch, a small subset, one seed): the results'
structure, counts equal to the trained model's own (its parameters, torch's flop counter), the
int8 model measured and compared with the float one, resumption, and bad input."""

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
    from torch.utils.data import DataLoader
    from torch.utils.flop_counter import FlopCounterMode
    from flopcalc.nn import build
    from flopcalc.training.checkpoint import load
    top1 = {}  # trial key: the held-out top-1 the test measures itself on the trained weights
    for rec, trial in zip(records, plan):
        model = trial.model
        assert rec["config"]["alpha"] == trial.alpha and rec["config"]["num_classes"] == 10
        # the record counts the model that trained: the built net with the trial's checkpoint loaded
        # strictly; its own parameters, and torch's FlopCounterMode's conv and linear flops (two per
        # multiply-add) on one image of the trial's resolution
        res = rec["config"]["resolution"]
        net = build(model, trial.alpha, 10, small_input=rec["config"]["small_input"])
        net.load_state_dict(load(out / "runs" / rec["trial"] / "checkpoint.pt")["model"], strict=True)
        net.eval()
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            net(torch.zeros(1, 3, *res))
        assert rec["params"] == sum(p.numel() for p in net.parameters()), rec["group"]
        assert 2 * rec["macs"] == counter.get_total_flops(), rec["group"]
        # top-1 (the last epoch's): those weights' argmax against the labels of the whole test set,
        # counted here in plain torch (channels-last, batches of 256, as the run evaluates)
        net = net.to(memory_format=torch.channels_last)
        _, test_set = open_source("digits", 64).with_transforms(res[0])
        hits = n = 0
        with torch.inference_mode():
            for x, y in DataLoader(test_set, batch_size=256):
                hits += int((net(x.contiguous(memory_format=torch.channels_last)).argmax(1) == y).sum())
                n += len(y)
        top1[rec["trial"]] = hits / n
        assert rec["top1"] == top1[rec["trial"]] and rec["seed"] == 0, rec["group"]
    assert (out / "README.md").read_text().startswith(f"# experiment {name}")
    assert (out / "accuracy_vs_macs.png").read_bytes()[:4] == b"\x89PNG"
    if name == "relu6-int8":
        for rec in records:
            assert {"float_top1", "int8_top1", "int8_fixed_top1", "int8_agreement", "int8_size_bytes"} <= set(rec)
            # the float model the int8 copies are compared with is the trained one: its top-1 is the
            # one measured above on the checkpoint's weights
            assert rec["float_top1"] == top1[rec["trial"]]
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
    from torch.utils.flop_counter import FlopCounterMode
    from flopcalc.nn import build

    def counted(model, alpha):
        """(multiply-adds, parameters) of the built net (on the meta device: shapes only), 10
        classes, 8x8 digits: FlopCounterMode's conv and linear flops / 2, its parameters' numel."""
        with torch.device("meta"):
            net = build(model, alpha, 10, small_input=True).eval()
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            net(torch.zeros(1, 3, 8, 8, device="meta"))
        return counter.get_total_flops() // 2, sum(p.numel() for p in net.parameters())

    plan = trials("v1-vs-v2", open_source("digits"))
    pairs = list(zip(plan[::2], plan[1::2]))
    assert len(pairs) == 3
    # each V2 width's partner is the V1 width nearest in multiply-adds (fewer parameters, then the
    # smaller width, on a tie), searched in steps of 0.01. V1's multiply-adds grow with the width
    # (tests/core/test_zoo.py), so it is enough to search the widths around the plan's choice, as long
    # as the window's counts straddle the target: the nearest lies where they cross it
    for (v1, v2), v2_alpha in zip(pairs, (0.35, 0.75, 1.4)):
        assert (v1.model, v2.model) == ("mobilenet_v1", "mobilenet_v2") and v2.alpha == v2_alpha
        target = counted("mobilenet_v2", v2_alpha)[0]
        window = [round(v1.alpha + 0.01 * i, 2) for i in range(-5, 6)]
        counts = {w: counted("mobilenet_v1", w) for w in window}
        assert counts[window[0]][0] < target < counts[window[-1]][0], (v2_alpha, v1.alpha)
        best = min(window, key=lambda w: (abs(counts[w][0] - target), counts[w][1], w))
        assert v1.alpha == best, (v2_alpha, v1.alpha, best)
        assert abs(counts[best][0] - target) / target < 0.05


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
