"""Latency from the analytical model, without torch: a roofline per layer and a calibrated
per-kind prediction, both from a machine profile that ``flopcalc machine`` measured once.

**Roofline.** A layer takes at least as long as its multiply-adds take at the machine's peak,
and as its memory traffic takes at the machine's bandwidth::

    roofline_s = max(2 * macs / peak_flops, bytes / bandwidth)

with ``peak_flops`` the measured float32 matrix-multiply throughput (2 FLOPs per multiply-add)
and ``bytes`` the layer's traffic from :mod:`flopcalc.memory`. It ranks layers well but is no
prediction: depthwise convolutions reach a few percent of the peak, and the bandwidth is
measured from DRAM while small activations stay in cache (then the roofline is above the
measured time).

**Calibrated prediction.** ``flopcalc machine`` also times random layers of each kind (never
one of the layer shapes of the verify grid) and random-width MobileNets (never a grid config),
and fits, per kind, a time that is linear in a few features of the layer (a cost per call, per
multiply-add, per byte, per byte beyond the caches; non-negative coefficients), corrected by
the residuals of the nearest calibration samples in shape space, as kernel-level latency
predictors do (nn-Meter). A network's time is the sum of its layers' in-network times plus the
Python cost of each module call, as the optimized model executes it (batch norm folded,
channels-last, eager).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import UserError
from .files import write_text
from .memory import DTYPES

PROFILE_VERSION = 1
F32 = DTYPES["float32"]  # bytes of a float32 value
L2_BYTES = 1 * 2**20    # working set per core that stays in L2
L3_BYTES = 16 * 2**20   # working set that stays in the (shared) last-level cache

# the calibrated kinds, and the features each one's time is linear in
FEATURES = {
    "pointwise": ("call", "macs", "macs_padding", "in_bytes", "out_bytes", "weight_bytes", "in_over_l3",
                  "out_over_l3"),
    "depthwise": ("call", "macs_padded", "in_bytes", "out_bytes", "in_over_l3", "out_over_l3", "planes"),
    "conv": ("call", "macs_padded", "in_bytes", "out_bytes", "out_over_l3"),
    "activation": ("call", "bytes", "bytes_over_l2", "bytes_over_l3"),
    "add": ("call", "bytes", "bytes_over_l2", "bytes_over_l3"),
    "pool": ("call", "in_bytes", "out_bytes"),
    "linear": ("call", "macs", "weight_bytes", "io_bytes"),
}
# what a layer costs inside a network beyond its isolated time, fitted on whole networks: one set
# for a single image (latency-bound: thread hand-offs dominate) and one for batches
_IN_NETWORK = ("heavy_call", "light_call", "weight_bytes", "heavy_in_bytes", "light_in_bytes")
IN_NETWORK = tuple(f"{n}_batch1" for n in _IN_NETWORK) + tuple(f"{n}_batched" for n in _IN_NETWORK)
HEAVY = ("pointwise", "depthwise", "conv", "linear")


class LatencyError(UserError):
    pass


def cache_path() -> Path:
    """Where ``flopcalc machine`` keeps this machine's profile: ``$XDG_CACHE_HOME/flopcalc/
    machine.json`` (``~/.cache`` when unset); ``FLOPCALC_MACHINE`` names another file."""
    if os.environ.get("FLOPCALC_MACHINE"):
        return Path(os.environ["FLOPCALC_MACHINE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "flopcalc" / "machine.json"


@dataclass
class MachineProfile:
    """A machine as flopcalc measured it: float32 matmul peak (FLOP/s), copy bandwidth (bytes/s,
    read + written), the threads it ran with, and the calibration of the per-kind model."""

    peak_flops: float
    bandwidth: float
    threads: int
    torch: str = ""
    calibration: dict = field(default_factory=dict)
    fit: dict = field(default_factory=dict)       # how well the calibration fits its own samples
    seconds: float = 0.0                          # how long measuring took

    def describe(self) -> str:
        return (f"{self.peak_flops / 1e9:.0f} GFLOP/s float32 matmul peak, {self.bandwidth / 1e9:.1f} GB/s copy "
                f"bandwidth, {self.threads} thread{'s' if self.threads != 1 else ''}")

    def to_json(self) -> dict:
        return {"version": PROFILE_VERSION, "peak_flops": self.peak_flops, "bandwidth": self.bandwidth,
                "threads": self.threads, "torch": self.torch, "seconds": self.seconds, "fit": self.fit,
                "calibration": self.calibration}

    @classmethod
    def from_json(cls, doc: dict) -> MachineProfile:
        return cls(doc["peak_flops"], doc["bandwidth"], doc["threads"], doc.get("torch", ""),
                   doc.get("calibration", {}), doc.get("fit", {}), doc.get("seconds", 0.0))


def save_machine(m: MachineProfile, path: str | Path | None = None) -> Path:
    path = Path(path) if path else cache_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, json.dumps(m.to_json(), indent=1) + "\n")
    return path


def load_machine(path: str | Path | None = None) -> MachineProfile:
    path = Path(path) if path else cache_path()
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise LatencyError(f"no machine profile at {str(path)!r}; run 'flopcalc machine' first "
                           "(it measures this machine in about a minute)") from None
    except (OSError, ValueError) as e:
        raise LatencyError(f"machine profile {str(path)!r} is unreadable ({e}); run 'flopcalc machine' again") from None
    if doc.get("version") != PROFILE_VERSION:
        raise LatencyError(f"machine profile {str(path)!r} is from another flopcalc version; "
                           "run 'flopcalc machine' again")
    return MachineProfile.from_json(doc)


# ----------------------------------------------------------------------------- roofline

@dataclass(frozen=True)
class LayerTime:
    name: str
    kind: str
    macs: int
    bytes: int
    roofline_s: float
    bound: str            # "compute" or "memory": which term of the roofline is larger
    predicted_s: float | None = None


def roofline_s(macs: int, nbytes: int, peak_flops: float, bandwidth: float) -> tuple[float, str]:
    compute, memory = 2 * macs / peak_flops, nbytes / bandwidth
    return (compute, "compute") if compute >= memory else (memory, "memory")


def layer_times(analysis, machine: MachineProfile, dtype: str = "float32", backend: str = "torch") -> list[LayerTime]:
    """Per analyzer row: roofline time, and the calibrated prediction when the profile has one for
    ``backend`` (float32 only: the calibration timed float32 kernels)."""
    from .memory import memory
    traffic = {t.name: t for t in memory(analysis, dtype).layers}
    predictor = predictor_for(machine, backend, required=False) if dtype == "float32" else None
    batch = analysis.batch
    out = []
    for r in analysis.layers:
        t = traffic[r.name]
        macs = r.macs or 0
        s, bound = roofline_s(macs, t.bytes, machine.peak_flops, machine.bandwidth)
        pred = predictor.row_time(r, batch) if predictor else None
        out.append(LayerTime(r.name, r.kind, macs, t.bytes, s, bound, pred))
    return out


# ----------------------------------------------------------------------------- calibrated model

def _ceil16(c: int) -> int:
    return (c + 15) // 16 * 16


def _over(nbytes: float, limit: int) -> float:
    return max(0.0, nbytes - limit)


def layer_description(row, batch: int) -> dict | None:
    """What the per-kind model needs of an analyzer row (None: a layer that only costs a call:
    batch norm, folded into the conv before running; dropout, identity at inference)."""
    s, kind = row.spec, row.kind
    ish, osh = tuple(row.input_shape), tuple(row.output_shape)
    if kind in ("conv", "depthwise", "pointwise"):
        # a kernel or stride given as (height, width), as a recorded or loaded model's is: the model's
        # features use k squared, so a k x k kernel of the same area
        k = s.kernel if isinstance(s.kernel, int) else math.sqrt(s.kernel[0] * s.kernel[1])
        stride = s.stride if isinstance(s.stride, int) else s.stride[0]
        return dict(kind=kind, B=batch, cin=s.in_c, cout=s.out_c, h=ish[1], w=ish[2], ho=osh[1], wo=osh[2],
                    k=k, s=stride)
    if kind in ("activation", "add", "scale"):
        # a channel scale (squeeze-and-excitation) streams the block's map like a residual add: its
        # output's shape (its input is the (C, 1, 1) gate)
        c, h, w = ((osh if kind == "scale" else ish) + (1, 1))[:3]
        return dict(kind="add" if kind == "scale" else kind, B=batch, cin=c, cout=c, h=h, w=w, ho=h, wo=w)
    if kind == "pool":
        return dict(kind=kind, B=batch, cin=ish[0], cout=ish[0], h=ish[1], w=ish[2], ho=1, wo=1)
    if kind == "linear":
        return dict(kind=kind, B=batch, cin=s.in_features, cout=s.out_features, h=1, w=1, ho=1, wo=1)
    return None


def features(L: dict) -> list[float]:
    kind, B, cin, cout = L["kind"], L["B"], L["cin"], L["cout"]
    hw, howo = L["h"] * L["w"], L["ho"] * L["wo"]
    in_b, out_b = B * cin * hw * F32, B * cout * howo * F32
    if kind == "pointwise":
        m = B * hw
        macs = m * cin * cout
        padded = m * _ceil16(cin) * _ceil16(cout)  # vector kernels work on channels in blocks of 16
        return [1.0, macs, padded - macs, in_b, out_b, cin * cout * F32, _over(in_b, L3_BYTES),
                _over(out_b, L3_BYTES)]
    if kind == "depthwise":
        padded = B * howo * _ceil16(cout) * L["k"] ** 2
        return [1.0, padded, in_b, out_b, _over(in_b, L3_BYTES), _over(out_b, L3_BYTES), cout * B]
    if kind == "conv":
        padded = B * howo * _ceil16(cout) * cin * L["k"] ** 2
        return [1.0, padded, in_b, out_b, _over(out_b, L3_BYTES)]
    if kind in ("activation", "add"):
        moved = in_b if kind == "activation" else 3 * in_b
        return [1.0, in_b, _over(moved, L2_BYTES), _over(moved, L3_BYTES)]
    if kind == "pool":
        return [1.0, in_b, B * cin * F32]
    if kind == "linear":
        return [1.0, B * cin * cout, cin * cout * F32, B * (cin + cout) * F32]
    raise KeyError(kind)


def in_network_features(L: dict) -> list[float]:
    """What running inside a network adds to a layer's isolated time: a per-call cost (thread
    hand-off, cold caches), weights that the rest of the network evicted, input last written by
    the other core; in the batch-1 terms for a single image, in the batched ones otherwise."""
    kind, B = L["kind"], L["B"]
    weights = 0.0
    if kind in ("pointwise", "conv"):
        weights = L["cin"] * L["cout"] * L["k"] ** 2 * F32
    elif kind == "depthwise":
        weights = L["cout"] * L["k"] ** 2 * F32
    elif kind == "linear":
        weights = L["cin"] * L["cout"] * F32
    in_b = B * L["cin"] * L["h"] * L["w"] * F32
    heavy = 1.0 if kind in HEAVY else 0.0
    terms = [heavy, 1.0 - heavy, weights, in_b * heavy, in_b * (1.0 - heavy)]
    zeros = [0.0] * len(terms)
    return terms + zeros if B == 1 else zeros + terms


def neighbour_key(L: dict) -> tuple[float, ...]:
    """Where a layer sits in shape space (log2 scale: one octave is one unit)."""
    kind = L["kind"]
    m = math.log2(L["B"] * L["ho"] * L["wo"])
    if kind in ("pointwise", "linear"):
        return (m, math.log2(L["cin"]), math.log2(L["cout"]))
    if kind == "depthwise":
        return (m, math.log2(L["cout"]), 2.0 * (L["s"] - 1))
    if kind == "conv":
        return (m, math.log2(L["cout"]), math.log2(L["h"] * L["w"]))
    return (math.log2(L["B"] * L["h"] * L["w"]), math.log2(L["cin"]))


def containers(names) -> int:
    """Modules that hold the named leaves (the blocks, the root network included)."""
    prefixes = {".".join(n.split(".")[:i]) for n in names for i in range(1, len(n.split(".")))}
    return len(prefixes) + 1


NEIGHBOURS, PRIOR, RADIUS = 5, 2.0, 1.0


def neighbour_correction(table, L: dict) -> float:
    """The mean log residual of the calibration samples nearest ``L`` in shape space (``table``: [key,
    log residual] pairs of its kind), weighted by closeness and shrunk towards 0 when they are few or far."""
    if not table:
        return 0.0
    key = neighbour_key(L)
    near = sorted((sum((a - b) ** 2 for a, b in zip(key, k2)), r) for k2, r in table)[:NEIGHBOURS]
    num = den = 0.0
    for d, r in near:
        w = 1.0 / (d + 0.05) if d < 4 * RADIUS ** 2 else 0.0
        num, den = num + w * r, den + w
    return 0.0 if den == 0.0 else den / (den + PRIOR) * num / den


class Predictor:
    """The calibrated per-kind model of ``machine``'s calibration (see the module docstring)."""

    def __init__(self, calibration: dict):
        self.cal = calibration
        self.coef = calibration["coef"]
        self.in_network = calibration["in_network"]
        self.table = calibration.get("neighbours", {})

    def parametric(self, L: dict) -> float:
        return sum(a * b for a, b in zip(self.coef[L["kind"]], features(L)))

    def isolated(self, L: dict) -> float:
        """Parametric time times exp(mean log residual of the nearest calibration samples)."""
        return self.parametric(L) * math.exp(neighbour_correction(self.table.get(L["kind"]), L))

    def layer_time(self, L: dict | None, kind: str) -> float:
        if L is None:
            return self.cal["dropout_s"] if kind == "dropout" else self.cal["call_s"]
        return self.isolated(L) + sum(a * b for a, b in zip(self.in_network, in_network_features(L)))

    def row_time(self, row, batch: int) -> float:
        return self.layer_time(layer_description(row, batch), row.kind) + self.cal["child_s"]

    def predict(self, analysis) -> float:
        """Seconds of one forward pass of the optimized model at the analysis's batch."""
        batch = analysis.batch
        desc = [(r.name, r.kind, layer_description(r, batch)) for r in analysis.layers]
        return self.network_time(desc, batch, tuple(analysis.input_shape))

    def network_time(self, descriptions: list[tuple[str, str, dict | None]], batch: int,
                     input_shape: tuple[int, int, int]) -> float:
        """``descriptions``: (name, kind, description or None) of every leaf module, in order."""
        cal = self.cal
        t = sum(self.layer_time(L, kind) for _, kind, L in descriptions)
        t += cal["child_s"] * len(descriptions) + cal["block_call_s"] * containers(n for n, _, _ in descriptions)
        c, h, w = input_shape
        t += cal["wrapper"][0] + cal["wrapper"][1] * batch * c * h * w * F32
        return t


# ----------------------------------------------------------------------------- other engines

# An engine (ONNX Runtime, OpenVINO, ExecuTorch, ncnn) runs the same layers with its own kernels, fused
# (a conv with its activation) and without Python between them. Its model: per group of kinds, a factor
# on a kernel time; a cost per heavy layer (a kernel launch, a hand-off between threads); a cost per
# run. One set for a single image, one for batches; fitted (non-negative least squares on relative
# error) on whole networks that the engine ran. The kernel time is torch's isolated kernel time, and
# where the engine times its layers (OpenVINO, ONNX Runtime) corrected to the engine's own (``kernels``):
# per kind, the median ratio of the engine's per-layer times in those networks to torch's kernel model,
# and near a layer of the networks, that layer's own ratio (the nearest samples' log ratios, as torch's
# model corrects by its residuals). Torch's model carries the shape of the cost across sizes (it was
# fitted on layers over a wider range than the networks hold); the engine's times move it. With its own
# kernels, every heavy group has one factor (fitted together), so that the fit ranks no kind apart.
ENGINE_GROUPS = {"pointwise": "pointwise", "depthwise": "depthwise", "conv": "conv", "linear": "linear",
                 "activation": "light", "add": "light", "pool": "light"}
_ENGINE_TERMS = ("pointwise", "depthwise", "conv", "linear", "light", "heavy_layer", "run")
ENGINE_TERMS = tuple(f"{t}_batch1" for t in _ENGINE_TERMS) + tuple(f"{t}_batched" for t in _ENGINE_TERMS)


class EnginePredictor:
    """An engine's calibrated model (see above): ``cal`` is torch's calibration, ``engine`` the engine's
    fit (``coef`` over ENGINE_TERMS)."""

    def __init__(self, cal: dict, engine: dict):
        self.torch = Predictor(cal)
        self.coef = engine["coef"]
        self.kernels = engine.get("kernels") or {"log_ratio": {}, "neighbours": {}}

    def kernel_time(self, L: dict) -> float:
        """A layer's kernel time: torch's, moved to the engine's own where its per-layer times say."""
        kind = L["kind"]
        t = self.torch.isolated(L)
        if kind not in self.kernels["log_ratio"]:
            return t
        return t * math.exp(self.kernels["log_ratio"][kind] +
                            neighbour_correction(self.kernels["neighbours"].get(kind), L))

    def terms(self, L: dict | None, kind: str) -> list[float]:
        """One layer's share of the terms (the run's own term is added once per network)."""
        n = len(_ENGINE_TERMS)
        out = [0.0] * (2 * n)
        if L is None:
            return out
        base = 0 if L["B"] == 1 else n
        out[base + _ENGINE_TERMS.index(ENGINE_GROUPS[L["kind"]])] = self.kernel_time(L)
        out[base + 5] = 1.0 if L["kind"] in HEAVY else 0.0
        return out

    def network_terms(self, descriptions: list[tuple[str, str, dict | None]], batch: int) -> list[float]:
        total = [0.0] * len(ENGINE_TERMS)
        for _, kind, L in descriptions:
            total = [a + b for a, b in zip(total, self.terms(L, kind))]
        total[(0 if batch == 1 else len(_ENGINE_TERMS)) + 6] = 1.0
        return total

    def layer_time(self, L: dict | None, kind: str) -> float:
        return sum(a * b for a, b in zip(self.coef, self.terms(L, kind)))

    def row_time(self, row, batch: int) -> float:
        return self.layer_time(layer_description(row, batch), row.kind)

    def predict(self, analysis) -> float:
        batch = analysis.batch
        desc = [(r.name, r.kind, layer_description(r, batch)) for r in analysis.layers]
        return sum(a * b for a, b in zip(self.coef, self.network_terms(desc, batch)))


def predictor_for(machine: MachineProfile, backend: str = "torch", required: bool = True):
    """The calibrated model of ``backend`` in ``machine``'s profile (None, or one line saying how to make it)."""
    if not machine.calibration:
        if required:
            raise LatencyError("the machine profile has no calibration; run 'flopcalc machine' (not --quick)")
        return None
    if backend == "torch":
        return Predictor(machine.calibration)
    engine = machine.calibration.get("engines", {}).get(backend)
    if engine is None:
        if required:
            raise LatencyError(f"the machine profile has no calibration for {backend}; run 'flopcalc machine "
                               f"--backend {backend}' (after 'flopcalc machine')")
        return None
    return EnginePredictor(machine.calibration, engine)


def predict(analysis, machine: MachineProfile, backend: str = "torch") -> float:
    """Predicted seconds of one forward pass at the analysis's batch: of the optimized torch model, or
    of ``backend``'s conversion of it."""
    return predictor_for(machine, backend).predict(analysis)


def predicted_points(points, machine: MachineProfile, backend: str = "torch", batch: int = 1,
                     models=()) -> list[tuple]:
    """(point, predicted seconds per forward pass at ``batch``) of sweep's points on ``backend``; ``models``:
    the zoo names and Families the points came from (a point holds its model's name only)."""
    from .walk import count_layers
    from .zoo import model_name
    by_name = {model_name(m): m for m in models}
    p = predictor_for(machine, backend)
    out = []
    for pt in points:
        a = count_layers(by_name.get(pt.model, pt.model), pt.alpha, pt.resolution, pt.num_classes, batch=batch)
        out.append((pt, p.predict(a)))
    return out
