"""Where a model flopcalc records comes from, parsed without importing torch: ``torchvision:NAME``,
``timm:NAME``, ``package.module:callable`` or ``path/to/file.py:callable`` (a factory returning an
``nn.Module``), with keyword arguments from ``--model-arg key=value``; or an ONNX file (``.onnx``).
The command line reads a MODEL argument here first; ``flopcalc.nn.load.load_module`` builds what
it names, ``flopcalc.nn.onnx_record`` reads a file."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import UserError

DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


class SourceError(UserError):
    pass


@dataclass(frozen=True)
class ModuleSource:
    """A model flopcalc records by running it (on fake tensors) rather than walking its spec."""

    text: str                      # as the user wrote it
    kind: str                      # "torchvision", "timm", "module" (package.module:callable), "file" or "onnx"
    target: str                    # the builder's name, the module path or the file path
    attr: str = ""                 # the callable in a module or file
    kwargs: dict = field(default_factory=dict, hash=False, compare=False)

    @property
    def name(self) -> str:
        """The name a table shows: the builder's for torchvision and timm, else the source as written."""
        return self.target if self.kind in ("torchvision", "timm") else self.text


def parse_source(text: str) -> ModuleSource | None:
    """The source ``text`` names, or None when it names no module (a zoo name, a spec file)."""
    if text.lower().endswith(".onnx"):
        return ModuleSource(text, "onnx", text)
    head, sep, tail = text.partition(":")
    if not sep:
        return None
    if head in ("torchvision", "timm"):
        if not DOTTED.match(tail):
            raise SourceError(f"{text!r}: {head}:NAME needs a builder's name, such as {head}:resnet50")
        return ModuleSource(text, head, tail)
    target, _, attr = text.rpartition(":")
    if not DOTTED.match(attr):
        raise SourceError(f"{text!r}: give the callable after the colon, as module.path:factory or file.py:factory")
    if target.endswith(".py"):
        return ModuleSource(text, "file", target, attr)
    if DOTTED.match(target):
        return ModuleSource(text, "module", target, attr)
    raise SourceError(f"{text!r} names no model: a zoo name, a spec file (.toml), torchvision:NAME, timm:NAME, "
                      "package.module:callable or file.py:callable")


def model_arg(text: str) -> tuple[str, object]:
    """``--model-arg key=value``: the value a Python literal (``num_classes=10``, ``pretrained=False``,
    ``width=0.5``), else the text itself."""
    key, sep, value = text.partition("=")
    if not sep or not key.isidentifier():
        raise SourceError(f"--model-arg {text!r}: give key=value, such as num_classes=10")
    import ast  # here: the command line parses its arguments without it
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key, value


def input_shape(text: str) -> tuple[int, ...]:
    """``--input 1x3x224x224``: the input's shape, batch first, each dimension an integer >= 1."""
    try:
        dims = tuple(int(d) for d in text.lower().split("x"))
    except ValueError:
        dims = ()
    if len(dims) < 2 or min(dims) < 1:
        raise SourceError(f"--input {text!r}: give the input's shape, batch first, such as 1x3x224x224")
    return dims
