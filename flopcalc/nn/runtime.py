"""The torch process's settings: its threads, its allocator, its compiler.

How many threads torch takes: ``--threads N``; else ``OMP_NUM_THREADS`` as torch reads it;
else the cores other processes leave idle (:func:`flopcalc.cpuload.default_threads`), so a
second torch job on the machine does not collapse this one."""

from __future__ import annotations

import contextlib
import gc
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


@contextlib.contextmanager
def collector_paused():
    """Python's cyclic garbage collector off while a model is built and recorded. Both make tens of
    thousands of small objects (modules and their dicts, tensors, records) that stay alive to the end,
    and each burst of them sets off collections that walk every object torch's import made: a fifth
    to a third of EfficientNet-B7's build and recording. Nothing collectable is lost, only later."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


_KEPT = False


def keep_freed_memory() -> bool:
    """Ask the C library's allocator (glibc) to serve every allocation from its heap and to keep
    freed memory for reuse: no ``mmap`` per large tensor, no trimming. By default glibc maps each
    activation above its (moving) threshold fresh and unmaps it when freed, so every forward pass
    page-faults its big activations in again: measured 2.5x slower for MobileNet V2 at batch 32
    (216 ms against 86 ms here). Process-wide and permanent, as a preloaded jemalloc or tcmalloc
    would be; the commands that run models (``bench``, ``evaluate``, ``predict``, ``machine``)
    call it. Returns False where the allocator is not glibc's (nothing changed)."""
    global _KEPT
    if _KEPT:
        return True
    import ctypes
    import ctypes.util
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_max = -1, -4
    _KEPT = bool(mallopt(m_mmap_max, 0)) and bool(mallopt(m_trim_threshold, 2**31 - 1))
    return _KEPT


def compiler_available() -> bool:
    """torch.compile's CPU backend needs a C++ compiler."""
    import shutil
    return any(shutil.which(c) for c in ("c++", "g++", "clang++"))
