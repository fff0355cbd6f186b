"""``flopcalc experiment NAME``: the MobileNet papers' claims, trained end to end on real data,
measured accuracy beside flopcalc's exact multiply-adds and parameters.

- ``width``: alpha in {0.35, 0.5, 0.75, 1.0, 1.4} for V1 and V2;
- ``resolution``: the input size swept (digits upscaled to 8, 16, 24, 32);
- ``v1-vs-v2``: V1 and V2 configs matched in multiply-adds (``flopcalc budget --near``);
- ``relu6-int8``: V2 with ReLU6 and with ReLU, float32 against int8 (post-training static
  quantization, calibrated, and with a fixed activation range);
- ``augment``: the default recipe against MixUp and CutMix.

Each trial is one ``flopcalc train`` run (``DIR/runs/<trial>/``) for each of ``seeds`` seeds;
``DIR/results.jsonl`` gets one line per trained model, ``DIR/README.md`` the table (mean and
spread over seeds) and ``DIR/accuracy_vs_macs.png`` the plot. Run again with the same ``--out``
and it goes on where it stopped: finished trials are read back, a killed one resumes."""

from __future__ import annotations

from .plan import DEFAULT_EPOCHS, DEFAULT_SEEDS, EXPERIMENTS, ExperimentError, Trial, relu_v2, trials
from .runner import run, write_outputs

__all__ = ["DEFAULT_EPOCHS", "DEFAULT_SEEDS", "EXPERIMENTS", "ExperimentError", "Trial", "relu_v2", "run", "trials",
           "write_outputs"]
