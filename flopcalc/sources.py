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


# The dtypes an --input may name (after a colon): what a module's inputs are made of.
DTYPES = ("float32", "float16", "bfloat16", "float64", "int64", "int32", "int16", "int8", "uint8", "bool")


@dataclass(frozen=True)
class InputSpec:
    """One input of a recorded model: its shape, batch first, and its dtype."""

    shape: tuple
    dtype: str = "float32"

    def __str__(self) -> str:
        text = "x".join(map(str, self.shape))
        return text if self.dtype == "float32" else f"{text}:{self.dtype}"


def input_spec(text: str) -> InputSpec:
    """``--input 1x3x224x224`` or ``--input 1x128:int64``: an input's shape, batch first (each dimension
    an integer >= 1), and its dtype (default float32)."""
    shape_text, _, dtype = text.partition(":")
    try:
        dims = tuple(int(d) for d in shape_text.lower().split("x"))
    except ValueError:
        dims = ()
    if len(dims) < 1 or min(dims) < 1:
        raise SourceError(f"--input {text!r}: give the input's shape, batch first, such as 1x3x224x224 "
                          "(and a dtype after a colon, such as 1x128:int64)")
    if dtype and dtype not in DTYPES:
        raise SourceError(f"--input {text!r}: unknown dtype {dtype!r}; known: {', '.join(DTYPES)}")
    return InputSpec(dims, dtype or "float32")


def input_specs(inputs) -> tuple[InputSpec, ...]:
    """Inputs as the API takes them: one shape ``(1, 3, 224, 224)``, an InputSpec, or a list of
    either (or of ``(shape, dtype)`` pairs), one per positional input of the model."""
    if isinstance(inputs, InputSpec):
        return (inputs,)
    if isinstance(inputs, str):
        return (input_spec(inputs),)
    items = list(inputs)
    if items and all(isinstance(d, int) for d in items):
        return (InputSpec(tuple(items)),)
    out = []
    for item in items:
        if isinstance(item, InputSpec):
            out.append(item)
        elif isinstance(item, str):
            out.append(input_spec(item))
        elif isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[1], str):
            out.append(InputSpec(tuple(item[0]), item[1]))
        elif isinstance(item, (tuple, list)) and all(isinstance(d, int) for d in item):
            out.append(InputSpec(tuple(item)))
        else:
            raise SourceError(f"input {item!r}: give a shape such as (1, 3, 224, 224), or (shape, dtype)")
    if not out or any(not s.shape or min(s.shape) < 1 or s.dtype not in DTYPES for s in out):
        raise SourceError(f"inputs {inputs!r}: each a shape of integers >= 1, batch first, with a dtype of "
                          f"{', '.join(DTYPES)}")
    return tuple(out)
