"""What a running command does beside its work: the one door to torch (import it or say in one line
how to install it; set its threads), the progress line, and the load of other processes."""

from __future__ import annotations

import argparse
import sys

from ..errors import UsageError, install_hint


def torch_door(args: argparse.Namespace, extras: str = "torch", needs: tuple[str, ...] = ()) -> int:
    """The one door to torch and the extras: import torch (and each module of ``needs``) or say in
    one line how to install them; set torch's threads. The thread count taken."""
    import importlib
    from .. import cpuload
    cpuload.mark()  # other processes' load is measured over torch's import, which follows
    try:
        from ..nn.runtime import set_threads
        for module in needs:
            importlib.import_module(module)
    except ImportError as e:
        what = ", ".join(("torch",) + needs)
        raise UsageError(f"flopcalc {args.command}: error: needs {what} ({e}); install with: "
                         f"{install_hint(extras)}") from None
    # what the imports made lives as long as this process: out of the garbage collector's way, whose
    # every full collection would walk it again (a fifth of EfficientNet-B7's count, each time)
    import gc
    gc.freeze()
    return set_threads(getattr(args, "threads", None))


def progress_of(args: argparse.Namespace, what: str | None = None, total: int = 0):
    from ..progress import Progress
    return Progress(what or args.command, total, enabled=getattr(args, "progress", None))


def say_load(meter, command: str):
    """Other processes' load around a timing; one line on stderr when the machine was busy."""
    load = meter.stop()
    warning = load.warning(command)
    if warning:
        sys.stderr.write(warning + "\n")
    return load


def recorded_analysis(args: argparse.Namespace, convention: str | None = None, **zoo_only):
    """A recorded model (a PyTorch module from its source, on fake tensors, or an ONNX file read)
    as the analyzer's Analysis, counted as ``convention`` (default --convention). ``zoo_only`` are
    the command's options that describe a zoo model; any given is refused in one line."""
    given = [flag for flag, value in (("--alpha", args.alpha), ("--resolution", args.resolution), ("--rho", args.rho),
                                      ("--classes", args.classes),
                                      *((f"--{k.replace('_', '-')}", v) for k, v in zoo_only.items())) if value]
    command = f"flopcalc {args.command}"
    if given:
        verb = "describes" if len(given) == 1 else "describe"
        raise UsageError(f"{command}: error: {', '.join(given)} {verb} a zoo model or a spec file; a recorded "
                         "module is built by its own code: give --input SHAPE and --model-arg KEY=VALUE instead")
    from dataclasses import replace
    batch = getattr(args, "batch", 1)
    if args.input and batch != 1:
        raise UsageError(f"{command}: error: --batch with --input: give the batch as --input's first dimension")
    source = replace(args.model, kwargs=dict(args.model_arg))
    if source.kind == "onnx":
        if args.model_arg:
            raise UsageError(f"{command}: error: --model-arg is for a module's builder, not an ONNX file")
        torch_door(args, "onnx", needs=("onnx",))
    else:
        torch_door(args)
    from ..nn.load import analyze_recorded
    return analyze_recorded(source, tuple(args.input) if args.input else None, convention or args.convention,
                            batch=batch)
