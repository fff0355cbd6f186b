"""Post-training static int8 quantization of a trained model (torch.ao FX graph mode, the x86
fbgemm engine): batch norm fused into the convs, per-channel weights, activations observed on
calibration images; or activations after each ReLU / ReLU6 at a fixed range [0, 6], as
fixed-point hardware without calibration does (the MobileNetV2 paper's case for ReLU6)."""

from __future__ import annotations

import copy
import io
import warnings

import torch
from torch import nn

from ..errors import UserError


class QuantizeError(UserError):
    """A quantization that cannot run here (no int8 engine)."""


def supported_engines() -> list[str]:
    return list(torch.backends.quantized.supported_engines)


def engine() -> str:
    engines = supported_engines()
    for e in ("fbgemm", "x86", "qnnpack"):
        if e in engines:
            return e
    raise QuantizeError(f"this torch has no int8 quantization engine (supported: {', '.join(engines) or 'none'}); "
                        "relu6-int8 needs fbgemm (x86) or qnnpack (ARM)")


def _feeds_activation(model: nn.Module) -> list[str]:
    """Module names whose output goes straight into a ReLU or ReLU6 (a conv-BN-activation
    triple's conv and activation): where a fixed activation range applies."""
    names = []
    for name, m in model.named_modules():
        children = list(m.named_children())
        for (a, ma), (_, mb), (c, mc) in zip(children, children[1:], children[2:]):
            if isinstance(ma, nn.Conv2d) and isinstance(mb, nn.BatchNorm2d) and isinstance(mc, (nn.ReLU, nn.ReLU6)):
                prefix = f"{name}." if name else ""
                names += [prefix + a, prefix + c]
    return names


def quantize(model: nn.Module, calibration, *, fixed_range: float | None = None) -> nn.Module:
    """An int8 copy of ``model`` (eval mode). ``calibration`` is an iterable of input batches.
    With ``fixed_range`` R the activations after every ReLU / ReLU6 are quantized to [0, R]
    with a fixed scale R / 255 instead of the range observed on the calibration images."""
    from torch.ao.quantization import QConfig, get_default_qconfig_mapping
    from torch.ao.quantization.observer import FixedQParamsObserver
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    eng = engine()
    torch.backends.quantized.engine = eng
    model = copy.deepcopy(model).eval().to(memory_format=torch.contiguous_format)
    mapping = get_default_qconfig_mapping(eng)
    if fixed_range is not None:
        base = mapping.global_qconfig
        fixed = QConfig(activation=FixedQParamsObserver.with_args(
            scale=fixed_range / 255.0, zero_point=0, dtype=torch.quint8, quant_min=0, quant_max=255),
            weight=base.weight)
        for name in _feeds_activation(model):
            mapping.set_module_name(name, fixed)
    batches = iter(calibration)
    first = next(batches)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization announces its move to torchao
        prepared = prepare_fx(model, mapping, (first,))
        with torch.inference_mode():
            prepared(first)
            for x in batches:
                prepared(x)
        return convert_fx(prepared)


def size_bytes(model: nn.Module) -> int:
    """The bytes of the model's serialized state_dict (what a deployment stores)."""
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    return buf.getbuffer().nbytes


def images_per_second(model: nn.Module, x: torch.Tensor, repeats: int = 5) -> float:
    """Median images/s of ``model`` on batch ``x`` (after a warm-up run)."""
    from ..timing import median_seconds
    with torch.inference_mode():
        return len(x) / median_seconds(lambda: model(x), repeats, 0.0, warmup=1, max_reps=repeats)
