"""Memory traffic of a forward pass, analytically: bytes each layer reads and writes, its
arithmetic intensity, and the peak activation memory under sequential execution.

A layer reads its input activations and its stored values (weights, biases, batch-norm
statistics: everything the built model keeps for it, buffers included) and writes its output;
a residual add or a channel scale reads the block input too. Activations scale with the batch,
stored values do not. ``dtype`` sets the bytes per value for all of them (float32 4, float16 2,
int8 1). Arithmetic intensity is multiply-adds per byte moved.

Peak activation memory: walking the layers in order, what must be alive at once: a layer's
input and its output, and every block input still waiting for its residual add or channel
scale. In-place activations would lower it; this counts each layer as writing a new tensor.
"""

from __future__ import annotations

from dataclasses import dataclass

from .walk import Analysis, flatten
from .spec import BatchNorm2d, elements

DTYPES = {"float32": 4, "float16": 2, "bfloat16": 2, "int8": 1}


@dataclass(frozen=True)
class Traffic:
    name: str
    bytes_read: int
    bytes_written: int
    stored_bytes: int   # of bytes_read: weights and buffers
    macs: int

    @property
    def bytes(self) -> int:
        return self.bytes_read + self.bytes_written

    @property
    def intensity(self) -> float:
        """Multiply-adds per byte moved."""
        return self.macs / self.bytes if self.bytes else 0.0


@dataclass(frozen=True)
class Memory:
    dtype: str
    bytes_per_value: int
    layers: tuple[Traffic, ...]
    peak_bytes: int     # activations alive at once, at most
    peak_at: str        # the layer where that peak is reached

    @property
    def bytes_read(self) -> int:
        return sum(t.bytes_read for t in self.layers)

    @property
    def bytes_written(self) -> int:
        return sum(t.bytes_written for t in self.layers)


def stored_values(row) -> int:
    """Values the built model stores for a layer: its parameters, and a batch norm's running
    mean and variance (the batch counter is not read in a forward pass)."""
    extra = 2 * row.spec.num_features if isinstance(row.spec, BatchNorm2d) else 0
    return (row.params or 0) + extra


def check_dtype(dtype: str) -> int:
    from .spec import SpecError
    if dtype not in DTYPES:
        raise SpecError(f"unknown dtype {dtype!r}; accepted: {', '.join(DTYPES)}")
    return DTYPES[dtype]


def memory(a: Analysis, dtype: str = "float32") -> Memory:
    """The traffic of every layer of ``a`` (at its batch) and the peak activation memory."""
    size = check_dtype(dtype)
    batch = a.batch
    if a.spec is None:
        return _recorded_memory(a, size, dtype)
    flat = flatten(a.spec)
    # held beside the running map: a block input, from the row that reads it first until the last row that
    # reads it again (a skip layer; a branch's first layer); a branch's output, until the row that joins them
    last_reader: dict[tuple, int] = {}
    for i, (_, _, skip, source) in enumerate(flat):
        for j in ((skip,) if skip.__class__ is int and skip >= 0 else ()) + ((source,) if source >= 0 else ()):
            last_reader[("in", j)] = i
        if skip.__class__ is tuple:
            for j in skip:
                last_reader[("out", j)] = i
    waiting: dict[tuple, int] = {}  # what is held -> its bytes
    traffic, alive = [], []
    for i, (row, (_, _, skip, source)) in enumerate(zip(a.layers, flat)):
        x_in = elements(row.input_shape) * batch * size
        x_out = elements(row.output_shape) * batch * size
        stored = stored_values(row) * size
        extra = 0
        reads = set()  # held tensors this row reads as its input (not held beside it)
        if skip.__class__ is tuple:  # a join reads every branch's output
            reads = {("out", j) for j in skip}
            x_in = sum(waiting.get(k, 0) for k in reads)
        elif skip >= 0:  # the block input, read again
            extra = elements(a.layers[skip].input_shape) * batch * size
        if source >= 0:
            reads.add(("in", source))
        traffic.append(Traffic(row.name, x_in + extra + stored, x_out, stored, row.macs or 0))
        if ("in", i) in last_reader:
            waiting[("in", i)] = x_in
        alive.append((x_in + x_out + sum(b for k, b in waiting.items() if k != ("in", i) and k not in reads),
                      row.name))
        if ("out", i) in last_reader:
            waiting[("out", i)] = x_out
        for k in [k for k in waiting if last_reader[k] == i]:
            del waiting[k]
    peak, peak_at = max(alive, key=lambda t: t[0])  # the first layer where the most is alive
    return Memory(dtype, size, tuple(traffic), peak, peak_at)


def _recorded_memory(a: Analysis, size: int, dtype: str) -> Memory:
    """A recorded model's traffic: each operation reads its input (and a second operand: a residual
    add's other map, a broadcast operand) and its stored values, and writes its output. The peak is
    from the tensors' own lifetimes as the run kept them (:attr:`Analysis.alive`: a tensor lives from
    the operation that writes it to the last one that reads it; views share their buffer); without
    them (an ONNX file's rows), each operation's input and output."""
    from .operations import Elementwise
    from .spec import ChannelScale, ResidualAdd
    batch = a.batch
    traffic = []
    for row in a.layers:
        if row.kind == "unused":
            traffic.append(Traffic(row.name, 0, 0, 0, 0))
            continue
        x_in = elements(row.input_shape) * batch * size
        x_out = elements(row.output_shape) * batch * size
        if isinstance(row.spec, (ResidualAdd, ChannelScale)):  # the block input, its output's size
            extra = elements(row.output_shape) * batch * size
        elif isinstance(row.spec, Elementwise) and row.spec.other:
            extra = elements(row.spec.other) * size
        else:
            extra = 0
        stored = stored_values(row) * size
        traffic.append(Traffic(row.name, x_in + extra + stored, x_out, stored, row.macs or 0))
    if a.alive:
        i = max(range(len(a.layers)), key=lambda k: a.alive[k])
        return Memory(dtype, size, tuple(traffic), a.alive[i] * size, a.layers[i].name)
    peak, at = max(((t.bytes_read - t.stored_bytes + t.bytes_written, t.name) for t in traffic), default=(0, ""))
    return Memory(dtype, size, tuple(traffic), peak, at)
