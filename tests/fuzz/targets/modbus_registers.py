"""Modbus register decoding for every shipped register map: words as a device could serve them → a sample's
integers, or a DeviceError with a code (MAP_MISMATCH, VALUE_UNAVAILABLE, BAD_VALUE).

Input layout: byte 0 picks the map (``available_maps()`` order), byte 1 the asset kind among the map's kinds, byte 2
bit 0 writes each ``expect`` row's constant (SunSpec marker, model id) into the words so that mutations reach the
value rows; the rest are the register words, big-endian, as many as the map's read plan asks for (zero-padded).
The bus hands the decoder exactly ``count`` words per span (modbus_bus checks it), so the count is not fuzzed.
"""

from __future__ import annotations

import functools

from vpp_edge.maps import available_maps, load_map
from vpp_edge.protocols.registers import decode_registers, encode_raw, plan_reads

from tests.fuzz.targets.harness import check_integer, coded


@functools.cache
def plans():
    out = []
    for name in available_maps():
        regmap = load_map(name)
        spans, placement = plan_reads(regmap)
        out.append((regmap, spans, placement))
    return tuple(out)


def check(data: bytes) -> None:
    if len(data) < 3:
        return
    regmap, spans, placement = plans()[data[0] % len(plans())]
    kinds = sorted(regmap.kinds)
    kind = kinds[data[1] % len(kinds)]
    counter_channels = set(regmap.counters_for(kind).values())
    words_in = data[3:]
    words: list[list[int]] = []
    offset = 0
    for span in spans:
        chunk = words_in[offset: offset + 2 * span.count].ljust(2 * span.count, b"\x00")
        offset += 2 * span.count
        words.append([int.from_bytes(chunk[i: i + 2], "big") for i in range(0, len(chunk), 2)])
    if data[2] & 0b01:
        for row, index, at in placement:
            if row.role == "expect":
                words[index][at: at + row.length] = encode_raw(row, row.expect)
    decoded = coded(decode_registers, regmap, counter_channels, placement, words, "fuzz")
    if decoded is None:
        return
    assert set(decoded.counters) == counter_channels, (decoded.counters, counter_channels)
    for channel, value in {**decoded.counters, **decoded.gauges}.items():
        check_integer(value, f"{regmap.name} {channel}")
    for value in decoded.counters.values():
        assert value >= 0, f"negative counter {value} left the decoder"
