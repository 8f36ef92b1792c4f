"""Wired M-Bus (EN 13757-2 link layer, EN 13757-3 application layer): long frames and variable data records.

A small decoder of our own, because the one maintained library on PyPI (pyMeterBus 0.8.5) needs simplejson, pyaml
and pycryptodome at import and hands values through floats for negative exponents (0.6 A becomes
0.6000000000000000888…). Here every value is an integer mantissa and a power of ten, and energy becomes integer Wh.

Long frame: ``68 L L 68 C A CI data CS 16`` with L = bytes from C to the end of data, CS = sum of those bytes
mod 256. CI 0x72 (variable data, 12-byte header: identification BCD, manufacturer, version, medium, access number,
status, signature) and 0x78 (no header) are decoded; records follow until the end or a manufacturer-specific block
(DIF 0x0F/0x1F). Data records: DIF (data field, function, storage bit), DIFEs (storage, tariff, subunit), VIF and
VIFEs. Energy VIFs: 0x00-0x07 Wh × 10^(n−3), 0x08-0x0F J × 10^n (÷ 3600 to Wh, rounded), 0xFB 0x00-0x01
MWh × 10^(n−1).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from vpp_edge.errors import ParseError

DATA_LENGTH = {0x0: 0, 0x1: 1, 0x2: 2, 0x3: 3, 0x4: 4, 0x5: 4, 0x6: 6, 0x7: 8, 0x8: 0,
               0x9: 1, 0xA: 2, 0xB: 3, 0xC: 4, 0xE: 6}
BCD_CODINGS = frozenset({0x9, 0xA, 0xB, 0xC, 0xE})
FUNCTIONS = ("instantaneous", "maximum", "minimum", "error")
MEDIA = {0x02: "electricity", 0x03: "gas", 0x04: "heat", 0x06: "warm water", 0x07: "water", 0x0C: "heat (inlet)",
         0x0D: "heat/cooling", 0x16: "cold water"}


@dataclass(frozen=True, slots=True)
class MBusRecord:
    dif: int
    vif: int
    vife: tuple[int, ...]
    function: str
    storage: int
    tariff: int
    subunit: int
    mantissa: int | None     # None for records without a number (strings, dates are kept raw)
    raw: bytes
    quantity: str            # energy_wh, energy_j, volume_m3, power_w, voltage_v, current_a, other
    exponent: int            # value = mantissa × 10^exponent in the quantity's unit

    def energy_wh(self) -> int:
        if self.mantissa is None or self.quantity not in ("energy_wh", "energy_j"):
            raise ParseError(f"record DIF 0x{self.dif:02X} VIF 0x{self.vif:02X} is not an energy value")
        exact = Fraction(self.mantissa) * Fraction(10) ** self.exponent
        if self.quantity == "energy_j":
            exact /= 3600
        return int(exact + Fraction(1, 2)) if exact >= 0 else -int(-exact + Fraction(1, 2))


@dataclass(frozen=True)
class MBusFrame:
    control: int
    address: int
    ci: int
    identification: str | None
    manufacturer: str | None
    version: int | None
    medium: str | None
    access_number: int | None
    status: int | None
    records: tuple[MBusRecord, ...]

    def energy_records(self) -> list[MBusRecord]:
        return [r for r in self.records if r.quantity in ("energy_wh", "energy_j") and r.mantissa is not None]

    def energy_wh(self, *, tariff: int = 0, storage: int = 0, subunit: int = 0) -> int:
        """The current instantaneous energy register chosen by tariff/storage/subunit, in Wh."""
        for record in self.energy_records():
            if (record.function == "instantaneous" and record.tariff == tariff and record.storage == storage
                    and record.subunit == subunit):
                value = record.energy_wh()
                if value < 0:  # signed and BCD codings can say so; a cumulative register cannot be below zero
                    raise ParseError(f"energy record with tariff {tariff}, storage {storage}, subunit {subunit} "
                                     f"is negative ({value} Wh)")
                return value
        found = sorted({(r.tariff, r.storage, r.subunit) for r in self.energy_records()})
        raise ParseError(f"no energy record with tariff {tariff}, storage {storage}, subunit {subunit} "
                         f"(the frame has tariff/storage/subunit {found})")


def checksum(data: bytes) -> int:
    return sum(data) & 0xFF


def parse_long_frame(frame: bytes) -> MBusFrame:
    if len(frame) < 9:
        raise ParseError(f"M-Bus long frame truncated: {len(frame)} bytes")
    if frame[0] != 0x68 or frame[3] != 0x68:
        raise ParseError(f"not an M-Bus long frame: starts {frame[:4].hex(' ')}")
    if frame[1] != frame[2]:
        raise ParseError(f"M-Bus length fields differ: {frame[1]} and {frame[2]}")
    length = frame[1]
    if len(frame) < length + 6:
        raise ParseError(f"M-Bus long frame truncated: L={length} needs {length + 6} bytes, got {len(frame)}")
    if len(frame) > length + 6:
        raise ParseError(f"M-Bus long frame has {len(frame) - length - 6} bytes after the stop byte")
    body = frame[4: 4 + length]
    if frame[4 + length] != checksum(body):
        raise ParseError(f"M-Bus checksum mismatch: frame says 0x{frame[4 + length]:02X}, "
                         f"data gives 0x{checksum(body):02X}")
    if frame[5 + length] != 0x16:
        raise ParseError(f"M-Bus stop byte must be 0x16, got 0x{frame[5 + length]:02X}")
    if length < 3:
        raise ParseError("M-Bus long frame without CI field")
    control, address, ci = body[0], body[1], body[2]
    data = body[3:]
    header = dict(identification=None, manufacturer=None, version=None, medium=None, access_number=None, status=None)
    if ci == 0x72:
        if len(data) < 12:
            raise ParseError("M-Bus variable data header truncated")
        header = _long_header(data[:12])
        data = data[12:]
    elif ci != 0x78:
        raise ParseError(f"M-Bus CI 0x{ci:02X} is not variable data with LSB-first values (0x72 or 0x78)")
    return MBusFrame(control=control, address=address, ci=ci, records=tuple(_records(data)), **header)


def _bcd(data: bytes) -> int:
    """Little-endian packed BCD; a top nibble of 0xF means negative (EN 13757-3 annex)."""
    digits = data[::-1].hex()
    negative = digits.startswith("f")
    if negative:
        digits = digits[1:]
    if not digits.isdigit():
        raise ParseError(f"invalid BCD {data.hex(' ')}")
    value = int(digits) if digits else 0
    return -value if negative else value


def _manufacturer(code: int) -> str:
    return "".join(chr(((code >> shift) & 0x1F) + 64) for shift in (10, 5, 0))


def _long_header(h: bytes) -> dict:
    # the identification is BCD by the standard, but meters in the field send hex digits too (libmbus shows them)
    return dict(identification=h[0:4][::-1].hex().upper(), manufacturer=_manufacturer(int.from_bytes(h[4:6], "little")),
                version=h[6], medium=MEDIA.get(h[7], f"0x{h[7]:02X}"), access_number=h[8], status=h[9])


def _vif_quantity(vif: int, vife: tuple[int, ...]) -> tuple[str, int]:
    base = vif & 0x7F
    n = base & 0x07
    if vif == 0xFB and vife:
        ext = vife[0] & 0x7F
        if ext in (0x00, 0x01):
            return "energy_wh", (ext & 0x01) - 1 + 6   # MWh × 10^(n-1) → Wh
        return "other", 0
    if vif == 0xFD and vife:
        ext = vife[0] & 0x7F
        if 0x40 <= ext <= 0x4F:
            return "voltage_v", (ext & 0x0F) - 9
        if 0x50 <= ext <= 0x5F:
            return "current_a", (ext & 0x0F) - 12
        return "other", 0
    if base <= 0x07:
        return "energy_wh", n - 3
    if base <= 0x0F:
        return "energy_j", n
    if 0x10 <= base <= 0x17:
        return "volume_m3", n - 6
    if 0x28 <= base <= 0x2F:
        return "power_w", n - 3
    return "other", 0


def _records(data: bytes) -> list[MBusRecord]:
    records: list[MBusRecord] = []
    i = 0
    while i < len(data):
        dif = data[i]
        i += 1
        if dif == 0x2F:                      # idle filler
            continue
        if dif in (0x0F, 0x1F):              # manufacturer-specific data to the end
            break
        storage = (dif >> 6) & 0x01
        tariff = subunit = 0
        ext = dif & 0x80
        shift = 0
        while ext:
            if i >= len(data):
                raise ParseError("M-Bus record truncated in its DIFEs")
            dife = data[i]
            i += 1
            storage |= (dife & 0x0F) << (1 + 4 * shift)
            tariff |= ((dife >> 4) & 0x03) << (2 * shift)
            subunit |= ((dife >> 6) & 0x01) << shift
            shift += 1
            ext = dife & 0x80
        if i >= len(data):
            raise ParseError("M-Bus record truncated before its VIF")
        vif = data[i]
        i += 1
        vife: list[int] = []
        if vif == 0x7C or vif == 0xFC:        # plain-text VIF: length + ASCII
            if i >= len(data) or i + 1 + data[i] > len(data):
                raise ParseError("M-Bus plain-text VIF truncated")
            i += 1 + data[i]
        more = vif & 0x80
        while more:
            if i >= len(data):
                raise ParseError("M-Bus record truncated in its VIFEs")
            vife.append(data[i])
            more = data[i] & 0x80
            i += 1
        coding = dif & 0x0F
        if coding == 0xD:                    # variable length: LVAR byte
            if i >= len(data):
                raise ParseError("M-Bus variable-length record truncated")
            size = data[i] if data[i] < 0xC0 else (data[i] - 0xC0)
            i += 1
        elif coding in DATA_LENGTH:
            size = DATA_LENGTH[coding]
        else:
            raise ParseError(f"M-Bus DIF 0x{dif:02X} has an unsupported data field coding")
        if i + size > len(data):
            raise ParseError(f"M-Bus record DIF 0x{dif:02X} truncated: needs {size} data bytes, "
                             f"{len(data) - i} left")
        raw = data[i: i + size]
        i += size
        mantissa: int | None
        if coding in BCD_CODINGS:
            mantissa = _bcd(raw)
        elif coding in (0x1, 0x2, 0x3, 0x4, 0x6, 0x7):
            mantissa = int.from_bytes(raw, "little", signed=True)
        else:
            mantissa = None                   # real32, variable length and "no data" are not counters
        quantity, exponent = _vif_quantity(vif, tuple(vife))
        records.append(MBusRecord(dif=dif, vif=vif, vife=tuple(vife), function=FUNCTIONS[(dif >> 4) & 0x03],
                                  storage=storage, tariff=tariff, subunit=subunit, mantissa=mantissa, raw=raw,
                                  quantity=quantity, exponent=exponent))
    return records


def short_frame(control: int, address: int) -> bytes:
    """``10 C A CS 16``: SND_NKE is control 0x40, REQ_UD2 0x5B/0x7B (FCB toggling)."""
    return bytes([0x10, control, address, (control + address) & 0xFF, 0x16])
