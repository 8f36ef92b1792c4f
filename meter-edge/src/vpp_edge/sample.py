"""What every meter driver hands to the rest of the edge: one timestamped sample of a device's registers.

Energy comes as cumulative counters (Wh, integers, as the meter's own register totals them), so intervals are
differences of counters and a missed sample loses resolution, never energy. Gauges are instantaneous values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

# The cumulative counters each asset kind reports, and the reading field of the contract each one feeds.
COUNTERS: dict[str, dict[str, str]] = {
    "generation": {"generated_wh": "wh"},
    "load": {"consumed_wh": "wh"},
    "battery": {"charged_wh": "charge_wh", "discharged_wh": "discharge_wh"},
    "grid": {"imported_wh": "import_wh", "exported_wh": "export_wh"},
}
# Instantaneous values a driver may report: power_w (signed: + out of the device / export), soc_permille,
# soh_permille, voltage_dv (0.1 V), current_ma, frequency_mhz.
GAUGES = frozenset({"power_w", "soc_permille", "soh_permille", "voltage_dv", "current_ma", "frequency_mhz"})


@dataclass(frozen=True, slots=True)
class Sample:
    device: str                    # the edge's device id (the meter id registered on the ledger)
    kind: str                      # generation | load | battery | grid
    taken_at: int                  # UTC epoch seconds from the edge's clock (injected, so it can be accelerated)
    counters: dict[str, int]       # cumulative Wh counters named as in COUNTERS[kind]
    gauges: dict[str, int] = field(default_factory=dict)
    serial: str | None = None      # the meter's serial number when it reports one: a change means a replaced meter

    def __post_init__(self) -> None:
        expected = COUNTERS.get(self.kind)
        if expected is None:
            raise ValueError(f"unknown kind {self.kind!r}")
        if set(self.counters) != set(expected):
            raise ValueError(f"{self.kind} sample needs counters {sorted(expected)}, got {sorted(self.counters)}")
        for name, value in (*self.counters.items(), *self.gauges.items()):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{name} must be an integer, got {value!r}")
        for name in self.gauges:
            if name not in GAUGES:
                raise ValueError(f"unknown gauge {name!r}")


class Driver(Protocol):
    """A meter or device the edge polls. `read` raises TransportError or DeviceError (vpp_edge.errors)."""

    device: str
    kind: str

    async def read(self, now: int) -> Sample: ...

    async def close(self) -> None: ...
