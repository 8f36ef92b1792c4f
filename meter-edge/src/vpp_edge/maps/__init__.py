"""Register maps as data: one JSON table per device model, validated when loaded.

A map file holds ``name``, ``description``, ``sources`` (where the addresses come from), optional defaults
(``function``: holding | input, ``word_order``: big | little, ``sentinels``: sunspec | none, ``max_span``: the most
registers one request may read, ≤ 125), ``kinds`` (for each asset kind the map can serve, which row feeds each
cumulative counter of ``vpp_edge.sample.COUNTERS[kind]``) and ``registers``, one row per value:

    {"channel": "WH", "address": 40094, "type": "u32", "scale": "WH_SF", "unit": "Wh"}

Row fields: ``channel`` (unique name), ``address`` (0-based, as sent on the wire), ``type`` (u16, s16, u32, s32, u64,
f32, sunssf, string), ``length`` (strings only, in registers), ``function`` and ``word_order`` (override the map's),
``scale`` (an integer power of ten, or the channel of a ``sunssf`` row of the same map), ``unit`` (the unit of the
scaled value: Wh, kWh, MWh, W, kW, %, permille, V, dV, A, mA, Hz, mHz), ``invert`` (negate, to turn a meter's sign
convention into the edge's: power is positive out of the device / export) and ``expect`` (a constant the device must
show, such as the SunSpec marker or a model id: a mismatch means the map does not fit the device).

Each row is exactly one of: an ``expect`` row, a ``sunssf`` row, the ``serial`` row, a gauge (channel named as in
``GAUGES``) or a counter source named in ``kinds``. Anything else is a ConfigError naming the map and the row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

from vpp_edge.errors import ConfigError
from vpp_edge.sample import COUNTERS, GAUGES

MAPS_DIR = Path(__file__).resolve().parent

TYPE_WORDS = {"u16": 1, "s16": 1, "sunssf": 1, "u32": 2, "s32": 2, "f32": 2, "u64": 4}
TYPES = frozenset({*TYPE_WORDS, "string"})
FUNCTIONS = frozenset({"holding", "input"})
WORD_ORDERS = frozenset({"big", "little"})
SENTINELS = frozenset({"sunspec", "none"})

# unit of a row -> power of ten that turns it into the edge's integer unit for that family of channels
ENERGY_UNITS = {"Wh": 0, "kWh": 3, "MWh": 6}
CHANNEL_UNITS: dict[str, dict[str, int]] = {
    "power_w": {"W": 0, "kW": 3},
    "soc_permille": {"%": 1, "permille": 0},
    "soh_permille": {"%": 1, "permille": 0},
    "voltage_dv": {"V": 1, "dV": 0},
    "current_ma": {"A": 3, "mA": 0},
    "frequency_mhz": {"Hz": 3, "mHz": 0},
}
MAP_KEYS = frozenset({"name", "description", "sources", "function", "word_order", "sentinels", "max_span", "kinds",
                      "registers"})
ROW_KEYS = frozenset({"channel", "address", "type", "length", "function", "word_order", "scale", "unit", "invert",
                      "expect", "note"})


@dataclass(frozen=True, slots=True)
class Register:
    channel: str
    address: int
    function: str            # holding | input
    type: str
    length: int              # in 16-bit registers
    word_order: str          # big: most significant word first
    scale: int | None        # fixed power of ten
    scale_ref: str | None    # channel of the sunssf row that holds the power of ten
    unit_exponent: int       # power of ten from the row's unit to the edge's integer unit
    invert: bool
    expect: int | str | None
    role: str                # expect | sunssf | serial | gauge | counter

    @property
    def end(self) -> int:
        return self.address + self.length


@dataclass(frozen=True)
class RegisterMap:
    name: str
    description: str
    sources: tuple[str, ...]
    sentinels: str
    max_span: int
    kinds: dict[str, dict[str, str]]          # kind -> counter name -> channel
    registers: tuple[Register, ...]
    by_channel: dict[str, Register] = field(repr=False)

    def counters_for(self, kind: str) -> dict[str, str]:
        if kind not in self.kinds:
            raise ConfigError(f"map {self.name!r} serves kinds {sorted(self.kinds)}, not {kind!r}")
        return self.kinds[kind]


def available_maps() -> list[str]:
    return sorted(p.stem for p in MAPS_DIR.glob("*.json"))


def load_map(name_or_path: str | Path) -> RegisterMap:
    """Load and validate a map by name (a file of this folder) or by path."""
    path = Path(name_or_path)
    if path.suffix != ".json":
        path = MAPS_DIR / f"{name_or_path}.json"
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"no register map {str(name_or_path)!r} (known: {', '.join(available_maps())})") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"register map {path.name}: invalid JSON: {exc}") from exc
    return parse_map(doc, default_name=path.stem)


def parse_map(doc: dict, *, default_name: str = "<inline>") -> RegisterMap:
    if not isinstance(doc, dict):
        raise ConfigError(f"map {default_name!r}: expected a JSON object")
    name = doc.get("name", default_name)
    fail = _Failer(name)
    unknown = set(doc) - MAP_KEYS
    if unknown:
        fail(f"unknown keys {sorted(unknown)}")
    function = doc.get("function", "holding")
    word_order = doc.get("word_order", "big")
    sentinels = doc.get("sentinels", "none")
    max_span = doc.get("max_span", 125)
    if function not in FUNCTIONS:
        fail(f"function must be one of {sorted(FUNCTIONS)}, got {function!r}")
    if word_order not in WORD_ORDERS:
        fail(f"word_order must be one of {sorted(WORD_ORDERS)}, got {word_order!r}")
    if sentinels not in SENTINELS:
        fail(f"sentinels must be one of {sorted(SENTINELS)}, got {sentinels!r}")
    if not _is_int(max_span) or not 1 <= max_span <= 125:
        fail(f"max_span must be an integer in 1..125, got {max_span!r}")
    kinds = doc.get("kinds")
    if not isinstance(kinds, dict) or not kinds:
        fail("kinds must map at least one asset kind to its counter rows")
    counter_channels: set[str] = set()
    for kind, counters in kinds.items():
        if kind not in COUNTERS:
            fail(f"unknown kind {kind!r} (known: {sorted(COUNTERS)})")
        if not isinstance(counters, dict) or set(counters) != set(COUNTERS[kind]):
            fail(f"kind {kind!r} must name a row for each of {sorted(COUNTERS[kind])}, got {counters!r}")
        counter_channels.update(counters.values())
    rows = doc.get("registers")
    if not isinstance(rows, list) or not rows:
        fail("registers must be a non-empty list")

    raw_rows: list[dict] = []
    channels: set[str] = set()
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            fail(f"row {i}: expected an object")
        channel = row.get("channel")
        if not isinstance(channel, str) or not channel:
            fail(f"row {i}: channel missing")
        if channel in channels:
            fail(f"row {i} ({channel}): duplicate channel")
        channels.add(channel)
        raw_rows.append(row)
    sunssf_channels = {r["channel"] for r in raw_rows if r.get("type") == "sunssf"}

    for kind, counters in kinds.items():
        for counter, channel in counters.items():
            if channel not in channels:
                fail(f"kind {kind!r}: counter {counter} names channel {channel!r}, which no row defines")
    registers = [_parse_row(fail, i, row, function, word_order, counter_channels, sunssf_channels)
                 for i, row in enumerate(raw_rows)]
    _check_overlaps(fail, registers)
    return RegisterMap(name=name, description=doc.get("description", ""), sources=tuple(doc.get("sources", ())),
                       sentinels=sentinels, max_span=max_span, kinds={k: dict(v) for k, v in kinds.items()},
                       registers=tuple(registers), by_channel={r.channel: r for r in registers})


class _Failer:
    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, message: str):
        raise ConfigError(f"register map {self.name!r}: {message}")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse_row(fail, i: int, row: dict, function: str, word_order: str, counter_channels: set[str],
               sunssf_channels: set[str]) -> Register:
    channel = row["channel"]
    where = f"row {i} ({channel})"
    unknown = set(row) - ROW_KEYS
    if unknown:
        fail(f"{where}: unknown keys {sorted(unknown)}")
    rtype = row.get("type")
    if rtype not in TYPES:
        fail(f"{where}: unknown type {rtype!r} (known: {sorted(TYPES)})")
    address = row.get("address")
    if not _is_int(address) or not 0 <= address <= 65535:
        fail(f"{where}: address must be an integer in 0..65535, got {address!r}")
    if rtype == "string":
        length = row.get("length")
        if not _is_int(length) or length < 1:
            fail(f"{where}: a string needs a length in registers")
    else:
        length = TYPE_WORDS[rtype]
        if "length" in row and row["length"] != length:
            fail(f"{where}: {rtype} is {length} registers long, not {row['length']!r}")
    if address + length > 65536:
        fail(f"{where}: runs past register 65535")
    row_function = row.get("function", function)
    if row_function not in FUNCTIONS:
        fail(f"{where}: function must be one of {sorted(FUNCTIONS)}, got {row_function!r}")
    row_word_order = row.get("word_order", word_order)
    if row_word_order not in WORD_ORDERS:
        fail(f"{where}: word_order must be one of {sorted(WORD_ORDERS)}, got {row_word_order!r}")
    invert = row.get("invert", False)
    if not isinstance(invert, bool):
        fail(f"{where}: invert must be true or false")

    expect = row.get("expect")
    if expect is not None:
        role = "expect"
    elif rtype == "sunssf":
        role = "sunssf"
    elif channel == "serial":
        role = "serial"
    elif channel in GAUGES:
        role = "gauge"
    elif channel in counter_channels:
        role = "counter"
    else:
        fail(f"{where}: channel is not a gauge ({', '.join(sorted(GAUGES))}), 'serial', a sunssf row, an expect row "
             "or a counter named in kinds")

    scale = row.get("scale")
    scale_int: int | None = None
    scale_ref: str | None = None
    unit = row.get("unit")
    unit_exponent = 0
    if role in ("counter", "gauge"):
        if rtype == "string":
            fail(f"{where}: a {role} cannot be a string")
        if _is_int(scale):
            if not -10 <= scale <= 10:
                fail(f"{where}: scale must be a power of ten in -10..10, got {scale}")
            scale_int = scale
        elif isinstance(scale, str):
            if scale not in sunssf_channels:
                fail(f"{where}: scale {scale!r} names no sunssf row of this map")
            scale_ref = scale
        elif scale is None:
            scale_int = 0
        else:
            fail(f"{where}: scale must be an integer power of ten or a sunssf channel, got {scale!r}")
        units = ENERGY_UNITS if role == "counter" else CHANNEL_UNITS[channel]
        if unit not in units:
            fail(f"{where}: unit must be one of {sorted(units)}, got {unit!r}")
        unit_exponent = units[unit]
    else:
        if scale is not None or unit is not None or invert:
            fail(f"{where}: a {role} row takes no scale, unit or invert")
        if role == "serial" and rtype not in ("string", "u16", "u32", "u64"):
            fail(f"{where}: serial must be a string or an unsigned integer")
        if role == "expect" and isinstance(expect, str) != (rtype == "string"):
            fail(f"{where}: expect must be a string for a string row and an integer otherwise")
    return Register(channel=channel, address=address, function=row_function, type=rtype, length=length,
                    word_order=row_word_order, scale=scale_int, scale_ref=scale_ref, unit_exponent=unit_exponent,
                    invert=invert, expect=expect, role=role)


def _check_overlaps(fail, registers: list[Register]) -> None:
    for function in FUNCTIONS:
        rows = sorted((r for r in registers if r.function == function), key=lambda r: r.address)
        for before, after in pairwise(rows):
            if after.address < before.end:
                fail(f"row {after.channel!r} ({function} {after.address}) overlaps row {before.channel!r} "
                     f"({function} {before.address}..{before.end - 1})")
