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
import warnings
import zipfile
from pathlib import Path

import torch

from ..errors import UserError, one_line
from ..files import write_bytes

FORMAT = "flopcalc-checkpoint-1"


class CheckpointError(UserError):
    """A checkpoint that cannot be used; the message is one line."""


def save(path: str | Path, payload: dict) -> None:
    """Write ``payload`` to ``path`` atomically: a kill at any moment leaves either the old file
    or the new one, whole."""
    buf = io.BytesIO()
    torch.save({"format": FORMAT, **payload}, buf)
    write_bytes(path, buf.getvalue())


def load(path: str | Path) -> dict:
    """A checkpoint file's contents, tensors and plain data only (``weights_only=True``)."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist")
    if path.is_dir():
        raise CheckpointError(f"checkpoint {str(path)!r} is a directory; give the checkpoint.pt file in it")
    try:
        with warnings.catch_warnings():  # torch's warnings about the file; the refusal below says it in one line
            warnings.simplefilter("ignore")
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
        raise CheckpointError(f"checkpoint {str(path)!r} cannot be read: it is truncated or damaged "
                              f"({_first_sentence(e)})") from None
    if not isinstance(doc, dict):
        raise CheckpointError(f"checkpoint {str(path)!r} holds a {type(doc).__name__}, not a checkpoint or a "
                              "state_dict")
    return doc


def _first_sentence(e: BaseException) -> str:
    """A library message's first sentence, short: torch's run to several sentences of advice."""
    text = (str(e).strip().splitlines() or [type(e).__name__])[0]
    text = text.split(". ")[0].rstrip(".")
    return text if len(text) <= 120 else text[:117] + "..."


def load_weights(net: torch.nn.Module, state: dict, path: str | Path, what: str) -> None:
    """``net.load_state_dict(state, strict=True)``, refusing in one line, naming the file, a key and
    both shapes, where a tensor is missing, extra or of another shape (``what``: the model)."""
    want = net.state_dict()
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint {str(path)!r} holds no state_dict for {what}")
    for key, value in state.items():
        if key in want and torch.is_tensor(value) and tuple(value.shape) != tuple(want[key].shape):
            raise CheckpointError(f"checkpoint {str(path)!r}: tensor {key!r} has shape {_shape(value)}; "
                                  f"{what} needs {_shape(want[key])}")
    missing = [k for k in want if k not in state]
    extra = [k for k in state if k not in want]
    if missing or extra:
        parts = ([f"{len(missing)} tensors missing (first {missing[0]!r})"] if missing else []) + (
            [f"{len(extra)} tensors the model does not have (first {extra[0]!r})"] if extra else [])
        raise CheckpointError(f"checkpoint {str(path)!r} does not fit {what}: {'; '.join(parts)}")
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise CheckpointError(f"checkpoint {str(path)!r} does not fit {what}: {_first_sentence(e)}") from None


def _shape(t: torch.Tensor) -> str:
    return "x".join(map(str, t.shape)) or "a scalar"


def is_flopcalc(doc: dict) -> bool:
    return doc.get("format") == FORMAT and isinstance(doc.get("config"), dict) and "model" in doc


def is_state_dict(doc: dict) -> bool:
    return bool(doc) and all(isinstance(k, str) and torch.is_tensor(v) for k, v in doc.items())


def config_line(config: dict) -> str:
    """``mobilenet_v2 alpha=0.5 classes=10 resolution=8 small_input``: what a checkpoint holds."""
    parts = [config["model"], f"alpha={config['alpha']:g}", f"classes={config['num_classes']}",
             f"resolution={config['resolution']}"]
    if config.get("small_input"):
        parts.append("small_input")
    return " ".join(parts)


def json_config(config: dict) -> dict:
    """A checkpoint's model config as every command's JSON gives a config: the model is named apart,
    the resolution is ``[height, width]``."""
    r = config["resolution"]
    return {"alpha": config["alpha"], "resolution": [r, r], "num_classes": config["num_classes"],
            "small_input": bool(config.get("small_input"))}


IDENTITY = ("model", "family", "alpha", "num_classes", "resolution", "small_input")


def check_same_model(path: str | Path, stored: dict, wanted: dict) -> None:
    """Refuse a checkpoint of another model, width, class count, resolution or input adaptation,
    naming both configs."""
    diff = [k for k in IDENTITY if stored.get(k) != wanted.get(k)]
    if diff:
        raise CheckpointError(f"checkpoint {str(path)!r} is {config_line(stored)}; this run is {config_line(wanted)} "
                              f"(they differ in {', '.join(diff)})")


# ------------------------------------------------------------------------ the model a checkpoint holds


def family_from_config(config: dict):
    """The zoo name or the Family a checkpoint's model was built from."""
    if config.get("family"):
        from ..specfile import loads
        return loads(config["family"], f"<the checkpoint's {config['model']} spec>")
    return config["model"]


def build_model(config: dict) -> torch.nn.Module:
    from ..nn import build
    return build(family_from_config(config), config["alpha"], config["num_classes"],
                 small_input=config["small_input"])


def model_from_checkpoint(path, doc: dict) -> torch.nn.Module:
    """The model a flopcalc checkpoint describes, with its weights; a config or a tensor that does not
    fit is one line naming the file."""
    config = doc["config"]
    try:
        net = build_model(config)
    except KeyError as e:
        raise CheckpointError(f"checkpoint {str(path)!r} has a config without {e}") from None
    except (ValueError, TypeError) as e:  # UserError and SpecError included
        raise CheckpointError(f"checkpoint {str(path)!r} has a config that cannot be used: {one_line(e)}") \
            from None
    load_weights(net, doc["model"], path, config_line(config))
    return net
