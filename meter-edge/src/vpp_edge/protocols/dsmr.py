"""DSMR P1 telegrams (DSMR 4.x / 5.x, CRC16 checked) parsed with dsmr-parser, values made integer Wh and W.

dsmr-parser (pinned 1.11.2) does the line parsing and the CRC check (CRC-16/ARC over '/' ... '!', as the P1
companion standard specifies). This module requires the CRC: DSMR 2.2 / 3 telegrams carry none and are refused, as
are telegrams whose lines dsmr-parser cannot parse (``throw_ex=True``: nothing is silently dropped).

Counters: imported = 1.8.1 + 1.8.2 (delivered to the client, tariffs 1 and 2), exported = 2.8.1 + 2.8.2. Gauge:
power = 2.7.0 − 1.7.0 (export positive, as the edge counts). dsmr-parser hands values as Decimal; kWh → Wh is exact.
"""

from __future__ import annotations

import binascii
import logging
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from dsmr_parser import telegram_specifications
from dsmr_parser.exceptions import InvalidChecksumError
from dsmr_parser.exceptions import ParseError as DsmrParseError
from dsmr_parser.parsers import TelegramParser

from vpp_edge.errors import ParseError

_PARSER = TelegramParser(telegram_specifications.V5)  # V5 objects are a superset of V4's
_CHECKSUM_LINE = re.compile(r"!([0-9A-Fa-f]{4})\r?\n?$")
_KWH = {"kWh": 3, "Wh": 0, "kW": 3, "W": 0}

# dsmr-parser logs a line it cannot parse at ERROR with a traceback before raising; our ParseError says it once.
logging.getLogger("dsmr_parser.parsers").setLevel(logging.CRITICAL)


@dataclass(frozen=True, slots=True)
class P1Reading:
    imported_wh: int
    exported_wh: int
    power_w: int | None
    serial: str | None
    header: str


def crc16(text: str) -> int:
    """CRC-16/ARC (polynomial 0xA001 reflected, init 0) of '/' ... '!' inclusive, as in the P1 standard."""
    return TelegramParser.crc16(text)


def _to_integer(value: Decimal, unit: str | None, what: str, *, negative: bool = False) -> int:
    if unit not in _KWH:
        raise ParseError(f"{what}: unexpected unit {unit!r}")
    if not value.is_finite() or (value < 0 and not negative):  # NaN, Infinity: found by fuzzing
        raise ParseError(f"{what}: {value} is not a {'finite' if negative else 'non-negative'} number")
    try:
        return int(value.scaleb(_KWH[unit]).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    except InvalidOperation as exc:  # more digits than Decimal's 28: no meter counts that far
        raise ParseError(f"{what}: {value} is out of range") from exc


def _serial(raw: str | None) -> str | None:
    if not raw:
        return None
    try:
        text = binascii.unhexlify(raw).decode("ascii")
    except (binascii.Error, UnicodeDecodeError):
        return raw
    return text if text.isprintable() else raw


def parse_telegram(telegram: str) -> P1Reading:
    """Parse one telegram from '/' to the '!XXXX' checksum line; ParseError on a bad CRC, truncation or syntax."""
    start = telegram.find("/")
    if start < 0:
        raise ParseError("P1 telegram has no '/' header")
    telegram = telegram[start:]
    if "!" not in telegram:
        raise ParseError("P1 telegram truncated: no '!' end line")
    if not _CHECKSUM_LINE.search(telegram):
        raise ParseError("P1 telegram has no CRC after '!' (DSMR 2.2/3 telegrams are not supported) or is truncated")
    try:
        parsed = _PARSER.parse(telegram, throw_ex=True)
    except InvalidChecksumError as exc:
        raise ParseError(f"P1 telegram CRC mismatch: {exc}") from exc
    except DsmrParseError as exc:
        raise ParseError(f"P1 telegram malformed: {exc}") from exc
    except (ValueError, ArithmeticError) as exc:
        raise ParseError(f"P1 telegram malformed: {type(exc).__name__}: {exc}") from exc

    def energy(*names: str) -> int:
        total = 0
        for name in names:
            obj = getattr(parsed, name, None)
            if obj is None:
                raise ParseError(f"P1 telegram lacks {name}")
            total += _to_integer(obj.value, obj.unit, name)
        return total

    usage = getattr(parsed, "CURRENT_ELECTRICITY_USAGE", None)
    delivery = getattr(parsed, "CURRENT_ELECTRICITY_DELIVERY", None)
    power = None
    if usage is not None and delivery is not None:
        power = (_to_integer(delivery.value, delivery.unit, "2.7.0")
                 - _to_integer(usage.value, usage.unit, "1.7.0"))
    equipment = getattr(parsed, "EQUIPMENT_IDENTIFIER", None)
    return P1Reading(
        imported_wh=energy("ELECTRICITY_USED_TARIFF_1", "ELECTRICITY_USED_TARIFF_2"),
        exported_wh=energy("ELECTRICITY_DELIVERED_TARIFF_1", "ELECTRICITY_DELIVERED_TARIFF_2"),
        power_w=power,
        serial=_serial(equipment.value if equipment is not None else None),
        header=telegram.split("\r\n", 1)[0],
    )
