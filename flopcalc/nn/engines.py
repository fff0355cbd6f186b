"""Inference engines beside torch (``bench --backend``): each converts the same torch model, runs it on
NumPy arrays, and says what graph it runs.

========== ========================================== =============== ======== ========================
engine     what runs                                   converted by    int8     graph it exposes
========== ========================================== =============== ======== ========================
onnxruntime ONNX Runtime's CPU provider                torch.onnx      QDQ      the ONNX file's nodes
openvino   OpenVINO's CPU plugin (oneDNN, JIT kernels) ONNX -> IR      QDQ      the IR's nodes, and
                                                                                per-node times
executorch ExecuTorch with the XNNPACK delegate        torch.export    pt2e     the exported program
           (what PyTorch deploys to phones)                                     before lowering
ncnn       Tencent's ncnn (ARM-first, x86 too)         pnnx            --       the .param file's layers
========== ========================================== =============== ======== ========================

Every conversion has a fixed input shape (the batch included: engines plan their memory for it) and
is cached under ``$XDG_CACHE_HOME/flopcalc/engines/<engine>/<key>/``: the key is a hash of the engine's
version, the dtype, the shape, the model's structure and weights (and int8's calibration images). A
manifest holds each file's SHA-256; a cached conversion whose files do not match is rebuilt, never
trusted. Conversions are written to a temporary folder and renamed into place.

int8 is post-training static quantization, calibrated on the images given: per-channel symmetric int8
weights, per-tensor activations. ONNX Runtime and OpenVINO run the same QDQ ONNX file (ONNX Runtime's
``quantize_static``; OpenVINO compiles QuantizeLinear/DequantizeLinear pairs into int8 kernels);
ExecuTorch uses torch's pt2e flow with XNNPACK's own quantizer.

The QDQ weights use 7 of their 8 bits (``reduce_range``). On x86 CPUs without VNNI (AVX2, AVX-512
without VNNI) both ONNX engines multiply uint8 activations by int8 weights with an instruction that adds
pairs of products into int16 and saturates: with full-range weights, V2 trained on the digits lost 7
points of top-1 on ONNX Runtime and OpenVINO (90.81% and 91.64% against 98.33%); with 7-bit weights it
loses none, at the same speed (ONNX Runtime's quantization guide gives the same advice for these CPUs).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.metadata
import json
import os
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..errors import UserError, install_hint

ENGINES = ("torch", "onnxruntime", "openvino", "executorch", "ncnn")
# each engine's flopcalc extra, and the modules it needs
EXTRAS = {"onnxruntime": "onnx", "openvino": "openvino", "executorch": "executorch", "ncnn": "ncnn"}
NEEDS = {"onnxruntime": ("onnx", "onnxruntime"), "openvino": ("onnx", "onnxruntime", "openvino"),
         "executorch": ("executorch",), "ncnn": ("ncnn", "pnnx")}
DISTRIBUTION = {"onnxruntime": "onnxruntime", "openvino": "openvino", "executorch": "executorch", "ncnn": "ncnn"}
# ncnn's int8 tools are not in its wheel
INT8 = ("torch", "onnxruntime", "openvino", "executorch")
# How int8 conversions are made, in their cache key: a change here converts again.
INT8_RECIPE = "ptq static; QDQ per-channel 7-bit weights, uint8 activations, min-max; pt2e XNNPACK symmetric"
DTYPES = ("float32", "int8")
# a float32 engine's outputs equal torch's when max |y - y_torch| <= RTOL * max |y_torch| + ATOL: float32
# sums in another order (and other kernels: Winograd, fused activations) differ in the last bits
RTOL, ATOL = 1e-4, 1e-5


class EngineError(UserError):
    """An engine that is not installed, cannot convert the model, or gives other outputs."""


def require(engine: str) -> None:
    """Import ``engine``'s modules, or one line naming the extra to install."""
    for module in NEEDS.get(engine, ()):
        try:
            with warnings.catch_warnings(), _quiet():
                warnings.simplefilter("ignore")  # the engines' own notices (torchao's missing CUDA kernels,
                importlib.import_module(module)  # deprecations) are not the user's
        except ImportError as e:
            raise EngineError(f"--backend {engine} needs the {module} package ({e}); install with: "
                              f"{install_hint(EXTRAS[engine])}") from None


def version(engine: str) -> str:
    if engine == "torch":
        return torch.__version__
    try:
        return importlib.metadata.version(DISTRIBUTION[engine])
    except importlib.metadata.PackageNotFoundError:
        return "?"


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "flopcalc" / "engines"


@dataclass
class Compiled:
    """A model converted for an engine, ready to run one fixed input shape."""

    engine: str
    dtype: str
    shape: tuple[int, ...]
    run: Callable[[np.ndarray], np.ndarray]
    graph_macs: int | None = None        # the multiply-adds of the graph the engine runs (where it shows it)
    folder: Path | None = None           # the cached conversion
    cached: bool = False                 # read from the cache (not converted now)
    rebuilt: bool = False                # the cache held a corrupt conversion, converted again
    convert_s: float = 0.0
    layer_seconds: Callable[[np.ndarray, int], dict[str, float]] | None = None  # per-node times, if exposed
    info: dict = field(default_factory=dict)


def model_key(net: torch.nn.Module, engine: str, dtype: str, shape, calibration=None) -> str:
    """The cache key: what a conversion depends on."""
    from .. import __version__
    h = hashlib.sha256()
    h.update(json.dumps([engine, version(engine), dtype, list(shape), __version__, torch.__version__,
                         INT8_RECIPE if dtype == "int8" else None]).encode())
    h.update(repr(net).encode())
    for name, t in net.state_dict().items():
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    for x in calibration or ():
        h.update(np.ascontiguousarray(x.numpy() if isinstance(x, torch.Tensor) else x).tobytes())
    return h.hexdigest()[:24]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _intact(folder: Path) -> dict | None:
    """The manifest of a cached conversion whose every file matches its hash; None otherwise."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
        for name, digest in manifest["files"].items():
            if _sha256(folder / name) != digest:
                return None
        return manifest
    except (OSError, ValueError, KeyError, TypeError):
        return None


@contextlib.contextmanager
def _quiet():
    """The converters' C++ logging (pnnx's passes, ExecuTorch's cpuinfo) off the user's terminal: file
    descriptors 1 and 2 go to a log for the call; the log's text is kept for error messages."""
    log = tempfile.TemporaryFile(mode="w+b")
    saved = [os.dup(1), os.dup(2)]
    import sys
    sys.stdout.flush()
    sys.stderr.flush()
    text: list[str] = []
    try:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        yield text
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)
        log.seek(0)
        text.append(log.read().decode("utf-8", "replace"))
        log.close()


def _convert_error(engine: str, e: BaseException, log: str = "") -> EngineError:
    """One line naming what the engine could not convert."""
    import re
    msg = " ".join(str(e).split()) or type(e).__name__
    for pattern in (r"(aten::\w+|aten\.\w+(?:\.\w+)?)", r"layer (\w+) not exists", r"operator (\S+)",
                    r"[Oo]p(?:eration)? type[: ]+'?(\w+)"):
        m = re.search(pattern, msg) or re.search(pattern, log)
        if m:
            return EngineError(f"{engine} cannot convert this model: it has no conversion for {m.group(1)} "
                               f"({type(e).__name__}: {msg[:200]})")
    errors = [line.strip() for line in log.splitlines() if "Error" in line or "error" in line]
    if errors:  # the converter's own last error line (pnnx's, when its process aborted)
        return EngineError(f"{engine} cannot convert this model: {errors[-1][:240]}")
    return EngineError(f"{engine} cannot convert this model ({type(e).__name__}: {msg[:240]})")


def compile(engine: str, net: torch.nn.Module, shape, *, dtype: str = "float32", threads: int = 1,
            calibration=None, cache: Path | None = None, use_cache: bool = True) -> Compiled:
    """``net`` (eval mode) converted for ``engine`` at input ``shape``, from the cache when it holds it.
    ``calibration``: input batches for int8 (each of ``shape``)."""
    if engine not in ENGINES:
        raise EngineError(f"unknown engine {engine!r}; known: {', '.join(ENGINES)}")
    if dtype not in DTYPES:
        raise EngineError(f"unknown dtype {dtype!r}; known: {', '.join(DTYPES)}")
    if dtype == "int8" and engine not in INT8:
        raise EngineError(f"{engine} runs float32 only here; int8 runs on: {', '.join(INT8)}")
    require(engine)
    net = net.eval()
    shape = tuple(int(s) for s in shape)
    if dtype == "int8" and not calibration:
        calibration = [torch.randn(shape) for _ in range(4)]
    if engine == "torch":
        return _torch(net, shape, dtype, threads, calibration)
    converter, loader = _CONVERTERS[engine]
    root = cache or cache_root()
    folder = root / engine / model_key(net, engine, dtype, shape, calibration)
    manifest = _intact(folder) if use_cache else None
    rebuilt = folder.exists() and manifest is None and use_cache
    start = time.perf_counter()
    cached = manifest is not None
    if manifest is None:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".flopcalc-", dir=folder.parent))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # converters warn of their own deprecations, not the user's
                info = converter(net, shape, dtype, calibration, tmp)
            manifest = {"engine": engine, "version": version(engine), "dtype": dtype, "shape": list(shape),
                        "info": info, "files": {p.name: _sha256(p) for p in sorted(tmp.iterdir()) if p.is_file()}}
            (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))
            if folder.exists():
                shutil.rmtree(folder, ignore_errors=True)
            os.replace(tmp, folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compiled = loader(folder, manifest, threads)
    compiled.engine, compiled.dtype, compiled.shape = engine, dtype, shape
    compiled.folder, compiled.cached, compiled.rebuilt = folder, cached, rebuilt
    compiled.convert_s = time.perf_counter() - start
    compiled.graph_macs = manifest["info"].get("graph_macs")
    compiled.info = manifest["info"]
    return compiled


def check_outputs(compiled: Compiled, net: torch.nn.Module, x: torch.Tensor | None = None) -> dict:
    """The engine's outputs against torch's on the same input: max |difference|, the tolerance, and for
    int8 the share of images whose top class is torch's."""
    if x is None:
        x = torch.randn(compiled.shape, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        ref = net.eval()(x).numpy()
    y = np.asarray(compiled.run(x.numpy())).reshape(ref.shape)
    diff = float(np.abs(y - ref).max())
    tol = RTOL * float(np.abs(ref).max()) + ATOL
    out = {"max_abs_diff": diff, "max_abs_output": float(np.abs(ref).max()), "tolerance": tol}
    if compiled.dtype == "float32":
        out["equal"] = diff <= tol
    else:
        out["equal"] = None
        out["top1_agreement"] = float(np.mean(y.reshape(len(y), -1).argmax(1) == ref.reshape(len(ref), -1).argmax(1)))
    return out


def engine_run(backend: str, net: torch.nn.Module, x: torch.Tensor, dtype: str = "float32", calibration=None,
               threads: int | None = None):
    """``net`` converted for ``backend`` (cached), its outputs checked against torch's on ``x``: (the
    compiled model, the check, a call that runs it on ``x``)."""
    compiled = compile(backend, net, tuple(x.shape), dtype=dtype, threads=threads or torch.get_num_threads(),
                               calibration=calibration)
    check = check_outputs(compiled, net, x)
    if check["equal"] is False:
        raise EngineError(f"{backend}'s outputs differ from torch's: max |difference| {check['max_abs_diff']:.3g} "
                          f"over a tolerance of {check['tolerance']:.3g} (the cached conversion is in "
                          f"{compiled.folder})")
    xn = x.numpy()
    return compiled, check, lambda: compiled.run(xn)


def seeded_build(model, alpha: float, num_classes: int) -> torch.nn.Module:
    """The model with the same random weights every run (seed 0), so that an engine's conversion of it is
    read from the cache the next time; speed does not depend on the weights."""
    from .builders import build
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return build(model, alpha, num_classes).eval()


# ----------------------------------------------------------------------------- torch (int8: fbgemm)

def _torch(net, shape, dtype, threads, calibration) -> Compiled:
    if dtype == "int8":
        from ..experiments.quantize import quantize
        run_net = quantize(net, [torch.as_tensor(c) for c in calibration])
    else:
        from .optimize import optimize_for_inference
        run_net = optimize_for_inference(net)

    def run(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return run_net(torch.from_numpy(x)).numpy()
    return Compiled("torch", dtype, shape, run)


# ----------------------------------------------------------------------------- per-layer times by row name

def engine_layer_seconds(compiled, x: torch.Tensor, rows) -> dict[str, float]:
    """An engine's per-node times by the analyzer's row names (``rows``: (name, kind) in order). An exported
    node is named by its modules' scopes, each relative to the one before
    (``/features/features.1/conv/conv.1/Conv``: the module ``features.1.conv.1``). A node the engine fused
    (a conv with its batch norm and activation) is timed once, under whichever layer's name the engine
    gave it (OpenVINO the conv's, ONNX Runtime the activation's): its time goes to the heavy layer, the
    last conv or linear layer before it. OpenVINO names the last node after the exported output
    (``logits``): the classifier. Other nodes outside every module (layout reorders) are left out."""
    rows = list(rows)
    known = {n for n, _ in rows}
    out: dict[str, float] = {}
    last_linear = next((n for n, k in reversed(rows) if k == "linear"), None)
    for node, t in compiled.layer_seconds(x.numpy(), 7).items():
        if node == "logits" and last_linear is not None:
            out[last_linear] = out.get(last_linear, 0.0) + t
            continue
        if not node.startswith("/"):
            continue
        full, prev, module = "", "", None
        for seg in node.split("/")[1:]:
            if prev and seg.startswith(prev + "."):
                full += seg[len(prev):]       # a child of the previous scope: "conv" then "conv.1"
            else:
                full = f"{full}.{seg}" if full else seg
            prev = seg
            if full in known:
                module = full
        if module is not None:
            out[module] = out.get(module, 0.0) + t
    from ..latency import HEAVY
    heavy = None
    for name, kind in rows:
        if kind in HEAVY:
            heavy = name
        elif kind in ("activation", "batchnorm") and name in out and heavy is not None and heavy not in out:
            out[heavy] = out.pop(name)        # fused into the conv before it, named after the activation
    return out


# ----------------------------------------------------------------------------- ONNX (onnxruntime, openvino)

def _onnx_files(net, shape, dtype, calibration, folder: Path, engine: str) -> tuple[Path, int]:
    """model.onnx (or model.int8.onnx, QDQ): the file both ONNX engines read; and the multiply-adds of its
    Conv, Gemm and MatMul nodes (of the float graph, which the QDQ one wraps in quantize pairs)."""
    from .onnx_export import export, graph_macs
    path = folder / "model.onnx"
    failed = None
    with _quiet() as log:
        try:
            export(net, None, path, dynamic_batch=False, input_shape=tuple(shape))
        except Exception as e:  # noqa: BLE001 - torch.onnx raises an error of its own per unsupported op
            failed = e
    if failed is not None:
        raise _convert_error(f"{engine} (through ONNX)", failed, "".join(log)) from None
    macs = sum(graph_macs(path, shape[0]).values())
    if dtype == "float32":
        return path, macs
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType, quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter({"input": np.asarray(c, dtype=np.float32)} for c in calibration)

        def get_next(self):
            return next(self.it, None)
    pre, q = folder / "pre.onnx", folder / "model.int8.onnx"
    with _quiet():
        quant_pre_process(str(path), str(pre), skip_symbolic_shape=True)
        quantize_static(str(pre), str(q), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        reduce_range=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    path.unlink()
    pre.unlink()
    return q, macs


def _ort_convert(net, shape, dtype, calibration, folder: Path) -> dict:
    path, macs = _onnx_files(net, shape, dtype, calibration, folder, "onnxruntime")
    return {"file": path.name, "graph_macs": macs}


def _ort_load(folder: Path, manifest: dict, threads: int) -> Compiled:
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    path = str(folder / manifest["info"]["file"])
    session = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name

    def layer_seconds(x: np.ndarray, repeats: int = 7) -> dict[str, float]:
        """Median seconds of each node over ``repeats`` runs (ONNX Runtime's profiler, a session of its own)."""
        import statistics
        prof = ort.SessionOptions()
        prof.intra_op_num_threads, prof.inter_op_num_threads = threads, 1
        prof.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        prof.log_severity_level = 3
        prof.enable_profiling = True
        work = tempfile.mkdtemp(prefix=".flopcalc-ort-")
        prof.profile_file_prefix = os.path.join(work, "profile")
        try:
            s2 = ort.InferenceSession(path, prof, providers=["CPUExecutionProvider"])
            for _ in range(repeats + 2):
                s2.run(None, {name: x})
            events = json.loads(Path(s2.end_profiling()).read_text())
        finally:
            shutil.rmtree(work, ignore_errors=True)
        runs: dict[str, list[float]] = {}
        for e in events:
            if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time"):
                runs.setdefault(e["name"][:-len("_kernel_time")], []).append(e["dur"] / 1e6)
        return {k: statistics.median(v[2:] or v) for k, v in runs.items()}  # the first two runs warm up
    return Compiled("onnxruntime", "", (), lambda x: session.run(None, {name: x})[0], layer_seconds=layer_seconds)


def _ov_convert(net, shape, dtype, calibration, folder: Path) -> dict:
    import openvino as ov
    onnx_path, macs = _onnx_files(net, shape, dtype, calibration, folder, "openvino")
    model = ov.Core().read_model(str(onnx_path))
    ov.save_model(model, str(folder / "model.xml"), compress_to_fp16=False)
    onnx_path.unlink()
    return {"file": "model.xml", "graph_macs": macs, "graph_macs_ir": ir_macs(model)}


def ir_macs(model) -> int:
    """Multiply-adds of an OpenVINO model's Convolution, GroupConvolution and MatMul nodes."""
    total = 0
    for op in model.get_ops():
        kind = op.get_type_name()
        if kind not in ("Convolution", "GroupConvolution", "MatMul"):
            continue
        out = list(op.get_output_partial_shape(0).to_shape())
        w = list(op.get_input_partial_shape(1).to_shape())
        n_out = int(np.prod(out))
        if kind == "Convolution":          # weights (O, I, kh, kw)
            total += n_out * int(np.prod(w[1:]))
        elif kind == "GroupConvolution":   # weights (G, O/G, I/G, kh, kw)
            total += n_out * int(np.prod(w[2:]))
        else:
            a = list(op.get_input_partial_shape(0).to_shape())
            k = a[-1] if not op.get_transpose_a() else a[-2]
            total += n_out * int(k)
    return total


def _ov_load(folder: Path, manifest: dict, threads: int) -> Compiled:
    import openvino as ov
    core = ov.Core()
    model = core.read_model(str(folder / manifest["info"]["file"]))
    config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": threads, "NUM_STREAMS": 1,
              "INFERENCE_PRECISION_HINT": "f32"}
    compiled = core.compile_model(model, "CPU", config)
    request = compiled.create_infer_request()

    def run(x: np.ndarray) -> np.ndarray:
        return request.infer({0: x})[0]

    def layer_seconds(x: np.ndarray, repeats: int = 7) -> dict[str, float]:
        """Median seconds of each executed node over ``repeats`` runs (OpenVINO's performance counters, a
        compiled model of their own, released on return: many profiled models kept alive at once slowed
        the layers of the later ones up to 7 times)."""
        req = core.compile_model(model, "CPU", dict(config, PERF_COUNT=True)).create_infer_request()
        times: dict[str, list[float]] = {}
        for i in range(repeats + 2):
            req.infer({0: x})
            if i < 2:
                continue
            for p in req.profiling_info:
                if p.status == p.Status.EXECUTED:
                    times.setdefault(p.node_name, []).append(p.real_time.total_seconds())
        import statistics
        return {k: statistics.median(v) for k, v in times.items()}
    return Compiled("openvino", "", (), run, layer_seconds=layer_seconds)


# ----------------------------------------------------------------------------- ExecuTorch (XNNPACK)

def _exported_macs(program) -> int:
    """Multiply-adds of an exported program's convolutions and linear layers."""
    total = 0
    for node in program.graph.nodes:
        if node.op != "call_function":
            continue
        name = str(node.target)
        out = node.meta.get("val")
        if out is None:
            continue
        if "aten.convolution" in name or "aten.conv2d" in name:
            w = node.args[1].meta["val"]
            total += int(out.numel()) * int(np.prod(w.shape[1:]))
        elif "aten.linear" in name:
            w = node.args[1].meta["val"]
            total += int(out.numel()) * int(w.shape[1])
        elif "aten.addmm" in name or "aten.mm" in name:
            a = node.args[-2].meta["val"]
            total += int(out.numel()) * int(a.shape[-1])
    return total


def _et_convert(net, shape, dtype, calibration, folder: Path) -> dict:
    x = torch.zeros(shape)
    with _quiet() as log:  # the imports too: torchao announces its missing CUDA kernels on stderr
        from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
        from executorch.exir import to_edge_transform_and_lower
        try:
            program = torch.export.export(net, (x,))
        except Exception as e:  # noqa: BLE001 - torch.export's failures are many types
            raise _convert_error("executorch", e) from None
        macs = _exported_macs(program)
        if dtype == "int8":
            program = _et_quantize(net, x, calibration)
        try:
            lowered = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()])
            buffer = lowered.to_executorch().buffer
        except Exception as e:  # noqa: BLE001
            raise _convert_error("executorch", e, "".join(log)) from None
    delegated = sum(1 for n in lowered.exported_program().graph.nodes
                    if n.op == "call_function" and "executorch_call_delegate" in str(n.target))
    left = sorted({str(n.target) for n in lowered.exported_program().graph.nodes
                   if n.op == "call_function" and "executorch_call_delegate" not in str(n.target)
                   and "getitem" not in str(n.target)})
    (folder / "model.pte").write_bytes(buffer)
    return {"file": "model.pte", "graph_macs": macs, "delegates": delegated, "not_delegated": left}


def _et_quantize(net, x, calibration):
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (XNNPACKQuantizer,
                                                                         get_symmetric_quantization_config)
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e
    quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))
    graph = torch.export.export(net, (x,)).module()
    prepared_graph = prepare_pt2e(graph, quantizer)
    with torch.no_grad():
        for c in calibration:
            prepared_graph(torch.as_tensor(c))
    return torch.export.export(convert_pt2e(prepared_graph), (x,))


def _et_load(folder: Path, manifest: dict, threads: int) -> Compiled:
    with _quiet():  # the import too: torch's logger announces torchao's enum registrations on stderr
        from executorch.runtime import Runtime
        program = Runtime.get().load_program(str(folder / manifest["info"]["file"]))
        method = program.load_method("forward")

    def run(x: np.ndarray, _program=program) -> np.ndarray:  # the method needs its program alive
        return method.execute([torch.from_numpy(x)])[0].numpy()
    return Compiled("executorch", "", (), run)


# ----------------------------------------------------------------------------- ncnn (pnnx)

def _ncnn_convert(net, shape, dtype, calibration, folder: Path) -> dict:
    import pnnx
    work = Path(tempfile.mkdtemp(prefix=".flopcalc-pnnx-"))
    try:
        failed = None
        with _quiet() as log:
            try:
                pnnx.export(net, str(work / "m.pt"), (torch.zeros(shape),), fp16=False)  # float32 weights
            except Exception as e:  # noqa: BLE001 - pnnx raises what tracing raises, or a missing file when
                failed = e          # its converter aborted (its own error is then in the log)
        text = "".join(log)
        if failed is not None:
            raise _convert_error("ncnn", failed, text) from None
        param, weights = work / "m.ncnn.param", work / "m.ncnn.bin"
        if not param.exists() or not weights.exists():
            raise _convert_error("ncnn", RuntimeError("pnnx wrote no ncnn model"), text)
        shutil.copy(param, folder / "model.param")
        shutil.copy(weights, folder / "model.bin")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    import ncnn
    unknown = _ncnn_unregistered(folder / "model.param", ncnn)
    if unknown:
        raise EngineError(f"ncnn cannot convert this model: it has no layer for {', '.join(unknown)} "
                          "(pnnx left them as torch ops)")
    n = _ncnn_net(folder, 1)
    return {"file": "model.param", "graph_macs": _ncnn_macs(n, folder / "model.param", shape)}


def _ncnn_unregistered(param: Path, ncnn) -> list[str]:
    """Layer types in the .param file that this ncnn has no implementation of."""
    lines = param.read_text().splitlines()[2:]
    types = {line.split()[0] for line in lines if line.strip()}
    return sorted(t for t in types if ncnn.layer_to_index(t) < 0)


def _ncnn_net(folder: Path, threads: int):
    import ncnn
    n = ncnn.Net()
    n.opt.num_threads = threads
    for flag in ("use_fp16_packed", "use_fp16_storage", "use_fp16_arithmetic", "use_bf16_storage"):
        setattr(n.opt, flag, False)  # float32 throughout, as the other engines
    if n.load_param(str(folder / "model.param")) != 0 or n.load_model(str(folder / "model.bin")) != 0:
        raise EngineError(f"ncnn could not read the converted model in {folder}")
    return n


def _ncnn_run(n, x: np.ndarray) -> np.ndarray:
    import ncnn
    outs = []
    for image in x:  # ncnn's Mat holds one image (C, H, W); a batch is a loop
        ex = n.create_extractor()
        ex.input(n.input_names()[0], ncnn.Mat(np.ascontiguousarray(image)).clone())
        _, out = ex.extract(n.output_names()[0])
        outs.append(np.array(out).reshape(-1))
    return np.stack(outs)


def _ncnn_macs(n, param: Path, shape) -> int:
    """Multiply-adds of the .param file's Convolution, ConvolutionDepthWise and InnerProduct layers:
    each layer's weight count (its weight_data_size field: ``6=``, an InnerProduct's ``2=``) times its
    output's spatial size, read by running one image and extracting every layer's output blob."""
    import ncnn
    x = np.zeros(shape[1:], dtype=np.float32)
    total = 0
    for line in param.read_text().splitlines()[2:]:
        parts = line.split()
        if not parts or parts[0] not in ("Convolution", "ConvolutionDepthWise", "InnerProduct"):
            continue
        n_in, n_out = int(parts[2]), int(parts[3])
        top = parts[4 + n_in]
        fields = dict(p.split("=", 1) for p in parts[4 + n_in + n_out:] if "=" in p)
        weights = int(fields["2" if parts[0] == "InnerProduct" else "6"])  # weight_data_size
        ex = n.create_extractor()
        ex.input(n.input_names()[0], ncnn.Mat(x).clone())
        _, blob = ex.extract(top)
        spatial = blob.w * blob.h if parts[0] != "InnerProduct" else 1
        total += weights * spatial
    return total * shape[0]


def _ncnn_load(folder: Path, manifest: dict, threads: int) -> Compiled:
    n = _ncnn_net(folder, threads)
    return Compiled("ncnn", "", (), lambda x: _ncnn_run(n, x))


_CONVERTERS = {"onnxruntime": (_ort_convert, _ort_load), "openvino": (_ov_convert, _ov_load),
               "executorch": (_et_convert, _et_load), "ncnn": (_ncnn_convert, _ncnn_load)}
