"""Checkpoints that lose nothing: written atomically (temporary file, fsync, rename), read with
``torch.load(weights_only=True)`` only, so a file that carries pickled code is refused and its
code never runs.

A flopcalc checkpoint is a dict of tensors and plain data: ``format``, ``config`` (everything
needed to rebuild the model and its input pipeline: model, spec-file text, alpha, classes,
resolution, normalization, class names), ``model`` (the state_dict), and for ``--resume``
``optimizer``, ``scheduler``, ``epoch``, ``rng``, ``metrics`` (every epoch's line) and ``run``.
A plain state_dict (torchvision's ImageNet files) is read too, for inference.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import torch

from ..errors import UserError

from ..files import atomic_write

FORMAT = "flopcalc-checkpoint-1"


class CheckpointError(UserError):
    """A checkpoint that cannot be used; the message is one line."""


def save(path: str | Path, payload: dict) -> None:
    """Write ``payload`` to ``path`` atomically: a kill at any moment leaves either the old file
    or the new one, whole."""
    buf = io.BytesIO()
    torch.save({"format": FORMAT, **payload}, buf)
    atomic_write(path, lambda f: f.write(buf.getvalue()))


def load(path: str | Path) -> dict:
    """A checkpoint file's contents, tensors and plain data only (``weights_only=True``)."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist")
    if path.is_dir():
        raise CheckpointError(f"checkpoint {str(path)!r} is a directory; give the checkpoint.pt file in it")
    try:
        doc = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        # torch's message is long; keep the line that says what it met
        lines = [x.strip() for x in str(e).splitlines() if x.strip()]
        refused = next((x for x in lines if "GLOBAL" in x or "Unsupported global" in x), None)
        if refused is not None:
            raise CheckpointError(f"checkpoint {str(path)!r} is refused: it holds pickled objects that are not "
                                  f"tensors or plain data, and is loaded with weights_only=True so they never run "
                                  f"({refused})") from None
        detail = next((x for x in lines if x.startswith("Unsupported")), lines[-1] if lines else "")
        raise CheckpointError(f"checkpoint {str(path)!r} cannot be read: not a PyTorch checkpoint ({detail})") from None
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError, KeyError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise CheckpointError(f"checkpoint {str(path)!r} cannot be read: {first}") from None
    if not isinstance(doc, dict):
        raise CheckpointError(f"checkpoint {str(path)!r} holds a {type(doc).__name__}, not a checkpoint or a "
                              "state_dict")
    return doc


def is_flopcalc(doc: dict) -> bool:
    return doc.get("format") == FORMAT and isinstance(doc.get("config"), dict) and "model" in doc


def is_state_dict(doc: dict) -> bool:
    return bool(doc) and all(isinstance(k, str) and torch.is_tensor(v) for k, v in doc.items())


def describe(config: dict) -> str:
    """``mobilenet_v2 alpha=0.5 classes=10 resolution=8 small_input``: what a checkpoint holds."""
    parts = [config["model"], f"alpha={config['alpha']:g}", f"classes={config['num_classes']}",
             f"resolution={config['resolution']}"]
    if config.get("small_input"):
        parts.append("small_input")
    return " ".join(parts)


IDENTITY = ("model", "family", "alpha", "num_classes", "resolution", "small_input")


def check_same_model(path: str | Path, stored: dict, wanted: dict) -> None:
    """Refuse a checkpoint of another model, width, class count, resolution or input adaptation,
    naming both configs."""
    diff = [k for k in IDENTITY if stored.get(k) != wanted.get(k)]
    if diff:
        raise CheckpointError(f"checkpoint {str(path)!r} is {describe(stored)}; this run is {describe(wanted)} "
                              f"(they differ in {', '.join(diff)})")
