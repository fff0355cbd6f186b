"""Record what Keras' own MobileNets report as ``model.count_params()``, for tests that run
without Keras (tests/core/test_conventions.py checks the keras convention against every record).

Run from the repository root in an environment with Keras 3 on its torch backend:

    pip install keras==3.15.1 && KERAS_BACKEND=torch python tools/make_keras_fixtures.py

Writes ``tests/data/keras_counts.json``: for each ``keras.applications`` model and keyword
arguments (``weights=None``: random weights, nothing downloaded), ``count_params()``, the
trainable and non-trainable counts, and every conv/dense kernel's shape in layer order (so the
channel rounding can be checked layer by layer). ``count_params()`` sums every weight,
batch-norm moving statistics included.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "keras_counts.json"
SHAPE = (224, 224, 3)


def configs():
    for a in (0.25, 0.5, 0.75, 1.0, 0.6, 0.9, 1.25):
        yield "MobileNet", {"alpha": a}
    for a in (0.35, 0.5, 0.75, 1.0, 1.3, 1.4, 0.6, 0.9, 0.56):
        # 0.56: make_divisible(int(c * alpha)) and make_divisible(c * alpha) differ there
        yield "MobileNetV2", {"alpha": a}
    for name in ("MobileNetV3Large", "MobileNetV3Small"):
        for a in (0.5, 0.6, 0.75, 0.9, 1.0, 1.25):
            yield name, {"alpha": a}
    for name in ("MobileNet", "MobileNetV2", "MobileNetV3Large", "MobileNetV3Small"):
        yield name, {"alpha": 1.0, "classes": 10}
        yield name, {"alpha": 1.0, "input_shape": (160, 128, 3)}


def size(weights) -> int:
    return int(sum(math.prod(w.shape) for w in weights))


def main() -> None:
    import torch
    record = {"generated_by": "tools/make_keras_fixtures.py",
              "versions": {"keras": keras.__version__, "backend": keras.backend.backend(),
                           "torch": torch.__version__},
              "configs": []}
    for name, kw in configs():
        kw = {"classes": 1000, "input_shape": SHAPE, **kw}
        keras.backend.clear_session()
        model = getattr(keras.applications, name)(weights=None, **kw)
        kernels = [[layer.name, list(w.shape)] for layer in model.layers for w in layer.weights
                   if w.name.endswith("kernel")]
        record["configs"].append({
            "model": name, "kwargs": {**kw, "input_shape": list(kw["input_shape"])},
            "count_params": int(model.count_params()), "trainable": size(model.trainable_weights),
            "non_trainable": size(model.non_trainable_weights), "kernels": kernels})
        print(name, kw, record["configs"][-1]["count_params"], flush=True)
    OUT.write_text(json.dumps(record, indent=None, separators=(",", ":")).replace('{"model"', '\n{"model"') + "\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
