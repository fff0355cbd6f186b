"""flopcalc train / evaluate / predict: short runs on the embedded digits, kill-and-resume,
checkpoints refused when foreign or carrying code, two processes, and bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import torch

import flopcalc  # noqa: E402
from flopcalc.training.checkpoint import load  # noqa: E402
from support import ROOT

QUICK = ["--alpha", "0.25", "--data", "digits", "--subset", "192", "--batch-size", "32"]


ENV = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout's flopcalc, from any folder


def run(*argv, cwd=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "flopcalc", *argv], capture_output=True, text=True,
                          cwd=cwd or ROOT, timeout=timeout, env=ENV)


def test_short_run_writes_everything(tmp_path, cli):
    out = tmp_path / "run"
    code, stdout, err = cli("train", "mobilenet_v2", *QUICK, "--epochs", "2", "--out", str(out), "--format", "json")
    assert code == 0, err
    doc = json.loads(stdout)
    from support import schema_errors
    assert not schema_errors(doc)
    rec = doc["run"]
    assert rec["config"] == {"alpha": 0.25, "resolution": [8, 8], "num_classes": 10, "small_input": True}
    assert rec["epochs"] == 2
    best = max(doc["epochs"], key=lambda m: m["test_top1"])
    assert (rec["best_top1"], rec["best_epoch"]) == (best["test_top1"], best["epoch"])
    assert rec["final_top1"] == doc["epochs"][-1]["test_top1"]
    lines = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in lines] == [1, 2] == [m["epoch"] for m in doc["epochs"]]
    assert set(lines[0]) == {"epoch", "train_loss", "train_top1", "test_top1", "test_top5", "lr", "seconds",
                             "images_per_second"}
    results = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    assert len(results) == 1 and results[0]["run"] == rec["run"]
    ck = load(out / "checkpoint.pt")
    assert ck["epoch"] == 2 and ck["config"]["model"] == "mobilenet_v2" and len(ck["metrics"]) == 2
    assert set(ck) >= {"model", "optimizer", "scheduler", "rng", "recipe", "run"}
    # the record counts the model that trained: its own parameters, and torch's FlopCounterMode's
    # conv and linear flops (two per multiply-add) on one image
    net = flopcalc.nn.build("mobilenet_v2", 0.25, 10, small_input=True)
    net.load_state_dict(ck["model"], strict=True)
    assert rec["params"] == sum(p.numel() for p in net.parameters())
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        net.eval()(torch.zeros(1, 3, 8, 8))
    assert 2 * rec["macs"] == counter.get_total_flops()


def _strip(lines):
    return [{k: v for k, v in m.items() if k not in ("seconds", "images_per_second")} for m in lines]


@pytest.mark.slow
def test_killed_and_resumed_run_ends_as_an_uninterrupted_one(tmp_path):
    # one thread count for every process: float sums differ with it (a resumed run keeps its checkpoint's)
    args = ["train", "mobilenet_v1", *QUICK, "--epochs", "3", "--quiet", "--threads", "1"]
    whole = tmp_path / "whole"
    assert run(*args, "--out", str(whole)).returncode == 0
    killed = tmp_path / "killed"
    # kill -9 at three different moments: before any checkpoint, mid-epoch, and mid-run
    for delay in (0.5, None, None):
        proc = subprocess.Popen([sys.executable, "-m", "flopcalc", *args, "--out", str(killed), "--resume"],
                                cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if delay is None:  # once an epoch is written, a little later
            deadline = time.time() + 120
            metrics = killed / "metrics.jsonl"
            start = len(metrics.read_text().splitlines()) if metrics.exists() else 0
            while time.time() < deadline and proc.poll() is None:
                if metrics.exists() and len(metrics.read_text().splitlines()) > start:
                    break
                time.sleep(0.05)
            time.sleep(0.3)
        else:
            time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    done = run(*args, "--out", str(killed), "--resume")
    assert done.returncode == 0, done.stderr
    a = [json.loads(x) for x in (whole / "metrics.jsonl").read_text().splitlines()]
    b = [json.loads(x) for x in (killed / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in b] == [1, 2, 3]  # every epoch exactly once
    assert _strip(a) == _strip(b)
    sa, sb = load(whole / "checkpoint.pt")["model"], load(killed / "checkpoint.pt")["model"]
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    assert len((killed / "results.jsonl").read_text().splitlines()) == 1
    assert not [p for p in killed.iterdir() if p.name.endswith(".tmp")]  # no temporary file left behind


class Payload:
    def __reduce__(self):
        return (os.system, ("echo pwned > pwned.txt",))


def test_checkpoint_with_code_is_refused_and_never_runs(tmp_path):
    bad = tmp_path / "evil.pt"
    torch.save({"format": "flopcalc-checkpoint-1", "config": {}, "model": Payload()}, bad)
    for argv in (["evaluate", str(bad), "--data", "digits"], ["predict", str(bad), "x.png"]):
        r = run(*argv, cwd=tmp_path)
        assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
        assert "is refused" in r.stderr and "weights_only=True" in r.stderr
    assert not (tmp_path / "pwned.txt").exists()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("trained")
    from flopcalc.cli import main
    assert main(["train", "mobilenet_v2", *QUICK, "--epochs", "1", "--out", str(out), "--quiet", "--threads", "1"]) == 0
    return out


def test_a_resumed_run_keeps_its_thread_count(trained, cli, tmp_path):
    import shutil
    run_dir = tmp_path / "copy"
    shutil.copytree(trained, run_dir)
    code, out, err = cli("train", "mobilenet_v2", *QUICK, "--epochs", "2", "--out", str(run_dir), "--resume",
                         "--quiet", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["run"]["threads"] == 1 and load(run_dir / "checkpoint.pt")["threads"] == 1


def test_a_subset_smaller_than_a_batch_is_refused_before_training(cli, tmp_path):
    code, out, err = cli("train", "mobilenet_v2", "--alpha", "0.25", "--data", "digits", "--subset", "10",
                         "--out", str(tmp_path / "r"))
    assert code == 2 and out == ""
    assert err == ("flopcalc: error: 10 training images make no whole batch of 32: every epoch would train "
                   "nothing; give --batch-size 10 or less, or a larger --subset\n")
    assert not (tmp_path / "r").exists()  # refused before anything is made


def _tampered(trained, tmp_path, change) -> Path:
    doc = load(trained / "checkpoint.pt")
    change(doc)
    path = tmp_path / "tampered.pt"
    torch.save(doc, path)
    return path


def test_a_tensor_of_another_shape_names_the_key_both_shapes_and_the_file(trained, cli, tmp_path):
    want = tuple(load(trained / "checkpoint.pt")["model"]["features.0.0.weight"].shape)
    wrong = (want[0] + 8, *want[1:])

    def change(doc):
        doc["model"]["features.0.0.weight"] = torch.zeros(wrong)
    path = _tampered(trained, tmp_path, change)
    code, out, err = cli("evaluate", str(path), "--data", "digits")
    assert code == 2 and out == ""
    assert err == (f"flopcalc: error: checkpoint {str(path)!r}: tensor 'features.0.0.weight' has shape "
                   f"{'x'.join(map(str, wrong))}; mobilenet_v2 alpha=0.25 classes=10 resolution=8 small_input "
                   f"needs {'x'.join(map(str, want))}\n")


def test_a_missing_tensor_and_a_bad_config_are_one_line_naming_the_file(trained, cli, tmp_path):
    path = _tampered(trained, tmp_path, lambda doc: doc["model"].pop("classifier.1.bias"))
    code, out, err = cli("evaluate", str(path), "--data", "digits")
    assert code == 2 and err == (f"flopcalc: error: checkpoint {str(path)!r} does not fit mobilenet_v2 alpha=0.25 "
                                 "classes=10 resolution=8 small_input: 1 tensors missing (first 'classifier.1.bias')\n")
    path = _tampered(trained, tmp_path, lambda doc: doc["config"].update(alpha="banana"))
    code, out, err = cli("evaluate", str(path), "--data", "digits")
    assert code == 2 and err == (f"flopcalc: error: checkpoint {str(path)!r} has a config that cannot be used: "
                                 "alpha must be a finite number > 0, got 'banana'\n")


def test_a_raw_pickle_and_a_truncated_file_are_one_short_line(tmp_path, trained):
    import pickle
    raw = tmp_path / "raw.pkl"
    raw.write_bytes(pickle.dumps({"a": [1, 2]}, protocol=4))  # torch warns about the protocol before refusing
    cut = tmp_path / "cut.pt"
    data = (trained / "checkpoint.pt").read_bytes()
    cut.write_bytes(data[:len(data) // 2])
    for path, words in ((raw, "not a PyTorch checkpoint"), (cut, "it is truncated or damaged (")):
        r = run("evaluate", str(path), "--data", "digits", cwd=tmp_path)
        assert r.returncode == 2 and r.stderr.count("\n") == 1 and words in r.stderr, r.stderr
        assert r.stderr.startswith(f"flopcalc: error: checkpoint {str(path)!r} cannot be read: ")
        assert len(r.stderr) < 250 and "Warning" not in r.stderr


def test_foreign_checkpoint_is_refused_naming_both(trained, cli, tmp_path):
    import shutil
    run_dir = tmp_path / "copy"
    shutil.copytree(trained, run_dir)
    before = {p.name: p.read_bytes() for p in run_dir.iterdir()}
    code, out, err = cli("train", "mobilenet_v2", "--alpha", "0.5", "--data", "digits", "--out", str(run_dir),
                         "--resume")
    assert code == 2 and err.count("\n") == 1
    assert "is mobilenet_v2 alpha=0.25 classes=10 resolution=8 small_input; this run is mobilenet_v2 alpha=0.5" in err
    code, out, err = cli("train", "mobilenet_v2", *QUICK, "--out", str(run_dir))
    assert code == 2 and "already holds a training run" in err
    assert {p.name: p.read_bytes() for p in run_dir.iterdir()} == before  # nothing damaged


@pytest.fixture(scope="module")
def learned(tmp_path_factory):
    """Three epochs on all of the digits' training images (about 20 s): a model that has learned."""
    out = tmp_path_factory.mktemp("learned")
    from flopcalc.cli import main
    assert main(["train", "mobilenet_v1", "--alpha", "0.5", "--data", "digits", "--epochs", "3", "--batch-size",
                 "32", "--out", str(out), "--quiet", "--threads", "1"]) == 0
    return out


def _learned_net(path):
    net = flopcalc.nn.build("mobilenet_v1", 0.5, 10, small_input=True)
    net.load_state_dict(load(path)["model"], strict=True)
    return net.eval()


@pytest.mark.slow
def test_training_learns_the_digits(learned):
    """The loss falls every epoch and the test accuracy ends far above chance (10%): a training
    loop that does not learn (no backward pass, no optimizer step) fails here."""
    lines = [json.loads(x) for x in (learned / "metrics.jsonl").read_text().splitlines()]
    losses = [m["train_loss"] for m in lines]
    assert losses[0] > losses[1] > losses[2] and losses[2] < losses[0] / 2, losses
    assert lines[-1]["test_top1"] >= 0.7 and lines[-1]["train_top1"] > lines[0]["train_top1"]


@pytest.mark.slow
def test_evaluate_and_predict_are_the_models_own_outputs(learned, cli, tmp_path):
    """evaluate's accuracy and predict's classes and probabilities, against the checkpoint's model
    run here on the test images as the data set gives them."""
    from flopcalc.training.data import open_source, write_png
    s = open_source("digits")
    test_set = s.with_transforms(8)[1]
    xs = torch.stack([test_set[i][0] for i in range(len(test_set))])
    ys = torch.tensor([int(test_set[i][1]) for i in range(len(test_set))])
    with torch.no_grad():
        probs = torch.softmax(_learned_net(learned / "checkpoint.pt")(xs), dim=1)
    top1 = (probs.argmax(1) == ys).sum().item() / len(ys)
    top5 = (probs.topk(5, dim=1).indices == ys[:, None]).any(1).sum().item() / len(ys)

    code, out, err = cli("evaluate", str(learned / "checkpoint.pt"), "--data", "digits", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    from support import schema_errors
    assert not schema_errors(doc)
    assert (doc["images"], doc["top1"], doc["top5"]) == (359, top1, top5) and top1 >= 0.7

    files = []
    for i in range(4):
        files.append(str(tmp_path / f"digit{i}.png"))
        write_png(files[-1], s.test.images[i].float() / 255)
    code, out, err = cli("predict", str(learned / "checkpoint.pt"), *files, "--top", "3", "--format", "json")
    assert code == 0, err
    for i, p in enumerate(json.loads(out)["predictions"]):
        want = probs[i].topk(3)
        assert [t["class"] for t in p["top"]] == want.indices.tolist()
        assert [t["probability"] for t in p["top"]] == pytest.approx(want.values.tolist(), abs=1e-5)


def test_predict_images(trained, cli, tmp_path):
    from flopcalc.training.data import open_source, write_png
    s = open_source("digits")
    files = []
    for i in range(2):
        path = tmp_path / f"digit{i}.png"
        write_png(path, s.test.images[i].float() / 255)
        files.append(str(path))
    code, out, err = cli("predict", str(trained / "checkpoint.pt"), *files, "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    from support import schema_errors
    assert not schema_errors(doc)
    assert [p["image"] for p in doc["predictions"]] == files
    top = doc["predictions"][0]["top"]
    assert [t["rank"] for t in top] == [1, 2, 3, 4, 5] and all(t["name"] == str(t["class"]) for t in top)
    assert sum(t["probability"] for t in top) <= 1 + 1e-6
    assert top == sorted(top, key=lambda t: -t["probability"])


def test_predict_with_a_torchvision_state_dict(tmp_path, cli):
    """A plain state_dict (as torchvision's ImageNet files are): the width is found from its
    shapes, the classes are ImageNet's, the image goes through Resize(256) + CenterCrop(224)."""
    from flopcalc.nn import build
    from flopcalc.training.data import write_png
    path = tmp_path / "mobilenet_v2_035.pth"
    torch.save(build("mobilenet_v2", 0.35).state_dict(), path)
    write_png(tmp_path / "cat.png", torch.rand(3, 300, 240))
    code, out, err = cli("predict", str(path), str(tmp_path / "cat.png"), "--top", "3", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["model"] == "mobilenet_v2"
    assert doc["config"] == {"alpha": 0.35, "num_classes": 1000, "resolution": [224, 224], "small_input": False}
    assert len(doc["predictions"][0]["top"]) == 3
    names = json.loads((ROOT / "tests" / "data" / "imagenet_categories.json").read_text())["categories"]
    assert all(t["name"] == names[t["class"]] for t in doc["predictions"][0]["top"])


@pytest.mark.parametrize("argv, words", [
    (["train", "mobilenet_v2", "--data", "digits", "--out", "{tmp}/r", "--epochs", "0"], ["'0'", "epochs", ">= 1"]),
    (["train", "mobilenet_v2", "--data", "digits", "--out", "{tmp}/r", "--batch-size", "-1"], ["'-1'", ">= 1"]),
    (["train", "mobilenet_v2", "--data", "mnist", "--out", "{tmp}/r"], ["unknown data source 'mnist'", "digits"]),
    (["train", "mobilenet_v2", "--data", "folder:{tmp}/none", "--out", "{tmp}/r"], ["image folder", "does not exist"]),
    (["train", "mobilenet_v2", "--data", "digits", "--out", "{tmp}/file.txt"], ["is a file, not a folder"]),
    (["evaluate", "{tmp}/missing.pt", "--data", "digits"], ["checkpoint", "does not exist"]),
    (["evaluate", "{tmp}/file.txt", "--data", "digits"], ["cannot be read"]),
    (["predict", "{tmp}/file.txt", "a.png"], ["cannot be read"]),
])
def test_bad_training_input_is_one_line(tmp_path, argv, words, cli):
    (tmp_path / "file.txt").write_text("not a checkpoint")
    code, out, err = cli(*[a.format(tmp=tmp_path) for a in argv])
    assert code == 2 and out == "" and err.count("\n") == 1 and "Traceback" not in err, err
    for w in words:
        assert w in err, err
    assert (tmp_path / "file.txt").read_text() == "not a checkpoint"


def test_evaluate_refuses_data_of_another_class_count(trained, tmp_path, cli):
    from test_data import write_folder
    write_folder(tmp_path / "f", classes=("a", "b", "c"))
    code, _, err = cli("evaluate", str(trained / "checkpoint.pt"), "--data", f"folder:{tmp_path / 'f'}")
    assert code == 2 and "has 3 classes" in err and "classes=10" in err


@pytest.mark.slow
def test_two_processes_with_torchrun(tmp_path):
    """torchrun --nproc_per_node=2 -m flopcalc train: DistributedDataParallel over gloo on CPU;
    rank 0 alone writes."""
    torchrun = Path(sys.executable).with_name("torchrun")
    if not torchrun.exists():
        pytest.skip("torchrun is not installed beside this python")
    out = tmp_path / "ddp"
    env = {**ENV, "OMP_NUM_THREADS": "1"}
    r = subprocess.run([str(torchrun), "--standalone", "--nproc_per_node=2", "-m", "flopcalc", "train",
                        "mobilenet_v2", *QUICK, "--epochs", "2", "--out", str(out), "--quiet", "--format", "json"],
                       capture_output=True, text=True, cwd=ROOT, timeout=300, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    doc = json.loads(r.stdout)  # printed once, by rank 0
    assert doc["run"]["processes"] == 2
    assert [json.loads(x)["epoch"] for x in (out / "metrics.jsonl").read_text().splitlines()] == [1, 2]
    assert len((out / "results.jsonl").read_text().splitlines()) == 1
    assert load(out / "checkpoint.pt")["epoch"] == 2


def test_train_help_states_the_real_schedule():
    """The help said one-cycle while the schedule was cosine: it now reads the recipe's own default."""
    from flopcalc.cli import build_parser
    from flopcalc.training.loop import SCHEDULES, Recipe
    from flopcalc.training.schedule import DEFAULTS
    assert Recipe().schedule == "cosine" and Recipe().schedule in SCHEDULES
    sub = next(a for a in build_parser()._actions if a.dest == "command").choices["train"]
    assert "cosine by default" in sub.description and "one-cycle" not in sub.description
    helps = {a.dest: a.help for a in sub._actions}
    for key, flag in (("epochs", "epochs"), ("batch_size", "batch_size"), ("lr", "lr")):
        assert str(DEFAULTS["small"][key]) in helps[flag] and str(DEFAULTS["large"][key]) in helps[flag]
    assert "0.0001" in helps["weight_decay"] and "4e-05" in helps["weight_decay"]


def test_train_writes_through_links_in_its_folder(cli, tmp_path):
    """The user's links in --out (metrics kept elsewhere) stay links; the files they point at are written."""
    out = tmp_path / "run"
    out.mkdir()
    (out / "metrics.jsonl").symlink_to(tmp_path / "metrics_elsewhere.jsonl")
    code, stdout, err = cli("train", "mobilenet_v2", *QUICK, "--epochs", "1", "--out", str(out), "--quiet",
                            "--threads", "1")
    assert code == 0, err
    assert (out / "metrics.jsonl").is_symlink()
    assert json.loads((tmp_path / "metrics_elsewhere.jsonl").read_text().splitlines()[0])["epoch"] == 1


def test_export_a_checkpoint_with_its_trained_config(trained, cli, tmp_path):
    """export takes a checkpoint too (nn/load.py decides model or checkpoint): the graph carries the
    analyzer's macs of exactly the model trained (small input, 10 classes, 8x8)."""
    pytest.importorskip("onnx")
    code, out, err = cli("export", str(trained / "checkpoint.pt"), "--onnx", str(tmp_path / "m.onnx"),
                         "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    a = flopcalc.analyze("mobilenet_v2", 0.25, 8, 10, small_input=True)
    assert doc["equal"] and doc["graph_macs"] == a.total.macs
    assert doc["config"]["resolution"] == [8, 8] and doc["config"]["num_classes"] == 10


def test_a_resumed_run_removes_the_temporary_files_a_killed_one_left(cli, tmp_path):
    """kill -9 mid-write leaves .metrics.jsonl.XXXX.tmp (its writer cannot clean up); the run that
    resumes the folder removes it (CI once caught the kill test's run killed exactly there)."""
    out = tmp_path / "run"
    code, _, err = cli("train", "mobilenet_v1", *QUICK, "--epochs", "1", "--quiet", "--out", str(out))
    assert code == 0, err
    for name in ("metrics.jsonl", "checkpoint.pt"):
        (out / f".{name}.k1ll3d.tmp").write_text("half written")
    code, _, err = cli("train", "mobilenet_v1", *QUICK, "--epochs", "2", "--quiet", "--out", str(out), "--resume")
    assert code == 0, err
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
