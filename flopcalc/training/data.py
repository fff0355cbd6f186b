"""Data sources for ``flopcalc train``, ``evaluate`` and the experiments (``--data``):

- ``digits``: the 1,797 real 8x8 handwritten digits that scikit-learn ships (read from its
  ``digits.csv.gz``), split 80/20 into train and test, class by class, with a fixed seed;
- ``cifar10:DIR``: CIFAR-10's python batches (``data_batch_1`` .. ``data_batch_5``,
  ``test_batch``, ``batches.meta``), unpickled by a restricted unpickler that admits only the
  numpy arrays the format holds, so a file carrying code cannot run it;
- ``folder:DIR``: ImageNet-style class folders of PNG or JPEG images, ``DIR/train/<class>/``
  and ``DIR/val/<class>/`` (torchvision's ImageFolder layout).

Images are float tensors (C, H, W) in [0, 1]; each source says its native size, its channels
(grayscale digits are repeated into the models' three) and its normalization, and builds the
usual augmentation for training and the plain pipeline for evaluation at any resolution.
"""

from __future__ import annotations

import gzip
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..errors import UserError, install_hint
from torch.utils.data import Dataset

from . import transforms as T
from ..scaling import DEFAULT_RESOLUTION

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
SOURCES_TEXT = "digits, cifar10:DIR (CIFAR-10's python batches), folder:DIR (DIR/train/<class>/*.png|jpg and DIR/val)"
DIGITS_SPLIT_SEED = 0  # the held-out 20% is the same for every run, whatever --seed


class DataError(UserError):
    """Data that cannot be used; the message is one line naming the file or folder."""


class TensorImages(Dataset):
    """Images held in memory as one uint8 tensor (N, C, H, W)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, transform=None):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        x = self.images[i].float().div_(255.0)
        return (self.transform(x) if self.transform else x), int(self.labels[i])


class ImageFiles(Dataset):
    """Image files decoded on demand (with Pillow), RGB."""

    def __init__(self, files: list[Path], labels: list[int], transform=None):
        self.files, self.labels, self.transform = files, labels, transform

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int):
        x = load_image(self.files[i], channels=3)
        return (self.transform(x) if self.transform else x), self.labels[i]


def load_image(path: Path, channels: int = 3) -> torch.Tensor:
    """A PNG or JPEG file as a float tensor (channels, H, W) in [0, 1]; DataError if it cannot be decoded."""
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise DataError(f"reading image files needs Pillow: {install_hint('train')}") from None
    try:
        with Image.open(path) as im:
            im = im.convert("L" if channels == 1 else "RGB")
            data = torch.frombuffer(bytearray(im.tobytes()), dtype=torch.uint8)
            w, h = im.size
    except FileNotFoundError:
        raise DataError(f"image {str(path)!r} does not exist") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise DataError(f"image {str(path)!r} cannot be decoded: {e}") from None
    return data.view(h, w, channels).permute(2, 0, 1).float().div_(255.0)


@dataclass
class DataSource:
    """A data set: its splits (images in [0, 1], no transform yet), class names, native size,
    channels and normalization."""

    name: str
    text: str
    classes: list[str]
    image_size: tuple[int, int] | None  # None: the images' own sizes vary (a folder)
    channels: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    train: Dataset = field(repr=False)
    test: Dataset = field(repr=False)

    def default_resolution(self) -> int:
        return self.image_size[0] if self.image_size else DEFAULT_RESOLUTION

    def transforms(self, resolution: int, train: bool) -> T.Compose:
        """The training augmentation or the evaluation pipeline at ``resolution``."""
        return make_transforms(self.name, resolution, train, self.mean, self.std, self.image_size)

    def with_transforms(self, resolution: int) -> tuple[Dataset, Dataset]:
        self.train.transform = self.transforms(resolution, True)
        self.test.transform = self.transforms(resolution, False)
        return self.train, self.test


def make_transforms(name: str, resolution: int, train: bool, mean, std, image_size=None) -> T.Compose:
    """The pipelines, by source. digits: none (a one-pixel shift cuts an 8x8 digit's edge and
    measured 1-3 points worse; no flip: digits are not symmetric); CIFAR-10: RandomCrop(32,
    padding=4) and a horizontal flip; folders: RandomResizedCrop and a flip for training,
    Resize(resolution / 0.875) + CenterCrop to evaluate (ImageNet's 256 / 224). Small images are
    upscaled (bilinear) to ``resolution``."""
    norm = T.Normalize(mean if len(mean) == 3 else mean * 3, std if len(std) == 3 else std * 3)
    if name == "folder":
        if train:
            return T.Compose([T.RandomResizedCrop(resolution), T.RandomHorizontalFlip(), norm])
        return T.Compose([T.Resize(round(resolution / 0.875)), T.CenterCrop(resolution), norm])
    native = image_size[0] if image_size else resolution
    steps: list = [T.Grayscale3()]
    if train and name == "cifar10":
        steps += [T.RandomCrop(native, padding=4), T.RandomHorizontalFlip()]
    if resolution != native:
        steps.append(T.Resize((resolution, resolution)))
    return T.Compose(steps + [norm])


def parse_source(text: str) -> tuple[str, str | None]:
    name, sep, arg = text.partition(":")
    if name == "digits" and not sep:
        return name, None
    if name in ("cifar10", "folder") and sep and arg:
        return name, arg
    if name in ("cifar10", "folder"):
        raise DataError(f"data source {text!r} needs a folder: {name}:DIR")
    raise DataError(f"unknown data source {text!r}; accepted: {SOURCES_TEXT}")


def open_source(text: str, subset: int | None = None) -> DataSource:
    """The data set ``--data`` names. ``subset`` keeps the first N training images (quick trials)."""
    name, arg = parse_source(text)
    source = {"digits": _digits, "cifar10": _cifar10, "folder": _folder}[name](text, arg)
    if subset is not None:
        source.train = _first(source.train, subset)
    return source


def _first(ds: Dataset, n: int) -> Dataset:
    if isinstance(ds, TensorImages):
        return TensorImages(ds.images[:n], ds.labels[:n], ds.transform)
    assert isinstance(ds, ImageFiles)
    return ImageFiles(ds.files[:n], ds.labels[:n], ds.transform)


# --------------------------------------------------------------------------- digits


def digits_arrays() -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's 1,797 digits as uint8 (N, 1, 8, 8) in 0..16 and labels, read from the
    package's own data file (importing sklearn itself takes most of a second)."""
    import importlib.util
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"the digits data set ships with scikit-learn: {install_hint('train')}")
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "digits.csv.gz"
    try:
        rows = gzip.decompress(path.read_bytes()).decode().split()
    except OSError as e:
        raise DataError(f"scikit-learn's digits file {str(path)!r} cannot be read: {e}") from None
    values = torch.tensor([[int(float(v)) for v in row.split(",")] for row in rows], dtype=torch.uint8)
    if values.shape != (1797, 65):
        raise DataError(f"scikit-learn's digits file {str(path)!r} holds {tuple(values.shape)} values, not 1797 x 65")
    return values[:, :64].reshape(-1, 1, 8, 8), values[:, 64].long()


def _digits(text: str, arg) -> DataSource:
    images, labels = digits_arrays()
    # stratified: 80% of each digit's images train, 20% test, drawn with a fixed generator
    g = torch.Generator().manual_seed(DIGITS_SPLIT_SEED)
    train_parts, test_parts = [], []
    for digit in range(10):
        idx = (labels == digit).nonzero().flatten()
        idx = idx[torch.randperm(len(idx), generator=g)]
        cut = round(0.8 * len(idx))
        train_parts.append(idx[:cut])
        test_parts.append(idx[cut:])
    train = torch.cat(train_parts)[torch.randperm(sum(len(p) for p in train_parts), generator=g)]
    test = torch.cat(test_parts)
    # stored scaled to 0..255 (x * 255 / 16) so that every source gives [0, 1] the same way
    scaled = (images.float() * (255.0 / 16.0)).round().to(torch.uint8)
    pixels = scaled[train].float() / 255.0
    mean, std = float(pixels.mean()), float(pixels.std())
    return DataSource("digits", text, [str(d) for d in range(10)], (8, 8), 1, (mean,), (std,),
                  TensorImages(scaled[train], labels[train]), TensorImages(scaled[test], labels[test]))


# --------------------------------------------------------------------------- CIFAR-10


class _ArraysOnly(pickle.Unpickler):
    """CIFAR's batches are pickles; admit only what they hold (numpy arrays), so that a file
    carrying code is refused instead of run."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
               ("numpy._core.multiarray", "scalar"), ("_codecs", "encode")}

    def find_class(self, module: str, name: str):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refused global {module}.{name}")


def _unpickle(path: Path) -> dict:
    try:
        with path.open("rb") as f:
            doc = _ArraysOnly(f, encoding="bytes").load()
    except FileNotFoundError:
        raise DataError(f"CIFAR-10 file {str(path)!r} is missing") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as e:
        raise DataError(f"CIFAR-10 file {str(path)!r} is not a CIFAR-10 python batch: {e}") from None
    if not isinstance(doc, dict):
        raise DataError(f"CIFAR-10 file {str(path)!r} holds a {type(doc).__name__}, not a batch dictionary")
    return {(k.decode() if isinstance(k, bytes) else k): v for k, v in doc.items()}


def _cifar_batch(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    import numpy as np
    doc = _unpickle(path)
    data, labels = doc.get("data"), doc.get("labels")
    if not isinstance(data, np.ndarray) or data.ndim != 2 or data.shape[1] != 3072 or labels is None \
            or len(labels) != data.shape[0]:
        raise DataError(f"CIFAR-10 file {str(path)!r} lacks data (N x 3072 uint8) and N labels")
    labels_t = torch.as_tensor(np.asarray(labels, dtype=np.int64))
    if len(labels_t) and (labels_t.min() < 0 or labels_t.max() > 9):
        raise DataError(f"CIFAR-10 file {str(path)!r} has labels outside 0..9")
    return torch.from_numpy(np.ascontiguousarray(data, dtype=np.uint8)).view(-1, 3, 32, 32), labels_t


def _cifar10(text: str, folder: str) -> DataSource:
    root = Path(folder)
    if not root.is_dir():
        raise DataError(f"CIFAR-10 folder {folder!r} does not exist")
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch", "batches.meta"]
    missing = [n for n in names if not (root / n).is_file()]
    if missing:
        raise DataError(f"CIFAR-10 folder {folder!r} lacks {', '.join(missing)}; it needs CIFAR-10's python "
                        "batches: data_batch_1 .. data_batch_5, test_batch, batches.meta")
    meta = _unpickle(root / "batches.meta")
    label_names = [n.decode() if isinstance(n, bytes) else str(n) for n in meta.get("label_names", [])]
    if len(label_names) != 10:
        raise DataError(f"CIFAR-10 file {str(root / 'batches.meta')!r} lacks its 10 label_names")
    parts = [_cifar_batch(root / f"data_batch_{i}") for i in range(1, 6)]
    test = _cifar_batch(root / "test_batch")
    train = TensorImages(torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts]))
    return DataSource("cifar10", text, label_names, (32, 32), 3, CIFAR_MEAN, CIFAR_STD, train,
                  TensorImages(*test))


# --------------------------------------------------------------------------- image folders


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _folder(text: str, folder: str) -> DataSource:
    root = Path(folder)
    if not root.is_dir():
        raise DataError(f"image folder {folder!r} does not exist")
    for split in ("train", "val"):
        if not (root / split).is_dir():
            raise DataError(f"image folder {folder!r} has no {split}/ subfolder; it needs "
                            f"{folder}/train/<class>/*.png|jpg and {folder}/val/<class>/...")
    classes = sorted(p.name for p in (root / "train").iterdir() if p.is_dir())
    if not classes:
        raise DataError(f"image folder {str(root / 'train')!r} has no class subfolders")
    splits = {}
    for split in ("train", "val"):
        files, labels = [], []
        for d in sorted(p for p in (root / split).iterdir() if p.is_dir()):
            if d.name not in classes:
                raise DataError(f"class folder {str(d)!r} has no counterpart in {str(root / 'train')!r}")
            found = _images(d)
            if split == "train" and not found:
                raise DataError(f"class folder {str(d)!r} holds no .png or .jpg images")
            files += found
            labels += [classes.index(d.name)] * len(found)
        if not files:
            raise DataError(f"image folder {str(root / split)!r} holds no .png or .jpg images")
        splits[split] = ImageFiles(files, labels)
    return DataSource("folder", text, classes, None, 3, IMAGENET_MEAN, IMAGENET_STD, splits["train"], splits["val"])


def write_png(path: Path, image: torch.Tensor) -> None:
    """A (C, H, W) float image in [0, 1] as a PNG file (for tests and examples)."""
    from PIL import Image
    arr = (image.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).contiguous()
    mode = "L" if arr.shape[2] == 1 else "RGB"
    Image.frombytes(mode, (arr.shape[1], arr.shape[0]), bytes(arr.flatten().tolist())).save(path)

