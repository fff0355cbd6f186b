"""How many threads torch takes: ``--threads N``; else ``OMP_NUM_THREADS`` as torch reads it;
else the cores other processes leave idle (:func:`flopcalc.cpuload.default_threads`), so a
second torch job on the machine does not collapse this one."""

from __future__ import annotations

import os

import torch

from .. import cpuload

_NATIVE = torch.get_num_threads()  # torch's own choice (a thread per physical core, or OMP_NUM_THREADS)


def set_threads(requested: int | None = None) -> int:
    """Set torch's intra-op threads for this process as the module docstring says; the count."""
    if requested:
        n = requested
    elif os.environ.get("OMP_NUM_THREADS"):
        n = _NATIVE
    else:
        n = cpuload.default_threads(cpuload.others_recently(), _NATIVE)
    torch.set_num_threads(n)
    return n
