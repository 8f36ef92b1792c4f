"""Words ↔ typed values ↔ integers: word order, types, exact rounding, sentinels, read planning."""

import math
import struct
from fractions import Fraction

import pytest
from vpp_edge.maps import load_map, parse_map
from vpp_edge.protocols.registers import ReadSpan, decode_raw, encode_raw, plan_reads, to_integer_unit


def row(rtype: str, word_order: str = "big", length: int | None = None):
    reg = {"channel": "x", "address": 0, "type": rtype, "unit": "Wh"}
    if length:
        reg = {"channel": "serial", "address": 0, "type": rtype, "length": length}
    counters = {"imported_wh": "x" if not length else "y", "exported_wh": "y"}
    doc = {"name": "m", "word_order": word_order, "kinds": {"grid": counters},
           "registers": [reg, {"channel": "y", "address": 10, "type": "u16", "unit": "Wh"}]}
    return parse_map(doc).registers[0]


@pytest.mark.parametrize(("rtype", "words", "value"), [
    ("u16", [0xFFFE], 65534), ("s16", [0xFFFE], -2), ("u32", [0x0001, 0x0002], 65538),
    ("s32", [0xFFFF, 0xFFFF], -1), ("u64", [0, 0, 1, 0], 65536),
    ("f32", list(struct.unpack(">2H", struct.pack(">f", 1.5))), 1.5),
])
def test_decode_types_big_endian(rtype, words, value):
    assert decode_raw(row(rtype), words) == value
    assert encode_raw(row(rtype), value) == words


def test_little_word_order_swaps_words_not_bytes():
    assert decode_raw(row("u32", "little"), [0x0002, 0x0001]) == 0x00010002
    assert decode_raw(row("u64", "little"), [4, 3, 2, 1]) == 0x0001000200030004
    f = list(struct.unpack(">2H", struct.pack(">f", -7.25)))
    assert decode_raw(row("f32", "little"), f[::-1]) == -7.25


def test_string_stops_at_nul_and_strips():
    assert decode_raw(row("string", length=4), [0x4142, 0x4320, 0x0000, 0x5858]) == "ABC"


@pytest.mark.parametrize(("raw", "exponent", "expected"), [
    (12345, 0, 12345), (12345, 3, 12_345_000), (12345, -1, 1235), (12344, -1, 1234), (-12345, -1, -1235),
    (5, -1, 1), (-5, -1, -1), (4, -1, 0), (1.5, 0, 2), (-1.5, 0, -2), (2.4999999, 0, 2), (0.0005, 3, 1),
])
def test_exact_rounding_half_away_from_zero(raw, exponent, expected):
    assert to_integer_unit(raw, exponent) == expected


def test_float_conversion_is_exact_not_double_rounded():
    # float32 12345.678 is 12345.677734375 exactly: × 1000 = 12345677.734375 → 12345678
    f32 = struct.unpack(">f", struct.pack(">f", 12345.678))[0]
    assert Fraction(f32) == Fraction(12345677734375, 1_000_000_000)
    assert to_integer_unit(f32, 3) == 12_345_678
    assert isinstance(to_integer_unit(f32, 3), int)
    assert not math.isnan(f32)


def test_plan_reads_groups_rows_within_max_span():
    spans, placement = plan_reads(load_map("sunspec_inverter_103"))
    assert spans == [ReadSpan("holding", 40000, 97)]
    spans, _ = plan_reads(load_map("eastron_sdm630"))
    assert spans == [ReadSpan("holding", 64512, 2), ReadSpan("input", 0, 76)]
    spans, placement = plan_reads(load_map("sunspec_storage_802"))
    assert spans == [ReadSpan("holding", 40000, 97), ReadSpan("holding", 40183, 101)]
    assert all(span.count <= 125 for span in spans)
    by_channel = {r.channel: (i, off) for r, i, off in placement}
    assert by_channel["soc_permille"] == (1, 40236 - 40183)
