"""IEC 62056-21 readout: the identification line, the data message (STX ... ETX BCC) and its energy/power values.

The first byte chooses how the rest is used: bit 0 frames it as the meter would (STX, body, ETX and the correct BCC,
so mutations reach the data-set parser instead of stopping at the block check), bit 1 adds the ``!`` CR LF end
of the data block. Without bit 0 the bytes go in raw, as a broken optical link could deliver them.
"""

from __future__ import annotations

from vpp_edge.drivers.iec62056_optical import meter_serial
from vpp_edge.protocols.iec62056_21 import (
    ETX,
    STX,
    Identification,
    block_check,
    energy_wh,
    normalise_obis,
    parse_data_message,
    parse_identification,
    power_w,
)

from tests.fuzz.targets.harness import check_integer, coded

FALLBACK_IDENTIFICATION = Identification("XXX", "0", "fuzz")


def frame(data: bytes) -> bytes:
    if not data:
        return data
    mode, body = data[0], data[1:]
    if mode & 0b10:
        body += b"!\r\n"
    if mode & 0b01:
        body += ETX
        return STX + body + bytes([block_check(body)])
    return body


def check(data: bytes) -> None:
    identification = coded(parse_identification, data[1:]) or FALLBACK_IDENTIFICATION
    if identification.mode_c_baudrate is not None:
        check_integer(identification.mode_c_baudrate, "baud rate")
    readout = coded(parse_data_message, frame(data))
    if readout is None:
        return
    for data_set in readout.data_sets:
        normalise_obis(data_set.address)
        for convert in (energy_wh, power_w):
            value = coded(convert, data_set)
            if value is not None:
                check_integer(value, f"{convert.__name__}({data_set})")
    for code in ("1.8.0", "2.8.0"):
        readout.find(code)
    meter_serial(readout, identification)
