"""``flopcalc table``, ``separable``, ``models`` and ``spec``: one model or one layer analyzed."""

from __future__ import annotations

import argparse
import sys

from ..errors import UsageError
from ..memory import DTYPES
from ..output import emit, render
from ..spec import SpecError
from ..zoo import DEFAULT_CLASSES, DEFAULT_RESOLUTION, MODELS
from .runtime import recorded_analysis
from .args import (
    add_config_args,
    add_convention,
    add_format,
    add_model,
    alpha_of,
    alpha_type,
    integer,
    number,
    resolution_of,
)


def add_table(sub) -> None:
    p = sub.add_parser("table", help="per-layer shapes, params and macs of a model",
                       description="Per-layer shapes, params and multiply-adds (macs) of a model, then the "
                                   "totals by layer kind.")
    add_model(p, sources=True)
    add_config_args(p)
    add_convention(p)
    p.add_argument("--batch", type=integer("batch", 1), default=1, metavar="N",
                   help="macs for a batch of N inputs (params do not change; shapes stay per input; default 1)")
    p.add_argument("--full-conv", action="store_true",
                   help="replace every depthwise + pointwise pair (V2: depthwise + projection) by one standard "
                        "conv with the same input and output channels and stride, as the V1 paper's Table 4 "
                        "\"Conv MobileNet\"")
    p.add_argument("--small-input", action="store_true",
                   help="the small-image adaptation (stem and first strided stage at stride 1), as flopcalc train "
                        "builds the model for images of 64 pixels or less: the cost of exactly the model trained")
    p.add_argument("--memory", action="store_true",
                   help="add each layer's memory traffic (bytes read and written, macs per byte) and the peak "
                        "activation memory")
    p.add_argument("--dtype", choices=tuple(DTYPES), default="float32",
                   help="bytes per value for --memory (default float32)")
    view = p.add_mutually_exclusive_group()
    view.add_argument("--depth", type=integer("depth", 1), default=None, metavar="D",
                      help="rows for the blocks D levels down (1: features, avgpool, classifier; 2: each "
                           "block of features), each summing its layers, as torchinfo's depth")
    view.add_argument("--top", type=integer("top", 1), default=None, metavar="N",
                      help="only the N layers with the most macs, most expensive first")
    view.add_argument("--totals", action="store_true",
                      help="only the totals by layer kind and the total (with --format csv: the totals as CSV; "
                           "the layer CSV has no total row, its macs column sums to the total)")
    add_format(p)


def add_separable(sub) -> None:
    p = sub.add_parser("separable", help="standard vs depthwise-separable cost of one conv layer",
                       description="One convolution D_K x D_K, M -> N channels on a D_F x D_F map: the "
                                   "standard conv against its depthwise + pointwise factorization (the "
                                   "MobileNet paper's eq. (1), (4) and (5)).")
    p.add_argument("--kernel", type=integer("kernel", 1), required=True, metavar="D_K",
                   help="kernel size D_K; padding is (D_K - 1) // 2, so an odd kernel at stride 1 keeps "
                        "the map size and an even kernel shrinks it by one")
    p.add_argument("--in", dest="in_c", type=integer("in", 1), required=True, metavar="M",
                   help="M, input channels")
    p.add_argument("--out", dest="out_c", type=integer("out", 1), required=True, metavar="N",
                   help="N, output channels")
    p.add_argument("--size", type=integer("size", 1), required=True, metavar="D_F",
                   help="D_F, input height and width")
    p.add_argument("--stride", type=integer("stride", 1), default=1, metavar="S",
                   help="stride of the standard and the depthwise conv (default 1)")
    p.add_argument("--alpha", type=alpha_type, default=1.0, metavar="A",
                   help="width multiplier: alpha M -> alpha N channels, rounded (the V1 paper's Table 3; default 1)")
    p.add_argument("--rho", type=number("rho", lambda v: v > 0, "a finite number > 0"), default=1.0, metavar="P",
                   help="resolution multiplier: a rho D_F map, rounded (default 1)")
    add_format(p)


def add_models(sub) -> None:
    p = sub.add_parser("models", help="the available models and their options")
    add_format(p)


def add_spec(sub) -> None:
    p = sub.add_parser("spec", help="write a model as a spec file (TOML) to edit and share",
                       description="Write MODEL as a spec file: its paper table (stem, one row per stage, head) "
                                   "in TOML. Every command that takes a MODEL takes such a file; edit it to "
                                   "describe a network of your own.")
    add_model(p)
    p.add_argument("--alpha", type=alpha_type, default=None, metavar="A",
                   help="the width multiplier the file records as its default (default: the model's, 1.0)")
    p.add_argument("--out", default=None, metavar="FILE",
                   help="write FILE instead of standard output (a file is replaced only once the new one is "
                        "complete; a link is followed; a device or FIFO is written into, never replaced)")


def run_models(args: argparse.Namespace) -> int:
    from ..views.layers import models_document
    emit(render(models_document(MODELS.values(), models_text()), args.format))
    return 0


def run_separable(args: argparse.Namespace) -> int:
    from ..walk import separable
    from ..views.layers import separable_document
    try:
        s = separable(args.kernel, args.in_c, args.out_c, args.size, args.stride, args.alpha, args.rho)
    except SpecError as e:
        raise UsageError(f"flopcalc separable: error: --size {args.size} is too small for "
                         f"this kernel and stride ({e})") from None
    emit(render(separable_document(s, args.alpha, args.rho), args.format))
    return 0


def run_table(args: argparse.Namespace) -> int:
    from ..walk import block_rows, top_rows
    from ..conventions import analyze
    from ..family import Family
    from ..views.layers import table_document
    if not isinstance(args.model, (str, Family)):  # a sources.ModuleSource: a module recorded on fake tensors
        a = recorded_analysis(args, full_conv=args.full_conv, small_input=args.small_input)
    else:
        if args.input is not None or args.model_arg:
            raise UsageError("flopcalc table: error: --input and --model-arg are for a recorded module "
                             "(torchvision:NAME, module:callable, file.py:callable), not a zoo model or spec file")
        a = analyze(args.model, alpha_of(args), resolution_of(args), args.classes, batch=args.batch,
                    convention=args.convention, full_conv=args.full_conv, small_input=args.small_input)
    mem = None
    if args.memory:
        from ..walk import count_layers as plain
        from ..memory import memory
        # the architecture analyzed, with every stored value (a convention may count fewer); a recorded
        # model's own rows, with its tensors' lifetimes
        mem = memory(a if a.spec is None else plain(a.spec, resolution=resolution_of(args), batch=args.batch),
                     args.dtype)
    if args.depth is not None:
        doc = table_document(a, block_rows(a, args.depth), shown=f"blocks to depth {args.depth}", memory=mem,
                             view={"depth": args.depth})
    elif args.top is not None:
        doc = table_document(a, top_rows(a, args.top), shown=f"the {args.top} layers with the most macs",
                             memory=mem, view={"top": args.top})
    else:
        doc = table_document(a, totals_only=args.totals, memory=mem)
    emit(render(doc, args.format))
    return 1 if args.strict and a.uncounted else 0


def run_spec(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from ..specfile import write
    from ..zoo import family_of
    family = family_of(args.model)
    text = write(replace(family, alpha=alpha_of(args)))
    if args.out is None:
        emit(text)
        return 0
    from ..files import write_text
    write_text(args.out, text)
    sys.stderr.write(f"wrote {args.out}\n")
    return 0


def models_text() -> str:
    return "\n".join([
        "Any command that takes a MODEL also takes a spec file's path (flopcalc spec MODEL writes one).",
        "",
        "options (table, verify):",
        "  --alpha A        width multiplier, any finite A > 0 (default the model's: 1.0, EfficientNet's",
        "                   per variant, B3's 1.2); channels make_divisible(c * A, 8) as torchvision; V2's last",
        "                   conv 1280 * max(1, A), V3's last conv 6x its input, MnasNet's 1280 whatever A",
        "  --depth-mult D   depth multiplier, 0 < D <= 20: each stage repeats ceil(n * D) blocks (default the",
        "                   model's: 1.0, EfficientNet's per variant, B3's 1.4)",
        f"  --resolution R   input R x R or HEIGHTxWIDTH, integers >= 1 (default the model's: {DEFAULT_RESOLUTION},",
        "                   EfficientNet's per variant, B3's 300)",
        "  --rho P          input round(R * P), R the model's resolution",
        f"  --classes N      classifier outputs, N >= 1 (default {DEFAULT_CLASSES})",
    ])



PARSERS = {"table": add_table, "separable": add_separable, "models": add_models, "spec": add_spec}
RUNS = {"table": run_table, "separable": run_separable, "models": run_models, "spec": run_spec}
