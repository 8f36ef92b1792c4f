"""Pulse (S0) inputs: an impulse counter times an impulse constant, as integer counters.

Constants are exact rationals: "1 Wh per impulse" .. "1000 Wh per impulse", or a meter's "imp/kWh" rating (800
imp/kWh = 1.25 Wh per impulse). Quantities per medium: electricity and heat in Wh, water in litres, gas in dm³
(so 0.01 m³ per impulse stays an integer). The total is floor(pulses × constant): a fraction of a unit is carried
by the next impulses, never invented.

A hardware counter that goes backwards (a reboot of the counting device) is treated as a restart from zero: the
counts already seen are kept as an offset, so the cumulative total never decreases.
"""

from __future__ import annotations

import asyncio
import logging
from fractions import Fraction
from pathlib import Path
from typing import Protocol

from vpp_edge.drivers.failures import FailureLog
from vpp_edge.errors import ConfigError, TransportError
from vpp_edge.sample import COUNTERS, Sample

log = logging.getLogger("vpp_edge.drivers.pulse")
MEDIUM_UNITS = {"electricity": "Wh", "heat": "Wh", "water": "L", "gas": "dm3"}
_UNIT_FACTORS = {"Wh": ("Wh", 1), "kWh": ("Wh", 1000), "L": ("L", 1), "m3": ("dm3", 1000), "dm3": ("dm3", 1)}


def impulse_constant(medium: str, text: str) -> Fraction:
    """Parse '10 Wh/imp', '1000 imp/kWh', '1 L/imp', '0.01 m3/imp' into units of the medium per impulse."""
    if medium not in MEDIUM_UNITS:
        raise ConfigError(f"unknown medium {medium!r} (known: {sorted(MEDIUM_UNITS)})")
    number, _, unit = text.strip().partition(" ")
    try:
        amount = Fraction(number)
    except (ValueError, ZeroDivisionError) as exc:
        raise ConfigError(f"impulse constant {text!r}: {number!r} is not a number") from exc
    if amount <= 0:
        raise ConfigError(f"impulse constant {text!r} must be positive")
    unit = unit.strip()
    per_impulse = unit.endswith("/imp")
    per_unit = unit.startswith("imp/")
    name = unit[:-4] if per_impulse else unit[4:] if per_unit else ""
    if name not in _UNIT_FACTORS:
        raise ConfigError(f"impulse constant {text!r}: write '<n> <unit>/imp' or '<n> imp/<unit>' with a unit of "
                          f"{sorted(_UNIT_FACTORS)}")
    base, factor = _UNIT_FACTORS[name]
    if base != MEDIUM_UNITS[medium]:
        raise ConfigError(f"impulse constant {text!r}: {medium} is counted in {MEDIUM_UNITS[medium]}, not {name}")
    return amount * factor if per_impulse else Fraction(factor) / amount


class PulseSource(Protocol):
    async def count(self) -> int: ...


class FilePulseSource:
    """A counter exposed as a file holding an integer (Linux counter subsystem, a GPIO daemon, a test)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    async def count(self) -> int:
        try:
            text = await asyncio.to_thread(self.path.read_text)
        except OSError as exc:
            raise TransportError(f"pulse counter {self.path}: {exc}") from exc
        try:
            return int(text.strip())
        except ValueError as exc:
            raise TransportError(f"pulse counter {self.path}: {text.strip()[:20]!r} is not an integer") from exc


class PulseCounter:
    """Pure bookkeeping: raw hardware counts in, a cumulative quantity out (never decreasing)."""

    def __init__(self, constant: Fraction, initial_total: int = 0) -> None:
        self.constant = constant
        self.offset = 0
        self.last_raw: int | None = None
        self.initial_total = initial_total

    def total(self, raw_count: int) -> int:
        if raw_count < 0:
            raise TransportError(f"pulse counter reports a negative count {raw_count}")
        if self.last_raw is not None and raw_count < self.last_raw:
            self.offset += self.last_raw  # the counting device restarted from zero
        self.last_raw = raw_count
        pulses = self.offset + raw_count
        return self.initial_total + int(pulses * self.constant)  # floor: Fraction → int truncates toward 0


class PulseDriver:
    """A Driver for electricity or heat pulse inputs feeding one counter of a Sample."""

    def __init__(self, device: str, kind: str, counter: str, source: PulseSource, constant: str, *,
                 medium: str = "electricity", initial_wh: int = 0) -> None:
        if MEDIUM_UNITS.get(medium) != "Wh":
            raise ConfigError(f"{device}: a Sample carries Wh; a {medium} pulse input is read with PulseCounter")
        if list(COUNTERS.get(kind, {})) != [counter]:
            raise ConfigError(f"{device}: kind {kind!r} has counters {sorted(COUNTERS.get(kind, {}))}; a pulse "
                              "input feeds a kind with exactly one counter, named here")
        self.device = device
        self.kind = kind
        self.counter_name = counter
        self.source = source
        self.counter = PulseCounter(impulse_constant(medium, constant), initial_wh)
        self.failures = FailureLog(log, device)

    async def read(self, now: int) -> Sample:
        try:
            raw = await self.source.count()
            total = self.counter.total(raw)
        except TransportError as exc:
            self.failures.failed(exc)
            raise
        self.failures.succeeded()
        return Sample(device=self.device, kind=self.kind, taken_at=int(now), counters={self.counter_name: total})

    async def close(self) -> None:
        """Nothing to release."""
