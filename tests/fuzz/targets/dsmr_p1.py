"""DSMR P1 telegram: header, data lines through dsmr-parser, the CRC-16 line, counters and power in integers.

The bytes become text exactly as the P1 driver makes them (ASCII, undecodable bytes replaced). The first byte's
bit 0 makes the harness end the telegram with the correct CRC of '/' ... '!', so mutations of the data lines reach
dsmr-parser's line parsing instead of stopping at the checksum.
"""

from __future__ import annotations

from vpp_edge.protocols.dsmr import crc16, parse_telegram

from tests.fuzz.targets.harness import check_integer, coded


def telegram(data: bytes) -> str:
    if not data:
        return ""
    mode, text = data[0], data[1:].decode("ascii", errors="replace")
    if mode & 0b01:
        body = text.split("!", 1)[0]
        start = body.find("/")
        body = (body[start:] if start >= 0 else "/" + body) + "!"
        return f"{body}{crc16(body):04X}\r\n"
    return text


def check(data: bytes) -> None:
    reading = coded(parse_telegram, telegram(data))
    if reading is None:
        return
    check_integer(reading.imported_wh, "imported_wh")
    check_integer(reading.exported_wh, "exported_wh")
    assert reading.imported_wh >= 0 and reading.exported_wh >= 0, reading  # cumulative counters
    if reading.power_w is not None:
        check_integer(reading.power_w, "power_w")
