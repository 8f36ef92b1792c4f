"""Register words <-> typed values <-> the edge's integers (Wh, W, permille, dV, mA, mHz), for one register map.

Conversion happens once, here, at the driver edge: the raw value times 10^(scale + unit exponent) is computed exactly
(integers, or the exact binary value of an IEEE float as a fraction) and rounded to the nearest integer, ties away
from zero. No float leaves this module.

"Not implemented" values (SunSpec sentinels 0xFFFF, 0x8000, 0xFFFFFFFF, 0x80000000, 0xFFFFFFFFFFFFFFFF, a scale
factor of 0x8000; NaN or infinity for float32 in every map) make a gauge missing from the sample and a counter a
DeviceError: never a number the device did not measure.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from fractions import Fraction

from vpp_edge.errors import DeviceError
from vpp_edge.maps import Register, RegisterMap

SUNSPEC_NOT_IMPLEMENTED = {"u16": 0xFFFF, "s16": -0x8000, "sunssf": -0x8000, "u32": 0xFFFFFFFF, "s32": -0x80000000,
                           "u64": 0xFFFFFFFFFFFFFFFF}


@dataclass(frozen=True, slots=True)
class ReadSpan:
    """One request: `count` registers of one function from `address`."""

    function: str
    address: int
    count: int


@dataclass(frozen=True, slots=True)
class DecodedRegisters:
    counters: dict[str, int]   # channel -> integer Wh
    gauges: dict[str, int]
    serial: str | None


def plan_reads(regmap: RegisterMap) -> tuple[list[ReadSpan], list[tuple[Register, int, int]]]:
    """Group the map's rows into as few requests as `max_span` allows; return the spans and, per row, (row, span
    index, offset in span). Gaps between rows are read too (a SunSpec model is one contiguous block)."""
    spans: list[ReadSpan] = []
    placement: list[tuple[Register, int, int]] = []
    for function in ("holding", "input"):
        rows = sorted((r for r in regmap.registers if r.function == function), key=lambda r: r.address)
        start = end = None
        members: list[Register] = []
        for row in rows:
            if start is not None and row.end - start <= regmap.max_span:
                end = max(end, row.end)
                members.append(row)
                continue
            if start is not None:
                _close_span(spans, placement, function, start, end, members)
            if row.length > regmap.max_span:
                raise DeviceError(f"map {regmap.name!r}: row {row.channel} is longer than max_span", code="MAP")
            start, end, members = row.address, row.end, [row]
        if start is not None:
            _close_span(spans, placement, function, start, end, members)
    return spans, placement


def _close_span(spans, placement, function, start, end, members) -> None:
    index = len(spans)
    spans.append(ReadSpan(function, start, end - start))
    placement.extend((row, index, row.address - start) for row in members)


def decode_raw(row: Register, words: list[int]) -> int | float | str:
    """The row's value as the device states it (before scaling)."""
    if row.word_order == "little" and row.type != "string":
        words = words[::-1]
    data = struct.pack(f">{len(words)}H", *words)
    kind = row.type
    if kind == "string":
        return data.split(b"\x00", 1)[0].decode("latin-1").strip()
    if kind == "u16":
        return words[0]
    if kind in ("s16", "sunssf"):
        return struct.unpack(">h", data)[0]
    if kind == "u32":
        return struct.unpack(">I", data)[0]
    if kind == "s32":
        return struct.unpack(">i", data)[0]
    if kind == "u64":
        return struct.unpack(">Q", data)[0]
    if kind == "f32":
        return struct.unpack(">f", data)[0]
    raise AssertionError(kind)  # the map loader admits no other type


def encode_raw(row: Register, value: int | float | str) -> list[int]:
    """Inverse of decode_raw, for simulators and tests: the words a device holding `value` would serve."""
    kind = row.type
    if kind == "string":
        data = str(value).encode("latin-1")[: 2 * row.length].ljust(2 * row.length, b"\x00")
        return list(struct.unpack(f">{row.length}H", data))
    fmt = {"u16": ">H", "s16": ">h", "sunssf": ">h", "u32": ">I", "s32": ">i", "u64": ">Q", "f32": ">f"}[kind]
    words = list(struct.unpack(f">{row.length}H", struct.pack(fmt, value)))
    return words[::-1] if row.word_order == "little" else words


def is_not_implemented(regmap: RegisterMap, row: Register, raw) -> bool:
    if isinstance(raw, float):
        return not math.isfinite(raw)
    return regmap.sentinels == "sunspec" and SUNSPEC_NOT_IMPLEMENTED.get(row.type) == raw


def to_integer_unit(raw: int | float, exponent: int) -> int:
    """raw × 10^exponent rounded to the nearest integer, ties away from zero, computed exactly."""
    if isinstance(raw, int) and exponent >= 0:
        return raw * 10**exponent
    exact = Fraction(raw) * Fraction(10) ** exponent
    floor = exact.numerator // exact.denominator
    remainder = exact - floor
    if remainder > Fraction(1, 2) or (remainder == Fraction(1, 2) and exact > 0):
        return floor + 1
    return floor


def decode_registers(regmap: RegisterMap, counter_channels: set[str], placement, spans_words: list[list[int]],
                     device: str) -> DecodedRegisters:
    """Decode every row from the words read for each span; raise DeviceError for a map mismatch or a missing
    counter."""
    raw_values: dict[str, int | float | str] = {}
    for row, index, offset in placement:
        raw_values[row.channel] = decode_raw(row, spans_words[index][offset: offset + row.length])

    counters: dict[str, int] = {}
    gauges: dict[str, int] = {}
    serial: str | None = None
    for row in regmap.registers:
        raw = raw_values[row.channel]
        if row.role == "expect":
            if raw != row.expect:
                raise DeviceError(f"{device}: map {regmap.name!r} expects {row.expect!r} at {row.function} "
                                  f"{row.address} ({row.channel}), the device shows {raw!r}", code="MAP_MISMATCH")
        elif row.role == "serial":
            if not is_not_implemented(regmap, row, raw) and raw not in ("", 0):
                serial = str(raw)
        elif row.role in ("counter", "gauge"):
            value = _scaled(regmap, row, raw, raw_values, device)
            if row.role == "gauge":
                if value is not None:
                    gauges[row.channel] = value
            elif row.channel in counter_channels:
                if value is None:
                    raise DeviceError(f"{device}: counter {row.channel} ({row.function} {row.address}) reports "
                                      "'not implemented'", code="VALUE_UNAVAILABLE")
                if value < 0:
                    raise DeviceError(f"{device}: counter {row.channel} is negative ({value} Wh)", code="BAD_VALUE")
                counters[row.channel] = value
    return DecodedRegisters(counters, gauges, serial)


def _scaled(regmap: RegisterMap, row: Register, raw, raw_values: dict, device: str) -> int | None:
    if is_not_implemented(regmap, row, raw):
        return None
    exponent = row.scale
    if row.scale_ref is not None:
        sf_row = regmap.by_channel[row.scale_ref]
        sf = raw_values[row.scale_ref]
        if is_not_implemented(regmap, sf_row, sf):
            return None
        if not -10 <= sf <= 10:
            raise DeviceError(f"{device}: scale factor {row.scale_ref} = {sf} is outside -10..10", code="BAD_VALUE")
        exponent = sf
    value = to_integer_unit(raw, exponent + row.unit_exponent)
    return -value if row.invert else value
