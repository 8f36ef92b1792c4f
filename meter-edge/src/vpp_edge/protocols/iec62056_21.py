"""IEC 62056-21 (formerly IEC 61107) direct local data exchange, mode C readout: messages and parsing.

Sequence (at 300 baud, 7E1): the reader sends the request ``/?!<CR><LF>`` (optionally ``/?<address>!``); the meter
answers its identification ``/XXXZ<ident><CR><LF>`` (XXX manufacturer, Z baud rate character: 0..6 = 300..19,200 baud
in mode C, or A..I in mode B); the reader acknowledges with the option select ``<ACK>0Z0<CR><LF>`` (protocol 0 =
normal, Z = the baud rate to switch to, mode 0 = data readout); both sides switch to that rate and the meter sends
``<STX>data block!<CR><LF><ETX><BCC>``, BCC being the XOR of every byte after STX up to and including ETX.
``<ACK>000<CR><LF>`` (hex 06 30 30 30 0D 0A) stays at 300 baud.

Energy values are decimal strings (``061561.289*kWh``) and become integer Wh exactly with Decimal; a value finer than
1 Wh (``015882.6927*kWh``) is rounded to the nearest Wh, ties away from zero.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from vpp_edge.errors import ParseError

STX, ETX, ACK, NAK = b"\x02", b"\x03", b"\x06", b"\x15"
REQUEST = b"/?!\r\n"
MODE_C_BAUD = {"0": 300, "1": 600, "2": 1200, "3": 2400, "4": 4800, "5": 9600, "6": 19200}
MODE_B_BAUD = {"A": 600, "B": 1200, "C": 2400, "D": 4800, "E": 9600, "F": 19200}
ENERGY_EXPONENT = {"wh": 0, "kwh": 3, "mwh": 6}

_IDENT = re.compile(rb"^/([A-Za-z]{2}[A-Za-z0-9])([0-9A-Z])(\\[0-9A-Z])?([\x20-\x7e]{1,16})\r\n$")
_DATA_SET = re.compile(r"([^()/!\r\n]*)\(([^()*]*)(?:\*([^()]*))?\)")


def request(address: str = "") -> bytes:
    return b"/?" + address.encode("ascii") + b"!\r\n"


@dataclass(frozen=True, slots=True)
class Identification:
    manufacturer: str
    baud_char: str
    identification: str
    enhanced: str | None = None   # "\\2" style enhanced capability marker (e.g. DSMR's "\\2")

    @property
    def mode_c_baudrate(self) -> int | None:
        return MODE_C_BAUD.get(self.baud_char)


def parse_identification(line: bytes) -> Identification:
    match = _IDENT.match(line)
    if match is None:
        raise ParseError(f"not an IEC 62056-21 identification message: {line[:40]!r}")
    manufacturer, baud, enhanced, ident = (g.decode("ascii") if g is not None else None for g in match.groups())
    return Identification(manufacturer=manufacturer, baud_char=baud, identification=ident, enhanced=enhanced)


def option_select(baud_char: str = "0", mode: str = "0") -> bytes:
    """``<ACK>0Z<mode><CR><LF>``: protocol control 0 (normal), baud rate character Z, mode 0 = data readout."""
    if baud_char not in MODE_C_BAUD:
        raise ValueError(f"mode C baud rate character must be one of {sorted(MODE_C_BAUD)}, got {baud_char!r}")
    return ACK + b"0" + baud_char.encode() + mode.encode() + b"\r\n"


def block_check(data: bytes) -> int:
    bcc = 0
    for byte in data:
        bcc ^= byte
    return bcc


def frame_data_message(data_block: str) -> bytes:
    """``<STX>data!<CR><LF><ETX><BCC>`` for a data block (lines ending in CR LF)."""
    body = data_block.encode("ascii") + b"!\r\n" + ETX
    return STX + body + bytes([block_check(body)])


@dataclass(frozen=True, slots=True)
class DataSet:
    address: str     # as sent, e.g. "1-0:1.8.0*255" or "1.8.0"
    value: str
    unit: str | None


@dataclass(frozen=True)
class Readout:
    data_sets: tuple[DataSet, ...]

    def find(self, obis: str) -> DataSet | None:
        """The current value of an OBIS code given as C.D.E (``1.8.0``): matches ``1.8.0``, ``1-0:1.8.0`` and
        ``1-0:1.8.0*255``, not billing-period values such as ``1.8.0*96`` or ``1.8.0&04``."""
        for ds in self.data_sets:
            if normalise_obis(ds.address) == obis:
                return ds
        return None


def normalise_obis(address: str) -> str:
    code = address.split(":", 1)[-1]
    if code.endswith("*255"):
        code = code[:-4]
    return code


def parse_data_message(frame: bytes) -> Readout:
    """Check STX ... ! CR LF ETX BCC and parse the data sets; ParseError on anything else."""
    if not frame.startswith(STX):
        raise ParseError(f"data message must start with STX, got {frame[:1]!r}")
    end = frame.find(ETX)
    if end < 0:
        raise ParseError("data message truncated: no ETX")
    if len(frame) < end + 2:
        raise ParseError("data message truncated: no BCC after ETX")
    expected = block_check(frame[1: end + 1])
    if frame[end + 1] != expected:
        raise ParseError(f"bad BCC: frame says 0x{frame[end + 1]:02X}, data gives 0x{expected:02X}")
    body = frame[1:end]
    if not body.endswith(b"!\r\n"):
        raise ParseError("data block must end with '!' CR LF before ETX")
    try:
        text = body[:-3].decode("ascii")
    except UnicodeDecodeError as exc:
        raise ParseError(f"data block is not ASCII: {exc}") from exc
    data_sets: list[DataSet] = []
    for number, line in enumerate(text.split("\r\n")):
        if not line:
            continue
        found = list(_DATA_SET.finditer(line))
        if not found or "".join(m.group(0) for m in found) != line:
            raise ParseError(f"data line {number + 1} is not 'address(value*unit)': {line[:60]!r}")
        data_sets.extend(DataSet(m.group(1), m.group(2).strip(), m.group(3)) for m in found)
    return Readout(tuple(data_sets))


def energy_wh(data_set: DataSet) -> int:
    """An energy data set (Wh, kWh or MWh) in integer Wh, exactly from its decimal string."""
    unit = (data_set.unit or "").lower()
    if unit not in ENERGY_EXPONENT:
        raise ParseError(f"{data_set.address}: unit {data_set.unit!r} is not an energy unit (Wh, kWh, MWh)")
    return _to_integer(data_set, ENERGY_EXPONENT[unit], negative=False)


def power_w(data_set: DataSet) -> int:
    unit = (data_set.unit or "").lower()
    exponent = {"w": 0, "kw": 3}.get(unit)
    if exponent is None:
        raise ParseError(f"{data_set.address}: unit {data_set.unit!r} is not a power unit (W, kW)")
    return _to_integer(data_set, exponent, negative=True)


def _to_integer(data_set: DataSet, exponent: int, *, negative: bool) -> int:
    """value × 10^exponent rounded to an integer; ParseError for text that is no finite number in range."""
    try:
        value = Decimal(data_set.value)
    except InvalidOperation as exc:
        raise ParseError(f"{data_set.address}: value {data_set.value!r} is not a decimal number") from exc
    if not value.is_finite() or (value < 0 and not negative):
        kind = "finite number" if negative else "non-negative number"
        raise ParseError(f"{data_set.address}: value {data_set.value!r} is not a {kind}")
    try:
        return int(value.scaleb(exponent).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    except InvalidOperation as exc:  # more digits than Decimal's 28: found by fuzzing, no meter counts that far
        raise ParseError(f"{data_set.address}: value {data_set.value!r} is out of range") from exc
