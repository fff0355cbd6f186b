"""The experiments' plans: which models each trains (a :class:`Trial` per row of its table, each
trained once per seed). Torch-free: the plan is known before anything is trained."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..errors import UserError
from ..family import Family
from ..scaling import GRID_ALPHAS
from ..training.schedule import AUGMENTS
from ..views.training import EXPERIMENTS
from ..zoo import MOBILENET_V2

DEFAULT_EPOCHS = 20  # half of train's 40: 30 models in under 15 minutes on 2 cores
DEFAULT_SEEDS = 3


class ExperimentError(UserError):
    pass


@dataclass(frozen=True)
class Trial:
    """One model to train (for each seed): ``group`` is its row in the table."""

    group: str
    model: object                      # a zoo name or a Family
    alpha: float
    resolution: int | None = None
    recipe: dict = field(default_factory=dict)
    quantize: bool = False
    label: str = ""                    # the point's label in the plot
    series: str = ""                   # the plot's line

    def key(self, seed: int) -> str:
        return f"{self.group.replace(' ', '_').replace('=', '')}-seed{seed}"


def relu_v2() -> Family:
    """MobileNet V2 with ReLU in place of ReLU6, otherwise the same network."""
    from ..spec import Act
    stages = tuple(replace(s, act=Act.RELU) for s in MOBILENET_V2.stages)
    return replace(MOBILENET_V2, name="mobilenet_v2_relu", title="MobileNet V2 with ReLU",
                   stem=replace(MOBILENET_V2.stem, act=Act.RELU), stages=stages,
                   head=replace(MOBILENET_V2.head, conv_act=Act.RELU))


def _sizes(source_name: str) -> tuple[int, ...]:
    return {"digits": (8, 16, 24, 32), "cifar10": (16, 24, 32)}.get(source_name, (128, 160, 192, 224))


def trials(name: str, source) -> list[Trial]:
    native = source.default_resolution()
    if name == "width":
        return [Trial(f"{m} alpha={a:g}", m, a, label=f"{a:g}", series=m)
                for m in ("mobilenet_v1", "mobilenet_v2") for a in GRID_ALPHAS]
    if name == "resolution":
        return [Trial(f"mobilenet_v2 alpha=0.5 resolution={r}", "mobilenet_v2", 0.5, r, label=str(r),
                      series="mobilenet_v2 alpha=0.5") for r in _sizes(source.name)]
    if name == "v1-vs-v2":
        from ..sweep import all_points, near
        fine = [round(0.1 + 0.01 * i, 2) for i in range(191)]  # V1's width in steps of 0.01
        out = []
        for v2_alpha in (0.35, 0.75, 1.4):  # three costs, V2's at these widths; V1's nearest width
            small, k = native <= 64, len(source.classes)
            v2 = all_points(["mobilenet_v2"], [native], (v2_alpha,), small_input=small, num_classes=k)[0]
            v1 = near(all_points(["mobilenet_v1"], [native], fine, small_input=small, num_classes=k),
                      v2.macs, 1)[0].point
            for p in (v1, v2):
                out.append(Trial(f"{p.model} alpha={p.alpha:g} (pair {v2_alpha:g})", p.model, p.alpha,
                                 label=f"{p.alpha:g}", series=p.model))
        return out
    if name == "relu6-int8":
        return [Trial("mobilenet_v2 alpha=0.5 ReLU6", "mobilenet_v2", 0.5, quantize=True, series="ReLU6",
                      label="ReLU6"),
                Trial("mobilenet_v2 alpha=0.5 ReLU", relu_v2(), 0.5, quantize=True, series="ReLU", label="ReLU")]
    if name == "augment":
        return [Trial(f"mobilenet_v2 alpha=0.5 {aug}", "mobilenet_v2", 0.5, recipe={"augment": aug}, series=aug,
                      label=aug) for aug in AUGMENTS]
    raise ExperimentError(f"unknown experiment {name!r}; known: {', '.join(EXPERIMENTS)}")
