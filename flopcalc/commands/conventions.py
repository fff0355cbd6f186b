"""``flopcalc conventions``, ``reconcile`` and ``published``: what each counter counts, and why."""

from __future__ import annotations

import argparse

from ..errors import ExitStatus, UsageError
from ..output import emit, render
from .args import (add_config_args, add_format,
                   add_model, add_runtime_args, alpha_of, resolution_of)
from .runtime import progress_of, recorded_analysis, torch_door


def add_conventions(sub) -> None:
    p = sub.add_parser("conventions", help="what each counting convention counts")
    add_format(p)


def add_reconcile(sub) -> None:
    p = sub.add_parser("reconcile", help="the model under every counting convention, differences by cause",
                       description="The model's params and operation count as every convention counts them "
                                   "(flopcalc, the papers, TF-Slim, Keras, fvcore, FlopCounterMode, ptflops, "
                                   "thop, torchinfo), each difference from flopcalc's default split by cause, "
                                   "the causes adding up exactly.")
    add_model(p, sources=True)
    add_config_args(p)
    p.add_argument("--live", action="store_true",
                   help="also run every installed counter on the real model and print what it measures beside "
                        "the prediction (exit 1 if any differs; needs flopcalc[torch], and flopcalc[peers] for "
                        "ptflops, thop, torchinfo and keras)")
    add_runtime_args(p)
    add_format(p)


def add_published(sub) -> None:
    p = sub.add_parser("published", help="every published MobileNet figure, reproduced or explained",
                       description="Every figure the MobileNet papers, the TF-Slim checkpoint tables and "
                                   "torchvision publish, recomputed under its source's convention and compared "
                                   "at its printed precision; discrepancies listed with their likely cause.")
    p.add_argument("--discrepancies", action="store_true", help="list only the rows not reproduced")
    add_format(p)


def run_published(args: argparse.Namespace) -> int:
    from ..published import check_all
    from ..views.conventions import published_document
    emit(render(published_document(check_all(), args.discrepancies), args.format))
    return 0


def run_conventions(args: argparse.Namespace) -> int:
    from ..views.conventions import conventions_document
    emit(render(conventions_document(), args.format))
    return 0


def run_reconcile(args: argparse.Namespace) -> int:
    from ..family import Family
    from ..reconcile import reconcile, reconcile_analysis
    from ..views.conventions import reconcile_document
    if not isinstance(args.model, (str, Family)):  # a module or ONNX file, recorded
        r = reconcile_analysis(recorded_analysis(args, convention="pytorch"))
        if args.live and args.model.kind == "onnx":  # read, not run: the tools that read a file (onnx-tool)
            live = _live_file(r, args)
        else:
            live = _live_module(r, args) if args.live else None
        emit(render(reconcile_document(r, live), args.format))
        return _verdict(r, live)
    else:
        if args.input is not None or args.model_arg:
            raise UsageError("flopcalc reconcile: error: --input and --model-arg are for a recorded module "
                             "(torchvision:NAME, module:callable, file.py:callable, FILE.onnx)")
        r = reconcile(args.model, alpha_of(args), resolution_of(args), args.classes)
    live = _live(r, args) if args.live else None
    emit(render(reconcile_document(r, live), args.format))
    return _verdict(r, live)


def _verdict(r, live) -> int:
    """1 when a live count differs from its convention's prediction, else 0."""
    differs = live and any(live.get(line.convention.name) and not line.agrees(live[line.convention.name])
                           for line in r.lines)
    return ExitStatus.NO if differs else ExitStatus.OK


def _live_module(r, args: argparse.Namespace) -> dict:
    """The peer counters run on a recorded module, built for real (the tools run it): convention ->
    (params, reported), None where the tool is not installed or counts only its own models."""
    from dataclasses import replace
    from ..nn import peers
    from ..nn.load import load_module
    source = replace(args.model, kwargs=dict(args.model_arg))
    shape = tuple(args.input) if args.input else ((r.base.batch, *r.base.input_shape),)  # as it was recorded
    here = peers.available()
    lines = [line for line in r.lines if line.convention.live in peers.MODULE_TOOLS]
    # the tools that cannot count a module handed to them: keras (its own models), onnx-tool (files)
    out = {line.convention.name: False for line in r.lines
           if line.convention.live and line.convention.live not in peers.MODULE_TOOLS}
    with progress_of(args, "reconcile --live", len(lines)) as progress:
        for line in lines:
            tool = line.convention.live
            out[line.convention.name] = (peers.measure_module(tool, lambda: load_module(source, meta=False), shape)
                                         if here[tool] else None)
            progress.advance()
    return out


def _live_file(r, args: argparse.Namespace) -> dict:
    """The counters that read an ONNX file (onnx-tool) run on it; the others cannot count a file."""
    from ..nn import peers
    here = peers.available()
    shapes = args.input or [(1, *r.base.input_shape)]
    return {line.convention.name: (False if line.convention.live not in peers.FILE_TOOLS else
                                   peers.FILE_TOOLS[line.convention.live](args.model.target, shapes)
                                   if here[line.convention.live] else None)
            for line in r.lines if line.convention.live}


def _live(r, args: argparse.Namespace) -> dict:
    """Run every installed counter on the reconciled config: convention -> (params, reported)."""
    torch_door(args, "torch,peers")
    from ..nn import peers
    here = peers.available()
    if not any(here[c.convention.live] for c in r.lines if c.convention.live and c.convention.live != "flop_counter"):
        raise UsageError(f"flopcalc reconcile: error: --live found none of the peer counters installed; "
                         f"{peers.EXTRA}")
    with progress_of(args, "reconcile --live") as progress:
        return peers.measure_all(r, progress)



PARSERS = {"conventions": add_conventions, "reconcile": add_reconcile, "published": add_published}
RUNS = {"conventions": run_conventions, "reconcile": run_reconcile, "published": run_published}
