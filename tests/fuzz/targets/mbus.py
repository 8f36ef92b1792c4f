"""Wired M-Bus long frame (68 L L 68 C A CI data CS 16): header, data records, energy in integer Wh.

The first byte's bit 0 makes the harness wrap the rest in a correct long frame (both length fields, checksum, stop
byte), so mutations reach the record decoder; without it the bytes go in raw, as the serial line delivers them.
"""

from __future__ import annotations

from vpp_edge.protocols.mbus import checksum, parse_long_frame

from tests.fuzz.targets.harness import check_integer, coded


def long_frame(data: bytes) -> bytes:
    if not data or not data[0] & 0b01:
        return data[1:]
    body = data[1:256]
    return bytes([0x68, len(body), len(body), 0x68]) + body + bytes([checksum(body), 0x16])


def check(data: bytes) -> None:
    frame = coded(parse_long_frame, long_frame(data))
    if frame is None:
        return
    for record in frame.records:
        value = coded(record.energy_wh)
        if value is not None:
            check_integer(value, f"energy of record {record}")
    for tariff in (0, 1):
        value = coded(frame.energy_wh, tariff=tariff)
        if value is not None:  # what the driver hands on as a cumulative counter
            check_integer(value, "frame energy")
            assert value >= 0, f"negative counter {value} left the decoder"
