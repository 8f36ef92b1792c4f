"""A fake meter driver whose counters the test controls through its settings (an opaque dict, like a real driver's).

Counters are a function of the (simulated) time the reader passes in: ``base + rate_w * (t - origin) // 3600`` Wh,
so a test knows what the meter measured between any two instants. Settings:

* ``rate_w``: {counter: W} (default 3600 W on every counter), ``origin``: t at which counters were ``base``
* ``outages``: [[from, to), ...] during which ``read`` raises TransportError (a dead link)
* ``replace_at``, ``new_serial``: from then on the meter is a new one, counting again from 0
* ``modulus``: the counter register wraps at this value
* battery: ``soc_permille`` follows t (always reported)
"""

from __future__ import annotations

from vpp_edge.errors import TransportError
from vpp_edge.sample import COUNTERS, Sample


class FakeMeter:
    def __init__(self, device: str, kind: str, settings: dict) -> None:
        self.device, self.kind = device, kind
        counters = sorted(COUNTERS[kind])
        rate = settings.get("rate_w", 3600)
        self.rate = {c: rate.get(c, 0) if isinstance(rate, dict) else rate for c in counters}
        self.origin = int(settings.get("origin", 0))
        self.base = int(settings.get("base", 0))
        self.outages = [tuple(o) for o in settings.get("outages", [])]
        self.replace_at = settings.get("replace_at")
        self.new_serial = settings.get("new_serial", "B")
        self.modulus = settings.get("modulus")
        self.reads = 0

    def counters_at(self, t: int) -> tuple[dict[str, int], str]:
        origin, base, serial = self.origin, self.base, "A"
        if self.replace_at is not None and t >= self.replace_at:
            origin, base, serial = self.replace_at, 0, self.new_serial
        values = {c: base + r * (t - origin) // 3600 for c, r in self.rate.items()}
        if self.modulus:
            values = {c: v % self.modulus for c, v in values.items()}
        return values, serial

    async def read(self, now: int) -> Sample:
        if any(a <= now < b for a, b in self.outages):
            raise TransportError(f"{self.device}: no answer (simulated outage)")
        self.reads += 1
        counters, serial = self.counters_at(now)
        gauges = {"soc_permille": 300 + (now // 60) % 500, "soh_permille": 990} if self.kind == "battery" else {}
        return Sample(self.device, self.kind, now, counters, gauges, serial)

    async def close(self) -> None:
        pass


def create_driver(device: str, kind: str, settings: dict) -> FakeMeter:
    return FakeMeter(device, kind, settings)
