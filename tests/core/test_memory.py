"""Memory traffic and peak activation memory, against hand-computed layers."""

from __future__ import annotations

import json

import pytest

from flopcalc.walk import count_layers
from flopcalc.memory import memory
from flopcalc.spec import BatchNorm2d, Conv2d, Network, ResidualAdd, Sequential, SpecError


def test_a_conv_and_a_batch_norm_by_hand():
    net = Network("hand", 8, (("c", Conv2d(8, 16, 3)), ("bn", BatchNorm2d(16))))
    m = memory(count_layers(net, resolution=10, batch=2), "float32")
    conv, bn = m.layers
    assert conv.bytes_read == (2 * 8 * 10 * 10 + 3 * 3 * 8 * 16) * 4    # input, both images, and the weights once
    assert conv.bytes_written == 2 * 16 * 10 * 10 * 4
    assert conv.macs == 2 * 3 * 3 * 8 * 16 * 100
    assert conv.intensity == (2 * 9 * 8 * 16 * 100) / ((2 * 800 + 9 * 8 * 16 + 2 * 1600) * 4)
    assert conv.stored_bytes == 3 * 3 * 8 * 16 * 4
    assert bn.bytes_read == (2 * 16 * 100 + 4 * 16) * 4  # gamma, beta, running mean and variance
    assert (bn.stored_bytes, bn.macs, bn.intensity) == (4 * 16 * 4, 0, 0.0)
    assert (m.dtype, m.bytes_per_value) == ("float32", 4)
    assert (m.bytes_read, m.bytes_written) == ((1600 + 9 * 8 * 16) * 4 + (3200 + 64) * 4, 2 * 3200 * 4)
    assert memory(count_layers(net, resolution=10, batch=2), "int8").layers[0].bytes_read * 4 == conv.bytes_read


def test_peak_holds_the_residual_input():
    block = Sequential((("0", Conv2d(8, 8, 3)), ("add", ResidualAdd())))
    net = Network("res", 3, (("stem", Conv2d(3, 8, 3)), ("block", block)))
    m = memory(count_layers(net, resolution=10), "float32")
    stem, conv, add = m.layers
    assert add.bytes_read == (800 + 800) * 4           # the conv's output and the block input
    assert (m.peak_bytes, m.peak_at) == ((800 + 800 + 800) * 4, "block.add")  # input, output, the waiting skip
    assert m.bytes_written == (800 + 800 + 800) * 4


def test_attention_holds_its_input_and_branches_until_they_are_read():
    """MobileNetV4's attention block on an 8x4x4 map (values, float32 x 4), by hand: the block input waits
    for the add (128), the normalized map for the value branch (128), the queries (128) and the keys (16)
    for the attention. The most at once is at key.norm: those three, the keys' 32 in and 32 out."""
    from flopcalc.spec import MobileAttention
    net = Network("mqa", 8, (("b", MobileAttention(8, 8, 2, key_dim=4, kv_stride=2)),))
    m = memory(count_layers(net, resolution=4), "float32")
    assert (m.peak_bytes, m.peak_at) == ((128 * 3 + 32 + 32) * 4, "b.attn.key.norm")
    rows = {t.name: t for t in m.layers}
    assert rows["b.attn.attention"].bytes_read == (128 + 16 + 16) * 4  # queries, keys and values
    assert rows["b.attn.value.down_conv"].bytes_read == (128 + 9 * 8) * 4  # the normalized map again
    assert rows["b.add"].bytes_read == (128 + 128) * 4


def test_v2_peak_is_at_the_widest_early_maps():
    m = memory(count_layers("mobilenet_v2"))
    assert m.peak_at.startswith("features.2.") and m.peak_bytes == (96 + 96) * 112 * 112 * 4
    stem = m.layers[0]  # 3x224x224 in, 3*3*3*32 weights, 32x112x112 out (Table 2's first row)
    assert (stem.bytes_read, stem.bytes_written) == ((3 * 224 * 224 + 864) * 4, 32 * 112 * 112 * 4)


def test_a_block_first_in_the_network_holds_the_networks_input():
    # the block input is row 0's input: the 3x10x10 image, read again by the add
    block = Sequential((("0", Conv2d(3, 3, 3)), ("add", ResidualAdd())))
    m = memory(count_layers(Network("first", 3, (("block", block),)), resolution=10))
    conv, add = m.layers
    assert add.bytes_read == (300 + 300) * 4
    assert (m.peak_bytes, m.peak_at) == ((300 + 300 + 300) * 4, "block.add")
    # and freed after the add: a head 3 -> 8 then holds its 300 in and 800 out, no more
    m = memory(count_layers(Network("first", 3, (("block", block), ("head", Conv2d(3, 8, 3)))), resolution=10))
    assert (m.peak_bytes, m.peak_at) == ((300 + 800) * 4, "head")


def test_a_block_input_is_freed_after_its_last_reader():
    # after the add, the 8x10x10 block input is gone: the head (8 -> 16 channels) holds 800 + 1600
    # values, as many as the add held (800 + 800 + the waiting 800), so the peak stays at the add
    block = Sequential((("0", Conv2d(8, 8, 3)), ("add", ResidualAdd())))
    net = Network("res", 3, (("stem", Conv2d(3, 8, 3)), ("block", block), ("head", Conv2d(8, 16, 3))))
    m = memory(count_layers(net, resolution=10))
    assert (m.peak_bytes, m.peak_at) == (2400 * 4, "block.add")
    # two adds of the same block input: it is held until the second, so block.1 (8 -> 16) holds its
    # input, its output and the waiting block input: 800 + 1600 + 800
    twice = Sequential((("0", Conv2d(8, 8, 3)), ("add", ResidualAdd()), ("1", Conv2d(8, 16, 3)),
                        ("2", Conv2d(16, 8, 3)), ("add2", ResidualAdd())))
    net = Network("twice", 3, (("stem", Conv2d(3, 8, 3)), ("block", twice)))
    m = memory(count_layers(net, resolution=10))
    assert m.layers[5].bytes_read == (800 + 800) * 4                    # add2 reads the block input again
    assert (m.peak_bytes, m.peak_at) == (3200 * 4, "block.1")


def test_unknown_dtype():
    with pytest.raises(SpecError, match="unknown dtype 'float64'; accepted: float32, float16, bfloat16, int8$"):
        memory(count_layers("mobilenet_v1"), "float64")


def test_table_memory_json(cli):
    doc = json.loads(cli("table", "mobilenet_v2", "--memory", "--dtype", "float16", "--format", "json")[1])
    assert doc["memory"]["bytes_per_value"] == 2 and doc["memory"]["peak_at"].startswith("features.2.")
    assert doc["memory"]["peak_activation_bytes"] == (96 + 96) * 112 * 112 * 2
    assert sum(l["bytes_read"] for l in doc["layers"]) == doc["memory"]["bytes_read"]
    layer = doc["layers"][0]  # the stem conv in float16
    macs, moved = 3 * 3 * 3 * 32 * 112 * 112, (3 * 224 * 224 + 864 + 32 * 112 * 112) * 2
    assert (layer["macs"], layer["bytes_read"] + layer["bytes_written"]) == (macs, moved)
    assert layer["intensity"] == macs / moved
