"""Data sources on data in the real formats: scikit-learn's digits, a CIFAR-10 python-batches
folder written here in CIFAR's own pickle format, an ImageNet-style folder of PNG and JPEG
files; transforms; and every bad input as one line."""

from __future__ import annotations

import pickle

import pytest

import torch
import numpy as np

from flopcalc.training import transforms as T  # noqa: E402
from flopcalc.training.data import DataError, open_source, write_png  # noqa: E402


def test_digits_are_sklearns_real_digits_split_80_20():
    sklearn = pytest.importorskip("sklearn.datasets")
    s = open_source("digits")
    assert (len(s.train), len(s.test)) == (1438, 359) and s.classes == [str(d) for d in range(10)]
    ref = sklearn.load_digits()
    images = torch.cat([s.train.images, s.test.images]).float() * 16 / 255
    labels = torch.cat([s.train.labels, s.test.labels])
    # the same 1,797 images and labels as scikit-learn's load_digits (in another order)
    ours = sorted(zip(images.round().flatten(1).tolist(), labels.tolist()))
    theirs = sorted(zip(torch.tensor(ref.images).flatten(1).tolist(), ref.target.tolist()))
    assert ours == theirs
    assert open_source("digits").test.labels.tolist() == s.test.labels.tolist()  # a fixed split


def write_cifar(root, n_train=20, n_test=10, meta=True, extra=None):
    """CIFAR-10's python version: pickled dicts with bytes keys, data N x 3072 uint8, labels."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)

    def batch(n, name):
        doc = {b"batch_label": name.encode(), b"labels": [int(v) for v in rng.integers(0, 10, n)],
               b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"filenames": [b"x.png"] * n}
        with (root / name).open("wb") as f:
            pickle.dump(extra or doc, f, protocol=2)

    for i in range(1, 6):
        batch(n_train // 5, f"data_batch_{i}")
    batch(n_test, "test_batch")
    if meta:
        with (root / "batches.meta").open("wb") as f:
            pickle.dump({b"label_names": [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog",
                                          b"horse", b"ship", b"truck"], b"num_vis": 3072}, f, protocol=2)


def test_cifar10_folder(tmp_path):
    write_cifar(tmp_path / "c")
    s = open_source(f"cifar10:{tmp_path / 'c'}")
    assert (len(s.train), len(s.test), s.image_size) == (20, 10, (32, 32)) and s.classes[0] == "airplane"
    train, test = s.with_transforms(32)
    x, y = train[0]
    assert x.shape == (3, 32, 32) and 0 <= y < 10
    with (tmp_path / "c" / "data_batch_1").open("rb") as f:
        raw = pickle.load(f, encoding="bytes")
    want = torch.tensor(raw[b"data"][0].reshape(3, 32, 32), dtype=torch.float32) / 255
    assert torch.equal(s.train.images[0].float() / 255, want)  # channel-major, as CIFAR stores it


class Payload:
    """A pickle that would run code when loaded."""

    def __reduce__(self):
        import os
        return (os.system, ("echo pwned > pwned.txt",))


def test_cifar10_batch_with_code_is_refused_not_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_cifar(tmp_path / "c")
    with (tmp_path / "c" / "test_batch").open("wb") as f:
        pickle.dump({b"data": Payload(), b"labels": [1]}, f, protocol=2)
    with pytest.raises(DataError, match=r"test_batch.*not a CIFAR-10 python batch: refused global (posix|os)\.system"):
        open_source(f"cifar10:{tmp_path / 'c'}")
    assert not (tmp_path / "pwned.txt").exists()


def write_folder(root, classes=("cat", "dog"), n=3, size=(20, 30)):
    g = torch.Generator().manual_seed(0)
    for split in ("train", "val"):
        for c in classes:
            d = root / split / c
            d.mkdir(parents=True, exist_ok=True)
            for k in range(n):
                img = torch.rand(3, *size, generator=g)
                if k % 2:
                    from PIL import Image
                    arr = (img * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
                    Image.fromarray(arr).save(d / f"{k}.jpg")
                else:
                    write_png(d / f"{k}.png", img)
            (d / "notes.txt").write_text("not an image")


def test_image_folder(tmp_path):
    write_folder(tmp_path / "f")
    s = open_source(f"folder:{tmp_path / 'f'}")
    assert s.classes == ["cat", "dog"] and len(s.train) == 6 and len(s.test) == 6
    train, test = s.with_transforms(16)
    assert train[0][0].shape == (3, 16, 16) and test[5] [0].shape == (3, 16, 16) and test[5][1] == 1
    assert s.image_size is None and s.default_resolution() == 224


@pytest.mark.parametrize("make, source, words", [
    (None, "imagenet", ["unknown data source 'imagenet'", "accepted: digits, cifar10:DIR"]),
    (None, "cifar10", ["needs a folder: cifar10:DIR"]),
    (None, "cifar10:{tmp}/nowhere", ["CIFAR-10 folder", "does not exist"]),
    (lambda p: write_cifar(p / "c", meta=False), "cifar10:{tmp}/c", ["lacks batches.meta"]),
    (lambda p: write_cifar(p / "c", extra={b"data": np.zeros((2, 5), np.uint8), b"labels": [0, 1]}),
     "cifar10:{tmp}/c", ["data_batch_1", "lacks data (N x 3072 uint8) and N labels"]),
    (lambda p: (write_cifar(p / "c"), (p / "c" / "data_batch_3").write_bytes(b"garbage")),
     "cifar10:{tmp}/c", ["data_batch_3", "not a CIFAR-10 python batch"]),
    (None, "folder:{tmp}/nowhere", ["image folder", "does not exist"]),
    (lambda p: (p / "f" / "train").mkdir(parents=True), "folder:{tmp}/f", ["has no val/ subfolder"]),
    (lambda p: ((p / "f" / "train").mkdir(parents=True), (p / "f" / "val").mkdir()), "folder:{tmp}/f",
     ["has no class subfolders"]),
    (lambda p: (write_folder(p / "f"), (p / "f" / "val" / "bird").mkdir()), "folder:{tmp}/f",
     ["class folder", "bird", "no counterpart"]),
])
def test_bad_data_sources(tmp_path, make, source, words):
    if make:
        make(tmp_path)
    with pytest.raises(DataError) as e:
        open_source(source.format(tmp=tmp_path))
    assert "\n" not in str(e.value)
    for w in words:
        assert w in str(e.value), str(e.value)


def test_corrupt_image_names_the_file(tmp_path):
    write_folder(tmp_path / "f")
    (tmp_path / "f" / "train" / "cat" / "0.png").write_bytes(b"\x89PNG broken")
    s = open_source(f"folder:{tmp_path / 'f'}")
    with pytest.raises(DataError, match=r"0\.png' cannot be decoded"):
        s.train[0]


def test_transforms():
    torch.manual_seed(0)
    x = torch.rand(3, 10, 12)
    assert T.RandomCrop(8, padding=2)(x).shape == (3, 8, 8)
    assert torch.equal(T.CenterCrop(4)(x), x[:, 3:7, 4:8])
    assert T.Resize(5)(x).shape == (3, 5, 6) and T.Resize((7, 9))(x).shape == (3, 7, 9)
    assert T.RandomResizedCrop(6)(x).shape == (3, 6, 6)
    assert torch.equal(T.RandomHorizontalFlip(1.0)(x), x.flip(-1))
    n = T.Normalize((0.5, 0.5, 0.5), (0.25, 0.25, 0.25))(x)
    assert torch.allclose(n, (x - 0.5) / 0.25)
    assert T.Grayscale3()(torch.rand(1, 4, 4)).shape == (3, 4, 4)
    torch.manual_seed(3)
    a = T.RandomCrop(8, padding=2)(x)
    torch.manual_seed(3)
    assert torch.equal(a, T.RandomCrop(8, padding=2)(x))  # the global seed replays a crop


def test_cifar_uses_the_cifar_recipe_and_digits_none(tmp_path):
    s = open_source("digits")
    names = [type(t).__name__ for t in s.transforms(8, True).transforms]
    assert names == ["Grayscale3", "Normalize"]  # a shift or a flip measured worse on 8x8 digits
    write_cifar(tmp_path / "c")
    c = open_source(f"cifar10:{tmp_path / 'c'}")
    assert [type(t).__name__ for t in c.transforms(32, True).transforms] == \
        ["Grayscale3", "RandomCrop", "RandomHorizontalFlip", "Normalize"]
    assert [type(t).__name__ for t in s.transforms(32, False).transforms] == ["Grayscale3", "Resize", "Normalize"]


def test_mixup_and_cutmix():
    from flopcalc.training.mix import cutmix, mixed_loss, mixup
    torch.manual_seed(0)
    x = torch.rand(8, 3, 10, 10)  # random values: two images never share a pixel
    y = torch.arange(8)
    xm, ya, yb, lam = mixup(x, y)
    assert 0 <= lam <= 1 and torch.equal(ya, y)
    assert torch.allclose(xm, lam * x + (1 - lam) * x[yb])  # yb = y[perm], and image i is y = i
    for seed in range(5):
        torch.manual_seed(seed)
        xc, ya, yb, lam = cutmix(x, y)
        i = next(k for k in range(8) if yb[k] != k)  # an image mixed with another
        pasted = (xc[i] == x[yb[i]]).all(dim=0)
        kept = (xc[i] == x[i]).all(dim=0)
        assert torch.equal(pasted | kept, torch.ones(10, 10, dtype=torch.bool))  # every pixel from one of the two
        rows, cols = pasted.any(dim=1).nonzero().flatten(), pasted.any(dim=0).nonzero().flatten()
        if len(rows):  # the pasted pixels form one box, and lam is exactly the share left unpasted
            assert pasted[rows.min():rows.max() + 1, cols.min():cols.max() + 1].all()
        assert lam == pytest.approx(1 - pasted.float().mean().item())
    loss = torch.nn.CrossEntropyLoss()
    logits = torch.randn(8, 8)
    assert torch.isclose(mixed_loss(loss, logits, ya, yb, 1.0), loss(logits, ya))
    assert torch.isclose(mixed_loss(loss, logits, ya, yb, 0.25), 0.25 * loss(logits, ya) + 0.75 * loss(logits, yb))
